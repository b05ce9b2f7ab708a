//! Rolling back: a failed create's rollback (delete everything it made), a failed
//! update's rollback (restore what it changed) and the cleanup after it (delete what it
//! added), with one resource's restore and rollback cleanup.

use std::collections::HashSet;
use std::sync::Arc;

use crate::error::EngineError;
use crate::inner::Inner;
use crate::model::*;
use crate::plan::Policy;
use crate::provider::ResourceState;

use super::delete::{DeleteMode, delete_all};
use super::run::{Order, Restore, RollbackCleanup, Run, failed_to, forward_order, reverse_order};
use super::update::previous_plan;
use super::{Carry, Phase, Step, done, then};

pub(super) async fn rollback(
    inner: &Arc<Inner>,
    mut stack: StackRecord,
    carry: &Arc<Carry>,
) -> Step {
    let failed = delete_all(inner, &stack, DeleteMode::CreateRollback, carry).await?;
    inner.store.put_exports(&stack.stack_id, &[]).await?;
    stack.outputs.clear();
    let (status, reason) = if failed.is_empty() {
        (StackStatus::RollbackComplete, None)
    } else {
        (
            StackStatus::RollbackFailed,
            Some(failed_to("delete", &failed)),
        )
    };
    done(inner, &mut stack, status, reason).await
}

pub(super) async fn update_rollback(
    inner: &Arc<Inner>,
    mut stack: StackRecord,
    carry: &Arc<Carry>,
) -> Step {
    let plan = inner.plan(&stack, &stack.template).ok();
    let run = Run::new(inner, &stack, plan.clone(), Some(carry)).await?;
    let touched: HashSet<String> = run.ids(|r| matches!(r.prior, Some(Prior::Existing(_))));
    // Restore in dependency order so dependents get their dependencies' old values back.
    let (mut nodes, waits): Order = match &plan {
        Some(p) => forward_order(&**p),
        None => Default::default(),
    };
    nodes.retain(|n| touched.contains(n));
    nodes.extend(
        touched
            .iter()
            .filter(|t| !nodes.contains(t))
            .cloned()
            .collect::<Vec<_>>(),
    );
    let failed = run.phase((nodes, waits), Restore).await?;
    run.sweep().await?;
    if !failed.is_empty() {
        let reason = Some(failed_to("update", &failed));
        return done(inner, &mut stack, StackStatus::UpdateRollbackFailed, reason).await;
    }
    then(inner, &mut stack, Phase::UpdateRollbackCleanup, None).await
}

pub(super) async fn update_rollback_cleanup(
    inner: &Arc<Inner>,
    mut stack: StackRecord,
    carry: &Arc<Carry>,
) -> Step {
    let failed_plan = previous_plan(inner, &stack);
    let run = Run::new(inner, &stack, None, Some(carry)).await?;
    let ids: Vec<String> =
        run.ids(|r| matches!(r.prior, Some(Prior::Added)) || !r.cleanup.is_empty());
    let order = reverse_order(failed_plan.as_deref(), &ids);
    run.phase(order, RollbackCleanup).await?;
    run.clear_leftovers().await?;
    if let Ok(plan) = inner.plan(&stack, &stack.template) {
        stack.displayed_parameters = plan.displayed_parameters();
        stack.resolved_parameters = plan.resolved_parameters();
        stack.description = plan.description();
        stack.imports = plan.imports();
    }
    restore_exports(inner, &stack).await?;
    stack.previous_template = None;
    stack.previous_tags = None;
    done(inner, &mut stack, StackStatus::UpdateRollbackComplete, None).await
}

/// Puts the stack's exports back to what its stored outputs say. The stored outputs only
/// change when an update succeeds, but the update may have published its new exports just
/// before a crash; a rollback must not leave those behind. Names another stack has claimed
/// in the meantime are left to it.
async fn restore_exports(inner: &Arc<Inner>, stack: &StackRecord) -> Result<(), EngineError> {
    let _exports = inner.exports_lock.lock().await;
    let taken: HashSet<String> = inner
        .store
        .list_exports()
        .await?
        .into_iter()
        .filter(|e| e.exporting_stack_id != stack.stack_id)
        .map(|e| e.name)
        .collect();
    let mine: Vec<ExportRecord> = stack
        .outputs
        .iter()
        .filter_map(|o| {
            let name = o.export_name.as_ref()?;
            (!taken.contains(name)).then(|| ExportRecord {
                name: name.clone(),
                value: o.value.clone(),
                exporting_stack_id: stack.stack_id.clone(),
            })
        })
        .collect();
    Ok(inner.store.put_exports(&stack.stack_id, &mine).await?)
}

