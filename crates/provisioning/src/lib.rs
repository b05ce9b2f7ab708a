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
//! * **Status reports** go through [`SageMakerService::record_provisioning`], which only
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
//!   [`ProjectProvisioner::start`] (after `CloudFormationService::recover`) reconciles
//!   every project left `Pending` / `*InProgress` by desired state: a missing stack is
//!   created, an existing one is awaited and its outcome recorded, an update compares the
//!   stack's template and parameters with the project's to know whether it ran, a delete
//!   deletes whatever is left. Running it twice changes nothing. `DeleteCompleted`
//!   projects get their purge rescheduled.
//! * **Late binding**: the SageMaker service needs the provisioner at construction and
//!   the provisioner needs the service (and the CloudFormation service, which itself
//!   needs the SageMaker service for its native providers). So the provisioner is built
//!   first, unbound, and [`ProjectProvisioner::start`] binds both once (a `OnceLock`);
//!   it keeps both services as `Weak`s so that they do not keep each other alive (the
//!   server's API layer owns them). Changes reported before `start` are only logged: they are durable, and
//!   `start` reconciles them.
//! * **Service Catalog** projects go to a [`ServiceCatalogBackend`] (see
//!   [`service_catalog`]); without one they end `CreateFailed` with an honest message.

pub mod messages;
pub mod service_catalog;
pub mod service_catalog_launcher;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use sagestack_cloudformation::{
    CloudFormationService, CreateStackInput, EngineError, S3_TEMPLATE_LIMIT, StackRecord,
    StackStatus, TemplateFetchError, TemplateSource, UpdateStackInput,
};
use sagestack_engine::StackEvent;
use sagestack_sagemaker::{
    Project, ProjectEvent, ProjectStatus, Provisioner, ProvisioningUpdate, SageMakerError,
    SageMakerService,
};
use serde_json::{Value, json};
use tokio::sync::{Semaphore, watch};

pub use messages::Action;
pub use service_catalog::{NOT_CONFIGURED, ServiceCatalogBackend, ServiceCatalogOutcome};
pub use service_catalog_launcher::{LauncherSlot, ProjectLauncher};

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
    #[error("the provisioner was already started")]
    AlreadyStarted,
    #[error("cannot list the projects to reconcile: {0}")]
    SageMaker(#[from] SageMakerError),
}

/// What [`ProjectProvisioner::start`] picked up.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reconciled {
    /// Projects whose interrupted operation was resumed, by name.
    pub resumed: Vec<String>,
    /// `DeleteCompleted` projects whose purge was rescheduled.
    pub purges: usize,
}

/// One queued operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Create,
    Update,
    Delete,
}

/// The services, held weakly: the provisioner works for them but does not own them
/// (the SageMaker service owns the provisioner, and the CloudFormation service's native
/// providers own the SageMaker service, so strong references would form a cycle that
/// keeps the store, and its data dir lock, alive forever).
struct Bound {
    sagemaker: Weak<SageMakerService>,
    cfn: Weak<CloudFormationService>,
}

type Checked = Result<Arc<Vec<String>>, String>;

struct Inner {
    config: ProvisioningConfig,
    source: Option<Arc<dyn TemplateSource>>,
    service_catalog: Option<Arc<dyn ServiceCatalogBackend>>,
    permits: Semaphore,
    bound: OnceLock<Bound>,
    /// Project id -> operations queued behind the running one. Present while a task
    /// works on the project.
    queues: Mutex<HashMap<String, VecDeque<(Op, Project)>>>,
    /// Operations queued or running (for [`ProjectProvisioner::wait_idle`]).
    in_flight: watch::Sender<usize>,
    /// Template body -> declared parameter names, or the validation message.
    templates: Mutex<HashMap<String, Checked>>,
}

/// The project provisioner (see the crate doc). Cheap to clone.
#[derive(Clone)]
pub struct ProjectProvisioner {
    inner: Arc<Inner>,
}

