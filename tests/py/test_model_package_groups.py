"""SageMaker model package groups end to end: boto3 and the AWS CLI against the real
binary."""
import datetime
import json

import pytest
from botocore.exceptions import ClientError

from conftest import ACCESS_KEY, fixture, settled_stack


def err(excinfo):
    e = excinfo.value.response["Error"]
    return e["Code"], e["Message"]


def test_create_describe_list_delete(sm):
    before = datetime.datetime.now(datetime.timezone.utc)
    out = sm.create_model_package_group(
        ModelPackageGroupName="Churn-Models", ModelPackageGroupDescription="churn",
        Tags=[{"Key": "team", "Value": "ml"}])
    arn = "arn:aws:sagemaker:us-east-1:000000000000:model-package-group/churn-models"
    assert out["ModelPackageGroupArn"] == arn

    d = sm.describe_model_package_group(ModelPackageGroupName="Churn-Models")
    assert d["ModelPackageGroupName"] == "Churn-Models"
    assert d["ModelPackageGroupArn"] == arn
    assert d["ModelPackageGroupDescription"] == "churn"
    assert d["ModelPackageGroupStatus"] == "Completed"
    assert d["CreatedBy"]["IamIdentity"]["PrincipalId"] == ACCESS_KEY
    assert abs((d["CreationTime"] - before).total_seconds()) < 60
    by_arn = sm.describe_model_package_group(ModelPackageGroupName=arn)
    assert by_arn["ModelPackageGroupName"] == "Churn-Models"

    assert sm.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "ml"}]
    sm.add_tags(ResourceArn=arn, Tags=[{"Key": "env", "Value": "dev"}, {"Key": "team", "Value": "ds"}])
    assert sm.list_tags(ResourceArn=arn)["Tags"] == [
        {"Key": "env", "Value": "dev"}, {"Key": "team", "Value": "ds"}]
    sm.delete_tags(ResourceArn=arn, TagKeys=["env"])
    assert sm.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "ds"}]
    with pytest.raises(ClientError) as e:
        sm.list_tags(ResourceArn=arn + "-missing")
    assert err(e)[0] == "ValidationException"

    summaries = sm.list_model_package_groups()["ModelPackageGroupSummaryList"]
    assert [g["ModelPackageGroupName"] for g in summaries] == ["Churn-Models"]
    assert summaries[0]["ModelPackageGroupStatus"] == "Completed"

    sm.delete_model_package_group(ModelPackageGroupName="Churn-Models")
    assert sm.list_model_package_groups()["ModelPackageGroupSummaryList"] == []
    with pytest.raises(ClientError) as e:
        sm.describe_model_package_group(ModelPackageGroupName="Churn-Models")
    assert err(e) == ("ValidationException", "ModelPackageGroup Churn-Models does not exist.")


def test_duplicates_and_validation(sm, raw):
    sm.create_model_package_group(ModelPackageGroupName="dup")
    with pytest.raises(ClientError) as e:
        sm.create_model_package_group(ModelPackageGroupName="dup")
    assert err(e) == ("ValidationException",
                      "Model Package Group already exists: "
                      "arn:aws:sagemaker:us-east-1:000000000000:model-package-group/dup")
    with pytest.raises(ClientError) as e:
        raw.create_model_package_group(ModelPackageGroupName="bad_name-")
    code, msg = err(e)
    assert code == "ValidationException"
    assert msg.startswith("1 validation error detected: Value 'bad_name-' at 'modelPackageGroupName' "
                          "failed to satisfy constraint: Member must satisfy regular expression pattern")
    with pytest.raises(ClientError) as e:
        raw.list_model_package_groups(MaxResults=0)
    assert err(e)[0] == "ValidationException"
    with pytest.raises(ClientError) as e:
        sm.delete_model_package_group(ModelPackageGroupName="never")
    assert err(e)[0] == "ValidationException"


def test_list_sorts_filters_and_pages(sm):
    for n in ["grp-c", "grp-a", "other", "grp-b"]:
        sm.create_model_package_group(ModelPackageGroupName=n)
    names = lambda out: [g["ModelPackageGroupName"] for g in out["ModelPackageGroupSummaryList"]]
    assert names(sm.list_model_package_groups()) == ["grp-c", "grp-a", "other", "grp-b"]
    assert names(sm.list_model_package_groups(SortBy="Name")) == ["grp-a", "grp-b", "grp-c", "other"]

    pages = sm.get_paginator("list_model_package_groups").paginate(
        SortBy="Name", SortOrder="Descending", NameContains="grp",
        PaginationConfig={"PageSize": 2})
    seen = [g["ModelPackageGroupName"] for p in pages for g in p["ModelPackageGroupSummaryList"]]
    assert seen == ["grp-c", "grp-b", "grp-a"]


