"""The server on the PostgreSQL backend: two replicas sharing one database.

Uses SAGESTACK_TEST_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/test) and a
throw-away schema. Skipped when PostgreSQL is unreachable, unless CI=true."""
import os
import shutil
import subprocess
import urllib.parse
import uuid

import pytest

from conftest import Server, create, make_client, wait_gone, wait_status

URL = os.environ.get("SAGESTACK_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test")


def psql(sql):
    return subprocess.run(["psql", URL, "-v", "ON_ERROR_STOP=1", "-qAtc", sql],
                          capture_output=True, text=True, timeout=30)


@pytest.fixture
def pg_url():
    reason = None
    if not shutil.which("psql"):
        reason = "psql is not installed"
    else:
        probe = psql("SELECT 1")
        if probe.returncode != 0:
            reason = f"PostgreSQL unreachable at {URL}: {probe.stderr.strip()}"
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true: {reason}")
        pytest.skip(reason)
    schema = f"sagestack_py_{uuid.uuid4().hex[:12]}"
    assert psql(f'CREATE SCHEMA "{schema}"').returncode == 0
    sep = "&" if "?" in URL else "?"
    yield URL + sep + "options=" + urllib.parse.quote(f"-c search_path={schema}")
    assert psql(f'DROP SCHEMA "{schema}" CASCADE').returncode == 0


def test_two_replicas_share_one_database(tmp_path, pg_url):
    a = Server(str(tmp_path / "a"), extra_env={"SAGESTACK_DATABASE_URL": pg_url}).start()
    b = Server(str(tmp_path / "b"), extra_env={"SAGESTACK_DATABASE_URL": pg_url}).start()
    try:
        sa, sb = make_client(a.url), make_client(b.url)
        arn = create(sa, "shared", Tags=[{"Key": "k", "Value": "v"}])["ProjectArn"]
        # Written through one replica, read through the other (no cache on Postgres).
        assert sb.describe_project(ProjectName="shared")["ProjectArn"] == arn
        # Replica a provisions it (no Service Catalog here: CreateFailed); b sees that.
        wait_status(sb, "shared", "CreateFailed")
        sb.update_project(ProjectName="shared", ProjectDescription="via b")
        assert sa.describe_project(ProjectName="shared")["ProjectDescription"] == "via b"
        sb.add_tags(ResourceArn=arn, Tags=[{"Key": "k2", "Value": "v2"}])
        assert [t["Key"] for t in sa.list_tags(ResourceArn=arn)["Tags"]] == ["k", "k2"]
        for i in range(12):
            create(sa if i % 2 else sb, f"pg-{i:02d}")
        names, token = [], None
        while True:
            kw = {"MaxResults": 5, "SortBy": "Name", "SortOrder": "Ascending"}
            if token:
                kw["NextToken"] = token
            out = sb.list_projects(**kw)
            names += [p["ProjectName"] for p in out["ProjectSummaryList"]]
            token = out.get("NextToken")
            if not token:
                break
        assert names == [f"pg-{i:02d}" for i in range(12)] + ["shared"]
        sa.delete_project(ProjectName="shared")
        # Deleted by replica a's worker; gone for b too (the test servers keep no
        # DeleteCompleted project).
        wait_gone(sb, "shared")
    finally:
        a.stop()
        b.stop()
    # Everything is still there after both replicas restart.
    c = Server(str(tmp_path / "c"), extra_env={"SAGESTACK_DATABASE_URL": pg_url}).start()
    try:
        assert len(make_client(c.url).list_projects(MaxResults=100)["ProjectSummaryList"]) == 12
    finally:
        c.stop()
