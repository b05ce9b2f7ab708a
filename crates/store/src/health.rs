//! The SQLite store's health: leaving the failed state once writes can land again.
//!
//! A write queued behind that fails (typically "database or disk is full") poisons the
//! write combiner (see [`crate::batch`]): its caller already moved on, so nothing after it
//! may land. The store stays in that state only until a *probe* (a small transaction
//! that needs fresh pages, so it fails for the same reason while the disk is full)
//! commits. Then what was derived in memory from writes that never landed is rebuilt
//! from the database (the [`Names`] with each parameter's latest version, the stack
//! cache's records, live names and exports) and writes are taken again.
//!
//! The probe runs from the store's own paths, no task of its own: [`Store::health`]
//! (the server's health endpoint and its recovery watcher poll it) and the entry of the
//! write paths, at most once per [`PROBE_INTERVAL`]. It needs every writer out (the
//! project writer lock and every name lock), taken with `try_lock`: a caller that holds
//! one of them itself (a parameter put probing under its name lock) skips the probe
//! rather than deadlock, and a later caller probes.
//!
//! [`Store::health`]: crate::Store::health

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::sqlite::SqlitePool;

use crate::batch::{Value, Write, WriteError};
use crate::sqlite::{LatestParameter, Names, SqliteStore};
use crate::{StoreError, StoreHealth};

/// Probes at most this often while the store is failed.
pub(crate) const PROBE_INTERVAL: Duration = Duration::from_millis(500);

/// Bytes the probe writes (and drops in the same transaction): enough to need fresh
/// pages, so that it fails while the disk (or the page cap) is full.
const PROBE_BYTES: i64 = 64 * 1024;

/// The probe: a table created, filled, dropped and committed (nothing of it remains).
fn probe() -> Write {
    Write {
        statements: vec![
            ("CREATE TABLE sagestack_probe (b BLOB)".into(), 0),
            (
                "INSERT INTO sagestack_probe (b) VALUES (zeroblob({}))".into(),
                1,
            ),
            ("DROP TABLE sagestack_probe".into(), 0),
        ],
        values: vec![Value::Int(PROBE_BYTES)],
        rows: Vec::new(),
    }
}

/// A write failure as the store reports it: "full" and unique violations have their own
/// variants, so services can answer them in their own shape.
pub(crate) fn write_error(e: WriteError) -> StoreError {
    if e.unique_violation {
        StoreError::AlreadyExists
    } else if e.full {
        StoreError::Full(e.message)
    } else {
        StoreError::Backend(e.message)
    }
}

/// The names the existence checks keep in memory, as the database holds them.
pub(crate) async fn load_names(pool: &SqlitePool) -> Result<Names, StoreError> {
    let parameters: HashMap<String, LatestParameter> = sqlx::query_as::<_, (String, i64, String)>(
        "SELECT name, version, document FROM ssm_parameters",
    )
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(|(name, version, document)| {
        let latest = LatestParameter {
            version,
            document: Arc::from(document),
            position: 0,
        };
        (name, latest)
    })
    .collect();
    Ok(Names {
        roles: sqlx::query_scalar("SELECT name_key FROM iam_roles")
            .fetch_all(pool)
            .await?
            .into_iter()
            .collect(),
        buckets: sqlx::query_scalar("SELECT name FROM s3_buckets")
            .fetch_all(pool)
            .await?
            .into_iter()
            .collect(),
        empty_buckets: HashSet::new(),
        parameters,
    })
}

/// The stack cache as the database has it: the live stacks, every export, and the stacks
/// with change sets.
pub(crate) async fn load_stacks(
    pool: &SqlitePool,
) -> Result<crate::stack_cache::StackCache, StoreError> {
    let live =
        sqlx::query_as("SELECT stack_id, stack_name FROM cfn_stacks WHERE live = 1 ORDER BY ord")
            .fetch_all(pool)
            .await?;
    let exports: Vec<(String, String, String)> =
        sqlx::query_as("SELECT name, value, stack_id FROM cfn_exports")
            .fetch_all(pool)
            .await?;
    let exports = exports
        .into_iter()
        .map(
            |(name, value, exporting_stack_id)| sagestack_engine::model::ExportRecord {
                name,
                value,
                exporting_stack_id,
            },
        )
        .collect::<Vec<_>>();
    let change_sets: Vec<String> =
        sqlx::query_scalar("SELECT DISTINCT stack_id FROM cfn_change_sets")
            .fetch_all(pool)
            .await?;
    let stacks = crate::stack_cache::StackCache::with_live(live);
    stacks.set_exports(exports);
    stacks.set_change_set_stacks(change_sets);
    Ok(stacks)
}

/// When the store last probed, for [`PROBE_INTERVAL`].
#[derive(Default)]
pub(crate) struct Prober {
    last: std::sync::Mutex<Option<Instant>>,
}

impl Prober {
    /// Whether a probe may run now (and, if so, counts it as run).
    fn due(&self) -> bool {
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        if last.is_some_and(|t| t.elapsed() < PROBE_INTERVAL) {
            return false;
        }
        *last = Some(Instant::now());
        true
    }
}

impl SqliteStore {
    /// The store's health, probing first when it is failed (see the module doc).
    pub(crate) async fn check_health(&self) -> StoreHealth {
        self.heal().await;
        match self.batcher.trouble() {
            None => StoreHealth::Ok,
            Some(e) => StoreHealth::Degraded(e.message),
        }
    }

