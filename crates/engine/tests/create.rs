//! Stack creation: success, failure at each resource, DisableRollback, cancellation,
//! deletion policies during rollback, validation.

mod common;

use common::*;
use sagestack_engine::*;
use serde_json::json;

#[tokio::test]
async fn create_success_emits_aws_event_sequence() {
    let h = Harness::new();
    let stack = h.create("s", &chain(&["A", "B", "C"])).await;
    assert_eq!(stack.status, StackStatus::CreateComplete);
    assert!(
        stack
            .stack_id
            .starts_with("arn:aws:cloudformation:us-east-1:123456789012:stack/s/")
    );
    let mut expected = vec!["s CREATE_IN_PROGRESS (User Initiated)".to_string()];
    for id in ["A", "B", "C"] {
        expected.extend(created(id));
    }
    expected.push("s CREATE_COMPLETE".into());
    assert_eq!(h.events(&stack.stack_id).await, expected);

    // B's Ref to A was resolved to A's physical id.
    let a = h.resource(&stack.stack_id, "A").await;
    let b = h.resource(&stack.stack_id, "B").await;
    assert_eq!(b.properties["Parent"], json!(a.physical_id.unwrap()));
    assert_eq!(b.status, ResourceStatus::CreateComplete);
    assert_eq!(h.provider.live().len(), 3);
}

#[tokio::test]
async fn create_failure_at_each_resource_rolls_back_in_reverse_order() {
    let ids = ["A", "B", "C"];
    for failing in 0..ids.len() {
        let h = Harness::new();
        h.provider.fail_on(ids[failing], Op::Create);
        let stack = h.create("s", &chain(&ids)).await;
        assert_eq!(
            stack.status,
            StackStatus::RollbackComplete,
            "failing {failing}"
        );

        let mut expected = vec!["s CREATE_IN_PROGRESS (User Initiated)".to_string()];
        for id in &ids[..failing] {
            expected.extend(created(id));
        }
        let f = ids[failing];
        expected.push(format!("{f} CREATE_IN_PROGRESS"));
        expected.push(format!("{f} CREATE_FAILED ({f} failed on purpose)"));
        expected.push(format!(
            "s ROLLBACK_IN_PROGRESS (The following resource(s) failed to create: [{f}]. Rollback requested by user.)"
        ));
        expected.push(format!("{f} DELETE_COMPLETE"));
        for id in ids[..failing].iter().rev() {
            expected.extend(deleted(id));
        }
        expected.push("s ROLLBACK_COMPLETE".into());
        assert_eq!(h.events(&stack.stack_id).await, expected, "failing {f}");
        assert!(
            h.provider.live().is_empty(),
            "rollback left resources behind"
        );
        // Resources after the failed one were never started.
        let started: Vec<String> = h.provider.calls().into_iter().map(|c| c.1).collect();
        assert!(
            !started
                .iter()
                .any(|s| ids[failing + 1..].contains(&s.as_str()))
        );
    }
}

#[tokio::test]
async fn disable_rollback_leaves_create_failed_and_resources() {
    let h = Harness::new();
    h.provider.fail_on("B", Op::Create);
    let mut input = Harness::input("s", &chain(&["A", "B"]));
    input.disable_rollback = true;
    let id = h.engine.create_stack(input).await.unwrap();
    let stack = h.engine.wait_for_terminal(&id).await.unwrap();
    assert_eq!(stack.status, StackStatus::CreateFailed);
    assert_eq!(
        stack.status_reason.as_deref(),
        Some("The following resource(s) failed to create: [B]. ")
    );
    let ev = h.events(&id).await;
    assert_eq!(
        ev.last().unwrap(),
        "s CREATE_FAILED (The following resource(s) failed to create: [B]. )"
    );
    assert_eq!(h.provider.live().len(), 1);
    // A CREATE_FAILED stack can be deleted, which removes what was created.
    let deleted = h.delete(&id).await;
    assert_eq!(deleted.status, StackStatus::DeleteComplete);
    assert!(h.provider.live().is_empty());
}

