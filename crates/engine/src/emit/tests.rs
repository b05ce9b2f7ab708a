//! The mapping of stack events to EventBridge events, and what is built when nobody
//! wants them. A whole stack operation's events are checked in `tests/events.rs`.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use serde_json::json;

use super::*;

const STACK: &str = "arn:aws:cloudformation:us-east-1:123456789012:stack/s/1";

/// Records what it is given; wants what `wanted` lists; counts `wants` calls.
#[derive(Default)]
struct Recorder {
    wanted: Vec<&'static str>,
    asked: AtomicUsize,
    published: Mutex<Vec<Vec<EmittedEvent>>>,
    done: tokio::sync::Notify,
}

#[async_trait]
impl EventPublisher for Recorder {
    async fn publish(&self, events: Vec<EmittedEvent>) {
        self.published.lock().unwrap().push(events);
        self.done.notify_one();
    }

    fn wants(&self, source: &str, detail_type: &str) -> bool {
        self.asked.fetch_add(1, Ordering::SeqCst);
        source == CLOUDFORMATION_SOURCE && self.wanted.contains(&detail_type)
    }
}

fn event(logical: &str, physical: Option<&str>, ty: &str, status: &str) -> StackEvent {
    StackEvent {
        seq: 1,
        event_id: "e".into(),
        stack_id: STACK.into(),
        stack_name: "s".into(),
        logical_resource_id: logical.into(),
        physical_resource_id: physical.map(str::to_string),
        resource_type: ty.into(),
        timestamp: 1_700_000_000_123,
        resource_status: status.into(),
        resource_status_reason: None,
        resource_properties: Some("{\"BucketName\":\"b\"}".into()),
    }
}

fn stack_event(status: &str, reason: Option<&str>) -> StackEvent {
    StackEvent {
        resource_status_reason: reason.map(str::to_string),
        resource_properties: None,
        ..event("s", Some(STACK), "AWS::CloudFormation::Stack", status)
    }
}

#[test]
fn a_stack_event_is_a_stack_status_change() {
    let e = emitted(
        &stack_event("CREATE_IN_PROGRESS", Some("User Initiated")),
        true,
    );
    assert_eq!(e.source, "aws.cloudformation");
    assert_eq!(e.detail_type, "CloudFormation Stack Status Change");
    assert_eq!(e.resources, vec![STACK.to_string()]);
    assert_eq!(e.time, 1_700_000_000_123);
    assert_eq!(
        e.detail,
        json!({
            "stack-id": STACK,
            "status-details": {"status": "CREATE_IN_PROGRESS", "status-reason": "User Initiated"},
            "client-request-token": "",
        })
    );
}

#[test]
fn a_resource_event_is_a_resource_status_change_without_its_properties() {
    let e = emitted(
        &event("B", Some("my-bucket"), "AWS::S3::Bucket", "CREATE_COMPLETE"),
        false,
    );
    assert_eq!(e.detail_type, "CloudFormation Resource Status Change");
    assert_eq!(e.resources, vec![STACK.to_string()]);
    assert_eq!(
        e.detail,
        json!({
            "stack-id": STACK,
            "logical-resource-id": "B",
            "physical-resource-id": "my-bucket",
            "status-details": {"status": "CREATE_COMPLETE", "status-reason": ""},
            "resource-type": "AWS::S3::Bucket",
            "client-request-token": "",
        })
    );
    // Before the provider named it, the physical id is empty.
    let first = emitted(
        &event("B", None, "AWS::S3::Bucket", "CREATE_IN_PROGRESS"),
        false,
    );
    assert_eq!(first.detail["physical-resource-id"], "");
}

#[test]
fn a_nested_stack_resource_is_a_resource_of_its_parent() {
    // Named like the parent and typed as a stack, but its physical id is the child's.
    let child = "arn:aws:cloudformation:us-east-1:123456789012:stack/s-Child-X/2";
    let nested = event(
        "s",
        Some(child),
        "AWS::CloudFormation::Stack",
        "CREATE_COMPLETE",
    );
    assert!(!is_stack_event(&nested));
    assert!(is_stack_event(&stack_event("CREATE_COMPLETE", None)));
}

/// Nothing is built or sent (no task spawned: this test has no runtime, so a spawn
/// would panic) when nobody wants the events, and `wants` is asked once per detail type
/// present in a write, not once per event.
#[test]
fn nothing_is_built_when_nobody_wants_it() {
    let recorder = Arc::new(Recorder::default());
    let emitter = Emitter::new(recorder.clone());
    emitter.committed(&[
        event("A", None, "T::T::T", "CREATE_IN_PROGRESS"),
        event("A", Some("a"), "T::T::T", "CREATE_COMPLETE"),
        event("B", Some("b"), "T::T::T", "DELETE_COMPLETE"),
    ]);
    assert_eq!(recorder.asked.load(Ordering::SeqCst), 1);
    emitter.committed(&[stack_event("CREATE_COMPLETE", None)]);
    assert_eq!(recorder.asked.load(Ordering::SeqCst), 2);
    emitter.committed(&[]);
    assert_eq!(recorder.asked.load(Ordering::SeqCst), 2);
    assert!(emitter.queue.get().is_none());
    assert!(recorder.published.lock().unwrap().is_empty());
}

#[tokio::test]
async fn only_the_wanted_detail_type_is_published_in_order() {
    let recorder = Arc::new(Recorder {
        wanted: vec![STACK_STATUS_CHANGE],
        ..Default::default()
    });
    let emitter = Emitter::new(recorder.clone());
    emitter.committed(&[stack_event("CREATE_IN_PROGRESS", Some("User Initiated"))]);
    emitter.committed(&[event("A", Some("a"), "T::T::T", "CREATE_COMPLETE")]);
    emitter.committed(&[stack_event("CREATE_COMPLETE", None)]);
    let statuses = loop {
        let published: Vec<String> = recorder
            .published
            .lock()
            .unwrap()
            .iter()
            .flatten()
            .map(|e| {
                e.detail["status-details"]["status"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        if published.len() == 2 {
            break published;
        }
        recorder.done.notified().await;
    };
    assert_eq!(statuses, ["CREATE_IN_PROGRESS", "CREATE_COMPLETE"]);
}

/// The delivery task holds neither the emitter nor its engine: dropping the emitter
/// ends it once the queue is drained.
#[tokio::test]
async fn the_delivery_task_ends_with_its_emitter() {
    let recorder = Arc::new(Recorder {
        wanted: vec![STACK_STATUS_CHANGE, RESOURCE_STATUS_CHANGE],
        ..Default::default()
    });
    let emitter = Emitter::new(recorder.clone());
    emitter.committed(&[stack_event("DELETE_COMPLETE", None)]);
    drop(emitter);
    tokio::time::timeout(std::time::Duration::from_secs(5), async {
        // The task's clone of the publisher goes when it ends.
        while Arc::strong_count(&recorder) > 1 {
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the delivery task ended");
    assert_eq!(recorder.published.lock().unwrap().concat().len(), 1);
}
