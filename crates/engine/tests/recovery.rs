//! Crash and resume: an operation is stopped mid-step (its provider call never returns),
//! the engine is dropped, and a new engine over the same store recovers the stack.

mod common;

use std::sync::Arc;

use common::*;
use sagestack_engine::*;
use serde_json::json;

/// Waits until the provider is stuck, "crashes" the engine, and recovers with a new one.
async fn crash_and_recover(h: Harness) -> (Engine, Arc<TestProvider>, StackRecord) {
    let Harness {
        store,
        provider,
        engine,
    } = h;
    provider.blocked.notified().await;
    drop(engine);
    tokio::task::yield_now().await;
    provider.clear_blocks();
    let engine = engine_over(store, provider.clone(), 1);
    let ids = engine.recover().await.unwrap();
    assert_eq!(ids.len(), 1, "one stack to recover");
    let done = engine.wait_for_terminal(&ids[0]).await.unwrap();
    // Nothing left to recover afterwards.
    assert!(engine.recover().await.unwrap().is_empty());
    (engine, provider, done)
}

const INTERRUPTED_CREATE: &str =
    "Resource creation was interrupted before its result was recorded (engine restart)";
const INTERRUPTED_UPDATE: &str =
    "Resource update was interrupted before its result was recorded (engine restart)";

#[tokio::test]
async fn crash_during_create_rolls_back_on_recover() {
    let h = Harness::new();
    h.provider.block_on("B", Op::Create);
    let id = h.start_create("s", &chain(&["A", "B", "C"])).await;
    let (engine, provider, done) = crash_and_recover(h).await;
    assert_eq!(done.stack_id, id);
    assert_eq!(done.status, StackStatus::RollbackComplete);
    let expected = [
        lines(&["s CREATE_IN_PROGRESS (User Initiated)"]),
        created("A"),
        lines(&[
            "B CREATE_IN_PROGRESS",
            // -- crash; the new engine takes over --
            &format!("B CREATE_FAILED ({INTERRUPTED_CREATE})"),
            "s ROLLBACK_IN_PROGRESS (The following resource(s) failed to create: [B]. Rollback requested by user.)",
            "B DELETE_COMPLETE",
        ]),
        deleted("A"),
        lines(&["s ROLLBACK_COMPLETE"]),
    ];
    assert_eq!(events_of(&engine, &id).await, expected.concat());
    assert!(provider.live().is_empty());
}

#[tokio::test]
async fn crash_during_update_rolls_back_to_previous_properties() {
    let h = Harness::new();
    let v = |n: i64| {
        json!({"Resources": {
            "A": {"Type": "Test::R", "Properties": {"V": n}},
            "B": {"Type": "Test::R", "Properties": {"V": n, "P": "{{Ref:A}}"}},
        }})
    };
    let stack = h.create("s", &v(1)).await;
    let n = h.events(&stack.stack_id).await.len();
    h.provider.block_on("B", Op::Update);
    h.start_update("s", &v(2)).await.unwrap();
    let (engine, provider, done) = crash_and_recover(h).await;
    assert_eq!(done.status, StackStatus::UpdateRollbackComplete);
    let expected = [
        lines(&["s UPDATE_IN_PROGRESS (User Initiated)"]),
        updated("A"),
        lines(&[
            "B UPDATE_IN_PROGRESS",
            // -- crash; the new engine takes over --
            &format!("B UPDATE_FAILED ({INTERRUPTED_UPDATE})"),
            "s UPDATE_ROLLBACK_IN_PROGRESS (The following resource(s) failed to update: [B]. )",
        ]),
        updated("A"),
        updated("B"),
        lines(&[
            "s UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS",
            "s UPDATE_ROLLBACK_COMPLETE",
        ]),
    ];
    assert_eq!(
        events_of(&engine, &stack.stack_id).await.split_off(n),
        expected.concat()
    );
    assert_settled_at(&engine, &provider, "s", "V", &json!(1)).await;
    assert_eq!(
        engine.describe_stack("s").await.unwrap().template.body,
        v(1).to_string()
    );
}

#[tokio::test]
async fn crash_during_delete_resumes_the_delete() {
    let h = Harness::new();
    // Acting outside the store: each delete's DELETE_IN_PROGRESS is recorded before the
    // call (an in-store provider's is written with its outcome, see below).
    h.provider.set_outside(true);
    let stack = h.create("s", &chain(&["A", "B", "C"])).await;
    let n = h.events(&stack.stack_id).await.len();
    h.provider.block_on("B", Op::Delete);
    h.engine.delete_stack("s", vec![]).await.unwrap();
    let (engine, provider, done) = crash_and_recover(h).await;
    assert_eq!(done.status, StackStatus::DeleteComplete);
    let expected = [
        lines(&["s DELETE_IN_PROGRESS (User Initiated)"]),
        deleted("C"),
        // -- crash; the delete is retried (providers make delete idempotent) --
        lines(&["B DELETE_IN_PROGRESS"]),
        deleted("B"),
        deleted("A"),
        lines(&["s DELETE_COMPLETE"]),
    ];
    assert_eq!(
        events_of(&engine, &stack.stack_id).await.split_off(n),
        expected.concat()
    );
    assert!(provider.live().is_empty());
}

