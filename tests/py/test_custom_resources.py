"""Custom resources sent to a webhook (`--custom-resource-webhook TOKEN_PREFIX=URL`) and
unknown types kept as inert records (`--accept-unknown-types`), end to end: the real
binary configured through its environment, a real HTTP handler on loopback, stacks
driven through boto3."""
import threading
from http.server import ThreadingHTTPServer

import pytest
from botocore.exceptions import ClientError

from conftest import Server
from test_cloudformation import events, wait_status
from test_provisioning import client
from webhook import CustomResourceHandler

ACCOUNT = "000000000000"
FUNCTIONS = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:"
SPECIAL = FUNCTIONS + "special"


class Handler(CustomResourceHandler):
    """Answers every custom-resource request document with a response document: FAILED
    when the properties say `Fail`, else SUCCESS with `Data.Greeting`."""

    def do_POST(self):
        request = self.read_request()
        self.server.requests.append((self.path, request))
        props = request["ResourceProperties"]
        fail = props.get("Fail")
        self.respond(
            request, f"seed-{request['LogicalResourceId']}-{props.get('Name', '')}",
            fail=f"refused: {fail}" if fail else None,
            data=None if fail else {"Greeting": f"hello {props.get('Name', '')} via {self.path}"})


@pytest.fixture
def handler():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.requests = []
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield httpd
    httpd.shutdown()


@pytest.fixture
def cfn(tmp_path, handler):
    base = f"http://127.0.0.1:{handler.server_address[1]}"
    srv = Server(str(tmp_path / "data"), {
        # Every function of the account goes to /all, one of them to /special: the
        # longest matching prefix wins.
        "SAGESTACK_CUSTOM_RESOURCE_WEBHOOKS": f"{FUNCTIONS}={base}/all,{SPECIAL}={base}/special",
        "SAGESTACK_ACCEPT_UNKNOWN_TYPES": "MyOrg::Widgets::*",
    }).start()
    yield client("cloudformation", srv.url)
    srv.stop()


TEMPLATE = f"""
Parameters:
  Name: {{Type: String}}
Resources:
  Seed:
    Type: Custom::Seed
    Properties:
      ServiceToken: {FUNCTIONS}seeder
      Name: !Ref Name
  Special:
    Type: AWS::CloudFormation::CustomResource
    Properties:
      ServiceToken: {SPECIAL}
      Name: special
  Gear:
    Type: MyOrg::Widgets::Gear
    Properties:
      Teeth: 12
Outputs:
  Greeting: {{Value: !GetAtt Seed.Greeting}}
  SpecialGreeting: {{Value: !GetAtt Special.Greeting}}
  SeedId: {{Value: !Ref Seed}}
  GearId: {{Value: !Ref Gear}}
"""


def outputs(stack):
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def test_custom_resources_run_on_their_webhook_through_create_update_and_delete(cfn, handler):
    sid = cfn.create_stack(StackName="seeded", TemplateBody=TEMPLATE,
                           Parameters=[{"ParameterKey": "Name", "ParameterValue": "world"}])["StackId"]
    stack = wait_status(cfn, sid)
    assert stack["StackStatus"] == "CREATE_COMPLETE", events(cfn, sid)
    out = outputs(stack)
    assert out["Greeting"] == "hello world via /all"
    assert out["SpecialGreeting"] == "hello special via /special"
    assert out["SeedId"] == "seed-Seed-world"
    assert out["GearId"].startswith("seeded-Gear-")
    creates = {r["LogicalResourceId"]: (path, r) for path, r in handler.requests}
    assert set(creates) == {"Seed", "Special"}
    path, seed = creates["Seed"]
    assert path == "/all" and seed["RequestType"] == "Create"
    assert seed["StackId"] == sid and seed["ResourceType"] == "Custom::Seed"
    assert seed["ResourceProperties"] == {"ServiceToken": FUNCTIONS + "seeder", "Name": "world"}
    assert seed["ResponseURL"] and seed["RequestId"]

    handler.requests.clear()
    cfn.update_stack(StackName=sid, TemplateBody=TEMPLATE,
                     Parameters=[{"ParameterKey": "Name", "ParameterValue": "again"}])
    stack = wait_status(cfn, sid)
    assert stack["StackStatus"] == "UPDATE_COMPLETE", events(cfn, sid)
    assert outputs(stack)["Greeting"] == "hello again via /all"
    [(path, update)] = handler.requests
    assert update["RequestType"] == "Update"
    assert update["PhysicalResourceId"] == "seed-Seed-world"
    assert update["OldResourceProperties"]["Name"] == "world"
    assert update["ResourceProperties"]["Name"] == "again"

    handler.requests.clear()
    cfn.delete_stack(StackName=sid)
    assert wait_status(cfn, sid)["StackStatus"] == "DELETE_COMPLETE"
    deletes = sorted((r["LogicalResourceId"], r["RequestType"], r["PhysicalResourceId"])
                     for _, r in handler.requests)
    assert deletes == [("Seed", "Delete", "seed-Seed-world"),
                       ("Special", "Delete", "seed-Special-special")]


