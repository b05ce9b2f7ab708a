"""Lambda end to end: functions created with boto3 and the AWS CLI, run as real local
processes (our Python and Node.js runtimes, a `provided` bootstrap), invoked every way
Lambda allows, with their errors, timeouts and logs; a function that calls this server's
SageMaker and S3 through boto3 inside it."""
import base64
import io
import json
import os
import shutil
import stat
import sys
import time
import zipfile

import pytest
from botocore.exceptions import ClientError

from conftest import Server, aws_cli, aws_logs_tail, client, code, message, wait_for_log

ROLE = "arn:aws:iam::000000000000:role/lambda"
# CI runs the Node.js tests: the README lists node among what the test suite needs.
NODE = shutil.which("node")


def zip_of(files, modes=None):
    """A zip holding `files` ({name: text}); `modes` gives Unix modes by name."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, text in files.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = ((modes or {}).get(name, 0o644) | stat.S_IFREG) << 16
            z.writestr(info, text)
    return buf.getvalue()


APP = """
import json, os, time
print("init", os.environ["AWS_LAMBDA_FUNCTION_NAME"])

def handler(event, context):
    print("event", json.dumps(event))
    return {"echo": event, "name": context.function_name, "version": context.function_version,
            "left": context.get_remaining_time_in_millis(), "env": os.environ.get("COLOR"),
            "region": os.environ["AWS_REGION"], "request": context.aws_request_id}

def boom(event, context):
    raise ValueError("nope: " + str(event.get("why")))

def slow(event, context):
    print("sleeping")
    time.sleep(event.get("seconds", 5))
    return "woke"

def crash(event, context):
    os._exit(3)

def calls_aws(event, context):
    import boto3
    sm = boto3.client("sagemaker")
    sm.create_model_package_group(ModelPackageGroupName=event["group"])
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=event["bucket"])
    s3.put_object(Bucket=event["bucket"], Key="from-lambda", Body=b"hi")
    return sm.describe_model_package_group(ModelPackageGroupName=event["group"])["ModelPackageGroupArn"]
