//! The two providers over a real state: names, ids, targets, updates, deletes.

use serde_json::json;

use super::*;
use crate::state::tests::{LAMBDA, bridge};

fn ctx(logical: &str) -> ResourceContext {
    ResourceContext {
        region: "us-east-1".into(),
        account_id: "123456789012".into(),
        partition: "aws".into(),
        stack_name: "stack".into(),
        logical_id: logical.into(),
        resource_type: RULE_TYPE.into(),
        started: 1,
        ..ResourceContext::default()
    }
}

#[test]
fn generated_names_fit_and_ids_round_trip() {
    let long = "s".repeat(80);
    let name = generated_rule_name(&long, "Logical", "ABCDEFGHIJKL");
    assert!(name.len() <= 64, "{name}");
    assert!(name.ends_with("-ABCDEFGHIJKL"));
    assert_eq!(rule_id("default", "r"), "r");
    assert_eq!(rule_id("b", "r"), "b|r");
    assert_eq!(parse_rule_id("b|r"), ("b".into(), "r".into()));
    assert_eq!(parse_rule_id("r"), ("default".into(), "r".into()));
}

#[tokio::test]
async fn rules_are_made_updated_and_deleted_with_their_targets() {
    let dir = tempfile::tempdir().unwrap();
    let (s, _, _) = bridge(dir.path()).await;
    let buses = EventBusProvider::new(s.clone());
    let bus = buses
        .create_record(&ctx("Bus"), &json!({"Name": "b", "Description": "d"}))
        .await
        .unwrap();
    assert_eq!(EventBusProvider::state_of(&bus).physical_id, "b");
    let rules = RuleProvider::new(s.clone());
    let props = json!({
        "EventBusName": "b",
        "EventPattern": {"source": ["app"]},
        "Targets": [{"Id": "t", "Arn": LAMBDA, "RetryPolicy": {"MaximumRetryAttempts": "3"}}],
    });
    let rule = rules.create_record(&ctx("Rule"), &props).await.unwrap();
    let state = RuleProvider::state_of(&rule);
    assert!(
        state.physical_id.starts_with("b|stack-Rule-"),
        "{}",
        state.physical_id
    );
    assert_eq!(state.attributes["Arn"], json!(rule.arn));
    assert_eq!(
        rule.targets[0]["RetryPolicy"]["MaximumRetryAttempts"],
        json!(3)
    );
    assert_eq!(
        RuleProvider::intended_id(&ctx("Rule"), &props).as_deref(),
        Some(state.physical_id.as_str())
    );
    // A taken name.
    let again = rules.create_record(&ctx("Rule"), &props).await;
    assert!(
        matches!(again, Err(ProviderError::AlreadyExists(_))),
        "{again:?}"
    );
    // An unsupported target fails the resource.
    let bad = json!({"Name": "bad", "EventPattern": "{\"source\":[\"a\"]}",
                     "Targets": [{"Id": "q", "Arn": "arn:aws:sqs:us-east-1:1:q"}]});
    let refused = rules.create_record(&ctx("Bad"), &bad).await;
    assert!(
        matches!(&refused, Err(ProviderError::InvalidRequest(m)) if m.contains("Lambda functions")),
        "{refused:?}"
    );
    // Update: new pattern, targets replaced.
    let updated = rules
        .update_record(
            &ctx("Rule"),
            &state.physical_id,
            &json!({"EventBusName": "b", "EventPattern": "{\"source\":[\"other\"]}",
                    "State": "DISABLED", "Targets": [{"Id": "u", "Arn": LAMBDA}]}),
        )
        .await
        .unwrap();
    assert_eq!(updated.state, "DISABLED");
    assert_eq!(updated.targets.len(), 1);
    assert_eq!(updated.targets[0]["Id"], "u");
    // Delete (targets first), twice.
    rules
        .delete_record(&ctx("Rule"), &state.physical_id)
        .await
        .unwrap();
    rules
        .delete_record(&ctx("Rule"), &state.physical_id)
        .await
        .unwrap();
    assert!(
        rules
            .get_record(&ctx("Rule"), &state.physical_id)
            .await
            .unwrap()
            .is_none()
    );
    buses.delete_record(&ctx("Bus"), "b").await.unwrap();
    assert!(buses.get_record(&ctx("Bus"), "b").await.unwrap().is_none());
}

#[tokio::test]
async fn buses_update_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let (s, _, _) = bridge(dir.path()).await;
    let buses = EventBusProvider::new(s.clone());
    buses
        .create_record(&ctx("Bus"), &json!({"Name": "b"}))
        .await
        .unwrap();
    let updated = buses
        .update_record(
            &ctx("Bus"),
            "b",
            &json!({"Name": "b", "Description": "new", "Tags": [{"Key": "k", "Value": "v"}]}),
        )
        .await
        .unwrap();
    assert_eq!(updated.description.as_deref(), Some("new"));
    assert_eq!(s.bus("b").await.unwrap().tags.len(), 1);
    assert_eq!(providers(s).len(), 2);
}
