"""Fixtures that run the real `sagestack serve` binary and talk to it with boto3 and
the AWS CLI.

The backend every `Server` runs on is chosen by SAGESTACK_TEST_BACKEND:

- `embedded` (the default): the embedded SQLite store in the server's data directory;
- `postgres`: every `Server` that names no SAGESTACK_DATABASE_URL of its own gets a
  fresh, empty PostgreSQL schema of its own in the database SAGESTACK_TEST_POSTGRES_URL
  names (default postgres://postgres@127.0.0.1:5432/test), through `--database-url`
  with `options=-c search_path=<schema>`. The schema belongs to the data directory, so
  a server restarted on the same data directory finds its data again; it is dropped
  (with the `<schema>_account_<id>` schemas of the server's other accounts) once the
  test is over and every server on it has stopped. Tests about the embedded store
  itself (SQLite files, a full disk, crash recovery from the local files) carry
  `@pytest.mark.embedded_only(reason)` and are skipped, with that reason.
- `ephemeral`: every `Server` that names no SAGESTACK_DATABASE_URL runs
  `sagestack serve --ephemeral` (a temporary data directory of its own, never flushed,
  removed at exit) instead of `--data-dir`. A restart therefore starts empty: tests that
  need the durable store (restarts, crashes, the data directory's files) carry
  `@pytest.mark.durable_only(reason)` (or `embedded_only`) and are skipped.

The `pg_url` fixture gives a test a throw-away schema of its own to share between
replicas. Without a reachable PostgreSQL (psql on PATH, the URL answering), what needs
one is skipped with a message, except with CI=true, where that is a failure."""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ACCESS_KEY = "AKIDSAGESTACKTEST"
REGION = "us-east-1"


def fixture(name):
    """The text of tests/fixtures/`name`: templates the Rust tests read too."""
    with open(os.path.join(REPO, "tests", "fixtures", name)) as f:
        return f.read()


def binary():
    if os.environ.get("SAGESTACK_BIN"):
        return os.environ["SAGESTACK_BIN"]
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(REPO, "target"))
    return os.path.join(target, "debug", "sagestack")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PortTaken(RuntimeError):
    """The server could not listen: its port was taken meanwhile."""


class Server:
    """One `sagestack serve` process on a free port over a data directory."""

    def __init__(self, data_dir, extra_env=None):
        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # Deleted projects disappear as soon as their deletion completes (the default
        # retention of 60 s would keep them visible, DeleteCompleted, for a minute).
        self.extra_env = {"SAGESTACK_DELETED_PROJECT_RETENTION": "0", **(extra_env or {})}
        self.proc = None
        self.log = None
        self.started = False
        _SERVERS.setdefault(os.path.abspath(data_dir), []).append(self)

    def start(self, timeout=15):
        # free_port's port may be taken by another process (pytest -n runs several
        # sessions) before the server binds it: a server never started yet then
        # moves to another port.
        for _ in range(3):
            try:
                return self._start(timeout)
            except PortTaken:
                if self.started:
                    raise
                self.port = free_port()
                self.url = f"http://127.0.0.1:{self.port}"
        return self._start(timeout)

    def _start(self, timeout):
        self.log = tempfile.NamedTemporaryFile(prefix="sagestack-", suffix=".log", delete=False)
        env = dict(os.environ, RUST_LOG="info")
        env.pop("SAGESTACK_DATABASE_URL", None)
        # The S3 endpoint verifies signatures: accept the pair every client here signs with.
        env["SAGESTACK_CREDENTIALS"] = f"{ACCESS_KEY}:dummy-secret"
        if BACKEND == "postgres" and "SAGESTACK_DATABASE_URL" not in self.extra_env:
            env["SAGESTACK_DATABASE_URL"] = schema_url(data_dir_schema(self.data_dir))
        env.update(self.extra_env)
        where = ["--data-dir", self.data_dir]
        if BACKEND == "ephemeral" and "SAGESTACK_DATABASE_URL" not in self.extra_env:
            where = ["--ephemeral"]
        self.proc = subprocess.Popen(
            [binary(), "serve", "--port", str(self.port), *where],
            stdout=self.log, stderr=subprocess.STDOUT, env=env,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                log = self.read_log()
                if "cannot listen on" in log and "in use" in log:
                    raise PortTaken(log)
                raise RuntimeError(f"server exited with {self.proc.returncode}: {log}")
            try:
                with urllib.request.urlopen(self.url + "/_sagestack/health", timeout=1) as r:
                    if json.load(r)["status"] == "ok":
                        self.started = True
                        return self
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.02)
        raise RuntimeError("server did not become healthy: " + self.read_log())

    def read_log(self):
        with open(self.log.name) as f:
            return f.read()

    def stop(self, sig=signal.SIGTERM, timeout=10):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=timeout)
        return self.proc.returncode

    def kill9(self):
        return self.stop(signal.SIGKILL)


