"""Replicas on one PostgreSQL schema racing each other: exactly one winner, decided by the
database (#17).

Each race is driven from two `sagestack serve` processes at once, many rounds
(`RACE_ROUNDS`, default 30): CreateProject of one name, UpdateProject against
UpdateProject, DeleteProject against UpdateProject, and re-creating a `DeleteCompleted`
name while its purge is due. The losers get AWS's error for the operation. The
template's custom resource (a webhook in this test) holds each winning update or delete
until both calls have answered, so the loser always meets the winner in progress:
without it a one-parameter stack update can finish before the other call reads the
project (a few milliseconds late under load), and both then win, correctly, one after
the other. Also: a rule
written through one replica is seen by another (EventBridge's memory follows the
database's change feed), and `/_sagestack/ready` fails while the database is unreachable
and recovers when it returns (through a TCP proxy this test controls; the machine's
PostgreSQL is never stopped).

Uses SAGESTACK_TEST_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/test) and a
throw-away schema; skipped when PostgreSQL is unreachable, except under CI=true."""
import json
import os
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from http.server import ThreadingHTTPServer

import pytest
from botocore.exceptions import ClientError

from conftest import Server, client, make_client
from test_postgres_backend import pg_url  # noqa: F401 (the throw-away schema fixture)
from webhook import CustomResourceHandler

ROUNDS = int(os.environ.get("RACE_ROUNDS", "30"))
BUCKET = "replica-races"
TEMPLATE = """Parameters:
  Stage:
    Type: String
Resources:
  Param:
    Type: AWS::SSM::Parameter
    Properties:
      Type: String
      Value: !Ref Stage
  Gate:
    Type: Custom::Gate
    Properties:
      ServiceToken: {url}
      Stage: !Ref Stage
"""


class Gate(CustomResourceHandler):
    """A custom resource's webhook: answers SUCCESS at once to a Create, and to an Update
    or Delete once the server's `opened` event is set (or after 30 s, so that a failing
    test does not hang)."""

    def do_POST(self):
        request = self.read_request()
        if request["RequestType"] != "Create":
            self.server.opened.wait(30)
        self.respond(request, f"gate-{request['RequestId']}")


