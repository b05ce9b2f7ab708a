#!/usr/bin/env python3
"""The floors under scripts/bench-stacks.py's times: what no stack operation measured there
can go below on this machine, whatever the server does (issue #21).

1. `fdatasync` of a 4 KiB write on the filesystem of the durable data directory: a durable
   server flushes at least once before it acknowledges an operation.
2. Per server, the raw client's two round trips (the call and the one `DescribeStacks`
   poll that sees the terminal status), measured as two `DescribeStacks` of an existing
   stack: bench-stacks.py's time for an operation includes both.
3. SQLite's own work for a 500-resource delete of bench-stacks.py's stack: the rows
   sagestack writes (250 parameters and their versions and 250 buckets deleted, 500
   resource documents rewritten as `DELETE_COMPLETE`, 1,000 events), replayed by Python's
   sqlite3 on a copy of a database sagestack wrote, in four transactions of 128
   resources with the statements sagestack's write combiner sends (multi-row), WAL and
   `synchronous=NORMAL`, no flush: SQLite's B-tree and WAL work alone, no engine, no
   thread hand-off, no Rust.

    python3 scripts/bench-stacks-floors.py --sagestack target/release/sagestack \\
        [--fakecloud DIR/bin/fakecloud] [--no-moto]
"""

import argparse
import importlib.util
import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from bench_servers import ensure_moto_venv, stop  # noqa: E402

_spec = importlib.util.spec_from_file_location("bench_stacks", os.path.join(HERE, "bench-stacks.py"))
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)


def ms(samples):
    return statistics.median(samples) * 1e3


def fdatasync_floor(directory, n=300):
    path = os.path.join(directory, "fdatasync-probe")
    fd = os.open(path, os.O_RDWR | os.O_CREAT)
    try:
        out = []
        for i in range(n):
            os.pwrite(fd, b"x" * 4096, (i % 64) * 4096)
            t = time.perf_counter()
            os.fdatasync(fd)
            out.append(time.perf_counter() - t)
        return ms(out)
    finally:
        os.close(fd)
        os.unlink(path)


def round_trips(url, n=300):
    """Median of two DescribeStacks round trips on a 10-resource stack."""
    raw = bench.Raw(url)
    raw.cycle("floor-warm", bench.template(10, 1), bench.template(10, 2))
    text = raw.call("CreateStack", StackName="floor", TemplateBody=bench.template(10, 1))
    sid = text.split("<StackId>")[1].split("</StackId>")[0]
    raw.wait(sid, "CREATE_COMPLETE")
    out = []
    for _ in range(n):
        t = time.perf_counter()
        raw.status(sid)
        raw.status(sid)
        out.append(time.perf_counter() - t)
    return ms(out)


def sqlite_delete_floor(db_path, rounds=3):
    """Milliseconds of SQLite work for the 500-resource delete's rows (see the docs)."""
    times = []
    for _ in range(rounds):
        with tempfile.TemporaryDirectory() as tmp:
            copy = os.path.join(tmp, "db")
            shutil.copy(db_path, copy)
            db = sqlite3.connect(copy, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            # Warm SQLite's page cache as the server's writer has it (it wrote these rows).
            for table in ("cfn_resources", "cfn_events", "s3_buckets", "ssm_parameters",
                          "ssm_parameter_versions"):
                db.execute(f"SELECT count(*), sum(length(document)) FROM {table}").fetchone()
            (sid,) = db.execute("SELECT stack_id FROM cfn_stacks").fetchone()
            records = db.execute("SELECT logical_id, document FROM cfn_resources WHERE stack_id = ?",
                                 (sid,)).fetchall()
            params = [r[0] for r in db.execute("SELECT name FROM ssm_parameters")]
            buckets = [r[0] for r in db.execute("SELECT name FROM s3_buckets")]
            seq = db.execute("SELECT max(seq) FROM cfn_events").fetchone()[0] + 1
            (event,) = db.execute("SELECT document FROM cfn_events LIMIT 1").fetchone()
            start = time.perf_counter()
            for lo in range(0, len(records), 128):
                part = records[lo:lo + 128]
                ps, bs = params[lo // 2:(lo + 128) // 2], buckets[lo // 2:(lo + 128) // 2]
                db.execute("BEGIN")
                for table, keys in (("ssm_parameters", ps), ("ssm_parameter_versions", ps),
                                    ("s3_buckets", bs)):
                    if keys:
                        marks = ", ".join(["(?)"] * len(keys))
                        db.execute(f"DELETE FROM {table} WHERE name IN (VALUES {marks})", keys)
                rows = [v for lid, doc in part
                        for v in (sid, lid, doc.replace('"CREATE_COMPLETE"', '"DELETE_COMPLETE"'))]
                db.execute("INSERT INTO cfn_resources (stack_id, logical_id, document) VALUES "
                           + ", ".join(["(?, ?, ?)"] * len(part))
                           + " ON CONFLICT (stack_id, logical_id) DO UPDATE SET document = excluded.document",
                           rows)
                rows = [v for i in range(2 * len(part)) for v in (sid, seq + i, event)]
                seq += 2 * len(part)
                db.execute("INSERT INTO cfn_events (stack_id, seq, document) VALUES "
                           + ", ".join(["(?, ?, ?)"] * (2 * len(part)))
                           + " ON CONFLICT (stack_id, seq) DO UPDATE SET document = excluded.document",
                           rows)
                db.execute("COMMIT")
            times.append(time.perf_counter() - start)
            db.close()
    return ms(times)


def main():
    ensure_moto_venv()
    ap = argparse.ArgumentParser()
    ap.add_argument("--sagestack", required=True, help="the sagestack binary (a release build)")
    ap.add_argument("--fakecloud", help="the fakecloud binary")
    ap.add_argument("--no-moto", action="store_true")
    args = ap.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f}")
    data = tempfile.mkdtemp(prefix="bench-floors-")
    try:
        print(f"fdatasync of 4 KiB: {fdatasync_floor(data):.3f} ms")
        for label, go in bench.servers(args):
            proc, url, cleanup = go()
            try:
                print(f"{label:22s} call + one poll (2 DescribeStacks): {round_trips(url):.3f} ms")
            finally:
                stop(proc, timeout=10)
                if cleanup:
                    cleanup()
        # A database with bench-stacks.py's 500-resource stack, written by sagestack.
        port = bench.free_port()
        cmd = [args.sagestack, "serve", "--host", "127.0.0.1", "--port", str(port),
               "--credentials", f"{bench.KEY}:{bench.SECRET}", "--data-dir", data]
        url = f"http://127.0.0.1:{port}"
        proc = bench.start(cmd, url + "/_sagestack/health")
        try:
            raw = bench.Raw(url)
            text = raw.call("CreateStack", StackName="floor", TemplateBody=bench.template(500, 1))
            raw.wait(text.split("<StackId>")[1].split("</StackId>")[0], "CREATE_COMPLETE")
        finally:
            stop(proc, timeout=10)
        db = os.path.join(data, "sagestack.db")
        print(f"SQLite alone, a 500-resource delete's rows: {sqlite_delete_floor(db):.2f} ms")
    finally:
        shutil.rmtree(data, True)


if __name__ == "__main__":
    main()
