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
    RequestContext {
        request_id: "r".into(),
        region: "us-east-1".into(),
        account_id: "123456789012".into(),
        access_key_id: None,
    }
}

/// An answer as JSON, whether the service built the value or wrote the text.
pub fn value(out: JsonOutput) -> Value {
    match out {
        JsonOutput::Value(v) => v,
        JsonOutput::Raw(r) => serde_json::from_str(&r).unwrap(),
    }
}
