"""Lambda-backed custom resources end to end: an `AWS::Lambda::Function` with inline
code in the same template answers through `cfnresponse` (Python) or `cfn-response`
(Node.js) to the request's `ResponseURL`; its `Data` feeds outputs; updates, replacement
by a new physical id, deletion; a handler that sends FAILED, one that crashes, one that
times out, each with the stack events and reasons CloudFormation gives; a SageMaker
project whose template has a custom resource."""
import os
import shutil
import sys
import time

import pytest

from conftest import PATH_STYLE, Server, client, put_template
from test_cloudformation import events, wait_status

NODE = shutil.which("node")

# `Fn`, an inline-Python function whose code follows (indented 10 spaces).
FUNCTION = """  Fn:
    Type: AWS::Lambda::Function
    Properties:
      Runtime: python3.12
      Handler: index.handler
      Role: arn:aws:iam::000000000000:role/cr
      Timeout: {timeout}
      Code:
        ZipFile: |
"""

PYTHON_TEMPLATE = """
Parameters:
  Greeting: {Type: String, Default: hello}
  Mode: {Type: String, Default: ok}
  Timeout: {Type: Number, Default: 10}
Resources:
""" + FUNCTION.format(timeout="!Ref Timeout") + """          import os, time, boto3, cfnresponse
          def handler(event, context):
              props = event["ResourceProperties"]
              print("request", event["RequestType"], event.get("PhysicalResourceId"))
              # Every request is recorded where the test can read it: an SSM parameter.
              boto3.client("ssm").put_parameter(
                  Name="/cr/" + event["RequestType"] + "/" + event["LogicalResourceId"],
                  Value=event.get("PhysicalResourceId") or "-", Type="String", Overwrite=True)
              mode = props.get("Mode", "ok")
              if event["RequestType"] == "Delete":
                  mode = "ok"
              if mode == "fail":
                  cfnresponse.send(event, context, cfnresponse.FAILED, {}, reason="the seed bed is full")
                  return
              if mode == "crash":
                  raise RuntimeError("handler blew up")
              if mode == "hang":
                  time.sleep(60)
              physical = "seed-" + props["Greeting"]
              cfnresponse.send(event, context, cfnresponse.SUCCESS,
                               {"Message": props["Greeting"] + " world", "Secret": "s3cr3t"}, physical)
  Seed:
    Type: Custom::Seed
    Properties:
      ServiceToken: !GetAtt Fn.Arn
      Greeting: !Ref Greeting
      Mode: !Ref Mode
Outputs:
  Message:
    Value: !GetAtt Seed.Message
  Physical:
    Value: !Ref Seed
"""


@pytest.fixture
def cfn(lambda_server):
    return client("cloudformation", lambda_server.url)


def outputs(stack):
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def params(**values):
    return [{"ParameterKey": k, "ParameterValue": str(v)} for k, v in values.items()]


def recorded(server, request_type, logical="Seed"):
    ssm = client("ssm", server.url)
    return ssm.get_parameter(Name=f"/cr/{request_type}/{logical}")["Parameter"]["Value"]


def test_inline_python_custom_resource_create_update_replace_delete(lambda_server, cfn):
    started = time.monotonic()
    sid = cfn.create_stack(StackName="seeded", TemplateBody=PYTHON_TEMPLATE)["StackId"]
    stack = wait_status(cfn, sid)
    assert stack["StackStatus"] == "CREATE_COMPLETE", events(cfn, sid)
    assert time.monotonic() - started < 10
    assert outputs(stack) == {"Message": "hello world", "Physical": "seed-hello"}
    assert recorded(lambda_server, "Create") == "-"

    # A property change the handler answers with the same physical id: in place.
    cfn.update_stack(StackName=sid, TemplateBody=PYTHON_TEMPLATE, Parameters=params(Greeting="hello", Mode="again"))
    stack = wait_status(cfn, sid)
    assert stack["StackStatus"] == "UPDATE_COMPLETE", events(cfn, sid)
    assert recorded(lambda_server, "Update") == "seed-hello"

    # A new physical id from the handler is a replacement: the old one is deleted in cleanup.
    cfn.update_stack(StackName=sid, TemplateBody=PYTHON_TEMPLATE, Parameters=params(Greeting="hi"))
    stack = wait_status(cfn, sid)
    assert stack["StackStatus"] == "UPDATE_COMPLETE", events(cfn, sid)
    assert outputs(stack) == {"Message": "hi world", "Physical": "seed-hi"}
    assert recorded(lambda_server, "Delete") == "seed-hello"
    cleanup = [(lid, status) for lid, status, _ in events(cfn, sid)]
    assert ("Seed", "DELETE_COMPLETE") in cleanup

    cfn.delete_stack(StackName=sid)
    assert wait_status(cfn, sid)["StackStatus"] == "DELETE_COMPLETE"
    assert recorded(lambda_server, "Delete") == "seed-hi"
    lam = client("lambda", lambda_server.url)
    assert lam.list_functions()["Functions"] == []


