"""Service Catalog end to end: boto3 and the AWS CLI against the real binary.

Products read their templates from `LoadTemplateFromURL`, so the tests that create
products first upload templates with boto3's S3 client to the same endpoint."""
import json
import time

import pytest
from botocore.exceptions import ClientError

from conftest import REGION, code, code_of, failure_code, fixture, message, put_template, settled_stack

ACCOUNT = "000000000000"


def template(version, fail=False):
    """A product version (tests/fixtures/sc-product.yaml): a queue named after the
    project and an SSM parameter naming it (a second queue from v2 on), the parameters
    SageMaker passes, and an `Env` parameter with allowed values."""
    extra = "  Second:\n    Type: AWS::SQS::Queue\n" if version >= 2 else ""
    if fail:
        # A portfolio without its required ProviderName: the stack fails.
        extra += "  Broken:\n    Type: AWS::ServiceCatalog::Portfolio\n    Properties:\n      DisplayName: x\n"
    body = fixture("sc-product.yaml").replace("{version}", str(version))
    return body.replace("{extra}\n", extra)


def upload(s3, server, key, body, bucket="sc-templates"):
    put_template(s3, bucket, key, body)
    return f"{server.url}/{bucket}/{key}"


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
    assert failure_code(sc.describe_portfolio, Id=d["Id"]) == "ResourceNotFoundException"


def test_validation_errors(sc_raw):
    assert failure_code(
        sc_raw.create_portfolio, DisplayName="", ProviderName="p", IdempotencyToken="t",
    ) == "ValidationException"
    assert failure_code(
        sc_raw.describe_product_as_admin, Id="prod-doesnotexist1",
    ) == "ResourceNotFoundException"
    assert failure_code(
        sc_raw.create_product, Name="n", Owner="o", ProductType="CLOUD_FORMATION_TEMPLATE",
        IdempotencyToken="t",
    ) == "InvalidParametersException"
    assert failure_code(
        sc_raw.create_product, Name="n", Owner="o", ProductType="CLOUD_FORMATION_TEMPLATE", IdempotencyToken="t",
        ProvisioningArtifactParameters={"Info": {"ImportFromPhysicalId": "x"}},
    ) == "InvalidParametersException"
    assert failure_code(
        sc_raw.describe_record, Id="rec-doesnotexist12",
    ) == "ResourceNotFoundException"
    assert failure_code(
        sc_raw.list_portfolios, PageToken="nonsense",
    ) == "InvalidParametersException"


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


# ---- products (templates uploaded to the embedded S3 endpoint) ----------------------


def test_products_artifacts_and_launch_paths(sc, s3, server):
    port_id, prod_id, (pa1, pa2) = make_product(sc, s3, server, versions=(1, 2))
    assert prod_id.startswith("prod-") and pa1.startswith("pa-")
    admin = sc.describe_product_as_admin(Id=prod_id)
    assert admin["ProductViewDetail"]["ProductARN"] == f"arn:aws:catalog:{REGION}:{ACCOUNT}:product/{prod_id}"
    assert [a["Id"] for a in admin["ProvisioningArtifactSummaries"]] == [pa1, pa2]
    assert admin["Tags"] == [{"Key": "team", "Value": "ml"}]
    d = sc.describe_product(Id=prod_id)
    assert d["LaunchPaths"][0]["Name"] == "queues-portfolio"
    paths = sc.list_launch_paths(ProductId=prod_id)["LaunchPathSummaries"]
    assert len(paths) == 1 and paths[0]["Id"].startswith("lpv3-")
    assert sc.search_products(Filters={"FullTextSearch": ["queue"]})["ProductViewSummaries"][0]["ProductId"] == prod_id
    assert sc.search_products_as_admin(PortfolioId=port_id)["ProductViewDetails"][0]["ProductViewSummary"]["Name"] == "queues"
    upd = sc.update_provisioning_artifact(ProductId=prod_id, ProvisioningArtifactId=pa1, Active=False,
                                          Guidance="DEPRECATED")
    assert upd["ProvisioningArtifactDetail"]["Active"] is False
    assert upd["ProvisioningArtifactDetail"]["Guidance"] == "DEPRECATED"
    arts = sc.list_provisioning_artifacts(ProductId=prod_id)["ProvisioningArtifactDetails"]
    assert [a["Active"] for a in arts] == [False, True]
    desc = sc.describe_provisioning_artifact(ProductId=prod_id, ProvisioningArtifactId=pa2,
                                             IncludeProvisioningArtifactParameters=True)
    assert [p["ParameterKey"] for p in desc["ProvisioningArtifactParameters"]] == \
        ["SageMakerProjectName", "SageMakerProjectId", "Env"]
    u = sc.update_product(Id=prod_id, Description="queues", AddTags=[{"Key": "tier", "Value": "1"}],
                          RemoveTags=["team"])
    assert u["Tags"] == [{"Key": "tier", "Value": "1"}]
    assert failure_code(sc.delete_product, Id=prod_id) == "ResourceInUseException"
    sc.delete_provisioning_artifact(ProductId=prod_id, ProvisioningArtifactId=pa1)
    sc.disassociate_product_from_portfolio(ProductId=prod_id, PortfolioId=port_id)
    sc.delete_product(Id=prod_id)
    sc.delete_portfolio(Id=port_id)


