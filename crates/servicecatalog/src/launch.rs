//! Provisioned products: a product's artifact launched as one CloudFormation stack
//! named as Service Catalog names them (`SC-{account}-{pp id}`), and the records
//! (`rec-`) of every operation on it.
//!
//! An operation (provision, update, terminate) is checked completely before anything is
//! stored: the product, the artifact (the newest active one when none is named; an
//! inactive one is refused), the launch path (required when the product has several),
//! and the parameters against the template (CloudFormation's own plan, so a missing,
//! unknown or ill-typed parameter is an `InvalidParametersException` at the call). Then
//! the provisioned product goes `UNDER_CHANGE` with an `IN_PROGRESS` record, the stack
//! operation runs, and its outcome settles both:
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

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use sagestack_cloudformation::{
    CloudFormationService, CreateStackInput, EngineError, StackRecord, StackStatus,
    UpdateStackInput,
};
use sagestack_protocol::{JsonOutput, RequestContext};
use sagestack_store::{CatalogKind, StoreError};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::ScError;
use crate::model::{
    ProvisionedProduct, Record, RecordError, RecordOutput, Tag, new_id, record_status, record_type,
    status,
};
use crate::service::{Result, ServiceCatalogService, decode, page, seconds};

/// Capabilities a Service Catalog launch grants its stack (AWS launches with all three).
const CAPABILITIES: [&str; 3] = [
    "CAPABILITY_IAM",
    "CAPABILITY_NAMED_IAM",
    "CAPABILITY_AUTO_EXPAND",
];

