"""One test per error code and per validation rule, checked against AWS's wording."""
import json

import pytest
from botocore.exceptions import ClientError

from conftest import SC, SIGV4, create, post

ARN = "arn:aws:sagemaker:us-east-1:000000000000:project/"


def error(call, **kw):
    with pytest.raises(ClientError) as e:
        call(**kw)
    err = e.value.response["Error"]
    meta = e.value.response["ResponseMetadata"]
    assert meta["RequestId"], "every error carries x-amzn-RequestId"
    return err["Code"], err["Message"], meta["HTTPStatusCode"]


def invalid(call, **kw):
    """The message of the ValidationException `call(**kw)` answers."""
    code, msg, _ = error(call, **kw)
    assert code == "ValidationException", msg
    return msg


def test_required_member_is_not_null(raw):
    code, msg, status = error(raw.describe_project)
    assert (code, status) == ("ValidationException", 400)
    assert msg == ("1 validation error detected: Value null at 'projectName' failed to satisfy "
                   "constraint: Member must not be null")


def test_pattern(raw):
    msg = invalid(raw.describe_project, ProjectName="bad_name!")
    assert msg == ("1 validation error detected: Value 'bad_name!' at 'projectName' failed to satisfy "
                   "constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,31}")


def test_max_length_and_pattern_are_counted(raw):
    name = "a" * 33
    msg = invalid(raw.describe_project, ProjectName=name)
    assert msg == (
        f"2 validation errors detected: Value '{name}' at 'projectName' failed to satisfy constraint: "
        "Member must have length less than or equal to 32; "
        f"Value '{name}' at 'projectName' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: ^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,31}")


def test_min_length(raw):
    _, msg, _ = error(raw.describe_project, ProjectName="")
    assert msg.startswith("2 validation errors detected: Value '' at 'projectName' failed to satisfy "
                          "constraint: Member must have length greater than or equal to 1; ")


def test_enum(raw):
    msg = invalid(raw.list_projects, SortBy="Size")
    assert msg == ("1 validation error detected: Value 'Size' at 'sortBy' failed to satisfy constraint: "
                   "Member must satisfy enum value set: [Name, CreationTime]")
    _, msg, _ = error(raw.list_projects, SortOrder="Up")
    assert msg.endswith("Member must satisfy enum value set: [Ascending, Descending]")


def test_numeric_range(raw):
    _, msg, _ = error(raw.list_projects, MaxResults=101)
    assert msg == ("1 validation error detected: Value '101' at 'maxResults' failed to satisfy "
                   "constraint: Member must have value less than or equal to 100")
    _, msg, _ = error(raw.list_projects, MaxResults=0)
    assert msg.endswith("Member must have value greater than or equal to 1")
    _, msg, _ = error(raw.list_tags, ResourceArn=ARN + "x", MaxResults=10)
    assert msg.endswith("at 'maxResults' failed to satisfy constraint: Member must have value greater than or equal to 50")


def test_list_size(raw):
    arn = create(raw, "list-size")["ProjectArn"]
    tags = [{"Key": f"k{i}", "Value": "v"} for i in range(51)]
    _, msg, _ = error(raw.add_tags, ResourceArn=arn, Tags=tags)
    assert msg.startswith("1 validation error detected: Value '[")
    assert msg.endswith("at 'tags' failed to satisfy constraint: Member must have length less than or equal to 50")
    _, msg, _ = error(raw.delete_tags, ResourceArn=arn, TagKeys=[])
    assert msg == ("1 validation error detected: Value '[]' at 'tagKeys' failed to satisfy constraint: "
                   "Member must have length greater than or equal to 1")


def test_nested_list_member_paths(raw):
    arn = create(raw, "nested")["ProjectArn"]
    _, msg, _ = error(raw.add_tags, ResourceArn=arn,
                      Tags=[{"Key": "ok", "Value": "v"}, {"Key": "bad*key", "Value": "v"}, {"Value": "v"}])
    assert msg == (
        "2 validation errors detected: Value 'bad*key' at 'tags.2.member.key' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: ^([\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*); "
        "Value null at 'tags.3.member.key' failed to satisfy constraint: Member must not be null")


def test_nested_structure_required_member(raw):
    _, msg, _ = error(raw.create_project, ProjectName="p", ServiceCatalogProvisioningDetails={"PathId": "x"})
    assert msg == ("1 validation error detected: Value null at 'serviceCatalogProvisioningDetails.productId' "
                   "failed to satisfy constraint: Member must not be null")


def test_deep_template_provider_members(raw):
    tp = [{"CfnTemplateProvider": {"TemplateName": "t", "TemplateURL": "http://insecure/x",
                                   "RoleARN": "arn:aws:iam::000000000000:user/someone"}}]
    _, msg, _ = error(raw.create_project, ProjectName="p", TemplateProviders=tp)
    assert msg.startswith("2 validation errors detected: ")
    assert "at 'templateProviders.1.member.cfnTemplateProvider.roleARN' failed to satisfy constraint: " \
           "Member must satisfy regular expression pattern" in msg
    assert "Value 'http://insecure/x' at 'templateProviders.1.member.cfnTemplateProvider.templateURL'" in msg


def test_description_too_long(raw):
    _, msg, _ = error(raw.create_project, ProjectName="p", ProjectDescription="d" * 1025,
                      ServiceCatalogProvisioningDetails=SC)
    assert msg.endswith("at 'projectDescription' failed to satisfy constraint: "
                        "Member must have length less than or equal to 1024")


