//! One lock per stack name.
//!
//! A stack name's uniqueness check and the insert that follows it must not interleave
//! with another create of the same name (CreateStack, CreateChangeSet of type `CREATE`).
//! One lock for every name did that, but it also queued creates of *different* names
//! behind each other: behind one another's template parsing and planning, and, while
//! PostgreSQL is down, behind one another's wait for a connection (each create then
//! took as many connection waits as creates were ahead of it). A lock per name keeps
//! the first property without the second. Entries are removed when their last holder
//! or waiter is gone, so the map holds only names in use.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::OwnedMutexGuard;

type Slot = Arc<tokio::sync::Mutex<()>>;

/// The locks (see the module docs).
#[derive(Default)]
pub struct NameLocks {
    slots: Mutex<HashMap<String, Slot>>,
}

/// The lock on one name, held until dropped.
pub struct NameGuard<'a> {
    locks: &'a NameLocks,
    name: String,
    guard: Option<OwnedMutexGuard<()>>,
}

impl NameLocks {
    /// Waits for and takes the lock on `name`.
    pub async fn lock(&self, name: &str) -> NameGuard<'_> {
        let slot = self
            .slots
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(name.to_string())
            .or_default()
            .clone();
        NameGuard {
            locks: self,
            name: name.to_string(),
            guard: Some(slot.lock_owned().await),
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.slots.lock().unwrap().len()
    }
}

impl Drop for NameGuard<'_> {
    fn drop(&mut self) {
        // Unlock first; then, under the map's lock (where waiters take their clones),
        // drop the entry if the map's own reference is the last.
        self.guard.take();
        let mut slots = self.locks.slots.lock().unwrap_or_else(|e| e.into_inner());
        if slots
            .get(&self.name)
            .is_some_and(|s| Arc::strong_count(s) == 1)
        {
            slots.remove(&self.name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn one_name_waits_other_names_do_not_and_entries_go() {
        let locks = Arc::new(NameLocks::default());
        let a = locks.lock("a").await;
        // Another name is not held up.
        let b = tokio::time::timeout(Duration::from_millis(100), locks.lock("b")).await;
        assert!(b.is_ok());
        drop(b);
        // The same name waits until the holder lets go.
        let waiter = {
            let locks = locks.clone();
            tokio::spawn(async move {
                let _g = locks.lock("a").await;
            })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiter.is_finished());
        drop(a);
        tokio::time::timeout(Duration::from_secs(1), waiter)
            .await
            .expect("the waiter gets the lock")
            .unwrap();
        assert_eq!(locks.len(), 0);
    }
}
