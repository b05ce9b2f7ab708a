//! Deleting: the stack delete, the deletion of every live resource it shares with a
//! create's rollback, and one resource's delete (which every cleanup uses too).

use std::sync::Arc;

use crate::error::EngineError;
use crate::inner::Inner;
use crate::model::*;
use crate::plan::Policy;
use crate::provider::{ProviderError, ResourceState};

use super::run::{Ev, NodeAction, Run, failed_to, reverse_order};
use super::{Carry, Step, done};

/// Which operation a deletion belongs to, which decides what the policies mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum DeleteMode {
    /// Rolling back a failed create: everything was created by this operation, so
    /// `RetainExceptOnCreate` deletes.
    CreateRollback,
    StackDelete,
    /// A resource the update's template no longer has.
    UpdateRemoved,
    /// A resource the failed update added: created by that operation.
    UpdateRollbackAdded,
}

/// Deletes each resource, as its mode says.
impl NodeAction for DeleteMode {
    fn run(self, run: &Run, id: &str) -> impl Future<Output = Result<bool, EngineError>> + Send {
        run.try_delete(id, self)
    }
}

pub(super) async fn delete(inner: &Arc<Inner>, mut stack: StackRecord, carry: &Arc<Carry>) -> Step {
    for e in inner.store.list_exports().await? {
        if e.exporting_stack_id != stack.stack_id {
            continue;
        }
        let users = inner.importers(&e.name, &stack.stack_id).await?;
        if !users.is_empty() {
            let reason = EngineError::ExportInUse {
                name: e.name,
                stacks: users.join(", "),
            }
            .to_string();
            return done(inner, &mut stack, StackStatus::DeleteFailed, Some(reason)).await;
        }
    }
    let failed = delete_all(inner, &stack, DeleteMode::StackDelete, carry).await?;
    if !failed.is_empty() {
        let reason = Some(failed_to("delete", &failed));
        return done(inner, &mut stack, StackStatus::DeleteFailed, reason).await;
    }
    inner.store.put_exports(&stack.stack_id, &[]).await?;
    inner.store.delete_change_sets(&stack.stack_id).await?;
    stack.imports.clear();
    done(inner, &mut stack, StackStatus::DeleteComplete, None).await
}

/// Deletes every live resource of `stack` as `mode` says, dependents before what they
/// depend on, past failures; returns the resources that could not be deleted.
pub(super) async fn delete_all(
    inner: &Arc<Inner>,
    stack: &StackRecord,
    mode: DeleteMode,
    carry: &Arc<Carry>,
) -> Result<Vec<String>, EngineError> {
    let plan = inner.plan(stack, &stack.template).ok();
    let run = Run::new(inner, stack, plan.clone(), Some(carry)).await?;
    let live: Vec<String> = run.ids(|r| !r.status.is_gone());
    let failed = run
        .phase(reverse_order(plan.as_deref(), &live), mode)
        .await?;
    run.sweep().await?;
    Ok(failed)
}

/// The status and reason a deletion ends with.
fn deleted(result: &Result<(), ProviderError>) -> (ResourceStatus, Option<String>) {
    match result {
        Ok(()) => (ResourceStatus::DeleteComplete, None),
        Err(e) => (ResourceStatus::DeleteFailed, Some(e.to_string())),
    }
}

