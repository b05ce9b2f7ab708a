//! The state's rules over a real SQLite store and a fake clock: buses, rules, targets,
//! tags, PutEvents into the outbox, schedules, memory reloaded after a restart.

use std::collections::BTreeMap;
use std::sync::Arc;

use sagestack_engine::{EmittedEvent, EventPublisher, FakeClock};
use sagestack_store::{CatalogKind, SqliteStore};
use serde_json::{Map, Value, json};

use super::*;
use crate::accept::{EntryResult, PutEventsEntry};

pub(crate) const NOW: i64 = 1_700_000_000_000;

pub(crate) fn scope() -> Scope {
    Scope {
        region: "us-east-1".into(),
        account_id: "123456789012".into(),
    }
}

pub(crate) async fn bridge(
    dir: &std::path::Path,
) -> (Arc<EventBridge>, Arc<SqliteStore>, FakeClock) {
    let store = Arc::new(SqliteStore::open(dir).await.unwrap());
    let clock = FakeClock::new(NOW);
    let state = EventBridge::new(store.clone(), Arc::new(clock.clone()), scope());
    (Arc::new(state), store, clock)
}

pub(crate) fn pattern_rule(name: &str, pattern: Value) -> NewRule {
    NewRule {
        name: name.into(),
        event_pattern: Some(pattern.to_string()),
        ..NewRule::default()
    }
}

pub(crate) fn target(id: &str, arn: &str) -> Map<String, Value> {
    json!({"Id": id, "Arn": arn}).as_object().unwrap().clone()
}

pub(crate) const LAMBDA: &str = "arn:aws:lambda:us-east-1:123456789012:function:f";

pub(crate) fn entry(source: &str, detail: Value) -> PutEventsEntry {
    PutEventsEntry {
        source: Some(source.into()),
        detail_type: Some("Thing Happened".into()),
        detail: Some(detail.to_string()),
        ..PutEventsEntry::default()
    }
}

async fn outbox_len(store: &SqliteStore) -> usize {
    sagestack_store::catalog_all(store, CatalogKind::EventOutbox)
        .await
        .unwrap()
        .len()
}

#[tokio::test]
async fn buses_exist_are_listed_and_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let (s, _, _) = bridge(dir.path()).await;
    let default = s.bus("default").await.unwrap();
    assert_eq!(
        default.arn,
        "arn:aws:events:us-east-1:123456789012:event-bus/default"
    );
    let b = s
        .create_bus("orders", Some("d".into()), BTreeMap::new())
        .await
        .unwrap();
    assert_eq!(
        b.arn,
        "arn:aws:events:us-east-1:123456789012:event-bus/orders"
    );
    assert_eq!(
        s.create_bus("orders", None, BTreeMap::new())
            .await
            .unwrap_err(),
        EventsError::ResourceAlreadyExists("Event bus orders already exists.".into())
    );
    assert!(matches!(
        s.create_bus("default", None, BTreeMap::new()).await,
        Err(EventsError::ResourceAlreadyExists(_))
    ));
    assert!(matches!(
        s.create_bus("a/b", None, BTreeMap::new()).await,
        Err(EventsError::Validation(_))
    ));
    let names: Vec<String> = s
        .buses(None)
        .await
        .unwrap()
        .into_iter()
        .map(|b| b.name)
        .collect();
    assert_eq!(names, ["default", "orders"]);
    assert_eq!(s.buses(Some("or")).await.unwrap().len(), 1);
    assert_eq!(
        s.delete_bus("default").await.unwrap_err(),
        EventsError::Validation("Cannot delete event bus default.".into())
    );
    s.put_rule(NewRule {
        event_bus_name: Some("orders".into()),
        ..pattern_rule("r", json!({"source": ["a"]}))
    })
    .await
    .unwrap();
    s.delete_bus("orders").await.unwrap();
    s.delete_bus("orders").await.unwrap();
    assert_eq!(
        s.bus("orders").await.unwrap_err().to_string(),
        "Event bus orders does not exist."
    );
    assert!(
        s.rule_now("orders", "r").is_none(),
        "the bus's rules went with it"
    );
}

