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
//!
//! The providers hold the [`Catalog`] only: they are built before the CloudFormation
//! service (which is built with them), so they must never reach the provisioned
//! products or the API. Portfolios and products are one generic provider
//! ([`CatalogProvider`]) over what differs between them ([`CatalogObject`]).

use std::collections::BTreeMap;
use std::marker::PhantomData;
use std::sync::Arc;

use async_trait::async_trait;
use sagestack_engine::{ProviderError, ResourceContext, ResourceProvider, ResourceState, TypeInfo};
use sagestack_store::CatalogKind;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::catalog::{
    ArtifactInput, Catalog, CreatePortfolioInput, CreateProductInput, UpdateProductInput,
    portfolio_not_found, product_not_found,
};
use crate::error::ScError;
use crate::model::{Portfolio, Product, Tag};

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

/// What differs between the portfolio and the product providers; everything else is
/// [`CatalogProvider`]'s.
#[async_trait]
pub trait CatalogObject: Send + Sync + 'static {
    type Object: Send + Sync + DeserializeOwned;
    const TYPE: &'static str;
    /// Where the objects are stored, and the error for an id that is not there.
    const KIND: CatalogKind;
    const NOT_FOUND: fn(&str) -> ScError;
    const CREATE_ONLY: &'static [&'static str];
    const ATTRIBUTES: &'static [&'static str];
    async fn create(
        catalog: &Catalog,
        ctx: &ResourceContext,
        properties: &Value,
    ) -> Result<Self::Object, ProviderError>;
    async fn update(
        catalog: &Catalog,
        ctx: &ResourceContext,
        id: &str,
        properties: &Value,
    ) -> Result<Self::Object, ProviderError>;
    async fn remove(catalog: &Catalog, id: &str) -> Result<(), ScError>;
    /// The two properties that name an object (together, not uniquely).
    const NAMES: [&'static str; 2];
    fn identity(object: &Self::Object) -> Identity<'_>;
    /// The `Fn::GetAtt` attributes besides `Id`.
    fn attributes(object: &Self::Object, attributes: &mut Map<String, Value>);
}

/// Who an object is: its id, its values of [`CatalogObject::NAMES`] and when it was
/// created.
pub struct Identity<'a> {
    pub id: &'a str,
    pub names: [&'a str; 2],
    pub created: f64,
}

/// The engine's view of an object: its id as the physical id, its attributes.
fn state<K: CatalogObject>(object: &K::Object) -> ResourceState {
    let id = K::identity(object).id.to_string();
    let mut attributes = Map::new();
    K::attributes(object, &mut attributes);
    attributes.insert("Id".into(), id.clone().into());
    ResourceState {
        physical_id: id,
        attributes,
    }
}

/// The resource provider of a [`CatalogObject`] kind.
pub struct CatalogProvider<K> {
    catalog: Arc<Catalog>,
    kind: PhantomData<K>,
}

impl<K> CatalogProvider<K> {
    pub fn new(catalog: Arc<Catalog>) -> Self {
        CatalogProvider {
            catalog,
            kind: PhantomData,
        }
    }
}

/// `AWS::ServiceCatalog::Portfolio`.
pub type PortfolioProvider = CatalogProvider<Portfolios>;
/// `AWS::ServiceCatalog::CloudFormationProduct`.
pub type ProductProvider = CatalogProvider<Products>;

#[async_trait]
impl<K: CatalogObject> ResourceProvider for CatalogProvider<K> {
    fn type_info(&self, type_name: &str) -> Option<TypeInfo> {
        (type_name == K::TYPE).then(|| TypeInfo {
            type_name: K::TYPE.into(),
            create_only_properties: K::CREATE_ONLY.iter().map(|p| p.to_string()).collect(),
            attributes: K::ATTRIBUTES.iter().map(|a| a.to_string()).collect(),
            taggable: true,
        })
    }

    async fn create(
        &self,
        ctx: &ResourceContext,
        properties: &Value,
    ) -> Result<ResourceState, ProviderError> {
        Ok(state::<K>(
            &K::create(&self.catalog, ctx, properties).await?,
        ))
    }

    async fn update(
        &self,
        ctx: &ResourceContext,
        current: &ResourceState,
        _old_properties: &Value,
        new_properties: &Value,
    ) -> Result<ResourceState, ProviderError> {
        let object = K::update(&self.catalog, ctx, &current.physical_id, new_properties).await?;
        Ok(state::<K>(&object))
    }

