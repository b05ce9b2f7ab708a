//! aws-sdk-cloudformation (AWS Query protocol, XML responses) against the real
//! `sagestack` binary: a stack's life, a change set and the error shapes.
//!
//! The server is started by the crate's `start` (see `src/lib.rs`).

use aws_sdk_cloudformation::Client;
use aws_sdk_cloudformation::error::ProvideErrorMetadata;
use aws_sdk_cloudformation::types::{ChangeSetType, Parameter, StackStatus, Tag};
use sagestack_sdk_tests::start;
use std::time::{Duration, Instant};

const TEMPLATE: &str = "\
Parameters:
  Delay: {Type: Number, Default: 0}
Resources:
  Queue:
    Type: AWS::SQS::Queue
    Properties: {DelaySeconds: !Ref Delay}
Outputs:
  Url: {Value: !Ref Queue, Export: {Name: sdk-queue-url}}
";

fn client(url: &str) -> Client {
    sagestack_sdk_tests::sdk_client!(aws_sdk_cloudformation, url)
}

/// Polls until the stack is no longer in progress.
async fn settle(cfn: &Client, stack: &str) -> aws_sdk_cloudformation::types::Stack {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let out = cfn
            .describe_stacks()
            .stack_name(stack)
            .send()
            .await
            .unwrap();
        let s = out.stacks()[0].clone();
        let status = s.stack_status().unwrap().as_str().to_string();
        if !status.ends_with("_IN_PROGRESS") || status == "REVIEW_IN_PROGRESS" {
            return s;
        }
        assert!(Instant::now() < deadline, "{stack} still {status}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn stack_life_with_the_rust_sdk() {
    let server = start();
    let cfn = client(&server.url);

    let id = cfn
        .create_stack()
        .stack_name("sdk-stack")
        .template_body(TEMPLATE)
        .parameters(
            Parameter::builder()
                .parameter_key("Delay")
                .parameter_value("5")
                .build(),
        )
        .tags(Tag::builder().key("team").value("ml").build())
        .send()
        .await
        .unwrap()
        .stack_id()
        .unwrap()
        .to_string();
    let stack = settle(&cfn, "sdk-stack").await;
    assert_eq!(stack.stack_status(), Some(&StackStatus::CreateComplete));
    assert_eq!(stack.stack_id(), Some(id.as_str()));
    assert!(stack.creation_time().is_some());
    assert_eq!(stack.tags()[0].key(), Some("team"));
    assert_eq!(stack.parameters()[0].parameter_value(), Some("5"));
    let url = stack.outputs()[0].output_value().unwrap().to_string();
    assert!(url.starts_with("https://sqs.us-east-1.amazonaws.com/"));

    let events = cfn
        .describe_stack_events()
        .stack_name("sdk-stack")
        .send()
        .await
        .unwrap();
    let first = events.stack_events().last().unwrap();
    assert_eq!(first.resource_status_reason(), Some("User Initiated"));
    assert!(first.timestamp().is_some());
    let exports = cfn.list_exports().send().await.unwrap();
    assert_eq!(exports.exports()[0].value(), Some(url.as_str()));

    // An UPDATE change set, described, then executed.
    let cs = cfn
        .create_change_set()
        .stack_name("sdk-stack")
        .change_set_name("delay-9")
        .change_set_type(ChangeSetType::Update)
        .use_previous_template(true)
        .parameters(
            Parameter::builder()
                .parameter_key("Delay")
                .parameter_value("9")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let described = cfn
        .describe_change_set()
        .change_set_name(cs.id().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(described.changes().len(), 1);
    cfn.execute_change_set()
        .change_set_name(cs.id().unwrap())
        .send()
        .await
        .unwrap();
    let stack = settle(&cfn, "sdk-stack").await;
    assert_eq!(stack.stack_status(), Some(&StackStatus::UpdateComplete));
    assert_eq!(stack.parameters()[0].parameter_value(), Some("9"));

    // Errors keep their codes through the SDK.
    let err = cfn
        .describe_stacks()
        .stack_name("missing")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("ValidationError"));
    assert_eq!(err.message(), Some("Stack with id missing does not exist"));
    let err = cfn
        .describe_change_set()
        .change_set_name("nope")
        .stack_name("sdk-stack")
        .send()
        .await
        .unwrap_err();
    assert!(err.into_service_error().is_change_set_not_found_exception());

    cfn.delete_stack()
        .stack_name("sdk-stack")
        .send()
        .await
        .unwrap();
    let gone = settle(&cfn, &id).await;
    assert_eq!(gone.stack_status(), Some(&StackStatus::DeleteComplete));
}
