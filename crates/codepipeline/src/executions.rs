//! Pipeline executions: recorded, never run.
//!
//! sagestack keeps pipeline definitions and records their runs honestly: an execution
//! lists the stages and actions of the pipeline's declaration at the time it started,
//! and is `Succeeded` at once, each action's summary saying it was not executed
//! ([`NOT_EXECUTED`]). Nothing is built, deployed or invoked. Stopping a recorded
//! execution is refused as AWS refuses to stop a finished one.
//!
//! Each execution is one document, kind [`CatalogKind::PipelineExecution`], keyed
//! `{pipeline}/{execution id}` (pipeline names cannot hold `/`); its `sequence` (one
//! more than the pipeline's highest) orders executions started in the same millisecond.
//! Deleting a pipeline deletes its executions.
//!
//! Who started an execution is its [`Trigger`]: `CreatePipeline` (creating a pipeline
//! starts it, as on AWS), `StartPipelineExecution` (the API, with the caller's ARN) or
//! `CloudWatchEvent` (an EventBridge rule, with the rule's ARN), the `triggerType`s of
//! the botocore model.

use std::sync::Arc;

use sagestack_store::{CatalogKind, CatalogRecord, StoreError};
use serde::{Deserialize, Serialize};

use crate::error::{PipelineError, invalid};
use crate::pipelines::{Pipeline, Pipelines, Result};

/// What every recorded action's summary (and each execution's status summary) says.
pub const NOT_EXECUTED: &str = "sagestack records pipeline runs; actions are not executed";

/// The `triggerType`s sagestack records (a subset of the model's enum).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TriggerType {
    /// The pipeline was created (AWS starts a new pipeline once).
    CreatePipeline,
    /// The StartPipelineExecution API.
    StartPipelineExecution,
    /// An EventBridge (CloudWatch Events) rule's target.
    CloudWatchEvent,
}

impl TriggerType {
    pub fn as_str(self) -> &'static str {
        match self {
            TriggerType::CreatePipeline => "CreatePipeline",
            TriggerType::StartPipelineExecution => "StartPipelineExecution",
            TriggerType::CloudWatchEvent => "CloudWatchEvent",
        }
    }
}

/// What started an execution: the model's `ExecutionTrigger`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Trigger {
    pub trigger_type: TriggerType,
    /// The caller's ARN, or the rule's ARN for `CloudWatchEvent`.
    pub trigger_detail: String,
}

impl Trigger {
    /// A StartPipelineExecution call by `caller_arn`.
    pub fn api(caller_arn: impl Into<String>) -> Trigger {
        Trigger {
            trigger_type: TriggerType::StartPipelineExecution,
            trigger_detail: caller_arn.into(),
        }
    }

    /// A start by the EventBridge rule `rule_arn`.
    pub fn event_rule(rule_arn: impl Into<String>) -> Trigger {
        Trigger {
            trigger_type: TriggerType::CloudWatchEvent,
            trigger_detail: rule_arn.into(),
        }
    }

    /// The start that creating the pipeline makes, by `creator_arn`.
    pub fn created(creator_arn: impl Into<String>) -> Trigger {
        Trigger {
            trigger_type: TriggerType::CreatePipeline,
            trigger_detail: creator_arn.into(),
        }
    }
}

/// One recorded action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActionRun {
    pub name: String,
    pub action_execution_id: String,
    pub status: String,
    pub summary: String,
}

/// One recorded stage and its actions, in run order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StageRun {
    pub name: String,
    pub status: String,
    pub actions: Vec<ActionRun>,
}

/// One recorded execution (the store's opaque document).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Execution {
    pub pipeline_name: String,
    pub pipeline_version: i64,
    pub pipeline_execution_id: String,
    /// One more than the pipeline's highest when it started (newest first by this).
    pub sequence: u64,
    pub status: String,
    pub status_summary: String,
    /// Epoch milliseconds.
    pub start_ms: i64,
    pub last_update_ms: i64,
    pub trigger: Trigger,
    pub execution_mode: String,
    /// `(name, resolved value)`: the declared defaults with the start's values over them.
    #[serde(default)]
    pub variables: Vec<(String, String)>,
    pub stages: Vec<StageRun>,
    /// StartPipelineExecution's idempotency token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_request_token: Option<String>,
}

/// The document key of an execution.
pub(crate) fn key(pipeline: &str, id: &str) -> String {
    format!("{pipeline}/{id}")
}

fn parse(record: &CatalogRecord) -> Result<Execution> {
    serde_json::from_str(&record.document)
        .map_err(|e| PipelineError::Internal(format!("stored execution is unreadable: {e}")))
}

