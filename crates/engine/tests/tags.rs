//! Stack tags: given on create they reach every resource's provider; changed by an
//! update (alone or with the template) they reach every taggable resource again, as
//! CloudFormation propagates them; a failed update puts the old ones back.

mod common;

use common::*;
use sagestack_engine::*;
use serde_json::json;

fn tags(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn update_with_tags(template: &serde_json::Value, t: &[(&str, &str)]) -> UpdateStackInput {
    UpdateStackInput {
        tags: Some(tags(t)),
        ..Harness::update_input("s", template)
    }
}

#[tokio::test]
async fn new_stack_tags_update_every_taggable_resource_and_roll_back() {
    let h = Harness::new();
    let template = json!({"Resources": {
        "T": {"Type": "Test::Tagged", "Properties": {"V": 1}},
        "R": {"Type": "Test::R", "Properties": {"V": 1}},
    }});
    let id = h
        .engine
        .create_stack(CreateStackInput {
            tags: tags(&[("team", "a")]),
            ..Harness::input("s", &template)
        })
        .await
        .unwrap();
    h.engine.wait_for_terminal(&id).await.unwrap();
    assert_eq!(h.provider.tags_of("T"), Some(tags(&[("team", "a")])));

    // The same tags again: nothing to do.
    let same = h
        .engine
        .update_stack(update_with_tags(&template, &[("team", "a")]))
        .await
        .unwrap_err();
    assert!(matches!(same, EngineError::NoUpdates), "{same:?}");

    // A change set with new tags only: the taggable resource is modified, its tags alone.
    let cs = CreateChangeSetInput {
        tags: Some(tags(&[("team", "b")])),
        ..Harness::change_set_input("s", "retag", ChangeSetType::Update, &template)
    };
    let ids = h.engine.create_change_set(cs).await.unwrap();
    let cs = h.change_set(&ids.change_set_id, None).await;
    assert_eq!(cs.status, ChangeSetStatus::CreateComplete);
    let summary: Vec<_> = cs
        .changes
        .iter()
        .map(|c| {
            let d = &c.details[0];
            (
                c.logical_resource_id.as_str(),
                c.action,
                c.replacement,
                c.scope.clone(),
                d.target.attribute.as_str(),
                d.evaluation,
            )
        })
        .collect();
    assert_eq!(
        summary,
        [(
            "T",
            ChangeAction::Modify,
            Some(Replacement::False),
            vec!["Tags".to_string()],
            "Tags",
            Evaluation::Static
        )]
    );

    // Executed: the taggable resource's provider gets the new tags, the other is left alone.
    let calls_before = h.provider.calls().len();
    h.engine
        .execute_change_set(&ids.change_set_id, None)
        .await
        .unwrap();
    let stack = h.engine.wait_for_terminal(&id).await.unwrap();
    assert_eq!(stack.status, StackStatus::UpdateComplete);
    assert_eq!(stack.tags, tags(&[("team", "b")]));
    assert_eq!(stack.previous_tags, None);
    let calls: Vec<_> = h.provider.calls()[calls_before..]
        .iter()
        .map(|(op, lid, _)| (*op, lid.clone()))
        .collect();
    assert_eq!(calls, [(Op::Update, "T".to_string())]);
    assert_eq!(h.provider.tags_of("T"), Some(tags(&[("team", "b")])));
    assert_eq!(h.provider.tags_of("R"), Some(tags(&[("team", "a")])));

    // New tags with a template change that fails: the rollback restores the tags, on the
    // stack and on the resource.
    let failing = json!({"Resources": {
        "T": {"Type": "Test::Tagged", "Properties": {"V": 1}},
        "R": {"Type": "Test::R", "Properties": {"V": 2}},
    }});
    h.provider.fail_once_on("R", Op::Update);
    h.engine
        .update_stack(update_with_tags(&failing, &[("team", "c")]))
        .await
        .unwrap();
    let stack = h.engine.wait_for_terminal(&id).await.unwrap();
    assert_eq!(stack.status, StackStatus::UpdateRollbackComplete);
    assert_eq!(stack.tags, tags(&[("team", "b")]));
    assert_eq!(stack.previous_tags, None);
    assert_eq!(h.provider.tags_of("T"), Some(tags(&[("team", "b")])));
}
