//! The `AWS::Logs::LogGroup` provider over a real state.

use super::*;
use sagestack_engine::{FakeClock, ResourceProvider};
use sagestack_store::SqliteStore;
use serde_json::json;

const NOW: i64 = 1_700_000_000_000;

async fn provider(dir: &std::path::Path) -> (LogGroupProvider, Arc<Logs>, FakeClock) {
    let store = Arc::new(SqliteStore::open(dir).await.unwrap());
    let clock = FakeClock::new(NOW);
    let scope = crate::Scope {
        region: "eu-west-1".into(),
        account_id: "123456789012".into(),
    };
    let logs = Arc::new(Logs::new(store, Arc::new(clock.clone()), scope));
    (LogGroupProvider::new(logs.clone()), logs, clock)
}

fn ctx(started: i64) -> ResourceContext {
    ResourceContext {
        region: "eu-west-1".into(),
        account_id: "123456789012".into(),
        partition: "aws".into(),
        stack_name: "web".into(),
        stack_id: "arn:aws:cloudformation:eu-west-1:123456789012:stack/web/1".into(),
        logical_id: "AppLogs".into(),
        resource_type: TYPE_NAME.into(),
        stack_tags: vec![("env".into(), "dev".into())],
        started,
    }
}

#[test]
fn generated_names_follow_cloudformation() {
    assert_eq!(generated_name("web", "AppLogs", "ABC"), "web-AppLogs-ABC");
    let long = generated_name(&"s".repeat(600), &"L".repeat(100), "ABCDEFGHIJKL");
    assert_eq!(long.len(), MAX_NAME);
    assert!(long.ends_with("-ABCDEFGHIJKL"));
    assert!(long.contains(&format!("-{}-", "L".repeat(100))));
    let n = name(&ctx(NOW), &json!({}));
    assert!(n.starts_with("web-AppLogs-"), "{n}");
    assert_eq!(n, name(&ctx(NOW), &json!({})), "fixed by the attempt");
    assert_ne!(n, name(&ctx(NOW + 1), &json!({})));
    assert_eq!(name(&ctx(NOW), &json!({"LogGroupName": "x"})), "x");
}

#[tokio::test]
async fn create_update_read_delete() {
    let dir = tempfile::tempdir().unwrap();
    let (p, logs, _) = provider(dir.path()).await;
    let c = ctx(NOW);
    let props = json!({"LogGroupName": "/app", "RetentionInDays": 7,
        "Tags": [{"Key": "team", "Value": "ml"}]});
    let state = p.create(&c, &props).await.unwrap();
    assert_eq!(state.physical_id, "/app");
    assert_eq!(
        state.attributes["Arn"],
        "arn:aws:logs:eu-west-1:123456789012:log-group:/app:*"
    );
    let g = logs.group("/app").await.unwrap().unwrap();
    assert_eq!(g.retention_in_days, Some(7));
    assert_eq!(g.tags["team"], "ml");
    assert_eq!(g.tags["env"], "dev", "stack tags propagate");
    let e = p.create(&c, &props).await.unwrap_err();
    assert!(matches!(e, ProviderError::AlreadyExists(_)), "{e}");

    let changed = json!({"LogGroupName": "/app", "RetentionInDays": "30"});
    p.update(&c, &state, &props, &changed).await.unwrap();
    let g = logs.group("/app").await.unwrap().unwrap();
    assert_eq!(g.retention_in_days, Some(30));
    assert!(!g.tags.contains_key("team"));
    let e = p
        .update(&c, &state, &props, &json!({"RetentionInDays": 8}))
        .await
        .unwrap_err();
    assert!(matches!(e, ProviderError::InvalidRequest(_)), "{e}");

    assert_eq!(
        p.read(&c, &state, &props).await.unwrap(),
        Some(state.clone())
    );
    p.delete(&c, &state, &props).await.unwrap();
    assert_eq!(p.read(&c, &state, &props).await.unwrap(), None);
    // Already gone is deleted.
    p.delete(&c, &state, &props).await.unwrap();
    let e = p.update(&c, &state, &props, &changed).await.unwrap_err();
    assert!(matches!(e, ProviderError::NotFound(_)), "{e}");
    let e = p
        .create(&c, &json!({"LogGroupName": "bad name"}))
        .await
        .unwrap_err();
    assert!(matches!(e, ProviderError::InvalidRequest(_)), "{e}");
}

#[tokio::test]
async fn an_interrupted_create_is_found_by_its_generated_name() {
    let dir = tempfile::tempdir().unwrap();
    let (p, _, clock) = provider(dir.path()).await;
    let c = ctx(NOW);
    let made = p.create(&c, &json!({})).await.unwrap();
    assert!(made.physical_id.starts_with("web-AppLogs-"));
    let found = p
        .find_interrupted_create(&c, &json!({}), NOW)
        .await
        .unwrap();
    assert_eq!(found, Some(made));
    // A group older than the create belongs to someone else.
    clock.advance(10);
    p.create(&c, &json!({"LogGroupName": "older"}))
        .await
        .unwrap();
    let named = json!({"LogGroupName": "older"});
    assert_eq!(
        p.find_interrupted_create(&c, &named, NOW + 11)
            .await
            .unwrap(),
        None
    );
}
