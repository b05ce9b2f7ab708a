"""Model packages (issue #15, item 1) through boto3: versions registered in a group,
their approval, listing with filters, sort and pages, updates of metadata, deletion, and
a group that holds versions refusing deletion."""
import pytest
from botocore.exceptions import ClientError

from conftest import code

INFERENCE = {"Containers": [{"Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/churn:1",
                             "ModelDataUrl": "s3://models/churn/model.tar.gz"}],
             "SupportedContentTypes": ["text/csv"], "SupportedResponseMIMETypes": ["text/csv"]}


def register(sm, group="churn", **kw):
    return sm.create_model_package(ModelPackageGroupName=group, InferenceSpecification=INFERENCE,
                                   **kw)["ModelPackageArn"]


def test_versions_approval_listing_and_deletion(sm):
    sm.create_model_package_group(ModelPackageGroupName="churn")
    first = register(sm, ModelPackageDescription="baseline")
    second = register(sm, ModelApprovalStatus="Approved", CustomerMetadataProperties={"owner": "ml"},
                      Tags=[{"Key": "team", "Value": "ml"}])
    assert first.endswith(":model-package/churn/1") and second.endswith(":model-package/churn/2")
    d = sm.describe_model_package(ModelPackageName=first)
    assert (d["ModelPackageGroupName"], d["ModelPackageVersion"], d["ModelApprovalStatus"],
            d["ModelPackageStatus"]) == ("churn", 1, "PendingManualApproval", "Completed")
    assert d["InferenceSpecification"]["Containers"][0]["Image"].endswith("churn:1")
    assert d["ModelPackageDescription"] == "baseline"

    # Approval and metadata changes.
    sm.update_model_package(ModelPackageArn=first, ModelApprovalStatus="Rejected",
                            ApprovalDescription="worse than v2",
                            CustomerMetadataProperties={"stage": "dev"})
    d = sm.describe_model_package(ModelPackageName=first)
    assert (d["ModelApprovalStatus"], d["ApprovalDescription"]) == ("Rejected", "worse than v2")
    assert d["CustomerMetadataProperties"] == {"stage": "dev"}
    sm.update_model_package(ModelPackageArn=second, CustomerMetadataPropertiesToRemove=["owner"])
    assert "CustomerMetadataProperties" not in sm.describe_model_package(ModelPackageName=second)
    with pytest.raises(ClientError) as e:
        sm.update_model_package(ModelPackageArn=second, CustomerMetadataProperties={"a": "1"},
                                CustomerMetadataPropertiesToRemove=["a"])
    assert code(e) == "ValidationException"

    # Listing: the group's versions, newest first by default; filters and pages.
    listed = sm.list_model_packages(ModelPackageGroupName="churn")["ModelPackageSummaryList"]
    assert [p["ModelPackageVersion"] for p in listed] == [2, 1]
    approved = sm.list_model_packages(ModelPackageGroupName="churn", ModelApprovalStatus="Approved")
    assert [p["ModelPackageArn"] for p in approved["ModelPackageSummaryList"]] == [second]
    page = sm.list_model_packages(ModelPackageGroupName="churn", MaxResults=1, SortOrder="Ascending")
    assert [p["ModelPackageVersion"] for p in page["ModelPackageSummaryList"]] == [1]
    rest = sm.list_model_packages(ModelPackageGroupName="churn", MaxResults=1, SortOrder="Ascending",
                                  NextToken=page["NextToken"])
    assert [p["ModelPackageVersion"] for p in rest["ModelPackageSummaryList"]] == [2]
    assert "NextToken" not in rest
    # Without a group: unversioned packages only, as AWS lists by default.
    assert sm.list_model_packages()["ModelPackageSummaryList"] == []

    # Tags: given at registration, added and removed; ListTags answers, Describe does not.
    assert sm.list_tags(ResourceArn=second)["Tags"] == [{"Key": "team", "Value": "ml"}]
    sm.add_tags(ResourceArn=second, Tags=[{"Key": "stage", "Value": "prod"}, {"Key": "team", "Value": "ds"}])
    assert sm.list_tags(ResourceArn=second)["Tags"] == [
        {"Key": "stage", "Value": "prod"}, {"Key": "team", "Value": "ds"}]
    sm.delete_tags(ResourceArn=second, TagKeys=["stage"])
    assert [t["Key"] for t in sm.list_tags(ResourceArn=second)["Tags"]] == ["team"]
    assert "Tags" not in sm.describe_model_package(ModelPackageName=second)

    # Several at once: a summary per package found, an error per ARN not.
    missing = first.replace("/churn/1", "/churn/9")
    batch = sm.batch_describe_model_package(ModelPackageArnList=[first, second, missing])
    assert set(batch["ModelPackageSummaries"]) == {first, second}
    assert batch["ModelPackageSummaries"][second]["ModelApprovalStatus"] == "Approved"
    assert batch["BatchDescribeModelPackageErrorMap"][missing]["ErrorCode"] == "ValidationException"

    # A group with versions cannot be deleted; without them it can.
    with pytest.raises(ClientError) as e:
        sm.delete_model_package_group(ModelPackageGroupName="churn")
    assert code(e) == "ConflictException"
    for arn in (first, second):
        sm.delete_model_package(ModelPackageName=arn)
    with pytest.raises(ClientError) as e:
        sm.describe_model_package(ModelPackageName=first)
    assert code(e) == "ValidationException" and "does not exist" in str(e.value)
    sm.delete_model_package_group(ModelPackageGroupName="churn")


