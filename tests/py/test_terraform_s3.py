"""Terraform's S3 bucket and its sub-resources (issue #22): hashicorp/aws 5.100.0's
aws_s3_bucket (with tags), aws_s3_bucket_versioning, aws_s3_bucket_policy,
aws_s3_bucket_public_access_block, aws_s3_bucket_server_side_encryption_configuration,
aws_s3_bucket_lifecycle_configuration, aws_s3_bucket_ownership_controls, aws_s3_bucket_acl
and aws_s3_object against a fresh server: apply, a plan with no changes, an update of
mutable attributes (versioning suspended, a lifecycle rule's days, the tags, a Block
Public Access flag), destroy (force_destroy emptying an object Terraform did not make); each step checked through boto3 (Terraform trusts what the
server reads back, so Terraform's exit status alone would not catch a forgotten write).

Slow by the provider's design: after writing lifecycle rules, aws_s3_bucket_lifecycle_
configuration polls them until they read back the same ten times in a row, five seconds
apart (about a minute, on AWS too)."""
import json

import pytest
from botocore.exceptions import ClientError

import terraform_kit
from conftest import PATH_STYLE, client

BUCKET = "tf-s3-config"

CONFIG = """
variable "versioning" { default = "Enabled" }
variable "expire_days" { default = 30 }
variable "env" { default = "dev" }
variable "block_public_policy" { default = true }

resource "aws_s3_bucket" "b" {
  bucket        = "%(bucket)s"
  force_destroy = true
  tags          = { env = var.env, team = "ml" }
}

resource "aws_s3_bucket_versioning" "v" {
  bucket = aws_s3_bucket.b.id
  versioning_configuration { status = var.versioning }
}

resource "aws_s3_bucket_public_access_block" "pab" {
  bucket                  = aws_s3_bucket.b.id
  block_public_acls       = true
  block_public_policy     = var.block_public_policy
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_policy" "p" {
  bucket = aws_s3_bucket.b.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "AllowSSLRequestsOnly"
      Effect    = "Deny"
      Principal = "*"
      Action    = "s3:*"
      Resource  = [aws_s3_bucket.b.arn, "${aws_s3_bucket.b.arn}/*"]
      Condition = { Bool = { "aws:SecureTransport" = "false" } }
    }]
  })
}

resource "aws_s3_bucket_server_side_encryption_configuration" "e" {
  bucket = aws_s3_bucket.b.id
  rule {
    apply_server_side_encryption_by_default { sse_algorithm = "aws:kms" }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "l" {
  bucket = aws_s3_bucket.b.id
  rule {
    id     = "logs"
    status = "Enabled"
    filter { prefix = "logs/" }
    expiration { days = var.expire_days }
    transition {
      days          = 30
      storage_class = "STANDARD_IA"
    }
  }
  rule {
    id     = "tmp"
    status = "Disabled"
    filter {
      and {
        prefix = "tmp/"
        tags   = { scratch = "yes" }
      }
    }
    noncurrent_version_expiration { noncurrent_days = 10 }
  }
  rule {
    id     = "uploads"
    status = "Enabled"
    filter {}
    abort_incomplete_multipart_upload { days_after_initiation = 7 }
  }
}

resource "aws_s3_bucket_ownership_controls" "o" {
  bucket = aws_s3_bucket.b.id
  rule { object_ownership = "BucketOwnerPreferred" }
}

resource "aws_s3_bucket_acl" "acl" {
  bucket     = aws_s3_bucket.b.id
  acl        = "private"
  depends_on = [aws_s3_bucket_ownership_controls.o]
}

resource "aws_s3_object" "o" {
  bucket       = aws_s3_bucket.b.id
  key          = "config/hello.txt"
  content      = "hello"
  content_type = "text/plain"
}
""" % {"bucket": BUCKET}


def tags(s3):
    return {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=BUCKET)["TagSet"]}


def lifecycle(s3):
    return {r["ID"]: r for r in s3.get_bucket_lifecycle_configuration(Bucket=BUCKET)["Rules"]}


def test_terraform_s3_bucket_and_sub_resources(server, tmp_path):
    s3 = client("s3", server.url, s3=PATH_STYLE)
    tf = terraform_kit.Terraform(tmp_path / "tf", server.url)
    tf.write("main.tf", CONFIG)
    tf.init()

    tf.apply()
    b = {"Bucket": BUCKET}
    assert tags(s3) == {"env": "dev", "team": "ml"}
    assert s3.get_bucket_versioning(**b)["Status"] == "Enabled"
    assert s3.get_public_access_block(**b)["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True}
    policy = json.loads(s3.get_bucket_policy(**b)["Policy"])
    assert policy["Statement"][0]["Sid"] == "AllowSSLRequestsOnly"
    assert policy["Statement"][0]["Resource"] == [
        f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}/*"]
    assert s3.get_bucket_encryption(**b)["ServerSideEncryptionConfiguration"]["Rules"] == [
        {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"},
         "BucketKeyEnabled": True}]
    rules = lifecycle(s3)
    assert sorted(rules) == ["logs", "tmp", "uploads"]
    assert rules["logs"]["Expiration"] == {"Days": 30}
    assert rules["logs"]["Filter"] == {"Prefix": "logs/"}
    assert rules["logs"]["Transitions"] == [{"Days": 30, "StorageClass": "STANDARD_IA"}]
    assert rules["tmp"]["Status"] == "Disabled"
    assert rules["tmp"]["Filter"]["And"]["Tags"] == [{"Key": "scratch", "Value": "yes"}]
    assert rules["uploads"]["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 7}
    assert s3.get_bucket_ownership_controls(**b)["OwnershipControls"]["Rules"] == [
        {"ObjectOwnership": "BucketOwnerPreferred"}]
    assert [g["Permission"] for g in s3.get_bucket_acl(**b)["Grants"]] == ["FULL_CONTROL"]
    obj = s3.get_object(Bucket=BUCKET, Key="config/hello.txt")
    assert (obj["Body"].read(), obj["ContentType"]) == (b"hello", "text/plain")

    state = tf.state()
    bucket = state["aws_s3_bucket.b"]
    assert bucket["arn"] == f"arn:aws:s3:::{BUCKET}"
    assert bucket["tags"] == {"env": "dev", "team": "ml"}
    assert state["aws_s3_bucket_versioning.v"]["versioning_configuration"][0]["status"] == "Enabled"

    tf.plan_no_changes()

    update = {"versioning": "Suspended", "expire_days": "45", "env": "prod",
              "block_public_policy": "false"}
    tf.apply(var=update)
    assert s3.get_bucket_versioning(**b)["Status"] == "Suspended"
    assert lifecycle(s3)["logs"]["Expiration"] == {"Days": 45}
    assert tags(s3) == {"env": "prod", "team": "ml"}
    assert s3.get_public_access_block(**b)["PublicAccessBlockConfiguration"][
        "BlockPublicPolicy"] is False
    tf.plan_no_changes(var=update)

    # An object Terraform does not manage: force_destroy empties the bucket first
    # (ListObjectVersions, then DeleteObjects of each `null` version).
    s3.put_object(Bucket=BUCKET, Key="unmanaged/data.csv", Body=b"1,2,3")
    tf.destroy(var=update)
    with pytest.raises(ClientError) as e:
        s3.head_bucket(Bucket=BUCKET)
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert [x["Name"] for x in s3.list_buckets()["Buckets"]] == []
