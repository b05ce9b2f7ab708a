//! Service Catalog state on both SQL backends (tables of migration 0005).
//!
//! Every Service Catalog object (portfolio, product with its provisioning artifacts,
//! provisioned product, record, service setting) is one opaque JSON document in
//! `sc_documents`, keyed by its [`CatalogKind`] and id, with an optimistic-concurrency
//! version. A product's artifacts live inside the product's document: they are few (AWS
//! allows 100 per product), are always read with their product, and an artifact change
//! must be atomic with the product's view of "the latest active artifact".
//!
//! `sc_portfolio_products` holds the portfolio-product associations (a product's launch
//! paths). Deleting a portfolio or a product that still has associations is refused in
//! the same transaction that would delete it, so a concurrent association cannot leave a
//! dangling row.

use std::sync::Arc;

use async_trait::async_trait;
use sqlx::Row;

use crate::{PostgresStore, SqliteStore, StoreError};

/// What a stored Service Catalog document is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CatalogKind {
    Portfolio,
    Product,
    ProvisionedProduct,
    Record,
    /// Service-wide settings (e.g. SageMaker's portfolio status), keyed by name.
    Setting,
    /// A Lambda function (configuration, versions, aliases, policy, tags), keyed by name.
    /// The table is the document store of every service whose state is a few JSON
    /// documents; Service Catalog was its first user.
    LambdaFunction,
    /// A Lambda deployment package (the zip, base64), keyed by its SHA-256 in hex.
    LambdaCode,
    /// A CloudWatch Logs log group (`sagestack-logs`), keyed by its name.
    LogGroup,
    /// A SageMaker model package (`sagestack-sagemaker`), keyed by what follows
    /// `model-package/` in its ARN.
    ModelPackage,
    /// A CodePipeline pipeline (`sagestack-codepipeline`), keyed by its name.
    Pipeline,
    /// A CodePipeline execution, keyed by `{pipeline}/{execution id}`.
    PipelineExecution,
    /// A CodeBuild project (`sagestack-codebuild`), keyed by its name.
    BuildProject,
    /// A CodeBuild build, keyed by its id (`{project}:{uuid}`).
    Build,
    /// An EventBridge event bus (`sagestack-events`), keyed by its name.
    EventBus,
    /// An EventBridge rule, keyed by `{bus}/{rule name}`.
    EventRule,
    /// A batch of matched events awaiting delivery (EventBridge's outbox), keyed by a
    /// time-ordered id; deleted once every delivery in it is done or given up.
    EventOutbox,
}

impl CatalogKind {
    /// The `kind` column value.
    pub fn as_str(self) -> &'static str {
        match self {
            CatalogKind::Portfolio => "portfolio",
            CatalogKind::Product => "product",
            CatalogKind::ProvisionedProduct => "provisioned-product",
            CatalogKind::Record => "record",
            CatalogKind::Setting => "setting",
            CatalogKind::LambdaFunction => "lambda-function",
            CatalogKind::LambdaCode => "lambda-code",
            CatalogKind::LogGroup => "log-group",
            CatalogKind::ModelPackage => "model-package",
            CatalogKind::Pipeline => "codepipeline-pipeline",
            CatalogKind::PipelineExecution => "codepipeline-execution",
            CatalogKind::BuildProject => "codebuild-project",
            CatalogKind::Build => "codebuild-build",
            CatalogKind::EventBus => "events-bus",
            CatalogKind::EventRule => "events-rule",
            CatalogKind::EventOutbox => "events-outbox",
        }
    }
}

/// One stored document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogRecord {
    /// Unique within its kind.
    pub id: String,
    /// Unique within its kind when set (provisioned product names); `None` otherwise.
    pub name: Option<String>,
    /// 1 when created, +1 on every update.
    pub version: i64,
    /// Creation time in microseconds since the epoch (the listing order, ties by id).
    pub created_micros: i64,
    /// The object as a serialized JSON object (opaque to the store).
    pub document: Arc<str>,
}

/// Where the previous page of [`ServiceCatalogStore::catalog_list`] ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogCursor {
    pub created_micros: i64,
    pub id: String,
}

/// Durable state of Service Catalog. Each method is atomic.
#[async_trait]
pub trait ServiceCatalogStore: Send + Sync {
    /// Stores a new document. [`StoreError::AlreadyExists`] if the id, or the name when
    /// set, is taken within the kind.
    async fn catalog_insert(
        &self,
        kind: CatalogKind,
        record: &CatalogRecord,
    ) -> Result<(), StoreError>;

    async fn catalog_get(
        &self,
        kind: CatalogKind,
        id: &str,
    ) -> Result<Option<CatalogRecord>, StoreError>;