impl Run {
    /// Deletes `id` (or skips it, as its policies and `mode` say); whether it is gone.
    pub(super) async fn try_delete(&self, id: &str, mode: DeleteMode) -> Result<bool, EngineError> {
        let Some(mut rec) = self.record(id) else {
            return Ok(true);
        };
        if rec.status.is_gone() {
            return Ok(true);
        }
        let retain = match mode {
            DeleteMode::CreateRollback | DeleteMode::UpdateRollbackAdded => {
                rec.deletion_policy == Policy::Retain
            }
            DeleteMode::StackDelete => {
                matches!(
                    rec.deletion_policy,
                    Policy::Retain | Policy::RetainExceptOnCreate
                ) || self.retain.contains(id)
            }
            DeleteMode::UpdateRemoved => matches!(
                rec.deletion_policy,
                Policy::Retain | Policy::RetainExceptOnCreate
            ),
        };
        if retain {
            self.transition(&mut rec, ResourceStatus::DeleteSkipped, None, None)
                .await?;
            return Ok(true);
        }
        // An update that could not finish rolling back (UPDATE_ROLLBACK_FAILED) can leave
        // a second physical resource under this logical id; deleting the stack removes it.
        let mut extras: Vec<PhysicalSnapshot> = rec.cleanup.clone();
        if let Some(Prior::Existing(old)) = &rec.prior
            && rec.physical_id.as_ref() != Some(&old.physical_id)
        {
            extras.push(old.clone());
        }
        for extra in &extras {
            if !self.delete_old(&rec, extra, Policy::Delete).await? {
                let reason = Some(format!("{} could not be deleted", extra.physical_id));
                self.transition(&mut rec, ResourceStatus::DeleteFailed, reason, None)
                    .await?;
                return Ok(false);
            }
        }
        if !extras.is_empty() {
            rec.cleanup.clear();
            rec.prior = None;
        }
        let Some(physical_id) = rec.physical_id.clone() else {
            // Never created: nothing to delete, but the resource still reports done.
            self.transition(&mut rec, ResourceStatus::DeleteComplete, None, None)
                .await?;
            return Ok(true);
        };
        let provider = self.provider(&rec.resource_type);
        // As in `try_create`: nothing to recover from a stateless provider's delete, so
        // its DELETE_IN_PROGRESS is written with the outcome. The same holds for a
        // provider whose effects are rows of this store: its delete joins the same queue
        // as the records, and deletes are idempotent, so a crash before the outcome
        // leaves the record as it was and the resumed phase deletes it again. Only a
        // delete acting outside the store shows DELETE_IN_PROGRESS while it runs.
        let stateless = Run::stateless(&provider, &rec.resource_type)
            || Run::deletes_in_store(&provider, &rec.resource_type);
        if !stateless {
            self.transition(&mut rec, ResourceStatus::DeleteInProgress, None, None)
                .await?;
        }
        // `Snapshot` deletes too: no provider here keeps data worth a snapshot, and AWS
        // deletes types that cannot snapshot.
        let state = ResourceState {
            physical_id,
            attributes: (*rec.attributes).clone(),
        };
        let result = Run::outage(
            match self.ready_to_delete(provider, &rec.resource_type).await? {
                Ok(p) => p.delete(&self.ctx(&rec), &state, &rec.properties).await,
                Err(e) => Err(e),
            },
        )?;
        let (status, reason) = deleted(&result);
        let opening = stateless.then_some(Ev {
            status: ResourceStatus::DeleteInProgress,
            reason: None,
            physical_id: Some(&state.physical_id),
            properties: None,
        });
        self.transition_after(opening, &mut rec, status, reason, None)
            .await?;
        Ok(result.is_ok())
    }

    /// Deletes a resource that is no longer wanted (a cleanup) and forgets its record. A
    /// failed deletion leaves the resource behind but does not fail the stack.
    pub(super) async fn remove(&self, id: &str, mode: DeleteMode) -> Result<bool, EngineError> {
        let deleted = self.try_delete(id, mode).await;
        self.settle(id, mode, deleted);
        self.forget(id).await?;
        Ok(true)
    }

    /// Deletes a physical resource no longer referenced by the record (a replaced
    /// original, or a replacement that was rolled back), honouring `policy`. Emits events
    /// under the logical id with the old physical id; the record's status is untouched.
    /// `Ok(false)` when the delete failed (the old resource is left behind, as AWS leaves
    /// it); an error when the flush before it failed or the provider's service could not
    /// reach its database ([`Run::outage`]): the caller returns it without saving the
    /// record, which still names the old resource, so that a paused operation deletes it
    /// once recovery resumes it rather than leaving it behind for an outage.
    pub(super) async fn delete_old(
        &self,
        rec: &ResourceRecord,
        old: &PhysicalSnapshot,
        policy: Policy,
    ) -> Result<bool, EngineError> {
        let report = async |status: ResourceStatus, reason: Option<&str>| {
            self.event(rec, status, reason, Some(&old.physical_id), None)
                .await
        };
        if matches!(policy, Policy::Retain | Policy::RetainExceptOnCreate) {
            report(ResourceStatus::DeleteSkipped, None).await;
            return Ok(true);
        }
        report(ResourceStatus::DeleteInProgress, None).await;
        let state = ResourceState {
            physical_id: old.physical_id.clone(),
            attributes: (*old.attributes).clone(),
        };
        let provider = self.provider(&rec.resource_type);
        let result = match self.ready_to_delete(provider, &rec.resource_type).await? {
            Ok(p) => Run::outage(p.delete(&self.ctx(rec), &state, &old.properties).await)?,
            Err(e) => Err(e),
        };
        let (status, reason) = deleted(&result);
        report(status, reason.as_deref()).await;
        Ok(result.is_ok())
    }
}