"""


@pytest.fixture
def lam(lambda_server):
    return client("lambda", lambda_server.url)


def create(lam, name, handler="app.handler", runtime="python3.12", files=None, **extra):
    return lam.create_function(
        FunctionName=name, Runtime=runtime, Role=ROLE, Handler=handler,
        Code={"ZipFile": zip_of(files or {"app.py": APP})}, **extra)


def invoke(lam, name, event=None, **kwargs):
    out = lam.invoke(FunctionName=name, Payload=json.dumps(event or {}), **kwargs)
    return out, json.loads(out["Payload"].read() or b"null")


def test_create_get_list_update_delete(lam):
    made = create(lam, "crud", Environment={"Variables": {"COLOR": "red"}}, Timeout=7)
    assert made["FunctionArn"] == "arn:aws:lambda:us-east-1:000000000000:function:crud"
    assert made["State"] == "Active" and made["Version"] == "$LATEST"
    assert made["Timeout"] == 7 and made["MemorySize"] == 128
    digest = base64.b64decode(made["CodeSha256"])
    assert len(digest) == 32
    got = lam.get_function(FunctionName="crud")
    assert got["Configuration"]["Environment"]["Variables"] == {"COLOR": "red"}
    import urllib.error
    import urllib.request
    with urllib.request.urlopen(got["Code"]["Location"]) as r:
        assert zipfile.ZipFile(io.BytesIO(r.read())).read("app.py").decode() == APP
    # The location is signed, as AWS's presigned one: the bare path, or a forged
    # signature, is refused.
    bare = got["Code"]["Location"].split("?")[0]
    forged = got["Code"]["Location"][:-4] + "0000"
    for url in (bare, forged):
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(url)
        assert e.value.code == 403
    for i in range(3):
        create(lam, f"page-{i}")
    # botocore's paginator follows NextMarker with Marker, two functions a page.
    pages = list(lam.get_paginator("list_functions").paginate(PaginationConfig={"PageSize": 2}))
    assert len(pages) == 2 and all(len(p["Functions"]) == 2 for p in pages)
    names = [f["FunctionName"] for page in pages for f in page["Functions"]]
    assert sorted(names) == ["crud", "page-0", "page-1", "page-2"]
    updated = lam.update_function_configuration(FunctionName="crud", MemorySize=256)
    assert updated["MemorySize"] == 256 and updated["RevisionId"] != made["RevisionId"]
    with pytest.raises(ClientError) as e:
        lam.update_function_configuration(FunctionName="crud", Timeout=3, RevisionId=made["RevisionId"])
    assert code(e) == "PreconditionFailedException"
    lam.delete_function(FunctionName="crud")
    with pytest.raises(ClientError) as e:
        lam.get_function(FunctionName="crud")
    assert code(e) == "ResourceNotFoundException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert "Function not found: arn:aws:lambda:us-east-1:000000000000:function:crud" in str(e.value)


def test_refusals_use_lambdas_codes(lambda_server, lam):
    create(lam, "dup")
    with pytest.raises(ClientError) as e:
        create(lam, "dup")
    assert code(e) == "ResourceConflictException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    with pytest.raises(ClientError) as e:
        lam.create_function(FunctionName="bad", Runtime="python3.12", Role=ROLE,
                            Handler="app.handler", Code={"ZipFile": b"not a zip"})
    assert code(e) == "InvalidParameterValueException"
    assert "Could not unzip uploaded file" in str(e.value)
    with pytest.raises(ClientError) as e:
        create(lam, "escape", files={"../evil.py": "x"})
    assert code(e) == "InvalidParameterValueException" and "outside the package" in str(e.value)
    raw = client("lambda", lambda_server.url, validate=False)
    with pytest.raises(ClientError) as e:
        raw.create_function(FunctionName="bad name!", Runtime="python3.12", Role=ROLE,
                            Handler="app.handler", Code={"ZipFile": zip_of({"app.py": APP})})
    assert code(e) == "ValidationException"
    assert "at 'functionName' failed to satisfy constraint" in str(e.value)
    with pytest.raises(ClientError) as e:
        create(lam, "t", Timeout=901)
    assert code(e) == "ValidationException"


def test_invoke_sync_tail_async_and_dry_run(lambda_server, lam):
    create(lam, "echo", Environment={"Variables": {"COLOR": "blue"}})
    out, body = invoke(lam, "echo", {"a": 1}, LogType="Tail")
    assert out["StatusCode"] == 200 and "FunctionError" not in out
    assert out["ExecutedVersion"] == "$LATEST"
    assert body["echo"] == {"a": 1} and body["name"] == "echo" and body["env"] == "blue"
    assert body["region"] == "us-east-1" and 0 < body["left"] <= 3000
    log = base64.b64decode(out["LogResult"]).decode()
    assert f"START RequestId: {body['request']} Version: $LATEST" in log
    assert 'event {"a": 1}' in log and "REPORT RequestId:" in log and "Init Duration" in log
    # Warm: the same worker, no init.
    out, body2 = invoke(lam, "echo", {"a": 2}, LogType="Tail")
    assert "Init Duration" not in base64.b64decode(out["LogResult"]).decode()
    assert body2["request"] != body["request"]
    # The log is in CloudWatch Logs, one stream per worker, as on AWS.
    logs = client("logs", lambda_server.url)
    [stream] = logs.describe_log_streams(logGroupName="/aws/lambda/echo")["logStreams"]
    assert "[$LATEST]" in stream["logStreamName"]
    messages = [e["message"] for e in logs.filter_log_events(logGroupName="/aws/lambda/echo")["events"]]
    assert "init echo" in messages and 'event {"a": 2}' in messages
    assert sum(m.startswith("REPORT RequestId:") for m in messages) == 2
    assert lam.invoke(FunctionName="echo", InvocationType="DryRun")["StatusCode"] == 204
    assert lam.invoke(FunctionName="echo", InvocationType="Event", Payload=b"{}")["StatusCode"] == 202
    with pytest.raises(ClientError) as e:
        lam.invoke(FunctionName="missing", Payload=b"{}")
    assert code(e) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as e:
        lam.invoke(FunctionName="echo", Payload=b"{not json")
    assert code(e) == "InvalidRequestContentException"


def test_handler_errors_timeouts_and_crashes(lam):
    create(lam, "boom", handler="app.boom")
    out, body = invoke(lam, "boom", {"why": "testing"})
    assert out["FunctionError"] == "Unhandled"
    assert body["errorType"] == "ValueError" and body["errorMessage"] == "nope: testing"
    assert "app.py" in "".join(body["stackTrace"]) and "bootstrap" not in "".join(body["stackTrace"])
    create(lam, "slow", handler="app.slow", Timeout=1)
    started = time.monotonic()
    out, body = invoke(lam, "slow", {"seconds": 5}, LogType="Tail")
    assert time.monotonic() - started < 3
    assert out["FunctionError"] == "Unhandled" and body["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in body["errorMessage"]
    log = base64.b64decode(out["LogResult"]).decode()
    assert "sleeping" in log and "Task timed out after 1.00 seconds" in log
    # The timed-out worker was killed; the next invocation starts a fresh one.
    out, body = invoke(lam, "slow", {"seconds": 0})
    assert body == "woke"
    create(lam, "crash", handler="app.crash")
    out, body = invoke(lam, "crash")
    assert body["errorType"] == "Runtime.ExitError" and "exit status 3" in body["errorMessage"]
    create(lam, "nomodule", handler="missing.handler")
    out, body = invoke(lam, "nomodule")
    assert body["errorType"] == "Runtime.ImportModuleError"
    assert "Unable to import module 'missing'" in body["errorMessage"]


def test_update_code_runs_the_new_code_at_once(lam):
    create(lam, "versions")
    assert invoke(lam, "versions", {"x": 1})[1]["echo"] == {"x": 1}
    lam.update_function_code(FunctionName="versions",
                             ZipFile=zip_of({"app.py": "def handler(e, c):\n    return 'v2'\n"}))
    assert invoke(lam, "versions")[1] == "v2"
    v1 = lam.publish_version(FunctionName="versions", Description="first")
    assert v1["Version"] == "1" and v1["FunctionArn"].endswith(":versions:1")
    lam.update_function_code(FunctionName="versions",
                             ZipFile=zip_of({"app.py": "def handler(e, c):\n    return 'v3'\n"}))
    alias = lam.create_alias(FunctionName="versions", Name="live", FunctionVersion="1")
    assert alias["AliasArn"].endswith(":versions:live")
    assert invoke(lam, "versions")[1] == "v3"
    out, body = invoke(lam, "versions:live")
    assert body == "v2" and out["ExecutedVersion"] == "1"
    assert invoke(lam, "versions", Qualifier="1")[1] == "v2"
    assert [v["Version"] for v in lam.list_versions_by_function(FunctionName="versions")["Versions"]] == ["$LATEST", "1"]
    with pytest.raises(ClientError) as e:
        lam.delete_function(FunctionName="versions", Qualifier="1")
    assert code(e) == "ResourceConflictException"


def test_permissions_and_tags(lam):
    arn = create(lam, "perm", Tags={"team": "ml"})["FunctionArn"]
    added = lam.add_permission(FunctionName="perm", StatementId="s3", Action="lambda:InvokeFunction",
                               Principal="s3.amazonaws.com", SourceArn="arn:aws:s3:::b")
    assert json.loads(added["Statement"])["Principal"] == {"Service": "s3.amazonaws.com"}
    with pytest.raises(ClientError) as e:
        lam.add_permission(FunctionName="perm", StatementId="s3", Action="lambda:InvokeFunction",
                           Principal="s3.amazonaws.com")
    assert code(e) == "ResourceConflictException"
    policy = json.loads(lam.get_policy(FunctionName="perm")["Policy"])
    assert [s["Sid"] for s in policy["Statement"]] == ["s3"]
    lam.remove_permission(FunctionName="perm", StatementId="s3")
    with pytest.raises(ClientError) as e:
        lam.get_policy(FunctionName="perm")
    assert code(e) == "ResourceNotFoundException"
    lam.tag_resource(Resource=arn, Tags={"stage": "dev"})
    assert lam.list_tags(Resource=arn)["Tags"] == {"team": "ml", "stage": "dev"}
    lam.untag_resource(Resource=arn, TagKeys=["team"])
    assert lam.list_tags(Resource=arn)["Tags"] == {"stage": "dev"}


def test_a_function_calls_this_servers_apis_through_boto3(lambda_server, lam):
    create(lam, "caller", handler="app.calls_aws", Timeout=30)
    out, body = invoke(lam, "caller", {"group": "from-lambda", "bucket": "lambda-bucket"})
    assert "FunctionError" not in out, body
    assert body.endswith(":model-package-group/from-lambda")
    sm = client("sagemaker", lambda_server.url)
    assert sm.describe_model_package_group(ModelPackageGroupName="from-lambda")["ModelPackageGroupName"] == "from-lambda"
    s3 = client("s3", lambda_server.url, s3={"addressing_style": "path"})
    assert s3.get_object(Bucket="lambda-bucket", Key="from-lambda")["Body"].read() == b"hi"


def test_provided_runtime_runs_the_packages_bootstrap(lam):
    bootstrap = f"""#!{sys.executable}
