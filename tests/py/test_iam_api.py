"""The IAM Query API for roles (issue #22) through boto3: every operation served, its
error codes, HTTP statuses and messages, the policy documents IAM sends URL-encoded,
roles made by a stack read through the API, and concurrent changes of one role."""
import json
import threading
import urllib.parse

import pytest
from botocore.exceptions import ClientError

from conftest import client, client_fixture, settled_stack

iam = client_fixture("iam", "iam", "boto3 IAM client.")
iam_raw = client_fixture("iam_raw", "iam", "IAM client with client-side validation off.",
                         validate=False)
cfn = client_fixture("cfn", "cloudformation", "boto3 CloudFormation client.")

ACCOUNT = "000000000000"
TRUST = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"},
    "Action": "sts:AssumeRole"}]}
READ = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}]}
MANAGED = "arn:aws:iam::aws:policy/AmazonSageMakerFullAccess"


def error(call, **kwargs):
    """(code, HTTP status, message) of a call that must fail."""
    with pytest.raises(ClientError) as e:
        call(**kwargs)
    r = e.value.response
    return r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"], r["Error"]["Message"]


def make(iam, name, **kw):
    return iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST), **kw)["Role"]


def raw_body(iam, operation, **kwargs):
    """The response body of a call as the server sent it (before botocore decodes the
    policy documents)."""
    seen = []
    event = f"before-parse.iam.{operation}"

    def keep(response_dict, **_):
        seen.append(response_dict["body"].decode())

    iam.meta.events.register(event, keep)
    try:
        getattr(iam, _snake(operation))(**kwargs)
    finally:
        iam.meta.events.unregister(event, keep)
    return seen[0]


def _snake(name):
    return "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")


def test_create_get_list_update_delete(iam):
    role = make(iam, "Deployer", Path="/svc/", Description="deploys",
                MaxSessionDuration=7200, Tags=[{"Key": "team", "Value": "ml"}])
    assert role["Arn"] == f"arn:aws:iam::{ACCOUNT}:role/svc/Deployer"
    assert role["Path"] == "/svc/"
    assert role["RoleId"].startswith("AROA") and len(role["RoleId"]) == 21
    assert role["AssumeRolePolicyDocument"] == TRUST
    got = iam.get_role(RoleName="deployer")["Role"]
    assert got["RoleName"] == "Deployer"
    assert (got["Description"], got["MaxSessionDuration"]) == ("deploys", 7200)
    assert got["Tags"] == [{"Key": "team", "Value": "ml"}]
    assert got["CreateDate"] == role["CreateDate"]
    assert got["RoleLastUsed"] == {}

    assert error(iam.create_role, RoleName="DEPLOYER",
                 AssumeRolePolicyDocument=json.dumps(TRUST)) == (
        "EntityAlreadyExists", 409, "Role with name DEPLOYER already exists.")
    assert error(iam.get_role, RoleName="ghost") == (
        "NoSuchEntity", 404, "The role with name ghost cannot be found.")

    out = iam.update_role_description(RoleName="Deployer", Description="ships")
    assert out["Role"]["Description"] == "ships"
    iam.update_role(RoleName="Deployer", MaxSessionDuration=43200)
    other = dict(TRUST, Statement=[dict(TRUST["Statement"][0],
                                        Principal={"Service": "lambda.amazonaws.com"})])
    iam.update_assume_role_policy(RoleName="Deployer", PolicyDocument=json.dumps(other))
    got = iam.get_role(RoleName="Deployer")["Role"]
    assert (got["Description"], got["MaxSessionDuration"]) == ("ships", 43200)
    assert got["AssumeRolePolicyDocument"] == other

    listed = iam.list_roles()["Roles"]
    assert [r["RoleName"] for r in listed] == ["Deployer"]
    assert "Tags" not in listed[0] and listed[0]["AssumeRolePolicyDocument"] == other

    iam.delete_role(RoleName="Deployer")
    assert error(iam.delete_role, RoleName="Deployer")[0] == "NoSuchEntity"
    assert iam.list_roles()["Roles"] == []


