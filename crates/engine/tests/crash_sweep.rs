//! Crash between *any* two durable steps: the store freezes at its n-th write (so that
//! write and everything after it never happen), the engine is dropped, and a new engine
//! recovers. For every n the stack must end in a terminal state consistent with the
//! provider's world.

mod common;

use std::sync::Arc;

use common::*;
use sagestack_engine::*;
use serde_json::{Value, json};

fn template(v: i64) -> Value {
    json!({"Resources": {
        "A": {"Type": "Test::R", "Properties": {"V": v}},
        "B": {"Type": "Test::R", "Properties": {"V": v, "P": "{{Ref:A}}"}},
        "C": {"Type": "Test::R", "Properties": {"V": v, "P": "{{Ref:B}}"}},
    },
    "Outputs": {"Version": {"Value": format!("v{v}"), "Export": "Version"}}})
}

enum Step {
    Create,
    Update,
    /// An update that replaces A (its create-only `Name` appears) and so updates B.
    Replace,
    Delete,
}

fn replacing_template() -> Value {
    let mut t = template(1);
    t["Resources"]["A"]["Properties"]["Name"] = json!("new");
    t
}

/// Runs `step` with the store freezing at write `n`; returns the recovered final stack
/// (None when the crash came before the operation was accepted) and the provider.
async fn crash_at(
    n: usize,
    step: &Step,
) -> (Option<StackRecord>, Arc<TestProvider>, Arc<FreezingStore>) {
    let store = FreezingStore::new();
    let provider = TestProvider::new();
    let engine = engine_over_store(store.clone(), provider.clone(), 1);
    if !matches!(step, Step::Create) {
        create_on(&engine, "s", &template(1)).await;
    }
    store.freeze_at(n);
    let run = async {
        let id = match step {
            Step::Create => engine.create_stack(Harness::input("s", &template(1))).await,
            Step::Update => {
                engine
                    .update_stack(Harness::update_input("s", &template(2)))
                    .await
            }
            Step::Replace => {
                engine
                    .update_stack(Harness::update_input("s", &replacing_template()))
                    .await
            }
            Step::Delete => engine.delete_stack("s", vec![]).await.map(|o| o.unwrap()),
        }
        .unwrap();
        engine.wait_for_terminal(&id).await.unwrap()
    };
    let finished = tokio::select! {
        s = run => Some(s),
        _ = store.frozen.notified() => None,
    };
    // Every write of the operation is a crash point: the freeze must have been hit.
    assert!(
        finished.is_none() || n > 1_000_000,
        "write {n}: the operation finished before the freeze"
    );
    drop(engine);
    tokio::task::yield_now().await;
    store.thaw();
    let engine = engine_over_store(store.clone(), provider.clone(), 1);
    let recovered = engine.recover().await.unwrap();
    let final_stack = match (finished, recovered.first()) {
        (Some(s), _) => Some(s),
        (None, Some(id)) => Some(engine.wait_for_terminal(id).await.unwrap()),
        (None, None) => engine
            .list_stacks()
            .await
            .unwrap()
            .into_iter()
            .rev()
            .find(|s| s.stack_name == "s"),
    };
    if let Some(s) = &final_stack {
        let s = engine.describe_stack(&s.stack_id).await.unwrap();
        assert!(
            !s.status.is_operation_in_progress(),
            "write {n}: stack left {}",
            s.status
        );
        for r in engine.list_stack_resources(&s.stack_id).await.unwrap() {
            assert!(
                !r.status.is_in_progress(),
                "write {n}: {} left {}",
                r.logical_id,
                r.status
            );
        }
        let events = engine
            .stack_events(&s.stack_id, None, 10_000)
            .await
            .unwrap();
        let mut seqs: Vec<u64> = events.iter().map(|e| e.seq).collect();
        seqs.dedup();
        assert_eq!(seqs.len(), events.len(), "write {n}: event seqs are unique");
        return (Some(s), provider, store);
    }
    (None, provider, store)
}

async fn export_values(store: &FreezingStore) -> Vec<String> {
    store
        .inner
        .list_exports()
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.value)
        .collect()
}

/// How many writes the operation makes when nothing crashes.
async fn writes_of(step: &Step) -> usize {
    let (_, _, store) = crash_at(usize::MAX / 2, step).await;
    let baseline = if matches!(step, Step::Create) {
        0
    } else {
        let (_, _, s) = crash_at(usize::MAX / 2, &Step::Create).await;
        s.writes()
    };
    store.writes() - baseline
}

/// Every write of `step` to crash at, 1-based; there must be more than `min` of them.
async fn every_write(step: &Step, min: usize) -> std::ops::RangeInclusive<usize> {
    let total = writes_of(step).await;
    assert!(total > min, "{total}");
    1..=total
}

