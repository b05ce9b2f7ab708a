//! SageMaker projects created from a Service Catalog product
//! (`ServiceCatalogProvisioningDetails`): what the project provisioner asks of Service
//! Catalog, in terms of Service Catalog's launches.
//!
//! * **Create**: the product (`ProductId`), the artifact (`ProvisioningArtifactId`, else
//!   the newest active one) and the launch path (`PathId`, required when the product has
//!   several) are resolved and the product is provisioned as
//!   `SageMakerProject-{project id}` (stack `SC-{account}-pp-...`) with the project's
//!   `ProvisioningParameters` plus `SageMakerProjectName` and `SageMakerProjectId`, tagged
//!   `sagemaker:project-name` / `sagemaker:project-id`.
//! * **Update**: the provisioned product moves to the project's (merged) artifact and
//!   parameters; a failed update rolls the stack back (`TAINTED`).
//! * **Delete**: the provisioned product is terminated.
//!
//! `ServiceCatalogProvisionedProductDetails` carries `ProvisionedProductId` and
//! `ProvisionedProductStatusMessage`: the provisioned product's status (`AVAILABLE`,
//! `UNDER_CHANGE`), or `TAINTED: <reason>` / `ERROR: <reason>`; a request refused before
//! anything was provisioned (unknown product, inactive artifact, missing launch path, bad
//! parameter) carries the refusal as the message and no id.
//!
//! [`ProjectLauncher`] is the project provisioner's [`ServiceCatalogBackend`]: the
//! provisioner keeps the project's status transitions, queueing and crash
//! reconciliation; this module only launches, through
//! [`sagestack_servicecatalog::ProvisionedProducts`], and never changes a project.
//!
//! Every operation is idempotent, as the provisioner requires after a crash: a project
//! whose provisioned product already exists is judged by that product (waiting for an
//! operation in progress to settle) instead of launching again.

use std::sync::Arc;

use async_trait::async_trait;
use sagestack_sagemaker::Project;
use sagestack_servicecatalog::model::{ProvisionedProduct, Record, Tag, record_status, status};
use sagestack_servicecatalog::{
    LaunchRequest, ProvisionedProducts, ScError, Selection, UpdateParameter, UpdateRequest,
};
use serde_json::{Value, json};

use crate::service_catalog::{ServiceCatalogBackend, ServiceCatalogOutcome};

/// Launches Service Catalog products for SageMaker projects.
#[derive(Clone)]
pub struct ProjectLauncher {
    products: Arc<ProvisionedProducts>,
}

/// The name of a project's provisioned product.
pub fn provisioned_product_name(project: &Project) -> String {
    format!("SageMakerProject-{}", project.project_id)
}

fn refused(e: &ScError) -> ServiceCatalogOutcome {
    ServiceCatalogOutcome {
        succeeded: false,
        details: json!({ "ProvisionedProductStatusMessage": e.to_string() }),
    }
}

fn message(pp: &ProvisionedProduct) -> String {
    match &pp.status_message {
        Some(m) if pp.status == status::ERROR || pp.status == status::TAINTED => {
            format!("{}: {m}", pp.status)
        }
        _ => pp.status.clone(),
    }
}

fn details(pp: &ProvisionedProduct) -> Value {
    json!({
        "ProvisionedProductId": pp.id,
        "ProvisionedProductStatusMessage": message(pp),
    })
}

/// What the project's details name (`ProductId`, `ProvisioningArtifactId`, `PathId`),
/// and its `ProvisioningParameters` with SageMaker's own.
type Request = (Selection, Vec<(String, String)>);

fn read_details(project: &Project) -> Result<Request, ScError> {
    let d = project
        .service_catalog_provisioning_details
        .as_ref()
        .ok_or_else(|| {
            ScError::InvalidParameters(
                "The project has no ServiceCatalogProvisioningDetails.".into(),
            )
        })?;
    let text = |k: &str| d.get(k).and_then(Value::as_str).map(str::to_string);
    let mut parameters = Vec::new();
    for (key, value) in crate::key_values(d.get("ProvisioningParameters")) {
        let key = key.unwrap_or_default();
        if key.is_empty() {
            return Err(ScError::InvalidParameters(
                "Every provisioning parameter needs a Key.".into(),
            ));
        }
        if key == "SageMakerProjectName" || key == "SageMakerProjectId" {
            continue; // SageMaker sets these itself.
        }
        parameters.push((key.to_string(), value.to_string()));
    }
    parameters.push(("SageMakerProjectName".into(), project.project_name.clone()));
    parameters.push(("SageMakerProjectId".into(), project.project_id.clone()));
    let selection = Selection {
        product_id: text("ProductId"),
        artifact_id: text("ProvisioningArtifactId"),
        path_id: text("PathId"),
        ..Default::default()
    };
    Ok((selection, parameters))
}

impl ProjectLauncher {
    pub fn new(products: Arc<ProvisionedProducts>) -> Self {
        ProjectLauncher { products }
    }

