//! Stack deletion: order, failure at each resource, RetainResources retry, policies.

mod common;

use common::*;
use sagestack_engine::*;
use serde_json::json;

#[tokio::test]
async fn delete_success_in_reverse_dependency_order() {
    let h = Harness::new();
    let stack = h.create("s", &chain(&["A", "B", "C"])).await;
    let n = h.events(&stack.stack_id).await.len();
    let done = h.delete("s").await;
    assert_eq!(done.status, StackStatus::DeleteComplete);
    assert!(done.deletion_time.is_some());
    assert_eq!(
        h.events_since(&stack.stack_id, n).await,
        lines(&[
            "s DELETE_IN_PROGRESS (User Initiated)",
            "C DELETE_IN_PROGRESS",
            "C DELETE_COMPLETE",
            "B DELETE_IN_PROGRESS",
            "B DELETE_COMPLETE",
            "A DELETE_IN_PROGRESS",
            "A DELETE_COMPLETE",
            "s DELETE_COMPLETE",
        ])
    );
    assert!(h.provider.live().is_empty());
    // Deleted stacks are found by id only.
    assert_eq!(
        h.engine.describe_stack("s").await.unwrap_err(),
        EngineError::NotFound("s".into())
    );
    assert_eq!(h.status(&stack.stack_id).await, StackStatus::DeleteComplete);
    // Deleting something that does not exist is not an error (AWS answers 200).
    assert_eq!(h.engine.delete_stack("s", vec![]).await.unwrap(), None);
    // The name is free again.
    assert_eq!(
        h.create("s", &chain(&["A"])).await.status,
        StackStatus::CreateComplete
    );
}

#[tokio::test]
async fn delete_failure_at_each_resource_then_retry_with_retain_resources() {
    let ids = ["A", "B", "C"];
    for failing in 0..ids.len() {
        let h = Harness::new();
        let stack = h.create("s", &chain(&ids)).await;
        let n = h.events(&stack.stack_id).await.len();
        let f = ids[failing];
        h.provider.fail_on(f, Op::Delete);
        let done = h.delete("s").await;
        assert_eq!(done.status, StackStatus::DeleteFailed);
        let reason = format!("The following resource(s) failed to delete: [{f}]. ");
        assert_eq!(done.status_reason.as_deref(), Some(reason.as_str()));

        let mut expected = vec!["s DELETE_IN_PROGRESS (User Initiated)".to_string()];
        for id in ids[failing + 1..].iter().rev() {
            expected.extend(deleted(id));
        }
        expected.push(format!("{f} DELETE_IN_PROGRESS"));
        expected.push(format!("{f} DELETE_FAILED ({f} failed on purpose)"));
        expected.push(format!("s DELETE_FAILED ({reason})"));
        assert_eq!(
            h.events_since(&stack.stack_id, n).await,
            expected,
            "failing {f}"
        );
        // What the failed resource depends on was not touched.
        assert_eq!(h.provider.live().len(), failing + 1);

        // RetainResources is only for DELETE_FAILED stacks, which this now is.
        let n = h.events(&stack.stack_id).await.len();
        let id = h
            .engine
            .delete_stack(&stack.stack_id, vec![f.to_string()])
            .await
            .unwrap()
            .unwrap();
        let done = h.engine.wait_for_terminal(&id).await.unwrap();
        assert_eq!(done.status, StackStatus::DeleteComplete);
        let mut expected = vec![
            "s DELETE_IN_PROGRESS (User Initiated)".to_string(),
            format!("{f} DELETE_SKIPPED"),
        ];
        for id in ids[..failing].iter().rev() {
            expected.extend(deleted(id));
        }
        expected.push("s DELETE_COMPLETE".into());
        assert_eq!(h.events_since(&stack.stack_id, n).await, expected);
        assert_eq!(h.provider.live().into_values().collect::<Vec<_>>(), vec![f]);
    }
}

#[tokio::test]
async fn retain_resources_requires_delete_failed() {
    let h = Harness::new();
    let stack = h.create("s", &chain(&["A"])).await;
    let err = h
        .engine
        .delete_stack("s", vec!["A".into()])
        .await
        .unwrap_err();
    assert!(matches!(err, EngineError::Validation(_)));
    assert_eq!(h.status(&stack.stack_id).await, StackStatus::CreateComplete);
}

