"""The CloudFormation API (AWS Query protocol) on the sagestack endpoint, through boto3,
the AWS CLI and raw form requests: the life of a stack through every operation, change
sets, `aws cloudformation deploy` and `wait`, and every error the API answers."""
import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET

import pytest
from botocore.exceptions import ClientError

from conftest import SIGV4, Server, aws_cli, client, fixture, post
from conftest import stack_events as events

NS = "{http://cloudformation.amazonaws.com/doc/2010-05-15/}"
ISO_MS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")

TEMPLATE = """\
Description: two queues and a topic
Parameters:
  Env:
    Type: String
    Default: dev
    AllowedValues: [dev, prod]
  Retention:
    Type: Number
Resources:
  Queue:
    Type: AWS::SQS::Queue
    Properties:
      MessageRetentionPeriod: !Ref Retention
      Tags:
        - Key: env
          Value: !Ref Env
  Topic:
    Type: AWS::SNS::Topic
Outputs:
  QueueUrl:
    Value: !Ref Queue
    Description: the queue
    Export:
      Name: !Sub "${AWS::StackName}-queue-url"
  TopicArn:
    Value: !Ref Topic
"""

IMPORTER = """\
Resources:
  Q:
    Type: AWS::SQS::Queue
    Properties:
      Tags:
        - Key: source
          Value: !ImportValue life-queue-url
"""

SIMPLE = """\
Resources:
  Queue:
    Type: AWS::SQS::Queue
"""


@pytest.fixture
def raw_cfn(server):
    """boto3 client without client-side validation: the server's checks answer."""
    return client("cloudformation", server.url, validate=False)


@pytest.fixture
def cli(server):
    """Runs `aws --endpoint-url <server> cloudformation ...`: (returncode, stdout, stderr)."""

    def run(*args, timeout=120):
        return aws_cli(server.url, "cloudformation", *args, timeout=timeout)

    return run


