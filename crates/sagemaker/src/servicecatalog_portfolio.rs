//! `EnableSagemakerServicecatalogPortfolio`, `DisableSagemakerServicecatalogPortfolio` and
//! `GetSagemakerServicecatalogPortfolioStatus`.
//!
//! In AWS, enabling shares the "Amazon SageMaker Solutions and ML Ops products" portfolio
//! with the account so SageMaker's own project templates can be launched. sagestack ships
//! no AWS-owned products: the status is a durable account setting (kept with the Service
//! Catalog state, [`sagestack_store::ServiceCatalogStore`]) that tools checking it before
//! creating a Service Catalog project see flip as in AWS. It starts `Disabled`, as for a
//! new AWS account. Projects do not require it to be enabled: the products they launch are
//! the user's own.

use std::sync::Arc;

use sagestack_protocol::JsonOutput;
use sagestack_store::{CatalogKind, CatalogRecord};
use serde_json::{Value, json};

use crate::error::SageMakerError;
use crate::service::SageMakerService;

/// The setting's key among the Service Catalog settings.
pub const SETTING_ID: &str = "sagemaker-servicecatalog-portfolio";

impl SageMakerService {
    /// Stores the status (`true`: `Enabled`).
    pub async fn set_servicecatalog_portfolio(
        &self,
        enabled: bool,
    ) -> Result<JsonOutput, SageMakerError> {
        let record = CatalogRecord {
            id: SETTING_ID.into(),
            name: None,
            version: 1,
            created_micros: crate::projects::now_micros(&*self.projects().clock),
            document: Arc::from(json!({ "Enabled": enabled }).to_string()),
        };
        self.projects()
            .store
            .catalog_put(CatalogKind::Setting, &record)
            .await
            .map_err(|e| SageMakerError::Internal(e.to_string()))?;
        Ok(JsonOutput::Value(json!({})))
    }

    /// `{"Status": "Enabled" | "Disabled"}`.
    pub async fn servicecatalog_portfolio_status(&self) -> Result<JsonOutput, SageMakerError> {
        let enabled = self
            .projects()
            .store
            .catalog_get(CatalogKind::Setting, SETTING_ID)
            .await
            .map_err(|e| SageMakerError::Internal(e.to_string()))?
            .and_then(|r| serde_json::from_str::<Value>(&r.document).ok())
            .and_then(|v| v["Enabled"].as_bool())
            .unwrap_or(false);
        Ok(JsonOutput::Value(json!({
            "Status": if enabled { "Enabled" } else { "Disabled" }
        })))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::NoProvisioner;
    use sagestack_protocol::RequestContext;
    use sagestack_store::{SqliteStore, Store};

    fn status(out: JsonOutput) -> String {
        out.into_value().unwrap()["Status"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// Runs the `flip` operation, if any (no input), and returns the portfolio status it
    /// leaves: every step of the test below is a flip (or none) and the same status read.
    async fn status_after(
        sm: &SageMakerService,
        ctx: &RequestContext,
        flip: Option<&str>,
    ) -> String {
        if let Some(flip) = flip {
            sm.handle(ctx, flip, json!({})).await.unwrap();
        }
        let get = "GetSagemakerServicecatalogPortfolioStatus";
        status(sm.handle(ctx, get, json!({})).await.unwrap())
    }

    #[tokio::test]
    async fn status_starts_disabled_flips_and_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = RequestContext::new("us-east-1", "123456789012");
        {
            let store: Arc<dyn Store> = Arc::new(SqliteStore::open(dir.path()).await.unwrap());
            let sm = crate::testing::api(store.clone(), Arc::new(NoProvisioner));
            assert_eq!(status_after(&sm, &ctx, None).await, "Disabled");
            let enable = "EnableSagemakerServicecatalogPortfolio";
            assert_eq!(status_after(&sm, &ctx, Some(enable)).await, "Enabled");
            let disable = "DisableSagemakerServicecatalogPortfolio";
            assert_eq!(status_after(&sm, &ctx, Some(disable)).await, "Disabled");
            sm.handle(&ctx, enable, json!({})).await.unwrap();
            store.close().await;
        }
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(dir.path()).await.unwrap());
        let sm = crate::testing::api(store.clone(), Arc::new(NoProvisioner));
        assert_eq!(status_after(&sm, &ctx, None).await, "Enabled");
        store.close().await;
    }
}
