"""The web console (`/_sagestack/console/`) in headless Chromium, driven by Selenium,
against the real binary with real data made through boto3: a project from the MLOps
example template, a project whose custom resource fails (and rolls back), a direct
stack whose update fails and rolls back, a project whose template does not validate,
and a project held in CreateInProgress by a webhook custom resource until the test lets
it go (the live update). A second server runs with `--auth sigv4` for the sign-in.
The data is built by console_world.py, which test_console_firefox.py shares.

Chromium and its driver come from Debian (`apt-get install chromium chromium-driver`,
done by scripts/test under CI=true as root). Without them these tests fail under
CI=true and skip otherwise. Screenshots of the main pages go to docs/console/ when
SAGESTACK_CONSOLE_SCREENSHOTS=1.
"""
import os
import shutil
import urllib.request

import pytest

from conftest import REPO
from console_world import (BUCKET, C, INVALID, build_world, project_status, provider,
                           start_hook, start_sigv4_server, stop_hook, wait)

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None)
DRIVER = shutil.which("chromedriver") or ("/usr/bin/chromedriver" if os.path.exists("/usr/bin/chromedriver") else None)
try:
    import selenium  # noqa: F401
    HAVE_SELENIUM = True
except ImportError:
    HAVE_SELENIUM = False

if not (CHROMIUM and DRIVER and HAVE_SELENIUM):
    if os.environ.get("CI") == "true":
        raise RuntimeError("the console tests need chromium, chromedriver (Debian's packages) and selenium under CI")
    pytest.skip("chromium, chromedriver or selenium is missing (apt-get install chromium chromium-driver)",
                allow_module_level=True)

from selenium.common.exceptions import StaleElementReferenceException  # noqa: E402
from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

SCREENSHOTS = os.environ.get("SAGESTACK_CONSOLE_SCREENSHOTS") == "1"
SHOTS_DIR = os.path.join(REPO, "docs", "console")


@pytest.fixture(scope="module")
def hook():
    httpd = start_hook()
    yield httpd
    stop_hook(httpd)


@pytest.fixture(scope="module")
def world(tmp_path_factory, hook):
    """A server with the data every test reads."""
    srv, sm, cfn, s3 = build_world(str(tmp_path_factory.mktemp("console") / "data"), hook)
    yield srv, sm, cfn, s3
    srv.stop()


@pytest.fixture(scope="module")
def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1280,900"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def shot(browser, name, height=None):
    if not SCREENSHOTS:
        return
    os.makedirs(SHOTS_DIR, exist_ok=True)
    full = browser.execute_script("return document.body.scrollHeight")
    browser.set_window_size(1280, min(max(height or full, 700), 2400))
    browser.save_screenshot(os.path.join(SHOTS_DIR, f"{name}.png"))
    browser.set_window_size(1280, 900)


def css(browser, selector):
    return browser.find_elements(By.CSS_SELECTOR, selector)


def text(browser, selector):
    """The text of `selector`. A live page replaces elements as updates arrive, so one
    found may be gone by the time its text is read: then it is looked up again."""
    for _ in range(5):
        try:
            return browser.find_element(By.CSS_SELECTOR, selector).text
        except StaleElementReferenceException:
            continue
    return browser.find_element(By.CSS_SELECTOR, selector).text


def test_projects_list_shows_statuses_filters_and_sorts(world, browser):
    srv = world[0]
    browser.get(srv.url + C + "/")
    assert browser.title.startswith("Projects")
    assert "auth: none" in text(browser, "#auth-mode")
    rows = {r.get_attribute("data-name"): r.find_element(By.CSS_SELECTOR, ".badge").text
            for r in css(browser, "#projects tbody tr[data-name]")}
    assert rows == {"mlops-ok": "CreateCompleted", "failing": "CreateFailed", "invalid": "CreateFailed"}
    shot(browser, "projects")
    # Filter by status, then by name.
    browser.get(srv.url + C + "/projects?status=CreateFailed")
    names = [r.get_attribute("data-name") for r in css(browser, "#projects tbody tr[data-name]")]
    assert sorted(names) == ["failing", "invalid"]
    field = browser.find_element(By.ID, "filter-name")
    field.clear()
    field.send_keys("inval")
    field.submit()
    WebDriverWait(browser, 10).until(lambda b: "name=inval" in b.current_url)
    assert [r.get_attribute("data-name") for r in css(browser, "#projects tbody tr[data-name]")] == ["invalid"]
    # Sort by name, ascending then descending (the column header's link).
    browser.get(srv.url + C + "/projects")
    browser.find_element(By.LINK_TEXT, "Name").click()
    names = [r.get_attribute("data-name") for r in css(browser, "#projects tbody tr[data-name]")]
    assert names == ["failing", "invalid", "mlops-ok"]
    browser.find_element(By.PARTIAL_LINK_TEXT, "Name").click()
    names = [r.get_attribute("data-name") for r in css(browser, "#projects tbody tr[data-name]")]
    assert names == ["mlops-ok", "invalid", "failing"]


