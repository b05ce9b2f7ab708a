//! The one provider of portfolios and products: [`CatalogProvider`], generic over what
//! differs between them ([`CatalogObject`], implemented in [`super::objects`]). It owns
//! the engine-facing shape (type info, state, reads, deletes, finding what an interrupted
//! create made); it never decides a property's meaning.

use std::marker::PhantomData;
use std::sync::Arc;

use async_trait::async_trait;
use sagestack_engine::model::EpochMillis;
use sagestack_engine::provider::kit::type_info;
use sagestack_engine::provider::{Native, Outcome};
use sagestack_engine::{ProviderError, ResourceContext, ResourceState, TypeInfo};
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

    /// The object's settings for drift detection (see `Native::live_properties`), given
    /// the properties the template applied.
    fn live(object: &Self::Object, expected: &Value) -> Map<String, Value>;
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

/// An object's record is the object itself.
#[async_trait]
impl<K: CatalogObject> Native for CatalogProvider<K> {
    type Record = K::Object;
    const TYPE_NAME: &'static str = K::TYPE;

    fn info(&self) -> TypeInfo {
        type_info(K::TYPE, K::CREATE_ONLY, K::ATTRIBUTES, true)
    }

    fn state_of(object: &K::Object) -> ResourceState {
        state::<K>(object)
    }

    /// Never told in advance: the service draws the id ([`Self::find_record`] searches).
    fn intended_id(_: &ResourceContext, _: &Value) -> Option<String> {
        None
    }

    fn made_since(object: &K::Object, started: EpochMillis) -> bool {
        K::identity(object).created >= started as f64 / 1000.0
    }

    fn live_properties(object: &K::Object, expected: &Value) -> Option<Map<String, Value>> {
        Some(K::live(object, expected))
    }

    async fn create_record(&self, ctx: &ResourceContext, properties: &Value) -> Outcome<K::Object> {
        K::create(&self.catalog, ctx, properties).await
    }

    async fn update_record(
        &self,
        ctx: &ResourceContext,
        id: &str,
        properties: &Value,
    ) -> Outcome<K::Object> {
        K::update(&self.catalog, ctx, id, properties).await
    }

    async fn get_record(&self, _: &ResourceContext, id: &str) -> Outcome<Option<K::Object>> {
        let object = self.catalog.get(K::KIND, id, K::NOT_FOUND).await;
        read_back(object, K::TYPE, id)
    }

    async fn delete_record(&self, _: &ResourceContext, id: &str) -> Outcome<()> {
        deleted(K::remove(&self.catalog, id).await, K::TYPE, id)
    }

    /// The newest object with these names created since the interrupted create started
    /// (the names are not unique, so the creation time decides).
    async fn find_record(
        &self,
        _: &ResourceContext,
        properties: &Value,
        started: EpochMillis,
    ) -> Outcome<Option<K::Object>> {
        let [first, second] = K::NAMES.map(|key| text(properties, key));
        let (Some(first), Some(second)) = (first, second) else {
            return Ok(None);
        };
        let found = self
            .catalog
            .all::<K::Object>(K::KIND)
            .await
            .map_err(|e| provider_error(K::TYPE, &first, e))?
            .into_iter()
            .rev()
            .find(|o| {
                K::identity(o).names == [first.as_str(), second.as_str()]
                    && Self::made_since(o, started)
            });
        Ok(found)
    }
}
