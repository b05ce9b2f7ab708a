"""PutObject / GetObject throughput of the embedded S3 endpoint: 10 KiB objects, N
concurrent connections (one boto3 client per thread). Not a test; run by hand:

    python tests/py/bench_s3.py [--url http://127.0.0.1:4566] [--connections 16] [--seconds 10]

Without --url it starts the binary (CARGO_TARGET_DIR / SAGESTACK_BIN) on a temp data dir.
"""
import argparse
import os
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from conftest import Server  # noqa: E402
from test_s3 import s3_client  # noqa: E402


def run(url, connections, seconds, op, body):
    stop = time.monotonic() + seconds
    counts = [0] * connections
    errors = []

    def worker(i):
        c = s3_client(url, max_pool_connections=1)
        n = 0
        try:
            while time.monotonic() < stop:
                key = f"w{i}/k{n % 100}"
                if op == "put":
                    c.put_object(Bucket="bench", Key=key, Body=body)
                else:
                    c.get_object(Bucket="bench", Key=key)["Body"].read()
                n += 1
        except Exception as e:  # reported below
            errors.append(e)
        counts[i] = n

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(connections)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - t0
    if errors:
        raise errors[0]
    return sum(counts) / elapsed


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--url")
    p.add_argument("--connections", type=int, default=16)
    p.add_argument("--seconds", type=float, default=10)
    a = p.parse_args()
    server = None
    url = a.url
    if not url:
        server = Server(tempfile.mkdtemp(prefix="s3bench-")).start()
        url = server.url
    try:
        c = s3_client(url)
        if "bench" not in [b["Name"] for b in c.list_buckets()["Buckets"]]:
            c.create_bucket(Bucket="bench")
        body = os.urandom(10 * 1024)
        put = run(url, a.connections, a.seconds, "put", body)
        get = run(url, a.connections, a.seconds, "get", body)
        print(f"PutObject 10 KiB: {put:.0f} req/s at {a.connections} connections")
        print(f"GetObject 10 KiB: {get:.0f} req/s at {a.connections} connections")
    finally:
        if server:
            server.stop()


if __name__ == "__main__":
    main()
