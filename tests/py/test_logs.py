"""CloudWatch Logs end to end: boto3, the AWS CLI and CloudFormation against the real
binary. Log groups are durable; streams and events live in memory (they do not survive
a restart)."""
import json
import time

import pytest
from botocore.exceptions import ClientError

from conftest import Server, aws_cli, aws_logs_tail, client, code, message

ARN_PREFIX = "arn:aws:logs:us-east-1:000000000000:log-group:"


@pytest.fixture
def logs(server):
    return client("logs", server.url)


@pytest.fixture
def logs_raw(server):
    """Client-side validation off: the server's validation answers."""
    return client("logs", server.url, validate=False)


def now_ms():
    return int(time.time() * 1000)


def put(logs, group, stream, *messages, at=None):
    """Creates the stream if needed and puts `messages`, one millisecond apart."""
    try:
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
    except ClientError as e:
        if code_of_error(e) != "ResourceAlreadyExistsException":
            raise
    start = at if at is not None else now_ms()
    events = [{"timestamp": start + i, "message": m} for i, m in enumerate(messages)]
    return logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events)


def code_of_error(e):
    return e.response["Error"]["Code"]


def test_groups_create_describe_page_and_delete(logs):
    for name in ["/svc/b", "/svc/a", "/svc/c", "/other"]:
        logs.create_log_group(logGroupName=name)
    with pytest.raises(ClientError) as e:
        logs.create_log_group(logGroupName="/svc/a")
    assert code(e) == "ResourceAlreadyExistsException"
    assert message(e) == "The specified log group already exists"

    groups = logs.describe_log_groups()["logGroups"]
    assert [g["logGroupName"] for g in groups] == ["/other", "/svc/a", "/svc/b", "/svc/c"]
    a = groups[1]
    assert a["arn"] == ARN_PREFIX + "/svc/a:*"
    assert a["logGroupArn"] == ARN_PREFIX + "/svc/a"
    assert abs(a["creationTime"] - now_ms()) < 60_000
    assert "retentionInDays" not in a

    pages = logs.get_paginator("describe_log_groups").paginate(
        logGroupNamePrefix="/svc/", PaginationConfig={"PageSize": 2})
    sizes, names = [], []
    for page in pages:
        sizes.append(len(page["logGroups"]))
        names += [g["logGroupName"] for g in page["logGroups"]]
    assert sizes == [2, 1]
    assert names == ["/svc/a", "/svc/b", "/svc/c"]

    logs.put_retention_policy(logGroupName="/svc/a", retentionInDays=14)
    g = logs.describe_log_groups(logGroupNamePrefix="/svc/a")["logGroups"][0]
    assert g["retentionInDays"] == 14
    logs.delete_retention_policy(logGroupName="/svc/a")
    g = logs.describe_log_groups(logGroupNamePrefix="/svc/a")["logGroups"][0]
    assert "retentionInDays" not in g

    logs.delete_log_group(logGroupName="/svc/a")
    with pytest.raises(ClientError) as e:
        logs.delete_log_group(logGroupName="/svc/a")
    assert code(e) == "ResourceNotFoundException"
    assert message(e) == "The specified log group does not exist."
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_validation_and_errors_in_aws_words(logs, logs_raw):
    with pytest.raises(ClientError) as e:
        logs_raw.create_log_group(logGroupName="has space")
    assert code(e) == "InvalidParameterException"
    assert message(e) == (
        "1 validation error detected: Value 'has space' at 'logGroupName' failed to satisfy "
        "constraint: Member must satisfy regular expression pattern: [\\.\\-_/#A-Za-z0-9]+")
    with pytest.raises(ClientError) as e:
        logs.put_retention_policy(logGroupName="nope", retentionInDays=8)
    assert code(e) == "InvalidParameterException"
    assert "Member must satisfy enum value set: [1, 3, 5, 7, 14" in message(e)
    with pytest.raises(ClientError) as e:
        logs.create_log_stream(logGroupName="nope", logStreamName="s")
    assert code(e) == "ResourceNotFoundException"
    logs.create_log_group(logGroupName="g")
    with pytest.raises(ClientError) as e:
        logs.put_log_events(logGroupName="g", logStreamName="s",
                            logEvents=[{"timestamp": now_ms(), "message": "m"}])
    assert code(e) == "ResourceNotFoundException"
    assert message(e) == "The specified log stream does not exist."
    logs.create_log_stream(logGroupName="g", logStreamName="s")
    with pytest.raises(ClientError) as e:
        logs.create_log_stream(logGroupName="g", logStreamName="s")
    assert code(e) == "ResourceAlreadyExistsException"
    t = now_ms()
    with pytest.raises(ClientError) as e:
        logs.put_log_events(logGroupName="g", logStreamName="s", logEvents=[
            {"timestamp": t, "message": "b"}, {"timestamp": t - 5, "message": "a"}])
    assert code(e) == "InvalidParameterException"
    assert "chronological order" in message(e)
    with pytest.raises(ClientError) as e:
        logs.filter_log_events(logGroupName="g", filterPattern='{ $.level = "ERROR" }')
    assert code(e) == "InvalidParameterException"
    with pytest.raises(ClientError) as e:
        logs.describe_log_streams(logGroupName="g", orderBy="LastEventTime",
                                  logStreamNamePrefix="s")
    assert message(e) == "Cannot order by LastEventTime with a logStreamNamePrefix."


