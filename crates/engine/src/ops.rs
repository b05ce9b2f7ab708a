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

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value};

use crate::dag::{self, OnFailure};
use crate::diff::changed_properties;
use crate::engine::{EventDraft, Inner, Record};
use crate::error::EngineError;
use crate::model::*;
use crate::plan::{PlannedResource, Policy, ResourceLookup, TemplatePlan};
use crate::provider::{ProviderError, ResourceContext, ResourceProvider, ResourceState};

pub(crate) const CREATE_CANCELLED: &str = "Resource creation cancelled";
pub(crate) const UPDATE_CANCELLED: &str = "Resource update cancelled";
const REPLACING: &str =
    "Requested update requires the creation of a new physical resource; hence creating one.";
const INITIATED: &str = "Resource creation Initiated";
const INTERRUPTED_CREATE: &str =
    "Resource creation was interrupted before its result was recorded (engine restart)";
const INTERRUPTED_UPDATE: &str =
    "Resource update was interrupted before its result was recorded (engine restart)";
const INTERNAL_FAILURE: &str = "Internal Failure";

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

/// One event to write with a resource record.
struct Ev<'a> {
    status: ResourceStatus,
    reason: Option<&'a str>,
    physical_id: Option<&'a str>,
    properties: Option<&'a Value>,
}

/// Which operation a deletion belongs to, which decides what the policies mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DeleteMode {
    /// Rolling back a failed create: everything was created by this operation, so
    /// `RetainExceptOnCreate` deletes.
    CreateRollback,
    StackDelete,
    /// A resource the update's template no longer has.
    UpdateRemoved,
    /// A resource the failed update added: created by that operation.
    UpdateRollbackAdded,
}

pub(crate) async fn drive(inner: Arc<Inner>, stack_id: String, mut phase: Phase) {
    loop {
        let stack = match inner.store.get_stack(&stack_id).await {
            Ok(Some(s)) => s,
            Ok(None) => return,
            Err(e) => {
                tracing::error!(%stack_id, error = %e, "loading stack; operation paused until recover");
                return;
            }
        };
        match step(&inner, stack, phase.clone()).await {
            Ok(Some(next)) => phase = next,
            Ok(None) => break,
            Err(e) => {
                // Only storage failures get here; the stack stays in progress and
                // `recover` resumes it once the store is healthy.
                tracing::error!(%stack_id, ?phase, error = %e, "operation paused until recover");
                return;
            }
        }
    }
    if let Err(e) = finish_change_set(&inner, &stack_id).await {
        tracing::error!(%stack_id, error = %e, "recording change set execution status");
    }
}

async fn step(
    inner: &Arc<Inner>,
    stack: StackRecord,
    phase: Phase,
) -> Result<Option<Phase>, EngineError> {
    match phase {
        Phase::Create => create(inner, stack).await,
        Phase::CreateFailed(reason) => fail_create(inner, stack, reason).await,
        Phase::Rollback => rollback(inner, stack).await,
        Phase::Delete => delete(inner, stack).await,
        Phase::Update => update(inner, stack).await,
        Phase::UpdateFailed(reason) => fail_update(inner, stack, reason).await,
        Phase::UpdateCleanup => update_cleanup(inner, stack).await,
        Phase::UpdateRollback => update_rollback(inner, stack).await,
        Phase::UpdateRollbackCleanup => update_rollback_cleanup(inner, stack).await,
    }
}

/// Shared state of one phase's resource tasks. It is also the [`ResourceLookup`] the plan
/// resolves properties against, so each resource sees its dependencies' latest state.
struct Run {
    inner: Arc<Inner>,
    stack_id: String,
    stack_name: String,
    tags: Vec<(String, String)>,
    plan: Option<Arc<dyn TemplatePlan>>,
    planned: HashMap<String, PlannedResource>,
    records: Mutex<BTreeMap<String, ResourceRecord>>,
    exports: HashMap<String, String>,
    retain: HashSet<String>,
    /// In-flight resources reported cancelled after another failed.
    cancelled: Mutex<HashSet<String>>,
    /// Those of `cancelled` that had started and were reported, in report order.
    reported_cancelled: Mutex<Vec<String>>,
    /// One lock per logical id, taken to begin or finish that resource's action and to
    /// cancel it, so a cancellation never interleaves with the resource's own events.
    /// Per resource, so that parallel resource actions write in parallel.
    gates: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl ResourceLookup for Run {
    fn physical_id(&self, logical_id: &str) -> Option<String> {
        lock(&self.records)
            .get(logical_id)
            .filter(|r| !r.status.is_gone())
            .and_then(|r| r.physical_id.clone())
    }

    fn attribute(&self, logical_id: &str, attribute: &str) -> Option<Value> {
        lock(&self.records)
            .get(logical_id)
            .filter(|r| !r.status.is_gone() && r.physical_id.is_some())
            .and_then(|r| r.attributes.get(attribute).cloned())
    }

    fn import_value(&self, export_name: &str) -> Option<String> {
        self.exports.get(export_name).cloned()
    }
}

impl Run {
    async fn new(
        inner: &Arc<Inner>,
        stack: &StackRecord,
        plan: Option<Arc<dyn TemplatePlan>>,
    ) -> Result<Arc<Self>, EngineError> {
        let records = inner
            .store
            .list_resources(&stack.stack_id)
            .await?
            .into_iter()
            .map(|r| (r.logical_id.clone(), r))
            .collect();
        let planned = plan
            .as_ref()
            .map(|p| {
                p.resources()
                    .iter()
                    .map(|r| (r.logical_id.clone(), r.clone()))
                    .collect()
            })
            .unwrap_or_default();
        Ok(Arc::new(Self {
            inner: inner.clone(),
            stack_id: stack.stack_id.clone(),
            stack_name: stack.stack_name.clone(),
            tags: stack.tags.clone(),
            plan,
            planned,
            records: Mutex::new(records),
            exports: inner.exports_map().await?,
            retain: stack.retain_resources.iter().cloned().collect(),
            cancelled: Mutex::new(HashSet::new()),
            reported_cancelled: Mutex::new(Vec::new()),
            gates: Mutex::new(HashMap::new()),
        }))
    }

    fn record(&self, logical_id: &str) -> Option<ResourceRecord> {
        lock(&self.records).get(logical_id).cloned()
    }

