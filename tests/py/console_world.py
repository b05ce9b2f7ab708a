"""The data the console's browser tests read, shared by test_console.py (Chromium) and
test_console_firefox.py (Firefox): a custom-resource webhook and a server filled
through boto3 with a project from the MLOps example template, a project whose custom
resource fails (and rolls back), a project whose template does not validate, and a
direct stack whose update fails and rolls back (with a change set and a `NoEcho`
parameter). `HELD` is a project template held in CreateInProgress by the webhook until
the test lets it go (the live update).

Not a test module (pytest collects `test_*.py` only); no browser is needed to import it.
"""
import os
import threading
import time
from http.server import ThreadingHTTPServer

from conftest import REGION, REPO, Server, client, put_template
from webhook import CustomResourceHandler

ACCOUNT = "000000000000"
FUNCTIONS = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:"
BUCKET = "console-templates"
C = "/_sagestack/console"


class Hook(CustomResourceHandler):
    """Custom resources: FAILED when the properties say `Fail`; a `Hold` resource waits
    until the test sets `server.release` (or a browser script GETs `/release`)."""

    def do_POST(self):
        request = self.read_request()
        props = request["ResourceProperties"]
        if props.get("Hold") and request["RequestType"] == "Create":
            self.server.release.wait(60)
        fail = props.get("Fail") if request["RequestType"] != "Delete" else None
        self.respond(request, f"hook-{request['LogicalResourceId']}",
                     fail=f"refused: {fail}" if fail else None)

    def do_GET(self):
        if self.path != "/release":
            self.send_error(404)
            return
        self.server.release.set()
        self.reply(b"{}")


# Param waits for Bucket; Check (which fails) waits for Param: the timeline's order.
FAILING = f"""
Parameters:
  SageMakerProjectName: {{Type: String}}
  SageMakerProjectId: {{Type: String}}
Resources:
  Bucket:
    Type: AWS::S3::Bucket
  Param:
    Type: AWS::SSM::Parameter
    Properties: {{Type: String, Value: !Ref Bucket}}
  Check:
    Type: Custom::Check
    Properties:
      ServiceToken: {FUNCTIONS}checker
      After: !Ref Param
      Fail: quota exceeded for {{{{project}}}}
"""

HELD = f"""
Parameters:
  SageMakerProjectName: {{Type: String}}
  SageMakerProjectId: {{Type: String}}
Resources:
  Param:
    Type: AWS::SSM::Parameter
    Properties: {{Type: String, Value: held}}
  Slow:
    Type: Custom::Slow
    Properties: {{ServiceToken: {FUNCTIONS}slow, Hold: "yes", After: !Ref Param}}
"""

# Line 5, column 3: a resource without a Type; line 6, column 5: an unknown attribute.
INVALID = """Parameters:
  SageMakerProjectName: {Type: String}
  SageMakerProjectId: {Type: String}
Resources:
  Bucket:
    Typo: AWS::S3::Bucket
"""

STACK_V1 = f"""
Parameters:
  Secret: {{Type: String, NoEcho: true}}
Resources:
  Store:
    Type: AWS::SSM::Parameter
    Properties: {{Type: String, Value: v1}}
  Gate:
    Type: Custom::Gate
    Properties: {{ServiceToken: {FUNCTIONS}gate, Version: "1"}}
Outputs:
  StoreName: {{Value: !Ref Store}}
"""
STACK_V2 = STACK_V1.replace("Value: v1", "Value: v2").replace(
    'Version: "1"', 'Version: "2", Fail: bad gate')


def provider(key, params=()):
    return {"CfnTemplateProvider": {
        "TemplateName": key.split(".")[0],
        "TemplateURL": f"https://{BUCKET}.s3.{REGION}.amazonaws.com/{key}",
        "Parameters": [{"Key": k, "Value": v} for k, v in params]}}


def wait(fn, timeout=60, poll=0.1):
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(poll)


def project_status(sm, name):
    return sm.describe_project(ProjectName=name)["ProjectStatus"]


