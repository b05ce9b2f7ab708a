//! The shared backend: PostgreSQL. Several sagestack replicas may use one database,
//! so every read goes to the database (no cache), and conflicting writes are decided
//! by the database (unique keys, `version` checks, row locks).

use std::str::FromStr;
use std::sync::Arc;

use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::{AssertSqlSafe, Postgres, QueryBuilder, Row};

use crate::keyset::push_page;
use crate::migrate::{self, POSTGRES};
use crate::project_history;
use crate::{ProjectQuery, ProjectRecord, ProjectSort, ProjectUpdate, Store, StoreError, Tag};

/// The pool and timeouts of a [`PostgresStore`] (`--database-max-connections`,
/// `--database-statement-timeout`).
#[derive(Debug, Clone)]
pub struct PostgresOptions {
    /// Connections per store (each account has its own store). One more is held by the
    /// document change feed once a service subscribes.
    pub max_connections: u32,
    /// The server cancels a statement running longer (`statement_timeout`); `None`: no
    /// limit.
    pub statement_timeout: Option<std::time::Duration>,
    /// How long a call waits for a connection (a new one while the database is down).
    pub acquire_timeout: std::time::Duration,
}

impl Default for PostgresOptions {
    fn default() -> Self {
        PostgresOptions {
            max_connections: 16,
            statement_timeout: None,
            acquire_timeout: std::time::Duration::from_secs(10),
        }
    }
}

/// How long [`Store::health`] waits for the database to answer.
const HEALTH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

/// PostgreSQL store. See the module documentation.
pub struct PostgresStore {
    pub(crate) pool: PgPool,
    /// The same pool: code shared with the SQLite backend reads through `read_pool`
    /// (SQLite has a separate reader pool; PostgreSQL's pool serves both).
    pub(crate) read_pool: PgPool,
    /// The document change feed, started by its first subscriber (see `changes.rs`).
    feed: std::sync::OnceLock<crate::changes::Feed>,
}

macro_rules! columns {
    () => {
        "name, id, arn, creation_micros, version, document::text"
    };
}

fn record(row: &PgRow) -> Result<ProjectRecord, StoreError> {
    Ok(ProjectRecord {
        name: row.try_get(0)?,
        id: row.try_get(1)?,
        arn: row.try_get(2)?,
        creation_micros: row.try_get(3)?,
        version: row.try_get(4)?,
        document: Arc::from(row.try_get::<String, _>(5)?),
    })
}

impl PostgresStore {
    /// The pool writes go to (PostgreSQL queues nothing behind: every write is awaited).
    pub(crate) async fn writer(&self) -> Result<&PgPool, StoreError> {
        Ok(&self.pool)
    }

    /// The pool reads go to.
    pub(crate) async fn reader(&self) -> Result<&PgPool, StoreError> {
        Ok(&self.read_pool)
    }

