//! The CodePipeline API: the JSON 1.1 operations (target prefix `CodePipeline_20150709`),
//! validated against the embedded botocore model and run on the [`Pipelines`] state. It
//! owns no state and no rules: it decodes, calls the state, and shapes the answer.

use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock};

use sagestack_protocol::json11::{offset_page, with_token};
use sagestack_protocol::validate::Model;
use sagestack_protocol::{JsonOutput, RequestContext};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use crate::error::PipelineError;
use crate::executions::{Execution, Trigger};
use crate::pipelines::{Pipeline, Pipelines, Result};

/// The embedded model (`model/codepipeline.json`).
pub static MODEL: LazyLock<Model> = LazyLock::new(|| {
    Model::parse(include_str!("../model/codepipeline.json"))
        .expect("embedded CodePipeline model is valid (tested)")
});

pub(crate) fn decode<T: DeserializeOwned>(operation: &str, input: Value) -> Result<T> {
    sagestack_protocol::json11::decode(&MODEL, operation, input)
}

/// Page size of the listings when `maxResults` is absent.
const DEFAULT_PAGE: usize = 100;

/// A tag as CodePipeline spells it (lower-case members).
#[derive(Deserialize)]
struct Tag {
    key: String,
    value: String,
}

fn tag_map(tags: Option<Vec<Tag>>) -> BTreeMap<String, String> {
    tags.into_iter()
        .flatten()
        .map(|t| (t.key, t.value))
        .collect()
}

fn tag_list(tags: &BTreeMap<String, String>) -> Value {
    tags.iter()
        .map(|(k, v)| json!({"key": k, "value": v}))
        .collect()
}

#[derive(Deserialize)]
struct PipelineInput {
    pipeline: Map<String, Value>,
    tags: Option<Vec<Tag>>,
}

#[derive(Deserialize)]
struct GetPipeline {
    name: String,
    version: Option<i64>,
}

