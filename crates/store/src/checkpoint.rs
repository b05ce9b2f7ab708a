//! WAL checkpoints off the writer's path, for the SQLite backend.
//!
//! By default SQLite checkpoints (copies the WAL's pages into the database file and
//! flushes it) inside the commit that pushes the WAL past 1,000 pages, on the one writing
//! connection: every writer queued behind that commit waits for the copy. Measured at 32
//! projects provisioning at once, checkpoints were a sixth of the writer thread's time.
//!
//! So the writer runs with `wal_autocheckpoint=0` and a task checkpoints every
//! [`INTERVAL`] instead, `PASSIVE`, on a connection of its own: a passive checkpoint
//! takes neither the write lock nor waits for readers, so the writer never waits for
//! it. Only when the WAL has grown past [`RESTART_PAGES`] (passive checkpoints could
//! not rewind it because readers were always on it) does the task run a `RESTART`
//! checkpoint, and then on the writer's own connection, queued behind its writes: a
//! second connection taking the write lock would make the writer's transactions fail
//! with `SQLITE_BUSY` where they upgrade from reading to writing. Checkpoints never lose
//! data: a page leaves the WAL only once it is in the database file.
//!
//! The task checkpoints only once [`CHECKPOINT_FRAMES`] frames wait in the WAL (SQLite's
//! own automatic threshold), read from the WAL-index header in the `-shm` file. A
//! checkpoint that copies the whole WAL makes the next write *restart* it, and a restart
//! flushes the new WAL header (`fsync`, so that a power loss cannot leave the old header
//! over new frames) on the writer's connection, in that write's path. Checkpointing
//! every tick whatever the WAL held made that happen to the first write after every
//! pause of 200 ms: a CI suite's stack operations, which come with pauses between them,
//! each paid a second `fsync` (0.35-0.5 ms measured with `strace -T` over 10-resource
//! operations 300 ms apart).

use std::path::{Path, PathBuf};
use std::time::Duration;

use sqlx::Row;
use sqlx::sqlite::SqlitePool;

/// How often the checkpoint task runs.
pub(crate) const INTERVAL: Duration = Duration::from_millis(200);
/// Frames waiting in the WAL from which the task checkpoints (see the module
/// documentation): SQLite's `wal_autocheckpoint` default.
pub(crate) const CHECKPOINT_FRAMES: u32 = 1_000;
/// WAL size (pages) above which the task asks for a `RESTART` checkpoint.
pub(crate) const RESTART_PAGES: i64 = 16_384;
/// A failing checkpoint (a full disk fails every one, five times a second) is logged at
/// most this often, with how many failures were not.
pub(crate) const WARN_EVERY: Duration = Duration::from_secs(60);

/// Rate limit of the checkpoint task's warnings.
#[derive(Default)]
struct Warnings {
    last: Option<std::time::Instant>,
    suppressed: u64,
}

impl Warnings {
    /// `Some(failures not logged since the last warning)` when this one is to be logged.
    fn admit(&mut self, now: std::time::Instant) -> Option<u64> {
        if self
            .last
            .is_some_and(|t| now.duration_since(t) < WARN_EVERY)
        {
            self.suppressed += 1;
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.suppressed))
    }
}

/// Starts the checkpoint task: passive checkpoints on `pool` (a writable connection
/// that is not the writer's), restarts on `writer`; `shm` is the database's `-shm` file,
/// where the task reads how many frames wait. It stops when `pool` is closed.
pub(crate) fn start(pool: SqlitePool, writer: SqlitePool, shm: PathBuf) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut restart = false;
        let mut warnings = Warnings::default();
        loop {
            tick.tick().await;
            if pool.is_closed() || writer.is_closed() {
                return;
            }
            if !restart && waiting_frames(&shm).is_some_and(|n| n < CHECKPOINT_FRAMES) {
                continue;
            }
            let on = if restart { &writer } else { &pool };
            match checkpoint(on, restart).await {
                Ok(wal_pages) => restart = wal_pages > RESTART_PAGES,
                Err(e) if pool.is_closed() || writer.is_closed() => {
                    tracing::debug!(error = %e, "checkpoint task stopping");
                    return;
                }
                Err(e) => {
                    if let Some(suppressed) = warnings.admit(std::time::Instant::now()) {
                        tracing::warn!(error = %e, suppressed, "WAL checkpoint failed");
                    }
                }
            }
        }
    });
}