    /// Every commit is already durable when it returns (PostgreSQL flushes its WAL at
    /// commit, with its own group commit): nothing to wait for. The SQLite backend's
    /// method of the same name waits for its group flush; code shared by both calls it.
    pub(crate) async fn durable(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// One statement (parameters written `{}`), as the SQLite backend's method of the
    /// same name; here simply executed.
    pub(crate) async fn write_one(
        &self,
        statement: &str,
        values: Vec<crate::batch::Value>,
    ) -> Result<(), StoreError> {
        let sql = crate::batch::numbered(statement);
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for v in values {
            query = match v {
                crate::batch::Value::Text(t) => query.bind(t),
                crate::batch::Value::Int(i) => query.bind(i),
            };
        }
        query.execute(&self.pool).await?;
        Ok(())
    }

    /// A subscription to the changes other replicas (and this one) commit to the
    /// documents services keep in memory (see `changes.rs`).
    pub(crate) fn document_changes(
        &self,
    ) -> Option<tokio::sync::broadcast::Receiver<crate::CatalogChange>> {
        let feed = self
            .feed
            .get_or_init(|| crate::changes::Feed::start(self.pool.clone()));
        Some(feed.sender.subscribe())
    }

    /// Replicas share the tables, so no replica may answer stack reads from memory.
    pub(crate) fn stack_cache(&self) -> Option<&crate::stack_cache::StackCache> {
        None
    }

    /// As [`PostgresStore::durable`]: nothing to wait for.
    pub(crate) async fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// The schema of account `account_id`'s store in the database `url` names:
    /// `account_<id>`, prefixed with the schema the URL's `search_path` option names, if
    /// any (so a deployment, or a test, kept in one schema keeps its accounts beside it).
    pub fn account_schema(url: &str, account_id: &str) -> Result<String, StoreError> {
        let options = PgConnectOptions::from_str(url)?;
        let base = options.get_options().and_then(|o| {
            o.split_whitespace()
                .find_map(|part| part.strip_prefix("search_path="))
                .map(|p| {
                    p.split(',')
                        .next()
                        .unwrap_or(p)
                        .trim_matches('"')
                        .to_owned()
                })
        });
        Ok(match base {
            Some(schema) if !schema.is_empty() => format!("{schema}_account_{account_id}"),
            _ => format!("account_{account_id}"),
        })
    }

    /// Connects to `url` and applies pending migrations. With `schema`, every
    /// connection uses that schema (created if missing) as its `search_path`: this is
    /// how tests isolate themselves in a shared database.
    pub async fn connect(url: &str, schema: Option<&str>) -> Result<Self, StoreError> {
        Self::connect_with(url, schema, &PostgresOptions::default()).await
    }

    /// [`Self::connect`] with the pool's size and the statement timeout of `settings`.
    pub async fn connect_with(
        url: &str,
        schema: Option<&str>,
        settings: &PostgresOptions,
    ) -> Result<Self, StoreError> {
        let mut options = PgConnectOptions::from_str(url)?;
        if let Some(schema) = schema {
            on_schema(options.clone(), "CREATE SCHEMA IF NOT EXISTS", schema, "").await?;
            options = options.options([("search_path", schema)]);
        }
        if let Some(timeout) = settings.statement_timeout {
            let ms = timeout.as_millis().max(1).to_string();
            options = options.options([("statement_timeout", ms.as_str())]);
        }
        let pool = PgPoolOptions::new()
            .max_connections(settings.max_connections)
            // While the database is unreachable a call fails after this, with the
            // connection error, rather than waiting for it to return.
            .acquire_timeout(settings.acquire_timeout)
            .connect_with(options)
            .await?;
        Self::migrate(&pool).await?;
        Ok(PostgresStore {
            read_pool: pool.clone(),
            pool,
            feed: std::sync::OnceLock::new(),
        })
    }

    async fn migrate(pool: &PgPool) -> Result<(), StoreError> {
        let mut tx = pool.begin().await?;
        // Waiting for another replica's migration, and a migration itself, may take
        // longer than a request's statement timeout.
        sqlx::query("SET LOCAL statement_timeout = 0")
            .execute(&mut *tx)
            .await?;
        // Replicas starting together migrate one at a time.
        sqlx::query("SELECT pg_advisory_xact_lock(7386121)")
            .execute(&mut *tx)
            .await?;
        sqlx::query(migrate::TABLE_DDL).execute(&mut *tx).await?;
        let applied: Vec<i64> = sqlx::query_scalar("SELECT version FROM sagestack_migrations")
            .fetch_all(&mut *tx)
            .await?;
        migrate::check_known(&applied, POSTGRES)?;
        for m in POSTGRES.iter().filter(|m| !applied.contains(&m.version)) {
            sqlx::raw_sql(m.sql).execute(&mut *tx).await?;
            sqlx::query("INSERT INTO sagestack_migrations (version, description) VALUES ($1, $2)")
                .bind(m.version)
                .bind(m.description)
                .execute(&mut *tx)
                .await?;
            tracing::info!(version = m.version, "applied postgres migration");
        }
        let installed = sqlx::query(
            "SELECT 1 FROM pg_trigger WHERE tgname = 'sagestack_documents_written'
             AND tgrelid = 'sc_documents'::regclass",
        )
        .fetch_optional(&mut *tx)
        .await?
        .is_some();
        if !installed {
            sqlx::raw_sql(AssertSqlSafe(crate::changes::trigger_ddl()))
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Drops a schema created by [`PostgresStore::connect`] (test clean-up).
    pub async fn drop_schema(url: &str, schema: &str) -> Result<(), StoreError> {
        let options = PgConnectOptions::from_str(url)?;
        on_schema(options, "DROP SCHEMA IF EXISTS", schema, " CASCADE").await
    }
}

/// Runs `{verb} "<schema>"{tail}` over a pool of its own (one connection, closed after):
/// creating and dropping a schema happen outside any pool searching it. The schema name
/// is quoted as an identifier (embedded quotes doubled).
async fn on_schema(
    options: PgConnectOptions,
    verb: &str,
    schema: &str,
    tail: &str,
) -> Result<(), StoreError> {
    let admin = PgPoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await?;
    sqlx::query(AssertSqlSafe(format!(
        "{verb} \"{}\"{tail}",
        schema.replace('"', "\"\"")
    )))
    .execute(&admin)
    .await?;
    admin.close().await;
    Ok(())
}

/// Locks the project row with this ARN for the transaction; false if none.
async fn lock_resource(tx: &mut sqlx::PgConnection, arn: &str) -> Result<bool, StoreError> {
    Ok(
        sqlx::query("SELECT 1 FROM projects WHERE arn = $1 FOR UPDATE")
            .bind(arn)
            .fetch_optional(&mut *tx)
            .await?
            .is_some(),
    )
}

/// Removes what hangs off a project row being deleted in `tx`: its tags (by `arn`) and
/// its status history (by `id`).
async fn forget_project(
    tx: &mut sqlx::PgConnection,
    arn: &str,
    id: &str,
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM tags WHERE resource_arn = $1")
        .bind(arn)
        .execute(&mut *tx)
        .await?;
    sqlx::query(project_history::FORGET)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// Inserts the project row of `project` in `tx`.
async fn insert_project(
    tx: &mut sqlx::PgConnection,
    project: &ProjectRecord,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO projects (name, id, arn, creation_micros, version, document)
         VALUES ($1, $2, $3, $4, $5, $6::json)",
    )
    .bind(&project.name)
    .bind(&project.id)
    .bind(&project.arn)
    .bind(project.creation_micros)
    .bind(project.version)
    .bind(&*project.document)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

async fn upsert_tags(
    tx: &mut sqlx::PgConnection,
    arn: &str,
    tags: &[Tag],
    max_tags: usize,
) -> Result<(), StoreError> {
    for t in tags {
        sqlx::query(
            "INSERT INTO tags (resource_arn, key, value) VALUES ($1, $2, $3)
             ON CONFLICT (resource_arn, key) DO UPDATE SET value = excluded.value",
        )
        .bind(arn)
        .bind(&t.key)
        .bind(&t.value)
        .execute(&mut *tx)
        .await?;
    }
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM tags WHERE resource_arn = $1")
        .bind(arn)
        .fetch_one(&mut *tx)
        .await?;
    if count as usize > max_tags {
        return Err(StoreError::TooManyTags { limit: max_tags });
    }
    Ok(())
}

#[async_trait]
impl Store for PostgresStore {
    async fn create_project(
        &self,
        project: &ProjectRecord,
        tags: &[Tag],
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        insert_project(&mut tx, project).await?;
        upsert_tags(&mut tx, &project.arn, tags, usize::MAX).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn get_project(&self, name: &str) -> Result<Option<ProjectRecord>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            columns!(),
            " FROM projects WHERE name = $1"
        ))
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(record).transpose()
    }

    async fn update_project(&self, update: ProjectUpdate<'_>) -> Result<(), StoreError> {
        let (project, expected_version) = (update.project, update.expected_version);
        let (tags, max_tags) = (update.tags, update.max_tags);
        let mut tx = self.pool.begin().await?;
        let current: Option<(i64, String)> =
            sqlx::query_as("SELECT version, arn FROM projects WHERE name = $1 FOR UPDATE")
                .bind(&project.name)
                .fetch_optional(&mut *tx)
                .await?;
        let Some((version, old_arn)) = current else {
            return Err(StoreError::NotFound);
        };
        if version != expected_version {
            return Err(StoreError::Conflict);
        }
        sqlx::query(
            "UPDATE projects SET id = $1, arn = $2, creation_micros = $3, version = $4,
             document = $5::json WHERE name = $6",
        )
        .bind(&project.id)
        .bind(&project.arn)
        .bind(project.creation_micros)
        .bind(project.version)
        .bind(&*project.document)
        .bind(&project.name)
        .execute(&mut *tx)
        .await?;
        if old_arn != project.arn {
            sqlx::query("UPDATE tags SET resource_arn = $1 WHERE resource_arn = $2")
                .bind(&project.arn)
                .bind(&old_arn)
                .execute(&mut *tx)
                .await?;
        }
        if let Some(change) = update.status_change {
            sqlx::query(
                "INSERT INTO project_history (project_id, version, status, at_micros)
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(&project.id)
            .bind(project.version)
            .bind(&change.status)
            .bind(change.at_micros)
            .execute(&mut *tx)
            .await?;
        }
        upsert_tags(&mut tx, &project.arn, tags, max_tags).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn delete_project(&self, name: &str) -> Result<Option<ProjectRecord>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(concat!(
            "DELETE FROM projects WHERE name = $1 RETURNING ",
            columns!()
        ))
        .bind(name)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let deleted = record(&row)?;
        forget_project(&mut tx, &deleted.arn, &deleted.id).await?;
        tx.commit().await?;
        Ok(Some(deleted))
    }

    async fn delete_project_if(&self, expected: &ProjectRecord) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        // The row lock a concurrent update or replacement holds makes this wait and then
        // re-check the condition against the committed row (READ COMMITTED).
        let arn: Option<String> = sqlx::query_scalar(
            "DELETE FROM projects WHERE name = $1 AND id = $2 AND version = $3 RETURNING arn",
        )
        .bind(&expected.name)
        .bind(&expected.id)
        .bind(expected.version)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(arn) = arn else {
            return Ok(false);
        };
        forget_project(&mut tx, &arn, &expected.id).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn replace_project(
        &self,
        expected: &ProjectRecord,
        project: &ProjectRecord,
        tags: &[Tag],
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let arn: Option<String> = sqlx::query_scalar(
            "DELETE FROM projects WHERE name = $1 AND id = $2 AND version = $3 RETURNING arn",
        )
        .bind(&expected.name)
        .bind(&expected.id)
        .bind(expected.version)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(arn) = arn else {
            let exists = sqlx::query("SELECT 1 FROM projects WHERE name = $1")
                .bind(&expected.name)
                .fetch_optional(&mut *tx)
                .await?
                .is_some();
            return Err(if exists {
                StoreError::Conflict
            } else {
                StoreError::NotFound
            });
        };
        forget_project(&mut tx, &arn, &expected.id).await?;
        insert_project(&mut tx, project).await?;
        upsert_tags(&mut tx, &project.arn, tags, usize::MAX).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn projects_with_status(
        &self,
        statuses: &[&str],
    ) -> Result<Vec<ProjectRecord>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            columns!(),
            " FROM projects WHERE document->>'ProjectStatus' = ANY($1) ORDER BY name"
        ))
        .bind(statuses)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(record).collect()
    }

    async fn list_projects(&self, q: &ProjectQuery) -> Result<Vec<ProjectRecord>, StoreError> {
        let mut sql: QueryBuilder<Postgres> =
            QueryBuilder::new(concat!("SELECT ", columns!(), " FROM projects WHERE TRUE"));
        let cmp = if q.descending { " < " } else { " > " };
        if let Some(after) = &q.after {
            match q.sort {
                ProjectSort::Name => {
                    sql.push(" AND name")
                        .push(cmp)
                        .push_bind(after.name.clone());
                }
                ProjectSort::CreationTime => {
                    sql.push(" AND (creation_micros, name)")
                        .push(cmp)
                        .push("(")
                        .push_bind(after.creation_micros)
                        .push(", ")
                        .push_bind(after.name.clone())
                        .push(")");
                }
            }
        }
        let contains = [" AND strpos(lower(name), lower(", ")) > 0"];
        push_page(&mut sql, q, contains, " COLLATE \"C\"");
        let rows = sql.build().fetch_all(&self.pool).await?;
        rows.iter().map(record).collect()
    }

    async fn add_tags(
        &self,
        resource_arn: &str,
        tags: &[Tag],
        max_tags: usize,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        if !lock_resource(&mut tx, resource_arn).await? {
            return Err(StoreError::NotFound);
        }
        upsert_tags(&mut tx, resource_arn, tags, max_tags).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn list_tags(
        &self,
        resource_arn: &str,
        after_key: Option<&str>,
        limit: usize,
    ) -> Result<Option<Vec<Tag>>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let exists = sqlx::query("SELECT 1 FROM projects WHERE arn = $1")
            .bind(resource_arn)
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
        if !exists {
            return Ok(None);
        }
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT key, value FROM tags WHERE resource_arn = $1 AND ($2::text IS NULL OR key > $2 COLLATE \"C\")
             ORDER BY key COLLATE \"C\" LIMIT $3",
        )
        .bind(resource_arn)
        .bind(after_key)
        .bind(limit as i64)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(
            rows.into_iter().map(|(k, v)| Tag::new(k, v)).collect(),
        ))
    }

    async fn delete_tags(&self, resource_arn: &str, keys: &[String]) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        if !lock_resource(&mut tx, resource_arn).await? {
            return Err(StoreError::NotFound);
        }
        sqlx::query("DELETE FROM tags WHERE resource_arn = $1 AND key = ANY($2)")
            .bind(resource_arn)
            .bind(keys)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Whether the database answers now (within [`HEALTH_TIMEOUT`]): the readiness of a
    /// replica, which can serve nothing while it is unreachable.
    async fn health(&self) -> crate::StoreHealth {
        let ping = sqlx::query_scalar::<_, i32>("SELECT 1").fetch_one(&self.pool);
        match tokio::time::timeout(HEALTH_TIMEOUT, ping).await {
            Ok(Ok(_)) => crate::StoreHealth::Ok,
            Ok(Err(e)) => crate::StoreHealth::Degraded(format!("database unreachable: {e}")),
            Err(_) => crate::StoreHealth::Degraded(format!(
                "database unreachable: no answer within {} s",
                HEALTH_TIMEOUT.as_secs()
            )),
        }
    }

    async fn close(&self) {
        self.pool.close().await;
    }
}
