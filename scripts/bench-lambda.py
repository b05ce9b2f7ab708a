#!/usr/bin/env python3
"""Lambda benchmark: invoke latency (cold and warm, p50/p99), invocations per second with
16 in flight, and a stack of 20 inline-Python functions each backing a custom resource,
created and deleted; the same calls against moto's server, through the same boto3.

    python3 scripts/bench-lambda.py [--sagestack target/release/sagestack] [--warm 500]
                                    [--cold 20] [--total 2000] [--json out.json]

Runs in the venv scripts/bench-cfn-moto.py makes (moto[server] and boto3; `docker`, the
library moto's Lambda imports, is added there). moto runs Lambda functions only in Docker
containers; where Docker is absent (as here) its Invoke fails, and what it answers is
printed instead of a number. sagestack runs on a fresh data directory on a free loopback
port, after moto and never at the same time.
"""
import argparse
import importlib.util
import io
import json
import os
import statistics
import sys
import tempfile
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
ROLE = "arn:aws:iam::123456789012:role/bench"
CODE = "def handler(event, context):\n    return {'ok': True, 'n': event.get('n')}\n"


def shared():
    """scripts/bench-cfn-moto.py: the venv, and starting and stopping both servers."""
    spec = importlib.util.spec_from_file_location("bench_cfn_moto", os.path.join(HERE, "bench-cfn-moto.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def package():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("app.py", CODE)
    return buf.getvalue()


def clients(url):
    import boto3
    from botocore.config import Config

    def make(service):
        return boto3.client(service, endpoint_url=url, region_name="us-east-1",
                            aws_access_key_id="testing", aws_secret_access_key="testing",
                            config=Config(retries={"max_attempts": 1}, read_timeout=120,
                                          max_pool_connections=32))
    return make("lambda"), make("cloudformation")


def pct(samples, p):
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def create(lam, name):
    lam.create_function(FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="app.handler",
                        Code={"ZipFile": package()}, Timeout=30)


def invoke(lam, name, n=0):
    started = time.perf_counter()
    out = lam.invoke(FunctionName=name, Payload=json.dumps({"n": n}))
    body = out["Payload"].read()
    elapsed = (time.perf_counter() - started) * 1000
    if out.get("FunctionError"):
        raise RuntimeError(body.decode()[:300])
    return elapsed


TRUST = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                  "Principal": {"Service": "lambda.amazonaws.com"}}]}


def ensure_role(url):
    """moto checks that a function's role exists in its IAM; sagestack has no IAM API
    (roles come from stacks) and does not check: the call's failure there is ignored."""
    import boto3
    iam = boto3.client("iam", endpoint_url=url, region_name="us-east-1",
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    try:
        iam.create_role(RoleName="bench", AssumeRolePolicyDocument=json.dumps(TRUST))
    except Exception:  # noqa: BLE001
        pass


def stack_template(count):
    resources = {"Role": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": TRUST}}}
    for i in range(count):
        resources[f"Fn{i}"] = {
            "Type": "AWS::Lambda::Function",
            "Properties": {
                "Runtime": "python3.12", "Handler": "index.handler",
                "Role": {"Fn::GetAtt": ["Role", "Arn"]},
                "Code": {"ZipFile": "import cfnresponse\n"
                                    "def handler(event, context):\n"
                                    "    cfnresponse.send(event, context, cfnresponse.SUCCESS,"
                                    " {'Value': event['LogicalResourceId']})\n"},
            },
        }
        resources[f"Custom{i}"] = {
            "Type": "Custom::Bench",
            "Properties": {"ServiceToken": {"Fn::GetAtt": [f"Fn{i}", "Arn"]}, "Index": i},
        }
    return json.dumps({"Resources": resources})


def run(url, args, wait):
    lam, cfn = clients(url)
    ensure_role(url)
    out = {}
    try:
        cold = []
        for i in range(args.cold):
            create(lam, f"cold-{i}")
            cold.append(invoke(lam, f"cold-{i}"))
        out["cold_p50_ms"], out["cold_p99_ms"] = statistics.median(cold), pct(cold, 99)
        create(lam, "warm")
        invoke(lam, "warm")
        warm = [invoke(lam, "warm", n) for n in range(args.warm)]
        out["warm_p50_ms"], out["warm_p99_ms"] = statistics.median(warm), pct(warm, 99)
        started = time.perf_counter()
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(lambda n: invoke(lam, "warm", n), range(args.total)))
        out["invokes_per_s_16"] = args.total / (time.perf_counter() - started)
    except Exception as e:  # noqa: BLE001 - moto without Docker: the answer is the result
        out["invoke_error"] = f"{type(e).__name__}: {e}"[:400]
    try:
        body = stack_template(args.stack)
        started = time.perf_counter()
        sid = cfn.create_stack(StackName="crs", TemplateBody=body, Capabilities=["CAPABILITY_IAM"])["StackId"]
        wait(cfn, sid, "CREATE_COMPLETE", timeout=args.stack_timeout)
        out["stack_create_s"] = time.perf_counter() - started
        started = time.perf_counter()
        cfn.delete_stack(StackName=sid)
        wait(cfn, sid, "DELETE_COMPLETE", timeout=args.stack_timeout)
        out["stack_delete_s"] = time.perf_counter() - started
    except Exception as e:  # noqa: BLE001
        out["stack_error"] = f"{type(e).__name__}: {e}"[:400]
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sagestack", default=os.path.join(HERE, "..", "target", "release", "sagestack"))
    parser.add_argument("--warm", type=int, default=500)
    parser.add_argument("--cold", type=int, default=20)
    parser.add_argument("--total", type=int, default=2000)
    parser.add_argument("--stack", type=int, default=20)
    parser.add_argument("--skip-moto", action="store_true")
    parser.add_argument("--stack-timeout", type=float, default=120,
                        help="seconds a stack may take (moto's custom resources never answer without Docker)")
    parser.add_argument("--json")
    args = parser.parse_args()
    m = shared()
    m.ensure_venv()
    results = {}
    if not args.skip_moto:
        import subprocess
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "docker"], check=False, timeout=600)
        proc, url = m.start_moto()
        try:
            results["moto"] = run(url, args, m.wait)
        finally:
            m.stop(proc)
    with tempfile.TemporaryDirectory() as data_dir:
        proc, url = m.start_sagestack(os.path.abspath(args.sagestack), data_dir)
        try:
            results["sagestack"] = run(url, args, m.wait)
        finally:
            m.stop(proc)
    print(json.dumps(results, indent=2))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
