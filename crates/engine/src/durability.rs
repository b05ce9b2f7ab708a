//! Which writes must reach stable storage before they return.
//!
//! A store commits writes in call order, so a later write never lands without an earlier
//! one. Outside a deferred scope every write is committed, and on stable storage, before
//! it returns: a crash of any kind loses nothing that returned. Stable storage (an
//! `fsync`) matters only for an OS crash or power loss, and there only for what someone
//! outside was told: an API answer, or a call to a system outside the store.
//!
//! So an operation's intermediate steps run *deferred*: a store may return from a write
//! before it is flushed, and even before it is committed (the SQLite store queues such
//! writes and commits them in order, many per transaction), as long as every read sees
//! every write that returned before it. A crash then loses at most the last steps, which
//! is the same as having crashed a little earlier. The operation makes itself durable at
//! the points that matter by calling [`crate::StackStore::sync`]:
//!
//! * an API call's own writes (the stack's first in-progress state) are outside any
//!   deferred scope, so they are flushed before the answer, as before;
//! * the engine's operation tasks run deferred and flush once when they end, and before
//!   calling a provider whose effects live outside the store
//!   ([`crate::ResourceProvider::effects_outside_store`], e.g. a custom resource's
//!   webhook), so the "started" record is on disk before the world is touched;
//! * a caller that runs an operation inside its own deferred scope (project
//!   provisioning) flushes at its own end instead.
//!
//! After a crash the store comes back at an earlier point of that order (SQLite's WAL
//! keeps commits as a prefix), resources kept in the same store included, and recovery
//! resumes or rolls back from there. Resources kept in another store are effects
//! outside this one ([`crate::provider::InOtherStore`]).
//!
//! The flag is a tokio task-local: tasks spawned inside a deferred scope do not inherit
//! it unless the spawner passes it on ([`inherit`]), so the default is always the safe
//! one (flush before returning).

use std::future::Future;

tokio::task_local! {
    static DEFERRED: bool;
}

/// Runs `fut` with flushes deferred (see the module documentation).
pub async fn deferred<F: Future>(fut: F) -> F::Output {
    DEFERRED.scope(true, fut).await
}

/// Runs `fut` with every write flushed before it returns, even inside a deferred scope
/// (for the write that tells the outside world an operation ended).
pub async fn immediate<F: Future>(fut: F) -> F::Output {
    DEFERRED.scope(false, fut).await
}

/// Whether the current task runs deferred: a store may then skip the flush of a write.
pub fn is_deferred() -> bool {
    DEFERRED.try_with(|d| *d).unwrap_or(false)
}

/// `fut` in the current task's mode, for a task about to be spawned.
pub fn inherit<F: Future>(fut: F) -> impl Future<Output = F::Output> {
    DEFERRED.scope(is_deferred(), fut)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn scopes_nest_and_spawned_tasks_inherit_only_when_asked() {
        assert!(!is_deferred());
        deferred(async {
            assert!(is_deferred());
            immediate(async { assert!(!is_deferred()) }).await;
            assert!(is_deferred());
            let plain = tokio::spawn(async { is_deferred() }).await.unwrap();
            assert!(!plain, "a plain spawn must default to flushing");
            let inherited = tokio::spawn(inherit(async { is_deferred() }))
                .await
                .unwrap();
            assert!(inherited);
        })
        .await;
        assert!(!is_deferred());
    }
}