    /// The document whose unique name is `name`.
    async fn catalog_get_by_name(
        &self,
        kind: CatalogKind,
        name: &str,
    ) -> Result<Option<CatalogRecord>, StoreError>;

    /// Replaces the document `record.id` if its stored version is `expected_version`
    /// ([`StoreError::Conflict`] otherwise, [`StoreError::NotFound`] if absent).
    /// `record.version` must be `expected_version + 1`; name and creation time are kept.
    async fn catalog_update(
        &self,
        kind: CatalogKind,
        record: &CatalogRecord,
        expected_version: i64,
    ) -> Result<(), StoreError>;

    /// Inserts or replaces a document regardless of its version (settings).
    async fn catalog_put(
        &self,
        kind: CatalogKind,
        record: &CatalogRecord,
    ) -> Result<(), StoreError>;

    /// Deletes the document; returns what was deleted. A portfolio or product that still
    /// has portfolio-product associations is not deleted: [`StoreError::Conflict`].
    async fn catalog_delete(
        &self,
        kind: CatalogKind,
        id: &str,
    ) -> Result<Option<CatalogRecord>, StoreError>;

    /// Up to `limit` documents of a kind by creation time then id, strictly after `after`.
    async fn catalog_list(
        &self,
        kind: CatalogKind,
        after: Option<&CatalogCursor>,
        limit: usize,
    ) -> Result<Vec<CatalogRecord>, StoreError>;

    /// Associates a product with a portfolio; false if it already was.
    /// [`StoreError::NotFound`] if either is not stored.
    async fn catalog_associate(
        &self,
        portfolio_id: &str,
        product_id: &str,
        created_micros: i64,
    ) -> Result<bool, StoreError>;

    /// Removes an association; false if there was none.
    async fn catalog_disassociate(
        &self,
        portfolio_id: &str,
        product_id: &str,
    ) -> Result<bool, StoreError>;

    /// The portfolios holding `product_id`, oldest association first.
    async fn catalog_portfolios_of(&self, product_id: &str) -> Result<Vec<String>, StoreError>;

    /// The changes to EventBridge's buses and rules committed by any process sharing this
    /// database (see `changes.rs`), for a cache of them; `None` where no other process
    /// can write (the embedded store).
    fn catalog_changes(&self) -> Option<tokio::sync::broadcast::Receiver<crate::CatalogChange>> {
        None
    }

    /// The products `portfolio_id` holds, oldest association first.
    async fn catalog_products_of(&self, portfolio_id: &str) -> Result<Vec<String>, StoreError>;
}

/// Every document of `kind`, by creation time then id (read a page of 1,000 at a time):
/// for services whose documents are few enough to list whole.
pub async fn catalog_all(
    store: &dyn ServiceCatalogStore,
    kind: CatalogKind,
) -> Result<Vec<CatalogRecord>, StoreError> {
    const PAGE: usize = 1000;
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let page = store.catalog_list(kind, after.as_ref(), PAGE).await?;
        let full = page.len() == PAGE;
        after = page.last().map(|last| CatalogCursor {
            created_micros: last.created_micros,
            id: last.id.clone(),
        });
        out.extend(page);
        if !full {
            return Ok(out);
        }
    }
}

/// How [`catalog_modify`] ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Modified<T> {
    /// The change was written, as this version.
    Written(T, i64),
    /// There is no such document (there was none, or it was deleted meanwhile).
    Gone,
    /// Every attempt lost its race with another writer.
    Contended,
}

