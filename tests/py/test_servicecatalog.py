"""Service Catalog end to end: boto3 and the AWS CLI against the real binary.

Products read their templates from `LoadTemplateFromURL`, so the tests that create
products first upload templates with boto3's S3 client to the same endpoint."""
import time

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import ACCESS_KEY, REGION

ACCOUNT = "000000000000"


def client(url, service, validate=True):
    return boto3.client(
        service,
        endpoint_url=url,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key="dummy-secret",
        config=Config(retries={"max_attempts": 1}, parameter_validation=validate,
                      s3={"addressing_style": "path"}),
    )


@pytest.fixture
def sc(server):
    return client(server.url, "servicecatalog")


@pytest.fixture
def sc_raw(server):
    return client(server.url, "servicecatalog", validate=False)


@pytest.fixture
def cfn(server):
    return client(server.url, "cloudformation")


@pytest.fixture
def s3(server):
    return client(server.url, "s3")


def code(excinfo):
    return excinfo.value.response["Error"]["Code"]


def message(excinfo):
    return excinfo.value.response["Error"]["Message"]


def template(version, fail=False):
    """A product version: a queue named after the project (a second queue from v2 on),
    the parameters SageMaker passes, and an `Env` parameter with allowed values."""
    extra = "  Second:\n    Type: AWS::SQS::Queue\n" if version >= 2 else ""
    if fail:
        # A portfolio without its required ProviderName: the stack fails.
        extra += "  Broken:\n    Type: AWS::ServiceCatalog::Portfolio\n    Properties:\n      DisplayName: x\n"
    return f"""Parameters:
  SageMakerProjectName: {{Type: String, Default: none}}
  SageMakerProjectId: {{Type: String, Default: none}}
  Env:
    Type: String
    Default: dev
    AllowedValues: [dev, prod]
Resources:
  Queue:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: !Sub "${{SageMakerProjectName}}-${{Env}}-q"
{extra}Outputs:
  Version: {{Value: "v{version}"}}
"""


def upload(s3, server, key, body, bucket="sc-templates"):
    try:
        s3.create_bucket(Bucket=bucket)
    except ClientError as e:
        if code_of(e) not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
            raise
    s3.put_object(Bucket=bucket, Key=key, Body=body.encode())
    return f"{server.url}/{bucket}/{key}"


def code_of(e):
    return e.response["Error"]["Code"]


