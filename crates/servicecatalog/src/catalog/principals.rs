//! The IAM principals given a portfolio (`AssociatePrincipalWithPortfolio`,
//! `DisassociatePrincipalFromPortfolio`, `ListPrincipalsForPortfolio`), kept in the
//! portfolio's document.
//!
//! They are recorded, listed and guard the portfolio's deletion, but grant nothing here:
//! sagestack does not check who may launch a product (every product associated with a
//! portfolio is visible to the end-user calls, see [`super`]).

use sagestack_store::CatalogKind;

use super::{Catalog, Result, portfolio_not_found};
use crate::error::ScError;
use crate::model::{Portfolio, Principal};

/// Principals a portfolio may have (AWS's default quota).
pub const MAX_PRINCIPALS: usize = 100;

/// AWS's forms: `IAM` names a user, group or role of an account
/// (`arn:aws:iam::123456789012:role/name`), `IAM_PATTERN` one with wildcards and no
/// account (`arn:aws:iam:::role/team-*`).
fn check_principal(arn: &str, kind: &str) -> Result<()> {
    let invalid = || ScError::InvalidParameters(format!("Invalid PrincipalARN: {arn}"));
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [prefix, _partition, service, region, account, resource] = parts[..] else {
        return Err(invalid());
    };
    let kinds = ["user/", "group/", "role/"];
    if prefix != "arn" || service != "iam" || !region.is_empty() {
        return Err(invalid());
    }
    if !kinds.iter().any(|k| resource.starts_with(k)) {
        return Err(invalid());
    }
    match kind {
        "IAM" if account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()) => {
            if resource.contains('*') || resource.contains('?') {
                Err(invalid())
            } else {
                Ok(())
            }
        }
        "IAM_PATTERN" if account.is_empty() => Ok(()),
        _ => Err(invalid()),
    }
}

impl Catalog {
    /// Gives `arn` the portfolio; giving it again changes nothing.
    pub async fn associate_principal(
        &self,
        portfolio_id: &str,
        arn: &str,
        kind: &str,
    ) -> Result<()> {
        check_principal(arn, kind)?;
        self.modify(
            CatalogKind::Portfolio,
            portfolio_id,
            portfolio_not_found,
            |p: &mut Portfolio| {
                if p.principals.iter().any(|x| x.arn == arn) {
                    return Ok(());
                }
                if p.principals.len() >= MAX_PRINCIPALS {
                    return Err(ScError::LimitExceeded(format!(
                        "A portfolio can have at most {MAX_PRINCIPALS} principals."
                    )));
                }
                p.principals.push(Principal {
                    arn: arn.to_string(),
                    kind: kind.to_string(),
                });
                Ok(())
            },
        )
        .await?;
        Ok(())
    }

    /// Takes the portfolio from `arn` (of `kind`, when given).
    pub async fn disassociate_principal(
        &self,
        portfolio_id: &str,
        arn: &str,
        kind: Option<&str>,
    ) -> Result<()> {
        self.modify(
            CatalogKind::Portfolio,
            portfolio_id,
            portfolio_not_found,
            |p: &mut Portfolio| {
                let Some(i) = p
                    .principals
                    .iter()
                    .position(|x| x.arn == arn && kind.is_none_or(|k| k == x.kind))
                else {
                    return Err(ScError::ResourceNotFound(format!(
                        "Principal {arn} is not associated with portfolio {portfolio_id}."
                    )));
                };
                p.principals.remove(i);
                Ok(())
            },
        )
        .await?;
        Ok(())
    }

    /// The portfolio's principals, oldest first.
    pub async fn principals(&self, portfolio_id: &str) -> Result<Vec<Principal>> {
        Ok(self.portfolio(portfolio_id).await?.principals)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn principal_forms() {
        assert!(check_principal("arn:aws:iam::123456789012:role/ops", "IAM").is_ok());
        assert!(check_principal("arn:aws:iam::123456789012:user/a/b", "IAM").is_ok());
        assert!(check_principal("arn:aws:iam:::role/team-*", "IAM_PATTERN").is_ok());
        for (arn, kind) in [
            ("arn:aws:iam::123456789012:role/ops", "IAM_PATTERN"),
            ("arn:aws:iam:::role/ops", "IAM"),
            ("arn:aws:iam::123456789012:role/ops-*", "IAM"),
            ("arn:aws:s3:::bucket", "IAM"),
            ("arn:aws:iam::123456789012:policy/p", "IAM"),
            ("role/ops", "IAM"),
        ] {
            assert!(
                matches!(
                    check_principal(arn, kind),
                    Err(ScError::InvalidParameters(_))
                ),
                "{arn} {kind}"
            );
        }
    }
}
