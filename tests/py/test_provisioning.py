"""Project provisioning end to end: templates uploaded to the embedded S3 endpoint with
boto3 and the AWS CLI, projects created, updated and deleted through SageMaker, their
stacks read through CloudFormation, their buckets through S3 and their model package
groups through SageMaker; and every failure path with its StatusMessage."""
import time

import pytest
from botocore.exceptions import ClientError

from conftest import REGION, client, delete_and_wait, fixture, wait_status

BUCKET = "project-templates"
ROLE = "arn:aws:iam::000000000000:role/SageMakerProjectsLaunchRole"

TEMPLATE = fixture("project-bucket.yaml")

# A second version: adds an SSM parameter naming the bucket.
TEMPLATE_V2 = TEMPLATE.replace("Outputs:", """  BucketName:
    Type: AWS::SSM::Parameter
    Properties:
      Name: !Sub "/${SageMakerProjectName}/bucket"
      Type: String
      Value: !Ref Artifacts
Outputs:""")

# Fails on update: the parameter name is not a valid SSM name.
TEMPLATE_BROKEN = TEMPLATE.replace("Outputs:", """  Bad:
    Type: AWS::SSM::Parameter
    Properties:
      Name: "invalid name with spaces"
      Type: String
      Value: x
Outputs:""")


@pytest.fixture
def clients(server):
    s3 = client("s3", server.url)
    s3.create_bucket(Bucket=BUCKET)
    return client("sagemaker", server.url), client("cloudformation", server.url), s3, \
        client("ssm", server.url)


def url(key):
    return f"https://{BUCKET}.s3.{REGION}.amazonaws.com/{key}"


def provider(key, template_name="ml", params=None, role=True):
    p = {"TemplateName": template_name, "TemplateURL": url(key)}
    if role:
        p["RoleARN"] = ROLE
    if params is not None:
        p["Parameters"] = [{"Key": k, "Value": v} for k, v in params.items()]
    return [{"CfnTemplateProvider": p}]


def stack_detail(project):
    return project["TemplateProviderDetails"][0]["CfnTemplateProviderDetail"]["StackDetail"]


