"""SSM Parameter Store as Terraform's aws_ssm_parameter uses it (issue #22): the requests
hashicorp/aws 5.100.0 sends (PutParameter with an empty AllowedPattern, DescribeParameters
with a Name filter, the tag operations), each operation and error through boto3, then
Terraform itself: apply, a plan with no changes, an update, destroy, checked through
boto3 at every step."""
import pytest
from botocore.exceptions import ClientError

import terraform_kit
from conftest import REGION, code, message

ACCOUNT = "000000000000"
TAGS_AND_OVERWRITE = (
    "Invalid request: tags and overwrite can't be used together. To create a parameter with "
    "tags, please remove overwrite flag. To update tags for an existing parameter, please use "
    "AddTagsToResource or RemoveTagsFromResource.")


def names(page):
    return [p["Name"] for p in page["Parameters"]]


def describe(ssm, *filters, **kw):
    return names(ssm.describe_parameters(ParameterFilters=list(filters), **kw))


def error(call, **kw):
    with pytest.raises(ClientError) as e:
        call(**kw)
    return code(e), message(e)


# ---- the provider's own requests ---------------------------------------------------


def test_terraforms_put_and_metadata_read(ssm):
    # PutParameter exactly as the provider sends it on create: an empty AllowedPattern
    # (no pattern), Overwrite false, the tags.
    out = ssm.put_parameter(Name="/tf/db", Value="one", Type="String", AllowedPattern="",
                            Overwrite=False, Description="the db",
                            Tags=[{"Key": "env", "Value": "dev"}])
    assert (out["Version"], out["Tier"]) == (1, "Standard")
    page = ssm.describe_parameters(
        ParameterFilters=[{"Key": "Name", "Option": "Equals", "Values": ["/tf/db"]}])
    assert "NextToken" not in page
    [meta] = page["Parameters"]
    modified = meta.pop("LastModifiedDate")
    assert modified.year >= 2024
    assert meta == {
        "Name": "/tf/db",
        "ARN": f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/tf/db",
        "Type": "String",
        "Description": "the db",
        # The caller: under --auth none a key nobody created acts as its account's root.
        "LastModifiedUser": f"arn:aws:iam::{ACCOUNT}:root",
        "Version": 1,
        "Tier": "Standard",
        "Policies": [],
        "DataType": "text",
    }
    assert "AllowedPattern" not in meta, "an empty pattern is none"
    assert ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId="/tf/db")["TagList"] == [
        {"Key": "env", "Value": "dev"}]

    # The update: Overwrite with no tags keeps the tags and the description.
    out = ssm.put_parameter(Name="/tf/db", Value="two", Type="String", AllowedPattern="",
                            Overwrite=True, Tier="Standard")
    assert out["Version"] == 2
    [meta] = ssm.describe_parameters(
        ParameterFilters=[{"Key": "Name", "Option": "Equals", "Values": ["/tf/db"]}])["Parameters"]
    assert (meta["Version"], meta["Description"]) == (2, "the db")
    assert ssm.get_parameter(Name="/tf/db")["Parameter"]["Value"] == "two"

    # A pattern that is there is still enforced.
    assert error(ssm.put_parameter, Name="/tf/n", Value="abc", Type="String",
                 AllowedPattern=r"^\d+$")[0] == "ParameterPatternMismatchException"
    ssm.put_parameter(Name="/tf/n", Value="123", Type="String", AllowedPattern=r"^\d+$")
    [meta] = ssm.describe_parameters(
        ParameterFilters=[{"Key": "Name", "Values": ["/tf/n"]}])["Parameters"]
    assert meta["AllowedPattern"] == r"^\d+$"


def test_tags_and_overwrite_cannot_be_combined(ssm):
    ssm.put_parameter(Name="p", Value="v", Type="String")
    assert error(ssm.put_parameter, Name="p", Value="w", Type="String", Overwrite=True,
                 Tags=[{"Key": "k", "Value": "v"}]) == ("ValidationException", TAGS_AND_OVERWRITE)
    assert ssm.get_parameter(Name="p")["Parameter"]["Version"] == 1


