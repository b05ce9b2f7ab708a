//! What the Rust integration tests of several crates (cloudformation, provisioning,
//! servicecatalog, ssm, s3, server) do with the stacks and documents they produce: create
//! a stack that must complete, read an output's value or an event's reason, a `Tags` list
//! as pairs.
//!
//! Each test includes this file with `#[path]`: a shared test crate would be one more
//! workspace member (with its own dependencies) for a few functions.

#![allow(dead_code)]

use sagestack_cloudformation::{CloudFormationService, CreateStackInput, StackRecord, StackStatus};
use serde_json::Value;

/// The stack `input` describes, created and waited for: it must be CREATE_COMPLETE.
pub async fn create_complete(cfn: &CloudFormationService, input: CreateStackInput) -> StackRecord {
    let stack = cfn.create_stack_and_wait(input).await.unwrap();
    assert_eq!(stack.status, StackStatus::CreateComplete, "{stack:?}");
    stack
}

/// The reason of the newest of stack `stack_id`'s events for `logical_id` with status
/// `status`: that event must exist and give a reason. How the tests read why a resource
/// failed, as CloudFormation reports it.
pub async fn event_reason(
    cfn: &CloudFormationService,
    stack_id: &str,
    logical_id: &str,
    status: &str,
) -> String {
    let events = cfn
        .engine()
        .stack_events(stack_id, None, 1000)
        .await
        .unwrap();
    events
        .iter()
        .find(|e| e.logical_resource_id == logical_id && e.resource_status == status)
        .and_then(|e| e.resource_status_reason.clone())
        .unwrap_or_else(|| panic!("no {status} event with a reason for {logical_id}: {events:#?}"))
}

/// The value of `stack`'s output `key`, which must exist.
pub fn output(stack: &StackRecord, key: &str) -> String {
    stack
        .outputs
        .iter()
        .find(|o| o.key == key)
        .map(|o| o.value.clone())
        .unwrap_or_else(|| panic!("no output {key} in {:?}", stack.outputs))
}

/// A JSON `[{"Key": .., "Value": ..}]` list as `(key, value)` pairs.
pub fn tag_pairs(tags: &Value) -> Vec<(String, String)> {
    tags.as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["Key"].as_str().unwrap().to_string(),
                t["Value"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}
