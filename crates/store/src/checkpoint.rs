//! WAL checkpoints off the writer's path, for the SQLite backend.
//!
//! By default SQLite checkpoints (copies the WAL's pages into the database file and
//! flushes it) inside the commit that pushes the WAL past 1,000 pages, on the one writing
//! connection: every writer queued behind that commit waits for the copy. Measured at 32
//! projects provisioning at once, checkpoints were a sixth of the writer thread's time.
//!
//! So the writer runs with `wal_autocheckpoint=0` and a task of its own, on a connection
//! of its own, checkpoints every [`INTERVAL`]: `PASSIVE` (never blocks the writer or the
//! readers), or `RESTART` once the WAL holds more than [`RESTART_PAGES`] (so that a WAL
//! that passive checkpoints could not rewind, because readers were always on it, starts
//! over from its beginning instead of growing without bound). Checkpoints never lose
//! data: a page leaves the WAL only once it is in the database file.

use std::time::Duration;

use sqlx::Row;
use sqlx::sqlite::SqlitePool;

/// How often the checkpoint task runs.
pub(crate) const INTERVAL: Duration = Duration::from_millis(200);
/// WAL size (pages) above which the task asks for a `RESTART` checkpoint.
pub(crate) const RESTART_PAGES: i64 = 16_384;

/// Starts the checkpoint task on `pool` (a writable connection that is not the writer's).
/// It stops when the pool is closed.
pub(crate) fn start(pool: SqlitePool) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut restart = false;
        loop {
            tick.tick().await;
            if pool.is_closed() {
                return;
            }
            match checkpoint(&pool, restart).await {
                Ok(wal_pages) => restart = wal_pages > RESTART_PAGES,
                Err(e) if pool.is_closed() => {
                    tracing::debug!(error = %e, "checkpoint task stopping");
                    return;
                }
                Err(e) => tracing::warn!(error = %e, "WAL checkpoint"),
            }
        }
    });
}

/// Runs one checkpoint (`RESTART` or `PASSIVE`); returns the WAL's size in pages.
async fn checkpoint(pool: &SqlitePool, restart: bool) -> Result<i64, sqlx::Error> {
    let sql = if restart {
        "PRAGMA wal_checkpoint(RESTART)"
    } else {
        "PRAGMA wal_checkpoint(PASSIVE)"
    };
    let row = sqlx::query(sql).fetch_one(pool).await?;
    row.try_get::<i64, _>(1)
}
