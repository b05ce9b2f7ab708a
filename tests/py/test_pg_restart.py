"""PostgreSQL stopped and restarted under load (issue #17): clear errors, then recovery.

The test runs a PostgreSQL server of its own (initdb in a temporary directory, a free
port; as root, which CI is, it runs as the `postgres` user since initdb refuses root)
and one sagestack on it. Load runs through boto3 from several threads: CloudFormation
stacks of 30 resources created and described, projects provisioned from a template,
SSM parameters put and read. Then PostgreSQL is stopped (`pg_ctl stop -m fast`, which
ends every session, or `-m immediate`, a crash) for longer than a lease lives, and
started again on the same port. Required:

* no call hangs: every call, before, during and after, is answered within
  `CALL_BUDGET` seconds (the server's connection wait, `--database-acquire-timeout`,
  is 5 s), CreateStack included (the engine's name lock is per name, so creates of
  different names do not queue behind each other's connection waits);
* every call that fails because of the outage fails as `503 ServiceUnavailable` whose
  message says `database unreachable` (the cause follows);
* `/_sagestack/ready` answers 503 and `/_sagestack/health` reports the database
  unreachable while it is down, and both are 200 again once it is back;
* once PostgreSQL is back: new calls succeed, every write acknowledged before or during
  the outage is there (stacks, projects, parameters with the value acknowledged), and
  every stack and project reaches a terminal state (the operations the outage
  interrupted are taken over by the replica's takeover task), nothing stuck, and no
  project fails for the outage (its provisioning is resumed, not recorded as failed);
* a stack and a project created after the outage complete.

Printed (JSON, one line per run): the slowest failed call, the slowest call, the time
from the restart to ready, and to the last stack settled.

Without initdb/pg_ctl (`SAGESTACK_PG_BIN`, default /usr/lib/postgresql/15/bin), or as
root without a `postgres` user, the test is skipped, except with CI=true: then it fails."""
import json
import os
import pwd
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import ACCESS_KEY, REGION, Server, client, fixture, free_port
from test_crash_stacks import template

PG_BIN = os.environ.get("SAGESTACK_PG_BIN", "/usr/lib/postgresql/15/bin")
CALL_BUDGET = 10.0
STACK_RESOURCES = 100
OUTAGE = 15.0  # several connection waits, and longer than a lease lives (6 s)
BUCKET = "templates"
PROVIDERS = [{"CfnTemplateProvider": {
    "TemplateName": "ml", "TemplateURL": f"https://{BUCKET}.s3.us-east-1.amazonaws.com/ml.yaml",
    "RoleARN": "arn:aws:iam::000000000000:role/SageMakerProjectsLaunchRole"}}]
TERMINAL_STACK = ("_COMPLETE", "_FAILED")
TERMINAL_PROJECT = ("CreateCompleted", "CreateFailed")


def cannot_run(reason):
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true: cannot run a PostgreSQL of the test's own: {reason}")
    pytest.skip(reason)


