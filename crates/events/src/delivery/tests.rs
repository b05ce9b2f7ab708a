//! The delivery task against a fake [`Targets`]: order per rule and target, transforms,
//! retries with backoff, giving up, recovery of an outbox left by a previous process,
//! bus-to-bus forwarding, scheduled rules on a fake clock.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use serde_json::json;

use super::*;
use crate::accept::PutEventsEntry;
use crate::state::NewRule;
use crate::state::tests::{LAMBDA, NOW, bridge, entry, pattern_rule, target};

/// Records every call; a target id's scripted failures come first.
#[derive(Default)]
struct Recorder {
    calls: Mutex<Vec<(String, String, Value)>>,
    /// Target id -> failures still to give (`u32::MAX`: always).
    failures: Mutex<HashMap<String, u32>>,
    permanent: Mutex<Vec<String>>,
}

impl Recorder {
    fn failing(self, id: &str, times: u32) -> Self {
        self.failures.lock().unwrap().insert(id.into(), times);
        self
    }

    fn delivered(&self, id: &str) -> Vec<(String, Value)> {
        let calls = self.calls.lock().unwrap();
        calls
            .iter()
            .filter(|(t, _, _)| t == id)
            .map(|(_, input, event)| (input.clone(), event.clone()))
            .collect()
    }
}

#[async_trait]
impl Targets for Recorder {
    async fn deliver(
        &self,
        t: &TargetRef,
        input: String,
        event: &Value,
    ) -> Result<(), DeliveryError> {
        if self.permanent.lock().unwrap().contains(&t.id) {
            return Err(DeliveryError::Permanent("no such function".into()));
        }
        if let Some(left) = self.failures.lock().unwrap().get_mut(&t.id)
            && *left > 0
        {
            *left = left.saturating_sub(if *left == u32::MAX { 0 } else { 1 });
            return Err(DeliveryError::Retryable("busy".into()));
        }
        self.calls
            .lock()
            .unwrap()
            .push((t.id.clone(), input, event.clone()));
        Ok(())
    }
}

fn fast() -> DeliveryConfig {
    DeliveryConfig {
        initial_backoff: Duration::from_millis(2),
        max_backoff: Duration::from_millis(10),
        tick: Duration::from_millis(20),
    }
}

async fn until(what: &str, mut check: impl FnMut() -> bool) {
    for _ in 0..500 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting for {what}");
}

async fn outbox_empty(state: &EventBridge) {
    for _ in 0..500 {
        if state.outbox().await.unwrap().is_empty() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the outbox was never emptied");
}

fn numbered(n: i64) -> PutEventsEntry {
    entry("app", json!({"n": n}))
}

/// Rule `r` on the default bus (events from `app`), with `targets`.
async fn rule_r(s: &EventBridge, targets: Vec<Map<String, Value>>) {
    s.put_rule(pattern_rule("r", json!({"source": ["app"]})))
        .await
        .unwrap();
    s.put_targets("default", "r", targets).await.unwrap();
}

/// The delivery task over `s`, reaching `recorder`, on [`fast`] timings.
fn deliver_to(s: &Arc<EventBridge>, recorder: &Arc<Recorder>) -> Delivery {
    Delivery::start_with(s.clone(), recorder.clone(), fast())
}

/// Waits until `recorder` has had `n` calls.
async fn until_calls(recorder: &Recorder, n: usize, what: &str) {
    until(what, || recorder.calls.lock().unwrap().len() == n).await;
}

#[tokio::test]
async fn events_reach_each_target_in_order_with_their_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let (s, _, _) = bridge(dir.path()).await;
    let mut constant = target("constant", LAMBDA);
    constant.insert("Input".into(), json!("{\"fixed\":true}"));
    let mut shaped = target("shaped", LAMBDA);
    shaped.insert(
        "InputTransformer".into(),
        json!({"InputPathsMap": {"n": "$.detail.n"}, "InputTemplate": "{\"number\": <n>, \"rule\": \"<aws.events.rule-name>\"}"}),
    );
    rule_r(&s, vec![target("whole", LAMBDA), constant, shaped]).await;
    let recorder = Arc::new(Recorder::default());
    let _delivery = deliver_to(&s, &recorder);
    s.put_events(vec![numbered(1), numbered(2)]).await.unwrap();
    s.put_events(vec![numbered(3)]).await.unwrap();
    until_calls(&recorder, 9, "nine deliveries").await;
    let whole = recorder.delivered("whole");
    let ns: Vec<Value> = whole
        .iter()
        .map(|(_, e)| e["detail"]["n"].clone())
        .collect();
    assert_eq!(ns, [json!(1), json!(2), json!(3)]);
    let (input, event) = &whole[0];
    assert_eq!(serde_json::from_str::<Value>(input).unwrap(), *event);
    assert!(
        recorder
            .delivered("constant")
            .iter()
            .all(|(i, _)| i == "{\"fixed\":true}")
    );
    let shaped: Vec<String> = recorder
        .delivered("shaped")
        .into_iter()
        .map(|(i, _)| i)
        .collect();
    assert_eq!(shaped[2], "{\"number\": 3, \"rule\": \"r\"}");
    outbox_empty(&s).await;
    let counts = s.rule_stats(&s.scope().rule_arn("default", "r"));
    assert_eq!(counts.matched, 3);
    assert_eq!(counts.targets["whole"].delivered, 3);
    assert_eq!(
        s.stats()["rules"][s.scope().rule_arn("default", "r")]["targets"]["shaped"]["delivered"],
        3
    );
}

