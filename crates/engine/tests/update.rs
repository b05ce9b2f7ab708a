//! Stack updates: in place, replacement (dependents repointed, UpdateReplacePolicy),
//! add/remove, failure at each resource with the full update-rollback path.

mod common;

use common::*;
use sagestack_engine::*;
use serde_json::{Value, json};

/// `A <- B <- C`, each with a plain (not create-only) property `V` and optional `Name`.
fn chain_v(v: i64, names: Option<&str>) -> Value {
    let mut t = chain(&["A", "B", "C"]);
    for id in ["A", "B", "C"] {
        let props = t["Resources"][id]["Properties"].as_object_mut().unwrap();
        props.insert("V".into(), json!(v));
        if let Some(n) = names {
            props.insert("Name".into(), json!(format!("{n}-{id}")));
        }
    }
    t
}

#[tokio::test]
async fn in_place_update_touches_only_changed_resources() {
    let h = Harness::new();
    let mut t = chain(&["A", "B"]);
    t["Resources"]["A"]["Properties"] = json!({"V": 1});
    let stack = h.create("s", &t).await;
    let n = h.events(&stack.stack_id).await.len();
    let a_before = h.resource(&stack.stack_id, "A").await.physical_id;
    t["Resources"]["A"]["Properties"] = json!({"V": 2});
    let done = h.update("s", &t).await.unwrap();
    assert_eq!(done.status, StackStatus::UpdateComplete);
    assert!(done.last_updated_time.is_some());
    assert!(done.previous_template.is_none());
    assert_eq!(
        h.events_since(&stack.stack_id, n).await,
        lines(&[
            "s UPDATE_IN_PROGRESS (User Initiated)",
            "A UPDATE_IN_PROGRESS",
            "A UPDATE_COMPLETE",
            "s UPDATE_COMPLETE_CLEANUP_IN_PROGRESS",
            "s UPDATE_COMPLETE",
        ])
    );
    let a = h.resource(&stack.stack_id, "A").await;
    assert_eq!(a.physical_id, a_before);
    assert_eq!(*a.properties, json!({"V": 2}));
    assert_eq!(a.prior, None);
    assert_eq!(
        h.provider
            .live_properties(a.physical_id.as_deref().unwrap()),
        Some(json!({"V": 2}))
    );
}

#[tokio::test]
async fn replacement_repoints_dependents_then_deletes_the_original_in_cleanup() {
    let h = Harness::new();
    let stack = h.create("s", &named_chain("one")).await;
    let n = h.events(&stack.stack_id).await.len();
    let old_a = h.resource(&stack.stack_id, "A").await.physical_id.unwrap();
    let old_b = h.resource(&stack.stack_id, "B").await.physical_id.unwrap();

    let done = h.update("s", &named_chain("two")).await.unwrap();
    assert_eq!(done.status, StackStatus::UpdateComplete);
    let expected = [
        lines(&["s UPDATE_IN_PROGRESS (User Initiated)"]),
        replaced("A"),
        updated("B"),
        lines(&["s UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"]),
        deleted("A"),
        lines(&["s UPDATE_COMPLETE"]),
    ];
    assert_eq!(h.events_since(&stack.stack_id, n).await, expected.concat());
    let new_a = h.resource(&stack.stack_id, "A").await.physical_id.unwrap();
    assert_ne!(new_a, old_a);
    let b = h.resource(&stack.stack_id, "B").await;
    assert_eq!(b.physical_id.as_deref(), Some(old_b.as_str()));
    assert_eq!(b.properties["Parent"], json!(new_a));
    assert_eq!(h.physical("A"), vec![new_a.clone()]);
    // The cleanup events name the original physical resource.
    let events = h.engine.stack_events("s", None, 3).await.unwrap();
    assert_eq!(events[1].resource_status, "DELETE_COMPLETE");
    assert_eq!(
        events[1].physical_resource_id.as_deref(),
        Some(old_a.as_str())
    );
}