def test_secure_strings_name_their_key(ssm):
    ssm.put_parameter(Name="/s/default", Value="x", Type="SecureString")
    ssm.put_parameter(Name="/s/own", Value="x", Type="SecureString", KeyId="alias/mine")
    ssm.put_parameter(Name="/s/plain", Value="x", Type="String")
    metas = {m["Name"]: m for m in ssm.describe_parameters()["Parameters"]}
    assert metas["/s/default"]["KeyId"] == "alias/aws/ssm"
    assert metas["/s/own"]["KeyId"] == "alias/mine"
    assert "KeyId" not in metas["/s/plain"]


# ---- DescribeParameters ------------------------------------------------------------


@pytest.fixture
def seeded(ssm):
    for name, kind in [("/app/a", "String"), ("/app/b", "SecureString"), ("/app/x/y", "StringList"),
                       ("/other", "String"), ("top", "String")]:
        ssm.put_parameter(Name=name, Value="v", Type=kind)
    ssm.put_parameter(Name="/big", Value="x" * 5000, Type="String", Tier="Advanced")
    ssm.add_tags_to_resource(ResourceType="Parameter", ResourceId="/app/a",
                             Tags=[{"Key": "team", "Value": "ml"}])
    ssm.add_tags_to_resource(ResourceType="Parameter", ResourceId="/other",
                             Tags=[{"Key": "team", "Value": "platform"}])
    return ssm


def test_describe_filters(seeded):
    ssm = seeded
    every = ["/app/a", "/app/b", "/app/x/y", "/big", "/other", "top"]
    assert names(ssm.describe_parameters()) == every
    assert describe(ssm, {"Key": "Name", "Values": ["/app/b", "/nope", "/app/a"]}) == ["/app/a", "/app/b"]
    assert describe(ssm, {"Key": "Name", "Option": "BeginsWith", "Values": ["/app/"]}) == [
        "/app/a", "/app/b", "/app/x/y"]
    assert describe(ssm, {"Key": "Name", "Option": "Contains", "Values": ["x/"]}) == ["/app/x/y"]
    assert describe(ssm, {"Key": "Type", "Values": ["SecureString", "StringList"]}) == ["/app/b", "/app/x/y"]
    assert describe(ssm, {"Key": "KeyId", "Values": ["alias/aws/ssm"]}) == ["/app/b"]
    assert describe(ssm, {"Key": "Tier", "Values": ["Advanced"]}) == ["/big"]
    assert describe(ssm, {"Key": "DataType", "Values": ["text"]}) == every
    assert describe(ssm, {"Key": "Path", "Values": ["/app"]}) == ["/app/a", "/app/b"]
    assert describe(ssm, {"Key": "Path", "Option": "OneLevel", "Values": ["/app/x/"]}) == ["/app/x/y"]
    assert describe(ssm, {"Key": "Path", "Option": "Recursive", "Values": ["/app"]}) == [
        "/app/a", "/app/b", "/app/x/y"]
    assert describe(ssm, {"Key": "Path", "Values": ["/"]}) == ["/big", "/other", "top"]
    assert describe(ssm, {"Key": "tag:team"}) == ["/app/a", "/other"]
    assert describe(ssm, {"Key": "tag:team", "Values": ["ml"]}) == ["/app/a"]
    assert describe(ssm, {"Key": "tag:team", "Option": "BeginsWith", "Values": ["plat"]}) == ["/other"]
    assert describe(ssm, {"Key": "tag:nobody"}) == []
    # Every filter must match.
    assert describe(ssm, {"Key": "Type", "Values": ["String"]},
                    {"Key": "Path", "Option": "Recursive", "Values": ["/app"]}) == ["/app/a"]
    # The deprecated Filters: Name begins with, Type and KeyId equal.
    assert names(ssm.describe_parameters(Filters=[{"Key": "Name", "Values": ["/app/"]}])) == [
        "/app/a", "/app/b", "/app/x/y"]
    assert names(ssm.describe_parameters(Filters=[{"Key": "Type", "Values": ["SecureString"]}])) == ["/app/b"]
    # Nothing is shared with this account.
    assert ssm.describe_parameters(Shared=True)["Parameters"] == []