/// The declared variables' defaults with `given` over them; a given variable the
/// pipeline does not declare is refused.
fn resolved(pipeline: &Pipeline, given: Vec<(String, String)>) -> Result<Vec<(String, String)>> {
    let declared = pipeline
        .declaration
        .get("variables")
        .and_then(|v| v.as_array());
    let declared: Vec<(String, Option<String>)> = declared
        .into_iter()
        .flatten()
        .map(|v| {
            let name = v["name"].as_str().unwrap_or_default().to_string();
            (name, v["defaultValue"].as_str().map(str::to_string))
        })
        .collect();
    for (name, _) in &given {
        if !declared.iter().any(|(d, _)| d == name) {
            return Err(invalid(format!(
                "Variable '{name}' is not declared in pipeline '{}'",
                pipeline.name()
            )));
        }
    }
    Ok(declared
        .into_iter()
        .filter_map(|(name, default)| {
            let value = given
                .iter()
                .rev()
                .find(|(g, _)| *g == name)
                .map(|(_, v)| v.clone())
                .or(default)?;
            Some((name, value))
        })
        .collect())
}

impl Pipelines {
    /// Records an execution of the pipeline `name` started by `trigger` (completed at
    /// once; see the module documentation) and returns its id: what the EventBridge
    /// target transport calls. `PipelineNotFound` if there is no such pipeline.
    pub async fn start_execution(&self, name: &str, trigger: Trigger) -> Result<String> {
        self.start(name, trigger, Vec::new(), None).await
    }

    /// [`Self::start_execution`] with the API's variables and idempotency token: a token
    /// already used for this pipeline answers the execution it started.
    pub async fn start(
        &self,
        name: &str,
        trigger: Trigger,
        variables: Vec<(String, String)>,
        token: Option<String>,
    ) -> Result<String> {
        let pipeline = self.get(name).await?;
        if let Some(t) = &token {
            let all = self.executions(name).await?;
            if let Some(e) = all
                .iter()
                .find(|e| e.client_request_token.as_ref() == Some(t))
            {
                return Ok(e.pipeline_execution_id.clone());
            }
        }
        let e = self
            .record_execution(&pipeline, trigger, variables, token)
            .await?;
        Ok(e.pipeline_execution_id)
    }

