//! Resuming what a store failure interrupted, once the store takes writes again.
//!
//! When the store refuses writes (its disk is full), the stack and project operations in
//! flight fail their next write and their tasks end, leaving them where the database
//! last has them: a stack `*_IN_PROGRESS` that no task drives, a project `Pending` or
//! `*InProgress`. The store recovers by itself once space returns (see
//! `sagestack_store::Store::health`); this task watches for that and then runs the same
//! recovery as start-up, in the same order: stacks resume or roll back, Service Catalog
//! operations settle, projects resume (and so end `CreateCompleted` or `CreateFailed`
//! instead of staying in progress until a restart). Every step is idempotent and skips
//! what a running task still drives.

use std::sync::Arc;
use std::time::Duration;

use sagestack_cloudformation::CloudFormationService;
use sagestack_provisioning::ProjectProvisioner;
use sagestack_sagemaker::SageMakerService;
use sagestack_servicecatalog::ProvisionedProducts;
use sagestack_store::{Store, StoreHealth};

/// How often the store's health is asked (which also lets an idle store probe).
pub const POLL: Duration = Duration::from_secs(1);

/// What the watcher resumes.
pub struct Resumable {
    pub cloudformation: Arc<CloudFormationService>,
    pub provisioned: Arc<ProvisionedProducts>,
    pub sagemaker: Arc<SageMakerService>,
    pub provisioner: ProjectProvisioner,
}

/// Starts the watcher; it runs for the life of the process.
pub fn spawn(store: Arc<dyn Store>, resumable: Resumable) {
    tokio::spawn(async move {
        let mut degraded = false;
        loop {
            tokio::time::sleep(POLL).await;
            match store.health().await {
                StoreHealth::Degraded(reason) => {
                    if !degraded {
                        tracing::warn!(%reason, "the store refuses writes; operations in flight fail until space returns");
                    }
                    degraded = true;
                }
                StoreHealth::Ok if degraded => {
                    degraded = false;
                    resume(&resumable).await;
                }
                StoreHealth::Ok => {}
            }
        }
    });
}

async fn resume(r: &Resumable) {
    match r.cloudformation.recover().await {
        Ok(stacks) => tracing::info!(
            stacks = stacks.len(),
            "store recovered: resuming interrupted stack operations"
        ),
        Err(e) => tracing::error!(error = %e, "store recovered: cannot resume stack operations"),
    }
    if let Err(e) = r.provisioned.recover().await {
        tracing::error!(error = %e, "store recovered: cannot settle Service Catalog operations");
    }
    match r.provisioner.reconcile(&r.sagemaker).await {
        Ok(done) => tracing::info!(
            projects = done.resumed.len(),
            "store recovered: resuming interrupted project operations"
        ),
        Err(e) => tracing::error!(error = %e, "store recovered: cannot resume project operations"),
    }
}
