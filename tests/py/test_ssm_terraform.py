"""aws_ssm_parameter through Terraform (hashicorp/aws 5.100.0, issue #22): apply, a plan
with no changes, updates of the value, description and tags, destroy, checked through
boto3 at every step. The requests the provider sends (PutParameter with an empty
AllowedPattern, DescribeParameters with a Name filter, the tag operations) and their
errors are tested through boto3 in test_ssm.py."""
import pytest
from botocore.exceptions import ClientError

import terraform_kit
from conftest import REGION, code, message

ACCOUNT = "000000000000"


def error(call, **kw):
    with pytest.raises(ClientError) as e:
        call(**kw)
    return code(e), message(e)


# ---- Terraform ---------------------------------------------------------------------

CONFIG = """
variable "value" {
  type    = string
  default = "one"
}
variable "tags" {
  type    = map(string)
  default = { env = "dev", team = "ml" }
}
resource "aws_ssm_parameter" "db" {
  name        = "/tf/app/db"
  type        = "String"
  value       = "db-${var.value}"
  description = "the database (${var.value})"
  tags        = var.tags
}
resource "aws_ssm_parameter" "secret" {
  name  = "tf-secret"
  type  = "SecureString"
  value = "hush-${var.value}"
}
resource "aws_ssm_parameter" "list" {
  name            = "/tf/app/list"
  type            = "StringList"
  value           = "a,b,${var.value}"
  allowed_pattern = "^[a-z,]+$"
}
"""


def tags_of(ssm, name):
    return {t["Key"]: t["Value"]
            for t in ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId=name)["TagList"]}


def test_terraform_ssm_parameters(server, ssm, tmp_path):
    tf = terraform_kit.Terraform(tmp_path / "tf", server.url)
    tf.write("main.tf", CONFIG)
    tf.init()
    tf.apply()
    db = ssm.get_parameter(Name="/tf/app/db")["Parameter"]
    assert (db["Value"], db["Version"], db["Type"]) == ("db-one", 1, "String")
    assert tags_of(ssm, "/tf/app/db") == {"env": "dev", "team": "ml"}
    assert ssm.get_parameter(Name="tf-secret", WithDecryption=True)["Parameter"]["Value"] == "hush-one"
    metas = {m["Name"]: m for m in ssm.describe_parameters()["Parameters"]}
    assert metas["/tf/app/db"]["Description"] == "the database (one)"
    assert metas["/tf/app/list"]["AllowedPattern"] == "^[a-z,]+$"
    assert "AllowedPattern" not in metas["/tf/app/db"]
    state = tf.state()
    assert state["aws_ssm_parameter.db"]["arn"] == f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/tf/app/db"
    assert state["aws_ssm_parameter.secret"]["key_id"] == "alias/aws/ssm"
    tf.plan_no_changes()

    # An update of the value, the description and the tags (one changed, one removed, one added).
    update = {"value": "two", "tags": '{ env = "prod", owner = "me" }'}
    tf.apply(var=update)
    db = ssm.get_parameter(Name="/tf/app/db")["Parameter"]
    assert (db["Value"], db["Version"]) == ("db-two", 2)
    assert tags_of(ssm, "/tf/app/db") == {"env": "prod", "owner": "me"}
    [meta] = ssm.describe_parameters(
        ParameterFilters=[{"Key": "Name", "Values": ["/tf/app/db"]}])["Parameters"]
    assert (meta["Description"], meta["Version"]) == ("the database (two)", 2)
    assert ssm.get_parameter(Name="tf-secret", WithDecryption=True)["Parameter"]["Value"] == "hush-two"
    tf.plan_no_changes(var=update)

    # A tag change alone makes no version.
    tags_only = {"value": "two", "tags": '{ env = "prod" }'}
    tf.apply(var=tags_only)
    assert tags_of(ssm, "/tf/app/db") == {"env": "prod"}
    assert ssm.get_parameter(Name="/tf/app/db")["Parameter"]["Version"] == 2
    tf.plan_no_changes(var=tags_only)

    tf.destroy(var=tags_only)
    assert ssm.describe_parameters()["Parameters"] == []
    assert error(ssm.get_parameter, Name="/tf/app/db")[0] == "ParameterNotFound"
