"""Service Catalog as Terraform's aws_servicecatalog_* resources use it (issue #22):
UpdatePortfolio, ListPortfoliosForProduct, a portfolio's principals and constraints and
the reads the provider's waiters make, each operation and error through boto3; then
Terraform itself (portfolio, product, product-portfolio association, provisioning
artifact, principal association, LAUNCH constraint, and a provisioned product launched
from it): apply, a plan with no changes, an
update, destroy, checked through boto3 at every step."""
import json

import pytest
from botocore.exceptions import ClientError

import terraform_kit
from conftest import REGION, code, message, put_template

ACCOUNT = "000000000000"
TEMPLATE = "Resources:\n  Queue:\n    Type: AWS::SQS::Queue\n"
TEMPLATE_V2 = TEMPLATE + "  Second:\n    Type: AWS::SQS::Queue\n"


def error(call, **kw):
    with pytest.raises(ClientError) as e:
        call(**kw)
    return code(e), message(e)


def upload(s3, server, key, body):
    put_template(s3, "tf-templates", key, body)
    return f"{server.url}/tf-templates/{key}"


def new_portfolio(sc, name="ml", **kw):
    return sc.create_portfolio(DisplayName=name, ProviderName="platform", **kw)["PortfolioDetail"]["Id"]


def new_product(sc, s3, server, name="queues"):
    url = upload(s3, server, f"{name}.yaml", TEMPLATE)
    out = sc.create_product(Name=name, Owner="platform", ProductType="CLOUD_FORMATION_TEMPLATE",
                            ProvisioningArtifactParameters={
                                "Name": "v1", "Info": {"LoadTemplateFromURL": url},
                                "Type": "CLOUD_FORMATION_TEMPLATE"})
    return out["ProductViewDetail"]["ProductViewSummary"]["ProductId"], url


# ---- portfolios --------------------------------------------------------------------


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


# ---- Terraform ---------------------------------------------------------------------

CONFIG = """
variable "v" {
  type    = string
  default = "one"
}
variable "tags" {
  type    = map(string)
  default = { env = "dev", team = "ml" }
}
variable "artifact" {
  type    = string
  default = "v1"
}
resource "aws_servicecatalog_portfolio" "p" {
  name          = "tf-portfolio"
  description   = "portfolio ${var.v}"
  provider_name = "platform"
  tags          = var.tags
}
resource "aws_servicecatalog_product" "prod" {
  name  = "tf-product-${var.v}"
  owner = "owner-${var.v}"
  type  = "CLOUD_FORMATION_TEMPLATE"
  provisioning_artifact_parameters {
    name         = "v1"
    template_url = "${var.endpoint}/tf-templates/v1.yaml"
    type         = "CLOUD_FORMATION_TEMPLATE"
  }
  tags = var.tags
}
resource "aws_servicecatalog_product_portfolio_association" "a" {
  portfolio_id = aws_servicecatalog_portfolio.p.id
  product_id   = aws_servicecatalog_product.prod.id
}
resource "aws_servicecatalog_provisioning_artifact" "v2" {
  name         = "v2"
  product_id   = aws_servicecatalog_product.prod.id
  type         = "CLOUD_FORMATION_TEMPLATE"
  template_url = "${var.endpoint}/tf-templates/v2.yaml"
  description  = "second ${var.v}"
}
resource "aws_servicecatalog_principal_portfolio_association" "launcher" {
  portfolio_id  = aws_servicecatalog_portfolio.p.id
  principal_arn = "arn:aws:iam::000000000000:role/launcher"
}
resource "aws_servicecatalog_constraint" "launch" {
  description  = "launch ${var.v}"
  portfolio_id = aws_servicecatalog_portfolio.p.id
  product_id   = aws_servicecatalog_product.prod.id
  type         = "LAUNCH"
  parameters   = jsonencode({ RoleArn = "arn:aws:iam::000000000000:role/launcher" })
  depends_on   = [aws_servicecatalog_product_portfolio_association.a]
}
resource "aws_servicecatalog_provisioned_product" "pp" {
  name                       = "tf-launched"
  product_id                 = aws_servicecatalog_product.prod.id
  provisioning_artifact_name = var.artifact
  tags                       = { env = var.v }
  # v2 is named, not referenced: without this its deletion would race the termination
  # (an artifact a provisioned product runs is not deleted).
  depends_on = [aws_servicecatalog_constraint.launch, aws_servicecatalog_provisioning_artifact.v2]
}
"""