#[tokio::test]
async fn rules_are_created_updated_listed_and_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let (s, _, _) = bridge(dir.path()).await;
    let r = s
        .put_rule(pattern_rule("r1", json!({"source": ["a"]})))
        .await
        .unwrap();
    assert_eq!(r.arn, "arn:aws:events:us-east-1:123456789012:rule/r1");
    assert_eq!(r.state, "ENABLED");
    s.create_bus("orders", None, BTreeMap::new()).await.unwrap();
    let on_bus = s
        .put_rule(NewRule {
            event_bus_name: Some("orders".into()),
            ..pattern_rule("r1", json!({"source": ["a"]}))
        })
        .await
        .unwrap();
    assert_eq!(
        on_bus.arn,
        "arn:aws:events:us-east-1:123456789012:rule/orders/r1"
    );
    // Validation.
    let neither = s
        .put_rule(NewRule {
            name: "x".into(),
            ..NewRule::default()
        })
        .await;
    assert_eq!(
        neither.unwrap_err().to_string(),
        "Parameter(s) EventPattern or ScheduleExpression must be specified."
    );
    let scheduled_elsewhere = s
        .put_rule(NewRule {
            name: "x".into(),
            event_bus_name: Some("orders".into()),
            schedule_expression: Some("rate(5 minutes)".into()),
            ..NewRule::default()
        })
        .await;
    assert_eq!(
        scheduled_elsewhere.unwrap_err().to_string(),
        "ScheduleExpression is supported only on the default event bus."
    );
    assert!(matches!(
        s.put_rule(pattern_rule("x", json!({"source": "a"}))).await,
        Err(EventsError::InvalidEventPattern(_))
    ));
    let nobus = s
        .put_rule(NewRule {
            event_bus_name: Some("nope".into()),
            ..pattern_rule("x", json!({}))
        })
        .await;
    assert_eq!(
        nobus.unwrap_err().to_string(),
        "Event bus nope does not exist."
    );
    // Update keeps targets and tags, changes the rest.
    s.put_targets("default", "r1", vec![target("t", LAMBDA)])
        .await
        .unwrap();
    s.retag(&r.arn, BTreeMap::from([("k".into(), "v".into())]), &[])
        .await
        .unwrap();
    let updated = s
        .put_rule(NewRule {
            description: Some("d".into()),
            state: Some("DISABLED".into()),
            ..pattern_rule("r1", json!({"source": ["b"]}))
        })
        .await
        .unwrap();
    assert_eq!(updated.targets.len(), 1);
    assert_eq!(updated.tags.len(), 1);
    assert_eq!(updated.description.as_deref(), Some("d"));
    assert!(!updated.is_enabled());
    // Listing.
    s.put_rule(pattern_rule("r2", json!({"source": ["a"]})))
        .await
        .unwrap();
    let names = |rules: Vec<Arc<Rule>>| rules.iter().map(|r| r.name.clone()).collect::<Vec<_>>();
    assert_eq!(names(s.rules("default", None).await.unwrap()), ["r1", "r2"]);
    assert_eq!(names(s.rules("default", Some("r2")).await.unwrap()), ["r2"]);
    assert_eq!(names(s.rules("orders", None).await.unwrap()), ["r1"]);
    assert_eq!(
        s.rule_names_by_target("default", LAMBDA).await.unwrap(),
        ["r1"]
    );
    // Deletion: refused with targets, idempotent without.
    assert_eq!(
        s.delete_rule("default", "r1")
            .await
            .unwrap_err()
            .to_string(),
        "Rule can't be deleted since it has targets."
    );
    s.remove_targets("default", "r1", &["t".into(), "unknown".into()])
        .await
        .unwrap();
    s.delete_rule("default", "r1").await.unwrap();
    s.delete_rule("default", "r1").await.unwrap();
    assert_eq!(
        s.rule("default", "r1").await.unwrap_err().to_string(),
        "Rule r1 does not exist on EventBus default."
    );
    assert!(matches!(
        s.set_enabled("default", "r1", true).await,
        Err(EventsError::ResourceNotFound(_))
    ));
}