    /// The lock of `logical_id` (see [`Run::gates`]).
    async fn gate(&self, logical_id: &str) -> tokio::sync::OwnedMutexGuard<()> {
        let gate = lock(&self.gates)
            .entry(logical_id.to_string())
            .or_default()
            .clone();
        gate.lock_owned().await
    }

    fn is_cancelled(&self, logical_id: &str) -> bool {
        lock(&self.cancelled).contains(logical_id)
    }

    async fn save(&self, rec: &mut ResourceRecord) -> Result<(), EngineError> {
        self.save_with(rec, &[]).await
    }

    /// Writes `rec` and its events in one store call.
    async fn save_with(
        &self,
        rec: &mut ResourceRecord,
        events: &[Ev<'_>],
    ) -> Result<(), EngineError> {
        rec.last_updated = self.inner.clock.now();
        let drafts: Vec<EventDraft> = events
            .iter()
            .map(|e| EventDraft {
                logical_id: &rec.logical_id,
                physical_id: e.physical_id,
                resource_type: &rec.resource_type,
                status: e.status.as_str(),
                reason: e.reason,
                properties: e.properties,
            })
            .collect();
        self.inner
            .commit(
                &self.stack_id,
                &self.stack_name,
                Record::Resource(rec),
                &drafts,
            )
            .await?;
        lock(&self.records).insert(rec.logical_id.clone(), rec.clone());
        Ok(())
    }

    async fn forget(&self, logical_id: &str) -> Result<(), EngineError> {
        lock(&self.records).remove(logical_id);
        Ok(self
            .inner
            .store
            .delete_resource(&self.stack_id, logical_id)
            .await?)
    }

    async fn event(
        &self,
        rec: &ResourceRecord,
        status: ResourceStatus,
        reason: Option<&str>,
        physical_id: Option<&str>,
        properties: Option<&Value>,
    ) {
        let draft = EventDraft {
            logical_id: &rec.logical_id,
            physical_id,
            resource_type: &rec.resource_type,
            status: status.as_str(),
            reason,
            properties,
        };
        // An event without a record change (a replaced physical resource's deletion):
        // losing it to a storage error loses history, not state, so it is logged.
        if let Err(e) = self
            .inner
            .commit(&self.stack_id, &self.stack_name, Record::Nothing, &[draft])
            .await
        {
            tracing::error!(stack_id = %self.stack_id, error = %e, "appending stack event");
        }
    }

    /// Saves `rec` with `status`/`reason` and emits the matching event.
    async fn transition(
        &self,
        rec: &mut ResourceRecord,
        status: ResourceStatus,
        reason: Option<String>,
        properties: Option<&Value>,
    ) -> Result<(), EngineError> {
        rec.status = status;
        rec.status_reason = reason;
        let physical = rec.physical_id.clone();
        let reason = rec.status_reason.clone();
        self.save_with(
            rec,
            &[Ev {
                status,
                reason: reason.as_deref(),
                physical_id: physical.as_deref(),
                properties,
            }],
        )
        .await
    }

    fn ctx(&self, rec: &ResourceRecord) -> ResourceContext {
        ResourceContext {
            region: self.inner.config.region.clone(),
            account_id: self.inner.config.account_id.clone(),
            partition: self.inner.partition.clone(),
            stack_name: self.stack_name.clone(),
            stack_id: self.stack_id.clone(),
            logical_id: rec.logical_id.clone(),
            resource_type: rec.resource_type.clone(),
            stack_tags: self.tags.clone(),
            started: rec.last_updated,
        }
    }

    fn provider(&self, resource_type: &str) -> Result<Arc<dyn ResourceProvider>, ProviderError> {
        self.inner
            .providers
            .get(resource_type)
            .cloned()
            .ok_or_else(|| {
                ProviderError::UnsupportedType(format!(
                    "Resource type {resource_type} is not supported"
                ))
            })
    }

    /// Before `provider` acts: when its effects live outside the store, everything
    /// recorded so far (the resource's in-progress record above all) is flushed first,
    /// so that no power loss can forget an action the outside world has seen (see
    /// [`crate::durability`]).
    async fn flush_for(
        &self,
        provider: &Arc<dyn ResourceProvider>,
        resource_type: &str,
    ) -> Result<(), ProviderError> {
        if !provider.effects_outside_store(resource_type) {
            return Ok(());
        }
        self.inner
            .store
            .sync()
            .await
            .map_err(|e| ProviderError::Internal(format!("stack store: {}", e.0)))
    }

    fn resolve(&self, logical_id: &str) -> Result<Value, String> {
        let plan = self
            .plan
            .as_ref()
            .ok_or_else(|| "no template plan for this phase".to_string())?;
        plan.resolve_properties(logical_id, self)
            .map_err(|e| e.message)
    }

    /// A resource action's body; any storage error fails the resource.
    async fn create_one(self: Arc<Self>, id: String, prior: Option<Prior>) -> bool {
        match self.try_create(&id, prior).await {
            Ok(ok) => ok,
            Err(e) => {
                tracing::error!(stack_id = %self.stack_id, logical_id = %id, error = %e, "create");
                false
            }
        }
    }

    async fn try_create(&self, id: &str, prior: Option<Prior>) -> Result<bool, EngineError> {
        let Some(planned) = self.planned.get(id) else {
            return Ok(false);
        };
        let mut rec = ResourceRecord {
            stack_id: self.stack_id.clone(),
            logical_id: id.to_string(),
            resource_type: planned.resource_type.clone(),
            status: ResourceStatus::CreateInProgress,
            status_reason: None,
            last_updated: 0,
            physical_id: None,
            attributes: Map::new(),
            properties: Value::Object(Map::new()),
            deletion_policy: planned.deletion_policy,
            update_replace_policy: planned.update_replace_policy,
            prior,
            cleanup: Vec::new(),
        };
        let props = {
            let _gate = self.gate(id).await;
            if self.is_cancelled(id) {
                return Ok(false);
            }
            match self.resolve(id) {
                Ok(p) => p,
                Err(reason) => {
                    self.transition(&mut rec, ResourceStatus::CreateFailed, Some(reason), None)
                        .await?;
                    return Ok(false);
                }
            }
        };
        rec.properties = props.clone();
        let provider = self.provider(&rec.resource_type);
        // A provider that leaves nothing behind needs no "started" record: a crash before
        // the outcome is written leaves no trace to recover. Its opening event is then
        // written with the outcome, in the same order.
        let stateless = provider
            .as_ref()
            .is_ok_and(|p| !p.keeps_state(&rec.resource_type));
        let opening = Ev {
            status: ResourceStatus::CreateInProgress,
            reason: None,
            physical_id: None,
            properties: Some(&props),
        };
        {
            let _gate = self.gate(id).await;
            if self.is_cancelled(id) {
                return Ok(false);
            }
            if !stateless {
                self.transition(
                    &mut rec,
                    ResourceStatus::CreateInProgress,
                    None,
                    Some(&props),
                )
                .await?;
            }
        }
        let result = match provider {
            Ok(p) => match self.flush_for(&p, &rec.resource_type).await {
                Ok(()) => p.create(&self.ctx(&rec), &props).await,
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        };
        let _gate = self.gate(id).await;
        let cancelled = self.is_cancelled(id);
        if stateless && cancelled {
            // `cancel` found no record to report: report it here, as it would have.
            if let Ok(state) = result {
                rec.physical_id = Some(state.physical_id);
                rec.attributes = state.attributes;
            }
            rec.status = ResourceStatus::CreateFailed;
            rec.status_reason = Some(CREATE_CANCELLED.into());
            let physical = rec.physical_id.clone();
            self.save_with(
                &mut rec,
                &[
                    opening,
                    Ev {
                        status: ResourceStatus::CreateFailed,
                        reason: Some(CREATE_CANCELLED),
                        physical_id: physical.as_deref(),
                        properties: None,
                    },
                ],
            )
            .await?;
            lock(&self.reported_cancelled).push(id.to_string());
            return Ok(false);
        }
        match result {
            Ok(state) => {
                rec.physical_id = Some(state.physical_id);
                rec.attributes = state.attributes;
                if cancelled {
                    // Already reported cancelled; keep the physical id so rollback
                    // deletes what the provider made.
                    rec.status = ResourceStatus::CreateFailed;
                    rec.status_reason = Some(CREATE_CANCELLED.into());
                    self.save(&mut rec).await?;
                    return Ok(false);
                }
                rec.status = ResourceStatus::CreateComplete;
                let physical = rec.physical_id.clone();
                let events = [
                    opening,
                    Ev {
                        status: ResourceStatus::CreateInProgress,
                        reason: Some(INITIATED),
                        physical_id: physical.as_deref(),
                        properties: Some(&props),
                    },
                    Ev {
                        status: ResourceStatus::CreateComplete,
                        reason: None,
                        physical_id: physical.as_deref(),
                        properties: None,
                    },
                ];
                let events = if stateless { &events[..] } else { &events[1..] };
                self.save_with(&mut rec, events).await?;
                Ok(true)
            }
            Err(e) => {
                if stateless {
                    let reason = e.to_string();
                    rec.status = ResourceStatus::CreateFailed;
                    rec.status_reason = Some(reason.clone());
                    self.save_with(
                        &mut rec,
                        &[
                            opening,
                            Ev {
                                status: ResourceStatus::CreateFailed,
                                reason: Some(&reason),
                                physical_id: None,
                                properties: None,
                            },
                        ],
                    )
                    .await?;
                } else if !cancelled {
                    self.transition(
                        &mut rec,
                        ResourceStatus::CreateFailed,
                        Some(e.to_string()),
                        None,
                    )
                    .await?;
                }
                Ok(false)
            }
        }
    }

    async fn update_one(self: Arc<Self>, id: String) -> bool {
        match self.try_update(&id).await {
            Ok(ok) => ok,
            Err(e) => {
                tracing::error!(stack_id = %self.stack_id, logical_id = %id, error = %e, "update");
                false
            }
        }
    }

    async fn try_update(&self, id: &str) -> Result<bool, EngineError> {
        let existing = self
            .record(id)
            .filter(|r| !r.status.is_gone() && r.physical_id.is_some());
        let Some(mut rec) = existing else {
            return self.try_create(id, Some(Prior::Added)).await;
        };
        let Some(planned) = self.planned.get(id) else {
            return Ok(false);
        };
        let snapshot = PhysicalSnapshot {
            physical_id: rec.physical_id.clone().unwrap_or_default(),
            attributes: rec.attributes.clone(),
            properties: rec.properties.clone(),
            deletion_policy: rec.deletion_policy,
            update_replace_policy: rec.update_replace_policy,
        };
        let old_physical = snapshot.physical_id.clone();
        let props = {
            let _gate = self.gate(id).await;
            if self.is_cancelled(id) {
                return Ok(false);
            }
            match self.resolve(id) {
                Ok(p) => p,
                Err(reason) => {
                    rec.prior = Some(Prior::Existing(snapshot));
                    self.transition(&mut rec, ResourceStatus::UpdateFailed, Some(reason), None)
                        .await?;
                    return Ok(false);
                }
            }
        };
        let policies_changed = rec.deletion_policy != planned.deletion_policy
            || rec.update_replace_policy != planned.update_replace_policy;
        if props == rec.properties {
            if policies_changed {
                rec.prior = Some(Prior::Existing(snapshot));
                rec.deletion_policy = planned.deletion_policy;
                rec.update_replace_policy = planned.update_replace_policy;
                self.save(&mut rec).await?;
            }
            return Ok(true);
        }
        let create_only: HashSet<String> = self
            .inner
            .providers
            .type_info(&rec.resource_type)
            .map(|t| t.create_only_properties.into_iter().collect())
            .unwrap_or_default();
        let replace = changed_properties(&rec.properties, &props)
            .iter()
            .any(|p| create_only.contains(p));
        rec.prior = Some(Prior::Existing(snapshot.clone()));
        rec.deletion_policy = planned.deletion_policy;
        rec.update_replace_policy = planned.update_replace_policy;
        let provider = self.provider(&rec.resource_type);
        let ctx = self.ctx(&rec);

        if replace {
            {
                let _gate = self.gate(id).await;
                if self.is_cancelled(id) {
                    return Ok(false);
                }
                self.transition(
                    &mut rec,
                    ResourceStatus::UpdateInProgress,
                    Some(REPLACING.into()),
                    Some(&props),
                )
                .await?;
            }
            let result = match provider {
                Ok(p) => match self.flush_for(&p, &rec.resource_type).await {
                    Ok(()) => p.create(&ctx, &props).await,
                    Err(e) => Err(e),
                },
                Err(e) => Err(e),
            };
            let _gate = self.gate(id).await;
            let cancelled = self.is_cancelled(id);
            return match result {
                Ok(state) => {
                    rec.physical_id = Some(state.physical_id);
                    rec.attributes = state.attributes;
                    rec.properties = props.clone();
                    if cancelled {
                        rec.status = ResourceStatus::UpdateFailed;
                        rec.status_reason = Some(UPDATE_CANCELLED.into());
                        self.save(&mut rec).await?;
                        return Ok(false);
                    }
                    rec.status = ResourceStatus::UpdateComplete;
                    rec.status_reason = None;
                    let physical = rec.physical_id.clone();
                    self.save_with(
                        &mut rec,
                        &[
                            Ev {
                                status: ResourceStatus::UpdateInProgress,
                                reason: Some(INITIATED),
                                physical_id: physical.as_deref(),
                                properties: Some(&props),
                            },
                            Ev {
                                status: ResourceStatus::UpdateComplete,
                                reason: None,
                                physical_id: physical.as_deref(),
                                properties: None,
                            },
                        ],
                    )
                    .await?;
                    Ok(true)
                }
                Err(e) => {
                    if !cancelled {
                        self.transition(
                            &mut rec,
                            ResourceStatus::UpdateFailed,
                            Some(e.to_string()),
                            None,
                        )
                        .await?;
                    }
                    Ok(false)
                }
            };
        }

        // In place. The record carries the *target* properties while in progress, so a
        // rollback after a crash updates from what may have been applied back to the old.
        rec.properties = props.clone();
        {
            let _gate = self.gate(id).await;
            if self.is_cancelled(id) {
                return Ok(false);
            }
            self.transition(
                &mut rec,
                ResourceStatus::UpdateInProgress,
                None,
                Some(&props),
            )
            .await?;
        }
        let current = ResourceState {
            physical_id: old_physical,
            attributes: snapshot.attributes.clone(),
        };
        let result = match provider {
            Ok(p) => match self.flush_for(&p, &rec.resource_type).await {
                Ok(()) => p.update(&ctx, &current, &snapshot.properties, &props).await,
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        };
        let _gate = self.gate(id).await;
        let cancelled = self.is_cancelled(id);
        match result {
            Ok(state) => {
                // The physical id is kept: an in-place update does not change identity.
                rec.attributes = state.attributes;
                if cancelled {
                    rec.status = ResourceStatus::UpdateFailed;
                    rec.status_reason = Some(UPDATE_CANCELLED.into());
                    self.save(&mut rec).await?;
                    return Ok(false);
                }
                self.transition(&mut rec, ResourceStatus::UpdateComplete, None, None)
                    .await?;
                Ok(true)
            }
            Err(e) => {
                if !cancelled {
                    self.transition(
                        &mut rec,
                        ResourceStatus::UpdateFailed,
                        Some(e.to_string()),
                        None,
                    )
                    .await?;
                }
                Ok(false)
            }
        }
    }

    /// Reports every still-running create/update cancelled.
    async fn cancel(self: Arc<Self>, running: Vec<String>) {
        for id in running {
            let _gate = self.gate(&id).await;
            lock(&self.cancelled).insert(id.clone());
            let Some(mut rec) = self.record(&id) else {
                continue;
            };
            let (status, reason) = match rec.status {
                ResourceStatus::CreateInProgress => {
                    (ResourceStatus::CreateFailed, CREATE_CANCELLED)
                }
                ResourceStatus::UpdateInProgress => {
                    (ResourceStatus::UpdateFailed, UPDATE_CANCELLED)
                }
                _ => continue,
            };
            if let Err(e) = self
                .transition(&mut rec, status, Some(reason.into()), None)
                .await
            {
                tracing::error!(logical_id = %id, error = %e, "recording cancellation");
            }
            lock(&self.reported_cancelled).push(id);
        }
    }

    async fn delete_one(self: Arc<Self>, id: String, mode: DeleteMode) -> bool {
        match self.try_delete(&id, mode).await {
            Ok(ok) => ok,
            Err(e) => {
                tracing::error!(stack_id = %self.stack_id, logical_id = %id, error = %e, "delete");
                false
            }
        }
    }

    async fn try_delete(&self, id: &str, mode: DeleteMode) -> Result<bool, EngineError> {
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
            if !self.delete_old(&rec, extra, Policy::Delete).await {
                self.transition(
                    &mut rec,
                    ResourceStatus::DeleteFailed,
                    Some(format!("{} could not be deleted", extra.physical_id)),
                    None,
                )
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
        // its DELETE_IN_PROGRESS is written with the outcome.
        let stateless = provider
            .as_ref()
            .is_ok_and(|p| !p.keeps_state(&rec.resource_type));
        if !stateless {
            self.transition(&mut rec, ResourceStatus::DeleteInProgress, None, None)
                .await?;
        }
        // `Snapshot` deletes too: no provider here keeps data worth a snapshot, and AWS
        // deletes types that cannot snapshot.
        let state = ResourceState {
            physical_id,
            attributes: rec.attributes.clone(),
        };
        let result = match provider {
            Ok(p) => match self.flush_for(&p, &rec.resource_type).await {
                Ok(()) => p.delete(&self.ctx(&rec), &state, &rec.properties).await,
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        };
        let (status, reason) = match &result {
            Ok(()) => (ResourceStatus::DeleteComplete, None),
            Err(e) => (ResourceStatus::DeleteFailed, Some(e.to_string())),
        };
        if stateless {
            rec.status = status;
            rec.status_reason = reason.clone();
            let physical = rec.physical_id.clone();
            let events = [
                Ev {
                    status: ResourceStatus::DeleteInProgress,
                    reason: None,
                    physical_id: physical.as_deref(),
                    properties: None,
                },
                Ev {
                    status,
                    reason: reason.as_deref(),
                    physical_id: physical.as_deref(),
                    properties: None,
                },
            ];
            self.save_with(&mut rec, &events).await?;
        } else {
            self.transition(&mut rec, status, reason, None).await?;
        }
        Ok(result.is_ok())
    }

    /// Deletes a physical resource no longer referenced by the record (a replaced
    /// original, or a replacement that was rolled back), honouring `policy`. Emits events
    /// under the logical id with the old physical id; the record's status is untouched.
    async fn delete_old(
        &self,
        rec: &ResourceRecord,
        old: &PhysicalSnapshot,
        policy: Policy,
    ) -> bool {
        if matches!(policy, Policy::Retain | Policy::RetainExceptOnCreate) {
            self.event(
                rec,
                ResourceStatus::DeleteSkipped,
                None,
                Some(&old.physical_id),
                None,
            )
            .await;
            return true;
        }
        self.event(
            rec,
            ResourceStatus::DeleteInProgress,
            None,
            Some(&old.physical_id),
            None,
        )
        .await;
        let state = ResourceState {
            physical_id: old.physical_id.clone(),
            attributes: old.attributes.clone(),
        };
        let result = match self.provider(&rec.resource_type) {
            Ok(p) => match self.flush_for(&p, &rec.resource_type).await {
                Ok(()) => p.delete(&self.ctx(rec), &state, &old.properties).await,
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        };
        match result {
            Ok(()) => {
                self.event(
                    rec,
                    ResourceStatus::DeleteComplete,
                    None,
                    Some(&old.physical_id),
                    None,
                )
                .await;
                true
            }
            Err(e) => {
                let reason = e.to_string();
                self.event(
                    rec,
                    ResourceStatus::DeleteFailed,
                    Some(&reason),
                    Some(&old.physical_id),
                    None,
                )
                .await;
                false
            }
        }
    }

    /// Update cleanup for one logical id: delete a removed resource or a replaced original.
    async fn cleanup_one(self: Arc<Self>, id: String) -> bool {
        let result: Result<(), EngineError> = async {
            let Some(mut rec) = self.record(&id) else {
                return Ok(());
            };
            if !self.planned.contains_key(&id) {
                self.clone()
                    .delete_one(id.clone(), DeleteMode::UpdateRemoved)
                    .await;
                // Cleanup failures leave the resource behind but do not fail the stack.
                return self.forget(&id).await;
            }
            if let Some(Prior::Existing(old)) = rec.prior.clone()
                && Some(&old.physical_id) != rec.physical_id.as_ref()
            {
                let policy = rec.update_replace_policy;
                self.delete_old(&rec, &old, policy).await;
                rec.prior = None;
                self.save(&mut rec).await?;
            }
            Ok(())
        }
        .await;
        if let Err(e) = result {
            tracing::error!(logical_id = %id, error = %e, "update cleanup");
        }
        true
    }

    /// Update rollback for one logical id: back to the resource it was before the update.
    async fn restore_one(self: Arc<Self>, id: String) -> bool {
        match self.try_restore(&id).await {
            Ok(ok) => ok,
            Err(e) => {
                tracing::error!(logical_id = %id, error = %e, "update rollback");
                false
            }
        }
    }

    async fn try_restore(&self, id: &str) -> Result<bool, EngineError> {
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
                Some(&old.properties),
            )
            .await;
            rec.prior = None;
            self.transition(&mut rec, ResourceStatus::UpdateComplete, None, None)
                .await?;
            return Ok(true);
        }
        if rec.properties == old.properties {
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
            Some(&old.properties),
        )
        .await?;
        let state = ResourceState {
            physical_id: old.physical_id.clone(),
            attributes: rec.attributes.clone(),
        };
        let result = match self.provider(&rec.resource_type) {
            Ok(p) => match self.flush_for(&p, &rec.resource_type).await {
                Ok(()) => {
                    p.update(&self.ctx(&rec), &state, &applied, &old.properties)
                        .await
                }
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        };
        match result {
            Ok(s) => {
                rec.attributes = s.attributes;
                rec.prior = None;
                self.transition(&mut rec, ResourceStatus::UpdateComplete, None, None)
                    .await?;
                Ok(true)
            }
            Err(e) => {
                // Keep the target so `prior` still says what to restore on a retry.
                rec.properties = applied;
                self.transition(
                    &mut rec,
                    ResourceStatus::UpdateFailed,
                    Some(e.to_string()),
                    None,
                )
                .await?;
                Ok(false)
            }
        }
    }

    /// Update-rollback cleanup for one logical id: delete what the failed update added.
    async fn rollback_cleanup_one(self: Arc<Self>, id: String) -> bool {
        let result: Result<(), EngineError> = async {
            let Some(mut rec) = self.record(&id) else {
                return Ok(());
            };
            if matches!(rec.prior, Some(Prior::Added)) {
                self.clone()
                    .delete_one(id.clone(), DeleteMode::UpdateRollbackAdded)
                    .await;
                return self.forget(&id).await;
            }
            if !rec.cleanup.is_empty() {
                for old in std::mem::take(&mut rec.cleanup) {
                    self.delete_old(&rec, &old, old.update_replace_policy).await;
                }
                self.save(&mut rec).await?;
            }
            Ok(())
        }
        .await;
        if let Err(e) = result {
            tracing::error!(logical_id = %id, error = %e, "update rollback cleanup");
        }
        true
    }

    /// Marks records a dead task left in progress (a panicking provider) as failed.
    async fn sweep(&self) -> Result<(), EngineError> {
        let stuck: Vec<ResourceRecord> = lock(&self.records)
            .values()
            .filter(|r| r.status.is_in_progress())
            .cloned()
            .collect();
        for mut rec in stuck {
            let status = match rec.status {
                ResourceStatus::CreateInProgress => ResourceStatus::CreateFailed,
                ResourceStatus::UpdateInProgress => ResourceStatus::UpdateFailed,
                _ => ResourceStatus::DeleteFailed,
            };
            self.transition(&mut rec, status, Some(INTERNAL_FAILURE.into()), None)
                .await?;
        }
        Ok(())
    }

    /// "The following resource(s) failed to create: [A, B]. " (and/or "... to update:
    /// ..."). AWS lists the cancelled resources too, after the ones that failed.
    fn failure_reason(&self, failed: &[String]) -> String {
        let mut creates = Vec::new();
        let mut updates = Vec::new();
        let cancelled = lock(&self.reported_cancelled).clone();
        let primary = failed.iter().filter(|id| !self.is_cancelled(id));
        for id in primary.chain(cancelled.iter()) {
            match self.record(id).map(|r| r.status) {
                Some(ResourceStatus::UpdateFailed) => updates.push(id.as_str()),
                _ => creates.push(id.as_str()),
            }
        }
        let mut reason = String::new();
        if !creates.is_empty() {
            reason += &format!(
                "The following resource(s) failed to create: [{}]. ",
                creates.join(", ")
            );
        }
        if !updates.is_empty() {
            reason += &format!(
                "The following resource(s) failed to update: [{}]. ",
                updates.join(", ")
            );
        }
        reason
    }
}

/// Nodes in template order and what each waits for (its dependencies).
fn forward(plan: &dyn TemplatePlan) -> (Vec<String>, HashMap<String, Vec<String>>) {
    let nodes = plan
        .resources()
        .iter()
        .map(|r| r.logical_id.clone())
        .collect();
    let waits = plan
        .resources()
        .iter()
        .map(|r| (r.logical_id.clone(), r.depends_on.clone()))
        .collect();
    (nodes, waits)
}

/// `ids` in reverse template order, each waiting for the members of `ids` that depend on
/// it, so dependents are deleted before what they depend on. Ids the plan does not know go
/// first, waiting for nothing.
fn reverse(
    plan: Option<&dyn TemplatePlan>,
    ids: &[String],
) -> (Vec<String>, HashMap<String, Vec<String>>) {
    let wanted: HashSet<&str> = ids.iter().map(String::as_str).collect();
    let mut nodes: Vec<String> = Vec::new();
    let mut waits: HashMap<String, Vec<String>> = HashMap::new();
    let planned: Vec<&PlannedResource> = plan
        .map(|p| p.resources().iter().collect())
        .unwrap_or_default();
    let known: HashSet<&str> = planned.iter().map(|r| r.logical_id.as_str()).collect();
    nodes.extend(ids.iter().filter(|i| !known.contains(i.as_str())).cloned());
    for r in planned.iter().rev() {
        if wanted.contains(r.logical_id.as_str()) {
            nodes.push(r.logical_id.clone());
        }
        for d in &r.depends_on {
            if wanted.contains(d.as_str()) && wanted.contains(r.logical_id.as_str()) {
                waits
                    .entry(d.clone())
                    .or_default()
                    .push(r.logical_id.clone());
            }
        }
    }
    (nodes, waits)
}

fn limit(inner: &Inner) -> usize {
    inner.config.max_parallel
}

async fn create(inner: &Arc<Inner>, stack: StackRecord) -> Result<Option<Phase>, EngineError> {
    let plan = match inner.plan(&stack, &stack.template) {
        Ok(p) => p,
        Err(e) => return Ok(Some(Phase::CreateFailed(e.to_string()))),
    };
    let run = Run::new(inner, &stack, Some(plan.clone())).await?;
    if let Some(missing) = plan
        .imports()
        .into_iter()
        .find(|i| !run.exports.contains_key(i))
    {
        return Ok(Some(Phase::CreateFailed(format!(
            "No export named {missing} found."
        ))));
    }
    let (nodes, waits) = forward(&*plan);
    let r = run.clone();
    let c = run.clone();
    let out = dag::run(
        &nodes,
        &waits,
        limit(inner),
        OnFailure::Stop,
        move |id| Box::pin(r.clone().create_one(id, None)),
        move |running| c.cancel(running),
    )
    .await;
    run.sweep().await?;
    if !out.failed.is_empty() {
        return Ok(Some(Phase::CreateFailed(run.failure_reason(&out.failed))));
    }
    let mut stack = stack;
    if let Err(reason) = publish_outputs(inner, &mut stack, &*plan, &*run).await? {
        return Ok(Some(Phase::CreateFailed(reason)));
    }
    inner
        .set_status(&mut stack, StackStatus::CreateComplete, None)
        .await?;
    Ok(None)
}

/// Appends AWS's rollback suffix to a failure reason.
fn rollback_reason(reason: &str) -> String {
    let reason = reason.trim_end();
    if reason.ends_with('.') {
        format!("{reason} Rollback requested by user.")
    } else {
        format!("{reason}. Rollback requested by user.")
    }
}

async fn fail_create(
    inner: &Arc<Inner>,
    mut stack: StackRecord,
    reason: String,
) -> Result<Option<Phase>, EngineError> {
    if stack.disable_rollback {
        inner
            .set_status(&mut stack, StackStatus::CreateFailed, Some(reason))
            .await?;
        return Ok(None);
    }
    inner
        .set_status(
            &mut stack,
            StackStatus::RollbackInProgress,
            Some(rollback_reason(&reason)),
        )
        .await?;
    Ok(Some(Phase::Rollback))
}

/// Resolves outputs and claims their exports. `Ok(Err(reason))` fails the operation.
async fn publish_outputs(
    inner: &Arc<Inner>,
    stack: &mut StackRecord,
    plan: &dyn TemplatePlan,
    lookup: &dyn ResourceLookup,
) -> Result<Result<(), String>, EngineError> {
    let outputs = match plan.resolve_outputs(lookup) {
        Ok(o) => o,
        Err(e) => return Ok(Err(e.message)),
    };
    let _exports = inner.exports_lock.lock().await;
    let all = inner.store.list_exports().await?;
    let new: Vec<ExportRecord> = outputs
        .iter()
        .filter_map(|o| {
            o.export_name.as_ref().map(|n| ExportRecord {
                name: n.clone(),
                value: o.value.clone(),
                exporting_stack_id: stack.stack_id.clone(),
            })
        })
        .collect();
    for e in &new {
        if let Some(other) = all
            .iter()
            .find(|x| x.name == e.name && x.exporting_stack_id != stack.stack_id)
        {
            let owner = inner
                .store
                .get_stack(&other.exporting_stack_id)
                .await?
                .map(|s| s.stack_name)
                .unwrap_or_else(|| other.exporting_stack_id.clone());
            return Ok(Err(EngineError::ExportAlreadyExported {
                name: e.name.clone(),
                stack: owner,
            }
            .to_string()));
        }
    }
    for old in all
        .iter()
        .filter(|x| x.exporting_stack_id == stack.stack_id)
    {
        let users = inner.importers(&old.name, &stack.stack_id).await?;
        if users.is_empty() {
            continue;
        }
        match new.iter().find(|n| n.name == old.name) {
            None => {
                return Ok(Err(EngineError::ExportInUse {
                    name: old.name.clone(),
                    stacks: users.join(", "),
                }
                .to_string()));
            }
            Some(n) if n.value != old.value => {
                return Ok(Err(format!(
                    "Export {} cannot be updated as it is in use by {}",
                    old.name,
                    users.join(", ")
                )));
            }
            Some(_) => {}
        }
    }
    inner.store.put_exports(&stack.stack_id, &new).await?;
    stack.outputs = outputs;
    Ok(Ok(()))
}

fn live_ids(run: &Run) -> Vec<String> {
    lock(&run.records)
        .values()
        .filter(|r| !r.status.is_gone())
        .map(|r| r.logical_id.clone())
        .collect()
}

fn failed_to_delete(failed: &[String]) -> String {
    format!(
        "The following resource(s) failed to delete: [{}]. ",
        failed.join(", ")
    )
}

async fn rollback(
    inner: &Arc<Inner>,
    mut stack: StackRecord,
) -> Result<Option<Phase>, EngineError> {
    let plan = inner.plan(&stack, &stack.template).ok();
    let run = Run::new(inner, &stack, plan.clone()).await?;
    let (nodes, waits) = reverse(plan.as_deref(), &live_ids(&run));
    let r = run.clone();
    let out = dag::run(
        &nodes,
        &waits,
        limit(inner),
        OnFailure::Continue,
        move |id| Box::pin(r.clone().delete_one(id, DeleteMode::CreateRollback)),
        |_| async {},
    )
    .await;
    run.sweep().await?;
    inner.store.put_exports(&stack.stack_id, &[]).await?;
    stack.outputs.clear();
    if out.failed.is_empty() {
        inner
            .set_status(&mut stack, StackStatus::RollbackComplete, None)
            .await?;
    } else {
        inner
            .set_status(
                &mut stack,
                StackStatus::RollbackFailed,
                Some(failed_to_delete(&out.failed)),
            )
            .await?;
    }
    Ok(None)
}

async fn delete(inner: &Arc<Inner>, mut stack: StackRecord) -> Result<Option<Phase>, EngineError> {
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
            inner
                .set_status(&mut stack, StackStatus::DeleteFailed, Some(reason))
                .await?;
            return Ok(None);
        }
    }
    let plan = inner.plan(&stack, &stack.template).ok();
    let run = Run::new(inner, &stack, plan.clone()).await?;
    let (nodes, waits) = reverse(plan.as_deref(), &live_ids(&run));
    let r = run.clone();
    let out = dag::run(
        &nodes,
        &waits,
        limit(inner),
        OnFailure::Continue,
        move |id| Box::pin(r.clone().delete_one(id, DeleteMode::StackDelete)),
        |_| async {},
    )
    .await;
    run.sweep().await?;
    if !out.failed.is_empty() {
        inner
            .set_status(
                &mut stack,
                StackStatus::DeleteFailed,
                Some(failed_to_delete(&out.failed)),
            )
            .await?;
        return Ok(None);
    }
    inner.store.put_exports(&stack.stack_id, &[]).await?;
    for cs in inner.store.list_change_sets(&stack.stack_id).await? {
        inner.store.delete_change_set(&cs.change_set_id).await?;
    }
    stack.imports.clear();
    inner
        .set_status(&mut stack, StackStatus::DeleteComplete, None)
        .await?;
    Ok(None)
}

async fn update(inner: &Arc<Inner>, stack: StackRecord) -> Result<Option<Phase>, EngineError> {
    let plan = match inner.plan(&stack, &stack.template) {
        Ok(p) => p,
        Err(e) => return Ok(Some(Phase::UpdateFailed(e.to_string()))),
    };
    let run = Run::new(inner, &stack, Some(plan.clone())).await?;
    if let Some(missing) = plan
        .imports()
        .into_iter()
        .find(|i| !run.exports.contains_key(i))
    {
        return Ok(Some(Phase::UpdateFailed(format!(
            "No export named {missing} found."
        ))));
    }
    let (nodes, waits) = forward(&*plan);
    let r = run.clone();
    let c = run.clone();
    let out = dag::run(
        &nodes,
        &waits,
        limit(inner),
        OnFailure::Stop,
        move |id| Box::pin(r.clone().update_one(id)),
        move |running| c.cancel(running),
    )
    .await;
    run.sweep().await?;
    if !out.failed.is_empty() {
        return Ok(Some(Phase::UpdateFailed(run.failure_reason(&out.failed))));
    }
    let mut stack = stack;
    if let Err(reason) = publish_outputs(inner, &mut stack, &*plan, &*run).await? {
        return Ok(Some(Phase::UpdateFailed(reason)));
    }
    stack.imports = plan.imports();
    inner
        .set_status(
            &mut stack,
            StackStatus::UpdateCompleteCleanupInProgress,
            None,
        )
        .await?;
    Ok(Some(Phase::UpdateCleanup))
}

async fn fail_update(
    inner: &Arc<Inner>,
    mut stack: StackRecord,
    reason: String,
) -> Result<Option<Phase>, EngineError> {
    // From here on `template` is the one being restored and `previous_template` the one
    // that failed; both rollback phases read them that way.
    if let Some(old) = stack.previous_template.take() {
        let failed = std::mem::replace(&mut stack.template, old);
        stack.previous_template = Some(failed);
    }
    inner
        .set_status(
            &mut stack,
            StackStatus::UpdateRollbackInProgress,
            Some(reason),
        )
        .await?;
    Ok(Some(Phase::UpdateRollback))
}

async fn update_cleanup(
    inner: &Arc<Inner>,
    mut stack: StackRecord,
) -> Result<Option<Phase>, EngineError> {
    let new_plan = inner.plan(&stack, &stack.template).ok();
    let old_plan = match &stack.previous_template {
        Some(t) => inner.plan(&stack, t).ok(),
        None => None,
    };
    let run = Run::new(inner, &stack, new_plan).await?;
    let ids: Vec<String> = lock(&run.records)
        .values()
        .filter(|r| {
            !r.status.is_gone()
                && (!run.planned.contains_key(&r.logical_id)
                    || matches!(&r.prior, Some(Prior::Existing(old))
                        if Some(&old.physical_id) != r.physical_id.as_ref()))
        })
        .map(|r| r.logical_id.clone())
        .collect();
    let (nodes, waits) = reverse(old_plan.as_deref(), &ids);
    let r = run.clone();
    dag::run(
        &nodes,
        &waits,
        limit(inner),
        OnFailure::Continue,
        move |id| Box::pin(r.clone().cleanup_one(id)),
        |_| async {},
    )
    .await;
    let leftover: Vec<ResourceRecord> = lock(&run.records)
        .values()
        .filter(|r| r.prior.is_some() || !r.cleanup.is_empty())
        .cloned()
        .collect();
    for mut rec in leftover {
        rec.prior = None;
        rec.cleanup.clear();
        run.save(&mut rec).await?;
    }
    stack.previous_template = None;
    inner
        .set_status(&mut stack, StackStatus::UpdateComplete, None)
        .await?;
    Ok(None)
}

async fn update_rollback(
    inner: &Arc<Inner>,
    mut stack: StackRecord,
) -> Result<Option<Phase>, EngineError> {
    let plan = inner.plan(&stack, &stack.template).ok();
    let run = Run::new(inner, &stack, plan.clone()).await?;
    let touched: HashSet<String> = lock(&run.records)
        .values()
        .filter(|r| matches!(r.prior, Some(Prior::Existing(_))))
        .map(|r| r.logical_id.clone())
        .collect();
    // Restore in dependency order so dependents get their dependencies' old values back.
    let (mut nodes, waits) = match &plan {
        Some(p) => forward(&**p),
        None => (Vec::new(), HashMap::new()),
    };
    nodes.retain(|n| touched.contains(n));
    nodes.extend(
        touched
            .iter()
            .filter(|t| !nodes.contains(t))
            .cloned()
            .collect::<Vec<_>>(),
    );
    let r = run.clone();
    let out = dag::run(
        &nodes,
        &waits,
        limit(inner),
        OnFailure::Continue,
        move |id| Box::pin(r.clone().restore_one(id)),
        |_| async {},
    )
    .await;
    run.sweep().await?;
    if !out.failed.is_empty() {
        inner
            .set_status(
                &mut stack,
                StackStatus::UpdateRollbackFailed,
                Some(format!(
                    "The following resource(s) failed to update: [{}]. ",
                    out.failed.join(", ")
                )),
            )
            .await?;
        return Ok(None);
    }
    inner
        .set_status(
            &mut stack,
            StackStatus::UpdateRollbackCompleteCleanupInProgress,
            None,
        )
        .await?;
    Ok(Some(Phase::UpdateRollbackCleanup))
}

async fn update_rollback_cleanup(
    inner: &Arc<Inner>,
    mut stack: StackRecord,
) -> Result<Option<Phase>, EngineError> {
    let failed_plan = match &stack.previous_template {
        Some(t) => inner.plan(&stack, t).ok(),
        None => None,
    };
    let run = Run::new(inner, &stack, None).await?;
    let ids: Vec<String> = lock(&run.records)
        .values()
        .filter(|r| matches!(r.prior, Some(Prior::Added)) || !r.cleanup.is_empty())
        .map(|r| r.logical_id.clone())
        .collect();
    let (nodes, waits) = reverse(failed_plan.as_deref(), &ids);
    let r = run.clone();
    dag::run(
        &nodes,
        &waits,
        limit(inner),
        OnFailure::Continue,
        move |id| Box::pin(r.clone().rollback_cleanup_one(id)),
        |_| async {},
    )
    .await;
    let leftover: Vec<ResourceRecord> = lock(&run.records)
        .values()
        .filter(|r| r.prior.is_some() || !r.cleanup.is_empty())
        .cloned()
        .collect();
    for mut rec in leftover {
        rec.prior = None;
        rec.cleanup.clear();
        run.save(&mut rec).await?;
    }
    if let Ok(plan) = inner.plan(&stack, &stack.template) {
        stack.displayed_parameters = plan.displayed_parameters();
        stack.description = plan.description();
        stack.imports = plan.imports();
    }
    restore_exports(inner, &stack).await?;
    stack.previous_template = None;
    inner
        .set_status(&mut stack, StackStatus::UpdateRollbackComplete, None)
        .await?;
    Ok(None)
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

/// After a restart: settles resources whose action started but whose result was never
/// recorded, and says which phase resumes the stack.
pub(crate) async fn recover_resources(
    inner: &Arc<Inner>,
    stack: &StackRecord,
) -> Result<Phase, EngineError> {
    let run = Run::new(inner, stack, None).await?;
    let stuck: Vec<ResourceRecord> = lock(&run.records)
        .values()
        .filter(|r| {
            matches!(
                r.status,
                ResourceStatus::CreateInProgress | ResourceStatus::UpdateInProgress
            )
        })
        .cloned()
        .collect();
    let mut interrupted = Vec::new();
    for mut rec in stuck {
        if rec.status == ResourceStatus::CreateInProgress {
            // No physical id was recorded; the provider may still find what the create
            // made (an explicitly named resource), which the rollback then deletes.
            if rec.physical_id.is_none()
                && let Ok(provider) = run.provider(&rec.resource_type)
            {
                match provider
                    .find_interrupted_create(&run.ctx(&rec), &rec.properties, rec.last_updated)
                    .await
                {
                    Ok(Some(found)) => {
                        rec.physical_id = Some(found.physical_id);
                        rec.attributes = found.attributes;
                    }
                    Ok(None) => {}
                    Err(e) => tracing::warn!(
                        logical_id = %rec.logical_id, error = %e,
                        "looking for the resource an interrupted create made"
                    ),
                }
            }
            run.transition(
                &mut rec,
                ResourceStatus::CreateFailed,
                Some(INTERRUPTED_CREATE.into()),
                None,
            )
            .await?;
        } else {
            // Read the resource back so rollback starts from what actually exists.
            if let (Some(pid), Ok(provider)) =
                (rec.physical_id.clone(), run.provider(&rec.resource_type))
            {
                let state = ResourceState {
                    physical_id: pid,
                    attributes: rec.attributes.clone(),
                };
                if let Ok(Some(read)) = provider.read(&run.ctx(&rec), &state, &rec.properties).await
                {
                    rec.attributes = read.attributes;
                }
            }
            run.transition(
                &mut rec,
                ResourceStatus::UpdateFailed,
                Some(INTERRUPTED_UPDATE.into()),
                None,
            )
            .await?;
        }
        interrupted.push(rec.logical_id.clone());
    }
    let reason = if interrupted.is_empty() {
        "Stack operation was interrupted by an engine restart.".to_string()
    } else {
        run.failure_reason(&interrupted)
    };
    Ok(match stack.status {
        StackStatus::CreateInProgress => Phase::CreateFailed(reason),
        StackStatus::UpdateInProgress => Phase::UpdateFailed(reason),
        StackStatus::RollbackInProgress => Phase::Rollback,
        StackStatus::DeleteInProgress => Phase::Delete,
        StackStatus::UpdateCompleteCleanupInProgress => Phase::UpdateCleanup,
        StackStatus::UpdateRollbackInProgress => Phase::UpdateRollback,
        StackStatus::UpdateRollbackCompleteCleanupInProgress => Phase::UpdateRollbackCleanup,
        other => {
            return Err(EngineError::Validation(format!(
                "stack in {other} has no operation to recover"
            )));
        }
    })
}
