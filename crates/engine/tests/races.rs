//! Racing requests on one stack: admission is one compare-and-set, so of N operations
//! started at once exactly one runs and the others get AWS's InvalidState answer; no
//! acknowledged update is lost and no replaced resource outlives the stack.

mod common;

use std::sync::Arc;

use common::*;
use sagestack_engine::claims::Claims;
use sagestack_engine::*;
use serde_json::{Value, json};

/// One resource whose `Name` is create-only (the test provider replaces on it).
fn named(name: &str) -> Value {
    let mut t = chain(&["A"]);
    t["Resources"]["A"]["Properties"] = json!({"Name": name});
    t
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_updates_start_one_operation_per_round() {
    let h = Arc::new(Harness::new());
    // Each resource action takes 20 ms, so the 20 requests of a round all arrive while
    // the first admitted update runs (sequential updates are all accepted, as on AWS).
    h.provider.delay("A", 20);
    let stack = h.create("race", &named("r0")).await;
    for round in 1..=25 {
        let attempts: Vec<_> = (0..20)
            .map(|n| {
                let h = h.clone();
                let id = stack.stack_id.clone();
                tokio::spawn(async move {
                    let name = format!("r{round}-{n}");
                    let r = h.start_update(&id, &named(&name)).await;
                    (name, r)
                })
            })
            .collect();
        let mut accepted = Vec::new();
        for a in attempts {
            match a.await.unwrap() {
                (name, Ok(_)) => accepted.push(name),
                (_, Err(EngineError::InvalidState { status, action, .. })) => {
                    assert_eq!(action, "updated");
                    assert!(status.ends_with("_IN_PROGRESS"), "{status}");
                }
                (_, Err(e)) => panic!("round {round}: unexpected {e}"),
            }
        }
        assert_eq!(accepted.len(), 1, "round {round}: {accepted:?}");
        let done = h.engine.wait_for_terminal(&stack.stack_id).await.unwrap();
        assert_eq!(done.status, StackStatus::UpdateComplete, "round {round}");
        // The one accepted update is what the stack holds, and the one live resource.
        let live = h.provider.live();
        assert_eq!(
            live.len(),
            1,
            "round {round}: replaced resources left: {live:?}"
        );
        let a = h.resource(&stack.stack_id, "A").await;
        assert_eq!(
            h.provider
                .live_properties(a.physical_id.as_deref().unwrap())
                .unwrap()["Name"],
            json!(accepted[0]),
            "round {round}"
        );
    }
    let deleted = h.delete(&stack.stack_id).await;
    assert_eq!(deleted.status, StackStatus::DeleteComplete);
    assert!(h.provider.live().is_empty(), "nothing outlives the stack");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_deletes_and_updates_admit_one() {
    let h = Arc::new(Harness::new());
    h.provider.delay("A", 20);
    for round in 0..20 {
        let stack = h.create(&format!("mixed{round}"), &named("m0")).await;
        let tasks: Vec<_> = (0..10)
            .map(|n| {
                let h = h.clone();
                let id = stack.stack_id.clone();
                tokio::spawn(async move {
                    if n % 2 == 0 {
                        h.engine.delete_stack(&id, vec![]).await.map(|_| "delete")
                    } else {
                        h.start_update(&id, &named(&format!("m{n}")))
                            .await
                            .map(|_| "update")
                    }
                })
            })
            .collect();
        let mut accepted = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(_) => accepted += 1,
                Err(EngineError::InvalidState { .. } | EngineError::NotFound(_)) => {}
                Err(e) => panic!("round {round}: unexpected {e}"),
            }
        }
        // A delete may be accepted again once the stack is DELETE_COMPLETE (AWS answers
        // success), so count the stack's operations from its events instead.
        let end = h.engine.wait_for_terminal(&stack.stack_id).await.unwrap();
        let starts = h
            .events(&stack.stack_id)
            .await
            .iter()
            .filter(|e| {
                e.starts_with(&format!("mixed{round} "))
                    && e.contains("IN_PROGRESS (User Initiated)")
            })
            .count();
        assert_eq!(
            starts, 2,
            "round {round}: one create and one admitted operation"
        );
        assert!(accepted >= 1, "round {round}");
        if end.status != StackStatus::DeleteComplete {
            h.delete(&stack.stack_id).await;
        }
    }
    assert!(h.provider.live().is_empty(), "nothing outlives the stacks");
}

