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

mod association;
mod generic;
mod objects;

use std::sync::Arc;

use sagestack_engine::provider::kit::{self, not_found};
use sagestack_engine::{ProviderError, ResourceContext, ResourceProvider};
use serde_json::Value;

use crate::catalog::Catalog;
use crate::error::ScError;
use crate::model::Tag;

pub use association::AssociationProvider;
pub use generic::{CatalogObject, CatalogProvider, Identity, PortfolioProvider, ProductProvider};
pub use objects::{Portfolios, Products};

pub const PORTFOLIO_TYPE: &str = "AWS::ServiceCatalog::Portfolio";
pub const PRODUCT_TYPE: &str = "AWS::ServiceCatalog::CloudFormationProduct";
pub const ASSOCIATION_TYPE: &str = "AWS::ServiceCatalog::PortfolioProductAssociation";

use kit::{required, text};

fn flag(properties: &Value, key: &str) -> bool {
    match properties.get(key) {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        _ => false,
    }
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
        ScError::ResourceNotFound(_) => not_found(type_name, id),
        ScError::ResourceInUse(m) | ScError::InvalidState(m) => ProviderError::Conflict(m),
        ScError::Internal(m) => ProviderError::Internal(m),
        other => ProviderError::InvalidRequest(other.to_string()),
    }
}

/// A delete's outcome as the engine takes it: something already gone is deleted.
fn deleted(r: Result<(), ScError>, type_name: &str, id: &str) -> Result<(), ProviderError> {
    kit::deleted(r, is_gone, |e| provider_error(type_name, id, e))
}

/// A read's outcome as the engine takes it: something gone is `None`.
fn read_back<T>(
    r: Result<T, ScError>,
    type_name: &str,
    id: &str,
) -> Result<Option<T>, ProviderError> {
    kit::gone_is_none(r, is_gone, |e| provider_error(type_name, id, e))
}

/// Whether `e` says the object is gone.
fn is_gone(e: &ScError) -> bool {
    matches!(e, ScError::ResourceNotFound(_))
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
