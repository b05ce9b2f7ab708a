//! SSM parameters on both SQL backends (tables of migration 0003).
//!
//! `ssm_parameters` holds the latest version of each parameter (what paths list) and
//! `ssm_parameter_versions` every version kept (what `name:version` reads); a put writes
//! both in one transaction. On PostgreSQL the latest row is locked (`FOR UPDATE`) while
//! the next version number is chosen, so concurrent puts from several replicas get
//! distinct, consecutive versions; SQLite's single connection serialises them anyway.

use std::sync::Arc;

use async_trait::async_trait;
use sqlx::Row;

use crate::{PostgresStore, SqliteStore, StoreError};

/// One version of a parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParameterRecord {
    pub name: String,
    /// 1 for the first put, +1 for each overwrite.
    pub version: i64,
    /// The parameter as a serialized JSON object (opaque to the store).
    pub document: Arc<str>,
}

/// Durable state of SSM Parameter Store. Each method is atomic.
#[async_trait]
pub trait ParameterStore: Send + Sync {
    /// Stores `document` as the next version of `name` and returns that version: 1 for a
    /// new parameter; latest + 1 when it exists and `overwrite` is set, else
    /// [`StoreError::AlreadyExists`]. Versions older than the newest `max_versions` are
    /// dropped.
    async fn put_parameter(
        &self,
        name: &str,
        document: &str,
        overwrite: bool,
        max_versions: i64,
    ) -> Result<i64, StoreError>;

    /// The latest version of `name`, or the given one; `None` when absent.
    async fn get_parameter(
        &self,
        name: &str,
        version: Option<i64>,
    ) -> Result<Option<ParameterRecord>, StoreError>;

