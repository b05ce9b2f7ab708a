//! Pipelines as durable documents: what is stored, ARNs, the structure rules the model
//! cannot state, tags, and the state [`Pipelines`] that the API and the provider share.
//!
//! A pipeline is one JSON document ([`Pipeline`]) in the store's document table, kind
//! [`CatalogKind::Pipeline`], keyed by its name. Its `declaration` is the
//! `PipelineDeclaration` as GetPipeline answers it (kept as given, with the defaults and
//! `version` filled in), so nothing of a definition is lost between create and read.
//! Only the current version is kept: GetPipeline of an older version is
//! `PipelineVersionNotFoundException`. Changes are optimistic read-modify-writes on the
//! document's version.
//!
//! Creating a pipeline records its first execution (trigger `CreatePipeline`), as AWS
//! starts a pipeline when it is created; see `executions.rs`.

use std::collections::BTreeMap;
use std::sync::Arc;

use sagestack_engine::Clock;
use sagestack_store::{
    CatalogKind, CatalogRecord, Modified, ServiceCatalogStore, StoreError, catalog_modify,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{PipelineError, invalid};
use crate::executions::Trigger;

pub(crate) type Result<T> = std::result::Result<T, PipelineError>;

/// Tags a pipeline may have.
pub const MAX_TAGS: usize = 50;

/// Where ARNs point: the server's region and account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    pub region: String,
    pub account_id: String,
}

impl Scope {
    /// `arn:aws:codepipeline:{region}:{account}:{name}`.
    pub fn pipeline_arn(&self, name: &str) -> String {
        sagestack_engine::arn(&self.region, &self.account_id, "codepipeline", name)
    }

    /// The pipeline an ARN of this scope names.
    pub fn name_of_arn(&self, arn: &str) -> Result<String> {
        let prefix = self.pipeline_arn("");
        match arn.strip_prefix(&prefix) {
            Some(name) if !name.is_empty() && !name.contains(':') => Ok(name.to_string()),
            _ => Err(PipelineError::InvalidArn(format!(
                "The ARN '{arn}' is not a pipeline ARN of this account and region"
            ))),
        }
    }
}

/// One stored pipeline (the store's opaque document).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Pipeline {
    /// The `PipelineDeclaration`, with `version`, `pipelineType` and `executionMode`.
    pub declaration: Map<String, Value>,
    pub arn: String,
    /// Epoch milliseconds.
    pub created_ms: i64,
    pub updated_ms: i64,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

impl Pipeline {
    pub fn name(&self) -> &str {
        self.declaration["name"].as_str().unwrap_or_default()
    }

    pub fn version(&self) -> i64 {
        self.declaration["version"].as_i64().unwrap_or(1)
    }

    /// The declared stages, each with its actions' names in run order.
    pub fn stages(&self) -> Vec<(String, Vec<String>)> {
        let list = self.declaration["stages"].as_array();
        list.into_iter()
            .flatten()
            .map(|stage| {
                let mut actions: Vec<(i64, String)> = stage["actions"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|a| {
                        let order = a["runOrder"].as_i64().unwrap_or(1);
                        (order, a["name"].as_str().unwrap_or_default().to_string())
                    })
                    .collect();
                // Stable: actions of one run order keep their declared order.
                actions.sort_by_key(|(order, _)| *order);
                let name = stage["name"].as_str().unwrap_or_default().to_string();
                (name, actions.into_iter().map(|(_, a)| a).collect())
            })
            .collect()
    }

    fn record(&self, version: i64) -> Result<CatalogRecord> {
        let document =
            serde_json::to_string(self).map_err(|e| PipelineError::Internal(e.to_string()))?;
        Ok(CatalogRecord {
            id: self.name().to_string(),
            name: None,
            version,
            created_micros: self.created_ms.saturating_mul(1000),
            document: Arc::from(document),
        })
    }
}

fn parse(record: &CatalogRecord) -> Result<Pipeline> {
    serde_json::from_str(&record.document)
        .map_err(|e| PipelineError::Internal(format!("stored pipeline is unreadable: {e}")))
}

/// The rules of a declaration the model cannot state, and its defaults: at least two
/// stages, stage names unique, action names unique within their stage; `pipelineType`
/// `V1` and `executionMode` `SUPERSEDED` when absent (CreatePipeline's defaults).
pub fn normalized(mut declaration: Map<String, Value>) -> Result<Map<String, Value>> {
    let stages = declaration
        .get("stages")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if stages.len() < 2 {
        return Err(PipelineError::InvalidStructure(format!(
            "Pipeline has only {} stage(s). There should be a minimum of 2 stages in a pipeline",
            stages.len()
        )));
    }
    let mut seen = Vec::new();
    for stage in &stages {
        let name = stage["name"].as_str().unwrap_or_default();
        if seen.contains(&name) {
            return Err(PipelineError::InvalidStructure(format!(
                "Stage names must be unique; '{name}' is declared more than once"
            )));
        }
        seen.push(name);
        let mut actions = Vec::new();
        for action in stage["actions"].as_array().into_iter().flatten() {
            let a = action["name"].as_str().unwrap_or_default();
            if actions.contains(&a) {
                return Err(PipelineError::InvalidStructure(format!(
                    "Action names must be unique within a stage; '{a}' is declared more than \
                     once in stage '{name}'"
                )));
            }
            actions.push(a);
        }
    }
    for (key, default) in [("pipelineType", "V1"), ("executionMode", "SUPERSEDED")] {
        declaration
            .entry(key)
            .or_insert_with(|| Value::from(default));
    }
    Ok(declaration)
}

