//! The operation drivers: one function per stack phase, each resumable from the stored
//! records alone (that is what makes [`crate::Engine::recover`] possible).
//!
//! ```text
//! Create ──ok──> CREATE_COMPLETE
//!    └─fail──> ROLLBACK_IN_PROGRESS (Rollback) ──> ROLLBACK_COMPLETE | ROLLBACK_FAILED
//!              (or CREATE_FAILED with DisableRollback)
//! Update ──ok──> UPDATE_COMPLETE_CLEANUP_IN_PROGRESS (UpdateCleanup) ──> UPDATE_COMPLETE
//!    └─fail──> UPDATE_ROLLBACK_IN_PROGRESS (UpdateRollback)
//!              ──> UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS (UpdateRollbackCleanup)
//!              ──> UPDATE_ROLLBACK_COMPLETE          (or UPDATE_ROLLBACK_FAILED)
//! Delete ──> DELETE_COMPLETE | DELETE_FAILED
//! ```
//!
//! Every resource action writes the resource record (and its event) *before* calling the
//! provider and again *after*. A record left `*_IN_PROGRESS` therefore means "started,
//! result unknown", which recovery turns into a failure (creates, updates) or a retry
//! (deletes, which providers must make idempotent).
//!
//! Layout: [`run`] holds what every phase shares (the [`run::Run`] of one phase, its record
//! writes, and the one place a phase's resource actions are scheduled over the dependency
//! graph), and [`calls`] how a resource action reaches its provider; [`forward`] is the
//! phase driver of creates and updates and the begin/finish of their resource actions;
//! [`create`], [`update`], [`delete`] and [`rollback`] hold each operation's phases and
//! resource actions; [`recover`] settles what a crash interrupted;
//! [`carry`] hands a stack's records from phase to phase and [`kept`] from one operation
//! to the next.

mod calls;
mod carry;
mod create;
mod delete;
mod forward;
mod kept;
mod recover;
mod rollback;
mod run;
mod update;

use std::sync::Arc;

use crate::error::EngineError;
use crate::inner::Inner;
use crate::model::*;

pub(crate) use carry::{Carry, Records};
pub(crate) use kept::Kept;
pub(crate) use recover::recover_resources;

/// Where a stack's operation is, i.e. what the driver does next.
#[derive(Debug, Clone)]
pub(crate) enum Phase {
    Create,
    /// A create failed (or was interrupted) with this stack-level reason.
    CreateFailed(String),
    Rollback,
    Delete,
    Update,
    /// An update failed (or was interrupted) with this stack-level reason.
    UpdateFailed(String),
    UpdateCleanup,
    UpdateRollback,
    UpdateRollbackCleanup,
}

impl Phase {
    /// The stack's status while this phase drives it.
    pub(crate) fn status(&self) -> StackStatus {
        match self {
            Phase::Create | Phase::CreateFailed(_) => StackStatus::CreateInProgress,
            Phase::Rollback => StackStatus::RollbackInProgress,
            Phase::Delete => StackStatus::DeleteInProgress,
            Phase::Update | Phase::UpdateFailed(_) => StackStatus::UpdateInProgress,
            Phase::UpdateCleanup => StackStatus::UpdateCompleteCleanupInProgress,
            Phase::UpdateRollback => StackStatus::UpdateRollbackInProgress,
            Phase::UpdateRollbackCleanup => StackStatus::UpdateRollbackCompleteCleanupInProgress,
        }
    }
}

/// What a phase leads to.
enum Next {
    /// The phase that follows, and the stack record as the phase before it wrote it last
    /// (`None`: read it from the store).
    Phase(Phase, Option<Box<StackRecord>>),
    /// The operation is over; its last write left the stack at this status and revision
    /// (which `ops/kept.rs` keeps the records with).
    Ended { status: StackStatus, revision: u64 },
}

/// What a phase returns. An error is a storage failure, which pauses the operation until
/// `recover`.
type Step = Result<Next, EngineError>;