def test_template_errors_at_artifact_creation(sc, s3, server):
    _, prod_id, _ = make_product(sc, s3, server)
    bad = upload(s3, server, "bad.yaml", "Resources:\n  Q:\n    Properties: {}\n")
    with pytest.raises(ClientError) as e:
        sc.create_provisioning_artifact(ProductId=prod_id, Parameters={"Name": "v9", "Info": {"LoadTemplateFromURL": bad}})
    assert code(e) == "InvalidParametersException"
    assert message(e).startswith("Invalid templateBody."), message(e)
    missing = f"{server.url}/sc-templates/nothing-here.yaml"
    assert failure_code(
        sc.create_provisioning_artifact, ProductId=prod_id, Parameters={"Name": "v9", "Info": {"LoadTemplateFromURL": missing}},
    ) == "InvalidParametersException"
    assert failure_code(
        sc.create_provisioning_artifact, ProductId=prod_id, Parameters={"Name": "v9", "Info": {"LoadTemplateFromURL": "https://example.com/t.yaml"}},
    ) == "InvalidParametersException"


def test_provision_update_terminate(sc, s3, server, cfn):
    _, prod_id, (pa1, pa2) = make_product(sc, s3, server, versions=(1, 2))
    r = sc.provision_product(ProductId=prod_id, ProvisioningArtifactId=pa1, ProvisionedProductName="web",
                             ProvisioningParameters=[{"Key": "Env", "Value": "prod"}])["RecordDetail"]
    assert r["RecordId"].startswith("rec-") and r["RecordType"] == "PROVISION_PRODUCT"
    done = wait_record(sc, r["RecordId"])
    assert done["RecordDetail"]["Status"] == "SUCCEEDED", done
    pp_id = r["ProvisionedProductId"]
    stack = cfn.describe_stacks(StackName=f"SC-{ACCOUNT}-{pp_id}")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert {o["OutputKey"]: o["OutputValue"] for o in done["RecordOutputs"]}["Version"] == "v1"
    assert failure_code(
        sc.provision_product, ProductId=prod_id, ProvisioningArtifactId=pa1, ProvisionedProductName="web",
    ) == "DuplicateResourceException"
    r = sc.update_provisioned_product(ProvisionedProductName="web", ProvisioningArtifactId=pa2)["RecordDetail"]
    assert wait_record(sc, r["RecordId"])["RecordDetail"]["Status"] == "SUCCEEDED"
    pp = sc.describe_provisioned_product(Id=pp_id)["ProvisionedProductDetail"]
    assert pp["Status"] == "AVAILABLE" and pp["ProvisioningArtifactId"] == pa2
    found = sc.search_provisioned_products(Filters={"SearchQuery": ["name:web"]})
    assert found["TotalResultsCount"] == 1 and found["ProvisionedProducts"][0]["ProvisioningArtifactName"] == "v2"
    assert len(sc.scan_provisioned_products()["ProvisionedProducts"]) == 1
    r = sc.terminate_provisioned_product(ProvisionedProductId=pp_id)["RecordDetail"]
    assert wait_record(sc, r["RecordId"])["RecordDetail"]["Status"] == "SUCCEEDED"
    assert failure_code(sc.describe_provisioned_product, Id=pp_id) == "ResourceNotFoundException"


