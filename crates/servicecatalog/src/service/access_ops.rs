//! Who may launch what, and how: a portfolio's principals and its constraints —
//! decoding the operations' inputs and shaping their answers. What they do is the
//! [`Catalog`]'s ([`crate::catalog::principals`], [`crate::catalog::constraints`]).

use serde::Deserialize;
use serde_json::{Value, json};

use super::{decode, page, unsupported, with_next};
use crate::catalog::{Catalog, Result};
use crate::model::{Constraint, Portfolio};

/// The operations this file answers.
pub const OPERATIONS: &[&str] = &[
    "AssociatePrincipalWithPortfolio",
    "DisassociatePrincipalFromPortfolio",
    "ListPrincipalsForPortfolio",
    "CreateConstraint",
    "DescribeConstraint",
    "UpdateConstraint",
    "DeleteConstraint",
    "ListConstraintsForPortfolio",
];

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PrincipalInput {
    portfolio_id: String,
    #[serde(rename = "PrincipalARN")]
    principal_arn: String,
    principal_type: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PortfolioPageInput {
    portfolio_id: String,
    product_id: Option<String>,
    page_token: Option<String>,
    page_size: Option<i64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct IdInput {
    id: String,
}

/// `Create`/`Describe`/`UpdateConstraint`'s answer.
fn constraint_answer(p: &Portfolio, c: &Constraint) -> Value {
    json!({
        "ConstraintDetail": c.detail(&p.id),
        "ConstraintParameters": c.parameters,
        "Status": "AVAILABLE",
    })
}

/// Runs one of [`OPERATIONS`].
pub(super) async fn call(catalog: &Catalog, operation: &str, input: Value) -> Result<Value> {
    Ok(match operation {
        "AssociatePrincipalWithPortfolio" => {
            let i: PrincipalInput = decode(operation, input)?;
            // The model requires the type; the default only keeps the compiler honest.
            let kind = i.principal_type.as_deref().unwrap_or("IAM");
            catalog
                .associate_principal(&i.portfolio_id, &i.principal_arn, kind)
                .await?;
            json!({})
        }
        "DisassociatePrincipalFromPortfolio" => {
            let i: PrincipalInput = decode(operation, input)?;
            catalog
                .disassociate_principal(
                    &i.portfolio_id,
                    &i.principal_arn,
                    i.principal_type.as_deref(),
                )
                .await?;
            json!({})
        }
        "ListPrincipalsForPortfolio" => {
            let i: PortfolioPageInput = decode(operation, input)?;
            let all = catalog.principals(&i.portfolio_id).await?;
            let (items, next) = page(all, i.page_token.as_deref(), i.page_size)?;
            with_next(json!({ "Principals": items }), next)
        }
        "CreateConstraint" => {
            let (p, c) = catalog.create_constraint(decode(operation, input)?).await?;
            constraint_answer(&p, &c)
        }
        "DescribeConstraint" => {
            let i: IdInput = decode(operation, input)?;
            let (p, c) = catalog.constraint(&i.id).await?;
            constraint_answer(&p, &c)
        }
        "UpdateConstraint" => {
            let (p, c) = catalog.update_constraint(decode(operation, input)?).await?;
            constraint_answer(&p, &c)
        }
        "DeleteConstraint" => {
            let i: IdInput = decode(operation, input)?;
            catalog.delete_constraint(&i.id).await?;
            json!({})
        }
        "ListConstraintsForPortfolio" => {
            let i: PortfolioPageInput = decode(operation, input)?;
            let all = catalog
                .constraints_of(&i.portfolio_id, i.product_id.as_deref())
                .await?;
            let (items, next) = page(all, i.page_token.as_deref(), i.page_size)?;
            with_next(
                json!({
                    "ConstraintDetails": items
                        .iter()
                        .map(|c| c.detail(&i.portfolio_id))
                        .collect::<Vec<_>>()
                }),
                next,
            )
        }
        other => return Err(unsupported(other)),
    })
}
