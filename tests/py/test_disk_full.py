"""Issue #19 item 6 on a real full disk: the server's data directory on a small tmpfs,
filled to the last byte by another file.

While the disk is full, writes are refused with a clear error in each service's shape
(SSM and SageMaker `InternalServerError`-class 500s naming the cause, S3 `InternalError`
saying the storage is full), the health endpoint answers 503 `degraded` with the
reason, and reads keep working. Once the filler is removed, the store recovers by
itself (no restart): health returns to `ok`, writes land again, a project accepted
around the failure ends in a terminal state instead of staying in progress, and a
restart finds every acknowledged write and none of the refused ones.

Mounting a tmpfs needs root (or CAP_SYS_ADMIN); elsewhere the test is skipped with a
message saying so. The recovery logic itself is also covered without a mount by
`crates/store/src/health.rs`'s unit test (SQLite's page cap)."""
import json
import os
import subprocess
import time
import urllib.error
import urllib.request

import pytest
from botocore.exceptions import ClientError

from conftest import Server, make_client
from test_provisioning import BUCKET, TEMPLATE, client, provider

pytestmark = pytest.mark.embedded_only(
    "a full disk under the data directory is the embedded store's failure (on PostgreSQL the "
    "data lives in the database server)")

DISK_BYTES = 24 * 1024 * 1024
VALUE = "v" * 4000  # an SSM Standard parameter's maximum is 4 KB


@pytest.fixture
def disk(tmp_path):
    mount = tmp_path / "disk"
    mount.mkdir()
    p = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={DISK_BYTES}", "tmpfs", str(mount)],
        capture_output=True, text=True,
    )
    if p.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {p.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def health(url):
    try:
        with urllib.request.urlopen(url + "/_sagestack/health", timeout=5) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def fill(path):
    """Writes zeros to `path` until the file system refuses (ENOSPC)."""
    chunk = b"\0" * (256 * 1024)
    with open(path, "wb", buffering=0) as f:
        try:
            while True:
                f.write(chunk)
        except OSError:
            pass
        # The last bytes: smaller writes until nothing fits.
        for size in (4096, 512, 1):
            try:
                while True:
                    f.write(b"\0" * size)
            except OSError:
                pass


def until_refused(write, acknowledged=None, attempts=2000):
    """Calls `write(i)` for i = 0, 1, ... until it raises; the refusal. Successes are
    appended to `acknowledged` by index when given."""
    for i in range(attempts):
        try:
            write(i)
        except ClientError as e:
            return e
        if acknowledged is not None:
            acknowledged.append(i)
    raise AssertionError(f"{attempts} writes on a full disk were all accepted")


def wait_health(url, status, timeout=30):
    deadline = time.monotonic() + timeout
    while True:
        code, body = health(url)
        if body["status"] == status:
            return code, body
        if time.monotonic() > deadline:
            raise AssertionError(f"health stayed {code} {body}, expected {status}")
        time.sleep(0.1)


def test_a_full_disk_refuses_writes_cleanly_and_recovers_when_space_returns(disk):
    srv = Server(str(disk / "data")).start()
    try:
        ssm = client("ssm", srv.url)
        s3 = client("s3", srv.url)
        sm = make_client(srv.url)
        s3.create_bucket(Bucket=BUCKET)
        s3.put_object(Bucket=BUCKET, Key="ml.yaml", Body=TEMPLATE.encode())
        ssm.put_parameter(Name="/before/full", Value="kept", Type="String")

        fill(disk / "filler")

        # SQLite may still place writes in WAL pages it already owns (the WAL file keeps
        # its size after a checkpoint resets it, and a refused transaction's frames are
        # reused by the next one), so a write lands whenever it fits: keep writing until
        # the disk refuses one. Every answer must be a clean success or a clean refusal
        # in the service's own shape, never a dropped connection.
        acknowledged = []
        refused = until_refused(
            lambda i: ssm.put_parameter(Name=f"/during/p{i}", Value=VALUE, Type="String"),
            acknowledged,
        )
        assert refused.response["ResponseMetadata"]["HTTPStatusCode"] == 500, refused.response
        assert "full" in refused.response["Error"]["Message"], refused.response
        refused_name = f"/during/p{len(acknowledged)}"

        code, body = wait_health(srv.url, "degraded")
        assert code == 503 and "full" in body["store"], body

        e = until_refused(lambda i: s3.put_object(
            Bucket=BUCKET, Key=f"while-full-{i}", Body=b"x" * 100_000))
        assert e.response["Error"]["Code"] == "InternalError"
        assert "storage is full" in e.response["Error"]["Message"]
        e = until_refused(lambda i: sm.create_model_package_group(
            ModelPackageGroupName=f"while-full-{i}",
            ModelPackageGroupDescription="d" * 1024))
        assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 500, e.response
        assert "full" in e.response["Error"]["Message"], e.response
        # A project may or may not be accepted (its record is one small write); either
        # way it must not stay in progress once space returns.
        try:
            sm.create_project(ProjectName="around-full",
                              TemplateProviders=provider("ml.yaml"))
            accepted = True
        except ClientError as e:
            assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 500
            accepted = False

        # Reads keep working while full.
        assert ssm.get_parameter(Name="/before/full")["Parameter"]["Value"] == "kept"
        assert s3.get_object(Bucket=BUCKET, Key="ml.yaml")["Body"].read() == TEMPLATE.encode()

        os.remove(disk / "filler")
        wait_health(srv.url, "ok")
        assert srv.proc.poll() is None

        ssm.put_parameter(Name="/after/full", Value="landed", Type="String")
        s3.put_object(Bucket=BUCKET, Key="after", Body=b"after")
        sm.create_model_package_group(ModelPackageGroupName="after-full")
        if accepted:
            deadline = time.monotonic() + 30
            while True:
                status = sm.describe_project(ProjectName="around-full")["ProjectStatus"]
                if status in ("CreateCompleted", "CreateFailed"):
                    break
                assert time.monotonic() < deadline, f"project stuck in {status}"
                time.sleep(0.1)
        sm.create_project(ProjectName="after-full", TemplateProviders=provider("ml.yaml"))
        deadline = time.monotonic() + 30
        while sm.describe_project(ProjectName="after-full")["ProjectStatus"] != "CreateCompleted":
            assert time.monotonic() < deadline, "a project after recovery did not complete"
            time.sleep(0.05)
    finally:
        srv.stop()

    # A restart finds what was acknowledged, and nothing that was refused.
    srv = Server(str(disk / "data")).start()
    try:
        ssm = client("ssm", srv.url)
        for name in ["/before/full", "/after/full", *(f"/during/p{i}" for i in acknowledged)]:
            ssm.get_parameter(Name=name)
        with pytest.raises(ClientError) as e:
            ssm.get_parameter(Name=refused_name)
        assert e.value.response["Error"]["Code"] == "ParameterNotFound"
        s3 = client("s3", srv.url)
        assert s3.get_object(Bucket=BUCKET, Key="after")["Body"].read() == b"after"
    finally:
        srv.stop()