def test_keyset_pages_of_the_projects_list(world):
    srv, sm = world[0], world[1]
    for i in range(55):
        sm.create_project(ProjectName=f"bulk-{i:02d}", TemplateProviders=[provider("invalid.yaml")])
    html = urllib.request.urlopen(srv.url + C + "/projects?sort=Name&order=Ascending").read().decode()
    assert html.count('data-name="') == 50 and 'id="next-page"' in html
    token = html.split('id="next-page"')[0].rsplit('href="', 1)[1].split('"')[0].replace("&amp;", "&")
    html2 = urllib.request.urlopen(srv.url + token).read().decode()
    assert 'data-name="mlops-ok"' in html2 and 'data-name="bulk-00"' not in html2


def test_project_page_links_down_to_the_stack_and_its_timeline(world, browser):
    srv = world[0]
    browser.get(srv.url + C + "/projects/mlops-ok")
    assert text(browser, "#project-status") == "CreateCompleted"
    # The status history: every status the project went through, in order.
    history = [r.get_attribute("data-status") for r in css(browser, "#status-history tbody tr")]
    assert history == ["Pending", "CreateInProgress", "CreateCompleted"]
    assert "team" in text(browser, "#tags") and "vision" in text(browser, "#tags")
    assert "Stage" in browser.page_source
    bars = css(browser, "svg#timeline g.bar")
    assert len(bars) == 11
    shot(browser, "project")
    browser.find_element(By.ID, "stack-link").click()
    WebDriverWait(browser, 10).until(lambda b: "/stack?" in b.current_url)
    resources = {r.get_attribute("data-logical-id"): r for r in css(browser, "#resources tbody tr")}
    assert len(resources) == 11
    assert all(r.find_element(By.CSS_SELECTOR, ".badge").text == "CREATE_COMPLETE" for r in resources.values())
    # A native resource links to what it is: the bucket's objects.
    bucket = resources["ArtifactBucket"].find_element(By.CSS_SELECTOR, "a")
    name = bucket.text
    shot(browser, "stack")
    bucket.click()
    WebDriverWait(browser, 10).until(lambda b: f"/s3/{name}" in b.current_url)
    assert text(browser, "h1") == f"Bucket {name}"


def test_failed_project_shows_the_failing_resource_reason_and_timeline(world, browser):
    srv = world[0]
    browser.get(srv.url + C + "/projects/failing")
    assert text(browser, "#project-status") == "CreateFailed"
    history = [r.get_attribute("data-status") for r in css(browser, "#status-history tbody tr")]
    assert history == ["Pending", "CreateInProgress", "CreateFailed"]
    assert "Check" in text(browser, "#first-failure-resource")
    assert "refused: quota exceeded" in text(browser, "#first-failure-reason")
    browser.find_element(By.LINK_TEXT, "timeline").click()
    WebDriverWait(browser, 10).until(lambda b: "/stack/timeline" in b.current_url)
    bars = [(b.get_attribute("data-logical-id"), b.get_attribute("data-operation"),
             b.get_attribute("data-outcome"), b.get_attribute("data-first-failure"),
             b.get_attribute("data-critical")) for b in css(browser, "svg#timeline g.bar")]
    creates = [b for b in bars if b[1] == "create"]
    # Created in dependency order: Bucket, then Param, then Check (which failed first).
    assert [b[0] for b in creates] == ["Bucket", "Param", "Check"]
    assert creates[2][2:4] == ("failed", "true")
    # The rollback deletes what was made, in reverse order.
    rollback = [b[0] for b in bars if b[1] == "rollback"]
    assert rollback.index("Param") < rollback.index("Bucket")
    # The critical path runs back through the dependencies (Check -> Param -> Bucket).
    # Event times have millisecond resolution and these resources take less than one, so
    # which of two bars tied to the millisecond ended last is not decidable: the test
    # asks for the chain's members, not for one order among ties.
    critical = {b[0] for b in bars if b[4] == "true"}
    assert {"Bucket", "Param"} <= critical, bars
    starts = [int(b.get_attribute("data-start")) for b in css(browser, "svg#timeline g.bar")]
    assert starts == sorted(starts)
    assert "ran at once" in text(browser, "#timeline-stats")
    shot(browser, "timeline-failed")