impl ProjectProvisioner {
    /// An unbound provisioner; `source` reads `TemplateURL`s (without one every fetch
    /// fails with [`TemplateFetchError::Unavailable`]).
    pub fn new(config: ProvisioningConfig, source: Option<Arc<dyn TemplateSource>>) -> Self {
        Self::build(config, source, None)
    }

    /// The same provisioner with a Service Catalog backend.
    ///
    /// # Panics
    /// When the provisioner was already cloned (call it while building).
    pub fn with_service_catalog(mut self, backend: Arc<dyn ServiceCatalogBackend>) -> Self {
        Arc::get_mut(&mut self.inner)
            .expect("with_service_catalog is called while building, before any clone")
            .service_catalog = Some(backend);
        self
    }

    fn build(
        config: ProvisioningConfig,
        source: Option<Arc<dyn TemplateSource>>,
        service_catalog: Option<Arc<dyn ServiceCatalogBackend>>,
    ) -> Self {
        let permits = Semaphore::new(config.concurrency.max(1));
        ProjectProvisioner {
            inner: Arc::new(Inner {
                config,
                source,
                service_catalog,
                permits,
                bound: OnceLock::new(),
                queues: Mutex::new(HashMap::new()),
                in_flight: watch::Sender::new(0),
                templates: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// Binds the services and reconciles what a previous process left unfinished. Call
    /// once, after `CloudFormationService::recover`, before serving requests. With
    /// `reconcile == false` (a PostgreSQL replica that is not the reconciler) it only
    /// binds.
    pub async fn start(
        &self,
        sagemaker: &Arc<SageMakerService>,
        cfn: Arc<CloudFormationService>,
        reconcile: bool,
    ) -> Result<Reconciled, ProvisioningError> {
        self.inner
            .bound
            .set(Bound {
                sagemaker: Arc::downgrade(sagemaker),
                cfn: Arc::downgrade(&cfn),
            })
            .map_err(|_| ProvisioningError::AlreadyStarted)?;
        if reconcile {
            self.reconcile(sagemaker).await
        } else {
            Ok(Reconciled::default())
        }
    }

    /// Resumes every project left `Pending` / `*InProgress` and reschedules the purge of
    /// `DeleteCompleted` ones. Idempotent; also safe while the server runs (a project
    /// with a running operation is skipped).
    pub async fn reconcile(
        &self,
        sagemaker: &SageMakerService,
    ) -> Result<Reconciled, ProvisioningError> {
        let mut out = Reconciled::default();
        let projects = sagemaker
            .projects_with_status(&[
                ProjectStatus::Pending,
                ProjectStatus::CreateInProgress,
                ProjectStatus::UpdateInProgress,
                ProjectStatus::DeleteInProgress,
                ProjectStatus::DeleteCompleted,
            ])
            .await?;
        for project in projects {
            let op = match project.project_status {
                ProjectStatus::Pending | ProjectStatus::CreateInProgress => Op::Create,
                ProjectStatus::UpdateInProgress => Op::Update,
                ProjectStatus::DeleteInProgress => Op::Delete,
                _ => {
                    let age = now_seconds() - project.last_modified_time.unwrap_or(0.0);
                    let left = self.inner.config.deleted_retention.as_secs_f64() - age;
                    self.inner
                        .schedule_purge(&project, Duration::from_secs_f64(left.max(0.0)));
                    out.purges += 1;
                    continue;
                }
            };
            if self.inner.is_busy(&project.project_id) {
                continue;
            }
            out.resumed.push(project.project_name.clone());
            self.inner.submit(op, project);
        }
        Ok(out)
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
        if self.inner.bound.get().is_none() {
            tracing::warn!(
                project = %project.project_name,
                "project change before the provisioner started; the start-up reconciliation will run it"
            );
            return;
        }
        self.inner.submit(op, project);
    }
}

fn now_seconds() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// The first `CfnTemplateProviderDetail` of a project.
fn cfn_detail(project: &Project) -> Option<&serde_json::Map<String, Value>> {
    project
        .template_provider_details
        .as_ref()?
        .as_array()?
        .iter()
        .find_map(|d| d.get("CfnTemplateProviderDetail")?.as_object())
}

/// The project's `TemplateProviderDetails` with `stack_detail` set on its template.
fn with_stack_detail(project: &Project, stack_detail: Value) -> Value {
    let mut details = project
        .template_provider_details
        .clone()
        .unwrap_or_else(|| json!([]));
    if let Some(cfn) = details
        .as_array_mut()
        .and_then(|a| a.first_mut())
        .and_then(|d| d.get_mut("CfnTemplateProviderDetail"))
        .and_then(Value::as_object_mut)
    {
        cfn.insert("StackDetail".into(), stack_detail);
    }
    details
}

fn stack_detail(name: &str, id: Option<&str>, message: &str) -> Value {
    let mut d = json!({"Name": name, "StatusMessage": message});
    if let Some(id) = id {
        d["Id"] = id.into();
    }
    d
}

/// What a template-provider operation needs from the project.
struct Target {
    stack_name: String,
    /// The stack ARN recorded in `StackDetail.Id`, once the stack was created.
    stack_id: Option<String>,
    url: String,
    role_arn: Option<String>,
    parameters: BTreeMap<String, String>,
}

impl Target {
    fn of(project: &Project) -> Option<Target> {
        let cfn = cfn_detail(project)?;
        let template_name = cfn.get("TemplateName")?.as_str()?;
        let mut parameters = BTreeMap::new();
        for p in cfn
            .get("Parameters")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(k) = p.get("Key").and_then(Value::as_str) {
                let v = p.get("Value").and_then(Value::as_str).unwrap_or("");
                parameters.insert(k.to_string(), v.to_string());
            }
        }
        Some(Target {
            stack_name: stack_name(&project.project_id, template_name),
            stack_id: cfn
                .get("StackDetail")
                .and_then(|d| d.get("Id"))
                .and_then(Value::as_str)
                .map(str::to_string),
            url: cfn.get("TemplateURL")?.as_str()?.to_string(),
            role_arn: cfn
                .get("RoleARN")
                .and_then(Value::as_str)
                .map(str::to_string),
            parameters,
        })
    }
}

/// How an operation ended, for the project record.
struct Outcome {
    status: ProjectStatus,
    stack_id: Option<String>,
    message: String,
}

impl Inner {
    fn is_busy(&self, project_id: &str) -> bool {
        self.queues.lock().unwrap().contains_key(project_id)
    }

    /// Queues `op` behind the project's running operation, or starts a task for it.
    fn submit(self: &Arc<Self>, op: Op, project: Project) {
        let id = project.project_id.clone();
        {
            let mut queues = self.queues.lock().unwrap();
            if let Some(queue) = queues.get_mut(&id) {
                queue.push_back((op, project));
                return;
            }
            queues.insert(id.clone(), VecDeque::new());
        }
        self.in_flight.send_modify(|n| *n += 1);
        let inner = self.clone();
        tokio::spawn(async move {
            let (mut op, mut project) = (op, project);
            loop {
                {
                    let _permit = inner.permits.acquire().await;
                    // The operation's steps need not wait for stable storage one by
                    // one; one flush at its end covers them (see
                    // `sagestack_engine::durability`).
                    sagestack_engine::durability::deferred(inner.run(op, &project)).await;
                    if let Some((_, cfn)) = inner.services()
                        && let Err(e) = cfn.flush().await
                    {
                        tracing::error!(project = %project.project_name, "flushing the finished operation: {e}");
                    }
                }
                let next = {
                    let mut queues = inner.queues.lock().unwrap();
                    match queues.get_mut(&id).and_then(VecDeque::pop_front) {
                        Some(next) => next,
                        None => {
                            queues.remove(&id);
                            break;
                        }
                    }
                };
                (op, project) = next;
            }
            inner.in_flight.send_modify(|n| *n -= 1);
        });
    }

    fn services(&self) -> Option<(Arc<SageMakerService>, Arc<CloudFormationService>)> {
        let bound = self.bound.get()?;
        Some((bound.sagemaker.upgrade()?, bound.cfn.upgrade()?))
    }

    async fn run(self: &Arc<Self>, op: Op, project: &Project) {
        let Some((sagemaker, cfn)) = self.services() else {
            return;
        };
        let result = if project.service_catalog_provisioning_details.is_some() {
            self.run_service_catalog(&sagemaker, op, project).await
        } else {
            match op {
                Op::Create => self.create(&sagemaker, &cfn, project).await,
                Op::Update => self.update(&sagemaker, &cfn, project).await,
                Op::Delete => self.delete(&sagemaker, &cfn, project).await,
            }
        };
        if let Err(e) = result {
            // The store failed: the project stays in its in-progress state and the next
            // start-up reconciliation resumes it.
            tracing::error!(project = %project.project_name, ?op, "provisioning could not record its progress: {e}");
        }
    }

    /// Writes a status report; `false` when the project has moved on.
    async fn record(
        &self,
        sagemaker: &SageMakerService,
        project: &Project,
        expected: &[ProjectStatus],
        stack_name: &str,
        outcome: &Outcome,
    ) -> Result<bool, SageMakerError> {
        let status = outcome.status;
        let update = ProvisioningUpdate::new(&project.project_id, expected, status)
            .with_template_provider_details(with_stack_detail(
                project,
                stack_detail(stack_name, outcome.stack_id.as_deref(), &outcome.message),
            ));
        let recorded = sagemaker
            .record_provisioning(&project.project_name, update)
            .await?;
        if recorded.is_none() {
            tracing::info!(project = %project.project_name, %status, "report dropped: the project moved on");
        }
        Ok(recorded.is_some())
    }

    async fn fetch(&self, url: &str) -> Result<String, String> {
        match &self.source {
            Some(source) => source
                .fetch(url, S3_TEMPLATE_LIMIT)
                .await
                .map_err(|e| e.to_string()),
            None => Err(TemplateFetchError::Unavailable(
                "no object store is configured to read TemplateURL".into(),
            )
            .to_string()),
        }
    }

    /// Validates a template (once per distinct body): its declared parameter names.
    fn check(&self, cfn: &CloudFormationService, body: &str) -> Checked {
        if let Some(hit) = self.templates.lock().unwrap().get(body) {
            return hit.clone();
        }
        let checked = match cfn.validate_template(body, false) {
            Ok(summary) => Ok(Arc::new(
                summary.parameters.into_iter().map(|p| p.name).collect(),
            )),
            Err(diagnostics) => Err(messages::template_errors(&diagnostics)),
        };
        let mut cache = self.templates.lock().unwrap();
        if cache.len() >= TEMPLATE_CACHE {
            cache.clear();
        }
        cache.insert(body.to_string(), checked.clone());
        checked
    }

    /// Fetch and validate: the body and the parameters to pass (user parameters plus
    /// the project's name and id when declared).
    async fn prepare(
        &self,
        cfn: &CloudFormationService,
        project: &Project,
        target: &Target,
    ) -> Result<(String, BTreeMap<String, String>), String> {
        let body = self.fetch(&target.url).await?;
        let declared = self.check(cfn, &body)?;
        let mut parameters = target.parameters.clone();
        if declared.iter().any(|p| p == PROJECT_NAME_PARAMETER) {
            parameters.insert(PROJECT_NAME_PARAMETER.into(), project.project_name.clone());
        }
        if declared.iter().any(|p| p == PROJECT_ID_PARAMETER) {
            parameters.insert(PROJECT_ID_PARAMETER.into(), project.project_id.clone());
        }
        Ok((body, parameters))
    }

    async fn stack_tags(
        &self,
        sagemaker: &SageMakerService,
        project: &Project,
    ) -> Result<Vec<(String, String)>, SageMakerError> {
        let mut tags = vec![
            (PROJECT_NAME_TAG.to_string(), project.project_name.clone()),
            (PROJECT_ID_TAG.to_string(), project.project_id.clone()),
        ];
        tags.extend(sagemaker.project_tags(&project.project_arn).await?);
        Ok(tags)
    }

    /// The project's live stack, awaited until no operation drives it. Found by the id
    /// recorded in `StackDetail` when there is one (one record read), else by name.
    async fn settled_stack(
        cfn: &CloudFormationService,
        target: &Target,
    ) -> Result<Option<StackRecord>, EngineError> {
        let found = match &target.stack_id {
            Some(id) => match cfn.describe_stack(id).await {
                Ok(s) if s.status == StackStatus::DeleteComplete => {
                    Err(EngineError::NotFound(id.clone()))
                }
                other => other,
            },
            None => cfn.describe_stack(&target.stack_name).await,
        };
        match found {
            Ok(stack) if stack.status.is_operation_in_progress() => {
                cfn.wait_for_terminal(&stack.stack_id).await.map(Some)
            }
            Ok(stack) => Ok(Some(stack)),
            Err(EngineError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The outcome of a stack that settled: `goal` reached, or a failure explained by
    /// the first failing resource event after `after_seq`.
    async fn settled(
        cfn: &CloudFormationService,
        stack: &StackRecord,
        goal: StackStatus,
        after_seq: u64,
        ok: ProjectStatus,
        failed: ProjectStatus,
    ) -> Outcome {
        if stack.status == goal {
            return Outcome {
                status: ok,
                stack_id: Some(stack.stack_id.clone()),
                message: messages::reached(&stack.stack_name, goal),
            };
        }
        let failure = first_failure(cfn, stack, after_seq).await;
        Outcome {
            status: failed,
            stack_id: Some(stack.stack_id.clone()),
            message: messages::failed(stack, failure.as_ref()),
        }
    }

    async fn create(
        &self,
        sagemaker: &SageMakerService,
        cfn: &CloudFormationService,
        project: &Project,
    ) -> Result<(), SageMakerError> {
        let Some(target) = Target::of(project) else {
            return self
                .record_plain(
                    sagemaker,
                    project,
                    &[ProjectStatus::Pending, ProjectStatus::CreateInProgress],
                    ProjectStatus::CreateFailed,
                )
                .await;
        };
        let name = target.stack_name.clone();
        if !self
            .record(
                sagemaker,
                project,
                &[ProjectStatus::Pending, ProjectStatus::CreateInProgress],
                &name,
                &Outcome {
                    status: ProjectStatus::CreateInProgress,
                    stack_id: None,
                    message: messages::started(&name, Action::Create),
                },
            )
            .await?
        {
            return Ok(());
        }
        let outcome = self.create_stack(sagemaker, cfn, project, &target).await?;
        self.record(
            sagemaker,
            project,
            &[ProjectStatus::CreateInProgress],
            &name,
            &outcome,
        )
        .await?;
        Ok(())
    }

    /// A project with no template provider (cannot be stored so, but a record is data).
    async fn record_plain(
        &self,
        sagemaker: &SageMakerService,
        project: &Project,
        expected: &[ProjectStatus],
        status: ProjectStatus,
    ) -> Result<(), SageMakerError> {
        sagemaker
            .record_provisioning(
                &project.project_name,
                ProvisioningUpdate::new(&project.project_id, expected, status),
            )
            .await?;
        Ok(())
    }

    /// Creates the stack, or adopts the one a previous process created.
    async fn create_stack(
        &self,
        sagemaker: &SageMakerService,
        cfn: &CloudFormationService,
        project: &Project,
        target: &Target,
    ) -> Result<Outcome, SageMakerError> {
        let name = &target.stack_name;
        let fail = |message: String| Outcome {
            status: ProjectStatus::CreateFailed,
            stack_id: None,
            message,
        };
        // The worker records CreateInProgress before it creates the stack, so only a
        // project found in that state (after a crash) may already have one. Skipping
        // the look-up otherwise matters: finding a stack by name reads every stack.
        let existing = if project.project_status == ProjectStatus::CreateInProgress {
            Self::settled_stack(cfn, target).await
        } else {
            Ok(None)
        };
        match existing {
            // A create that a crash interrupted was rolled back by the engine's
            // recovery; the project still wants its stack, so the leftover goes and the
            // create runs again (resume rather than fail).
            Ok(Some(stack)) if interrupted(cfn, &stack).await => {
                if let Err(e) = cfn.delete_stack_and_wait(&stack.stack_id).await {
                    return Ok(fail(messages::refused(name, Action::Create, &e)));
                }
            }
            Ok(Some(stack)) => {
                return Ok(Self::settled(
                    cfn,
                    &stack,
                    StackStatus::CreateComplete,
                    0,
                    ProjectStatus::CreateCompleted,
                    ProjectStatus::CreateFailed,
                )
                .await);
            }
            Ok(None) => {}
            Err(e) => return Ok(fail(messages::refused(name, Action::Create, &e))),
        }
        let (body, parameters) = match self.prepare(cfn, project, target).await {
            Ok(x) => x,
            Err(message) => return Ok(fail(message)),
        };
        let tags = self.stack_tags(sagemaker, project).await?;
        let input = CreateStackInput {
            stack_name: name.clone(),
            template_body: body,
            parameters,
            capabilities: CAPABILITIES.iter().map(|c| c.to_string()).collect(),
            tags,
            notification_arns: Vec::new(),
            disable_rollback: false,
            role_arn: target.role_arn.clone(),
        };
        Ok(match cfn.create_stack_and_wait(input).await {
            Ok(stack) => {
                Self::settled(
                    cfn,
                    &stack,
                    StackStatus::CreateComplete,
                    0,
                    ProjectStatus::CreateCompleted,
                    ProjectStatus::CreateFailed,
                )
                .await
            }
            Err(e) => fail(messages::refused(name, Action::Create, &e)),
        })
    }

    async fn update(
        &self,
        sagemaker: &SageMakerService,
        cfn: &CloudFormationService,
        project: &Project,
    ) -> Result<(), SageMakerError> {
        let expected = [ProjectStatus::UpdateInProgress];
        let Some(target) = Target::of(project) else {
            return self
                .record_plain(sagemaker, project, &expected, ProjectStatus::UpdateFailed)
                .await;
        };
        let outcome = self.update_stack(sagemaker, cfn, project, &target).await?;
        self.record(sagemaker, project, &expected, &target.stack_name, &outcome)
            .await?;
        Ok(())
    }

    async fn update_stack(
        &self,
        sagemaker: &SageMakerService,
        cfn: &CloudFormationService,
        project: &Project,
        target: &Target,
    ) -> Result<Outcome, SageMakerError> {
        let name = &target.stack_name;
        let fail = |stack_id: Option<&str>, message: String| Outcome {
            status: ProjectStatus::UpdateFailed,
            stack_id: stack_id.map(str::to_string),
            message,
        };
        let stack = match Self::settled_stack(cfn, target).await {
            Ok(Some(stack)) => stack,
            Ok(None) => {
                return Ok(fail(
                    None,
                    messages::refused(name, Action::Update, &EngineError::NotFound(name.clone())),
                ));
            }
            Err(e) => return Ok(fail(None, messages::refused(name, Action::Update, &e))),
        };
        let id = stack.stack_id.clone();
        let (body, parameters) = match self.prepare(cfn, project, target).await {
            Ok(x) => x,
            Err(message) => return Ok(fail(Some(&id), message)),
        };
        // The stack already runs exactly what the project wants: the update ran (before
        // a crash) or there is nothing to do.
        if stack.status.is_updatable()
            && stack.template.body == body
            && stack.template.parameters == parameters
        {
            return Ok(Outcome {
                status: ProjectStatus::UpdateCompleted,
                stack_id: Some(id),
                message: if stack.status == StackStatus::UpdateComplete {
                    messages::reached(name, StackStatus::UpdateComplete)
                } else {
                    messages::up_to_date(name)
                },
            });
        }
        let after_seq = cfn
            .stack_events(&id, None, 1)
            .await
            .ok()
            .and_then(|e| e.first().map(|e| e.seq))
            .unwrap_or(0);
        let input = UpdateStackInput {
            stack_name: id.clone(),
            template_body: Some(body),
            parameters,
            capabilities: CAPABILITIES.iter().map(|c| c.to_string()).collect(),
            tags: Some(self.stack_tags(sagemaker, project).await?),
            role_arn: None,
        };
        Ok(match cfn.update_stack_and_wait(input).await {
            Ok(stack) => {
                Self::settled(
                    cfn,
                    &stack,
                    StackStatus::UpdateComplete,
                    after_seq,
                    ProjectStatus::UpdateCompleted,
                    ProjectStatus::UpdateFailed,
                )
                .await
            }
            Err(EngineError::NoUpdates) => Outcome {
                status: ProjectStatus::UpdateCompleted,
                stack_id: Some(id),
                message: messages::up_to_date(name),
            },
            Err(e) => fail(Some(&id), messages::refused(name, Action::Update, &e)),
        })
    }

    async fn delete(
        self: &Arc<Self>,
        sagemaker: &SageMakerService,
        cfn: &CloudFormationService,
        project: &Project,
    ) -> Result<(), SageMakerError> {
        let expected = [ProjectStatus::DeleteInProgress];
        let Some(target) = Target::of(project) else {
            self.record_plain(
                sagemaker,
                project,
                &expected,
                ProjectStatus::DeleteCompleted,
            )
            .await?;
            self.schedule_purge(project, self.config.deleted_retention);
            return Ok(());
        };
        let name = &target.stack_name;
        let outcome = match Self::settled_stack(cfn, &target).await {
            Ok(None) => Outcome {
                status: ProjectStatus::DeleteCompleted,
                stack_id: None,
                message: messages::reached(name, StackStatus::DeleteComplete),
            },
            Ok(Some(stack)) => {
                let after_seq = cfn
                    .stack_events(&stack.stack_id, None, 1)
                    .await
                    .ok()
                    .and_then(|e| e.first().map(|e| e.seq))
                    .unwrap_or(0);
                match cfn.delete_stack_and_wait(&stack.stack_id).await {
                    Ok(Some(done)) => {
                        Self::settled(
                            cfn,
                            &done,
                            StackStatus::DeleteComplete,
                            after_seq,
                            ProjectStatus::DeleteCompleted,
                            ProjectStatus::DeleteFailed,
                        )
                        .await
                    }
                    Ok(None) => Outcome {
                        status: ProjectStatus::DeleteCompleted,
                        stack_id: Some(stack.stack_id.clone()),
                        message: messages::reached(name, StackStatus::DeleteComplete),
                    },
                    Err(e) => Outcome {
                        status: ProjectStatus::DeleteFailed,
                        stack_id: Some(stack.stack_id.clone()),
                        message: messages::refused(name, Action::Delete, &e),
                    },
                }
            }
            Err(e) => Outcome {
                status: ProjectStatus::DeleteFailed,
                stack_id: None,
                message: messages::refused(name, Action::Delete, &e),
            },
        };
        let recorded = self
            .record(sagemaker, project, &expected, name, &outcome)
            .await?;
        if recorded && outcome.status == ProjectStatus::DeleteCompleted {
            self.schedule_purge(project, self.config.deleted_retention);
        }
        Ok(())
    }

    async fn run_service_catalog(
        self: &Arc<Self>,
        sagemaker: &SageMakerService,
        op: Op,
        project: &Project,
    ) -> Result<(), SageMakerError> {
        let (expected, running, ok, failed): (&[ProjectStatus], _, _, _) = match op {
            Op::Create => (
                &[ProjectStatus::Pending, ProjectStatus::CreateInProgress],
                ProjectStatus::CreateInProgress,
                ProjectStatus::CreateCompleted,
                ProjectStatus::CreateFailed,
            ),
            Op::Update => (
                &[ProjectStatus::UpdateInProgress],
                ProjectStatus::UpdateInProgress,
                ProjectStatus::UpdateCompleted,
                ProjectStatus::UpdateFailed,
            ),
            Op::Delete => (
                &[ProjectStatus::DeleteInProgress],
                ProjectStatus::DeleteInProgress,
                ProjectStatus::DeleteCompleted,
                ProjectStatus::DeleteFailed,
            ),
        };
        let report = |status, details: Option<Value>| {
            let mut u = ProvisioningUpdate::new(&project.project_id, expected, status);
            if let Some(d) = details {
                u = u.with_service_catalog_details(d);
            }
            u
        };
        if running != project.project_status
            && sagemaker
                .record_provisioning(&project.project_name, report(running, None))
                .await?
                .is_none()
        {
            return Ok(());
        }
        let outcome = match &self.service_catalog {
            Some(backend) => match op {
                Op::Create => backend.provision(project).await,
                Op::Update => backend.update(project).await,
                Op::Delete => backend.terminate(project).await,
            },
            // Nothing was ever provisioned: a delete is complete, anything else fails.
            None => ServiceCatalogOutcome {
                succeeded: op == Op::Delete,
                details: json!({ "ProvisionedProductStatusMessage": NOT_CONFIGURED }),
            },
        };
        let status = if outcome.succeeded { ok } else { failed };
        let expected_now = [running];
        let mut update = report(status, Some(outcome.details));
        update.expected = expected_now.to_vec();
        let recorded = sagemaker
            .record_provisioning(&project.project_name, update)
            .await?;
        if recorded.is_some() && status == ProjectStatus::DeleteCompleted {
            self.schedule_purge(project, self.config.deleted_retention);
        }
        Ok(())
    }

    /// Removes the `DeleteCompleted` record after `after` (a timer, not a poll).
    fn schedule_purge(self: &Arc<Self>, project: &Project, after: Duration) {
        let weak = Arc::downgrade(self);
        let (name, id) = (project.project_name.clone(), project.project_id.clone());
        tokio::spawn(async move {
            tokio::time::sleep(after).await;
            let Some(inner) = weak.upgrade() else { return };
            let Some((sagemaker, _)) = inner.services() else {
                return;
            };
            if let Err(e) = sagemaker.purge_deleted(&name, &id).await {
                tracing::warn!(project = %name, "could not purge the deleted project: {e}");
            }
        });
    }
}

/// The first resource event of the stack's latest operation (after `after_seq`) whose
/// status is a failure, oldest first.
async fn first_failure(
    cfn: &CloudFormationService,
    stack: &StackRecord,
    after_seq: u64,
) -> Option<StackEvent> {
    let mut before = None;
    let mut first: Option<StackEvent> = None;
    loop {
        let page = cfn.stack_events(&stack.stack_id, before, 500).await.ok()?;
        let Some(last) = page.last() else { break };
        before = Some(last.seq);
        let mut done = false;
        for e in page {
            if e.seq <= after_seq {
                done = true;
                break;
            }
            if e.resource_status.ends_with("_FAILED") && e.logical_resource_id != stack.stack_name {
                first = Some(e);
            }
        }
        if done || before == Some(1) {
            break;
        }
    }
    first
}

/// Whether `stack` is a create that an engine restart interrupted and rolled back (the
/// engine's recovery marks the stack, or its in-flight resources, with "engine restart").
async fn interrupted(cfn: &CloudFormationService, stack: &StackRecord) -> bool {
    const MARK: &str = "engine restart";
    if stack.status != StackStatus::RollbackComplete {
        return false;
    }
    if stack
        .status_reason
        .as_deref()
        .is_some_and(|r| r.contains(MARK))
    {
        return true;
    }
    // A create has few events; the interrupted one is among them.
    cfn.stack_events(&stack.stack_id, None, 1000)
        .await
        .unwrap_or_default()
        .iter()
        .any(|e| {
            e.resource_status_reason
                .as_deref()
                .is_some_and(|r| r.contains(MARK))
        })
}
