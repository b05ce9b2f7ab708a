//! The native `AWS::Logs::LogGroup` provider: a stack's log group is a real group of
//! this server, readable through DescribeLogGroups and written by Lambda.
//!
//! Ref is the group name; `Fn::GetAtt Arn` is
//! `arn:aws:logs:{region}:{account}:log-group:{name}:*`. Without a `LogGroupName` the
//! name is generated as CloudFormation does, `{stack}-{logical id}-{12 characters}`,
//! the characters fixed by the create attempt (`attempt_chars`) so that recovery after
//! a crash finds the group again. `LogGroupName` is create-only; `RetentionInDays` and
//! `Tags` (with the stack's tags) are updated in place. `KmsKeyId` and `LogGroupClass`
//! are recorded at create. The provider holds the state, never the API.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use sagestack_engine::model::EpochMillis;
use sagestack_engine::provider::kit::{
    self, already_exists, attempt_name, created_since_micros, deleted, invalid, not_found,
    stack_logical_name, text, type_info,
};
use sagestack_engine::provider::{Native, Outcome};
use sagestack_engine::{ProviderError, ResourceContext, ResourceState, TypeInfo, UPPER_ALNUM};
use serde_json::Value;

use crate::error::LogsError;
use crate::groups::LogGroup;
use crate::state::{Logs, NewGroup};

/// The resource type this provider serves.
pub const TYPE_NAME: &str = "AWS::Logs::LogGroup";
/// Length of the random part of a generated name.
const SUFFIX_LEN: usize = 12;
/// Longest log group name.
const MAX_NAME: usize = 512;

/// `{stack}-{logical}-{suffix}`, the stack and logical id cut (longest first) to fit.
pub fn generated_name(stack: &str, logical: &str, suffix: &str) -> String {
    stack_logical_name(stack, logical, suffix, MAX_NAME)
}

/// See the module documentation.
pub struct LogGroupProvider {
    logs: Arc<Logs>,
}

impl LogGroupProvider {
    pub fn new(logs: Arc<Logs>) -> Self {
        LogGroupProvider { logs }
    }
}

/// The group's `LogGroupName`, or the generated name of the one the create attempt
/// `ctx` makes (its random part is fixed by the attempt, so recovery finds it again).
fn name(ctx: &ResourceContext, properties: &Value) -> String {
    text(properties, "LogGroupName")
        .unwrap_or_else(|| attempt_name(ctx, UPPER_ALNUM, SUFFIX_LEN, generated_name))
}

fn retention(ctx: &ResourceContext, properties: &Value) -> Result<Option<i32>, ProviderError> {
    match text(properties, "RetentionInDays") {
        None => Ok(None),
        Some(t) => t.parse().map(Some).map_err(|_| {
            invalid(
                ctx,
                format_args!("#/RetentionInDays: expected type: Integer, found: {t}"),
            )
        }),
    }
}

/// `Tags` (a list of `{Key, Value}`) with the stack's tags the template does not set;
/// anything else but null is refused.
fn tags(
    ctx: &ResourceContext,
    properties: &Value,
) -> Result<BTreeMap<String, String>, ProviderError> {
    match properties.get("Tags") {
        None | Some(Value::Null | Value::Array(_)) => kit::tags(ctx, properties),
        Some(_) => Err(invalid(ctx, "#/Tags: expected type: JSONArray")),
    }
}

fn provider_error(name: &str, e: LogsError) -> ProviderError {
    match e {
        LogsError::GroupAlreadyExists => already_exists(TYPE_NAME, name),
        LogsError::GroupNotFound => not_found(TYPE_NAME, name),
        LogsError::Internal(m) => ProviderError::Internal(m),
        other => ProviderError::InvalidRequest(other.to_string()),
    }
}

/// A log group's record is the group as the state keeps it.
#[async_trait]
impl Native for LogGroupProvider {
    type Record = LogGroup;
    const TYPE_NAME: &'static str = TYPE_NAME;

    fn info(&self) -> TypeInfo {
        type_info(TYPE_NAME, &["LogGroupName"], &["Arn"], true).named("LogGroupName")
    }

    fn state_of(g: &LogGroup) -> ResourceState {
        kit::state(&*g.log_group_name, [("Arn", g.arn.clone().into())])
    }

    fn intended_id(ctx: &ResourceContext, properties: &Value) -> Option<String> {
        Some(name(ctx, properties))
    }

    /// The group's creation time is kept in epoch milliseconds.
    fn made_since(g: &LogGroup, started: EpochMillis) -> bool {
        created_since_micros(g.creation_time.saturating_mul(1000), started)
    }

    /// Drift: the retention, class and tags the group has now.
    fn live_properties(g: &LogGroup, expected: &Value) -> Option<serde_json::Map<String, Value>> {
        let tags: Vec<Value> = g
            .tags
            .iter()
            .map(|(k, v)| serde_json::json!({"Key": k, "Value": v}))
            .collect();
        Some(kit::live(
            expected,
            [
                (
                    "RetentionInDays",
                    g.retention_in_days.map_or(Value::Null, Value::from),
                    Value::Null,
                ),
                (
                    "LogGroupClass",
                    g.log_group_class.clone().into(),
                    "STANDARD".into(),
                ),
                (
                    "KmsKeyId",
                    g.kms_key_id.clone().map_or(Value::Null, Value::from),
                    Value::Null,
                ),
                ("Tags", Value::Array(tags), Value::Array(Vec::new())),
            ],
        ))
    }

    async fn create_record(&self, ctx: &ResourceContext, properties: &Value) -> Outcome<LogGroup> {
        let name = name(ctx, properties);
        let new = NewGroup {
            name: name.clone(),
            tags: tags(ctx, properties)?,
            class: text(properties, "LogGroupClass"),
            kms_key_id: text(properties, "KmsKeyId"),
            retention_in_days: retention(ctx, properties)?,
        };
        let made = self.logs.create_group(new).await;
        made.map_err(|e| provider_error(&name, e))
    }

    async fn update_record(
        &self,
        ctx: &ResourceContext,
        name: &str,
        properties: &Value,
    ) -> Outcome<LogGroup> {
        let days = retention(ctx, properties)?;
        let tags = tags(ctx, properties)?;
        let updated = self.logs.reconfigure(name, days, tags).await;
        updated.map_err(|e| provider_error(name, e))
    }

    async fn get_record(&self, _: &ResourceContext, name: &str) -> Outcome<Option<LogGroup>> {
        let read = self.logs.group(name).await;
        read.map_err(|e| provider_error(name, e))
    }

    async fn delete_record(&self, _: &ResourceContext, name: &str) -> Outcome<()> {
        let result = self.logs.delete_group(name).await;
        deleted(
            result,
            |e| matches!(e, LogsError::GroupNotFound),
            |e| provider_error(name, e),
        )
    }
}

#[cfg(test)]
mod tests;
