//! The status history of projects on both SQL backends (table of migration 0009).
//!
//! AWS keeps no history of a project's statuses (DescribeProject shows only the current
//! one), but a user looking at a failed project wants to see what it went through. A
//! row is written in the same transaction as the project update that changed the
//! status ([`crate::ProjectUpdate::status_change`]), so the history never disagrees with
//! the project, and it goes when the project row goes. Rows are keyed by the project's
//! id and version: a re-created name starts a history of its own.

use async_trait::async_trait;
use sqlx::Row;

use crate::batch::Value as V;
use crate::{PostgresStore, SqliteStore, StoreError};

/// A status a project entered (see the module documentation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusChange {
    /// The `ProjectStatus` entered.
    pub status: String,
    /// When, in microseconds since the epoch.
    pub at_micros: i64,
}

/// One row of a project's history: the change and the project version that made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusEntry {
    pub version: i64,
    pub change: StatusChange,
}

/// Reads projects' status histories.
#[async_trait]
pub trait ProjectHistoryStore: Send + Sync {
    /// The newest `limit` changes of the project with id `project_id`, oldest first.
    async fn project_history(
        &self,
        project_id: &str,
        limit: usize,
    ) -> Result<Vec<StatusEntry>, StoreError>;
}

macro_rules! project_history_impl {
    ($store:ty) => {
        #[async_trait]
        impl ProjectHistoryStore for $store {
            async fn project_history(
                &self,
                project_id: &str,
                limit: usize,
            ) -> Result<Vec<StatusEntry>, StoreError> {
                let rows = sqlx::query(
                    "SELECT version, status, at_micros FROM project_history
                     WHERE project_id = $1 ORDER BY version DESC LIMIT $2",
                )
                .bind(project_id)
                .bind(i64::try_from(limit).unwrap_or(i64::MAX))
                .fetch_all(self.reader().await?)
                .await?;
                let mut out = rows
                    .into_iter()
                    .map(|row| {
                        Ok(StatusEntry {
                            version: row.try_get(0)?,
                            change: StatusChange {
                                status: row.try_get(1)?,
                                at_micros: row.try_get(2)?,
                            },
                        })
                    })
                    .collect::<Result<Vec<_>, StoreError>>()?;
                out.reverse();
                Ok(out)
            }
        }
    };
}

project_history_impl!(SqliteStore);
project_history_impl!(PostgresStore);

/// The insert of a history row, with `{}` placeholders (a batched write's template).
pub(crate) const INSERT: &str =
    "INSERT INTO project_history (project_id, version, status, at_micros) VALUES ({}, {}, {}, {})";

/// [`INSERT`]'s values: `change` made by version `version` of project `project_id`.
pub(crate) fn insert_values(project_id: &str, version: i64, change: &StatusChange) -> Vec<V> {
    vec![
        V::Text(project_id.to_string()),
        V::Int(version),
        V::Text(change.status.clone()),
        V::Int(change.at_micros),
    ]
}

/// Removes the history of one project (bind its id); run in the transaction that
/// deletes the project row.
pub(crate) const FORGET: &str = "DELETE FROM project_history WHERE project_id = $1";