/// Frames in the WAL not yet copied into the database file: `mxFrame` (offset 16) less
/// `nBackfill` (offset 96) of the WAL-index in the `-shm` file, both in the machine's
/// byte order (<https://www.sqlite.org/walformat.html>, "The WAL-Index Header"). Read
/// without SQLite's locks, so it may be a moment old: it only decides when to
/// checkpoint. `None` when it cannot be read (the task then checkpoints, as before).
#[cfg(unix)]
fn waiting_frames(shm: &Path) -> Option<u32> {
    use std::os::unix::fs::FileExt;
    let mut header = [0u8; 100];
    std::fs::File::open(shm)
        .ok()?
        .read_exact_at(&mut header, 0)
        .ok()?;
    let word = |at: usize| u32::from_ne_bytes(header[at..at + 4].try_into().expect("4 bytes"));
    Some(word(16).saturating_sub(word(96)))
}

#[cfg(not(unix))]
fn waiting_frames(_shm: &Path) -> Option<u32> {
    None
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

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};

    #[test]
    fn repeated_failures_are_logged_once_per_interval_with_a_count() {
        let mut w = Warnings::default();
        let t0 = std::time::Instant::now();
        assert_eq!(w.admit(t0), Some(0));
        for i in 1..=10 {
            assert_eq!(w.admit(t0 + INTERVAL * i), None);
        }
        assert_eq!(w.admit(t0 + WARN_EVERY), Some(10));
        assert_eq!(w.admit(t0 + WARN_EVERY + INTERVAL), None);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_task_moves_committed_pages_into_the_database_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("db");
        let options = SqliteConnectOptions::new()
            .filename(&file)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal);
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone().pragma("wal_autocheckpoint", "0"))
            .await
            .unwrap();
        sqlx::query("CREATE TABLE t (v TEXT)")
            .execute(&writer)
            .await
            .unwrap();
        let insert = async |n: usize| {
            for _ in 0..n {
                sqlx::query("INSERT INTO t (v) VALUES (?)")
                    .bind("x".repeat(1000))
                    .execute(&writer)
                    .await
                    .unwrap();
            }
        };
        let before = std::fs::metadata(&file).unwrap().len();
        let shm = dir.path().join("db-shm");
        // A commit writes at least one frame: a hundred wait, below the threshold.
        insert(100).await;
        let waiting = waiting_frames(&shm).expect("the -shm file is readable");
        assert!((100..CHECKPOINT_FRAMES).contains(&waiting), "{waiting}");
        let checkpointer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .unwrap();
        start(checkpointer.clone(), writer.clone(), shm.clone());
        tokio::time::sleep(INTERVAL * 3).await;
        // Below the threshold the task leaves the WAL alone.
        assert_eq!(std::fs::metadata(&file).unwrap().len(), before);
        assert_eq!(waiting_frames(&shm), Some(waiting));
        insert(CHECKPOINT_FRAMES as usize).await;
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::fs::metadata(&file).unwrap().len() == before {
            assert!(
                std::time::Instant::now() < deadline,
                "no checkpoint ran: {:?} frames wait, file {}",
                waiting_frames(&shm),
                std::fs::metadata(&file).unwrap().len()
            );
            tokio::time::sleep(INTERVAL / 4).await;
        }
        // What the task reads is what SQLite counts: what waits is at most the WAL, and
        // nothing waits after a checkpoint.
        let waiting = waiting_frames(&shm).unwrap();
        let row = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .fetch_one(&checkpointer)
            .await
            .unwrap();
        assert_eq!(row.get::<i64, _>(1), row.get::<i64, _>(2));
        assert!(i64::from(waiting) <= row.get::<i64, _>(1), "{waiting}");
        assert_eq!(waiting_frames(&shm), Some(0));
        // The writer keeps writing while the task runs.
        sqlx::query("INSERT INTO t (v) VALUES ('after')")
            .execute(&writer)
            .await
            .unwrap();
    }
}
