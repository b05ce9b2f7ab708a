"""The Python wheel, as a user gets it: `scripts/build-wheel --dev` (the debug binary
cargo already built, so nothing compiles), `pip install` of the wheel file into a fresh
virtualenv (boto3 and pytest pinned by tests/py/requirements.txt, from PyPI), then
examples/pytest run by that virtualenv's pytest with nothing but the plugin: it must
pass, and no sagestack process may outlive the session, whether it ends normally, by a
failing test, by SIGTERM, or by the pytest process dying outright.

Without python3 -m venv, or PyPI, these skip with the reason; under CI=true they fail."""
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import tomllib
import zipfile

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CI = os.environ.get("CI") == "true"


def unavailable(reason):
    if CI:
        pytest.fail(f"CI=true: {reason}", pytrace=False)
    pytest.skip(reason)


def crate_version():
    with open(os.path.join(REPO, "Cargo.toml"), "rb") as f:
        return tomllib.load(f)["workspace"]["package"]["version"]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """The dev wheel's path, built once for this module."""
    out = tmp_path_factory.mktemp("wheel")
    started = time.monotonic()
    run = subprocess.run([os.path.join(REPO, "scripts", "build-wheel"), "--dev", "--out", str(out)],
                         capture_output=True, text=True, timeout=900)
    took = time.monotonic() - started
    if run.returncode != 0:
        if "pip" in run.stderr and ("connection" in run.stderr.lower() or "resolve" in run.stderr.lower()):
            unavailable(f"cannot install maturin from PyPI: {run.stderr[-2000:]}")
        pytest.fail(f"scripts/build-wheel --dev failed ({run.returncode}):\n{run.stderr[-6000:]}")
    path = run.stdout.strip().splitlines()[-1]
    print(f"scripts/build-wheel --dev: {took:.1f} s")
    # cargo had nothing to compile when target/ was fresh: say so when it did.
    compiled = [l for l in run.stderr.splitlines() if l.strip().startswith("Compiling ")]
    if compiled:
        print(f"build-wheel compiled {len(compiled)} crates (target/ was not fresh)")
    return path


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory):
    """A fresh virtualenv with the wheel, boto3 and pytest installed: its bin/ directory."""
    root = tmp_path_factory.mktemp("venv")
    made = subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)],
                          capture_output=True, text=True)
    if made.returncode != 0:
        unavailable(f"python -m venv failed: {made.stderr}")
    bin_dir = root / "bin"
    # This interpreter's pip installs into the new environment (--python): no pip of
    # its own to install first.
    started = time.monotonic()
    install = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(bin_dir / "python"), "install",
         "--disable-pip-version-check", "-q", wheel, "pytest",
         "-c", os.path.join(REPO, "tests", "py", "requirements.txt")],
        capture_output=True, text=True, timeout=600)
    if install.returncode != 0:
        unavailable(f"pip install of the wheel failed: {install.stderr[-3000:]}")
    print(f"pip install into a fresh virtualenv: {time.monotonic() - started:.1f} s")
    return bin_dir


def run_pytest(venv, *args, cwd=None, timeout=300, **popen):
    """venv's pytest on `args`, as a user runs it: SAGESTACK_BIN unset, so the plugin
    finds the wheel's binary."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SAGESTACK_", "PYTEST_"))}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return subprocess.run([str(venv / "pytest"), "-p", "no:cacheprovider", *args],
                          capture_output=True, text=True, timeout=timeout, cwd=cwd, env=env,
                          **popen)


def servers_of(venv):
    """Pids of running processes whose executable is venv's sagestack."""
    binary = os.path.realpath(venv / "sagestack")
    pids = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                if os.readlink(f"/proc/{pid}/exe") == binary:
                    pids.append(int(pid))
            except OSError:
                pass
    return pids


def assert_none_left(venv, within=5.0):
    deadline = time.monotonic() + within
    while servers_of(venv) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert servers_of(venv) == [], "sagestack processes outlived the pytest session"


def test_the_wheel_carries_the_binary_and_the_plugin(wheel):
    name = os.path.basename(wheel)
    version = crate_version()
    assert re.fullmatch(rf"sagestack-{re.escape(version)}-py3-none-linux_\w+\.whl", name), name
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        assert f"sagestack-{version}.data/scripts/sagestack" in names
        assert "sagestack/pytest_plugin.py" in names
        entry_points = z.read(f"sagestack-{version}.dist-info/entry_points.txt").decode()
    assert "[pytest11]" in entry_points and "sagestack.pytest_plugin" in entry_points


def test_the_example_suite_passes_with_the_installed_plugin(venv):
    assert (venv / "sagestack").exists(), "pip install put no sagestack next to the interpreter"
    started = time.monotonic()
    run = run_pytest(venv, os.path.join(REPO, "examples", "pytest"), "-v")
    took = time.monotonic() - started
    print(f"examples/pytest with the wheel's pytest: {took:.1f} s")
    assert run.returncode == 0, run.stdout[-8000:] + run.stderr[-3000:]
    # The plugin ran the wheel's binary, not one from the repository's target/.
    assert f"sagestack: {venv / 'sagestack'}" in run.stdout, run.stdout[:2000]
    assert re.search(r"\b6 passed\b", run.stdout), run.stdout[-2000:]
    assert_none_left(venv)


CRASHING = '''
import os, signal, time

def test_fails(sagestack_clean):
    sagestack_clean.client("s3").create_bucket(Bucket="seen-in-the-log")
    assert False, "on purpose"

def test_dies(sagestack_clean):
    with open(os.environ["PIDFILE"], "w") as f:
        f.write(str(sagestack_clean.proc.pid))
    if os.environ["HOW"] == "exit":
        os._exit(3)  # no finalizers, no atexit: the kernel's parent-death signal is left
    time.sleep(60)   # killed from outside by SIGTERM
'''


@pytest.fixture
def crashing(tmp_path):
    path = tmp_path / "test_crashing.py"
    path.write_text(CRASHING)
    return path


def test_a_failing_test_reports_the_server_log(venv, crashing):
    run = run_pytest(venv, str(crashing), "-k", "fails")
    assert run.returncode == 1, run.stdout[-4000:]
    assert "sagestack server log (http://127.0.0.1:" in run.stdout, run.stdout[-4000:]
    assert "sagestack listening on http://127.0.0.1:" in run.stdout
    assert_none_left(venv)


@pytest.mark.parametrize("how", ["exit", "sigterm"])
def test_no_server_outlives_a_dying_pytest(venv, crashing, tmp_path, how):
    pidfile = tmp_path / "pid"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SAGESTACK_", "PYTEST_"))}
    env.update(PIDFILE=str(pidfile), HOW=how, PYTHONDONTWRITEBYTECODE="1")
    proc = subprocess.Popen([str(venv / "pytest"), "-p", "no:cacheprovider", "-q", str(crashing),
                             "-k", "dies"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env=env, text=True)
    try:
        deadline = time.monotonic() + 60
        while not (pidfile.exists() and pidfile.read_text()):
            assert proc.poll() is None or how == "exit", proc.stdout.read()
            assert time.monotonic() < deadline, "the test never started its server"
            time.sleep(0.05)
        server_pid = int(pidfile.read_text())
        if how == "sigterm":
            proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        assert proc.returncode == (3 if how == "exit" else -signal.SIGTERM), proc.stdout.read()
        assert_none_left(venv)
        assert not os.path.exists(f"/proc/{server_pid}") or open(
            f"/proc/{server_pid}/stat").read().split()[2] == "Z"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
