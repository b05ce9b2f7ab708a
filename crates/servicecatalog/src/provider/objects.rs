//! What a portfolio and a product are to a stack: how their properties create and update
//! them, which properties name them, and their `Fn::GetAtt` attributes. Product
//! artifacts are matched by `Name`; templates are never re-read for an existing name.
//! This file never talks to the engine directly (that is [`super::generic`]'s).

use std::collections::BTreeMap;

use async_trait::async_trait;
use sagestack_engine::provider::kit::{self, invalid, missing};
use sagestack_engine::{ProviderError, ResourceContext};
use sagestack_store::CatalogKind;
use serde_json::{Map, Value, json};

use super::generic::{CatalogObject, Identity};
use super::{PORTFOLIO_TYPE, PRODUCT_TYPE, flag, provider_error, required, tags, text};
use crate::catalog::{
    ArtifactInput, Catalog, CreatePortfolioInput, CreateProductInput, UpdateProductInput,
    portfolio_not_found, product_not_found,
};
use crate::error::ScError;
use crate::model::{Portfolio, Product, tags_json};

/// An optional setting as a live property (`null` when unset).
fn opt(v: &Option<String>) -> Value {
    v.clone().map_or(Value::Null, Value::String)
}

/// A portfolio's or product's live settings for drift detection: its `own` ones (none
/// with a default) and the description and tags both kinds have.
fn settings<const N: usize>(
    expected: &Value,
    own: [(&str, Value); N],
    description: &Option<String>,
    tags: &[crate::model::Tag],
) -> Map<String, Value> {
    let mut live = kit::live(
        expected,
        own.map(|(name, value)| (name, value, Value::Null)),
    );
    live.extend(kit::live(
        expected,
        [
            ("Description", opt(description), Value::Null),
            ("Tags", tags_json(tags), json!([])),
        ],
    ));
    live
}

fn artifact_inputs(
    ctx: &ResourceContext,
    properties: &Value,
) -> Result<Vec<ArtifactInput>, ProviderError> {
    let list = match properties.get("ProvisioningArtifactParameters") {
        Some(Value::Array(list)) if !list.is_empty() => list,
        _ => {
            return Err(missing(ctx, "ProvisioningArtifactParameters"));
        }
    };
    list.iter()
        .map(|a| {
            let info: BTreeMap<String, String> = match a.get("Info") {
                Some(Value::Object(m)) => m
                    .iter()
                    .map(|(k, v)| (k.clone(), v.as_str().map_or_else(|| v.to_string(), str::to_owned)))
                    .collect(),
                Some(Value::String(s)) => serde_json::from_str(s).map_err(|e| {
                    ProviderError::InvalidRequest(format!(
                        "Properties validation failed for resource {}: Info is not a JSON object: {e}",
                        ctx.logical_id
                    ))
                })?,
                _ => {
                    return Err(invalid(
                        ctx,
                        "#/ProvisioningArtifactParameters: required key [Info] not found",
                    ));
                }
            };
            Ok(ArtifactInput {
                name: text(a, "Name"),
                description: text(a, "Description"),
                info: Some(info),
                kind: text(a, "Type"),
                disable_template_validation: Some(flag(a, "DisableTemplateValidation")),
            })
        })
        .collect()
}

/// `AWS::ServiceCatalog::Portfolio`: every property is updated in place.
pub struct Portfolios;

#[async_trait]
impl CatalogObject for Portfolios {
    type Object = Portfolio;
    const TYPE: &'static str = PORTFOLIO_TYPE;
    const KIND: CatalogKind = CatalogKind::Portfolio;
    const NAMES: [&'static str; 2] = ["DisplayName", "ProviderName"];
    const NOT_FOUND: fn(&str) -> ScError = portfolio_not_found;
    const CREATE_ONLY: &'static [&'static str] = &[];
    const ATTRIBUTES: &'static [&'static str] = &["PortfolioName", "Id"];

    fn identity(p: &Portfolio) -> Identity<'_> {
        Identity {
            id: &p.id,
            names: [&p.display_name, &p.provider_name],
            created: p.created_time,
        }
    }

    fn attributes(p: &Portfolio, attributes: &mut Map<String, Value>) {
        attributes.insert("PortfolioName".into(), p.display_name.clone().into());
    }

    fn live(p: &Portfolio, expected: &Value) -> Map<String, Value> {
        let own = [
            ("DisplayName", p.display_name.clone().into()),
            ("ProviderName", p.provider_name.clone().into()),
        ];
        settings(expected, own, &p.description, &p.tags)
    }

    async fn create(
        catalog: &Catalog,
        ctx: &ResourceContext,
        properties: &Value,
    ) -> Result<Portfolio, ProviderError> {
        let input = CreatePortfolioInput {
            display_name: required(ctx, properties, "DisplayName")?,
            provider_name: required(ctx, properties, "ProviderName")?,
            description: text(properties, "Description"),
            tags: Some(tags(ctx, properties)),
        };
        catalog
            .create_portfolio(input)
            .await
            .map_err(|e| provider_error(PORTFOLIO_TYPE, &ctx.logical_id, e))
    }

    async fn update(
        catalog: &Catalog,
        ctx: &ResourceContext,
        id: &str,
        properties: &Value,
    ) -> Result<Portfolio, ProviderError> {
        let display_name = required(ctx, properties, "DisplayName")?;
        let provider_name = required(ctx, properties, "ProviderName")?;
        let description = text(properties, "Description");
        let tags = tags(ctx, properties);
        catalog
            .update_portfolio(id, |p| {
                p.display_name = display_name.clone();
                p.provider_name = provider_name.clone();
                p.description = description.clone();
                p.tags = tags.clone();
            })
            .await
            .map_err(|e| provider_error(PORTFOLIO_TYPE, id, e))
    }

    async fn remove(catalog: &Catalog, id: &str) -> Result<(), ScError> {
        catalog.delete_portfolio(id).await
    }
}

