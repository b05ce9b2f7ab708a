"""PutObject / GetObject throughput of the embedded S3 endpoint: 10 KiB objects, N
concurrent connections (one process and boto3 client each; Python's client-side signing
is usually the bottleneck, so the figures are a floor for the server). Not a test; run by hand:

    python tests/py/bench_s3.py [--url http://127.0.0.1:4566] [--connections 16] [--seconds 10]

Without --url it starts the binary (CARGO_TARGET_DIR / SAGESTACK_BIN) on a temp data dir.
"""
import argparse
import os
import sys
import tempfile
import multiprocessing
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from conftest import Server  # noqa: E402
from test_s3 import s3_client  # noqa: E402


def worker(args):
    """One connection: its own process (no GIL sharing) and boto3 client."""
    url, i, start_at, seconds, op, body = args
    c = s3_client(url, max_pool_connections=1)
    # Every worker starts at the same wall-clock instant, after the processes and
    # clients exist, so that start-up is not measured.
    time.sleep(max(0.0, start_at - time.time()))
    stop = time.monotonic() + seconds
    n = 0
    while time.monotonic() < stop:
        if op == "put":
            c.put_object(Bucket="bench", Key=f"w{i}/k{n % 100}", Body=body)
        else:
            c.get_object(Bucket="bench", Key=f"obj/k{n % 100}")["Body"].read()
        n += 1
    return n


def run(url, connections, seconds, op, body):
    start_at = time.time() + 5
    with multiprocessing.Pool(connections) as pool:
        counts = pool.map(worker, [(url, i, start_at, seconds, op, body) for i in range(connections)])
    return sum(counts) / seconds


def cpu_seconds(pid):
    """User + system CPU time of a process (Linux /proc), or None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


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
        for j in range(100):
            c.put_object(Bucket="bench", Key=f"obj/k{j}", Body=body)
        pid = server.proc.pid if server else None
        for op, name in (("put", "PutObject"), ("get", "GetObject")):
            before = cpu_seconds(pid) if pid else None
            rate = run(url, a.connections, a.seconds, op, body)
            line = f"{name} 10 KiB: {rate:.0f} req/s at {a.connections} connections"
            after = cpu_seconds(pid) if pid else None
            if before is not None and after is not None and rate:
                # Server CPU per request: what the server would sustain per core if the
                # (Python) clients were not the bottleneck.
                per = (after - before) / (rate * a.seconds)
                line += f"; server CPU {per * 1e6:.0f} us/request (~{1 / per:.0f} req/s per core)"
            print(line)
    finally:
        if server:
            server.stop()


if __name__ == "__main__":
    main()
