"""Lambda, CloudWatch Logs and EventBridge as Terraform's hashicorp/aws 5.100.0 uses them
(issue #22): the operations the provider sends that sagestack added for it, each with its
errors, through boto3; then Terraform itself on a fresh server: apply, a second plan with
no changes, an update of mutable attributes, destroy, checked through boto3 at every step,
and the loop the resources make: an event put on the bus runs the function."""
import io
import json
import time
import zipfile

import pytest
from botocore.exceptions import ClientError

import terraform_kit
from conftest import REGION, Server, client, code, message

ACCOUNT = "000000000000"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/any"
KMS_KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def zip_of(files):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, text in files.items():
            z.writestr(name, text)
    return buf.getvalue()


HANDLER = zip_of({"app.py": "def handler(event, context):\n    print('EVENT', event)\n    return event\n"})


@pytest.fixture
def lam(server):
    return client("lambda", server.url)


@pytest.fixture
def lam_raw(server):
    return client("lambda", server.url, validate=False)


@pytest.fixture
def logs(server):
    return client("logs", server.url)


@pytest.fixture
def events(server):
    return client("events", server.url)


def error(call, **kw):
    with pytest.raises(ClientError) as e:
        call(**kw)
    return code(e), message(e)


def create_function(lam, name, **kw):
    return lam.create_function(FunctionName=name, Runtime="python3.11", Role=ROLE,
                               Handler="app.handler", Code={"ZipFile": HANDLER}, **kw)


def fn_arn(name):
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"


def wait_for_log(logs, group, needle, timeout=30):
    """The log messages of `group` once one contains `needle`."""
    deadline = time.monotonic() + timeout
    messages = []
    while time.monotonic() < deadline:
        try:
            messages = [e["message"] for e in logs.filter_log_events(logGroupName=group)["events"]]
        except ClientError as e:
            if code_of_error(e) != "ResourceNotFoundException":
                raise
        if any(needle in m for m in messages):
            return messages
        time.sleep(0.2)
    raise AssertionError(f"no {needle!r} in {group} after {timeout} s: {messages}")


def code_of_error(e):
    return e.response["Error"]["Code"]


# ---- Lambda: what the provider reads and sets ---------------------------------------


def test_code_signing_config_is_none(lam):
    create_function(lam, "f")
    out = lam.get_function_code_signing_config(FunctionName="f")
    out.pop("ResponseMetadata")
    assert out == {"CodeSigningConfigArn": "", "FunctionName": "f"}
    assert error(lam.get_function_code_signing_config, FunctionName="nope") == (
        "ResourceNotFoundException", f"Function not found: {fn_arn('nope')}")
    csc = f"arn:aws:lambda:{REGION}:{ACCOUNT}:code-signing-config:csc-0123456789abcdefg"
    got = error(create_function, lam=lam, name="g", CodeSigningConfigArn=csc)
    assert got[0] == "CodeSigningConfigNotFoundException"
    assert csc in got[1]


def test_reserved_concurrency(lam, lam_raw):
    create_function(lam, "a")
    create_function(lam, "b")
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


