//! The native `AWS::CodeBuild::Project` provider: a stack's build project is a real
//! project of this server, readable through BatchGetProjects and startable by StartBuild
//! or an EventBridge rule (builds are recorded, never run).
//!
//! Ref is the project name; `Fn::GetAtt Arn` its ARN. Without a `Name` the name is
//! generated, `{logical id}-{12 characters}`, the characters fixed by the create attempt
//! so that recovery finds the project again. The template's properties are
//! CloudFormation's spelling of CreateProject's input ([`create_input`]), validated
//! against the same model. `Name` is create-only; everything else is replaced in place.
//! `Triggers` (webhooks) and `Visibility` are accepted and ignored. The provider holds
//! the state, never the API.

use std::sync::Arc;

use async_trait::async_trait;
use sagestack_engine::model::EpochMillis;
use sagestack_engine::provider::kit::{
    self, already_exists, attempt_name, created_since_secs, invalid, text, type_info,
};
use sagestack_engine::provider::{Native, Outcome};
use sagestack_engine::{MIXED_ALNUM, ProviderError, ResourceContext, ResourceState, TypeInfo};
use serde_json::{Map, Value, json};

use crate::error::BuildError;
use crate::projects::{Builds, Project};

/// The resource type this provider serves.
pub const TYPE_NAME: &str = "AWS::CodeBuild::Project";
/// Length of the random part of a generated name.
const SUFFIX_LEN: usize = 12;
/// Properties that are not CreateProject members (or are handled apart).
const NOT_INPUT: [&str; 6] = ["Name", "Tags", "Triggers", "Visibility", "Arn", "Id"];
/// Members the model types as integers, which templates often give as text.
const INTEGERS: [&str; 5] = [
    "timeoutInMinutes",
    "queuedTimeoutInMinutes",
    "gitCloneDepth",
    "concurrentBuildLimit",
    "autoRetryLimit",
];
/// Members the model types as booleans, which templates often give as text.
const BOOLEANS: [&str; 6] = [
    "privilegedMode",
    "badgeEnabled",
    "insecureSsl",
    "reportBuildStatus",
    "encryptionDisabled",
    "overrideArtifactName",
];

/// `{logical}-{suffix}`.
pub fn generated_name(_stack: &str, logical: &str, suffix: &str) -> String {
    let logical: String = logical.chars().take(150 - suffix.len() - 1).collect();
    format!("{logical}-{suffix}")
}

/// CloudFormation's PascalCase property tree in the API's camelCase (`BuildSpec` is
/// `buildspec`); integers and booleans given as text become numbers and booleans.
fn camel(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let key = if k == "BuildSpec" {
                        "buildspec".to_string()
                    } else {
                        let mut chars = k.chars();
                        match chars.next() {
                            Some(first) => first.to_lowercase().chain(chars).collect(),
                            None => String::new(),
                        }
                    };
                    let v = match v {
                        Value::String(s) if INTEGERS.contains(&key.as_str()) => {
                            s.parse::<i64>().map_or_else(|_| v.clone(), Value::from)
                        }
                        Value::String(s) if BOOLEANS.contains(&key.as_str()) => {
                            s.parse::<bool>().map_or_else(|_| v.clone(), Value::from)
                        }
                        _ => camel(v),
                    };
                    (key, v)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(camel).collect()),
        other => other.clone(),
    }
}

/// CreateProject's input the properties describe, named `name`, with `tags`.
pub fn create_input(name: &str, properties: &Value, tags: Vec<Value>) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("name".into(), name.into());
    for (k, v) in properties.as_object().into_iter().flatten() {
        if !NOT_INPUT.contains(&k.as_str())
            && let Value::Object(m) = camel(&json!({ k: v }))
        {
            out.extend(m);
        }
    }
    out.insert("tags".into(), Value::Array(tags));
    out
}

/// The input, checked as CreateProject checks it.
fn checked(ctx: &ResourceContext, name: &str, properties: &Value) -> Outcome<Map<String, Value>> {
    let mut tags: Vec<(String, String)> = Vec::new();
    for (i, t) in properties
        .get("Tags")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let (Some(k), Some(v)) = (text(t, "Key"), text(t, "Value")) else {
            return Err(invalid(
                ctx,
                format_args!("#/Tags/{i}: required key [Key] or [Value] not found"),
            ));
        };
        tags.push((k, v));
    }
    for (k, v) in &ctx.stack_tags {
        if !tags.iter().any(|(t, _)| t == k) {
            tags.push((k.clone(), v.clone()));
        }
    }
    let tags = tags
        .into_iter()
        .map(|(k, v)| json!({"key": k, "value": v}))
        .collect();
    let input = create_input(name, properties, tags);
    crate::service::decode::<Map<String, Value>>("CreateProject", Value::Object(input))
        .map_err(|e| invalid(ctx, e))
}

