//! sagestack-provisioning: the durable lifecycle of SageMaker projects.
//!
//! [`ProjectProvisioner`] is the [`Provisioner`] the SageMaker service calls after every
//! stored project change. It queues one operation per change and runs it as a task:
//!
//! ```text
//! CreateProject ─► Pending ─► CreateInProgress ─► fetch ─► validate ─► stack create ─► CreateCompleted
//!                                                   └──────────┴────────────┴──────► CreateFailed
//! UpdateProject ─► UpdateInProgress ─► fetch ─► validate ─► stack update ─► UpdateCompleted
//!                                        └─────────┴────────────┴──────► UpdateFailed (old stack kept)
//! DeleteProject ─► DeleteInProgress ─► stack delete ─► DeleteCompleted ─(retention)─► gone
//!                                                 └──► DeleteFailed (DeleteProject again retries)
//! ```
//!
//! * **The stack** of a project is named `SP-<project id>-<template name>` (for example
//!   `SP-p-1a2b3c4d5e6f-ml-pipeline`): unique per project, recognisable in the
//!   CloudFormation API (which refuses to change `SP-` stacks), and rebuilt from the
//!   project alone, which is what lets a restart find it. The template receives
//!   `SageMakerProjectName` and `SageMakerProjectId` when it declares them (they win
//!   over user parameters of the same name, as they identify the project); the stack
//!   carries the tags `sagemaker:project-name`, `sagemaker:project-id` and the project's
//!   tags (the engine hands stack tags to every provider as `ResourceContext::stack_tags`)
//!   and the template provider's `RoleARN` as its role.
//! * **Status reports** go through [`Projects::record_provisioning`], which only
//!   applies a report to the same project (id) in the status the operation expects, so a
//!   worker never overwrites a newer state; `StackDetail` (`Name`, `Id`, `StatusMessage`,
//!   texts in [`messages`]) is written with each report.
//! * **Concurrency**: one task per project at a time (later changes of the same project
//!   queue behind it) and at most `concurrency` operations at once across projects (a
//!   semaphore). Workers never poll: they await the engine's
//!   [`CloudFormationService::wait_for_terminal`].
//! * **Templates** are parsed for validation once per distinct body (a small cache); the
//!   stack operation's plan factory keeps its own parse per body, binding per stack.
//! * **Durability**: each operation runs deferred (`sagestack_engine::durability`): its
//!   steps are committed in order without waiting for stable storage one by one, and one
//!   flush at its end covers them all.
//! * **Crash safety**: every state is committed before anything acts on it, and
//!   [`ProjectProvisioner::reconcile`] (after `CloudFormationService::recover`) reconciles
//!   every project left `Pending` / `*InProgress` by desired state: a missing stack is
//!   created, an existing one is awaited and its outcome recorded, an update compares the
//!   stack's template and parameters with the project's to know whether it ran, a delete
//!   deletes whatever is left. Running it twice changes nothing. `DeleteCompleted`
//!   projects get their purge rescheduled.
//! * **Construction, in one direction**: the provisioner is built from the projects'
//!   state ([`Projects`]) and the CloudFormation service, both built before it; the
//!   SageMaker API is built after it and tells it about every stored project change
//!   ([`Provisioner::project_changed`]). Neither state nor CloudFormation knows the
//!   provisioner, so ownership is a tree: API → provisioner → {projects, CloudFormation}.
//! * **Service Catalog** projects go to a [`ServiceCatalogBackend`] (see
//!   [`service_catalog`]); without one they end `CreateFailed` with an honest message.
//!
//! Files: this one holds the public face; [`worker`] the queue and the tasks that run
//! operations; `stacks` the template-provider operations (fetch, validate, stack create,
//! update and delete); [`service_catalog`] the Service Catalog ones.

pub mod messages;
pub mod service_catalog;
pub mod service_catalog_launcher;
mod stacks;
pub mod worker;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sagestack_cloudformation::{CloudFormationService, TemplateSource};
use sagestack_sagemaker::{
    ProjectChangeFeed, ProjectEvent, ProjectStatus, Projects, Provisioner, SageMakerError,
};
use tokio::sync::{Semaphore, watch};

