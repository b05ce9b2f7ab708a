//! Providers that keep no state (`ResourceProvider::keeps_state` is false) take the
//! engine's fast path: a resource's opening event is written with its outcome, one store
//! write per action instead of two. What callers see must not change: the same events,
//! the same statuses, cancellation still reported.

mod common;

use std::sync::Arc;

use common::*;
use sagestack_engine::*;
use serde_json::json;

/// Runs `scenario` once with a stateful provider acting outside the store (two writes
/// per action, deletes included: an in-store provider's deletes take the fast path too)
/// and once with a stateless provider, and returns both event lists and store write
/// counts.
async fn both<F, Fut>(scenario: F) -> [(Vec<String>, usize); 2]
where
    F: Fn(Arc<TestProvider>, Arc<Engine>) -> Fut,
    Fut: std::future::Future<Output = String>,
{
    let mut out = Vec::new();
    for stateless in [false, true] {
        let store = FreezingStore::new();
        let provider = TestProvider::new();
        provider.set_stateless(stateless);
        provider.set_outside(!stateless);
        let engine = Arc::new(engine_over_store(store.clone(), provider.clone(), 1));
        let stack_id = scenario(provider, engine.clone()).await;
        out.push((events_of(&engine, &stack_id).await, store.writes()));
    }
    out.try_into().unwrap()
}

/// Runs `scenario` as [`both`] does and asserts that the stateless run reported the
/// stateful run's events, `lines` among them; returns both store write counts.
async fn same_events<F, Fut>(scenario: F, lines: &[&str]) -> [usize; 2]
where
    F: Fn(Arc<TestProvider>, Arc<Engine>) -> Fut,
    Fut: std::future::Future<Output = String>,
{
    let [(stateful, w_full), (stateless, w_fast)] = both(scenario).await;
    assert_eq!(stateless, stateful, "{lines:?}");
    for line in lines {
        assert!(
            stateless.iter().any(|e| e == line),
            "{line} not in {stateless:?}"
        );
    }
    [w_full, w_fast]
}

#[tokio::test]
async fn create_and_delete_report_the_same_events_with_one_write_less_per_action() {
    let scenario = |_, engine: Arc<Engine>| async move {
        let stack = create_on(&engine, "s", &chain(&["A", "B", "C"])).await;
        assert_eq!(stack.status, StackStatus::CreateComplete);
        let deleted = delete_on(&engine, "s").await;
        assert_eq!(deleted.status, StackStatus::DeleteComplete);
        deleted.stack_id
    };
    let lines = ["B CREATE_IN_PROGRESS", "B DELETE_IN_PROGRESS"];
    let [w_full, w_fast] = same_events(scenario, &lines).await;
    // Three resources, each created and deleted: six writes fewer.
    assert_eq!(w_full - w_fast, 6, "{w_full} vs {w_fast}");
}

#[tokio::test]
async fn a_failure_rolls_back_with_the_same_events() {
    for failing in ["A", "B", "C"] {
        let failed = format!("{failing} CREATE_FAILED ({failing} failed on purpose)");
        let scenario = |provider: Arc<TestProvider>, engine: Arc<Engine>| async move {
            provider.fail_on(failing, Op::Create);
            let stack = create_on(&engine, "s", &chain(&["A", "B", "C"])).await;
            assert_eq!(stack.status, StackStatus::RollbackComplete);
            stack.stack_id
        };
        same_events(scenario, &[&failed]).await;
    }
    let scenario = |provider: Arc<TestProvider>, engine: Arc<Engine>| async move {
        provider.fail_on("B", Op::Delete);
        create_on(&engine, "s", &chain(&["A", "B"])).await;
        let stack = delete_on(&engine, "s").await;
        assert_eq!(stack.status, StackStatus::DeleteFailed);
        stack.stack_id
    };
    same_events(scenario, &["B DELETE_FAILED (B failed on purpose)"]).await;
}

#[tokio::test]
async fn an_in_flight_stateless_create_is_still_reported_cancelled_and_rolled_back() {
    let store = FreezingStore::new();
    let provider = TestProvider::new();
    provider.set_stateless(true);
    let engine = engine_over_store(store, provider.clone(), 4);
    provider.fail_on("A", Op::Create);
    provider.delay("B", 50);
    provider.delay("A", 5);
    let t = json!({"Resources": {
        "A": {"Type": "Test::R"},
        "B": {"Type": "Test::R"},
    }});
    let stack = create_on(&engine, "s", &t).await;
    assert_eq!(stack.status, StackStatus::RollbackComplete);
    let ev = events_of(&engine, &stack.stack_id).await;
    assert_eq!(
        ev[..6],
        lines(&[
            "s CREATE_IN_PROGRESS (User Initiated)",
            "A CREATE_IN_PROGRESS",
            "A CREATE_FAILED (A failed on purpose)",
            "B CREATE_IN_PROGRESS",
            "B CREATE_FAILED (Resource creation cancelled)",
            "s ROLLBACK_IN_PROGRESS (The following resource(s) failed to create: [A, B]. Rollback requested by user.)",
        ]),
        "{ev:?}"
    );
    // B's create finished after the cancellation; the rollback deleted what it made.
    assert!(ev.contains(&"B DELETE_COMPLETE".to_string()), "{ev:?}");
    assert_eq!(ev.last().unwrap(), "s ROLLBACK_COMPLETE");
    assert!(provider.live().is_empty());
}
