//! Portfolios: create, change (the native provider's update; the API has no
//! UpdatePortfolio here) and delete; and the tag rules portfolios and products share.
//!
//! A portfolio with products associated cannot be deleted (the store refuses it), so this
//! file never deletes associations on the caller's behalf.

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

    pub async fn delete_portfolio(&self, id: &str) -> Result<()> {
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
