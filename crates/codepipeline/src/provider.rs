//! The native `AWS::CodePipeline::Pipeline` provider: a stack's pipeline is a real
//! pipeline of this server, readable through GetPipeline and startable by
//! StartPipelineExecution or an EventBridge rule; like one made by CreatePipeline, its
//! creation records a first execution (trigger `CreatePipeline`).
//!
//! Ref is the pipeline name; `Fn::GetAtt Version` its version (as text, as
//! CloudFormation's schema types it). Without a `Name` the name is generated,
//! `{stack}-{logical id}-{12 characters}` within 100 characters, the characters fixed by
//! the create attempt so that recovery finds the pipeline again. The template's
//! properties are CloudFormation's spelling of the `PipelineDeclaration`
//! ([`declaration`]), validated against the same model as CreatePipeline's input.
//! `Name` is create-only; everything else is updated in place (the version goes up).
//! `DisableInboundStageTransitions` and `RestartExecutionOnUpdate` are accepted and
//! ignored. The provider holds the state, never the API.

use std::sync::Arc;

use async_trait::async_trait;
use sagestack_engine::model::EpochMillis;
use sagestack_engine::provider::kit::{
    self, already_exists, attempt_name, created_since_micros, deleted, invalid, stack_logical_name,
    tags, text, type_info,
};
use sagestack_engine::provider::{Native, Outcome};
use sagestack_engine::{ProviderError, ResourceContext, ResourceState, TypeInfo, UPPER_ALNUM};
use serde_json::{Map, Value, json};

use crate::error::PipelineError;
use crate::executions::Trigger;
use crate::pipelines::{Pipeline, Pipelines};

/// The resource type this provider serves.
pub const TYPE_NAME: &str = "AWS::CodePipeline::Pipeline";
/// Length of the random part of a generated name.
const SUFFIX_LEN: usize = 12;
/// Longest pipeline name.
const MAX_NAME: usize = 100;
/// Properties that are not part of the declaration.
const NOT_DECLARED: [&str; 5] = [
    "Name",
    "Tags",
    "ArtifactStores",
    "DisableInboundStageTransitions",
    "RestartExecutionOnUpdate",
];
/// Members the model types as integers, which templates often give as text.
const INTEGERS: [&str; 2] = ["runOrder", "timeoutInMinutes"];

/// `{stack}-{logical}-{suffix}`, the stack and logical id cut (longest first) to fit.
pub fn generated_name(stack: &str, logical: &str, suffix: &str) -> String {
    stack_logical_name(stack, logical, suffix, MAX_NAME)
}

/// CloudFormation's PascalCase property tree in the API's camelCase: each key's first
/// letter lowered, except inside an action's `Configuration` (its keys are the action
/// provider's, spelled the same in both); integer members given as text become numbers.
fn camel(value: &Value, in_configuration: bool) -> Value {
    match value {
        Value::Object(map) if !in_configuration => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let mut chars = k.chars();
                    let key: String = match chars.next() {
                        Some(first) => first.to_lowercase().chain(chars).collect(),
                        None => String::new(),
                    };
                    let v = match v {
                        Value::String(s) if INTEGERS.contains(&key.as_str()) => {
                            s.parse::<i64>().map_or_else(|_| v.clone(), Value::from)
                        }
                        _ => camel(v, key == "configuration"),
                    };
                    (key, v)
                })
                .collect(),
        ),
        // The API's configuration is a map of strings; CloudFormation turns a template's
        // `PollForSourceChanges: false` (and any other scalar or structure) into text.
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let text = match v {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    (k.clone(), Value::String(text))
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(|v| camel(v, false)).collect()),
        other => other.clone(),
    }
}

/// The `PipelineDeclaration` the properties describe, named `name`.
pub fn declaration(name: &str, properties: &Value) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("name".into(), name.into());
    for (k, v) in properties.as_object().into_iter().flatten() {
        if NOT_DECLARED.contains(&k.as_str()) {
            continue;
        }
        if let Value::Object(declared) = camel(&json!({ k: v }), false) {
            out.extend(declared);
        }
    }
    // CloudFormation lists `{Region, ArtifactStore}`; the API maps region to store.
    if let Some(stores) = properties.get("ArtifactStores").and_then(Value::as_array) {
        let map: Map<String, Value> = stores
            .iter()
            .filter_map(|s| Some((text(s, "Region")?, camel(s.get("ArtifactStore")?, false))))
            .collect();
        out.insert("artifactStores".into(), Value::Object(map));
    }
    out
}

/// The properties' declaration, checked as CreatePipeline checks its input.
fn checked(ctx: &ResourceContext, name: &str, properties: &Value) -> Outcome<Map<String, Value>> {
    let declared = declaration(name, properties);
    let input = json!({ "pipeline": declared });
    crate::service::decode::<Value>("CreatePipeline", input).map_err(|e| invalid(ctx, e))?;
    Ok(declared)
}

