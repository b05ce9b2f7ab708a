//! The EventBridge events a stack operation publishes: one per stack event, in order,
//! with AWS's detail shapes, and nothing at all when the publisher wants none.

mod common;

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use common::*;
use sagestack_engine::*;
use serde_json::{Value, json};

/// Records every published event; wants the detail types in `wanted`.
struct Recorder {
    wanted: Vec<&'static str>,
    asked: AtomicUsize,
    published: Mutex<Vec<EmittedEvent>>,
    calls: AtomicUsize,
}

impl Recorder {
    fn wanting(wanted: &[&'static str]) -> Arc<Self> {
        Arc::new(Self {
            wanted: wanted.to_vec(),
            asked: AtomicUsize::new(0),
            published: Mutex::new(Vec::new()),
            calls: AtomicUsize::new(0),
        })
    }

    /// What has been published once `n` events have (delivery is asynchronous).
    async fn first(&self, n: usize) -> Vec<EmittedEvent> {
        tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                let published = self.published.lock().unwrap().clone();
                if published.len() >= n {
                    return published;
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
        .await
        .expect("the events were published")
    }
}

#[async_trait]
impl EventPublisher for Recorder {
    async fn publish(&self, events: Vec<EmittedEvent>) {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.published.lock().unwrap().extend(events);
    }

    fn wants(&self, source: &str, detail_type: &str) -> bool {
        self.asked.fetch_add(1, Ordering::SeqCst);
        source == "aws.cloudformation" && self.wanted.contains(&detail_type)
    }
}

fn engine(publisher: Arc<dyn EventPublisher>) -> (Engine, Arc<TestProvider>) {
    let provider = TestProvider::new();
    let mut providers = ProviderRegistry::new();
    providers.set_fallback(provider.clone());
    let config = EngineConfig::new("us-east-1", "123456789012");
    let mut parts = EngineParts::new(
        config,
        Arc::new(MemoryStore::new()),
        providers,
        Arc::new(TestPlans),
    );
    parts.clock = Arc::new(FakeClock::ticking(1_700_000_000_000, 1));
    parts.ids = Arc::new(SequentialIds::starting_at(0));
    parts.events = publisher;
    (Engine::new(parts), provider)
}

/// `(detail-type, logical id or "", status, reason)` of an event.
fn line(e: &EmittedEvent) -> (String, String, String, String) {
    let d = &e.detail;
    (
        e.detail_type.clone(),
        d.get("logical-resource-id")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        d["status-details"]["status"].as_str().unwrap().to_string(),
        d["status-details"]["status-reason"]
            .as_str()
            .unwrap()
            .to_string(),
    )
}

#[tokio::test]
async fn a_create_publishes_every_stack_and_resource_event_in_order() {
    let recorder = Recorder::wanting(&[STACK_STATUS_CHANGE, RESOURCE_STATUS_CHANGE]);
    let (engine, _) = engine(recorder.clone());
    let stack = create_on(&engine, "s", &chain(&["A", "B"])).await;
    assert_eq!(stack.status, StackStatus::CreateComplete);

    // One EventBridge event per stack event, in the stack's own order (max_parallel
    // does not matter here: B waits for A).
    let mut stored = engine
        .stack_events(&stack.stack_id, None, 1000)
        .await
        .unwrap();
    stored.reverse();
    let published = recorder.first(stored.len()).await;
    let s = STACK_STATUS_CHANGE.to_string();
    let r = RESOURCE_STATUS_CHANGE.to_string();
    let expect = |t: &String, l: &str, st: &str, why: &str| {
        (t.clone(), l.to_string(), st.to_string(), why.to_string())
    };
    assert_eq!(
        published.iter().map(line).collect::<Vec<_>>(),
        vec![
            expect(&s, "", "CREATE_IN_PROGRESS", "User Initiated"),
            expect(&r, "A", "CREATE_IN_PROGRESS", ""),
            expect(&r, "A", "CREATE_IN_PROGRESS", "Resource creation Initiated"),
            expect(&r, "A", "CREATE_COMPLETE", ""),
            expect(&r, "B", "CREATE_IN_PROGRESS", ""),
            expect(&r, "B", "CREATE_IN_PROGRESS", "Resource creation Initiated"),
            expect(&r, "B", "CREATE_COMPLETE", ""),
            expect(&s, "", "CREATE_COMPLETE", ""),
        ]
    );
    assert_eq!(published.len(), stored.len());
    for (e, ev) in published.iter().zip(&stored) {
        assert_eq!(e.source, "aws.cloudformation");
        assert_eq!(e.resources, vec![stack.stack_id.clone()]);
        assert_eq!(e.time, ev.timestamp);
        assert_eq!(e.detail["stack-id"], json!(stack.stack_id));
        assert_eq!(e.detail["client-request-token"], "");
    }

    // A resource's detail, complete: its physical id once the provider named it.
    let a = engine
        .list_stack_resources(&stack.stack_id)
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.logical_id == "A")
        .unwrap();
    assert_eq!(
        published[3].detail,
        json!({
            "stack-id": stack.stack_id,
            "logical-resource-id": "A",
            "physical-resource-id": a.physical_id.unwrap(),
            "status-details": {"status": "CREATE_COMPLETE", "status-reason": ""},
            "resource-type": "Test::R",
            "client-request-token": "",
        })
    );
    assert_eq!(published[1].detail["physical-resource-id"], "");
    assert_eq!(
        published[7].detail,
        json!({
            "stack-id": stack.stack_id,
            "status-details": {"status": "CREATE_COMPLETE", "status-reason": ""},
            "client-request-token": "",
        })
    );
}

#[tokio::test]
async fn a_failed_create_publishes_its_rollback() {
    let recorder = Recorder::wanting(&[STACK_STATUS_CHANGE]);
    let (engine, provider) = engine(recorder.clone());
    provider.fail_on("B", Op::Create);
    let stack = create_on(&engine, "s", &chain(&["A", "B"])).await;
    assert_eq!(stack.status, StackStatus::RollbackComplete);
    let published = recorder.first(3).await;
    let statuses: Vec<(String, String)> = published
        .iter()
        .map(|e| {
            let (_, _, status, reason) = line(e);
            (status, reason)
        })
        .collect();
    assert_eq!(
        statuses,
        [
            ("CREATE_IN_PROGRESS".into(), "User Initiated".into()),
            (
                "ROLLBACK_IN_PROGRESS".into(),
                "The following resource(s) failed to create: [B]. Rollback requested by user."
                    .into()
            ),
            ("ROLLBACK_COMPLETE".into(), String::new()),
        ]
    );
    // Only the stack's own events were wanted.
    assert!(
        published
            .iter()
            .all(|e| e.detail_type == STACK_STATUS_CHANGE)
    );
}

#[tokio::test]
async fn nothing_is_published_when_nothing_is_wanted() {
    let recorder = Recorder::wanting(&[]);
    let (engine, _) = engine(recorder.clone());
    let stack = create_on(&engine, "s", &chain(&["A", "B", "C"])).await;
    delete_on(&engine, &stack.stack_id).await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(recorder.published.lock().unwrap().is_empty());
    assert_eq!(recorder.calls.load(Ordering::SeqCst), 0);
    // Asked per write, not per event: fewer questions than events written.
    let events = engine
        .stack_events(&stack.stack_id, None, 1000)
        .await
        .unwrap();
    assert!(recorder.asked.load(Ordering::SeqCst) <= events.len());
}