#[tokio::test]
async fn update_replace_policy_retain_keeps_the_original() {
    let h = Harness::new();
    let mut t = json!({"Resources": {"A": {"Type": "Test::R", "UpdateReplacePolicy": "Retain",
        "Properties": {"Name": "one"}}}});
    let stack = h.create("s", &t).await;
    let old_a = h.resource(&stack.stack_id, "A").await.physical_id.unwrap();
    let n = h.events(&stack.stack_id).await.len();
    t["Resources"]["A"]["Properties"]["Name"] = json!("two");
    h.update("s", &t).await.unwrap();
    let ev = h.events_since(&stack.stack_id, n).await;
    assert_eq!(ev[5..], lines(&["A DELETE_SKIPPED", "s UPDATE_COMPLETE"]));
    let mut live = h.physical("A");
    live.sort();
    assert_eq!(live.len(), 2);
    assert!(live.contains(&old_a));
}

#[tokio::test]
async fn added_and_removed_resources() {
    let h = Harness::new();
    let t = json!({"Resources": {"A": {"Type": "Test::R"},
        "B": {"Type": "Test::R", "Properties": {"P": "{{Ref:A}}"}},
        "Kept": {"Type": "Test::R", "DeletionPolicy": "Retain"}}});
    let stack = h.create("s", &t).await;
    let n = h.events(&stack.stack_id).await.len();
    let t2 = json!({"Resources": {"A": {"Type": "Test::R"}, "C": {"Type": "Test::R"}}});
    assert_eq!(
        h.update("s", &t2).await.unwrap().status,
        StackStatus::UpdateComplete
    );
    assert_eq!(
        h.events_since(&stack.stack_id, n).await,
        lines(&[
            "s UPDATE_IN_PROGRESS (User Initiated)",
            "C CREATE_IN_PROGRESS",
            "C CREATE_IN_PROGRESS (Resource creation Initiated)",
            "C CREATE_COMPLETE",
            "s UPDATE_COMPLETE_CLEANUP_IN_PROGRESS",
            "Kept DELETE_SKIPPED",
            "B DELETE_IN_PROGRESS",
            "B DELETE_COMPLETE",
            "s UPDATE_COMPLETE",
        ])
    );
    assert_eq!(h.logical_ids("s").await, vec!["A", "C"]);
    let mut live: Vec<String> = h.provider.live().into_values().collect();
    live.sort();
    assert_eq!(live, vec!["A", "C", "Kept"]);
}

#[tokio::test]
async fn update_failure_at_each_resource_rolls_back_every_change() {
    let ids = ["A", "B", "C"];
    for failing in 0..ids.len() {
        let h = Harness::new();
        let stack = h.create("s", &chain_v(1, None)).await;
        let n = h.events(&stack.stack_id).await.len();
        let f = ids[failing];
        h.provider.fail_once_on(f, Op::Update);
        let done = h.update("s", &chain_v(2, None)).await.unwrap();
        assert_eq!(
            done.status,
            StackStatus::UpdateRollbackComplete,
            "failing {f}"
        );

        let mut expected = vec!["s UPDATE_IN_PROGRESS (User Initiated)".to_string()];
        for id in &ids[..failing] {
            expected.extend(updated(id));
        }
        expected.push(format!("{f} UPDATE_IN_PROGRESS"));
        expected.push(format!("{f} UPDATE_FAILED ({f} failed on purpose)"));
        expected.push(format!(
            "s UPDATE_ROLLBACK_IN_PROGRESS (The following resource(s) failed to update: [{f}]. )"
        ));
        for id in &ids[..=failing] {
            expected.extend(updated(id));
        }
        expected.push("s UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS".into());
        expected.push("s UPDATE_ROLLBACK_COMPLETE".into());
        assert_eq!(
            h.events_since(&stack.stack_id, n).await,
            expected,
            "failing {f}"
        );

        assert_settled_at(&h.engine, &h.provider, "s", "V", &json!(1)).await;
        let stack = h.engine.describe_stack("s").await.unwrap();
        assert_eq!(stack.template.body, chain_v(1, None).to_string());
        assert!(stack.previous_template.is_none());
        // The stack can be updated again afterwards.
        assert_eq!(
            h.update("s", &chain_v(3, None)).await.unwrap().status,
            StackStatus::UpdateComplete
        );
    }
}