def start_hook():
    """The webhook server (a daemon thread); stop it with `stop_hook`."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    httpd.release = threading.Event()
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


def stop_hook(httpd):
    httpd.release.set()
    httpd.shutdown()


def build_world(data_dir, hook):
    """Starts a server over `data_dir` whose custom resources go to `hook`, fills it,
    and returns `(server, sagemaker, cloudformation, s3)` clients; the caller stops the
    server."""
    base = f"http://127.0.0.1:{hook.server_address[1]}"
    srv = Server(data_dir, {"SAGESTACK_CUSTOM_RESOURCE_WEBHOOKS": f"{FUNCTIONS}={base}/hook"}).start()
    try:
        sm, cfn = client("sagemaker", srv.url), client("cloudformation", srv.url)
        s3 = client("s3", srv.url, s3={"addressing_style": "path"})
        with open(os.path.join(REPO, "examples", "mlops", "mlops-template.yaml")) as f:
            put_template(s3, BUCKET, "mlops.yaml", f.read())
        put_template(s3, BUCKET, "failing.yaml", FAILING)
        put_template(s3, BUCKET, "held.yaml", HELD)
        put_template(s3, BUCKET, "invalid.yaml", INVALID)
        sm.create_project(ProjectName="mlops-ok", ProjectDescription="the MLOps example",
                          TemplateProviders=[provider("mlops.yaml", [("Stage", "dev")])],
                          Tags=[{"Key": "team", "Value": "vision"}])
        sm.create_project(ProjectName="failing", TemplateProviders=[provider("failing.yaml")])
        sm.create_project(ProjectName="invalid", TemplateProviders=[provider("invalid.yaml")])
        for name in ("mlops-ok", "failing", "invalid"):
            wait(lambda: project_status(sm, name) not in ("Pending", "CreateInProgress"))
        cfn.create_stack(StackName="web", TemplateBody=STACK_V1,
                         Parameters=[{"ParameterKey": "Secret", "ParameterValue": "hunter2"}])
        wait(lambda: cfn.describe_stacks(StackName="web")["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE")
        cfn.create_change_set(StackName="web", ChangeSetName="to-v2", TemplateBody=STACK_V2,
                              Parameters=[{"ParameterKey": "Secret", "UsePreviousValue": True}])
        wait(lambda: cfn.describe_change_set(StackName="web", ChangeSetName="to-v2")["Status"]
             in ("CREATE_COMPLETE", "FAILED"))
        cfn.update_stack(StackName="web", TemplateBody=STACK_V2,
                         Parameters=[{"ParameterKey": "Secret", "UsePreviousValue": True}])
        wait(lambda: cfn.describe_stacks(StackName="web")["Stacks"][0]["StackStatus"]
             == "UPDATE_ROLLBACK_COMPLETE")
    except BaseException:
        srv.stop()
        raise
    return srv, sm, cfn, s3


def start_sigv4_server(data_dir, creds_path):
    """A `--auth sigv4` server with two accounts (alice 111111111111, bob 222222222222),
    each with one project; the caller stops it."""
    with open(creds_path, "w") as f:
        f.write('[[credentials]]\naccess_key_id = "AKIDALICE"\nsecret_access_key = "alice-secret"\n'
                'account_id = "111111111111"\n\n[[credentials]]\naccess_key_id = "AKIDBOB"\n'
                'secret_access_key = "bob-secret"\naccount_id = "222222222222"\n')
    srv = Server(data_dir, {"SAGESTACK_AUTH": "sigv4", "SAGESTACK_CREDENTIALS": "",
                            "SAGESTACK_CREDENTIALS_FILE": str(creds_path)}).start()
    try:
        alice = client("sagemaker", srv.url, key="AKIDALICE", secret="alice-secret")
        bob = client("sagemaker", srv.url, key="AKIDBOB", secret="bob-secret")
        alice.create_project(ProjectName="alices", TemplateProviders=[provider("nowhere.yaml")])
        bob.create_project(ProjectName="bobs", TemplateProviders=[provider("nowhere.yaml")])
    except BaseException:
        srv.stop()
        raise
    return srv
