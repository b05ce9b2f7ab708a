"""The server on the PostgreSQL backend: two replicas sharing one database.

Uses SAGESTACK_TEST_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/test) and a
throw-away schema (conftest's `pg_url`). Skipped when PostgreSQL is unreachable, unless
CI=true."""
import json
import time
import urllib.parse

from conftest import (Server, client, create, make_client, pg_url, psql, wait_gone,  # noqa: F401
                      wait_status)
# (`pg_url` is conftest's fixture, imported here too for the modules that take it from here.)


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


def test_accounts_kept_apart_on_postgres(tmp_path, pg_url):
    creds = tmp_path / "credentials.toml"
    creds.write_text("".join(
        f'[[credentials]]\naccess_key_id = "{k}"\nsecret_access_key = "s-{k}"\naccount_id = "{a}"\n'
        for k, a in (("AKIAPGALICE00000", "111111111111"), ("AKIAPGBOB0000000", "222222222222"))))
    s = Server(str(tmp_path / "d"), extra_env={
        "SAGESTACK_DATABASE_URL": pg_url, "SAGESTACK_AUTH": "sigv4", "SAGESTACK_CREDENTIALS": "",
        "SAGESTACK_CREDENTIALS_FILE": str(creds)}).start()
    try:
        from conftest import client
        for key, account in (("AKIAPGALICE00000", "111111111111"), ("AKIAPGBOB0000000", "222222222222")):
            sm = client("sagemaker", s.url, key=key, secret=f"s-{key}")
            arn = sm.create_model_package_group(ModelPackageGroupName="same")["ModelPackageGroupArn"]
            assert arn.split(":")[4] == account
            groups = sm.list_model_package_groups()["ModelPackageGroupSummaryList"]
            assert [g["ModelPackageGroupArn"] for g in groups] == [arn]
        schemas = psql("SELECT nspname FROM pg_namespace WHERE nspname LIKE '%\\_account\\_%' ORDER BY 1").stdout
        assert "_account_111111111111" in schemas and "_account_222222222222" in schemas, schemas
    finally:
        s.stop()


def test_a_change_set_left_pending_by_a_dead_process_is_failed(tmp_path, pg_url):
    # CreateChangeSet writes its change set CREATE_PENDING, then its outcome; a process
    # that dies between the two leaves it pending. Start-up fails such change sets on the
    # embedded store; on PostgreSQL takeover's scan does, once older than a lease lives.
    schema = urllib.parse.unquote(pg_url).split("search_path=")[1]
    s = Server(str(tmp_path / "r"), extra_env={"SAGESTACK_DATABASE_URL": pg_url}).start()
    try:
        cfn = client("cloudformation", s.url)
        body = json.dumps({"Resources": {"P": {"Type": "AWS::SSM::Parameter",
                                               "Properties": {"Type": "String", "Value": "v"}}}})
        cs = cfn.create_change_set(StackName="left-pending", ChangeSetName="c1",
                                   ChangeSetType="CREATE", TemplateBody=body)
        assert cfn.describe_change_set(ChangeSetName=cs["Id"])["Status"] == "CREATE_COMPLETE"
        # What the dead process left: the change set pending, unavailable, begun long ago.
        out = psql(f"""UPDATE "{schema}".cfn_change_sets SET document = regexp_replace(
            replace(replace(document, '"status":"CREATE_COMPLETE"', '"status":"CREATE_PENDING"'),
                    '"execution_status":"AVAILABLE"', '"execution_status":"UNAVAILABLE"'),
            '"creation_time":[0-9]+', '"creation_time":1')""")
        assert out.returncode == 0, out.stderr
        assert cfn.describe_change_set(ChangeSetName=cs["Id"])["Status"] == "CREATE_PENDING"
        deadline = time.monotonic() + 30
        while (d := cfn.describe_change_set(ChangeSetName=cs["Id"]))["Status"] == "CREATE_PENDING":
            assert time.monotonic() < deadline, "the interrupted change set stayed CREATE_PENDING"
            time.sleep(0.2)
        assert (d["Status"], d["StatusReason"], d["ExecutionStatus"]) == (
            "FAILED", "Change set creation was interrupted", "UNAVAILABLE")
    finally:
        s.stop()
