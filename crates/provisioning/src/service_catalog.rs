//! The seam for projects created from a Service Catalog product
//! (`ServiceCatalogProvisioningDetails`).
//!
//! The Service Catalog service implements [`ServiceCatalogBackend`] and is given to the
//! provisioner with [`crate::ProvisionerParts::service_catalog`]. The provisioner
//! keeps everything that is the same for both kinds of project (queueing, the concurrency
//! bound, status transitions, crash reconciliation); the backend only provisions,
//! updates and terminates the product and says what happened.
//!
//! Without a backend such projects end `CreateFailed` with [`NOT_CONFIGURED`] as their
//! `ProvisionedProductStatusMessage`, instead of staying `Pending` forever; deleting
//! one completes at once (nothing was provisioned).

use std::sync::Arc;

use async_trait::async_trait;
use sagestack_sagemaker::{Project, ProjectStatus, Projects, ProvisioningUpdate, SageMakerError};
use serde_json::{Value, json};

use crate::worker::{Inner, Op};

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

impl Inner {
    pub(crate) async fn run_service_catalog(
        self: &Arc<Self>,
        projects: &Projects,
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
            && projects
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
        let recorded = projects
            .record_provisioning(&project.project_name, update)
            .await?;
        if recorded.is_some() && status == ProjectStatus::DeleteCompleted {
            self.schedule_purge(project, self.config.deleted_retention);
        }
        Ok(())
    }
}
