//! Portfolios: create, change (UpdatePortfolio and the native provider's update) and
//! delete; and the tag rules portfolios and products share.
//!
//! A portfolio with products associated cannot be deleted (the store refuses it), nor one
//! with principals or constraints, so this file never deletes associations on the
//! caller's behalf.

use sagestack_store::CatalogKind;
use serde::Deserialize;

use super::{Catalog, MAX_TAGS, Result, portfolio_not_found};
use crate::error::ScError;
use crate::model::{Portfolio, Tag, new_id};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreatePortfolioInput {
    pub display_name: String,
    pub description: Option<String>,
    pub provider_name: String,
    pub tags: Option<Vec<Tag>>,
}

/// `UpdatePortfolio`'s input.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdatePortfolioInput {
    pub id: String,
    pub display_name: Option<String>,
    pub description: Option<String>,
    pub provider_name: Option<String>,
    pub add_tags: Option<Vec<Tag>>,
    pub remove_tags: Option<Vec<String>>,
}

pub(crate) fn too_many_tags() -> ScError {
    ScError::LimitExceeded(format!("A resource can have at most {MAX_TAGS} tags."))
}

/// AWS's tag rules: at most [`MAX_TAGS`], unique keys, no reserved `aws:` keys.
pub(crate) fn check_tags(tags: &[Tag]) -> Result<()> {
    if tags.len() > MAX_TAGS {
        return Err(too_many_tags());
    }
    let mut keys: Vec<&str> = tags.iter().map(|t| t.key.as_str()).collect();
    keys.sort_unstable();
    if keys.windows(2).any(|w| w[0] == w[1]) {
        return Err(ScError::InvalidParameters(
            "Duplicate tag keys are not allowed.".into(),
        ));
    }
    if let Some(t) = tags
        .iter()
        .find(|t| t.key.to_ascii_lowercase().starts_with("aws:"))
    {
        return Err(ScError::InvalidParameters(format!(
            "Tag keys starting with 'aws:' are reserved: {}",
            t.key
        )));
    }
    Ok(())
}

/// `RemoveTags` then `AddTags` (a key in both ends with the added value), by AWS's
/// rules: what is added is checked, and the result holds at most [`MAX_TAGS`].
pub(crate) fn change_tags(
    tags: &mut Vec<Tag>,
    add: Option<&[Tag]>,
    remove: Option<&[String]>,
) -> Result<()> {
    let add = add.unwrap_or_default();
    check_tags(add)?;
    let remove = remove.unwrap_or_default();
    tags.retain(|t| !remove.contains(&t.key));
    for t in add {
        match tags.iter_mut().find(|c| c.key == t.key) {
            Some(c) => c.value.clone_from(&t.value),
            None => tags.push(t.clone()),
        }
    }
    if tags.len() > MAX_TAGS {
        return Err(too_many_tags());
    }
    Ok(())
}

impl Catalog {
    pub async fn create_portfolio(&self, input: CreatePortfolioInput) -> Result<Portfolio> {
        let tags = input.tags.unwrap_or_default();
        check_tags(&tags)?;
        let id = new_id("port-");
        let p = Portfolio {
            arn: self.scope.portfolio_arn(&id),
            id,
            display_name: input.display_name,
            description: input.description,
            provider_name: input.provider_name,
            created_time: self.now(),
            tags,
            principals: Vec::new(),
            constraints: Vec::new(),
        };
        self.insert(CatalogKind::Portfolio, &p.id, None, &p).await?;
        Ok(p)
    }

    /// Changes a portfolio's display name, description, provider or tags.
    pub async fn update_portfolio(
        &self,
        id: &str,
        change: impl Fn(&mut Portfolio),
    ) -> Result<Portfolio> {
        self.modify(CatalogKind::Portfolio, id, portfolio_not_found, |p| {
            change(p);
            Ok(())
        })
        .await
    }

    /// `UpdatePortfolio`: the fields given, and the tags (removed, then added).
    pub async fn change_portfolio(&self, input: UpdatePortfolioInput) -> Result<Portfolio> {
        self.modify(
            CatalogKind::Portfolio,
            &input.id,
            portfolio_not_found,
            |p: &mut Portfolio| {
                if let Some(n) = &input.display_name {
                    p.display_name.clone_from(n);
                }
                if let Some(n) = &input.provider_name {
                    p.provider_name.clone_from(n);
                }
                if let Some(d) = &input.description {
                    // An empty description is none.
                    p.description = (!d.is_empty()).then(|| d.clone());
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

    pub async fn delete_portfolio(&self, id: &str) -> Result<()> {
        let p = self.portfolio(id).await?;
        if !p.principals.is_empty() {
            return Err(ScError::ResourceInUse(format!(
                "Portfolio {id} has principals associated with it. Disassociate them before deleting the portfolio."
            )));
        }
        if !p.constraints.is_empty() {
            return Err(ScError::ResourceInUse(format!(
                "Portfolio {id} has constraints. Delete them before deleting the portfolio."
            )));
        }
        self.delete_unassociated(
            CatalogKind::Portfolio,
            id,
            portfolio_not_found,
            format!(
                "Portfolio {id} has products associated with it. Disassociate them before deleting the portfolio."
            ),
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_rules() {
        let tag = |k: &str| Tag {
            key: k.into(),
            value: "v".into(),
        };
        assert!(check_tags(&[tag("a"), tag("b")]).is_ok());
        assert!(matches!(
            check_tags(&[tag("a"), tag("a")]),
            Err(ScError::InvalidParameters(_))
        ));
        assert!(matches!(
            check_tags(&[tag("aws:x")]),
            Err(ScError::InvalidParameters(_))
        ));
        let many: Vec<Tag> = (0..21).map(|i| tag(&format!("k{i}"))).collect();
        assert!(matches!(check_tags(&many), Err(ScError::LimitExceeded(_))));
    }
}
