"""Issue #19 item 8 against the real binary: concurrent large S3 bodies share one
in-flight budget (`--s3-max-inflight-bytes`), so the server's peak memory does not grow
with object size times concurrency. Before the budget, four concurrent PUTs of N bytes
peaked at several times 4 N (the body and the store's copies of each, all at once)."""
import concurrent.futures
import hashlib
import os

import pytest
from botocore.exceptions import ClientError

from conftest import Server, vmhwm
from test_s3 import MIB, error_code, s3_client

OBJECT = 32 * MIB
# Room for one such body at a time (a request reserves three times its size: the body
# and the store's copies of it).
BUDGET = 3 * OBJECT
# Above the budget: the runtime, SQLite's page cache, allocator slack.
MARGIN = 32 * MIB


@pytest.fixture
def srv(tmp_path):
    s = Server(str(tmp_path / "d"), {
        "SAGESTACK_S3_MAX_OBJECT_SIZE": str(OBJECT),
        "SAGESTACK_S3_MAX_INFLIGHT_BYTES": str(BUDGET),
    }).start()
    yield s
    s.stop()


def test_concurrent_large_puts_and_gets_stay_within_the_budget(srv):
    bodies = [os.urandom(OBJECT) for _ in range(4)]
    s3_client(srv.url).create_bucket(Bucket="big")
    before = vmhwm(srv.proc.pid)

    def put(i):
        c = s3_client(srv.url)
        c.put_object(Bucket="big", Key=f"o{i}", Body=bodies[i])

    def get(i):
        c = s3_client(srv.url)
        return hashlib.md5(c.get_object(Bucket="big", Key=f"o{i}")["Body"].read()).hexdigest()

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        list(pool.map(put, range(4)))
        digests = list(pool.map(get, range(4)))
    assert digests == [hashlib.md5(b).hexdigest() for b in bodies]
    growth = vmhwm(srv.proc.pid) - before
    print(f"VmHWM growth: {growth / MIB:.0f} MiB (budget {BUDGET // MIB} MiB)")
    assert growth < BUDGET + MARGIN, f"peak grew by {growth / MIB:.0f} MiB"
    # The server still answers.
    assert s3_client(srv.url).head_object(Bucket="big", Key="o3")["ContentLength"] == OBJECT


def test_an_object_too_large_for_the_budget_is_entity_too_large(tmp_path):
    # The budget holds one 8 MiB body (with its copies), not one of 16 MiB, even though
    # the object size limit would allow it.
    s = Server(str(tmp_path / "d"), {
        "SAGESTACK_S3_MAX_OBJECT_SIZE": str(64 * MIB),
        "SAGESTACK_S3_MAX_INFLIGHT_BYTES": str(3 * 8 * MIB),
    }).start()
    try:
        c = s3_client(s.url)
        c.create_bucket(Bucket="small")
        c.put_object(Bucket="small", Key="ok", Body=b"x" * (8 * MIB))
        with pytest.raises(ClientError) as e:
            c.put_object(Bucket="small", Key="big", Body=b"x" * (8 * MIB + 1))
        assert error_code(e) == "EntityTooLarge"
        assert c.get_object(Bucket="small", Key="ok")["Body"].read() == b"x" * (8 * MIB)
    finally:
        s.stop()