def form(server, params):
    """A raw Query request: (status, headers, parsed XML root)."""
    data = urllib.parse.urlencode(params).encode()
    req = urllib.request.Request(server.url + "/", data=data, method="POST")
    req.add_header("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
    for k, v in SIGV4.items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.headers, ET.fromstring(r.read())
    except urllib.error.HTTPError as e:
        return e.code, e.headers, ET.fromstring(e.read())


def wait_status(cfn, stack, timeout=30):
    """Polls DescribeStacks until the stack leaves *_IN_PROGRESS; its final record."""
    deadline = time.monotonic() + timeout
    while True:
        s = cfn.describe_stacks(StackName=stack)["Stacks"][0]
        status = s["StackStatus"]
        if not status.endswith("_IN_PROGRESS") or status == "REVIEW_IN_PROGRESS":
            return s
        assert time.monotonic() < deadline, f"{stack} still {status}"
        time.sleep(0.05)


def error_of(excinfo):
    err = excinfo.value.response["Error"]
    return err["Code"], err["Message"], excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"]


# ---- the life of a stack ---------------------------------------------------------------


def test_stack_lifecycle_through_every_operation(cfn):
    stack_id = cfn.create_stack(
        StackName="life",
        TemplateBody=TEMPLATE,
        Parameters=[{"ParameterKey": "Retention", "ParameterValue": "3600"}],
        Tags=[{"Key": "team", "Value": "ml"}, {"Key": "cost", "Value": "a&b<c>"}],
        NotificationARNs=[],
    )["StackId"]
    assert re.match(r"^arn:aws:cloudformation:us-east-1:\d{12}:stack/life/[0-9a-f-]{36}$", stack_id)
    s = wait_status(cfn, "life")
    assert s["StackStatus"] == "CREATE_COMPLETE"
    assert s["StackId"] == stack_id
    assert s["Description"] == "two queues and a topic"
    assert sorted((p["ParameterKey"], p["ParameterValue"]) for p in s["Parameters"]) == [
        ("Env", "dev"), ("Retention", "3600")]
    assert s["Tags"] == [{"Key": "team", "Value": "ml"}, {"Key": "cost", "Value": "a&b<c>"}]
    outputs = {o["OutputKey"]: o for o in s["Outputs"]}
    queue_url = outputs["QueueUrl"]["OutputValue"]
    assert queue_url.startswith("https://sqs.us-east-1.amazonaws.com/")
    assert outputs["QueueUrl"]["ExportName"] == "life-queue-url"
    assert outputs["QueueUrl"]["Description"] == "the queue"
    assert outputs["TopicArn"]["OutputValue"].startswith("arn:aws:sns:us-east-1:")
    assert s["DisableRollback"] is False
    assert "LastUpdatedTime" not in s

    # DescribeStacks without a name lists live stacks; by id works too.
    assert [x["StackName"] for x in cfn.describe_stacks()["Stacks"]] == ["life"]
    assert cfn.describe_stacks(StackName=stack_id)["Stacks"][0]["StackName"] == "life"

    # Events: newest first on the wire; oldest first here.
    evs = events(cfn, "life")
    assert evs[0] == ("life", "CREATE_IN_PROGRESS", "User Initiated")
    assert evs[-1] == ("life", "CREATE_COMPLETE", None)
    assert ("Queue", "CREATE_COMPLETE", None) in evs and ("Topic", "CREATE_COMPLETE", None) in evs

    # Resources, four ways.
    res = cfn.list_stack_resources(StackName="life")["StackResourceSummaries"]
    assert sorted((r["LogicalResourceId"], r["ResourceType"], r["ResourceStatus"]) for r in res) == [
        ("Queue", "AWS::SQS::Queue", "CREATE_COMPLETE"), ("Topic", "AWS::SNS::Topic", "CREATE_COMPLETE")]
    detail = cfn.describe_stack_resource(StackName="life", LogicalResourceId="Queue")["StackResourceDetail"]
    assert detail["PhysicalResourceId"] == queue_url
    assert detail["StackId"] == stack_id
    all_res = cfn.describe_stack_resources(StackName="life")["StackResources"]
    assert len(all_res) == 2
    one = cfn.describe_stack_resources(StackName="life", LogicalResourceId="Topic")["StackResources"]
    assert [r["LogicalResourceId"] for r in one] == ["Topic"]
    by_physical = cfn.describe_stack_resources(PhysicalResourceId=queue_url)["StackResources"]
    # The stack that owns the physical resource, with all its resources (as AWS documents).
    assert sorted((r["StackName"], r["LogicalResourceId"]) for r in by_physical) == [
        ("life", "Queue"), ("life", "Topic")]

    # Templates.
    t = cfn.get_template(StackName="life")
    assert t["TemplateBody"] == TEMPLATE
    assert t["StagesAvailable"] == ["Original", "Processed"]
    assert cfn.get_template(StackName="life", TemplateStage="Processed")["TemplateBody"] == TEMPLATE
    summary = cfn.get_template_summary(StackName="life")
    assert summary["ResourceTypes"] == ["AWS::SQS::Queue", "AWS::SNS::Topic"]
    assert [(p["ParameterKey"], p["ParameterType"], p.get("DefaultValue")) for p in summary["Parameters"]] == [
        ("Env", "String", "dev"), ("Retention", "Number", None)]
    assert summary["Parameters"][0]["ParameterConstraints"]["AllowedValues"] == ["dev", "prod"]

    # Exports and imports.
    exports = cfn.list_exports()["Exports"]
    assert exports == [{"ExportingStackId": stack_id, "Name": "life-queue-url", "Value": queue_url}]
    importer_id = cfn.create_stack(StackName="importer", TemplateBody=IMPORTER)["StackId"]
    assert wait_status(cfn, "importer")["StackStatus"] == "CREATE_COMPLETE"
    assert cfn.list_imports(ExportName="life-queue-url")["Imports"] == ["importer"]

    # ListStacks with a status filter.
    summaries = cfn.list_stacks(StackStatusFilter=["CREATE_COMPLETE"])["StackSummaries"]
    assert sorted(x["StackName"] for x in summaries) == ["importer", "life"]
    assert cfn.list_stacks(StackStatusFilter=["DELETE_COMPLETE"])["StackSummaries"] == []

    # Update: a previous parameter value kept, another changed, tags replaced.
    cfn.update_stack(
        StackName="life",
        UsePreviousTemplate=True,
        Parameters=[{"ParameterKey": "Retention", "UsePreviousValue": True},
                    {"ParameterKey": "Env", "ParameterValue": "prod"}],
        Tags=[{"Key": "team", "Value": "platform"}],
    )
    s = wait_status(cfn, "life")
    assert s["StackStatus"] == "UPDATE_COMPLETE"
    assert sorted((p["ParameterKey"], p["ParameterValue"]) for p in s["Parameters"]) == [
        ("Env", "prod"), ("Retention", "3600")]
    assert s["Tags"] == [{"Key": "team", "Value": "platform"}]
    assert s["LastUpdatedTime"] >= s["CreationTime"]
    evs = events(cfn, "life")
    assert ("life", "UPDATE_IN_PROGRESS", "User Initiated") in evs
    assert evs[-1] == ("life", "UPDATE_COMPLETE", None)

    # An exported value in use cannot go away with its stack.
    try:
        cfn.delete_stack(StackName="life")
        s = wait_status(cfn, "life")
        assert s["StackStatus"] == "DELETE_FAILED"
        reason = s["StackStatusReason"]
    except ClientError as e:
        reason = e.response["Error"]["Message"]
    assert "life-queue-url" in reason and "importer" in reason

    # Delete the importer, then the stack; deleted stacks are found by id only.
    cfn.delete_stack(StackName="importer")
    assert wait_status(cfn, importer_id)["StackStatus"] == "DELETE_COMPLETE"
    cfn.delete_stack(StackName="life")
    gone = cfn.describe_stacks(StackName=stack_id)["Stacks"][0]
    deadline = time.monotonic() + 30
    while gone["StackStatus"] != "DELETE_COMPLETE":
        assert time.monotonic() < deadline
        time.sleep(0.05)
        gone = cfn.describe_stacks(StackName=stack_id)["Stacks"][0]
    assert "DeletionTime" in gone
    with pytest.raises(ClientError) as e:
        cfn.describe_stacks(StackName="life")
    assert error_of(e) == ("ValidationError", "Stack with id life does not exist", 400)
    deleted = cfn.list_stacks(StackStatusFilter=["DELETE_COMPLETE"])["StackSummaries"]
    assert sorted(x["StackName"] for x in deleted) == ["importer", "life"]
    # Deleting what does not exist is not an error.
    cfn.delete_stack(StackName="life")
    assert cfn.list_exports()["Exports"] == []


def test_wire_shape_namespace_request_id_and_timestamps(server, cfn):
    cfn.create_stack(StackName="wire", TemplateBody=SIMPLE)
    wait_status(cfn, "wire")
    status, headers, root = form(server, {"Action": "DescribeStacks", "Version": "2010-05-15",
                                          "StackName": "wire"})
    assert status == 200
    assert headers["Content-Type"] == "text/xml"
    assert root.tag == NS + "DescribeStacksResponse"
    rid = root.find(f"{NS}ResponseMetadata/{NS}RequestId").text
    assert rid == headers["x-amzn-RequestId"]
    stack = root.find(f"{NS}DescribeStacksResult/{NS}Stacks/{NS}member")
    assert ISO_MS.match(stack.find(NS + "CreationTime").text)
    assert stack.find(NS + "StackStatus").text == "CREATE_COMPLETE"
    status, _, root = form(server, {"Action": "DescribeStackEvents", "Version": "2010-05-15",
                                    "StackName": "wire"})
    for ts in root.iter(NS + "Timestamp"):
        assert ISO_MS.match(ts.text), ts.text

    # Errors: ErrorResponse with Type, Code, Message and RequestId.
    status, headers, root = form(server, {"Action": "DescribeStacks", "Version": "2010-05-15",
                                          "StackName": "missing"})
    assert status == 400
    assert root.tag == NS + "ErrorResponse"
    assert root.find(f"{NS}Error/{NS}Type").text == "Sender"
    assert root.find(f"{NS}Error/{NS}Code").text == "ValidationError"
    assert root.find(f"{NS}Error/{NS}Message").text == "Stack with id missing does not exist"
    assert root.find(f"{NS}RequestId").text == headers["x-amzn-RequestId"]

    status, _, root = form(server, {"Action": "Frobnicate", "Version": "2010-05-15"})
    assert status == 400
    assert root.find(f"{NS}Error/{NS}Code").text == "InvalidAction"
    status, _, root = form(server, {"Version": "2010-05-15"})
    assert (status, root.find("Error/Code").text) == (400, "MissingAction")
    status, _, root = form(server, {"Action": "ListStacks", "Version": "1999-01-01"})
    assert (status, root.find("Error/Code").text) == (400, "InvalidAction")

    # GET with the parameters in the query string.
    req = urllib.request.Request(server.url + "/?Action=ListStacks&Version=2010-05-15", headers=SIGV4)
    with urllib.request.urlopen(req, timeout=10) as r:
        root = ET.fromstring(r.read())
    assert root.find(f"{NS}ListStacksResult/{NS}StackSummaries/{NS}member/{NS}StackName").text == "wire"

    # JSON 1.1 requests on the same port still get JSON answers.
    status, _, body = post(server.url, "NoSuchService.Op", "{}")
    assert (status, body["__type"]) == (400, "UnknownOperationException")


def test_events_paginate_with_next_token(cfn):
    body = "Resources:\n" + "".join(f"  Q{i}:\n    Type: AWS::SQS::Queue\n" for i in range(40))
    cfn.create_stack(StackName="many", TemplateBody=body)
    assert wait_status(cfn, "many")["StackStatus"] == "CREATE_COMPLETE"
    first = cfn.describe_stack_events(StackName="many")
    assert len(first["StackEvents"]) == 100 and "NextToken" in first
    second = cfn.describe_stack_events(StackName="many", NextToken=first["NextToken"])
    assert "NextToken" not in second
    ids = [e["EventId"] for e in first["StackEvents"] + second["StackEvents"]]
    assert len(ids) == len(set(ids)) == 2 + 3 * 40
    stamps = [e["Timestamp"] for e in first["StackEvents"] + second["StackEvents"]]
    assert stamps == sorted(stamps, reverse=True)
    # Tokens are opaque and bound to their listing: an edited one, or one of another
    # stack's events, is refused as AWS refuses a token it did not issue.
    token = first["NextToken"]
    assert not token.isdigit()
    cfn.create_stack(StackName="other", TemplateBody=SIMPLE)
    edited = token[:-1] + ("0" if token[-1] != "0" else "1")
    for name, bad in (("many", "not-a-token"), ("many", edited), ("other", token)):
        with pytest.raises(ClientError) as e:
            cfn.describe_stack_events(StackName=name, NextToken=bad)
        assert error_of(e)[:2] == ("ValidationError", "Invalid NextToken"), bad


def test_on_failure_delete_and_do_nothing(cfn):
    bad = SIMPLE + "    Properties:\n      Bogus: 1\n"
    sid = cfn.create_stack(StackName="ondelete", TemplateBody=bad, OnFailure="DELETE")["StackId"]
    deadline = time.monotonic() + 30
    while cfn.describe_stacks(StackName=sid)["Stacks"][0]["StackStatus"] != "DELETE_COMPLETE":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    cfn.create_stack(StackName="keep", TemplateBody=bad, OnFailure="DO_NOTHING")
    s = wait_status(cfn, "keep")
    assert s["StackStatus"] == "CREATE_FAILED"
    assert s["DisableRollback"] is True


# ---- change sets -----------------------------------------------------------------------


def test_change_sets_create_update_list_delete(cfn):
    ids = cfn.create_change_set(StackName="cs", ChangeSetName="first", ChangeSetType="CREATE",
                                TemplateBody=SIMPLE, Description="initial",
                                Tags=[{"Key": "k", "Value": "v"}])
    assert ids["Id"].startswith("arn:aws:cloudformation:us-east-1:") and ":changeSet/first/" in ids["Id"]
    s = cfn.describe_stacks(StackName="cs")["Stacks"][0]
    assert s["StackStatus"] == "REVIEW_IN_PROGRESS"
    d = cfn.describe_change_set(ChangeSetName="first", StackName="cs")
    assert (d["Status"], d["ExecutionStatus"], d["Description"]) == ("CREATE_COMPLETE", "AVAILABLE", "initial")
    assert d["StackId"] == ids["StackId"]
    assert [(c["Type"], c["ResourceChange"]["Action"], c["ResourceChange"]["LogicalResourceId"])
            for c in d["Changes"]] == [("Resource", "Add", "Queue")]
    # By ARN alone.
    assert cfn.describe_change_set(ChangeSetName=ids["Id"])["ChangeSetName"] == "first"
    assert cfn.get_template(ChangeSetName=ids["Id"])["TemplateBody"] == SIMPLE
    cfn.execute_change_set(ChangeSetName="first", StackName="cs")
    s = wait_status(cfn, "cs")
    assert s["StackStatus"] == "CREATE_COMPLETE"
    assert s["ChangeSetId"] == ids["Id"]
    assert s["Tags"] == [{"Key": "k", "Value": "v"}]

    changed = SIMPLE + "    Properties:\n      QueueName: renamed\n      DelaySeconds: 5\n"
    upd = cfn.create_change_set(StackName="cs", ChangeSetName="second", TemplateBody=changed)
    d = cfn.describe_change_set(ChangeSetName=upd["Id"])
    rc = d["Changes"][0]["ResourceChange"]
    assert (rc["Action"], rc["Replacement"], rc["Scope"]) == ("Modify", "True", ["Properties"])
    names = sorted(x["Target"]["Name"] for x in rc["Details"])
    assert names == ["DelaySeconds", "QueueName"]
    assert {x["Target"]["RequiresRecreation"] for x in rc["Details"]} == {"Never", "Always"}

    noop = cfn.create_change_set(StackName="cs", ChangeSetName="noop", UsePreviousTemplate=True)
    d = cfn.describe_change_set(ChangeSetName=noop["Id"])
    assert d["Status"] == "FAILED"
    assert d["StatusReason"].startswith("The submitted information didn't contain changes.")
    listed = cfn.list_change_sets(StackName="cs")["Summaries"]
    assert sorted(x["ChangeSetName"] for x in listed) == ["first", "noop", "second"]

    with pytest.raises(ClientError) as e:
        cfn.execute_change_set(ChangeSetName=noop["Id"])
    assert error_of(e)[0] == "InvalidChangeSetStatus"

    cfn.delete_change_set(ChangeSetName="noop", StackName="cs")
    assert sorted(x["ChangeSetName"] for x in cfn.list_change_sets(StackName="cs")["Summaries"]) == [
        "first", "second"]
    cfn.execute_change_set(ChangeSetName="second", StackName="cs")
    s = wait_status(cfn, "cs")
    assert s["StackStatus"] == "UPDATE_COMPLETE"
    q = cfn.describe_stack_resource(StackName="cs", LogicalResourceId="Queue")["StackResourceDetail"]
    assert q["PhysicalResourceId"].endswith("/renamed")


def test_change_set_errors(cfn):
    with pytest.raises(ClientError) as e:
        cfn.describe_change_set(ChangeSetName="nope", StackName="nostack")
    code, msg, status = error_of(e)
    assert (code, status) == ("ChangeSetNotFound", 404)
    assert msg == "ChangeSet [nope] does not exist"
    assert isinstance(e.value, cfn.exceptions.ChangeSetNotFoundException)
    with pytest.raises(ClientError) as e:
        cfn.describe_change_set(ChangeSetName="nope")
    assert error_of(e)[0] == "ValidationError"
    cfn.create_change_set(StackName="dup", ChangeSetName="a", ChangeSetType="CREATE", TemplateBody=SIMPLE)
    with pytest.raises(ClientError) as e:
        cfn.create_change_set(StackName="dup", ChangeSetName="a", ChangeSetType="CREATE", TemplateBody=SIMPLE)
    assert error_of(e)[:2] == ("AlreadyExistsException", "ChangeSet [a] already exists")
    with pytest.raises(ClientError) as e:
        cfn.create_change_set(StackName="nostack", ChangeSetName="u", TemplateBody=SIMPLE)
    assert error_of(e)[:2] == ("ValidationError", "Stack with id nostack does not exist")
    with pytest.raises(ClientError) as e:
        cfn.execute_change_set(ChangeSetName="arn:aws:cloudformation:us-east-1:000000000000:changeSet/x/1")
    assert error_of(e)[0] == "ChangeSetNotFound"


# ---- errors ----------------------------------------------------------------------------


IAM = fixture("iam-role.yaml")


def test_errors_match_aws(cfn, raw_cfn):
    def err(fn, **kw):
        with pytest.raises(ClientError) as e:
            fn(**kw)
        return error_of(e)

    assert err(cfn.describe_stack_events, StackName="ghost") == (
        "ValidationError", "Stack with id ghost does not exist", 400)
    assert err(cfn.update_stack, StackName="ghost", TemplateBody=SIMPLE)[1] == \
        "Stack with id ghost does not exist"
    cfn.create_stack(StackName="dup", TemplateBody=SIMPLE)
    wait_status(cfn, "dup")
    assert err(cfn.create_stack, StackName="dup", TemplateBody=SIMPLE) == (
        "AlreadyExistsException", "Stack [dup] already exists", 400)
    assert err(cfn.update_stack, StackName="dup", TemplateBody=SIMPLE) == (
        "ValidationError", "No updates are to be performed.", 400)

    code, msg, _ = err(cfn.create_stack, StackName="iam", TemplateBody=IAM)
    assert (code, msg) == ("InsufficientCapabilitiesException", "Requires capabilities : [CAPABILITY_IAM]")
    cfn.create_stack(StackName="iam", TemplateBody=IAM, Capabilities=["CAPABILITY_IAM"])
    assert wait_status(cfn, "iam")["Capabilities"] == ["CAPABILITY_IAM"]
    v = cfn.validate_template(TemplateBody=IAM)
    assert v["Capabilities"] == ["CAPABILITY_IAM"]
    assert "[Role]" in v["CapabilitiesReason"]

    bad = "Resources:\n  A:\n    Type: AWS::SQS::Queue\n    Properties:\n      QueueName: !Ref Nope\n"
    code, msg, _ = err(cfn.validate_template, TemplateBody=bad)
    assert code == "ValidationError"
    assert msg.startswith("Template format error: ")
    assert "Nope" in msg and "(line 5, column" in msg
    code, msg, _ = err(cfn.create_stack, StackName="badtpl", TemplateBody=bad)
    assert code == "ValidationError" and msg.startswith("Template format error: ") and "line 5" in msg
    assert err(cfn.describe_stacks, StackName="badtpl")[0] == "ValidationError"
    code, msg, _ = err(cfn.validate_template, TemplateBody="{not: [valid")
    assert code == "ValidationError" and "Template format error" in msg

    code, msg, _ = err(cfn.create_stack, StackName="url", TemplateURL="https://s3.amazonaws.com/b/t.yaml")
    assert code == "ValidationError" and msg.startswith("S3 error: The specified bucket does not exist")
    assert err(cfn.create_stack, StackName="none")[1] == \
        "Either Template URL or Template Body must be specified."

    code, msg, _ = err(raw_cfn.create_stack, StackName="9bad", TemplateBody=SIMPLE)
    assert (code, msg) == ("ValidationError",
                           "1 validation error detected: Value '9bad' at 'stackName' failed to satisfy "
                           "constraint: Member must satisfy regular expression pattern: [a-zA-Z][-a-zA-Z0-9]*")
    code, msg, _ = err(raw_cfn.describe_stack_events)
    assert msg == ("1 validation error detected: Value null at 'stackName' failed to satisfy "
                   "constraint: Member must not be null")
    code, msg, _ = err(raw_cfn.list_stacks, StackStatusFilter=["NOT_A_STATUS"])
    assert code == "ValidationError" and "stackStatusFilter" in msg and "enum value set" in msg
    code, msg, _ = err(raw_cfn.create_stack, StackName="caps", TemplateBody=SIMPLE, Capabilities=["CAPABILITY_X"])
    assert code == "ValidationError" and "capabilities" in msg

    assert err(cfn.describe_stack_resource, StackName="dup", LogicalResourceId="Nope") == (
        "ValidationError", "Resource Nope does not exist for stack dup", 400)
    assert err(cfn.list_imports, ExportName="nothing") == (
        "ValidationError", "Export 'nothing' is not imported by any stack.", 400)
    # The engine cannot interrupt a running update: answered as AWS does for a stack
    # that is not in UPDATE_IN_PROGRESS.
    assert err(cfn.cancel_update_stack, StackName="dup") == (
        "ValidationError", "CancelUpdateStack cannot be called from current stack status", 400)
    assert err(cfn.cancel_update_stack, StackName="ghost")[1] == "Stack with id ghost does not exist"
    code, msg, _ = err(cfn.continue_update_rollback, StackName="dup")
    assert code == "ValidationError" and "UPDATE_ROLLBACK_FAILED" not in msg and "CREATE_COMPLETE" in msg


def test_project_stacks_are_refused(cfn):
    with pytest.raises(ClientError) as e:
        cfn.create_stack(StackName="SP-p-abc123", TemplateBody=SIMPLE)
    code, msg, _ = error_of(e)
    assert code == "ValidationError"
    assert "SageMaker project" in msg and "cannot be created directly" in msg
    with pytest.raises(ClientError) as e:
        cfn.create_change_set(StackName="SP-p-abc123", ChangeSetName="c", ChangeSetType="CREATE",
                              TemplateBody=SIMPLE)
    assert "SageMaker project" in error_of(e)[1]
    with pytest.raises(ClientError):
        cfn.describe_stacks(StackName="SP-p-abc123")


# ---- golden event sequences ------------------------------------------------------------

GOLDEN = """\
Resources:
  First:
    Type: AWS::SQS::Queue
  Second:
    Type: AWS::SQS::Queue
    DependsOn: First
    Properties:
%s
"""
FAIL_REASON = ("Properties validation failed for resource Second with message: "
               "#: extraneous key [Bogus] is not permitted")


def test_golden_create_with_rollback(cfn):
    cfn.create_stack(StackName="gold", TemplateBody=GOLDEN % "      Bogus: 1")
    s = wait_status(cfn, "gold")
    assert s["StackStatus"] == "ROLLBACK_COMPLETE"
    assert events(cfn, "gold") == [
        ("gold", "CREATE_IN_PROGRESS", "User Initiated"),
        ("First", "CREATE_IN_PROGRESS", None),
        ("First", "CREATE_IN_PROGRESS", "Resource creation Initiated"),
        ("First", "CREATE_COMPLETE", None),
        ("Second", "CREATE_IN_PROGRESS", None),
        ("Second", "CREATE_FAILED", FAIL_REASON),
        ("gold", "ROLLBACK_IN_PROGRESS",
         "The following resource(s) failed to create: [Second]. Rollback requested by user."),
        ("Second", "DELETE_COMPLETE", None),
        ("First", "DELETE_IN_PROGRESS", None),
        ("First", "DELETE_COMPLETE", None),
        ("gold", "ROLLBACK_COMPLETE", None),
    ]
    # A rolled-back stack can only be deleted.
    with pytest.raises(ClientError) as e:
        cfn.update_stack(StackName="gold", UsePreviousTemplate=True)
    assert "ROLLBACK_COMPLETE state and can not be updated" in error_of(e)[1]


def test_golden_update_with_rollback(cfn):
    cfn.create_stack(StackName="goldu", TemplateBody=GOLDEN % "      DelaySeconds: 1")
    assert wait_status(cfn, "goldu")["StackStatus"] == "CREATE_COMPLETE"
    created = len(events(cfn, "goldu"))
    cfn.update_stack(StackName="goldu", TemplateBody=GOLDEN % "      DelaySeconds: 1\n      Bogus: 1")
    s = wait_status(cfn, "goldu")
    assert s["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    assert events(cfn, "goldu")[created:] == [
        ("goldu", "UPDATE_IN_PROGRESS", "User Initiated"),
        ("Second", "UPDATE_IN_PROGRESS", None),
        ("Second", "UPDATE_FAILED", FAIL_REASON),
        ("goldu", "UPDATE_ROLLBACK_IN_PROGRESS", "The following resource(s) failed to update: [Second]. "),
        ("Second", "UPDATE_IN_PROGRESS", None),
        ("Second", "UPDATE_COMPLETE", None),
        ("goldu", "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS", None),
        ("goldu", "UPDATE_ROLLBACK_COMPLETE", None),
    ]
    # The stack is back on the template it had, and can be updated again.
    assert "Bogus" not in cfn.get_template(StackName="goldu")["TemplateBody"]
    cfn.update_stack(StackName="goldu", TemplateBody=GOLDEN % "      DelaySeconds: 2")
    assert wait_status(cfn, "goldu")["StackStatus"] == "UPDATE_COMPLETE"


# ---- the AWS CLI -----------------------------------------------------------------------


def test_cli_deploy_create_update_and_no_changes(cli, cfn, tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text(TEMPLATE)
    rc, out, err = cli("deploy", "--stack-name", "deployed", "--template-file", str(path),
                       "--parameter-overrides", "Retention=60", "--tags", "team=ml")
    assert rc == 0, err + out
    s = cfn.describe_stacks(StackName="deployed")["Stacks"][0]
    assert s["StackStatus"] == "CREATE_COMPLETE"
    assert s["Tags"] == [{"Key": "team", "Value": "ml"}]
    assert {p["ParameterKey"]: p["ParameterValue"] for p in s["Parameters"]} == {"Env": "dev", "Retention": "60"}
    # The stack went through REVIEW_IN_PROGRESS (a CREATE change set).
    assert events(cfn, "deployed")[0] == ("deployed", "REVIEW_IN_PROGRESS", "User Initiated")

    # The CLI names change sets after the current second, and an executed change set stays
    # describable: a second deploy within the same second would reuse the name.
    time.sleep(1.1)
    # Update: Retention keeps its previous value (the CLI sends UsePreviousValue).
    rc, out, err = cli("deploy", "--stack-name", "deployed", "--template-file", str(path),
                       "--parameter-overrides", "Env=prod")
    assert rc == 0, err + out
    s = cfn.describe_stacks(StackName="deployed")["Stacks"][0]
    assert s["StackStatus"] == "UPDATE_COMPLETE"
    assert {p["ParameterKey"]: p["ParameterValue"] for p in s["Parameters"]} == {"Env": "prod", "Retention": "60"}

    time.sleep(1.1)
    rc, out, err = cli("deploy", "--stack-name", "deployed", "--template-file", str(path),
                       "--no-fail-on-empty-changeset")
    assert rc == 0, err + out
    assert "No changes to deploy" in out


def test_use_previous_value_of_a_parameter_left_at_its_default(cfn):
    # `Env` was never given: its previous value is its default, which AWS keeps (what
    # `aws cloudformation deploy --parameter-overrides Retention=90` sends for it).
    cfn.create_stack(StackName="defaulted", TemplateBody=TEMPLATE,
                     Parameters=[{"ParameterKey": "Retention", "ParameterValue": "60"}])
    assert wait_status(cfn, "defaulted")["StackStatus"] == "CREATE_COMPLETE"
    cfn.update_stack(StackName="defaulted", TemplateBody=TEMPLATE, Parameters=[
        {"ParameterKey": "Env", "UsePreviousValue": True},
        {"ParameterKey": "Retention", "ParameterValue": "90"}])
    s = wait_status(cfn, "defaulted")
    assert s["StackStatus"] == "UPDATE_COMPLETE"
    assert {p["ParameterKey"]: p["ParameterValue"] for p in s["Parameters"]} == {"Env": "dev", "Retention": "90"}
    with pytest.raises(ClientError) as e:
        cfn.update_stack(StackName="defaulted", TemplateBody=TEMPLATE, Parameters=[
            {"ParameterKey": "Nope", "UsePreviousValue": True},
            {"ParameterKey": "Retention", "ParameterValue": "30"}])
    assert "Cannot specify usePreviousValue as true for a parameter key not in the previous template" in str(e.value)


def test_cli_wait_stack_create_complete_and_describe(cli):
    rc, out, err = cli("create-stack", "--stack-name", "waited", "--template-body", SIMPLE)
    assert rc == 0, err
    stack_id = json.loads(out)["StackId"]
    rc, out, err = cli("wait", "stack-create-complete", "--stack-name", "waited")
    assert rc == 0, err
    rc, out, err = cli("describe-stacks", "--stack-name", stack_id)
    assert rc == 0, err
    assert json.loads(out)["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
    rc, out, err = cli("describe-stacks", "--stack-name", "absent")
    assert rc == 254 or rc == 255
    assert "ValidationError" in err and "Stack with id absent does not exist" in err
    rc, out, err = cli("delete-stack", "--stack-name", "waited")
    assert rc == 0, err
    rc, out, err = cli("wait", "stack-delete-complete", "--stack-name", stack_id)
    assert rc == 0, err


# ---- durability ------------------------------------------------------------------------


@pytest.mark.durable_only("restarts the server on its data directory")
def test_stacks_survive_a_restart(data_dir):
    first = Server(data_dir).start()
    try:
        cfn = client("cloudformation", first.url)
        stack_id = cfn.create_stack(StackName="durable", TemplateBody=TEMPLATE,
                                    Parameters=[{"ParameterKey": "Retention", "ParameterValue": "120"}],
                                    Tags=[{"Key": "a", "Value": "b"}])["StackId"]
        before = wait_status(cfn, "durable")
        assert before["StackStatus"] == "CREATE_COMPLETE"
        evs = events(cfn, "durable")
    finally:
        assert first.stop() == 0
    second = Server(data_dir).start()
    try:
        cfn = client("cloudformation", second.url)
        after = cfn.describe_stacks(StackName="durable")["Stacks"][0]
        assert after == before
        assert events(cfn, "durable") == evs
        assert cfn.list_exports()["Exports"][0]["ExportingStackId"] == stack_id
        cfn.delete_stack(StackName="durable")
        assert wait_status(cfn, stack_id)["StackStatus"] == "DELETE_COMPLETE"
    finally:
        second.stop()


def test_replacing_a_custom_named_resource_fails_before_anything_is_made(cfn):
    # `Path` is create-only: changing it replaces the role, which cannot keep its name.
    def template(path, name="named-role"):
        return f"""
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      RoleName: {name}
      Path: {path}
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement: [{{Effect: Allow, Principal: {{Service: lambda.amazonaws.com}}, Action: sts:AssumeRole}}]
"""
    caps = ["CAPABILITY_NAMED_IAM"]
    cfn.create_stack(StackName="named", TemplateBody=template("/a/"), Capabilities=caps)
    assert wait_status(cfn, "named")["StackStatus"] == "CREATE_COMPLETE"
    cfn.update_stack(StackName="named", TemplateBody=template("/b/"), Capabilities=caps)
    assert wait_status(cfn, "named")["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    [reason] = [r for lid, status, r in events(cfn, "named") if lid == "Role" and status == "UPDATE_FAILED"]
    assert reason == ("CloudFormation cannot update a stack when a custom-named resource requires "
                      "replacing. Rename named-role and update the stack again.")
    # Renaming it too is a replacement that works.
    cfn.update_stack(StackName="named", TemplateBody=template("/b/", "renamed-role"), Capabilities=caps)
    assert wait_status(cfn, "named")["StackStatus"] == "UPDATE_COMPLETE", events(cfn, "named")


def test_condition_names_need_not_be_alphanumeric(cfn):
    # AWS deploys conditions named like `A&B` (issue #23, item 1).
    template = """
Conditions:
  "A&B": !Equals [a, a]
  is-prod: !Not [!Condition "A&B"]
Resources:
  Topic:
    Type: AWS::SNS::Topic
    Condition: "A&B"
  Other:
    Type: AWS::SNS::Topic
    Condition: is-prod
Outputs:
  Chosen:
    Value: !If ["A&B", yes, no]
"""
    cfn.create_stack(StackName="conditions", TemplateBody=template)
    stack = wait_status(cfn, "conditions")
    assert stack["StackStatus"] == "CREATE_COMPLETE", events(cfn, "conditions")
    assert stack["Outputs"][0]["OutputValue"] == "yes"
    ids = [r["LogicalResourceId"] for r in cfn.describe_stack_resources(StackName="conditions")["StackResources"]]
    assert ids == ["Topic"]


def test_get_stack_output_reads_this_servers_stacks(cfn):
    # A stack with an output, then stacks that read it with Fn::GetStackOutput.
    cfn.create_stack(StackName="producer", TemplateBody=json.dumps({
        "Resources": {"P": {"Type": "AWS::SSM::Parameter",
                            "Properties": {"Type": "String", "Value": "from-producer"}}},
        "Outputs": {"Name": {"Value": {"Ref": "P"}}, "Fixed": {"Value": "v1"}}}))
    assert wait_status(cfn, "producer")["StackStatus"] == "CREATE_COMPLETE"
    producer = cfn.describe_stacks(StackName="producer")["Stacks"][0]
    name = {o["OutputKey"]: o["OutputValue"] for o in producer["Outputs"]}["Name"]

    def consumer(stack_name, ref):
        cfn.create_stack(StackName=stack_name, TemplateBody=json.dumps({
            "Resources": {"C": {"Type": "AWS::SSM::Parameter", "Properties": {
                "Type": "String",
                "Value": {"Fn::GetStackOutput": {"StackName": ref, "OutputName": "Fixed"}}}}},
            "Outputs": {"Read": {"Value": {"Fn::GetStackOutput": {
                "StackName": ref, "OutputName": "Name"}}}}}))
        return wait_status(cfn, stack_name)["StackStatus"]

    assert consumer("by-name", "producer") == "CREATE_COMPLETE"
    outputs = cfn.describe_stacks(StackName="by-name")["Stacks"][0]["Outputs"]
    assert outputs == [{"OutputKey": "Read", "OutputValue": name}]
    assert consumer("by-id", producer["StackId"]) == "CREATE_COMPLETE"
    # A stack this server does not hold: the stack fails with the reason.
    assert consumer("dangling", "no-such-stack") in ("ROLLBACK_COMPLETE", "CREATE_FAILED")
    reasons = [reason or "" for _, _, reason in events(cfn, "dangling")]
    assert any("of stack no-such-stack not found" in r for r in reasons), reasons