def test_validation_errors_use_aws_words(iam_raw):
    code, status, msg = error(iam_raw.create_role, RoleName="bad name",
                              AssumeRolePolicyDocument=json.dumps(TRUST))
    assert (code, status) == ("ValidationError", 400)
    assert msg == ("1 validation error detected: Value 'bad name' at 'roleName' failed to "
                   "satisfy constraint: Member must satisfy regular expression pattern: "
                   "[\\w+=,.@-]+")
    code, _, msg = error(iam_raw.create_role, RoleName="r", Path="svc",
                         AssumeRolePolicyDocument=json.dumps(TRUST), MaxSessionDuration=60)
    assert code == "ValidationError"
    assert msg.startswith("2 validation errors detected: ")
    assert "Value '60' at 'maxSessionDuration' failed to satisfy constraint: Member must have " \
           "value greater than or equal to 3600" in msg
    assert "at 'path' failed to satisfy constraint" in msg
    assert error(iam_raw.create_role, RoleName="x" * 65,
                 AssumeRolePolicyDocument=json.dumps(TRUST))[0] == "ValidationError"
    assert error(iam_raw.get_role, RoleName="")[0] == "ValidationError"
    tags = [{"Key": f"k{i}", "Value": "v"} for i in range(51)]
    assert "Member must have length less than or equal to 50" in error(
        iam_raw.create_role, RoleName="r", AssumeRolePolicyDocument=json.dumps(TRUST),
        Tags=tags)[2]
    assert error(iam_raw.create_role, RoleName="r", AssumeRolePolicyDocument="{not json") == (
        "MalformedPolicyDocument", 400, "This policy contains invalid Json")
    resource = dict(TRUST, Statement=[dict(TRUST["Statement"][0], Resource="*")])
    assert error(iam_raw.create_role, RoleName="r",
                 AssumeRolePolicyDocument=json.dumps(resource))[2] == \
        "Has prohibited field Resource"
    assert error(iam_raw.create_role, RoleName="r",
                 AssumeRolePolicyDocument=json.dumps(READ))[2] == \
        "Missing required field Principal"
    assert error(iam_raw.create_role, RoleName="r", AssumeRolePolicyDocument=json.dumps(TRUST),
                 Tags=[{"Key": "Env", "Value": "a"}, {"Key": "env", "Value": "b"}]) == (
        "InvalidInput", 400,
        "Duplicate tag keys found. Please note that Tag keys are case insensitive.")
    assert error(iam_raw.list_roles, MaxItems=0)[0] == "ValidationError"
    assert iam_raw.list_roles()["Roles"] == [], "nothing refused was created"


def test_list_roles_pages_and_path_prefix(iam):
    for name, path in [("c", "/a/"), ("B", "/"), ("a", "/a/b/"), ("d", "/ab/")]:
        make(iam, name, Path=path)
    first = iam.list_roles(MaxItems=2)
    assert [r["RoleName"] for r in first["Roles"]] == ["a", "B"]
    assert first["IsTruncated"] is True
    rest = iam.list_roles(MaxItems=2, Marker=first["Marker"])
    assert [r["RoleName"] for r in rest["Roles"]] == ["c", "d"]
    assert rest["IsTruncated"] is False and "Marker" not in rest
    pages = iam.get_paginator("list_roles").paginate(PaginationConfig={"PageSize": 1})
    assert [r["RoleName"] for p in pages for r in p["Roles"]] == ["a", "B", "c", "d"]
    assert [r["RoleName"] for r in iam.list_roles(PathPrefix="/a/")["Roles"]] == ["a", "c"]
    assert [r["RoleName"] for r in iam.list_roles(PathPrefix="/a")["Roles"]] == ["a", "c", "d"]