    async fn find_interrupted_create(
        &self,
        _ctx: &ResourceContext,
        properties: &Value,
        started: i64,
    ) -> Result<Option<ResourceState>, ProviderError> {
        // The newest object with these names created since the interrupted create
        // started (the names are not unique, so the creation time decides).
        let [first, second] = K::NAMES.map(|key| text(properties, key));
        let (Some(first), Some(second)) = (first, second) else {
            return Ok(None);
        };
        let since = started as f64 / 1000.0;
        let found = self
            .catalog
            .all::<K::Object>(K::KIND)
            .await
            .map_err(|e| provider_error(K::TYPE, &first, e))?
            .into_iter()
            .rev()
            .find(|o| {
                let who = K::identity(o);
                who.names == [first.as_str(), second.as_str()] && who.created >= since
            });
        Ok(found.as_ref().map(state::<K>))
    }

    async fn delete(
        &self,
        _ctx: &ResourceContext,
        current: &ResourceState,
        _properties: &Value,
    ) -> Result<(), ProviderError> {
        let id = &current.physical_id;
        deleted(K::remove(&self.catalog, id).await, K::TYPE, id)
    }

    async fn read(
        &self,
        _ctx: &ResourceContext,
        current: &ResourceState,
        _properties: &Value,
    ) -> Result<Option<ResourceState>, ProviderError> {
        let id = &current.physical_id;
        let object = self.catalog.get(K::KIND, id, K::NOT_FOUND).await;
        read_back(object, state::<K>, K::TYPE, id)
    }
}

/// `AWS::ServiceCatalog::Portfolio`: every property is updated in place.
pub struct Portfolios;

#[async_trait]
impl CatalogObject for Portfolios {
    type Object = Portfolio;
    const TYPE: &'static str = PORTFOLIO_TYPE;
    const KIND: CatalogKind = CatalogKind::Portfolio;
    const NAMES: [&'static str; 2] = ["DisplayName", "ProviderName"];
    const NOT_FOUND: fn(&str) -> ScError = portfolio_not_found;
    const CREATE_ONLY: &'static [&'static str] = &[];
    const ATTRIBUTES: &'static [&'static str] = &["PortfolioName", "Id"];

    fn identity(p: &Portfolio) -> Identity<'_> {
        Identity {
            id: &p.id,
            names: [&p.display_name, &p.provider_name],
            created: p.created_time,
        }
    }

    fn attributes(p: &Portfolio, attributes: &mut Map<String, Value>) {
        attributes.insert("PortfolioName".into(), p.display_name.clone().into());
    }

    async fn create(
        catalog: &Catalog,
        ctx: &ResourceContext,
        properties: &Value,
    ) -> Result<Portfolio, ProviderError> {
        let input = CreatePortfolioInput {
            display_name: required(ctx, properties, "DisplayName")?,
            provider_name: required(ctx, properties, "ProviderName")?,
            description: text(properties, "Description"),
            tags: Some(tags(ctx, properties)),
        };
        catalog
            .create_portfolio(input)
            .await
            .map_err(|e| provider_error(PORTFOLIO_TYPE, &ctx.logical_id, e))
    }

    async fn update(
        catalog: &Catalog,
        ctx: &ResourceContext,
        id: &str,
        properties: &Value,
    ) -> Result<Portfolio, ProviderError> {
        let display_name = required(ctx, properties, "DisplayName")?;
        let provider_name = required(ctx, properties, "ProviderName")?;
        let description = text(properties, "Description");
        let tags = tags(ctx, properties);
        catalog
            .update_portfolio(id, |p| {
                p.display_name = display_name.clone();
                p.provider_name = provider_name.clone();
                p.description = description.clone();
                p.tags = tags.clone();
            })
            .await
            .map_err(|e| provider_error(PORTFOLIO_TYPE, id, e))
    }

    async fn remove(catalog: &Catalog, id: &str) -> Result<(), ScError> {
        catalog.delete_portfolio(id).await
    }
}

/// `AWS::ServiceCatalog::CloudFormationProduct`: artifacts matched by `Name`.
pub struct Products;

