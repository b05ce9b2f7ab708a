//! Change sets: diff shape (Add/Modify/Remove, Replacement True/False/Conditional, Details),
//! lifecycle statuses, execution, CREATE change sets on new stacks.

mod common;

use common::*;
use sagestack_engine::*;
use serde_json::json;

fn detail(
    name: &str,
    rec: RequiresRecreation,
    ev: Evaluation,
    cause: Option<&str>,
) -> ResourceChangeDetail {
    ResourceChangeDetail {
        target: ChangeTarget {
            attribute: "Properties".into(),
            name: Some(name.into()),
            requires_recreation: rec,
        },
        evaluation: ev,
        change_source: if cause.is_some() {
            ChangeSource::ResourceReference
        } else {
            ChangeSource::DirectModification
        },
        causing_entity: cause.map(String::from),
    }
}

#[tokio::test]
async fn update_change_set_describes_replacements_like_aws() {
    let h = Harness::new();
    let before = json!({"Resources": {
        "A": {"Type": "Test::R", "Properties": {"Name": "one"}},
        "B": {"Type": "Test::R", "Properties": {"Parent": "{{Ref:A}}"}},
        "C": {"Type": "Test::R", "Properties": {"Name": "{{GetAtt:A.Arn}}"}},
        "V": {"Type": "Test::R", "Properties": {"V": 1}},
        "D": {"Type": "Test::R"},
    }});
    let stack = h.create("s", &before).await;
    let after = json!({"Resources": {
        "A": {"Type": "Test::R", "Properties": {"Name": "two"}},
        "B": {"Type": "Test::R", "Properties": {"Parent": "{{Ref:A}}"}},
        "C": {"Type": "Test::R", "Properties": {"Name": "{{GetAtt:A.Arn}}"}},
        "V": {"Type": "Test::R", "Properties": {"V": 2}},
        "E": {"Type": "Test::R"},
    }});
    let ids = h
        .create_change_set("s", "cs1", ChangeSetType::Update, &after)
        .await
        .unwrap();
    assert_eq!(ids.stack_id, stack.stack_id);
    assert!(
        ids.change_set_id
            .starts_with("arn:aws:cloudformation:us-east-1:123456789012:changeSet/cs1/")
    );
    let cs = h.change_set(&ids.change_set_id, None).await;
    assert_eq!(cs.status, ChangeSetStatus::CreateComplete);
    assert_eq!(cs.execution_status, ExecutionStatus::Available);
    let resources = h.engine.list_stack_resources("s").await.unwrap();
    let pid = |id: &str| {
        resources
            .iter()
            .find(|r| r.logical_id == id)
            .unwrap()
            .physical_id
            .clone()
    };
    let modify =
        |id: &str, replacement: Replacement, details: Vec<ResourceChangeDetail>| ResourceChange {
            action: ChangeAction::Modify,
            logical_resource_id: id.into(),
            physical_resource_id: pid(id),
            resource_type: "Test::R".into(),
            replacement: Some(replacement),
            scope: vec!["Properties".into()],
            details,
            values: None,
        };
    let expected = vec![
        modify(
            "A",
            Replacement::True,
            vec![detail(
                "Name",
                RequiresRecreation::Always,
                Evaluation::Static,
                None,
            )],
        ),
        modify(
            "B",
            Replacement::False,
            vec![detail(
                "Parent",
                RequiresRecreation::Never,
                Evaluation::Dynamic,
                Some("A"),
            )],
        ),
        modify(
            "C",
            Replacement::Conditional,
            vec![detail(
                "Name",
                RequiresRecreation::Always,
                Evaluation::Dynamic,
                Some("A.Arn"),
            )],
        ),
        modify(
            "V",
            Replacement::False,
            vec![detail(
                "V",
                RequiresRecreation::Never,
                Evaluation::Static,
                None,
            )],
        ),
        ResourceChange {
            action: ChangeAction::Add,
            logical_resource_id: "E".into(),
            physical_resource_id: None,
            resource_type: "Test::R".into(),
            replacement: None,
            scope: vec![],
            details: vec![],
            values: None,
        },
        ResourceChange {
            action: ChangeAction::Remove,
            logical_resource_id: "D".into(),
            physical_resource_id: pid("D"),
            resource_type: "Test::R".into(),
            replacement: None,
            scope: vec![],
            details: vec![],
            values: None,
        },
    ];
    let without_values: Vec<ResourceChange> = cs
        .changes
        .iter()
        .cloned()
        .map(|c| ResourceChange { values: None, ..c })
        .collect();
    assert_eq!(without_values, expected);
    // The properties before and after (IncludePropertyValues): what a replaced resource
    // will be called is known only after apply, in whatever refers to it.
    let values = |id: &str| {
        let c = cs.changes.iter().find(|c| c.logical_resource_id == id);
        let v = c.and_then(|c| c.values.clone()).unwrap();
        (v.before, v.after)
    };
    assert_eq!(
        values("A"),
        (Some(json!({"Name": "one"})), Some(json!({"Name": "two"})))
    );
    assert_eq!(
        values("B"),
        (
            Some(json!({"Parent": pid("A").unwrap()})),
            Some(json!({"Parent": KNOWN_AFTER_APPLY}))
        )
    );
    assert_eq!(values("V"), (Some(json!({"V": 1})), Some(json!({"V": 2}))));
    assert_eq!(values("E"), (None, Some(json!({}))));
    assert_eq!(values("D"), (Some(json!({})), None));
    // Describing did not change the stack.
    assert_eq!(h.status("s").await, StackStatus::CreateComplete);

    // A second change set, then executing the first: the other one goes away.
    let other = h
        .create_change_set("s", "cs2", ChangeSetType::Update, &before.clone())
        .await;
    assert!(other.is_ok());
    let other = other.unwrap();
    assert_eq!(
        h.change_set(&other.change_set_id, None).await.status,
        ChangeSetStatus::Failed,
        "same template: no changes"
    );
    let stack_id = h.engine.execute_change_set("cs1", Some("s")).await.unwrap();
    let done = h.engine.wait_for_terminal(&stack_id).await.unwrap();
    assert_eq!(done.status, StackStatus::UpdateComplete);
    assert_eq!(
        done.change_set_id.as_deref(),
        Some(ids.change_set_id.as_str())
    );
    let cs = h.change_set("cs1", Some("s")).await;
    assert_eq!(cs.execution_status, ExecutionStatus::ExecuteComplete);
    assert_eq!(
        h.engine
            .describe_change_set("cs2", Some("s"))
            .await
            .unwrap_err(),
        EngineError::ChangeSetNotFound("cs2".into())
    );
    // C was replaced at execution because A's Arn really changed.
    let c = h.resource(&stack_id, "C").await;
    assert_ne!(c.physical_id, pid("C"));
    let mut live: Vec<String> = h.provider.live().into_values().collect();
    live.sort();
    assert_eq!(live, vec!["A", "B", "C", "E", "V"]);
}

