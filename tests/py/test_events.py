"""EventBridge's TestEventPattern through boto3 against the binary (the pattern matcher
buses, rules and targets will use)."""
import json

import pytest
from botocore.exceptions import ClientError

from conftest import client, code, fixture

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