#[tokio::test]
async fn failures_are_retried_with_backoff_and_order_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let (s, _, _) = bridge(dir.path()).await;
    rule_r(&s, vec![target("flaky", LAMBDA), target("fine", LAMBDA)]).await;
    let recorder = Arc::new(Recorder::default().failing("flaky", 3));
    let _delivery = deliver_to(&s, &recorder);
    s.put_events(vec![numbered(1)]).await.unwrap();
    s.put_events(vec![numbered(2)]).await.unwrap();
    until_calls(&recorder, 4, "both events at both targets").await;
    let flaky: Vec<Value> = recorder
        .delivered("flaky")
        .iter()
        .map(|(_, e)| e["detail"]["n"].clone())
        .collect();
    assert_eq!(
        flaky,
        [json!(1), json!(2)],
        "the second waited for the first's retries"
    );
    let counts = s.rule_stats(&s.scope().rule_arn("default", "r"));
    assert_eq!(counts.targets["flaky"].failed_attempts, 3);
    assert_eq!(counts.targets["flaky"].delivered, 2);
    assert_eq!(counts.targets["fine"].failed_attempts, 0);
    outbox_empty(&s).await;
}

#[tokio::test]
async fn deliveries_are_given_up_within_the_retry_policy() {
    let dir = tempfile::tempdir().unwrap();
    let (s, _, clock) = bridge(dir.path()).await;
    let mut twice = target("twice", LAMBDA);
    twice.insert("RetryPolicy".into(), json!({"MaximumRetryAttempts": 2}));
    let mut aged = target("aged", LAMBDA);
    aged.insert(
        "RetryPolicy".into(),
        json!({"MaximumEventAgeInSeconds": 60}),
    );
    rule_r(&s, vec![twice, aged, target("gone", LAMBDA)]).await;
    let recorder = Arc::new(
        Recorder::default()
            .failing("twice", u32::MAX)
            .failing("aged", u32::MAX),
    );
    recorder.permanent.lock().unwrap().push("gone".into());
    s.put_events(vec![numbered(1)]).await.unwrap();
    // The event is older than "aged" allows by the time it is retried.
    clock.advance(61_000);
    let _delivery = deliver_to(&s, &recorder);
    outbox_empty(&s).await;
    let counts = s.rule_stats(&s.scope().rule_arn("default", "r"));
    assert_eq!(
        counts.targets["twice"].failed_attempts, 3,
        "one attempt and two retries"
    );
    assert_eq!(counts.targets["twice"].given_up, 1);
    assert_eq!(counts.targets["aged"].failed_attempts, 1);
    assert_eq!(counts.targets["aged"].given_up, 1);
    assert_eq!(counts.targets["gone"].given_up, 1);
    assert_eq!(counts.targets["gone"].failed_attempts, 0);
    assert!(recorder.calls.lock().unwrap().is_empty());
}

#[tokio::test]
async fn an_outbox_left_by_a_previous_process_is_delivered() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (s, _, _) = bridge(dir.path()).await;
        rule_r(&s, vec![target("t", LAMBDA)]).await;
        // Accepted, then the process "dies": no delivery task ran.
        s.put_events(vec![numbered(1), numbered(2)]).await.unwrap();
        assert_eq!(s.outbox().await.unwrap().len(), 1);
    }
    let (s, _, _) = bridge(dir.path()).await;
    let recorder = Arc::new(Recorder::default());
    let _delivery = deliver_to(&s, &recorder);
    until_calls(&recorder, 2, "the left events").await;
    outbox_empty(&s).await;
}