def test_tags(iam):
    make(iam, "t", Tags=[{"Key": "Env", "Value": "dev"}])
    iam.tag_role(RoleName="t", Tags=[{"Key": "env", "Value": "prod"},
                                     {"Key": "team", "Value": ""}])
    assert iam.list_role_tags(RoleName="t")["Tags"] == [
        {"Key": "env", "Value": "prod"}, {"Key": "team", "Value": ""}]
    page = iam.list_role_tags(RoleName="t", MaxItems=1)
    assert page["IsTruncated"] is True and len(page["Tags"]) == 1
    assert iam.list_role_tags(RoleName="t", Marker=page["Marker"])["Tags"] == [
        {"Key": "team", "Value": ""}]
    many = [{"Key": f"k{i}", "Value": "v"} for i in range(49)]
    assert error(iam.tag_role, RoleName="t", Tags=many)[:2] == ("LimitExceeded", 409)
    iam.untag_role(RoleName="t", TagKeys=["ENV", "absent"])
    assert iam.get_role(RoleName="t")["Role"]["Tags"] == [{"Key": "team", "Value": ""}]
    for call in (iam.list_role_tags, iam.untag_role, iam.tag_role):
        kw = {"TagKeys": ["a"]} if call == iam.untag_role else {}
        kw = {"Tags": [{"Key": "a", "Value": "b"}]} if call == iam.tag_role else kw
        assert error(call, RoleName="ghost", **kw)[0] == "NoSuchEntity"


def test_inline_policies(iam):
    make(iam, "p")
    iam.put_role_policy(RoleName="p", PolicyName="read", PolicyDocument=json.dumps(READ))
    spaced = json.dumps(READ, indent=2)
    iam.put_role_policy(RoleName="p", PolicyName="spaced", PolicyDocument=spaced)
    got = iam.get_role_policy(RoleName="P", PolicyName="read")
    assert (got["RoleName"], got["PolicyName"], got["PolicyDocument"]) == ("p", "read", READ)
    # On the wire the document is URL-encoded, kept as it was put (whitespace too).
    body = raw_body(iam, "GetRolePolicy", RoleName="p", PolicyName="spaced")
    encoded = body.split("<PolicyDocument>")[1].split("</PolicyDocument>")[0]
    assert "%22" in encoded and "+" not in encoded
    assert urllib.parse.unquote(encoded) == spaced
    assert iam.list_role_policies(RoleName="p")["PolicyNames"] == ["read", "spaced"]
    page = iam.list_role_policies(RoleName="p", MaxItems=1)
    assert (page["PolicyNames"], page["IsTruncated"]) == (["read"], True)
    assert iam.list_role_policies(RoleName="p", Marker=page["Marker"])["PolicyNames"] == ["spaced"]
    write = dict(READ, Statement=[dict(READ["Statement"][0], Action="s3:PutObject")])
    iam.put_role_policy(RoleName="p", PolicyName="read", PolicyDocument=json.dumps(write))
    assert iam.get_role_policy(RoleName="p", PolicyName="read")["PolicyDocument"] == write

    assert error(iam.put_role_policy, RoleName="p", PolicyName="bad",
                 PolicyDocument="{not json") == (
        "MalformedPolicyDocument", 400, "Syntax errors in policy.")
    assert error(iam.put_role_policy, RoleName="p", PolicyName="bad",
                 PolicyDocument=json.dumps(TRUST))[2] == \
        "Policy document should not specify a principal."
    no_resource = {"Statement": [{"Effect": "Allow", "Action": "s3:*"}]}
    assert error(iam.put_role_policy, RoleName="p", PolicyName="bad",
                 PolicyDocument=json.dumps(no_resource))[2] == \
        "Policy statement must contain resources."
    big = dict(READ, Statement=[dict(READ["Statement"][0], Resource="x" * 10300)])
    assert error(iam.put_role_policy, RoleName="p", PolicyName="big",
                 PolicyDocument=json.dumps(big)) == (
        "LimitExceeded", 409, "Maximum policy size of 10240 bytes exceeded for role p")
    assert error(iam.put_role_policy, RoleName="ghost", PolicyName="x",
                 PolicyDocument=json.dumps(READ))[0] == "NoSuchEntity"
    assert error(iam.get_role_policy, RoleName="p", PolicyName="nope") == (
        "NoSuchEntity", 404, "The role policy with name nope cannot be found.")

    assert error(iam.delete_role, RoleName="p") == (
        "DeleteConflict", 409, "Cannot delete entity, must delete policies first.")
    iam.delete_role_policy(RoleName="p", PolicyName="read")
    iam.delete_role_policy(RoleName="p", PolicyName="spaced")
    assert error(iam.delete_role_policy, RoleName="p", PolicyName="read")[0] == "NoSuchEntity"
    assert iam.list_role_policies(RoleName="p")["PolicyNames"] == []
    iam.delete_role(RoleName="p")


