//! The native `AWS::SSM::Parameter` provider: a stack's parameter is a real parameter of
//! this server's Parameter Store, readable through the SSM API.
//!
//! Ref is the name; `Fn::GetAtt` reads `Type` and `Value`. Without a `Name` property the
//! name is generated as CloudFormation's handler for this type does: `CFN-{LogicalId}`
//! cut to 27 characters, a hyphen and 12 random letters and digits (40 at most).
//! `SecureString` parameters cannot be created through CloudFormation.
//! `Name` is create-only (a change replaces the parameter); every other property is
//! updated in place as a new parameter version, and a change of `Tags` (with the stack's
//! tags) replaces the parameter's tags as `AddTagsToResource` would.

use std::sync::Arc;

use async_trait::async_trait;
use sagestack_engine::model::EpochMillis;
use sagestack_engine::provider::kit::{
    self, already_exists, created_since_secs, deleted, invalid, not_found, required, text,
    type_info,
};
use sagestack_engine::provider::{Native, Outcome};
use sagestack_engine::{
    MIXED_ALNUM, ProviderError, ResourceContext, ResourceState, TypeInfo, attempt_chars,
};
use serde_json::Value;

use crate::error::SsmError;
use crate::parameters::{Parameters, PutParameter, StoredParameter, Tag};

/// The resource type this provider serves.
pub const TYPE_NAME: &str = "AWS::SSM::Parameter";
/// Length of the random part of a generated name.
const SUFFIX_LEN: usize = 12;
/// Longest generated name.
const GENERATED_MAX: usize = 40;

/// `CFN-{logical}` within `GENERATED_MAX - SUFFIX_LEN - 1` characters, `-`, `suffix`.
pub fn generated_name(logical_id: &str, suffix: &str) -> String {
    let prefix: String = format!("CFN-{logical_id}")
        .chars()
        .take(GENERATED_MAX - SUFFIX_LEN - 1)
        .collect();
    format!("{prefix}-{suffix}")
}

/// See the module documentation.
pub struct ParameterProvider {
    parameters: Arc<Parameters>,
}

impl ParameterProvider {
    pub fn new(parameters: Arc<Parameters>) -> Self {
        ParameterProvider { parameters }
    }
}

/// The parameter's `Tags` (a map), then the stack's tags it does not name.
fn tags(ctx: &ResourceContext, properties: &Value) -> Vec<Tag> {
    let mut tags: Vec<Tag> = match properties.get("Tags") {
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| Tag {
                key: k.clone(),
                value: v.as_str().map_or_else(|| v.to_string(), str::to_owned),
            })
            .collect(),
        _ => Vec::new(),
    };
    for (k, v) in &ctx.stack_tags {
        if !tags.iter().any(|t| &t.key == k) {
            tags.push(Tag {
                key: k.clone(),
                value: v.clone(),
            });
        }
    }
    tags
}

fn input(
    ctx: &ResourceContext,
    name: &str,
    properties: &Value,
    overwrite: bool,
) -> Result<PutParameter, ProviderError> {
    let kind = required(ctx, properties, "Type")?;
    if kind.eq_ignore_ascii_case("SecureString") {
        return Err(ProviderError::InvalidRequest(
            "SSM Parameters of type SecureString cannot be created using CloudFormation".into(),
        ));
    }
    if kind != "String" && kind != "StringList" {
        return Err(invalid(
            ctx,
            format_args!("#/Type: {kind} is not a valid enum value"),
        ));
    }
    let tags = tags(ctx, properties);
    Ok(PutParameter {
        name: name.to_string(),
        value: required(ctx, properties, "Value")?,
        kind: Some(kind),
        description: text(properties, "Description"),
        allowed_pattern: text(properties, "AllowedPattern"),
        tier: text(properties, "Tier"),
        policies: text(properties, "Policies"),
        data_type: text(properties, "DataType"),
        overwrite: Some(overwrite),
        // The API refuses tags together with overwrite: an update replaces them after.
        tags: (!overwrite && !tags.is_empty()).then_some(tags),
        key_id: None,
        modified_by: None,
    })
}

fn provider_error(name: &str, e: SsmError) -> ProviderError {
    match e {
        SsmError::ParameterAlreadyExists => already_exists(TYPE_NAME, name),
        SsmError::ParameterNotFound => not_found(TYPE_NAME, name),
        SsmError::Internal(m) => ProviderError::Internal(m),
        other => ProviderError::InvalidRequest(other.to_string()),
    }
}