fn name(ctx: &ResourceContext, properties: &Value) -> String {
    text(properties, "Name")
        .unwrap_or_else(|| attempt_name(ctx, UPPER_ALNUM, SUFFIX_LEN, generated_name))
}

fn provider_error(name: &str, e: PipelineError) -> ProviderError {
    match e {
        PipelineError::NameInUse(_) => already_exists(TYPE_NAME, name),
        PipelineError::PipelineNotFound { .. } => kit::not_found(TYPE_NAME, name),
        PipelineError::Internal(m) => ProviderError::Internal(m),
        other => ProviderError::InvalidRequest(other.to_string()),
    }
}

/// See the module documentation.
pub struct PipelineProvider {
    pipelines: Arc<Pipelines>,
}

impl PipelineProvider {
    pub fn new(pipelines: Arc<Pipelines>) -> Self {
        PipelineProvider { pipelines }
    }
}

#[async_trait]
impl Native for PipelineProvider {
    type Record = Pipeline;
    const TYPE_NAME: &'static str = TYPE_NAME;

    fn info(&self) -> TypeInfo {
        type_info(TYPE_NAME, &["Name"], &["Version"], true).named("Name")
    }

    fn state_of(p: &Pipeline) -> ResourceState {
        kit::state(p.name(), [("Version", p.version().to_string().into())])
    }

    fn intended_id(ctx: &ResourceContext, properties: &Value) -> Option<String> {
        Some(name(ctx, properties))
    }

    fn made_since(p: &Pipeline, started: EpochMillis) -> bool {
        created_since_micros(p.created_ms.saturating_mul(1000), started)
    }

    async fn create_record(&self, ctx: &ResourceContext, properties: &Value) -> Outcome<Pipeline> {
        let name = name(ctx, properties);
        let declared = checked(ctx, &name, properties)?;
        let tags = tags(ctx, properties)?;
        // CloudFormation creates with the stack's credentials; the account root stands
        // for them (the engine does not carry the caller).
        let creator = format!("arn:{}:iam::{}:root", ctx.partition, ctx.account_id);
        let made = self
            .pipelines
            .create(declared, tags, Trigger::created(creator))
            .await;
        made.map_err(|e| provider_error(&name, e))
    }

    async fn update_record(
        &self,
        ctx: &ResourceContext,
        name: &str,
        properties: &Value,
    ) -> Outcome<Pipeline> {
        let declared = checked(ctx, name, properties)?;
        let tags = tags(ctx, properties)?;
        let fail = |e| provider_error(name, e);
        self.pipelines.update(declared).await.map_err(fail)?;
        self.pipelines.set_tags(name, tags).await.map_err(fail)
    }

    async fn get_record(&self, _: &ResourceContext, name: &str) -> Outcome<Option<Pipeline>> {
        let read = self.pipelines.find(name).await;
        read.map_err(|e| provider_error(name, e))
    }

    async fn delete_record(&self, _: &ResourceContext, name: &str) -> Outcome<()> {
        let result = self.pipelines.delete(name).await;
        deleted(result, |_| false, |e| provider_error(name, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties_become_the_api_declaration() {
        let props = json!({
            "RoleArn": "arn:aws:iam::123456789012:role/r",
            "ArtifactStore": {"Type": "S3", "Location": "bucket"},
            "ArtifactStores": [{"Region": "eu-west-1", "ArtifactStore": {"Type": "S3", "Location": "b2"}}],
            "RestartExecutionOnUpdate": true,
            "Tags": [{"Key": "k", "Value": "v"}],
            "Stages": [{"Name": "Source", "Actions": [{
                "Name": "Fetch",
                "RunOrder": "2",
                "ActionTypeId": {"Category": "Source", "Owner": "AWS", "Provider": "S3", "Version": "1"},
                "Configuration": {"S3Bucket": "b", "PollForSourceChanges": false},
                "OutputArtifacts": [{"Name": "Out"}]
            }]}]
        });
        let d = declaration("p", &props);
        assert_eq!(d["name"], "p");
        assert_eq!(
            d["artifactStore"],
            json!({"type": "S3", "location": "bucket"})
        );
        assert_eq!(d["artifactStores"]["eu-west-1"]["location"], "b2");
        let action = &d["stages"][0]["actions"][0];
        assert_eq!(action["runOrder"], 2);
        assert_eq!(action["actionTypeId"]["provider"], "S3");
        assert_eq!(
            action["configuration"]["S3Bucket"], "b",
            "configuration keys kept"
        );
        assert_eq!(action["configuration"]["PollForSourceChanges"], "false");
        assert_eq!(action["outputArtifacts"][0]["name"], "Out");
        assert!(d.get("tags").is_none() && d.get("restartExecutionOnUpdate").is_none());
    }

    #[test]
    fn generated_names_fit() {
        let n = generated_name(&"s".repeat(90), &"l".repeat(90), "ABCDEFGHIJKL");
        assert_eq!(n.len(), MAX_NAME);
        assert!(n.ends_with("-ABCDEFGHIJKL"));
    }
}