@pytest.mark.parametrize("mode,timeout,reason", [
    ("fail", 10, "Received response status [FAILED] from custom resource. Message returned: the seed bed is full"),
    ("crash", 10, "the function failed before sending a response: RuntimeError: handler blew up"),
    ("hang", 1, "Task timed out after 1.00 seconds"),
])
def test_failing_handlers_fail_the_resource_at_once(cfn, mode, timeout, reason):
    started = time.monotonic()
    sid = cfn.create_stack(StackName=f"cr-{mode}", TemplateBody=PYTHON_TEMPLATE,
                           Parameters=params(Mode=mode, Timeout=timeout))["StackId"]
    stack = wait_status(cfn, sid)
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE", events(cfn, sid)
    assert time.monotonic() - started < 15
    failed = [r for lid, status, r in events(cfn, sid) if lid == "Seed" and status == "CREATE_FAILED"]
    assert failed and reason in failed[0], failed
    if mode == "crash":
        # The reason quotes the log's tail: the handler's own output is there.
        assert "request Create" in failed[0], failed


@pytest.mark.skipif(NODE is None and os.environ.get("CI") != "true", reason="node is not on PATH")
def test_inline_nodejs_custom_resource(cfn):
    template = """
Resources:
  Fn:
    Type: AWS::Lambda::Function
    Properties:
      Runtime: nodejs20.x
      Handler: index.handler
      Role: arn:aws:iam::000000000000:role/cr
      Code:
        ZipFile: |
          const response = require("cfn-response");
          exports.handler = (event, context) => {
            const name = event.ResourceProperties.Name;
            response.send(event, context, response.SUCCESS, { Upper: name.toUpperCase() }, "node-" + name);
          };
  Thing:
    Type: AWS::CloudFormation::CustomResource
    Properties:
      ServiceToken: !GetAtt Fn.Arn
      Name: widget
Outputs:
  Upper: {Value: !GetAtt Thing.Upper}
  Id: {Value: !Ref Thing}
"""
    sid = cfn.create_stack(StackName="node-cr", TemplateBody=template)["StackId"]
    stack = wait_status(cfn, sid)
    assert stack["StackStatus"] == "CREATE_COMPLETE", events(cfn, sid)
    assert outputs(stack) == {"Upper": "WIDGET", "Id": "node-widget"}
    cfn.delete_stack(StackName=sid)
    assert wait_status(cfn, sid)["StackStatus"] == "DELETE_COMPLETE"


def test_a_project_whose_template_has_a_custom_resource(lambda_server):
    s3 = client("s3", lambda_server.url, s3=PATH_STYLE)
    put_template(s3, "templates", "seeded.yaml", PYTHON_TEMPLATE)
    sm = client("sagemaker", lambda_server.url)
    sm.create_project(
        ProjectName="seeded",
        TemplateProviders=[{"CfnTemplateProvider": {
            "TemplateName": "seeded",
            # An AWS S3 URL: this server reads it from its own S3.
            "TemplateURL": "https://templates.s3.us-east-1.amazonaws.com/seeded.yaml",
            "Parameters": [{"Key": "Greeting", "Value": "project"}],
        }}],
    )
    deadline = time.monotonic() + 30
    while True:
        project = sm.describe_project(ProjectName="seeded")
        if project["ProjectStatus"] not in ("Pending", "CreateInProgress"):
            break
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert project["ProjectStatus"] == "CreateCompleted", project
    assert recorded(lambda_server, "Create") == "-"
    sm.delete_project(ProjectName="seeded")
    deadline = time.monotonic() + 30
    while True:
        try:
            status = sm.describe_project(ProjectName="seeded")["ProjectStatus"]
        except sm.exceptions.ClientError:
            break
        assert status != "DeleteFailed" and time.monotonic() < deadline
        time.sleep(0.1)
    assert recorded(lambda_server, "Delete") == "seed-project"