def test_describe_pages(seeded):
    ssm = seeded
    pages = list(ssm.get_paginator("describe_parameters").paginate(PaginationConfig={"PageSize": 2}))
    assert [len(p["Parameters"]) for p in pages] == [2, 2, 2]
    assert [n for p in pages for n in names(p)] == ["/app/a", "/app/b", "/app/x/y", "/big", "/other", "top"]
    first = ssm.describe_parameters(MaxResults=1, ParameterFilters=[
        {"Key": "Name", "Values": ["top", "/app/a"]}])
    assert names(first) == ["/app/a"]
    rest = ssm.describe_parameters(MaxResults=1, NextToken=first["NextToken"], ParameterFilters=[
        {"Key": "Name", "Values": ["top", "/app/a"]}])
    assert names(rest) == ["top"] and "NextToken" not in rest
    assert error(ssm.describe_parameters, NextToken="bogus")[0] == "InvalidNextToken"


def test_describe_filter_errors(seeded, ssm_raw):
    ssm = seeded
    cases = [
        ([{"Key": "Label", "Values": ["x"]}], "InvalidFilterKey",
         "The following filter key is not valid: Label. Valid filter keys include: [Path, Name, Type, KeyId, Tier]."),
        ([{"Key": "Name"}], "InvalidFilterValue",
         "The following filter values are missing : null for filter key Name."),
        ([{"Key": "Type", "Values": ["String"]}, {"Key": "Type", "Values": ["StringList"]}], "InvalidFilterKey",
         "The following filter is duplicated in the request: Type. A request can contain only one "
         "occurrence of a specific filter."),
        ([{"Key": "Path", "Option": "Equals", "Values": ["/app"]}], "InvalidFilterOption",
         "The following filter option is not valid: Equals. Valid options include: [Recursive, OneLevel]."),
        ([{"Key": "Type", "Option": "Contains", "Values": ["String"]}], "InvalidFilterOption",
         "The following filter option is not valid: Contains. Valid options include: [BeginsWith, Equals]."),
        ([{"Key": "Type", "Values": ["Text"]}], "InvalidFilterValue",
         "The following filter value is not valid: Text. Valid values include: [String, StringList, SecureString]."),
        ([{"Key": "Tier", "Values": ["Cheap"]}], "InvalidFilterValue",
         "The following filter value is not valid: Cheap. Valid values include: [Standard, Advanced, "
         "Intelligent-Tiering]."),
    ]
    for filters, want_code, want_message in cases:
        assert error(ssm.describe_parameters, ParameterFilters=filters) == (want_code, want_message), filters
    c, m = error(ssm.describe_parameters, ParameterFilters=[{"Key": "Path", "Values": ["/aws/x"]}])
    assert c == "ValidationException" and m.startswith("Filters for common parameters can't be prefixed")
    c, m = error(ssm.describe_parameters, ParameterFilters=[{"Key": "Path", "Values": ["no-slash"]}])
    assert c == "ValidationException" and m.startswith("The parameter doesn't meet the parameter name")
    assert error(ssm.describe_parameters, Filters=[{"Key": "Type", "Values": ["String"]}],
                 ParameterFilters=[{"Key": "Type", "Values": ["String"]}]) == (
        "ValidationException", "You can use either Filters or ParameterFilters in a single request.")
    # What the model refuses (boto3's own validation off): a key outside the pattern (a
    # bare `Tag` is not one: tags are `tag:<key>`), a page of 51.
    c, m = error(ssm_raw.describe_parameters, ParameterFilters=[{"Key": "Tag", "Values": ["x"]}])
    assert c == "ValidationException" and "regular expression pattern" in m
    assert error(ssm_raw.describe_parameters, MaxResults=51)[0] == "ValidationException"
    assert error(ssm_raw.describe_parameters, ParameterFilters=[{"Key": "Name", "Values": []}])[0] == \
        "ValidationException"


def test_by_path_takes_type_keyid_and_label_filters(seeded):
    ssm = seeded
    out = ssm.get_parameters_by_path(Path="/app", Recursive=True, ParameterFilters=[
        {"Key": "KeyId", "Values": ["alias/aws/ssm"]}])
    assert names(out) == ["/app/b"]
    out = ssm.get_parameters_by_path(Path="/app", ParameterFilters=[{"Key": "Label", "Values": ["prod"]}])
    assert names(out) == [], "no parameter carries a label"
    assert error(ssm.get_parameters_by_path, Path="/app", ParameterFilters=[
        {"Key": "Name", "Values": ["/app/a"]}]) == (
        "InvalidFilterKey",
        "The following filter key is not valid: Name. Valid filter keys include: [Type, KeyId, Label].")