/// The parameter's `Name`, or the generated name of the one the create attempt `ctx`
/// makes (its random part is fixed by the attempt, so recovery finds it again).
fn name(ctx: &ResourceContext, properties: &Value) -> String {
    text(properties, "Name").unwrap_or_else(|| {
        generated_name(
            &ctx.logical_id,
            &attempt_chars(ctx, MIXED_ALNUM, SUFFIX_LEN),
        )
    })
}

/// Whether `e` says the parameter is gone.
fn is_gone(e: &SsmError) -> bool {
    matches!(e, SsmError::ParameterNotFound)
}

impl ParameterProvider {
    async fn put(&self, name: &str, input: PutParameter) -> Outcome<(i64, StoredParameter)> {
        // The state is what was stored: no read back.
        self.parameters
            .put(input)
            .await
            .map_err(|e| provider_error(name, e))
    }
}

/// A parameter's record is its version and what that version stored.
#[async_trait]
impl Native for ParameterProvider {
    type Record = (i64, StoredParameter);
    const TYPE_NAME: &'static str = TYPE_NAME;

    fn info(&self) -> TypeInfo {
        type_info(TYPE_NAME, &["Name"], &["Type", "Value"], true).named("Name")
    }

    fn state_of((_, p): &(i64, StoredParameter)) -> ResourceState {
        kit::state(
            &*p.name,
            [
                ("Type", p.kind.clone().into()),
                ("Value", p.value.clone().into()),
            ],
        )
    }

    fn intended_id(ctx: &ResourceContext, properties: &Value) -> Option<String> {
        Some(name(ctx, properties))
    }

    /// Only the first version, written after the create started, is the create's.
    fn made_since((version, p): &(i64, StoredParameter), started: EpochMillis) -> bool {
        *version == 1 && created_since_secs(p.last_modified_date, started)
    }

    /// Drift: the value and settings the parameter has now (its name cannot change
    /// without a replacement, so it is not compared).
    fn live_properties(
        (_, p): &(i64, StoredParameter),
        expected: &Value,
    ) -> Option<serde_json::Map<String, Value>> {
        let opt = |v: &Option<String>| v.clone().map_or(Value::Null, Value::String);
        let tags: serde_json::Map<String, Value> = p
            .tags
            .iter()
            .map(|t| (t.key.clone(), t.value.clone().into()))
            .collect();
        Some(kit::live(
            expected,
            [
                ("Type", p.kind.clone().into(), Value::Null),
                ("Value", p.value.clone().into(), Value::Null),
                ("Description", opt(&p.description), Value::Null),
                ("AllowedPattern", opt(&p.allowed_pattern), Value::Null),
                ("Policies", opt(&p.policies), Value::Null),
                ("Tier", p.tier.clone().into(), "Standard".into()),
                ("DataType", p.data_type.clone().into(), "text".into()),
                (
                    "Tags",
                    Value::Object(tags),
                    Value::Object(Default::default()),
                ),
            ],
        ))
    }

    async fn create_record(
        &self,
        ctx: &ResourceContext,
        properties: &Value,
    ) -> Outcome<Self::Record> {
        let name = name(ctx, properties);
        let input = input(ctx, &name, properties, false)?;
        self.put(&name, input).await
    }

    async fn update_record(
        &self,
        ctx: &ResourceContext,
        name: &str,
        properties: &Value,
    ) -> Outcome<Self::Record> {
        let input = input(ctx, name, properties, true)?;
        let (version, mut stored) = self.put(name, input).await?;
        let wanted = tags(ctx, properties);
        if stored.tags != wanted {
            self.parameters
                .replace_tags(name, &wanted)
                .await
                .map_err(|e| provider_error(name, e))?;
            stored.tags = wanted;
        }
        Ok((version, stored))
    }

    async fn get_record(&self, _: &ResourceContext, name: &str) -> Outcome<Option<Self::Record>> {
        self.parameters
            .read(name)
            .await
            .map_err(|e| provider_error(name, e))
    }

    async fn delete_record(&self, _: &ResourceContext, name: &str) -> Outcome<()> {
        let result = self.parameters.delete(name).await;
        deleted(result, is_gone, |e| provider_error(name, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_names_follow_cloudformation() {
        assert_eq!(
            generated_name("Param", "abcDEF123456"),
            "CFN-Param-abcDEF123456"
        );
        let long = generated_name(&"L".repeat(60), "abcDEF123456");
        assert_eq!(long.len(), 40);
        assert_eq!(long, format!("CFN-{}-abcDEF123456", "L".repeat(23)));
        let s = attempt_chars(&ResourceContext::default(), MIXED_ALNUM, SUFFIX_LEN);
        assert_eq!(s.len(), 12);
        assert!(s.chars().all(|c| c.is_ascii_alphanumeric()));
    }
}