def test_managed_policy_attachments(iam):
    make(iam, "m")
    iam.attach_role_policy(RoleName="m", PolicyArn=MANAGED)
    iam.attach_role_policy(RoleName="m", PolicyArn=MANAGED)  # again: no change
    service_role = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
    iam.attach_role_policy(RoleName="m", PolicyArn=service_role)
    assert iam.list_attached_role_policies(RoleName="m")["AttachedPolicies"] == [
        {"PolicyName": "AmazonSageMakerFullAccess", "PolicyArn": MANAGED},
        {"PolicyName": "AWSLambdaBasicExecutionRole", "PolicyArn": service_role}]
    only = iam.list_attached_role_policies(RoleName="m", PathPrefix="/service-role/")
    assert [p["PolicyArn"] for p in only["AttachedPolicies"]] == [service_role]
    page = iam.list_attached_role_policies(RoleName="m", MaxItems=1)
    assert page["IsTruncated"] is True and len(page["AttachedPolicies"]) == 1

    mine = f"arn:aws:iam::{ACCOUNT}:policy/not-created"
    assert error(iam.attach_role_policy, RoleName="m", PolicyArn=mine) == (
        "NoSuchEntity", 404, f"Policy {mine} does not exist or is not attachable.")
    bad = "arn:aws:iam::aws:role/NotAPolicy"
    assert error(iam.attach_role_policy, RoleName="m", PolicyArn=bad) == (
        "InvalidInput", 400, f"ARN {bad} is not valid.")
    for i in range(8):
        iam.attach_role_policy(RoleName="m", PolicyArn=f"arn:aws:iam::aws:policy/P{i}")
    assert error(iam.attach_role_policy, RoleName="m",
                 PolicyArn="arn:aws:iam::aws:policy/P8") == (
        "LimitExceeded", 409, "Cannot exceed quota for PoliciesPerRole: 10")

    assert error(iam.delete_role, RoleName="m") == (
        "DeleteConflict", 409, "Cannot delete entity, must detach all policies first.")
    for p in iam.list_attached_role_policies(RoleName="m")["AttachedPolicies"]:
        iam.detach_role_policy(RoleName="m", PolicyArn=p["PolicyArn"])
    assert error(iam.detach_role_policy, RoleName="m", PolicyArn=MANAGED) == (
        "NoSuchEntity", 404, f"Policy {MANAGED} was not found.")
    profiles = iam.list_instance_profiles_for_role(RoleName="m")
    assert (profiles["InstanceProfiles"], profiles["IsTruncated"]) == ([], False)
    assert error(iam.list_instance_profiles_for_role, RoleName="ghost")[0] == "NoSuchEntity"
    assert error(iam.list_attached_role_policies, RoleName="ghost")[0] == "NoSuchEntity"
    iam.delete_role(RoleName="m")