#[tokio::test]
async fn targets_are_checked_and_limited() {
    let dir = tempfile::tempdir().unwrap();
    let (s, _, _) = bridge(dir.path()).await;
    s.put_rule(pattern_rule("r", json!({"source": ["a"]})))
        .await
        .unwrap();
    let out = s
        .put_targets(
            "default",
            "r",
            vec![
                target("ok", LAMBDA),
                target("sqs", "arn:aws:sqs:us-east-1:123456789012:q"),
                target("pipe", "arn:aws:codepipeline:us-east-1:123456789012:p"),
                target(
                    "build",
                    "arn:aws:codebuild:us-east-1:123456789012:project/b",
                ),
                target(
                    "bus",
                    "arn:aws:events:us-east-1:123456789012:event-bus/default",
                ),
            ],
        )
        .await
        .unwrap();
    assert_eq!(out.failed.len(), 1);
    assert_eq!(out.failed[0].0, "sqs");
    assert!(
        out.failed[0].2.contains("Lambda functions"),
        "{}",
        out.failed[0].2
    );
    assert_eq!(s.rule("default", "r").await.unwrap().targets.len(), 4);
    // Replacing by id does not count twice; a sixth distinct target is refused whole.
    s.put_targets(
        "default",
        "r",
        vec![target("ok", LAMBDA), target("five", LAMBDA)],
    )
    .await
    .unwrap();
    let over = s
        .put_targets("default", "r", vec![target("six", LAMBDA)])
        .await;
    assert!(
        matches!(over, Err(EventsError::LimitExceeded(_))),
        "{over:?}"
    );
    assert_eq!(s.rule("default", "r").await.unwrap().targets.len(), 5);
    let missing = s
        .put_targets("default", "nope", vec![target("a", LAMBDA)])
        .await;
    assert_eq!(
        missing.unwrap_err().to_string(),
        "Rule nope does not exist on EventBus default."
    );
}

#[tokio::test]
async fn tags_on_buses_and_rules() {
    let dir = tempfile::tempdir().unwrap();
    let (s, _, _) = bridge(dir.path()).await;
    let bus = s.bus("default").await.unwrap();
    s.retag(
        &bus.arn,
        BTreeMap::from([("a".into(), "1".into()), ("b".into(), "2".into())]),
        &[],
    )
    .await
    .unwrap();
    s.retag(&bus.arn, BTreeMap::new(), &["a".into()])
        .await
        .unwrap();
    assert_eq!(
        s.tags(&bus.arn).await.unwrap(),
        BTreeMap::from([("b".into(), "2".into())])
    );
    let missing = s.tags(&s.scope().rule_arn("default", "none")).await;
    assert!(matches!(missing, Err(EventsError::ResourceNotFound(_))));
    let too_many: BTreeMap<String, String> =
        (0..51).map(|i| (format!("k{i}"), "v".into())).collect();
    assert!(matches!(
        s.retag(&bus.arn, too_many, &[]).await,
        Err(EventsError::LimitExceeded(_))
    ));
}

