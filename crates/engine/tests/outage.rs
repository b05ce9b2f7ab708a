//! A brief database outage is an interruption, not a failure: whichever write of an
//! operation it meets, the operation pauses with the stack still in progress (no
//! resource is recorded failed for it), and recovery, once the database answers again,
//! resumes it as after a crash (a create rolls back with the "engine restart" reason
//! that the project provisioner retries on; a delete finishes).

mod common;

use std::sync::Arc;

use common::*;
use sagestack_engine::*;

/// What an interrupted create's rollback gives as its reason (`ops/recover.rs`); the
/// project provisioner looks for "engine restart".
const RESTART: &str = "(engine restart)";

/// Starts `op` with write `n` (from now) failing as an unreachable database does, waits
/// for the operation's task to end, and returns the stack as it then stands (`None`
/// when the outage refused the operation itself).
async fn run_into_outage(
    store: &Arc<FreezingStore>,
    engine: &Engine,
    n: usize,
    delete: bool,
) -> Option<StackRecord> {
    store.outage_at(n, 1);
    let id = if delete {
        engine.delete_stack("s", vec![]).await.map(|o| o.unwrap())
    } else {
        engine
            .create_stack(Harness::input("s", &chain(&["A", "B", "C"])))
            .await
    };
    let id = id.ok()?;
    Some(engine.wait_for_terminal(&id).await.unwrap())
}

/// Recovers with a new engine over `store` and waits for the stack to settle.
async fn recover(
    store: &Arc<FreezingStore>,
    provider: &Arc<TestProvider>,
) -> (Engine, StackRecord) {
    let engine = engine_over_store(store.clone(), provider.clone(), 1);
    let ids = engine.recover().await.unwrap();
    assert_eq!(ids.len(), 1, "the paused stack is recovered");
    let done = engine.wait_for_terminal(&ids[0]).await.unwrap();
    (engine, done)
}

/// A new store, provider and engine over them; the chain A, B, C created when `created`.
async fn world(created: bool) -> (Arc<FreezingStore>, Arc<TestProvider>, Engine) {
    let store = FreezingStore::new();
    let provider = TestProvider::new();
    let engine = engine_over_store(store.clone(), provider.clone(), 1);
    if created {
        create_on(&engine, "s", &chain(&["A", "B", "C"])).await;
    }
    (store, provider, engine)
}

/// How many writes the chain's create (or, with `delete`, its delete) makes.
async fn writes_of(delete: bool) -> usize {
    let (store, _, engine) = world(delete).await;
    let before = store.writes();
    if delete {
        delete_on(&engine, "s").await;
    } else {
        create_on(&engine, "s", &chain(&["A", "B", "C"])).await;
    }
    store.writes() - before
}

fn failures(events: &[String]) -> Vec<&String> {
    events.iter().filter(|e| e.contains("_FAILED")).collect()
}

#[tokio::test]
async fn an_outage_at_any_write_of_a_create_pauses_it_and_recovery_rolls_it_back() {
    let total = writes_of(false).await;
    assert!(total >= 8, "{total} writes");
    for n in 1..=total {
        let (store, provider, engine) = world(false).await;
        let Some(paused) = run_into_outage(&store, &engine, n, false).await else {
            assert_eq!(n, 1, "only the admission's write refuses the create");
            continue;
        };
        assert!(
            paused.status.is_operation_in_progress(),
            "write {n}: the outage ended the create at {}",
            paused.status
        );
        let events = events_of(&engine, &paused.stack_id).await;
        assert!(failures(&events).is_empty(), "write {n}: {events:?}");
        drop(engine);
        let (engine, done) = recover(&store, &provider).await;
        let events = events_of(&engine, &done.stack_id).await;
        match done.status {
            StackStatus::RollbackComplete => {
                assert!(
                    failures(&events).iter().all(|e| e.contains(RESTART)),
                    "write {n}: a failure not marked as an interruption: {events:?}"
                );
                assert!(
                    events.iter().any(|e| e.contains("engine restart")),
                    "write {n}: the rollback does not say it follows an interruption: {events:?}"
                );
                // As after a crash: a create that the provider made but whose outcome
                // was not recorded is the one possible leak.
                assert!(
                    provider.live().len() <= 1,
                    "write {n}: {:?}",
                    provider.live()
                );
            }
            // The outage met the last write: the stack was complete but not yet said so.
            StackStatus::CreateComplete => assert_eq!(provider.live().len(), 3),
            other => panic!("write {n}: recovered to {other}: {events:?}"),
        }
    }
}

