"""EventBridge through boto3 against the binary: TestEventPattern over the shared pattern
table; buses, rules, targets, tags and PutEvents with their errors and limits; rules that
survive a restart; the AWS::Events::Rule and AWS::Events::EventBus resources."""
import json
import time

import pytest
from botocore.exceptions import ClientError

from conftest import Server, client, code, fixture

EVENT = {
    "version": "0", "id": "6a7e8feb", "detail-type": "SageMaker Model Package State Change",
    "source": "aws.sagemaker", "account": "123456789012", "time": "2026-12-06T00:00:00Z",
    "region": "us-east-1", "resources": [],
    "detail": {"ModelPackageGroupName": "churn", "ModelApprovalStatus": "PendingManualApproval"},
}

APPROVAL_RULE = {
    "source": ["aws.sagemaker"],
    "detail-type": ["SageMaker Model Package State Change"],
    "detail": {"ModelApprovalStatus": [{"anything-but": "PendingManualApproval"}]},
}


@pytest.fixture
def events(server):
    return client("events", server.url)


def test_pattern_matching_through_the_api(events):
    def test(pattern, event):
        return events.test_event_pattern(EventPattern=json.dumps(pattern),
                                         Event=json.dumps(event))["Result"]

    assert test(APPROVAL_RULE, EVENT) is False
    for status, fires in (("Approved", True), ("Rejected", True), ("PendingManualApproval", False)):
        event = dict(EVENT, detail=dict(EVENT["detail"], ModelApprovalStatus=status))
        assert test(APPROVAL_RULE, event) is fires, status
    assert test({"detail": {"ModelPackageGroupName": [{"prefix": "ch"}]}}, EVENT) is True
    assert test({"$or": [{"source": ["aws.s3"]}, {"account": ["123456789012"]}]}, EVENT) is True


def test_invalid_patterns_and_events_are_refused(events):
    with pytest.raises(ClientError) as e:
        events.test_event_pattern(EventPattern='{"source": "aws.s3"}', Event=json.dumps(EVENT))
    assert code(e) == "InvalidEventPatternException"
    assert "Event pattern is not valid. Reason:" in str(e.value)
    partial = {k: v for k, v in EVENT.items() if k != "account"}
    with pytest.raises(ClientError) as e:
        events.test_event_pattern(EventPattern="{}", Event=json.dumps(partial))
    assert code(e) == "ValidationException" and "account" in str(e.value)


def test_the_shared_pattern_table_through_the_api(events):
    # The table the matcher's unit tests run (tests/fixtures/event-patterns.json), over HTTP.
    table = json.loads(fixture("event-patterns.json"))
    assert len(table["cases"]) >= 150
    wrong = []
    for case in table["cases"]:
        event = table["events"][case["event"]]
        got = events.test_event_pattern(EventPattern=json.dumps(case["pattern"]),
                                        Event=json.dumps(event))["Result"]
        if got is not case["matches"]:
            wrong.append((case["pattern"], case["event"]))
    assert wrong == []
    for case in table["invalid"]:
        with pytest.raises(ClientError) as e:
            events.test_event_pattern(EventPattern=case["pattern"], Event=json.dumps(EVENT))
        assert code(e) == "InvalidEventPatternException", case
        assert case["reason"] in str(e.value), (case, str(e.value))


ACCOUNT = "000000000000"
LAMBDA = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:f"


def bus_arn(name):
    return f"arn:aws:events:us-east-1:{ACCOUNT}:event-bus/{name}"


def rule_arn(name, bus=None):
    return f"arn:aws:events:us-east-1:{ACCOUNT}:rule/" + (f"{bus}/{name}" if bus else name)


def error(call, *args, **kwargs):
    with pytest.raises(ClientError) as e:
        call(*args, **kwargs)
    return code(e), e.value.response["Error"]["Message"]


