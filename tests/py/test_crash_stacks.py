"""kill -9 in the middle of stack creates and deletes whose resources live in this server.

The stack is the benchmark's shape (S3 buckets, SQS queues, SNS topics, IAM roles and SSM
parameters that read the four resources before them). Inside a stack operation the
SQLite store queues the engine's records and the native resources' rows behind and
commits them in order, so a SIGKILL loses the last steps of both together. Each run
creates a stack, kills the server after a random moment (no time at all in every third
run), restarts it, and requires:

* the stack settles by itself at `CREATE_COMPLETE` or `ROLLBACK_COMPLETE`;
* the buckets, roles and parameters in the store are exactly the stack's live resources
  of those types (read from the database file: no orphan, nothing missing);

then deletes it, kills the server again at a random moment, restarts, and requires
`DELETE_COMPLETE` with none of those rows left. `SAGESTACK_STACK_CRASH_RUNS` (default
12) sets the number of runs, `SAGESTACK_CRASH_SEED` replays a failing one.
"""
import json
import os
import random
import sqlite3
import time

import pytest

from conftest import Server, client, settled_stack

RUNS = int(os.environ.get("SAGESTACK_STACK_CRASH_RUNS", "12"))
RESOURCES = 60
NATIVE = {
    "AWS::S3::Bucket": ("s3_buckets", "name"),
    "AWS::IAM::Role": ("iam_roles", "name"),
    "AWS::SSM::Parameter": ("ssm_parameters", "name"),
}


def template(n):
    resources = {}
    for i in range(n):
        kind = i % 5
        if kind == 0:
            r = {"Type": "AWS::S3::Bucket"}
        elif kind == 1:
            r = {"Type": "AWS::SQS::Queue", "Properties": {"VisibilityTimeout": 30}}
        elif kind == 2:
            r = {"Type": "AWS::SNS::Topic", "Properties": {"DisplayName": f"topic {i}"}}
        elif kind == 3:
            r = {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                               "Principal": {"Service": "lambda.amazonaws.com"}}]}}}
        else:
            value = f"${{R{i - 4}}}|${{R{i - 3}.Arn}}|${{R{i - 2}}}|${{R{i - 1}.Arn}}"
            r = {"Type": "AWS::SSM::Parameter", "Properties": {
                "Type": "String",
                "Name": {"Fn::Sub": f"/${{AWS::StackName}}/p{i}"},
                "Value": {"Fn::Sub": value}}}
        resources[f"R{i}"] = r
    return json.dumps({"Resources": resources})


def cfn_client(url):
    return client("cloudformation", url, connect_timeout=5, read_timeout=30)


def settle(cfn, stack_id):
    """The stack's status once it left *_IN_PROGRESS."""
    return settled_stack(cfn, stack_id, timeout=60)["StackStatus"]


def stored(data_dir, stack_name):
    """The native rows the store holds that belong to `stack_name` (by generated name)."""
    db = sqlite3.connect(f"file:{os.path.join(data_dir, 'sagestack.db')}?mode=ro", uri=True)
    try:
        rows = {}
        for ty, (table, column) in NATIVE.items():
            prefix = f"/{stack_name}/" if ty == "AWS::SSM::Parameter" else f"{stack_name}-"
            names = [r[0] for r in db.execute(f"SELECT {column} FROM {table}")]
            rows[ty] = {n for n in names if n.lower().startswith(prefix.lower())}
        return rows
    finally:
        db.close()


def live(cfn, stack_id):
    """The stack's resources of the native types, by physical id."""
    out = {ty: set() for ty in NATIVE}
    pages = cfn.get_paginator("list_stack_resources").paginate(StackName=stack_id)
    for page in pages:
        for r in page["StackResourceSummaries"]:
            if r["ResourceType"] in NATIVE and r["ResourceStatus"] != "DELETE_COMPLETE":
                out[r["ResourceType"]].add(r["PhysicalResourceId"])
    return out


@pytest.mark.embedded_only("reads the native rows from the SQLite file, and is about the SQLite "
                           "store's queued commits of a stack operation")
def test_stacks_and_their_native_resources_agree_after_kill9(tmp_path):
    seed = int(os.environ.get("SAGESTACK_CRASH_SEED", random.randrange(1 << 30)))
    rng = random.Random(seed)
    data_dir = str(tmp_path / "data")
    body = template(RESOURCES)
    server = Server(data_dir).start()
    try:
        for run in range(RUNS):
            name = f"crash-{run}"
            where = f"seed {seed}, run {run}"
            cfn = cfn_client(server.url)
            stack_id = cfn.create_stack(
                StackName=name, TemplateBody=body, Capabilities=["CAPABILITY_IAM"])["StackId"]
            time.sleep(0 if run % 3 == 0 else rng.uniform(0, 0.06))
            server.kill9()
            server = Server(data_dir).start()
            cfn = cfn_client(server.url)
            status = settle(cfn, stack_id)
            assert status in ("CREATE_COMPLETE", "ROLLBACK_COMPLETE"), (where, status)
            expected = live(cfn, stack_id)
            if status == "CREATE_COMPLETE":
                assert sum(len(v) for v in expected.values()) == 36, (where, expected)
            else:
                assert not any(expected.values()), (where, expected)
            assert stored(data_dir, name) == expected, where

            cfn.delete_stack(StackName=stack_id)
            time.sleep(0 if run % 3 == 1 else rng.uniform(0, 0.05))
            server.kill9()
            server = Server(data_dir).start()
            cfn = cfn_client(server.url)
            assert settle(cfn, stack_id) == "DELETE_COMPLETE", where
            assert not any(stored(data_dir, name).values()), where
    finally:
        server.stop()
