"""`sagestack serve --ephemeral` and `POST /_sagestack/reset` (issue #18): the whole API
on a throw-away store, nothing left on disk after SIGTERM, and a reset that empties
every service so the same names can be created again; refused unsigned under sigv4
and from a browser's cross-origin request."""
import glob
import json
import os
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

import botocore.auth
import botocore.awsrequest
import botocore.credentials
import pytest

from conftest import ACCESS_KEY, PATH_STYLE, REGION, binary, client, free_port

TEMPLATE = """
Parameters:
  SageMakerProjectName: {Type: String}
  SageMakerProjectId: {Type: String}
Resources:
  Setting:
    Type: AWS::SSM::Parameter
    Properties:
      Name: !Sub "/ephemeral/${SageMakerProjectName}"
      Type: String
      Value: !Ref SageMakerProjectId
  Artifacts:
    Type: AWS::S3::Bucket
    Properties: {BucketName: !Sub "artifacts-${SageMakerProjectName}"}
"""


class Ephemeral:
    """One `sagestack serve --ephemeral` on a free port, in its own TMPDIR so that what
    it leaves (or not) is visible."""

    def __init__(self, tmpdir, *extra, env=None):
        self.tmpdir = tmpdir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        full_env = dict(os.environ, TMPDIR=tmpdir, RUST_LOG="info",
                        SAGESTACK_DELETED_PROJECT_RETENTION="0",
                        SAGESTACK_CREDENTIALS=f"{ACCESS_KEY}:dummy-secret")
        full_env.update(env or {})
        for name in ("SAGESTACK_DATA_DIR", "SAGESTACK_DATABASE_URL"):
            full_env.pop(name, None)
        self.log = tempfile.NamedTemporaryFile(prefix="sagestack-eph-", suffix=".log")
        started = time.monotonic()
        self.proc = subprocess.Popen(
            [binary(), "serve", "--ephemeral", "--port", str(self.port), *extra],
            stdout=self.log, stderr=subprocess.STDOUT, env=full_env)
        deadline = started + 15
        while True:
            assert self.proc.poll() is None, self.read_log()
            try:
                with urllib.request.urlopen(self.url + "/_sagestack/health", timeout=1):
                    break
            except (urllib.error.URLError, OSError):
                assert time.monotonic() < deadline, self.read_log()
                time.sleep(0.005)
        self.startup = time.monotonic() - started

    def read_log(self):
        with open(self.log.name) as f:
            return f.read()

    def dirs(self):
        return glob.glob(os.path.join(self.tmpdir, "sagestack-ephemeral-*"))

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=15)
        return self.proc.returncode


