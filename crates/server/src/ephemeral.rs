//! `sagestack serve --ephemeral`: the data directory is a fresh temporary directory
//! (`$TMPDIR/sagestack-ephemeral-XXXXXX`), removed when the server exits, SIGTERM and
//! SIGINT included (`serve.rs` holds the [`tempfile::TempDir`] until the store is
//! closed). The store in it never flushes (`sagestack_store::Durability::Ephemeral`).
//!
//! Why a directory and not SQLite's `:memory:`: the store then runs exactly its durable
//! code paths (WAL, the read connections beside the writer, the checkpoint task, the
//! lock file, Lambda code and runtime files on disk), and with `synchronous=OFF` and no
//! `fdatasync` a write costs what the OS page cache costs. An in-memory SQLite shared
//! between connections needs the shared-cache mode, whose table locks and
//! `SQLITE_LOCKED` errors the durable store never meets.
//!
//! A `kill -9` leaves the directory behind (nothing runs at exit); the next
//! `--ephemeral` start removes such leftovers: directories of this prefix over a minute
//! old whose lock file no process holds (the OS releases a dead process's lock; a
//! younger directory may be a server that has not locked it yet).

use std::path::Path;
use std::time::Duration;

/// The prefix of every ephemeral data directory.
pub const PREFIX: &str = "sagestack-ephemeral-";
/// A directory younger than this is never removed: its server may be no_lock now.
const STARTING: Duration = Duration::from_secs(60);

/// Removes what killed ephemeral servers left in `parent`, then makes a new directory.
pub fn data_dir() -> Result<tempfile::TempDir, String> {
    let parent = std::env::temp_dir();
    remove_leftovers(&parent);
    tempfile::Builder::new()
        .prefix(PREFIX)
        .tempdir_in(&parent)
        .map_err(|e| {
            format!(
                "cannot make an ephemeral data directory in {}: {e}",
                parent.display()
            )
        })
}

/// Removes every `PREFIX*` directory in `parent` that no live server holds.
fn remove_leftovers(parent: &Path) {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        if !name.to_string_lossy().starts_with(PREFIX) {
            continue;
        }
        let dir = entry.path();
        if abandoned(&dir) {
            match std::fs::remove_dir_all(&dir) {
                Ok(()) => {
                    tracing::info!(dir = %dir.display(), "removed an ephemeral data directory a killed server left")
                }
                Err(e) => {
                    tracing::debug!(dir = %dir.display(), "cannot remove a left ephemeral data directory: {e}")
                }
            }
        }
    }
}

/// Whether no server holds `dir`: it is not new (a server no_lock now may not have
/// taken its lock yet: the lock file is created, then locked), and its lock file is
/// missing or can be locked.
fn abandoned(dir: &Path) -> bool {
    let old = std::fs::metadata(dir)
        .and_then(|m| m.modified())
        .is_ok_and(|t| t.elapsed().is_ok_and(|age| age > STARTING));
    if !old {
        return false;
    }
    let lock = dir.join(sagestack_store::sqlite::LOCK_FILE);
    match std::fs::File::options().write(true).open(&lock) {
        Ok(file) => file.try_lock().is_ok(),
        Err(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leftovers_go_and_held_directories_stay() {
        let parent = tempfile::tempdir().unwrap();
        let left = parent.path().join(format!("{PREFIX}left"));
        let held = parent.path().join(format!("{PREFIX}held"));
        let no_lock = parent.path().join(format!("{PREFIX}no_lock"));
        let other = parent.path().join("something-else");
        let young = parent.path().join(format!("{PREFIX}young"));
        for d in [&left, &held, &no_lock, &other, &young] {
            std::fs::create_dir(d).unwrap();
        }
        let lock_of = |d: &Path| d.join(sagestack_store::sqlite::LOCK_FILE);
        std::fs::write(lock_of(&left), b"").unwrap();
        std::fs::write(lock_of(&other), b"").unwrap();
        let holder = std::fs::File::create(lock_of(&held)).unwrap();
        holder.try_lock().unwrap();
        std::fs::write(lock_of(&young), b"").unwrap();
        // Every directory but `young` is older than a start-up.
        let long_ago = std::time::SystemTime::now() - 2 * STARTING;
        for d in [&left, &held, &no_lock, &other] {
            std::fs::File::open(d)
                .unwrap()
                .set_modified(long_ago)
                .unwrap();
        }
        remove_leftovers(parent.path());
        assert!(!left.exists() && !no_lock.exists());
        assert!(held.exists() && other.exists() && young.exists());
    }
}