def test_put_and_get_events_with_aws_tokens(logs):
    logs.create_log_group(logGroupName="app")
    t = now_ms() - 10_000
    out = put(logs, "app", "main", *[f"line {i}" for i in range(7)], at=t)
    assert "nextSequenceToken" in out
    assert "rejectedLogEventsInfo" not in out

    # Too old and too new events are refused, the rest kept.
    day = 24 * 3600 * 1000
    logs.create_log_stream(logGroupName="app", logStreamName="old-new")
    out = logs.put_log_events(logGroupName="app", logStreamName="old-new", logEvents=[
        {"timestamp": t - 15 * day, "message": "ancient"},
        {"timestamp": t, "message": "fine"},
        {"timestamp": t + 3 * 3600 * 1000 + 20_000, "message": "future"},
    ])
    assert out["rejectedLogEventsInfo"] == {
        "tooOldLogEventEndIndex": 1, "tooNewLogEventStartIndex": 2}

    # The default reads the newest events; startFromHead pages forward until the
    # forward token comes back unchanged.
    newest = logs.get_log_events(logGroupName="app", logStreamName="main", limit=3)
    assert [e["message"] for e in newest["events"]] == ["line 4", "line 5", "line 6"]
    seen, token = [], None
    while True:
        kw = {"nextToken": token} if token else {"startFromHead": True}
        page = logs.get_log_events(logGroupName="app", logStreamName="main", limit=3, **kw)
        seen += [e["message"] for e in page["events"]]
        if page["nextForwardToken"] == token:
            break
        token = page["nextForwardToken"]
    assert seen == [f"line {i}" for i in range(7)]
    back = logs.get_log_events(logGroupName="app", logStreamName="main", limit=3,
                               nextToken=newest["nextBackwardToken"])
    assert [e["message"] for e in back["events"]] == ["line 1", "line 2", "line 3"]
    window = logs.get_log_events(logGroupName="app", logStreamName="main",
                                 startTime=t + 2, endTime=t + 4, startFromHead=True)
    assert [e["message"] for e in window["events"]] == ["line 2", "line 3"]

    streams = logs.describe_log_streams(logGroupName="app")["logStreams"]
    assert [s["logStreamName"] for s in streams] == ["main", "old-new"]
    main = streams[0]
    assert (main["firstEventTimestamp"], main["lastEventTimestamp"]) == (t, t + 6)
    assert main["arn"] == ARN_PREFIX + "app:log-stream:main"
    by_time = logs.describe_log_streams(logGroupName="app", orderBy="LastEventTime",
                                        descending=True, limit=1)
    assert by_time["logStreams"][0]["logStreamName"] == "main"
    assert "nextToken" in by_time