def test_create_update_and_delete_a_project(clients, aws, tmp_path):
    sm, cfn, s3, ssm = clients
    # The AWS CLI uploads the first template, boto3 the second.
    local = tmp_path / "ml.yaml"
    local.write_text(TEMPLATE)
    rc, _, err = aws("cp", str(local), f"s3://{BUCKET}/ml.yaml", service="s3")
    assert rc == 0, err
    s3.put_object(Bucket=BUCKET, Key="ml-v2.yaml", Body=TEMPLATE_V2.encode())

    started = time.monotonic()
    out = sm.create_project(ProjectName="churn", TemplateProviders=provider("ml.yaml", params={"Stage": "dev"}),
                            Tags=[{"Key": "team", "Value": "ml"}])
    pid = out["ProjectId"]
    d = wait_status(sm, "churn", "CreateCompleted", "CreateFailed")
    assert d["ProjectStatus"] == "CreateCompleted", stack_detail(d)
    assert time.monotonic() - started < 10
    name = f"SP-{pid}-ml"
    detail = stack_detail(d)
    assert detail["Name"] == name
    assert detail["StatusMessage"] == f"Stack {name} reached CREATE_COMPLETE."

    # The stack, through CloudFormation.
    stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
    assert stack["StackId"] == detail["Id"]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert stack["RoleARN"] == ROLE
    params = {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}
    assert params == {"SageMakerProjectName": "churn", "SageMakerProjectId": pid, "Stage": "dev"}
    tags = {t["Key"]: t["Value"] for t in stack["Tags"]}
    assert tags == {"sagemaker:project-name": "churn", "sagemaker:project-id": pid, "team": "ml"}
    # Read-only through the CloudFormation API.
    with pytest.raises(ClientError) as e:
        cfn.delete_stack(StackName=name)
    assert "managed by a SageMaker project" in e.value.response["Error"]["Message"]

    # The bucket, through S3; the model package group, through SageMaker.
    bucket = f"sagemaker-{pid}-dev"
    s3.head_bucket(Bucket=bucket)
    bucket_tags = {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=bucket)["TagSet"]}
    assert bucket_tags["sagemaker:project-name"] == "churn"
    assert bucket_tags["sagemaker:project-id"] == pid
    assert bucket_tags["team"] == "ml"
    assert stack["Outputs"][0]["OutputValue"] == bucket
    group = sm.describe_model_package_group(ModelPackageGroupName="churn-models")
    group_tags = {t["Key"]: t["Value"] for t in sm.list_tags(ResourceArn=group["ModelPackageGroupArn"])["Tags"]}
    assert group_tags["sagemaker:project-id"] == pid

    # Update the parameters: the bucket is replaced by one for the new stage.
    sm.update_project(ProjectName="churn", TemplateProvidersToUpdate=[{"CfnTemplateProvider": {
        "TemplateName": "ml", "TemplateURL": url("ml.yaml"), "Parameters": [{"Key": "Stage", "Value": "prod"}]}}])
    d = wait_status(sm, "churn", "UpdateCompleted", "UpdateFailed")
    assert d["ProjectStatus"] == "UpdateCompleted", stack_detail(d)
    assert stack_detail(d)["StatusMessage"] == f"Stack {name} reached UPDATE_COMPLETE."
    s3.head_bucket(Bucket=f"sagemaker-{pid}-prod")
    with pytest.raises(ClientError):
        s3.head_bucket(Bucket=bucket)

    # Update the template URL: v2 adds an SSM parameter.
    sm.update_project(ProjectName="churn", TemplateProvidersToUpdate=[{"CfnTemplateProvider": {
        "TemplateName": "ml", "TemplateURL": url("ml-v2.yaml"), "Parameters": [{"Key": "Stage", "Value": "prod"}]}}])
    d = wait_status(sm, "churn", "UpdateCompleted", "UpdateFailed")
    assert d["ProjectStatus"] == "UpdateCompleted", stack_detail(d)
    assert ssm.get_parameter(Name="/churn/bucket")["Parameter"]["Value"] == f"sagemaker-{pid}-prod"
    assert d["TemplateProviderDetails"][0]["CfnTemplateProviderDetail"]["RoleARN"] == ROLE

    # Delete: the stack and everything it made go.
    delete_and_wait(sm, "churn")
    stack = cfn.describe_stacks(StackName=detail["Id"])["Stacks"][0]
    assert stack["StackStatus"] == "DELETE_COMPLETE"
    with pytest.raises(ClientError):
        s3.head_bucket(Bucket=f"sagemaker-{pid}-prod")
    with pytest.raises(ClientError):
        sm.describe_model_package_group(ModelPackageGroupName="churn-models")
    with pytest.raises(ClientError):
        ssm.get_parameter(Name="/churn/bucket")


def create_and_settle(sm, name, providers):
    sm.create_project(ProjectName=name, TemplateProviders=providers)
    return wait_status(sm, name, "CreateCompleted", "CreateFailed")


def test_fetch_and_validation_failures(clients):
    sm, _, s3, _ = clients
    # Missing bucket.
    p = {"TemplateName": "ml", "TemplateURL": f"https://no-such-bucket.s3.{REGION}.amazonaws.com/t.yaml"}
    d = create_and_settle(sm, "nobucket", [{"CfnTemplateProvider": p}])
    assert d["ProjectStatus"] == "CreateFailed"
    assert stack_detail(d)["StatusMessage"] == \
        "S3 error: The specified bucket does not exist (bucket: no-such-bucket)"
    # Missing key.
    d = create_and_settle(sm, "nokey", provider("missing.yaml"))
    assert d["ProjectStatus"] == "CreateFailed"
    assert stack_detail(d)["StatusMessage"] == \
        f"S3 error: The specified key does not exist. (bucket: {BUCKET}, key: missing.yaml)"
    # Too large (over 1 MB).
    big = "# " + "x" * (1024 * 1024) + "\n" + TEMPLATE
    s3.put_object(Bucket=BUCKET, Key="big.yaml", Body=big.encode())
    d = create_and_settle(sm, "toolarge", provider("big.yaml"))
    assert d["ProjectStatus"] == "CreateFailed"
    assert stack_detail(d)["StatusMessage"] == (
        f"Template may not exceed 1048576 bytes in size (s3://{BUCKET}/big.yaml has {len(big)} bytes)")
    # Invalid template, with its position.
    s3.put_object(Bucket=BUCKET, Key="invalid.yaml", Body=b"Resources:\n  Q:\n    Type: AWS::SQS::Queue\n"
                  b"    Properties:\n      QueueName: !Ref Missing\n")
    d = create_and_settle(sm, "invalid", provider("invalid.yaml"))
    assert d["ProjectStatus"] == "CreateFailed"
    assert stack_detail(d)["StatusMessage"] == (
        "Template error: Template format error: Unresolved resource dependencies [Missing] in the "
        "Resources block of the template (line 5:18)")
    # A parameter failing its constraint.
    s3.put_object(Bucket=BUCKET, Key="ml.yaml", Body=TEMPLATE.encode())
    d = create_and_settle(sm, "badparam", provider("ml.yaml", params={"Stage": "qa"}))
    assert d["ProjectStatus"] == "CreateFailed"
    assert stack_detail(d)["StatusMessage"] == \
        "Template error: Parameter 'Stage' must be one of AllowedValues (line 6:3)"