#[derive(Deserialize)]
struct Name {
    name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Page {
    next_token: Option<String>,
    max_results: Option<usize>,
}

#[derive(Deserialize)]
struct Variable {
    name: String,
    value: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StartExecution {
    name: String,
    variables: Option<Vec<Variable>>,
    client_request_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ExecutionRef {
    pipeline_name: String,
    pipeline_execution_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListExecutions {
    pipeline_name: String,
    #[serde(flatten)]
    page: Page,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TagResource {
    resource_arn: String,
    tags: Vec<Tag>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UntagResource {
    resource_arn: String,
    tag_keys: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ResourceArn {
    resource_arn: String,
}

/// JSON 1.1 timestamps: epoch seconds.
fn seconds(ms: i64) -> f64 {
    ms as f64 / 1000.0
}

/// One page of `items` from the offset in `token` (`InvalidNextToken` if unreadable).
fn page<T>(items: Vec<T>, page: &Page) -> Result<(Vec<T>, Option<String>)> {
    let size = page.max_results.unwrap_or(DEFAULT_PAGE);
    offset_page(items, page.next_token.as_deref(), size)
        .ok_or_else(|| PipelineError::InvalidNextToken("The next token is not valid".into()))
}

fn metadata(p: &Pipeline) -> Value {
    json!({
        "pipelineArn": p.arn,
        "created": seconds(p.created_ms),
        "updated": seconds(p.updated_ms),
    })
}

fn trigger(t: &Trigger) -> Value {
    json!({"triggerType": t.trigger_type.as_str(), "triggerDetail": t.trigger_detail})
}

fn execution_detail(e: &Execution) -> Value {
    let variables: Vec<Value> = e
        .variables
        .iter()
        .map(|(n, v)| json!({"name": n, "resolvedValue": v}))
        .collect();
    json!({
        "pipelineName": e.pipeline_name,
        "pipelineVersion": e.pipeline_version,
        "pipelineExecutionId": e.pipeline_execution_id,
        "status": e.status,
        "statusSummary": e.status_summary,
        "artifactRevisions": [],
        "variables": variables,
        "trigger": trigger(&e.trigger),
        "executionMode": e.execution_mode,
        "executionType": "STANDARD",
    })
}

fn execution_summary(e: &Execution) -> Value {
    json!({
        "pipelineExecutionId": e.pipeline_execution_id,
        "status": e.status,
        "statusSummary": e.status_summary,
        "startTime": seconds(e.start_ms),
        "lastUpdateTime": seconds(e.last_update_ms),
        "sourceRevisions": [],
        "trigger": trigger(&e.trigger),
        "executionMode": e.execution_mode,
        "executionType": "STANDARD",
    })
}

/// GetPipelineState: the declared stages, each with what the newest execution recorded
/// of it (nothing for a stage added since).
fn state(p: &Pipeline, latest: Option<&Execution>) -> Value {
    let stages: Vec<Value> = p
        .stages()
        .into_iter()
        .map(|(stage, actions)| {
            let run = latest.and_then(|e| e.stages.iter().find(|s| s.name == stage));
            let actions: Vec<Value> = actions
                .into_iter()
                .map(|action| {
                    let mut out = json!({"actionName": action});
                    let done = run.and_then(|s| s.actions.iter().find(|a| a.name == action));
                    if let (Some(a), Some(e)) = (done, latest) {
                        out["latestExecution"] = json!({
                            "actionExecutionId": a.action_execution_id,
                            "status": a.status,
                            "summary": a.summary,
                            "lastStatusChange": seconds(e.last_update_ms),
                        });
                    }
                    out
                })
                .collect();
            let mut out = json!({
                "stageName": stage,
                "inboundTransitionState": {"enabled": true},
                "actionStates": actions,
            });
            if let (Some(s), Some(e)) = (run, latest) {
                let execution = json!({
                    "pipelineExecutionId": e.pipeline_execution_id,
                    "status": s.status,
                    "type": "STANDARD",
                });
                out["latestExecution"] = execution.clone();
                out["inboundExecutions"] = json!([]);
            }
            out
        })
        .collect();
    json!({
        "pipelineName": p.name(),
        "pipelineVersion": p.version(),
        "stageStates": stages,
        "created": seconds(p.created_ms),
        "updated": seconds(p.updated_ms),
    })
}

/// The CodePipeline API over the [`Pipelines`] state.
pub struct CodePipelineService {
    pipelines: Arc<Pipelines>,
}

impl CodePipelineService {
    pub fn new(pipelines: Arc<Pipelines>) -> Self {
        CodePipelineService { pipelines }
    }

    /// Runs one operation on a decoded JSON input.
    pub async fn handle(&self, ctx: &RequestContext, op: &str, input: Value) -> Result<JsonOutput> {
        let pipelines = &self.pipelines;
        let out = match op {
            "CreatePipeline" => {
                let i: PipelineInput = decode(op, input)?;
                let tags = tag_map(i.tags);
                let made = pipelines
                    .create(i.pipeline, tags, Trigger::created(ctx.caller_arn()))
                    .await?;
                json!({"pipeline": made.declaration, "tags": tag_list(&made.tags)})
            }
            "GetPipeline" => {
                let i: GetPipeline = decode(op, input)?;
                let p = pipelines.get(&i.name).await?;
                if let Some(v) = i.version.filter(|v| *v != p.version()) {
                    return Err(PipelineError::PipelineVersionNotFound {
                        name: i.name,
                        version: v,
                    });
                }
                json!({"pipeline": p.declaration, "metadata": metadata(&p)})
            }
            "UpdatePipeline" => {
                let i: PipelineInput = decode(op, input)?;
                json!({"pipeline": pipelines.update(i.pipeline).await?.declaration})
            }
            "DeletePipeline" => {
                let i: Name = decode(op, input)?;
                pipelines.delete(&i.name).await?;
                json!({})
            }
            "ListPipelines" => {
                let i: Page = decode(op, input)?;
                let (items, next) = page(pipelines.list().await?, &i)?;
                let summaries: Vec<Value> = items
                    .iter()
                    .map(|p| {
                        json!({
                            "name": p.name(),
                            "version": p.version(),
                            "pipelineType": p.declaration["pipelineType"],
                            "executionMode": p.declaration["executionMode"],
                            "created": seconds(p.created_ms),
                            "updated": seconds(p.updated_ms),
                        })
                    })
                    .collect();
                with_token(json!({"pipelines": summaries}), "nextToken", next)
            }
            "GetPipelineState" => {
                let i: Name = decode(op, input)?;
                let p = pipelines.get(&i.name).await?;
                let executions = pipelines.executions(&i.name).await?;
                state(&p, executions.first())
            }
            "StartPipelineExecution" => {
                let i: StartExecution = decode(op, input)?;
                let variables = i
                    .variables
                    .into_iter()
                    .flatten()
                    .map(|v| (v.name, v.value))
                    .collect();
                let trigger = Trigger::api(ctx.caller_arn());
                let id = pipelines
                    .start(&i.name, trigger, variables, i.client_request_token)
                    .await?;
                json!({"pipelineExecutionId": id})
            }
            "GetPipelineExecution" => {
                let i: ExecutionRef = decode(op, input)?;
                let e = pipelines
                    .execution(&i.pipeline_name, &i.pipeline_execution_id)
                    .await?;
                json!({"pipelineExecution": execution_detail(&e)})
            }
            "ListPipelineExecutions" => {
                let i: ListExecutions = decode(op, input)?;
                pipelines.get(&i.pipeline_name).await?;
                let all = pipelines.executions(&i.pipeline_name).await?;
                let (items, next) = page(all, &i.page)?;
                let summaries: Vec<Value> = items.iter().map(execution_summary).collect();
                with_token(
                    json!({"pipelineExecutionSummaries": summaries}),
                    "nextToken",
                    next,
                )
            }
            "StopPipelineExecution" => {
                let i: ExecutionRef = decode(op, input)?;
                pipelines
                    .stop(&i.pipeline_name, &i.pipeline_execution_id)
                    .await?;
                json!({"pipelineExecutionId": i.pipeline_execution_id})
            }
            "TagResource" => {
                let i: TagResource = decode(op, input)?;
                pipelines
                    .tag(&i.resource_arn, tag_map(Some(i.tags)))
                    .await?;
                json!({})
            }
            "UntagResource" => {
                let i: UntagResource = decode(op, input)?;
                pipelines.untag(&i.resource_arn, &i.tag_keys).await?;
                json!({})
            }
            "ListTagsForResource" => {
                let i: ResourceArn = decode(op, input)?;
                json!({"tags": tag_list(&pipelines.tags(&i.resource_arn).await?)})
            }
            other => {
                return Err(PipelineError::UnknownOperation(format!(
                    "Operation CodePipeline_20150709.{other} is not supported by this server"
                )));
            }
        };
        Ok(JsonOutput::Value(out))
    }
}

sagestack_protocol::json11_service!(CodePipelineService, "CodePipeline_20150709");

#[cfg(test)]
mod tests;
