#!/usr/bin/env python3
"""Benchmarks sagestack's CloudFormation API (AWS Query protocol) against moto_server and
writes docs/benchmarks/cloudformation-api.md.

Measured on loopback, one server at a time, each on a fresh state:
  * DescribeStacks and DescribeStackEvents throughput: a closed loop of `--connections`
    keep-alive HTTP/1.1 connections (asyncio, raw sockets, pre-encoded form requests),
    `--duration` seconds after a warm-up; a connection the server closes is reopened;
  * create -> complete: CreateStack, then DescribeStacks every 5 ms until the stack is
    CREATE_COMPLETE; the median of `--creates` stacks of the same template.

Usage (moto and boto3 come from the /tmp venv made by scripts/bench-cfn-moto.py):
    /tmp/cfn-moto-venv/bin/python scripts/bench-cfn-api.py \
        --sagestack $CARGO_TARGET_DIR/release/sagestack [--duration 10] [--connections 64]
Only loopback addresses are used; every wait is bounded.
"""
import argparse
import asyncio
import datetime
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
import urllib.parse

import boto3
from botocore.config import Config

from bench_servers import free_port, start, stop

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "docs", "benchmarks", "cloudformation-api.md")

TEMPLATE = """\
Description: cloudformation-api benchmark stack
Resources:
  Q1: {Type: AWS::SQS::Queue}
  Q2: {Type: AWS::SQS::Queue}
  Q3: {Type: AWS::SQS::Queue, Properties: {VisibilityTimeout: 60}}
  T1: {Type: AWS::SNS::Topic}
  T2: {Type: AWS::SNS::Topic, Properties: {DisplayName: bench}}
Outputs:
  Url: {Value: !Ref Q1}
"""


def client(url):
    return boto3.client("cloudformation", endpoint_url=url, region_name="us-east-1",
                        aws_access_key_id="AKIDBENCH", aws_secret_access_key="x",
                        config=Config(retries={"max_attempts": 1}))


def create_to_complete(cfn, name):
    t0 = time.perf_counter()
    cfn.create_stack(StackName=name, TemplateBody=TEMPLATE)
    deadline = time.monotonic() + 60
    while True:
        status = cfn.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"]
        if status == "CREATE_COMPLETE":
            return time.perf_counter() - t0
        if not status.endswith("_IN_PROGRESS"):
            sys.exit(f"{name}: {status}")
        if time.monotonic() > deadline:
            sys.exit(f"{name}: still {status} after 60 s")
        time.sleep(0.005)