#[tokio::test]
async fn crash_during_an_in_store_delete_leaves_the_record_to_delete_again() {
    let h = Harness::new();
    let stack = h.create("s", &chain(&["A", "B", "C"])).await;
    let n = h.events(&stack.stack_id).await.len();
    h.provider.block_on("B", Op::Delete);
    h.engine.delete_stack("s", vec![]).await.unwrap();
    h.provider.blocked.notified().await;
    let b = h.resource(&stack.stack_id, "B").await;
    assert_eq!(
        b.status,
        ResourceStatus::CreateComplete,
        "an in-store delete records nothing before its call"
    );
    h.provider.blocked.notify_one(); // for `crash_and_recover`, which waits for the block too
    let (engine, provider, done) = crash_and_recover(h).await;
    assert_eq!(done.status, StackStatus::DeleteComplete);
    let expected = [
        lines(&["s DELETE_IN_PROGRESS (User Initiated)"]),
        deleted("C"),
        // -- crash: B's interrupted delete left no trace; the resumed phase deletes it --
        deleted("B"),
        deleted("A"),
        lines(&["s DELETE_COMPLETE"]),
    ];
    assert_eq!(
        events_of(&engine, &stack.stack_id).await.split_off(n),
        expected.concat()
    );
    assert!(provider.live().is_empty());
}

#[tokio::test]
async fn crash_during_rollback_resumes_the_rollback() {
    let h = Harness::new();
    h.provider.set_outside(true);
    h.provider.fail_on("C", Op::Create);
    h.provider.block_on("A", Op::Delete);
    let id = h.start_create("s", &chain(&["A", "B", "C"])).await;
    let (engine, provider, done) = crash_and_recover(h).await;
    assert_eq!(done.status, StackStatus::RollbackComplete);
    let ev = events_of(&engine, &id).await;
    assert_eq!(
        ev[ev.len() - 4..],
        lines(&[
            "A DELETE_IN_PROGRESS",
            "A DELETE_IN_PROGRESS",
            "A DELETE_COMPLETE",
            "s ROLLBACK_COMPLETE",
        ])
    );
    assert!(provider.live().is_empty());
}

#[tokio::test]
async fn crash_during_update_cleanup_finishes_the_cleanup() {
    let h = Harness::new();
    let t =
        |name: &str| json!({"Resources": {"A": {"Type": "Test::R", "Properties": {"Name": name}}}});
    let stack = h.create("s", &t("one")).await;
    let old = h.resource(&stack.stack_id, "A").await.physical_id.unwrap();
    h.provider.block_on("A", Op::Delete);
    h.start_update("s", &t("two")).await.unwrap();
    let (engine, provider, done) = crash_and_recover(h).await;
    assert_eq!(done.status, StackStatus::UpdateComplete);
    let live: Vec<String> = provider.live().into_keys().collect();
    assert_eq!(live.len(), 1);
    assert_ne!(live[0], old);
    let a = engine.list_stack_resources("s").await.unwrap().remove(0);
    assert_eq!(a.physical_id.as_deref(), Some(live[0].as_str()));
    assert_eq!(a.prior, None);
}

#[tokio::test]
async fn crash_with_disable_rollback_ends_create_failed() {
    let h = Harness::new();
    h.provider.block_on("A", Op::Create);
    let mut input = Harness::input("s", &chain(&["A"]));
    input.disable_rollback = true;
    h.engine.create_stack(input).await.unwrap();
    let (_engine, _provider, done) = crash_and_recover(h).await;
    assert_eq!(done.status, StackStatus::CreateFailed);
    assert_eq!(
        done.status_reason.as_deref(),
        Some("The following resource(s) failed to create: [A]. ")
    );
}

/// A process that died while creating change set `c` of stack `s`: write 1 stored it
/// CREATE_PENDING, write 2 (its result) never happened. A new engine over the same store.
async fn engine_after_an_interrupted_change_set() -> Engine {
    let store = FreezingStore::new();
    let provider = TestProvider::new();
    let engine = engine_over_store(store.clone(), provider.clone(), 1);
    create_on(&engine, "s", &chain(&["A"])).await;
    store.freeze_at(2);
    let input = Harness::change_set_input("s", "c", ChangeSetType::Update, &chain(&["A", "B"]));
    tokio::select! {
        _ = engine.create_change_set(input) => panic!("the change set write should have frozen"),
        _ = store.frozen.notified() => {}
    }
    drop(engine);
    store.thaw();
    let engine = engine_over_store(store, provider, 1);
    let pending = engine.describe_change_set("c", Some("s")).await.unwrap();
    assert_eq!(pending.status, ChangeSetStatus::CreatePending);
    engine
}

#[tokio::test]
async fn change_set_creation_interrupted_is_failed_on_recover() {
    let engine = engine_after_an_interrupted_change_set().await;
    assert!(
        engine.recover().await.unwrap().is_empty(),
        "no stack operation to resume"
    );
    let failed = engine.describe_change_set("c", Some("s")).await.unwrap();
    assert_eq!(failed.status, ChangeSetStatus::Failed);
    assert_eq!(failed.execution_status, ExecutionStatus::Unavailable);
}

/// What takeover's scan does on a shared database: a change set left pending by a dead
/// process is failed only once older than the given age (a younger one may belong to a
/// live process about to write its outcome).
#[tokio::test]
async fn interrupted_change_sets_are_failed_once_old_enough() {
    let engine = engine_after_an_interrupted_change_set().await;
    let hour = std::time::Duration::from_secs(3600);
    assert_eq!(engine.fail_interrupted_change_sets(hour).await.unwrap(), 0);
    let pending = engine.describe_change_set("c", Some("s")).await.unwrap();
    assert_eq!(pending.status, ChangeSetStatus::CreatePending);
    let now = std::time::Duration::ZERO;
    assert_eq!(engine.fail_interrupted_change_sets(now).await.unwrap(), 1);
    let failed = engine.describe_change_set("c", Some("s")).await.unwrap();
    assert_eq!(failed.status, ChangeSetStatus::Failed);
    assert_eq!(
        failed.status_reason.as_deref(),
        Some("Change set creation was interrupted")
    );
    assert_eq!(engine.fail_interrupted_change_sets(now).await.unwrap(), 0);
}