def test_logging_config_and_the_log_group_a_function_writes_to(lam, logs):
    out = create_function(lam, "f")
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
    out = create_function(lam, "f", DeadLetterConfig={"TargetArn": dlq}, KMSKeyArn=KMS_KEY,
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
    assert create_function(lam, "f", Publish=True)["Version"] == "1"
    assert lam.publish_version(FunctionName="f")["Version"] == "1"
    lam.update_function_configuration(FunctionName="f", LoggingConfig={"LogFormat": "JSON"})
    assert lam.publish_version(FunctionName="f")["Version"] == "2"
    lam.update_function_configuration(FunctionName="f", Description="new")
    out = lam.publish_version(FunctionName="f", Description="release 3")
    assert (out["Version"], out["Description"]) == ("3", "release 3")
    assert lam.publish_version(FunctionName="f")["Version"] == "3"


def test_a_version_or_alias_has_a_policy_of_its_own(lam):
    create_function(lam, "f", Publish=True)
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
    assert create_function(lam, "f")["Architectures"] == ["x86_64"]
    out = lam.update_function_code(FunctionName="f", ZipFile=HANDLER, Architectures=["arm64"])
    assert out["Architectures"] == ["arm64"]
    assert lam.get_function_configuration(FunctionName="f")["Architectures"] == ["arm64"]


# ---- EventBridge and CloudWatch Logs -----------------------------------------------


def test_update_event_bus(events):
    dlq = {"Arn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:dlq"}
    out = events.create_event_bus(Name="orders", Description="first", KmsKeyIdentifier=KMS_KEY,
                                  DeadLetterConfig=dlq)
    assert (out["Description"], out["KmsKeyIdentifier"], out["DeadLetterConfig"]) == (
        "first", KMS_KEY, dlq)
    # What the provider sends to change the description: the name and the settings it has.
    out = events.update_event_bus(Name="orders", Description="second", KmsKeyIdentifier=KMS_KEY)
    assert (out["Name"], out["Arn"], out["Description"]) == (
        "orders", f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/orders", "second")
    bus = events.describe_event_bus(Name="orders")
    assert (bus["Description"], bus["KmsKeyIdentifier"]) == ("second", KMS_KEY)
    assert "DeadLetterConfig" not in bus, "absent settings are removed"
    # An absent description is kept; an empty one removes it.
    events.update_event_bus(Name="orders")
    assert events.describe_event_bus(Name="orders")["Description"] == "second"
    events.update_event_bus(Name="orders", Description="")
    assert "Description" not in events.describe_event_bus(Name="orders")
    assert error(events.update_event_bus, Name="nope") == (
        "ResourceNotFoundException", "Event bus nope does not exist.")
    assert error(events.update_event_bus, Name="orders", KmsKeyIdentifier="no spaces!")[0] == (
        "ValidationException")
    # Without a name: the default bus.
    assert events.update_event_bus(Description="d")["Name"] == "default"


def test_log_group_kms_keys(logs):
    not_found = ("InvalidParameterException", "The specified KMS Key Id could not be found.")
    assert error(logs.create_log_group, logGroupName="g", kmsKeyId="1234abcd") == not_found
    logs.create_log_group(logGroupName="g", kmsKeyId=KMS_KEY)
    [group] = logs.describe_log_groups(logGroupNamePrefix="g")["logGroups"]
    assert group["kmsKeyId"] == KMS_KEY
    logs.disassociate_kms_key(logGroupName="g")
    [group] = logs.describe_log_groups(logGroupNamePrefix="g")["logGroups"]
    assert "kmsKeyId" not in group
    other = KMS_KEY.replace("1234abcd", "5678efab")
    logs.associate_kms_key(resourceIdentifier=f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:g",
                           kmsKeyId=other)
    [group] = logs.describe_log_groups(logGroupNamePrefix="g")["logGroups"]
    assert group["kmsKeyId"] == other
    assert error(logs.associate_kms_key, logGroupName="g", kmsKeyId="alias/mine") == not_found
    assert error(logs.associate_kms_key, logGroupName="nope", kmsKeyId=KMS_KEY) == (
        "ResourceNotFoundException", "The specified log group does not exist.")
    assert error(logs.associate_kms_key, kmsKeyId=KMS_KEY)[0] == "InvalidParameterException"


@pytest.mark.durable_only("restarts the server on its data directory")
def test_the_new_settings_survive_a_restart(data_dir):
    dlq = f"arn:aws:sqs:{REGION}:{ACCOUNT}:dlq"
    first = Server(data_dir).start()
    try:
        lam, lg, ev = (client(s, first.url) for s in ("lambda", "logs", "events"))
        create_function(lam, "f", DeadLetterConfig={"TargetArn": dlq},
                        LoggingConfig={"LogFormat": "JSON", "LogGroup": "/custom/f"})
        lam.put_function_concurrency(FunctionName="f", ReservedConcurrentExecutions=3)
        lg.create_log_group(logGroupName="g", kmsKeyId=KMS_KEY)
        ev.create_event_bus(Name="b", DeadLetterConfig={"Arn": dlq}, KmsKeyIdentifier=KMS_KEY)
    finally:
        first.kill9()
    second = Server(data_dir).start()
    try:
        lam, lg, ev = (client(s, second.url) for s in ("lambda", "logs", "events"))
        fn = lam.get_function(FunctionName="f")
        assert fn["Configuration"]["DeadLetterConfig"] == {"TargetArn": dlq}
        assert fn["Configuration"]["LoggingConfig"]["LogGroup"] == "/custom/f"
        assert fn["Concurrency"] == {"ReservedConcurrentExecutions": 3}
        [group] = lg.describe_log_groups(logGroupNamePrefix="g")["logGroups"]
        assert group["kmsKeyId"] == KMS_KEY
        bus = ev.describe_event_bus(Name="b")
        assert (bus["DeadLetterConfig"], bus["KmsKeyIdentifier"]) == ({"Arn": dlq}, KMS_KEY)
    finally:
        second.stop()


# ---- Terraform ---------------------------------------------------------------------

CONFIG = """
variable "retention" { default = 7 }
variable "memory"    { default = 128 }
variable "stage"     { default = "one" }
variable "sources"   { default = "[\\"tf.test\\"]" }
variable "describe"  { default = "first" }
variable "tags"      { default = "{ \\"team\\": \\"ml\\" }" }

locals { tags = jsondecode(var.tags) }

resource "aws_cloudwatch_log_group" "fn" {
  name              = "/aws/lambda/tf-fn"
  retention_in_days = var.retention
  tags              = local.tags
}

resource "aws_lambda_function" "fn" {
  function_name    = "tf-fn"
  filename         = "${path.module}/fn.zip"
  source_code_hash = filebase64sha256("${path.module}/fn.zip")
  handler          = "app.handler"
  runtime          = "python3.11"
  role             = "arn:aws:iam::000000000000:role/any"
  memory_size      = var.memory
  environment {
    variables = { STAGE = var.stage }
  }
  tags       = local.tags
  depends_on = [aws_cloudwatch_log_group.fn]
}

resource "aws_cloudwatch_event_bus" "bus" {
  name        = "tf-bus"
  description = "bus ${var.describe}"
  tags        = local.tags
}

resource "aws_cloudwatch_event_rule" "rule" {
  name           = "tf-rule"
  description    = var.describe
  event_bus_name = aws_cloudwatch_event_bus.bus.name
  event_pattern  = jsonencode({ source = jsondecode(var.sources) })
  tags           = local.tags
}

resource "aws_cloudwatch_event_target" "fn" {
  rule           = aws_cloudwatch_event_rule.rule.name
  event_bus_name = aws_cloudwatch_event_bus.bus.name
  target_id      = "fn"
  arn            = aws_lambda_function.fn.arn
}

resource "aws_lambda_permission" "events" {
  statement_id  = "AllowEvents"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.fn.function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.rule.arn
}
"""

APP = """import json, os
def handler(event, context):
    print("%s " + os.environ.get("STAGE", "-") + " " + json.dumps(event["detail"]))
    return {"ok": True}
"""


def write_code(tf, marker):
    with open(f"{tf.dir}/fn.zip", "wb") as f:
        f.write(zip_of({"app.py": APP % marker}))


def put_event(events, source, detail):
    out = events.put_events(Entries=[{"Source": source, "DetailType": "tf", "EventBusName": "tf-bus",
                                      "Detail": json.dumps(detail)}])
    assert out["FailedEntryCount"] == 0, out


def rule_tags(events, name="tf-rule"):
    arn = events.describe_rule(Name=name, EventBusName="tf-bus")["Arn"]
    return {t["Key"]: t["Value"] for t in events.list_tags_for_resource(ResourceARN=arn)["Tags"]}


def test_terraform_lambda_logs_and_events(server, lam, logs, events, tmp_path):
    tf = terraform_kit.Terraform(tmp_path / "tf", server.url)
    tf.write("main.tf", CONFIG)
    write_code(tf, "FIRST")
    tf.init()
    tf.apply()

    [group] = logs.describe_log_groups(logGroupNamePrefix="/aws/lambda/tf-fn")["logGroups"]
    assert group["retentionInDays"] == 7
    assert logs.list_tags_for_resource(
        resourceArn=f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/tf-fn")["tags"] == {"team": "ml"}
    fn = lam.get_function(FunctionName="tf-fn")
    config = fn["Configuration"]
    assert (config["MemorySize"], config["Runtime"], config["Role"], config["State"]) == (
        128, "python3.11", ROLE, "Active")
    assert config["Environment"] == {"Variables": {"STAGE": "one"}}
    assert fn["Tags"] == {"team": "ml"}
    rule = events.describe_rule(Name="tf-rule", EventBusName="tf-bus")
    assert (rule["Description"], json.loads(rule["EventPattern"])) == ("first", {"source": ["tf.test"]})
    assert rule_tags(events) == {"team": "ml"}
    assert events.describe_event_bus(Name="tf-bus")["Description"] == "bus first"
    [target] = events.list_targets_by_rule(Rule="tf-rule", EventBusName="tf-bus")["Targets"]
    assert (target["Id"], target["Arn"]) == ("fn", fn_arn("tf-fn"))
    [statement] = json.loads(lam.get_policy(FunctionName="tf-fn")["Policy"])["Statement"]
    assert (statement["Sid"], statement["Principal"], statement["Condition"]) == (
        "AllowEvents", {"Service": "events.amazonaws.com"},
        {"ArnLike": {"AWS:SourceArn": rule["Arn"]}})
    state = tf.state()
    assert state["aws_lambda_function.fn"]["arn"] == fn_arn("tf-fn")
    assert state["aws_lambda_function.fn"]["version"] == "$LATEST"
    tf.plan_no_changes()

    # The loop: an event the rule matches runs the function, which logs it.
    put_event(events, "tf.test", {"n": 1})
    put_event(events, "tf.other", {"n": "unmatched"})
    messages = wait_for_log(logs, "/aws/lambda/tf-fn", 'FIRST one {"n": 1}')
    assert not any("unmatched" in m for m in messages)

    # The update: retention, memory, environment, code, the rule's pattern and
    # description, the bus's description, every resource's tags.
    update = {"retention": "14", "memory": "256", "stage": "two",
              "sources": '["tf.test", "tf.other"]', "describe": "second",
              "tags": '{ "team": "ops", "env": "dev" }'}
    write_code(tf, "SECOND")
    tf.apply(var=update)
    [group] = logs.describe_log_groups(logGroupNamePrefix="/aws/lambda/tf-fn")["logGroups"]
    assert group["retentionInDays"] == 14
    assert logs.list_tags_for_resource(
        resourceArn=f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/tf-fn")["tags"] == {
        "team": "ops", "env": "dev"}
    updated = lam.get_function(FunctionName="tf-fn")
    config = updated["Configuration"]
    assert config["MemorySize"] == 256
    assert config["Environment"] == {"Variables": {"STAGE": "two"}}
    assert config["CodeSha256"] != fn["Configuration"]["CodeSha256"]
    assert updated["Tags"] == {"team": "ops", "env": "dev"}
    rule = events.describe_rule(Name="tf-rule", EventBusName="tf-bus")
    assert (rule["Description"], json.loads(rule["EventPattern"])) == (
        "second", {"source": ["tf.test", "tf.other"]})
    assert rule_tags(events) == {"team": "ops", "env": "dev"}
    assert events.describe_event_bus(Name="tf-bus")["Description"] == "bus second"
    tf.plan_no_changes(var=update)

    # The new pattern, the new code and the new environment are what runs.
    put_event(events, "tf.other", {"n": 2})
    wait_for_log(logs, "/aws/lambda/tf-fn", 'SECOND two {"n": 2}')

    tf.destroy(var=update)
    assert lam.list_functions()["Functions"] == []
    assert logs.describe_log_groups(logGroupNamePrefix="/aws/lambda/tf-fn")["logGroups"] == []
    assert [b["Name"] for b in events.list_event_buses()["EventBuses"]] == ["default"]
    assert error(events.describe_rule, Name="tf-rule", EventBusName="tf-bus")[0] == (
        "ResourceNotFoundException")


RICH = """
variable "v" { default = "1" }

resource "aws_cloudwatch_log_group" "prefixed" {
  name_prefix       = "/tf/prefix-"
  retention_in_days = 30
  log_group_class   = "INFREQUENT_ACCESS"
  kms_key_id        = "arn:aws:kms:us-east-1:000000000000:key/key-${var.v}"
}

resource "aws_cloudwatch_log_group" "custom" {
  name = "/custom/tf-rich"
}

resource "aws_lambda_function" "rich" {
  function_name    = "tf-rich"
  filename         = "${path.module}/fn.zip"
  source_code_hash = filebase64sha256("${path.module}/fn.zip")
  handler          = "app.handler"
  runtime          = "python3.11"
  role             = "arn:aws:iam::000000000000:role/any"
  description      = "rich ${var.v}"
  timeout          = 10
  publish          = true
  architectures    = ["arm64"]
  reserved_concurrent_executions = var.v == "1" ? 5 : 7
  kms_key_arn      = "arn:aws:kms:us-east-1:000000000000:key/fn"
  ephemeral_storage { size = 1024 }
  tracing_config { mode = "Active" }
  dead_letter_config { target_arn = "arn:aws:sqs:us-east-1:000000000000:dlq-${var.v}" }
  logging_config {
    log_format            = "JSON"
    log_group             = aws_cloudwatch_log_group.custom.name
    application_log_level = "INFO"
    system_log_level      = "WARN"
  }
}

resource "aws_lambda_alias" "live" {
  name             = "live"
  function_name    = aws_lambda_function.rich.function_name
  function_version = aws_lambda_function.rich.version
}

resource "aws_cloudwatch_event_rule" "scheduled" {
  name                = "tf-scheduled"
  schedule_expression = "rate(1 hour)"
  state               = "DISABLED"
}

resource "aws_cloudwatch_event_target" "scheduled" {
  rule  = aws_cloudwatch_event_rule.scheduled.name
  arn   = aws_lambda_function.rich.arn
  input = jsonencode({ from = "schedule" })
}

resource "aws_cloudwatch_event_rule" "pattern" {
  name_prefix   = "tf-pattern-"
  event_pattern = jsonencode({ source = ["tf.rich"], detail = { v = [var.v] } })
}

resource "aws_cloudwatch_event_target" "alias" {
  rule = aws_cloudwatch_event_rule.pattern.name
  arn  = aws_lambda_alias.live.arn
  input_transformer {
    input_paths    = { v = "$.detail.v" }
    input_template = "{\\"detail\\": {\\"value\\": <v>}}"
  }
  retry_policy {
    maximum_event_age_in_seconds = 300
    maximum_retry_attempts       = 2
  }
}

resource "aws_lambda_permission" "alias" {
  statement_id_prefix = "events-"
  action              = "lambda:InvokeFunction"
  function_name       = aws_lambda_function.rich.function_name
  qualifier           = aws_lambda_alias.live.name
  principal           = "events.amazonaws.com"
  source_arn          = aws_cloudwatch_event_rule.pattern.arn
}
"""


def test_terraform_versions_aliases_schedules_and_settings(server, lam, logs, events, tmp_path):
    tf = terraform_kit.Terraform(tmp_path / "tf", server.url)
    tf.write("main.tf", RICH)
    write_code(tf, "RICH")
    tf.init()
    tf.apply()
    config = lam.get_function(FunctionName="tf-rich")
    c = config["Configuration"]
    assert (c["Timeout"], c["Architectures"], c["EphemeralStorage"], c["TracingConfig"]) == (
        10, ["arm64"], {"Size": 1024}, {"Mode": "Active"})
    assert c["LoggingConfig"] == {"LogFormat": "JSON", "ApplicationLogLevel": "INFO",
                                  "SystemLogLevel": "WARN", "LogGroup": "/custom/tf-rich"}
    assert c["DeadLetterConfig"] == {"TargetArn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:dlq-1"}
    assert config["Concurrency"] == {"ReservedConcurrentExecutions": 5}
    assert [v["Version"] for v in lam.list_versions_by_function(FunctionName="tf-rich")["Versions"]] == [
        "$LATEST", "1"]
    assert lam.get_alias(FunctionName="tf-rich", Name="live")["FunctionVersion"] == "1"
    [prefixed] = logs.describe_log_groups(logGroupNamePrefix="/tf/prefix-")["logGroups"]
    assert (prefixed["retentionInDays"], prefixed["logGroupClass"], prefixed["kmsKeyId"]) == (
        30, "INFREQUENT_ACCESS", f"arn:aws:kms:{REGION}:{ACCOUNT}:key/key-1")
    assert events.describe_rule(Name="tf-scheduled")["State"] == "DISABLED"
    tf.plan_no_changes()

    # An event through the alias, transformed: version 1 runs and logs to the custom group.
    events.put_events(Entries=[{"Source": "tf.rich", "DetailType": "x", "Detail": '{"v": "1"}'}])
    messages = wait_for_log(logs, "/custom/tf-rich", 'RICH - {"value": "1"}')
    assert any(m.startswith("START RequestId") and "Version: 1" in m for m in messages), messages

    # The update: a new description publishes version 2, which the alias follows; the
    # pattern, the concurrency, the dead-letter target and the log group's key change.
    tf.apply(var={"v": "2"})
    versions = lam.list_versions_by_function(FunctionName="tf-rich")["Versions"]
    assert [(v["Version"], v["Description"]) for v in versions] == [
        ("$LATEST", "rich 2"), ("1", "rich 1"), ("2", "rich 2")]
    assert lam.get_alias(FunctionName="tf-rich", Name="live")["FunctionVersion"] == "2"
    assert lam.get_function_concurrency(FunctionName="tf-rich")["ReservedConcurrentExecutions"] == 7
    [prefixed] = logs.describe_log_groups(logGroupNamePrefix="/tf/prefix-")["logGroups"]
    assert prefixed["kmsKeyId"] == f"arn:aws:kms:{REGION}:{ACCOUNT}:key/key-2"
    tf.plan_no_changes(var={"v": "2"})

    tf.destroy(var={"v": "2"})
    assert lam.list_functions()["Functions"] == []
    assert logs.describe_log_groups()["logGroups"] == []
    assert events.list_rules()["Rules"] == []