#[tokio::test]
async fn in_flight_resources_are_cancelled_and_cleaned_up() {
    // A fails immediately; B (independent, slow) is in flight; C waits for A.
    let h = Harness::with_parallel(4);
    h.provider.fail_on("A", Op::Create);
    h.provider.delay("B", 50);
    h.provider.delay("A", 5);
    let t = json!({"Resources": {
        "A": {"Type": "Test::R"},
        "B": {"Type": "Test::R"},
        "C": {"Type": "Test::R", "Properties": {"P": "{{Ref:A}}"}},
    }});
    let stack = h.create("s", &t).await;
    assert_eq!(stack.status, StackStatus::RollbackComplete);
    let ev = h.events(&stack.stack_id).await;
    assert_eq!(
        ev[..6],
        lines(&[
            "s CREATE_IN_PROGRESS (User Initiated)",
            "A CREATE_IN_PROGRESS",
            "B CREATE_IN_PROGRESS",
            "A CREATE_FAILED (A failed on purpose)",
            "B CREATE_FAILED (Resource creation cancelled)",
            "s ROLLBACK_IN_PROGRESS (The following resource(s) failed to create: [A, B]. Rollback requested by user.)",
        ])
    );
    // A and B are independent, so their rollback deletions run concurrently.
    let mut rollback = ev[6..9].to_vec();
    let at = |line: &str| rollback.iter().position(|e| e == line).unwrap();
    assert!(at("B DELETE_IN_PROGRESS") < at("B DELETE_COMPLETE"));
    rollback.sort();
    assert_eq!(
        rollback,
        lines(&[
            "A DELETE_COMPLETE",
            "B DELETE_COMPLETE",
            "B DELETE_IN_PROGRESS"
        ])
    );
    assert_eq!(ev[9..], lines(&["s ROLLBACK_COMPLETE"]));
    // B's provider call finished after cancellation; the physical resource was deleted.
    assert!(h.provider.live().is_empty());
    assert!(!h.provider.calls().iter().any(|c| c.1 == "C"));
}

#[tokio::test]
async fn rollback_honours_retain_but_deletes_retain_except_on_create() {
    let h = Harness::new();
    h.provider.fail_on("C", Op::Create);
    let t = json!({"Resources": {
        "A": {"Type": "Test::R", "DeletionPolicy": "Retain"},
        "B": {"Type": "Test::R", "DeletionPolicy": "RetainExceptOnCreate"},
        "C": {"Type": "Test::R", "DependsOn": ["A", "B"]},
    }});
    let stack = h.create("s", &t).await;
    assert_eq!(stack.status, StackStatus::RollbackComplete);
    let ev = h.events_since(&stack.stack_id, 7).await;
    assert_eq!(
        ev,
        lines(&[
            "C CREATE_IN_PROGRESS",
            "C CREATE_FAILED (C failed on purpose)",
            "s ROLLBACK_IN_PROGRESS (The following resource(s) failed to create: [C]. Rollback requested by user.)",
            "C DELETE_COMPLETE",
            "B DELETE_IN_PROGRESS",
            "B DELETE_COMPLETE",
            "A DELETE_SKIPPED",
            "s ROLLBACK_COMPLETE",
        ])
    );
    let live: Vec<String> = h.provider.live().into_values().collect();
    assert_eq!(live, vec!["A"]);
}

#[tokio::test]
async fn rollback_delete_failure_is_rollback_failed() {
    let h = Harness::new();
    h.provider.fail_on("B", Op::Create);
    h.provider.fail_on("A", Op::Delete);
    let stack = h.create("s", &chain(&["A", "B"])).await;
    assert_eq!(stack.status, StackStatus::RollbackFailed);
    assert_eq!(
        stack.status_reason.as_deref(),
        Some("The following resource(s) failed to delete: [A]. ")
    );
    h.assert_event(&stack.stack_id, "A DELETE_FAILED (A failed on purpose)")
        .await;
}

#[tokio::test]
async fn unresolvable_reference_fails_the_resource_with_the_plan_message() {
    let h = Harness::new();
    let t = json!({"Resources": {"A": {"Type": "Test::R", "Properties": {"X": "{{GetAtt:B.Nope}}"}},
                                 "B": {"Type": "Test::R"}}});
    let stack = h.create("s", &t).await;
    assert_eq!(stack.status, StackStatus::RollbackComplete);
    h.assert_event(&stack.stack_id, "A CREATE_FAILED (Unresolved resource dependencies [B.Nope] in the Resources block of the template)").await;
}

