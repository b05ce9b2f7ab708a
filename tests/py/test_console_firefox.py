"""The web console in Firefox: Debian's `firefox-esr` driven over WebDriver BiDi by
`puppeteer-core` (tests/firefox/console.mjs; no geckodriver, no browser download),
against the real binary with the data test_console.py reads (console_world.py): the
projects list and its badges, filter and sort, a project page and its stack's
resources, the timeline SVG with the failure highlighted, the template's errors at
line:column, a rolled-back update's change set, keyboard navigation, live refresh of a
running project, no sideways scrolling at 390 px, and the sigv4 sign-in.

The browser runs once for the module; each check is reported as its own test, failing
with what it expected and what the page showed.

scripts/test installs `firefox-esr` (apt) and runs `npm ci` in tests/firefox under
CI=true as root. Without firefox-esr, node or tests/firefox/node_modules these tests
fail under CI=true and skip otherwise. SAGESTACK_FIREFOX names another Firefox binary;
SAGESTACK_FIREFOX_SHOTS=DIR saves screenshots there.
"""
import json
import os
import shutil
import signal
import subprocess
import time

import pytest

from conftest import REPO
from console_world import build_world, project_status, provider, start_hook, start_sigv4_server, stop_hook, wait

NODE_DIR = os.path.join(REPO, "tests", "firefox")
FIREFOX = os.environ.get("SAGESTACK_FIREFOX") or shutil.which("firefox-esr") or "/usr/bin/firefox-esr"
NODE = shutil.which("node")
PUPPETEER = os.path.join(NODE_DIR, "node_modules", "puppeteer-core", "package.json")

_missing = [what for what, ok in (
    (f"firefox-esr at {FIREFOX} (apt-get install firefox-esr)", os.access(FIREFOX, os.X_OK)),
    ("node", NODE),
    ("tests/firefox/node_modules (npm ci in tests/firefox)", os.path.exists(PUPPETEER)),
) if not ok]
if _missing:
    if os.environ.get("CI") == "true":
        raise RuntimeError("the console's Firefox tests need " + ", ".join(_missing) + " under CI")
    pytest.skip("missing " + ", ".join(_missing), allow_module_level=True)

# What console.mjs checks, in its order; each is one test here.
CHECKS = [
    "projects_list_shows_projects_and_badges",
    "project_page_and_its_stack_with_resources",
    "timeline_shows_bars_and_the_failure",
    "template_view_shows_the_error_line_and_column",
    "rolled_back_stack_change_set_and_masked_parameter",
    "s3_upload_of_a_template_is_validated",
    "keyboard_tab_reaches_links_and_enter_follows",
    "live_update_of_a_running_project",
    "phone_width_has_no_horizontal_overflow",
    "sigv4_sign_in_and_out",
]


@pytest.fixture(scope="module")
def firefox_run(tmp_path_factory):
    """Fills the servers, runs console.mjs once, and returns its results, output and
    how long the browser part took."""
    tmp = tmp_path_factory.mktemp("console-firefox")
    hook = start_hook()
    srv = auth = None
    try:
        srv, sm, _, _ = build_world(str(tmp / "data"), hook)
        # A project held in CreateInProgress until the script GETs the hook's /release.
        sm.create_project(ProjectName="held", TemplateProviders=[provider("held.yaml")])
        assert wait(lambda: project_status(sm, "held") == "CreateInProgress")
        auth = start_sigv4_server(str(tmp / "auth-data"), tmp / "creds.toml")
        cfg = {"url": srv.url, "authUrl": auth.url, "firefox": FIREFOX,
               "releaseUrl": f"http://127.0.0.1:{hook.server_address[1]}/release"}
        if os.environ.get("SAGESTACK_FIREFOX_SHOTS"):
            cfg["shots"] = os.path.abspath(os.environ["SAGESTACK_FIREFOX_SHOTS"])
        env = dict(os.environ, HOME=str(tmp))  # Firefox's profile and caches stay in tmp
        started = time.monotonic()
        # Its own process group, so a timeout ends Firefox too, not only node.
        proc = subprocess.Popen([NODE, os.path.join(NODE_DIR, "console.mjs"), json.dumps(cfg)],
                                cwd=NODE_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, start_new_session=True)
        try:
            stdout, stderr = proc.communicate(timeout=240)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            stdout, stderr = proc.communicate()
            pytest.fail(f"console.mjs did not finish in 240 s:\n{stdout}{stderr}")
        elapsed = time.monotonic() - started
    finally:
        stop_hook(hook)
        for s in (srv, auth):
            if s:
                s.stop()
    out = stdout + stderr
    lines = [line for line in stdout.splitlines() if line.startswith("RESULTS ")]
    assert lines, f"console.mjs printed no RESULTS (exit {proc.returncode}):\n{out}"
    return json.loads(lines[-1][len("RESULTS "):]), out, elapsed


def test_firefox_starts_and_runs_every_check(firefox_run):
    results, out, elapsed = firefox_run
    print(f"console.mjs ran in {elapsed:.1f} s:\n{out}")  # shown with -rP or -s
    assert "launch" not in results, out
    assert list(results) == CHECKS, out
    # The whole browser side is meant to stay small (about 25 s when written, 4 of them starting Firefox).
    assert elapsed < 120, f"the Firefox run took {elapsed:.0f} s:\n{out}"


@pytest.mark.parametrize("name", CHECKS)
def test_in_firefox(firefox_run, name):
    results, out, _ = firefox_run
    assert name in results, f"{name} did not run:\n{out}"
    failure = results[name]
    assert failure is None, (f"{name}: {failure['expected']}\nseen: {failure['seen']}"
                             + "".join(f"\n{e}" for e in failure.get("errors", [])))
