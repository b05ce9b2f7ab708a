//! Reserved concurrency (`PutFunctionConcurrency`, `GetFunctionConcurrency`,
//! `DeleteFunctionConcurrency`): a number kept in the function's document and answered by
//! `GetFunction`'s `Concurrency`, checked as Lambda checks it against the account's
//! concurrency (AWS's default of 1,000, of which 100 stay unreserved). It is recorded,
//! not enforced: invocations are bounded by the executor's worker limits.

use sagestack_store::{CatalogCursor, CatalogKind};

use crate::error::{LambdaError, Result};
use crate::functions::Functions;
use crate::model::FunctionRecord;

/// The account's concurrent executions (AWS's default quota).
pub const ACCOUNT_CONCURRENCY: i64 = 1000;
/// What reservations must leave to the functions without one.
pub const MIN_UNRESERVED: i64 = 100;
/// Documents read per page when summing the account's reservations.
const PAGE: usize = 500;

impl Functions {
    /// GetFunctionConcurrency: the reservation, if any.
    pub async fn reserved_concurrency(&self, name: &str) -> Result<Option<i64>> {
        Ok(self.get(name).await?.reserved_concurrency)
    }

    /// PutFunctionConcurrency: reserves `reserved` for the function, if the account's
    /// other reservations leave room for it.
    pub async fn put_concurrency(&self, name: &str, reserved: i64) -> Result<i64> {
        self.get(name).await?;
        let others = self.reserved_by_others(name).await?;
        if others + reserved > ACCOUNT_CONCURRENCY - MIN_UNRESERVED {
            return Err(LambdaError::InvalidParameterValue(format!(
                "Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [{MIN_UNRESERVED}]."
            )));
        }
        self.modify(name, |record| {
            record.reserved_concurrency = Some(reserved);
            Ok(reserved)
        })
        .await
    }

    /// DeleteFunctionConcurrency: the function goes back to the unreserved pool
    /// (succeeds when there was no reservation, as Lambda does).
    pub async fn delete_concurrency(&self, name: &str) -> Result<()> {
        self.modify(name, |record| {
            record.reserved_concurrency = None;
            Ok(())
        })
        .await
    }

    /// The reservations of every function of the account but `name`.
    async fn reserved_by_others(&self, name: &str) -> Result<i64> {
        let mut total = 0;
        let mut after: Option<CatalogCursor> = None;
        loop {
            let page = self
                .store()
                .catalog_list(CatalogKind::LambdaFunction, after.as_ref(), PAGE)
                .await?;
            for doc in &page {
                if doc.id == name {
                    continue;
                }
                let record: FunctionRecord = serde_json::from_str(&doc.document)
                    .map_err(|e| LambdaError::Service(e.to_string()))?;
                total += record.reserved_concurrency.unwrap_or(0);
            }
            match page.last() {
                Some(last) if page.len() == PAGE => {
                    after = Some(CatalogCursor {
                        created_micros: last.created_micros,
                        id: last.id.clone(),
                    });
                }
                _ => return Ok(total),
            }
        }
    }
}
