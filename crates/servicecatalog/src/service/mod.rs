//! [`ServiceCatalogService`]: the Service Catalog JSON 1.1 API (target prefix
//! `AWS242ServiceCatalogService`). It decodes and validates each operation's input
//! against the botocore model, runs it on the [`Catalog`] ([`catalog_ops`], and
//! [`access_ops`] for principals and constraints) or on the [`ProvisionedProducts`]
//! ([`launch_ops`]) and shapes the answer.
//!
//! Built last, from the two it serves; it holds no state of its own and must never be
//! held by them.
//!
//! API-level choices: `IdempotencyToken`s are accepted but calls are not de-duplicated by
//! them (boto3 and the CLI send a fresh token on every call anyway); `AcceptLanguage` is
//! accepted and ignored (messages are English).

pub mod access_ops;
pub mod catalog_ops;
pub mod launch_ops;

use std::sync::{Arc, LazyLock};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sagestack_protocol::validate::Model;
use sagestack_protocol::{JsonOutput, RequestContext};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::catalog::{Catalog, Result};
use crate::error::ScError;
use crate::launch::ProvisionedProducts;

/// The embedded model (`model/servicecatalog.json`).
pub static MODEL: LazyLock<Model> = LazyLock::new(|| {
    Model::parse(include_str!("../../model/servicecatalog.json"))
        .expect("embedded Service Catalog model is valid (tested)")
});

/// The JSON 1.1 target prefix.
pub const TARGET_PREFIX: &str = "AWS242ServiceCatalogService";
/// Page size when `PageSize` is absent or 0.
pub const DEFAULT_PAGE: usize = 20;

/// Reads an operation's input: the model's constraints first (`ValidationException`),
/// then the typed shape.
pub(crate) fn decode<T: DeserializeOwned>(operation: &str, input: Value) -> Result<T> {
    sagestack_protocol::json11::decode(&MODEL, operation, input)
}

/// An opaque page token: the offset into the filtered, ordered results.
pub(crate) fn encode_token(offset: usize) -> String {
    URL_SAFE_NO_PAD.encode(format!("sc1:{offset}"))
}

pub(crate) fn decode_token(token: Option<&str>) -> Result<usize> {
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return Ok(0);
    };
    URL_SAFE_NO_PAD
        .decode(token)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.strip_prefix("sc1:").and_then(|n| n.parse().ok()))
        .ok_or_else(|| ScError::InvalidParameters("The page token is not valid.".into()))
}

/// One page of `items` from a page token: the items and the next token.
pub(crate) fn page<T>(
    items: Vec<T>,
    token: Option<&str>,
    size: Option<i64>,
) -> Result<(Vec<T>, Option<String>)> {
    let start = decode_token(token)?;
    let size = match size {
        Some(n) if n > 0 => n as usize,
        _ => DEFAULT_PAGE,
    };
    let total = items.len();
    let out: Vec<T> = items.into_iter().skip(start).take(size).collect();
    let next = (start + size < total).then(|| encode_token(start + size));
    Ok((out, next))
}

/// A page's answer: `out` with `NextPageToken` when there is a next page.
pub(crate) fn with_next(out: Value, next: Option<String>) -> Value {
    sagestack_protocol::json11::with_token(out, "NextPageToken", next)
}

pub(crate) fn unsupported(operation: &str) -> ScError {
    ScError::UnknownOperation(format!(
        "Operation {TARGET_PREFIX}.{operation} is not supported by this server"
    ))
}

/// The Service Catalog API. Cheap to share (`Arc`).
pub struct ServiceCatalogService {
    catalog: Arc<Catalog>,
    provisioned: Arc<ProvisionedProducts>,
}

impl ServiceCatalogService {
    /// The API over `catalog` and the provisioned products launched from it.
    pub fn new(catalog: Arc<Catalog>, provisioned: Arc<ProvisionedProducts>) -> Self {
        debug_assert!(
            Arc::ptr_eq(&catalog, provisioned.catalog()),
            "provisioned products launch from the catalog the API serves"
        );
        ServiceCatalogService {
            catalog,
            provisioned,
        }
    }

    pub fn catalog(&self) -> &Arc<Catalog> {
        &self.catalog
    }

    pub fn provisioned(&self) -> &Arc<ProvisionedProducts> {
        &self.provisioned
    }

    /// Runs one operation on a decoded JSON input.
    pub async fn handle(&self, ctx: &RequestContext, op: &str, input: Value) -> Result<JsonOutput> {
        if !MODEL.has_operation(op) {
            return Err(unsupported(op));
        }
        let out = if catalog_ops::OPERATIONS.contains(&op) {
            catalog_ops::call(&self.catalog, op, input).await?
        } else if access_ops::OPERATIONS.contains(&op) {
            access_ops::call(&self.catalog, op, input).await?
        } else if launch_ops::OPERATIONS.contains(&op) {
            launch_ops::call(&self.provisioned, ctx, op, input).await?
        } else {
            return Err(unsupported(op));
        };
        Ok(JsonOutput::Value(out))
    }
}

sagestack_protocol::json11_service!(ServiceCatalogService, TARGET_PREFIX);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_model_has_every_operation() {
        for op in [
            "CreatePortfolio",
            "CreateProduct",
            "ProvisionProduct",
            "DisassociateProductFromPortfolio",
            "DescribeRecord",
        ] {
            assert!(MODEL.has_operation(op), "{op}");
        }
        for op in catalog_ops::OPERATIONS
            .iter()
            .chain(access_ops::OPERATIONS)
            .chain(launch_ops::OPERATIONS)
        {
            assert!(MODEL.has_operation(op), "{op}");
        }
    }

    #[test]
    fn pages_walk_every_item_once() {
        let items: Vec<u32> = (0..45).collect();
        let mut seen = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let (page, next) = page(items.clone(), token.as_deref(), Some(20)).unwrap();
            seen.extend(page);
            match next {
                Some(t) => token = Some(t),
                None => break,
            }
        }
        assert_eq!(seen, items);
        let (first, _) = page(items.clone(), None, None).unwrap();
        assert_eq!(first.len(), DEFAULT_PAGE);
        assert!(matches!(
            page(items, Some("bogus"), None),
            Err(ScError::InvalidParameters(_))
        ));
    }
}