def test_event_buses(events):
    default = events.describe_event_bus()
    assert default["Name"] == "default" and default["Arn"] == bus_arn("default")
    made = events.create_event_bus(Name="orders", Description="order events",
                                   Tags=[{"Key": "team", "Value": "ml"}])
    assert made["EventBusArn"] == bus_arn("orders")
    assert events.describe_event_bus(Name="orders")["Description"] == "order events"
    assert events.describe_event_bus(Name=bus_arn("orders"))["Name"] == "orders"
    assert error(events.create_event_bus, Name="orders") == (
        "ResourceAlreadyExistsException", "Event bus orders already exists.")
    assert error(events.describe_event_bus, Name="nope") == (
        "ResourceNotFoundException", "Event bus nope does not exist.")
    assert code_of(events.create_event_bus, Name="bad name!") == "ValidationException"
    names = [b["Name"] for b in events.list_event_buses()["EventBuses"]]
    assert names == ["default", "orders"]
    assert [b["Name"] for b in events.list_event_buses(NamePrefix="ord")["EventBuses"]] == ["orders"]
    page = events.list_event_buses(Limit=1)
    assert len(page["EventBuses"]) == 1 and "NextToken" in page
    rest = events.list_event_buses(Limit=1, NextToken=page["NextToken"])
    assert rest["EventBuses"][0]["Name"] == "orders" and "NextToken" not in rest
    assert error(events.delete_event_bus, Name="default")[0] == "ValidationException"
    events.delete_event_bus(Name="orders")
    events.delete_event_bus(Name="orders")  # already gone: success, as AWS
    assert [b["Name"] for b in events.list_event_buses()["EventBuses"]] == ["default"]


BUS_KEY = "arn:aws:kms:us-east-1:000000000000:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def test_update_event_bus(events):
    # What Terraform's aws_cloudwatch_event_bus sends to change a bus (#22).
    dlq = {"Arn": "arn:aws:sqs:us-east-1:000000000000:dlq"}
    out = events.create_event_bus(Name="orders", Description="first", KmsKeyIdentifier=BUS_KEY,
                                  DeadLetterConfig=dlq)
    assert (out["Description"], out["KmsKeyIdentifier"], out["DeadLetterConfig"]) == (
        "first", BUS_KEY, dlq)
    # What the provider sends to change the description: the name and the settings it has.
    out = events.update_event_bus(Name="orders", Description="second", KmsKeyIdentifier=BUS_KEY)
    assert (out["Name"], out["Arn"], out["Description"]) == (
        "orders", bus_arn("orders"), "second")
    bus = events.describe_event_bus(Name="orders")
    assert (bus["Description"], bus["KmsKeyIdentifier"]) == ("second", BUS_KEY)
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


def code_of(call, **kwargs):
    return error(call, **kwargs)[0]


def test_rules(events):
    pattern = json.dumps({"source": ["my.app"]})
    arn = events.put_rule(Name="r1", EventPattern=pattern, Description="d")["RuleArn"]
    assert arn == rule_arn("r1")
    rule = events.describe_rule(Name="r1")
    assert rule["EventPattern"] == pattern
    assert (rule["State"], rule["EventBusName"], rule["Description"]) == ("ENABLED", "default", "d")
    assert rule["CreatedBy"] == ACCOUNT
    # Update in place.
    events.put_rule(Name="r1", EventPattern=pattern, State="DISABLED")
    assert events.describe_rule(Name="r1")["State"] == "DISABLED"
    events.enable_rule(Name="r1")
    assert events.describe_rule(Name="r1")["State"] == "ENABLED"
    events.disable_rule(Name="r1")
    assert events.describe_rule(Name="r1")["State"] == "DISABLED"
    # A custom bus: its name in the ARN; schedules only on the default bus.
    events.create_event_bus(Name="orders")
    assert events.put_rule(Name="r1", EventBusName="orders",
                           EventPattern=pattern)["RuleArn"] == rule_arn("r1", "orders")
    assert events.describe_rule(Name="r1", EventBusName=bus_arn("orders"))["EventBusName"] == "orders"
    assert error(events.put_rule, Name="s", EventBusName="orders",
                 ScheduleExpression="rate(5 minutes)") == (
        "ValidationException", "ScheduleExpression is supported only on the default event bus.")
    assert events.put_rule(Name="s", ScheduleExpression="rate(5 minutes)")["RuleArn"] == rule_arn("s")
    assert events.describe_rule(Name="s")["ScheduleExpression"] == "rate(5 minutes)"
    assert error(events.put_rule, Name="s2", ScheduleExpression="rate(5 parsecs)") == (
        "ValidationException", "Parameter ScheduleExpression is not valid.")
    assert error(events.put_rule, Name="x") == (
        "ValidationException", "Parameter(s) EventPattern or ScheduleExpression must be specified.")
    assert code_of(events.put_rule, Name="x", EventPattern='{"source": "a"}') == \
        "InvalidEventPatternException"
    assert error(events.put_rule, Name="x", EventBusName="nope", EventPattern=pattern) == (
        "ResourceNotFoundException", "Event bus nope does not exist.")
    assert code_of(events.put_rule, Name="bad name", EventPattern=pattern) == "ValidationException"
    assert error(events.describe_rule, Name="nope") == (
        "ResourceNotFoundException", "Rule nope does not exist on EventBus default.")
    assert code_of(events.enable_rule, Name="nope") == "ResourceNotFoundException"
    # Listing, with prefixes and pages.
    for n in ("a1", "a2", "a3"):
        events.put_rule(Name=n, EventPattern=pattern)
    names = [r["Name"] for r in events.list_rules()["Rules"]]
    assert names == ["a1", "a2", "a3", "r1", "s"]
    assert [r["Name"] for r in events.list_rules(NamePrefix="a")["Rules"]] == ["a1", "a2", "a3"]
    assert [r["Name"] for r in events.list_rules(EventBusName="orders")["Rules"]] == ["r1"]
    seen, token = [], None
    while True:
        page = events.list_rules(Limit=2, **({"NextToken": token} if token else {}))
        seen += [r["Name"] for r in page["Rules"]]
        token = page.get("NextToken")
        if not token:
            break
    assert seen == names
    assert events.get_paginator("list_rules").paginate().build_full_result()["Rules"][0]["Name"] == "a1"
    # Deletion: idempotent.
    events.delete_rule(Name="a1")
    events.delete_rule(Name="a1")
    assert "a1" not in [r["Name"] for r in events.list_rules()["Rules"]]


