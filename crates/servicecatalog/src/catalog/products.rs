//! Products: create (with their first provisioning artifact), change (fields and tags),
//! delete, and search (the filters and sort orders `SearchProducts*` take).
//!
//! A product with portfolios associated cannot be deleted (the store refuses it); what
//! end users may see of a product (only what a portfolio gives them) is the API's
//! concern, not this file's.

use std::collections::BTreeMap;

use sagestack_store::CatalogKind;
use serde::Deserialize;

use super::portfolios::{change_tags, check_tags};
use super::{ArtifactInput, Catalog, Result, product_not_found};
use crate::error::ScError;
use crate::model::{Product, Tag, new_id};

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateProductInput {
    pub name: String,
    pub owner: String,
    pub description: Option<String>,
    pub distributor: Option<String>,
    pub support_description: Option<String>,
    pub support_email: Option<String>,
    pub support_url: Option<String>,
    pub product_type: String,
    pub tags: Option<Vec<Tag>>,
    pub provisioning_artifact_parameters: Option<ArtifactInput>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateProductInput {
    pub id: String,
    pub name: Option<String>,
    pub owner: Option<String>,
    pub description: Option<String>,
    pub distributor: Option<String>,
    pub support_description: Option<String>,
    pub support_email: Option<String>,
    pub support_url: Option<String>,
    pub add_tags: Option<Vec<Tag>>,
    pub remove_tags: Option<Vec<String>>,
}

/// What `SearchProducts` / `SearchProductsAsAdmin` filter and sort by.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ProductQuery {
    pub filters: Option<BTreeMap<String, Vec<String>>>,
    pub sort_by: Option<String>,
    pub sort_order: Option<String>,
}

fn not_empty(value: &str, what: &str) -> Result<()> {
    if value.trim().is_empty() {
        return Err(ScError::InvalidParameters(format!(
            "{what} must not be empty."
        )));
    }
    Ok(())
}

/// Whether `p` matches one filter (`FullTextSearch` is a substring match, the others
/// exact; both case-insensitive).
fn matches(p: &Product, key: &str, values: &[String]) -> bool {
    let fields: Vec<&str> = match key {
        "FullTextSearch" => [Some(&p.name), Some(&p.owner), p.description.as_ref()]
            .into_iter()
            .flatten()
            .map(String::as_str)
            .collect(),
        "Owner" => vec![p.owner.as_str()],
        "ProductType" => vec![p.product_type.as_str()],
        _ => Vec::new(),
    };
    values.iter().any(|v| {
        fields.iter().any(|f| {
            let f = f.to_lowercase();
            if key == "FullTextSearch" {
                f.contains(v.as_str())
            } else {
                f == *v
            }
        })
    })
}

impl Catalog {
    pub async fn create_product(&self, input: CreateProductInput) -> Result<Product> {
        if input.product_type != "CLOUD_FORMATION_TEMPLATE" {
            return Err(ScError::InvalidParameters(format!(
                "Product type {} is not supported: only CLOUD_FORMATION_TEMPLATE products can be created here.",
                input.product_type
            )));
        }
        not_empty(&input.name, "Product name")?;
        not_empty(&input.owner, "Product owner")?;
        let tags = input.tags.unwrap_or_default();
        check_tags(&tags)?;
        let Some(params) = input.provisioning_artifact_parameters else {
            return Err(ScError::InvalidParameters(
                "ProvisioningArtifactParameters is required for a CLOUD_FORMATION_TEMPLATE product."
                    .into(),
            ));
        };
        let artifact = self.new_artifact(params, "v1").await?;
        let id = new_id("prod-");
        let p = Product {
            arn: self.scope.product_arn(&id),
            view_id: new_id("prodview-"),
            id,
            name: input.name,
            owner: input.owner,
            description: input.description,
            distributor: input.distributor,
            support_description: input.support_description,
            support_email: input.support_email,
            support_url: input.support_url,
            product_type: input.product_type,
            created_time: self.now(),
            tags,
            artifacts: vec![artifact],
        };
        self.insert(CatalogKind::Product, &p.id, None, &p).await?;
        Ok(p)
    }

    pub async fn update_product(&self, input: UpdateProductInput) -> Result<Product> {
        let id = input.id.clone();
        self.modify(
            CatalogKind::Product,
            &id,
            product_not_found,
            |p: &mut Product| {
                if let Some(n) = &input.name {
                    p.name = n.clone();
                }
                if let Some(o) = &input.owner {
                    p.owner = o.clone();
                }
                for (field, value) in [
                    (&mut p.description, &input.description),
                    (&mut p.distributor, &input.distributor),
                    (&mut p.support_description, &input.support_description),
                    (&mut p.support_email, &input.support_email),
                    (&mut p.support_url, &input.support_url),
                ] {
                    if let Some(v) = value {
                        *field = Some(v.clone());
                    }
                }
                change_tags(
                    &mut p.tags,
                    input.add_tags.as_deref(),
                    input.remove_tags.as_deref(),
                )
            },
        )
        .await
    }

    pub async fn delete_product(&self, id: &str) -> Result<()> {
        self.delete_unassociated(
            CatalogKind::Product,
            id,
            product_not_found,
            format!(
                "Product {id} is associated with one or more portfolios. Disassociate it before deleting the product."
            ),
        )
        .await
    }

    /// The products `query` selects (only those in `within` when given), in its order.
    pub async fn search(
        &self,
        query: &ProductQuery,
        within: Option<&[String]>,
    ) -> Result<Vec<Product>> {
        let mut products: Vec<Product> = self
            .products()
            .await?
            .into_iter()
            .filter(|p| within.is_none_or(|ids| ids.contains(&p.id)))
            .collect();
        for (key, values) in query.filters.iter().flatten() {
            let values: Vec<String> = values.iter().map(|v| v.to_lowercase()).collect();
            products.retain(|p| matches(p, key, &values));
        }
        match query.sort_by.as_deref() {
            Some("Title") => products.sort_by(|a, b| a.name.cmp(&b.name)),
            Some("VersionCount") => products.sort_by_key(|p| p.artifacts.len()),
            _ => {} // CreationDate: already oldest first.
        }
        if query.sort_order.as_deref() == Some("DESCENDING") {
            products.reverse();
        }
        Ok(products)
    }
}
