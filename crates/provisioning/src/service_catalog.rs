//! The seam for projects created from a Service Catalog product
//! (`ServiceCatalogProvisioningDetails`).
//!
//! The Service Catalog service implements [`ServiceCatalogBackend`] and is given to the
//! provisioner with [`crate::ProjectProvisioner::with_service_catalog`]. The provisioner
//! keeps everything that is the same for both kinds of project (queueing, the concurrency
//! bound, status transitions, crash reconciliation); the backend only provisions,
//! updates and terminates the product and says what happened.
//!
//! Without a backend such projects end `CreateFailed` with [`NOT_CONFIGURED`] as their
//! `ProvisionedProductStatusMessage`, instead of staying `Pending` forever; deleting
//! one completes at once (nothing was provisioned).

use async_trait::async_trait;
use sagestack_sagemaker::Project;
use serde_json::Value;

/// The `ProvisionedProductStatusMessage` of a Service Catalog project on a server
/// without a Service Catalog backend.
pub const NOT_CONFIGURED: &str = "Service Catalog products cannot be provisioned: this server has no Service Catalog backend configured. Create the project with TemplateProviders instead.";

/// What a [`ServiceCatalogBackend`] operation ended with.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceCatalogOutcome {
    pub succeeded: bool,
    /// The new `ServiceCatalogProvisionedProductDetails` (`ProvisionedProductId`,
    /// `ProvisionedProductStatusMessage`).
    pub details: Value,
}

/// Provisions Service Catalog products for projects. Each call runs the operation to its
/// end (the provisioner awaits it inside its concurrency bound) and must be idempotent:
/// after a crash the provisioner calls it again for the same project.
#[async_trait]
pub trait ServiceCatalogBackend: Send + Sync + 'static {
    /// Provision the product the project names.
    async fn provision(&self, project: &Project) -> ServiceCatalogOutcome;
    /// Apply the project's updated provisioning details.
    async fn update(&self, project: &Project) -> ServiceCatalogOutcome;
    /// Terminate what [`ServiceCatalogBackend::provision`] created.
    async fn terminate(&self, project: &Project) -> ServiceCatalogOutcome;
}