#[tokio::test]
async fn an_outage_at_any_write_of_a_delete_pauses_it_and_recovery_finishes_it() {
    let total = writes_of(true).await;
    assert!(total >= 4, "{total} writes");
    for n in 1..=total {
        let (store, provider, engine) = world(true).await;
        let Some(paused) = run_into_outage(&store, &engine, n, true).await else {
            continue;
        };
        assert!(
            paused.status.is_operation_in_progress(),
            "write {n}: the outage ended the delete at {}",
            paused.status
        );
        drop(engine);
        let (engine, done) = recover(&store, &provider).await;
        let events = events_of(&engine, &done.stack_id).await;
        assert_eq!(
            done.status,
            StackStatus::DeleteComplete,
            "write {n}: {events:?}"
        );
        assert!(failures(&events).is_empty(), "write {n}: {events:?}");
        assert!(
            provider.live().is_empty(),
            "write {n}: {:?}",
            provider.live()
        );
    }
}

#[tokio::test]
async fn a_provider_whose_database_is_unreachable_pauses_the_operation() {
    let (store, provider, engine) = world(false).await;
    provider.outage_once_on("B", Op::Create);
    let id = start_create_on(&engine, "s", &chain(&["A", "B", "C"])).await;
    let paused = engine.wait_for_terminal(&id).await.unwrap();
    assert_eq!(paused.status, StackStatus::CreateInProgress);
    let resources = engine.list_stack_resources(&id).await.unwrap();
    let b = resources.iter().find(|r| r.logical_id == "B").unwrap();
    assert_eq!(
        b.status,
        ResourceStatus::CreateInProgress,
        "B's outcome is unknown, not failed"
    );
    drop(engine);
    let (engine, done) = recover(&store, &provider).await;
    assert_eq!(done.status, StackStatus::RollbackComplete);
    let events = events_of(&engine, &id).await;
    assert!(
        events.contains(&format!(
            "B CREATE_FAILED (Resource creation was interrupted before its result was recorded {RESTART})"
        )),
        "{events:?}"
    );
    assert!(provider.live().is_empty(), "{:?}", provider.live());
}

#[tokio::test]
async fn a_write_the_database_refuses_fails_the_resource_and_the_create_rolls_back() {
    // Not an outage: the same write would be refused again, so pausing would leave the
    // stack in progress for good.
    let (store, provider, engine) = world(false).await;
    // The admission, A's two records, then B's "started" record.
    store.refuse_at(4);
    let id = start_create_on(&engine, "s", &chain(&["A", "B", "C"])).await;
    let done = engine.wait_for_terminal(&id).await.unwrap();
    assert_eq!(done.status, StackStatus::RollbackComplete);
    assert!(provider.live().is_empty(), "{:?}", provider.live());
}

#[tokio::test]
async fn an_outage_deleting_a_replaced_original_pauses_the_cleanup_and_recovery_deletes_it() {
    let (store, provider, engine) = world(false).await;
    create_on(&engine, "s", &named_chain("one")).await;
    let original = provider.live();
    provider.outage_once_on("A", Op::Delete);
    let id = engine
        .update_stack(Harness::update_input("s", &named_chain("two")))
        .await
        .unwrap();
    let paused = engine.wait_for_terminal(&id).await.unwrap();
    assert_eq!(
        paused.status,
        StackStatus::UpdateCompleteCleanupInProgress,
        "{:?}",
        events_of(&engine, &id).await
    );
    drop(engine);
    let (engine, done) = recover(&store, &provider).await;
    let events = events_of(&engine, &id).await;
    assert_eq!(done.status, StackStatus::UpdateComplete, "{events:?}");
    assert!(failures(&events).is_empty(), "{events:?}");
    let live = provider.live();
    assert_eq!(live.len(), 2, "the replacement and B: {live:?}");
    let (old_a, _) = original.iter().find(|(_, lid)| *lid == "A").unwrap();
    assert!(
        !live.contains_key(old_a),
        "the original A is left: {live:?}"
    );
}
