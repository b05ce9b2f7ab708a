"""SSM Parameter Store end to end: boto3 and the AWS CLI against the real binary; the
operations and errors Terraform's aws_ssm_parameter meets (issue #22) are at the end
(Terraform itself: test_ssm_terraform.py)."""
import datetime

import pytest
from botocore.exceptions import ClientError

from conftest import REGION, Server, client, code, failure_code, fixture, message


def test_put_get_overwrite_versions(ssm):
    before = datetime.datetime.now(datetime.timezone.utc)
    out = ssm.put_parameter(Name="/app/db/host", Value="db1", Type="String", Description="host")
    assert out["Version"] == 1
    assert out["Tier"] == "Standard"
    p = ssm.get_parameter(Name="/app/db/host")["Parameter"]
    assert p["Name"] == "/app/db/host"
    assert p["Type"] == "String"
    assert p["Value"] == "db1"
    assert p["Version"] == 1
    assert p["DataType"] == "text"
    assert p["ARN"] == "arn:aws:ssm:us-east-1:000000000000:parameter/app/db/host"
    assert abs((p["LastModifiedDate"] - before).total_seconds()) < 60

    with pytest.raises(ClientError) as e:
        ssm.put_parameter(Name="/app/db/host", Value="db2", Type="String")
    assert code(e) == "ParameterAlreadyExists"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400

    assert ssm.put_parameter(Name="/app/db/host", Value="db2", Overwrite=True)["Version"] == 2
    assert ssm.get_parameter(Name="/app/db/host")["Parameter"]["Value"] == "db2"
    old = ssm.get_parameter(Name="/app/db/host:1")["Parameter"]
    assert (old["Value"], old["Version"], old["Selector"]) == ("db1", 1, ":1")

    assert failure_code(ssm.get_parameter, Name="/app/db/host:5") == "ParameterVersionNotFound"
    assert failure_code(ssm.get_parameter, Name="/app/missing") == "ParameterNotFound"


def test_secure_string_needs_decryption(ssm):
    ssm.put_parameter(Name="/app/secret", Value="hunter2", Type="SecureString")
    sealed = ssm.get_parameter(Name="/app/secret")["Parameter"]
    assert sealed["Type"] == "SecureString"
    assert sealed["Value"] != "hunter2"
    opened = ssm.get_parameter(Name="/app/secret", WithDecryption=True)["Parameter"]
    assert opened["Value"] == "hunter2"


def test_get_parameters_lists_invalid_names(ssm):
    ssm.put_parameter(Name="a", Value="1", Type="String")
    ssm.put_parameter(Name="b", Value="x,y", Type="StringList")
    out = ssm.get_parameters(Names=["a", "nope", "b", "a:9"])
    assert sorted(p["Name"] for p in out["Parameters"]) == ["a", "b"]
    assert sorted(out["InvalidParameters"]) == ["a:9", "nope"]
    assert [p["Value"] for p in out["Parameters"] if p["Name"] == "b"] == ["x,y"]


def test_by_path_recursive_and_paginated(ssm):
    for n in ["/svc/a", "/svc/b", "/svc/c", "/svc/x/deep", "/svcs", "/other"]:
        ssm.put_parameter(Name=n, Value="v", Type="String")
    top = ssm.get_parameters_by_path(Path="/svc")["Parameters"]
    assert [p["Name"] for p in top] == ["/svc/a", "/svc/b", "/svc/c"]

    pages = ssm.get_paginator("get_parameters_by_path").paginate(
        Path="/svc", Recursive=True, PaginationConfig={"PageSize": 2})
    seen, tokens = [], 0
    for page in pages:
        seen += [p["Name"] for p in page["Parameters"]]
        tokens += "NextToken" in page
    assert seen == ["/svc/a", "/svc/b", "/svc/c", "/svc/x/deep"]
    assert tokens >= 1

    only_lists = ssm.get_parameters_by_path(
        Path="/", Recursive=True,
        ParameterFilters=[{"Key": "Type", "Option": "Equals", "Values": ["StringList"]}])
    assert only_lists["Parameters"] == []


def test_delete(ssm):
    ssm.put_parameter(Name="gone", Value="v", Type="String")
    ssm.delete_parameter(Name="gone")
    assert failure_code(ssm.get_parameter, Name="gone") == "ParameterNotFound"
    assert failure_code(ssm.delete_parameter, Name="gone") == "ParameterNotFound"


