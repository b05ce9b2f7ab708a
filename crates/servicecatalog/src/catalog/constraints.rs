//! Constraints on a portfolio's products (`CreateConstraint`, `DescribeConstraint`,
//! `UpdateConstraint`, `DeleteConstraint`, `ListConstraintsForPortfolio`), kept in the
//! portfolio's document; a constraint's id is found by reading the portfolios.
//!
//! Checked as AWS documents them: the type is one of [`TYPES`], the parameters a JSON
//! object, a `LAUNCH` constraint names exactly one of `RoleArn` and `LocalRoleName`, and
//! a product has at most one `LAUNCH` or `STACKSET` constraint in a portfolio; the
//! product must be associated with the portfolio. They are recorded, listed and guard the
//! portfolio's deletion, but a launch here does not assume the `LAUNCH` role nor check
//! `TEMPLATE` rules. Disassociating the product leaves its constraints.

use sagestack_store::CatalogKind;
use serde::Deserialize;
use serde_json::Value;

use super::{Catalog, Result, portfolio_not_found};
use crate::error::ScError;
use crate::model::{Constraint, Portfolio, new_id};

/// The constraint types AWS knows.
pub const TYPES: [&str; 5] = [
    "LAUNCH",
    "NOTIFICATION",
    "RESOURCE_UPDATE",
    "STACKSET",
    "TEMPLATE",
];

/// `CreateConstraint`'s input.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateConstraintInput {
    pub portfolio_id: String,
    pub product_id: String,
    pub parameters: String,
    #[serde(rename = "Type")]
    pub kind: String,
    pub description: Option<String>,
}

/// `UpdateConstraint`'s input.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateConstraintInput {
    pub id: String,
    pub description: Option<String>,
    pub parameters: Option<String>,
}

pub(crate) fn constraint_not_found(id: &str) -> ScError {
    ScError::ResourceNotFound(format!("Constraint {id} not found."))
}

/// The rules of a constraint's type for its parameters.
fn check_parameters(kind: &str, parameters: &str) -> Result<()> {
    let invalid = |why: &str| ScError::InvalidParameters(format!("Invalid parameters: {why}"));
    let Ok(Value::Object(fields)) = serde_json::from_str::<Value>(parameters) else {
        return Err(invalid("the parameters must be a JSON object."));
    };
    match kind {
        "LAUNCH" => {
            let named = ["RoleArn", "LocalRoleName"]
                .iter()
                .filter(|k| {
                    fields
                        .get(**k)
                        .is_some_and(|v| v.as_str().is_some_and(|s| !s.is_empty()))
                })
                .count();
            if named != 1 {
                return Err(invalid(
                    "a LAUNCH constraint needs exactly one of RoleArn and LocalRoleName.",
                ));
            }
        }
        "NOTIFICATION" if !fields.contains_key("NotificationArns") => {
            return Err(invalid("a NOTIFICATION constraint needs NotificationArns."));
        }
        "RESOURCE_UPDATE" if !fields.contains_key("Version") => {
            return Err(invalid("a RESOURCE_UPDATE constraint needs Version."));
        }
        "TEMPLATE" if !fields.contains_key("Rules") => {
            return Err(invalid("a TEMPLATE constraint needs Rules."));
        }
        _ => {}
    }
    Ok(())
}

/// LAUNCH and STACKSET constraints: a product has at most one of them in a portfolio.
fn exclusive(kind: &str) -> bool {
    kind == "LAUNCH" || kind == "STACKSET"
}

