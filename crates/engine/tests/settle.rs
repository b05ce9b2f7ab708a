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

/// The phases of one operation hand the stack's records on (`ops/carry.rs`), and an
/// operation's end hands them to the stack's next one (`ops/kept.rs`): a create reads
/// none (a new stack has none), and every later operation of the same engine none either
/// (an update's diff, its forward and cleanup phases, a failed update's rollback, a
/// delete). Another engine over the same store (another replica) reads them once; after
/// its operation, the first engine's kept records are stale and read again.
#[tokio::test]
async fn operations_read_the_stacks_records_only_when_another_engine_changed_them() {
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
    assert_eq!(
        reads(),
        0,
        "an update starts from the records its create left"
    );

    provider.fail_once_on("B", Op::Update);
    let mut failing = changed.clone();
    failing["Resources"]["B"]["Properties"] = serde_json::json!({"Size": 3});
    assert_eq!(update(failing).await, StackStatus::UpdateRollbackComplete);
    assert_eq!(
        reads(),
        0,
        "neither a failed update nor its rollback phases read records"
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

    // Another engine adds D: it has kept nothing, so it reads the records.
    let other = engine_settling(
        store.clone(),
        provider.clone(),
        4,
        Arc::new(RandomIds),
        Duration::from_secs(5),
    );
    let mut added = changed.clone();
    added["Resources"]["D"] = serde_json::json!({"Type": "Test::R"});
    other
        .update_stack(Harness::update_input(&id, &added))
        .await
        .unwrap();
    assert_eq!(
        other.describe_stack(&id).await.unwrap().status,
        StackStatus::UpdateComplete
    );
    assert_eq!(reads(), 1, "the other engine reads the records once");

    // The first engine's records predate D: stale at the stack's new revision.
    engine.delete_stack(&id, vec![]).await.unwrap();
    assert_eq!(
        engine.describe_stack(&id).await.unwrap().status,
        StackStatus::DeleteComplete
    );
    assert_eq!(reads(), 1, "stale kept records are read again");
    let left = store.inner.list_resources(&id).await.unwrap();
    assert!(left.iter().all(|r| r.status.is_gone()), "{left:?}");
    assert!(
        provider.live().is_empty(),
        "the delete removed D too: {:?}",
        provider.live()
    );
}

/// A call that runs nothing (an update with no changes, a change set's planning) leaves
/// the records kept for the next operation.
#[tokio::test]
async fn planning_without_running_keeps_the_records() {
    use std::sync::atomic::Ordering::SeqCst;
    let (store, _provider, engine) = setup(false, Duration::from_secs(5));
    let template = chain(&["A", "B"]);
    let id = engine
        .create_stack(Harness::input("s", &template))
        .await
        .unwrap();
    let same = engine
        .update_stack(Harness::update_input("s", &template))
        .await;
    assert!(matches!(same, Err(EngineError::NoUpdates)), "{same:?}");
    engine.delete_stack(&id, vec![]).await.unwrap();
    assert_eq!(
        engine.describe_stack(&id).await.unwrap().status,
        StackStatus::DeleteComplete
    );
    assert_eq!(store.resource_reads.load(SeqCst), 0);
}