#[tokio::test]
async fn put_events_answers_per_entry_and_queues_only_matches() {
    let dir = tempfile::tempdir().unwrap();
    let (s, store, _) = bridge(dir.path()).await;
    s.put_rule(pattern_rule(
        "r",
        json!({"source": ["app"], "detail": {"n": [1]}}),
    ))
    .await
    .unwrap();
    let results = s
        .put_events(vec![
            entry("app", json!({"n": 1})),
            entry("app", json!({"n": 2})),
            PutEventsEntry {
                source: None,
                ..entry("app", json!({}))
            },
            PutEventsEntry {
                detail_type: None,
                ..entry("app", json!({}))
            },
            PutEventsEntry {
                detail: None,
                ..entry("app", json!({}))
            },
            PutEventsEntry {
                detail: Some("[1]".into()),
                ..entry("app", json!({}))
            },
            PutEventsEntry {
                event_bus_name: Some("nope".into()),
                ..entry("app", json!({"n": 1}))
            },
        ])
        .await
        .unwrap();
    assert!(matches!(&results[0], EntryResult::Accepted(id) if id.len() == 36));
    assert!(matches!(&results[1], EntryResult::Accepted(_)));
    let failure = |r: &EntryResult| match r {
        EntryResult::Failed { code, message } => (code.clone(), message.clone()),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        failure(&results[2]),
        (
            "InvalidArgument".into(),
            "Parameter Source is not valid. Reason: Source is a required argument.".into()
        )
    );
    assert!(
        failure(&results[3])
            .1
            .contains("DetailType is a required argument")
    );
    assert!(
        failure(&results[4])
            .1
            .contains("Detail is a required argument")
    );
    assert_eq!(
        failure(&results[5]),
        ("MalformedDetail".into(), "Detail is malformed.".into())
    );
    assert!(
        matches!(&results[6], EntryResult::Accepted(_)),
        "an unknown bus drops, as AWS"
    );
    // One document for the call, holding the one match.
    let batches = s.outbox().await.unwrap();
    assert_eq!(batches.len(), 1);
    let (_, batch) = &batches[0];
    assert_eq!(batch.matches, vec![(0, "r".to_string())]);
    let e = &batch.events[0];
    assert_eq!(e["version"], "0");
    assert_eq!(e["source"], "app");
    assert_eq!(e["detail-type"], "Thing Happened");
    assert_eq!(e["account"], "123456789012");
    assert_eq!(e["region"], "us-east-1");
    assert_eq!(e["time"], "2023-11-14T22:13:20Z");
    assert_eq!(e["detail"], json!({"n": 1}));
    assert_eq!(e["resources"], json!([]));
    // Nothing matched: nothing written.
    s.put_events(vec![entry("other", json!({}))]).await.unwrap();
    assert_eq!(outbox_len(&store).await, 1);
    assert_eq!(s.rule_stats(&s.scope().rule_arn("default", "r")).matched, 1);
    // The size limit.
    let big = "x".repeat(140 * 1024);
    let two = vec![
        entry("app", json!({"a": big})),
        entry("app", json!({"a": big})),
    ];
    assert_eq!(
        s.put_events(two).await.unwrap_err().to_string(),
        "Total size of the entries in the request is over the limit."
    );
}

#[tokio::test]
async fn disabled_rules_do_not_match_and_memory_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (s, _, _) = bridge(dir.path()).await;
        s.put_rule(pattern_rule("on", json!({"source": ["app"]})))
            .await
            .unwrap();
        s.put_rule(pattern_rule("off", json!({"source": ["app"]})))
            .await
            .unwrap();
        s.set_enabled("default", "off", false).await.unwrap();
        assert!(s.wants("app", "x"));
        assert!(!s.wants("other", "x"));
    }
    let (s, _, _) = bridge(dir.path()).await;
    assert!(s.wants("app", "x"), "not loaded yet: yes");
    s.put_events(vec![entry("app", json!({}))]).await.unwrap();
    let batches = s.outbox().await.unwrap();
    assert_eq!(batches[0].1.matches, vec![(0, "on".to_string())]);
    assert!(!s.wants("other", "x"));
}