/// Ends a phase by starting `next`: writes the stack status it runs under, with `reason`.
/// The record goes to the next phase as written: a backend may have queued that write
/// ([`crate::store::StackStore::put_stack_step`]), and a read would wait for its commit.
async fn then(inner: &Inner, stack: &mut StackRecord, next: Phase, reason: Option<String>) -> Step {
    inner.set_phase_status(stack, next.status(), reason).await?;
    Ok(Next::Phase(next, Some(Box::new(stack.clone()))))
}

/// Ends the operation: writes the stack's final `status`, with `reason`.
async fn done(
    inner: &Inner,
    stack: &mut StackRecord,
    status: StackStatus,
    reason: Option<String>,
) -> Step {
    inner.set_status(stack, status, reason).await?;
    Ok(Next::Ended {
        status,
        revision: stack.revision,
    })
}

/// Drives `stack_id` from `phase` until its operation ends; `carry` hands the stack's
/// records from each phase to the next ([`carry`]). Returns the status and revision the
/// operation's last write left the stack at, if it ended (not paused by a store error).
pub(crate) async fn drive(
    inner: Arc<Inner>,
    stack_id: String,
    mut phase: Phase,
    carry: Arc<Carry>,
    written: Option<StackRecord>,
) -> Option<(StackStatus, u64)> {
    let mut written: Option<Box<StackRecord>> = written.map(Box::new);
    let ended = loop {
        let stack = match written.take() {
            Some(stack) => *stack,
            None => match inner.store.get_stack(&stack_id).await {
                Ok(Some(s)) => s,
                Ok(None) => return None,
                Err(e) => {
                    tracing::error!(%stack_id, error = %e, "loading stack; operation paused until recover");
                    return None;
                }
            },
        };
        match step(&inner, stack, phase.clone(), &carry).await {
            Ok(Next::Phase(next, stack)) => {
                phase = next;
                written = stack;
            }
            Ok(Next::Ended { status, revision }) => break (status, revision),
            Err(e) => {
                // Only storage failures get here; the stack stays in progress and
                // `recover` resumes it once the store is healthy.
                tracing::error!(%stack_id, ?phase, error = %e, "operation paused until recover");
                return None;
            }
        }
    };
    if let Err(e) = finish_change_set(&inner, &stack_id).await {
        tracing::error!(%stack_id, error = %e, "recording change set execution status");
    }
    Some(ended)
}

async fn step(inner: &Arc<Inner>, stack: StackRecord, phase: Phase, carry: &Arc<Carry>) -> Step {
    match phase {
        Phase::Create => create::create(inner, stack, carry).await,
        Phase::CreateFailed(reason) => create::fail_create(inner, stack, reason).await,
        Phase::Rollback => rollback::rollback(inner, stack, carry).await,
        Phase::Delete => delete::delete(inner, stack, carry).await,
        Phase::Update => update::update(inner, stack, carry).await,
        Phase::UpdateFailed(reason) => update::fail_update(inner, stack, reason).await,
        Phase::UpdateCleanup => update::update_cleanup(inner, stack, carry).await,
        Phase::UpdateRollback => rollback::update_rollback(inner, stack, carry).await,
        Phase::UpdateRollbackCleanup => {
            rollback::update_rollback_cleanup(inner, stack, carry).await
        }
    }
}

/// Records the outcome on the change set whose execution drove the stack.
async fn finish_change_set(inner: &Arc<Inner>, stack_id: &str) -> Result<(), EngineError> {
    let Some(stack) = inner.store.get_stack(stack_id).await? else {
        return Ok(());
    };
    if stack.status.is_operation_in_progress() {
        return Ok(());
    }
    let Some(cs_id) = &stack.change_set_id else {
        return Ok(());
    };
    let Some(mut cs) = inner.store.get_change_set(cs_id).await? else {
        return Ok(());
    };
    if cs.execution_status == ExecutionStatus::ExecuteInProgress {
        cs.execution_status = if matches!(
            stack.status,
            StackStatus::CreateComplete | StackStatus::UpdateComplete
        ) {
            ExecutionStatus::ExecuteComplete
        } else {
            ExecutionStatus::ExecuteFailed
        };
        inner.store.put_change_set(&cs).await?;
    }
    Ok(())
}
