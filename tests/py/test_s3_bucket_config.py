"""Bucket sub-resources of the embedded S3 endpoint (versioning, policy, Block Public
Access, default encryption, lifecycle, Object Ownership, ACL), driven by boto3 against
the real binary: stored in the bucket, returned as set, refused in S3's codes, kept over
a restart, gone with the bucket; what an unconfigured bucket answers for the
sub-resources that are not kept; and the same configuration written by CloudFormation's
AWS::S3::Bucket and AWS::S3::BucketPolicy (the `cdk bootstrap` staging bucket)."""
import json
import time

import pytest
from botocore.exceptions import ClientError

from conftest import PATH_STYLE, Server, client, settled_stack


@pytest.fixture
def s3(server):
    return client("s3", server.url, s3=PATH_STYLE)


def refusal(call, **kwargs):
    """The (code, HTTP status, message) a call fails with."""
    with pytest.raises(ClientError) as e:
        call(**kwargs)
    r = e.value.response
    return r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"], r["Error"].get("Message")


def code(call, **kwargs):
    """(code, HTTP status) of a refused call."""
    return refusal(call, **kwargs)[:2]


def body(response):
    response.pop("ResponseMetadata", None)
    return response


PUBLIC_READ = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                   "Resource": "arn:aws:s3:::cfg-bucket/*"}],
}
SECURE_TRANSPORT = {
    "Version": "2012-10-17",
    "Statement": [{"Sid": "AllowSSLRequestsOnly", "Effect": "Deny", "Principal": "*",
                   "Action": "s3:*",
                   "Resource": ["arn:aws:s3:::cfg-bucket", "arn:aws:s3:::cfg-bucket/*"],
                   "Condition": {"Bool": {"aws:SecureTransport": "false"}}}],
}