#[tokio::test]
async fn failed_update_after_replacement_restores_original_and_deletes_replacement() {
    let h = Harness::new();
    let stack = h.create("s", &named_chain("one")).await;
    let old_a = h.resource(&stack.stack_id, "A").await.physical_id.unwrap();
    let n = h.events(&stack.stack_id).await.len();
    h.provider.fail_once_on("B", Op::Update);
    let done = h.update("s", &named_chain("two")).await.unwrap();
    assert_eq!(done.status, StackStatus::UpdateRollbackComplete);
    let expected = [
        lines(&["s UPDATE_IN_PROGRESS (User Initiated)"]),
        replaced("A"),
        lines(&[
            "B UPDATE_IN_PROGRESS",
            "B UPDATE_FAILED (B failed on purpose)",
            "s UPDATE_ROLLBACK_IN_PROGRESS (The following resource(s) failed to update: [B]. )",
        ]),
        updated("A"),
        updated("B"),
        lines(&["s UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS"]),
        deleted("A"),
        lines(&["s UPDATE_ROLLBACK_COMPLETE"]),
    ];
    assert_eq!(h.events_since(&stack.stack_id, n).await, expected.concat());
    assert_eq!(h.physical("A"), vec![old_a.clone()]);
    let b = h.resource(&stack.stack_id, "B").await;
    assert_eq!(b.properties["Parent"], json!(old_a));
    assert_eq!(
        h.provider
            .live_properties(b.physical_id.as_deref().unwrap())
            .unwrap()["Parent"],
        json!(old_a)
    );
    let a = h.resource(&stack.stack_id, "A").await;
    assert_eq!(*a.properties, json!({"Name": "one"}));
    assert!(a.cleanup.is_empty());
}

#[tokio::test]
async fn failed_added_resource_is_removed_by_rollback_cleanup() {
    let h = Harness::new();
    let stack = h.create("s", &chain(&["A"])).await;
    let n = h.events(&stack.stack_id).await.len();
    h.provider.fail_on("C", Op::Create);
    let t = json!({"Resources": {"A": {"Type": "Test::R"}, "D": {"Type": "Test::R"},
        "C": {"Type": "Test::R", "DependsOn": ["D"]}}});
    let done = h.update("s", &t).await.unwrap();
    assert_eq!(done.status, StackStatus::UpdateRollbackComplete);
    assert_eq!(
        h.events_since(&stack.stack_id, n).await,
        lines(&[
            "s UPDATE_IN_PROGRESS (User Initiated)",
            "D CREATE_IN_PROGRESS",
            "D CREATE_IN_PROGRESS (Resource creation Initiated)",
            "D CREATE_COMPLETE",
            "C CREATE_IN_PROGRESS",
            "C CREATE_FAILED (C failed on purpose)",
            "s UPDATE_ROLLBACK_IN_PROGRESS (The following resource(s) failed to create: [C]. )",
            "s UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS",
            "C DELETE_COMPLETE",
            "D DELETE_IN_PROGRESS",
            "D DELETE_COMPLETE",
            "s UPDATE_ROLLBACK_COMPLETE",
        ])
    );
    assert_eq!(h.logical_ids("s").await, vec!["A"]);
    assert_eq!(
        h.provider.live().into_values().collect::<Vec<_>>(),
        vec!["A"]
    );
}

