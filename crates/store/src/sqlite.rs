//! The embedded backend: SQLite in the data directory, fronted by a write-through cache.
//!
//! Why a cache is coherent here: the data directory is owned by exactly one process
//! (an exclusive lock on `sagestack.lock` is held for the store's lifetime), and all
//! writes go through one [`tokio::sync::Mutex`]. Each write first commits to SQLite
//! (WAL), then applies the same change to the in-memory maps, releases the writer lock,
//! and returns once the commit is flushed to disk (group commit, see
//! [`crate::durable`]; a caller running deferred flushes later itself). Reads are served
//! from the maps: SQLite is only read once, at open. So every acknowledged write is on
//! disk.

use std::fs::File;
use std::ops::Bound;
use std::path::Path;
use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use sqlx::Row;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::batch::{Value as BV, Write};
use crate::migrate::{self, SQLITE};
use crate::project_history;
use crate::{ProjectQuery, ProjectRecord, ProjectSort, ProjectUpdate, Store, StoreError, Tag};

mod names;
mod projects;
mod reset;
pub(crate) use names::{LatestParameter, Names};
use projects::{Cache, forget_project, matches, same, upsert_tags};

/// File name of the database inside the data directory.
pub const DATABASE_FILE: &str = "sagestack.db";
/// Read-only connections beside the one writer.
const READERS: u32 = 2;
/// Stripes of [`SqliteStore::name_lock`].
const NAME_LOCKS: usize = 64;

/// File name of the lock file inside the data directory.
pub const LOCK_FILE: &str = "sagestack.lock";

pub use crate::durable::Durability;

/// SQLite store in a data directory. See the module documentation.
pub struct SqliteStore {
    pub(crate) pool: SqlitePool,
    /// Read-only connections for the reads of the tables the cache does not cover
    /// (stacks, resources, events, S3, SSM...): in WAL mode they read the last commit
    /// without waiting behind the writer connection's queue of statements.
    pub(crate) read_pool: SqlitePool,
    /// The connection the WAL checkpoint task uses (see [`crate::checkpoint`]).
    checkpointer: SqlitePool,
    stacks: crate::stack_cache::StackCache,
    cache: RwLock<Cache>,
    pub(crate) writer: tokio::sync::Mutex<()>,
    /// Striped by name (see [`SqliteStore::name_lock`]).
    pub(crate) name_locks: Box<[tokio::sync::Mutex<()>]>,
    /// When the failed store last probed (see [`crate::health`]).
    pub(crate) prober: crate::health::Prober,
    names: std::sync::Mutex<Names>,
    sync: crate::durable::GroupSync,
    pub(crate) batcher: crate::batch::WriteBatcher,
    // Held (locked) for the store's lifetime; the OS releases it on exit or kill.
    _lock: File,
}

fn backend<E: std::fmt::Display>(e: E) -> StoreError {
    StoreError::Backend(e.to_string())
}

impl SqliteStore {
    /// Opens (creating if needed) the store in `dir`, taking its lock file, applying
    /// pending migrations and loading the cache.
    pub async fn open(dir: &Path) -> Result<Self, StoreError> {
        Self::open_with(dir, Durability::Durable).await
    }

