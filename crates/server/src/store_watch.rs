//! Resuming interrupted operations: at start-up, and again whenever a failed store
//! takes writes once more.
//!
//! When the store refuses writes (the embedded store's disk is full, or PostgreSQL is
//! unreachable), the stack and project operations in flight fail their next write and
//! their tasks end, leaving them where the database last has them: a stack
//! `*_IN_PROGRESS` that no task drives, a project `Pending` or `*InProgress`. The store
//! recovers by itself once space returns or the database answers again (see
//! `sagestack_store::Store::health`); the watcher notices and runs the same recovery as
//! start-up, in the same order: stacks resume or roll back, Service Catalog operations
//! settle (judged by where their now resumed stacks end up), projects resume (they wait
//! for those operations). Every step is idempotent and skips what a running task still
//! drives. On PostgreSQL, takeover (`takeover.rs`) also finds that work once its leases
//! lapse (`tests/py/test_pg_restart.py` stops and restarts the database under load).

use std::sync::Arc;
use std::time::Duration;

use sagestack_cloudformation::CloudFormationService;
use sagestack_provisioning::ProjectProvisioner;
use sagestack_servicecatalog::ProvisionedProducts;
use sagestack_store::{Store, StoreHealth};
use tokio::task::JoinHandle;

/// How often the store's health is asked (which also lets an idle store probe).
pub const POLL: Duration = Duration::from_secs(1);

/// What recovery resumes.
#[derive(Clone)]
pub struct Resumable {
    pub cloudformation: Arc<CloudFormationService>,
    pub provisioned: Arc<ProvisionedProducts>,
    pub provisioner: ProjectProvisioner,
}

/// How many operations one recovery resumed.
#[derive(Debug, Default)]
struct Resumed {
    stacks: usize,
    provisioned_products: usize,
    projects: usize,
}

async fn resume(r: &Resumable) -> Result<Resumed, String> {
    let stacks = r
        .cloudformation
        .recover()
        .await
        .map_err(|e| format!("cannot recover CloudFormation stacks: {e}"))?;
    let provisioned_products = r
        .provisioned
        .recover()
        .await
        .map_err(|e| format!("cannot recover Service Catalog operations: {e}"))?;
    let projects = r
        .provisioner
        .reconcile()
        .await
        .map_err(|e| format!("cannot resume project operations: {e}"))?;
    Ok(Resumed {
        stacks: stacks.len(),
        provisioned_products,
        projects: projects.resumed.len(),
    })
}

/// Start-up recovery: what a previous process left in progress is resumed before the
/// server answers requests. A failure stops the start.
pub async fn resume_at_start(r: &Resumable) -> Result<(), String> {
    let done = resume(r).await?;
    if done.stacks + done.provisioned_products + done.projects > 0 {
        tracing::info!(
            stacks = done.stacks,
            provisioned_products = done.provisioned_products,
            projects = done.projects,
            "resuming interrupted operations"
        );
    }
    Ok(())
}

/// Starts the watcher; it runs until the returned handle is aborted (at shutdown).
/// With a `shared` database (PostgreSQL, replicas) recovery is left to takeover
/// (`takeover.rs`, which scans on the first tick after a failed one): it claims each
/// piece of work before resuming it, where [`resume`]'s engine-wide recovery would also
/// fail every change set still being created, another live replica's included.
pub fn spawn(store: Arc<dyn Store>, resumable: Resumable, shared: bool) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut degraded = false;
        loop {
            tokio::time::sleep(POLL).await;
            match store.health().await {
                StoreHealth::Degraded(reason) => {
                    if !degraded {
                        tracing::warn!(%reason, "the store refuses calls (its disk is full, or its database unreachable); operations in flight fail until it recovers");
                    }
                    degraded = true;
                }
                StoreHealth::Ok if degraded && shared => {
                    degraded = false;
                    tracing::info!("store recovered: takeover resumes interrupted operations");
                }
                StoreHealth::Ok if degraded => {
                    degraded = false;
                    match resume(&resumable).await {
                        Ok(done) => tracing::info!(
                            stacks = done.stacks,
                            provisioned_products = done.provisioned_products,
                            projects = done.projects,
                            "store recovered: resuming interrupted operations"
                        ),
                        Err(e) => tracing::error!(error = %e, "store recovered, but {e}"),
                    }
                }
                StoreHealth::Ok => {}
            }
        }
    })
}
