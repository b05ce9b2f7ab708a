//! Checking and storing an operation before its stack runs: resolving the product,
//! artifact and launch path, binding the parameters as CloudFormation will, storing the
//! `IN_PROGRESS` record and claiming the provisioned product (`UNDER_CHANGE`).
//!
//! Everything that can be refused is refused here, before anything is stored; what is
//! stored is undone when the claim fails. This file never touches a stack beyond asking
//! CloudFormation to plan one.

use std::collections::BTreeMap;

use sagestack_store::{CatalogKind, StoreError};

use super::{
    LaunchRequest, Prepared, ProvisionedProducts, Selection, Step, UpdateRequest, pp_not_found,
};
use crate::catalog::Result;
use crate::catalog::artifacts::{declared_parameters, named_artifact};
use crate::catalog::seconds;
use crate::error::ScError;
use crate::model::{
    Artifact, Product, ProvisionedProduct, Record, Tag, new_id, record_status, record_type, status,
};

/// What a launch runs: the product, its artifact and the launch path's id.
type Resolved = (Product, Artifact, String);

/// The stack's tags: the provisioned product's. AWS also adds reserved
/// `aws:servicecatalog:*` tags; they are left out because stack tags propagate to every
/// taggable resource and this server's native providers (like AWS's APIs for callers)
/// refuse `aws:` keys, which would fail every launch with such a resource.
fn stack_tags(tags: &[Tag]) -> Vec<(String, String)> {
    tags.iter()
        .map(|t| (t.key.clone(), t.value.clone()))
        .collect()
}

fn duplicate_name(name: &str) -> ScError {
    ScError::DuplicateResource(format!(
        "A provisioned product with the name {name} already exists."
    ))
}

/// A new `IN_PROGRESS` record of `kind` on `pp`, launching what `pp` names.
fn new_record(
    record_id: &str,
    kind: &str,
    now: f64,
    pp: &ProvisionedProduct,
    tags: Vec<Tag>,
) -> Record {
    Record {
        record_id: record_id.to_string(),
        record_type: kind.into(),
        status: record_status::IN_PROGRESS.into(),
        created_time: now,
        updated_time: now,
        provisioned_product_id: pp.id.clone(),
        provisioned_product_name: pp.name.clone(),
        product_id: pp.product_id.clone(),
        provisioning_artifact_id: pp.provisioning_artifact_id.clone(),
        path_id: pp.path_id.clone(),
        record_errors: Vec::new(),
        record_outputs: Vec::new(),
        record_tags: tags,
    }
}