import json, os, urllib.request
api = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime/invocation/"
while True:
    with urllib.request.urlopen(api + "next") as r:
        rid = r.headers["Lambda-Runtime-Aws-Request-Id"]
        event = json.loads(r.read())
    body = json.dumps({{"got": event, "handler": os.environ["_HANDLER"]}}).encode()
    urllib.request.urlopen(urllib.request.Request(api + rid + "/response", data=body, method="POST")).read()
"""
    lam.create_function(FunctionName="custom-rt", Runtime="provided.al2023", Role=ROLE,
                        Handler="whatever", Code={"ZipFile": zip_of({"bootstrap": bootstrap}, {"bootstrap": 0o755})})
    out, body = invoke(lam, "custom-rt", {"k": "v"})
    assert body == {"got": {"k": "v"}, "handler": "whatever"}


def test_unrunnable_runtimes_fail_clearly(data_dir):
    s = Server(data_dir, extra_env={"SAGESTACK_LAMBDA_PYTHON": "/nonexistent/python3"}).start()
    try:
        lam = client("lambda", s.url)
        create(lam, "nopython")
        out, body = invoke(lam, "nopython")
        assert out["FunctionError"] == "Unhandled"
        assert body["errorType"] == "Runtime.Unavailable" and "/nonexistent/python3" in body["errorMessage"]
        lam.create_function(FunctionName="java", Runtime="java21", Role=ROLE, Handler="a::b",
                            Code={"ZipFile": zip_of({"A.class": "x"})})
        out, body = invoke(lam, "java")
        assert "cannot run the runtime java21" in body["errorMessage"]
    finally:
        s.stop()


@pytest.mark.skipif(NODE is None and os.environ.get("CI") != "true", reason="node is not on PATH")
def test_nodejs_functions(lam):
    source = """
