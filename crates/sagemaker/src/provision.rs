//! The hook through which provisioning (running the project's CloudFormation
//! template or Service Catalog product) is plugged in.
//!
//! The service stores every change first, then tells the [`Provisioner`]. A
//! provisioner must not block: it should queue the work and return. When the work
//! progresses it reports back through
//! [`crate::SageMakerService::record_provisioning`], which updates `ProjectStatus` and
//! the provisioning details in the store. Until a real provisioner is plugged in,
//! [`NoProvisioner`] leaves projects as they were stored (`Pending` after create):
//! nothing pretends that provisioning happened.
//!
//! ## Two modes, chosen by [`Provisioner::is_active`]
//! * An *active* provisioner (the real one, `sagestack-provisioning`) owns the project
//!   lifecycle: while a project is `Pending` or `*InProgress`, UpdateProject and
//!   DeleteProject answer `ConflictException`; DeleteProject only marks the project
//!   `DeleteInProgress` and the provisioner deletes its stack, then reports
//!   `DeleteCompleted` (the record is purged after the retention) or `DeleteFailed`.
//! * An *inactive* one ([`NoProvisioner`]) makes projects plain records: no status rule
//!   applies (nothing would ever leave `Pending`) and DeleteProject removes the record
//!   at once.
//!
//! ## Reports never clobber newer state
//! A [`ProvisioningUpdate`] names the project id it is about and the statuses it expects
//! to find (the operation's own in-progress status). When the stored project is another
//! one (deleted and created again under the same name) or has moved on, the report is
//! dropped and [`crate::SageMakerService::record_provisioning`] answers `None`. Fields
//! a user may change meanwhile (description, tags) are never written by a report: it is
//! applied to the freshly read project with optimistic concurrency (version check and
//! retry).

use crate::types::{Project, ProjectStatus};
use serde_json::Value;

/// A stored change to a project, as given to a [`Provisioner`].
#[derive(Debug, Clone)]
pub enum ProjectEvent {
    /// The project was created (status `Pending`).
    Created(Project),
    /// The project was updated; both versions as stored.
    Updated {
        before: Box<Project>,
        after: Box<Project>,
    },
    /// The project was deleted; its last stored version.
    Deleted(Project),
}

/// The sending end of a feed of stored project changes: how a writer built before the
/// provisioner (the `AWS::SageMaker::Project` resource provider, which CloudFormation
/// holds, while the provisioner holds CloudFormation) tells it about the projects it
/// creates and deletes. The provisioner is given the receiving end at construction.
#[derive(Clone)]
pub struct ProjectChanges(tokio::sync::mpsc::UnboundedSender<ProjectEvent>);

/// The receiving end of [`ProjectChanges`].
pub type ProjectChangeFeed = tokio::sync::mpsc::UnboundedReceiver<ProjectEvent>;

/// A new feed: its sending and receiving ends.
pub fn project_changes() -> (ProjectChanges, ProjectChangeFeed) {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    (ProjectChanges(tx), rx)
}

impl ProjectChanges {
    /// Sends `event`; with no provisioner listening (none built, or it is gone) the
    /// project stays as stored, as under [`NoProvisioner`].
    pub fn send(&self, event: ProjectEvent) {
        let _ = self.0.send(event);
    }
}

/// Reacts to stored project changes. Called after the change is durable, never
/// while a storage lock is held.
pub trait Provisioner: Send + Sync + 'static {
    /// Must return quickly (queue the work).
    fn project_changed(&self, event: ProjectEvent);

    /// Whether this provisioner drives project lifecycles (see the module doc).
    fn is_active(&self) -> bool {
        true
    }
}

/// The provisioner used until provisioning exists: it does nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProvisioner;

impl Provisioner for NoProvisioner {
    fn project_changed(&self, _event: ProjectEvent) {}

    fn is_active(&self) -> bool {
        false
    }
}

/// What a provisioner reports about a project, for
/// [`crate::SageMakerService::record_provisioning`]. `None` fields are left as stored.
#[derive(Debug, Clone)]
pub struct ProvisioningUpdate {
    /// The project the report is about (`ProjectId`): a report about an older project of
    /// the same name is dropped.
    pub project_id: String,
    /// Apply only when the stored status is one of these; empty = any status.
    pub expected: Vec<ProjectStatus>,
    pub status: ProjectStatus,
    /// `ServiceCatalogProvisionedProductDetails`.
    pub service_catalog_provisioned_product_details: Option<Value>,
    /// `TemplateProviderDetails` (a `TemplateProviderDetailList`).
    pub template_provider_details: Option<Value>,
}

impl ProvisioningUpdate {
    /// A status change of project `project_id`, applied only from one of `expected`.
    pub fn new(
        project_id: impl Into<String>,
        expected: &[ProjectStatus],
        status: ProjectStatus,
    ) -> Self {
        ProvisioningUpdate {
            project_id: project_id.into(),
            expected: expected.to_vec(),
            status,
            service_catalog_provisioned_product_details: None,
            template_provider_details: None,
        }
    }

    /// Also replaces `TemplateProviderDetails`.
    pub fn with_template_provider_details(mut self, details: Value) -> Self {
        self.template_provider_details = Some(details);
        self
    }

    /// Also replaces `ServiceCatalogProvisionedProductDetails`.
    pub fn with_service_catalog_details(mut self, details: Value) -> Self {
        self.service_catalog_provisioned_product_details = Some(details);
        self
    }
}
