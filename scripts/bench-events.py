#!/usr/bin/env python3
"""EventBridge benchmark (issue #15): PutEvents throughput and event → Lambda target
latency with 10, 1,000 and 10,000 rules on the default bus; moto's server measured
through the same load generator for the throughput.

    python3 scripts/bench-events.py [--sagestack target/release/sagestack]
        [--bench target/release/sagestack-bench] [--rules 10,1000,10000]
        [--duration 10] [--latency 300] [--json out.json]

Needs release builds (`cargo build --release -p sagestack -p sagestack-bench`); runs in
the venv scripts/bench-cfn-moto.py makes (moto[server], boto3).

What is measured:
* throughput: `sagestack-bench load` (16 keep-alive connections, closed loop) sends
  PutEvents of 10 entries each; every entry matches one rule whose target is another
  event bus (so each accepted event is also matched, written to the outbox and
  delivered). The other rules (90% keyed by a `source` the events do not have, 10%
  with no `source`, which every event must be tested against) match nothing.
* latency (sagestack only: moto runs Lambda functions only in Docker): one event at a
  time, 20 ms apart, each carrying the wall-clock time it was sent; a rule sends it to
  a warm Python function that appends (its start time - sent time) to a file.
"""
import argparse
import importlib.util
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
ROLE = "arn:aws:iam::123456789012:role/bench"
PROBE = ("import json, os, time\n"
         "def handler(event, context):\n"
         "    late = time.time() - event['detail']['sent']\n"
         "    with open(os.environ['LAT_FILE'], 'a') as f:\n"
         "        f.write(f'{late}\\n')\n")


def shared():
    """scripts/bench-cfn-moto.py: the venv, and starting and stopping both servers."""
    spec = importlib.util.spec_from_file_location("bench_cfn_moto", os.path.join(HERE, "bench-cfn-moto.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def client(url, service):
    import boto3
    from botocore.config import Config
    return boto3.client(service, endpoint_url=url, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing",
                        config=Config(retries={"max_attempts": 1}, read_timeout=120,
                                      max_pool_connections=32))


def pattern(i):
    if i % 10 == 0:
        return {"detail": {"n": [{"numeric": [">", 1e12]}]}}
    return {"source": [f"bench.src{i}"], "detail-type": ["bench"]}


def make_rules(url, n):
    ev = client(url, "events")
    account = client(url, "sts").get_caller_identity()["Account"]
    ev.create_event_bus(Name="sink")
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: ev.put_rule(Name=f"r{i}", EventPattern=json.dumps(pattern(i))), range(n)))
    ev.put_rule(Name="load", EventPattern=json.dumps({"source": ["bench.load"]}))
    ev.put_targets(Rule="load", Targets=[{
        "Id": "sink", "Arn": f"arn:aws:events:us-east-1:{account}:event-bus/sink"}])


def throughput(bench, url, duration):
    entry = {"Source": "bench.load", "DetailType": "bench", "Detail": json.dumps({"n": 1})}
    body = json.dumps({"Entries": [entry] * 10})
    addr = url.removeprefix("http://")
    out = subprocess.run([bench, "load", "--addr", addr, "--target", "AWSEvents.PutEvents",
                          "--body", body, "--connections", "16", "--duration", str(duration)],
                         check=True, capture_output=True, text=True, timeout=duration + 120)
    result = json.loads(out.stdout)
    return {"events_per_s": round(result["rps"] * 10), "calls_per_s": round(result["rps"]),
            "p50_ms": result.get("p50_ms"), "p99_ms": result.get("p99_ms"), "errors": result.get("errors")}


def latency(url, count, lat_file):
    lam, ev = client(url, "lambda"), client(url, "events")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("app.py", PROBE)
    arn = lam.create_function(FunctionName="probe", Runtime="python3.12", Role=ROLE, Handler="app.handler",
                              Code={"ZipFile": buf.getvalue()},
                              Environment={"Variables": {"LAT_FILE": lat_file}})["FunctionArn"]
    ev.put_rule(Name="probe", EventPattern=json.dumps({"source": ["bench.probe"]}))
    ev.put_targets(Rule="probe", Targets=[{"Id": "probe", "Arn": arn}])

    def send():
        ev.put_events(Entries=[{"Source": "bench.probe", "DetailType": "bench",
                                "Detail": json.dumps({"sent": time.time()})}])

    def lines():
        try:
            with open(lat_file) as f:
                return [float(x) * 1000 for x in f.read().split()]
        except FileNotFoundError:
            return []

    send()  # warms the function's worker
    deadline = time.monotonic() + 60
    while not lines():
        assert time.monotonic() < deadline, "the probe function never ran"
        time.sleep(0.05)
    os.remove(lat_file)
    for _ in range(count):
        send()
        time.sleep(0.02)
    deadline = time.monotonic() + 60
    while len(lines()) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    samples = lines()
    ordered = sorted(samples)
    return {"samples": len(samples), "p50_ms": round(statistics.median(samples), 2),
            "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 2)}


def drain_time(url):
    """Seconds from the end of the throughput run until every accepted event reached
    the sink bus (the delivery task's backlog worked off)."""
    import urllib.request
    start = time.monotonic()
    while time.monotonic() - start < 300:
        stats = json.load(urllib.request.urlopen(url + "/_sagestack/events/stats", timeout=10))
        rules = next(iter(stats.values()))["rules"]
        load = next(v for k, v in rules.items() if k.endswith("/load"))
        sink = load["targets"].get("sink", {})
        if sink.get("delivered", 0) + sink.get("givenUp", 0) >= load["matched"]:
            assert sink.get("givenUp", 0) == 0, sink
            return round(time.monotonic() - start, 1)
        time.sleep(0.2)
    return None


def main():
    m = shared()
    m.ensure_venv()
    ap = argparse.ArgumentParser()
    ap.add_argument("--sagestack", default="target/release/sagestack")
    ap.add_argument("--bench", default="target/release/sagestack-bench")
    ap.add_argument("--rules", default="10,1000,10000")
    ap.add_argument("--duration", type=float, default=10)
    ap.add_argument("--latency", type=int, default=300)
    ap.add_argument("--json")
    args = ap.parse_args()
    bench = os.path.abspath(args.bench)
    results = []
    for n in [int(x) for x in args.rules.split(",")]:
        row = {"rules": n}
        proc, url = m.start_moto()
        try:
            make_rules(url, n)
            row["moto"] = throughput(bench, url, args.duration)
        finally:
            m.stop(proc)
        with tempfile.TemporaryDirectory() as data_dir:
            proc, url = m.start_sagestack(os.path.abspath(args.sagestack), data_dir)
            try:
                make_rules(url, n)
                # Latency on a quiet server first: after the throughput run the delivery
                # task is still working off the events it accepted.
                row["latency"] = latency(url, args.latency, os.path.join(data_dir, "latency.txt"))
                row["sagestack"] = throughput(bench, url, args.duration)
                row["drained_s"] = drain_time(url)
            finally:
                m.stop(proc)
        s, mo = row["sagestack"]["events_per_s"], row["moto"]["events_per_s"]
        row["ratio"] = round(s / mo, 1) if mo else None
        results.append(row)
        print(json.dumps(row), flush=True)
    print("\n| rules | sagestack events/s | moto events/s | ratio | backlog delivered after | event → Lambda p50 | p99 |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(f"| {r['rules']:,} | {r['sagestack']['events_per_s']:,} | {r['moto']['events_per_s']:,} "
              f"| {r['ratio']}× | {r['drained_s']} s | {r['latency']['p50_ms']} ms | {r['latency']['p99_ms']} ms |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    sys.exit(main())