def test_invalid_template_shows_the_error_at_its_line_and_column(world, browser):
    srv = world[0]
    browser.get(srv.url + C + "/projects/invalid")
    assert text(browser, "#project-status") == "CreateFailed"
    browser.find_element(By.ID, "template-url").click()
    WebDriverWait(browser, 10).until(lambda b: "/template?key=invalid.yaml" in b.current_url)
    locs = [(a.get_attribute("data-line"), a.get_attribute("data-column"), a.text)
            for a in css(browser, "#template-errors a.loc")]
    assert locs == [("5", "3", "5:3"), ("6", "5", "6:5")], text(browser, "#template-errors")
    assert "must contain a Type member" in text(browser, "#template-errors")
    line = browser.find_element(By.ID, "L6")
    assert "err" in line.get_attribute("class") and "Typo" in line.text
    assert "6:5 Invalid template resource property 'Typo'" in line.text
    # The location is a link to its line.
    locs = css(browser, "#template-errors a.loc")
    locs[1].click()
    assert browser.current_url.endswith("#L6")
    shot(browser, "template-error")


def test_rolled_back_update_change_set_and_masked_parameter(world, browser):
    srv = world[0]
    browser.get(srv.url + C + "/stacks")
    browser.find_element(By.LINK_TEXT, "web").click()
    WebDriverWait(browser, 10).until(lambda b: "/stack?" in b.current_url)
    assert css(browser, "h1 .badge")[0].text == "UPDATE_ROLLBACK_COMPLETE"
    assert "Gate" in text(browser, "#first-failure-resource")
    assert "refused: bad gate" in text(browser, "#first-failure-reason")
    params = text(browser, "#parameters")
    assert "****" in params and "hunter2" not in browser.page_source
    browser.find_element(By.LINK_TEXT, "to-v2").click()
    WebDriverWait(browser, 10).until(lambda b: "/stack/changeset" in b.current_url)
    rows = {r.get_attribute("data-logical-id"): r for r in css(browser, "#changes tbody tr")}
    assert set(rows) == {"Store", "Gate"}
    store = rows["Store"].text
    assert "Value" in store and "− v1" in store and "+ v2" in store
    shot(browser, "change-set")
    browser.get(srv.url + C + "/stack/timeline?name=web")
    ops = [(b.get_attribute("data-logical-id"), b.get_attribute("data-operation"))
           for b in css(browser, "svg#timeline g.bar")]
    assert ("Gate", "update") in ops and ("Gate", "rollback") in ops
    browser.get(srv.url + C + "/stack/template?name=web")
    assert css(browser, "#template-valid") and css(browser, "#L1")


def test_live_update_of_a_running_project(world, hook, browser):
    srv, sm = world[0], world[1]
    sm.create_project(ProjectName="held", TemplateProviders=[provider("held.yaml")])
    assert wait(lambda: project_status(sm, "held") == "CreateInProgress")
    browser.get(srv.url + C + "/projects/held")
    assert browser.find_element(By.TAG_NAME, "body").get_attribute("data-live")
    assert text(browser, "#project-status") == "CreateInProgress"
    browser.execute_script("window.__sameDocument = true;")
    browser.find_element(By.ID, "stack-link").send_keys("")  # focus, as Tab would leave it
    hook.release.set()
    WebDriverWait(browser, 30).until(lambda b: text(b, "#project-status") == "CreateCompleted")
    # The page changed in place (no navigation), kept the focus, and stopped polling.
    assert browser.execute_script("return window.__sameDocument === true")
    assert browser.switch_to.active_element.get_attribute("id") == "stack-link"
    WebDriverWait(browser, 10).until(
        lambda b: not b.find_element(By.TAG_NAME, "body").get_attribute("data-live"))