#[tokio::test]
async fn deletion_policies_on_stack_delete() {
    let h = Harness::new();
    let t = json!({"Resources": {
        "Keep": {"Type": "Test::R", "DeletionPolicy": "Retain"},
        "KeepUnlessCreate": {"Type": "Test::R", "DeletionPolicy": "RetainExceptOnCreate"},
        "Snap": {"Type": "Test::R", "DeletionPolicy": "Snapshot"},
        "Gone": {"Type": "Test::R", "DeletionPolicy": "Delete"},
    }});
    let stack = h.create("s", &t).await;
    let n = h.events(&stack.stack_id).await.len();
    assert_eq!(h.delete("s").await.status, StackStatus::DeleteComplete);
    assert_eq!(
        h.events_since(&stack.stack_id, n).await,
        lines(&[
            "s DELETE_IN_PROGRESS (User Initiated)",
            "Gone DELETE_IN_PROGRESS",
            "Gone DELETE_COMPLETE",
            "Snap DELETE_IN_PROGRESS",
            "Snap DELETE_COMPLETE",
            "KeepUnlessCreate DELETE_SKIPPED",
            "Keep DELETE_SKIPPED",
            "s DELETE_COMPLETE",
        ])
    );
    let mut kept: Vec<String> = h.provider.live().into_values().collect();
    kept.sort();
    assert_eq!(kept, vec!["Keep", "KeepUnlessCreate"]);
    let status = async |id: &str| h.resource(&stack.stack_id, id).await.status;
    assert_eq!(status("Keep").await, ResourceStatus::DeleteSkipped);
    assert_eq!(status("Gone").await, ResourceStatus::DeleteComplete);
}

#[tokio::test]
async fn operations_in_progress_refuse_delete_and_update() {
    let h = Harness::new();
    h.provider.delay("A", 200);
    let id = h.start_create("s", &chain(&["A"])).await;
    let err = h.engine.delete_stack("s", vec![]).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("Stack:{id} is in CREATE_IN_PROGRESS state and can not be deleted.")
    );
    let err = h.start_update("s", &chain(&["A", "B"])).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("Stack:{id} is in CREATE_IN_PROGRESS state and can not be updated.")
    );
    assert_eq!(
        h.engine.wait_for_terminal(&id).await.unwrap().status,
        StackStatus::CreateComplete
    );
}

#[tokio::test]
async fn events_page_newest_first() {
    let h = Harness::new();
    let stack = h.create("s", &chain(&["A", "B"])).await;
    let all = h.engine.stack_events("s", None, 100).await.unwrap();
    assert_eq!(all.len(), 8);
    assert_eq!(all[0].resource_status, "CREATE_COMPLETE");
    assert_eq!(all[0].logical_resource_id, "s");
    assert_eq!(
        all[0].physical_resource_id.as_deref(),
        Some(stack.stack_id.as_str())
    );
    assert_eq!(all[0].resource_type, "AWS::CloudFormation::Stack");
    let first = h.engine.stack_events("s", None, 3).await.unwrap();
    let next = h
        .engine
        .stack_events("s", Some(first.last().unwrap().seq), 100)
        .await
        .unwrap();
    let paged: Vec<u64> = first.iter().chain(next.iter()).map(|e| e.seq).collect();
    assert_eq!(paged, all.iter().map(|e| e.seq).collect::<Vec<_>>());
    // Progress events carry the resolved properties as JSON.
    let b_in_progress = all
        .iter()
        .find(|e| e.logical_resource_id == "B" && e.resource_status == "CREATE_IN_PROGRESS")
        .unwrap();
    let props: serde_json::Value =
        serde_json::from_str(b_in_progress.resource_properties.as_deref().unwrap()).unwrap();
    assert!(props["Parent"].as_str().unwrap().starts_with("A-"));
    let ids: std::collections::HashSet<_> = all.iter().map(|e| e.event_id.clone()).collect();
    assert_eq!(ids.len(), all.len());
}

/// Regression: the task that finished the previous operation must not deregister the next
/// one (which made `wait_for_terminal` return an in-progress stack on a multi-thread
/// runtime).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn back_to_back_operations_are_each_awaited_to_the_end() {
    for round in 0..30 {
        let h = Harness::with_parallel(4);
        let stack = h.create("s", &chain(&["A", "B"])).await;
        assert_eq!(stack.status, StackStatus::CreateComplete);
        let id = h.start_update("s", &chain(&["A", "B", "C"])).await.unwrap();
        let done = h.engine.wait_for_terminal(&id).await.unwrap();
        assert_eq!(done.status, StackStatus::UpdateComplete, "round {round}");
        let gone = h.delete(&id).await;
        assert_eq!(gone.status, StackStatus::DeleteComplete, "round {round}");
    }
}

#[tokio::test]
async fn a_deleted_stack_leaves_no_event_numbering_in_memory() {
    let h = Harness::new();
    let a = h.create("a", &chain(&["A", "B"])).await;
    h.create("b", &chain(&["C"])).await;
    assert_eq!(h.engine.event_counters(), 2);
    h.delete(&a.stack_id).await;
    assert_eq!(h.engine.event_counters(), 1);
    // A later lookup of the deleted stack's events still works (from the store).
    let events = h.events(&a.stack_id).await;
    assert_eq!(events.last().unwrap(), "a DELETE_COMPLETE");
}