impl Run {
    /// Update rollback for one logical id: back to the resource it was before the update.
    pub(super) async fn try_restore(&self, id: &str) -> Result<bool, EngineError> {
        let Some(mut rec) = self.record(id) else {
            return Ok(true);
        };
        let Some(Prior::Existing(old)) = rec.prior.clone() else {
            return Ok(true);
        };
        // Whether the update attempted something here that failed (as opposed to only
        // changing policies): such a resource reports itself restored.
        let touched = matches!(
            rec.status,
            ResourceStatus::UpdateFailed | ResourceStatus::UpdateInProgress
        );
        rec.deletion_policy = old.deletion_policy;
        rec.update_replace_policy = old.update_replace_policy;
        if rec.physical_id.as_deref() != Some(old.physical_id.as_str()) {
            // Replaced: point back at the original; the replacement goes in cleanup.
            if let Some(new_id) = rec.physical_id.take() {
                rec.cleanup.push(PhysicalSnapshot {
                    physical_id: new_id,
                    attributes: std::mem::take(&mut rec.attributes),
                    properties: rec.properties.clone(),
                    deletion_policy: Policy::Delete,
                    update_replace_policy: Policy::Delete,
                });
            }
            rec.physical_id = Some(old.physical_id.clone());
            rec.attributes = old.attributes.clone();
            rec.properties = old.properties.clone();
            self.event(
                &rec,
                ResourceStatus::UpdateInProgress,
                None,
                Some(&old.physical_id),
                Some(&*old.properties),
            )
            .await;
            rec.prior = None;
            self.transition(&mut rec, ResourceStatus::UpdateComplete, None, None)
                .await?;
            return Ok(true);
        }
        // A taggable resource the update gave other stack tags gets the old ones back.
        let retag = self.tags_changed
            && self
                .inner
                .providers
                .type_info(&rec.resource_type)
                .is_some_and(|t| t.taggable);
        if rec.properties == old.properties && !retag {
            // Never changed (a failed replacement, or only policies changed).
            rec.prior = None;
            if touched {
                self.transition(&mut rec, ResourceStatus::UpdateComplete, None, None)
                    .await?;
            } else {
                self.save(&mut rec).await?;
            }
            return Ok(true);
        }
        let applied = rec.properties.clone();
        rec.properties = old.properties.clone();
        self.transition(
            &mut rec,
            ResourceStatus::UpdateInProgress,
            None,
            Some(&*old.properties),
        )
        .await?;
        let state = ResourceState {
            physical_id: old.physical_id.clone(),
            attributes: (*rec.attributes).clone(),
        };
        let provider = self.provider(&rec.resource_type);
        let result = Run::outage(match self.ready(provider, &rec.resource_type).await? {
            Ok(p) => {
                p.update(&self.ctx(&rec), &state, &applied, &old.properties)
                    .await
            }
            Err(e) => Err(e),
        })?;
        match result {
            Ok(s) => {
                rec.attributes = Arc::new(s.attributes);
                rec.prior = None;
                self.transition(&mut rec, ResourceStatus::UpdateComplete, None, None)
                    .await?;
                Ok(true)
            }
            Err(e) => {
                // Keep the target so `prior` still says what to restore on a retry.
                rec.properties = applied;
                let reason = Some(e.to_string());
                self.transition(&mut rec, ResourceStatus::UpdateFailed, reason, None)
                    .await?;
                Ok(false)
            }
        }
    }

    /// Update-rollback cleanup for one logical id: delete what the failed update added.
    pub(super) async fn try_rollback_cleanup(&self, id: &str) -> Result<bool, EngineError> {
        let Some(mut rec) = self.record(id) else {
            return Ok(true);
        };
        if matches!(rec.prior, Some(Prior::Added)) {
            return self.remove(id, DeleteMode::UpdateRollbackAdded).await;
        }
        if !rec.cleanup.is_empty() {
            // An error leaves the record unsaved, naming every original still (those
            // deleted already are deleted again on resume, which finds them gone).
            for old in std::mem::take(&mut rec.cleanup) {
                self.delete_old(&rec, &old, old.update_replace_policy)
                    .await?;
            }
            self.save(&mut rec).await?;
        }
        Ok(true)
    }
}
