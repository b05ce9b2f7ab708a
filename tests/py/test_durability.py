"""Acknowledged writes survive kill -9 and clean restarts; a data dir has one owner."""
import signal
import subprocess

import pytest

from conftest import (Server, binary, create, delete_and_wait, free_port, make_client, wait_gone,
                      wait_status)


@pytest.mark.durable_only("kills the server and restarts it on its data directory")
def test_everything_survives_kill_9(data_dir):
    s = Server(data_dir).start()
    sm = make_client(s.url)
    arns = {}
    for i in range(20):
        arns[i] = create(sm, f"durable-{i}", Tags=[{"Key": "i", "Value": str(i)}])["ProjectArn"]
    for i in range(20):
        wait_status(sm, f"durable-{i}", "CreateFailed")  # no Service Catalog here
    sm.update_project(ProjectName="durable-3", ProjectDescription="updated before the crash")
    sm.add_tags(ResourceArn=arns[4], Tags=[{"Key": "extra", "Value": "yes"}])
    delete_and_wait(sm, "durable-5")
    before = {i: sm.describe_project(ProjectName=f"durable-{i}") for i in range(20) if i != 5}
    assert s.kill9() == -signal.SIGKILL

    s2 = Server(data_dir).start()
    try:
        sm2 = make_client(s2.url)
        for i, d in before.items():
            after = sm2.describe_project(ProjectName=f"durable-{i}")
            for k in ("ProjectId", "ProjectArn", "CreationTime", "ProjectDescription",
                      "ProjectStatus", "LastModifiedTime", "CreatedBy"):
                assert after.get(k) == d.get(k), (i, k)
        assert sm2.describe_project(ProjectName="durable-3")["ProjectDescription"] == "updated before the crash"
        assert sm2.list_tags(ResourceArn=arns[4])["Tags"] == [{"Key": "extra", "Value": "yes"},
                                                             {"Key": "i", "Value": "4"}]
        pages = sm2.get_paginator("list_projects").paginate(PaginationConfig={"PageSize": 100})
        names = [p["ProjectName"] for page in pages for p in page["ProjectSummaryList"]]
        assert sorted(names) == sorted(f"durable-{i}" for i in range(20) if i != 5)
    finally:
        s2.stop()


@pytest.mark.durable_only("kills the server and restarts it on its data directory")
def test_a_deleted_project_is_purged_when_its_process_died_before_the_purge(data_dir):
    # The purge of a DeleteCompleted project is a timer in the process that recorded the
    # deletion: killed before it fires, the next process must purge it (start-up on the
    # embedded store, takeover's scan on PostgreSQL), not keep it for ever.
    env = {"SAGESTACK_DELETED_PROJECT_RETENTION": "2"}
    s = Server(data_dir, env).start()
    sm = make_client(s.url)
    create(sm, "purged-later")
    wait_status(sm, "purged-later", "CreateFailed")  # no Service Catalog here
    sm.delete_project(ProjectName="purged-later")
    wait_status(sm, "purged-later", "DeleteCompleted")
    assert s.kill9() == -signal.SIGKILL

    s2 = Server(data_dir, env).start()
    try:
        wait_gone(make_client(s2.url), "purged-later", timeout=30)
    finally:
        s2.stop()


@pytest.mark.durable_only("restarts the server on its data directory")
def test_graceful_shutdown_on_sigterm_and_sigint(data_dir):
    for sig in (signal.SIGTERM, signal.SIGINT):
        s = Server(data_dir).start()
        create(make_client(s.url), f"graceful-{int(sig)}")
        assert s.stop(sig) == 0
        assert "closing the store" in s.read_log()
    s = Server(data_dir).start()
    try:
        names = {p["ProjectName"] for p in make_client(s.url).list_projects()["ProjectSummaryList"]}
        assert names == {f"graceful-{int(signal.SIGTERM)}", f"graceful-{int(signal.SIGINT)}"}
    finally:
        s.stop()


@pytest.mark.embedded_only("the data directory's lock guards the embedded store; replicas on "
                           "PostgreSQL share one database by design")
def test_second_server_on_the_same_data_dir_is_refused(server):
    p = subprocess.run([binary(), "serve", "--port", str(free_port()), "--data-dir", server.data_dir],
                       capture_output=True, text=True, timeout=20)
    assert p.returncode != 0
    assert "in use by another sagestack process" in p.stderr


def test_json_log_format(data_dir):
    s = Server(data_dir)
    s.extra_env = {"SAGESTACK_LOG_FORMAT": "json"}
    s.start()
    s.stop()
    import json
    lines = [json.loads(line) for line in s.read_log().splitlines() if line.strip()]
    assert any("listening" in line["fields"]["message"] for line in lines)
