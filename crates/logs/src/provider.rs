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
use sagestack_engine::provider::kit::{
    already_exists, created_since_micros, deleted, invalid, not_found, text,
};
use sagestack_engine::{
    ProviderError, ResourceContext, ResourceProvider, ResourceState, TypeInfo, UPPER_ALNUM,
    attempt_chars,
};
use serde_json::{Map, Value};

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
    let budget = MAX_NAME.saturating_sub(suffix.len() + 2);
    let (mut s, mut l) = (stack.chars().count(), logical.chars().count());
    while s + l > budget {
        if s >= l { s -= 1 } else { l -= 1 }
    }
    let take = |x: &str, n: usize| x.chars().take(n).collect::<String>();
    format!("{}-{}-{suffix}", take(stack, s), take(logical, l))
}

/// See the module documentation.
pub struct LogGroupProvider {
    logs: Arc<Logs>,
}

impl LogGroupProvider {
    pub fn new(logs: Arc<Logs>) -> Self {
        LogGroupProvider { logs }
    }

    fn state(&self, g: &LogGroup) -> ResourceState {
        let mut attributes = Map::new();
        attributes.insert("Arn".into(), g.arn.clone().into());
        ResourceState {
            physical_id: g.log_group_name.clone(),
            attributes,
        }
    }
}

/// The group's `LogGroupName`, or the generated name of the one the create attempt
/// `ctx` makes.
fn name(ctx: &ResourceContext, properties: &Value) -> String {
    text(properties, "LogGroupName").unwrap_or_else(|| {
        generated_name(
            &ctx.stack_name,
            &ctx.logical_id,
            &attempt_chars(ctx, UPPER_ALNUM, SUFFIX_LEN),
        )
    })
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

/// `Tags` (a list of `{Key, Value}`) with the stack's tags the template does not set.
fn tags(
    ctx: &ResourceContext,
    properties: &Value,
) -> Result<BTreeMap<String, String>, ProviderError> {
    let mut out = BTreeMap::new();
    match properties.get("Tags") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for (i, t) in items.iter().enumerate() {
                let (Some(k), Some(v)) = (text(t, "Key"), text(t, "Value")) else {
                    return Err(invalid(
                        ctx,
                        format_args!("#/Tags/{i}: required key [Key] or [Value] not found"),
                    ));
                };
                out.insert(k, v);
            }
        }
        Some(_) => {
            return Err(invalid(ctx, "#/Tags: expected type: JSONArray"));
        }
    }
    for (k, v) in &ctx.stack_tags {
        out.entry(k.clone()).or_insert_with(|| v.clone());
    }
    Ok(out)
}

fn provider_error(name: &str, e: LogsError) -> ProviderError {
    match e {
        LogsError::GroupAlreadyExists => already_exists(TYPE_NAME, name),
        LogsError::GroupNotFound => not_found(TYPE_NAME, name),
        LogsError::Internal(m) => ProviderError::Internal(m),
        other => ProviderError::InvalidRequest(other.to_string()),
    }
}

#[async_trait]
impl ResourceProvider for LogGroupProvider {
    fn type_info(&self, type_name: &str) -> Option<TypeInfo> {
        (type_name == TYPE_NAME).then(|| TypeInfo {
            type_name: TYPE_NAME.into(),
            create_only_properties: vec!["LogGroupName".into()],
            attributes: vec!["Arn".into()],
            taggable: true,
        })
    }

    async fn create(
        &self,
        ctx: &ResourceContext,
        properties: &Value,
    ) -> Result<ResourceState, ProviderError> {
        let name = name(ctx, properties);
        let new = NewGroup {
            name: name.clone(),
            tags: tags(ctx, properties)?,
            class: text(properties, "LogGroupClass"),
            kms_key_id: text(properties, "KmsKeyId"),
            retention_in_days: retention(ctx, properties)?,
        };
        match self.logs.create_group(new).await {
            Ok(g) => Ok(self.state(&g)),
            Err(e) => Err(provider_error(&name, e)),
        }
    }

    async fn update(
        &self,
        ctx: &ResourceContext,
        current: &ResourceState,
        _old_properties: &Value,
        new_properties: &Value,
    ) -> Result<ResourceState, ProviderError> {
        let name = &current.physical_id;
        let days = retention(ctx, new_properties)?;
        let tags = tags(ctx, new_properties)?;
        match self.logs.reconfigure(name, days, tags).await {
            Ok(g) => Ok(self.state(&g)),
            Err(e) => Err(provider_error(name, e)),
        }
    }

    async fn delete(
        &self,
        _ctx: &ResourceContext,
        current: &ResourceState,
        _properties: &Value,
    ) -> Result<(), ProviderError> {
        let name = &current.physical_id;
        deleted(
            self.logs.delete_group(name).await,
            |e| matches!(e, LogsError::GroupNotFound),
            |e| provider_error(name, e),
        )
    }

    async fn read(
        &self,
        _ctx: &ResourceContext,
        current: &ResourceState,
        _properties: &Value,
    ) -> Result<Option<ResourceState>, ProviderError> {
        match self.logs.group(&current.physical_id).await {
            Ok(g) => Ok(g.map(|g| self.state(&g))),
            Err(e) => Err(provider_error(&current.physical_id, e)),
        }
    }

    async fn find_interrupted_create(
        &self,
        ctx: &ResourceContext,
        properties: &Value,
        started: sagestack_engine::model::EpochMillis,
    ) -> Result<Option<ResourceState>, ProviderError> {
        // A generated name is the attempt's own: computed again here. Only a group
        // created since the create started is the create's.
        let name = name(ctx, properties);
        match self.logs.group(&name).await {
            Ok(Some(g)) if created_since_micros(g.creation_time.saturating_mul(1000), started) => {
                Ok(Some(self.state(&g)))
            }
            Ok(_) => Ok(None),
            Err(e) => Err(provider_error(&name, e)),
        }
    }
}

#[cfg(test)]
mod tests;
