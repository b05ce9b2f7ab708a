#!/usr/bin/env python3
"""Time moto's CloudFormation on the stacks the sagestack-cloudformation benchmark uses.

Creates, updates and deletes stacks of 10, 100 and 500 resources (S3 bucket, SQS queue,
SNS topic, IAM role, SSM parameter, in a cycle; every parameter reads the four resources
before it) through boto3 against a local `moto_server`, and prints the median wall time of
each operation from the API call until the stack reaches its terminal status. It also
prints how long boto3 itself takes to serialize and sign the create request (the same
against either server): a floor under every create time measured this way.

    python3 scripts/bench-cfn-moto.py [--repeats 3] [--templates DIR] [--json out.json]
                                      [--sagestack target/release/sagestack]

Without a ready environment it makes a venv under /tmp (`pip install
"moto[server,cloudformation]" boto3`) and re-runs itself there. `--templates DIR` reads
`stack-{n}-v{1,2}.json` written by the Rust bench (`SAGESTACK_BENCH_TEMPLATES=DIR cargo
bench -p sagestack-cloudformation`), so both sides run byte-identical templates; without
it the same shape is generated here. moto_server runs on a free loopback port and is
stopped at the end; every wait is bounded.

`--sagestack BIN` also runs the same loop against `BIN serve` (a fresh `--data-dir` under
/tmp, a free loopback port), after moto and never at the same time, and prints the ratio.
"""

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time

from bench_servers import boto_wait, ensure_moto_venv, free_port, start, stop

SIZES = (10, 100, 500)
INLINE_LIMIT = 51_200
TEMPLATE_BUCKET = "bench-templates"


def template(n, version):
    """The Rust bench's `template(n, version)`, same shape and values."""
    resources = {}
    for i in range(n):
        kind = i % 5
        if kind == 0:
            ty, props = "AWS::S3::Bucket", {}
        elif kind == 1:
            ty, props = "AWS::SQS::Queue", {"VisibilityTimeout": 30 * version}
        elif kind == 2:
            ty, props = "AWS::SNS::Topic", {"DisplayName": f"topic {i} v{version}"}
        elif kind == 3:
            ty, props = "AWS::IAM::Role", {
                "AssumeRolePolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "lambda.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                }
            }
        else:
            sub = f"v{version}|${{R{i - 4}}}|${{R{i - 3}.Arn}}|${{R{i - 2}}}|${{R{i - 1}.Arn}}"
            ty, props = "AWS::SSM::Parameter", {
                "Type": "String",
                "Name": {"Fn::Sub": f"/${{AWS::StackName}}/p{i}"},
                "Value": {"Fn::Sub": sub},
            }
        resources[f"R{i}"] = {"Type": ty, "Properties": props}
    return json.dumps(
        {
            "AWSTemplateFormatVersion": "2010-09-09",
            "Description": f"sagestack benchmark stack, {n} resources",
            "Resources": resources,
        },
        indent=2,
    )


def start_at(cmd, ready_path, port):
    """`cmd` started, once `ready_path` answers on `port`; the process and its URL."""
    url = f"http://127.0.0.1:{port}"
    return start(cmd, url + ready_path), url


def start_moto():
    port = free_port()
    exe = os.path.join(os.path.dirname(sys.executable), "moto_server")
    return start_at([exe, "-H", "127.0.0.1", "-p", str(port)], "/moto-api/", port)


def start_sagestack(binary, data_dir):
    port = free_port()
    cmd = [binary, "serve", "--host", "127.0.0.1", "--port", str(port), "--data-dir", data_dir,
           "--credentials", "testing:testing"]
    return start_at(cmd, "/_sagestack/health", port)