def test_terraform_servicecatalog(server, sc, s3, tmp_path):
    upload(s3, server, "v1.yaml", TEMPLATE)
    upload(s3, server, "v2.yaml", TEMPLATE_V2)
    tf = terraform_kit.Terraform(tmp_path / "tf", server.url)
    tf.write("main.tf", CONFIG)
    tf.init()
    tf.apply()

    state = tf.state()
    port = state["aws_servicecatalog_portfolio.p"]["id"]
    prod = state["aws_servicecatalog_product.prod"]["id"]
    d = sc.describe_portfolio(Id=port)
    assert d["PortfolioDetail"]["Description"] == "portfolio one"
    assert {t["Key"]: t["Value"] for t in d["Tags"]} == {"env": "dev", "team": "ml"}
    p = sc.describe_product_as_admin(Id=prod)
    summary = p["ProductViewDetail"]["ProductViewSummary"]
    assert (summary["Name"], summary["Owner"]) == ("tf-product-one", "owner-one")
    assert {t["Key"]: t["Value"] for t in p["Tags"]} == {"env": "dev", "team": "ml"}
    artifacts = {a["Name"]: a for a in sc.list_provisioning_artifacts(ProductId=prod)["ProvisioningArtifactDetails"]}
    assert sorted(artifacts) == ["v1", "v2"]
    assert artifacts["v2"]["Description"] == "second one"
    assert [x["Id"] for x in sc.list_portfolios_for_product(ProductId=prod)["PortfolioDetails"]] == [port]
    assert sc.list_principals_for_portfolio(PortfolioId=port)["Principals"] == [
        {"PrincipalARN": f"arn:aws:iam::{ACCOUNT}:role/launcher", "PrincipalType": "IAM"}]
    [constraint] = sc.list_constraints_for_portfolio(PortfolioId=port)["ConstraintDetails"]
    assert (constraint["Type"], constraint["ProductId"], constraint["Description"]) == (
        "LAUNCH", prod, "launch one")
    assert state["aws_servicecatalog_constraint.launch"]["owner"] == ACCOUNT
    pp = sc.describe_provisioned_product(Id=state["aws_servicecatalog_provisioned_product.pp"]["id"])
    detail = pp["ProvisionedProductDetail"]
    assert (detail["Name"], detail["Status"]) == ("tf-launched", "AVAILABLE")
    assert detail["ProvisioningArtifactId"] == artifacts["v1"]["Id"]
    tf.plan_no_changes()

    # An update: portfolio description and tags, product name, owner and tags, the
    # artifact's and the constraint's descriptions; nothing is replaced.
    update = {"v": "two", "tags": '{ env = "prod", owner = "me" }', "artifact": "v2"}
    tf.apply(var=update)
    state = tf.state()
    assert state["aws_servicecatalog_portfolio.p"]["id"] == port
    assert state["aws_servicecatalog_product.prod"]["id"] == prod
    d = sc.describe_portfolio(Id=port)
    assert d["PortfolioDetail"]["Description"] == "portfolio two"
    assert {t["Key"]: t["Value"] for t in d["Tags"]} == {"env": "prod", "owner": "me"}
    p = sc.describe_product_as_admin(Id=prod)
    summary = p["ProductViewDetail"]["ProductViewSummary"]
    assert (summary["Name"], summary["Owner"]) == ("tf-product-two", "owner-two")
    assert {t["Key"]: t["Value"] for t in p["Tags"]} == {"env": "prod", "owner": "me"}
    artifacts = {a["Name"]: a for a in sc.list_provisioning_artifacts(ProductId=prod)["ProvisioningArtifactDetails"]}
    assert artifacts["v2"]["Description"] == "second two"
    assert sc.describe_constraint(Id=constraint["ConstraintId"])["ConstraintDetail"]["Description"] == "launch two"
    # The launched product moved to v2 (an UpdateProvisionedProduct, a stack update).
    detail = sc.describe_provisioned_product(Id=detail["Id"])["ProvisionedProductDetail"]
    assert (detail["Status"], detail["ProvisioningArtifactId"]) == ("AVAILABLE", artifacts["v2"]["Id"])
    record = sc.describe_record(Id=detail["LastRecordId"])["RecordDetail"]
    assert record["RecordType"] == "UPDATE_PROVISIONED_PRODUCT"
    assert {t["Key"]: t["Value"] for t in record["RecordTags"]}["env"] == "two"
    tf.plan_no_changes(var=update)

    tf.destroy(var=update)
    assert error(sc.describe_provisioned_product, Id=detail["Id"])[0] == "ResourceNotFoundException"
    assert error(sc.describe_portfolio, Id=port)[0] == "ResourceNotFoundException"
    assert error(sc.describe_product_as_admin, Id=prod)[0] == "ResourceNotFoundException"
    assert error(sc.describe_constraint, Id=constraint["ConstraintId"])[0] == "ResourceNotFoundException"
    assert sc.list_portfolios()["PortfolioDetails"] == []
