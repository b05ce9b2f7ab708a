"""The server processes the CloudFormation benchmarks (bench-cfn-api.py,
bench-cfn-moto.py, bench-stacks.py) run: a free loopback port, a start that waits
(bounded) for the server to answer, a stop that never hangs, the wait for a stack's
terminal status through boto3, and the /tmp venv with
moto's server and boto3 they re-run themselves in."""
import os
import socket
import subprocess
import sys
import time
import urllib.request


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(cmd, ready_url):
    """Runs `cmd` until `ready_url` answers; exits the benchmark if it never does."""
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(ready_url, timeout=2)
            return proc
        except Exception:
            if proc.poll() is not None:
                sys.exit(f"{cmd[0]} exited at start-up")
            time.sleep(0.1)
    proc.kill()
    sys.exit(f"{cmd[0]} did not answer within 60 s")


def stop(proc, timeout=15):
    """Terminates `proc`, killing it if it has not exited within `timeout` seconds."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=timeout)


MOTO_VENV = "/tmp/cfn-moto-venv"


def ensure_moto_venv():
    """Re-runs the calling script inside MOTO_VENV (made, with moto's server and boto3,
    if needed); returns when already running there."""
    if os.path.realpath(sys.prefix) == os.path.realpath(MOTO_VENV):
        return
    py = os.path.join(MOTO_VENV, "bin", "python")
    if os.environ.get("CFN_MOTO_BOOTSTRAPPED"):
        sys.exit(f"could not run inside {MOTO_VENV}")
    if not os.path.exists(py):
        subprocess.run([sys.executable, "-m", "venv", MOTO_VENV], check=True, timeout=300)
    ok = subprocess.run([py, "-c", "import boto3, moto.server"], capture_output=True)
    if ok.returncode != 0:
        subprocess.run(
            [py, "-m", "pip", "install", "-q", "moto[server,cloudformation]", "boto3"],
            check=True,
            timeout=900,
        )
    env = dict(os.environ, CFN_MOTO_BOOTSTRAPPED="1")
    os.execve(py, [py, *sys.argv], env)


def gone(terminal, error):
    """Whether a failed `DescribeStacks` ends a wait for `terminal`: AWS (and sagestack,
    moto) still describe a deleted stack by its id as `DELETE_COMPLETE`; fakecloud answers
    that it does not exist, which is counted as the delete's end."""
    return terminal == "DELETE_COMPLETE" and "does not exist" in error


def poll(read, stack_id, terminal, failure, timeout=600):
    """Polls `read()` (the stack's status and reason) every millisecond until it is
    `terminal`; a `failure` exception whose text `gone` accepts ends the wait too. Any
    other status that is not `*_IN_PROGRESS` is an error."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            status, reason = read()
        except failure as e:
            if gone(terminal, str(e)):
                return
            raise
        if status == terminal:
            return
        if not status.endswith("_IN_PROGRESS"):
            raise RuntimeError(f"{stack_id}: {status} {reason}")
        time.sleep(0.001)
    raise TimeoutError(f"{stack_id} not {terminal} after {timeout} s")


def boto_wait(cfn, stack_id, terminal, timeout=600):
    from botocore.exceptions import ClientError

    def read():
        st = cfn.describe_stacks(StackName=stack_id)["Stacks"][0]
        return st["StackStatus"], st.get("StackStatusReason", "")

    poll(read, stack_id, terminal, ClientError, timeout)