def test_resource_and_update_failures_roll_back(clients):
    sm, cfn, s3, _ = clients
    # A resource that fails its create: the stack rolls back.
    s3.put_object(Bucket=BUCKET, Key="broken.yaml", Body=TEMPLATE_BROKEN.encode())
    d = create_and_settle(sm, "broken", provider("broken.yaml"))
    assert d["ProjectStatus"] == "CreateFailed"
    name = stack_detail(d)["Name"]
    msg = stack_detail(d)["StatusMessage"]
    assert msg.startswith(f"Stack {name} reached ROLLBACK_COMPLETE: resource Bad (AWS::SSM::Parameter) failed: "), msg
    assert cfn.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"] == "ROLLBACK_COMPLETE"

    # An update that fails rolls back and leaves the old stack working.
    s3.put_object(Bucket=BUCKET, Key="ml.yaml", Body=TEMPLATE.encode())
    d = create_and_settle(sm, "keeper", provider("ml.yaml"))
    assert d["ProjectStatus"] == "CreateCompleted", stack_detail(d)
    name = stack_detail(d)["Name"]
    sm.update_project(ProjectName="keeper", TemplateProvidersToUpdate=[{"CfnTemplateProvider": {
        "TemplateName": "ml", "TemplateURL": url("broken.yaml")}}])
    d = wait_status(sm, "keeper", "UpdateCompleted", "UpdateFailed")
    assert d["ProjectStatus"] == "UpdateFailed"
    msg = stack_detail(d)["StatusMessage"]
    assert msg.startswith(f"Stack {name} reached UPDATE_ROLLBACK_COMPLETE: resource Bad (AWS::SSM::Parameter) failed: "), msg
    resources = {r["LogicalResourceId"] for r in cfn.describe_stack_resources(StackName=name)["StackResources"]}
    assert resources == {"Artifacts", "Models"}
    sm.describe_model_package_group(ModelPackageGroupName="keeper-models")

    # The template name must be the project's; operations in progress conflict.
    with pytest.raises(ClientError) as e:
        sm.update_project(ProjectName="keeper", TemplateProvidersToUpdate=[{"CfnTemplateProvider": {
            "TemplateName": "other", "TemplateURL": url("ml.yaml")}}])
    assert e.value.response["Error"]["Code"] == "ValidationException"
    assert e.value.response["Error"]["Message"] == "TemplateName other does not match the template of project keeper (ml)."
    sm.delete_project(ProjectName="keeper")
    try:
        sm.delete_project(ProjectName="keeper")
    except ClientError as e:
        # Still deleting (ConflictException), or already gone.
        assert e.response["Error"]["Code"] in ("ConflictException", "ValidationException")


def test_a_stack_level_failure_keeps_its_reason(clients):
    # No resource fails: the stack does, on an import of an export nobody made. The
    # project says why (issue #23, item 3), as the stack's own event does.
    sm, cfn, s3, _ = clients
    template = """
Resources:
  Param:
    Type: AWS::SSM::Parameter
    Properties:
      Type: String
      Value: !ImportValue nobody-exports-this
"""
    s3.put_object(Bucket=BUCKET, Key="imports.yaml", Body=template.encode())
    d = create_and_settle(sm, "imports", provider("imports.yaml"))
    assert d["ProjectStatus"] == "CreateFailed"
    msg = stack_detail(d)["StatusMessage"]
    assert "no reason given" not in msg, msg
    assert "nobody-exports-this" in msg, msg