#[tokio::test]
async fn no_change_change_set_fails_with_aws_reason_and_cannot_execute() {
    let h = Harness::new();
    let t = chain(&["A"]);
    h.create("s", &t).await;
    let ids = h
        .create_change_set("s", "same", ChangeSetType::Update, &t)
        .await
        .unwrap();
    let cs = h.change_set("same", Some("s")).await;
    assert_eq!(cs.status, ChangeSetStatus::Failed);
    assert_eq!(cs.execution_status, ExecutionStatus::Unavailable);
    assert_eq!(
        cs.status_reason.as_deref(),
        Some(
            "The submitted information didn't contain changes. Submit different information to create a change set."
        )
    );
    let err = h
        .engine
        .execute_change_set(&ids.change_set_id, None)
        .await
        .unwrap_err();
    assert!(matches!(err, EngineError::InvalidChangeSetStatus { .. }));
    // Duplicate names are refused; deleting frees the name.
    let err = h
        .create_change_set("s", "same", ChangeSetType::Update, &chain(&["A", "B"]))
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "ChangeSet [same] already exists");
    h.engine.delete_change_set("same", Some("s")).await.unwrap();
    assert_eq!(
        h.engine
            .describe_change_set("same", Some("s"))
            .await
            .unwrap_err()
            .to_string(),
        "ChangeSet [same] does not exist"
    );
    assert!(h.engine.list_change_sets("s").await.unwrap().is_empty());
}

