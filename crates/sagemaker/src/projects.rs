//! The projects' state: the stored project records and their rules of change (create
//! over a `DeleteCompleted` name, optimistic read-modify-write, provisioning reports
//! that never clobber newer state, the purge after the retention).
//!
//! Owned by the server and shared by the two that act on projects: the wire API
//! ([`crate::SageMakerService`]) and the project provisioner (`sagestack-provisioning`),
//! which reads projects and reports progress here. This type calls neither of them: it
//! is below both, so it can be built first and handed to each (see ARCHITECTURE.md,
//! "Construction order"). No HTTP and no SQL here: storage is the [`Store`] trait.
//!
//! No EventBridge event is published for a project: AWS documents none. The list of
//! events SageMaker sends EventBridge directly (EventBridge's events reference, "Amazon
//! SageMaker AI events"; the SageMaker guide, "Events that Amazon SageMaker AI sends to
//! Amazon EventBridge") has model packages, jobs, endpoints, pipelines, images, model
//! cards, HyperPod and others, and no "Project State Change"; on AWS a rule sees a
//! project's CreateProject/DeleteProject only as "AWS API Call via CloudTrail". Its
//! template stack's own CloudFormation events are published by the engine.

use std::sync::Arc;

use sagestack_engine::Clock;
use sagestack_store::{
    ProjectRecord, ProjectUpdate, StatusChange, Store, StoreError, Tag as StoreTag,
};

use crate::error::SageMakerError;
use crate::provision::ProvisioningUpdate;
use crate::service::MAX_TAGS_PER_RESOURCE;
use crate::types::{CreateProjectInput, Project, ProjectStatus, UserContext};

type Result<T> = std::result::Result<T, SageMakerError>;

/// How often [`Projects::wait_for`] re-reads the project when no local change rang.
pub const WAIT_RECHECK: std::time::Duration = std::time::Duration::from_secs(1);

/// The most status changes [`Projects::status_history`] returns (the newest).
pub const HISTORY_SHOWN: usize = 200;

/// How often an update is retried when it races with another update.
const UPDATE_ATTEMPTS: usize = 5;

/// Epoch seconds (as the API shows times) from microseconds (as records keep them).
pub(crate) fn seconds(micros: i64) -> f64 {
    micros as f64 / 1_000_000.0
}

/// Epoch microseconds from seconds.
pub(crate) fn micros(seconds: f64) -> i64 {
    (seconds * 1_000_000.0).round() as i64
}

/// Now, in the microseconds records keep (the clock reads milliseconds).
pub(crate) fn now_micros(clock: &dyn Clock) -> i64 {
    clock.now().saturating_mul(1000)
}

/// `p-` and 12 lowercase alphanumerics.
pub(crate) fn new_project_id() -> String {
    let random = sagestack_engine::random_chars(sagestack_engine::LOWER_ALNUM, 12);
    format!("p-{random}")
}

/// UpdateProject / DeleteProject while an operation runs on the project.
pub(crate) fn busy(name: &str, action: &str, status: ProjectStatus) -> SageMakerError {
    SageMakerError::Conflict(format!(
        "Project {name} cannot be {action} while its status is {status}; retry once the current operation has finished."
    ))
}

/// `TemplateProviderDetails` from a `CreateTemplateProvider`/`UpdateTemplateProvider`
/// list: each `CfnTemplateProvider` becomes a `CfnTemplateProviderDetail` (whose
/// `StackDetail` is filled in by provisioning).
pub(crate) fn template_provider_details<T: serde::Serialize>(providers: &[T]) -> serde_json::Value {
    serde_json::Value::Array(
        providers
            .iter()
            .map(|p| {
                let mut detail = serde_json::Map::new();
                if let Some(cfn) = to_value(p).get("CfnTemplateProvider") {
                    detail.insert("CfnTemplateProviderDetail".into(), cfn.clone());
                }
                serde_json::Value::Object(detail)
            })
            .collect(),
    )
}

