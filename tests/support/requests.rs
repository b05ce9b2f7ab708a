//! How the Rust integration tests of several crates (provisioning, servicecatalog, ssm,
//! server) call a service in process: the request context and the answer as JSON.
//!
//! Each test includes this file with `#[path]`: a shared test crate would be one more
//! workspace member (with its own dependencies) for two functions.

#![allow(dead_code)]

use sagestack_protocol::{JsonOutput, RequestContext};
use serde_json::Value;

/// A request to `us-east-1` in account 123456789012, with no access key.
pub fn ctx() -> RequestContext {
    RequestContext::new("us-east-1", "123456789012")
}

/// An answer as JSON, whether the service built the value or wrote the text.
pub fn value(out: JsonOutput) -> Value {
    out.into_value().unwrap()
}

/// The string `field` of each object in the array `list`: the names in a listing, in
/// the order the service gave them.
pub fn strings<'a>(list: &'a Value, field: &str) -> Vec<&'a str> {
    let items = list.as_array().expect("a JSON array");
    items
        .iter()
        .map(|item| item[field].as_str().unwrap())
        .collect()
}