    /// Latest versions of the parameters whose name starts with `prefix`, ordered by
    /// name (bytewise), names strictly after `after`, at most `limit`.
    async fn list_parameters(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<ParameterRecord>, StoreError>;

    /// Deletes every version of `name`; false when there was none.
    async fn delete_parameter(&self, name: &str) -> Result<bool, StoreError>;

    /// Replaces the document of version `version` of `name` while that is still the
    /// latest, without making a new version (what belongs to the parameter rather than to
    /// a version: its tags). False when the parameter is gone or has a newer version.
    async fn replace_parameter_document(
        &self,
        name: &str,
        version: i64,
        document: &str,
    ) -> Result<bool, StoreError>;
}

/// Where [`ParameterStore::get_parameter`] finds its answer.
enum ParameterRead<'a, DB: sqlx::Database> {
    /// The parameter does not exist.
    Absent,
    /// The answer, without SQL.
    Latest(ParameterRecord),
    /// Read it from these connections.
    From(&'a sqlx::Pool<DB>),
}

fn record(row: &impl RowExt) -> Result<ParameterRecord, StoreError> {
    Ok(ParameterRecord {
        name: row.text(0)?,
        version: row.int(1)?,
        document: Arc::from(row.text(2)?),
    })
}

/// Column access shared by both backends' rows.
pub(crate) trait RowExt {
    fn text(&self, i: usize) -> Result<String, StoreError>;
    fn int(&self, i: usize) -> Result<i64, StoreError>;
}

impl RowExt for sqlx::sqlite::SqliteRow {
    fn text(&self, i: usize) -> Result<String, StoreError> {
        Ok(self.try_get(i)?)
    }
    fn int(&self, i: usize) -> Result<i64, StoreError> {
        Ok(self.try_get(i)?)
    }
}

impl RowExt for sqlx::postgres::PgRow {
    fn text(&self, i: usize) -> Result<String, StoreError> {
        Ok(self.try_get(i)?)
    }
    fn int(&self, i: usize) -> Result<i64, StoreError> {
        Ok(self.try_get(i)?)
    }
}

/// `$lock` locks the latest row (`FOR UPDATE` on PostgreSQL); `$collate` makes text
/// order bytewise.
macro_rules! parameter_store_impl {
    ($store:ty, $collate:literal) => {
        #[async_trait]
        impl ParameterStore for $store {
            async fn put_parameter(
                &self,
                name: &str,
                document: &str,
                overwrite: bool,
                max_versions: i64,
            ) -> Result<i64, StoreError> {
                self.put_parameter_backend(name, document, overwrite, max_versions)
                    .await
            }

            async fn get_parameter(
                &self,
                name: &str,
                version: Option<i64>,
            ) -> Result<Option<ParameterRecord>, StoreError> {
                let reader = match self.parameter_reader(name, version).await? {
                    ParameterRead::Absent => return Ok(None),
                    ParameterRead::Latest(record) => return Ok(Some(record)),
                    ParameterRead::From(pool) => pool,
                };
                let row =
                    match version {
                        None => sqlx::query(
                            "SELECT name, version, document FROM ssm_parameters WHERE name = $1",
                        )
                        .bind(name)
                        .fetch_optional(reader)
                        .await?,
                        Some(v) => {
                            sqlx::query(
                                "SELECT name, version, document FROM ssm_parameter_versions
                             WHERE name = $1 AND version = $2",
                            )
                            .bind(name)
                            .bind(v)
                            .fetch_optional(reader)
                            .await?
                        }
                    };
                row.as_ref().map(record).transpose()
            }

            async fn list_parameters(
                &self,
                prefix: &str,
                after: Option<&str>,
                limit: usize,
            ) -> Result<Vec<ParameterRecord>, StoreError> {
                let rows = sqlx::query(concat!(
                    "SELECT name, version, document FROM ssm_parameters
                     WHERE substr(name, 1, length($1)) = $1 AND ($2 IS NULL OR name",
                    $collate,
                    " > $2) ORDER BY name",
                    $collate,
                    " LIMIT $3"
                ))
                .bind(prefix)
                .bind(after)
                .bind(i64::try_from(limit).unwrap_or(i64::MAX))
                .fetch_all(self.reader().await?)
                .await?;
                rows.iter().map(record).collect()
            }

            async fn delete_parameter(&self, name: &str) -> Result<bool, StoreError> {
                self.delete_parameter_backend(name).await
            }

            async fn replace_parameter_document(
                &self,
                name: &str,
                version: i64,
                document: &str,
            ) -> Result<bool, StoreError> {
                self.replace_parameter_document_backend(name, version, document)
                    .await
            }
        }
    };
}

parameter_store_impl!(SqliteStore, "");
parameter_store_impl!(PostgresStore, " COLLATE \"C\"");

impl PostgresStore {
    /// Several replicas may put the same name at once: the row is locked (`FOR UPDATE`)
    /// for the read-then-write.
    async fn put_parameter_backend(
        &self,
        name: &str,
        document: &str,
        overwrite: bool,
        max_versions: i64,
    ) -> Result<i64, StoreError> {
        // A first put racing another first put of the same name (PostgreSQL,
        // several replicas) inserts nothing and goes round again as an overwrite
        // attempt, which then sees the winner's row.
        for _ in 0..3 {
            let mut tx = self.writer().await?.begin().await?;
            let current: Option<i64> = sqlx::query_scalar(concat!(
                "SELECT version FROM ssm_parameters WHERE name = $1",
                " FOR UPDATE"
            ))
            .bind(name)
            .fetch_optional(&mut *tx)
            .await?;
            let version = match current {
                Some(_) if !overwrite => return Err(StoreError::AlreadyExists),
                Some(v) => {
                    sqlx::query(
                        "UPDATE ssm_parameters SET version = $1, document = $2 WHERE name = $3",
                    )
                    .bind(v + 1)
                    .bind(document)
                    .bind(name)
                    .execute(&mut *tx)
                    .await?;
                    v + 1
                }
                None => {
                    let inserted = sqlx::query(
                        "INSERT INTO ssm_parameters (name, version, document) VALUES ($1, 1, $2)
                         ON CONFLICT (name) DO NOTHING",
                    )
                    .bind(name)
                    .bind(document)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                    if inserted == 0 {
                        if !overwrite {
                            return Err(StoreError::AlreadyExists);
                        }
                        continue;
                    }
                    1
                }
            };
            sqlx::query(
                "INSERT INTO ssm_parameter_versions (name, version, document) VALUES ($1, $2, $3)",
            )
            .bind(name)
            .bind(version)
            .bind(document)
            .execute(&mut *tx)
            .await?;
            sqlx::query("DELETE FROM ssm_parameter_versions WHERE name = $1 AND version <= $2")
                .bind(name)
                .bind(version - max_versions.max(1))
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            self.durable().await?;
            return Ok(version);
        }
        Err(StoreError::Conflict)
    }

    /// Both rows in one transaction; the latest row's version is the condition, so a
    /// concurrent put (which changes it under its row lock) makes this one a no-op.
    async fn replace_parameter_document_backend(
        &self,
        name: &str,
        version: i64,
        document: &str,
    ) -> Result<bool, StoreError> {
        let mut tx = self.writer().await?.begin().await?;
        let replaced =
            sqlx::query("UPDATE ssm_parameters SET document = $1 WHERE name = $2 AND version = $3")
                .bind(document)
                .bind(name)
                .bind(version)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        if replaced == 0 {
            return Ok(false);
        }
        sqlx::query(
            "UPDATE ssm_parameter_versions SET document = $1 WHERE name = $2 AND version = $3",
        )
        .bind(document)
        .bind(name)
        .bind(version)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.durable().await?;
        Ok(true)
    }

    /// The pool a read of parameter `name` goes to.
    async fn parameter_reader(
        &self,
        _name: &str,
        _version: Option<i64>,
    ) -> Result<ParameterRead<'_, sqlx::Postgres>, StoreError> {
        Ok(ParameterRead::From(&self.read_pool))
    }

    async fn delete_parameter_backend(&self, name: &str) -> Result<bool, StoreError> {
        let mut tx = self.writer().await?.begin().await?;
        let deleted = sqlx::query("DELETE FROM ssm_parameters WHERE name = $1")
            .bind(name)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        sqlx::query("DELETE FROM ssm_parameter_versions WHERE name = $1")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.durable().await?;
        Ok(deleted > 0)
    }
}

static PARAMETER_DELETES: crate::batch::SharedRows =
    crate::batch::shared_delete!("ssm_parameters", "name");
static VERSION_DELETES: crate::batch::SharedRows =
    crate::batch::shared_delete!("ssm_parameter_versions", "name");

impl SqliteStore {
    /// One process writes: under the name's lock ([`SqliteStore::name_lock`], which every
    /// write of the parameter holds) the current version comes from the names in memory
    /// ([`crate::sqlite::Names`]), then the whole put goes to the write combiner as one
    /// write (queued behind inside a stack operation), instead of a six-round-trip
    /// transaction on the writer connection. Puts of different names share commits.
    async fn put_parameter_backend(
        &self,
        name: &str,
        document: &str,
        overwrite: bool,
        max_versions: i64,
    ) -> Result<i64, StoreError> {
        use crate::batch::{Value as BV, Write};
        let lock = self.name_lock(&format!("ssm:{name}")).await;
        let current = self.names().parameters.get(name).map(|p| p.version);
        let version = match current {
            Some(_) if !overwrite => return Err(StoreError::AlreadyExists),
            Some(v) => v + 1,
            None => 1,
        };
        let upsert = if current.is_some() {
            "UPDATE ssm_parameters SET version = {}, document = {} WHERE name = {}"
        } else {
            "INSERT INTO ssm_parameters (version, document, name) VALUES ({}, {}, {})"
        };
        let write = Write {
            statements: vec![
                (upsert.into(), 3),
                (
                    "INSERT INTO ssm_parameter_versions (name, version, document)
                     VALUES ({}, {}, {})"
                        .into(),
                    3,
                ),
                (
                    "DELETE FROM ssm_parameter_versions WHERE name = {} AND version <= {}".into(),
                    2,
                ),
            ],
            values: vec![
                BV::Int(version),
                BV::Text(document.to_string()),
                BV::Text(name.to_string()),
                BV::Text(name.to_string()),
                BV::Int(version),
                BV::Text(document.to_string()),
                BV::Text(name.to_string()),
                BV::Int(version - max_versions.max(1)),
            ],
            rows: Vec::new(),
        };
        self.write_latest_parameter(lock, write, name, version, document)
            .await?;
        Ok(version)
    }

