//! Group commit for the SQLite backend.
//!
//! SQLite in WAL mode with `synchronous=FULL` fsyncs the WAL at every commit, so a
//! stack operation that records each resource step pays one fsync per step, one after
//! the other, even when many steps (of one stack or of many) commit at the same time.
//! Instead the connection runs with `synchronous=NORMAL` (a commit is written to the WAL
//! but not flushed) and every write method, after its commit and before it returns,
//! waits on [`GroupSync::sync`]: one `fdatasync` of the WAL covers every commit that
//! finished before it started, so concurrent writers share one flush.
//!
//! A method returns only once its commit is on stable storage, unless its caller runs
//! deferred (`sagestack_engine::durability`: the steps of a stack or project operation),
//! which then calls [`GroupSync::sync`] itself where it must be durable (the operation's
//! end, before an effect outside the store), after draining the writes it queued behind
//! ([`crate::batch`]). A `kill -9` loses nothing committed (the WAL pages are in the OS
//! page cache), only writes still queued; an OS crash or power loss loses at most commits
//! not yet flushed, and SQLite comes back at an earlier commit (the WAL keeps commits as a
//! prefix). A concurrent reader may see a committed write a flush before its writer is
//! told it is durable.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::StoreError;

/// Whether the embedded store flushes to stable storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Every acknowledged write is on stable storage (`fdatasync`, shared by concurrent
    /// writers: this module's [`GroupSync`]).
    Durable,
    /// `sagestack serve --ephemeral`: the same store, files, WAL, caches and write
    /// combiner, but nothing is ever flushed (`synchronous=OFF`, no `fdatasync`), so a
    /// write costs what the OS page cache costs. A `kill -9` still loses nothing
    /// committed; an OS crash or power loss may lose or corrupt anything, which is
    /// fine for a data directory that is deleted at exit anyway.
    Ephemeral,
}

/// Shares WAL flushes between concurrent committers. See the module documentation.
pub(crate) struct GroupSync {
    wal: Arc<File>,
    /// Commits finished so far (a ticket per commit).
    committed: AtomicU64,
    /// The highest ticket known to be flushed; held while a flush runs.
    flushed: tokio::sync::Mutex<u64>,
    /// `Durability::Ephemeral`: [`GroupSync::sync`] flushes nothing.
    ephemeral: bool,
    /// Whether the last flush took less than [`QUICK`]: the next one then runs in place
    /// (see [`flush`]). False until a flush has been timed.
    quick: AtomicBool,
}

/// A flush shorter than this runs on the async worker itself (see [`flush`]).
const QUICK: Duration = Duration::from_millis(1);

impl GroupSync {
    /// Opens the WAL file of `database` (creating it empty if SQLite has not yet; an
    /// empty WAL is a valid one) and makes its directory entry durable.
    pub(crate) fn open(database: &Path, durability: Durability) -> Result<Self, StoreError> {
        let ephemeral = durability == Durability::Ephemeral;
        let mut wal_path = database.as_os_str().to_owned();
        wal_path.push("-wal");
        let wal = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&wal_path)
            .map_err(|e| StoreError::Backend(format!("cannot open the WAL for flushing: {e}")))?;
        if let Some(dir) = database.parent().filter(|_| !ephemeral) {
            // The WAL's directory entry must survive a power loss too.
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(GroupSync {
            wal: Arc::new(wal),
            committed: AtomicU64::new(0),
            flushed: tokio::sync::Mutex::new(0),
            ephemeral,
            quick: AtomicBool::new(false),
        })
    }

    /// Call after a commit: returns once that commit is flushed to stable storage.
    pub(crate) async fn sync(&self) -> Result<(), StoreError> {
        if self.ephemeral {
            return Ok(());
        }
        let ticket = self.committed.fetch_add(1, Ordering::SeqCst) + 1;
        let mut flushed = self.flushed.lock().await;
        if *flushed >= ticket {
            // A flush that started after this commit finished already covered it.
            return Ok(());
        }
        // Every commit holding a ticket up to `target` finished before this flush starts.
        let target = self.committed.load(Ordering::SeqCst);
        let took = flush(&self.wal, self.quick.load(Ordering::Relaxed))?;
        self.note(took);
        *flushed = target;
        Ok(())
    }

    /// Remembers whether a flush that took `took` was quick (see [`flush`]).
    fn note(&self, took: Duration) {
        self.quick.store(took < QUICK, Ordering::Relaxed);
    }
}

/// `fdatasync` on this thread; how long it took. A `quick` flush (the last one took
/// less than [`QUICK`]) simply blocks the async worker for that long. Otherwise, on a
/// multi-thread runtime, `block_in_place` first hands this worker's other tasks to
/// another thread, so that a slow disk stalls only the flushing task; that hand-off
/// wakes a thread and costs two context switches, more than a 0.1 ms flush itself
/// (interleaved A/B, 10-resource stacks: every operation 5-9% faster and 7-9% less
/// server CPU per cycle in place; 100 and 500 resources unchanged). Handing the flush to a
/// blocking-pool thread instead (`spawn_blocking`) cost a wake-up per flush too, which on
/// a busy machine cost more than the flush (2.8 ms against 0.4 ms per sequential write at
/// load 7).
fn flush(wal: &File, quick: bool) -> Result<Duration, StoreError> {
    let run = || {
        let start = Instant::now();
        wal.sync_data()
            .map_err(|e| StoreError::Backend(format!("cannot flush the WAL: {e}")))?;
        Ok(start.elapsed())
    };
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) if !quick => {
            tokio::task::block_in_place(run)
        }
        _ => run(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn every_commit_is_flushed_before_sync_returns() {
        let dir = tempfile::tempdir().unwrap();
        let g = Arc::new(GroupSync::open(&dir.path().join("db"), Durability::Durable).unwrap());
        let tasks: Vec<_> = (0..64)
            .map(|_| {
                let g = g.clone();
                tokio::spawn(async move { g.sync().await })
            })
            .collect();
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        assert_eq!(g.committed.load(Ordering::SeqCst), 64);
        assert_eq!(*g.flushed.lock().await, 64);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_flush_runs_in_place_only_after_a_quick_one() {
        let dir = tempfile::tempdir().unwrap();
        let g = GroupSync::open(&dir.path().join("db"), Durability::Durable).unwrap();
        assert!(!g.quick.load(Ordering::SeqCst), "the first flush hands off");
        g.note(Duration::from_micros(100));
        assert!(g.quick.load(Ordering::SeqCst));
        g.sync().await.unwrap();
        g.note(QUICK * 5);
        assert!(
            !g.quick.load(Ordering::SeqCst),
            "a slow flush makes the next hand off"
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_flush_on_a_current_thread_runtime_never_hands_off() {
        // `block_in_place` panics on a current-thread runtime.
        let dir = tempfile::tempdir().unwrap();
        let g = GroupSync::open(&dir.path().join("db"), Durability::Durable).unwrap();
        g.sync().await.unwrap();
        g.note(QUICK * 5);
        g.sync().await.unwrap();
    }
}
