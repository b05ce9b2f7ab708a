//! Updating a stack: its forward phase (see [`super::forward`]), what a failed update turns
//! into, the cleanup after a successful one, and one resource's update (in place, or by
//! replacement when a create-only property changes).

use std::collections::HashSet;
use std::sync::Arc;

use serde_json::Value;

use crate::diff::changed_properties;
use crate::error::EngineError;
use crate::inner::Inner;
use crate::model::*;
use crate::plan::TemplatePlan;
use crate::policy::UpdateAction;
use crate::provider::{ProviderError, ResourceState};

use super::delete::DeleteMode;
use super::forward::{Forward, forward_phase};
use super::run::{Cleanup, Run, reverse_order};
use super::{Carry, Next, Phase, Step, done, then};

const REPLACING: &str =
    "Requested update requires the creation of a new physical resource; hence creating one.";

pub(super) async fn update(inner: &Arc<Inner>, mut stack: StackRecord, carry: &Arc<Carry>) -> Step {
    if let Some(reason) = denied_removal(inner, &stack).await? {
        return Ok(Next::Phase(Phase::UpdateFailed(reason), None));
    }
    let plan = match forward_phase(inner, &mut stack, Forward::Update, carry).await? {
        Ok(plan) => plan,
        Err(reason) => return Ok(Next::Phase(Phase::UpdateFailed(reason), None)),
    };
    stack.imports = plan.imports();
    then(inner, &mut stack, Phase::UpdateCleanup, None).await
}

/// Why the stack policy forbids the update to remove a resource it removes, if it does:
/// removals happen in the cleanup, which cannot fail the update, so they are checked
/// before anything is touched.
async fn denied_removal(
    inner: &Arc<Inner>,
    stack: &StackRecord,
) -> Result<Option<String>, EngineError> {
    let Some(policy) = super::run::update_policy(stack) else {
        return Ok(None);
    };
    let Ok(plan) = inner.plan(stack, &stack.template) else {
        return Ok(None);
    };
    let planned: HashSet<&str> = plan
        .resources()
        .iter()
        .map(|r| r.logical_id.as_str())
        .collect();
    let records = inner.store.list_resources(&stack.stack_id).await?;
    Ok(records
        .iter()
        .filter(|r| !r.status.is_gone() && !planned.contains(r.logical_id.as_str()))
        .find_map(|r| {
            policy
                .check(UpdateAction::Delete, &r.logical_id, &r.resource_type)
                .err()
        }))
}

pub(super) async fn fail_update(
    inner: &Arc<Inner>,
    mut stack: StackRecord,
    reason: String,
) -> Step {
    // From here on `template` is the one being restored and `previous_template` the one
    // that failed; both rollback phases read them that way.
    if let Some(old) = stack.previous_template.take() {
        let failed = std::mem::replace(&mut stack.template, old);
        stack.previous_template = Some(failed);
    }
    // The same for the tags, when the update changed them: the restore puts them back.
    if let Some(old) = stack.previous_tags.take() {
        let failed = std::mem::replace(&mut stack.tags, old);
        stack.previous_tags = Some(failed);
    }
    then(inner, &mut stack, Phase::UpdateRollback, Some(reason)).await
}

/// The plan of the stack's `previous_template`: during an update's cleanup the template it
/// replaced, during its rollback the template that failed.
pub(super) fn previous_plan(inner: &Inner, stack: &StackRecord) -> Option<Arc<dyn TemplatePlan>> {
    let template = stack.previous_template.as_ref()?;
    inner.plan(stack, template).ok()
}

/// Whether `rec` was replaced by the update: its original physical resource is left over.
fn replaced(rec: &ResourceRecord) -> bool {
    matches!(&rec.prior, Some(Prior::Existing(old))
        if Some(&old.physical_id) != rec.physical_id.as_ref())
}

pub(super) async fn update_cleanup(
    inner: &Arc<Inner>,
    mut stack: StackRecord,
    carry: &Arc<Carry>,
) -> Step {
    let new_plan = inner.plan(&stack, &stack.template).ok();
    let old_plan = previous_plan(inner, &stack);
    let run = Run::new(inner, &stack, new_plan, Some(carry)).await?;
    let ids: Vec<String> = run
        .ids(|r| !r.status.is_gone() && (!run.planned.contains_key(&r.logical_id) || replaced(r)));
    run.phase(reverse_order(old_plan.as_deref(), &ids), Cleanup)
        .await?;
    run.clear_leftovers().await?;
    stack.previous_template = None;
    stack.previous_tags = None;
    done(inner, &mut stack, StackStatus::UpdateComplete, None).await
}

/// What rolling back an update of `rec` restores.
fn snapshot(rec: &ResourceRecord) -> PhysicalSnapshot {
    PhysicalSnapshot {
        physical_id: rec.physical_id.clone().unwrap_or_default(),
        attributes: rec.attributes.clone(),
        properties: rec.properties.clone(),
        deletion_policy: rec.deletion_policy,
        update_replace_policy: rec.update_replace_policy,
    }
}

