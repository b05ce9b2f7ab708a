//! Which writes wait for stable storage (see `sagestack_engine::durability`): an API
//! call's own writes do; an operation's steps are deferred and flushed once at its end;
//! a provider acting outside the store gets a flush before each action; a caller that
//! runs the operation in its own deferred scope flushes at its own end instead.

mod common;

use std::sync::Arc;

use common::*;
use sagestack_engine::*;

fn setup(outside: bool) -> (Arc<FreezingStore>, Engine) {
    let store = FreezingStore::new();
    let provider = TestProvider::new();
    provider.set_outside(outside);
    let engine = engine_over_store(store.clone(), provider, 1);
    (store, engine)
}

fn log(store: &FreezingStore) -> Vec<&'static str> {
    store.log.lock().unwrap().clone()
}

#[tokio::test]
async fn the_api_write_is_flushed_the_steps_are_deferred_and_the_end_is_flushed() {
    let (store, engine) = setup(false);
    let id = start_create_on(&engine, "s", &chain(&["A", "B", "C"])).await;
    let first = log(&store);
    assert_eq!(
        first,
        ["write"],
        "the stack's first state is written before the answer"
    );
    let stack = engine.wait_for_terminal(&id).await.unwrap();
    assert_eq!(stack.status, StackStatus::CreateComplete);
    let all = log(&store);
    let steps = &all[1..all.len() - 1];
    assert!(!steps.is_empty());
    assert!(
        steps.iter().all(|w| *w == "write deferred"),
        "every step is deferred, no flush in between: {all:?}"
    );
    assert_eq!(*all.last().unwrap(), "sync", "the end is flushed: {all:?}");
}

#[tokio::test]
async fn a_provider_acting_outside_the_store_gets_a_flush_before_each_action() {
    let (store, engine) = setup(true);
    create_on(&engine, "s", &chain(&["A", "B", "C"])).await;
    let syncs = log(&store).iter().filter(|w| **w == "sync").count();
    // One before each of the three creates, one at the end.
    assert_eq!(syncs, 4, "{:?}", log(&store));
    // Each flush before an action follows that resource's in-progress write.
    let all = log(&store);
    let first_sync = all.iter().position(|w| *w == "sync").unwrap();
    assert_eq!(all[first_sync - 1], "write deferred");
}

#[tokio::test]
async fn a_caller_running_deferred_flushes_at_its_own_end() {
    let (store, engine) = setup(false);
    durability::deferred(async {
        create_on(&engine, "s", &chain(&["A", "B"])).await;
    })
    .await;
    let all = log(&store);
    assert!(all.iter().all(|w| *w == "write deferred"), "{all:?}");
    engine.flush().await.unwrap();
    assert_eq!(*log(&store).last().unwrap(), "sync");
}

#[tokio::test]
async fn a_provider_in_another_store_is_flushed_before_each_create_but_not_each_delete() {
    let store = FreezingStore::new();
    let mut providers = ProviderRegistry::new();
    providers.set_fallback(Arc::new(provider::InOtherStore(TestProvider::new())));
    let parts = EngineParts::new(
        EngineConfig::new("us-east-1", "123456789012"),
        store.clone(),
        providers,
        Arc::new(TestPlans),
    );
    let engine = Engine::new(parts);
    create_on(&engine, "s", &chain(&["A", "B", "C"])).await;
    let syncs = |from: usize| log(&store)[from..].iter().filter(|w| **w == "sync").count();
    // One before each of the three creates, one at the end.
    assert_eq!(syncs(0), 4, "{:?}", log(&store));
    let before = log(&store).len();
    let stack = delete_on(&engine, "s").await;
    assert_eq!(stack.status, StackStatus::DeleteComplete);
    let delete = &log(&store)[before..];
    // The deletes are flushed by the provider itself: only the operation's end is.
    assert_eq!(syncs(before), 1, "{delete:?}");
    let events = events_of(&engine, &stack.stack_id).await;
    for id in ["A", "B", "C"] {
        let line = format!("{id} DELETE_IN_PROGRESS");
        let at = events.iter().position(|e| *e == line).expect(&line);
        assert_eq!(
            events[at + 1],
            format!("{id} DELETE_COMPLETE"),
            "{events:?}"
        );
    }
}