#[tokio::test]
async fn no_updates_and_type_changes_are_refused() {
    let h = Harness::new();
    let t = chain(&["A"]);
    h.create("s", &t).await;
    let err = h.update("s", &t).await.unwrap_err();
    assert_eq!(err, EngineError::NoUpdates);
    assert_eq!(err.to_string(), "No updates are to be performed.");
    let t2 = json!({"Resources": {"A": {"Type": "Test::Other"}}});
    let err = h.update("s", &t2).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "Update of resource type is not permitted. The new template modifies resource type of the following resources: [A]"
    );
    // UsePreviousTemplate with new parameter values is an update when they matter.
    let t3 = json!({"Resources": {"A": {"Type": "Test::R", "Properties": {"V": "{{Param:P}}"}}}});
    let id = h
        .engine
        .create_stack(CreateStackInput {
            stack_name: "p".into(),
            template_body: t3.to_string(),
            parameters: [("P".to_string(), "1".to_string())].into(),
            ..Default::default()
        })
        .await
        .unwrap();
    h.engine.wait_for_terminal(&id).await.unwrap();
    let same = UpdateStackInput {
        stack_name: "p".into(),
        template_body: None,
        parameters: [("P".to_string(), "1".to_string())].into(),
        ..Default::default()
    };
    assert_eq!(
        h.engine.update_stack(same.clone()).await.unwrap_err(),
        EngineError::NoUpdates
    );
    let mut changed = same;
    changed.parameters.insert("P".into(), "2".into());
    let id = h.engine.update_stack(changed).await.unwrap();
    let done = h.engine.wait_for_terminal(&id).await.unwrap();
    assert_eq!(done.status, StackStatus::UpdateComplete);
    assert_eq!(*h.resource(&id, "A").await.properties, json!({"V": "2"}));
}

#[tokio::test]
async fn in_flight_updates_are_cancelled_and_rolled_back() {
    let h = Harness::with_parallel(4);
    let t = |v: i64| {
        json!({"Resources": {"A": {"Type": "Test::R", "Properties": {"V": v}},
                                          "B": {"Type": "Test::R", "Properties": {"V": v}}}})
    };
    let stack = h.create("s", &t(1)).await;
    let n = h.events(&stack.stack_id).await.len();
    h.provider.fail_once_on("A", Op::Update);
    h.provider.delay("A", 5);
    h.provider.delay("B", 50);
    let done = h.update("s", &t(2)).await.unwrap();
    assert_eq!(done.status, StackStatus::UpdateRollbackComplete);
    let ev = h.events_since(&stack.stack_id, n).await;
    assert_eq!(
        ev[..6],
        lines(&[
            "s UPDATE_IN_PROGRESS (User Initiated)",
            "A UPDATE_IN_PROGRESS",
            "B UPDATE_IN_PROGRESS",
            "A UPDATE_FAILED (A failed on purpose)",
            "B UPDATE_FAILED (Resource update cancelled)",
            "s UPDATE_ROLLBACK_IN_PROGRESS (The following resource(s) failed to update: [A, B]. )",
        ])
    );
    // A and B are independent: their restores interleave.
    let mut restores = ev[6..10].to_vec();
    restores.sort();
    assert_eq!(
        restores,
        lines(&[
            "A UPDATE_COMPLETE",
            "A UPDATE_IN_PROGRESS",
            "B UPDATE_COMPLETE",
            "B UPDATE_IN_PROGRESS",
        ])
    );
    assert_eq!(
        ev[10..],
        lines(&[
            "s UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS",
            "s UPDATE_ROLLBACK_COMPLETE",
        ])
    );
    // B's provider call finished after the cancellation; rollback put it back anyway.
    assert_settled_at(&h.engine, &h.provider, "s", "V", &json!(1)).await;
}

#[tokio::test]
async fn update_rollback_failed_stack_can_be_deleted_without_leaks() {
    let h = Harness::new();
    let stack = h.create("s", &named_chain("one")).await;
    // B can never be updated: the forward update fails and so does its rollback.
    h.provider.fail_on("B", Op::Update);
    let done = h.update("s", &named_chain("two")).await.unwrap();
    assert_eq!(done.status, StackStatus::UpdateRollbackFailed);
    assert_eq!(
        done.status_reason.as_deref(),
        Some("The following resource(s) failed to update: [B]. ")
    );
    assert_eq!(
        h.physical("A").len(),
        2,
        "original and replacement both exist"
    );
    // Neither update nor a new change set is allowed from UPDATE_ROLLBACK_FAILED.
    assert!(matches!(
        h.update("s", &chain(&["A"])).await,
        Err(EngineError::InvalidState { .. })
    ));
    let gone = h.delete(&stack.stack_id).await;
    assert_eq!(gone.status, StackStatus::DeleteComplete);
    assert!(h.provider.live().is_empty(), "{:?}", h.provider.live());
}