    /// The project's provisioned product, once no operation is driving it.
    async fn existing(&self, project: &Project) -> Result<Option<ProvisionedProduct>, ScError> {
        let by_name = self
            .products
            .provisioned_by(None, Some(&provisioned_product_name(project)))
            .await;
        let pp = match by_name {
            Ok(pp) => pp,
            Err(ScError::ResourceNotFound(_)) => return Ok(None),
            Err(e) => return Err(e),
        };
        if pp.status == status::UNDER_CHANGE {
            self.products.wait_record(&pp.last_record_id).await?;
            return self.products.provisioned(&pp.id).await.map(Some);
        }
        Ok(Some(pp))
    }

    /// The outcome of a settled record: the provisioned product's status, or, when the
    /// record failed but left the product as it was (a stack that refused the change),
    /// the record's error.
    async fn outcome(&self, pp_id: &str, record: &Record) -> ServiceCatalogOutcome {
        let record_ok = record.status == record_status::SUCCEEDED;
        match self.products.provisioned(pp_id).await {
            Ok(pp) => {
                let mut details = details(&pp);
                if !record_ok
                    && pp.status != status::ERROR
                    && pp.status != status::TAINTED
                    && let Some(e) = record.record_errors.first()
                {
                    details["ProvisionedProductStatusMessage"] = e.description.clone().into();
                }
                ServiceCatalogOutcome {
                    succeeded: record_ok && pp.status == status::AVAILABLE,
                    details,
                }
            }
            Err(e) => refused(&e),
        }
    }
}

#[async_trait]
impl ServiceCatalogBackend for ProjectLauncher {
    /// Provisions the product the project names.
    async fn provision(&self, project: &Project) -> ServiceCatalogOutcome {
        match self.existing(project).await {
            Ok(Some(pp)) => {
                return ServiceCatalogOutcome {
                    succeeded: pp.status == status::AVAILABLE,
                    details: details(&pp),
                };
            }
            Ok(None) => {}
            Err(e) => return refused(&e),
        }
        let (selection, parameters) = match read_details(project) {
            Ok(r) => r,
            Err(e) => return refused(&e),
        };
        let req = LaunchRequest {
            provisioned_product_name: provisioned_product_name(project),
            selection,
            parameters,
            tags: vec![
                Tag {
                    key: "sagemaker:project-name".into(),
                    value: project.project_name.clone(),
                },
                Tag {
                    key: "sagemaker:project-id".into(),
                    value: project.project_id.clone(),
                },
            ],
            token: project.project_id.clone(),
            ..Default::default()
        };
        match self.products.provision_and_wait(req).await {
            Ok(record) => self.outcome(&record.provisioned_product_id, &record).await,
            Err(e) => refused(&e),
        }
    }

    /// Moves the provisioned product to the project's artifact and parameters.
    async fn update(&self, project: &Project) -> ServiceCatalogOutcome {
        let pp = match self.existing(project).await {
            Ok(Some(pp)) => pp,
            Ok(None) => {
                return refused(&ScError::ResourceNotFound(format!(
                    "Provisioned product {} not found.",
                    provisioned_product_name(project)
                )));
            }
            Err(e) => return refused(&e),
        };
        let (mut selection, parameters) = match read_details(project) {
            Ok(r) => r,
            Err(e) => return refused(&e),
        };
        // The product is the provisioned product's; without an artifact named, the
        // newest active one (as a create would take).
        selection.product_id = None;
        if selection.artifact_id.is_none() {
            selection.artifact_id = match self.products.catalog().product(&pp.product_id).await {
                Ok(p) => p.latest_active().map(|a| a.id.clone()),
                Err(e) => return refused(&e),
            };
        }
        let req = UpdateRequest {
            provisioned_product_id: Some(pp.id.clone()),
            selection,
            parameters: parameters
                .into_iter()
                .map(|(key, value)| UpdateParameter {
                    key,
                    value: Some(value),
                    use_previous_value: false,
                })
                .collect(),
            ..Default::default()
        };
        match self.products.update_provisioned_and_wait(req).await {
            Ok(record) => self.outcome(&pp.id, &record).await,
            Err(e) => {
                // Refused before the stack was touched: the product is as it was.
                let mut out = refused(&e);
                out.details["ProvisionedProductId"] = pp.id.clone().into();
                out
            }
        }
    }

    /// Terminates the project's provisioned product (success when there is none).
    async fn terminate(&self, project: &Project) -> ServiceCatalogOutcome {
        let pp = match self.existing(project).await {
            Ok(Some(pp)) => pp,
            Ok(None) => {
                return ServiceCatalogOutcome {
                    succeeded: true,
                    details: project
                        .service_catalog_provisioned_product_details
                        .clone()
                        .unwrap_or_else(|| json!({})),
                };
            }
            Err(e) => return refused(&e),
        };
        match self.products.terminate_and_wait(&pp.id, false).await {
            Ok(record) if record.status == record_status::SUCCEEDED => ServiceCatalogOutcome {
                succeeded: true,
                details: json!({ "ProvisionedProductId": pp.id }),
            },
            Ok(record) => self.outcome(&pp.id, &record).await,
            Err(e) => {
                let mut out = refused(&e);
                out.details["ProvisionedProductId"] = pp.id.clone().into();
                out
            }
        }
    }
}