def test_a_new_bucket_answers_as_aws_makes_one(s3):
    s3.create_bucket(Bucket="cfg-bucket")
    b = {"Bucket": "cfg-bucket"}
    assert body(s3.get_bucket_versioning(**b)) == {}
    assert body(s3.get_bucket_encryption(**b)) == {"ServerSideEncryptionConfiguration": {"Rules": [
        {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": False}]}}
    assert body(s3.get_public_access_block(**b)) == {"PublicAccessBlockConfiguration": {
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True}}
    assert body(s3.get_bucket_ownership_controls(**b)) == {
        "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}}
    acl = body(s3.get_bucket_acl(**b))
    assert [g["Permission"] for g in acl["Grants"]] == ["FULL_CONTROL"]
    assert acl["Grants"][0]["Grantee"]["ID"] == acl["Owner"]["ID"]
    assert acl["Grants"][0]["Grantee"]["Type"] == "CanonicalUser"
    # What Terraform's aws_s3_bucket reads on every refresh.
    assert body(s3.get_bucket_accelerate_configuration(**b)) == {}
    assert body(s3.get_bucket_request_payment(**b)) == {"Payer": "BucketOwner"}
    assert body(s3.get_bucket_logging(**b)) == {}
    for call, expected in [
        (s3.get_bucket_policy, ("NoSuchBucketPolicy", 404)),
        (s3.get_bucket_policy_status, ("NoSuchBucketPolicy", 404)),
        (s3.get_bucket_lifecycle_configuration, ("NoSuchLifecycleConfiguration", 404)),
        (s3.get_bucket_cors, ("NoSuchCORSConfiguration", 404)),
        (s3.get_bucket_website, ("NoSuchWebsiteConfiguration", 404)),
        (s3.get_bucket_replication, ("ReplicationConfigurationNotFoundError", 404)),
        (s3.get_object_lock_configuration, ("ObjectLockConfigurationNotFoundError", 404)),
        (s3.get_bucket_tagging, ("NoSuchTagSet", 404)),
    ]:
        assert code(call, **b) == expected, call
    # Deleting what is not there succeeds, as on S3.
    for call in [s3.delete_bucket_cors, s3.delete_bucket_website, s3.delete_bucket_replication,
                 s3.delete_bucket_policy, s3.delete_bucket_lifecycle]:
        assert call(**b)["ResponseMetadata"]["HTTPStatusCode"] == 204, call
    # A missing bucket is NoSuchBucket for every one of them.
    for call in [s3.get_bucket_versioning, s3.get_bucket_encryption, s3.get_bucket_acl,
                 s3.get_bucket_cors, s3.get_public_access_block, s3.delete_bucket_policy]:
        assert code(call, Bucket="no-such-bucket") == ("NoSuchBucket", 404), call


def test_versioning(s3):
    s3.create_bucket(Bucket="cfg-bucket")
    s3.put_bucket_versioning(Bucket="cfg-bucket", VersioningConfiguration={"Status": "Enabled"})
    assert body(s3.get_bucket_versioning(Bucket="cfg-bucket")) == {"Status": "Enabled"}
    s3.put_bucket_versioning(Bucket="cfg-bucket", VersioningConfiguration={"Status": "Suspended"})
    assert body(s3.get_bucket_versioning(Bucket="cfg-bucket")) == {"Status": "Suspended"}
    assert code(s3.put_bucket_versioning, Bucket="cfg-bucket",
                VersioningConfiguration={"Status": "Disabled"}) == ("MalformedXML", 400)
    # MFA Delete needs x-amz-mfa ("<serial> <code>"; the code is not checked here).
    assert refusal(s3.put_bucket_versioning, Bucket="cfg-bucket",
                   VersioningConfiguration={"Status": "Enabled", "MFADelete": "Enabled"}) == (
        "AccessDenied", 403, "Mfa Authentication must be used for this request")
    assert code(s3.put_bucket_versioning, Bucket="cfg-bucket", MFA="123456",
                VersioningConfiguration={"Status": "Enabled", "MFADelete": "Enabled"}) == (
        "InvalidArgument", 400)
    s3.put_bucket_versioning(Bucket="cfg-bucket", MFA="arn:aws:iam::000000000000:mfa/root 123456",
                             VersioningConfiguration={"Status": "Enabled", "MFADelete": "Enabled"})
    assert body(s3.get_bucket_versioning(Bucket="cfg-bucket")) == {
        "Status": "Enabled", "MFADelete": "Enabled"}
    assert code(s3.put_bucket_versioning, Bucket="cfg-bucket",
                VersioningConfiguration={"Status": "Suspended"}) == ("AccessDenied", 403)
    # Versions are not kept: an object is overwritten in place, without a version id.
    put = s3.put_object(Bucket="cfg-bucket", Key="k", Body=b"one")
    assert "VersionId" not in put
    s3.put_object(Bucket="cfg-bucket", Key="k", Body=b"two")
    assert s3.get_object(Bucket="cfg-bucket", Key="k")["Body"].read() == b"two"
    assert "VersionId" not in s3.head_object(Bucket="cfg-bucket", Key="k")


def test_policy(s3):
    s3.create_bucket(Bucket="cfg-bucket")
    text = json.dumps(SECURE_TRANSPORT, indent=2)
    s3.put_bucket_policy(Bucket="cfg-bucket", Policy=text)
    assert s3.get_bucket_policy(Bucket="cfg-bucket")["Policy"] == text  # as given
    assert body(s3.get_bucket_policy_status(Bucket="cfg-bucket")) == {
        "PolicyStatus": {"IsPublic": False}}
    for policy, message in [
        ("not json", "Policies must be valid JSON and the first byte must be '{'"),
        ('{"Version": "2012-10-17"}', "Missing required field Statement"),
        (json.dumps({"Statement": [{"Effect": "Allow", "Action": "s3:GetObject",
                                    "Resource": "arn:aws:s3:::cfg-bucket/*"}]}),
         "Missing required field Principal"),
        (json.dumps({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                                    "Resource": "arn:aws:s3:::other-bucket/*"}]}),
         "Policy has invalid resource"),
        (json.dumps({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "iam:PassRole",
                                    "Resource": "arn:aws:s3:::cfg-bucket/*"}]}),
         "Policy has invalid action"),
    ]:
        assert refusal(s3.put_bucket_policy, Bucket="cfg-bucket", Policy=policy) == (
            "MalformedPolicy", 400, message)
    # A public policy is refused while Block Public Access (on for a new bucket) blocks it.
    assert code(s3.put_bucket_policy, Bucket="cfg-bucket",
                Policy=json.dumps(PUBLIC_READ)) == ("AccessDenied", 403)
    s3.put_public_access_block(Bucket="cfg-bucket", PublicAccessBlockConfiguration={
        "BlockPublicPolicy": False})
    s3.put_bucket_policy(Bucket="cfg-bucket", Policy=json.dumps(PUBLIC_READ))
    assert body(s3.get_bucket_policy_status(Bucket="cfg-bucket")) == {
        "PolicyStatus": {"IsPublic": True}}
    assert s3.delete_bucket_policy(Bucket="cfg-bucket")["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert code(s3.get_bucket_policy, Bucket="cfg-bucket") == ("NoSuchBucketPolicy", 404)


def test_public_access_block(s3):
    s3.create_bucket(Bucket="cfg-bucket")
    s3.put_public_access_block(Bucket="cfg-bucket", PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "RestrictPublicBuckets": True})
    assert body(s3.get_public_access_block(Bucket="cfg-bucket")) == {"PublicAccessBlockConfiguration": {
        "BlockPublicAcls": True, "IgnorePublicAcls": False, "BlockPublicPolicy": False,
        "RestrictPublicBuckets": True}}
    s3.delete_public_access_block(Bucket="cfg-bucket")
    assert refusal(s3.get_public_access_block, Bucket="cfg-bucket") == (
        "NoSuchPublicAccessBlockConfiguration", 404,
        "The public access block configuration was not found")


def test_encryption(s3):
    s3.create_bucket(Bucket="cfg-bucket")
    kms = {"Rules": [{"ApplyServerSideEncryptionByDefault": {
        "SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "arn:aws:kms:us-east-1:000000000000:key/k"},
        "BucketKeyEnabled": True}]}
    s3.put_bucket_encryption(Bucket="cfg-bucket", ServerSideEncryptionConfiguration=kms)
    assert body(s3.get_bucket_encryption(Bucket="cfg-bucket")) == {
        "ServerSideEncryptionConfiguration": kms}
    assert code(s3.put_bucket_encryption, Bucket="cfg-bucket", ServerSideEncryptionConfiguration={
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256",
                                                          "KMSMasterKeyID": "k"}}]}) == (
        "InvalidArgument", 400)
    assert code(s3.put_bucket_encryption, Bucket="cfg-bucket", ServerSideEncryptionConfiguration={
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "XOR"}}]}) == (
        "MalformedXML", 400)
    s3.delete_bucket_encryption(Bucket="cfg-bucket")
    rule = s3.get_bucket_encryption(Bucket="cfg-bucket")["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule == {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"},
                    "BucketKeyEnabled": False}