#[tokio::test]
async fn continue_update_rollback_finishes_a_failed_rollback() {
    for skip in [false, true] {
        let h = Harness::new();
        let stack = h.create("s", &named_chain("one")).await;
        let old_a = h.resource(&stack.stack_id, "A").await.physical_id.unwrap();
        h.provider.fail_on("B", Op::Update);
        assert_eq!(
            h.update("s", &named_chain("two")).await.unwrap().status,
            StackStatus::UpdateRollbackFailed
        );
        assert!(matches!(
            h.engine.continue_update_rollback("nope", vec![]).await,
            Err(EngineError::NotFound(_))
        ));
        let to_skip = if skip {
            vec!["B".to_string()]
        } else {
            h.provider.clear_failures();
            vec![]
        };
        let n = h.events(&stack.stack_id).await.len();
        let id = h
            .engine
            .continue_update_rollback("s", to_skip)
            .await
            .unwrap();
        let done = h.engine.wait_for_terminal(&id).await.unwrap();
        assert_eq!(
            done.status,
            StackStatus::UpdateRollbackComplete,
            "skip={skip}"
        );
        let mut expected = vec!["s UPDATE_ROLLBACK_IN_PROGRESS (User Initiated)".to_string()];
        if !skip {
            expected.push("B UPDATE_IN_PROGRESS".into());
            expected.push("B UPDATE_COMPLETE".into());
        }
        expected.extend(lines(&[
            "s UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS",
            "A DELETE_IN_PROGRESS",
            "A DELETE_COMPLETE",
            "s UPDATE_ROLLBACK_COMPLETE",
        ]));
        assert_eq!(
            h.events_since(&stack.stack_id, n).await,
            expected,
            "skip={skip}"
        );
        assert_eq!(h.physical("A"), vec![old_a.clone()]);
        let b = h.resource(&stack.stack_id, "B").await;
        assert_eq!(b.status, ResourceStatus::UpdateComplete);
        // Skipped: B keeps whatever it has; not skipped: B points at the original A again.
        if !skip {
            assert_eq!(b.properties["Parent"], json!(old_a));
        }
    }
}

#[tokio::test]
async fn policy_only_changes_are_applied_with_another_change_and_restored_silently() {
    let h = Harness::new();
    let t = json!({"Resources": {"A": {"Type": "Test::R"}, "B": {"Type": "Test::R", "Properties": {"V": 1}}}});
    let stack = h.create("s", &t).await;
    // A only gains a DeletionPolicy; B changes and fails, so the update rolls back.
    let mut t2 = t.clone();
    t2["Resources"]["A"]["DeletionPolicy"] = json!("Retain");
    t2["Resources"]["B"]["Properties"]["V"] = json!(2);
    h.provider.fail_once_on("B", Op::Update);
    let n = h.events(&stack.stack_id).await.len();
    let done = h.update("s", &t2).await.unwrap();
    assert_eq!(done.status, StackStatus::UpdateRollbackComplete);
    let ev = h.events_since(&stack.stack_id, n).await;
    assert!(
        !ev.iter().any(|e| e.starts_with("A ")),
        "A has no events: {ev:#?}"
    );
    assert_eq!(
        h.resource(&stack.stack_id, "A").await.deletion_policy,
        Policy::Delete
    );
    // Applied for real when the update succeeds.
    let done = h.update("s", &t2).await.unwrap();
    assert_eq!(done.status, StackStatus::UpdateComplete);
    assert_eq!(
        h.resource(&stack.stack_id, "A").await.deletion_policy,
        Policy::Retain
    );
    h.delete("s").await;
    assert_eq!(
        h.provider.live().into_values().collect::<Vec<_>>(),
        vec!["A"]
    );
}
