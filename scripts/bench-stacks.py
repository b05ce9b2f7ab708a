#!/usr/bin/env python3
"""Stack create / update / delete through the API: sagestack against moto and fakecloud.

Each server runs alone on a free loopback port, one after another in one run. For 10,
100 and 500 resources (S3 buckets and SSM parameters, every parameter's value naming the
bucket before it, so a create and a delete are two dependency levels), each operation is
timed from the call until `DescribeStacks` shows its terminal status, through two
clients:

* boto3 (what a user's tests run; its own request preparation is inside the time), and
* a raw HTTP/1.1 client (one keep-alive connection, the form body encoded and signed
  before the clock starts, status polls signed as they go), so that boto3's cost, about
  10-20 ms to prepare a 500-resource request, does not hide the servers' difference.

Both clients poll with a 1 ms pause between `DescribeStacks` calls that still show an
`*_IN_PROGRESS` status: the same loop for every server. Medians of `--repeats`.

    python3 scripts/bench-stacks.py --sagestack target/release/sagestack \
        [--fakecloud DIR/bin/fakecloud] [--no-moto] [--repeats 5] [--json out.json]

sagestack runs twice: durable (the default, a fresh `--data-dir` on disk) and
`--ephemeral`. moto comes from the venv scripts/bench-cfn-moto.py makes under /tmp;
fakecloud from `cargo install fakecloud --locked --root DIR`. After each server's update
one parameter is read back through SSM and must carry the new value, and after the delete
one bucket must be gone, so a server that skips the work fails the run instead of winning.
"""

import argparse
import datetime
import hashlib
import hmac
import http.client
import json
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_servers import boto_wait, ensure_moto_venv, free_port, poll, start, stop  # noqa: E402

SIZES = (10, 100, 500)
REGION = "us-east-1"
KEY, SECRET = "testing", "testing"
OPS = ("create", "update", "delete")


def template(n, version):
    """`n` resources: buckets at even indexes, at odd ones a parameter (named after the
    stack: fakecloud refuses a parameter without `Name`) whose value names the bucket
    before it (`v1-<bucket>`, `v2-<bucket>` after the update). Compact JSON: 500
    resources stay under the 51,200-byte inline limit, so no server reads S3 here."""
    resources = {}
    for i in range(n):
        if i % 2 == 0:
            resources[f"R{i}"] = {"Type": "AWS::S3::Bucket"}
        else:
            resources[f"R{i}"] = {
                "Type": "AWS::SSM::Parameter",
                "Properties": {
                    "Name": {"Fn::Sub": f"/${{AWS::StackName}}/p{i}"},
                    "Type": "String",
                    "Value": {"Fn::Sub": f"v{version}-${{R{i - 1}}}"},
                },
            }
    body = {"AWSTemplateFormatVersion": "2010-09-09", "Resources": resources}
    return json.dumps(body, separators=(",", ":"))


# ---- the raw client ---------------------------------------------------------------------


def _hmac(key, msg):
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def signed(host, body):
    """Headers of a SigV4-signed CloudFormation Query POST of `body` (bytes)."""
    now = datetime.datetime.now(datetime.timezone.utc)
    amz_date, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    payload = hashlib.sha256(body).hexdigest()
    ctype = "application/x-www-form-urlencoded; charset=utf-8"
    canonical = (
        f"POST\n/\n\ncontent-type:{ctype}\nhost:{host}\nx-amz-date:{amz_date}\n\n"
        f"content-type;host;x-amz-date\n{payload}"
    )
    scope = f"{day}/{REGION}/cloudformation/aws4_request"
    to_sign = f"AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    k = _hmac(("AWS4" + SECRET).encode(), day)
    for part in (REGION, "cloudformation", "aws4_request"):
        k = _hmac(k, part)
    sig = hmac.new(k, to_sign.encode(), hashlib.sha256).hexdigest()
    return {
        "Content-Type": ctype,
        "X-Amz-Date": amz_date,
        "Authorization": f"AWS4-HMAC-SHA256 Credential={KEY}/{scope}, "
        f"SignedHeaders=content-type;host;x-amz-date, Signature={sig}",
        "Content-Length": str(len(body)),
    }