pub(crate) fn to_value<T: serde::Serialize>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).expect("serializable")
}

/// Where projects are made: what their ARNs name.
#[derive(Debug, Clone)]
pub struct ProjectScope {
    pub partition: String,
    pub region: String,
    pub account_id: String,
}

impl ProjectScope {
    pub fn of(region: &str, account_id: &str) -> Self {
        ProjectScope {
            partition: sagestack_engine::partition_for_region(region).to_string(),
            region: region.to_string(),
            account_id: account_id.to_string(),
        }
    }

    /// The ARN of the project named `name`.
    pub fn arn(&self, name: &str) -> String {
        format!(
            "arn:{}:sagemaker:{}:{}:project/{name}",
            self.partition, self.region, self.account_id
        )
    }
}

pub(crate) fn not_found(name: &str) -> SageMakerError {
    SageMakerError::Validation(format!("Project {name} does not exist."))
}

pub(crate) fn parse_document(record: &ProjectRecord) -> Result<Project> {
    serde_json::from_str(&record.document)
        .map_err(|e| SageMakerError::Internal(format!("stored project is unreadable: {e}")))
}

/// The stored record of `project` (its document is the DescribeProject output).
pub(crate) fn record(project: &Project, creation_micros: i64, version: i64) -> ProjectRecord {
    ProjectRecord {
        name: project.project_name.clone(),
        id: project.project_id.clone(),
        arn: project.project_arn.clone(),
        creation_micros,
        version,
        document: Arc::from(serde_json::to_string(project).expect("serializable")),
    }
}

/// The projects (see the module doc). Shared as `Arc<Projects>`.
pub struct Projects {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) clock: Arc<dyn Clock>,
    /// Bumped after every stored change, for [`Self::wait_for`].
    changed: tokio::sync::watch::Sender<u64>,
}