# The PostgreSQL backend: throw-away schemas in the database PG_URL names.
PG_URL = os.environ.get("SAGESTACK_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test")
BACKEND = os.environ.get("SAGESTACK_TEST_BACKEND", "embedded")
if BACKEND not in ("embedded", "postgres", "ephemeral"):
    raise RuntimeError(
        f"SAGESTACK_TEST_BACKEND={BACKEND!r}: expected embedded, postgres or ephemeral")
_SCHEMAS = {}  # absolute data directory -> its schema (postgres backend)
_SERVERS = {}  # absolute data directory -> every Server made on it


def psql(sql):
    """Runs `sql` through psql on PG_URL: the CompletedProcess (unaligned, tuples only)."""
    return subprocess.run(["psql", PG_URL, "-v", "ON_ERROR_STOP=1", "-qAtc", sql],
                          capture_output=True, text=True, timeout=30)


def require_postgres(_probe=[]):
    """Skips the calling test when PostgreSQL is out of reach (fails it under CI=true)."""
    if not _probe:
        if not shutil.which("psql"):
            _probe.append("psql is not installed")
        else:
            out = psql("SELECT 1")
            _probe.append(None if out.returncode == 0
                          else f"PostgreSQL unreachable at {PG_URL}: {out.stderr.strip()}")
    if _probe[0]:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true: {_probe[0]}")
        pytest.skip(_probe[0])


def new_schema():
    """A fresh, empty schema of PG_URL's database: its name."""
    require_postgres()
    schema = f"sagestack_py_{uuid.uuid4().hex[:12]}"
    out = psql(f'CREATE SCHEMA "{schema}"')
    assert out.returncode == 0, out.stderr
    return schema


def schema_url(schema):
    """PG_URL with `schema` as its search_path (the server's other accounts' schemas are
    then `<schema>_account_<id>`)."""
    sep = "&" if "?" in PG_URL else "?"
    return PG_URL + sep + "options=" + urllib.parse.quote(f"-c search_path={schema}")


def drop_schema(schema):
    """Drops `schema` and the schemas of its server's other accounts beside it."""
    out = psql(f"""SET lock_timeout = '10s'; DO $$DECLARE s text; BEGIN
        FOR s IN SELECT nspname FROM pg_namespace
                 WHERE nspname = '{schema}' OR starts_with(nspname, '{schema}_account_') LOOP
            EXECUTE format('DROP SCHEMA %I CASCADE', s);
        END LOOP; END$$""")
    assert out.returncode == 0, out.stderr


def data_dir_schema(data_dir):
    """The schema of the servers on `data_dir`, made by the first of them."""
    key = os.path.abspath(data_dir)
    if key not in _SCHEMAS:
        _SCHEMAS[key] = new_schema()
    return _SCHEMAS[key]


@pytest.fixture(autouse=True)
def _drop_stopped_servers_schemas():
    """After each test, drops the schemas whose servers have all stopped (a module's
    server that is still running keeps its schema until a later test's end)."""
    yield
    for key in list(_SERVERS):
        if all(s.proc is None or s.proc.poll() is not None for s in _SERVERS[key]):
            del _SERVERS[key]
            if key in _SCHEMAS:
                drop_schema(_SCHEMAS.pop(key))


