"""SSM Parameter Store end to end: boto3 and the AWS CLI against the real binary."""
import datetime

import pytest
from botocore.exceptions import ClientError

from conftest import Server, client, code, failure_code, fixture, message


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
