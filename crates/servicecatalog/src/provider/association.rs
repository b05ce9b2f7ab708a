//! `AWS::ServiceCatalog::PortfolioProductAssociation`: the physical id is
//! `{portfolio id}|{product id}`; both ids are create-only, so an update changes nothing.
//! It never creates or deletes the portfolio or the product themselves.

use std::sync::Arc;

use async_trait::async_trait;
use sagestack_engine::model::EpochMillis;
use sagestack_engine::provider::kit::{self, type_info};
use sagestack_engine::provider::{Native, Outcome};
use sagestack_engine::{ResourceContext, ResourceState, TypeInfo};
use serde_json::Value;

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

/// An association's record is its physical id: there is nothing else to it.
#[async_trait]
impl Native for AssociationProvider {
    type Record = String;
    const TYPE_NAME: &'static str = ASSOCIATION_TYPE;

    fn info(&self) -> TypeInfo {
        let create_only = [
            "PortfolioId",
            "ProductId",
            "SourcePortfolioId",
            "AcceptLanguage",
        ];
        type_info(ASSOCIATION_TYPE, &create_only, &[], false)
    }

    fn state_of(physical_id: &String) -> ResourceState {
        kit::state(physical_id, [])
    }

    /// An association is identified by its pair.
    fn intended_id(_: &ResourceContext, properties: &Value) -> Option<String> {
        let portfolio = text(properties, "PortfolioId")?;
        let product = text(properties, "ProductId")?;
        Some(format!("{portfolio}|{product}"))
    }

    /// If the pair is associated, the create made it (a second association of the same
    /// pair cannot exist).
    fn made_since(_: &String, _: EpochMillis) -> bool {
        true
    }

    async fn create_record(&self, ctx: &ResourceContext, properties: &Value) -> Outcome<String> {
        let portfolio = required(ctx, properties, "PortfolioId")?;
        let product = required(ctx, properties, "ProductId")?;
        let physical_id = format!("{portfolio}|{product}");
        self.catalog
            .associate(&portfolio, &product)
            .await
            .map_err(|e| provider_error(ASSOCIATION_TYPE, &physical_id, e))?;
        Ok(physical_id)
    }

    /// Every property is create-only: nothing changes in place.
    async fn update_record(&self, _: &ResourceContext, id: &str, _: &Value) -> Outcome<String> {
        Ok(id.to_string())
    }

    async fn get_record(&self, _: &ResourceContext, id: &str) -> Outcome<Option<String>> {
        let Some((portfolio, product)) = split_association(id) else {
            return Ok(None);
        };
        let held = self
            .catalog
            .launch_paths(product)
            .await
            .map_err(|e| provider_error(ASSOCIATION_TYPE, id, e))?
            .iter()
            .any(|l| l.portfolio.id == portfolio);
        Ok(held.then(|| id.to_string()))
    }

    async fn delete_record(&self, _: &ResourceContext, id: &str) -> Outcome<()> {
        let Some((portfolio, product)) = split_association(id) else {
            return Ok(());
        };
        let result = self.catalog.disassociate(portfolio, product).await;
        deleted(result, ASSOCIATION_TYPE, id)
    }
}