    /// [`SqliteStore::open`], flushing to stable storage or not (see [`Durability`]).
    pub async fn open_with(dir: &Path, durability: Durability) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| backend(format!("cannot create data dir {}: {e}", dir.display())))?;
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join(LOCK_FILE))
            .map_err(|e| backend(format!("cannot open lock file: {e}")))?;
        if let Err(e) = lock.try_lock() {
            return Err(StoreError::Locked(format!(
                "data dir {} is in use by another sagestack process ({e})",
                dir.display()
            )));
        }
        let options = SqliteConnectOptions::new()
            .filename(dir.join(DATABASE_FILE))
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(match durability {
                Durability::Durable => SqliteSynchronous::Normal,
                Durability::Ephemeral => SqliteSynchronous::Off,
            })
            .foreign_keys(true)
            .busy_timeout(std::time::Duration::from_secs(5));
        // One writing connection: SQLite has one writer anyway, and writes are
        // serialized (projects by `writer`, the engine's by the write combiner).
        // No ping before each acquire (sqlx's default): a local file connection does not go
        // stale, and the ping is a round trip to the connection's thread per query.
        let pool = SqlitePoolOptions::new()
            .test_before_acquire(false)
            .max_connections(1)
            .min_connections(1)
            .connect_with(options.clone().pragma("wal_autocheckpoint", "0"))
            .await?;
        Self::migrate(&pool).await?;
        let cache = Self::load(&pool).await?;
        let stacks = crate::health::load_stacks(&pool).await?;
        let names = crate::health::load_names(&pool).await?;
        let sync = crate::durable::GroupSync::open(&dir.join(DATABASE_FILE), durability)?;
        let batcher = crate::batch::WriteBatcher::start(pool.clone());
        let checkpointer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .connect_with(options.clone())
            .await?;
        let mut shm = dir.join(DATABASE_FILE).into_os_string();
        shm.push("-shm");
        crate::checkpoint::start(checkpointer.clone(), pool.clone(), shm.into());
        let read_pool = SqlitePoolOptions::new()
            .test_before_acquire(false)
            .max_connections(READERS)
            .min_connections(1)
            .connect_with(options.read_only(true))
            .await?;
        Ok(SqliteStore {
            pool,
            read_pool,
            checkpointer,
            stacks,
            cache: RwLock::new(cache),
            writer: tokio::sync::Mutex::new(()),
            name_locks: (0..NAME_LOCKS)
                .map(|_| tokio::sync::Mutex::new(()))
                .collect(),
            names: std::sync::Mutex::new(names),
            prober: crate::health::Prober::default(),
            sync,
            batcher,
            _lock: lock,
        })
    }

    async fn migrate(pool: &SqlitePool) -> Result<(), StoreError> {
        sqlx::query(migrate::TABLE_DDL).execute(pool).await?;
        let applied: Vec<i64> = sqlx::query_scalar("SELECT version FROM sagestack_migrations")
            .fetch_all(pool)
            .await?;
        migrate::check_known(&applied, SQLITE)?;
        for m in SQLITE.iter().filter(|m| !applied.contains(&m.version)) {
            let mut tx = pool.begin().await?;
            sqlx::raw_sql(m.sql).execute(&mut *tx).await?;
            sqlx::query("INSERT INTO sagestack_migrations (version, description) VALUES (?, ?)")
                .bind(m.version)
                .bind(m.description)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            tracing::info!(version = m.version, "applied sqlite migration");
        }
        Ok(())
    }

    async fn load(pool: &SqlitePool) -> Result<Cache, StoreError> {
        let mut cache = Cache::default();
        let rows =
            sqlx::query("SELECT name, id, arn, creation_micros, version, document FROM projects")
                .fetch_all(pool)
                .await?;
        for row in rows {
            cache.insert(ProjectRecord {
                name: row.try_get(0)?,
                id: row.try_get(1)?,
                arn: row.try_get(2)?,
                creation_micros: row.try_get(3)?,
                version: row.try_get(4)?,
                document: Arc::from(row.try_get::<String, _>(5)?),
            });
        }
        let rows = sqlx::query("SELECT resource_arn, key, value FROM tags")
            .fetch_all(pool)
            .await?;
        for row in rows {
            let arn: String = row.try_get(0)?;
            cache
                .tags
                .entry(arn)
                .or_default()
                .insert(row.try_get(1)?, row.try_get(2)?);
        }
        Ok(cache)
    }

    /// Waits until every commit made so far is on stable storage; every write method
    /// calls it after committing (and after releasing the writer lock) before returning.
    /// Inside a deferred scope (an operation's intermediate steps, see
    /// [`sagestack_engine::durability`]) the commit alone is enough and this returns at
    /// once; the operation calls [`SqliteStore::flush`] where it must be durable.
    pub(crate) async fn durable(&self) -> Result<(), StoreError> {
        if sagestack_engine::durability::is_deferred() {
            return Ok(());
        }
        self.sync.sync().await
    }

    /// The writer connection's pool, once every write queued behind
    /// ([`crate::batch::WriteBatcher::enqueue`]) has committed: a write that goes to the
    /// connection directly must land after them, so that commits stay in the order their
    /// callers made them.
    pub(crate) async fn writer(&self) -> Result<&SqlitePool, StoreError> {
        self.heal().await;
        self.settle().await?;
        Ok(&self.pool)
    }

    /// The read connections, once every write queued behind has committed (a reader sees
    /// what its caller was told is written).
    pub(crate) async fn reader(&self) -> Result<&SqlitePool, StoreError> {
        self.heal().await;
        self.settle().await?;
        Ok(&self.read_pool)
    }

    /// Waits for every write queued behind to commit. Shared by [`writer`](Self::writer),
    /// [`reader`](Self::reader) and [`flush`](Self::flush): each must see the queue
    /// drained, and a failed queued write is the same [`crate::health::write_error`].
    async fn settle(&self) -> Result<(), StoreError> {
        self.batcher
            .settle()
            .await
            .map_err(crate::health::write_error)
    }

    /// `write` through the combiner: inside a deferred scope queued behind (see
    /// [`crate::batch::WriteBatcher::enqueue`]: the operation goes on at once and its
    /// steps commit in order, many per transaction), otherwise committed before this
    /// returns. A queued write must not be able to fail on its own data: its caller has
    /// already checked what could refuse it (see [`Names`]). A unique violation of an
    /// awaited write is [`StoreError::AlreadyExists`].
    pub(crate) async fn submit(&self, write: Write) -> Result<(), StoreError> {
        self.submit_at(write).await.map(|_| ())
    }

    /// [`submit`](Self::submit), returning the write's queue position when it was queued
    /// behind (for [`crate::batch::WriteBatcher::settle_to`]), 0 when it is committed.
    pub(crate) async fn submit_at(&self, write: Write) -> Result<u64, StoreError> {
        self.heal().await;
        let result = if sagestack_engine::durability::is_deferred() {
            self.batcher.enqueue(write)
        } else {
            self.batcher.write(write).await.map(|()| 0)
        };
        result.map_err(crate::health::write_error)
    }

    /// The names that exist, for the writes that check a name before they write (see
    /// [`Names`]); taken under the name's [`name_lock`](Self::name_lock).
    pub(crate) fn names(&self) -> std::sync::MutexGuard<'_, Names> {
        self.names.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// One statement (parameters written `{}`) as one write through the write combiner,
    /// so that concurrent single-row writes (a stack's resources being created) share a
    /// transaction. A unique violation is [`StoreError::AlreadyExists`].
    pub(crate) async fn write_one(
        &self,
        statement: &str,
        values: Vec<BV>,
    ) -> Result<(), StoreError> {
        self.heal().await;
        self.batcher
            .write(Write::one(statement, values))
            .await
            .map_err(crate::health::write_error)
    }

    /// Taken by every write of the named thing that reads before it writes (an SSM
    /// parameter's put reads the current version; a delete reads whether it exists): the
    /// writes of one name are serialized, different names go concurrently and share the
    /// write combiner's transactions. `name` carries a kind prefix (`ssm:`, `iam:`, `s3:`).
    pub(crate) async fn name_lock(&self, name: &str) -> tokio::sync::MutexGuard<'_, ()> {
        use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
        let hash = BuildHasherDefault::<DefaultHasher>::default().hash_one(name);
        let i = (hash % self.name_locks.len() as u64) as usize;
        self.name_locks[i].lock().await
    }

    /// No change feed: this process owns the data directory (see `changes.rs`).
    pub(crate) fn document_changes(
        &self,
    ) -> Option<tokio::sync::broadcast::Receiver<crate::CatalogChange>> {
        None
    }

    /// Stack records and live stack names in memory (see [`crate::stack_cache`]).
    pub(crate) fn stack_cache(&self) -> Option<&crate::stack_cache::StackCache> {
        Some(&self.stacks)
    }

    /// Waits until every write made so far (queued ones included) is committed and on
    /// stable storage, deferred or not.
    pub(crate) async fn flush(&self) -> Result<(), StoreError> {
        self.settle().await?;
        self.sync.sync().await
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Cache> {
        // A poisoned lock means a panic while applying an already committed change;
        // the maps are still structurally valid, so keep serving.
        self.cache.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Cache> {
        self.cache.write().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn create_project(
        &self,
        project: &ProjectRecord,
        tags: &[Tag],
    ) -> Result<(), StoreError> {
        self.heal().await;
        let _w = self.writer.lock().await;
        {
            let c = self.read();
            if c.by_name.contains_key(&project.name) || c.arn_to_name.contains_key(&project.arn) {
                return Err(StoreError::AlreadyExists);
            }
        }
        let write = Write::one(
            "INSERT INTO projects (name, id, arn, creation_micros, version, document)
                 VALUES ({}, {}, {}, {}, {}, {})",
            vec![
                BV::Text(project.name.clone()),
                BV::Text(project.id.clone()),
                BV::Text(project.arn.clone()),
                BV::Int(project.creation_micros),
                BV::Int(project.version),
                BV::Text(project.document.to_string()),
            ],
        );
        self.write_project(write, &project.arn, tags).await?;
        {
            let mut c = self.write();
            c.insert(project.clone());
            c.put_tags(&project.arn, tags);
        }
        drop(_w);
        self.durable().await
    }

    async fn get_project(&self, name: &str) -> Result<Option<ProjectRecord>, StoreError> {
        Ok(self.read().by_name.get(name).map(|p| (**p).clone()))
    }

    async fn update_project(&self, update: ProjectUpdate<'_>) -> Result<(), StoreError> {
        let (project, expected_version) = (update.project, update.expected_version);
        let (tags, max_tags) = (update.tags, update.max_tags);
        self.heal().await;
        let _w = self.writer.lock().await;
        {
            let c = self.read();
            let Some(current) = c.by_name.get(&project.name) else {
                return Err(StoreError::NotFound);
            };
            if current.version != expected_version {
                return Err(StoreError::Conflict);
            }
            if c.tag_count_after(&current.arn, tags) > max_tags {
                return Err(StoreError::TooManyTags { limit: max_tags });
            }
        }
        // The version was checked against the cache above, under the writer lock that
        // every project write holds: the cache is the table's authoritative copy.
        let mut write = Write::one(
            "UPDATE projects SET id = {}, arn = {}, creation_micros = {}, version = {},
                 document = {} WHERE name = {}",
            vec![
                BV::Text(project.id.clone()),
                BV::Text(project.arn.clone()),
                BV::Int(project.creation_micros),
                BV::Int(project.version),
                BV::Text(project.document.to_string()),
                BV::Text(project.name.clone()),
            ],
        );
        if let Some(change) = update.status_change {
            write.statements.push((project_history::INSERT.into(), 4));
            let values = project_history::insert_values(&project.id, project.version, change);
            write.values.extend(values);
        }
        self.write_project(write, &project.arn, tags).await?;
        {
            let mut c = self.write();
            // Keep the project's tags across the replacement (`remove` drops them).
            let old_arn = c.by_name.get(&project.name).map(|p| p.arn.clone());
            let old_tags = old_arn.and_then(|arn| c.tags.remove(&arn));
            c.remove(&project.name);
            if let Some(old_tags) = old_tags {
                c.tags.insert(project.arn.clone(), old_tags);
            }
            c.insert(project.clone());
            c.put_tags(&project.arn, tags);
        }
        drop(_w);
        self.durable().await
    }

    async fn delete_project(&self, name: &str) -> Result<Option<ProjectRecord>, StoreError> {
        let _w = self.writer.lock().await;
        let Some((arn, id)) = self
            .read()
            .by_name
            .get(name)
            .map(|p| (p.arn.clone(), p.id.clone()))
        else {
            return Ok(None);
        };
        let mut tx = self.writer().await?.begin().await?;
        sqlx::query("DELETE FROM projects WHERE name = ?")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        forget_project(&mut tx, &arn, &id).await?;
        tx.commit().await?;
        let removed = self.write().remove(name).map(|p| (*p).clone());
        drop(_w);
        self.durable().await?;
        Ok(removed)
    }

    async fn delete_project_if(&self, expected: &ProjectRecord) -> Result<bool, StoreError> {
        // One process owns the file and every project write holds the writer lock, so the
        // cache checked under it is the table; the statement repeats the condition anyway.
        let _w = self.writer.lock().await;
        if !self
            .read()
            .by_name
            .get(&expected.name)
            .is_some_and(|p| same(p, expected))
        {
            return Ok(false);
        }
        let mut tx = self.writer().await?.begin().await?;
        sqlx::query("DELETE FROM projects WHERE name = ? AND id = ? AND version = ?")
            .bind(&expected.name)
            .bind(&expected.id)
            .bind(expected.version)
            .execute(&mut *tx)
            .await?;
        forget_project(&mut tx, &expected.arn, &expected.id).await?;
        tx.commit().await?;
        self.write().remove(&expected.name);
        drop(_w);
        self.durable().await?;
        Ok(true)
    }

    async fn replace_project(
        &self,
        expected: &ProjectRecord,
        project: &ProjectRecord,
        tags: &[Tag],
    ) -> Result<(), StoreError> {
        self.heal().await;
        let _w = self.writer.lock().await;
        let old_arn = match self.read().by_name.get(&expected.name) {
            Some(p) if same(p, expected) => p.arn.clone(),
            Some(_) => return Err(StoreError::Conflict),
            None => return Err(StoreError::NotFound),
        };
        let mut tx = self.writer().await?.begin().await?;
        sqlx::query("DELETE FROM projects WHERE name = ? AND id = ? AND version = ?")
            .bind(&expected.name)
            .bind(&expected.id)
            .bind(expected.version)
            .execute(&mut *tx)
            .await?;
        forget_project(&mut tx, &old_arn, &expected.id).await?;
        sqlx::query(
            "INSERT INTO projects (name, id, arn, creation_micros, version, document)
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(&project.name)
        .bind(&project.id)
        .bind(&project.arn)
        .bind(project.creation_micros)
        .bind(project.version)
        .bind(&*project.document)
        .execute(&mut *tx)
        .await?;
        upsert_tags(&mut tx, &project.arn, tags).await?;
        tx.commit().await?;
        {
            let mut c = self.write();
            c.remove(&expected.name);
            c.insert(project.clone());
            c.put_tags(&project.arn, tags);
        }
        drop(_w);
        self.durable().await
    }

    async fn projects_with_status(
        &self,
        statuses: &[&str],
    ) -> Result<Vec<ProjectRecord>, StoreError> {
        Ok(self.read().with_status(statuses))
    }

    async fn list_projects(&self, q: &ProjectQuery) -> Result<Vec<ProjectRecord>, StoreError> {
        let c = self.read();
        let mut out = Vec::with_capacity(q.limit.min(128));
        let mut push = |p: &Arc<ProjectRecord>| {
            if matches(q, p) {
                out.push((**p).clone());
            }
            out.len() < q.limit
        };
        if q.limit == 0 {
            return Ok(out);
        }
        match q.sort {
            ProjectSort::Name => {
                let range = match (&q.after, q.descending) {
                    (None, _) => c.by_name.range::<String, _>(..),
                    (Some(k), false) => c
                        .by_name
                        .range::<String, _>((Bound::Excluded(&k.name), Bound::Unbounded)),
                    (Some(k), true) => c.by_name.range::<String, _>(..&k.name),
                };
                if q.descending {
                    for (_, p) in range.rev() {
                        if !push(p) {
                            break;
                        }
                    }
                } else {
                    for (_, p) in range {
                        if !push(p) {
                            break;
                        }
                    }
                }
            }
            ProjectSort::CreationTime => {
                let key = q
                    .after
                    .as_ref()
                    .map(|k| (k.creation_micros, k.name.clone()));
                let range = match (&key, q.descending) {
                    (None, _) => c.by_creation.range::<(i64, String), _>(..),
                    (Some(k), false) => c
                        .by_creation
                        .range::<(i64, String), _>((Bound::Excluded(k), Bound::Unbounded)),
                    (Some(k), true) => c.by_creation.range::<(i64, String), _>(..k),
                };
                let lookup = |(_, name): &(i64, String)| c.by_name.get(name);
                if q.descending {
                    for p in range.rev().filter_map(lookup) {
                        if !push(p) {
                            break;
                        }
                    }
                } else {
                    for p in range.filter_map(lookup) {
                        if !push(p) {
                            break;
                        }
                    }
                }
            }
        }
        Ok(out)
    }

    async fn add_tags(
        &self,
        resource_arn: &str,
        tags: &[Tag],
        max_tags: usize,
    ) -> Result<(), StoreError> {
        let _w = self.writer.lock().await;
        {
            let c = self.read();
            if !c.arn_to_name.contains_key(resource_arn) {
                return Err(StoreError::NotFound);
            }
            if c.tag_count_after(resource_arn, tags) > max_tags {
                return Err(StoreError::TooManyTags { limit: max_tags });
            }
        }
        let mut tx = self.writer().await?.begin().await?;
        upsert_tags(&mut tx, resource_arn, tags).await?;
        tx.commit().await?;
        self.write().put_tags(resource_arn, tags);
        drop(_w);
        self.durable().await
    }

    async fn list_tags(
        &self,
        resource_arn: &str,
        after_key: Option<&str>,
        limit: usize,
    ) -> Result<Option<Vec<Tag>>, StoreError> {
        let c = self.read();
        if !c.arn_to_name.contains_key(resource_arn) {
            return Ok(None);
        }
        let Some(map) = c.tags.get(resource_arn) else {
            return Ok(Some(Vec::new()));
        };
        let range = match after_key {
            Some(k) => map.range::<str, _>((Bound::Excluded(k), Bound::Unbounded)),
            None => map.range::<str, _>(..),
        };
        Ok(Some(
            range.take(limit).map(|(k, v)| Tag::new(k, v)).collect(),
        ))
    }

    async fn delete_tags(&self, resource_arn: &str, keys: &[String]) -> Result<(), StoreError> {
        let _w = self.writer.lock().await;
        if !self.read().arn_to_name.contains_key(resource_arn) {
            return Err(StoreError::NotFound);
        }
        let mut tx = self.writer().await?.begin().await?;
        for k in keys {
            sqlx::query("DELETE FROM tags WHERE resource_arn = ? AND key = ?")
                .bind(resource_arn)
                .bind(k)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        if let Some(map) = self.write().tags.get_mut(resource_arn) {
            for k in keys {
                map.remove(k);
            }
        }
        drop(_w);
        self.durable().await
    }

    async fn health(&self) -> crate::StoreHealth {
        self.check_health().await
    }

    async fn reset(&self) -> Result<(), StoreError> {
        self.reset_all().await
    }

    async fn close(&self) {
        let _w = self.writer.lock().await;
        // Writes queued behind land before the connections close.
        if let Err(e) = self.batcher.settle().await {
            tracing::error!(error = %e, "closing with a failed queued write");
        }
        self.read_pool.close().await;
        self.checkpointer.close().await;
        self.pool.close().await;
    }
}
