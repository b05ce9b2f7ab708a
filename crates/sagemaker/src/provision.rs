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

/// Reacts to stored project changes. Called after the change is durable, never
/// while a storage lock is held.
pub trait Provisioner: Send + Sync + 'static {
    /// Must return quickly (queue the work).
    fn project_changed(&self, event: ProjectEvent);
}

/// The provisioner used until provisioning exists: it does nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProvisioner;

impl Provisioner for NoProvisioner {
    fn project_changed(&self, _event: ProjectEvent) {}
}

/// What a provisioner reports about a project, for
/// [`crate::SageMakerService::record_provisioning`]. `None` fields are left as stored.
#[derive(Debug, Clone)]
pub struct ProvisioningUpdate {
    pub status: ProjectStatus,
    /// `ServiceCatalogProvisionedProductDetails`.
    pub service_catalog_provisioned_product_details: Option<Value>,
    /// `TemplateProviderDetails` (a `TemplateProviderDetailList`).
    pub template_provider_details: Option<Value>,
}