def test_targets(events):
    events.put_rule(Name="r", EventPattern=json.dumps({"source": ["my.app"]}))
    out = events.put_targets(Rule="r", Targets=[
        {"Id": "fn", "Arn": LAMBDA, "Input": '{"a": 1}'},
        {"Id": "pipe", "Arn": f"arn:aws:codepipeline:us-east-1:{ACCOUNT}:release",
         "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/events"},
        {"Id": "build", "Arn": f"arn:aws:codebuild:us-east-1:{ACCOUNT}:project/b",
         "InputTransformer": {"InputPathsMap": {"s": "$.source"}, "InputTemplate": '{"src": <s>}'}},
        {"Id": "queue", "Arn": f"arn:aws:sqs:us-east-1:{ACCOUNT}:q"},
        {"Id": "both", "Arn": LAMBDA, "Input": "{}", "InputPath": "$.detail"},
    ])
    assert out["FailedEntryCount"] == 2
    failed = {f["TargetId"]: f for f in out["FailedEntries"]}
    assert set(failed) == {"queue", "both"}
    assert "Lambda functions" in failed["queue"]["ErrorMessage"]
    assert failed["queue"]["ErrorCode"] == "ValidationException"
    targets = events.list_targets_by_rule(Rule="r")["Targets"]
    assert [t["Id"] for t in targets] == ["build", "fn", "pipe"]
    fn = next(t for t in targets if t["Id"] == "fn")
    assert fn == {"Id": "fn", "Arn": LAMBDA, "Input": '{"a": 1}'}
    assert events.list_rule_names_by_target(TargetArn=LAMBDA)["RuleNames"] == ["r"]
    assert events.list_rule_names_by_target(TargetArn=f"{LAMBDA}-other")["RuleNames"] == []
    # Five targets per rule.
    events.put_targets(Rule="r", Targets=[{"Id": "fn", "Arn": LAMBDA},
                                          {"Id": "t4", "Arn": LAMBDA}, {"Id": "t5", "Arn": LAMBDA}])
    assert code_of(events.put_targets, Rule="r", Targets=[{"Id": "t6", "Arn": LAMBDA}]) == \
        "LimitExceededException"
    assert len(events.list_targets_by_rule(Rule="r")["Targets"]) == 5
    assert error(events.put_targets, Rule="nope", Targets=[{"Id": "a", "Arn": LAMBDA}]) == (
        "ResourceNotFoundException", "Rule nope does not exist on EventBus default.")
    # A rule with targets cannot be deleted.
    assert error(events.delete_rule, Name="r") == (
        "ValidationException", "Rule can't be deleted since it has targets.")
    out = events.remove_targets(Rule="r", Ids=["fn", "t4", "t5", "pipe", "build", "never"])
    assert out["FailedEntryCount"] == 0
    assert events.list_targets_by_rule(Rule="r")["Targets"] == []
    events.delete_rule(Name="r")


