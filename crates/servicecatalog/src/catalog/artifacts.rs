//! Provisioning artifacts: a product's versions. Each is a CloudFormation template read
//! once from `LoadTemplateFromURL` when the artifact is created, checked as
//! CloudFormation's template layer would, and kept with the artifact.
//!
//! This file never re-reads a template for an existing artifact, and never deletes an
//! artifact a provisioned product still runs or a product's last one.

use std::collections::BTreeMap;

use sagestack_cloudformation::S3_TEMPLATE_LIMIT;
use sagestack_store::CatalogKind;
use sagestack_template::{Limits, Template};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Catalog, MAX_ARTIFACTS, Result, product_not_found};
use crate::error::ScError;
use crate::model::{Artifact, Product, ProvisionedProduct, new_id};

/// `ProvisioningArtifactParameters` / `CreateProvisioningArtifact`'s `Parameters`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ArtifactInput {
    pub name: Option<String>,
    pub description: Option<String>,
    pub info: Option<BTreeMap<String, String>>,
    #[serde(rename = "Type")]
    pub kind: Option<String>,
    pub disable_template_validation: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateArtifactInput {
    pub product_id: String,
    pub provisioning_artifact_id: String,
    pub name: Option<String>,
    pub description: Option<String>,
    pub active: Option<bool>,
    pub guidance: Option<String>,
}

pub(crate) fn artifact_not_found(product: &str, artifact: &str) -> ScError {
    ScError::ResourceNotFound(format!(
        "Provisioning artifact {artifact} not found for product {product}."
    ))
}

fn duplicate_name(name: &str, product_id: &str) -> ScError {
    ScError::InvalidParameters(format!(
        "A provisioning artifact named {name} already exists for product {product_id}."
    ))
}

/// The artifact of `p` named by `id`, or else by `name`; `None` when neither is given.
pub(crate) fn named_artifact<'a>(
    p: &'a Product,
    id: Option<&str>,
    name: Option<&str>,
) -> Option<Result<&'a Artifact>> {
    let wanted = id.or(name)?;
    let found = match id {
        Some(id) => p.artifact(id),
        None => p.artifacts.iter().find(|a| a.name == wanted),
    };
    Some(found.ok_or_else(|| artifact_not_found(&p.id, wanted)))
}

impl Catalog {
    /// Reads and validates an artifact's template; `default_name` when none is given.
    pub(crate) async fn new_artifact(
        &self,
        input: ArtifactInput,
        default_name: &str,
    ) -> Result<Artifact> {
        let kind = input
            .kind
            .clone()
            .unwrap_or_else(|| "CLOUD_FORMATION_TEMPLATE".into());
        if kind != "CLOUD_FORMATION_TEMPLATE" {
            return Err(ScError::InvalidParameters(format!(
                "Provisioning artifact type {kind} is not supported: only CLOUD_FORMATION_TEMPLATE."
            )));
        }
        let info = input.info.clone().unwrap_or_default();
        if info.contains_key("ImportFromPhysicalId") {
            return Err(ScError::InvalidParameters(
                "ImportFromPhysicalId is not supported; use LoadTemplateFromURL.".into(),
            ));
        }
        let Some(url) = info.get("LoadTemplateFromURL") else {
            return Err(ScError::InvalidParameters(
                "Invalid Info: LoadTemplateFromURL is required.".into(),
            ));
        };
        let Some(source) = &self.templates else {
            return Err(ScError::InvalidParameters(format!(
                "Unable to load the template from {url}: no object store is configured."
            )));
        };
        let body = source.fetch(url, S3_TEMPLATE_LIMIT).await.map_err(|e| {
            ScError::InvalidParameters(format!("Unable to load the template from {url}: {e}"))
        })?;
        if !input.disable_template_validation.unwrap_or(false) {
            check_template(&body)?;
        }
        Ok(Artifact {
            id: new_id("pa-"),
            name: input.name.unwrap_or_else(|| default_name.to_string()),
            description: input.description,
            kind,
            created_time: self.now(),
            active: true,
            guidance: "DEFAULT".into(),
            info,
            template_body: body,
        })
    }

    pub async fn create_artifact(
        &self,
        product_id: &str,
        input: ArtifactInput,
    ) -> Result<Artifact> {
        let current = self.product(product_id).await?;
        let default_name = format!("v{}", current.artifacts.len() + 1);
        if let Some(name) = &input.name
            && current.artifacts.iter().any(|a| &a.name == name)
        {
            return Err(duplicate_name(name, product_id));
        }
        let artifact = self.new_artifact(input, &default_name).await?;
        let added = artifact.clone();
        self.modify(
            CatalogKind::Product,
            product_id,
            product_not_found,
            |p: &mut Product| {
                if p.artifacts.len() >= MAX_ARTIFACTS {
                    return Err(ScError::LimitExceeded(format!(
                        "A product can have at most {MAX_ARTIFACTS} provisioning artifacts."
                    )));
                }
                // Checked again: another artifact of that name may have come meanwhile.
                if p.artifacts.iter().any(|a| a.name == added.name) {
                    return Err(duplicate_name(&added.name, product_id));
                }
                p.artifacts.push(added.clone());
                Ok(())
            },
        )
        .await?;
        Ok(artifact)
    }