    /// Under the name's lock: whether it exists (the names in memory), then both deletes
    /// as one write through the combiner.
    async fn delete_parameter_backend(&self, name: &str) -> Result<bool, StoreError> {
        use crate::batch::{Value as BV, Write};
        let _w = self.name_lock(&format!("ssm:{name}")).await;
        if !self.names().parameters.contains_key(name) {
            return Ok(false);
        }
        // Shared deletes: a batch's deleted parameters go in one statement per table.
        let write = Write::shared(vec![
            (&PARAMETER_DELETES, vec![BV::Text(name.to_string())]),
            (&VERSION_DELETES, vec![BV::Text(name.to_string())]),
        ]);
        self.submit(write).await?;
        self.names().parameters.remove(name);
        drop(_w);
        self.durable().await?;
        Ok(true)
    }

    /// Under the name's lock: whether `version` is still the latest (the names in memory),
    /// then both updates as one write through the combiner.
    async fn replace_parameter_document_backend(
        &self,
        name: &str,
        version: i64,
        document: &str,
    ) -> Result<bool, StoreError> {
        use crate::batch::{Value as BV, Write};
        let lock = self.name_lock(&format!("ssm:{name}")).await;
        if self.names().parameters.get(name).map(|p| p.version) != Some(version) {
            return Ok(false);
        }
        let write = Write {
            statements: vec![
                (
                    "UPDATE ssm_parameters SET document = {} WHERE name = {}".into(),
                    2,
                ),
                (
                    "UPDATE ssm_parameter_versions SET document = {} WHERE name = {} AND version = {}"
                        .into(),
                    3,
                ),
            ],
            values: vec![
                BV::Text(document.to_string()),
                BV::Text(name.to_string()),
                BV::Text(document.to_string()),
                BV::Text(name.to_string()),
                BV::Int(version),
            ],
            rows: Vec::new(),
        };
        self.write_latest_parameter(lock, write, name, version, document)
            .await?;
        Ok(true)
    }