#[tokio::test]
async fn a_rule_deleted_before_delivery_delivers_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (s, _, _) = bridge(dir.path()).await;
    rule_r(&s, vec![target("t", LAMBDA)]).await;
    s.put_events(vec![numbered(1)]).await.unwrap();
    s.remove_targets("default", "r", &["t".into()])
        .await
        .unwrap();
    s.delete_rule("default", "r").await.unwrap();
    let recorder = Arc::new(Recorder::default());
    let _delivery = deliver_to(&s, &recorder);
    outbox_empty(&s).await;
    assert!(recorder.calls.lock().unwrap().is_empty());
}

#[tokio::test]
async fn an_event_bus_target_forwards_the_event() {
    let dir = tempfile::tempdir().unwrap();
    let (s, _, _) = bridge(dir.path()).await;
    s.create_bus("downstream", None, Default::default())
        .await
        .unwrap();
    s.put_rule(pattern_rule("forward", json!({"source": ["app"]})))
        .await
        .unwrap();
    let bus_arn = s.scope().bus_arn("downstream");
    let foreign = "arn:aws:events:eu-west-1:999999999999:event-bus/x";
    s.put_targets(
        "default",
        "forward",
        vec![target("bus", &bus_arn), target("far", foreign)],
    )
    .await
    .unwrap();
    s.put_rule(NewRule {
        event_bus_name: Some("downstream".into()),
        ..pattern_rule("sink", json!({"detail": {"n": [1]}}))
    })
    .await
    .unwrap();
    s.put_targets("downstream", "sink", vec![target("fn", LAMBDA)])
        .await
        .unwrap();
    let recorder = Arc::new(Recorder::default());
    let _delivery = deliver_to(&s, &recorder);
    let ids = s.put_events(vec![numbered(1)]).await.unwrap();
    until_calls(&recorder, 1, "the forwarded event").await;
    let (_, event) = &recorder.delivered("fn")[0];
    assert!(matches!(&ids[0], crate::accept::EntryResult::Accepted(id) if event["id"] == *id));
    outbox_empty(&s).await;
    let forward = s.rule_stats(&s.scope().rule_arn("default", "forward"));
    assert_eq!(forward.targets["bus"].delivered, 1);
    assert_eq!(
        forward.targets["far"].given_up, 1,
        "another account's bus is out of reach"
    );
}

#[tokio::test]
async fn scheduled_rules_fire_through_the_task() {
    let dir = tempfile::tempdir().unwrap();
    let (s, _, clock) = bridge(dir.path()).await;
    s.put_rule(NewRule {
        name: "tick".into(),
        schedule_expression: Some("rate(1 minute)".into()),
        ..NewRule::default()
    })
    .await
    .unwrap();
    s.put_targets("default", "tick", vec![target("t", LAMBDA)])
        .await
        .unwrap();
    let recorder = Arc::new(Recorder::default());
    let _delivery = deliver_to(&s, &recorder);
    tokio::time::sleep(Duration::from_millis(60)).await;
    assert!(recorder.calls.lock().unwrap().is_empty(), "not due yet");
    clock.set(NOW + 60_000);
    until_calls(&recorder, 1, "the scheduled event").await;
    let (_, event) = &recorder.delivered("t")[0];
    assert_eq!(event["detail-type"], "Scheduled Event");
    assert_eq!(event["time"], "2023-11-14T22:14:20Z");
}

#[tokio::test]
async fn dropping_the_handle_stops_delivery() {
    let dir = tempfile::tempdir().unwrap();
    let (s, _, _) = bridge(dir.path()).await;
    rule_r(&s, vec![target("t", LAMBDA)]).await;
    let recorder = Arc::new(Recorder::default());
    drop(deliver_to(&s, &recorder));
    s.put_events(vec![numbered(1)]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(80)).await;
    assert!(recorder.calls.lock().unwrap().is_empty());
    assert_eq!(
        s.outbox().await.unwrap().len(),
        1,
        "left for the next start"
    );
}

#[tokio::test]
async fn own_batches_come_through_memory_and_others_through_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let (s, store, clock) = bridge(dir.path()).await;
    rule_r(&s, vec![target("t", LAMBDA)]).await;
    s.put_events(vec![numbered(1)]).await.unwrap();
    let none = std::collections::HashSet::new();
    // Written by this process: handed over in memory, never taken again from the store.
    assert!(s.outbox_except(&none).await.unwrap().is_empty());
    assert_eq!(s.take_fresh().len(), 1);
    assert!(s.take_fresh().is_empty());
    // Another process over the same store (a restart) finds it in the store.
    let next = EventBridge::new(store, Arc::new(clock), s.scope().clone());
    assert_eq!(next.outbox_except(&none).await.unwrap().len(), 1);
}