impl ProvisionedProducts {
    /// Resolves product, artifact and launch path; the artifact must be active.
    async fn resolve(&self, s: &Selection) -> Result<Resolved> {
        let product = self
            .catalog
            .product_by(s.product_id.as_deref(), s.product_name.as_deref())
            .await?;
        let artifact = match named_artifact(
            &product,
            s.artifact_id.as_deref(),
            s.artifact_name.as_deref(),
        ) {
            Some(found) => found?.clone(),
            None => product.latest_active().cloned().ok_or_else(|| {
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
        let paths = self.catalog.launch_paths(&product.id).await?;
        let found = match (&s.path_id, &s.path_name) {
            (Some(id), _) => paths.iter().find(|p| &p.id == id),
            (None, Some(name)) => paths.iter().find(|p| &p.portfolio.display_name == name),
            (None, None) => match paths.as_slice() {
                [] => {
                    return Err(ScError::ResourceNotFound(format!(
                        "No launch paths found for resource: {}",
                        product.id
                    )));
                }
                [only] => Some(only),
                _ => {
                    return Err(ScError::InvalidParameters(format!(
                        "Product {} has {} launch paths; specify one with PathId.",
                        product.id,
                        paths.len()
                    )));
                }
            },
        };
        let path_id = found.map(|p| p.id.clone()).ok_or_else(|| {
            ScError::ResourceNotFound(format!(
                "Launch path {} not found for product {}.",
                s.path_id
                    .as_ref()
                    .or(s.path_name.as_ref())
                    .map_or("", |n| n),
                product.id
            ))
        })?;
        Ok((product, artifact, path_id))
    }

    /// Checks `parameters` against the template as CloudFormation will bind them.
    fn check_parameters(
        &self,
        stack_name: &str,
        template: &str,
        parameters: &BTreeMap<String, String>,
    ) -> Result<()> {
        self.cfn
            .plan(stack_name, template, parameters)
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

    pub(super) async fn prepare_provision(&self, req: LaunchRequest) -> Result<Prepared> {
        let catalog = &self.catalog;
        if catalog
            .store
            .catalog_get_by_name(
                CatalogKind::ProvisionedProduct,
                &req.provisioned_product_name,
            )
            .await?
            .is_some()
        {
            return Err(duplicate_name(&req.provisioned_product_name));
        }
        let (product, artifact, path_id) = self.resolve(&req.selection).await?;
        let mut parameters = BTreeMap::new();
        for (k, v) in &req.parameters {
            if parameters.insert(k.clone(), v.clone()).is_some() {
                return Err(ScError::InvalidParameters(format!(
                    "Provisioning parameter {k} is given more than once."
                )));
            }
        }
        let id = new_id("pp-");
        let stack_name = catalog.scope.stack_name(&id);
        self.check_parameters(&stack_name, &artifact.template_body, &parameters)?;
        let now = seconds(catalog.clock.now());
        let record_id = new_id("rec-");
        let pp = ProvisionedProduct {
            arn: catalog
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
            path_id,
            stack_name,
            stack_id: None,
            parameters: parameters.clone(),
            tags: req.tags.clone(),
            last_record_id: record_id.clone(),
            last_provisioning_record_id: record_id.clone(),
            last_successful_provisioning_record_id: None,
            user_arn: req.user_arn.clone(),
        };
        let record = new_record(
            &record_id,
            record_type::PROVISION,
            now,
            &pp,
            req.tags.clone(),
        );
        catalog
            .insert(CatalogKind::Record, &record_id, None, &record)
            .await?;
        // The store's unique name index decides between two launches of the same name.
        let stored = catalog.new_record(&id, Some(&pp.name), &pp)?;
        match catalog
            .store
            .catalog_insert(CatalogKind::ProvisionedProduct, &stored)
            .await
        {
            Ok(()) => {}
            Err(StoreError::AlreadyExists) => {
                let _ = catalog
                    .store
                    .catalog_delete(CatalogKind::Record, &record_id)
                    .await;
                return Err(duplicate_name(&pp.name));
            }
            Err(e) => return Err(e.into()),
        }
        let step = Step::Create {
            template: artifact.template_body,
            tags: stack_tags(&req.tags),
            parameters,
        };
        Ok((record, pp, step))
    }

    pub(super) async fn prepare_update(&self, req: UpdateRequest) -> Result<Prepared> {
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
        let wanted = &req.selection;
        if let Some(p) = &wanted.product_id
            && *p != current.product_id
        {
            return Err(ScError::InvalidParameters(format!(
                "Provisioned product {} was launched from product {}, not {p}.",
                current.id, current.product_id
            )));
        }
        // The product cannot change; the artifact and the path are kept unless named.
        let mut selection = Selection {
            product_id: Some(current.product_id.clone()),
            product_name: None,
            ..wanted.clone()
        };
        if wanted.artifact_id.is_none() && wanted.artifact_name.is_none() {
            selection.artifact_id = Some(current.provisioning_artifact_id.clone());
        }
        if wanted.path_id.is_none() && wanted.path_name.is_none() {
            selection.path_id = Some(current.path_id.clone());
        }
        let (_, artifact, path_id) = self.resolve(&selection).await?;
        let declared = declared_parameters(&artifact.template_body);
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
        let now = seconds(self.catalog.clock.now());
        let record_id = new_id("rec-");
        let tags = req.tags.clone().unwrap_or_else(|| current.tags.clone());
        let mut record = new_record(&record_id, record_type::UPDATE, now, &current, tags);
        record.provisioning_artifact_id = artifact.id.clone();
        record.path_id = path_id;
        let pp = self.store_and_claim(&record, true).await?;
        let step = Step::Update {
            prior_status: current.status.clone(),
            prior_message: current.status_message.clone(),
            template: artifact.template_body,
            parameters,
            tags: req.tags.as_deref().map(stack_tags),
        };
        Ok((record, pp, step))
    }

    pub(super) async fn prepare_terminate(
        &self,
        id: &str,
        ignore_errors: bool,
    ) -> Result<Prepared> {
        let current = self.provisioned(id).await?;
        let now = seconds(self.catalog.clock.now());
        let record_id = new_id("rec-");
        let record = new_record(
            &record_id,
            record_type::TERMINATE,
            now,
            &current,
            current.tags.clone(),
        );
        let pp = self.store_and_claim(&record, false).await?;
        Ok((record, pp, Step::Terminate { ignore_errors }))
    }

    /// Stores the record and claims its provisioned product for it, deleting the record
    /// again when the claim is refused.
    async fn store_and_claim(
        &self,
        record: &Record,
        provisioning: bool,
    ) -> Result<ProvisionedProduct> {
        let record_id = &record.record_id;
        self.catalog
            .insert(CatalogKind::Record, record_id, None, record)
            .await?;
        match self
            .claim(&record.provisioned_product_id, record_id, provisioning)
            .await
        {
            Ok(pp) => Ok(pp),
            Err(e) => {
                let _ = self
                    .catalog
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
        self.catalog
            .modify(
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
}