    /// Stores the execution of `pipeline`'s current declaration.
    pub(crate) async fn record_execution(
        &self,
        pipeline: &Pipeline,
        trigger: Trigger,
        variables: Vec<(String, String)>,
        token: Option<String>,
    ) -> Result<Execution> {
        let variables = resolved(pipeline, variables)?;
        let now = self.clock.now();
        let sequence = self
            .executions(pipeline.name())
            .await?
            .first()
            .map_or(1, |e| e.sequence + 1);
        let succeeded = "Succeeded".to_string();
        let stages = pipeline
            .stages()
            .into_iter()
            .map(|(name, actions)| StageRun {
                name,
                status: succeeded.clone(),
                actions: actions
                    .into_iter()
                    .map(|name| ActionRun {
                        name,
                        action_execution_id: uuid::Uuid::new_v4().to_string(),
                        status: succeeded.clone(),
                        summary: NOT_EXECUTED.into(),
                    })
                    .collect(),
            })
            .collect();
        let execution = Execution {
            pipeline_name: pipeline.name().to_string(),
            pipeline_version: pipeline.version(),
            pipeline_execution_id: uuid::Uuid::new_v4().to_string(),
            sequence,
            status: succeeded.clone(),
            status_summary: NOT_EXECUTED.into(),
            start_ms: now,
            last_update_ms: now,
            trigger,
            execution_mode: pipeline.declaration["executionMode"]
                .as_str()
                .unwrap_or("SUPERSEDED")
                .to_string(),
            variables,
            stages,
            client_request_token: token,
        };
        let document = serde_json::to_string(&execution)
            .map_err(|e| PipelineError::Internal(e.to_string()))?;
        let record = CatalogRecord {
            id: key(pipeline.name(), &execution.pipeline_execution_id),
            name: None,
            version: 1,
            created_micros: now.saturating_mul(1000),
            document: Arc::from(document),
        };
        match self
            .store
            .catalog_insert(CatalogKind::PipelineExecution, &record)
            .await
        {
            Ok(()) => Ok(execution),
            Err(StoreError::AlreadyExists) => {
                Err(PipelineError::Internal("execution id drawn twice".into()))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The recorded executions of the pipeline `name`, newest first (none for a pipeline
    /// that does not exist: callers check the pipeline).
    pub async fn executions(&self, name: &str) -> Result<Vec<Execution>> {
        let prefix = key(name, "");
        let records =
            sagestack_store::catalog_all(&*self.store, CatalogKind::PipelineExecution).await?;
        let mut out = records
            .iter()
            .filter(|r| r.id.starts_with(&prefix))
            .map(parse)
            .collect::<Result<Vec<_>>>()?;
        out.sort_by(|a, b| {
            (b.sequence, b.start_ms, &b.pipeline_execution_id).cmp(&(
                a.sequence,
                a.start_ms,
                &a.pipeline_execution_id,
            ))
        });
        Ok(out)
    }

    /// The execution `id` of the pipeline `name`.
    pub async fn execution(&self, name: &str, id: &str) -> Result<Execution> {
        self.get(name).await?;
        let found = self
            .store
            .catalog_get(CatalogKind::PipelineExecution, &key(name, id))
            .await?;
        match found {
            Some(r) => parse(&r),
            None => Err(PipelineError::ExecutionNotFound {
                name: name.to_string(),
                id: id.to_string(),
            }),
        }
    }

    /// StopPipelineExecution: every recorded execution has finished, so this answers
    /// as AWS answers for a finished one (after checking that both exist).
    pub async fn stop(&self, name: &str, id: &str) -> Result<()> {
        let e = self.execution(name, id).await?;
        Err(PipelineError::NotStoppable(e.pipeline_execution_id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    use sagestack_engine::FakeClock;
    use sagestack_store::SqliteStore;
    use serde_json::{Value, json};

    use crate::pipelines::Scope;

    async fn pipelines(dir: &std::path::Path) -> Pipelines {
        let store = SqliteStore::open(dir).await.unwrap();
        Pipelines::new(
            Arc::new(store),
            Arc::new(FakeClock::new(1_700_000_000_000)),
            Scope {
                region: "us-east-1".into(),
                account_id: "123456789012".into(),
            },
        )
    }

    fn declaration() -> serde_json::Map<String, Value> {
        json!({
            "name": "deploy",
            "roleArn": "arn:aws:iam::123456789012:role/r",
            "variables": [{"name": "Env", "defaultValue": "staging"}, {"name": "Model"}],
            "stages": [
                {"name": "Source", "actions": [{"name": "Fetch"}]},
                {"name": "Deploy", "actions": [{"name": "Late", "runOrder": 2}, {"name": "Early"}]}
            ]
        })
        .as_object()
        .unwrap()
        .clone()
    }

    #[tokio::test]
    async fn a_start_is_recorded_complete_with_its_trigger() {
        let dir = tempfile::tempdir().unwrap();
        let p = pipelines(dir.path()).await;
        let root = "arn:aws:iam::123456789012:root";
        p.create(declaration(), BTreeMap::new(), Trigger::created(root))
            .await
            .unwrap();
        let rule = "arn:aws:events:us-east-1:123456789012:rule/approved";
        let id = p
            .start_execution("deploy", Trigger::event_rule(rule))
            .await
            .unwrap();
        let all = p.executions("deploy").await.unwrap();
        assert_eq!(all.len(), 2, "creation starts one, the rule another");
        assert_eq!(all[0].pipeline_execution_id, id, "newest first");
        assert_eq!(all[1].trigger.trigger_type, TriggerType::CreatePipeline);
        let e = p.execution("deploy", &id).await.unwrap();
        assert_eq!(e.status, "Succeeded");
        assert_eq!(e.trigger, Trigger::event_rule(rule));
        assert_eq!(e.variables, [("Env".to_string(), "staging".to_string())]);
        let deploy = &e.stages[1];
        let names: Vec<&str> = deploy.actions.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["Early", "Late"]);
        assert!(deploy.actions.iter().all(|a| a.summary == NOT_EXECUTED));
        let stop = p.stop("deploy", &id).await.unwrap_err();
        assert!(matches!(stop, PipelineError::NotStoppable(_)));
    }

    #[tokio::test]
    async fn variables_tokens_and_missing_things() {
        let dir = tempfile::tempdir().unwrap();
        let p = pipelines(dir.path()).await;
        p.create(declaration(), BTreeMap::new(), Trigger::created("me"))
            .await
            .unwrap();
        let given = vec![("Model".to_string(), "m-1".to_string())];
        let a = p
            .start(
                "deploy",
                Trigger::api("me"),
                given.clone(),
                Some("t".into()),
            )
            .await
            .unwrap();
        let b = p
            .start("deploy", Trigger::api("me"), given, Some("t".into()))
            .await
            .unwrap();
        assert_eq!(a, b, "the same token answers the same execution");
        let e = p.execution("deploy", &a).await.unwrap();
        assert_eq!(e.variables.len(), 2);
        let undeclared = vec![("Nope".to_string(), "x".to_string())];
        let err = p
            .start("deploy", Trigger::api("me"), undeclared, None)
            .await;
        assert!(matches!(err, Err(PipelineError::Validation(_))));
        let err = p.start_execution("absent", Trigger::api("me")).await;
        assert!(matches!(err, Err(PipelineError::PipelineNotFound { .. })));
        let err = p
            .execution("deploy", "00000000-0000-0000-0000-000000000000")
            .await;
        assert!(matches!(err, Err(PipelineError::ExecutionNotFound { .. })));
        p.delete("deploy").await.unwrap();
        assert!(p.executions("deploy").await.unwrap().is_empty());
        p.delete("deploy").await.unwrap();
    }
}