def test_tags(events):
    arn = events.put_rule(Name="r", EventPattern='{"source": ["a"]}',
                          Tags=[{"Key": "a", "Value": "1"}])["RuleArn"]
    events.tag_resource(ResourceARN=arn, Tags=[{"Key": "b", "Value": "2"}])
    events.untag_resource(ResourceARN=arn, TagKeys=["a"])
    assert events.list_tags_for_resource(ResourceARN=arn)["Tags"] == [{"Key": "b", "Value": "2"}]
    events.tag_resource(ResourceARN=bus_arn("default"), Tags=[{"Key": "k", "Value": "v"}])
    assert events.list_tags_for_resource(ResourceARN=bus_arn("default"))["Tags"] == [
        {"Key": "k", "Value": "v"}]
    assert code_of(events.list_tags_for_resource, ResourceARN=rule_arn("nope")) == \
        "ResourceNotFoundException"
    many = [{"Key": f"k{i}", "Value": "v"} for i in range(50)]
    assert code_of(events.tag_resource, ResourceARN=arn, Tags=many) == "LimitExceededException"


def entry(**kw):
    return {"Source": "my.app", "DetailType": "Thing", "Detail": json.dumps({"n": 1}), **kw}


def test_put_events(events):
    out = events.put_events(Entries=[
        entry(),
        entry(Resources=["arn:aws:s3:::b"], Time=1_700_000_000),
        {"DetailType": "Thing", "Detail": "{}"},
        {"Source": "my.app", "Detail": "{}"},
        {"Source": "my.app", "DetailType": "Thing"},
        entry(Detail="[1, 2]"),
        entry(Detail="not json"),
        entry(EventBusName="no-such-bus"),
    ])
    assert out["FailedEntryCount"] == 5
    e = out["Entries"]
    assert len(e[0]["EventId"]) == 36 and len(e[1]["EventId"]) == 36
    assert e[2] == {"ErrorCode": "InvalidArgument",
                    "ErrorMessage": "Parameter Source is not valid. Reason: Source is a required argument."}
    assert e[3]["ErrorMessage"] == \
        "Parameter DetailType is not valid. Reason: DetailType is a required argument."
    assert e[4]["ErrorMessage"] == "Parameter Detail is not valid. Reason: Detail is a required argument."
    assert e[5] == e[6] == {"ErrorCode": "MalformedDetail", "ErrorMessage": "Detail is malformed."}
    assert "EventId" in e[7]  # an unknown bus: accepted and dropped, as AWS
    # Limits: 10 entries, 256 KB in all.
    assert code_of(events.put_events, Entries=[entry()] * 11) == "ValidationException"
    big = json.dumps({"a": "x" * 140_000})
    assert error(events.put_events, Entries=[entry(Detail=big), entry(Detail=big)]) == (
        "ValidationException", "Total size of the entries in the request is over the limit.")


@pytest.mark.durable_only("restarts the server on its data directory")
def test_rules_survive_a_restart(data_dir):
    first = Server(data_dir).start()
    try:
        ev = client("events", first.url)
        ev.create_event_bus(Name="orders", KmsKeyIdentifier=BUS_KEY,
                            DeadLetterConfig={"Arn": "arn:aws:sqs:us-east-1:000000000000:dlq"})
        ev.put_rule(Name="r", EventBusName="orders", EventPattern='{"source": ["a"]}')
        ev.put_targets(Rule="r", EventBusName="orders", Targets=[{"Id": "t", "Arn": LAMBDA}])
    finally:
        first.kill9()
    second = Server(data_dir).start()
    try:
        ev = client("events", second.url)
        bus = ev.describe_event_bus(Name="orders")
        assert (bus["KmsKeyIdentifier"], bus["DeadLetterConfig"]) == (
            BUS_KEY, {"Arn": "arn:aws:sqs:us-east-1:000000000000:dlq"})
        assert ev.describe_rule(Name="r", EventBusName="orders")["Arn"] == rule_arn("r", "orders")
        assert [t["Id"] for t in ev.list_targets_by_rule(Rule="r", EventBusName="orders")["Targets"]] == ["t"]
        assert ev.put_events(Entries=[entry(Source="a", EventBusName="orders")])["FailedEntryCount"] == 0
    finally:
        second.stop()