exports.handler = async (event, context) => {
  console.log("node got", JSON.stringify(event));
  return { echo: event, name: context.functionName, left: context.getRemainingTimeInMillis() > 0 };
};
exports.fails = async () => { throw new TypeError("bad input"); };
exports.callback = (event, context, callback) => callback(null, "called back");
"""
    create(lam, "node", runtime="nodejs20.x", handler="index.handler", files={"index.js": source})
    out, body = invoke(lam, "node", {"n": 1}, LogType="Tail")
    assert body == {"echo": {"n": 1}, "name": "node", "left": True}
    assert "node got" in base64.b64decode(out["LogResult"]).decode()
    create(lam, "node-fails", runtime="nodejs20.x", handler="index.fails", files={"index.js": source})
    out, body = invoke(lam, "node-fails")
    assert out["FunctionError"] == "Unhandled" and body["errorType"] == "TypeError"
    create(lam, "node-cb", runtime="nodejs20.x", handler="index.callback", files={"index.js": source})
    assert invoke(lam, "node-cb")[1] == "called back"


def test_aws_cli_creates_and_invokes(lambda_server, tmp_path):
    package = tmp_path / "fn.zip"
    package.write_bytes(zip_of({"app.py": APP}))
    rc, out, err = aws_cli(lambda_server.url, "lambda", "create-function", "--function-name", "cli",
                           "--runtime", "python3.12", "--role", ROLE, "--handler", "app.handler",
                           "--zip-file", f"fileb://{package}")
    assert rc == 0, err
    result = tmp_path / "out.json"
    # The CLI of tests/py/requirements.txt (v1) sends --payload as given.
    rc, out, err = aws_cli(lambda_server.url, "lambda", "invoke", "--function-name", "cli",
                           "--payload", '{"via": "cli"}', str(result))
    assert rc == 0, err
    assert json.loads(out)["StatusCode"] == 200
    assert json.loads(result.read_text())["echo"] == {"via": "cli"}


def test_aws_logs_tail_shows_a_functions_log(lambda_server, lam):
    create(lam, "tailed")
    invoke(lam, "tailed", {"tail": "me"})
    rc, out, err = aws_logs_tail(lambda_server.url, "/aws/lambda/tailed")
    assert rc == 0, err
    assert 'event {"tail": "me"}' in out and "REPORT RequestId:" in out, out


def test_a_bucket_named_like_lambdas_path_stays_s3(lambda_server, lam):
    # `2015-03-31` is a valid bucket name: the SigV4 scope (s3 or lambda) routes.
    s3 = client("s3", lambda_server.url, s3={"addressing_style": "path"})
    s3.create_bucket(Bucket="2015-03-31")
    s3.put_object(Bucket="2015-03-31", Key="functions", Body=b"not a function")
    assert s3.get_object(Bucket="2015-03-31", Key="functions")["Body"].read() == b"not a function"
    assert lam.list_functions()["Functions"] == []


def test_oversized_responses_and_output_are_bounded(lambda_server, lam):
    source = """