def reset(url, headers=None, data=b"", query=""):
    """POST /_sagestack/reset: (status, JSON body)."""
    request = urllib.request.Request(url + "/_sagestack/reset" + query, data=data,
                                     method="POST", headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as e:
        body = e.read()
        try:
            return e.code, json.loads(body)
        except ValueError:
            return e.code, body.decode()


def signed_headers(url, key, secret):
    """SigV4 headers of an empty POST to the reset path (any service name will do)."""
    request = botocore.awsrequest.AWSRequest(method="POST", url=url + "/_sagestack/reset",
                                             data=b"")
    botocore.auth.SigV4Auth(botocore.credentials.Credentials(key, secret), "sagestack",
                            REGION).add_auth(request)
    return dict(request.headers.items())


@pytest.fixture
def eph(tmp_path):
    server = Ephemeral(str(tmp_path))
    yield server
    server.stop()


def wait_project(sm, name, timeout=60):
    deadline = time.monotonic() + timeout
    while True:
        project = sm.describe_project(ProjectName=name)
        if project["ProjectStatus"] not in ("Pending", "CreateInProgress"):
            return project
        assert time.monotonic() < deadline, project
        time.sleep(0.1)


def fill(url, name="churn"):
    """A project from a template in S3 (its stack makes a parameter and a bucket), plus
    a stack, a parameter, a rule and a log group: what a test would leave behind."""
    s3 = client("s3", url, s3=PATH_STYLE)
    s3.create_bucket(Bucket="templates")
    s3.put_object(Bucket="templates", Key="p.yaml", Body=TEMPLATE.encode())
    sm = client("sagemaker", url)
    sm.create_project(ProjectName=name, TemplateProviders=[{"CfnTemplateProvider": {
        "TemplateName": "p", "TemplateURL": "https://templates.s3.us-east-1.amazonaws.com/p.yaml"}}])
    project = wait_project(sm, name)
    assert project["ProjectStatus"] == "CreateCompleted", project
    ssm = client("ssm", url)
    assert ssm.get_parameter(Name=f"/ephemeral/{name}")["Parameter"]["Value"] == project["ProjectId"]
    ssm.put_parameter(Name="/direct", Value="v", Type="String")
    cfn = client("cloudformation", url)
    cfn.create_stack(StackName="plain", TemplateBody=json.dumps({"Resources": {"P": {
        "Type": "AWS::SSM::Parameter", "Properties": {"Type": "String", "Value": "x",
                                                       "Name": "/plain"}}}}))
    cfn.get_waiter("stack_create_complete").wait(StackName="plain",
                                                 WaiterConfig={"Delay": 1})
    events = client("events", url)
    events.put_rule(Name="r", EventPattern=json.dumps({"source": ["x"]}))
    logs = client("logs", url)
    logs.create_log_group(logGroupName="g")
    return project


def test_ephemeral_serves_the_api_and_leaves_nothing_after_sigterm(tmp_path):
    server = Ephemeral(str(tmp_path))
    try:
        assert len(server.dirs()) == 1, server.dirs()
        fill(server.url)
        assert "ephemeral" in server.read_log()
        print(f"time to healthy: {server.startup * 1000:.0f} ms")
    finally:
        assert server.stop() == 0, server.read_log()
    assert server.dirs() == [], server.dirs()


def test_sigint_removes_the_directory_and_kill9_leftovers_go_at_the_next_start(tmp_path):
    first = Ephemeral(str(tmp_path))
    assert first.stop(signal.SIGINT) == 0
    assert first.dirs() == []
    killed = Ephemeral(str(tmp_path))
    killed.stop(signal.SIGKILL)
    assert len(killed.dirs()) == 1  # nothing runs at a kill -9
    # A directory under a minute old may be a server starting: it is left alone.
    young = Ephemeral(str(tmp_path))
    assert len(young.dirs()) == 2
    young.stop()
    [left] = killed.dirs()
    os.utime(left, (time.time() - 120, time.time() - 120))
    later = Ephemeral(str(tmp_path))
    try:
        assert len(later.dirs()) == 1  # its own only: the leftover was removed
        assert "removed an ephemeral data directory" in later.read_log()
    finally:
        later.stop()
    assert later.dirs() == []


def test_ephemeral_conflicts_with_a_data_dir_or_a_database():
    for extra in (["--data-dir", "/tmp/x"], ["--database-url", "postgres://h/db"]):
        done = subprocess.run([binary(), "serve", "--ephemeral", *extra],
                              capture_output=True, text=True, timeout=30)
        assert done.returncode != 0
        assert "cannot be used with" in done.stderr, done.stderr


def test_reset_empties_everything_and_the_same_names_work_again(eph):
    url = eph.url
    fill(url)
    started = time.monotonic()
    status, body = reset(url)
    took = time.monotonic() - started
    assert status == 200, body
    assert body["reset"] is True and body["accounts"] == ["000000000000"], body
    print(f"reset: {body['elapsedMs']:.2f} ms in the server, {took * 1000:.1f} ms round trip")
    assert client("sagemaker", url).list_projects()["ProjectSummaryList"] == []
    assert client("s3", url).list_buckets()["Buckets"] == []
    assert client("ssm", url).get_parameters_by_path(Path="/", Recursive=True)["Parameters"] == []
    cfn = client("cloudformation", url)
    assert cfn.describe_stacks()["Stacks"] == []
    assert cfn.list_exports()["Exports"] == []
    events = client("events", url)
    assert events.list_rules()["Rules"] == []
    assert [b["Name"] for b in events.list_event_buses()["EventBuses"]] == ["default"]
    assert client("logs", url).describe_log_groups()["logGroups"] == []
    stats = json.load(urllib.request.urlopen(url + "/_sagestack/events/stats"))
    assert stats == {"000000000000": {"rules": {}}} or stats == {"000000000000": {}}, stats
    # The same names again: the store's tables and its memory agree they are free.
    fill(url)


def test_reset_waits_for_a_running_operation_or_refuses_naming_it(eph):
    url = eph.url
    s3 = client("s3", url, s3=PATH_STYLE)
    s3.create_bucket(Bucket="templates")
    s3.put_object(Bucket="templates", Key="p.yaml", Body=TEMPLATE.encode())
    sm = client("sagemaker", url)
    sm.create_project(ProjectName="slow", TemplateProviders=[{"CfnTemplateProvider": {
        "TemplateName": "p", "TemplateURL": "https://templates.s3.us-east-1.amazonaws.com/p.yaml"}}])
    # Waiting (the default): the project's operation ends first, then everything goes.
    status, body = reset(url)
    assert status == 200, body
    assert sm.list_projects()["ProjectSummaryList"] == []
    assert s3.list_buckets()["Buckets"] == []
    # Not waiting while a stack runs: 409, nothing changed.
    s3.create_bucket(Bucket="kept")
    cfn = client("cloudformation", url)
    resources = {f"P{i}": {"Type": "AWS::SSM::Parameter",
                           "Properties": {"Type": "String", "Value": "x"}} for i in range(60)}
    cfn.create_stack(StackName="busy", TemplateBody=json.dumps({"Resources": resources}))
    status, body = reset(url, query="?wait=0")
    if status == 409:
        assert body["code"] == "Busy" and body["reset"] is False, body
        assert any("stack operation" in b for b in body["busy"]), body
        assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["kept"]
    else:  # the stack was already done: the reset went through
        assert status == 200, body
    assert reset(url, query="?wait=soon")[0] == 400


def test_reset_refuses_cross_origin_browser_requests(eph):
    client("s3", eph.url).create_bucket(Bucket="stays")
    for headers in ({"Origin": "http://evil.example"}, {"Sec-Fetch-Site": "cross-site"}):
        status, _ = reset(eph.url, headers=headers)
        assert status == 403, headers
    assert reset(eph.url, headers={"Host": "evil.example"})[0] == 421
    assert [b["Name"] for b in client("s3", eph.url).list_buckets()["Buckets"]] == ["stays"]
    # Same-origin (as the console would send it) is not a cross-origin request.
    status, body = reset(eph.url, headers={"Origin": eph.url})
    assert status == 200, body


def test_reset_under_sigv4_needs_a_valid_signature_of_the_servers_account(tmp_path):
    creds = tmp_path / "credentials.toml"
    creds.write_text("""
[[credentials]]
access_key_id = "AKIAOWNER0000000"
secret_access_key = "owner-secret"
account_id = "000000000000"

[[credentials]]
access_key_id = "AKIAOTHER0000000"
secret_access_key = "other-secret"
account_id = "222222222222"
""")
    server = Ephemeral(str(tmp_path), "--auth", "sigv4", "--credentials-file", str(creds),
                       env={"SAGESTACK_CREDENTIALS": ""})
    try:
        url = server.url
        client("s3", url, key="AKIAOWNER0000000", secret="owner-secret").create_bucket(
            Bucket="stays")
        status, body = reset(url)
        assert status == 403 and body["reset"] is False, body
        assert reset(url, headers=signed_headers(url, "AKIAOWNER0000000", "wrong"))[0] == 403
        assert reset(url, headers=signed_headers(url, "AKIAUNKNOWN00000", "x"))[0] == 403
        status, body = reset(url, headers=signed_headers(url, "AKIAOTHER0000000", "other-secret"))
        assert status == 403 and body["code"] == "AccessDenied", body
        s3 = client("s3", url, key="AKIAOWNER0000000", secret="owner-secret")
        assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["stays"]
        status, body = reset(url, headers=signed_headers(url, "AKIAOWNER0000000", "owner-secret"))
        assert status == 200, body
        assert sorted(body["accounts"]) == ["000000000000", "222222222222"]
        assert s3.list_buckets()["Buckets"] == []
    finally:
        server.stop()