/// `tags` merged into `into`, refused past [`MAX_TAGS`].
pub fn merge_tags(
    into: &mut BTreeMap<String, String>,
    tags: BTreeMap<String, String>,
) -> Result<()> {
    let mut merged = into.clone();
    merged.extend(tags);
    if merged.len() > MAX_TAGS {
        return Err(PipelineError::TooManyTags(format!(
            "Tag limit exceeded: a resource can have at most {MAX_TAGS} tags"
        )));
    }
    *into = merged;
    Ok(())
}

/// Times a read-modify-write is retried after losing a race.
const UPDATE_ATTEMPTS: usize = 8;

/// The state: see the module documentation.
pub struct Pipelines {
    pub(crate) store: Arc<dyn ServiceCatalogStore>,
    pub(crate) clock: Arc<dyn Clock>,
    scope: Scope,
}

impl Pipelines {
    pub fn new(store: Arc<dyn ServiceCatalogStore>, clock: Arc<dyn Clock>, scope: Scope) -> Self {
        Pipelines {
            store,
            clock,
            scope,
        }
    }

    pub fn scope(&self) -> &Scope {
        &self.scope
    }

    pub(crate) fn not_found(&self, name: &str) -> PipelineError {
        PipelineError::PipelineNotFound {
            account: self.scope.account_id.clone(),
            name: name.to_string(),
        }
    }

    /// Stores a new pipeline (version 1) and records the execution its creation starts,
    /// `created_by` being who created it. `NameInUse` if the name is taken.
    pub async fn create(
        &self,
        declaration: Map<String, Value>,
        tags: BTreeMap<String, String>,
        created_by: Trigger,
    ) -> Result<Pipeline> {
        let mut declaration = normalized(declaration)?;
        declaration.insert("version".into(), 1.into());
        let name = declaration["name"].as_str().unwrap_or_default().to_string();
        if name.is_empty() {
            return Err(invalid("A pipeline declaration must have a name"));
        }
        let mut kept = BTreeMap::new();
        merge_tags(&mut kept, tags)?;
        let now = self.clock.now();
        let pipeline = Pipeline {
            arn: self.scope.pipeline_arn(&name),
            declaration,
            created_ms: now,
            updated_ms: now,
            tags: kept,
        };
        match self
            .store
            .catalog_insert(CatalogKind::Pipeline, &pipeline.record(1)?)
            .await
        {
            Ok(()) => {}
            Err(StoreError::AlreadyExists) => return Err(PipelineError::NameInUse(name)),
            Err(e) => return Err(e.into()),
        }
        self.record_execution(&pipeline, created_by, Vec::new(), None)
            .await?;
        Ok(pipeline)
    }

    /// The pipeline `name`, if any.
    pub async fn find(&self, name: &str) -> Result<Option<Pipeline>> {
        match self.store.catalog_get(CatalogKind::Pipeline, name).await? {
            Some(r) => Ok(Some(parse(&r)?)),
            None => Ok(None),
        }
    }

    /// The pipeline `name`; `PipelineNotFound` if absent.
    pub async fn get(&self, name: &str) -> Result<Pipeline> {
        self.find(name).await?.ok_or_else(|| self.not_found(name))
    }

    /// Replaces the declaration of the pipeline it names (its version + 1).
    pub async fn update(&self, declaration: Map<String, Value>) -> Result<Pipeline> {
        let declaration = normalized(declaration)?;
        let name = declaration["name"].as_str().unwrap_or_default().to_string();
        let now = self.clock.now();
        self.modify(&name, |p| {
            let version = p.version() + 1;
            p.declaration = declaration.clone();
            p.declaration.insert("version".into(), version.into());
            p.updated_ms = now;
            Ok(())
        })
        .await
    }

    /// Applies `change` to the stored pipeline `name` and writes it back if it did not
    /// move meanwhile (read again and retried otherwise).
    pub(crate) async fn modify(
        &self,
        name: &str,
        change: impl Fn(&mut Pipeline) -> Result<()>,
    ) -> Result<Pipeline> {
        let modified = catalog_modify(
            &*self.store,
            CatalogKind::Pipeline,
            name,
            UPDATE_ATTEMPTS,
            |r| -> Result<_> {
                let mut pipeline = parse(r)?;
                change(&mut pipeline)?;
                let written = pipeline.record(r.version + 1)?.document;
                Ok((pipeline, written))
            },
        );
        match modified.await? {
            Modified::Written(pipeline, _) => Ok(pipeline),
            Modified::Gone => Err(self.not_found(name)),
            Modified::Contended => Err(PipelineError::ConcurrentModification(format!(
                "Pipeline '{name}' was modified concurrently; try again"
            ))),
        }
    }

