//! The one provider of portfolios and products: [`CatalogProvider`], generic over what
//! differs between them ([`CatalogObject`], implemented in [`super::objects`]). It owns
//! the engine-facing shape (type info, state, reads, deletes, finding what an interrupted
//! create made); it never decides a property's meaning.

use std::marker::PhantomData;
use std::sync::Arc;

use async_trait::async_trait;
use sagestack_engine::provider::kit::type_info;
use sagestack_engine::{ProviderError, ResourceContext, ResourceProvider, ResourceState, TypeInfo};
use sagestack_store::CatalogKind;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::objects::{Portfolios, Products};
use super::{deleted, provider_error, read_back, text};
use crate::catalog::Catalog;
use crate::error::ScError;

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
        (type_name == K::TYPE).then(|| type_info(K::TYPE, K::CREATE_ONLY, K::ATTRIBUTES, true))
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