def request_bytes(port, params):
    body = urllib.parse.urlencode(params).encode()
    head = (
        f"POST / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        "Content-Type: application/x-www-form-urlencoded; charset=utf-8\r\n"
        "Authorization: AWS4-HMAC-SHA256 Credential=AKIDBENCH/20260101/us-east-1/cloudformation/aws4_request, "
        "SignedHeaders=host, Signature=0\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    return head + body


async def read_response(reader):
    """(status, keep-alive) of one HTTP/1.x response, its body consumed."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    version, status = lines[0].split(" ", 2)[:2]
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    if "content-length" in headers:
        await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    else:
        await reader.read()
        return int(status), False
    keep = version == "HTTP/1.1" and headers.get("connection", "").lower() != "close"
    return int(status), keep


async def load(port, request, connections, duration, warmup):
    counts = {"ok": 0, "err": 0}
    latencies = []
    start = time.perf_counter()
    measure_from = start + warmup
    end = measure_from + duration

    async def worker():
        reader = writer = None
        while True:
            now = time.perf_counter()
            if now >= end:
                break
            if writer is None:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            t0 = time.perf_counter()
            writer.write(request)
            status, keep = await read_response(reader)
            t1 = time.perf_counter()
            if t0 >= measure_from and t1 <= end:
                counts["ok" if status == 200 else "err"] += 1
                latencies.append(t1 - t0)
            if not keep:
                writer.close()
                writer = None
        if writer is not None:
            writer.close()

    await asyncio.wait_for(asyncio.gather(*(worker() for _ in range(connections))),
                           timeout=warmup + duration + 60)
    latencies.sort()
    n = len(latencies)
    return {
        "rps": counts["ok"] / duration,
        "errors": counts["err"],
        "p50_ms": 1000 * latencies[n // 2] if n else None,
        "p99_ms": 1000 * latencies[min(n - 1, int(n * 0.99))] if n else None,
    }


def run_target(name, url, port, args):
    cfn = client(url)
    times = [create_to_complete(cfn, f"bench-create-{i}") for i in range(args.creates)]
    create_ms = 1000 * statistics.median(times)
    results = {"create_ms": create_ms}
    for action in ("DescribeStacks", "DescribeStackEvents"):
        req = request_bytes(port, {"Action": action, "Version": "2010-05-15",
                                   "StackName": "bench-create-0"})
        results[action] = asyncio.run(load(port, req, args.connections, args.duration, args.warmup))
        print(name, action, results[action], flush=True)
    print(name, "create->complete median ms", round(create_ms, 1), flush=True)
    return results


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sagestack", required=True)
    ap.add_argument("--duration", type=float, default=10.0)
    ap.add_argument("--warmup", type=float, default=2.0)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--creates", type=int, default=10)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()

    load_before = os.getloadavg()[0]
    moto_bin = shutil.which("moto_server") or os.path.join(os.path.dirname(sys.executable), "moto_server")
    port = free_port()
    proc = start([moto_bin, "-H", "127.0.0.1", "-p", str(port)], f"http://127.0.0.1:{port}/moto-api/")
    try:
        moto = run_target("moto", f"http://127.0.0.1:{port}", port, args)
    finally:
        stop(proc)

    port = free_port()
    data = tempfile.mkdtemp(prefix="sagestack-cfnapi-bench-")
    proc = start([args.sagestack, "serve", "--port", str(port), "--data-dir", data],
                 f"http://127.0.0.1:{port}/_sagestack/health")
    try:
        ours = run_target("sagestack", f"http://127.0.0.1:{port}", port, args)
    finally:
        stop(proc)
        shutil.rmtree(data, ignore_errors=True)

    load_after = os.getloadavg()[0]
    import moto as moto_pkg
    rows = []
    for action in ("DescribeStacks", "DescribeStackEvents"):
        s, m = ours[action], moto[action]
        rows.append(f"| {action} | {s['rps']:.0f} | {s['p50_ms']:.2f} / {s['p99_ms']:.2f} | {s['errors']} "
                    f"| {m['rps']:.0f} | {m['p50_ms']:.2f} / {m['p99_ms']:.2f} | {m['errors']} "
                    f"| {s['rps'] / m['rps']:.1f}x |")
    doc = f"""# CloudFormation API benchmark

Measured by `scripts/bench-cfn-api.py` on {datetime.date.today().isoformat()}
({platform.machine()}, {os.cpu_count()} CPUs shared by the server, the load generator and
other work: 1-minute load average {load_before:.1f} at the start, {load_after:.1f} at the end;
Linux {platform.release()}). sagestack: release build, embedded SQLite store
(`synchronous=FULL`), fresh data directory. moto: `moto_server` {moto_pkg.__version__}
from PyPI. Each server ran alone, on loopback.

## Read throughput ({args.connections} connections, {args.duration:.0f} s after {args.warmup:.0f} s warm-up)

Closed loop: each of {args.connections} keep-alive HTTP/1.1 connections sends a form-encoded
Query request for one stack of 5 resources (11 events), waits for the response, sends the
next. The load generator is Python asyncio on the same CPUs and competes with the server
for them; a faster client was not tried.

| operation | sagestack req/s | p50 / p99 ms | errors | moto req/s | p50 / p99 ms | errors | sagestack / moto |
| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
{chr(10).join(rows)}

## Create -> complete through the API

`CreateStack` of the same 5-resource template (3 SQS queues, 2 SNS topics, one output),
then `DescribeStacks` every 5 ms until `CREATE_COMPLETE`; median of {args.creates} stacks,
created one after another.

| | sagestack | moto | moto time / sagestack time |
| --- | ---: | ---: | ---: |
| create -> complete | {ours['create_ms']:.1f} ms | {moto['create_ms']:.1f} ms | {moto['create_ms'] / ours['create_ms']:.2f}x |

sagestack answers `CreateStack` once the operation is durably started and runs it as a
task that writes each resource step, with its event, to SQLite before and after the
provider call; where its {ours['create_ms']:.0f} ms go was not profiled.
"""
    if not args.no_write:
        with open(OUT, "w") as f:
            f.write(doc)
        print("wrote", OUT)
    else:
        print(doc)


if __name__ == "__main__":
    main()