def test_filter_log_events_patterns_streams_and_pages(logs):
    logs.create_log_group(logGroupName="svc")
    t = now_ms() - 5_000
    put(logs, "svc", "api-1", "GET /a 200", "GET /b 503 upstream failed", at=t)
    put(logs, "svc", "api-2", "ERROR db timeout", "GET /c 500", at=t + 1)
    put(logs, "svc", "worker", "ERROR job failed", "INFO job done", at=t)

    def messages(**kw):
        out = []
        for page in logs.get_paginator("filter_log_events").paginate(logGroupName="svc", **kw):
            out += [(e["logStreamName"], e["message"]) for e in page["events"]]
        return out

    assert messages(filterPattern="ERROR") == [
        ("worker", "ERROR job failed"), ("api-2", "ERROR db timeout")]
    assert messages(filterPattern='"upstream failed"') == [("api-1", "GET /b 503 upstream failed")]
    assert messages(filterPattern="?ERROR ?503", logStreamNamePrefix="api") == [
        ("api-1", "GET /b 503 upstream failed"), ("api-2", "ERROR db timeout")]
    assert messages(filterPattern="GET -200") == [
        ("api-1", "GET /b 503 upstream failed"), ("api-2", "GET /c 500")]
    assert messages(filterPattern="%5\\d\\d%") == [
        ("api-1", "GET /b 503 upstream failed"), ("api-2", "GET /c 500")]
    assert messages(logStreamNames=["worker"]) == [
        ("worker", "ERROR job failed"), ("worker", "INFO job done")]
    # Pages of one event each cover everything once, in timestamp order.
    paged = messages(PaginationConfig={"PageSize": 1})
    assert len(paged) == 6
    assert paged == messages()
    assert messages(startTime=t + 2) == [("api-2", "GET /c 500")]


def test_what_aws_logs_tail_sends(logs):
    """`aws logs tail GROUP` (AWS CLI v2) pages FilterLogEvents with logGroupName,
    interleaved=True and startTime ten minutes back; with --follow it polls again from
    the newest timestamp seen and drops the events whose eventId it has printed."""
    logs.create_log_group(logGroupName="/aws/lambda/fn")
    put(logs, "/aws/lambda/fn", "2026/01/01/[$LATEST]abc", "START", "hello", "END")
    kwargs = {"logGroupName": "/aws/lambda/fn", "interleaved": True,
              "startTime": now_ms() - 600_000}
    seen = []
    for page in logs.get_paginator("filter_log_events").paginate(**kwargs):
        seen += page["events"]
    assert [e["message"] for e in seen] == ["START", "hello", "END"]
    for e in seen:
        assert set(e) == {"logStreamName", "timestamp", "message", "ingestionTime", "eventId"}
    # --follow: the next poll starts at the newest timestamp; ids are stable, so the
    # event already printed is recognised.
    newest = max(e["timestamp"] for e in seen)
    printed = {e["eventId"] for e in seen if e["timestamp"] == newest}
    put(logs, "/aws/lambda/fn", "2026/01/01/[$LATEST]abc", "again", at=newest + 1)
    again = logs.filter_log_events(**dict(kwargs, startTime=newest))["events"]
    fresh = [e["message"] for e in again if e["eventId"] not in printed]
    assert fresh == ["again"]


def test_aws_logs_tail_cli(server, logs):
    logs.create_log_group(logGroupName="/aws/lambda/cli")
    put(logs, "/aws/lambda/cli", "s", "first line", "ERROR second line")
    rc, out, err = aws_logs_tail(server.url, "/aws/lambda/cli", "--format", "short")
    assert rc == 0, err
    lines = out.splitlines()
    assert [line.split(" ", 1)[1] for line in lines] == ["first line", "ERROR second line"]
    rc, out, err = aws_logs_tail(server.url, "/aws/lambda/cli", "--filter-pattern", "ERROR")
    assert rc == 0, err
    assert "second line" in out and "first line" not in out