@pytest.fixture
def gate():
    """The webhook's server; its `opened` event starts set (nothing held)."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Gate)
    httpd.daemon_threads = True
    httpd.opened = threading.Event()
    httpd.opened.set()
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield httpd
    httpd.opened.set()
    httpd.shutdown()


def held(gate, *calls):
    """`at_once(*calls)` with the gate closed: the winner's provisioning waits in the
    custom resource until both calls have answered."""
    gate.opened.clear()
    try:
        return at_once(*calls)
    finally:
        gate.opened.set()


def providers(stage):
    return [{"CfnTemplateProvider": {
        "TemplateName": "t", "TemplateURL": f"https://{BUCKET}.s3.us-east-1.amazonaws.com/t.yaml",
        "Parameters": [{"Key": "Stage", "Value": stage}]}}]


@pytest.fixture
def replicas(tmp_path, pg_url, gate):  # noqa: F811
    env = {"SAGESTACK_DATABASE_URL": pg_url, "SAGESTACK_DELETED_PROJECT_RETENTION": "1"}
    servers = [Server(str(tmp_path / n), extra_env=env).start() for n in "abc"]
    try:
        s3 = client("s3", servers[0].url)
        s3.create_bucket(Bucket=BUCKET)
        url = f"http://127.0.0.1:{gate.server_address[1]}/gate"
        s3.put_object(Bucket=BUCKET, Key="t.yaml", Body=TEMPLATE.format(url=url).encode())
        yield servers
    finally:
        for s in servers:
            s.stop()


def at_once(*calls):
    """Runs the calls together (released by one barrier); each result is ("ok", value)
    or (error code, message)."""
    barrier = threading.Barrier(len(calls))

    def run(call):
        barrier.wait()
        try:
            return "ok", call()
        except ClientError as e:
            return e.response["Error"]["Code"], e.response["Error"]["Message"]

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def one_winner(results, code, message_part, round_):
    wins = [r for r in results if r[0] == "ok"]
    losses = [r for r in results if r[0] != "ok"]
    assert len(wins) == 1, f"round {round_}: {results}"
    for got_code, message in losses:
        assert got_code == code and message_part in message, f"round {round_}: {results}"
    return wins[0][1]


def wait_for(sm, name, *statuses, timeout=30):
    deadline = time.monotonic() + timeout
    while True:
        try:
            status = sm.describe_project(ProjectName=name)["ProjectStatus"]
        except ClientError as e:
            if "does not exist" not in e.response["Error"]["Message"] or None not in statuses:
                raise
            status = None
        if status in statuses:
            return status
        assert time.monotonic() < deadline, f"{name} is {status}, expected {statuses}"
        time.sleep(0.02)


def test_each_race_has_exactly_one_winner(replicas, gate):
    a, b, c = (make_client(s.url) for s in replicas)
    started = time.monotonic()

    # CreateProject of one name on two replicas.
    for i in range(ROUNDS):
        name = f"c-{i}"
        results = at_once(*(lambda sm=sm: sm.create_project(ProjectName=name, TemplateProviders=providers("1"))
                            for sm in (a, b)))
        one_winner(results, "ValidationException", f"Project {name} already exists", i)
    # Every created project provisions, on whichever replica won.
    for i in range(ROUNDS):
        wait_for(c, f"c-{i}", "CreateCompleted")

    # UpdateProject against UpdateProject (each starts a provisioning update).
    for i in range(ROUNDS):
        results = held(gate, *(lambda sm=sm, k=k: sm.update_project(
            ProjectName="c-0", TemplateProvidersToUpdate=providers(f"{i}-{k}")) for k, sm in enumerate((a, b))))
        one_winner(results, "ConflictException", "cannot be updated", i)
        wait_for(c, "c-0", "UpdateCompleted")

    # DeleteProject against UpdateProject.
    for i in range(1, ROUNDS):
        name = f"c-{i}"
        results = held(gate, lambda: a.delete_project(ProjectName=name),
                       lambda: b.update_project(ProjectName=name, TemplateProvidersToUpdate=providers("2")))
        winner = "delete" if results[0][0] == "ok" else "update"
        one_winner(results, "ConflictException", "while its status is", i)
        if winner == "update":
            wait_for(c, name, "UpdateCompleted")

    # Re-creating a DeleteCompleted name on two replicas, at varying times around its
    # purge (the retention is 1 s): one winner, and the purge never removes it.
    for i in range(ROUNDS):
        name = f"r-{i}"
        a.create_project(ProjectName=name, TemplateProviders=providers("1"))
        wait_for(c, name, "CreateCompleted")
        a.delete_project(ProjectName=name)
        wait_for(c, name, "DeleteCompleted", None)
        time.sleep((i % 5) * 0.25)
        results = at_once(*(lambda sm=sm: sm.create_project(ProjectName=name, TemplateProviders=providers("1"))
                            for sm in (b, c)))
        won = one_winner(results, "ValidationException", f"Project {name} already exists", i)
        time.sleep(1.2 if i % 5 == 4 else 0)
        assert a.describe_project(ProjectName=name)["ProjectId"] == won["ProjectId"], f"round {i}"
    print(f"{4 * ROUNDS} races in {time.monotonic() - started:.1f} s")


def test_rules_written_on_one_replica_are_seen_by_another(replicas):
    ea, eb = (client("events", s.url) for s in replicas[:2])
    # Both replicas load their rules first, then one changes them.
    assert ea.list_rules()["Rules"] == [] and eb.list_rules()["Rules"] == []
    ea.put_rule(Name="shared", EventPattern=json.dumps({"source": ["app"]}))
    deadline = time.monotonic() + 5
    while [r["Name"] for r in eb.list_rules()["Rules"]] != ["shared"]:
        assert time.monotonic() < deadline, "replica b never saw the rule"
        time.sleep(0.05)
    eb.delete_rule(Name="shared")
    while ea.list_rules()["Rules"]:
        assert time.monotonic() < deadline + 5, "replica a still has the deleted rule"
        time.sleep(0.05)


class Proxy:
    """A TCP proxy to PostgreSQL that can be cut (every connection closed, new ones
    refused) and restored, standing in for a database that goes away."""

    def __init__(self, host, port):
        self.target = (host, port)
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        # Taken to let a connection through and to cut: a connection accepted while `cut`
        # runs is either refused or closed by it, never left open past it.
        self.lock = threading.Lock()
        self.up = True
        self.open = []
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            conn, _ = self.listener.accept()
            with self.lock:
                if not self.up:
                    conn.close()
                    continue
                upstream = socket.create_connection(self.target)
                self.open += [conn, upstream]
            for src, dst in ((conn, upstream), (upstream, conn)):
                threading.Thread(target=self.pipe, args=(src, dst), daemon=True).start()

    @staticmethod
    def pipe(src, dst):
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cut(self):
        with self.lock:
            self.up = False
            for s in self.open:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            self.open = []

    def restore(self):
        with self.lock:
            self.up = True


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)


def test_ready_fails_while_the_database_is_unreachable_and_recovers(tmp_path, pg_url):  # noqa: F811
    parsed = urllib.parse.urlsplit(pg_url)
    proxy = Proxy(parsed.hostname, parsed.port or 5432)
    via_proxy = parsed._replace(netloc=f"{parsed.username}@127.0.0.1:{proxy.port}").geturl()
    s = Server(str(tmp_path / "p"), extra_env={"SAGESTACK_DATABASE_URL": via_proxy}).start()
    try:
        sm = make_client(s.url)
        assert get(s.url + "/_sagestack/ready") == (200, {"ready": True})
        proxy.cut()
        status, body = get(s.url + "/_sagestack/ready")
        assert status == 503 and not body["ready"] and "database unreachable" in body["reason"], body
        status, body = get(s.url + "/_sagestack/health")
        assert status == 503 and "database unreachable" in body["store"], body
        # A call fails with an error, within the connection wait, rather than hanging.
        began = time.monotonic()
        with pytest.raises(ClientError):
            sm.list_projects()
        assert time.monotonic() - began < 25
        proxy.restore()
        deadline = time.monotonic() + 20
        while get(s.url + "/_sagestack/ready")[0] != 200:
            assert time.monotonic() < deadline, "never ready again"
            time.sleep(0.2)
        assert sm.list_projects()["ProjectSummaryList"] == []
    finally:
        s.stop()
