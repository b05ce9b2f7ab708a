//! A measurement, not a regression test (ignored by default; the machine decides the
//! numbers): CreateProject -> `CreateCompleted` in process, for the reference MLOps
//! template, sequentially and with 32 at once. Run with
//! `cargo test --release -p sagestack-provisioning --test throughput -- --ignored --nocapture`.
//! End to end over HTTP, `scripts/bench-projects` is the benchmark.

mod common;

use std::time::{Duration, Instant};

use common::*;

const URL: &str = "https://templates.s3.us-east-1.amazonaws.com/mlops.yaml";

fn template() -> String {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/mlops/mlops-template.yaml"
    );
    std::fs::read_to_string(path).unwrap()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "a measurement; run explicitly"]
async fn create_to_completed() {
    let dir = tempfile::tempdir().unwrap();
    let h = harness(dir.path(), Options::bounded(32, Duration::from_secs(60))).await;
    h.source.put(URL, &template());

    // Sequential: each project created and awaited before the next.
    let n = 200;
    let mut latencies = Vec::with_capacity(n);
    for i in 0..n {
        let name = format!("seq-{i}");
        let t = Instant::now();
        h.create(&name, URL, &[], &[]).await;
        let p = h.settled(&name).await;
        latencies.push(t.elapsed());
        assert_eq!(p["ProjectStatus"], "CreateCompleted", "{p:#}");
    }
    latencies.sort();
    println!(
        "sequential: p50 {:?} p90 {:?} p99 {:?}",
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.9),
        percentile(&latencies, 0.99)
    );

    // 32 at once: CreateProject answers at once, the workers do the rest.
    let t = Instant::now();
    for i in 0..n {
        h.create(&format!("par-{i}"), URL, &[], &[]).await;
    }
    h.provisioner.wait_idle().await;
    let elapsed = t.elapsed();
    for i in 0..n {
        assert_eq!(
            h.describe(&format!("par-{i}")).await["ProjectStatus"],
            "CreateCompleted"
        );
    }
    println!(
        "parallel: {n} projects in {elapsed:?} = {:.0} projects/s",
        n as f64 / elapsed.as_secs_f64()
    );
}
