//! Native resource providers: a product-publishing stack's portfolios, products and
//! associations are real Service Catalog objects of this server, readable and launchable
//! through the Service Catalog API and usable by SageMaker projects.
//!
//! * `AWS::ServiceCatalog::Portfolio`: `Ref` is the portfolio id; `Fn::GetAtt` reads
//!   `PortfolioName`. Every property is updated in place.
//! * `AWS::ServiceCatalog::CloudFormationProduct`: `Ref` is the product id; `Fn::GetAtt`
//!   reads `ProductName`, `ProvisioningArtifactIds` and `ProvisioningArtifactNames`
//!   (comma-separated, oldest first). Artifacts are matched by `Name`: on update, a listed
//!   artifact whose name the product does not have yet is created (its template read and
//!   validated then); with `ReplaceProvisioningArtifacts: true`, artifacts no longer
//!   listed are deleted. Templates are never re-read for an existing artifact name.
//! * `AWS::ServiceCatalog::PortfolioProductAssociation`: the physical id is
//!   `{portfolio id}|{product id}`; both ids are create-only.
//!
//! After a crash in the middle of a create, the engine asks each provider for what the
//! create made (`find_interrupted_create`): the newest portfolio / product with the
//! resource's names created since the create started, or the association's pair.
//!
//! Stack tags are propagated to portfolios and products, except the reserved `aws:` ones.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use sagestack_engine::{ProviderError, ResourceContext, ResourceProvider, ResourceState, TypeInfo};
use serde_json::{Map, Value};

use crate::error::ScError;
use crate::model::{Portfolio, Product, Tag};
use crate::service::{
    ArtifactInput, CreatePortfolioInput, CreateProductInput, ServiceCatalogService,
};

pub const PORTFOLIO_TYPE: &str = "AWS::ServiceCatalog::Portfolio";
pub const PRODUCT_TYPE: &str = "AWS::ServiceCatalog::CloudFormationProduct";
pub const ASSOCIATION_TYPE: &str = "AWS::ServiceCatalog::PortfolioProductAssociation";

