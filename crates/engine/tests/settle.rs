//! Calls whose operation is local answer after it (see `settle.rs` in the engine): the
//! status they leave behind, the writes and flushes they cost, and the cases that still
//! answer at once (work outside the store, an operation longer than the budget).

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use sagestack_engine::*;

fn setup(outside: bool, within: Duration) -> (Arc<FreezingStore>, Arc<TestProvider>, Engine) {
    let store = FreezingStore::new();
    let provider = TestProvider::new();
    provider.set_outside(outside);
    let engine = engine_settling(
        store.clone(),
        provider.clone(),
        4,
        Arc::new(RandomIds),
        within,
    );
    (store, provider, engine)
}

fn log(store: &FreezingStore) -> Vec<&'static str> {
    store.log.lock().unwrap().clone()
}

#[tokio::test]
async fn local_operations_are_over_when_the_call_answers_with_one_flush_each() {
    let (store, _, engine) = setup(false, Duration::from_secs(5));
    let template = chain(&["A", "B", "C"]);
    let id = engine
        .create_stack(Harness::input("s", &template))
        .await
        .unwrap();
    let stack = engine.describe_stack(&id).await.unwrap();
    assert_eq!(stack.status, StackStatus::CreateComplete);
    let all = log(&store);
    assert_eq!(
        all.iter().filter(|w| **w == "sync").count(),
        1,
        "the call's write is deferred too, one flush covers the operation: {all:?}"
    );
    assert_eq!(*all.last().unwrap(), "sync", "{all:?}");
    assert!(all[..all.len() - 1].iter().all(|w| *w == "write deferred"));

    let mut changed = template.clone();
    changed["Resources"]["C"]["Properties"] = serde_json::json!({"Size": 2});
    engine
        .update_stack(Harness::update_input("s", &changed))
        .await
        .unwrap();
    assert_eq!(
        engine.describe_stack(&id).await.unwrap().status,
        StackStatus::UpdateComplete
    );
    engine.delete_stack(&id, vec![]).await.unwrap();
    assert_eq!(
        engine.describe_stack(&id).await.unwrap().status,
        StackStatus::DeleteComplete
    );
    let syncs = log(&store).iter().filter(|w| **w == "sync").count();
    assert_eq!(syncs, 3, "one flush per operation: {:?}", log(&store));
}

#[tokio::test]
async fn work_outside_the_store_answers_at_once_after_a_flush() {
    let (store, provider, engine) = setup(true, Duration::from_secs(5));
    provider.block_on("B", Op::Create);
    let id = tokio::time::timeout(
        Duration::from_secs(2),
        engine.create_stack(Harness::input("s", &chain(&["A", "B"]))),
    )
    .await
    .expect("a call acting outside the store does not wait for its operation")
    .unwrap();
    assert_eq!(
        engine.describe_stack(&id).await.unwrap().status,
        StackStatus::CreateInProgress
    );
    assert_eq!(
        log(&store)[0],
        "write",
        "the call's write is flushed itself"
    );
}

#[tokio::test]
async fn an_operation_longer_than_the_budget_is_answered_in_progress_and_durable() {
    let (store, provider, engine) = setup(false, Duration::from_millis(50));
    provider.block_on("B", Op::Create);
    let id = engine
        .create_stack(Harness::input("s", &chain(&["A", "B"])))
        .await
        .unwrap();
    assert_eq!(
        engine.describe_stack(&id).await.unwrap().status,
        StackStatus::CreateInProgress
    );
    let all = log(&store);
    assert_eq!(all[0], "write deferred", "{all:?}");
    assert_eq!(
        *all.last().unwrap(),
        "sync",
        "what the answer reports is flushed before it: {all:?}"
    );
}

#[tokio::test]
async fn a_failing_local_create_has_rolled_back_when_the_call_answers() {
    let (_, provider, engine) = setup(false, Duration::from_secs(5));
    provider.fail_on("B", Op::Create);
    let id = engine
        .create_stack(Harness::input("s", &chain(&["A", "B"])))
        .await
        .unwrap();
    assert_eq!(
        engine.describe_stack(&id).await.unwrap().status,
        StackStatus::RollbackComplete
    );
    assert!(provider.live().is_empty());
}

/// The phases of one operation hand the stack's records on (`ops/carry.rs`): a create
/// reads none (a new stack has none), an update reads them once (for the call's diff,
/// then its forward and cleanup phases carry them), a delete once, and a failed update's
/// rollback phases none more.
#[tokio::test]
async fn each_operation_reads_the_stacks_records_at_most_once() {
    use std::sync::atomic::Ordering::SeqCst;
    let (store, provider, engine) = setup(false, Duration::from_secs(5));
    let reads = || store.resource_reads.swap(0, SeqCst);
    let update = |template: serde_json::Value| {
        let engine = &engine;
        async move {
            engine
                .update_stack(Harness::update_input("s", &template))
                .await
                .unwrap();
            engine.describe_stack("s").await.unwrap().status
        }
    };
    let template = chain(&["A", "B", "C"]);
    let id = engine
        .create_stack(Harness::input("s", &template))
        .await
        .unwrap();
    assert_eq!(reads(), 0, "a create reads no records");

    let mut changed = template.clone();
    changed["Resources"]["C"]["Properties"] = serde_json::json!({"Size": 2});
    assert_eq!(update(changed.clone()).await, StackStatus::UpdateComplete);
    assert_eq!(reads(), 1, "an update reads its records once");

    provider.fail_once_on("B", Op::Update);
    let mut failing = changed.clone();
    failing["Resources"]["B"]["Properties"] = serde_json::json!({"Size": 3});
    assert_eq!(update(failing).await, StackStatus::UpdateRollbackComplete);
    assert_eq!(
        reads(),
        1,
        "a failed update's rollback phases read nothing more"
    );
    // The phases worked from carried records, and what they wrote is in the store: B is
    // back to its properties before the failed update, C keeps the first update's.
    let records = store.inner.list_resources(&id).await.unwrap();
    let props = |logical: &str| {
        records
            .iter()
            .find(|r| r.logical_id == logical)
            .map(|r| (r.status, r.properties.get("Size").cloned()))
    };
    assert_eq!(props("B"), Some((ResourceStatus::UpdateComplete, None)));
    assert_eq!(
        props("C"),
        Some((ResourceStatus::UpdateComplete, Some(serde_json::json!(2))))
    );

    engine.delete_stack(&id, vec![]).await.unwrap();
    assert_eq!(
        engine.describe_stack(&id).await.unwrap().status,
        StackStatus::DeleteComplete
    );
    assert_eq!(reads(), 1, "a delete reads its records once");
    let left = store.inner.list_resources(&id).await.unwrap();
    assert!(left.iter().all(|r| r.status.is_gone()), "{left:?}");
}
