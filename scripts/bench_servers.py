"""The server processes the CloudFormation benchmarks (bench-cfn-api.py,
bench-cfn-moto.py) run: a free loopback port, a start that waits (bounded) for the
server to answer, and a stop that never hangs."""
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