fn text(properties: &Value, key: &str) -> Option<String> {
    match properties.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn flag(properties: &Value, key: &str) -> bool {
    match properties.get(key) {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        _ => false,
    }
}

fn required(ctx: &ResourceContext, properties: &Value, key: &str) -> Result<String, ProviderError> {
    text(properties, key).ok_or_else(|| {
        ProviderError::InvalidRequest(format!(
            "Properties validation failed for resource {} with message: #: required key [{key}] not found",
            ctx.logical_id
        ))
    })
}

/// The resource's `Tags` plus the stack's (resource tags win; `aws:` keys dropped).
fn tags(ctx: &ResourceContext, properties: &Value) -> Vec<Tag> {
    let mut out: Vec<Tag> = match properties.get("Tags") {
        Some(Value::Array(list)) => list
            .iter()
            .filter_map(|t| {
                Some(Tag {
                    key: text(t, "Key")?,
                    value: text(t, "Value").unwrap_or_default(),
                })
            })
            .collect(),
        _ => Vec::new(),
    };
    for (k, v) in &ctx.stack_tags {
        if !k.starts_with("aws:") && !out.iter().any(|t| &t.key == k) {
            out.push(Tag {
                key: k.clone(),
                value: v.clone(),
            });
        }
    }
    out
}

fn provider_error(type_name: &str, id: &str, e: ScError) -> ProviderError {
    match e {
        ScError::ResourceNotFound(_) => ProviderError::NotFound(format!(
            "Resource of type '{type_name}' with identifier '{id}' was not found."
        )),
        ScError::ResourceInUse(m) | ScError::InvalidState(m) => ProviderError::Conflict(m),
        ScError::Internal(m) => ProviderError::Internal(m),
        other => ProviderError::InvalidRequest(other.to_string()),
    }
}

/// A delete's outcome as the engine takes it: something already gone is deleted.
fn deleted(r: Result<(), ScError>, type_name: &str, id: &str) -> Result<(), ProviderError> {
    match r {
        Ok(()) | Err(ScError::ResourceNotFound(_)) => Ok(()),
        Err(e) => Err(provider_error(type_name, id, e)),
    }
}

/// A read's outcome as the engine takes it: something gone is `None`.
fn read_back<T>(
    r: Result<T, ScError>,
    state: impl FnOnce(&T) -> ResourceState,
    type_name: &str,
    id: &str,
) -> Result<Option<ResourceState>, ProviderError> {
    match r {
        Ok(v) => Ok(Some(state(&v))),
        Err(ScError::ResourceNotFound(_)) => Ok(None),
        Err(e) => Err(provider_error(type_name, id, e)),
    }
}

fn portfolio_state(p: &Portfolio) -> ResourceState {
    let mut attributes = Map::new();
    attributes.insert("PortfolioName".into(), p.display_name.clone().into());
    attributes.insert("Id".into(), p.id.clone().into());
    ResourceState {
        physical_id: p.id.clone(),
        attributes,
    }
}

fn product_state(p: &Product) -> ResourceState {
    let mut attributes = Map::new();
    attributes.insert("ProductName".into(), p.name.clone().into());
    attributes.insert("Id".into(), p.id.clone().into());
    attributes.insert(
        "ProvisioningArtifactIds".into(),
        p.artifacts
            .iter()
            .map(|a| a.id.as_str())
            .collect::<Vec<_>>()
            .join(",")
            .into(),
    );
    attributes.insert(
        "ProvisioningArtifactNames".into(),
        p.artifacts
            .iter()
            .map(|a| a.name.as_str())
            .collect::<Vec<_>>()
            .join(",")
            .into(),
    );
    ResourceState {
        physical_id: p.id.clone(),
        attributes,
    }
}

/// `AWS::ServiceCatalog::Portfolio`.
pub struct PortfolioProvider {
    service: Arc<ServiceCatalogService>,
}

impl PortfolioProvider {
    pub fn new(service: Arc<ServiceCatalogService>) -> Self {
        PortfolioProvider { service }
    }
}

#[async_trait]
impl ResourceProvider for PortfolioProvider {
    fn type_info(&self, type_name: &str) -> Option<TypeInfo> {
        (type_name == PORTFOLIO_TYPE).then(|| TypeInfo {
            type_name: PORTFOLIO_TYPE.into(),
            create_only_properties: Vec::new(),
            attributes: vec!["PortfolioName".into(), "Id".into()],
            taggable: true,
        })
    }

    async fn create(
        &self,
        ctx: &ResourceContext,
        properties: &Value,
    ) -> Result<ResourceState, ProviderError> {
        let input = CreatePortfolioInput {
            display_name: required(ctx, properties, "DisplayName")?,
            provider_name: required(ctx, properties, "ProviderName")?,
            description: text(properties, "Description"),
            tags: Some(tags(ctx, properties)),
        };
        let p = self
            .service
            .create_portfolio(input)
            .await
            .map_err(|e| provider_error(PORTFOLIO_TYPE, &ctx.logical_id, e))?;
        Ok(portfolio_state(&p))
    }

    async fn update(
        &self,
        ctx: &ResourceContext,
        current: &ResourceState,
        _old_properties: &Value,
        new_properties: &Value,
    ) -> Result<ResourceState, ProviderError> {
        let display_name = required(ctx, new_properties, "DisplayName")?;
        let provider_name = required(ctx, new_properties, "ProviderName")?;
        let description = text(new_properties, "Description");
        let tags = tags(ctx, new_properties);
        let p = self
            .service
            .update_portfolio(&current.physical_id, |p| {
                p.display_name = display_name.clone();
                p.provider_name = provider_name.clone();
                p.description = description.clone();
                p.tags = tags.clone();
            })
            .await
            .map_err(|e| provider_error(PORTFOLIO_TYPE, &current.physical_id, e))?;
        Ok(portfolio_state(&p))
    }

    async fn find_interrupted_create(
        &self,
        _ctx: &ResourceContext,
        properties: &Value,
        started: i64,
    ) -> Result<Option<ResourceState>, ProviderError> {
        // The newest portfolio with these names created since the interrupted create
        // started (portfolio names are not unique, so the creation time decides).
        let (Some(name), Some(provider)) = (
            text(properties, "DisplayName"),
            text(properties, "ProviderName"),
        ) else {
            return Ok(None);
        };
        let since = started as f64 / 1000.0;
        let found = self
            .service
            .portfolios()
            .await
            .map_err(|e| provider_error(PORTFOLIO_TYPE, &name, e))?
            .into_iter()
            .rev()
            .find(|p| {
                p.display_name == name && p.provider_name == provider && p.created_time >= since
            });
        Ok(found.as_ref().map(portfolio_state))
    }

    async fn delete(
        &self,
        _ctx: &ResourceContext,
        current: &ResourceState,
        _properties: &Value,
    ) -> Result<(), ProviderError> {
        let id = &current.physical_id;
        deleted(self.service.delete_portfolio(id).await, PORTFOLIO_TYPE, id)
    }

    async fn read(
        &self,
        _ctx: &ResourceContext,
        current: &ResourceState,
        _properties: &Value,
    ) -> Result<Option<ResourceState>, ProviderError> {
        let id = &current.physical_id;
        read_back(
            self.service.portfolio(id).await,
            portfolio_state,
            PORTFOLIO_TYPE,
            id,
        )
    }
}

/// `AWS::ServiceCatalog::CloudFormationProduct`.
pub struct ProductProvider {
    service: Arc<ServiceCatalogService>,
}

impl ProductProvider {
    pub fn new(service: Arc<ServiceCatalogService>) -> Self {
        ProductProvider { service }
    }
}

fn artifact_inputs(
    ctx: &ResourceContext,
    properties: &Value,
) -> Result<Vec<ArtifactInput>, ProviderError> {
    let list = match properties.get("ProvisioningArtifactParameters") {
        Some(Value::Array(list)) if !list.is_empty() => list,
        _ => {
            return Err(ProviderError::InvalidRequest(format!(
                "Properties validation failed for resource {} with message: #: required key [ProvisioningArtifactParameters] not found",
                ctx.logical_id
            )));
        }
    };
    list.iter()
        .map(|a| {
            let info: BTreeMap<String, String> = match a.get("Info") {
                Some(Value::Object(m)) => m
                    .iter()
                    .map(|(k, v)| (k.clone(), v.as_str().map_or_else(|| v.to_string(), str::to_owned)))
                    .collect(),
                Some(Value::String(s)) => serde_json::from_str(s).map_err(|e| {
                    ProviderError::InvalidRequest(format!(
                        "Properties validation failed for resource {}: Info is not a JSON object: {e}",
                        ctx.logical_id
                    ))
                })?,
                _ => {
                    return Err(ProviderError::InvalidRequest(format!(
                        "Properties validation failed for resource {} with message: #/ProvisioningArtifactParameters: required key [Info] not found",
                        ctx.logical_id
                    )));
                }
            };
            Ok(ArtifactInput {
                name: text(a, "Name"),
                description: text(a, "Description"),
                info: Some(info),
                kind: text(a, "Type"),
                disable_template_validation: Some(flag(a, "DisableTemplateValidation")),
            })
        })
        .collect()
}

#[async_trait]
impl ResourceProvider for ProductProvider {
    fn type_info(&self, type_name: &str) -> Option<TypeInfo> {
        (type_name == PRODUCT_TYPE).then(|| TypeInfo {
            type_name: PRODUCT_TYPE.into(),
            create_only_properties: vec!["ProductType".into()],
            attributes: vec![
                "ProductName".into(),
                "Id".into(),
                "ProvisioningArtifactIds".into(),
                "ProvisioningArtifactNames".into(),
            ],
            taggable: true,
        })
    }

    async fn create(
        &self,
        ctx: &ResourceContext,
        properties: &Value,
    ) -> Result<ResourceState, ProviderError> {
        let artifacts = artifact_inputs(ctx, properties)?;
        let err = |e| provider_error(PRODUCT_TYPE, &ctx.logical_id, e);
        let mut rest = artifacts.into_iter();
        let first = rest.next();
        let p = self
            .service
            .create_product(CreateProductInput {
                name: required(ctx, properties, "Name")?,
                owner: required(ctx, properties, "Owner")?,
                description: text(properties, "Description"),
                distributor: text(properties, "Distributor"),
                support_description: text(properties, "SupportDescription"),
                support_email: text(properties, "SupportEmail"),
                support_url: text(properties, "SupportUrl"),
                product_type: text(properties, "ProductType")
                    .unwrap_or_else(|| "CLOUD_FORMATION_TEMPLATE".into()),
                tags: Some(tags(ctx, properties)),
                provisioning_artifact_parameters: first,
            })
            .await
            .map_err(err)?;
        for a in rest {
            if let Err(e) = self.service.create_artifact(&p.id, a).await {
                // Leave nothing behind: the resource failed as a whole.
                let _ = self.service.delete_product(&p.id).await;
                return Err(err(e));
            }
        }
        let p = self.service.product(&p.id).await.map_err(err)?;
        Ok(product_state(&p))
    }

    async fn update(
        &self,
        ctx: &ResourceContext,
        current: &ResourceState,
        _old_properties: &Value,
        new_properties: &Value,
    ) -> Result<ResourceState, ProviderError> {
        let id = current.physical_id.clone();
        let err = |e| provider_error(PRODUCT_TYPE, &id, e);
        let wanted = artifact_inputs(ctx, new_properties)?;
        let before = self.service.product(&id).await.map_err(err)?;
        let new_tags = tags(ctx, new_properties);
        let remove: Vec<String> = before
            .tags
            .iter()
            .filter(|t| !new_tags.iter().any(|n| n.key == t.key))
            .map(|t| t.key.clone())
            .collect();
        self.service
            .update_product(crate::service::UpdateProductInput {
                id: id.clone(),
                name: Some(required(ctx, new_properties, "Name")?),
                owner: Some(required(ctx, new_properties, "Owner")?),
                description: text(new_properties, "Description"),
                distributor: text(new_properties, "Distributor"),
                support_description: text(new_properties, "SupportDescription"),
                support_email: text(new_properties, "SupportEmail"),
                support_url: text(new_properties, "SupportUrl"),
                add_tags: Some(new_tags),
                remove_tags: Some(remove),
            })
            .await
            .map_err(err)?;
        let names: Vec<Option<String>> = wanted.iter().map(|a| a.name.clone()).collect();
        for a in wanted {
            let exists = a
                .name
                .as_ref()
                .is_some_and(|n| before.artifacts.iter().any(|b| &b.name == n));
            if !exists {
                self.service.create_artifact(&id, a).await.map_err(err)?;
            }
        }
        if flag(new_properties, "ReplaceProvisioningArtifacts") {
            for old in &before.artifacts {
                if !names
                    .iter()
                    .any(|n| n.as_deref() == Some(old.name.as_str()))
                {
                    self.service
                        .delete_artifact(&id, &old.id)
                        .await
                        .map_err(err)?;
                }
            }
        }
        let p = self.service.product(&id).await.map_err(err)?;
        Ok(product_state(&p))
    }

    async fn find_interrupted_create(
        &self,
        _ctx: &ResourceContext,
        properties: &Value,
        started: i64,
    ) -> Result<Option<ResourceState>, ProviderError> {
        // The newest product with this name and owner created since the interrupted
        // create started (product names are not unique, so the creation time decides).
        let (Some(name), Some(owner)) = (text(properties, "Name"), text(properties, "Owner"))
        else {
            return Ok(None);
        };
        let since = started as f64 / 1000.0;
        let found = self
            .service
            .products()
            .await
            .map_err(|e| provider_error(PRODUCT_TYPE, &name, e))?
            .into_iter()
            .rev()
            .find(|p| p.name == name && p.owner == owner && p.created_time >= since);
        Ok(found.as_ref().map(product_state))
    }

    async fn delete(
        &self,
        _ctx: &ResourceContext,
        current: &ResourceState,
        _properties: &Value,
    ) -> Result<(), ProviderError> {
        let id = &current.physical_id;
        deleted(self.service.delete_product(id).await, PRODUCT_TYPE, id)
    }

    async fn read(
        &self,
        _ctx: &ResourceContext,
        current: &ResourceState,
        _properties: &Value,
    ) -> Result<Option<ResourceState>, ProviderError> {
        let id = &current.physical_id;
        read_back(
            self.service.product(id).await,
            product_state,
            PRODUCT_TYPE,
            id,
        )
    }
}

/// `AWS::ServiceCatalog::PortfolioProductAssociation`.
pub struct AssociationProvider {
    service: Arc<ServiceCatalogService>,
}

impl AssociationProvider {
    pub fn new(service: Arc<ServiceCatalogService>) -> Self {
        AssociationProvider { service }
    }
}

fn split_association(physical_id: &str) -> Option<(&str, &str)> {
    physical_id.split_once('|')
}

#[async_trait]
impl ResourceProvider for AssociationProvider {
    fn type_info(&self, type_name: &str) -> Option<TypeInfo> {
        (type_name == ASSOCIATION_TYPE).then(|| TypeInfo {
            type_name: ASSOCIATION_TYPE.into(),
            create_only_properties: vec![
                "PortfolioId".into(),
                "ProductId".into(),
                "SourcePortfolioId".into(),
                "AcceptLanguage".into(),
            ],
            attributes: Vec::new(),
            taggable: false,
        })
    }

    async fn create(
        &self,
        ctx: &ResourceContext,
        properties: &Value,
    ) -> Result<ResourceState, ProviderError> {
        let portfolio = required(ctx, properties, "PortfolioId")?;
        let product = required(ctx, properties, "ProductId")?;
        let physical_id = format!("{portfolio}|{product}");
        self.service
            .associate(&portfolio, &product)
            .await
            .map_err(|e| provider_error(ASSOCIATION_TYPE, &physical_id, e))?;
        Ok(ResourceState {
            physical_id,
            attributes: Map::new(),
        })
    }

    async fn update(
        &self,
        _ctx: &ResourceContext,
        current: &ResourceState,
        _old_properties: &Value,
        _new_properties: &Value,
    ) -> Result<ResourceState, ProviderError> {
        // Every property is create-only: nothing changes in place.
        Ok(current.clone())
    }

    async fn find_interrupted_create(
        &self,
        ctx: &ResourceContext,
        properties: &Value,
        _started: i64,
    ) -> Result<Option<ResourceState>, ProviderError> {
        // An association is identified by its pair: if it exists, the create made it (a
        // second association of the same pair cannot exist).
        let (Some(portfolio), Some(product)) = (
            text(properties, "PortfolioId"),
            text(properties, "ProductId"),
        ) else {
            return Ok(None);
        };
        let current = ResourceState {
            physical_id: format!("{portfolio}|{product}"),
            attributes: Map::new(),
        };
        self.read(ctx, &current, properties).await
    }

    async fn delete(
        &self,
        _ctx: &ResourceContext,
        current: &ResourceState,
        _properties: &Value,
    ) -> Result<(), ProviderError> {
        let Some((portfolio, product)) = split_association(&current.physical_id) else {
            return Ok(());
        };
        let result = self.service.disassociate(portfolio, product).await;
        deleted(result, ASSOCIATION_TYPE, &current.physical_id)
    }

    async fn read(
        &self,
        _ctx: &ResourceContext,
        current: &ResourceState,
        _properties: &Value,
    ) -> Result<Option<ResourceState>, ProviderError> {
        let Some((portfolio, product)) = split_association(&current.physical_id) else {
            return Ok(None);
        };
        let held = self
            .service
            .launch_paths(product)
            .await
            .map_err(|e| provider_error(ASSOCIATION_TYPE, &current.physical_id, e))?
            .iter()
            .any(|l| l.portfolio.id == portfolio);
        Ok(held.then(|| current.clone()))
    }
}

/// `(resource type, provider)` for every type this crate serves.
pub fn providers(service: Arc<ServiceCatalogService>) -> Vec<(String, Arc<dyn ResourceProvider>)> {
    vec![
        (
            PORTFOLIO_TYPE.to_string(),
            Arc::new(PortfolioProvider::new(service.clone())) as Arc<dyn ResourceProvider>,
        ),
        (
            PRODUCT_TYPE.to_string(),
            Arc::new(ProductProvider::new(service.clone())),
        ),
        (
            ASSOCIATION_TYPE.to_string(),
            Arc::new(AssociationProvider::new(service)),
        ),
    ]
}
