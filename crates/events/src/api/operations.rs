//! The operations through the API, as a client's decoded input reaches them: model
//! validation, shapes of the answers, pagination tokens.

use sagestack_engine::FakeClock;
use sagestack_store::SqliteStore;

use super::*;
use crate::state::tests::scope;

async fn service(dir: &std::path::Path) -> EventsService {
    let store = Arc::new(SqliteStore::open(dir).await.unwrap());
    let clock = Arc::new(FakeClock::new(1_700_000_000_000));
    EventsService::new(Arc::new(EventBridge::new(store, clock, scope())))
}

async fn run(s: &EventsService, op: &str, input: Value) -> Result<Value> {
    let ctx = RequestContext::new("us-east-1", "123456789012");
    s.handle(&ctx, op, input)
        .await
        .map(|o| o.into_value().unwrap())
}

#[test]
fn the_model_loads() {
    assert!(MODEL.has_operation("PutRule"));
    assert!(MODEL.has_operation("PutEvents"));
}

#[tokio::test]
async fn answers_have_aws_s_shapes() {
    let dir = tempfile::tempdir().unwrap();
    let s = service(dir.path()).await;
    let out = run(
        &s,
        "PutRule",
        json!({"Name": "r", "EventPattern": "{\"source\":[\"a\"]}"}),
    )
    .await
    .unwrap();
    assert_eq!(
        out,
        json!({"RuleArn": "arn:aws:events:us-east-1:123456789012:rule/r"})
    );
    let rules = run(&s, "ListRules", json!({})).await.unwrap();
    assert_eq!(rules["Rules"][0]["Name"], "r");
    assert!(rules.get("NextToken").is_none());
    let out = run(
        &s,
        "PutTargets",
        json!({"Rule": "r", "Targets": [{"Id": "q", "Arn": "arn:aws:sqs:us-east-1:1:q"}]}),
    )
    .await
    .unwrap();
    assert_eq!(out["FailedEntryCount"], 1);
    assert_eq!(out["FailedEntries"][0]["TargetId"], "q");
    let out = run(
        &s,
        "PutEvents",
        json!({"Entries": [{"Source": "a", "DetailType": "d", "Detail": "{}"}, {"Source": "a"}]}),
    )
    .await
    .unwrap();
    assert_eq!(out["FailedEntryCount"], 1);
    assert!(out["Entries"][0]["EventId"].is_string());
    assert_eq!(out["Entries"][1]["ErrorCode"], "InvalidArgument");
}

#[tokio::test]
async fn model_violations_and_tokens_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let s = service(dir.path()).await;
    let e = run(
        &s,
        "PutRule",
        json!({"Name": "bad name", "EventPattern": "{}"}),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&e, EventsError::Validation(m) if m.contains("'name'")),
        "{e:?}"
    );
    let e = run(&s, "PutEvents", json!({"Entries": []}))
        .await
        .unwrap_err();
    assert!(matches!(e, EventsError::Validation(_)));
    let e = run(&s, "ListRules", json!({"NextToken": "garbage"}))
        .await
        .unwrap_err();
    assert_eq!(e.to_string(), "The NextToken is not valid.");
    assert_eq!(decode_token(&encode_token("a/b")).unwrap(), "a/b");
    let e = run(&s, "PutPermission", json!({})).await.unwrap_err();
    assert!(matches!(e, EventsError::UnknownOperation(_)));
}

#[tokio::test]
async fn event_bus_settings_are_kept_updated_and_answered() {
    let dir = tempfile::tempdir().unwrap();
    let s = service(dir.path()).await;
    let dlq = json!({"Arn": "arn:aws:sqs:us-east-1:123456789012:dlq"});
    let out = run(
        &s,
        "CreateEventBus",
        json!({"Name": "orders", "Description": "first", "KmsKeyIdentifier": "alias/k",
               "DeadLetterConfig": dlq, "LogConfig": {"IncludeDetail": "FULL", "Level": "INFO"}}),
    )
    .await
    .unwrap();
    assert_eq!(
        out,
        json!({"EventBusArn": "arn:aws:events:us-east-1:123456789012:event-bus/orders",
               "Description": "first", "KmsKeyIdentifier": "alias/k", "DeadLetterConfig": dlq,
               "LogConfig": {"IncludeDetail": "FULL", "Level": "INFO"}})
    );
    // Absent description: kept; the other settings: replaced (here, removed).
    let out = run(&s, "UpdateEventBus", json!({"Name": "orders"}))
        .await
        .unwrap();
    assert_eq!(
        out,
        json!({"Arn": "arn:aws:events:us-east-1:123456789012:event-bus/orders",
               "Name": "orders", "Description": "first"})
    );
    run(
        &s,
        "UpdateEventBus",
        json!({"Name": "orders", "Description": "second", "DeadLetterConfig": dlq}),
    )
    .await
    .unwrap();
    let described = run(&s, "DescribeEventBus", json!({"Name": "orders"}))
        .await
        .unwrap();
    assert_eq!(described["Description"], "second");
    assert_eq!(described["DeadLetterConfig"], dlq);
    assert!(described.get("KmsKeyIdentifier").is_none());
    // ListEventBuses' items carry the description only.
    let listed = run(&s, "ListEventBuses", json!({"NamePrefix": "orders"}))
        .await
        .unwrap();
    assert!(listed["EventBuses"][0].get("DeadLetterConfig").is_none());
    assert_eq!(listed["EventBuses"][0]["Description"], "second");
    // "" removes the description; no Name is the default bus.
    run(
        &s,
        "UpdateEventBus",
        json!({"Name": "orders", "Description": ""}),
    )
    .await
    .unwrap();
    let described = run(&s, "DescribeEventBus", json!({"Name": "orders"}))
        .await
        .unwrap();
    assert!(described.get("Description").is_none());
    let out = run(&s, "UpdateEventBus", json!({"Description": "d"}))
        .await
        .unwrap();
    assert_eq!(out["Name"], "default");
    let e = run(&s, "UpdateEventBus", json!({"Name": "nope"}))
        .await
        .unwrap_err();
    assert_eq!(
        e,
        EventsError::ResourceNotFound("Event bus nope does not exist.".into())
    );
    let e = run(
        &s,
        "UpdateEventBus",
        json!({"Name": "orders", "KmsKeyIdentifier": "bad key!"}),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&e, EventsError::Validation(m) if m.contains("kmsKeyIdentifier")),
        "{e:?}"
    );
}