def pytest_sessionfinish(session):
    for schema in _SCHEMAS.values():
        try:
            drop_schema(schema)
        except (AssertionError, OSError, subprocess.SubprocessError) as e:
            print(f"\nleft PostgreSQL schema {schema} behind: {e}", file=sys.stderr)


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "own_database: runs on a PostgreSQL schema of its own (`pg_url`) "
        "whatever SAGESTACK_TEST_BACKEND says (added by conftest)")
    config.addinivalue_line(
        "markers", "embedded_only(reason): about the embedded store itself; skipped, with "
        "the reason, when SAGESTACK_TEST_BACKEND=postgres or ephemeral")
    config.addinivalue_line(
        "markers", "durable_only(reason): needs a store that outlives its process "
        "(restarts, crashes); skipped, with the reason, when SAGESTACK_TEST_BACKEND=ephemeral")
    config.addinivalue_line(
        "markers", "external_tool: drives Terraform or the CDK CLI, whose time is mostly "
        "their own fixed waits (added by conftest; scripts/test runs these in parallel)")


def pytest_itemcollected(item):
    # A test on a PostgreSQL schema of its own (`pg_url`) runs the same whatever the
    # backend: a run with SAGESTACK_TEST_BACKEND=postgres after the embedded one leaves
    # these out with `-m "not own_database"` (scripts/test does).
    if "pg_url" in getattr(item, "fixturenames", ()):
        item.add_marker("own_database")
    # Terraform's provider and the CDK CLI wait on fixed timers (a CloudFormation waiter
    # polls every 10 s, the S3 lifecycle waiter for ~30 s whatever the server answers):
    # these tests are mostly idle, so scripts/test runs them several at a time.
    module = getattr(item, "module", None)
    if module is not None and ("terraform" in module.__name__ or "cdk" in module.__name__):
        item.add_marker("external_tool")


def pytest_collection_modifyitems(config, items):
    if BACKEND == "ephemeral":
        for item in items:
            for name, why in (("durable_only", "needs the durable store"),
                              ("embedded_only", "embedded store only")):
                mark = item.get_closest_marker(name)
                if mark:
                    reason = mark.args[0] if mark.args else mark.kwargs.get("reason", "")
                    item.add_marker(pytest.mark.skip(reason=f"{why}: {reason}"))
                    break
        return
    if BACKEND != "postgres":
        return
    for item in items:
        mark = item.get_closest_marker("embedded_only")
        if mark:
            reason = mark.args[0] if mark.args else mark.kwargs.get("reason", "")
            item.add_marker(pytest.mark.skip(reason=f"embedded store only: {reason}"))


@pytest.fixture
def pg_url():
    """A throw-away schema of its own (PG_URL with it as search_path), for tests that
    run replicas on one PostgreSQL database whatever SAGESTACK_TEST_BACKEND says."""
    schema = new_schema()
    yield schema_url(schema)
    drop_schema(schema)


@pytest.fixture
def data_dir(tmp_path):
    return str(tmp_path / "data")


@pytest.fixture
def server(data_dir):
    s = Server(data_dir).start()
    yield s
    s.stop()


def client(service, url, validate=True, key=ACCESS_KEY, secret="dummy-secret", token=None,
           **config):
    """A boto3 client for `service` on the server at `url`: the test key pair, one
    attempt, client-side validation unless `validate=False`; `config` adds botocore
    `Config` options (timeouts, `s3=PATH_STYLE`, ...)."""
    return boto3.client(
        service,
        endpoint_url=url,
        region_name=REGION,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        aws_session_token=token,
        config=Config(retries={"max_attempts": 1}, parameter_validation=validate, **config),
    )


# S3 addressing by path (`/bucket/key`), as the templates' URLs name them.
PATH_STYLE = {"addressing_style": "path"}


def make_client(url, validate=True):
    """A boto3 SageMaker client."""
    return client("sagemaker", url, validate)


def client_fixture(name, service, doc, **config):
    """A fixture `name`: a boto3 `service` client of the test server (`config` as for
    `client`). The clients differ only in these, so one definition serves them all."""

    def make(server):
        return client(service, server.url, **config)

    make.__doc__ = doc
    return pytest.fixture(name=name)(make)


sm = client_fixture("sm", "sagemaker", "boto3 SageMaker client (client-side validation on).")
raw = client_fixture("raw", "sagemaker", """boto3 client with client-side parameter validation off,
    so the server's own validation is what answers.""", validate=False)
