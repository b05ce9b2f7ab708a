//! Scheduling: independent resources run concurrently, bounded by `max_parallel`, and a
//! resource starts as soon as its own dependencies finish (not level by level). Time is
//! paused, so durations are exact.

mod common;

use std::time::Duration;

use common::*;
use sagestack_engine::*;
use serde_json::{Map, json};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[tokio::test(start_paused = true)]
async fn a_resource_starts_when_its_own_dependencies_finish() {
    // A (slow) <- C ; B (fast) <- D. D must start when B is done, long before A is.
    let h = Harness::with_parallel(8);
    h.provider.delay("A", 100);
    h.provider.delay("B", 10);
    h.provider.delay("C", 10);
    h.provider.delay("D", 10);
    let t = json!({"Resources": {
        "A": {"Type": "Test::R"},
        "B": {"Type": "Test::R"},
        "C": {"Type": "Test::R", "Properties": {"P": "{{Ref:A}}"}},
        "D": {"Type": "Test::R", "Properties": {"P": "{{Ref:B}}"}},
    }});
    let stack = h.create("s", &t).await;
    assert_eq!(stack.status, StackStatus::CreateComplete);
    let p = &h.provider;
    assert_eq!(p.start_of("A", Op::Create), ms(0));
    assert_eq!(p.start_of("B", Op::Create), ms(0));
    assert_eq!(p.start_of("D", Op::Create), ms(10));
    assert_eq!(p.start_of("C", Op::Create), ms(100));
    assert_eq!(p.max_running(), 2);

    // Deletion mirrors it: C and D go first, concurrently; A waits only for C.
    h.provider.reset_concurrency();
    let t0 = p.start_of("C", Op::Create) + ms(10);
    h.delete("s").await;
    let c = p.start_of("C", Op::Delete);
    let d = p.start_of("D", Op::Delete);
    assert_eq!(c, d, "independent dependents are deleted together");
    assert!(c >= t0);
    assert!(p.start_of("A", Op::Delete) >= p.end_of("C", Op::Delete));
    assert!(p.start_of("B", Op::Delete) >= p.end_of("D", Op::Delete));
}

fn flat(n: usize) -> serde_json::Value {
    let mut resources = Map::new();
    for i in 0..n {
        resources.insert(format!("R{i}"), json!({"Type": "Test::R"}));
    }
    json!({ "Resources": resources })
}

/// A harness running `parallel` actions at once, where each of `flat(10)` takes 50 ms.
fn delayed(parallel: usize) -> Harness {
    let h = Harness::with_parallel(parallel);
    for i in 0..10 {
        h.provider.delay(&format!("R{i}"), 50);
    }
    h
}

#[tokio::test(start_paused = true)]
async fn concurrency_is_bounded_by_max_parallel() {
    let h = delayed(3);
    let start = tokio::time::Instant::now();
    let stack = h.create("s", &flat(10)).await;
    assert_eq!(stack.status, StackStatus::CreateComplete);
    assert_eq!(h.provider.max_running(), 3);
    // ceil(10 / 3) = 4 waves of 50 ms.
    assert_eq!(start.elapsed(), ms(200));
}

#[tokio::test(start_paused = true)]
async fn independent_resources_all_run_at_once_under_the_limit() {
    let h = delayed(16);
    let start = tokio::time::Instant::now();
    h.create("s", &flat(10)).await;
    assert_eq!(h.provider.max_running(), 10);
    assert_eq!(start.elapsed(), ms(50));
}