def wait_record(sc, record_id, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = sc.describe_record(Id=record_id)
        if r["RecordDetail"]["Status"] not in ("CREATED", "IN_PROGRESS", "IN_PROGRESS_IN_ERROR"):
            return r
        time.sleep(0.05)
    raise AssertionError(f"record {record_id} did not settle")


def make_product(sc, s3, server, name="queues", versions=(1,)):
    port = sc.create_portfolio(DisplayName=f"{name}-portfolio", ProviderName="platform")["PortfolioDetail"]
    url = upload(s3, server, f"{name}/v{versions[0]}.yaml", template(versions[0]))
    prod = sc.create_product(
        Name=name, Owner="platform", ProductType="CLOUD_FORMATION_TEMPLATE",
        ProvisioningArtifactParameters={"Name": f"v{versions[0]}", "Info": {"LoadTemplateFromURL": url},
                                        "Type": "CLOUD_FORMATION_TEMPLATE"},
        Tags=[{"Key": "team", "Value": "ml"}],
    )
    prod_id = prod["ProductViewDetail"]["ProductViewSummary"]["ProductId"]
    artifacts = [prod["ProvisioningArtifactDetail"]["Id"]]
    for v in versions[1:]:
        url = upload(s3, server, f"{name}/v{v}.yaml", template(v))
        a = sc.create_provisioning_artifact(
            ProductId=prod_id,
            Parameters={"Name": f"v{v}", "Info": {"LoadTemplateFromURL": url}, "Type": "CLOUD_FORMATION_TEMPLATE"},
        )
        artifacts.append(a["ProvisioningArtifactDetail"]["Id"])
    sc.associate_product_with_portfolio(ProductId=prod_id, PortfolioId=port["Id"])
    return port["Id"], prod_id, artifacts


# ---- without templates --------------------------------------------------------------


def test_portfolios(sc):
    p = sc.create_portfolio(DisplayName="ml", ProviderName="platform", Description="d",
                            Tags=[{"Key": "k", "Value": "v"}])
    d = p["PortfolioDetail"]
    assert d["Id"].startswith("port-") and len(d["Id"]) == 18
    assert d["ARN"] == f"arn:aws:catalog:{REGION}:{ACCOUNT}:portfolio/{d['Id']}"
    assert p["Tags"] == [{"Key": "k", "Value": "v"}]
    got = sc.describe_portfolio(Id=d["Id"])
    assert got["PortfolioDetail"]["DisplayName"] == "ml"
    assert got["PortfolioDetail"]["CreatedTime"] == d["CreatedTime"]
    for i in range(3):
        sc.create_portfolio(DisplayName=f"p{i}", ProviderName="x")
    pages = sc.get_paginator("list_portfolios").paginate(PageSize=2)
    names = [x["DisplayName"] for page in pages for x in page["PortfolioDetails"]]
    assert names == ["ml", "p0", "p1", "p2"]
    sc.delete_portfolio(Id=d["Id"])
    with pytest.raises(ClientError) as e:
        sc.describe_portfolio(Id=d["Id"])
    assert code(e) == "ResourceNotFoundException"


def test_validation_errors(sc_raw):
    with pytest.raises(ClientError) as e:
        sc_raw.create_portfolio(DisplayName="", ProviderName="p", IdempotencyToken="t")
    assert code(e) == "ValidationException"
    with pytest.raises(ClientError) as e:
        sc_raw.describe_product_as_admin(Id="prod-doesnotexist1")
    assert code(e) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as e:
        sc_raw.create_product(Name="n", Owner="o", ProductType="CLOUD_FORMATION_TEMPLATE",
                              IdempotencyToken="t")
    assert code(e) == "InvalidParametersException"
    with pytest.raises(ClientError) as e:
        sc_raw.create_product(Name="n", Owner="o", ProductType="CLOUD_FORMATION_TEMPLATE", IdempotencyToken="t",
                              ProvisioningArtifactParameters={"Info": {"ImportFromPhysicalId": "x"}})
    assert code(e) == "InvalidParametersException"
    with pytest.raises(ClientError) as e:
        sc_raw.describe_record(Id="rec-doesnotexist12")
    assert code(e) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as e:
        sc_raw.list_portfolios(PageToken="nonsense")
    assert code(e) == "InvalidParametersException"


def test_sagemaker_portfolio_status(sm, aws):
    assert sm.get_sagemaker_servicecatalog_portfolio_status()["Status"] == "Disabled"
    sm.enable_sagemaker_servicecatalog_portfolio()
    assert sm.get_sagemaker_servicecatalog_portfolio_status()["Status"] == "Enabled"
    rc, out, err = aws("get-sagemaker-servicecatalog-portfolio-status")
    assert rc == 0, err
    assert out["Status"] == "Enabled"
    rc, _, err = aws("disable-sagemaker-servicecatalog-portfolio")
    assert rc == 0, err
    assert sm.get_sagemaker_servicecatalog_portfolio_status()["Status"] == "Disabled"


def test_cli_portfolio(aws):
    rc, out, err = aws("create-portfolio", "--display-name", "cli", "--provider-name", "me",
                       service="servicecatalog")
    assert rc == 0, err
    pid = out["PortfolioDetail"]["Id"]
    rc, out, err = aws("describe-portfolio", "--id", pid, service="servicecatalog")
    assert rc == 0, err
    assert out["PortfolioDetail"]["DisplayName"] == "cli"
    rc, _, err = aws("describe-portfolio", "--id", "port-nothere123456", service="servicecatalog")
    assert rc != 0 and "ResourceNotFoundException" in err