cfn = client_fixture("cfn", "cloudformation", "boto3 CloudFormation client.")
s3 = client_fixture("s3", "s3", "boto3 S3 client, path-style addressing.", s3=PATH_STYLE)
ssm = client_fixture("ssm", "ssm", "boto3 SSM client.")
ssm_raw = client_fixture("ssm_raw", "ssm", "SSM client with client-side validation off.", validate=False)
sc = client_fixture("sc", "servicecatalog", "boto3 Service Catalog client.")
sc_raw = client_fixture("sc_raw", "servicecatalog", "Service Catalog client with client-side validation off.",
                        validate=False)


def aws_cli(url, *args, timeout=120, extra_env=None):
    """Runs `aws --endpoint-url <url> --output json ...` with the test key pair:
    (returncode, stdout, stderr)."""
    exe = os.path.join(os.path.dirname(sys.executable), "aws")
    env = dict(
        os.environ,
        AWS_ACCESS_KEY_ID=ACCESS_KEY,
        AWS_SECRET_ACCESS_KEY="dummy-secret",
        AWS_DEFAULT_REGION=REGION,
        AWS_CONFIG_FILE="/dev/null",
        AWS_SHARED_CREDENTIALS_FILE="/dev/null",
        AWS_MAX_ATTEMPTS="1",
    )
    env.update(extra_env or {})
    p = subprocess.run(
        [exe, "--endpoint-url", url, "--output", "json", *args],
        capture_output=True, text=True, env=env, timeout=timeout,
    )
    return p.returncode, p.stdout, p.stderr


@pytest.fixture
def aws(server):
    """Runs `aws --endpoint-url <server> sagemaker ...` (another service with
    `service=`); returns (returncode, json-or-text, stderr)."""

    def run(*args, service="sagemaker"):
        rc, out, err = aws_cli(server.url, service, *args, timeout=60)
        if out.strip():
            try:
                out = json.loads(out)
            except ValueError:
                pass
        return rc, out, err

    return run


@pytest.fixture
def lambda_server(data_dir):
    """A server whose Lambda functions run on this interpreter (which has boto3)."""
    s = Server(data_dir, extra_env={"SAGESTACK_LAMBDA_PYTHON": sys.executable}).start()
    yield s
    s.stop()


def aws_logs_tail(url, group, *args):
    """Runs AWS CLI v2's `aws logs tail GROUP ARGS` against `url`: (returncode, stdout,
    stderr). `aws logs tail` is v2's alone and the pinned test CLI is v1: this takes
    SAGESTACK_AWS_CLI_V2 (scripts/test installs Debian's awscli under CI), or `aws` on
    PATH when it is v2; without one the test skips, or fails under CI=true."""
    exe = None
    for candidate in filter(None, [os.environ.get("SAGESTACK_AWS_CLI_V2"), shutil.which("aws")]):
        try:
            version = subprocess.run([candidate, "--version"], capture_output=True, text=True,
                                     timeout=30).stdout
        except OSError:
            continue
        if version.startswith("aws-cli/2"):
            exe = candidate
            break
    if exe is None:
        if os.environ.get("CI") == "true":
            pytest.fail("`aws logs tail` needs AWS CLI v2: scripts/test installs Debian's awscli under CI")
        pytest.skip("`aws logs tail` needs AWS CLI v2 (set SAGESTACK_AWS_CLI_V2)")
    env = dict(os.environ, AWS_ACCESS_KEY_ID=ACCESS_KEY, AWS_SECRET_ACCESS_KEY="dummy-secret",
               AWS_DEFAULT_REGION=REGION, AWS_CONFIG_FILE="/dev/null",
               AWS_SHARED_CREDENTIALS_FILE="/dev/null", AWS_PAGER="")
    p = subprocess.run([exe, "--endpoint-url", url, "logs", "tail", group, *args],
                       capture_output=True, text=True, env=env, timeout=60)
    return p.returncode, p.stdout, p.stderr


def vmhwm(pid):
    """The peak resident set size (VmHWM) of process `pid`, in bytes."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def code(excinfo):
    """The error code of a `pytest.raises(ClientError)`."""
    return code_of(excinfo.value)


def message(excinfo):
    """The error message of a `pytest.raises(ClientError)`."""
    return excinfo.value.response["Error"]["Message"]


def failure_code(call, *args, **kwargs):
    """Calls `call(*args, **kwargs)`, which must raise a ClientError; its error code."""
    with pytest.raises(ClientError) as e:
        call(*args, **kwargs)
    return code(e)


def code_of(e):
    """The error code of a ClientError."""
    return e.response["Error"]["Code"]


def put_template(s3, bucket, key, body):
    """Puts `body` (text) at s3://bucket/key, creating the bucket if need be."""
    try:
        s3.create_bucket(Bucket=bucket)
    except ClientError as e:
        if code_of(e) not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
            raise
    s3.put_object(Bucket=bucket, Key=key, Body=body.encode())