LIFECYCLE = {"Rules": [
    {"ID": "logs", "Status": "Enabled", "Filter": {"Prefix": "logs/"},
     "Expiration": {"Days": 30},
     "Transitions": [{"Days": 30, "StorageClass": "STANDARD_IA"}]},
    {"ID": "tagged", "Status": "Disabled",
     "Filter": {"And": {"Prefix": "tmp/", "Tags": [{"Key": "k", "Value": "v"}],
                        "ObjectSizeGreaterThan": 1024}},
     "NoncurrentVersionExpiration": {"NoncurrentDays": 10, "NewerNoncurrentVersions": 2}},
    {"ID": "uploads", "Status": "Enabled", "Filter": {},
     "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7}},
]}


def test_lifecycle(s3):
    s3.create_bucket(Bucket="cfg-bucket")
    put = s3.put_bucket_lifecycle_configuration(Bucket="cfg-bucket",
                                                LifecycleConfiguration=LIFECYCLE)
    assert put["TransitionDefaultMinimumObjectSize"] == "all_storage_classes_128K"
    got = s3.get_bucket_lifecycle_configuration(Bucket="cfg-bucket")
    assert got["Rules"] == LIFECYCLE["Rules"]
    assert got["TransitionDefaultMinimumObjectSize"] == "all_storage_classes_128K"

    # A rule without an ID gets one; dates are kept at midnight UTC.
    s3.put_bucket_lifecycle_configuration(
        Bucket="cfg-bucket", TransitionDefaultMinimumObjectSize="varies_by_storage_class",
        LifecycleConfiguration={"Rules": [{"Status": "Enabled", "Filter": {"Prefix": ""},
                                           "Expiration": {"Date": "2031-01-01T00:00:00Z"}}]})
    got = s3.get_bucket_lifecycle_configuration(Bucket="cfg-bucket")
    assert got["TransitionDefaultMinimumObjectSize"] == "varies_by_storage_class"
    [rule] = got["Rules"]
    assert len(rule["ID"]) == 48
    assert rule["Expiration"]["Date"].isoformat() == "2031-01-01T00:00:00+00:00"

    def refused(rule):
        return refusal(s3.put_bucket_lifecycle_configuration, Bucket="cfg-bucket",
                       LifecycleConfiguration={"Rules": [rule]})

    base = {"ID": "r", "Status": "Enabled", "Filter": {"Prefix": "p/"}}
    assert refused(base) == (
        "InvalidRequest", 400, "At least one action needs to be specified in a rule")
    assert refused({**base, "Expiration": {"Days": 0}}) == (
        "InvalidArgument", 400, "'Days' for Expiration action must be a positive integer")
    assert refused({**base, "ID": "x" * 256, "Expiration": {"Days": 1}}) == (
        "InvalidArgument", 400, "ID length should not exceed allowed limit of 255")
    assert refused({**base, "Expiration": {"Date": "2031-01-01T12:00:00Z"}}) == (
        "InvalidArgument", 400, "'Date' must be at midnight GMT")
    assert refused({**base, "Transitions": [{"Days": 5, "StorageClass": "STANDARD_IA"}]}) == (
        "InvalidArgument", 400, "'Days' in Transition action must be greater than or equal "
        "to 30 for storageClass 'STANDARD_IA'")
    assert refused({**base, "Filter": {"And": {"Tags": [{"Key": "k", "Value": "v"}]}},
                    "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}}) == (
        "InvalidRequest", 400, "AbortIncompleteMultipartUpload cannot be specified with Tags.")
    assert refused({"ID": "r", "Status": "On", "Filter": {}, "Expiration": {"Days": 1}})[:2] == (
        "MalformedXML", 400)
    assert refused({"ID": "r", "Status": "Enabled", "Prefix": "a", "Filter": {},
                    "Expiration": {"Days": 1}})[:2] == ("MalformedXML", 400)
    assert refused({"ID": "r", "Status": "Enabled",
                    "Filter": {"Prefix": "a", "ObjectSizeLessThan": 10},
                    "Expiration": {"Days": 1}})[:2] == ("MalformedXML", 400)
    assert code(s3.put_bucket_lifecycle_configuration, Bucket="cfg-bucket",
                LifecycleConfiguration={"Rules": [{**base, "Expiration": {"Days": 1}},
                                                  {**base, "Expiration": {"Days": 2}}]}) == (
        "InvalidArgument", 400)
    # Refusals left the stored configuration as it was.
    assert len(s3.get_bucket_lifecycle_configuration(Bucket="cfg-bucket")["Rules"]) == 1
    s3.delete_bucket_lifecycle(Bucket="cfg-bucket")
    assert code(s3.get_bucket_lifecycle_configuration, Bucket="cfg-bucket") == (
        "NoSuchLifecycleConfiguration", 404)


def test_ownership_controls_and_acl(s3):
    s3.create_bucket(Bucket="cfg-bucket")
    s3.put_bucket_acl(Bucket="cfg-bucket", ACL="private")
    assert refusal(s3.put_bucket_acl, Bucket="cfg-bucket", ACL="public-read") == (
        "AccessControlListNotSupported", 400, "The bucket does not allow ACLs")
    s3.put_bucket_ownership_controls(Bucket="cfg-bucket", OwnershipControls={
        "Rules": [{"ObjectOwnership": "BucketOwnerPreferred"}]})
    assert body(s3.get_bucket_ownership_controls(Bucket="cfg-bucket")) == {
        "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerPreferred"}]}}
    # Block Public Access still blocks public ACLs.
    assert code(s3.put_bucket_acl, Bucket="cfg-bucket", ACL="public-read") == ("AccessDenied", 403)
    s3.put_bucket_acl(Bucket="cfg-bucket", ACL="log-delivery-write")
    grants = s3.get_bucket_acl(Bucket="cfg-bucket")["Grants"]
    assert [(g["Grantee"]["Type"], g["Grantee"].get("URI"), g["Permission"]) for g in grants] == [
        ("CanonicalUser", None, "FULL_CONTROL"),
        ("Group", "http://acs.amazonaws.com/groups/s3/LogDelivery", "WRITE"),
        ("Group", "http://acs.amazonaws.com/groups/s3/LogDelivery", "READ_ACP"),
    ]
    # ACLs cannot be disabled while the ACL grants others.
    assert code(s3.put_bucket_ownership_controls, Bucket="cfg-bucket", OwnershipControls={
        "Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}) == (
        "InvalidBucketAclWithObjectOwnership", 400)
    assert code(s3.put_bucket_acl, Bucket="cfg-bucket",
                GrantRead="uri=http://acs.amazonaws.com/groups/global/AllUsers") == (
        "NotImplemented", 501)
    owner = s3.get_bucket_acl(Bucket="cfg-bucket")["Owner"]
    s3.put_bucket_acl(Bucket="cfg-bucket", AccessControlPolicy={
        "Owner": owner, "Grants": [{"Grantee": {"Type": "CanonicalUser", "ID": owner["ID"]},
                                    "Permission": "FULL_CONTROL"}]})
    assert len(s3.get_bucket_acl(Bucket="cfg-bucket")["Grants"]) == 1
    s3.delete_bucket_ownership_controls(Bucket="cfg-bucket")
    assert code(s3.get_bucket_ownership_controls, Bucket="cfg-bucket") == (
        "OwnershipControlsNotFoundError", 404)
    # CreateBucket's own headers.
    assert code(s3.create_bucket, Bucket="acl-bucket", ACL="public-read") == (
        "InvalidBucketAclWithObjectOwnership", 400)
    s3.create_bucket(Bucket="acl-bucket", ObjectOwnership="ObjectWriter")
    assert s3.get_bucket_ownership_controls(Bucket="acl-bucket")["OwnershipControls"] == {
        "Rules": [{"ObjectOwnership": "ObjectWriter"}]}


def test_objects_list_as_their_one_null_version(s3):
    """No versions are kept (versioning or not): each object is its `null` version, what
    emptying a bucket (Terraform's force_destroy, `aws s3 rb --force`) walks."""
    s3.create_bucket(Bucket="cfg-bucket")
    s3.put_bucket_versioning(Bucket="cfg-bucket", VersioningConfiguration={"Status": "Enabled"})
    for key in ["a", "b", "c"]:
        s3.put_object(Bucket="cfg-bucket", Key=key, Body=b"x")
    page = s3.list_object_versions(Bucket="cfg-bucket", MaxKeys=2)
    assert [(v["Key"], v["VersionId"], v["IsLatest"], v["Size"]) for v in page["Versions"]] == [
        ("a", "null", True, 1), ("b", "null", True, 1)]
    assert (page["IsTruncated"], page["NextKeyMarker"], page["NextVersionIdMarker"]) == (
        True, "b", "null")
    assert "DeleteMarkers" not in page
    rest = s3.list_object_versions(Bucket="cfg-bucket", KeyMarker="b", VersionIdMarker="null")
    assert [v["Key"] for v in rest["Versions"]] == ["c"] and rest["IsTruncated"] is False
    out = s3.delete_objects(Bucket="cfg-bucket", Delete={"Objects": [
        {"Key": k, "VersionId": "null"} for k in ["a", "b", "c"]]})
    assert sorted((d["Key"], d["VersionId"]) for d in out["Deleted"]) == [
        ("a", "null"), ("b", "null"), ("c", "null")]
    assert "Versions" not in s3.list_object_versions(Bucket="cfg-bucket")
    s3.delete_bucket(Bucket="cfg-bucket")


def configure_everything(s3, bucket):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(SECURE_TRANSPORT))
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True})
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [
        {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}]})
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration=LIFECYCLE)
    s3.put_bucket_ownership_controls(Bucket=bucket, OwnershipControls={
        "Rules": [{"ObjectOwnership": "ObjectWriter"}]})
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [{"Key": "env", "Value": "dev"}]})