    pub async fn update_artifact(&self, input: UpdateArtifactInput) -> Result<Artifact> {
        let artifact_id = input.provisioning_artifact_id.clone();
        let product_id = input.product_id.clone();
        let p = self
            .modify(
                CatalogKind::Product,
                &product_id,
                product_not_found,
                |p: &mut Product| {
                    let a = p
                        .artifacts
                        .iter_mut()
                        .find(|a| a.id == artifact_id)
                        .ok_or_else(|| artifact_not_found(&product_id, &artifact_id))?;
                    if let Some(n) = &input.name {
                        a.name = n.clone();
                    }
                    if let Some(d) = &input.description {
                        a.description = Some(d.clone());
                    }
                    if let Some(active) = input.active {
                        a.active = active;
                    }
                    if let Some(g) = &input.guidance {
                        a.guidance = g.clone();
                    }
                    Ok(())
                },
            )
            .await?;
        p.artifact(&input.provisioning_artifact_id)
            .cloned()
            .ok_or_else(|| artifact_not_found(&input.product_id, &input.provisioning_artifact_id))
    }

    pub async fn delete_artifact(&self, product_id: &str, artifact_id: &str) -> Result<()> {
        let used = self
            .all::<ProvisionedProduct>(CatalogKind::ProvisionedProduct)
            .await?
            .into_iter()
            .any(|pp| pp.product_id == product_id && pp.provisioning_artifact_id == artifact_id);
        if used {
            return Err(ScError::ResourceInUse(format!(
                "Provisioning artifact {artifact_id} is used by one or more provisioned products."
            )));
        }
        self.modify(
            CatalogKind::Product,
            product_id,
            product_not_found,
            |p: &mut Product| {
                let Some(i) = p.artifacts.iter().position(|a| a.id == artifact_id) else {
                    return Err(artifact_not_found(product_id, artifact_id));
                };
                if p.artifacts.len() == 1 {
                    return Err(ScError::InvalidParameters(
                        "The last provisioning artifact of a product cannot be deleted.".into(),
                    ));
                }
                p.artifacts.remove(i);
                Ok(())
            },
        )
        .await?;
        Ok(())
    }
}

/// What CloudFormation's template layer says about a template, as AWS's
/// `InvalidParametersException` for an artifact.
pub fn check_template(body: &str) -> Result<()> {
    let template = Template::parse_with(body, &Limits::s3())
        .map_err(|e| ScError::InvalidParameters(format!("Invalid templateBody. {}", e.message)))?;
    template.validate().map_err(|errors| {
        ScError::InvalidParameters(format!(
            "Invalid templateBody. {}",
            errors
                .first()
                .map(|e| e.message.as_str())
                .unwrap_or("Template format error")
        ))
    })
}

/// The names of the parameters a template declares (none when it does not parse).
pub(crate) fn declared_parameters(body: &str) -> Vec<String> {
    Template::parse_with(body, &Limits::s3())
        .map(|t| t.parameters().into_iter().map(|p| p.name).collect())
        .unwrap_or_default()
}

/// `ProvisioningArtifactParameters`: the template's declared parameters.
pub(crate) fn template_parameters(body: &str) -> Value {
    let Ok(template) = Template::parse_with(body, &Limits::s3()) else {
        return json!([]);
    };
    Value::Array(
        template
            .parameters()
            .into_iter()
            .map(|p| {
                let mut v = json!({
                    "ParameterKey": p.name,
                    "ParameterType": p.param_type,
                    "IsNoEcho": p.no_echo,
                    "ParameterConstraints": {
                        "AllowedValues": p.allowed_values.clone().unwrap_or_default(),
                    },
                });
                if let Some(d) = p.default {
                    v["DefaultValue"] = d.into();
                }
                if let Some(d) = p.description {
                    v["Description"] = d.into();
                }
                v
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_are_checked_as_cloudformation_would() {
        assert!(check_template("Resources:\n  Q:\n    Type: AWS::SQS::Queue\n").is_ok());
        let e = check_template("Resources:\n  Q:\n    Properties: {}\n").unwrap_err();
        assert!(e.to_string().starts_with("Invalid templateBody. "), "{e}");
        assert!(check_template("{not yaml: [").is_err());
    }
}