    /// Submits `write`, which makes `version` (with `document`) the latest of `name`, records
    /// that in the names in memory, then releases the name's lock (`lock`) and waits for
    /// the write to be durable.
    async fn write_latest_parameter(
        &self,
        lock: tokio::sync::MutexGuard<'_, ()>,
        write: crate::batch::Write,
        name: &str,
        version: i64,
        document: &str,
    ) -> Result<(), StoreError> {
        let position = self.submit_at(write).await?;
        let latest = crate::sqlite::LatestParameter {
            version,
            document: Arc::from(document),
            position,
        };
        self.names().parameters.insert(name.to_string(), latest);
        drop(lock);
        self.durable().await
    }

    /// A read of the latest version (or of the version that is the latest) is answered
    /// from the names in memory, like the absence of a parameter (queued deletes
    /// included). An older version is read from the tables once the parameter's last
    /// write has committed (when it was queued behind), without waiting for the rest of
    /// the queue.
    async fn parameter_reader(
        &self,
        name: &str,
        version: Option<i64>,
    ) -> Result<ParameterRead<'_, sqlx::Sqlite>, StoreError> {
        let position = {
            let names = self.names();
            let Some(latest) = names.parameters.get(name) else {
                return Ok(ParameterRead::Absent);
            };
            if version.is_none_or(|v| v == latest.version) {
                return Ok(ParameterRead::Latest(ParameterRecord {
                    name: name.to_string(),
                    version: latest.version,
                    document: latest.document.clone(),
                }));
            }
            latest.position
        };
        if position > 0 {
            self.batcher
                .settle_to(position)
                .await
                .map_err(|e| StoreError::Backend(e.message))?;
        }
        Ok(ParameterRead::From(&self.read_pool))
    }
}