PUBLISHING = """
Parameters:
  V1Url: {Type: String}
Resources:
  Portfolio:
    Type: AWS::ServiceCatalog::Portfolio
    Properties: {DisplayName: published, ProviderName: platform}
  Product:
    Type: AWS::ServiceCatalog::CloudFormationProduct
    Properties:
      Name: published-product
      Owner: platform
      ProvisioningArtifactParameters:
        - Name: v1
          Info: {LoadTemplateFromURL: !Ref V1Url}
  Association:
    Type: AWS::ServiceCatalog::PortfolioProductAssociation
    Properties: {PortfolioId: !Ref Portfolio, ProductId: !Ref Product}
Outputs:
  ProductId: {Value: !Ref Product}
  ArtifactIds: {Value: !GetAtt Product.ProvisioningArtifactIds}
"""


def wait_project(sm, name, states, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        p = sm.describe_project(ProjectName=name)
        if p["ProjectStatus"] in states:
            return p
        time.sleep(0.05)
    raise AssertionError(f"project {name} stuck in {p['ProjectStatus']}: {p}")


def project_lifecycle(sm, sc, cfn, s3, server, prod_id, name):
    """Create from the product (latest active artifact), update to v2, delete."""
    sm.create_project(ProjectName=name, ServiceCatalogProvisioningDetails={
        "ProductId": prod_id, "ProvisioningParameters": [{"Key": "Env", "Value": "prod"}]})
    p = wait_project(sm, name, ("CreateCompleted", "CreateFailed"))
    assert p["ProjectStatus"] == "CreateCompleted", p
    details = p["ServiceCatalogProvisionedProductDetails"]
    assert details["ProvisionedProductStatusMessage"] == "AVAILABLE"
    pp_id = details["ProvisionedProductId"]
    stack = cfn.describe_stacks(StackName=f"SC-{ACCOUNT}-{pp_id}")["Stacks"][0]
    params = {x["ParameterKey"]: x["ParameterValue"] for x in stack["Parameters"]}
    assert params["SageMakerProjectName"] == name
    assert params["SageMakerProjectId"] == p["ProjectId"]
    assert params["Env"] == "prod"
    # A new version, published through the API, and the project moved to it.
    url = upload(s3, server, f"{name}/v2.yaml", template(2))
    pa2 = sc.create_provisioning_artifact(ProductId=prod_id, Parameters={
        "Name": "v2", "Info": {"LoadTemplateFromURL": url}})["ProvisioningArtifactDetail"]["Id"]
    sm.update_project(ProjectName=name, ServiceCatalogProvisioningUpdateDetails={
        "ProvisioningArtifactId": pa2, "ProvisioningParameters": [{"Key": "Env", "Value": "dev"}]})
    p = wait_project(sm, name, ("UpdateCompleted", "UpdateFailed"))
    assert p["ProjectStatus"] == "UpdateCompleted", p
    stack = cfn.describe_stacks(StackName=f"SC-{ACCOUNT}-{pp_id}")["Stacks"][0]
    assert {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}["Version"] == "v2"
    assert sc.describe_provisioned_product(Id=pp_id)["ProvisionedProductDetail"]["ProvisioningArtifactId"] == pa2
    sm.delete_project(ProjectName=name)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if sm.describe_project(ProjectName=name)["ProjectStatus"] == "DeleteCompleted":
                break
        except ClientError as e:
            if code_of(e) == "ValidationException":
                break
            raise
        time.sleep(0.05)
    assert failure_code(sc.describe_provisioned_product, Id=pp_id) == "ResourceNotFoundException"
    with pytest.raises(ClientError):
        cfn.describe_stacks(StackName=f"SC-{ACCOUNT}-{pp_id}")


def test_project_from_a_product_created_through_the_api(sm, sc, cfn, s3, server):
    _, prod_id, _ = make_product(sc, s3, server)
    project_lifecycle(sm, sc, cfn, s3, server, prod_id, "apiproject")


def test_project_from_a_product_published_by_a_stack(sm, sc, cfn, s3, server):
    url = upload(s3, server, "published/v1.yaml", template(1))
    cfn.create_stack(StackName="publisher", TemplateBody=PUBLISHING,
                     Parameters=[{"ParameterKey": "V1Url", "ParameterValue": url}])
    stack = settled_stack(cfn, "publisher", timeout=60)
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    prod_id = outputs["ProductId"]
    assert sc.describe_product(Id=prod_id)["ProductViewSummary"]["Name"] == "published-product"
    project_lifecycle(sm, sc, cfn, s3, server, prod_id, "stackproject")
    # The artifact the project added through the API blocks nothing: the stack deletes
    # its own resources (association, product, portfolio).
    cfn.delete_stack(StackName="publisher")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            s = cfn.describe_stacks(StackName="publisher")["Stacks"][0]
        except ClientError:
            break
        if s["StackStatus"] in ("DELETE_COMPLETE", "DELETE_FAILED"):
            assert s["StackStatus"] == "DELETE_COMPLETE", s
            break
        time.sleep(0.05)
    assert failure_code(sc.describe_product_as_admin, Id=prod_id) == "ResourceNotFoundException"


def failed_message(sm, name, details):
    sm.create_project(ProjectName=name, ServiceCatalogProvisioningDetails=details)
    p = wait_project(sm, name, ("CreateCompleted", "CreateFailed"))
    assert p["ProjectStatus"] == "CreateFailed", p
    return p["ServiceCatalogProvisionedProductDetails"]["ProvisionedProductStatusMessage"]


def test_project_error_paths(sm, sc, cfn, s3, server):
    port_id, prod_id, (pa1, pa2) = make_product(sc, s3, server, versions=(1, 2))
    msg = failed_message(sm, "unknownproduct", {"ProductId": "prod-doesnotexist1"})
    assert msg == "Product prod-doesnotexist1 not found."
    sc.update_provisioning_artifact(ProductId=prod_id, ProvisioningArtifactId=pa1, Active=False)
    msg = failed_message(sm, "inactive", {"ProductId": prod_id, "ProvisioningArtifactId": pa1})
    assert "not active" in msg, msg
    msg = failed_message(sm, "badparam", {"ProductId": prod_id, "ProvisioningParameters": [{"Key": "Env", "Value": "staging"}]})
    assert "Env" in msg, msg
    msg = failed_message(sm, "unknownparam", {"ProductId": prod_id, "ProvisioningParameters": [{"Key": "Nope", "Value": "x"}]})
    assert "Nope" in msg, msg
    # A stack that fails: ERROR with the failing resource's reason.
    url = upload(s3, server, "broken.yaml", template(1, fail=True))
    broken = sc.create_provisioning_artifact(ProductId=prod_id, Parameters={
        "Name": "broken", "Info": {"LoadTemplateFromURL": url}})["ProvisioningArtifactDetail"]["Id"]
    msg = failed_message(sm, "stackfails", {"ProductId": prod_id, "ProvisioningArtifactId": broken})
    assert msg.startswith("ERROR: ") and "ProviderName" in msg, msg
    # An update that fails rolls back: UpdateFailed, TAINTED, the stack at the old version.
    sm.create_project(ProjectName="taints", ServiceCatalogProvisioningDetails={"ProductId": prod_id, "ProvisioningArtifactId": pa2})
    p = wait_project(sm, "taints", ("CreateCompleted", "CreateFailed"))
    assert p["ProjectStatus"] == "CreateCompleted", p
    pp_id = p["ServiceCatalogProvisionedProductDetails"]["ProvisionedProductId"]
    sm.update_project(ProjectName="taints", ServiceCatalogProvisioningUpdateDetails={"ProvisioningArtifactId": broken})
    p = wait_project(sm, "taints", ("UpdateCompleted", "UpdateFailed"))
    assert p["ProjectStatus"] == "UpdateFailed", p
    msg = p["ServiceCatalogProvisionedProductDetails"]["ProvisionedProductStatusMessage"]
    assert msg.startswith("TAINTED: ") and "ProviderName" in msg, msg
    stack = cfn.describe_stacks(StackName=f"SC-{ACCOUNT}-{pp_id}")["Stacks"][0]
    assert stack["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    assert sc.describe_provisioned_product(Id=pp_id)["ProvisionedProductDetail"]["ProvisioningArtifactId"] == pa2
    # Several launch paths and none chosen.
    other = sc.create_portfolio(DisplayName="other", ProviderName="p")["PortfolioDetail"]["Id"]
    sc.associate_product_with_portfolio(ProductId=prod_id, PortfolioId=other)
    msg = failed_message(sm, "twopaths", {"ProductId": prod_id})
    assert "launch paths" in msg, msg


def test_a_stack_level_failure_keeps_its_reason(sc, s3, server):
    # No resource fails: the stack does, on an import nobody exports (issue #23, item 3).
    body = "Resources:\n  P:\n    Type: AWS::SSM::Parameter\n    Properties:\n" \
           "      Type: String\n      Value: !ImportValue nobody-exports-this\n"
    url = upload(s3, server, "imports/v1.yaml", body)
    port = sc.create_portfolio(DisplayName="imports", ProviderName="platform")["PortfolioDetail"]
    prod = sc.create_product(
        Name="imports", Owner="platform", ProductType="CLOUD_FORMATION_TEMPLATE",
        ProvisioningArtifactParameters={"Name": "v1", "Info": {"LoadTemplateFromURL": url},
                                        "Type": "CLOUD_FORMATION_TEMPLATE"})
    prod_id = prod["ProductViewDetail"]["ProductViewSummary"]["ProductId"]
    sc.associate_product_with_portfolio(ProductId=prod_id, PortfolioId=port["Id"])
    r = sc.provision_product(ProductId=prod_id, ProvisioningArtifactId=prod["ProvisioningArtifactDetail"]["Id"],
                             ProvisionedProductName="imports")["RecordDetail"]
    done = wait_record(sc, r["RecordId"])
    assert done["RecordDetail"]["Status"] == "FAILED", done
    errors = " ".join(e["Description"] for e in done["RecordDetail"]["RecordErrors"])
    assert "No export named nobody-exports-this found" in errors, errors


# ---- what Terraform's aws_servicecatalog_* resources call (issue #22) ---------------

QUEUE = "Resources:\n  Queue:\n    Type: AWS::SQS::Queue\n"


def error(call, **kw):
    with pytest.raises(ClientError) as e:
        call(**kw)
    return code(e), message(e)


def new_portfolio(sc, name="ml", **kw):
    return sc.create_portfolio(DisplayName=name, ProviderName="platform", **kw)["PortfolioDetail"]["Id"]


def new_product(sc, s3, server, name="queues"):
    url = upload(s3, server, f"{name}.yaml", QUEUE)
    out = sc.create_product(Name=name, Owner="platform", ProductType="CLOUD_FORMATION_TEMPLATE",
                            ProvisioningArtifactParameters={
                                "Name": "v1", "Info": {"LoadTemplateFromURL": url},
                                "Type": "CLOUD_FORMATION_TEMPLATE"})
    return out["ProductViewDetail"]["ProductViewSummary"]["ProductId"], url


def test_update_portfolio(sc, sc_raw):
    pid = new_portfolio(sc, Description="d1", Tags=[{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}])
    # As the provider sends it: the changed fields, AddTags with new and changed values,
    # RemoveTags with the removed keys.
    out = sc.update_portfolio(Id=pid, AcceptLanguage="en", Description="d2", DisplayName="ml2",
                              ProviderName="infra", AddTags=[{"Key": "b", "Value": "3"}, {"Key": "c", "Value": "4"}],
                              RemoveTags=["a"])
    assert out["PortfolioDetail"]["DisplayName"] == "ml2"
    assert out["PortfolioDetail"]["ProviderName"] == "infra"
    assert out["Tags"] == [{"Key": "b", "Value": "3"}, {"Key": "c", "Value": "4"}]
    d = sc.describe_portfolio(Id=pid, AcceptLanguage="en")
    assert d["PortfolioDetail"]["Description"] == "d2"
    assert d["Tags"] == out["Tags"]
    assert d["PortfolioDetail"]["ARN"] == f"arn:aws:catalog:{REGION}:{ACCOUNT}:portfolio/{pid}"
    # An update that names nothing changes nothing.
    assert sc.update_portfolio(Id=pid)["PortfolioDetail"] == out["PortfolioDetail"]

    assert error(sc.update_portfolio, Id="port-nope")[0] == "ResourceNotFoundException"
    many = [{"Key": f"k{i}", "Value": "v"} for i in range(19)]
    assert error(sc.update_portfolio, Id=pid, AddTags=many)[0] == "LimitExceededException"
    assert error(sc.update_portfolio, Id=pid, AddTags=[{"Key": "aws:x", "Value": "v"}])[0] == \
        "InvalidParametersException"
    assert error(sc_raw.update_portfolio, Id=pid, DisplayName="")[0] == "ValidationException"
    assert sc.describe_portfolio(Id=pid)["Tags"] == out["Tags"], "a refused update changes nothing"


def test_portfolios_for_product(sc, sc_raw, s3, server):
    prod, _ = new_product(sc, s3, server)
    assert sc.list_portfolios_for_product(ProductId=prod)["PortfolioDetails"] == []
    ports = [new_portfolio(sc, f"p{i}") for i in range(3)]
    for p in ports:
        sc.associate_product_with_portfolio(ProductId=prod, PortfolioId=p)
    listed = sc.list_portfolios_for_product(ProductId=prod, AcceptLanguage="en")["PortfolioDetails"]
    assert [p["Id"] for p in listed] == ports
    assert [p["DisplayName"] for p in listed] == ["p0", "p1", "p2"]
    pages = list(sc.get_paginator("list_portfolios_for_product").paginate(
        ProductId=prod, PaginationConfig={"PageSize": 2}))
    assert [[p["Id"] for p in page["PortfolioDetails"]] for page in pages] == [ports[:2], ports[2:]]
    sc.disassociate_product_from_portfolio(ProductId=prod, PortfolioId=ports[1])
    assert [p["Id"] for p in sc.list_portfolios_for_product(ProductId=prod)["PortfolioDetails"]] == \
        [ports[0], ports[2]]
    assert error(sc.list_portfolios_for_product, ProductId="prod-nope")[0] == "ResourceNotFoundException"
    assert error(sc_raw.list_portfolios_for_product, ProductId=prod, PageSize=101)[0] == "ValidationException"


def test_product_reads_the_provider_makes(sc, s3, server):
    prod, url = new_product(sc, s3, server)
    sc.update_product(Id=prod, Name="renamed", Owner="me", AddTags=[{"Key": "env", "Value": "dev"}])
    d = sc.describe_product_as_admin(Id=prod, AcceptLanguage="en")
    assert d["ProductViewDetail"]["Status"] == "CREATED"  # what the provider's waiter wants
    assert d["ProductViewDetail"]["ProductViewSummary"]["Name"] == "renamed"
    assert d["ProductViewDetail"]["ProductViewSummary"]["Owner"] == "me"
    assert d["Tags"] == [{"Key": "env", "Value": "dev"}]
    sc.update_product(Id=prod, RemoveTags=["env"])
    assert sc.describe_product_as_admin(Id=prod)["Tags"] == []
    pa = d["ProvisioningArtifactSummaries"][0]["Id"]
    a = sc.describe_provisioning_artifact(ProductId=prod, ProvisioningArtifactId=pa)
    assert a["Status"] == "AVAILABLE"
    # The provider reads LoadTemplateFromURL; its import reads AWS's TemplateUrl.
    assert a["Info"] == {"LoadTemplateFromURL": url, "TemplateUrl": url}
    sc.delete_product(Id=prod)
    assert error(sc.describe_product_as_admin, Id=prod)[0] == "ResourceNotFoundException"


# ---- principals --------------------------------------------------------------------


def test_principals(sc, sc_raw):
    pid = new_portfolio(sc)
    role = f"arn:aws:iam::{ACCOUNT}:role/launcher"
    pattern = "arn:aws:iam:::role/team-*"
    for arn, kind in [(role, "IAM"), (pattern, "IAM_PATTERN")]:
        sc.associate_principal_with_portfolio(PortfolioId=pid, PrincipalARN=arn, PrincipalType=kind)
        sc.associate_principal_with_portfolio(PortfolioId=pid, PrincipalARN=arn, PrincipalType=kind)
    assert sc.list_principals_for_portfolio(PortfolioId=pid, AcceptLanguage="en")["Principals"] == [
        {"PrincipalARN": role, "PrincipalType": "IAM"},
        {"PrincipalARN": pattern, "PrincipalType": "IAM_PATTERN"},
    ]
    c, m = error(sc.delete_portfolio, Id=pid)
    assert c == "ResourceInUseException" and "principals" in m
    sc.disassociate_principal_from_portfolio(PortfolioId=pid, PrincipalARN=role, PrincipalType="IAM")
    sc.disassociate_principal_from_portfolio(PortfolioId=pid, PrincipalARN=pattern)
    assert sc.list_principals_for_portfolio(PortfolioId=pid)["Principals"] == []
    assert error(sc.disassociate_principal_from_portfolio, PortfolioId=pid, PrincipalARN=role)[0] == \
        "ResourceNotFoundException"
    for arn, kind in [("role/launcher", "IAM"), (role, "IAM_PATTERN"), ("arn:aws:iam:::role/x*", "IAM"),
                      (f"arn:aws:s3:::{ACCOUNT}", "IAM")]:
        assert error(sc.associate_principal_with_portfolio, PortfolioId=pid, PrincipalARN=arn,
                     PrincipalType=kind)[0] == "InvalidParametersException", arn
    assert error(sc_raw.associate_principal_with_portfolio, PortfolioId=pid, PrincipalARN=role,
                 PrincipalType="USER")[0] == "ValidationException"
    assert error(sc.associate_principal_with_portfolio, PortfolioId="port-nope", PrincipalARN=role,
                 PrincipalType="IAM")[0] == "ResourceNotFoundException"
    assert error(sc.list_principals_for_portfolio, PortfolioId="port-nope")[0] == "ResourceNotFoundException"
    sc.delete_portfolio(Id=pid)


# ---- constraints -------------------------------------------------------------------


def test_constraints(sc, s3, server):
    pid = new_portfolio(sc)
    prod, _ = new_product(sc, s3, server)
    launch = json.dumps({"RoleArn": f"arn:aws:iam::{ACCOUNT}:role/launcher"})
    assert error(sc.create_constraint, PortfolioId=pid, ProductId=prod, Type="LAUNCH", Parameters=launch)[0] == \
        "ResourceNotFoundException", "the product is not in the portfolio yet"
    sc.associate_product_with_portfolio(ProductId=prod, PortfolioId=pid)
    out = sc.create_constraint(PortfolioId=pid, ProductId=prod, Type="LAUNCH", Parameters=launch,
                               Description="launch as", AcceptLanguage="en")
    out.pop("ResponseMetadata")
    cid = out["ConstraintDetail"]["ConstraintId"]
    assert cid.startswith("cons-")
    assert out == {
        "ConstraintDetail": {"ConstraintId": cid, "Type": "LAUNCH", "Description": "launch as",
                             "Owner": ACCOUNT, "ProductId": prod, "PortfolioId": pid},
        "ConstraintParameters": launch,
        "Status": "AVAILABLE",
    }
    described = sc.describe_constraint(Id=cid)
    described.pop("ResponseMetadata")
    assert described == out
    c, _ = error(sc.create_constraint, PortfolioId=pid, ProductId=prod, Type="LAUNCH",
                 Parameters=json.dumps({"LocalRoleName": "other"}))
    assert c == "DuplicateResourceException"
    notify = sc.create_constraint(PortfolioId=pid, ProductId=prod, Type="NOTIFICATION",
                                  Parameters=json.dumps({"NotificationArns": [f"arn:aws:sns:{REGION}:{ACCOUNT}:t"]}))
    listed = sc.list_constraints_for_portfolio(PortfolioId=pid, ProductId=prod)["ConstraintDetails"]
    assert [c["Type"] for c in listed] == ["LAUNCH", "NOTIFICATION"]
    assert sc.list_constraints_for_portfolio(PortfolioId=pid, ProductId="prod-other")["ConstraintDetails"] == []
    pages = list(sc.get_paginator("list_constraints_for_portfolio").paginate(
        PortfolioId=pid, PaginationConfig={"PageSize": 1}))
    assert len(pages) == 2

    local = json.dumps({"LocalRoleName": "launcher"})
    u = sc.update_constraint(Id=cid, Description="local", Parameters=local)
    assert (u["ConstraintParameters"], u["ConstraintDetail"]["Description"]) == (local, "local")
    for kind, params in [("LAUNCH", "{}"), ("LAUNCH", "not json"),
                         ("LAUNCH", json.dumps({"RoleArn": "a", "LocalRoleName": "b"})),
                         ("BOGUS", "{}"), ("TEMPLATE", json.dumps({"Nope": 1}))]:
        assert error(sc.create_constraint, PortfolioId=pid, ProductId=prod, Type=kind,
                     Parameters=params)[0] == "InvalidParametersException", (kind, params)
    assert error(sc.update_constraint, Id=cid, Parameters="{}")[0] == "InvalidParametersException"
    assert error(sc.update_constraint, Id="cons-nope")[0] == "ResourceNotFoundException"

    c, m = error(sc.delete_portfolio, Id=pid)
    assert c == "ResourceInUseException"
    for c_id in (cid, notify["ConstraintDetail"]["ConstraintId"]):
        sc.delete_constraint(Id=c_id)
    assert error(sc.describe_constraint, Id=cid)[0] == "ResourceNotFoundException"
    assert error(sc.delete_constraint, Id=cid)[0] == "ResourceNotFoundException"
    assert error(sc.list_constraints_for_portfolio, PortfolioId="port-nope")[0] == "ResourceNotFoundException"