# ---- tags, history, DeleteParameters -----------------------------------------------


def test_tags(ssm, ssm_raw):
    ssm.put_parameter(Name="/t", Value="v", Type="String", Tags=[{"Key": "a", "Value": "1"}])
    ssm.add_tags_to_resource(ResourceType="Parameter", ResourceId="/t",
                             Tags=[{"Key": "a", "Value": "2"}, {"Key": "b", "Value": "3"}])
    ssm.remove_tags_from_resource(ResourceType="Parameter", ResourceId="/t", TagKeys=["b", "absent"])
    assert ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId="/t")["TagList"] == [
        {"Key": "a", "Value": "2"}]
    assert ssm.get_parameter(Name="/t")["Parameter"]["Version"] == 1, "tags make no version"
    # A new version keeps them; a re-created parameter starts without.
    ssm.put_parameter(Name="/t", Value="w", Overwrite=True)
    assert ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId="/t")["TagList"] == [
        {"Key": "a", "Value": "2"}]
    ssm.delete_parameter(Name="/t")
    ssm.put_parameter(Name="/t", Value="v", Type="String")
    assert ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId="/t")["TagList"] == []

    missing = dict(ResourceType="Parameter", ResourceId="/nope")
    for call, extra in [(ssm.list_tags_for_resource, {}),
                        (ssm.add_tags_to_resource, {"Tags": [{"Key": "a", "Value": "1"}]}),
                        (ssm.remove_tags_from_resource, {"TagKeys": ["a"]})]:
        assert error(call, **missing, **extra)[0] == "InvalidResourceId"
    # sagestack keeps no other taggable SSM resource: a document id names nothing.
    assert error(ssm.list_tags_for_resource, ResourceType="Document", ResourceId="/t")[0] == "InvalidResourceId"
    assert error(ssm_raw.list_tags_for_resource, ResourceType="Bucket", ResourceId="/t")[0] == \
        "ValidationException"
    many = [{"Key": f"k{i}", "Value": "v"} for i in range(51)]
    assert error(ssm.add_tags_to_resource, ResourceType="Parameter", ResourceId="/t", Tags=many)[0] == \
        "TooManyTagsError"
    assert ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId="/t")["TagList"] == []


def test_parameter_history(ssm, ssm_raw):
    ssm.put_parameter(Name="/h", Value="1", Type="SecureString", Description="first")
    for v in range(2, 6):
        ssm.put_parameter(Name="/h", Value=str(v), Overwrite=True)
    history = ssm.get_parameter_history(Name="/h", WithDecryption=True)["Parameters"]
    assert [(h["Version"], h["Value"]) for h in history] == [(i, str(i)) for i in range(1, 6)]
    assert history[0]["Labels"] == [] and history[0]["Description"] == "first"
    assert history[0]["KeyId"] == "alias/aws/ssm"
    sealed = ssm.get_parameter_history(Name="/h")["Parameters"]
    assert all(h["Value"] != str(h["Version"]) for h in sealed), "SecureStrings stay sealed"
    pages = list(ssm.get_paginator("get_parameter_history").paginate(
        Name="/h", PaginationConfig={"PageSize": 2}))
    assert [[h["Version"] for h in p["Parameters"]] for p in pages] == [[1, 2], [3, 4], [5]]
    assert error(ssm.get_parameter_history, Name="/nope")[0] == "ParameterNotFound"
    assert error(ssm_raw.get_parameter_history, Name="/h", MaxResults=51)[0] == "ValidationException"


def test_delete_parameters(ssm):
    ssm.put_parameter(Name="a", Value="v", Type="String")
    ssm.put_parameter(Name="b", Value="v", Type="String")
    out = ssm.delete_parameters(Names=["a", "nope", "b"])
    assert (out["DeletedParameters"], out["InvalidParameters"]) == (["a", "b"], ["nope"])
    assert ssm.describe_parameters()["Parameters"] == []


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
