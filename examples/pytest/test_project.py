"""A team's tests against sagestack, using nothing but the pytest plugin that
`pip install sagestack` brings: upload a project template to S3, create a SageMaker
project from it, and check what it provisioned (the CloudFormation stack, the SSM
parameter, the S3 bucket)."""
import pathlib
import time

import boto3
import pytest
from botocore.exceptions import ClientError

TEMPLATE = pathlib.Path(__file__).with_name("template.yaml").read_bytes()


def create_project(server, name, stage="dev"):
    """Uploads the template, creates project `name` from it and waits for it to settle:
    its final description."""
    s3 = server.client("s3")
    s3.create_bucket(Bucket="templates")
    s3.put_object(Bucket="templates", Key="project.yaml", Body=TEMPLATE)
    sm = server.client("sagemaker")
    sm.create_project(ProjectName=name, TemplateProviders=[{"CfnTemplateProvider": {
        "TemplateName": "ml",
        "TemplateURL": f"https://templates.s3.{server.region}.amazonaws.com/project.yaml",
        "Parameters": [{"Key": "Stage", "Value": stage}],
    }}])
    deadline = time.monotonic() + 30
    while True:
        project = sm.describe_project(ProjectName=name)
        if not project["ProjectStatus"].endswith(("Pending", "InProgress")):
            return project
        assert time.monotonic() < deadline, project
        time.sleep(0.05)


def test_project_provisions_its_stack(sagestack_clean):
    project = create_project(sagestack_clean, "churn")
    detail = project["TemplateProviderDetails"][0]["CfnTemplateProviderDetail"]["StackDetail"]
    assert project["ProjectStatus"] == "CreateCompleted", detail

    # The stack: SP-<project id>-<template name>, complete, tagged with the project.
    stack = sagestack_clean.client("cloudformation").describe_stacks(
        StackName=detail["Name"])["Stacks"][0]
    assert stack["StackName"] == f"SP-{project['ProjectId']}-ml"
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    tags = {t["Key"]: t["Value"] for t in stack["Tags"]}
    assert tags["sagemaker:project-name"] == "churn"
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    assert outputs["ArtifactBucket"] == "sagemaker-churn-dev-artifacts"
    assert outputs["ModelPackageGroup"].endswith(":model-package-group/churn-models")

    # The SSM parameter names the bucket, and the bucket is there to use.
    ssm = sagestack_clean.client("ssm")
    bucket = ssm.get_parameter(Name="/sagemaker/projects/churn/artifact-bucket")["Parameter"]["Value"]
    assert bucket == "sagemaker-churn-dev-artifacts"
    s3 = sagestack_clean.client("s3")
    s3.put_object(Bucket=bucket, Key="data/train.csv", Body=b"x,y\n1,2\n")
    assert s3.get_object(Bucket=bucket, Key="data/train.csv")["Body"].read() == b"x,y\n1,2\n"
    groups = sagestack_clean.client("sagemaker").list_model_package_groups()
    assert [g["ModelPackageGroupName"] for g in groups["ModelPackageGroupSummaryList"]] == ["churn-models"]


def test_each_test_starts_empty(sagestack_clean):
    # The test above left a project, buckets and a parameter: sagestack_clean reset them.
    assert sagestack_clean.client("sagemaker").list_projects()["ProjectSummaryList"] == []
    assert sagestack_clean.client("s3").list_buckets()["Buckets"] == []
    assert sagestack_clean.client("cloudformation").describe_stacks()["Stacks"] == []


def test_a_bad_parameter_fails_the_project(sagestack_clean):
    project = create_project(sagestack_clean, "typo", stage="staging")
    assert project["ProjectStatus"] == "CreateFailed"
    detail = project["TemplateProviderDetails"][0]["CfnTemplateProviderDetail"]["StackDetail"]
    assert "AllowedValues" in detail["StatusMessage"]


def test_code_that_builds_its_own_clients(sagestack_clean, sagestack_env):
    # sagestack_env sets AWS_ENDPOINT_URL (and keys, region): code under test that calls
    # boto3.client(...) with no endpoint reaches sagestack, not AWS.
    boto3.client("ssm").put_parameter(Name="/app/flag", Value="on", Type="String")
    value = sagestack_clean.client("ssm").get_parameter(Name="/app/flag")["Parameter"]["Value"]
    assert value == "on"


@pytest.mark.sagestack(args=["--auth", "sigv4"])
def test_a_server_with_other_flags(sagestack_clean):
    # This test's server checks signatures: its own keys pass, others are refused.
    assert sagestack_clean.client("sts").get_caller_identity()["Account"] == "000000000000"
    stranger = boto3.client("sts", endpoint_url=sagestack_clean.endpoint_url,
                            region_name=sagestack_clean.region,
                            aws_access_key_id="AKIASTRANGER", aws_secret_access_key="nope")
    with pytest.raises(ClientError):
        stranger.get_caller_identity()


def test_the_session_server(sagestack):
    # The session-scoped fixture: the same server, not reset (cheapest; state is shared
    # with the other tests of the session).
    assert sagestack.endpoint_url.startswith("http://127.0.0.1:")
    assert sagestack.session.region_name == sagestack.region