def test_permissions_boundary(iam):
    boundary = "arn:aws:iam::aws:policy/PowerUserAccess"
    role = make(iam, "b", PermissionsBoundary=boundary)
    assert role["PermissionsBoundary"] == {
        "PermissionsBoundaryType": "PermissionsBoundaryPolicy",
        "PermissionsBoundaryArn": boundary}
    iam.delete_role_permissions_boundary(RoleName="b")
    assert "PermissionsBoundary" not in iam.get_role(RoleName="b")["Role"]
    iam.put_role_permissions_boundary(RoleName="b", PermissionsBoundary=boundary)
    assert iam.get_role(RoleName="b")["Role"]["PermissionsBoundary"]["PermissionsBoundaryArn"] \
        == boundary
    missing = f"arn:aws:iam::{ACCOUNT}:policy/none"
    code, _, msg = error(iam.put_role_permissions_boundary, RoleName="b",
                         PermissionsBoundary=missing)
    assert (code, msg) == ("InvalidInput",
                           f"Scope ARN: {missing} does not exist or is not attachable.")
    iam.delete_role(RoleName="b")  # a boundary does not block deletion


def test_unknown_actions_are_refused(iam):
    with pytest.raises(ClientError) as e:
        iam.create_user(UserName="alice")
    assert e.value.response["Error"]["Code"] == "InvalidAction"


def test_concurrent_changes_of_one_role_are_all_kept(server, iam):
    make(iam, "busy")
    errors = []

    def work(i):
        c = client("iam", server.url)
        try:
            if i % 2:
                c.tag_role(RoleName="busy", Tags=[{"Key": f"t{i}", "Value": "v"}])
            else:
                c.put_role_policy(RoleName="busy", PolicyName=f"p{i}",
                                  PolicyDocument=json.dumps(READ))
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(30)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(iam.list_role_policies(RoleName="busy")["PolicyNames"]) == 15
    assert len(iam.list_role_tags(RoleName="busy")["Tags"]) == 15


STACK_ROLE = {
    "Resources": {
        "Role": {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "RoleName": "StackRole",
                "Path": "/stack/",
                "AssumeRolePolicyDocument": TRUST,
                "Description": "made by a stack",
                "MaxSessionDuration": 7200,
                "Policies": [{"PolicyName": "read", "PolicyDocument": READ}],
                "ManagedPolicyArns": [MANAGED],
                "Tags": [{"Key": "owner", "Value": "cfn"}],
            },
        }
    },
    "Outputs": {"Arn": {"Value": {"Fn::GetAtt": ["Role", "Arn"]}},
                "RoleId": {"Value": {"Fn::GetAtt": ["Role", "RoleId"]}}},
}


def test_a_role_made_by_a_stack_is_the_apis(iam, cfn):
    cfn.create_stack(StackName="roles", TemplateBody=json.dumps(STACK_ROLE),
                     Capabilities=["CAPABILITY_NAMED_IAM"])
    stack = settled_stack(cfn, "roles")
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    role = iam.get_role(RoleName="StackRole")["Role"]
    assert role["Arn"] == outputs["Arn"] == f"arn:aws:iam::{ACCOUNT}:role/stack/StackRole"
    assert role["RoleId"] == outputs["RoleId"]
    assert role["AssumeRolePolicyDocument"] == TRUST
    assert (role["Description"], role["MaxSessionDuration"]) == ("made by a stack", 7200)
    assert role["Tags"] == [{"Key": "owner", "Value": "cfn"}]
    assert [r["RoleName"] for r in iam.list_roles(PathPrefix="/stack/")["Roles"]] == ["StackRole"]
    assert iam.list_role_policies(RoleName="StackRole")["PolicyNames"] == ["read"]
    assert iam.get_role_policy(RoleName="StackRole", PolicyName="read")["PolicyDocument"] == READ
    assert iam.list_attached_role_policies(RoleName="StackRole")["AttachedPolicies"] == [
        {"PolicyName": "AmazonSageMakerFullAccess", "PolicyArn": MANAGED}]
    # The API's rules hold for it: its policies keep it.
    assert error(iam.delete_role, RoleName="StackRole")[0] == "DeleteConflict"
    # A role made by the API can be assumed (STS reads the same records).
    made = make(iam, "Assumable", MaxSessionDuration=7200)
    sts = client("sts", iam.meta.endpoint_url)
    creds = sts.assume_role(RoleArn=made["Arn"], RoleSessionName="ci",
                            DurationSeconds=7200)
    assert creds["AssumedRoleUser"]["Arn"] == \
        f"arn:aws:sts::{ACCOUNT}:assumed-role/Assumable/ci"
    cfn.delete_stack(StackName="roles")
    assert settled_stack(cfn, stack["StackId"])["StackStatus"] == "DELETE_COMPLETE"
    assert error(iam.get_role, RoleName="StackRole")[0] == "NoSuchEntity"