def test_aws_cli_v1_logs_commands(server, logs):
    logs.create_log_group(logGroupName="cli-group")
    put(logs, "cli-group", "s", "alpha", "beta ERROR")
    rc, out, err = aws_cli(server.url, "logs", "describe-log-groups",
                           "--log-group-name-prefix", "cli-")
    assert rc == 0, err
    assert [g["logGroupName"] for g in json.loads(out)["logGroups"]] == ["cli-group"]
    rc, out, err = aws_cli(server.url, "logs", "filter-log-events", "--log-group-name",
                           "cli-group", "--filter-pattern", "ERROR")
    assert rc == 0, err
    assert [e["message"] for e in json.loads(out)["events"]] == ["beta ERROR"]
    rc, out, err = aws_cli(server.url, "logs", "get-log-events", "--log-group-name",
                           "cli-group", "--log-stream-name", "s", "--start-from-head")
    assert rc == 0, err
    assert [e["message"] for e in json.loads(out)["events"]] == ["alpha", "beta ERROR"]
    rc, out, err = aws_cli(server.url, "logs", "delete-log-group", "--log-group-name", "nope")
    assert rc != 0
    assert "ResourceNotFoundException" in err


def test_tags(logs):
    logs.create_log_group(logGroupName="tagged", tags={"team": "ml"})
    arn = ARN_PREFIX + "tagged"
    logs.tag_resource(resourceArn=arn, tags={"env": "dev"})
    assert logs.list_tags_for_resource(resourceArn=arn)["tags"] == {"team": "ml", "env": "dev"}
    logs.untag_resource(resourceArn=arn, tagKeys=["team"])
    assert logs.list_tags_log_group(logGroupName="tagged")["tags"] == {"env": "dev"}
    with pytest.raises(ClientError) as e:
        logs.list_tags_for_resource(resourceArn=ARN_PREFIX + "missing")
    assert code(e) == "ResourceNotFoundException"


GROUP_KEY = "arn:aws:kms:us-east-1:000000000000:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def error(call, **kw):
    """The (code, message) of a call that must fail."""
    with pytest.raises(ClientError) as e:
        call(**kw)
    return code(e), message(e)


def test_log_group_kms_keys(logs):
    # What Terraform's aws_cloudwatch_log_group sends for kms_key_id (#22).
    not_found = ("InvalidParameterException", "The specified KMS Key Id could not be found.")
    assert error(logs.create_log_group, logGroupName="g", kmsKeyId="1234abcd") == not_found
    logs.create_log_group(logGroupName="g", kmsKeyId=GROUP_KEY)
    [group] = logs.describe_log_groups(logGroupNamePrefix="g")["logGroups"]
    assert group["kmsKeyId"] == GROUP_KEY
    logs.disassociate_kms_key(logGroupName="g")
    [group] = logs.describe_log_groups(logGroupNamePrefix="g")["logGroups"]
    assert "kmsKeyId" not in group
    other = GROUP_KEY.replace("1234abcd", "5678efab")
    logs.associate_kms_key(resourceIdentifier=ARN_PREFIX + "g",
                           kmsKeyId=other)
    [group] = logs.describe_log_groups(logGroupNamePrefix="g")["logGroups"]
    assert group["kmsKeyId"] == other
    assert error(logs.associate_kms_key, logGroupName="g", kmsKeyId="alias/mine") == not_found
    assert error(logs.associate_kms_key, logGroupName="nope", kmsKeyId=GROUP_KEY) == (
        "ResourceNotFoundException", "The specified log group does not exist.")
    assert error(logs.associate_kms_key, kmsKeyId=GROUP_KEY)[0] == "InvalidParameterException"