#[tokio::test]
async fn outputs_are_resolved_and_parameters_masked() {
    let h = Harness::new();
    let t = json!({
        "Description": "demo",
        "NoEcho": ["Secret"],
        "Resources": {"A": {"Type": "Test::R", "Properties": {"Name": "{{Param:Name}}"}}},
        "Outputs": {"Arn": {"Value": "{{GetAtt:A.Arn}}"}, "Name": {"Value": "{{Param:Name}}"}},
    });
    let mut input = Harness::input("s", &t);
    input.parameters.insert("Name".into(), "n1".into());
    input.parameters.insert("Secret".into(), "hunter2".into());
    let id = h.engine.create_stack(input).await.unwrap();
    let stack = h.engine.wait_for_terminal(&id).await.unwrap();
    assert_eq!(stack.status, StackStatus::CreateComplete);
    assert_eq!(stack.description.as_deref(), Some("demo"));
    assert_eq!(stack.displayed_parameters["Secret"], "****");
    assert_eq!(stack.template.parameters["Secret"], "hunter2");
    let a = h.resource(&id, "A").await;
    let outs: Vec<(String, String)> = stack
        .outputs
        .iter()
        .map(|o| (o.key.clone(), o.value.clone()))
        .collect();
    assert_eq!(
        outs,
        vec![
            (
                "Arn".to_string(),
                format!("arn:test:{}", a.physical_id.unwrap())
            ),
            ("Name".to_string(), "n1".to_string())
        ]
    );
}

#[tokio::test]
async fn validation_errors_are_typed_with_aws_messages() {
    let h = Harness::new();
    let t = chain(&["A"]);
    h.create("s", &t).await;

    let err = h.create_refused("s", &t).await;
    assert_eq!(err, EngineError::AlreadyExists("s".into()));
    assert_eq!(err.to_string(), "Stack [s] already exists");

    let err = h.create_refused("1bad", &t).await;
    assert_eq!(
        err.to_string(),
        "1 validation error detected: Value '1bad' at 'stackName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z][-a-zA-Z0-9]*"
    );
    let long = "a".repeat(129);
    assert!(
        h.create_refused(&long, &t)
            .await
            .to_string()
            .contains("length less than or equal to 128")
    );

    let err = h.engine.describe_stack("nope").await.unwrap_err();
    assert_eq!(err.to_string(), "Stack with id nope does not exist");

    let unknown = json!({"Resources": {"A": {"Type": "AWS::Nope::Thing"}}});
    let err = h.create_refused("u", &unknown).await;
    assert_eq!(
        err.to_string(),
        "Template format error: Unrecognized resource types: [AWS::Nope::Thing]"
    );

    let cyclic = json!({"Resources": {"A": {"Type": "Test::R", "DependsOn": ["B"]}, "B": {"Type": "Test::R", "DependsOn": ["A"]}}});
    let err = h.create_refused("c", &cyclic).await;
    assert_eq!(
        err.to_string(),
        "Circular dependency between resources: [A, B]"
    );

    let mut bad = Harness::input("j", &json!({}));
    bad.template_body = "{not json".into();
    let err = h.engine.create_stack(bad).await.unwrap_err();
    assert!(matches!(err, EngineError::Template(_)), "{err:?}");
    assert!(err.to_string().starts_with("Template format error"));
}

#[tokio::test]
async fn iam_resources_need_capabilities() {
    let h = Harness::new();
    let role = json!({"Resources": {"R": {"Type": "AWS::IAM::Role", "Properties": {}}}});
    let named =
        json!({"Resources": {"R": {"Type": "AWS::IAM::Role", "Properties": {"RoleName": "x"}}}});
    let err = h.create_refused("a", &role).await;
    assert_eq!(err.to_string(), "Requires capabilities : [CAPABILITY_IAM]");
    let err = h.create_refused("a", &named).await;
    assert_eq!(
        err.to_string(),
        "Requires capabilities : [CAPABILITY_NAMED_IAM]"
    );
    let mut input = Harness::input("a", &named);
    input.capabilities = vec!["CAPABILITY_IAM".into()];
    assert_eq!(
        h.engine.create_stack(input).await.unwrap_err(),
        EngineError::InsufficientCapabilities("CAPABILITY_NAMED_IAM".into())
    );
    let mut input = Harness::input("a", &role);
    input.capabilities = vec!["CAPABILITY_IAM".into()];
    let id = h.engine.create_stack(input).await.unwrap();
    assert_eq!(
        h.engine.wait_for_terminal(&id).await.unwrap().status,
        StackStatus::CreateComplete
    );
    let mut input = Harness::input("b", &named);
    input.capabilities = vec!["CAPABILITY_NAMED_IAM".into()];
    assert!(h.engine.create_stack(input).await.is_ok());
}
