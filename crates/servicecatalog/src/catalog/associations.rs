//! Portfolio–product associations, and the launch paths they are: with no principals
//! here, every association of a product with a portfolio is one launch path (id derived
//! from the pair, see [`crate::model::launch_path_id`]).
//!
//! Associations have no document of their own (the store keeps the pairs); this file
//! never writes portfolios or products.

use sagestack_store::StoreError;

use super::{Catalog, Result, product_not_found};
use crate::error::ScError;
use crate::model::{Portfolio, launch_path_id};

/// A product's launch path: its association with one portfolio.
#[derive(Debug, Clone, PartialEq)]
pub struct LaunchPath {
    pub id: String,
    pub portfolio: Portfolio,
}

impl Catalog {
    pub async fn associate(&self, portfolio_id: &str, product_id: &str) -> Result<()> {
        match self
            .store
            .catalog_associate(portfolio_id, product_id, self.micros())
            .await
        {
            Ok(_) => Ok(()),
            Err(StoreError::NotFound) => {
                // Say which side is missing.
                self.portfolio(portfolio_id).await?;
                Err(product_not_found(product_id))
            }
            Err(e) => Err(e.into()),
        }
    }

    pub async fn disassociate(&self, portfolio_id: &str, product_id: &str) -> Result<()> {
        if self
            .store
            .catalog_disassociate(portfolio_id, product_id)
            .await?
        {
            return Ok(());
        }
        self.portfolio(portfolio_id).await?;
        self.product(product_id).await?;
        Err(ScError::ResourceNotFound(format!(
            "Product {product_id} is not associated with portfolio {portfolio_id}."
        )))
    }

    /// The product's launch paths, oldest association first.
    pub async fn launch_paths(&self, product_id: &str) -> Result<Vec<LaunchPath>> {
        let mut out = Vec::new();
        for portfolio_id in self.store.catalog_portfolios_of(product_id).await? {
            if let Ok(portfolio) = self.portfolio(&portfolio_id).await {
                out.push(LaunchPath {
                    id: launch_path_id(&portfolio_id, product_id),
                    portfolio,
                });
            }
        }
        Ok(out)
    }

    /// The ids of the products associated with a portfolio.
    pub async fn products_of(&self, portfolio_id: &str) -> Result<Vec<String>> {
        Ok(self.store.catalog_products_of(portfolio_id).await?)
    }
}