@pytest.mark.durable_only("restarts the server on its data directory")
def test_groups_survive_a_restart_and_events_do_not(data_dir):
    s = Server(data_dir).start()
    try:
        logs = client("logs", s.url)
        logs.create_log_group(logGroupName="durable", kmsKeyId=GROUP_KEY)
        logs.put_retention_policy(logGroupName="durable", retentionInDays=30)
        put(logs, "durable", "s", "in memory only")
    finally:
        s.stop()
    s = Server(data_dir).start()
    try:
        logs = client("logs", s.url)
        groups = logs.describe_log_groups()["logGroups"]
        assert [(g["logGroupName"], g["retentionInDays"], g["kmsKeyId"]) for g in groups] == [
            ("durable", 30, GROUP_KEY)]
        assert logs.describe_log_streams(logGroupName="durable")["logStreams"] == []
        assert logs.filter_log_events(logGroupName="durable")["events"] == []
    finally:
        s.stop()


LOG_STACK = """\
Resources:
  Named:
    Type: AWS::Logs::LogGroup
    Properties:
      LogGroupName: /stack/named
      RetentionInDays: 7
      Tags:
        - {Key: team, Value: ml}
  Unnamed:
    Type: AWS::Logs::LogGroup
Outputs:
  NamedRef: {Value: !Ref Named}
  NamedArn: {Value: !GetAtt Named.Arn}
  Unnamed: {Value: !Ref Unnamed}
"""


def wait(cfn, name, waiter):
    cfn.get_waiter(waiter).wait(StackName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30})


def test_cloudformation_log_groups_are_real(server, logs):
    cfn = client("cloudformation", server.url)
    cfn.create_stack(StackName="logstack", TemplateBody=LOG_STACK)
    wait(cfn, "logstack", "stack_create_complete")
    outputs = {o["OutputKey"]: o["OutputValue"]
               for o in cfn.describe_stacks(StackName="logstack")["Stacks"][0]["Outputs"]}
    assert outputs["NamedRef"] == "/stack/named"
    assert outputs["NamedArn"] == ARN_PREFIX + "/stack/named:*"
    unnamed = outputs["Unnamed"]
    assert unnamed.startswith("logstack-Unnamed-") and len(unnamed) == len("logstack-Unnamed-") + 12

    named = logs.describe_log_groups(logGroupNamePrefix="/stack/named")["logGroups"][0]
    assert named["retentionInDays"] == 7
    tags = logs.list_tags_log_group(logGroupName="/stack/named")["tags"]
    assert tags["team"] == "ml"
    assert logs.describe_log_groups(logGroupNamePrefix=unnamed)["logGroups"][0]["arn"] == \
        ARN_PREFIX + unnamed + ":*"
    # The group takes events like any other.
    put(logs, "/stack/named", "s", "from a stack group")

    cfn.update_stack(StackName="logstack",
                     TemplateBody=LOG_STACK.replace("RetentionInDays: 7", "RetentionInDays: 30"))
    wait(cfn, "logstack", "stack_update_complete")
    named = logs.describe_log_groups(logGroupNamePrefix="/stack/named")["logGroups"][0]
    assert named["retentionInDays"] == 30

    cfn.delete_stack(StackName="logstack")
    wait(cfn, "logstack", "stack_delete_complete")
    left = [g["logGroupName"] for g in logs.describe_log_groups()["logGroups"]]
    assert "/stack/named" not in left and unnamed not in left


def test_cloudformation_refuses_a_taken_name(server, logs):
    logs.create_log_group(logGroupName="/taken")
    cfn = client("cloudformation", server.url)
    cfn.create_stack(StackName="clash", TemplateBody=(
        "Resources:\n  G:\n    Type: AWS::Logs::LogGroup\n"
        "    Properties: {LogGroupName: /taken}\n"))
    with pytest.raises(Exception):
        wait(cfn, "clash", "stack_create_complete")
    events = cfn.describe_stack_events(StackName="clash")["StackEvents"]
    reasons = [e.get("ResourceStatusReason", "") for e in events
               if e["LogicalResourceId"] == "G" and e["ResourceStatus"] == "CREATE_FAILED"]
    assert reasons and "already exists" in reasons[0]
    # The group that was there before the stack stays.
    assert logs.describe_log_groups(logGroupNamePrefix="/taken")["logGroups"]