class PrivatePostgres:
    """A PostgreSQL server in a temporary directory on a free port, which the test
    stops and starts (never the machine's shared one)."""

    def __init__(self):
        for tool in ("initdb", "pg_ctl", "postgres"):
            if not os.access(os.path.join(PG_BIN, tool), os.X_OK):
                cannot_run(f"{PG_BIN}/{tool} not found (set SAGESTACK_PG_BIN)")
        self.as_user = []
        # As root the server runs as `postgres`, which must reach its directory: under
        # /tmp, not under a TMPDIR that may sit in root's home.
        root = os.geteuid() == 0
        self.dir = tempfile.mkdtemp(prefix="sagestack-pg-", dir="/tmp" if root else None)
        if root:
            try:
                pg = pwd.getpwnam("postgres")
            except KeyError:
                shutil.rmtree(self.dir)
                cannot_run("running as root (initdb refuses root) and there is no postgres user")
            if not shutil.which("runuser"):
                shutil.rmtree(self.dir)
                cannot_run("running as root and runuser is not installed")
            os.chown(self.dir, pg.pw_uid, pg.pw_gid)
            self.as_user = ["runuser", "-u", "postgres", "--"]
        self.data = os.path.join(self.dir, "data")
        self.log = os.path.join(self.dir, "postgres.log")
        self.port = free_port()
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/postgres"
        self.running = False
        self.pg("initdb", "-D", self.data, "-U", "postgres", "--auth=trust", "-E", "UTF8",
                "--no-sync", "--no-instructions")

    def pg(self, tool, *args):
        p = subprocess.run(self.as_user + [os.path.join(PG_BIN, tool), *args],
                           capture_output=True, text=True, timeout=60)
        if p.returncode != 0:
            raise RuntimeError(f"{tool} {' '.join(args)} failed ({p.returncode}): "
                               f"{p.stdout}{p.stderr}{self.read_log()}")

    def read_log(self):
        try:
            with open(self.log) as f:
                return f.read()[-4000:]
        except OSError:
            return ""

    def start(self):
        options = (f"-p {self.port} -c listen_addresses=127.0.0.1 "
                   f"-c unix_socket_directories={self.dir} -c max_connections=100")
        self.pg("pg_ctl", "-D", self.data, "-l", self.log, "-o", options, "-w", "-t", "60", "start")
        self.running = True

    def stop(self, mode):
        self.pg("pg_ctl", "-D", self.data, "-m", mode, "-w", "-t", "60", "stop")
        self.running = False

    def destroy(self):
        if self.running:
            try:
                self.stop("immediate")
            except (RuntimeError, subprocess.TimeoutExpired):
                pass
        shutil.rmtree(self.dir, ignore_errors=True)


def one_attempt(service, url):
    """A boto3 client that sends each call once (the SDKs retry a 503 by themselves;
    here each answer of the server is measured), and waits long enough to see a hang."""
    return boto3.client(
        service, endpoint_url=url, region_name=REGION, aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key="dummy-secret",
        config=Config(retries={"total_max_attempts": 1}, connect_timeout=5,
                      read_timeout=CALL_BUDGET * 3))


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=CALL_BUDGET + 5) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)


class Load:
    """Worker threads calling the server until stopped; every call is recorded as
    (start, seconds, operation, error code or None, message) and every acknowledged
    write kept, to be found again after the outage."""

    def __init__(self, url):
        self.url = url
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.calls = []
        self.stacks, self.projects, self.parameters = [], [], {}
        self.threads = [threading.Thread(target=w, args=(i,), daemon=True) for i, w in
                        enumerate([self.stacks_worker, self.projects_worker,
                                   self.parameters_worker, self.parameters_worker])]

    def start(self):
        for t in self.threads:
            t.start()
        return self

    def join(self):
        self.stop.set()
        for t in self.threads:
            t.join(timeout=60)
            assert not t.is_alive(), "a load thread hangs"

    def call(self, op, fn, *args, **kwargs):
        began = time.monotonic()
        try:
            out = fn(*args, **kwargs)
            code, message = None, ""
        except ClientError as e:
            out = None
            code = e.response["Error"]["Code"]
            message = e.response["Error"].get("Message", "")
            status = e.response["ResponseMetadata"].get("HTTPStatusCode")
            message = f"[{status}] {message}"
        except Exception as e:  # noqa: BLE001  (a timeout or a dropped connection: recorded, judged later)
            out, code, message = None, type(e).__name__, str(e)
        with self.lock:
            self.calls.append((began, time.monotonic() - began, op, code, message))
        return code is None, out

    def clients(self, service):
        return one_attempt(service, self.url)

    def stacks_worker(self, w):
        cfn = self.clients("cloudformation")
        body = template(STACK_RESOURCES)
        i = 0
        while not self.stop.is_set():
            name = f"load-{w}-{i}"
            ok, _ = self.call("CreateStack", cfn.create_stack, StackName=name, TemplateBody=body,
                              Capabilities=["CAPABILITY_IAM"])
            if ok:
                with self.lock:
                    self.stacks.append(name)
            for _ in range(5):
                if ok:
                    self.call("DescribeStacks", cfn.describe_stacks, StackName=name)
                time.sleep(0.1)
            i += 1

    def projects_worker(self, w):
        sm = self.clients("sagemaker")
        i = 0
        while not self.stop.is_set():
            name = f"load-{w}-{i}"
            ok, _ = self.call("CreateProject", sm.create_project, ProjectName=name,
                              TemplateProviders=PROVIDERS)
            if ok:
                with self.lock:
                    self.projects.append(name)
                self.call("DescribeProject", sm.describe_project, ProjectName=name)
            time.sleep(0.2)
            i += 1

    def parameters_worker(self, w):
        ssm = self.clients("ssm")
        i = 0
        while not self.stop.is_set():
            name = f"/load/{w}/{i % 20}"
            ok, _ = self.call("PutParameter", ssm.put_parameter, Name=name, Value=str(i),
                              Type="String", Overwrite=True)
            if ok:
                with self.lock:
                    self.parameters[name] = i
                self.call("GetParameter", ssm.get_parameter, Name=name)
            time.sleep(0.05)
            i += 1


