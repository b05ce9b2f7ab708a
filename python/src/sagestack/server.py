"""Runs one `sagestack serve` process and talks to it: the object the pytest fixtures
hand to tests, usable without pytest too.

What it guarantees: the server listens on a port the kernel chose (`--port 0`, read
back from its log, so two sessions never race for one), in a process group of its own
(its Lambda workers included), and it is gone when `stop()` returns, when the Python
process exits (atexit), on SIGTERM to the Python process, and, on Linux, when the
Python process dies outright (the kernel's parent-death signal).

What it never does: touch the user's AWS configuration (clients get explicit endpoint,
region and keys; the opt-in `env()` is what sets AWS_ENDPOINT_URL)."""
from __future__ import annotations

import atexit
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
import urllib.error
import urllib.request
from typing import Dict, Iterable, List, Optional

__all__ = ["Sagestack", "SagestackError", "find_binary", "supports_ephemeral"]

DEFAULT_REGION = "us-east-1"
DEFAULT_ACCESS_KEY_ID = "AKIASAGESTACKPYTEST"
DEFAULT_SECRET_ACCESS_KEY = "sagestack-pytest-secret"

_LISTENING = re.compile(r"listening on http://(\S+?:\d+)")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


class SagestackError(RuntimeError):
    """The server could not be found, started, reset or stopped."""


def find_binary() -> str:
    """The `sagestack` executable: $SAGESTACK_BIN, else the one the wheel installed in
    this interpreter's scripts directory (a virtualenv's bin/, or the user scheme's
    after `pip install --user`), else the first on PATH."""
    explicit = os.environ.get("SAGESTACK_BIN")
    if explicit:
        if not os.access(explicit, os.X_OK):
            raise SagestackError(f"SAGESTACK_BIN={explicit!r} is not an executable file")
        return explicit
    exe = "sagestack.exe" if os.name == "nt" else "sagestack"
    dirs = [sysconfig.get_path("scripts"), os.path.dirname(sys.executable)]
    try:
        dirs.append(sysconfig.get_path("scripts", f"{os.name}_user"))
    except KeyError:
        pass
    for d in dirs:
        if d and os.access(os.path.join(d, exe), os.X_OK):
            return os.path.join(d, exe)
    found = shutil.which(exe)
    if found:
        return found
    raise SagestackError(
        "no sagestack binary: install the wheel (pip install sagestack) or set SAGESTACK_BIN")


_EPHEMERAL: Dict[str, bool] = {}


def supports_ephemeral(binary: str) -> bool:
    """Whether `binary serve` knows `--ephemeral` (asked once per binary, from its help)."""
    if binary not in _EPHEMERAL:
        try:
            out = subprocess.run([binary, "serve", "--help"], capture_output=True, text=True,
                                 timeout=30)
            _EPHEMERAL[binary] = "--ephemeral" in out.stdout
        except (OSError, subprocess.TimeoutExpired):
            _EPHEMERAL[binary] = False
    return _EPHEMERAL[binary]


# Every server started by this process and not yet stopped: stopped at exit.
_LIVE: "set[Sagestack]" = set()
_LIVE_LOCK = threading.Lock()


def stop_all() -> None:
    """Stops every server this process started (atexit, SIGTERM, pytest's session end)."""
    with _LIVE_LOCK:
        live = list(_LIVE)
    for server in live:
        server.stop()


atexit.register(stop_all)


def _on_sigterm(signum, frame):  # pragma: no cover - exercised by the wheel test
    stop_all()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def _install_sigterm_handler() -> None:
    """SIGTERM kills Python without atexit: stop the servers first, then die as asked.
    Only where nobody else handles SIGTERM (the default action), from the main thread."""
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _on_sigterm)


def _parent_death_signal():
    """A preexec_fn that asks Linux to SIGKILL the child when this process dies (even by
    SIGKILL, which no handler sees). Only from the main thread: the signal fires when
    the forking *thread* exits."""
    if not sys.platform.startswith("linux"):
        return None
    if threading.current_thread() is not threading.main_thread():
        return None
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        prctl = libc.prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def preexec():
        prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return preexec


