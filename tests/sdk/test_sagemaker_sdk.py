"""The SageMaker Python SDK (`sagemaker.core.resources`, SDK 3.x) pointed at sagestack
with nothing but `AWS_ENDPOINT_URL`: what it can do with projects and model package
groups, and the two calls of its model-package class that fail (as they would on AWS).

Run by `scripts/test-sagemaker-sdk` (its own virtualenv: the SDK pulls numpy, pandas
and scipy). Needs the debug binary (`cargo build -p sagestack`) or SAGESTACK_BIN.
"""
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request

import boto3
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BINARY = os.environ.get("SAGESTACK_BIN") or os.path.join(
    os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "debug", "sagestack")
TEMPLATE = """\
Parameters:
  SageMakerProjectName: {Type: String}
  SageMakerProjectId: {Type: String}
Resources:
  Group:
    Type: AWS::SageMaker::ModelPackageGroup
    Properties:
      ModelPackageGroupName: !Sub "${SageMakerProjectName}-models"
"""


@pytest.fixture(scope="module")
def endpoint():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    data = tempfile.mkdtemp(prefix="sagestack-sdk-")
    proc = subprocess.Popen([BINARY, "serve", "--port", str(port), "--data-dir", data],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(url + "/_sagestack/health", timeout=1)
            break
        except OSError:
            assert proc.poll() is None and time.monotonic() < deadline, "server did not start"
            time.sleep(0.05)
    # The one variable every client honours (boto3 inside the SDK included).
    old = {k: os.environ.get(k) for k in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID",
                                          "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")}
    os.environ.update(AWS_ENDPOINT_URL=url, AWS_ACCESS_KEY_ID="sdk",
                      AWS_SECRET_ACCESS_KEY="sdk", AWS_DEFAULT_REGION="us-east-1")
    try:
        yield url
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        proc.terminate()
        proc.wait(timeout=30)
        shutil.rmtree(data, ignore_errors=True)


@pytest.fixture(scope="module")
def project(endpoint):
    """A project provisioned from a template in sagestack's S3 (through boto3)."""
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="sdk-templates")
    s3.put_object(Bucket="sdk-templates", Key="t.yaml", Body=TEMPLATE.encode())
    sm = boto3.client("sagemaker")
    sm.create_project(ProjectName="sdk-project", TemplateProviders=[{"CfnTemplateProvider": {
        "TemplateName": "t",
        "TemplateURL": "https://sdk-templates.s3.us-east-1.amazonaws.com/t.yaml"}}])
    return "sdk-project"


def test_projects_list_describe_wait_and_delete(project):
    from sagemaker.core.resources import Project
    p = Project.get(project_name=project)
    # The SDK's waiter polls DescribeProject until the status.
    p.wait_for_status(target_status="CreateCompleted", timeout=60)
    p.refresh()
    assert p.project_status == "CreateCompleted"
    assert p.project_arn.endswith(f":project/{project}")
    assert [x.project_name for x in Project.get_all()] == [project]
    details = p.template_provider_details[0].cfn_template_provider_detail
    assert details.template_name == "t"
    # Created through the SDK as well (a Service Catalog product that does not exist
    # fails the project, as on AWS), and deleted through it.
    other = Project.create(project_name="sdk-failing", service_catalog_provisioning_details={
        "product_id": "prod-abcdefghijklm", "provisioning_artifact_id": "pa-abcdefghijklm"})
    other.wait_for_status(target_status="CreateFailed", timeout=60)
    other.delete()
    # A deleted project reads DeleteCompleted for a while before it goes, as on AWS.
    Project.get(project_name="sdk-failing").wait_for_status(
        target_status="DeleteCompleted", timeout=60)


def test_model_package_groups_list_describe_create_delete(project):
    from sagemaker.core.resources import ModelPackageGroup
    # The project's template made one (AWS::SageMaker::ModelPackageGroup).
    names = [g.model_package_group_name for g in ModelPackageGroup.get_all()]
    assert f"{project}-models" in names
    g = ModelPackageGroup.create(model_package_group_name="sdk-group",
                                 model_package_group_description="from the SDK")
    assert g.model_package_group_status == "Completed"
    assert ModelPackageGroup.get(model_package_group_name="sdk-group") \
        .model_package_group_description == "from the SDK"
    g.delete()
    assert "sdk-group" not in [x.model_package_group_name for x in ModelPackageGroup.get_all()]


def test_what_the_sdk_cannot_do_model_packages(endpoint):
    """`ModelPackage.create` reads `ModelPackageName` from CreateModelPackage's answer,
    whose botocore shape has only `ModelPackageArn`, and `ModelPackage.get_all` describes
    each summary by its `ModelPackageName`, which for a versioned package is its group's
    name: both fail here exactly as they would against AWS. Through boto3 the same calls
    work (tests/py/test_model_packages.py); ModelPackage.get by ARN works."""
    from sagemaker.core.resources import ModelPackage, ModelPackageGroup
    ModelPackageGroup.create(model_package_group_name="sdk-packages")
    spec = {"containers": [{"image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/m:1"}],
            "supported_content_types": ["text/csv"],
            "supported_response_mime_types": ["text/csv"]}
    with pytest.raises(KeyError, match="ModelPackageName"):
        ModelPackage.create(model_package_group_name="sdk-packages",
                            inference_specification=spec)
    arn = boto3.client("sagemaker").list_model_packages(
        ModelPackageGroupName="sdk-packages")["ModelPackageSummaryList"][0]["ModelPackageArn"]
    assert ModelPackage.get(model_package_name=arn).model_package_version == 1
    with pytest.raises(Exception, match="does not exist"):
        list(ModelPackage.get_all(model_package_group_name="sdk-packages"))
