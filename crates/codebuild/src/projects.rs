//! Build projects as durable documents, and the state [`Builds`] that the API and the
//! provider share (the builds themselves are in `builds.rs`).
//!
//! A project is one JSON document in the store's document table, kind
//! [`CatalogKind::BuildProject`], keyed by its name: the `Project` shape BatchGetProjects
//! answers, made from CreateProject's input (kept as given) with the ARN, the times and
//! CodeBuild's defaults filled in. Changes (the provider's updates) are optimistic
//! read-modify-writes on the document's version. Deleting a project keeps its builds,
//! as CodeBuild does.

use std::sync::Arc;

use sagestack_engine::Clock;
use sagestack_store::{
    CatalogKind, CatalogRecord, Modified, ServiceCatalogStore, StoreError, catalog_modify,
};
use serde_json::{Map, Value, json};

use crate::error::BuildError;

pub(crate) type Result<T> = std::result::Result<T, BuildError>;

/// A project: the `Project` shape, as BatchGetProjects answers it.
pub type Project = Map<String, Value>;

/// CreateProject's members a project keeps as given (the model has validated them).
const KEPT: [&str; 21] = [
    "name",
    "description",
    "source",
    "secondarySources",
    "sourceVersion",
    "secondarySourceVersions",
    "artifacts",
    "secondaryArtifacts",
    "cache",
    "environment",
    "serviceRole",
    "timeoutInMinutes",
    "queuedTimeoutInMinutes",
    "encryptionKey",
    "tags",
    "vpcConfig",
    "logsConfig",
    "fileSystemLocations",
    "buildBatchConfig",
    "concurrentBuildLimit",
    "autoRetryLimit",
];

/// Where ARNs point: the server's region and account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    pub region: String,
    pub account_id: String,
}

impl Scope {
    fn arn(&self, service: &str, resource: &str) -> String {
        sagestack_engine::arn(&self.region, &self.account_id, service, resource)
    }

    /// `arn:aws:codebuild:{region}:{account}:project/{name}`.
    pub fn project_arn(&self, name: &str) -> String {
        self.arn("codebuild", &format!("project/{name}"))
    }

    /// `arn:aws:codebuild:{region}:{account}:build/{project}:{uuid}`.
    pub fn build_arn(&self, id: &str) -> String {
        self.arn("codebuild", &format!("build/{id}"))
    }

    /// The key CodeBuild encrypts artifacts with when a project names none.
    fn default_encryption_key(&self) -> String {
        self.arn("kms", "alias/aws/s3")
    }
}

/// JSON 1.1 timestamps: epoch seconds.
pub(crate) fn seconds(ms: i64) -> f64 {
    ms as f64 / 1000.0
}

fn parse(record: &CatalogRecord) -> Result<Project> {
    serde_json::from_str(&record.document)
        .map_err(|e| BuildError::Internal(format!("stored project is unreadable: {e}")))
}

fn record(project: &Project, version: i64, created_ms: i64) -> Result<CatalogRecord> {
    let document =
        serde_json::to_string(project).map_err(|e| BuildError::Internal(e.to_string()))?;
    Ok(CatalogRecord {
        id: project["name"].as_str().unwrap_or_default().to_string(),
        name: None,
        version,
        created_micros: created_ms.saturating_mul(1000),
        document: Arc::from(document),
    })
}

/// Times a read-modify-write is retried after losing a race.
const UPDATE_ATTEMPTS: usize = 8;

/// The state: projects (here) and their recorded builds (`builds.rs`).
pub struct Builds {
    pub(crate) store: Arc<dyn ServiceCatalogStore>,
    pub(crate) clock: Arc<dyn Clock>,
    scope: Scope,
}

impl Builds {
    pub fn new(store: Arc<dyn ServiceCatalogStore>, clock: Arc<dyn Clock>, scope: Scope) -> Self {
        Builds {
            store,
            clock,
            scope,
        }
    }

    pub fn scope(&self) -> &Scope {
        &self.scope
    }

    pub(crate) fn not_found(&self, name: &str) -> BuildError {
        BuildError::ProjectNotFound(self.scope.project_arn(name))
    }