#[tokio::test]
async fn emitted_events_go_to_the_default_bus() {
    let dir = tempfile::tempdir().unwrap();
    let (s, _, _) = bridge(dir.path()).await;
    s.put_rule(pattern_rule(
        "stacks",
        json!({"source": ["aws.cloudformation"], "detail": {"status-details": {"status": ["CREATE_COMPLETE"]}}}),
    ))
    .await
    .unwrap();
    let publisher: &dyn EventPublisher = &*s;
    publisher
        .publish(vec![EmittedEvent {
            source: "aws.cloudformation".into(),
            detail_type: "CloudFormation Stack Status Change".into(),
            resources: vec!["arn:stack".into()],
            detail: json!({"status-details": {"status": "CREATE_COMPLETE"}}),
            time: NOW + 1000,
        }])
        .await;
    let batches = s.outbox().await.unwrap();
    assert_eq!(batches.len(), 1);
    assert_eq!(batches[0].1.events[0]["resources"], json!(["arn:stack"]));
    assert_eq!(batches[0].1.events[0]["time"], "2023-11-14T22:13:21Z");
}

#[tokio::test]
async fn scheduled_rules_fire_on_the_fake_clock() {
    let dir = tempfile::tempdir().unwrap();
    let (s, _, clock) = bridge(dir.path()).await;
    let rule = s
        .put_rule(NewRule {
            name: "every5".into(),
            schedule_expression: Some("rate(5 minutes)".into()),
            ..NewRule::default()
        })
        .await
        .unwrap();
    assert_eq!(s.next_firing(), Some(NOW + 300_000));
    assert_eq!(s.fire_due(NOW + 299_999).await.unwrap(), 0);
    clock.set(NOW + 300_000);
    assert_eq!(s.fire_due(NOW + 300_000).await.unwrap(), 1);
    assert_eq!(
        s.fire_due(NOW + 300_001).await.unwrap(),
        0,
        "once per period"
    );
    assert_eq!(s.next_firing(), Some(NOW + 600_000));
    let batches = s.outbox().await.unwrap();
    let e = &batches[0].1.events[0];
    assert_eq!(e["detail-type"], "Scheduled Event");
    assert_eq!(e["source"], "aws.events");
    assert_eq!(e["resources"], json!([rule.arn]));
    assert_eq!(e["detail"], json!({}));
    // Missed firings (the process was down) fire once, then continue from now.
    assert_eq!(s.fire_due(NOW + 2_000_000).await.unwrap(), 1);
    assert_eq!(s.next_firing(), Some(NOW + 2_300_000));
    // Disabled: no firing.
    s.set_enabled("default", "every5", false).await.unwrap();
    assert_eq!(s.next_firing(), None);
    assert_eq!(s.fire_due(NOW + 9_000_000).await.unwrap(), 0);
}

#[tokio::test]
async fn reset_forgets_rules_buses_and_the_outbox_and_keeps_the_default_bus() {
    let dir = tempfile::tempdir().unwrap();
    let (s, store, _) = bridge(dir.path()).await;
    s.create_bus("orders", None, BTreeMap::new()).await.unwrap();
    s.put_rule(pattern_rule("r1", json!({"source": ["a"]})))
        .await
        .unwrap();
    s.put_targets("default", "r1", vec![target("t", LAMBDA)])
        .await
        .unwrap();
    s.put_events(vec![entry("a", json!({}))]).await.unwrap();
    assert_eq!(outbox_len(&store).await, 1);
    sagestack_store::Store::reset(&*store).await.unwrap();
    s.reset().await.unwrap();
    assert!(s.rule("default", "r1").await.is_err());
    let buses: Vec<String> = s
        .buses(None)
        .await
        .unwrap()
        .into_iter()
        .map(|b| b.name)
        .collect();
    assert_eq!(buses, ["default"]);
    // Nothing matches any more, so nothing reaches the outbox.
    s.put_events(vec![entry("a", json!({}))]).await.unwrap();
    assert_eq!(outbox_len(&store).await, 0);
    // The same names again.
    s.create_bus("orders", None, BTreeMap::new()).await.unwrap();
    s.put_rule(pattern_rule("r1", json!({"source": ["a"]})))
        .await
        .unwrap();
}
