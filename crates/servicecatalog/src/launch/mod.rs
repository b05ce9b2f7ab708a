//! [`ProvisionedProducts`]: a product's artifact launched as one CloudFormation stack
//! named as Service Catalog names them (`SC-{account}-{pp id}`), and the records
//! (`rec-`) of every operation on it.
//!
//! Built after the CloudFormation service, from the [`Catalog`] and that service; it
//! holds both and nothing holds it but the API service and the server's recovery, so the
//! services form no cycle. It must never be reachable from the catalog or a provider.
//!
//! An operation (provision, update, terminate) is checked completely before anything is
//! stored ([`prepare`]): the product, the artifact (the newest active one when none is
//! named; an inactive one is refused), the launch path (required when the product has
//! several), and the parameters against the template (CloudFormation's own plan, so a
//! missing, unknown or ill-typed parameter is an `InvalidParametersException` at the
//! call). Then the provisioned product goes `UNDER_CHANGE` with an `IN_PROGRESS` record,
//! the stack operation runs, and its outcome settles both ([`settle`]):
//!
//! | stack outcome              | provisioned product        | record      |
//! |----------------------------|----------------------------|-------------|
//! | `CREATE_COMPLETE`          | `AVAILABLE`                | `SUCCEEDED` |
//! | create failed / rolled back| `ERROR` (reason)           | `FAILED`    |
//! | `UPDATE_COMPLETE`          | `AVAILABLE`, new artifact  | `SUCCEEDED` |
//! | `UPDATE_ROLLBACK_COMPLETE` | `TAINTED` (reason), old artifact | `FAILED` |
//! | update rollback failed     | `ERROR` (reason)           | `FAILED`    |
//! | `DELETE_COMPLETE`          | gone                       | `SUCCEEDED` |
//! | delete failed              | `ERROR` (reason), unless `IgnoreErrors` | `FAILED` |
//!
//! The API calls return once the record is stored, and the stack runs in a task (clients
//! poll `DescribeRecord`, as with AWS). SageMaker projects use the `*_and_wait` forms,
//! which run the same steps in the caller's task.

pub(crate) mod prepare;
pub(crate) mod settle;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use sagestack_cloudformation::CloudFormationService;
use sagestack_store::CatalogKind;
use serde::Deserialize;

use crate::catalog::{Catalog, Result};
use crate::error::ScError;
use crate::model::{ProvisionedProduct, Record, Tag, record_status, status};

/// Which product, artifact and launch path an operation names, each by id or else by
/// name (the API's `ProductId` / `ProductName`, `ProvisioningArtifactId` / `...Name`,
/// `PathId` / `PathName`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Selection {
    pub product_id: Option<String>,
    pub product_name: Option<String>,
    /// A launch takes the newest active artifact when neither is given; an update keeps
    /// its current one.
    #[serde(rename = "ProvisioningArtifactId")]
    pub artifact_id: Option<String>,
    #[serde(rename = "ProvisioningArtifactName")]
    pub artifact_name: Option<String>,
    /// Required when the product has more than one launch path (an update keeps its
    /// current one).
    pub path_id: Option<String>,
    pub path_name: Option<String>,
}

/// What to launch.
#[derive(Debug, Clone, Default)]
pub struct LaunchRequest {
    pub provisioned_product_name: String,
    pub selection: Selection,
    pub parameters: Vec<(String, String)>,
    pub tags: Vec<Tag>,
    pub token: String,
    pub user_arn: Option<String>,
}

/// One parameter of an update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateParameter {
    pub key: String,
    pub value: Option<String>,
    pub use_previous_value: bool,
}

/// What to change in a provisioned product.
#[derive(Debug, Clone, Default)]
pub struct UpdateRequest {
    /// Id, or else name.
    pub provisioned_product_id: Option<String>,
    pub provisioned_product_name: Option<String>,
    /// The product cannot change; the artifact and the path are kept when not named.
    pub selection: Selection,
    /// Parameters not named keep their previous values (when the template still
    /// declares them).
    pub parameters: Vec<UpdateParameter>,
    pub tags: Option<Vec<Tag>>,
}