def test_aws_cli(aws):
    rc, out, e = aws("create-model-package-group", "--model-package-group-name", "cli-group",
                     "--model-package-group-description", "from the CLI")
    assert rc == 0, e
    assert out["ModelPackageGroupArn"].endswith(":model-package-group/cli-group")
    rc, out, e = aws("describe-model-package-group", "--model-package-group-name", "cli-group")
    assert rc == 0, e
    assert out["ModelPackageGroupDescription"] == "from the CLI"
    rc, out, e = aws("list-model-package-groups", "--name-contains", "cli")
    assert rc == 0, e
    assert [g["ModelPackageGroupName"] for g in out["ModelPackageGroupSummaryList"]] == ["cli-group"]
    rc, out, e = aws("create-model-package-group", "--model-package-group-name", "cli-group")
    assert rc != 0
    assert "ValidationException" in e and "already exists" in e
    rc, out, e = aws("delete-model-package-group", "--model-package-group-name", "cli-group")
    assert rc == 0, e


# The role, and a group whose description reads the role's ARN.
GROUP_TEMPLATE = fixture("iam-role.yaml") + """\
  Group:
    Type: AWS::SageMaker::ModelPackageGroup
    Properties:
      ModelPackageGroupName: stack-models
      ModelPackageGroupDescription: !GetAtt Role.Arn
Outputs:
  GroupArn: {Value: !Ref Group}
  Status: {Value: !GetAtt Group.ModelPackageGroupStatus}
  RoleArn: {Value: !GetAtt Role.Arn}
"""


def test_stack_creates_and_deletes_a_real_group(sm, cfn):
    cfn.create_stack(StackName="mpg-stack", TemplateBody=GROUP_TEMPLATE,
                     Capabilities=["CAPABILITY_IAM"])
    cfn.get_waiter("stack_create_complete").wait(
        StackName="mpg-stack", WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    outputs = {o["OutputKey"]: o["OutputValue"]
               for o in cfn.describe_stacks(StackName="mpg-stack")["Stacks"][0]["Outputs"]}
    arn = "arn:aws:sagemaker:us-east-1:000000000000:model-package-group/stack-models"
    assert outputs["GroupArn"] == arn
    assert outputs["Status"] == "Completed"
    assert outputs["RoleArn"].startswith("arn:aws:iam::000000000000:role/mpg-stack-Role-")
    d = sm.describe_model_package_group(ModelPackageGroupName="stack-models")
    assert d["ModelPackageGroupDescription"] == outputs["RoleArn"]

    cfn.delete_stack(StackName="mpg-stack")
    cfn.get_waiter("stack_delete_complete").wait(
        StackName="mpg-stack", WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    assert sm.list_model_package_groups()["ModelPackageGroupSummaryList"] == []


def _group_template(tags, bad=False):
    """A stack with one group carrying `tags`; `bad` adds a group made after it that
    fails (its name is invalid), so the update rolls back once the first was retagged."""
    template = f"""\
Resources:
  Group:
    Type: AWS::SageMaker::ModelPackageGroup
    Properties:
      ModelPackageGroupName: tagged-models
      Tags: {json.dumps([{"Key": k, "Value": v} for k, v in tags.items()])}
"""
    if bad:
        template += """\
  Bad:
    Type: AWS::SageMaker::ModelPackageGroup
    DependsOn: Group
    Properties:
      ModelPackageGroupName: no_underscores
"""
    return template


def test_stack_tags_and_template_tags_retag_a_stacks_group(sm, cfn):
    arn = "arn:aws:sagemaker:us-east-1:000000000000:model-package-group/tagged-models"

    def tags():
        return {t["Key"]: t["Value"] for t in sm.list_tags(ResourceArn=arn)["Tags"]}

    def settle(status):
        cfn.get_waiter(f"stack_{status}_complete").wait(
            StackName="mpg-tags", WaiterConfig={"Delay": 1, "MaxAttempts": 30})

    stack_id = cfn.create_stack(
        StackName="mpg-tags", TemplateBody=_group_template({"owner": "cfn"}),
        Tags=[{"Key": "env", "Value": "dev"}, {"Key": "owner", "Value": "stack"}])["StackId"]
    settle("create")
    assert tags() == {"owner": "cfn", "env": "dev"}, "the template's value wins"
    # New stack tags alone, the template unchanged (cdk deploy --tags).
    cfn.update_stack(StackName="mpg-tags", UsePreviousTemplate=True,
                     Tags=[{"Key": "env", "Value": "prod"}, {"Key": "team", "Value": "ml"}])
    settle("update")
    assert tags() == {"owner": "cfn", "env": "prod", "team": "ml"}
    # A template Tags change; the stack's tags stay.
    cfn.update_stack(StackName="mpg-tags", TemplateBody=_group_template({"cost": "42"}),
                     Tags=[{"Key": "env", "Value": "prod"}, {"Key": "team", "Value": "ml"}])
    settle("update")
    assert tags() == {"cost": "42", "env": "prod", "team": "ml"}
    # A failed update puts the old tags back on the group.
    cfn.update_stack(StackName="mpg-tags", TemplateBody=_group_template({"cost": "43"}, True),
                     Tags=[{"Key": "env", "Value": "test"}])
    status = settled_stack(cfn, "mpg-tags")["StackStatus"]
    assert status == "UPDATE_ROLLBACK_COMPLETE"
    assert tags() == {"cost": "42", "env": "prod", "team": "ml"}
    cfn.delete_stack(StackName="mpg-tags")
    cfn.get_waiter("stack_delete_complete").wait(
        StackName=stack_id, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    assert sm.list_model_package_groups()["ModelPackageGroupSummaryList"] == []
