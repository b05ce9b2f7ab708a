"""examples/terraform, as a user runs it (README "Terraform"): applied to a fresh server,
planned again (no changes), changed (`-var stage=prod`) and destroyed, with the example's
own provider block and credentials nobody configured on the server (issue #22).

Each step is checked through boto3, not only by Terraform's exit status: Terraform
trusts what the server reads back, so a server that forgot a write would pass a
Terraform-only test.
"""
import json
import os
import secrets
import shutil
import time
import zipfile

import pytest

import terraform_kit
from conftest import PATH_STYLE, REPO, Server, client, code_of

EXAMPLE = os.path.join(REPO, "examples", "terraform")
NAME = "tf-demo"


@pytest.fixture(scope="module")
def deployed(tmp_path_factory):
    """The example's working directory and its server, after `terraform init`."""
    terraform_kit.require_terraform()
    root = tmp_path_factory.mktemp("tf-example")
    server = Server(str(root / "data")).start()
    work = root / "tf"
    shutil.copytree(EXAMPLE, work, ignore=shutil.ignore_patterns(".terraform*", "*.tfstate*"))
    # A key pair the server has never seen: --auth none accepts any (README).
    tf = terraform_kit.Terraform(work, server.url,
                                 access_key="AKIA" + secrets.token_hex(8).upper())
    # The example declares its own provider (the endpoints as a user writes them).
    os.remove(os.path.join(tf.dir, "provider.tf"))
    tf.init()
    yield tf, server
    server.stop()


def clients(server, key):
    def make(service, **config):
        return client(service, server.url, key=key, **config)
    return make


def tags_of(pairs):
    return {t["Key"]: t["Value"] for t in pairs}