def test_exactly_one_provisioning_source(raw):
    msg = invalid(raw.create_project, ProjectName="p")
    assert "Exactly one of ServiceCatalogProvisioningDetails and TemplateProviders" in msg
    tp = [{"CfnTemplateProvider": {"TemplateName": "t", "TemplateURL": "https://h/x"}}]
    code, msg, _ = error(raw.create_project, ProjectName="p", ServiceCatalogProvisioningDetails=SC,
                         TemplateProviders=tp)
    assert "Exactly one of" in msg


def test_duplicate_name(sm):
    create(sm, "dup")
    code, msg, status = error(sm.create_project, ProjectName="dup", ServiceCatalogProvisioningDetails=SC)
    assert (code, status) == ("ValidationException", 400)
    assert msg == "Project dup already exists."


@pytest.mark.parametrize("op", ["describe_project", "delete_project", "update_project"])
def test_unknown_project(sm, op):
    msg = invalid(getattr(sm, op), ProjectName="ghost")
    assert msg == "Project ghost does not exist."


def test_unknown_arn(sm):
    arn = ARN + "ghost"
    for call, kw in [(sm.add_tags, {"Tags": [{"Key": "k", "Value": "v"}]}),
                     (sm.list_tags, {}),
                     (sm.delete_tags, {"TagKeys": ["k"]})]:
        msg = invalid(call, ResourceArn=arn, **kw)
        assert msg == f"Resource {arn} does not exist."


def test_arn_pattern(raw):
    _, msg, _ = error(raw.list_tags, ResourceArn="not-an-arn")
    assert "at 'resourceArn' failed to satisfy constraint: Member must satisfy regular expression pattern: " \
           "^arn:aws[a-z-]*:sagemaker:[a-z0-9-]*:[0-9]{12}:.+" in msg


def test_tag_limit_across_calls(sm):
    arn = create(sm, "limit", Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(30)])["ProjectArn"]
    sm.add_tags(ResourceArn=arn, Tags=[{"Key": f"j{i}", "Value": "v"} for i in range(20)])
    msg = invalid(sm.add_tags, ResourceArn=arn, Tags=[{"Key": "one-more", "Value": "v"}])
    assert "limit of 50 tags" in msg
    assert len(sm.list_tags(ResourceArn=arn)["Tags"]) == 50
    invalid(sm.update_project, ProjectName="limit", Tags=[{"Key": "x", "Value": "v"}])


def test_reserved_tag_prefix(sm):
    msg = invalid(sm.create_project, ProjectName="p", ServiceCatalogProvisioningDetails=SC,
                  Tags=[{"Key": "aws:owner", "Value": "me"}])
    assert "reserved prefix" in msg


def test_invalid_next_token(sm):
    msg = invalid(sm.list_projects, NextToken="definitely-not-a-token")
    assert "NextToken" in msg
    for i in range(3):
        create(sm, f"tok-{i}")
    token = sm.list_projects(MaxResults=1)["NextToken"]
    invalid(sm.list_projects, NextToken=token, SortBy="Name")


def test_malformed_json_is_serialization_exception(server):
    status, headers, body = post(server.url, "SageMaker.DescribeProject", '{"ProjectName": ')
    assert status == 400
    assert body["__type"] == "SerializationException"
    assert headers["x-amzn-ErrorType"] == "SerializationException"
    assert headers["x-amzn-RequestId"]


def test_wrong_member_type_is_serialization_exception(server):
    status, _, body = post(server.url, "SageMaker.ListProjects", json.dumps({"MaxResults": "ten"}))
    assert status == 400 and body["__type"] == "SerializationException"


def test_unknown_operation(server):
    for target in ["SageMaker.CreateModel", "NoSuchService.Op", "garbage"]:
        status, headers, body = post(server.url, target, "{}")
        assert status == 400, target
        assert body["__type"] == "UnknownOperationException"
        assert headers["x-amzn-ErrorType"] == "UnknownOperationException"


def test_unknown_operation_via_boto3(sm):
    # A real botocore request for an operation this server does not implement.
    code, _, status = error(sm.list_models)
    assert (code, status) == ("UnknownOperationException", 400)


def test_oversized_body_is_refused_without_reading_it(server):
    # Announce a 2 MiB body but send none of it: the answer must come anyway.
    import socket
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
        signature = "".join(f"{k}: {v}\r\n" for k, v in SIGV4.items()).encode()
        s.sendall(b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Amz-Target: SageMaker.DescribeProject\r\n"
                  + signature +
                  b"Content-Type: application/x-amz-json-1.1\r\nContent-Length: 2097152\r\n\r\n")
        data = b""
        while b"\r\n\r\n" not in data or not data.rstrip().endswith(b"}"):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413")
    assert b"x-amzn-requestid" in head.lower()
    assert json.loads(body)["__type"] == "RequestEntityTooLargeException"


def test_server_survives_hostile_requests(server):
    for body in [b"\xff\xfe", b"{" * 10000 + b"}" * 10000, b'{"ProjectName": {"a": [1, 2, null]}}',
                 b'{"Tags": "x", "ResourceArn": 5}', b"null", b"[]"]:
        status, _, resp = post(server.url, "SageMaker.AddTags", body)
        assert status == 400, body[:20]
        assert resp["__type"] in ("SerializationException", "ValidationException")
    status, _, _ = post(server.url, "SageMaker.ListProjects", "{}")
    assert status == 200