impl Run {
    /// Updates `id` to its planned properties and policies (creating it if the update adds
    /// it); whether that succeeded.
    pub(super) async fn try_update(&self, id: &str) -> Result<bool, EngineError> {
        let existing = self
            .record(id)
            .filter(|r| !r.status.is_gone() && r.physical_id.is_some());
        let Some(mut rec) = existing else {
            return self.try_create(id, Some(Prior::Added)).await;
        };
        let Some(planned) = self.planned.get(id) else {
            return Ok(false);
        };
        let kind = Forward::Update;
        let keep_prior =
            |rec: &mut ResourceRecord| rec.prior = Some(Prior::Existing(snapshot(rec)));
        let Some(props) = self.resolve_gated(id, &mut rec, kind, keep_prior).await? else {
            return Ok(false);
        };
        let policies_changed = rec.deletion_policy != planned.deletion_policy
            || rec.update_replace_policy != planned.update_replace_policy;
        let info = self.inner.providers.type_info(&rec.resource_type);
        // New stack tags are an in-place update of every taggable resource, whose
        // provider reads them from its context.
        let retag = self.tags_changed && info.as_ref().is_some_and(|t| t.taggable);
        if props == *rec.properties && !retag {
            if policies_changed {
                keep_prior(&mut rec);
                rec.deletion_policy = planned.deletion_policy;
                rec.update_replace_policy = planned.update_replace_policy;
                self.save(&mut rec).await?;
            }
            return Ok(true);
        }
        let name_property = info.as_ref().and_then(|t| t.name_property.clone());
        let create_only: HashSet<String> = info
            .map(|t| t.create_only_properties.into_iter().collect())
            .unwrap_or_default();
        let replace = changed_properties(&rec.properties, &props)
            .iter()
            .any(|p| create_only.contains(p));
        let action = if replace {
            UpdateAction::Replace
        } else {
            UpdateAction::Modify
        };
        let denied = self
            .policy
            .as_ref()
            .and_then(|p| p.check(action, id, &rec.resource_type).err());
        let old = snapshot(&rec);
        rec.prior = Some(Prior::Existing(old.clone()));
        rec.deletion_policy = planned.deletion_policy;
        rec.update_replace_policy = planned.update_replace_policy;
        let provider = self.provider(&rec.resource_type);
        let ctx = self.ctx(&rec);

        if replace {
            let reason = Some(REPLACING.into());
            if !self.begin(id, &mut rec, kind, reason, &props, true).await? {
                return Ok(false);
            }
            let custom = custom_name(name_property.as_deref(), &old.properties, &props);
            let result = Run::outage(match (denied, custom) {
                (Some(reason), _) => Err(ProviderError::InvalidRequest(reason)),
                (None, Some(name)) => Err(ProviderError::InvalidRequest(format!(
                    "CloudFormation cannot update a stack when a custom-named resource requires replacing. Rename {name} and update the stack again."
                ))),
                (None, None) => match self.ready(provider, &rec.resource_type).await? {
                    Ok(p) => p.create(&ctx, &props).await,
                    Err(e) => Err(e),
                },
            })?;
            if result.is_ok() {
                rec.properties = Arc::new(props.clone());
            }
            return self
                .finish(id, &mut rec, kind, result, Some(&props), None)
                .await;
        }

        // In place. The record carries the *target* properties while in progress, so a
        // rollback after a crash updates from what may have been applied back to the old.
        rec.properties = Arc::new(props.clone());
        if !self.begin(id, &mut rec, kind, None, &props, true).await? {
            return Ok(false);
        }
        let current = ResourceState {
            physical_id: old.physical_id,
            attributes: Arc::unwrap_or_clone(old.attributes),
        };
        let result = Run::outage(match denied {
            Some(reason) => Err(ProviderError::InvalidRequest(reason)),
            None => match self.ready(provider, &rec.resource_type).await? {
                Ok(p) => p.update(&ctx, &current, &old.properties, &props).await,
                Err(e) => Err(e),
            },
        })?;
        // An in-place update keeps the physical id, unless the provider answers another
        // one: then (as CloudFormation does for a custom resource whose handler returns a
        // new PhysicalResourceId) the resource was replaced, and cleanup deletes the
        // original, which `prior` still names.
        if let Ok(state) = &result
            && !state.physical_id.is_empty()
            && state.physical_id != current.physical_id
        {
            rec.physical_id = Some(state.physical_id.clone());
        }
        self.finish(id, &mut rec, kind, result, None, None).await
    }

    /// Update cleanup for one logical id: delete a removed resource or a replaced original.
    pub(super) async fn try_cleanup(&self, id: &str) -> Result<bool, EngineError> {
        let Some(mut rec) = self.record(id) else {
            return Ok(true);
        };
        if !self.planned.contains_key(id) {
            return self.remove(id, DeleteMode::UpdateRemoved).await;
        }
        if let Some(Prior::Existing(old)) = rec.prior.take()
            && Some(&old.physical_id) != rec.physical_id.as_ref()
        {
            self.delete_old(&rec, &old, rec.update_replace_policy)
                .await?;
            self.save(&mut rec).await?;
        }
        Ok(true)
    }
}

/// The name a replacement would have to reuse: the resource's naming property, given
/// explicitly and unchanged. A new resource cannot take the name while the old one holds
/// it, so CloudFormation fails such an update before it creates anything.
fn custom_name(name_property: Option<&str>, old: &Value, new: &Value) -> Option<String> {
    let property = name_property?;
    let name = new.get(property)?;
    (old.get(property) == Some(name)).then(|| match name {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    })
}