CRASH_TEMPLATE = """
Parameters:
  Journal: {Type: String}
Resources:
""" + FUNCTION.format(timeout=20) + """          import json, time, cfnresponse
          def handler(event, context):
              path = event["ResourceProperties"]["Journal"]
              with open(path) as f:
                  seen = f.read().splitlines()
              with open(path, "a") as f:
                  f.write(json.dumps([event["RequestType"], event["RequestId"],
                                      event.get("PhysicalResourceId")]) + "\\n")
              if not seen:
                  time.sleep(15)  # the first attempt hangs: the server is killed meanwhile
              cfnresponse.send(event, context, cfnresponse.SUCCESS, {}, "made-" + str(len(seen)))
  Seed:
    Type: Custom::Seed
    Properties:
      ServiceToken: !GetAtt Fn.Arn
      Journal: !Ref Journal
"""


@pytest.mark.durable_only("kills the server and resumes from its data directory")
def test_a_custom_resource_in_flight_at_a_crash_is_resent_with_its_request_id(data_dir, tmp_path):
    import json
    journal = tmp_path / "journal"
    journal.write_text("")
    env = {"SAGESTACK_LAMBDA_PYTHON": sys.executable}
    server = Server(data_dir, extra_env=env).start()
    cfn = client("cloudformation", server.url)
    sid = cfn.create_stack(StackName="crashy", TemplateBody=CRASH_TEMPLATE,
                           Parameters=params(Journal=str(journal)))["StackId"]
    deadline = time.monotonic() + 20
    while not journal.read_text():
        assert time.monotonic() < deadline, server.read_log()
        time.sleep(0.05)
    server.kill9()

    server = Server(data_dir, extra_env=env)
    server.port = int(server.url.rsplit(":", 1)[1])
    server.start()
    try:
        cfn = client("cloudformation", server.url)
        stack = wait_status(cfn, sid, timeout=60)
        # The interrupted create fails the stack; what the re-sent request made is
        # rolled back with a Delete.
        assert stack["StackStatus"] == "ROLLBACK_COMPLETE", events(cfn, sid)
        lines = [json.loads(line) for line in journal.read_text().splitlines()]
        assert [kind for kind, _, _ in lines] == ["Create", "Create", "Delete"], lines
        assert lines[0][1] == lines[1][1], "the re-sent Create keeps its RequestId"
        assert lines[2][2] == "made-1"
    finally:
        server.stop()


def test_permission_version_and_alias_in_a_stack(lambda_server, cfn):
    template = """
Parameters:
  Live: {Type: String, Default: "1"}
Resources:
  Fn:
    Type: AWS::Lambda::Function
    Properties:
      FunctionName: versioned
      Runtime: python3.12
      Handler: index.handler
      Role: arn:aws:iam::000000000000:role/cr
      Code:
        ZipFile: |
          def handler(event, context):
              return context.function_version
  V1:
    Type: AWS::Lambda::Version
    Properties:
      FunctionName: !Ref Fn
      Description: first
  Alias:
    Type: AWS::Lambda::Alias
    Properties:
      FunctionName: !Ref Fn
      FunctionVersion: !GetAtt V1.Version
      Name: live
  Invoke:
    Type: AWS::Lambda::Permission
    Properties:
      FunctionName: !GetAtt Fn.Arn
      Action: lambda:InvokeFunction
      Principal: events.amazonaws.com
      SourceArn: arn:aws:events:us-east-1:000000000000:rule/approved
Outputs:
  Version: {Value: !GetAtt V1.Version}
  VersionArn: {Value: !Ref V1}
  AliasArn: {Value: !Ref Alias}
"""
    sid = cfn.create_stack(StackName="versioned", TemplateBody=template)["StackId"]
    stack = wait_status(cfn, sid)
    assert stack["StackStatus"] == "CREATE_COMPLETE", events(cfn, sid)
    arn = "arn:aws:lambda:us-east-1:000000000000:function:versioned"
    assert outputs(stack) == {"Version": "1", "VersionArn": f"{arn}:1", "AliasArn": f"{arn}:live"}
    lam = client("lambda", lambda_server.url)
    out = lam.invoke(FunctionName="versioned:live")
    assert out["ExecutedVersion"] == "1" and out["Payload"].read() == b'"1"'
    import json
    [statement] = json.loads(lam.get_policy(FunctionName="versioned")["Policy"])["Statement"]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Condition"]["ArnLike"]["AWS:SourceArn"].endswith(":rule/approved")
    cfn.delete_stack(StackName=sid)
    assert wait_status(cfn, sid)["StackStatus"] == "DELETE_COMPLETE", events(cfn, sid)
    assert lam.list_functions()["Functions"] == []