pub use messages::Action;
pub use service_catalog::{NOT_CONFIGURED, ServiceCatalogBackend, ServiceCatalogOutcome};
pub use service_catalog_launcher::ProjectLauncher;
use worker::{CLAIM, Inner, Op, now_seconds};

/// The stack name prefix of project stacks (reserved by the CloudFormation API).
pub const STACK_PREFIX: &str = "SP-";
/// The parameter a template declares to receive the project's name.
pub const PROJECT_NAME_PARAMETER: &str = "SageMakerProjectName";
/// The parameter a template declares to receive the project's id.
pub const PROJECT_ID_PARAMETER: &str = "SageMakerProjectId";
/// The stack tag holding the project's name.
pub const PROJECT_NAME_TAG: &str = "sagemaker:project-name";
/// The stack tag holding the project's id.
pub const PROJECT_ID_TAG: &str = "sagemaker:project-id";
/// Capabilities every project stack is granted: a project template is the
/// administrator's, and SageMaker runs it with its own role.
const CAPABILITIES: [&str; 3] = [
    "CAPABILITY_IAM",
    "CAPABILITY_NAMED_IAM",
    "CAPABILITY_AUTO_EXPAND",
];
/// Distinct template bodies whose validation is remembered.
const TEMPLATE_CACHE: usize = 256;

/// The stack of project `project_id` for its template `template_name`.
pub fn stack_name(project_id: &str, template_name: &str) -> String {
    format!("{STACK_PREFIX}{project_id}-{template_name}")
}

/// The entries of a `[{"Key": .., "Value": ..}]` list (absent or not a list: none), as
/// the key (if any) and the value (absent: empty): how both provisioning paths read the
/// parameters a project's details carry (`Parameters`, `ProvisioningParameters`).
fn key_values(list: Option<&serde_json::Value>) -> impl Iterator<Item = (Option<&str>, &str)> {
    use serde_json::Value;
    list.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|p| {
            let key = p.get("Key").and_then(Value::as_str);
            (
                key,
                p.get("Value").and_then(Value::as_str).unwrap_or_default(),
            )
        })
}

/// How the provisioner works.
#[derive(Debug, Clone)]
pub struct ProvisioningConfig {
    /// Project operations that run at once (`--provisioning-concurrency`).
    pub concurrency: usize,
    /// How long a `DeleteCompleted` project stays visible (`--deleted-project-retention`).
    pub deleted_retention: Duration,
}

impl Default for ProvisioningConfig {
    fn default() -> Self {
        ProvisioningConfig {
            concurrency: 32,
            deleted_retention: Duration::from_secs(60),
        }
    }
}

/// Why the provisioner could not start.
#[derive(Debug, thiserror::Error)]
pub enum ProvisioningError {
    #[error("the projects' store failed: {0}")]
    SageMaker(#[from] SageMakerError),
}

/// What [`ProjectProvisioner::reconcile`] picked up.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reconciled {
    /// Projects whose interrupted operation was resumed, by name.
    pub resumed: Vec<String>,
    /// `DeleteCompleted` projects whose purge was rescheduled.
    pub purges: usize,
}

/// What a [`ProjectProvisioner`] is built from: everything it works with exists before it.
pub struct ProvisionerParts {
    pub config: ProvisioningConfig,
    /// Reads `TemplateURL`s; without one every fetch fails with
    /// `TemplateFetchError::Unavailable`.
    pub source: Option<Arc<dyn TemplateSource>>,
    /// Runs Service Catalog projects; without one they fail with [`NOT_CONFIGURED`].
    pub service_catalog: Option<Arc<dyn ServiceCatalogBackend>>,
    /// The projects' state: read, and where progress is recorded.
    pub projects: Arc<Projects>,
    /// Runs the project stacks.
    pub cloudformation: Arc<CloudFormationService>,
    /// Changes made by writers built before the provisioner (the
    /// `AWS::SageMaker::Project` resource provider), handled as the API's are.
    pub changes: Option<ProjectChangeFeed>,
    /// This process's claims on projects when replicas share the store
    /// (`sagestack_engine::claims`); `None`: every claim granted.
    pub claims: Option<Arc<dyn sagestack_engine::claims::Claims>>,
}

