//! What the Rust integration tests of several crates (provisioning, servicecatalog, ssm,
//! s3, server) read from the stacks and documents they produce: an output's value, a
//! `Tags` list as pairs.
//!
//! Each test includes this file with `#[path]`: a shared test crate would be one more
//! workspace member (with its own dependencies) for two functions.

#![allow(dead_code)]

use sagestack_cloudformation::StackRecord;
use serde_json::Value;

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