def test_no_echo_masks_data_in_outputs_and_events_but_not_for_getatt(lambda_server, cfn):
    template = """
Resources:
""" + FUNCTION.format(timeout=10) + """          import cfnresponse
          def handler(event, context):
              cfnresponse.send(event, context, cfnresponse.SUCCESS,
                               {"Password": "hunter2-s3cr3t"}, "secret-1", noEcho=True)
  Secret:
    Type: Custom::Secret
    Properties:
      ServiceToken: !GetAtt Fn.Arn
  Param:
    Type: AWS::SSM::Parameter
    Properties:
      Name: /secret/copy
      Type: String
      Value: !Sub "pw=${Secret.Password}"
Outputs:
  Password: {Value: !GetAtt Secret.Password}
"""
    sid = cfn.create_stack(StackName="noecho", TemplateBody=template)["StackId"]
    stack = wait_status(cfn, sid)
    assert stack["StackStatus"] == "CREATE_COMPLETE", events(cfn, sid)
    assert outputs(stack) == {"Password": "*****"}
    shown = [e.get("ResourceProperties", "")
             for e in cfn.describe_stack_events(StackName=sid)["StackEvents"]
             if e["LogicalResourceId"] == "Param"]
    assert any("pw=*****" in p for p in shown), shown
    assert not any("hunter2-s3cr3t" in p for p in shown), shown
    # A resource that needs the secret gets it.
    ssm = client("ssm", lambda_server.url)
    assert ssm.get_parameter(Name="/secret/copy")["Parameter"]["Value"] == "pw=hunter2-s3cr3t"


def test_cancel_update_stack_interrupts_a_long_custom_resource(cfn):
    # An update whose custom resource hangs (its handler sleeps 60 s within a 300 s
    # timeout) is interrupted by CancelUpdateStack and rolled back at once (#23).
    cfn.create_stack(StackName="long", TemplateBody=PYTHON_TEMPLATE, Capabilities=["CAPABILITY_IAM"])
    assert wait_status(cfn, "long")["StackStatus"] == "CREATE_COMPLETE"
    cfn.update_stack(StackName="long", UsePreviousTemplate=True, Capabilities=["CAPABILITY_IAM"],
                     Parameters=[{"ParameterKey": "Mode", "ParameterValue": "hang"},
                                 {"ParameterKey": "Timeout", "ParameterValue": "300"},
                                 {"ParameterKey": "Greeting", "UsePreviousValue": True}])
    deadline = time.monotonic() + 20
    while ("Seed", "UPDATE_IN_PROGRESS", None) not in events(cfn, "long"):
        assert time.monotonic() < deadline, events(cfn, "long")
        time.sleep(0.05)
    started = time.monotonic()
    cfn.cancel_update_stack(StackName="long")
    stack = wait_status(cfn, "long", timeout=30)
    assert stack["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE", events(cfn, "long")
    assert time.monotonic() - started < 20
    happened = events(cfn, "long")
    assert ("Seed", "UPDATE_FAILED", "Resource update cancelled") in happened
    assert ("long", "UPDATE_ROLLBACK_IN_PROGRESS", "Stack update cancelled") in happened
    assert outputs(stack)["Message"] == "hello world"
    # Nothing is updating now: AWS's answer.
    with pytest.raises(cfn.exceptions.ClientError) as e:
        cfn.cancel_update_stack(StackName="long")
    assert e.value.response["Error"]["Message"] == "CancelUpdateStack cannot be called from current stack status"