    /// Deletes the pipeline and its recorded executions; one already gone is deleted
    /// (DeletePipeline does not answer "not found").
    pub async fn delete(&self, name: &str) -> Result<()> {
        self.store
            .catalog_delete(CatalogKind::Pipeline, name)
            .await?;
        for e in self.executions(name).await? {
            let key = crate::executions::key(name, &e.pipeline_execution_id);
            self.store
                .catalog_delete(CatalogKind::PipelineExecution, &key)
                .await?;
        }
        Ok(())
    }

    /// Every pipeline, by name.
    pub async fn list(&self) -> Result<Vec<Pipeline>> {
        let records = sagestack_store::catalog_all(&*self.store, CatalogKind::Pipeline).await?;
        let mut all = records.iter().map(parse).collect::<Result<Vec<_>>>()?;
        all.sort_by(|a, b| a.name().cmp(b.name()));
        Ok(all)
    }

    /// Adds or replaces tags of the pipeline an ARN names.
    pub async fn tag(&self, arn: &str, tags: BTreeMap<String, String>) -> Result<()> {
        let name = self.resource(arn).await?;
        self.modify(&name, |p| merge_tags(&mut p.tags, tags.clone()))
            .await?;
        Ok(())
    }

    /// Removes tags (absent keys are ignored).
    pub async fn untag(&self, arn: &str, keys: &[String]) -> Result<()> {
        let name = self.resource(arn).await?;
        self.modify(&name, |p| {
            p.tags.retain(|k, _| !keys.contains(k));
            Ok(())
        })
        .await?;
        Ok(())
    }

    /// Replaces every tag of the pipeline `name` (a stack update's `Tags`).
    pub async fn set_tags(&self, name: &str, tags: BTreeMap<String, String>) -> Result<Pipeline> {
        self.modify(name, |p| {
            let mut kept = BTreeMap::new();
            merge_tags(&mut kept, tags.clone())?;
            p.tags = kept;
            Ok(())
        })
        .await
    }

    /// The tags of the pipeline an ARN names.
    pub async fn tags(&self, arn: &str) -> Result<BTreeMap<String, String>> {
        let name = self.resource(arn).await?;
        Ok(self.get(&name).await?.tags)
    }

    /// The name of the stored pipeline an ARN names: tagging operations answer
    /// `ResourceNotFoundException` for one that is not stored.
    async fn resource(&self, arn: &str) -> Result<String> {
        let name = self.scope.name_of_arn(arn)?;
        match self.find(&name).await? {
            Some(_) => Ok(name),
            None => Err(PipelineError::ResourceNotFound(format!(
                "The resource with ARN '{arn}' was not found"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn declaration(stages: usize) -> Map<String, Value> {
        let stages: Vec<Value> = (0..stages)
            .map(|i| {
                json!({"name": format!("S{i}"), "actions": [
                    {"name": "B", "runOrder": 2}, {"name": "A", "runOrder": 1}, {"name": "C"}
                ]})
            })
            .collect();
        json!({"name": "p", "roleArn": "arn:aws:iam::123456789012:role/r", "stages": stages})
            .as_object()
            .unwrap()
            .clone()
    }

    #[test]
    fn structure_rules_and_defaults() {
        let e = normalized(declaration(1)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Pipeline has only 1 stage(s). There should be a minimum of 2 stages in a pipeline"
        );
        let d = normalized(declaration(2)).unwrap();
        assert_eq!(
            (d["pipelineType"].clone(), d["executionMode"].clone()),
            (json!("V1"), json!("SUPERSEDED"))
        );
        let mut dup = declaration(2);
        dup["stages"][1]["name"] = json!("S0");
        assert!(matches!(
            normalized(dup),
            Err(PipelineError::InvalidStructure(_))
        ));
        let mut dup = declaration(2);
        dup["stages"][0]["actions"][1]["name"] = json!("B");
        assert!(matches!(
            normalized(dup),
            Err(PipelineError::InvalidStructure(_))
        ));
    }

    #[test]
    fn stages_list_actions_in_run_order() {
        let p = Pipeline {
            declaration: normalized(declaration(2)).unwrap(),
            arn: String::new(),
            created_ms: 0,
            updated_ms: 0,
            tags: BTreeMap::new(),
        };
        assert_eq!(
            p.stages()[0],
            ("S0".to_string(), vec!["A".into(), "C".into(), "B".into()])
        );
    }

    #[test]
    fn arns() {
        let s = Scope {
            region: "eu-west-1".into(),
            account_id: "123456789012".into(),
        };
        let arn = s.pipeline_arn("deploy");
        assert_eq!(arn, "arn:aws:codepipeline:eu-west-1:123456789012:deploy");
        assert_eq!(s.name_of_arn(&arn).unwrap(), "deploy");
        assert!(matches!(
            s.name_of_arn("arn:aws:s3:::b"),
            Err(PipelineError::InvalidArn(_))
        ));
    }
}