#[tokio::test]
async fn create_change_set_for_a_new_stack_reviews_then_creates() {
    let h = Harness::new();
    let t = chain(&["A", "B"]);
    let ids = h
        .create_change_set("s", "first", ChangeSetType::Create, &t)
        .await
        .unwrap();
    let stack = h.engine.describe_stack("s").await.unwrap();
    assert_eq!(stack.status, StackStatus::ReviewInProgress);
    assert_eq!(
        h.events(&ids.stack_id).await,
        lines(&["s REVIEW_IN_PROGRESS (User Initiated)"])
    );
    let cs = h.change_set("first", Some("s")).await;
    assert_eq!(cs.change_set_type, ChangeSetType::Create);
    let adds: Vec<(ChangeAction, String)> = cs
        .changes
        .iter()
        .map(|c| (c.action, c.logical_resource_id.clone()))
        .collect();
    assert_eq!(
        adds,
        vec![
            (ChangeAction::Add, "A".into()),
            (ChangeAction::Add, "B".into())
        ]
    );
    // CreateStack on a reviewing stack's name is refused; UPDATE change sets too.
    assert!(matches!(
        h.engine.create_stack(Harness::input("s", &t)).await,
        Err(EngineError::AlreadyExists(_))
    ));
    assert!(matches!(
        h.create_change_set("s", "u", ChangeSetType::Update, &t)
            .await,
        Err(EngineError::InvalidState { .. })
    ));
    let list = h.engine.list_change_sets("s").await.unwrap();
    assert_eq!(list.len(), 1);

    let id = h
        .engine
        .execute_change_set(&ids.change_set_id, None)
        .await
        .unwrap();
    let done = h.engine.wait_for_terminal(&id).await.unwrap();
    assert_eq!(done.status, StackStatus::CreateComplete);
    let ev = h.events(&id).await;
    assert_eq!(ev[0], "s REVIEW_IN_PROGRESS (User Initiated)");
    assert_eq!(ev[1], "s CREATE_IN_PROGRESS (User Initiated)");
    assert_eq!(ev.last().unwrap(), "s CREATE_COMPLETE");
    assert_eq!(
        h.change_set("first", Some("s")).await.execution_status,
        ExecutionStatus::ExecuteComplete
    );
    // A CREATE change set for an existing stack is refused.
    let err = h
        .create_change_set("s", "again", ChangeSetType::Create, &t)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Stack [s] already exists and cannot be created again with the changeSet [again]."
    );
}

#[tokio::test]
async fn failed_execution_is_execute_failed_and_update_stack_obsoletes_change_sets() {
    let h = Harness::new();
    h.create("s", &chain(&["A"])).await;
    h.provider.fail_on("B", Op::Create);
    h.create_change_set("s", "addb", ChangeSetType::Update, &chain(&["A", "B"]))
        .await
        .unwrap();
    let id = h
        .engine
        .execute_change_set("addb", Some("s"))
        .await
        .unwrap();
    assert_eq!(
        h.engine.wait_for_terminal(&id).await.unwrap().status,
        StackStatus::UpdateRollbackComplete
    );
    assert_eq!(
        h.change_set("addb", Some("s")).await.execution_status,
        ExecutionStatus::ExecuteFailed
    );
    h.provider.clear_failures();

    h.create_change_set("s", "pending", ChangeSetType::Update, &chain(&["A", "C"]))
        .await
        .unwrap();
    h.update("s", &chain(&["A", "D"])).await.unwrap();
    let cs = h.change_set("pending", Some("s")).await;
    assert_eq!(cs.execution_status, ExecutionStatus::Obsolete);
    assert!(matches!(
        h.engine.execute_change_set("pending", Some("s")).await,
        Err(EngineError::InvalidChangeSetStatus { .. })
    ));
}

#[tokio::test]
async fn a_stack_under_review_can_be_deleted() {
    let h = Harness::new();
    let ids = h
        .create_change_set("s", "c", ChangeSetType::Create, &chain(&["A"]))
        .await
        .unwrap();
    let done = h.delete("s").await;
    assert_eq!(done.status, StackStatus::DeleteComplete);
    assert_eq!(
        h.events(&ids.stack_id).await,
        lines(&[
            "s REVIEW_IN_PROGRESS (User Initiated)",
            "s DELETE_IN_PROGRESS (User Initiated)",
            "s DELETE_COMPLETE",
        ])
    );
    assert!(h.provider.calls().is_empty());
    assert_eq!(
        h.engine
            .describe_change_set(&ids.change_set_id, None)
            .await
            .unwrap_err(),
        EngineError::ChangeSetNotFound(ids.change_set_id.clone())
    );
}