/// A checked operation, ready to run on the stack.
#[derive(Debug, Clone)]
pub(crate) enum Step {
    Create {
        template: String,
        parameters: BTreeMap<String, String>,
        tags: Vec<(String, String)>,
    },
    Update {
        template: String,
        parameters: BTreeMap<String, String>,
        tags: Option<Vec<(String, String)>>,
        /// The provisioned product's status before the update: what it returns to when
        /// the stack refuses the update without changing anything.
        prior_status: String,
        prior_message: Option<String>,
    },
    Terminate {
        ignore_errors: bool,
    },
}

/// What [`prepare`] hands to the stack: the stored record, the claimed provisioned
/// product and the step to run.
pub(crate) type Prepared = (Record, ProvisionedProduct, Step);

pub(crate) fn pp_not_found(id: &str) -> ScError {
    ScError::ResourceNotFound(format!("Provisioned product {id} not found."))
}

fn record_not_found(id: &str) -> ScError {
    ScError::ResourceNotFound(format!("Record {id} not found."))
}

/// Provisioned products and their records, run as CloudFormation stacks. Cheap to clone
/// (two `Arc`s): the tasks that run stacks hold a clone.
#[derive(Clone)]
pub struct ProvisionedProducts {
    pub(crate) catalog: Arc<Catalog>,
    pub(crate) cfn: Arc<CloudFormationService>,
    /// This process's claims: an interrupted operation is settled by the one process
    /// that claims its record (`sagestack_engine::claims`).
    pub(crate) claims: Arc<dyn sagestack_engine::claims::Claims>,
    /// Operations whose task is running now (see [`ProvisionedProducts::running`]).
    running: Arc<std::sync::atomic::AtomicUsize>,
}

/// The kind of claim naming an interrupted operation (by record id).
const CLAIM: &str = "sc-record";

impl ProvisionedProducts {
    pub fn new(catalog: Arc<Catalog>, cloudformation: Arc<CloudFormationService>) -> Self {
        ProvisionedProducts {
            catalog,
            cfn: cloudformation,
            claims: Arc::new(sagestack_engine::claims::Unclaimed),
            running: Arc::default(),
        }
    }