def test_validation_errors_in_aws_wording(ssm, ssm_raw):
    with pytest.raises(ClientError) as e:
        ssm.put_parameter(Name="new", Value="v")
    assert code(e) == "ValidationException"
    assert message(e) == "A parameter type is required when you create a parameter."

    with pytest.raises(ClientError) as e:
        ssm_raw.put_parameter(Name="x", Value="v", Type="Text")
    assert code(e) == "ValidationException"
    assert message(e).startswith("1 validation error detected: Value 'Text' at 'type' failed to satisfy constraint: Member must satisfy enum value set:")

    with pytest.raises(ClientError) as e:
        ssm_raw.get_parameters_by_path(Path="/", MaxResults=50)
    assert code(e) == "ValidationException"
    assert "less than or equal to 10" in message(e)

    assert failure_code(
        ssm.put_parameter, Name="/aws/reserved", Value="v", Type="String",
    ) == "ValidationException"

    with pytest.raises(ClientError) as e:
        ssm.put_parameter(Name="Dev MySQL DB", Value="v", Type="String")
    assert message(e) == (
        "Parameter name: can't be prefixed with \"ssm\" (case-insensitive). If formed as a path, "
        "it can consist of sub-paths divided by slash symbol; each sub-path can be formed as a mix "
        "of letters, numbers and the following 3 symbols .-_")

    with pytest.raises(ClientError) as e:
        ssm.get_parameters_by_path(Path="no-slash")
    assert code(e) == "ValidationException"
    assert message(e).startswith("The parameter doesn't meet the parameter name requirements. "
                                 "The parameter name must begin with a forward slash")

    assert failure_code(
        ssm.put_parameter, Name="p", Value="abc", Type="String", AllowedPattern=r"^\d+$",
    ) == "ParameterPatternMismatchException"

    assert failure_code(
        ssm.put_parameter, Name="p", Value="v", Type="String", Overwrite=True,
        Tags=[{"Key": "k", "Value": "v"}],
    ) == "ValidationException"

    deep = "/" + "/".join(["l"] * 16)
    assert failure_code(
        ssm.put_parameter, Name=deep, Value="v", Type="String",
    ) == "HierarchyLevelLimitExceededException"


@pytest.mark.durable_only("restarts the server on its data directory")
def test_parameters_survive_restart(data_dir):
    s = Server(data_dir).start()
    try:
        c = client("ssm", s.url)
        c.put_parameter(Name="/keep", Value="v1", Type="String")
        c.put_parameter(Name="/keep", Value="v2", Type="String", Overwrite=True)
    finally:
        s.kill9()
    s = Server(data_dir).start()
    try:
        c = client("ssm", s.url)
        assert c.get_parameter(Name="/keep")["Parameter"]["Value"] == "v2"
        assert c.get_parameter(Name="/keep:1")["Parameter"]["Value"] == "v1"
    finally:
        s.stop()


def test_aws_cli(aws):
    rc, out, err = aws("put-parameter", "--name", "/cli/p", "--value", "a,b",
                       "--type", "StringList", service="ssm")
    assert rc == 0, err
    assert out["Version"] == 1
    rc, out, err = aws("get-parameter", "--name", "/cli/p", service="ssm")
    assert rc == 0, err
    assert out["Parameter"]["Value"] == "a,b"
    rc, out, err = aws("get-parameters-by-path", "--path", "/cli", service="ssm")
    assert rc == 0, err
    assert [p["Name"] for p in out["Parameters"]] == ["/cli/p"]
    rc, out, err = aws("put-parameter", "--name", "/cli/p", "--value", "x",
                       "--type", "String", service="ssm")
    assert rc != 0
    assert "ParameterAlreadyExists" in err
    rc, out, err = aws("delete-parameter", "--name", "/cli/p", service="ssm")
    assert rc == 0, err
    rc, out, err = aws("get-parameter", "--name", "/cli/p", service="ssm")
    assert rc != 0
    assert "ParameterNotFound" in err


STACK_TEMPLATE = fixture("ssm-stack.yaml")


def test_stack_parameters_are_real_and_templates_read_ssm(server, ssm):
    ssm.put_parameter(Name="/config/base", Value="one", Type="String")
    ssm.put_parameter(Name="/config/base", Value="two", Type="String", Overwrite=True)
    cfn = client("cloudformation", server.url)
    cfn.create_stack(StackName="ssm-stack", TemplateBody=STACK_TEMPLATE)
    cfn.get_waiter("stack_create_complete").wait(
        StackName="ssm-stack", WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    outputs = {o["OutputKey"]: o["OutputValue"]
               for o in cfn.describe_stacks(StackName="ssm-stack")["Stacks"][0]["Outputs"]}
    assert ssm.get_parameter(Name="/stack/named")["Parameter"]["Value"] == "two-one"
    generated = outputs["GeneratedRef"]
    assert generated.startswith("CFN-Generated-") and len(generated) == len("CFN-Generated-") + 12
    assert outputs["GeneratedValue"] == "a,b"
    assert ssm.get_parameter(Name=generated)["Parameter"]["Type"] == "StringList"

    cfn.delete_stack(StackName="ssm-stack")
    cfn.get_waiter("stack_delete_complete").wait(
        StackName="ssm-stack", WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    out = ssm.get_parameters(Names=["/stack/named", generated, "/config/base"])
    assert sorted(out["InvalidParameters"]) == sorted(["/stack/named", generated])


# ---- what Terraform's aws_ssm_parameter calls (issue #22) ---------------------------

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