def test_apply_plan_update_destroy(deployed):
    tf, server = deployed
    aws = clients(server, tf.access_key)
    s3 = aws("s3", s3=PATH_STYLE)
    ssm, sm, cfn, sc = aws("ssm"), aws("sagemaker"), aws("cloudformation"), aws("servicecatalog")
    iam = aws("iam")

    tf.apply()
    out = tf.outputs()
    # The template object and the parameter that names it.
    body = s3.get_object(Bucket=f"{NAME}-templates", Key="project-template.yaml")["Body"].read()
    with open(os.path.join(EXAMPLE, "project-template.yaml"), "rb") as f:
        assert body == f.read()
    assert tags_of(s3.get_bucket_tagging(Bucket=f"{NAME}-templates")["TagSet"]) == {
        "team": "ml-platform", "stage": "dev"}
    bucket = f"{NAME}-templates"
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert all(s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"].values())
    assert lifecycle_days(s3, bucket) == 30
    role_arn = iam.get_role(RoleName=f"{NAME}-launch")["Role"]["Arn"]
    policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    assert policy["Statement"][0]["Principal"] == {"AWS": role_arn}
    assert iam.list_role_policies(RoleName=f"{NAME}-launch")["PolicyNames"] == ["read-templates"]
    attached = iam.list_attached_role_policies(RoleName=f"{NAME}-launch")["AttachedPolicies"]
    assert [a["PolicyArn"] for a in attached] == ["arn:aws:iam::aws:policy/AmazonSageMakerFullAccess"]
    principals = sc.list_principals_for_portfolio(PortfolioId=out["portfolio_id"])["Principals"]
    assert [p["PrincipalARN"] for p in principals] == [role_arn]
    constraints = sc.list_constraints_for_portfolio(PortfolioId=out["portfolio_id"])
    assert [c["Type"] for c in constraints["ConstraintDetails"]] == ["LAUNCH"]
    param = ssm.get_parameter(Name=f"/{NAME}/template-url")["Parameter"]
    assert param["Value"].endswith("/project-template.yaml")
    group = sm.describe_model_package_group(ModelPackageGroupName=f"{NAME}-models")
    assert group["ModelPackageGroupStatus"] == "Completed"
    # Both stacks settled, the S3 one from the object the configuration uploaded.
    for stack in (f"{NAME}-inline", f"{NAME}-from-s3"):
        assert cfn.describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
    assert ssm.get_parameter(Name=f"/{NAME}/inline/stage")["Parameter"]["Value"] == "dev"
    s3.head_bucket(Bucket=f"sagemaker-{NAME}-direct-dev-artifacts")
    # The project, provisioned from the Service Catalog product through its portfolio.
    project = sm.describe_project(ProjectName=f"{NAME}-churn")
    assert project["ProjectStatus"] == "CreateCompleted", project
    assert project["ServiceCatalogProvisioningDetails"]["ProductId"] == out["product_id"]
    s3.head_bucket(Bucket=f"sagemaker-{NAME}-churn-dev-artifacts")
    portfolios = sc.list_portfolios_for_product(ProductId=out["product_id"])["PortfolioDetails"]
    assert [p["Id"] for p in portfolios] == [out["portfolio_id"]]

    # The approval loop: approving a version runs the deploy function through the rule.
    logs, lam = aws("logs"), aws("lambda")
    assert approve_and_deployed(sm, logs, f"{NAME}-models") == "dev"

    # Terraform reads back exactly what it wrote: nothing to change.
    tf.plan_no_changes()

    # An update in place of every resource that has a mutable attribute.
    tf.apply(var={"stage": "prod"})
    tf.plan_no_changes(var={"stage": "prod"})
    assert tags_of(s3.get_bucket_tagging(Bucket=f"{NAME}-templates")["TagSet"])["stage"] == "prod"
    assert lifecycle_days(s3, bucket) == 90
    role = iam.get_role(RoleName=f"{NAME}-launch")["Role"]
    assert role["Description"] == "Launches SageMaker project templates (prod)"
    assert tags_of(role["Tags"]) == {"stage": "prod"}
    described = ssm.describe_parameters(
        ParameterFilters=[{"Key": "Name", "Values": [f"/{NAME}/template-url"]}])["Parameters"]
    assert described[0]["Description"] == "Where the project template lives (prod)"
    assert ssm.get_parameter(Name=f"/{NAME}/inline/stage")["Parameter"]["Value"] == "prod"
    stack = cfn.describe_stacks(StackName=f"{NAME}-from-s3")["Stacks"][0]
    assert stack["StackStatus"] == "UPDATE_COMPLETE"
    s3.head_bucket(Bucket=f"sagemaker-{NAME}-direct-prod-artifacts")
    portfolio = sc.describe_portfolio(Id=out["portfolio_id"])
    assert portfolio["PortfolioDetail"]["Description"] == "SageMaker project templates (prod)"
    assert tags_of(portfolio["Tags"])["stage"] == "prod"
    project = sm.describe_project(ProjectName=f"{NAME}-churn")
    assert project["ProjectStatus"] == "UpdateCompleted", project

    env = lam.get_function_configuration(FunctionName=f"{NAME}-deploy")["Environment"]
    assert env["Variables"] == {"STAGE": "prod"}
    group = logs.describe_log_groups(logGroupNamePrefix=f"/aws/lambda/{NAME}-deploy")
    assert group["logGroups"][0]["retentionInDays"] == 30
    assert approve_and_deployed(sm, logs, f"{NAME}-models") == "prod"

    # Everything goes, the resources the stacks and the project made included (a group
    # that holds versions cannot be deleted, on AWS too: the versions go first).
    for version in sm.list_model_packages(ModelPackageGroupName=f"{NAME}-models")[
            "ModelPackageSummaryList"]:
        sm.delete_model_package(ModelPackageName=version["ModelPackageArn"])
    tf.destroy(var={"stage": "prod"})
    assert s3.list_buckets()["Buckets"] == []
    assert ssm.describe_parameters()["Parameters"] == []
    assert sm.list_model_package_groups()["ModelPackageGroupSummaryList"] == []
    assert sm.list_projects()["ProjectSummaryList"] == []
    live = [s for s in cfn.list_stacks()["StackSummaries"] if s["StackStatus"] != "DELETE_COMPLETE"]
    assert live == []
    assert sc.list_portfolios()["PortfolioDetails"] == []
    assert iam.list_roles()["Roles"] == []
    assert lam.list_functions()["Functions"] == []
    assert aws("events").list_rules()["Rules"] == []
    assert code_of_call(sc.describe_product_as_admin, Id=out["product_id"]) == "ResourceNotFoundException"


def approve_and_deployed(sm, logs, group):
    """Registers a version in `group` and approves it: the STAGE the deploy function
    logged for it (waiting, bounded, for the rule's asynchronous invocation)."""
    arn = sm.create_model_package(
        ModelPackageGroupName=group,
        InferenceSpecification={
            "Containers": [{"Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/churn:1"}],
            "SupportedContentTypes": ["text/csv"], "SupportedResponseMIMETypes": ["text/csv"]},
    )["ModelPackageArn"]
    sm.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        events = logs.filter_log_events(logGroupName=f"/aws/lambda/{NAME}-deploy",
                                        filterPattern=f'"{arn}"')["events"]
        for e in events:
            line = e["message"].strip()
            if line.startswith("{"):
                decision = json.loads(line)
                assert decision["deploy"] == arn and decision["group"] == group
                return decision["stage"]
        time.sleep(0.2)
    raise AssertionError(f"the deploy function never logged {arn}")


def test_function_zip_holds_the_committed_source():
    """function.zip is what Terraform uploads; function/deploy.py is what people read."""
    with zipfile.ZipFile(os.path.join(EXAMPLE, "function.zip")) as z:
        assert z.namelist() == ["deploy.py"]
        packed = z.read("deploy.py")
    with open(os.path.join(EXAMPLE, "function", "deploy.py"), "rb") as f:
        assert packed == f.read()


def lifecycle_days(s3, bucket):
    rules = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    return rules[0]["NoncurrentVersionExpiration"]["NoncurrentDays"]


def code_of_call(call, **kwargs):
    try:
        call(**kwargs)
    except Exception as e:  # noqa: BLE001 - the code is what is asserted
        return code_of(e)
    return None
