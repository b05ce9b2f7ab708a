"""The console's status filter for a status few projects have (issue #16): its scan of
`ListProjects` pages reads at most 2,000 rows for a page; when that budget runs out
before a page fills, the projects' status index answers with the whole of that status
(`Projects::projects_with_status`), so a rare status is one page, not 2,000 rows per
click. Plain HTTP, no browser: what is asserted is which rows the page lists."""
import os
import re
import subprocess
import time
import urllib.request

import pytest

from conftest import Server, binary, client

C = "/_sagestack/console/projects"
SC = {"ProductId": "prod-abcdefghijklm", "ProvisioningArtifactId": "pa-abcdefghijklm"}


def rows(url):
    html = urllib.request.urlopen(url, timeout=30).read().decode()
    names = re.findall(r'<tr data-name="([^"]+)"', html)
    nxt = re.search(r'href="([^"]+)" id="next-page"|id="next-page"[^>]*href="([^"]+)"', html)
    return names, nxt, "without filling a page" in html


@pytest.fixture
def server(data_dir):
    # Deleted projects stay DeleteCompleted for the test's length (the suite's servers
    # purge them at once), so that status is the rare one.
    s = Server(data_dir, {"SAGESTACK_DELETED_PROJECT_RETENTION": "600"}).start()
    yield s
    s.stop()


def test_a_rare_status_is_found_past_the_scan_budget(server):
    sm = client("sagemaker", server.url)
    # Two projects deleted first (oldest), then 2,100 that fail: newest first, the
    # deleted ones lie past the 2,000 rows one page may read.
    for name in ("old-b", "old-a"):
        sm.create_project(ProjectName=name, ServiceCatalogProvisioningDetails=SC)
    for name in ("old-b", "old-a"):
        deadline = time.monotonic() + 30
        while sm.describe_project(ProjectName=name)["ProjectStatus"] != "CreateFailed":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        sm.delete_project(ProjectName=name)
    bench = os.path.join(os.path.dirname(binary()), "sagestack-bench")
    body = '{"ProjectName":"p-{i}","ServiceCatalogProvisioningDetails":' \
        '{"ProductId":"prod-abcdefghijklm","ProvisioningArtifactId":"pa-abcdefghijklm"}}'
    subprocess.run([bench, "seed", "--addr", server.url.removeprefix("http://"),
                    "--target", "SageMaker.CreateProject", "--body", body, "--count", "2100",
                    "--connections", "16"], check=True, capture_output=True)
    deadline = time.monotonic() + 30
    while sm.describe_project(ProjectName="old-a")["ProjectStatus"] != "DeleteCompleted":
        assert time.monotonic() < deadline
        time.sleep(0.05)

    names, nxt, warned = rows(server.url + C + "?status=DeleteCompleted")
    assert names == ["old-a", "old-b"] and nxt is None and not warned
    names, _, _ = rows(server.url + C + "?status=DeleteCompleted&sort=Name&order=Descending")
    assert names == ["old-b", "old-a"]
    names, _, _ = rows(server.url + C + "?status=DeleteCompleted&name=A")
    assert names == ["old-a"]
    # A status no project has: one exact, empty answer.
    names, nxt, warned = rows(server.url + C + "?status=UpdateFailed")
    assert names == [] and nxt is None and not warned
    # Pages of the index go on by offset and end (once all 2,100 have failed: the seed
    # returns when they are created).
    deadline = time.monotonic() + 60
    while True:
        names, nxt, _ = rows(server.url + C + "?status=CreateFailed&sort=Name&token=index:2050")
        if len(names) == 50 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert len(names) == 50 and names[0] == sorted(f"p-{i}" for i in range(2100))[2050]
    assert nxt is None