    /// The project document CreateProject's `input` describes, made at `created_ms` and
    /// last modified `now_ms`.
    fn document(&self, input: &Map<String, Value>, created_ms: i64, now_ms: i64) -> Project {
        let mut p: Project = KEPT
            .iter()
            .filter_map(|k| Some((k.to_string(), input.get(*k)?.clone())))
            .collect();
        let name = p["name"].as_str().unwrap_or_default().to_string();
        p.insert("arn".into(), self.scope.project_arn(&name).into());
        let defaults = [
            ("timeoutInMinutes", json!(60)),
            ("queuedTimeoutInMinutes", json!(480)),
            ("encryptionKey", json!(self.scope.default_encryption_key())),
            ("cache", json!({"type": "NO_CACHE"})),
            ("tags", json!([])),
            (
                "logsConfig",
                json!({"cloudWatchLogs": {"status": "ENABLED"}, "s3Logs": {"status": "DISABLED", "encryptionDisabled": false}}),
            ),
            ("projectVisibility", json!("PRIVATE")),
        ];
        for (k, v) in defaults {
            p.entry(k).or_insert(v);
        }
        let badge = input.get("badgeEnabled").and_then(Value::as_bool);
        p.insert(
            "badge".into(),
            json!({"badgeEnabled": badge.unwrap_or(false)}),
        );
        p.insert("created".into(), seconds(created_ms).into());
        p.insert("lastModified".into(), seconds(now_ms).into());
        p
    }

    /// Stores the project CreateProject's (validated) `input` describes;
    /// `ProjectExists` if the name is taken.
    pub async fn create_project(&self, input: &Map<String, Value>) -> Result<Project> {
        let now = self.clock.now();
        let project = self.document(input, now, now);
        let name = project["name"].as_str().unwrap_or_default().to_string();
        match self
            .store
            .catalog_insert(CatalogKind::BuildProject, &record(&project, 1, now)?)
            .await
        {
            Ok(()) => Ok(project),
            Err(StoreError::AlreadyExists) => {
                Err(BuildError::ProjectExists(self.scope.project_arn(&name)))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Replaces the project `input` names with what it describes (keeping its creation
    /// time); `ProjectNotFound` if absent.
    pub async fn replace_project(&self, input: &Map<String, Value>) -> Result<Project> {
        let name = input["name"].as_str().unwrap_or_default();
        self.rewrite(name, |r| {
            Ok(self.document(input, r.created_micros / 1000, self.clock.now()))
        })
        .await
    }

    /// Changes the project `input` names: each member UpdateProject's (validated)
    /// `input` gives replaces the stored one (`tags` replaces all tags, `badgeEnabled`
    /// the badge); the others stay. `ProjectNotFound` if absent.
    pub async fn update_project(&self, input: &Map<String, Value>) -> Result<Project> {
        let name = input["name"].as_str().unwrap_or_default();
        self.rewrite(name, |r| {
            let mut project = parse(r)?;
            for k in KEPT.iter().filter(|k| **k != "name") {
                if let Some(v) = input.get(*k) {
                    project.insert(k.to_string(), v.clone());
                }
            }
            if let Some(b) = input.get("badgeEnabled").and_then(Value::as_bool) {
                project.insert("badge".into(), json!({"badgeEnabled": b}));
            }
            project.insert("lastModified".into(), seconds(self.clock.now()).into());
            Ok(project)
        })
        .await
    }

    /// Writes what `change` makes of project `name`'s stored record (compare-and-swap,
    /// retried on contention), keeping its creation time: the project written;
    /// `ProjectNotFound` if absent.
    async fn rewrite(
        &self,
        name: &str,
        mut change: impl FnMut(&CatalogRecord) -> Result<Project>,
    ) -> Result<Project> {
        let modified = catalog_modify(
            &*self.store,
            CatalogKind::BuildProject,
            name,
            UPDATE_ATTEMPTS,
            |r| -> Result<_> {
                let project = change(r)?;
                let written = record(&project, r.version + 1, r.created_micros / 1000)?.document;
                Ok((project, written))
            },
        );
        match modified.await? {
            Modified::Written(project, _) => Ok(project),
            Modified::Gone => Err(self.not_found(name)),
            Modified::Contended => Err(BuildError::Conflict(format!(
                "Project {name} was modified concurrently; try again"
            ))),
        }
    }

    /// The project `name`, if any.
    pub async fn project(&self, name: &str) -> Result<Option<Project>> {
        match self
            .store
            .catalog_get(CatalogKind::BuildProject, name)
            .await?
        {
            Some(r) => Ok(Some(parse(&r)?)),
            None => Ok(None),
        }
    }

    /// Every project, oldest first.
    pub async fn projects(&self) -> Result<Vec<Project>> {
        let records = sagestack_store::catalog_all(&*self.store, CatalogKind::BuildProject).await?;
        records.iter().map(parse).collect()
    }

    /// Deletes the project (its builds stay); one already gone is deleted, as
    /// DeleteProject answers.
    pub async fn delete_project(&self, name: &str) -> Result<()> {
        self.store
            .catalog_delete(CatalogKind::BuildProject, name)
            .await?;
        Ok(())
    }
}