/// The read-modify-write of one document under optimistic concurrency, as every service
/// keeping documents here does it: reads the document `id` of `kind`, lets `change` say
/// what it becomes (a value of the caller's and its new JSON document), and writes that
/// as the next version if the stored version did not move meanwhile; else reads again
/// and retries, `attempts` times in all. `change` runs once per attempt, on what was
/// read; its error ends the modification unwritten.
pub async fn catalog_modify<T, E: From<StoreError>>(
    store: &dyn ServiceCatalogStore,
    kind: CatalogKind,
    id: &str,
    attempts: usize,
    mut change: impl FnMut(&CatalogRecord) -> Result<(T, Arc<str>), E>,
) -> Result<Modified<T>, E> {
    for _ in 0..attempts {
        let Some(stored) = store.catalog_get(kind, id).await? else {
            return Ok(Modified::Gone);
        };
        let (value, document) = change(&stored)?;
        let expected = stored.version;
        let next = CatalogRecord {
            version: expected + 1,
            document,
            ..stored
        };
        match store.catalog_update(kind, &next, expected).await {
            Ok(()) => return Ok(Modified::Written(value, next.version)),
            Err(StoreError::Conflict) => continue,
            Err(StoreError::NotFound) => return Ok(Modified::Gone),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(Modified::Contended)
}

fn record<R: Row>(row: &R) -> Result<CatalogRecord, StoreError>
where
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Option<String>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    usize: sqlx::ColumnIndex<R>,
{
    Ok(CatalogRecord {
        id: row.try_get(0)?,
        name: row.try_get(1)?,
        version: row.try_get(2)?,
        created_micros: row.try_get(3)?,
        document: Arc::from(row.try_get::<String, _>(4)?),
    })
}

/// The columns [`record`] reads, as a literal for `concat!` (sqlx takes only static SQL).
macro_rules! columns {
    () => {
        "SELECT id, name, version, created_micros, document FROM sc_documents"
    };
}

/// The start of an insert of a whole [`CatalogRecord`] (bound in `sc_write`'s order),
/// for `concat!`: its `VALUES` list is left open for the caller's `)`.
macro_rules! insert {
    () => {
        "INSERT INTO sc_documents (kind, id, name, version, created_micros, document)
                     VALUES ($1, $2, $3, $4, $5, $6"
    };
}

/// `$collate` makes id order bytewise.
macro_rules! catalog_store_impl {
    ($store:ty, $collate:literal) => {
        /// The statements the operations below share, differing only in their SQL.
        impl $store {
            /// Writes `record` of `kind` by `sql` (an `insert!` statement), then flushes.
            async fn sc_write(
                &self,
                sql: &'static str,
                kind: CatalogKind,
                record: &CatalogRecord,
            ) -> Result<(), StoreError> {
                sqlx::query(sql)
                    .bind(kind.as_str())
                    .bind(&record.id)
                    .bind(&record.name)
                    .bind(record.version)
                    .bind(record.created_micros)
                    .bind(&*record.document)
                    .execute(self.writer().await?)
                    .await?;
                self.durable().await
            }

            /// The record of `kind` that `sql` (`columns!` and a filter on `$1` = kind,
            /// `$2` = `key`) finds, if any.
            async fn sc_one(
                &self,
                sql: &'static str,
                kind: CatalogKind,
                key: &str,
            ) -> Result<Option<CatalogRecord>, StoreError> {
                let row = sqlx::query(sql)
                    .bind(kind.as_str())
                    .bind(key)
                    .fetch_optional(&self.read_pool)
                    .await?;
                row.as_ref().map(record).transpose()
            }

            /// The ids `sql` lists for `id` (the other side of its associations).
            async fn sc_ids(&self, sql: &'static str, id: &str) -> Result<Vec<String>, StoreError> {
                Ok(sqlx::query_scalar(sql)
                    .bind(id)
                    .fetch_all(&self.read_pool)
                    .await?)
            }
        }

        #[async_trait]
        impl ServiceCatalogStore for $store {
            fn catalog_changes(
                &self,
            ) -> Option<tokio::sync::broadcast::Receiver<crate::CatalogChange>> {
                self.document_changes()
            }

            async fn catalog_insert(
                &self,
                kind: CatalogKind,
                record: &CatalogRecord,
            ) -> Result<(), StoreError> {
                self.sc_write(concat!(insert!(), ")"), kind, record).await
            }

            async fn catalog_get(
                &self,
                kind: CatalogKind,
                id: &str,
            ) -> Result<Option<CatalogRecord>, StoreError> {
                let sql = concat!(columns!(), " WHERE kind = $1 AND id = $2");
                self.sc_one(sql, kind, id).await
            }

            async fn catalog_get_by_name(
                &self,
                kind: CatalogKind,
                name: &str,
            ) -> Result<Option<CatalogRecord>, StoreError> {
                let sql = concat!(columns!(), " WHERE kind = $1 AND name = $2");
                self.sc_one(sql, kind, name).await
            }

            async fn catalog_update(
                &self,
                kind: CatalogKind,
                record: &CatalogRecord,
                expected_version: i64,
            ) -> Result<(), StoreError> {
                let mut tx = self.writer().await?.begin().await?;
                let changed = sqlx::query(
                    "UPDATE sc_documents SET version = $1, document = $2
                     WHERE kind = $3 AND id = $4 AND version = $5",
                )
                .bind(record.version)
                .bind(&*record.document)
                .bind(kind.as_str())
                .bind(&record.id)
                .bind(expected_version)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if changed == 0 {
                    let exists: Option<i64> = sqlx::query_scalar(
                        "SELECT version FROM sc_documents WHERE kind = $1 AND id = $2",
                    )
                    .bind(kind.as_str())
                    .bind(&record.id)
                    .fetch_optional(&mut *tx)
                    .await?;
                    return Err(match exists {
                        Some(_) => StoreError::Conflict,
                        None => StoreError::NotFound,
                    });
                }
                tx.commit().await?;
                self.durable().await
            }

            async fn catalog_put(
                &self,
                kind: CatalogKind,
                record: &CatalogRecord,
            ) -> Result<(), StoreError> {
                let sql = concat!(
                    insert!(),
                    ") ON CONFLICT (kind, id) DO UPDATE
                     SET version = sc_documents.version + 1, document = excluded.document"
                );
                self.sc_write(sql, kind, record).await
            }

            async fn catalog_delete(
                &self,
                kind: CatalogKind,
                id: &str,
            ) -> Result<Option<CatalogRecord>, StoreError> {
                let mut tx = self.writer().await?.begin().await?;
                let uses = match kind {
                    CatalogKind::Portfolio => {
                        Some("SELECT COUNT(*) FROM sc_portfolio_products WHERE portfolio_id = $1")
                    }
                    CatalogKind::Product => {
                        Some("SELECT COUNT(*) FROM sc_portfolio_products WHERE product_id = $1")
                    }
                    _ => None,
                };
                if let Some(uses) = uses {
                    let used: i64 = sqlx::query_scalar(uses)
                    .bind(id)
                    .fetch_one(&mut *tx)
                    .await?;
                    if used > 0 {
                        return Err(StoreError::Conflict);
                    }
                }
                let row = sqlx::query(concat!(columns!(), " WHERE kind = $1 AND id = $2"))
                    .bind(kind.as_str())
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?;
                let Some(found) = row.as_ref().map(record).transpose()? else {
                    return Ok(None);
                };
                sqlx::query("DELETE FROM sc_documents WHERE kind = $1 AND id = $2")
                    .bind(kind.as_str())
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                self.durable().await?;
                Ok(Some(found))
            }

            async fn catalog_list(
                &self,
                kind: CatalogKind,
                after: Option<&CatalogCursor>,
                limit: usize,
            ) -> Result<Vec<CatalogRecord>, StoreError> {
                let (micros, id) = match after {
                    Some(c) => (Some(c.created_micros), Some(c.id.as_str())),
                    None => (None, None),
                };
                let rows = sqlx::query(concat!(
                    columns!(),
                    " WHERE kind = $1 AND ($2 IS NULL OR created_micros > $2
                       OR (created_micros = $2 AND id",
                    $collate,
                    " > $3)) ORDER BY created_micros, id",
                    $collate,
                    " LIMIT $4"
                ))
                .bind(kind.as_str())
                .bind(micros)
                .bind(id)
                .bind(i64::try_from(limit).unwrap_or(i64::MAX))
                .fetch_all(&self.read_pool)
                .await?;
                rows.iter().map(record).collect()
            }

            async fn catalog_associate(
                &self,
                portfolio_id: &str,
                product_id: &str,
                created_micros: i64,
            ) -> Result<bool, StoreError> {
                let mut tx = self.writer().await?.begin().await?;
                let found: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM sc_documents
                     WHERE (kind = 'portfolio' AND id = $1) OR (kind = 'product' AND id = $2)",
                )
                .bind(portfolio_id)
                .bind(product_id)
                .fetch_one(&mut *tx)
                .await?;
                if found != 2 {
                    return Err(StoreError::NotFound);
                }
                let inserted = sqlx::query(
                    "INSERT INTO sc_portfolio_products (portfolio_id, product_id, created_micros)
                     VALUES ($1, $2, $3) ON CONFLICT (portfolio_id, product_id) DO NOTHING",
                )
                .bind(portfolio_id)
                .bind(product_id)
                .bind(created_micros)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                tx.commit().await?;
                self.durable().await?;
                Ok(inserted > 0)
            }

            async fn catalog_disassociate(
                &self,
                portfolio_id: &str,
                product_id: &str,
            ) -> Result<bool, StoreError> {
                let deleted = sqlx::query(
                    "DELETE FROM sc_portfolio_products WHERE portfolio_id = $1 AND product_id = $2",
                )
                .bind(portfolio_id)
                .bind(product_id)
                .execute(self.writer().await?)
                .await?
                .rows_affected();
                self.durable().await?;
                Ok(deleted > 0)
            }

            async fn catalog_portfolios_of(
                &self,
                product_id: &str,
            ) -> Result<Vec<String>, StoreError> {
                let sql = concat!(
                    "SELECT portfolio_id FROM sc_portfolio_products WHERE product_id = $1
                     ORDER BY created_micros, portfolio_id",
                    $collate
                );
                self.sc_ids(sql, product_id).await
            }

            async fn catalog_products_of(
                &self,
                portfolio_id: &str,
            ) -> Result<Vec<String>, StoreError> {
                let sql = concat!(
                    "SELECT product_id FROM sc_portfolio_products WHERE portfolio_id = $1
                     ORDER BY created_micros, product_id",
                    $collate
                );
                self.sc_ids(sql, portfolio_id).await
            }
        }
    };
}

catalog_store_impl!(SqliteStore, "");
catalog_store_impl!(PostgresStore, " COLLATE \"C\"");
