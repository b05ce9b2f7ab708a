//! `AWS::ServiceCatalog::PortfolioProductAssociation`: the physical id is
//! `{portfolio id}|{product id}`; both ids are create-only, so an update changes nothing.
//! It never creates or deletes the portfolio or the product themselves.

use std::sync::Arc;

use async_trait::async_trait;
use sagestack_engine::provider::kit::type_info;
use sagestack_engine::{ProviderError, ResourceContext, ResourceProvider, ResourceState, TypeInfo};
use serde_json::{Map, Value};

use super::{ASSOCIATION_TYPE, deleted, provider_error, required, text};
use crate::catalog::Catalog;

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
        let create_only = [
            "PortfolioId",
            "ProductId",
            "SourcePortfolioId",
            "AcceptLanguage",
        ];
        (type_name == ASSOCIATION_TYPE)
            .then(|| type_info(ASSOCIATION_TYPE, &create_only, &[], false))
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