import sys
def big(event, context):
    return "x" * (7 * 1024 * 1024)
def chatty(event, context):
    sys.stdout.write("y" * (3 * 1024 * 1024))  # one line, no newline
    print()
    print("after")
    return "ok"
"""
    create(lam, "big", handler="app.big", files={"app.py": source}, MemorySize=512)
    out, body = invoke(lam, "big")
    assert out["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Function.ResponseSizeTooLarge"
    create(lam, "chatty", handler="app.chatty", files={"app.py": source})
    out, body = invoke(lam, "chatty", LogType="Tail")
    assert body == "ok"
    log = base64.b64decode(out["LogResult"]).decode()
    assert "after" in log
    # The 3 MB line was cut to CloudWatch Logs' 256 KB event limit.
    logs = client("logs", lambda_server.url)
    sizes = [len(e["message"]) for e in logs.filter_log_events(logGroupName="/aws/lambda/chatty")["events"]]
    assert max(sizes) <= 256 * 1024, max(sizes)


# ---- what Terraform's aws_lambda_function and aws_lambda_permission call (#22) -------

ACCOUNT = "000000000000"
REGION = "us-east-1"
KMS_KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def fn_arn(name):
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"


def error(call, **kw):
    """The (code, message) of a call that must fail."""
    with pytest.raises(ClientError) as e:
        call(**kw)
    return code(e), message(e)


def test_code_signing_config_is_none(lam):
    create(lam, "f")
    out = lam.get_function_code_signing_config(FunctionName="f")
    out.pop("ResponseMetadata")
    assert out == {"CodeSigningConfigArn": "", "FunctionName": "f"}
    assert error(lam.get_function_code_signing_config, FunctionName="nope") == (
        "ResourceNotFoundException", f"Function not found: {fn_arn('nope')}")
    csc = f"arn:aws:lambda:{REGION}:{ACCOUNT}:code-signing-config:csc-0123456789abcdefg"
    got = error(create, lam=lam, name="g", CodeSigningConfigArn=csc)
    assert got[0] == "CodeSigningConfigNotFoundException"
    assert csc in got[1]


def test_reserved_concurrency(lambda_server, lam):
    lam_raw = client("lambda", lambda_server.url, validate=False)
    create(lam, "a")
    create(lam, "b")
    assert "ReservedConcurrentExecutions" not in lam.get_function_concurrency(FunctionName="a")
    assert "Concurrency" not in lam.get_function(FunctionName="a")
    out = lam.put_function_concurrency(FunctionName="a", ReservedConcurrentExecutions=600)
    assert out["ReservedConcurrentExecutions"] == 600
    assert lam.get_function_concurrency(FunctionName="a")["ReservedConcurrentExecutions"] == 600
    assert lam.get_function(FunctionName="a")["Concurrency"] == {"ReservedConcurrentExecutions": 600}
    # The account's 1,000 less 100 that stay unreserved: 600 + 301 is one too many.
    assert error(lam.put_function_concurrency, FunctionName="b", ReservedConcurrentExecutions=301) == (
        "InvalidParameterValueException",
        "Specified ReservedConcurrentExecutions for function decreases account's "
        "UnreservedConcurrentExecution below its minimum value of [100].")
    lam.put_function_concurrency(FunctionName="b", ReservedConcurrentExecutions=300)
    got = error(lam_raw.put_function_concurrency, FunctionName="b", ReservedConcurrentExecutions=-1)
    assert got[0] == "ValidationException" and "reservedConcurrentExecutions" in got[1], got
    assert error(lam.put_function_concurrency, FunctionName="nope",
                 ReservedConcurrentExecutions=1)[0] == "ResourceNotFoundException"
    lam.delete_function_concurrency(FunctionName="a")
    assert "ReservedConcurrentExecutions" not in lam.get_function_concurrency(FunctionName="a")
    assert "Concurrency" not in lam.get_function(FunctionName="a")


def test_logging_config_and_the_log_group_a_function_writes_to(lambda_server, lam):
    logs = client("logs", lambda_server.url)
    out = create(lam, "f")
    assert out["LoggingConfig"] == {"LogFormat": "Text", "LogGroup": "/aws/lambda/f"}
    out = lam.update_function_configuration(
        FunctionName="f", LoggingConfig={"LogFormat": "JSON", "LogGroup": "/custom/f"})
    assert out["LoggingConfig"] == {"LogFormat": "JSON", "ApplicationLogLevel": "INFO",
                                    "SystemLogLevel": "INFO", "LogGroup": "/custom/f"}
    lam.invoke(FunctionName="f", Payload=json.dumps({"hello": "custom"}))
    assert any("custom" in m for m in wait_for_log(logs, "/custom/f", "END RequestId"))
    got = error(lam.update_function_configuration, FunctionName="f",
                LoggingConfig={"LogFormat": "Text", "ApplicationLogLevel": "DEBUG"})
    assert got == ("InvalidParameterValueException",
                   'LogLevel is not supported when LogFormat is set to "Text". Remove LogLevel '
                   'from your request or change the LogFormat to "Json" and try again.')


def test_dead_letter_and_kms_are_recorded_what_cannot_run_here_is_refused(lam):
    dlq = f"arn:aws:sqs:{REGION}:{ACCOUNT}:dlq"
    out = create(lam, "f", DeadLetterConfig={"TargetArn": dlq}, KMSKeyArn=KMS_KEY,
                          VpcConfig={"SubnetIds": [], "SecurityGroupIds": []})
    assert (out["DeadLetterConfig"], out["KMSKeyArn"]) == ({"TargetArn": dlq}, KMS_KEY)
    config = lam.get_function_configuration(FunctionName="f")
    assert (config["DeadLetterConfig"], config["KMSKeyArn"]) == ({"TargetArn": dlq}, KMS_KEY)
    # Terraform removes them with empty values.
    out = lam.update_function_configuration(FunctionName="f", DeadLetterConfig={"TargetArn": ""},
                                            KMSKeyArn="")
    assert "DeadLetterConfig" not in out and "KMSKeyArn" not in out
    for kw, what in (({"VpcConfig": {"SubnetIds": ["subnet-1"]}}, "VpcConfig (VPC networking)"),
                     ({"FileSystemConfigs": [{"Arn": f"arn:aws:elasticfilesystem:{REGION}:{ACCOUNT}:access-point/fsap-0123456789abcdef0",
                                              "LocalMountPath": "/mnt/efs"}]},
                      "FileSystemConfigs (Amazon EFS)"),
                     ({"SnapStart": {"ApplyOn": "PublishedVersions"}}, "SnapStart")):
        assert error(lam.update_function_configuration, FunctionName="f", **kw) == (
            "InvalidParameterValueException",
            f"sagestack runs functions as local processes: {what} is not supported")


def test_a_version_is_published_when_any_configuration_changed(lam):
    assert create(lam, "f", Publish=True)["Version"] == "1"
    assert lam.publish_version(FunctionName="f")["Version"] == "1"
    lam.update_function_configuration(FunctionName="f", LoggingConfig={"LogFormat": "JSON"})
    assert lam.publish_version(FunctionName="f")["Version"] == "2"
    lam.update_function_configuration(FunctionName="f", Description="new")
    out = lam.publish_version(FunctionName="f", Description="release 3")
    assert (out["Version"], out["Description"]) == ("3", "release 3")
    assert lam.publish_version(FunctionName="f")["Version"] == "3"


def test_a_version_or_alias_has_a_policy_of_its_own(lam):
    create(lam, "f", Publish=True)
    lam.create_alias(FunctionName="f", Name="live", FunctionVersion="1")
    permission = dict(StatementId="s", Action="lambda:InvokeFunction",
                      Principal="events.amazonaws.com")
    lam.add_permission(FunctionName="f", **permission)
    lam.add_permission(FunctionName="f", Qualifier="live", **permission)
    assert error(lam.add_permission, FunctionName="f:live", **permission)[0] == (
        "ResourceConflictException")

    def resources(**kw):
        policy = json.loads(lam.get_policy(**kw)["Policy"])
        return [st["Resource"] for st in policy["Statement"]]

    assert resources(FunctionName="f") == [fn_arn("f")]
    assert resources(FunctionName="f", Qualifier="live") == [fn_arn("f") + ":live"]
    assert error(lam.get_policy, FunctionName="f", Qualifier="1") == (
        "ResourceNotFoundException", "The resource you requested does not exist.")
    lam.remove_permission(FunctionName="f", StatementId="s", Qualifier="live")
    assert error(lam.remove_permission, FunctionName="f", StatementId="s", Qualifier="live") == (
        "ResourceNotFoundException", "Statement s is not found in resource policy.")
    assert resources(FunctionName="f") == [fn_arn("f")]


def test_update_function_code_takes_the_architecture(lam):
    assert create(lam, "f")["Architectures"] == ["x86_64"]
    out = lam.update_function_code(FunctionName="f", ZipFile=zip_of({"app.py": APP}), Architectures=["arm64"])
    assert out["Architectures"] == ["arm64"]
    assert lam.get_function_configuration(FunctionName="f")["Architectures"] == ["arm64"]


@pytest.mark.durable_only("restarts the server on its data directory")
def test_reserved_concurrency_and_settings_survive_a_restart(data_dir):
    dlq = f"arn:aws:sqs:{REGION}:{ACCOUNT}:dlq"
    first = Server(data_dir).start()
    try:
        lam = client("lambda", first.url)
        create(lam, "f", DeadLetterConfig={"TargetArn": dlq},
                        LoggingConfig={"LogFormat": "JSON", "LogGroup": "/custom/f"})
        lam.put_function_concurrency(FunctionName="f", ReservedConcurrentExecutions=3)
    finally:
        first.kill9()
    second = Server(data_dir).start()
    try:
        lam = client("lambda", second.url)
        fn = lam.get_function(FunctionName="f")
        assert fn["Configuration"]["DeadLetterConfig"] == {"TargetArn": dlq}
        assert fn["Configuration"]["LoggingConfig"]["LogGroup"] == "/custom/f"
        assert fn["Concurrency"] == {"ReservedConcurrentExecutions": 3}
    finally:
        second.stop()