/// What to launch.
#[derive(Debug, Clone, Default)]
pub struct LaunchRequest {
    pub provisioned_product_name: String,
    pub product_id: Option<String>,
    pub product_name: Option<String>,
    /// The newest active artifact when neither is given.
    pub artifact_id: Option<String>,
    pub artifact_name: Option<String>,
    /// Required when the product has more than one launch path.
    pub path_id: Option<String>,
    pub path_name: Option<String>,
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
    pub product_id: Option<String>,
    pub product_name: Option<String>,
    /// Kept when neither is given.
    pub artifact_id: Option<String>,
    pub artifact_name: Option<String>,
    pub path_id: Option<String>,
    pub path_name: Option<String>,
    /// Parameters not named keep their previous values (when the template still
    /// declares them).
    pub parameters: Vec<UpdateParameter>,
    pub tags: Option<Vec<Tag>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct KeyValue {
    key: Option<String>,
    value: Option<String>,
    use_previous_value: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ProvisionInput {
    product_id: Option<String>,
    product_name: Option<String>,
    provisioning_artifact_id: Option<String>,
    provisioning_artifact_name: Option<String>,
    path_id: Option<String>,
    path_name: Option<String>,
    provisioned_product_name: String,
    provisioning_parameters: Option<Vec<KeyValue>>,
    tags: Option<Vec<Tag>>,
    provision_token: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct UpdateInput {
    provisioned_product_name: Option<String>,
    provisioned_product_id: Option<String>,
    product_id: Option<String>,
    product_name: Option<String>,
    provisioning_artifact_id: Option<String>,
    provisioning_artifact_name: Option<String>,
    path_id: Option<String>,
    path_name: Option<String>,
    provisioning_parameters: Option<Vec<KeyValue>>,
    tags: Option<Vec<Tag>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TerminateInput {
    provisioned_product_name: Option<String>,
    provisioned_product_id: Option<String>,
    ignore_errors: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DescribePpInput {
    id: Option<String>,
    name: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SearchPpInput {
    filters: Option<BTreeMap<String, Vec<String>>>,
    sort_by: Option<String>,
    sort_order: Option<String>,
    page_token: Option<String>,
    page_size: Option<i64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DescribeRecordInput {
    id: String,
}

/// A checked operation, ready to run on the stack.
#[derive(Debug, Clone)]
enum Step {
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

fn pp_not_found(id: &str) -> ScError {
    ScError::ResourceNotFound(format!("Provisioned product {id} not found."))
}

fn record_not_found(id: &str) -> ScError {
    ScError::ResourceNotFound(format!("Record {id} not found."))
}

fn key_values(list: Option<Vec<KeyValue>>) -> Result<Vec<UpdateParameter>> {
    list.unwrap_or_default()
        .into_iter()
        .map(|kv| match kv.key {
            Some(key) if !key.is_empty() => Ok(UpdateParameter {
                key,
                value: kv.value,
                use_previous_value: kv.use_previous_value.unwrap_or(false),
            }),
            _ => Err(ScError::InvalidParameters(
                "Every provisioning parameter needs a Key.".into(),
            )),
        })
        .collect()
}

/// The most precise reason a stack operation failed: the first failed resource's, else
/// the stack's own.
async fn failure_reason(cfn: &CloudFormationService, stack: &StackRecord) -> String {
    let mut reason = stack
        .status_reason
        .clone()
        .unwrap_or_else(|| format!("Stack {} is in {} state", stack.stack_name, stack.status));
    if let Ok(events) = cfn.stack_events(&stack.stack_id, None, 500).await
        && let Some(e) = events.iter().rev().find(|e| {
            e.resource_status.ends_with("_FAILED")
                && e.logical_resource_id != stack.stack_name
                && e.resource_status_reason.is_some()
        })
    {
        reason = format!(
            "{}: {} ({})",
            e.logical_resource_id,
            e.resource_status_reason.clone().unwrap_or_default(),
            e.resource_status
        );
    }
    reason
}

impl ServiceCatalogService {
    pub(crate) async fn handle_launch(
        &self,
        ctx: &RequestContext,
        operation: &str,
        input: Value,
    ) -> Result<JsonOutput> {
        let out = match operation {
            "ProvisionProduct" => {
                let i: ProvisionInput = decode(operation, input)?;
                if i.provisioning_artifact_id.is_none() && i.provisioning_artifact_name.is_none() {
                    return Err(ScError::InvalidParameters(
                        "Either ProvisioningArtifactId or ProvisioningArtifactName must be specified."
                            .into(),
                    ));
                }
                let req = LaunchRequest {
                    provisioned_product_name: i.provisioned_product_name,
                    product_id: i.product_id,
                    product_name: i.product_name,
                    artifact_id: i.provisioning_artifact_id,
                    artifact_name: i.provisioning_artifact_name,
                    path_id: i.path_id,
                    path_name: i.path_name,
                    parameters: key_values(i.provisioning_parameters)?
                        .into_iter()
                        .map(|p| (p.key, p.value.unwrap_or_default()))
                        .collect(),
                    tags: i.tags.unwrap_or_default(),
                    token: i.provision_token,
                    user_arn: ctx
                        .access_key_id
                        .as_ref()
                        .map(|_| format!("arn:aws:iam::{}:root", ctx.account_id)),
                };
                let record = self.provision(req).await?;
                json!({"RecordDetail": record.detail()})
            }
            "UpdateProvisionedProduct" => {
                let i: UpdateInput = decode(operation, input)?;
                let req = UpdateRequest {
                    provisioned_product_id: i.provisioned_product_id,
                    provisioned_product_name: i.provisioned_product_name,
                    product_id: i.product_id,
                    product_name: i.product_name,
                    artifact_id: i.provisioning_artifact_id,
                    artifact_name: i.provisioning_artifact_name,
                    path_id: i.path_id,
                    path_name: i.path_name,
                    parameters: key_values(i.provisioning_parameters)?,
                    tags: i.tags,
                };
                let record = self.update_provisioned(req).await?;
                json!({"RecordDetail": record.detail()})
            }
            "TerminateProvisionedProduct" => {
                let i: TerminateInput = decode(operation, input)?;
                let pp = self
                    .provisioned_by(
                        i.provisioned_product_id.as_deref(),
                        i.provisioned_product_name.as_deref(),
                    )
                    .await?;
                let record = self
                    .terminate(&pp.id, i.ignore_errors.unwrap_or(false))
                    .await?;
                json!({"RecordDetail": record.detail()})
            }
            "DescribeProvisionedProduct" => {
                let i: DescribePpInput = decode(operation, input)?;
                let pp = self
                    .provisioned_by(i.id.as_deref(), i.name.as_deref())
                    .await?;
                json!({"ProvisionedProductDetail": pp.detail(), "CloudWatchDashboards": []})
            }
            "SearchProvisionedProducts" => {
                let i: SearchPpInput = decode(operation, input)?;
                let mut all = self.attributes().await?;
                if let Some(queries) = i.filters.as_ref().and_then(|f| f.get("SearchQuery")) {
                    all.retain(|v| queries.iter().all(|q| matches_query(v, q)));
                }
                if let Some(field) = i.sort_by.as_deref() {
                    all.sort_by(|a, b| {
                        let (x, y) = (&a[field], &b[field]);
                        match (x.as_f64(), y.as_f64()) {
                            (Some(x), Some(y)) => x.total_cmp(&y),
                            _ => x.as_str().unwrap_or("").cmp(y.as_str().unwrap_or("")),
                        }
                    });
                }
                if i.sort_order.as_deref() == Some("DESCENDING") {
                    all.reverse();
                }
                let total = all.len();
                let (items, next) = page(all, i.page_token.as_deref(), i.page_size)?;
                let mut out = json!({"ProvisionedProducts": items, "TotalResultsCount": total});
                if let Some(n) = next {
                    out["NextPageToken"] = n.into();
                }
                out
            }
            "ScanProvisionedProducts" => {
                #[derive(Deserialize)]
                #[serde(rename_all = "PascalCase")]
                struct ScanInput {
                    page_token: Option<String>,
                    page_size: Option<i64>,
                }
                let i: ScanInput = decode(operation, input)?;
                let all: Vec<Value> = self
                    .all::<ProvisionedProduct>(CatalogKind::ProvisionedProduct)
                    .await?
                    .iter()
                    .map(ProvisionedProduct::detail)
                    .collect();
                let (items, next) = page(all, i.page_token.as_deref(), i.page_size)?;
                let mut out = json!({"ProvisionedProducts": items});
                if let Some(n) = next {
                    out["NextPageToken"] = n.into();
                }
                out
            }
            "DescribeRecord" => {
                let i: DescribeRecordInput = decode(operation, input)?;
                let r = self.record(&i.id).await?;
                json!({"RecordDetail": r.detail(), "RecordOutputs": r.record_outputs})
            }
            other => {
                return Err(ScError::UnknownOperation(format!(
                    "Operation {}.{other} is not supported by this server",
                    crate::service::TARGET_PREFIX
                )));
            }
        };
        Ok(JsonOutput::Value(out))
    }

    async fn attributes(&self) -> Result<Vec<Value>> {
        let mut out = Vec::new();
        for pp in self
            .all::<ProvisionedProduct>(CatalogKind::ProvisionedProduct)
            .await?
        {
            let product = self.product(&pp.product_id).await.ok();
            let artifact_name = product
                .as_ref()
                .and_then(|p| p.artifact(&pp.provisioning_artifact_id))
                .map(|a| a.name.clone());
            out.push(pp.attribute(
                product.as_ref().map(|p| p.name.as_str()),
                artifact_name.as_deref(),
            ));
        }
        Ok(out)
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
                let r = self
                    .store
                    .catalog_get_by_name(CatalogKind::ProvisionedProduct, name)
                    .await?
                    .ok_or_else(|| pp_not_found(name))?;
                crate::service::parse(&r)
            }
            (None, None) => Err(ScError::InvalidParameters(
                "Either the provisioned product id or its name must be specified.".into(),
            )),
        }
    }

    pub async fn provisioned(&self, id: &str) -> Result<ProvisionedProduct> {
        self.read(CatalogKind::ProvisionedProduct, id)
            .await?
            .map(|(_, p)| p)
            .ok_or_else(|| pp_not_found(id))
    }

    pub async fn record(&self, id: &str) -> Result<Record> {
        self.read(CatalogKind::Record, id)
            .await?
            .map(|(_, r)| r)
            .ok_or_else(|| record_not_found(id))
    }

    fn stacks(&self) -> Result<Arc<CloudFormationService>> {
        self.cloudformation.get().cloned().ok_or_else(|| {
            ScError::Internal("no CloudFormation service is attached to Service Catalog".into())
        })
    }

    /// Resolves product, artifact and launch path; the artifact must be active.
    async fn resolve(
        &self,
        product_id: Option<&str>,
        product_name: Option<&str>,
        artifact_id: Option<&str>,
        artifact_name: Option<&str>,
        path_id: Option<&str>,
        path_name: Option<&str>,
    ) -> Result<(crate::model::Product, crate::model::Artifact, String)> {
        let product = self.product_by(product_id, product_name).await?;
        let artifact = match (artifact_id, artifact_name) {
            (Some(id), _) => product.artifact(id).cloned().ok_or_else(|| {
                ScError::ResourceNotFound(format!(
                    "Provisioning artifact {id} not found for product {}.",
                    product.id
                ))
            })?,
            (None, Some(name)) => product
                .artifacts
                .iter()
                .find(|a| a.name == name)
                .cloned()
                .ok_or_else(|| {
                    ScError::ResourceNotFound(format!(
                        "Provisioning artifact {name} not found for product {}.",
                        product.id
                    ))
                })?,
            (None, None) => product.latest_active().cloned().ok_or_else(|| {
                ScError::InvalidParameters(format!(
                    "Product {} has no active provisioning artifact.",
                    product.id
                ))
            })?,
        };
        if !artifact.active {
            return Err(ScError::InvalidParameters(format!(
                "Provisioning artifact {} of product {} is not active.",
                artifact.id, product.id
            )));
        }
        let paths = self.launch_paths(&product.id).await?;
        let path = match (path_id, path_name) {
            (Some(id), _) => paths.iter().find(|p| p.id == id).ok_or_else(|| {
                ScError::ResourceNotFound(format!(
                    "Launch path {id} not found for product {}.",
                    product.id
                ))
            })?,
            (None, Some(name)) => paths
                .iter()
                .find(|p| p.portfolio.display_name == name)
                .ok_or_else(|| {
                    ScError::ResourceNotFound(format!(
                        "Launch path {name} not found for product {}.",
                        product.id
                    ))
                })?,
            (None, None) => match paths.as_slice() {
                [] => {
                    return Err(ScError::ResourceNotFound(format!(
                        "No launch paths found for resource: {}",
                        product.id
                    )));
                }
                [only] => only,
                _ => {
                    return Err(ScError::InvalidParameters(format!(
                        "Product {} has {} launch paths; specify one with PathId.",
                        product.id,
                        paths.len()
                    )));
                }
            },
        };
        Ok((product.clone(), artifact, path.id.clone()))
    }

    /// Checks `parameters` against the template as CloudFormation will bind them.
    fn check_parameters(
        &self,
        stack_name: &str,
        template: &str,
        parameters: &BTreeMap<String, String>,
    ) -> Result<()> {
        let cfn = self.stacks()?;
        cfn.plan(stack_name, template, parameters)
            .map(|_| ())
            .map_err(|diags| {
                ScError::InvalidParameters(
                    diags
                        .first()
                        .map(|d| d.message.clone())
                        .unwrap_or_else(|| "Invalid parameters".into()),
                )
            })
    }

    /// The stack's tags: the provisioned product's. AWS also adds reserved
    /// `aws:servicecatalog:*` tags; they are left out because stack tags propagate to
    /// every taggable resource and this server's native providers (like AWS's APIs for
    /// callers) refuse `aws:` keys, which would fail every launch with such a resource.
    fn stack_tags(tags: &[Tag]) -> Vec<(String, String)> {
        tags.iter()
            .map(|t| (t.key.clone(), t.value.clone()))
            .collect()
    }

    /// `ProvisionProduct`: checks, stores and starts; the `IN_PROGRESS` record.
    pub async fn provision(&self, req: LaunchRequest) -> Result<Record> {
        let (record, pp, step) = self.prepare_provision(req).await?;
        self.spawn(pp, record.clone(), step)?;
        Ok(record)
    }

    /// Provisions and waits for the outcome: the settled record.
    pub async fn provision_and_wait(&self, req: LaunchRequest) -> Result<Record> {
        let (record, pp, step) = self.prepare_provision(req).await?;
        let cfn = self.stacks()?;
        Ok(self.worker(cfn).run(pp, record, step).await)
    }

    async fn prepare_provision(
        &self,
        req: LaunchRequest,
    ) -> Result<(Record, ProvisionedProduct, Step)> {
        if self
            .store
            .catalog_get_by_name(
                CatalogKind::ProvisionedProduct,
                &req.provisioned_product_name,
            )
            .await?
            .is_some()
        {
            return Err(ScError::DuplicateResource(format!(
                "A provisioned product with the name {} already exists.",
                req.provisioned_product_name
            )));
        }
        let (product, artifact, path_id) = self
            .resolve(
                req.product_id.as_deref(),
                req.product_name.as_deref(),
                req.artifact_id.as_deref(),
                req.artifact_name.as_deref(),
                req.path_id.as_deref(),
                req.path_name.as_deref(),
            )
            .await?;
        let mut parameters = BTreeMap::new();
        for (k, v) in &req.parameters {
            if parameters.insert(k.clone(), v.clone()).is_some() {
                return Err(ScError::InvalidParameters(format!(
                    "Provisioning parameter {k} is given more than once."
                )));
            }
        }
        let id = new_id("pp-");
        let stack_name = self.scope.stack_name(&id);
        self.check_parameters(&stack_name, &artifact.template_body, &parameters)?;
        let now = seconds(self.clock.now());
        let record_id = new_id("rec-");
        let pp = ProvisionedProduct {
            arn: self
                .scope
                .provisioned_product_arn(&req.provisioned_product_name, &id),
            id: id.clone(),
            name: req.provisioned_product_name.clone(),
            created_time: now,
            status: status::UNDER_CHANGE.into(),
            status_message: None,
            idempotency_token: req.token.clone(),
            product_id: product.id.clone(),
            provisioning_artifact_id: artifact.id.clone(),
            path_id: path_id.clone(),
            stack_name,
            stack_id: None,
            parameters: parameters.clone(),
            tags: req.tags.clone(),
            last_record_id: record_id.clone(),
            last_provisioning_record_id: record_id.clone(),
            last_successful_provisioning_record_id: None,
            user_arn: req.user_arn.clone(),
        };
        let record = Record {
            record_id: record_id.clone(),
            record_type: record_type::PROVISION.into(),
            status: record_status::IN_PROGRESS.into(),
            created_time: now,
            updated_time: now,
            provisioned_product_id: id.clone(),
            provisioned_product_name: pp.name.clone(),
            product_id: product.id.clone(),
            provisioning_artifact_id: artifact.id.clone(),
            path_id,
            record_errors: Vec::new(),
            record_outputs: Vec::new(),
            record_tags: req.tags.clone(),
        };
        self.insert(CatalogKind::Record, &record.record_id, None, &record)
            .await?;
        let stored = sagestack_store::CatalogRecord {
            id: id.clone(),
            name: Some(pp.name.clone()),
            version: 1,
            created_micros: self.clock.now() * 1000,
            document: Arc::from(serde_json::to_string(&pp).map_err(crate::service::internal)?),
        };
        match self
            .store
            .catalog_insert(CatalogKind::ProvisionedProduct, &stored)
            .await
        {
            Ok(()) => {}
            Err(StoreError::AlreadyExists) => {
                let _ = self
                    .store
                    .catalog_delete(CatalogKind::Record, &record_id)
                    .await;
                return Err(ScError::DuplicateResource(format!(
                    "A provisioned product with the name {} already exists.",
                    pp.name
                )));
            }
            Err(e) => return Err(e.into()),
        }
        let step = Step::Create {
            template: artifact.template_body.clone(),
            tags: Self::stack_tags(&req.tags),
            parameters,
        };
        Ok((record, pp, step))
    }

    /// `UpdateProvisionedProduct`: checks, stores and starts; the `IN_PROGRESS` record.
    pub async fn update_provisioned(&self, req: UpdateRequest) -> Result<Record> {
        let (record, pp, step) = self.prepare_update(req).await?;
        self.spawn(pp, record.clone(), step)?;
        Ok(record)
    }

    /// Updates and waits for the outcome: the settled record.
    pub async fn update_provisioned_and_wait(&self, req: UpdateRequest) -> Result<Record> {
        let (record, pp, step) = self.prepare_update(req).await?;
        let cfn = self.stacks()?;
        Ok(self.worker(cfn).run(pp, record, step).await)
    }

    async fn prepare_update(
        &self,
        req: UpdateRequest,
    ) -> Result<(Record, ProvisionedProduct, Step)> {
        let current = self
            .provisioned_by(
                req.provisioned_product_id.as_deref(),
                req.provisioned_product_name.as_deref(),
            )
            .await?;
        if current.status == status::UNDER_CHANGE {
            return Err(ScError::InvalidState(format!(
                "Provisioned product {} is UNDER_CHANGE; wait for its current operation to finish.",
                current.id
            )));
        }
        if current.stack_id.is_none() {
            return Err(ScError::InvalidState(format!(
                "Provisioned product {} has no stack to update (its launch failed); terminate it and provision again.",
                current.id
            )));
        }
        if let Some(p) = &req.product_id
            && *p != current.product_id
        {
            return Err(ScError::InvalidParameters(format!(
                "Provisioned product {} was launched from product {}, not {p}.",
                current.id, current.product_id
            )));
        }
        let product_id = Some(current.product_id.as_str());
        let (artifact_id, artifact_name) = match (&req.artifact_id, &req.artifact_name) {
            (None, None) => (Some(current.provisioning_artifact_id.as_str()), None),
            (id, name) => (id.as_deref(), name.as_deref()),
        };
        let keep_path = req.path_id.is_none() && req.path_name.is_none();
        let (product, artifact, path_id) = self
            .resolve(
                product_id,
                None,
                artifact_id,
                artifact_name,
                if keep_path {
                    Some(current.path_id.as_str())
                } else {
                    req.path_id.as_deref()
                },
                req.path_name.as_deref(),
            )
            .await?;
        let _ = req.product_name;
        let declared: Vec<String> = sagestack_template::Template::parse_with(
            &artifact.template_body,
            &sagestack_template::Limits::s3(),
        )
        .map(|t| t.parameters().into_iter().map(|p| p.name).collect())
        .unwrap_or_default();
        let mut parameters: BTreeMap<String, String> = current
            .parameters
            .iter()
            .filter(|(k, _)| declared.contains(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        for p in &req.parameters {
            if p.use_previous_value {
                // A parameter launched with its default has no stored value: it keeps
                // taking the default.
                if let Some(v) = current.parameters.get(&p.key) {
                    parameters.insert(p.key.clone(), v.clone());
                }
            } else {
                parameters.insert(p.key.clone(), p.value.clone().unwrap_or_default());
            }
        }
        self.check_parameters(&current.stack_name, &artifact.template_body, &parameters)?;
        let now = seconds(self.clock.now());
        let record_id = new_id("rec-");
        let record = Record {
            record_id: record_id.clone(),
            record_type: record_type::UPDATE.into(),
            status: record_status::IN_PROGRESS.into(),
            created_time: now,
            updated_time: now,
            provisioned_product_id: current.id.clone(),
            provisioned_product_name: current.name.clone(),
            product_id: product.id.clone(),
            provisioning_artifact_id: artifact.id.clone(),
            path_id: path_id.clone(),
            record_errors: Vec::new(),
            record_outputs: Vec::new(),
            record_tags: req.tags.clone().unwrap_or_else(|| current.tags.clone()),
        };
        self.insert(CatalogKind::Record, &record_id, None, &record)
            .await?;
        let pp = self.claim_or_forget(&current.id, &record_id, true).await?;
        let step = Step::Update {
            prior_status: current.status.clone(),
            prior_message: current.status_message.clone(),
            template: artifact.template_body.clone(),
            parameters,
            tags: req.tags.as_deref().map(Self::stack_tags),
        };
        Ok((record, pp, step))
    }

    /// [`Self::claim`], deleting the record stored for the operation when it is refused.
    async fn claim_or_forget(
        &self,
        id: &str,
        record_id: &str,
        provisioning: bool,
    ) -> Result<ProvisionedProduct> {
        match self.claim(id, record_id, provisioning).await {
            Ok(pp) => Ok(pp),
            Err(e) => {
                let _ = self
                    .store
                    .catalog_delete(CatalogKind::Record, record_id)
                    .await;
                Err(e)
            }
        }
    }

    /// Marks the provisioned product `UNDER_CHANGE` for `record_id`, refusing when
    /// another operation got there first.
    async fn claim(
        &self,
        id: &str,
        record_id: &str,
        provisioning: bool,
    ) -> Result<ProvisionedProduct> {
        self.modify(
            CatalogKind::ProvisionedProduct,
            id,
            pp_not_found,
            |pp: &mut ProvisionedProduct| {
                if pp.status == status::UNDER_CHANGE {
                    return Err(ScError::InvalidState(format!(
                        "Provisioned product {id} is UNDER_CHANGE; wait for its current operation to finish."
                    )));
                }
                pp.status = status::UNDER_CHANGE.into();
                pp.status_message = None;
                pp.last_record_id = record_id.to_string();
                if provisioning {
                    pp.last_provisioning_record_id = record_id.to_string();
                }
                Ok(())
            },
        )
        .await
    }

    /// `TerminateProvisionedProduct`: stores and starts; the `IN_PROGRESS` record.
    pub async fn terminate(&self, id: &str, ignore_errors: bool) -> Result<Record> {
        let (record, pp, step) = self.prepare_terminate(id, ignore_errors).await?;
        self.spawn(pp, record.clone(), step)?;
        Ok(record)
    }

    /// Terminates and waits for the outcome: the settled record.
    pub async fn terminate_and_wait(&self, id: &str, ignore_errors: bool) -> Result<Record> {
        let (record, pp, step) = self.prepare_terminate(id, ignore_errors).await?;
        let cfn = self.stacks()?;
        Ok(self.worker(cfn).run(pp, record, step).await)
    }

    async fn prepare_terminate(
        &self,
        id: &str,
        ignore_errors: bool,
    ) -> Result<(Record, ProvisionedProduct, Step)> {
        self.stacks()?;
        let current = self.provisioned(id).await?;
        let now = seconds(self.clock.now());
        let record_id = new_id("rec-");
        let record = Record {
            record_id: record_id.clone(),
            record_type: record_type::TERMINATE.into(),
            status: record_status::IN_PROGRESS.into(),
            created_time: now,
            updated_time: now,
            provisioned_product_id: current.id.clone(),
            provisioned_product_name: current.name.clone(),
            product_id: current.product_id.clone(),
            provisioning_artifact_id: current.provisioning_artifact_id.clone(),
            path_id: current.path_id.clone(),
            record_errors: Vec::new(),
            record_outputs: Vec::new(),
            record_tags: current.tags.clone(),
        };
        self.insert(CatalogKind::Record, &record_id, None, &record)
            .await?;
        let pp = self.claim_or_forget(id, &record_id, false).await?;
        Ok((record, pp, Step::Terminate { ignore_errors }))
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

    fn worker(&self, cfn: Arc<CloudFormationService>) -> Worker {
        Worker {
            service: WorkerParts {
                store: self.store.clone(),
                clock: self.clock.clone(),
            },
            cfn,
        }
    }

    /// Settles the operations a previous process left `UNDER_CHANGE` (call once at
    /// startup, after [`CloudFormationService::recover`] has resumed their stacks): each
    /// is judged by where its stack ended up. Returns how many were picked up; they
    /// settle in background tasks.
    pub async fn recover(&self) -> Result<usize> {
        let worker = self.worker(self.stacks()?);
        let mut picked = 0;
        for pp in self
            .all::<ProvisionedProduct>(CatalogKind::ProvisionedProduct)
            .await?
        {
            if pp.status != status::UNDER_CHANGE {
                continue;
            }
            let Ok(record) = self.record(&pp.last_record_id).await else {
                continue;
            };
            if record.status != record_status::IN_PROGRESS {
                continue;
            }
            picked += 1;
            let worker = worker.clone();
            tokio::spawn(async move {
                worker.deferred(worker.resume(pp, record)).await;
            });
        }
        Ok(picked)
    }

    fn spawn(&self, pp: ProvisionedProduct, record: Record, step: Step) -> Result<()> {
        let worker = self.worker(self.stacks()?);
        tokio::spawn(async move {
            worker.deferred(worker.run(pp, record, step)).await;
        });
        Ok(())
    }
}

/// `SearchQuery` terms: `field:value` (exact, case-insensitive) or free text matched
/// against the name, id and status.
fn matches_query(v: &Value, query: &str) -> bool {
    let q = query.to_lowercase();
    if let Some((field, value)) = q.split_once(':') {
        let key = match field {
            "name" => "Name",
            "id" => "Id",
            "status" => "Status",
            "productid" => "ProductId",
            "provisioningartifactid" => "ProvisioningArtifactId",
            "arn" => "Arn",
            "type" => "Type",
            _ => return false,
        };
        return v[key].as_str().is_some_and(|s| s.to_lowercase() == value);
    }
    ["Name", "Id", "Status"].iter().any(|k| {
        v[*k]
            .as_str()
            .is_some_and(|s| s.to_lowercase().contains(&q))
    })
}

#[derive(Clone)]
struct WorkerParts {
    store: Arc<dyn sagestack_store::Store>,
    clock: Arc<dyn sagestack_engine::Clock>,
}

/// Runs one checked step on the stack and settles the provisioned product and record.
#[derive(Clone)]
struct Worker {
    service: WorkerParts,
    cfn: Arc<CloudFormationService>,
}

impl Worker {
    /// Runs `operation` with its steps' flushes deferred and flushes once at its end
    /// (`sagestack_engine::durability`), as project provisioning does.
    async fn deferred<T>(&self, operation: impl std::future::Future<Output = T>) -> T {
        let out = sagestack_engine::durability::deferred(operation).await;
        if let Err(e) = self.cfn.flush().await {
            tracing::error!("flushing a finished provisioned product operation: {e}");
        }
        out
    }

    async fn run(&self, pp: ProvisionedProduct, record: Record, step: Step) -> Record {
        let outcome = self.drive(&pp, &record, step).await;
        match self.settle(&pp, record.clone(), outcome).await {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(record = %record.record_id, "cannot settle the record: {e}");
                let mut r = record;
                r.status = record_status::FAILED.into();
                r.record_errors.push(RecordError {
                    code: "InternalFailure".into(),
                    description: e.to_string(),
                });
                r
            }
        }
    }

    /// Finishes an operation whose task died with the previous process.
    async fn resume(&self, pp: ProvisionedProduct, record: Record) -> Record {
        const INTERRUPTED: &str =
            "The operation was interrupted by a server restart before its stack operation started.";
        let target = pp.stack_id.clone().unwrap_or_else(|| pp.stack_name.clone());
        let stack = match self.cfn.describe_stack(&target).await {
            Ok(s) => Some(self.cfn.wait_for_terminal(&s.stack_id).await.unwrap_or(s)),
            Err(_) => None,
        };
        let outcome = match (record.record_type.as_str(), stack) {
            (record_type::TERMINATE, None) => Outcome::Deleted,
            (record_type::TERMINATE, Some(s)) if s.status == StackStatus::DeleteComplete => {
                Outcome::Deleted
            }
            (record_type::TERMINATE, Some(_)) => {
                self.drive(
                    &pp,
                    &record,
                    Step::Terminate {
                        ignore_errors: false,
                    },
                )
                .await
            }
            (record_type::PROVISION, Some(s)) if s.status == StackStatus::CreateComplete => {
                Outcome::Succeeded(s)
            }
            (record_type::UPDATE, Some(s))
                if s.status == StackStatus::UpdateComplete
                    && self.artifact_body(&record).await.as_deref()
                        == Some(s.template.body.as_str()) =>
            {
                Outcome::Succeeded(s)
            }
            (kind, Some(s)) => {
                let finished = s.status != StackStatus::CreateComplete
                    && s.status != StackStatus::UpdateComplete;
                let reason = if finished {
                    failure_reason(&self.cfn, &s).await
                } else {
                    INTERRUPTED.to_string()
                };
                Outcome::Failed {
                    rolled_back: kind == record_type::UPDATE && s.status.is_updatable(),
                    stack: Some(s),
                    reason,
                }
            }
            (_, None) => Outcome::Failed {
                stack: None,
                reason: INTERRUPTED.into(),
                rolled_back: false,
            },
        };
        match self.settle(&pp, record.clone(), outcome).await {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(record = %record.record_id, "cannot settle the record: {e}");
                record
            }
        }
    }

    /// The template of the artifact a record launches.
    async fn artifact_body(&self, record: &Record) -> Option<String> {
        let r = self
            .service
            .store
            .catalog_get(CatalogKind::Product, &record.product_id)
            .await
            .ok()??;
        let product: crate::model::Product = crate::service::parse(&r).ok()?;
        product
            .artifact(&record.provisioning_artifact_id)
            .map(|a| a.template_body.clone())
    }

    async fn drive(&self, pp: &ProvisionedProduct, record: &Record, step: Step) -> Outcome {
        match step {
            Step::Create {
                template,
                parameters,
                tags,
            } => {
                let input = CreateStackInput {
                    stack_name: pp.stack_name.clone(),
                    template_body: template,
                    parameters,
                    capabilities: CAPABILITIES.iter().map(|c| c.to_string()).collect(),
                    tags,
                    disable_rollback: false,
                    ..Default::default()
                };
                match self.cfn.create_stack_and_wait(input).await {
                    Ok(stack) if stack.status == StackStatus::CreateComplete => {
                        Outcome::Succeeded(stack)
                    }
                    Ok(stack) => {
                        let reason = failure_reason(&self.cfn, &stack).await;
                        Outcome::Failed {
                            stack: Some(stack),
                            reason,
                            rolled_back: false,
                        }
                    }
                    Err(e) => Outcome::Failed {
                        stack: None,
                        reason: e.to_string(),
                        rolled_back: false,
                    },
                }
            }
            Step::Update {
                template,
                parameters,
                tags,
                prior_status,
                prior_message,
            } => {
                let mut input = UpdateStackInput {
                    stack_name: pp.stack_id.clone().unwrap_or_else(|| pp.stack_name.clone()),
                    template_body: Some(template),
                    parameters,
                    ..Default::default()
                };
                input.capabilities = CAPABILITIES.iter().map(|c| c.to_string()).collect();
                input.tags = tags;
                match self.cfn.update_stack_and_wait(input).await {
                    Ok(stack) if stack.status == StackStatus::UpdateComplete => {
                        Outcome::Succeeded(stack)
                    }
                    Ok(stack) => {
                        let reason = failure_reason(&self.cfn, &stack).await;
                        let rolled_back = stack.status == StackStatus::UpdateRollbackComplete;
                        Outcome::Failed {
                            stack: Some(stack),
                            reason,
                            rolled_back,
                        }
                    }
                    Err(EngineError::NoUpdates) => {
                        match self.cfn.describe_stack(&pp.stack_name).await {
                            Ok(stack) => Outcome::Succeeded(stack),
                            Err(e) => Outcome::Failed {
                                stack: None,
                                reason: e.to_string(),
                                rolled_back: true,
                            },
                        }
                    }
                    Err(e) => Outcome::Refused {
                        reason: e.to_string(),
                        prior_status,
                        prior_message,
                    },
                }
            }
            Step::Terminate { ignore_errors } => {
                let target = pp.stack_id.clone().unwrap_or_else(|| pp.stack_name.clone());
                let result = if pp.stack_id.is_none() {
                    // The launch never created a stack: nothing to delete.
                    Ok(None)
                } else {
                    self.cfn.delete_stack_and_wait(&target).await
                };
                let _ = record;
                match result {
                    Ok(None) => Outcome::Deleted,
                    Ok(Some(stack)) if stack.status == StackStatus::DeleteComplete => {
                        Outcome::Deleted
                    }
                    Ok(Some(stack)) if ignore_errors => {
                        tracing::warn!(stack = %stack.stack_id, "terminating despite {}", stack.status);
                        Outcome::Deleted
                    }
                    Ok(Some(stack)) => {
                        let reason = failure_reason(&self.cfn, &stack).await;
                        Outcome::Failed {
                            stack: Some(stack),
                            reason,
                            rolled_back: false,
                        }
                    }
                    Err(_) if ignore_errors => Outcome::Deleted,
                    Err(e) => Outcome::Failed {
                        stack: None,
                        reason: e.to_string(),
                        rolled_back: false,
                    },
                }
            }
        }
    }

    async fn settle(
        &self,
        pp: &ProvisionedProduct,
        mut record: Record,
        outcome: Outcome,
    ) -> Result<Record> {
        let store = &self.service.store;
        record.updated_time = seconds(self.service.clock.now());
        let mut delete_pp = false;
        match &outcome {
            Outcome::Succeeded(stack) => {
                record.status = record_status::SUCCEEDED.into();
                record.record_outputs = stack
                    .outputs
                    .iter()
                    .map(|o| RecordOutput {
                        output_key: o.key.clone(),
                        output_value: o.value.clone(),
                        description: o.description.clone(),
                    })
                    .collect();
                record.record_outputs.push(RecordOutput {
                    output_key: "CloudformationStackARN".into(),
                    output_value: stack.stack_id.clone(),
                    description: Some("The ARN of the launched Cloudformation Stack".into()),
                });
            }
            Outcome::Deleted => {
                record.status = record_status::SUCCEEDED.into();
                delete_pp = true;
            }
            Outcome::Failed { reason, .. } | Outcome::Refused { reason, .. } => {
                record.status = record_status::FAILED.into();
                record.record_errors.push(RecordError {
                    code: "CFN_STACK_FAILURE".into(),
                    description: reason.clone(),
                });
            }
        }
        // The provisioned product first: a client that sees the record settled must see
        // the product settled too.
        if delete_pp {
            store
                .catalog_delete(CatalogKind::ProvisionedProduct, &pp.id)
                .await?;
        } else {
            let record_id = record.record_id.clone();
            let record_type = record.record_type.clone();
            let artifact = record.provisioning_artifact_id.clone();
            let path = record.path_id.clone();
            let update_params = match &outcome {
                Outcome::Succeeded(stack) => Some(stack.template.parameters.clone()),
                _ => None,
            };
            modify_pp(store.as_ref(), &pp.id, |p| {
                if p.last_record_id != record_id {
                    return; // A newer operation owns it.
                }
                match &outcome {
                    Outcome::Succeeded(stack) => {
                        p.status = status::AVAILABLE.into();
                        p.status_message = None;
                        p.stack_id = Some(stack.stack_id.clone());
                        p.provisioning_artifact_id = artifact.clone();
                        p.path_id = path.clone();
                        if let Some(params) = &update_params {
                            p.parameters = params.clone();
                        }
                        if record_type != record_type::TERMINATE {
                            p.last_successful_provisioning_record_id = Some(record_id.clone());
                        }
                    }
                    Outcome::Failed {
                        stack,
                        reason,
                        rolled_back,
                    } => {
                        if let Some(s) = stack
                            && record_type == record_type::PROVISION
                            && s.status != StackStatus::DeleteComplete
                        {
                            p.stack_id = Some(s.stack_id.clone());
                        }
                        p.status = if *rolled_back {
                            status::TAINTED.into()
                        } else {
                            status::ERROR.into()
                        };
                        p.status_message = Some(reason.clone());
                    }
                    Outcome::Refused {
                        prior_status,
                        prior_message,
                        ..
                    } => {
                        p.status = prior_status.clone();
                        p.status_message = prior_message.clone();
                    }
                    Outcome::Deleted => {}
                }
            })
            .await?;
        }
        let document: Arc<str> =
            Arc::from(serde_json::to_string(&record).map_err(crate::service::internal)?);
        for _ in 0..16 {
            let Some(current) = store
                .catalog_get(CatalogKind::Record, &record.record_id)
                .await?
            else {
                break;
            };
            let next = sagestack_store::CatalogRecord {
                version: current.version + 1,
                document: document.clone(),
                ..current.clone()
            };
            match store
                .catalog_update(CatalogKind::Record, &next, current.version)
                .await
            {
                Err(StoreError::Conflict) => continue,
                other => {
                    other?;
                    break;
                }
            }
        }
        Ok(record)
    }
}

async fn modify_pp(
    store: &dyn sagestack_store::Store,
    id: &str,
    change: impl Fn(&mut ProvisionedProduct),
) -> Result<()> {
    for _ in 0..16 {
        let Some(r) = store
            .catalog_get(CatalogKind::ProvisionedProduct, id)
            .await?
        else {
            return Ok(());
        };
        let mut pp: ProvisionedProduct = crate::service::parse(&r)?;
        change(&mut pp);
        let next = sagestack_store::CatalogRecord {
            version: r.version + 1,
            document: Arc::from(serde_json::to_string(&pp).map_err(crate::service::internal)?),
            ..r.clone()
        };
        match store
            .catalog_update(CatalogKind::ProvisionedProduct, &next, r.version)
            .await
        {
            Ok(()) => return Ok(()),
            Err(StoreError::Conflict) => continue,
            Err(StoreError::NotFound) => return Ok(()),
            Err(e) => return Err(e.into()),
        }
    }
    Err(ScError::Internal(format!(
        "provisioned product {id} is being changed concurrently"
    )))
}

enum Outcome {
    Succeeded(StackRecord),
    /// The stack refused the operation and is unchanged.
    Refused {
        reason: String,
        prior_status: String,
        prior_message: Option<String>,
    },
    Deleted,
    Failed {
        stack: Option<StackRecord>,
        reason: String,
        /// The stack is back where it was (an update rolled back): `TAINTED`.
        rolled_back: bool,
    },
}