def configuration(s3, bucket):
    b = {"Bucket": bucket}
    return {
        "versioning": body(s3.get_bucket_versioning(**b)),
        "policy": s3.get_bucket_policy(**b)["Policy"],
        "pab": body(s3.get_public_access_block(**b)),
        "encryption": body(s3.get_bucket_encryption(**b)),
        "lifecycle": s3.get_bucket_lifecycle_configuration(**b)["Rules"],
        "ownership": body(s3.get_bucket_ownership_controls(**b)),
        "tags": s3.get_bucket_tagging(**b)["TagSet"],
    }


@pytest.mark.durable_only("restarts the server on its data directory")
def test_configuration_survives_a_restart(data_dir):
    s = Server(data_dir).start()
    try:
        s3 = client("s3", s.url, s3=PATH_STYLE)
        s3.create_bucket(Bucket="cfg-bucket")
        configure_everything(s3, "cfg-bucket")
        before = configuration(s3, "cfg-bucket")
        assert before["versioning"] == {"Status": "Enabled"}
        assert before["lifecycle"] == LIFECYCLE["Rules"]
    finally:
        assert s.stop() == 0
    s = Server(data_dir).start()
    try:
        assert configuration(client("s3", s.url, s3=PATH_STYLE), "cfg-bucket") == before
    finally:
        s.stop()