fn name(ctx: &ResourceContext, properties: &Value) -> String {
    text(properties, "Name")
        .unwrap_or_else(|| attempt_name(ctx, MIXED_ALNUM, SUFFIX_LEN, generated_name))
}

fn provider_error(name: &str, e: BuildError) -> ProviderError {
    match e {
        BuildError::ProjectExists(_) => already_exists(TYPE_NAME, name),
        BuildError::ProjectNotFound(_) => kit::not_found(TYPE_NAME, name),
        BuildError::Internal(m) => ProviderError::Internal(m),
        other => ProviderError::InvalidRequest(other.to_string()),
    }
}

/// See the module documentation.
pub struct ProjectProvider {
    builds: Arc<Builds>,
}

impl ProjectProvider {
    pub fn new(builds: Arc<Builds>) -> Self {
        ProjectProvider { builds }
    }
}

#[async_trait]
impl Native for ProjectProvider {
    type Record = Project;
    const TYPE_NAME: &'static str = TYPE_NAME;

    fn info(&self) -> TypeInfo {
        type_info(TYPE_NAME, &["Name"], &["Arn"], true).named("Name")
    }

    fn state_of(p: &Project) -> ResourceState {
        let name = p["name"].as_str().unwrap_or_default();
        kit::state(name, [("Arn", p["arn"].clone())])
    }

    fn intended_id(ctx: &ResourceContext, properties: &Value) -> Option<String> {
        Some(name(ctx, properties))
    }

    fn made_since(p: &Project, started: EpochMillis) -> bool {
        p["created"]
            .as_f64()
            .is_some_and(|t| created_since_secs(t, started))
    }

    async fn create_record(&self, ctx: &ResourceContext, properties: &Value) -> Outcome<Project> {
        let name = name(ctx, properties);
        let input = checked(ctx, &name, properties)?;
        let made = self.builds.create_project(&input).await;
        made.map_err(|e| provider_error(&name, e))
    }

    async fn update_record(
        &self,
        ctx: &ResourceContext,
        name: &str,
        properties: &Value,
    ) -> Outcome<Project> {
        let input = checked(ctx, name, properties)?;
        let replaced = self.builds.replace_project(&input).await;
        replaced.map_err(|e| provider_error(name, e))
    }

    async fn get_record(&self, _: &ResourceContext, name: &str) -> Outcome<Option<Project>> {
        let read = self.builds.project(name).await;
        read.map_err(|e| provider_error(name, e))
    }

    async fn delete_record(&self, _: &ResourceContext, name: &str) -> Outcome<()> {
        let result = self.builds.delete_project(name).await;
        result.map_err(|e| provider_error(name, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties_become_create_project_input() {
        let props = json!({
            "ServiceRole": "arn:aws:iam::123456789012:role/build",
            "Source": {"Type": "NO_SOURCE", "BuildSpec": "version: 0.2", "InsecureSsl": "false"},
            "Artifacts": {"Type": "NO_ARTIFACTS"},
            "Environment": {
                "Type": "LINUX_CONTAINER", "Image": "aws/codebuild/standard:7.0",
                "ComputeType": "BUILD_GENERAL1_SMALL",
                "EnvironmentVariables": [{"Name": "STAGE", "Value": "true"}]
            },
            "TimeoutInMinutes": "30",
            "Visibility": "PRIVATE"
        });
        let i = create_input("pp", &props, vec![]);
        assert_eq!(i["source"]["buildspec"], "version: 0.2");
        assert_eq!(i["source"]["insecureSsl"], false);
        assert_eq!(i["timeoutInMinutes"], 30);
        assert_eq!(
            i["environment"]["environmentVariables"][0]["value"], "true",
            "variable values stay text"
        );
        assert!(i.get("visibility").is_none());
        assert!(crate::service::decode::<Value>("CreateProject", Value::Object(i)).is_ok());
    }

    #[test]
    fn generated_names_keep_the_suffix() {
        assert_eq!(
            generated_name("s", "Build", "abcDEF123456"),
            "Build-abcDEF123456"
        );
        assert_eq!(
            generated_name("s", &"L".repeat(200), "abcDEF123456").len(),
            150
        );
    }
}
