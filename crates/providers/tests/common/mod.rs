//! Test support shared by the provider integration tests: the context of a resource of
//! a stack `demo` in account 123456789012.
#![allow(dead_code)]

use sagestack_engine::provider::{ResourceContext, ResourceProvider, partition_for_region};
use serde_json::json;

/// Resource `logical` of type `type_name` in `us-east-1`.
pub fn ctx(type_name: &str, logical: &str) -> ResourceContext {
    ctx_in("us-east-1", type_name, logical)
}

/// Resource `logical` of type `type_name` in `region`.
pub fn ctx_in(region: &str, type_name: &str, logical: &str) -> ResourceContext {
    ResourceContext {
        region: region.into(),
        account_id: "123456789012".into(),
        partition: partition_for_region(region).into(),
        stack_name: "demo".into(),
        stack_id: format!(
            "arn:aws:cloudformation:{region}:123456789012:stack/demo/0b1d6f40-0000-4000-a000-000000000000"
        ),
        logical_id: logical.into(),
        resource_type: type_name.into(),
        stack_tags: vec![],
        started: 0,
    }
}

/// Why creating resource `logical` of `type_name` with no properties fails, as the
/// stack event says it.
pub async fn create_failure(
    provider: &dyn ResourceProvider,
    type_name: &str,
    logical: &str,
) -> String {
    let ctx = ctx(type_name, logical);
    let err = provider.create(&ctx, &json!({})).await.unwrap_err();
    err.to_string()
}
