//! Claims on work: which process drives an operation.
//!
//! Several processes may share one store (replicas on PostgreSQL). An operation in
//! progress is driven by exactly one of them: the one holding its claim. The engine
//! claims a stack before it admits an operation on it (so no other process can take over
//! a stack between its admission and its task's start), holds the claim while a task
//! drives the stack, and releases it when the last such task ends; recovery claims a
//! stack before resuming it, so a stack whose holder is alive is left to that holder.
//!
//! What a claim is made of (a lease row with an expiry, renewed by a heartbeat) is the
//! implementor's business (`sagestack_store::leases::Leaseholder`); the engine only asks.
//! [`Unclaimed`], the default, grants every claim: one process, nobody to race.

use async_trait::async_trait;

use crate::store::StoreError;

/// The kind of claim that names a stack (by stack id).
pub const STACK: &str = "stack";

/// This process's claims on work, each named by a kind and an id.
#[async_trait]
pub trait Claims: Send + Sync {
    /// Makes `(kind, id)` this process's: `true` when it is (it was free, its holder
    /// stopped renewing it, or it was ours already); `false` when a live process holds it.
    async fn claim(&self, kind: &str, id: &str) -> Result<bool, StoreError>;

    /// Gives `(kind, id)` back if this process holds it (failures are the implementor's
    /// to log: a claim not given back lapses once its holder stops renewing it).
    async fn release(&self, kind: &str, id: &str);
}

/// Every claim granted, nothing recorded: a process alone with its store.
pub struct Unclaimed;

#[async_trait]
impl Claims for Unclaimed {
    async fn claim(&self, _kind: &str, _id: &str) -> Result<bool, StoreError> {
        Ok(true)
    }

    async fn release(&self, _kind: &str, _id: &str) {}
}