class Raw:
    """CloudFormation over one keep-alive HTTP/1.1 connection, no SDK."""

    def __init__(self, url):
        parsed = urllib.parse.urlparse(url)
        self.host = parsed.netloc
        self.conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=600)

    def prepare(self, action, **params):
        body = urllib.parse.urlencode({"Action": action, "Version": "2010-05-15", **params}).encode()
        return body, signed(self.host, body)

    def send(self, prepared):
        body, headers = prepared
        self.conn.request("POST", "/", body=body, headers=headers)
        resp = self.conn.getresponse()
        return resp.status, resp.read().decode()

    def call(self, action, **params):
        status, text = self.send(self.prepare(action, **params))
        if status != 200:
            raise RuntimeError(f"{action}: HTTP {status}: {text[:300]}")
        return text

    def status(self, stack_id):
        text = self.call("DescribeStacks", StackName=stack_id)
        m = re.search(r"<StackStatus>([A-Z_]+)</StackStatus>", text)
        if not m:
            raise RuntimeError(f"no StackStatus in {text[:300]}")
        return m.group(1)

    def wait(self, stack_id, terminal, timeout=600):
        poll(lambda: (self.status(stack_id), ""), stack_id, terminal, RuntimeError, timeout)

    def cycle(self, name, v1, v2):
        """Create, update, delete; seconds for each."""
        times = {}
        req = self.prepare("CreateStack", StackName=name, TemplateBody=v1)
        t = time.perf_counter()
        status, text = self.send(req)
        if status != 200:
            raise RuntimeError(f"CreateStack: HTTP {status}: {text[:300]}")
        sid = re.search(r"<StackId>([^<]+)</StackId>", text).group(1)
        self.wait(sid, "CREATE_COMPLETE")
        times["create"] = time.perf_counter() - t
        req = self.prepare("UpdateStack", StackName=sid, TemplateBody=v2)
        t = time.perf_counter()
        status, text = self.send(req)
        if status != 200:
            raise RuntimeError(f"UpdateStack: HTTP {status}: {text[:300]}")
        self.wait(sid, "UPDATE_COMPLETE")
        times["update"] = time.perf_counter() - t
        req = self.prepare("DeleteStack", StackName=sid)
        t = time.perf_counter()
        status, text = self.send(req)
        if status != 200:
            raise RuntimeError(f"DeleteStack: HTTP {status}: {text[:300]}")
        self.wait(sid, "DELETE_COMPLETE")
        times["delete"] = time.perf_counter() - t
        return sid, times


# ---- boto3 ------------------------------------------------------------------------------


def boto_clients(url):
    import boto3
    from botocore.config import Config

    def make(service):
        return boto3.client(
            service, endpoint_url=url, region_name=REGION, aws_access_key_id=KEY,
            aws_secret_access_key=SECRET,
            config=Config(retries={"max_attempts": 1}, read_timeout=600),
        )

    return make("cloudformation"), make("ssm"), make("s3")


def boto_cycle(cfn, name, v1, v2):
    times = {}
    t = time.perf_counter()
    sid = cfn.create_stack(StackName=name, TemplateBody=v1)["StackId"]
    boto_wait(cfn, sid, "CREATE_COMPLETE")
    times["create"] = time.perf_counter() - t
    t = time.perf_counter()
    cfn.update_stack(StackName=sid, TemplateBody=v2)
    boto_wait(cfn, sid, "UPDATE_COMPLETE")
    times["update"] = time.perf_counter() - t
    t = time.perf_counter()
    cfn.delete_stack(StackName=sid)
    boto_wait(cfn, sid, "DELETE_COMPLETE")
    times["delete"] = time.perf_counter() - t
    return sid, times


def check_work(url, n):
    """One stack of `n` created, updated and deleted through boto3, its effects checked:
    a parameter carries the update's value, and the bucket is gone after the delete."""
    cfn, ssm, s3 = boto_clients(url)
    sid = cfn.create_stack(StackName=f"check-{n}", TemplateBody=template(n, 1))["StackId"]
    boto_wait(cfn, sid, "CREATE_COMPLETE")
    cfn.update_stack(StackName=sid, TemplateBody=template(n, 2))
    boto_wait(cfn, sid, "UPDATE_COMPLETE")
    res = {
        r["LogicalResourceId"]: r["PhysicalResourceId"]
        for r in cfn.describe_stack_resources(StackName=sid)["StackResources"]
    }
    value = ssm.get_parameter(Name=res["R1"])["Parameter"]["Value"]
    if value != f"v2-{res['R0']}":
        raise RuntimeError(f"after the update R1 is {value!r}, not v2-{res['R0']}")
    s3.head_bucket(Bucket=res["R0"])
    cfn.delete_stack(StackName=sid)
    boto_wait(cfn, sid, "DELETE_COMPLETE")
    try:
        s3.head_bucket(Bucket=res["R0"])
    except Exception:
        return
    raise RuntimeError(f"bucket {res['R0']} still exists after the delete")