def test_a_deleted_bucket_takes_its_configuration_with_it(s3):
    s3.create_bucket(Bucket="cfg-bucket")
    configure_everything(s3, "cfg-bucket")
    s3.delete_bucket(Bucket="cfg-bucket")
    s3.create_bucket(Bucket="cfg-bucket")
    assert body(s3.get_bucket_versioning(Bucket="cfg-bucket")) == {}
    assert code(s3.get_bucket_policy, Bucket="cfg-bucket") == ("NoSuchBucketPolicy", 404)
    assert code(s3.get_bucket_lifecycle_configuration, Bucket="cfg-bucket") == (
        "NoSuchLifecycleConfiguration", 404)
    assert s3.get_bucket_ownership_controls(Bucket="cfg-bucket")["OwnershipControls"] == {
        "Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    assert s3.get_public_access_block(Bucket="cfg-bucket")[
        "PublicAccessBlockConfiguration"]["BlockPublicPolicy"] is True


# The staging bucket of `cdk bootstrap` (its template's properties), and its policy.
STAGING_TEMPLATE = {
    "Resources": {
        "StagingBucket": {
            "Type": "AWS::S3::Bucket",
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
            "Properties": {
                "BucketName": "cdk-staging-bucket",
                "AccessControl": "Private",
                "BucketEncryption": {"ServerSideEncryptionConfiguration": [
                    {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}]},
                "PublicAccessBlockConfiguration": {
                    "BlockPublicAcls": True, "BlockPublicPolicy": True,
                    "IgnorePublicAcls": True, "RestrictPublicBuckets": True},
                "VersioningConfiguration": {"Status": "Enabled"},
                "LifecycleConfiguration": {"Rules": [
                    {"Id": "CleanupOldVersions", "Status": "Enabled",
                     "NoncurrentVersionExpiration": {"NoncurrentDays": 30}},
                    {"Id": "AbortIncompleteMultipartUploads", "Status": "Enabled",
                     "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}}]},
                "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
            },
        },
        "StagingBucketPolicy": {
            "Type": "AWS::S3::BucketPolicy",
            "Properties": {
                "Bucket": {"Ref": "StagingBucket"},
                "PolicyDocument": {
                    "Id": "AccessControl", "Version": "2012-10-17",
                    "Statement": [{
                        "Sid": "AllowSSLRequestsOnly", "Action": "s3:*", "Effect": "Deny",
                        "Resource": [{"Fn::Sub": "${StagingBucket.Arn}"},
                                     {"Fn::Sub": "${StagingBucket.Arn}/*"}],
                        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                        "Principal": "*"}],
                },
            },
        },
    },
}


def deleted_stack(cfn, name, timeout=30):
    """Waits for the stack's deletion to end: whether it was deleted."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            status = cfn.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"]
        except ClientError as e:
            return "does not exist" in e.response["Error"]["Message"]
        if not status.endswith("_IN_PROGRESS"):
            return status == "DELETE_COMPLETE"
        time.sleep(0.05)
    return False


def test_cloudformation_bucket_and_policy_read_back_through_s3(server, s3):
    cfn = client("cloudformation", server.url)
    cfn.create_stack(StackName="staging", TemplateBody=json.dumps(STAGING_TEMPLATE))
    stack = settled_stack(cfn, "staging")
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack
    b = {"Bucket": "cdk-staging-bucket"}
    assert body(s3.get_bucket_versioning(**b)) == {"Status": "Enabled"}
    assert s3.get_bucket_encryption(**b)["ServerSideEncryptionConfiguration"]["Rules"][0][
        "ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "aws:kms"}
    assert set(s3.get_public_access_block(**b)["PublicAccessBlockConfiguration"].values()) == {True}
    rules = s3.get_bucket_lifecycle_configuration(**b)["Rules"]
    assert [(r["ID"], r["Status"], r["Filter"]) for r in rules] == [
        ("CleanupOldVersions", "Enabled", {}), ("AbortIncompleteMultipartUploads", "Enabled", {})]
    assert rules[0]["NoncurrentVersionExpiration"] == {"NoncurrentDays": 30}
    assert s3.get_bucket_ownership_controls(**b)["OwnershipControls"]["Rules"] == [
        {"ObjectOwnership": "BucketOwnerEnforced"}]
    policy = json.loads(s3.get_bucket_policy(**b)["Policy"])
    assert policy["Statement"][0]["Resource"] == [
        "arn:aws:s3:::cdk-staging-bucket", "arn:aws:s3:::cdk-staging-bucket/*"]
    assert policy["Statement"][0]["Effect"] == "Deny"

    # Update: the lifecycle rule's days change, versioning is dropped (suspended).
    updated = json.loads(json.dumps(STAGING_TEMPLATE))
    props = updated["Resources"]["StagingBucket"]["Properties"]
    props["LifecycleConfiguration"]["Rules"][0]["NoncurrentVersionExpiration"]["NoncurrentDays"] = 365
    del props["VersioningConfiguration"]
    cfn.update_stack(StackName="staging", TemplateBody=json.dumps(updated))
    assert settled_stack(cfn, "staging")["StackStatus"] == "UPDATE_COMPLETE"
    assert s3.get_bucket_lifecycle_configuration(**b)["Rules"][0][
        "NoncurrentVersionExpiration"] == {"NoncurrentDays": 365}
    assert body(s3.get_bucket_versioning(**b)) == {"Status": "Suspended"}

    # Delete: the policy goes, the bucket is retained (DeletionPolicy Retain) with the rest.
    cfn.delete_stack(StackName="staging")
    assert deleted_stack(cfn, "staging")
    assert code(s3.get_bucket_policy, **b) == ("NoSuchBucketPolicy", 404)
    assert s3.get_bucket_lifecycle_configuration(**b)["Rules"][0]["ID"] == "CleanupOldVersions"


def test_cloudformation_refuses_what_s3_refuses(server, s3):
    cfn = client("cloudformation", server.url)
    s3.create_bucket(Bucket="cfg-bucket")
    template = {"Resources": {"Policy": {"Type": "AWS::S3::BucketPolicy", "Properties": {
        "Bucket": "cfg-bucket", "PolicyDocument": PUBLIC_READ}}}}
    cfn.create_stack(StackName="public", TemplateBody=json.dumps(template))
    stack = settled_stack(cfn, "public")
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
    events = cfn.describe_stack_events(StackName="public")["StackEvents"]
    reasons = [e.get("ResourceStatusReason", "") for e in events
               if e["LogicalResourceId"] == "Policy" and e["ResourceStatus"] == "CREATE_FAILED"]
    assert reasons and "BlockPublicPolicy" in reasons[0], reasons
    assert code(s3.get_bucket_policy, Bucket="cfg-bucket") == ("NoSuchBucketPolicy", 404)