TEMPLATE = {
    "Resources": {
        "Bus": {"Type": "AWS::Events::EventBus", "Properties": {"Name": "cfn-bus"}},
        "OnBus": {
            "Type": "AWS::Events::Rule",
            "Properties": {
                "EventBusName": {"Ref": "Bus"},
                "EventPattern": {"source": ["my.app"]},
                "Targets": [{"Id": "fn", "Arn": LAMBDA,
                             "RetryPolicy": {"MaximumRetryAttempts": 3}}],
            },
        },
        "Nightly": {
            "Type": "AWS::Events::Rule",
            "Properties": {"Name": "nightly", "ScheduleExpression": "cron(0 3 * * ? *)",
                           "State": "ENABLED",
                           "Targets": [{"Id": "fn", "Arn": LAMBDA, "Input": '{"job": "nightly"}'}]},
        },
    },
    "Outputs": {
        "BusArn": {"Value": {"Fn::GetAtt": ["Bus", "Arn"]}},
        "RuleRef": {"Value": {"Ref": "OnBus"}},
        "RuleArn": {"Value": {"Fn::GetAtt": ["OnBus", "Arn"]}},
        "NightlyRef": {"Value": {"Ref": "Nightly"}},
    },
}


def wait_stack(cfn, name, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stacks = cfn.describe_stacks(StackName=name)["Stacks"]
        if not stacks[0]["StackStatus"].endswith("_IN_PROGRESS"):
            return stacks[0]
        time.sleep(0.1)
    raise AssertionError("stack did not settle")


def test_cloudformation_rules_and_buses(events, cfn):
    cfn.create_stack(StackName="ev", TemplateBody=json.dumps(TEMPLATE))
    stack = wait_stack(cfn, "ev")
    assert stack["StackStatus"] == "CREATE_COMPLETE", cfn.describe_stack_events(StackName="ev")
    out = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    assert out["BusArn"] == bus_arn("cfn-bus")
    assert out["NightlyRef"] == "nightly"
    bus, name = out["RuleRef"].split("|")
    assert bus == "cfn-bus" and name.startswith("ev-OnBus-")
    assert out["RuleArn"] == rule_arn(name, "cfn-bus")
    rule = events.describe_rule(Name=name, EventBusName="cfn-bus")
    assert json.loads(rule["EventPattern"]) == {"source": ["my.app"]}
    targets = events.list_targets_by_rule(Rule=name, EventBusName="cfn-bus")["Targets"]
    assert targets[0]["RetryPolicy"]["MaximumRetryAttempts"] == 3
    assert events.describe_rule(Name="nightly")["ScheduleExpression"] == "cron(0 3 * * ? *)"
    # Update: the description changes in place, targets are replaced.
    TEMPLATE2 = json.loads(json.dumps(TEMPLATE))
    TEMPLATE2["Resources"]["Nightly"]["Properties"]["Description"] = "at three"
    TEMPLATE2["Resources"]["Nightly"]["Properties"]["Targets"] = [{"Id": "other", "Arn": LAMBDA}]
    cfn.update_stack(StackName="ev", TemplateBody=json.dumps(TEMPLATE2))
    assert wait_stack(cfn, "ev")["StackStatus"] == "UPDATE_COMPLETE"
    assert events.describe_rule(Name="nightly")["Description"] == "at three"
    assert [t["Id"] for t in events.list_targets_by_rule(Rule="nightly")["Targets"]] == ["other"]
    cfn.delete_stack(StackName="ev")
    deadline = time.monotonic() + 30
    while _exists(cfn, "ev") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert code_of(events.describe_rule, Name="nightly") == "ResourceNotFoundException"
    assert code_of(events.describe_event_bus, Name="cfn-bus") == "ResourceNotFoundException"


def _exists(cfn, name):
    try:
        status = cfn.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"]
        return status != "DELETE_COMPLETE"
    except ClientError:
        return False
