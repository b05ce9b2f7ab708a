//! The CodeBuild API: the JSON 1.1 operations (target prefix `CodeBuild_20161006`),
//! validated against the embedded botocore model and run on the [`Builds`] state. It
//! owns no state and no rules: it decodes, calls the state, and shapes the answer.

use std::sync::{Arc, LazyLock};

use sagestack_protocol::json11::{offset_page, with_token};
use sagestack_protocol::validate::Model;
use sagestack_protocol::{JsonOutput, RequestContext};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use crate::builds::{Build, Initiator};
use crate::error::BuildError;
use crate::projects::{Builds, Result};

/// The embedded model (`model/codebuild.json`).
pub static MODEL: LazyLock<Model> = LazyLock::new(|| {
    Model::parse(include_str!("../model/codebuild.json"))
        .expect("embedded CodeBuild model is valid (tested)")
});

pub(crate) fn decode<T: DeserializeOwned>(operation: &str, input: Value) -> Result<T> {
    sagestack_protocol::json11::decode(&MODEL, operation, input)
}

/// Names (or ids) per page of the listings.
const PAGE: usize = 100;

#[derive(Deserialize)]
struct Names {
    names: Vec<String>,
}

#[derive(Deserialize)]
struct Name {
    name: String,
}

#[derive(Deserialize)]
struct Ids {
    ids: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListProjects {
    sort_by: Option<String>,
    sort_order: Option<String>,
    next_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListBuilds {
    project_name: Option<String>,
    sort_order: Option<String>,
    next_token: Option<String>,
}

/// The caller as CodeBuild names the initiator (the account root in process).
fn initiator(ctx: &RequestContext) -> Initiator {
    Initiator::Caller(ctx.caller_arn())
}

/// A project name from a name or a project ARN.
fn project_name(name_or_arn: &str) -> &str {
    match name_or_arn.split_once(":project/") {
        Some((_, name)) if name_or_arn.starts_with("arn:") => name,
        _ => name_or_arn,
    }
}

/// A build as BatchGetBuilds answers it (what sagestack keeps for itself removed).
fn shown(mut b: Build) -> Value {
    b.remove("idempotencyToken");
    Value::Object(b)
}

/// One page of `items` from the offset in `token`.
fn page(items: Vec<Value>, token: Option<&str>) -> Result<(Vec<Value>, Option<String>)> {
    offset_page(items, token, PAGE)
        .ok_or_else(|| BuildError::InvalidInput("Invalid next token".into()))
}

/// The CodeBuild API over the [`Builds`] state.
pub struct CodeBuildService {
    builds: Arc<Builds>,
}

impl CodeBuildService {
    pub fn new(builds: Arc<Builds>) -> Self {
        CodeBuildService { builds }
    }

    /// Runs one operation on a decoded JSON input.
    pub async fn handle(&self, ctx: &RequestContext, op: &str, input: Value) -> Result<JsonOutput> {
        let builds = &self.builds;
        let out = match op {
            "CreateProject" => {
                let i: Map<String, Value> = decode(op, input)?;
                json!({"project": builds.create_project(&i).await?})
            }
            "UpdateProject" => {
                let mut i: Map<String, Value> = decode(op, input)?;
                let name = project_name(i["name"].as_str().unwrap_or_default()).to_string();
                i.insert("name".into(), name.into());
                json!({"project": builds.update_project(&i).await?})
            }
            "BatchGetProjects" => {
                let i: Names = decode(op, input)?;
                let (mut found, mut missing) = (Vec::new(), Vec::new());
                for n in i.names {
                    match builds.project(project_name(&n)).await? {
                        Some(p) => found.push(Value::Object(p)),
                        None => missing.push(n),
                    }
                }
                json!({"projects": found, "projectsNotFound": missing})
            }
            "ListProjects" => {
                let i: ListProjects = decode(op, input)?;
                let mut all = builds.projects().await?;
                let key = match i.sort_by.as_deref() {
                    Some("CREATED_TIME") => "created",
                    Some("LAST_MODIFIED_TIME") => "lastModified",
                    _ => "name",
                };
                all.sort_by(|a, b| match key {
                    "name" => a["name"].as_str().cmp(&b["name"].as_str()),
                    k => a[k]
                        .as_f64()
                        .partial_cmp(&b[k].as_f64())
                        .unwrap_or(std::cmp::Ordering::Equal),
                });
                if i.sort_order.as_deref() == Some("DESCENDING") {
                    all.reverse();
                }
                let names = all.into_iter().map(|p| p["name"].clone()).collect();
                let (items, next) = page(names, i.next_token.as_deref())?;
                with_token(json!({"projects": items}), "nextToken", next)
            }
            "DeleteProject" => {
                let i: Name = decode(op, input)?;
                builds.delete_project(project_name(&i.name)).await?;
                json!({})
            }
            "StartBuild" => {
                let i: Map<String, Value> = decode(op, input)?;
                let name = i["projectName"].as_str().unwrap_or_default();
                let build = builds.start(project_name(name), initiator(ctx), &i).await?;
                json!({"build": shown(build)})
            }
            "BatchGetBuilds" => {
                let i: Ids = decode(op, input)?;
                let (mut found, mut missing) = (Vec::new(), Vec::new());
                for id in i.ids {
                    let id_of_arn = id.split_once(":build/").map_or(id.as_str(), |(_, b)| b);
                    match builds.build(id_of_arn).await? {
                        Some(b) => found.push(shown(b)),
                        None => missing.push(id),
                    }
                }
                json!({"builds": found, "buildsNotFound": missing})
            }
            "ListBuildsForProject" | "ListBuilds" => {
                let i: ListBuilds = decode(op, input)?;
                let mut all = match &i.project_name {
                    Some(name) => {
                        let name = project_name(name);
                        if builds.project(name).await?.is_none() {
                            return Err(builds.not_found(name));
                        }
                        builds.builds_of(name).await?
                    }
                    None => builds.all_builds().await?,
                };
                if i.sort_order.as_deref() == Some("ASCENDING") {
                    all.reverse();
                }
                let ids = all.into_iter().map(|b| b["id"].clone()).collect();
                let (items, next) = page(ids, i.next_token.as_deref())?;
                with_token(json!({"ids": items}), "nextToken", next)
            }
            other => {
                return Err(BuildError::UnknownOperation(format!(
                    "Operation CodeBuild_20161006.{other} is not supported by this server"
                )));
            }
        };
        Ok(JsonOutput::Value(out))
    }
}

sagestack_protocol::json11_service!(CodeBuildService, "CodeBuild_20161006");

#[cfg(test)]
mod tests;