/// The project provisioner (see the crate doc). Cheap to clone.
#[derive(Clone)]
pub struct ProjectProvisioner {
    inner: Arc<Inner>,
    /// The task reading [`ProvisionerParts::changes`]: it holds `inner`, not this, so it
    /// ends (aborted) when the last clone of the provisioner goes.
    _listener: Option<Arc<Listener>>,
}

/// Aborts the change-feed task when dropped.
struct Listener(tokio::task::AbortHandle);

impl Drop for Listener {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The statuses of a project with an operation queued or running.
const IN_FLIGHT: [ProjectStatus; 4] = [
    ProjectStatus::Pending,
    ProjectStatus::CreateInProgress,
    ProjectStatus::UpdateInProgress,
    ProjectStatus::DeleteInProgress,
];

impl ProjectProvisioner {
    /// A provisioner over `projects` and `cloudformation` (see the crate doc). It runs
    /// nothing until told of a change or asked to [`reconcile`](Self::reconcile).
    pub fn new(parts: ProvisionerParts) -> Self {
        let permits = Semaphore::new(parts.config.concurrency.max(1));
        let inner = Arc::new(Inner {
            config: parts.config,
            source: parts.source,
            service_catalog: parts.service_catalog,
            projects: parts.projects,
            cfn: parts.cloudformation,
            permits,
            queues: Mutex::new(HashMap::new()),
            in_flight: watch::Sender::new(0),
            templates: Mutex::new(HashMap::new()),
            claims: parts
                .claims
                .unwrap_or_else(|| Arc::new(sagestack_engine::claims::Unclaimed)),
        });
        let listener = parts.changes.map(|mut feed| {
            let reader = ProjectProvisioner {
                inner: inner.clone(),
                _listener: None,
            };
            let task = tokio::spawn(async move {
                while let Some(event) = feed.recv().await {
                    reader.project_changed(event);
                }
            });
            Arc::new(Listener(task.abort_handle()))
        });
        ProjectProvisioner {
            inner,
            _listener: listener,
        }
    }

    /// Resumes every project left `Pending` / `*InProgress` and reschedules the purge of
    /// `DeleteCompleted` ones. Idempotent; also safe while the server runs (a project
    /// with a running operation is skipped).
    pub async fn reconcile(&self) -> Result<Reconciled, ProvisioningError> {
        let mut out = Reconciled::default();
        let projects = self
            .inner
            .projects
            .projects_with_status(
                &[IN_FLIGHT.as_slice(), &[ProjectStatus::DeleteCompleted]].concat(),
            )
            .await?;
        for project in projects {
            let op = match project.project_status {
                ProjectStatus::Pending | ProjectStatus::CreateInProgress => Op::Create,
                ProjectStatus::UpdateInProgress => Op::Update,
                ProjectStatus::DeleteInProgress => Op::Delete,
                _ => {
                    self.inner
                        .schedule_purge(&project, self.retention_left(&project));
                    out.purges += 1;
                    continue;
                }
            };
            if self.inner.is_busy(&project.project_id) {
                continue;
            }
            if self.resume(op, project.clone()).await? {
                out.resumed.push(project.project_name.clone());
            }
        }
        Ok(out)
    }

    /// Purges the `DeleteCompleted` projects whose retention has run out; returns how
    /// many it removed. A process that dies between recording a deletion and its purge
    /// timer firing leaves such a record behind: on the embedded store the next start-up's
    /// [`Self::reconcile`] reschedules its purge, on a shared database (where start-up
    /// does not reconcile, and the record may be another replica's) takeover's full scan
    /// calls this. A purge is conditional on the record read, so replicas purging the
    /// same project, or a purge racing a re-create of its name, remove it at most once.
    pub async fn purge_due(&self) -> Result<usize, ProvisioningError> {
        let deleted = self
            .inner
            .projects
            .projects_with_status(&[ProjectStatus::DeleteCompleted])
            .await?;
        let mut purged = 0;
        for project in deleted {
            if self.retention_left(&project).is_zero()
                && self
                    .inner
                    .projects
                    .purge_deleted(&project.project_name, &project.project_id)
                    .await?
            {
                purged += 1;
            }
        }
        Ok(purged)
    }