# What a raw request needs to get past the server's guard: a SigV4-shaped signature
# (the server checks its shape, not its value) and a request date.
SIGV4 = {
    "Authorization": f"AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/20250101/{REGION}/sagemaker/aws4_request, "
                     "SignedHeaders=host;x-amz-date, Signature=0000",
    "X-Amz-Date": "20250101T000000Z",
}


def post(url, target, body, headers=None):
    """A raw JSON 1.1 request, SigV4-shaped: (status, headers, parsed body)."""
    data = body if isinstance(body, bytes) else body.encode()
    req = urllib.request.Request(url + "/", data=data, method="POST")
    req.add_header("Content-Type", "application/x-amz-json-1.1")
    for k, v in SIGV4.items():
        req.add_header(k, v)
    if target is not None:
        req.add_header("X-Amz-Target", target)
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.headers, json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, e.headers, json.loads(e.read() or b"{}")


def settled_stack(cfn, stack, timeout=30, poll=0.05):
    """Polls DescribeStacks every `poll` seconds until the stack leaves *_IN_PROGRESS;
    its final record."""
    deadline = time.monotonic() + timeout
    while True:
        s = cfn.describe_stacks(StackName=stack)["Stacks"][0]
        if not s["StackStatus"].endswith("_IN_PROGRESS"):
            return s
        assert time.monotonic() < deadline, f"{stack} still {s['StackStatus']} after {timeout} s"
        time.sleep(poll)


def stack_events(cfn, stack):
    """Every event of a stack, oldest first, as (logical id, status, reason)."""
    pages = cfn.get_paginator("describe_stack_events").paginate(StackName=stack)
    out = [e for p in pages for e in p["StackEvents"]]
    return [(e["LogicalResourceId"], e["ResourceStatus"], e.get("ResourceStatusReason"))
            for e in reversed(out)]


SC = {"ProductId": "prod-abcdefghijklm", "ProvisioningArtifactId": "pa-abcdefghijklm"}


def wait_status(client, name, *statuses, timeout=20):
    """Polls DescribeProject until the project's status is one of `statuses`
    (provisioning runs after CreateProject/UpdateProject/DeleteProject answer)."""
    deadline = time.monotonic() + timeout
    while True:
        d = client.describe_project(ProjectName=name)
        if d["ProjectStatus"] in statuses:
            return d
        if time.monotonic() > deadline:
            raise AssertionError(f"{name} is {d['ProjectStatus']}, expected one of {statuses}")
        time.sleep(0.02)


def wait_gone(client, name, timeout=20):
    """Polls DescribeProject until the project no longer exists."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            d = client.describe_project(ProjectName=name)
        except client.exceptions.ClientError as e:
            if "does not exist" in e.response["Error"]["Message"]:
                return
            raise
        if time.monotonic() > deadline:
            raise AssertionError(f"{name} still exists ({d['ProjectStatus']})")
        time.sleep(0.02)


def delete_and_wait(client, name):
    """DeleteProject, then wait until the project is gone (test servers keep deleted
    projects for no time)."""
    client.delete_project(ProjectName=name)
    wait_gone(client, name)


def create(client, name, **kw):
    if "TemplateProviders" not in kw and "ServiceCatalogProvisioningDetails" not in kw:
        kw["ServiceCatalogProvisioningDetails"] = SC
    return client.create_project(ProjectName=name, **kw)


def wait_for_log(logs, group, needle, timeout=30):
    """The log messages of `group` once one contains `needle`."""
    deadline = time.monotonic() + timeout
    messages = []
    while time.monotonic() < deadline:
        try:
            messages = [e["message"] for e in logs.filter_log_events(logGroupName=group)["events"]]
        except ClientError as e:
            if e.response["Error"]["Code"] != "ResourceNotFoundException":
                raise
        if any(needle in m for m in messages):
            return messages
        time.sleep(0.2)
    raise AssertionError(f"no {needle!r} in {group} after {timeout} s: {messages}")
