"""Terraform (hashicorp/aws 5.100.0) against the IAM API (issue #22): `aws_iam_role`
(trust policy, description, tags, session length), `aws_iam_role_policy` and
`aws_iam_role_policy_attachment` applied to a fresh server, planned again (no changes),
changed in place and by replacement, and destroyed.

Each step is checked through boto3, not only by Terraform's exit status: Terraform
trusts what the server reads back, so a server that forgot a write would pass a
Terraform-only test. One working directory serves the module (`terraform init` is the
slow part).
"""
import pytest
from botocore.exceptions import ClientError

import terraform_kit
from conftest import client

ROLE = "tf-iam-role"

CONFIG = """
variable "description" { type = string }
variable "team" { type = string }
variable "extra_tags" { type = map(string) }
variable "actions" { type = list(string) }
variable "service" { type = string }
variable "session" { type = number }
variable "managed" { type = string }

resource "aws_iam_role" "role" {
  name                 = "%(role)s"
  path                 = "/tf/"
  description          = var.description
  max_session_duration = var.session
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = var.service }
      Action    = "sts:AssumeRole"
    }]
  })
  tags = merge({ team = var.team }, var.extra_tags)
}

resource "aws_iam_role_policy" "inline" {
  name = "artifacts"
  role = aws_iam_role.role.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = var.actions, Resource = "arn:aws:s3:::artifacts/*" }]
  })
}

resource "aws_iam_role_policy_attachment" "managed" {
  role       = aws_iam_role.role.name
  policy_arn = var.managed
}

output "arn" { value = aws_iam_role.role.arn }
output "unique_id" { value = aws_iam_role.role.unique_id }
""" % {"role": ROLE}

FIRST = {
    "description": "first",
    "team": "ml",
    "extra_tags": '{ stage = "dev" }',
    "actions": '["s3:GetObject"]',
    "service": "sagemaker.amazonaws.com",
    "session": "3600",
    "managed": "arn:aws:iam::aws:policy/AmazonSageMakerFullAccess",
}

# Every mutable attribute changed: description, a tag changed and one removed, the
# inline policy, the trust policy, the session length; the attachment is replaced.
SECOND = {
    "description": "second",
    "team": "ops",
    "extra_tags": "{}",
    "actions": '["s3:GetObject", "s3:PutObject"]',
    "service": "lambda.amazonaws.com",
    "session": "7200",
    "managed": "arn:aws:iam::aws:policy/ReadOnlyAccess",
}


@pytest.fixture(scope="module")
def tf(tmp_path_factory):
    """The working directory and its fresh server, after `terraform init`."""
    with terraform_kit.fresh(tmp_path_factory, "tf-iam", {"main.tf": CONFIG}) as pair:
        yield pair


def role_state(iam):
    """What the server holds for the role, as boto3 reads it."""
    role = iam.get_role(RoleName=ROLE)["Role"]
    names = iam.list_role_policies(RoleName=ROLE)["PolicyNames"]
    return {
        "role": role,
        "tags": {t["Key"]: t["Value"] for t in role.get("Tags", [])},
        "inline": {n: iam.get_role_policy(RoleName=ROLE, PolicyName=n)["PolicyDocument"]
                   for n in names},
        "attached": [p["PolicyArn"]
                     for p in iam.list_attached_role_policies(RoleName=ROLE)["AttachedPolicies"]],
    }


def test_apply_plan_update_destroy(tf):
    work, server = tf
    iam = client("iam", server.url)

    work.apply(var=FIRST)
    s = role_state(iam)
    role = s["role"]
    assert role["Arn"] == f"arn:aws:iam::000000000000:role/tf/{ROLE}"
    assert work.outputs() == {"arn": role["Arn"], "unique_id": role["RoleId"]}
    assert (role["Path"], role["Description"], role["MaxSessionDuration"]) == (
        "/tf/", "first", 3600)
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "sagemaker.amazonaws.com"}
    assert s["tags"] == {"team": "ml", "stage": "dev"}
    assert s["inline"]["artifacts"]["Statement"][0]["Action"] == ["s3:GetObject"]
    assert s["attached"] == ["arn:aws:iam::aws:policy/AmazonSageMakerFullAccess"]

    s_first_id = role["RoleId"]
    # What the server reads back is what was applied: nothing to change.
    work.plan_no_changes(var=FIRST)

    work.apply(var=SECOND)
    s = role_state(iam)
    role = s["role"]
    assert role["RoleId"] == s_first_id, "changed in place, not replaced"
    assert (role["Description"], role["MaxSessionDuration"]) == ("second", 7200)
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "lambda.amazonaws.com"}
    assert s["tags"] == {"team": "ops"}
    assert s["inline"]["artifacts"]["Statement"][0]["Action"] == ["s3:GetObject", "s3:PutObject"]
    assert s["attached"] == ["arn:aws:iam::aws:policy/ReadOnlyAccess"]
    work.plan_no_changes(var=SECOND)

    work.destroy(var=SECOND)
    with pytest.raises(ClientError) as e:
        iam.get_role(RoleName=ROLE)
    assert e.value.response["Error"]["Code"] == "NoSuchEntity"
    assert iam.list_roles()["Roles"] == []