def test_refusals(sm):
    with pytest.raises(ClientError) as e:
        register(sm, group="no-such-group")
    assert code(e) == "ValidationException" and "no-such-group does not exist" in str(e.value)
    with pytest.raises(ClientError) as e:
        sm.create_model_package(InferenceSpecification=INFERENCE)
    assert code(e) == "ValidationException"
    with pytest.raises(ClientError) as e:
        sm.create_model_package(ModelPackageGroupName="g", ModelApprovalStatus="Maybe")
    assert code(e) == "ValidationException"
    # An unversioned package, by name; no approval status applies to it.
    arn = sm.create_model_package(ModelPackageName="standalone",
                                  InferenceSpecification=INFERENCE)["ModelPackageArn"]
    assert arn.endswith(":model-package/standalone")
    assert [p["ModelPackageName"] for p in sm.list_model_packages()["ModelPackageSummaryList"]] == ["standalone"]
    with pytest.raises(ClientError) as e:
        sm.create_model_package(ModelPackageName="standalone", InferenceSpecification=INFERENCE)
    assert "already exists" in str(e.value)


STACK = """
Parameters:
  Approval: {Type: String, Default: PendingManualApproval}
Resources:
  Group:
    Type: AWS::SageMaker::ModelPackageGroup
    Properties: {ModelPackageGroupName: registry}
  Model:
    Type: AWS::SageMaker::ModelPackage
    Properties:
      ModelPackageGroupName: !GetAtt Group.ModelPackageGroupName
      ModelApprovalStatus: !Ref Approval
      CustomerMetadataProperties: {stage: dev}
      InferenceSpecification:
        Containers: [{Image: 123456789012.dkr.ecr.us-east-1.amazonaws.com/churn:1}]
        SupportedContentTypes: [text/csv]
        SupportedResponseMIMETypes: [text/csv]
Outputs:
  Arn: {Value: !Ref Model}
  Version: {Value: !GetAtt Model.ModelPackageVersion}
"""


def test_a_stack_registers_and_approves_a_model(sm, cfn):
    from conftest import settled_stack
    cfn.create_stack(StackName="registry", TemplateBody=STACK)
    stack = settled_stack(cfn, "registry")
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    out = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    assert out["Version"] == "1" and out["Arn"].endswith(":model-package/registry/1")
    assert sm.describe_model_package(ModelPackageName=out["Arn"])["ModelApprovalStatus"] == "PendingManualApproval"
    # Approving through the stack is an in-place update of the same version.
    cfn.update_stack(StackName="registry", UsePreviousTemplate=True,
                     Parameters=[{"ParameterKey": "Approval", "ParameterValue": "Approved"}])
    stack = settled_stack(cfn, "registry")
    assert stack["StackStatus"] == "UPDATE_COMPLETE"
    d = sm.describe_model_package(ModelPackageName=out["Arn"])
    assert d["ModelApprovalStatus"] == "Approved" and d["CustomerMetadataProperties"] == {"stage": "dev"}
    cfn.delete_stack(StackName="registry")
    assert settled_stack(cfn, stack["StackId"])["StackStatus"] == "DELETE_COMPLETE"
    assert sm.list_model_packages(ModelPackageType="Both")["ModelPackageSummaryList"] == []