def wait_until(what, check, timeout, poll=0.2):
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        assert time.monotonic() < deadline, f"{what} within {timeout}s"
        time.sleep(poll)


@pytest.fixture
def postgres():
    pg = PrivatePostgres()
    try:
        pg.start()
        yield pg
    finally:
        pg.destroy()


@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_postgres_stopped_and_restarted_under_load(tmp_path, postgres, mode):
    server = Server(str(tmp_path / "data"),
                    extra_env={"SAGESTACK_DATABASE_URL": postgres.url}).start()
    try:
        cfn = client("cloudformation", server.url)
        sm = client("sagemaker", server.url)
        ssm = client("ssm", server.url)
        s3 = client("s3", server.url, s3={"addressing_style": "path"})
        s3.create_bucket(Bucket=BUCKET)
        s3.put_object(Bucket=BUCKET, Key="ml.yaml", Body=fixture("project-bucket.yaml").encode())
        load = Load(server.url).start()
        time.sleep(4)

        # Work certainly in flight when the database goes: a large stack being created,
        # and a project (besides whatever the load has running). A stack whose resources
        # are all local is answered once it is complete (settle.rs), so its CreateStack
        # runs on a thread and the database stops while the stack is in progress.
        def create_inflight():
            try:
                cfn.create_stack(StackName="inflight", TemplateBody=template(400),
                                 Capabilities=["CAPABILITY_IAM"])
            except Exception:  # the database may stop under the call
                pass

        threading.Thread(target=create_inflight, daemon=True).start()
        deadline = time.monotonic() + 30
        while not any(s["StackName"] == "inflight" for s in cfn.list_stacks(
                StackStatusFilter=["CREATE_IN_PROGRESS"])["StackSummaries"]):
            assert time.monotonic() < deadline, "the inflight stack never started"
            time.sleep(0.01)
        sm.create_project(ProjectName="inflight", TemplateProviders=PROVIDERS)
        with load.lock:
            load.stacks.append("inflight")
            load.projects.append("inflight")
        in_flight = {
            "stacks": len(cfn.list_stacks(StackStatusFilter=["CREATE_IN_PROGRESS"])["StackSummaries"]),
            "projects": sum(p["ProjectStatus"] in ("Pending", "CreateInProgress")
                            for p in sm.list_projects(MaxResults=100)["ProjectSummaryList"]),
        }
        postgres.stop(mode)
        stopped = time.monotonic()
        # While it is down: not ready, the health says why.
        status, body = get(server.url + "/_sagestack/ready")
        assert status == 503 and not body["ready"], body
        assert "database unreachable" in body["reason"], body
        status, body = get(server.url + "/_sagestack/health")
        assert status == 503 and body["status"] == "degraded", body
        assert "database unreachable" in body["store"], body
        time.sleep(max(0.0, OUTAGE - (time.monotonic() - stopped)))

        restarting = time.monotonic()
        postgres.start()
        restarted = time.monotonic()
        wait_until("ready again", lambda: get(server.url + "/_sagestack/ready")[0] == 200, 30)
        ready_after = time.monotonic() - restarted
        status, body = get(server.url + "/_sagestack/health")
        assert status == 200 and body["store"] == "ok", body
        time.sleep(4)
        load.join()

        calls = load.calls
        for c in calls:  # the failed calls, timed from the stop (seen with -s)
            if c[3] is not None:
                print(f"{c[0] - stopped:7.2f} {c[1]:5.2f}s {c[2]:15} {c[3]} {c[4][:150]}")
        slowest = max(calls, key=lambda c: c[1])
        for c in calls:
            assert c[1] < CALL_BUDGET, f"a call took {c[1]:.1f}s: {c}"
        failed = [c for c in calls if c[3] is not None]
        # (Before pg_ctl was asked to start it: it accepts connections a moment before
        # pg_ctl returns.)
        during = [c for c in calls if stopped + 0.5 < c[0] and c[0] + c[1] < restarting]
        assert during and all(c[3] is not None for c in during), \
            f"calls answered while the database was down: {[c for c in during if c[3] is None][:5]}"
        unclear = [c for c in failed
                   if c[3] != "ServiceUnavailable" or "[503]" not in c[4]
                   or "database unreachable" not in c[4]]
        assert not unclear, f"{len(unclear)} calls failed otherwise: {unclear[:5]}"
        after = [c for c in calls if c[0] > restarted + ready_after]
        assert after and all(c[3] is None for c in after), \
            f"calls failing after recovery: {[c for c in after if c[3]][:5]}"

        # Everything acknowledged is there; everything in progress settles.
        assert in_flight["stacks"] > 0, "no stack was in progress when the database stopped"
        for name, value in load.parameters.items():
            got = ssm.get_parameter(Name=name)["Parameter"]["Value"]
            assert int(got) >= value, (name, got, value)

        def stacks_settled():
            statuses = {n: cfn.describe_stacks(StackName=n)["Stacks"][0]["StackStatus"]
                        for n in load.stacks}
            return statuses if all(s.endswith(TERMINAL_STACK) for s in statuses.values()) else None

        stacks = wait_until("every stack settled", stacks_settled, 120, poll=0.5)
        settled_after = time.monotonic() - restarted

        def projects_settled():
            statuses = {n: sm.describe_project(ProjectName=n)["ProjectStatus"] for n in load.projects}
            return statuses if all(s in TERMINAL_PROJECT for s in statuses.values()) else None

        projects = wait_until("every project settled", projects_settled, 120, poll=0.5)
        failed_projects = []
        for n, st in projects.items():
            if st == "CreateFailed":
                d = sm.describe_project(ProjectName=n)
                stack = [t["CfnTemplateProviderDetail"].get("StackDetail", {})
                         for t in d.get("TemplateProviderDetails", [])]
                failed_projects.append({"project": n, "message": d.get("StatusMessage", ""),
                                        "stacks": stack})

        # An outage is no project's failure: the ones it interrupted are resumed.
        assert not failed_projects, failed_projects

        # New work completes.
        cfn.create_stack(StackName="after", TemplateBody=template(10), Capabilities=["CAPABILITY_IAM"])
        wait_until("the new stack complete", lambda: cfn.describe_stacks(StackName="after")[
            "Stacks"][0]["StackStatus"] == "CREATE_COMPLETE", 60)
        sm.create_project(ProjectName="after", TemplateProviders=PROVIDERS)
        wait_until("the new project complete", lambda: sm.describe_project(ProjectName="after")[
            "ProjectStatus"] == "CreateCompleted", 60)
        assert server.proc.poll() is None, "the server exited"
        assert "panicked" not in server.read_log()

        print(json.dumps({
            "mode": mode,
            "calls": len(calls),
            "failed": len(failed),
            "slowest_failed_s": round(max((c[1] for c in failed), default=0), 2),
            "slowest_call_s": round(slowest[1], 2),
            "slowest_other_than_create_stack_s": round(
                max(c[1] for c in calls if c[2] != "CreateStack"), 2),
            "ready_after_restart_s": round(ready_after, 2),
            "stacks_settled_after_restart_s": round(settled_after, 2),
            "in_flight_at_stop": in_flight,
            "stacks": sorted(set(stacks.values())),
            "failed_projects": failed_projects,
            "projects": sorted(set(projects.values())),
            "acknowledged": {"stacks": len(load.stacks), "projects": len(load.projects),
                             "parameters": len(load.parameters)},
        }))
    finally:
        server.stop()