def run(url, label, body, repeats):
    """Create, update and delete each size `repeats` times; medians per operation."""
    import boto3
    from botocore.config import Config

    cfn = boto3.client(
        "cloudformation",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"max_attempts": 1}, read_timeout=600),
    )
    # The client's own share: boto3 serializes and signs every request before it is sent
    # (for a 500-resource template that is most of a create call on the client side), and
    # each status poll is a whole request. Both are the same against either server, so
    # they bound the ratio any server can reach through boto3.
    sent = {}
    cfn.meta.events.register(
        "before-send.cloudformation", lambda **kw: sent.update(t=time.perf_counter())
    )
    # Templates over CloudFormation's inline limit (51,200 bytes; both servers enforce it)
    # go through S3 and TemplateURL, as they must on AWS. The upload is not timed.
    s3 = boto3.client(
        "s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id="testing",
        aws_secret_access_key="testing", config=Config(retries={"max_attempts": 1}),
    )
    s3.create_bucket(Bucket=TEMPLATE_BUCKET)

    def source(key, text):
        if len(text.encode()) <= INLINE_LIMIT:
            return {"TemplateBody": text}
        s3.put_object(Bucket=TEMPLATE_BUCKET, Key=key, Body=text.encode())
        return {"TemplateURL": f"https://{TEMPLATE_BUCKET}.s3.amazonaws.com/{key}"}

    results = {}
    run_no = 0
    for n in SIZES:
        v1 = source(f"stack-{n}-v1.json", body(n, 1))
        v2 = source(f"stack-{n}-v2.json", body(n, 2))
        times = {"create": [], "update": [], "delete": []}
        prep = {"create": [], "update": []}
        for _ in range(repeats):
            run_no += 1
            name = f"bench-{n}-{run_no}"
            t = time.perf_counter()
            sid = cfn.create_stack(StackName=name, Capabilities=["CAPABILITY_IAM"], **v1)["StackId"]
            prep["create"].append(sent["t"] - t)
            boto_wait(cfn, sid, "CREATE_COMPLETE")
            times["create"].append(time.perf_counter() - t)

            t = time.perf_counter()
            cfn.update_stack(StackName=sid, Capabilities=["CAPABILITY_IAM"], **v2)
            prep["update"].append(sent["t"] - t)
            boto_wait(cfn, sid, "UPDATE_COMPLETE")
            times["update"].append(time.perf_counter() - t)

            t = time.perf_counter()
            cfn.delete_stack(StackName=sid)
            boto_wait(cfn, sid, "DELETE_COMPLETE")
            times["delete"].append(time.perf_counter() - t)
        results[n] = {op: statistics.median(v) for op, v in times.items()}
        results[n]["samples"] = times
        results[n]["client_prep"] = {op: statistics.median(v) for op, v in prep.items()}
        print(
            f"{label:9s} n={n:4d}  create {results[n]['create'] * 1000:9.1f} ms"
            f"  update {results[n]['update'] * 1000:9.1f} ms"
            f"  delete {results[n]['delete'] * 1000:9.1f} ms"
            f"  (median of {repeats}; boto3 prepares the create request in"
            f" {results[n]['client_prep']['create'] * 1000:.1f} ms)",
            flush=True,
        )
    return results


def main():
    ensure_moto_venv()
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--templates", help="directory of stack-{n}-v{1,2}.json from the Rust bench")
    ap.add_argument("--json", help="write the results here")
    ap.add_argument("--sagestack", help="also time this sagestack binary over HTTP")
    args = ap.parse_args()

    def body(n, v):
        if args.templates:
            with open(os.path.join(args.templates, f"stack-{n}-v{v}.json")) as f:
                return f.read()
        return template(n, v)

    import moto

    results = {"moto_version": moto.__version__, "load_before": os.getloadavg()}
    proc, url = start_moto()
    try:
        results["moto"] = run(url, "moto", body, args.repeats)
    finally:
        stop(proc, timeout=10)
    print(f"moto {moto.__version__}")
    if args.sagestack:
        data_dir = tempfile.mkdtemp(prefix="cfn-bench-sagestack-")
        proc, url = start_sagestack(args.sagestack, data_dir)
        try:
            results["sagestack"] = run(url, "sagestack", body, args.repeats)
        finally:
            stop(proc, timeout=10)
            shutil.rmtree(data_dir, ignore_errors=True)
        for n in SIZES:
            ratio = "  ".join(
                f"{op} {results['moto'][n][op] / results['sagestack'][n][op]:6.1f}x"
                for op in ("create", "update", "delete")
            )
            print(f"moto / sagestack n={n:4d}  {ratio}")
    results["load_after"] = os.getloadavg()
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