#[async_trait]
impl CatalogObject for Products {
    type Object = Product;
    const TYPE: &'static str = PRODUCT_TYPE;
    const KIND: CatalogKind = CatalogKind::Product;
    const NAMES: [&'static str; 2] = ["Name", "Owner"];
    const NOT_FOUND: fn(&str) -> ScError = product_not_found;
    const CREATE_ONLY: &'static [&'static str] = &["ProductType"];
    const ATTRIBUTES: &'static [&'static str] = &[
        "ProductName",
        "Id",
        "ProvisioningArtifactIds",
        "ProvisioningArtifactNames",
    ];

    fn identity(p: &Product) -> Identity<'_> {
        Identity {
            id: &p.id,
            names: [&p.name, &p.owner],
            created: p.created_time,
        }
    }

    fn attributes(p: &Product, attributes: &mut Map<String, Value>) {
        attributes.insert("ProductName".into(), p.name.clone().into());
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
    }

    async fn create(
        catalog: &Catalog,
        ctx: &ResourceContext,
        properties: &Value,
    ) -> Result<Product, ProviderError> {
        let artifacts = artifact_inputs(ctx, properties)?;
        let err = |e| provider_error(PRODUCT_TYPE, &ctx.logical_id, e);
        let mut rest = artifacts.into_iter();
        let first = rest.next();
        let p = catalog
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
            if let Err(e) = catalog.create_artifact(&p.id, a).await {
                // Leave nothing behind: the resource failed as a whole.
                let _ = catalog.delete_product(&p.id).await;
                return Err(err(e));
            }
        }
        catalog.product(&p.id).await.map_err(err)
    }

    async fn update(
        catalog: &Catalog,
        ctx: &ResourceContext,
        id: &str,
        properties: &Value,
    ) -> Result<Product, ProviderError> {
        let err = |e| provider_error(PRODUCT_TYPE, id, e);
        let wanted = artifact_inputs(ctx, properties)?;
        let before = catalog.product(id).await.map_err(err)?;
        let new_tags = tags(ctx, properties);
        let remove: Vec<String> = before
            .tags
            .iter()
            .filter(|t| !new_tags.iter().any(|n| n.key == t.key))
            .map(|t| t.key.clone())
            .collect();
        catalog
            .update_product(UpdateProductInput {
                id: id.to_string(),
                name: Some(required(ctx, properties, "Name")?),
                owner: Some(required(ctx, properties, "Owner")?),
                description: text(properties, "Description"),
                distributor: text(properties, "Distributor"),
                support_description: text(properties, "SupportDescription"),
                support_email: text(properties, "SupportEmail"),
                support_url: text(properties, "SupportUrl"),
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
                catalog.create_artifact(id, a).await.map_err(err)?;
            }
        }
        if flag(properties, "ReplaceProvisioningArtifacts") {
            for old in &before.artifacts {
                if !names
                    .iter()
                    .any(|n| n.as_deref() == Some(old.name.as_str()))
                {
                    catalog.delete_artifact(id, &old.id).await.map_err(err)?;
                }
            }
        }
        catalog.product(id).await.map_err(err)
    }

    async fn remove(catalog: &Catalog, id: &str) -> Result<(), ScError> {
        catalog.delete_product(id).await
    }
}

/// `AWS::ServiceCatalog::PortfolioProductAssociation`.
pub struct AssociationProvider {
    catalog: Arc<Catalog>,
}

impl AssociationProvider {
    pub fn new(catalog: Arc<Catalog>) -> Self {
        AssociationProvider { catalog }
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
        self.catalog
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
        let result = self.catalog.disassociate(portfolio, product).await;
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
            .catalog
            .launch_paths(product)
            .await
            .map_err(|e| provider_error(ASSOCIATION_TYPE, &current.physical_id, e))?
            .iter()
            .any(|l| l.portfolio.id == portfolio);
        Ok(held.then(|| current.clone()))
    }
}

/// `(resource type, provider)` for every type this crate serves.
pub fn providers(catalog: Arc<Catalog>) -> Vec<(String, Arc<dyn ResourceProvider>)> {
    vec![
        (
            PORTFOLIO_TYPE.to_string(),
            Arc::new(PortfolioProvider::new(catalog.clone())) as Arc<dyn ResourceProvider>,
        ),
        (
            PRODUCT_TYPE.to_string(),
            Arc::new(ProductProvider::new(catalog.clone())),
        ),
        (
            ASSOCIATION_TYPE.to_string(),
            Arc::new(AssociationProvider::new(catalog)),
        ),
    ]
}

/// `config` with every provider of this crate registered.
pub fn register(
    mut config: sagestack_cloudformation::ServiceConfig,
    catalog: Arc<Catalog>,
) -> sagestack_cloudformation::ServiceConfig {
    for (type_name, provider) in providers(catalog) {
        config = config.with_native_provider(type_name, provider);
    }
    config
}
