"""The pytest plugin (entry point `pytest11`, loaded wherever the `sagestack` wheel is
installed): fixtures that run `sagestack serve` for a test session.

Fixtures:

- `sagestack` (session): one server for the whole session, started on first use: a
  free port, `--ephemeral` (or a temporary data directory); `.endpoint_url`,
  `.region`, `.credentials`, `.session` (boto3), `.client("s3")`, `.env()`.
- `sagestack_clean` (function): the same server, emptied before the test through
  `POST /_sagestack/reset` (milliseconds). Honours `@pytest.mark.sagestack(args=[...])`:
  a test asking for other server flags gets a server of its own kind (one per distinct
  set of flags, kept for the session).
- `sagestack_env` (function): sets AWS_ENDPOINT_URL, the keys and the region for the
  test (monkeypatch), so code that builds its own clients reaches the server.

Options (command line, or the ini file without the leading dashes and with `_`):
`--sagestack-arg ARG` (repeatable; ini `sagestack_args`), `--sagestack-durable`
(a data directory instead of --ephemeral), `--sagestack-region`, `--sagestack-log-lines`.

A failing test that used a server gets the server's log lines written during that
test as a report section. Every server is stopped when the session ends, and at exit,
on SIGTERM, or (Linux) when pytest itself is killed."""
from __future__ import annotations

import shlex
from typing import Dict, List, Optional, Tuple

import pytest

from .server import Sagestack, SagestackError, find_binary, stop_all

_FIXTURES = ("sagestack", "sagestack_clean", "sagestack_env")


def pytest_addoption(parser):
    group = parser.getgroup("sagestack", "sagestack server for tests")
    group.addoption("--sagestack-arg", action="append", default=[], metavar="ARG",
                    help="an extra `sagestack serve` flag for every server "
                         "(repeatable; e.g. --sagestack-arg=--auth=sigv4)")
    group.addoption("--sagestack-durable", action="store_true", default=None,
                    help="run servers on a temporary data directory (the durable store) "
                         "instead of --ephemeral")
    group.addoption("--sagestack-region", default=None, help="the servers' region")
    group.addoption("--sagestack-log-lines", type=int, default=None,
                    help="server log lines attached to a failing test's report (default 200)")
    parser.addini("sagestack_args", type="args", default=[],
                  help="extra `sagestack serve` flags for every server")
    parser.addini("sagestack_durable", type="bool", default=False,
                  help="a temporary data directory instead of --ephemeral")
    parser.addini("sagestack_region", default="us-east-1", help="the servers' region")
    parser.addini("sagestack_log_lines", default="200",
                  help="server log lines attached to a failing test's report")


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "sagestack(args=[...], env={...}): run this test's sagestack_clean/sagestack_env "
        "server with these extra `sagestack serve` flags and environment")
    config._sagestack_pool = _Pool(config)


def pytest_report_header(config):
    try:
        return f"sagestack: {find_binary()}"
    except SagestackError as e:
        return f"sagestack: {e}"


class _Pool:
    """The session's servers, one per (flags, environment), started on first use."""

    def __init__(self, config):
        self.config = config
        self.servers: Dict[Tuple, Sagestack] = {}
        opt = config.getoption
        self.base_args: List[str] = list(config.getini("sagestack_args")) + [
            a for arg in opt("--sagestack-arg") for a in shlex.split(arg)]
        durable = opt("--sagestack-durable")
        self.durable = config.getini("sagestack_durable") if durable is None else durable
        self.region = opt("--sagestack-region") or config.getini("sagestack_region")
        lines = opt("--sagestack-log-lines")
        self.log_lines = int(config.getini("sagestack_log_lines") if lines is None else lines)

    def get(self, args=(), env=None) -> Sagestack:
        key = (tuple(args), tuple(sorted((env or {}).items())))
        server = self.servers.get(key)
        if server is None:
            server = Sagestack(self.base_args + list(args), region=self.region, env=env,
                               ephemeral=False if self.durable else None)
            self.servers[key] = server  # before start: stopped at session end even if
            server.start()              # start fails half-way
        elif not server.alive():
            code = server.proc.poll() if server.proc else None
            pytest.fail(f"the sagestack server {server.endpoint_url} exited (code {code}) "
                        f"earlier in this session; its log ends:\n"
                        f"{_tail(server.log_text(), self.log_lines)}", pytrace=False)
        return server

    def for_item(self, node) -> Sagestack:
        marker = node.get_closest_marker("sagestack")
        if marker is None:
            return self.get()
        if marker.args:
            raise pytest.UsageError("@pytest.mark.sagestack takes keywords: args=[...], env={...}")
        return self.get(marker.kwargs.get("args", ()), marker.kwargs.get("env"))

    def stop(self):
        for server in self.servers.values():
            server.stop()


@pytest.fixture(scope="session")
def sagestack(pytestconfig) -> Sagestack:
    """The session's sagestack server (started on first use, stopped at session end)."""
    return pytestconfig._sagestack_pool.get()


@pytest.fixture
def sagestack_clean(request, pytestconfig) -> Sagestack:
    """A sagestack server with nothing in it: the session's (or the one for this test's
    `@pytest.mark.sagestack` flags), reset before the test."""
    server = pytestconfig._sagestack_pool.for_item(request.node)
    server.reset()
    return server


@pytest.fixture
def sagestack_env(request, pytestconfig, monkeypatch) -> Sagestack:
    """Points every AWS client made during the test at the server: AWS_ENDPOINT_URL,
    keys and region in the environment (a profile or session token of the user's is
    removed for the test)."""
    server = pytestconfig._sagestack_pool.for_item(request.node)
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    for name, value in server.env().items():
        monkeypatch.setenv(name, value)
    return server


# ----- the server's log in a failing test's report -----------------------------------


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    pool = item.config._sagestack_pool
    item._sagestack_offsets = {id(s): s.log_size() for s in pool.servers.values()}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if not report.failed or not any(f in item.fixturenames for f in _FIXTURES):
        return
    pool = item.config._sagestack_pool
    offsets = getattr(item, "_sagestack_offsets", {})
    for server in pool.servers.values():
        text = server.log_text(offsets.get(id(server), 0))
        died = server.proc is not None and server.proc.poll() is not None
        if not text and not died:
            continue
        body = _tail(text, pool.log_lines)
        if died:
            body += f"\n[sagestack pid {server.proc.pid} exited with code {server.proc.returncode}]"
        report.sections.append(
            (f"sagestack server log ({server.endpoint_url or 'not started'}) {call.when}", body))


def _tail(text: str, lines: int) -> str:
    parts = text.splitlines()
    if len(parts) <= lines:
        return text.rstrip("\n")
    return f"[... {len(parts) - lines} earlier lines]\n" + "\n".join(parts[-lines:])


def pytest_sessionfinish(session):
    pool = getattr(session.config, "_sagestack_pool", None)
    if pool is not None:
        pool.stop()
    stop_all()