/// `AWS::ServiceCatalog::CloudFormationProduct`: artifacts matched by `Name`.
pub struct Products;

#[async_trait]
impl CatalogObject for Products {
    type Object = Product;
    const TYPE: &'static str = PRODUCT_TYPE;
    const KIND: CatalogKind = CatalogKind::Product;
    const NAMES: [&'static str; 2] = ["Name", "Owner"];
    const NOT_FOUND: fn(&str) -> ScError = product_not_found;
    const CREATE_ONLY: &'static [&'static str] = &["ProductType"];
    const ATTRIBUTES: &'static [&'static str] = &[
        "ProductName",
        "Id",
        "ProvisioningArtifactIds",
        "ProvisioningArtifactNames",
    ];

    fn identity(p: &Product) -> Identity<'_> {
        Identity {
            id: &p.id,
            names: [&p.name, &p.owner],
            created: p.created_time,
        }
    }

    fn attributes(p: &Product, attributes: &mut Map<String, Value>) {
        attributes.insert("ProductName".into(), p.name.clone().into());
        attributes.insert(
            "ProvisioningArtifactIds".into(),
            p.artifacts
                .iter()
                .map(|a| a.id.as_str())
                .collect::<Vec<_>>()
                .join(",")
                .into(),
        );
        attributes.insert(
            "ProvisioningArtifactNames".into(),
            p.artifacts
                .iter()
                .map(|a| a.name.as_str())
                .collect::<Vec<_>>()
                .join(",")
                .into(),
        );
    }

    fn live(p: &Product, expected: &Value) -> Map<String, Value> {
        let own = [
            ("Name", p.name.clone().into()),
            ("Owner", p.owner.clone().into()),
            ("Distributor", opt(&p.distributor)),
            ("SupportDescription", opt(&p.support_description)),
            ("SupportEmail", opt(&p.support_email)),
            ("SupportUrl", opt(&p.support_url)),
        ];
        settings(expected, own, &p.description, &p.tags)
    }

    async fn create(
        catalog: &Catalog,
        ctx: &ResourceContext,
        properties: &Value,
    ) -> Result<Product, ProviderError> {
        let artifacts = artifact_inputs(ctx, properties)?;
        let err = |e| provider_error(PRODUCT_TYPE, &ctx.logical_id, e);
        let mut rest = artifacts.into_iter();
        let first = rest.next();
        let p = catalog
            .create_product(CreateProductInput {
                name: required(ctx, properties, "Name")?,
                owner: required(ctx, properties, "Owner")?,
                description: text(properties, "Description"),
                distributor: text(properties, "Distributor"),
                support_description: text(properties, "SupportDescription"),
                support_email: text(properties, "SupportEmail"),
                support_url: text(properties, "SupportUrl"),
                product_type: text(properties, "ProductType")
                    .unwrap_or_else(|| "CLOUD_FORMATION_TEMPLATE".into()),
                tags: Some(tags(ctx, properties)),
                provisioning_artifact_parameters: first,
            })
            .await
            .map_err(err)?;
        for a in rest {
            if let Err(e) = catalog.create_artifact(&p.id, a).await {
                // Leave nothing behind: the resource failed as a whole.
                let _ = catalog.delete_product(&p.id).await;
                return Err(err(e));
            }
        }
        catalog.product(&p.id).await.map_err(err)
    }

    async fn update(
        catalog: &Catalog,
        ctx: &ResourceContext,
        id: &str,
        properties: &Value,
    ) -> Result<Product, ProviderError> {
        let err = |e| provider_error(PRODUCT_TYPE, id, e);
        let wanted = artifact_inputs(ctx, properties)?;
        let before = catalog.product(id).await.map_err(err)?;
        let new_tags = tags(ctx, properties);
        let remove: Vec<String> = before
            .tags
            .iter()
            .filter(|t| !new_tags.iter().any(|n| n.key == t.key))
            .map(|t| t.key.clone())
            .collect();
        catalog
            .update_product(UpdateProductInput {
                id: id.to_string(),
                name: Some(required(ctx, properties, "Name")?),
                owner: Some(required(ctx, properties, "Owner")?),
                description: text(properties, "Description"),
                distributor: text(properties, "Distributor"),
                support_description: text(properties, "SupportDescription"),
                support_email: text(properties, "SupportEmail"),
                support_url: text(properties, "SupportUrl"),
                add_tags: Some(new_tags),
                remove_tags: Some(remove),
            })
            .await
            .map_err(err)?;
        let names: Vec<Option<String>> = wanted.iter().map(|a| a.name.clone()).collect();
        for a in wanted {
            let exists = a
                .name
                .as_ref()
                .is_some_and(|n| before.artifacts.iter().any(|b| &b.name == n));
            if !exists {
                catalog.create_artifact(id, a).await.map_err(err)?;
            }
        }
        if flag(properties, "ReplaceProvisioningArtifacts") {
            for old in &before.artifacts {
                if !names
                    .iter()
                    .any(|n| n.as_deref() == Some(old.name.as_str()))
                {
                    catalog.delete_artifact(id, &old.id).await.map_err(err)?;
                }
            }
        }
        catalog.product(id).await.map_err(err)
    }

    async fn remove(catalog: &Catalog, id: &str) -> Result<(), ScError> {
        catalog.delete_product(id).await
    }
}