/// Claims of one process over a table shared by several (what lease rows are on
/// PostgreSQL): a claim is granted when the stack is free or already this process's.
struct SharedClaims {
    table: Arc<std::sync::Mutex<std::collections::HashMap<String, &'static str>>>,
    me: &'static str,
}

#[async_trait::async_trait]
impl Claims for SharedClaims {
    async fn claim(&self, _kind: &str, id: &str) -> Result<bool, StoreError> {
        let mut table = self.table.lock().unwrap();
        Ok(*table.entry(id.to_string()).or_insert(self.me) == self.me)
    }

    async fn release(&self, _kind: &str, id: &str) {
        let mut table = self.table.lock().unwrap();
        if table.get(id) == Some(&self.me) {
            table.remove(id);
        }
    }
}

/// Two processes over one store and one claim table, `a` holding `stack_id`'s claim
/// (its engine has not admitted anything: the test plays what `a` does next).
async fn two_replicas(h: &Harness, stack_id: &str) -> (SharedClaims, Engine, Engine) {
    let table = Arc::new(std::sync::Mutex::new(Default::default()));
    let over = |me| {
        let claims = Arc::new(SharedClaims {
            table: table.clone(),
            me,
        });
        engine_claiming(h.store.clone(), h.provider.clone(), claims)
    };
    let (a, b) = (over("a"), over("b"));
    let a_claims = SharedClaims { table, me: "a" };
    assert!(a_claims.claim(claims::STACK, stack_id).await.unwrap());
    (a_claims, a, b)
}

/// Another replica holds the stack's claim just after its operation settled (it has not
/// let go yet): an update arriving then waits for the claim rather than being refused
/// over a stack nobody works on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_waits_for_a_claim_being_let_go() {
    let h = Harness::new();
    let stack = h.create("letgo", &named("r0")).await;
    let (a_claims, _a, b) = two_replicas(&h, &stack.stack_id).await;
    let id = stack.stack_id.clone();
    let letting_go = tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        a_claims.release(claims::STACK, &id).await;
    });
    b.update_stack(Harness::update_input(&stack.stack_id, &named("r1")))
        .await
        .expect("accepted once the claim is let go");
    letting_go.await.unwrap();
    let done = b.wait_for_terminal(&stack.stack_id).await.unwrap();
    assert_eq!(done.status, StackStatus::UpdateComplete);
}

/// Another replica has claimed the stack and has not yet written its status: an update
/// racing it is refused with the status the winner writes (UPDATE_IN_PROGRESS), not with
/// the settled status the record still showed (which named CREATE_IN_PROGRESS).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_refused_by_a_claim_names_the_winners_operation() {
    let h = Harness::new();
    h.provider.delay("A", 300);
    let stack = h.create("claimed", &named("r0")).await;
    let (_, a, b) = two_replicas(&h, &stack.stack_id).await;
    let id = stack.stack_id.clone();
    let loser = tokio::spawn(async move {
        let r = b
            .update_stack(Harness::update_input(&id, &named("b")))
            .await;
        (b, r)
    });
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    a.update_stack(Harness::update_input(&stack.stack_id, &named("a")))
        .await
        .expect("the claimant's own update is admitted");
    let (_b, refused) = loser.await.unwrap();
    match refused {
        Err(EngineError::InvalidState { status, action, .. }) => {
            assert_eq!((status.as_str(), action), ("UPDATE_IN_PROGRESS", "updated"));
        }
        other => panic!("expected InvalidState, got {other:?}"),
    }
    let done = a.wait_for_terminal(&stack.stack_id).await.unwrap();
    assert_eq!(done.status, StackStatus::UpdateComplete);
}