    /// How many provisioned product operations (launch, update, terminate) this process
    /// is running now.
    pub fn running(&self) -> usize {
        self.running.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Settles interrupted operations only once claimed through `claims` (replicas).
    pub fn with_claims(mut self, claims: Arc<dyn sagestack_engine::claims::Claims>) -> Self {
        self.claims = claims;
        self
    }

    /// The catalog products are launched from.
    pub fn catalog(&self) -> &Arc<Catalog> {
        &self.catalog
    }

    pub async fn provisioned(&self, id: &str) -> Result<ProvisionedProduct> {
        self.catalog
            .get(CatalogKind::ProvisionedProduct, id, pp_not_found)
            .await
    }

    /// The provisioned product with this id, or else this name.
    pub async fn provisioned_by(
        &self,
        id: Option<&str>,
        name: Option<&str>,
    ) -> Result<ProvisionedProduct> {
        match (id, name) {
            (Some(id), _) => self.provisioned(id).await,
            (None, Some(name)) => {
                self.catalog
                    .get_by_name(CatalogKind::ProvisionedProduct, name, pp_not_found)
                    .await
            }
            (None, None) => Err(ScError::InvalidParameters(
                "Either the provisioned product id or its name must be specified.".into(),
            )),
        }
    }

    /// Every provisioned product, oldest first.
    pub async fn all_provisioned(&self) -> Result<Vec<ProvisionedProduct>> {
        self.catalog.all(CatalogKind::ProvisionedProduct).await
    }

    pub async fn record(&self, id: &str) -> Result<Record> {
        self.catalog
            .get(CatalogKind::Record, id, record_not_found)
            .await
    }

    /// Waits until a record is no longer `IN_PROGRESS` (polling the store, so it also
    /// sees operations another task runs).
    pub async fn wait_record(&self, id: &str) -> Result<Record> {
        loop {
            let r = self.record(id).await?;
            if r.status != record_status::IN_PROGRESS {
                return Ok(r);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// `ProvisionProduct`: checks, stores and starts; the `IN_PROGRESS` record.
    pub async fn provision(&self, req: LaunchRequest) -> Result<Record> {
        Ok(self.spawn(self.prepare_provision(req).await?))
    }

    /// Provisions and waits for the outcome: the settled record.
    pub async fn provision_and_wait(&self, req: LaunchRequest) -> Result<Record> {
        Ok(self.run(self.prepare_provision(req).await?).await)
    }

    /// `UpdateProvisionedProduct`: checks, stores and starts; the `IN_PROGRESS` record.
    pub async fn update_provisioned(&self, req: UpdateRequest) -> Result<Record> {
        Ok(self.spawn(self.prepare_update(req).await?))
    }

    /// Updates and waits for the outcome: the settled record.
    pub async fn update_provisioned_and_wait(&self, req: UpdateRequest) -> Result<Record> {
        Ok(self.run(self.prepare_update(req).await?).await)
    }

    /// `TerminateProvisionedProduct`: stores and starts; the `IN_PROGRESS` record.
    pub async fn terminate(&self, id: &str, ignore_errors: bool) -> Result<Record> {
        Ok(self.spawn(self.prepare_terminate(id, ignore_errors).await?))
    }

    /// Terminates and waits for the outcome: the settled record.
    pub async fn terminate_and_wait(&self, id: &str, ignore_errors: bool) -> Result<Record> {
        Ok(self
            .run(self.prepare_terminate(id, ignore_errors).await?)
            .await)
    }

    /// Settles the operations a previous process left `UNDER_CHANGE` (call once at
    /// startup, after [`CloudFormationService::recover`] has resumed their stacks): each
    /// is judged by where its stack ended up. Returns how many were picked up; they
    /// settle in background tasks.
    pub async fn recover(&self) -> Result<usize> {
        let mut picked = 0;
        for pp in self.all_provisioned().await? {
            if pp.status != status::UNDER_CHANGE {
                continue;
            }
            let Ok(record) = self.record(&pp.last_record_id).await else {
                continue;
            };
            if record.status != record_status::IN_PROGRESS {
                continue;
            }
            // Another live process runs or settles it (an operation it started is
            // claimed by its task; one it took over, here).
            let id = record.record_id.clone();
            if !self.claims.claim(CLAIM, &id).await.unwrap_or(false) {
                continue;
            }
            picked += 1;
            let worker = self.clone();
            tokio::spawn(async move {
                worker.deferred(worker.resume(pp, record)).await;
                worker.claims.release(CLAIM, &id).await;
            });
        }
        Ok(picked)
    }

    /// Runs a prepared operation in a task; its (still `IN_PROGRESS`) record.
    fn spawn(&self, (record, pp, step): Prepared) -> Record {
        let worker = self.clone();
        let started = record.clone();
        tokio::spawn(async move {
            let id = record.record_id.clone();
            if !worker.claims.claim(CLAIM, &id).await.unwrap_or(false) {
                return; // taken over already: the taker settles it
            }
            worker.deferred(worker.run((record, pp, step))).await;
            worker.claims.release(CLAIM, &id).await;
        });
        started
    }

    /// Runs `operation` with its steps' flushes deferred and flushes once at its end
    /// (`sagestack_engine::durability`), as project provisioning does.
    async fn deferred<T>(&self, operation: impl std::future::Future<Output = T>) -> T {
        use std::sync::atomic::Ordering::SeqCst;
        self.running.fetch_add(1, SeqCst);
        struct Done<'a>(&'a std::sync::atomic::AtomicUsize);
        impl Drop for Done<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, SeqCst);
            }
        }
        let _done = Done(&self.running);
        let out = sagestack_engine::durability::deferred(operation).await;
        if let Err(e) = self.cfn.flush().await {
            tracing::error!("flushing a finished provisioned product operation: {e}");
        }
        out
    }
}