class Sagestack:
    """One `sagestack serve` process.

    `args` are extra `serve` flags (e.g. `["--auth", "sigv4"]`); `ephemeral=None` uses
    `--ephemeral` when the binary has it, else a temporary `--data-dir` (removed at
    stop); `ephemeral=False` always uses a temporary data directory (the durable store,
    as a deployment runs it)."""

    def __init__(self, args: Iterable[str] = (), *, binary: Optional[str] = None,
                 region: str = DEFAULT_REGION, ephemeral: Optional[bool] = None,
                 access_key_id: str = DEFAULT_ACCESS_KEY_ID,
                 secret_access_key: str = DEFAULT_SECRET_ACCESS_KEY,
                 env: Optional[Dict[str, str]] = None, startup_timeout: float = 30.0):
        self.binary = os.path.abspath(binary or find_binary())
        self.args: List[str] = list(args)
        self.region = region
        self.access_key_id = access_key_id
        self.secret_access_key = secret_access_key
        self.extra_env = dict(env or {})
        self.startup_timeout = startup_timeout
        self.want_ephemeral = ephemeral
        self.ephemeral = False
        self.proc: Optional[subprocess.Popen] = None
        self.endpoint_url = ""
        self.host = ""
        self.port = 0
        self.workdir = ""
        self.log_path = ""
        self._log = None
        self._session = None
        self._clients: Dict[tuple, object] = {}
        self._conn: Optional[http.client.HTTPConnection] = None
        self._reset_supported: Optional[bool] = None
        self._spawned_at = 0
        self._stopped = False

    # ----- life cycle -------------------------------------------------------------

    def start(self) -> "Sagestack":
        if self.proc is not None:
            raise SagestackError("already started")
        self.workdir = tempfile.mkdtemp(prefix="sagestack-")
        self.log_path = os.path.join(self.workdir, "server.log")
        # --ephemeral is tried first and a binary that refuses it (older than the flag)
        # is started again on a data directory: cheaper than asking `serve --help` on
        # every start.
        use_ephemeral = self.want_ephemeral is not False and _EPHEMERAL.get(self.binary, True)
        try:
            self._spawn(use_ephemeral)
            self._wait_listening()
        except BaseException:
            self.stop()
            raise
        return self

    def _command(self, ephemeral: bool, port: int) -> List[str]:
        cmd = [self.binary, "serve", "--host", "127.0.0.1", "--port", str(port),
               "--region", self.region]
        if any(a.split("=", 1)[0] in ("--data-dir", "--database-url") for a in self.args):
            pass  # the caller chose the store (reset() is refused on PostgreSQL)
        elif ephemeral:
            cmd.append("--ephemeral")
        else:
            cmd += ["--data-dir", os.path.join(self.workdir, "data")]
        return cmd + self.args

    def _spawn(self, ephemeral: bool, port: int = 0) -> None:
        # The server reads SAGESTACK_* variables as flags: a developer's shell settings
        # (SAGESTACK_PORT, SAGESTACK_DATA_DIR, ...) must not leak into a test server.
        env = {k: v for k, v in os.environ.items() if not k.startswith("SAGESTACK_")}
        env.update({
            "RUST_LOG": os.environ.get("SAGESTACK_RUST_LOG", "info"),
            "NO_COLOR": "1",
            # --ephemeral's data directory goes in $TMPDIR: ours, removed at stop even
            # after a kill -9 that left it behind.
            "TMPDIR": self.workdir,
            # Only read under --auth sigv4: the pair this object's clients sign with.
            "SAGESTACK_CREDENTIALS": f"{self.access_key_id}:{self.secret_access_key}",
            # Deleted projects vanish once deleted (not 60 s later): tests re-use names.
            "SAGESTACK_DELETED_PROJECT_RETENTION": "0",
        })
        env.update(self.extra_env)
        self.ephemeral = ephemeral
        self._log = open(self.log_path, "ab")
        self._spawned_at = self._log.tell()  # where this process's lines start
        self.proc = subprocess.Popen(
            self._command(ephemeral, port), stdin=subprocess.DEVNULL, stdout=self._log,
            stderr=subprocess.STDOUT, env=env, cwd=self.workdir, start_new_session=True,
            preexec_fn=_parent_death_signal())
        with _LIVE_LOCK:
            _LIVE.add(self)
        _install_sigterm_handler()

    def _wait_listening(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        delay = 0.002
        while time.monotonic() < deadline:
            code = self.proc.poll()
            text = self.log_text(self._spawned_at)
            m = _LISTENING.search(text)
            if m:
                self.host, port = m.group(1).rsplit(":", 1)
                self.port = int(port)
                self.endpoint_url = f"http://{self.host}:{self.port}"
                if self._healthy():
                    return
            if code is not None:
                if self.ephemeral and code == 2 and "unexpected argument '--ephemeral'" in text:
                    # A binary older than --ephemeral: a temporary data directory.
                    _EPHEMERAL[self.binary] = False
                    self._close_log()
                    self._spawn(False)
                    continue
                raise SagestackError(
                    f"sagestack exited with code {code} at start-up; its log:\n{text}")
            time.sleep(delay)
            delay = min(delay * 2, 0.05)
        raise SagestackError(
            f"sagestack did not answer within {self.startup_timeout} s; its log:\n"
            + self.log_text())

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(self.endpoint_url + "/_sagestack/health",
                                        timeout=2) as r:
                return r.status == 200
        except (urllib.error.URLError, ConnectionError, OSError):
            return False

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 10.0) -> Optional[int]:
        """SIGTERM to the server's process group, SIGKILL after `timeout` seconds, then
        SIGKILL to whatever is left in the group (Lambda workers); removes the temporary
        directory. Idempotent."""
        proc = self.proc
        if self._stopped:
            return proc.returncode if proc is not None else None
        self._stopped = True
        code = None
        if proc is not None:
            if proc.poll() is None:
                _signal_group(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    _signal_group(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=10)
            _signal_group(proc.pid, signal.SIGKILL)
            code = proc.returncode
        with _LIVE_LOCK:
            _LIVE.discard(self)
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        self._close_log()
        if self.workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)
        return code

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> "Sagestack":
        return self.start() if self.proc is None else self

    def __exit__(self, *exc) -> None:
        self.stop()

    # ----- state ------------------------------------------------------------------

    def reset(self, wait: float = 60) -> None:
        """Empties the server (`POST /_sagestack/reset`): every account's state, in
        milliseconds, same endpoint. Operations still running (a stack, a project, a
        Lambda invocation) are waited for, up to `wait` seconds. A binary without that
        endpoint is restarted on the same port over a fresh data directory instead
        (slower, same result)."""
        if self._reset_supported is not False:
            status, body = self._post(f"/_sagestack/reset?wait={wait:g}")
            try:
                answer = json.loads(body)
            except ValueError:
                answer = None
            if isinstance(answer, dict) and "reset" in answer:
                self._reset_supported = True
                if status == 200 and answer["reset"]:
                    return
                raise SagestackError(
                    f"POST /_sagestack/reset answered {status}: {answer.get('code')}: "
                    f"{answer.get('message')} {answer.get('busy', '')}".rstrip())
            if self._reset_supported:
                raise SagestackError(f"POST /_sagestack/reset answered {status}: {body!r}")
            self._reset_supported = False  # an older binary: not its endpoint
        self._restart_clean()

    def _restart_clean(self) -> None:
        proc = self.proc
        _signal_group(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            _signal_group(proc.pid, signal.SIGKILL)
            proc.wait()
        _signal_group(proc.pid, signal.SIGKILL)
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        self._close_log()
        shutil.rmtree(os.path.join(self.workdir, "data"), ignore_errors=True)
        # The same port, so the endpoint, sessions and clients stay valid.
        self._spawn(self.ephemeral, self.port)
        self._wait_listening()

    def _post(self, path: str):
        """A signed POST with an empty body on a kept-alive connection: (status, body)."""
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials

        request = AWSRequest(method="POST", url=self.endpoint_url + path, data=b"")
        SigV4Auth(Credentials(self.access_key_id, self.secret_access_key),
                  "sagestack", self.region).add_auth(request)
        headers = dict(request.headers.items())
        for attempt in range(2):
            if self._conn is None:
                self._conn = http.client.HTTPConnection(self.host, self.port, timeout=300)
            try:
                self._conn.request("POST", path, body=b"", headers=headers)
                response = self._conn.getresponse()
                return response.status, response.read()
            except (ConnectionError, http.client.HTTPException, OSError):
                self._conn.close()
                self._conn = None
                if attempt:
                    raise
        raise AssertionError("unreachable")

    # ----- clients ----------------------------------------------------------------

    @property
    def credentials(self) -> Dict[str, str]:
        return {"aws_access_key_id": self.access_key_id,
                "aws_secret_access_key": self.secret_access_key}

    def env(self) -> Dict[str, str]:
        """The variables that point every AWS client (boto3, the AWS CLI v1 and v2, the
        SDKs) at this server."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
        }

    @property
    def session(self):
        """A boto3 Session with this server's keys and region (no endpoint: give
        `endpoint_url=server.endpoint_url` to its clients, or use `client()`)."""
        if self._session is None:
            import boto3

            self._session = boto3.Session(region_name=self.region, **self.credentials)
        return self._session

    def client(self, service: str, **kwargs):
        """A boto3 client of `service` pointed at this server (one per service and
        arguments, kept for the server's life: they hold no state of the server's)."""
        key = (service, tuple(sorted((k, repr(v)) for k, v in kwargs.items())))
        if key not in self._clients:
            if service == "s3" and "config" not in kwargs:
                from botocore.config import Config

                kwargs["config"] = Config(s3={"addressing_style": "path"})
            self._clients[key] = self.session.client(service, endpoint_url=self.endpoint_url,
                                                     **kwargs)
        return self._clients[key]

    def resource(self, service: str, **kwargs):
        return self.session.resource(service, endpoint_url=self.endpoint_url, **kwargs)

    # ----- logs -------------------------------------------------------------------

    def log_text(self, offset: int = 0) -> str:
        """The server's log (stdout and stderr) from byte `offset`."""
        if not self.log_path:
            return ""
        try:
            with open(self.log_path, "rb") as f:
                f.seek(offset)
                return _ANSI.sub("", f.read().decode("utf-8", "replace"))
        except FileNotFoundError:
            return ""

    def log_size(self) -> int:
        try:
            return os.path.getsize(self.log_path) if self.log_path else 0
        except OSError:
            return 0

    def __repr__(self) -> str:
        mode = "ephemeral" if self.ephemeral else "durable"
        return f"<Sagestack {self.endpoint_url or 'not started'} {mode} pid={getattr(self.proc, 'pid', None)}>"


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass
