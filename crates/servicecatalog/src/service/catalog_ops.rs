//! The catalog's operations: portfolios, products, provisioning artifacts, associations
//! and launch paths — decoding their inputs and shaping their answers. What they do is
//! the [`Catalog`]'s; this file only translates.
//!
//! End-user calls (`DescribeProduct`, `SearchProducts`) show only products a portfolio
//! gives them (at least one launch path); the `*AsAdmin` calls show every product.

use serde::Deserialize;
use serde_json::{Value, json};

use super::{decode, page, unsupported, with_next};
use crate::catalog::artifacts::{named_artifact, template_parameters};
use crate::catalog::{Catalog, ProductQuery, Result, product_not_found};
use crate::error::ScError;
use crate::model::{Artifact, Portfolio, Product, tags_json};

/// The operations this file answers.
pub const OPERATIONS: &[&str] = &[
    "CreatePortfolio",
    "DescribePortfolio",
    "UpdatePortfolio",
    "ListPortfolios",
    "ListPortfoliosForProduct",
    "DeletePortfolio",
    "CreateProduct",
    "DescribeProduct",
    "DescribeProductAsAdmin",
    "SearchProducts",
    "SearchProductsAsAdmin",
    "UpdateProduct",
    "DeleteProduct",
    "CreateProvisioningArtifact",
    "ListProvisioningArtifacts",
    "DescribeProvisioningArtifact",
    "UpdateProvisioningArtifact",
    "DeleteProvisioningArtifact",
    "AssociateProductWithPortfolio",
    "DisassociateProductFromPortfolio",
    "ListLaunchPaths",
];

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct IdInput {
    id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PageInput {
    page_token: Option<String>,
    page_size: Option<i64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ProductPageInput {
    product_id: String,
    page_token: Option<String>,
    page_size: Option<i64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct IdOrNameInput {
    id: Option<String>,
    name: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SearchProductsInput {
    portfolio_id: Option<String>,
    #[serde(flatten)]
    query: ProductQuery,
    page_token: Option<String>,
    page_size: Option<i64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CreateArtifactInput {
    product_id: String,
    parameters: crate::catalog::ArtifactInput,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ProductIdInput {
    product_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DescribeArtifactInput {
    product_id: Option<String>,
    product_name: Option<String>,
    provisioning_artifact_id: Option<String>,
    provisioning_artifact_name: Option<String>,
    verbose: Option<bool>,
    include_provisioning_artifact_parameters: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ArtifactRefInput {
    product_id: String,
    provisioning_artifact_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AssociationInput {
    product_id: String,
    portfolio_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListLaunchPathsInput {
    product_id: String,
    page_token: Option<String>,
    page_size: Option<i64>,
}

/// An artifact's answer (`Create`/`UpdateProvisioningArtifact`).
fn artifact_answer(a: &Artifact) -> Value {
    json!({"ProvisioningArtifactDetail": a.detail(), "Info": a.info, "Status": "AVAILABLE"})
}

/// Runs one of [`OPERATIONS`].
pub(super) async fn call(catalog: &Catalog, operation: &str, input: Value) -> Result<Value> {
    Ok(match operation {
        "CreatePortfolio" => {
            let p = catalog.create_portfolio(decode(operation, input)?).await?;
            json!({"PortfolioDetail": p.detail(), "Tags": tags_json(&p.tags)})
        }
        "DescribePortfolio" => {
            let i: IdInput = decode(operation, input)?;
            let p = catalog.portfolio(&i.id).await?;
            json!({
                "PortfolioDetail": p.detail(),
                "Tags": tags_json(&p.tags),
                "TagOptions": [],
                "Budgets": [],
            })
        }
        "UpdatePortfolio" => {
            let p = catalog.change_portfolio(decode(operation, input)?).await?;
            json!({"PortfolioDetail": p.detail(), "Tags": tags_json(&p.tags)})
        }
        "ListPortfoliosForProduct" => {
            let i: ProductPageInput = decode(operation, input)?;
            catalog.product(&i.product_id).await?;
            let all: Vec<Portfolio> = catalog
                .launch_paths(&i.product_id)
                .await?
                .into_iter()
                .map(|l| l.portfolio)
                .collect();
            let (items, next) = page(all, i.page_token.as_deref(), i.page_size)?;
            with_next(
                json!({"PortfolioDetails": items.iter().map(Portfolio::detail).collect::<Vec<_>>()}),
                next,
            )
        }
        "ListPortfolios" => {
            let i: PageInput = decode(operation, input)?;
            let all = catalog.portfolios().await?;
            let (items, next) = page(all, i.page_token.as_deref(), i.page_size)?;
            with_next(
                json!({"PortfolioDetails": items.iter().map(Portfolio::detail).collect::<Vec<_>>()}),
                next,
            )
        }
        "DeletePortfolio" => {
            let i: IdInput = decode(operation, input)?;
            catalog.delete_portfolio(&i.id).await?;
            json!({})
        }
        "CreateProduct" => {
            let p = catalog.create_product(decode(operation, input)?).await?;
            json!({
                "ProductViewDetail": p.view_detail(),
                "ProvisioningArtifactDetail": p.artifacts.last().map(Artifact::detail),
                "Tags": tags_json(&p.tags),
            })
        }
        "DescribeProduct" => {
            let i: IdOrNameInput = decode(operation, input)?;
            let p = catalog
                .product_by(i.id.as_deref(), i.name.as_deref())
                .await?;
            let paths = catalog.launch_paths(&p.id).await?;
            if paths.is_empty() {
                // End users see only products a portfolio gives them.
                return Err(product_not_found(i.id.as_deref().unwrap_or(&p.name)));
            }
            json!({
                "ProductViewSummary": p.view_summary(paths.len() == 1),
                "ProvisioningArtifacts": p.artifacts.iter().filter(|a| a.active).map(Artifact::summary).collect::<Vec<_>>(),
                "Budgets": [],
                "LaunchPaths": paths.iter().map(|l| json!({"Id": l.id, "Name": l.portfolio.display_name})).collect::<Vec<_>>(),
            })
        }
        "DescribeProductAsAdmin" => {
            let i: IdOrNameInput = decode(operation, input)?;
            let p = catalog
                .product_by(i.id.as_deref(), i.name.as_deref())
                .await?;
            json!({
                "ProductViewDetail": p.view_detail(),
                "ProvisioningArtifactSummaries": p.artifacts.iter().map(Artifact::admin_summary).collect::<Vec<_>>(),
                "Tags": tags_json(&p.tags),
                "TagOptions": [],
                "Budgets": [],
            })
        }
        "SearchProducts" => {
            let i: SearchProductsInput = decode(operation, input)?;
            let mut products = Vec::new();
            for p in catalog.search(&i.query, None).await? {
                let paths = catalog.launch_paths(&p.id).await?;
                if !paths.is_empty() {
                    products.push((p, paths.len() == 1));
                }
            }
            let (items, next) = page(products, i.page_token.as_deref(), i.page_size)?;
            with_next(
                json!({
                    "ProductViewSummaries": items.iter().map(|(p, d)| p.view_summary(*d)).collect::<Vec<_>>(),
                    "ProductViewAggregations": {},
                }),
                next,
            )
        }
        "SearchProductsAsAdmin" => {
            let i: SearchProductsInput = decode(operation, input)?;
            let within = match &i.portfolio_id {
                Some(id) => {
                    catalog.portfolio(id).await?;
                    Some(catalog.products_of(id).await?)
                }
                None => None,
            };
            let products = catalog.search(&i.query, within.as_deref()).await?;
            let (items, next) = page(products, i.page_token.as_deref(), i.page_size)?;
            with_next(
                json!({"ProductViewDetails": items.iter().map(Product::view_detail).collect::<Vec<_>>()}),
                next,
            )
        }
        "UpdateProduct" => {
            let p = catalog.update_product(decode(operation, input)?).await?;
            json!({"ProductViewDetail": p.view_detail(), "Tags": tags_json(&p.tags)})
        }
        "DeleteProduct" => {
            let i: IdInput = decode(operation, input)?;
            catalog.delete_product(&i.id).await?;
            json!({})
        }
        "CreateProvisioningArtifact" => {
            let i: CreateArtifactInput = decode(operation, input)?;
            artifact_answer(&catalog.create_artifact(&i.product_id, i.parameters).await?)
        }
        "ListProvisioningArtifacts" => {
            let i: ProductIdInput = decode(operation, input)?;
            let p = catalog.product(&i.product_id).await?;
            json!({
                "ProvisioningArtifactDetails": p.artifacts.iter().map(Artifact::detail).collect::<Vec<_>>()
            })
        }
        "DescribeProvisioningArtifact" => {
            describe_artifact(catalog, decode(operation, input)?).await?
        }
        "UpdateProvisioningArtifact" => {
            artifact_answer(&catalog.update_artifact(decode(operation, input)?).await?)
        }
        "DeleteProvisioningArtifact" => {
            let i: ArtifactRefInput = decode(operation, input)?;
            catalog
                .delete_artifact(&i.product_id, &i.provisioning_artifact_id)
                .await?;
            json!({})
        }
        "AssociateProductWithPortfolio" => {
            let i: AssociationInput = decode(operation, input)?;
            catalog.associate(&i.portfolio_id, &i.product_id).await?;
            json!({})
        }
        "DisassociateProductFromPortfolio" => {
            let i: AssociationInput = decode(operation, input)?;
            catalog.disassociate(&i.portfolio_id, &i.product_id).await?;
            json!({})
        }
        "ListLaunchPaths" => {
            let i: ListLaunchPathsInput = decode(operation, input)?;
            catalog.product(&i.product_id).await?;
            let paths = catalog.launch_paths(&i.product_id).await?;
            let (items, next) = page(paths, i.page_token.as_deref(), i.page_size)?;
            with_next(
                json!({
                    "LaunchPathSummaries": items.iter().map(|l| json!({
                        "Id": l.id,
                        "Name": l.portfolio.display_name,
                        "ConstraintSummaries": [],
                        "Tags": tags_json(&l.portfolio.tags),
                    })).collect::<Vec<_>>()
                }),
                next,
            )
        }
        other => return Err(unsupported(other)),
    })
}

async fn describe_artifact(catalog: &Catalog, i: DescribeArtifactInput) -> Result<Value> {
    let p = catalog
        .product_by(i.product_id.as_deref(), i.product_name.as_deref())
        .await?;
    let Some(found) = named_artifact(
        &p,
        i.provisioning_artifact_id.as_deref(),
        i.provisioning_artifact_name.as_deref(),
    ) else {
        return Err(ScError::InvalidParameters(
            "Either ProvisioningArtifactId or ProvisioningArtifactName must be specified.".into(),
        ));
    };
    let a = found?;
    let mut info = json!(a.info);
    // AWS answers the template's URL as `TemplateUrl` (what Terraform's import reads).
    if let Some(url) = a.info.get("LoadTemplateFromURL") {
        info["TemplateUrl"] = url.clone().into();
    }
    if i.verbose.unwrap_or(false) {
        info["TemplateBody"] = a.template_body.clone().into();
    }
    let mut out = json!({
        "ProvisioningArtifactDetail": a.detail(),
        "Info": info,
        "Status": "AVAILABLE",
    });
    if i.include_provisioning_artifact_parameters.unwrap_or(false) {
        out["ProvisioningArtifactParameters"] = template_parameters(&a.template_body);
    }
    Ok(out)
}