def measure(url, label, repeats):
    check_work(url, 10)
    cfn, _, _ = boto_clients(url)
    raw = Raw(url)
    out = {}
    for n in SIZES:
        v1, v2 = template(n, 1), template(n, 2)
        # One unmeasured cycle per size and client: caches and connections warm.
        boto_cycle(cfn, f"warm-b-{n}", v1, v2)
        raw.cycle(f"warm-r-{n}", v1, v2)
        samples = {"boto3": {op: [] for op in OPS}, "raw": {op: [] for op in OPS}}
        for r in range(repeats):
            for client, fn in (("boto3", lambda nm: boto_cycle(cfn, nm, v1, v2)),
                               ("raw", lambda nm: raw.cycle(nm, v1, v2))):
                _, times = fn(f"b-{client}-{n}-{r}")
                for op in OPS:
                    samples[client][op].append(times[op])
        out[n] = {c: {op: statistics.median(v) for op, v in s.items()} for c, s in samples.items()}
        out[n]["samples"] = samples
        for c in ("boto3", "raw"):
            m = out[n][c]
            print(f"{label:20s} {c:5s} n={n:3d}  create {m['create'] * 1e3:8.1f}  update "
                  f"{m['update'] * 1e3:8.1f}  delete {m['delete'] * 1e3:8.1f} ms", flush=True)
    return out


# ---- servers ----------------------------------------------------------------------------


def servers(args):
    """(label, start) of every server to measure; start returns (process, url, cleanup)."""
    def sagestack(ephemeral):
        def go():
            port = free_port()
            tmp = tempfile.mkdtemp(prefix="bench-stacks-")
            cmd = [args.sagestack, "serve", "--host", "127.0.0.1", "--port", str(port),
                   "--credentials", f"{KEY}:{SECRET}"]
            cmd += ["--ephemeral"] if ephemeral else ["--data-dir", tmp]
            url = f"http://127.0.0.1:{port}"
            return start(cmd, url + "/_sagestack/health"), url, lambda: shutil.rmtree(tmp, True)
        return go

    def moto():
        port = free_port()
        exe = os.path.join(os.path.dirname(sys.executable), "moto_server")
        url = f"http://127.0.0.1:{port}"
        return start([exe, "-H", "127.0.0.1", "-p", str(port)], url + "/moto-api/"), url, None

    def fakecloud():
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        cmd = [args.fakecloud, "--addr", f"127.0.0.1:{port}"]
        return start(cmd, url + "/_fakecloud/health"), url, None

    out = []
    if args.sagestack:
        out.append(("sagestack (durable)", sagestack(False)))
        out.append(("sagestack (ephemeral)", sagestack(True)))
    if args.fakecloud:
        out.append(("fakecloud", fakecloud))
    if not args.no_moto:
        out.append(("moto", moto))
    return out


def main():
    ensure_moto_venv()
    ap = argparse.ArgumentParser()
    ap.add_argument("--sagestack", help="the sagestack binary (a release build)")
    ap.add_argument("--fakecloud", help="the fakecloud binary")
    ap.add_argument("--no-moto", action="store_true")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--json", help="write every sample here")
    args = ap.parse_args()

    results = {"load_before": os.getloadavg(), "repeats": args.repeats, "servers": {}}
    import moto

    results["moto_version"] = moto.__version__
    for label, go in servers(args):
        proc, url, cleanup = go()
        try:
            results["servers"][label] = measure(url, label, args.repeats)
        finally:
            stop(proc, timeout=10)
            if cleanup:
                cleanup()
    results["load_after"] = os.getloadavg()
    print(f"load average before {results['load_before'][0]:.2f}, after {results['load_after'][0]:.2f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
