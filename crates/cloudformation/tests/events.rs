//! The publisher given to the service's configuration hears the stacks' status changes
//! (the events themselves are the engine's, tested there).

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use common::memory_config;
use sagestack_cloudformation::*;
use sagestack_engine::{EmittedEvent, EventPublisher, STACK_STATUS_CHANGE};

#[derive(Default)]
struct Recorder(Mutex<Vec<EmittedEvent>>);

#[async_trait]
impl EventPublisher for Recorder {
    async fn publish(&self, events: Vec<EmittedEvent>) {
        self.0.lock().unwrap().extend(events);
    }

    fn wants(&self, _: &str, detail_type: &str) -> bool {
        detail_type == STACK_STATUS_CHANGE
    }
}

#[tokio::test]
async fn the_configured_publisher_hears_stack_status_changes() {
    let recorder = Arc::new(Recorder::default());
    let service = CloudFormationService::new(
        memory_config("eu-west-1", "123456789012").with_event_publisher(recorder.clone()),
    )
    .unwrap();
    let stack = service
        .create_stack_and_wait(CreateStackInput {
            stack_name: "evented".into(),
            template_body: "Resources:\n  Q: {Type: AWS::SQS::Queue}\n".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(stack.status, StackStatus::CreateComplete);
    let statuses = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let got: Vec<String> = recorder
                .0
                .lock()
                .unwrap()
                .iter()
                .map(|e| {
                    e.detail["status-details"]["status"]
                        .as_str()
                        .unwrap()
                        .into()
                })
                .collect();
            if got.len() >= 2 {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    })
    .await
    .unwrap();
    assert_eq!(statuses, ["CREATE_IN_PROGRESS", "CREATE_COMPLETE"]);
    let first = &recorder.0.lock().unwrap()[0];
    assert_eq!(first.resources, vec![stack.stack_id.clone()]);
    assert!(
        stack
            .stack_id
            .starts_with("arn:aws:cloudformation:eu-west-1:123456789012:stack/evented/")
    );
}
