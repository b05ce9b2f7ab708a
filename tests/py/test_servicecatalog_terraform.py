"""Service Catalog through Terraform (hashicorp/aws 5.100.0, issue #22): a portfolio, a
product, their association, a second provisioning artifact, a principal association, a
LAUNCH constraint and a provisioned product launched from them: apply, a plan with no
changes, an update, destroy, checked through boto3 at every step. The operations the
provider calls beyond the launch basics (UpdatePortfolio, ListPortfoliosForProduct,
principals, constraints) and their errors are tested through boto3 in
test_servicecatalog.py."""
import pytest
from botocore.exceptions import ClientError

import terraform_kit
from conftest import code, message, put_template

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