def test_s3_upload_validates_the_template_and_download_is_an_attachment(world, browser, tmp_path):
    srv = world[0]
    browser.get(srv.url + C + "/s3/" + BUCKET)
    path = tmp_path / "uploaded.yaml"
    path.write_text(INVALID)
    browser.find_element(By.ID, "upload-key").send_keys("up/uploaded.yaml")
    browser.find_element(By.ID, "upload-file").send_keys(str(path))
    browser.find_element(By.CSS_SELECTOR, "form.upload button").click()
    WebDriverWait(browser, 10).until(lambda b: "uploaded=" in b.current_url)
    assert "not valid: 5:3" in browser.page_source
    assert "up/uploaded.yaml" in text(browser, "#objects")
    obj = world[3].get_object(Bucket=BUCKET, Key="up/uploaded.yaml")
    assert obj["Body"].read().decode() == INVALID
    with urllib.request.urlopen(srv.url + C + f"/s3/{BUCKET}/object?key=up%2Fuploaded.yaml") as r:
        assert r.headers["Content-Disposition"].startswith("attachment")
        assert r.headers["X-Content-Type-Options"] == "nosniff"


def test_a_post_without_the_csrf_token_or_from_another_origin_is_refused(world):
    srv = world[0]
    boundary = "xyz"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\nx.txt\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.txt\"\r\n\r\nhi\r\n"
            f"--{boundary}--\r\n").encode()
    def send(headers):
        req = urllib.request.Request(srv.url + C + f"/s3/{BUCKET}/upload", data=body, method="POST",
                                     headers={"Content-Type": f"multipart/form-data; boundary={boundary}", **headers})
        try:
            return urllib.request.urlopen(req).status
        except urllib.error.HTTPError as e:
            return e.code
    assert send({}) == 403
    assert send({"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"}) == 403


def test_other_pages_render(world, browser):
    srv = world[0]
    for path, heading in (("/catalog", "Service Catalog"), ("/models", "Model package groups"),
                          ("/rules", "EventBridge rules"), ("/s3", "S3 buckets")):
        browser.get(srv.url + C + path)
        assert text(browser, "h1") == heading
    assert css(browser, "#buckets tbody tr")
    browser.get(srv.url + C + "/models")
    assert css(browser, "#model-package-groups tbody tr")


def test_phone_width_is_readable(world, browser):
    srv = world[0]
    browser.set_window_size(390, 844)
    try:
        browser.get(srv.url + C + "/projects")
        width = browser.execute_script("return document.documentElement.scrollWidth")
        assert width <= 400
        shot_phone = SCREENSHOTS
        if shot_phone:
            browser.save_screenshot(os.path.join(SHOTS_DIR, "projects-phone.png"))
    finally:
        browser.set_window_size(1280, 900)


def test_sigv4_sign_in_shows_only_that_account(tmp_path, browser):
    srv = start_sigv4_server(str(tmp_path / "data"), tmp_path / "creds.toml")
    try:
        browser.delete_all_cookies()
        browser.get(srv.url + C + "/projects")
        assert "/login" in browser.current_url
        browser.find_element(By.ID, "access_key_id").send_keys("AKIDALICE")
        browser.find_element(By.ID, "secret_access_key").send_keys("wrong")
        browser.find_element(By.CSS_SELECTOR, "form button").click()
        WebDriverWait(browser, 10).until(lambda b: b.find_elements(By.ID, "login-error"))
        assert "not valid" in text(browser, "#login-error")
        browser.find_element(By.ID, "access_key_id").clear()
        browser.find_element(By.ID, "access_key_id").send_keys("AKIDALICE")
        browser.find_element(By.ID, "secret_access_key").send_keys("alice-secret")
        browser.find_element(By.CSS_SELECTOR, "form button").click()
        WebDriverWait(browser, 10).until(lambda b: "/projects" in b.current_url)
        names = [r.get_attribute("data-name") for r in css(browser, "#projects tbody tr[data-name]")]
        assert names == ["alices"]
        assert "Account 111111111111" in browser.page_source
        cookie = browser.get_cookie("sagestack_console")
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
        browser.get(srv.url + C + "/projects/bobs")
        assert "does not exist" in browser.page_source
        browser.find_element(By.CSS_SELECTOR, "header form button").click()
        WebDriverWait(browser, 10).until(lambda b: "/login" in b.current_url)
        browser.get(srv.url + C + "/projects")
        assert "/login" in browser.current_url
    finally:
        srv.stop()