def _role_template(tags, bad=False):
    """A stack with one role carrying `tags`; `bad` adds a role made after it that
    fails (so the update rolls back once the first role was retagged)."""
    resources = {"Role": {"Type": "AWS::IAM::Role", "Properties": {
        "RoleName": "TaggedRole", "AssumeRolePolicyDocument": TRUST,
        "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}}}
    if bad:
        resources["Bad"] = {"Type": "AWS::IAM::Role", "DependsOn": "Role", "Properties": {
            "AssumeRolePolicyDocument": TRUST, "MaxSessionDuration": 60}}
    return json.dumps({"Resources": resources})


def test_stack_tags_and_template_tags_retag_a_stacks_role(iam, cfn):
    def tags():
        listed = iam.list_role_tags(RoleName="TaggedRole")["Tags"]
        assert iam.get_role(RoleName="TaggedRole")["Role"].get("Tags", []) == listed
        return {t["Key"]: t["Value"] for t in listed}

    def update(**kw):
        cfn.update_stack(StackName="tagged-role", Capabilities=["CAPABILITY_NAMED_IAM"], **kw)
        return settled_stack(cfn, "tagged-role")["StackStatus"]

    stack_id = cfn.create_stack(
        StackName="tagged-role", TemplateBody=_role_template({"owner": "cfn"}),
        Capabilities=["CAPABILITY_NAMED_IAM"],
        Tags=[{"Key": "env", "Value": "dev"}, {"Key": "owner", "Value": "stack"}])["StackId"]
    assert settled_stack(cfn, "tagged-role")["StackStatus"] == "CREATE_COMPLETE"
    # The template's value wins over the stack's; no aws:cloudformation:* tags (IAM
    # refuses the aws: prefix).
    assert tags() == {"owner": "cfn", "env": "dev"}
    # New stack tags alone, the template unchanged (cdk deploy --tags).
    assert update(UsePreviousTemplate=True,
                  Tags=[{"Key": "env", "Value": "prod"}, {"Key": "team", "Value": "ml"}]) \
        == "UPDATE_COMPLETE"
    assert tags() == {"owner": "cfn", "env": "prod", "team": "ml"}
    # A template Tags change; the stack keeps its tags.
    assert update(TemplateBody=_role_template({"cost": "42"}),
                  Tags=[{"Key": "env", "Value": "prod"}, {"Key": "team", "Value": "ml"}]) \
        == "UPDATE_COMPLETE"
    assert tags() == {"cost": "42", "env": "prod", "team": "ml"}
    # A failed update puts the old tags back on the role.
    assert update(TemplateBody=_role_template({"cost": "43"}, bad=True),
                  Tags=[{"Key": "env", "Value": "test"}]) == "UPDATE_ROLLBACK_COMPLETE"
    assert tags() == {"cost": "42", "env": "prod", "team": "ml"}
    cfn.delete_stack(StackName="tagged-role")
    assert settled_stack(cfn, stack_id)["StackStatus"] == "DELETE_COMPLETE"
    assert error(iam.get_role, RoleName="TaggedRole")[0] == "NoSuchEntity"
