//! [`Catalog`]: the state of Service Catalog that is not a launch: portfolios, products
//! and their provisioning artifacts, associations (which are the launch paths) and tags.
//!
//! It owns the store handle, the clock, the scope (region and account, for ARNs) and the
//! template source `LoadTemplateFromURL` reads. It is built first, before the
//! CloudFormation service, because the native providers ([`crate::provider`]) hold it;
//! so it must never hold, or reach, a stack service, nor anything built after it.
//!
//! One file per group of objects: [`portfolios`], [`products`], [`artifacts`],
//! [`associations`], [`principals`], [`constraints`]; the document storage they share is
//! in [`storage`].
//!
//! Choices where AWS's behaviour is not observable here:
//! * principals are recorded but grant nothing: every product associated with at least
//!   one portfolio is visible to the end-user calls (`SearchProducts`,
//!   `DescribeProduct`, `ListLaunchPaths`), whoever calls, and every portfolio
//!   association is a launch path;
//! * a template is read once, when its artifact is created, and kept with the artifact:
//!   as in AWS, changing the object behind `LoadTemplateFromURL` afterwards changes
//!   nothing.

pub mod artifacts;
pub mod associations;
pub mod constraints;
pub mod portfolios;
pub mod principals;
pub mod products;
pub(crate) mod storage;

use std::sync::Arc;

use sagestack_cloudformation::TemplateSource;
use sagestack_engine::{Clock, SystemClock};
use sagestack_store::{CatalogKind, Store};

use crate::error::ScError;
use crate::model::{Portfolio, Product, Scope};

pub use artifacts::{ArtifactInput, UpdateArtifactInput, check_template};
pub use associations::LaunchPath;
pub use constraints::{CreateConstraintInput, UpdateConstraintInput};
pub use portfolios::{CreatePortfolioInput, UpdatePortfolioInput};
pub use products::{CreateProductInput, ProductQuery, UpdateProductInput};

pub(crate) type Result<T> = std::result::Result<T, ScError>;

/// Tags a portfolio or product may have (AWS's limit).
pub const MAX_TAGS: usize = 20;
/// Provisioning artifacts a product may have (AWS's default quota).
pub const MAX_ARTIFACTS: usize = 100;

/// Service Catalog's catalog state. Cheap to share (`Arc`).
pub struct Catalog {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) scope: Scope,
    templates: Option<Arc<dyn TemplateSource>>,
}

pub(crate) fn product_not_found(id: &str) -> ScError {
    ScError::ResourceNotFound(format!("Product {id} not found."))
}

pub(crate) fn portfolio_not_found(id: &str) -> ScError {
    ScError::ResourceNotFound(format!("Portfolio {id} not found."))
}

/// Milliseconds (the clock's unit) as the seconds the API shows.
pub(crate) fn seconds(millis: i64) -> f64 {
    millis as f64 / 1000.0
}

impl Catalog {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, scope: Scope) -> Self {
        Catalog {
            store,
            clock,
            scope,
            templates: None,
        }
    }

    /// With the system clock.
    pub fn with_system_clock(store: Arc<dyn Store>, region: &str, account_id: &str) -> Self {
        Self::new(
            store,
            Arc::new(SystemClock),
            Scope {
                region: region.into(),
                account_id: account_id.into(),
            },
        )
    }

    /// Where `LoadTemplateFromURL` is read. Without one, artifacts cannot be created.
    pub fn with_template_source(mut self, source: Arc<dyn TemplateSource>) -> Self {
        self.templates = Some(source);
        self
    }

    /// The store this catalog keeps its state in.
    pub fn store_handle(&self) -> Arc<dyn Store> {
        self.store.clone()
    }

    pub fn scope(&self) -> &Scope {
        &self.scope
    }

    pub(crate) fn now(&self) -> f64 {
        seconds(self.clock.now())
    }

    pub(crate) fn micros(&self) -> i64 {
        self.clock.now() * 1000
    }

    pub async fn portfolio(&self, id: &str) -> Result<Portfolio> {
        self.get(CatalogKind::Portfolio, id, portfolio_not_found)
            .await
    }

    pub async fn product(&self, id: &str) -> Result<Product> {
        self.get(CatalogKind::Product, id, product_not_found).await
    }

    /// Every portfolio, oldest first.
    pub async fn portfolios(&self) -> Result<Vec<Portfolio>> {
        self.all(CatalogKind::Portfolio).await
    }

    /// Every product, oldest first.
    pub async fn products(&self) -> Result<Vec<Product>> {
        self.all(CatalogKind::Product).await
    }

    /// The product with this id, or else the one with this name.
    pub async fn product_by(&self, id: Option<&str>, name: Option<&str>) -> Result<Product> {
        match (id, name) {
            (Some(id), _) => self.product(id).await,
            (None, Some(name)) => self
                .products()
                .await?
                .into_iter()
                .find(|p| p.name == name)
                .ok_or_else(|| product_not_found(name)),
            (None, None) => Err(ScError::InvalidParameters(
                "Either Id or Name must be specified.".into(),
            )),
        }
    }
}