    /// How long a `DeleteCompleted` project has yet to stay visible (zero when due).
    fn retention_left(&self, project: &sagestack_sagemaker::Project) -> Duration {
        let age = now_seconds() - project.last_modified_time.unwrap_or(0.0);
        let left = self.inner.config.deleted_retention.as_secs_f64() - age;
        Duration::from_secs_f64(left.max(0.0))
    }

    /// The projects left `Pending` / `*InProgress`, as (name, project id): what takeover
    /// looks at.
    pub async fn left(&self) -> Result<Vec<(String, String)>, ProvisioningError> {
        let projects = self.inner.projects.projects_with_status(&IN_FLIGHT).await?;
        Ok(projects
            .into_iter()
            .filter(|p| !self.inner.is_busy(&p.project_id))
            .map(|p| (p.project_name, p.project_id))
            .collect())
    }

    /// Resumes the project `name` if it is left `Pending` / `*InProgress`, no task of this
    /// process works on it, and it can be claimed (no live process holds it): `true`
    /// when an operation now runs (what replicas' takeover calls per project).
    pub async fn resume_project(&self, name: &str) -> Result<bool, ProvisioningError> {
        let Some(project) = self.inner.projects.project(name).await? else {
            return Ok(false);
        };
        let op = match project.project_status {
            ProjectStatus::Pending | ProjectStatus::CreateInProgress => Op::Create,
            ProjectStatus::UpdateInProgress => Op::Update,
            ProjectStatus::DeleteInProgress => Op::Delete,
            _ => return Ok(false),
        };
        self.resume(op, project).await
    }

    /// Claims `project` and, if it still reads as left (the listing it came from may be
    /// stale: its holder may have finished it since), submits `op` on it.
    async fn resume(
        &self,
        op: Op,
        project: sagestack_sagemaker::Project,
    ) -> Result<bool, ProvisioningError> {
        let inner = &self.inner;
        if inner.is_busy(&project.project_id) || !inner.claim(&project.project_id).await {
            return Ok(false);
        }
        let current = inner.projects.project(&project.project_name).await?;
        match current {
            Some(p)
                if p.project_id == project.project_id
                    && p.project_status == project.project_status =>
            {
                inner.submit(op, p);
                Ok(true)
            }
            _ => {
                if !inner.is_busy(&project.project_id) {
                    inner.claims.release(CLAIM, &project.project_id).await;
                }
                Ok(false)
            }
        }
    }

    /// How many project operations are queued or running.
    pub fn in_flight(&self) -> usize {
        *self.inner.in_flight.borrow()
    }

    /// Resolves once no project operation is queued or running (tests, shutdown).
    pub async fn wait_idle(&self) {
        let mut rx = self.inner.in_flight.subscribe();
        let _ = rx.wait_for(|n| *n == 0).await;
    }
}

impl Provisioner for ProjectProvisioner {
    fn project_changed(&self, event: ProjectEvent) {
        let (op, project) = match event {
            ProjectEvent::Created(p) => (Op::Create, p),
            ProjectEvent::Updated { before, after } => {
                // Description and tag changes need no provisioning.
                if after.project_status != ProjectStatus::UpdateInProgress
                    || before.project_status == ProjectStatus::UpdateInProgress
                {
                    return;
                }
                (Op::Update, *after)
            }
            ProjectEvent::Deleted(p) => {
                if p.project_status != ProjectStatus::DeleteInProgress {
                    return;
                }
                (Op::Delete, p)
            }
        };
        self.inner.submit(op, project);
    }
}