#[tokio::test]
async fn crash_at_every_write_of_a_create() {
    let total = writes_of(&Step::Create).await;
    // Stack start, before+after each of 3 resources, exports, stack end.
    // (The same count with or without outputs: exports are always written once.)
    assert_eq!(total, 9, "durable writes of a 3-resource create");
    let mut leaks = 0;
    for n in 1..=total {
        let (stack, provider, store) = crash_at(n, &Step::Create).await;
        let Some(stack) = stack else {
            assert!(provider.calls().is_empty());
            continue;
        };
        let exports = export_values(&store).await;
        match stack.status {
            StackStatus::CreateComplete => {
                assert_eq!(provider.live().len(), 3, "write {n}");
                assert_eq!(exports, vec!["v1"], "write {n}");
            }
            StackStatus::RollbackComplete => {
                assert!(exports.is_empty(), "write {n}: exports left after rollback");
                // The one window the provider contract cannot close: the provider created
                // the resource but the engine crashed before recording its physical id.
                assert!(
                    provider.live().len() <= 1,
                    "write {n}: {:?}",
                    provider.live()
                );
                leaks += provider.live().len();
            }
            other => panic!("write {n}: unexpected {other}"),
        }
    }
    // Exactly the windows right after each of the three provider creates.
    assert!(leaks <= 3, "{leaks} leaks");
}

#[tokio::test]
async fn crash_at_every_write_of_an_update() {
    for n in every_write(&Step::Update, 10).await {
        let (stack, provider, store) = crash_at(n, &Step::Update).await;
        let stack = stack.expect("stack exists before the update");
        let expected = match stack.status {
            StackStatus::UpdateComplete => 2,
            StackStatus::UpdateRollbackComplete | StackStatus::CreateComplete => 1,
            other => panic!("write {n}: unexpected {other}"),
        };
        assert_eq!(
            export_values(&store).await,
            vec![format!("v{expected}")],
            "write {n}: exports match the {} stack",
            stack.status
        );
        assert_eq!(stack.outputs[0].value, format!("v{expected}"), "write {n}");
        let live = provider.live();
        assert_eq!(
            live.len(),
            3,
            "write {n}: in-place updates never add resources"
        );
        for physical in live.keys() {
            let props = provider.live_properties(physical).unwrap();
            assert_eq!(
                props["V"],
                json!(expected),
                "write {n}: {physical} in {}",
                stack.status
            );
        }
    }
}

#[tokio::test]
async fn crash_at_every_write_of_a_delete() {
    for n in every_write(&Step::Delete, 5).await {
        let (stack, provider, store) = crash_at(n, &Step::Delete).await;
        let stack = stack.expect("stack exists");
        match stack.status {
            StackStatus::DeleteComplete => {
                assert!(provider.live().is_empty(), "write {n}");
                assert!(export_values(&store).await.is_empty(), "write {n}");
            }
            // Crashed before DeleteStack was accepted: nothing happened.
            StackStatus::CreateComplete => assert_eq!(provider.live().len(), 3, "write {n}"),
            other => panic!("write {n}: unexpected {other}"),
        }
    }
}

#[tokio::test]
async fn crash_at_every_write_of_a_replacing_update() {
    let mut leaks = 0;
    for n in every_write(&Step::Replace, 10).await {
        let (stack, provider, store) = crash_at(n, &Step::Replace).await;
        let stack = stack.expect("stack exists before the update");
        let records = store.inner.list_resources(&stack.stack_id).await.unwrap();
        let a = records.iter().find(|r| r.logical_id == "A").unwrap();
        let b = records.iter().find(|r| r.logical_id == "B").unwrap();
        let a_id = a.physical_id.clone().unwrap();
        assert_eq!(
            b.properties["P"],
            json!(a_id),
            "write {n}: B points at the live A"
        );
        assert_eq!(
            provider
                .live_properties(b.physical_id.as_deref().unwrap())
                .unwrap()["P"],
            json!(a_id),
            "write {n}: and so does the provider's B"
        );
        let live_a: Vec<String> = provider
            .live()
            .into_iter()
            .filter(|(_, l)| l == "A")
            .map(|(p, _)| p)
            .collect();
        assert!(live_a.contains(&a_id), "write {n}");
        match stack.status {
            StackStatus::UpdateComplete => {
                assert_eq!(a.properties["Name"], json!("new"), "write {n}");
            }
            StackStatus::UpdateRollbackComplete | StackStatus::CreateComplete => {
                assert!(a.properties.get("Name").is_none(), "write {n}");
            }
            other => panic!("write {n}: unexpected {other}"),
        }
        assert!(a.prior.is_none() && a.cleanup.is_empty(), "write {n}");
        // A replacement the provider made just before a crash that kept its id from being
        // recorded is the only thing that may be left over.
        assert!(live_a.len() <= 2, "write {n}: {live_a:?}");
        leaks += live_a.len() - 1;
    }
    assert!(leaks <= 1, "{leaks} leaked replacements");
}