    /// Probes and leaves the failed state if it can (see the module doc); a no-op when
    /// healthy, when a probe ran less than [`PROBE_INTERVAL`] ago, or when a writer is
    /// busy.
    pub(crate) async fn heal(&self) {
        if self.batcher.trouble().is_none() || !self.prober.due() {
            return;
        }
        let Ok(_writer) = self.writer.try_lock() else {
            return;
        };
        let mut names = Vec::with_capacity(self.name_locks.len());
        for lock in self.name_locks.iter() {
            match lock.try_lock() {
                Ok(guard) => names.push(guard),
                Err(_) => return,
            }
        }
        if let Err(e) = self.batcher.probe(&self.pool, &probe()).await {
            tracing::debug!(error = %e, "store probe: writes still cannot land");
            return;
        }
        match self.rebuild().await {
            Ok(()) => {
                self.batcher.clear();
                tracing::warn!("the store takes writes again (a probe write committed)");
            }
            Err(e) => tracing::error!(error = %e, "store probe: cannot reload its state"),
        }
    }

    /// Reloads from the database what was derived in memory from writes queued behind,
    /// some of which may never have landed. Projects are not among them: their writes
    /// are awaited, and the cache is updated only after their commit.
    pub(crate) async fn rebuild(&self) -> Result<(), StoreError> {
        let names = load_names(&self.pool).await?;
        let loaded = load_stacks(&self.pool).await?;
        *self.names() = names;
        let stacks = self.stack_cache().expect("the SQLite store caches stacks");
        stacks.reset_from(loaded);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ParameterStore, Store};

    /// Caps the database at its current size plus `extra` pages: SQLite then answers
    /// `SQLITE_FULL` as on a full disk (the pragma is per connection: the writer's).
    async fn cap(store: &SqliteStore, extra: i64) {
        let pages: i64 = sqlx::query_scalar("PRAGMA page_count")
            .fetch_one(&store.pool)
            .await
            .unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "PRAGMA max_page_count = {}",
            pages + extra
        )))
        .execute(&store.pool)
        .await
        .unwrap();
    }

    async fn stored(store: &SqliteStore, name: &str) -> bool {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM ssm_parameters WHERE name = ?")
            .bind(name)
            .fetch_one(&store.pool)
            .await
            .unwrap()
            > 0
    }

    async fn wait_healthy(store: &SqliteStore) -> StoreHealth {
        tokio::time::sleep(PROBE_INTERVAL).await;
        store.health().await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_store_refuses_writes_then_recovers_with_its_caches_rebuilt() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).await.unwrap();
        store
            .put_parameter("/keep", "{}", false, 100)
            .await
            .unwrap();
        assert_eq!(store.health().await, StoreHealth::Ok);
        cap(&store, 4).await;
        // Queued writes (an operation's steps): their callers go on until one fails.
        let doc = format!("{{\"v\":\"{}\"}}", "x".repeat(3000));
        let names: Vec<String> = (0..100).map(|i| format!("/lost/{i}")).collect();
        let mut refused = None;
        sagestack_engine::durability::deferred(async {
            for name in &names {
                if let Err(e) = store.put_parameter(name, &doc, false, 100).await {
                    refused = Some(e);
                    break;
                }
                tokio::task::yield_now().await;
            }
        })
        .await;
        let flushed = store.flush().await;
        assert!(
            matches!(flushed, Err(StoreError::Full(ref m)) if m.contains("full")),
            "{flushed:?}"
        );
        if let Some(e) = refused {
            assert!(matches!(e, StoreError::Full(_)), "{e:?}");
        }
        // While full: a clear error, and the health says why.
        let e = store
            .put_parameter("/x", "{}", false, 100)
            .await
            .unwrap_err();
        assert!(matches!(e, StoreError::Full(_)), "{e:?}");
        match wait_healthy(&store).await {
            StoreHealth::Degraded(reason) => assert!(reason.contains("full"), "{reason}"),
            StoreHealth::Ok => panic!("healthy while full"),
        }
        // Space returns: the next probe takes the store out of its failed state.
        sqlx::query("PRAGMA max_page_count = 1073741823")
            .execute(&store.pool)
            .await
            .unwrap();
        assert_eq!(wait_healthy(&store).await, StoreHealth::Ok);
        // What is served from memory is what the database holds, lost writes included.
        let mut lost = 0;
        for name in &names {
            let served = store.get_parameter(name, None).await.unwrap().is_some();
            let on_disk = stored(&store, name).await;
            assert_eq!(served, on_disk, "{name}");
            lost += usize::from(!on_disk);
        }
        assert!(lost > 0, "the cap refused nothing");
        // A lost parameter's name is free again: creating it is not "already exists".
        let mut first_lost = None;
        for name in &names {
            if !stored(&store, name).await {
                first_lost = Some(name.clone());
                break;
            }
        }
        let first_lost = first_lost.expect("a lost write");
        let version = store.put_parameter(&first_lost, "{}", false, 100).await;
        assert_eq!(version, Ok(1));
        store
            .put_parameter("/after", "{}", false, 100)
            .await
            .unwrap();
        store.close().await;
        drop(store);
        let store = SqliteStore::open(dir.path()).await.unwrap();
        for name in ["/keep", "/after"] {
            assert!(
                store.get_parameter(name, None).await.unwrap().is_some(),
                "{name}"
            );
        }
        let check: String = sqlx::query_scalar("PRAGMA integrity_check")
            .fetch_one(&store.pool)
            .await
            .unwrap();
        assert_eq!(check, "ok");
    }
}