def test_a_failed_or_unhandled_custom_resource_rolls_the_stack_back(cfn, handler):
    failing = f"""
Resources:
  Seed:
    Type: Custom::Seed
    Properties:
      ServiceToken: {FUNCTIONS}seeder
      Fail: no seeds today
"""
    sid = cfn.create_stack(StackName="failing", TemplateBody=failing)["StackId"]
    assert wait_status(cfn, sid)["StackStatus"] == "ROLLBACK_COMPLETE"
    reasons = [r for lid, status, r in events(cfn, sid) if lid == "Seed" and status == "CREATE_FAILED"]
    assert reasons and "Received response status [FAILED] from custom resource. " \
        "Message returned: refused: no seeds today" in reasons[0], reasons

    unhandled = """
Resources:
  Topic:
    Type: Custom::Notify
    Properties:
      ServiceToken: arn:aws:sns:us-east-1:000000000000:topic
"""
    sid = cfn.create_stack(StackName="unhandled", TemplateBody=unhandled)["StackId"]
    assert wait_status(cfn, sid)["StackStatus"] == "ROLLBACK_COMPLETE"
    reasons = [r for lid, status, r in events(cfn, sid) if lid == "Topic" and status == "CREATE_FAILED"]
    assert reasons and "cannot be created with ServiceToken arn:aws:sns:us-east-1:000000000000:topic: " \
        "it is an SNS topic, and sagestack does not deliver custom resources through SNS" in reasons[0], reasons


def test_a_service_token_that_is_a_url_is_its_own_webhook(cfn, handler):
    url = f"http://127.0.0.1:{handler.server_address[1]}/direct"
    template = f"""
Resources:
  Direct:
    Type: Custom::Direct
    Properties:
      ServiceToken: {url}
      Name: by-url
Outputs:
  Greeting: {{Value: !GetAtt Direct.Greeting}}
"""
    sid = cfn.create_stack(StackName="by-url", TemplateBody=template)["StackId"]
    stack = wait_status(cfn, sid)
    assert stack["StackStatus"] == "CREATE_COMPLETE", events(cfn, sid)
    assert outputs(stack)["Greeting"] == "hello by-url via /direct"
    assert [path for path, _ in handler.requests] == ["/direct"]


def test_unknown_types_outside_the_accepted_globs_are_still_refused(cfn):
    other = "Resources:\n  Cog:\n    Type: OtherOrg::Widgets::Cog\n"
    with pytest.raises(ClientError) as e:
        cfn.create_stack(StackName="other", TemplateBody=other)
    assert e.value.response["Error"]["Code"] == "ValidationError"
    assert "OtherOrg::Widgets::Cog" in e.value.response["Error"]["Message"]


def test_invalid_flags_stop_the_server_with_a_message(tmp_path):
    srv = Server(str(tmp_path / "data"), {"SAGESTACK_CUSTOM_RESOURCE_WEBHOOKS": "token=https://x/"})
    with pytest.raises(RuntimeError) as e:
        srv.start()
    assert "plain HTTP" in str(e.value)
    srv = Server(str(tmp_path / "data"), {"SAGESTACK_ACCEPT_UNKNOWN_TYPES": "MyOrg"})
    with pytest.raises(RuntimeError) as e:
        srv.start()
    assert "is not a resource type" in str(e.value)
