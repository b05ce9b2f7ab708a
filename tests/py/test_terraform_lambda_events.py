"""Lambda, CloudWatch Logs and EventBridge through Terraform's hashicorp/aws 5.100.0
(issue #22), on a fresh server: apply, a second plan with no changes, an update of
mutable attributes, destroy, checked through boto3 at every step, and the loop the
resources make: an event put on the bus runs the function, whose log says so. The boto3
tests of the operations the provider sends are in test_lambda.py, test_logs.py and
test_events.py."""
import io
import json
import zipfile

import pytest
from botocore.exceptions import ClientError

import terraform_kit
from conftest import REGION, client, code, message, wait_for_log

ACCOUNT = "000000000000"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/any"


def zip_of(files):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, text in files.items():
            z.writestr(name, text)
    return buf.getvalue()


@pytest.fixture
def lam(server):
    return client("lambda", server.url)


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


def fn_arn(name):
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"


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