impl Projects {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        Projects {
            store,
            clock,
            changed: tokio::sync::watch::Sender::new(0),
        }
    }

    /// CreateProject's rules: exactly one kind of provisioning details, the reserved tag
    /// prefix refused, a new id and ARN; stored `Pending` (a `DeleteCompleted` project of
    /// the same name gives way). The caller tells the provisioner.
    pub async fn create(
        &self,
        input: CreateProjectInput,
        scope: &ProjectScope,
        user: Option<UserContext>,
    ) -> Result<Project> {
        if input.service_catalog_provisioning_details.is_some()
            == input.template_providers.is_some()
        {
            return Err(SageMakerError::Validation(
                "Exactly one of ServiceCatalogProvisioningDetails and TemplateProviders must be specified."
                    .into(),
            ));
        }
        if let Some(providers) = &input.template_providers
            && providers.iter().any(|p| p.cfn_template_provider.is_none())
        {
            return Err(SageMakerError::Validation(
                "Each template provider must specify CfnTemplateProvider.".into(),
            ));
        }
        let tags = input.tags.unwrap_or_default();
        crate::service::check_tag_keys(tags.iter().map(|t| t.key.as_str()))?;
        let now = now_micros(&*self.clock);
        let project = Project {
            project_arn: scope.arn(&input.project_name),
            project_name: input.project_name,
            project_id: new_project_id(),
            project_description: input.project_description,
            service_catalog_provisioning_details: input.service_catalog_provisioning_details,
            service_catalog_provisioned_product_details: None,
            project_status: ProjectStatus::Pending,
            template_provider_details: input
                .template_providers
                .as_deref()
                .map(template_provider_details),
            created_by: user.clone(),
            creation_time: seconds(now),
            last_modified_time: Some(seconds(now)),
            last_modified_by: user,
        };
        self.insert(&project, now, &crate::service::store_tags(&tags))
            .await?;
        Ok(project)
    }

    /// DeleteProject under an active provisioner: the project becomes `DeleteInProgress`
    /// (refused while another operation runs) until the provisioner has deleted what it
    /// provisioned. The caller tells the provisioner.
    pub async fn mark_deleting(&self, name: &str, user: Option<UserContext>) -> Result<Project> {
        let now = seconds(now_micros(&*self.clock));
        let (_, after) = self
            .modify(name, &[], |p| {
                if p.project_status == ProjectStatus::DeleteCompleted {
                    return Err(not_found(&p.project_name));
                }
                if p.project_status.is_busy() {
                    return Err(busy(&p.project_name, "deleted", p.project_status));
                }
                p.project_status = ProjectStatus::DeleteInProgress;
                p.last_modified_time = Some(now);
                p.last_modified_by = user.clone();
                Ok(())
            })
            .await?;
        Ok(after)
    }

    /// Waits until `done` holds for the stored project named `name` (`None`: no such
    /// project), checking after every change this process stores, and at least every
    /// [`WAIT_RECHECK`]: on PostgreSQL another replica may be the one provisioning it
    /// (after a takeover), and its changes ring no bell here.
    pub async fn wait_for(
        &self,
        name: &str,
        done: impl Fn(Option<&Project>) -> bool,
    ) -> Result<Option<Project>> {
        let mut changes = self.changed.subscribe();
        loop {
            let project = self.project(name).await?;
            if done(project.as_ref()) {
                return Ok(project);
            }
            // The sender lives as long as `self`: an error cannot happen while we hold it.
            let _ = tokio::time::timeout(WAIT_RECHECK, changes.changed()).await;
        }
    }

    fn touched(&self) {
        self.changed.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Stores a new project (created at `now` microseconds) with its tags. A
    /// `DeleteCompleted` project of the same name gives way; a live one is a
    /// `ValidationException`.
    pub(crate) async fn insert(
        &self,
        project: &Project,
        now: i64,
        tags: &[StoreTag],
    ) -> Result<()> {
        let record = record(project, now, 1);
        let created = self.store.create_project(&record, tags).await;
        self.touched();
        match created {
            Ok(()) => Ok(()),
            Err(StoreError::AlreadyExists) if self.replace_deleted(&record, tags).await? => Ok(()),
            Err(StoreError::AlreadyExists) => Err(SageMakerError::Validation(format!(
                "Project {} already exists.",
                project.project_name
            ))),
            Err(e) => Err(e.into()),
        }
    }

    /// CreateProject over a `DeleteCompleted` project of the same name: the old record
    /// (kept only for its retention) gives way at once. `false` when the name is held by
    /// a live project.
    ///
    /// The database decides every race here, never a lock in this process (replicas
    /// share PostgreSQL): the old record is replaced only if it is still the one read
    /// (same id and version, [`Store::replace_project`]), so of two replicas re-creating
    /// the name exactly one wins, and a purge racing it ([`Self::purge_deleted`], a
    /// conditional delete) removes either the old record or nothing.
    async fn replace_deleted(&self, record: &ProjectRecord, tags: &[StoreTag]) -> Result<bool> {
        for _ in 0..UPDATE_ATTEMPTS {
            let Some(existing) = self.store.get_project(&record.name).await? else {
                // Purged meanwhile.
                match self.store.create_project(record, tags).await {
                    Ok(()) => return Ok(true),
                    Err(StoreError::AlreadyExists) => continue,
                    Err(e) => return Err(e.into()),
                }
            };
            if parse_document(&existing)?.project_status != ProjectStatus::DeleteCompleted {
                return Ok(false);
            }
            match self.store.replace_project(&existing, record, tags).await {
                Ok(()) => return Ok(true),
                // Replaced, changed or purged since it was read: look again.
                Err(StoreError::Conflict | StoreError::NotFound) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Ok(false)
    }

    /// Reads, changes and writes back a project, retrying when another update won
    /// the race. Returns the stored versions before and after.
    pub(crate) async fn modify(
        &self,
        name: &str,
        tags: &[StoreTag],
        change: impl Fn(&mut Project) -> Result<()>,
    ) -> Result<(Project, Project)> {
        match self
            .modify_if(name, tags, |p| change(p).map(|()| true))
            .await?
        {
            Some(versions) => Ok(versions),
            None => Err(not_found(name)),
        }
    }

    /// [`Self::modify`] for a change that may decide not to apply (`Ok(false)`: nothing
    /// is written and the answer is `None`, as when the project does not exist).
    pub(crate) async fn modify_if(
        &self,
        name: &str,
        tags: &[StoreTag],
        change: impl Fn(&mut Project) -> Result<bool>,
    ) -> Result<Option<(Project, Project)>> {
        for _ in 0..UPDATE_ATTEMPTS {
            let Some(current) = self.store.get_project(name).await? else {
                return Ok(None);
            };
            let before = parse_document(&current)?;
            let mut after = before.clone();
            if !change(&mut after)? {
                return Ok(None);
            }
            let record = record(&after, current.creation_micros, current.version + 1);
            let status_change =
                (after.project_status != before.project_status).then(|| StatusChange {
                    status: after.project_status.as_str().to_string(),
                    at_micros: now_micros(&*self.clock),
                });
            match self
                .store
                .update_project(ProjectUpdate {
                    project: &record,
                    expected_version: current.version,
                    tags,
                    max_tags: MAX_TAGS_PER_RESOURCE,
                    status_change: status_change.as_ref(),
                })
                .await
            {
                Ok(()) => {
                    self.touched();
                    return Ok(Some((before, after)));
                }
                Err(StoreError::Conflict) => continue,
                Err(StoreError::NotFound) => return Ok(None),
                Err(StoreError::TooManyTags { limit }) => {
                    return Err(SageMakerError::Validation(format!(
                        "The tags would exceed the limit of {limit} tags per resource."
                    )));
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(SageMakerError::Conflict(format!(
            "Project {name} is being modified concurrently; retry the request."
        )))
    }

    /// Records provisioning progress reported by a provisioner's worker: sets the
    /// status and, when given, the provisioning details. Returns the stored project, or
    /// `None` when the report no longer applies (no such project, another project of that
    /// name, or a status outside `update.expected`; see the [`crate::provision`] doc).
    pub async fn record_provisioning(
        &self,
        project_name: &str,
        update: ProvisioningUpdate,
    ) -> Result<Option<Project>> {
        let now = seconds(now_micros(&*self.clock));
        let applied = self
            .modify_if(project_name, &[], |p| {
                if p.project_id != update.project_id
                    || (!update.expected.is_empty() && !update.expected.contains(&p.project_status))
                {
                    return Ok(false);
                }
                p.project_status = update.status;
                if let Some(d) = &update.service_catalog_provisioned_product_details {
                    p.service_catalog_provisioned_product_details = Some(d.clone());
                }
                if let Some(d) = &update.template_provider_details {
                    p.template_provider_details = Some(d.clone());
                }
                p.last_modified_time = Some(now);
                Ok(true)
            })
            .await?;
        Ok(applied.map(|(_, after)| after))
    }

    /// The statuses the project with id `project_id`, created at `creation_time` (epoch
    /// seconds), went through, oldest first, as `(status, epoch seconds)`: `Pending` at
    /// its creation (every project is created so) unless the history is
    /// longer than shown, then the newest [`HISTORY_SHOWN`] changes recorded since. AWS
    /// keeps no such history; the console shows it.
    pub async fn status_history(
        &self,
        project_id: &str,
        creation_time: f64,
    ) -> Result<Vec<(String, f64)>> {
        let changes = self
            .store
            .project_history(project_id, HISTORY_SHOWN)
            .await?;
        let mut out = Vec::with_capacity(changes.len() + 1);
        if changes.len() < HISTORY_SHOWN {
            out.push((ProjectStatus::Pending.as_str().to_string(), creation_time));
        }
        out.extend(
            changes
                .into_iter()
                .map(|c| (c.change.status, seconds(c.change.at_micros))),
        );
        Ok(out)
    }

    /// The stored project named `name`, if any.
    pub async fn project(&self, name: &str) -> Result<Option<Project>> {
        match self.store.get_project(name).await? {
            Some(record) => Ok(Some(parse_document(&record)?)),
            None => Ok(None),
        }
    }

    /// A project's tags (at most [`MAX_TAGS_PER_RESOURCE`]), in key order.
    pub async fn project_tags(&self, project_arn: &str) -> Result<Vec<(String, String)>> {
        let tags = self
            .store
            .list_tags(project_arn, None, MAX_TAGS_PER_RESOURCE)
            .await?
            .unwrap_or_default();
        Ok(tags.into_iter().map(|t| (t.key, t.value)).collect())
    }

    /// Every stored project whose status is one of `statuses`, in name order: what a
    /// provisioner reconciles at start-up.
    pub async fn projects_with_status(&self, statuses: &[ProjectStatus]) -> Result<Vec<Project>> {
        let names: Vec<&str> = statuses.iter().map(|s| s.as_str()).collect();
        self.store
            .projects_with_status(&names)
            .await?
            .iter()
            .map(parse_document)
            .collect()
    }

    /// Removes the record of project `project_id` (named `name`) if it is still
    /// `DeleteCompleted`: the end of its retention. `true` when removed.
    pub async fn purge_deleted(&self, name: &str, project_id: &str) -> Result<bool> {
        let Some(record) = self.store.get_project(name).await? else {
            return Ok(false);
        };
        let p = parse_document(&record)?;
        if p.project_id != project_id || p.project_status != ProjectStatus::DeleteCompleted {
            return Ok(false);
        }
        // Conditional on the record read: a project that replaced it meanwhile (on any
        // replica) stays.
        let purged = self.store.delete_project_if(&record).await?;
        self.touched();
        Ok(purged)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(name: &str) -> CreateProjectInput {
        serde_json::from_value(serde_json::json!({
            "ProjectName": name,
            "TemplateProviders": [{"CfnTemplateProvider": {"TemplateName": "t", "TemplateURL": "u"}}],
        }))
        .unwrap()
    }

    /// Two `Projects` over one store stand for two replicas over one database: each
    /// round, the name's `DeleteCompleted` project is re-created by both while its purge
    /// runs; exactly one create wins, the other is told the name is taken, and the purge
    /// never removes the winner.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn recreating_a_deleted_name_has_one_winner_and_survives_the_purge() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(
            sagestack_store::SqliteStore::open(dir.path())
                .await
                .unwrap(),
        );
        let replicas =
            [0, 1].map(|_| Arc::new(Projects::new(store.clone(), crate::testing::clock())));
        let scope = ProjectScope::of("us-east-1", "000000000000");
        let mut current = replicas[0].create(input("n"), &scope, None).await.unwrap();
        for round in 0..20 {
            let deleted =
                ProvisioningUpdate::new(&current.project_id, &[], ProjectStatus::DeleteCompleted);
            replicas[0]
                .record_provisioning("n", deleted)
                .await
                .unwrap()
                .unwrap();
            let creates = replicas.clone().map(|p| {
                let scope = scope.clone();
                tokio::spawn(async move { p.create(input("n"), &scope, None).await })
            });
            let purge = {
                let (p, id) = (replicas[round % 2].clone(), current.project_id.clone());
                tokio::spawn(async move { p.purge_deleted("n", &id).await.unwrap() })
            };
            let mut winners = Vec::new();
            for t in creates {
                match t.await.unwrap() {
                    Ok(p) => winners.push(p),
                    Err(SageMakerError::Validation(m)) => {
                        assert_eq!(m, "Project n already exists.")
                    }
                    Err(e) => panic!("round {round}: {e:?}"),
                }
            }
            purge.await.unwrap();
            assert_eq!(winners.len(), 1, "round {round}");
            let stored = replicas[1].project("n").await.unwrap().unwrap();
            assert_eq!(stored.project_id, winners[0].project_id, "round {round}");
            current = winners.pop().unwrap();
        }
    }
}
