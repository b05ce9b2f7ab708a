"""kill -9 in the middle of stack creates and deletes whose resources live in this server.

The stack is the benchmark's shape (S3 buckets, SQS queues, SNS topics, IAM roles and SSM
parameters that read the four resources before them). Inside a stack operation the
SQLite store queues the engine's records and the native resources' rows behind and
commits them in order, so a SIGKILL loses the last steps of both together. Each run
creates a stack, kills the server after a random moment (no time at all in every third
run), restarts it, and requires:

* the stack settles by itself at `CREATE_COMPLETE` or `ROLLBACK_COMPLETE`, or does not
  exist at all when the kill came before the call was answered (a call whose work is
  local runs its whole operation before answering, so the kill lands inside the call:
  the call is made from a thread and the kill does not wait for its answer);
* the buckets, roles and parameters in the store are exactly the stack's live resources
  of those types (read from the database file: no orphan, nothing missing);

then deletes it, kills the server again at a random moment, restarts, and requires
`DELETE_COMPLETE` with none of those rows left (deleting again, as a client whose call
was never answered would, when the kill came before the delete started). `SAGESTACK_STACK_CRASH_RUNS` (default
12) sets the number of runs, `SAGESTACK_CRASH_SEED` replays a failing one.
"""
import json
import os
import random
import sqlite3
import threading
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


def in_flight(call, delay):
    """Starts `call` on a thread and returns after `delay` seconds (at once for 0), whether
    or not it was answered: the kill that follows may land inside the call."""
    def run():
        try:
            call()
        except Exception:  # the connection dies with the server
            pass

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout=delay)


def stack_named(cfn, name):
    """The id of the last stack called `name`, deleted or not; None if there is none."""
    pages = cfn.get_paginator("list_stacks").paginate()
    ids = [s["StackId"] for p in pages for s in p["StackSummaries"] if s["StackName"] == name]
    return ids[0] if ids else None


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
            in_flight(lambda: cfn.create_stack(
                StackName=name, TemplateBody=body, Capabilities=["CAPABILITY_IAM"]),
                0 if run % 3 == 0 else rng.uniform(0, 0.06))
            server.kill9()
            server = Server(data_dir).start()
            cfn = cfn_client(server.url)
            stack_id = stack_named(cfn, name)
            if stack_id is None:
                # Killed before CreateStack's first write committed: nothing was made.
                assert not any(stored(data_dir, name).values()), where
                continue
            status = settle(cfn, stack_id)
            assert status in ("CREATE_COMPLETE", "ROLLBACK_COMPLETE"), (where, status)
            expected = live(cfn, stack_id)
            if status == "CREATE_COMPLETE":
                assert sum(len(v) for v in expected.values()) == 36, (where, expected)
            else:
                assert not any(expected.values()), (where, expected)
            assert stored(data_dir, name) == expected, where

            in_flight(lambda: cfn.delete_stack(StackName=stack_id),
                      0 if run % 3 == 1 else rng.uniform(0, 0.05))
            server.kill9()
            server = Server(data_dir).start()
            cfn = cfn_client(server.url)
            after = settle(cfn, stack_id)
            if after == status:
                # Killed before DeleteStack's first write committed: the call was never
                # answered and the stack is untouched, so the client deletes it again.
                assert live(cfn, stack_id) == expected, where
                cfn.delete_stack(StackName=stack_id)
                after = settle(cfn, stack_id)
            assert after == "DELETE_COMPLETE", where
            assert not any(stored(data_dir, name).values()), where
    finally:
        server.stop()