impl Catalog {
    pub async fn create_constraint(
        &self,
        input: CreateConstraintInput,
    ) -> Result<(Portfolio, Constraint)> {
        if !TYPES.contains(&input.kind.as_str()) {
            return Err(ScError::InvalidParameters(format!(
                "Invalid constraint type {}: expected one of {}.",
                input.kind,
                TYPES.join(", ")
            )));
        }
        check_parameters(&input.kind, &input.parameters)?;
        self.product(&input.product_id).await?;
        if !self
            .store
            .catalog_portfolios_of(&input.product_id)
            .await?
            .contains(&input.portfolio_id)
        {
            self.portfolio(&input.portfolio_id).await?;
            return Err(ScError::ResourceNotFound(format!(
                "Product {} is not associated with portfolio {}.",
                input.product_id, input.portfolio_id
            )));
        }
        let constraint = Constraint {
            id: new_id("cons-"),
            kind: input.kind.clone(),
            description: input.description.clone().filter(|d| !d.is_empty()),
            owner: self.scope.account_id.clone(),
            product_id: input.product_id.clone(),
            parameters: input.parameters.clone(),
        };
        let added = constraint.clone();
        let p = self
            .modify(
                CatalogKind::Portfolio,
                &input.portfolio_id,
                portfolio_not_found,
                |p: &mut Portfolio| {
                    if exclusive(&added.kind)
                        && p.constraints.iter().any(|c| {
                            c.product_id == added.product_id && exclusive(&c.kind)
                        })
                    {
                        return Err(ScError::DuplicateResource(format!(
                            "Product {} already has a LAUNCH or STACKSET constraint in portfolio {}.",
                            added.product_id, p.id
                        )));
                    }
                    p.constraints.push(added.clone());
                    Ok(())
                },
            )
            .await?;
        Ok((p, constraint))
    }

    /// The constraint with this id and its portfolio.
    pub async fn constraint(&self, id: &str) -> Result<(Portfolio, Constraint)> {
        for p in self.portfolios().await? {
            if let Some(c) = p.constraints.iter().find(|c| c.id == id).cloned() {
                return Ok((p, c));
            }
        }
        Err(constraint_not_found(id))
    }

    pub async fn update_constraint(
        &self,
        input: UpdateConstraintInput,
    ) -> Result<(Portfolio, Constraint)> {
        let (portfolio, current) = self.constraint(&input.id).await?;
        if let Some(parameters) = &input.parameters {
            check_parameters(&current.kind, parameters)?;
        }
        let p = self
            .try_modify(
                CatalogKind::Portfolio,
                &portfolio.id,
                |p: &mut Portfolio| {
                    let c = p
                        .constraints
                        .iter_mut()
                        .find(|c| c.id == input.id)
                        .ok_or_else(|| constraint_not_found(&input.id))?;
                    if let Some(d) = &input.description {
                        c.description = (!d.is_empty()).then(|| d.clone());
                    }
                    if let Some(parameters) = &input.parameters {
                        c.parameters.clone_from(parameters);
                    }
                    Ok(())
                },
            )
            .await?
            .ok_or_else(|| constraint_not_found(&input.id))?;
        let c = p
            .constraints
            .iter()
            .find(|c| c.id == input.id)
            .cloned()
            .ok_or_else(|| constraint_not_found(&input.id))?;
        Ok((p, c))
    }

    pub async fn delete_constraint(&self, id: &str) -> Result<()> {
        let (portfolio, _) = self.constraint(id).await?;
        self.try_modify(
            CatalogKind::Portfolio,
            &portfolio.id,
            |p: &mut Portfolio| {
                let before = p.constraints.len();
                p.constraints.retain(|c| c.id != id);
                if p.constraints.len() == before {
                    return Err(constraint_not_found(id));
                }
                Ok(())
            },
        )
        .await?
        .ok_or_else(|| constraint_not_found(id))?;
        Ok(())
    }

    /// The portfolio's constraints (on `product_id` only, when given), oldest first.
    pub async fn constraints_of(
        &self,
        portfolio_id: &str,
        product_id: Option<&str>,
    ) -> Result<Vec<Constraint>> {
        let p = self.portfolio(portfolio_id).await?;
        Ok(p.constraints
            .into_iter()
            .filter(|c| product_id.is_none_or(|id| c.product_id == id))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_by_type() {
        assert!(check_parameters("LAUNCH", r#"{"RoleArn": "arn:aws:iam::1:role/r"}"#).is_ok());
        assert!(check_parameters("LAUNCH", r#"{"LocalRoleName": "r"}"#).is_ok());
        for (kind, bad) in [
            ("LAUNCH", "{}"),
            ("LAUNCH", r#"{"RoleArn": "a", "LocalRoleName": "r"}"#),
            ("LAUNCH", "not json"),
            ("LAUNCH", "[1]"),
            ("NOTIFICATION", "{}"),
            ("TEMPLATE", r#"{"x": 1}"#),
        ] {
            assert!(
                matches!(
                    check_parameters(kind, bad),
                    Err(ScError::InvalidParameters(_))
                ),
                "{kind} {bad}"
            );
        }
        assert!(check_parameters("TEMPLATE", r#"{"Rules": {}}"#).is_ok());
    }
}
