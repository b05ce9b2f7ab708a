//! What every phase shares: the [`Run`] of one phase (the stack's records, the template
//! plan it resolves against, the cancellation state of its in-flight actions), the record
//! writes every resource action makes, and [`Run::phase`], the one place a phase's resource
//! actions are scheduled over the dependency graph.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::sync::{Arc, Mutex};

use serde_json::Value;

use crate::amend::Amends;
use crate::dag::{self, OnFailure};
use crate::error::EngineError;
use crate::inner::{EventDraft, Inner, Record};
use crate::model::*;
use crate::no_echo;
use crate::plan::{PlannedResource, ResourceLookup, TemplatePlan};
use crate::policy::StackPolicy;
use crate::provider::ResourceContext;

use super::carry::{Carry, Records};

const INTERNAL_FAILURE: &str = "Internal Failure";

/// One event to write with a resource record.
#[derive(Clone, Copy)]
pub(super) struct Ev<'a> {
    pub status: ResourceStatus,
    pub reason: Option<&'a str>,
    pub physical_id: Option<&'a str>,
    pub properties: Option<&'a Value>,
}

/// The nodes of a phase in preference order, and what each waits for.
pub(super) type Order = (Vec<String>, HashMap<String, Vec<String>>);

/// One kind of resource action; [`Run::phase`] runs one kind over a whole graph. Each kind
/// is its own type, so that a node's task holds the future of its own action only (these
/// futures are kilobytes, and a phase boxes one per resource).
pub(super) trait NodeAction: fmt::Debug + Copy + Send + Sync + 'static {
    /// Whether the first failure stops the phase (a create's or an update's forward phase:
    /// the actions still in flight are reported cancelled). Otherwise the phase continues
    /// with whatever does not wait on a failure, to clean up as much as it can.
    const STOP: bool = false;
    /// Whether a storage error leaves the node successful inside the phase: a cleanup's
    /// failures leave the resource behind but do not fail the stack (an unreachable
    /// database still pauses the operation after the phase, see [`Run::settle`]).
    const CLEANUP: bool = false;

    /// The action on `id`; whether it succeeded.
    fn run(self, run: &Run, id: &str) -> impl Future<Output = Result<bool, EngineError>> + Send;
}

/// Declares unit [`NodeAction`]s, each calling a [`Run`] method with the logical id (and
/// the given arguments); `STOP` or `CLEANUP` set that constant.
macro_rules! node_actions {
    ($($(#[$doc:meta])* $name:ident $(: $flag:ident)? => $method:ident($($arg:expr),*);)+) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, Copy)]
        pub(super) struct $name;

        impl NodeAction for $name {
            $(const $flag: bool = true;)?

            fn run(
                self,
                run: &Run,
                id: &str,
            ) -> impl Future<Output = Result<bool, EngineError>> + Send {
                run.$method(id, $($arg),*)
            }
        }
    )+};
}

node_actions! {
    /// A create's forward phase: create each resource.
    Create: STOP => try_create(None);
    /// An update's forward phase: update each resource in place or by replacement, or
    /// create it when the update adds it.
    Update: STOP => try_update();
    /// Update cleanup: delete each removed resource and replaced original.
    Cleanup: CLEANUP => try_cleanup();
    /// Update rollback: restore each resource the update touched.
    Restore => try_restore();
    /// Update-rollback cleanup: delete what the failed update added.
    RollbackCleanup: CLEANUP => try_rollback_cleanup();
}

/// Shared state of one phase's resource tasks. It is also the [`ResourceLookup`] the plan
/// resolves properties against, so each resource sees its dependencies' latest state.
pub(super) struct Run {
    pub inner: Arc<Inner>,
    pub stack_id: String,
    pub stack_name: String,
    tags: Vec<(String, String)>,
    /// Whether this operation changes the stack's tags (an update, or its rollback):
    /// then every taggable resource is updated, to give its provider the new ones.
    pub tags_changed: bool,
    plan: Option<Arc<dyn TemplatePlan>>,
    pub planned: HashMap<String, PlannedResource>,
    records: Mutex<BTreeMap<String, ResourceRecord>>,
    /// Whether some record has `NoEcho` attributes: only then are events and outputs
    /// searched for secrets (see [`crate::no_echo`]).
    has_secrets: std::sync::atomic::AtomicBool,
    pub exports: HashMap<String, String>,
    /// What the stack's types add to each other's attributes (see [`crate::amend`]).
    amends: Amends,
    /// The policy an update's actions must pass (the update's own, else the stack's).
    pub policy: Option<StackPolicy>,
    pub retain: HashSet<String>,
    /// In-flight resources reported cancelled after another failed.
    pub cancelled: Mutex<HashSet<String>>,
    /// Those of `cancelled` that had started and were reported, in report order.
    pub reported_cancelled: Mutex<Vec<String>>,
    /// One lock per logical id, taken to begin or finish that resource's action and to
    /// cancel it, so a cancellation never interleaves with the resource's own events.
    /// Per resource, so that parallel resource actions write in parallel.
    gates: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Where the records go when this phase is over, and this `Run`'s token there
    /// ([`super::carry`]).
    carry: Option<(Arc<Carry>, u64)>,
    /// Set when a record write failed: the records may then differ from the store's and
    /// are not handed on.
    store_failed: std::sync::atomic::AtomicBool,
    /// The first unreachable-database failure (of a record write, or a provider outage,
    /// [`Run::outage`]) of a resource action in this phase: the phase then ends the
    /// operation's task with it ([`Run::phase`]).
    paused: Mutex<Option<EngineError>>,
}

impl Drop for Run {
    fn drop(&mut self) {
        if let Some((carry, token)) = self.carry.take()
            && !*self.store_failed.get_mut()
        {
            let records = std::mem::take(self.records.get_mut().unwrap_or_else(|e| e.into_inner()));
            carry.give_back(token, records);
        }
    }
}

/// The policy `stack`'s update runs under: the update's own, else the stack's (both were
/// checked when given, so one that does not parse is none).
pub(super) fn update_policy(stack: &StackRecord) -> Option<StackPolicy> {
    let p = &stack.protection;
    let body = p.update_policy.as_ref().or(p.stack_policy.as_ref())?;
    StackPolicy::parse(body).ok()
}

pub(super) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
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
        let records = lock(&self.records);
        let record = records
            .get(logical_id)
            .filter(|r| !r.status.is_gone() && r.physical_id.is_some())?;
        let value = record.attributes.get(attribute).cloned()?;
        if self.amends.is_empty() {
            return Some(value);
        }
        // Without a plan (a delete) every recorded resource counts.
        let active = |id: &str| self.plan.is_none() || self.planned.contains_key(id);
        Some(
            self.amends
                .apply(&records, active, record, attribute, value),
        )
    }

    fn import_value(&self, export_name: &str) -> Option<String> {
        self.exports.get(export_name).cloned()
    }
}

impl Run {
    /// The `Run` of a phase of `stack`'s operation, over the records `carry` hands on
    /// from the previous phase, else as stored.
    pub async fn new(
        inner: &Arc<Inner>,
        stack: &StackRecord,
        plan: Option<Arc<dyn TemplatePlan>>,
        carry: Option<&Arc<Carry>>,
    ) -> Result<Arc<Self>, EngineError> {
        let (carry, carried) = match carry {
            Some(c) => {
                let (token, records) = c.take();
                (Some((c.clone(), token)), records)
            }
            None => (None, None),
        };
        let records: Records = match carried {
            Some(records) => records,
            None => inner.stored_records(&stack.stack_id).await?,
        };
        let has_secrets = records.values().any(|r| no_echo::is_secret(&r.attributes));
        let types = plan
            .iter()
            .flat_map(|p| p.resources().iter().map(|r| r.resource_type.as_str()));
        let amends = Amends::of_types(
            &inner.providers,
            types.chain(records.values().map(|r| r.resource_type.as_str())),
        );
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
            tags_changed: stack
                .previous_tags
                .as_ref()
                .is_some_and(|old| *old != stack.tags),
            plan,
            planned,
            records: Mutex::new(records),
            has_secrets: has_secrets.into(),
            exports: inner.exports_map().await?,
            amends,
            policy: update_policy(stack),
            retain: stack.retain_resources.iter().cloned().collect(),
            cancelled: Mutex::new(HashSet::new()),
            reported_cancelled: Mutex::new(Vec::new()),
            gates: Mutex::new(HashMap::new()),
            carry,
            store_failed: false.into(),
            paused: Mutex::new(None),
        }))
    }

    /// Runs `action` on every node of `order`, each the moment the nodes it waits for have
    /// succeeded, at most `max_parallel` at a time (see [`NodeAction::STOP`] for what a
    /// failure does). Returns the nodes that failed; an error when some action met a
    /// storage failure (see [`Run::settle`]).
    pub async fn phase<A: NodeAction>(
        self: &Arc<Self>,
        order: Order,
        action: A,
    ) -> Result<Vec<String>, EngineError> {
        Ok(self.interruptible_phase(order, action, None).await?.failed)
    }

    /// [`Self::phase`], stopped early when `interrupt` is notified (`CancelUpdateStack`).
    pub async fn interruptible_phase<A: NodeAction>(
        self: &Arc<Self>,
        order: Order,
        action: A,
        interrupt: Option<&tokio::sync::Notify>,
    ) -> Result<dag::DagOutcome, EngineError> {
        let outcome = self.run_phase(order, action, interrupt).await;
        match lock(&self.paused).take() {
            Some(e) => Err(e),
            None => Ok(outcome),
        }
    }

    async fn run_phase<A: NodeAction>(
        self: &Arc<Self>,
        (nodes, waits): Order,
        action: A,
        interrupt: Option<&tokio::sync::Notify>,
    ) -> dag::DagOutcome {
        let mode = if A::STOP {
            OnFailure::Stop
        } else {
            OnFailure::Continue
        };
        let (r, c) = (self.clone(), self.clone());
        dag::run(
            &nodes,
            &waits,
            self.inner.config.max_parallel,
            mode,
            move |id| {
                let r = r.clone();
                Box::pin(async move {
                    let result = action.run(&r, &id).await;
                    r.settle(&id, action, result)
                })
            },
            // Only ever called in `Stop` mode.
            move |running| c.cancel(running),
            interrupt,
        )
        .await
    }

    /// The outcome of a resource action. A storage error counts as a failure inside the
    /// phase (except in a cleanup, see [`NodeAction::CLEANUP`]). When it says the
    /// database is unreachable (its record could not be written, or its provider's
    /// service could not reach its database, [`Run::outage`]), it is no outcome: the
    /// resource's result is unknown, as after a crash, and the phase then ends the
    /// operation's task with it ([`Run::phase`]) rather than recording the resource
    /// failed. The stack stays in progress, and recovery resumes it once the database
    /// answers again (ops/mod.rs `drive`); otherwise a resource whose writes met an
    /// outage would fail the stack for good once the database was back. Other storage
    /// errors may not pass (a value the database refuses), so they fail the resource.
    pub fn settle<A: NodeAction>(
        &self,
        id: &str,
        action: A,
        result: Result<bool, EngineError>,
    ) -> bool {
        result.unwrap_or_else(|e| {
            tracing::error!(stack_id = %self.stack_id, logical_id = %id, ?action, error = %e, "resource action");
            if let EngineError::Store(s) = &e
                && s.is_unreachable()
            {
                lock(&self.paused).get_or_insert(e);
            }
            A::CLEANUP
        })
    }

    pub fn record(&self, logical_id: &str) -> Option<ResourceRecord> {
        lock(&self.records).get(logical_id).cloned()
    }

    /// The logical ids of the records `keep` selects.
    pub fn ids<C: FromIterator<String>>(&self, keep: impl Fn(&ResourceRecord) -> bool) -> C {
        lock(&self.records)
            .values()
            .filter(|r| keep(r))
            .map(|r| r.logical_id.clone())
            .collect()
    }

    /// The records `keep` selects, as they are now.
    pub fn records(&self, keep: impl Fn(&ResourceRecord) -> bool) -> Vec<ResourceRecord> {
        lock(&self.records)
            .values()
            .filter(|r| keep(r))
            .cloned()
            .collect()
    }

    /// The lock of `logical_id` (see [`Run::gates`]).
    pub async fn gate(&self, logical_id: &str) -> tokio::sync::OwnedMutexGuard<()> {
        let gate = lock(&self.gates)
            .entry(logical_id.to_string())
            .or_default()
            .clone();
        gate.lock_owned().await
    }

    /// The lock of `logical_id`, unless the resource has been reported cancelled.
    pub async fn open_gate(&self, logical_id: &str) -> Option<tokio::sync::OwnedMutexGuard<()>> {
        let gate = self.gate(logical_id).await;
        (!self.is_cancelled(logical_id)).then_some(gate)
    }

    pub fn is_cancelled(&self, logical_id: &str) -> bool {
        lock(&self.cancelled).contains(logical_id)
    }

    pub async fn save(&self, rec: &mut ResourceRecord) -> Result<(), EngineError> {
        self.save_with(rec, None, &[]).await
    }

    /// Writes `rec` and its events (`opening`, if any, first) in one store call.
    pub async fn save_with(
        &self,
        rec: &mut ResourceRecord,
        opening: Option<Ev<'_>>,
        events: &[Ev<'_>],
    ) -> Result<(), EngineError> {
        rec.last_updated = self.inner.clock.now();
        let secrets = self.secrets(rec);
        let masked: Vec<Option<Value>> = opening
            .iter()
            .chain(events)
            .map(|e| e.properties.and_then(|p| no_echo::mask_value(p, &secrets)))
            .collect();
        let drafts: Vec<EventDraft> = opening
            .iter()
            .chain(events)
            .zip(&masked)
            .map(|(e, masked)| EventDraft {
                logical_id: &rec.logical_id,
                physical_id: e.physical_id,
                resource_type: &rec.resource_type,
                status: e.status.as_str(),
                reason: e.reason,
                properties: masked.as_ref().or(e.properties),
            })
            .collect();
        self.inner
            .commit(
                &self.stack_id,
                &self.stack_name,
                Record::Resource(rec),
                &drafts,
            )
            .await
            .inspect_err(|_| self.store_failed())?;
        lock(&self.records).insert(rec.logical_id.clone(), rec.clone());
        Ok(())
    }

    /// The stack's `NoEcho` values ([`no_echo`]): those of the records, and of `rec`,
    /// which may not be recorded yet.
    pub fn secrets(&self, rec: &ResourceRecord) -> Vec<String> {
        use std::sync::atomic::Ordering::Relaxed;
        if no_echo::is_secret(&rec.attributes) {
            self.has_secrets.store(true, Relaxed);
        }
        if !self.has_secrets.load(Relaxed) {
            return Vec::new();
        }
        let records = lock(&self.records);
        no_echo::secrets(
            records
                .values()
                .filter(|r| r.logical_id != rec.logical_id)
                .chain(std::iter::once(rec))
                .map(|r| &*r.attributes),
        )
    }

    /// The stack's `NoEcho` values, for its outputs.
    pub fn all_secrets(&self) -> Vec<String> {
        if !self.has_secrets.load(std::sync::atomic::Ordering::Relaxed) {
            return Vec::new();
        }
        no_echo::secrets(lock(&self.records).values().map(|r| &*r.attributes))
    }

    pub async fn forget(&self, logical_id: &str) -> Result<(), EngineError> {
        lock(&self.records).remove(logical_id);
        Ok(self
            .inner
            .store
            .delete_resource(&self.stack_id, logical_id)
            .await
            .inspect_err(|_| self.store_failed())?)
    }

    /// Notes that a record write failed (see [`Run`]'s `store_failed`).
    fn store_failed(&self) {
        self.store_failed
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// An event without a record change (a replaced physical resource's deletion):
    /// losing it to a storage error loses history, not state, so it is logged.
    pub async fn event(
        &self,
        rec: &ResourceRecord,
        status: ResourceStatus,
        reason: Option<&str>,
        physical_id: Option<&str>,
        properties: Option<&Value>,
    ) {
        let masked = properties.and_then(|p| no_echo::mask_value(p, &self.secrets(rec)));
        let draft = EventDraft {
            logical_id: &rec.logical_id,
            physical_id,
            resource_type: &rec.resource_type,
            status: status.as_str(),
            reason,
            properties: masked.as_ref().or(properties),
        };
        if let Err(e) = self
            .inner
            .commit(&self.stack_id, &self.stack_name, Record::Nothing, &[draft])
            .await
        {
            tracing::error!(stack_id = %self.stack_id, error = %e, "appending stack event");
        }
    }

    /// Saves `rec` with `status`/`reason` and emits the matching event.
    pub async fn transition(
        &self,
        rec: &mut ResourceRecord,
        status: ResourceStatus,
        reason: Option<String>,
        properties: Option<&Value>,
    ) -> Result<(), EngineError> {
        self.transition_after(None, rec, status, reason, properties)
            .await
    }

    /// [`Run::transition`], with `opening` (the opening event of a provider that keeps no
    /// state, written with its outcome) before its event.
    pub async fn transition_after(
        &self,
        opening: Option<Ev<'_>>,
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
            opening,
            &[Ev {
                status,
                reason: reason.as_deref(),
                physical_id: physical.as_deref(),
                properties,
            }],
        )
        .await
    }

    pub fn ctx(&self, rec: &ResourceRecord) -> ResourceContext {
        self.inner
            .resource_context(&self.stack_id, &self.stack_name, &self.tags, rec)
    }

    pub fn resolve(&self, logical_id: &str) -> Result<Value, String> {
        let plan = self
            .plan
            .as_ref()
            .ok_or_else(|| "no template plan for this phase".to_string())?;
        plan.resolve_properties(logical_id, self)
            .map_err(|e| e.message)
    }

    /// Marks records a dead task left in progress (a panicking provider) as failed.
    pub async fn sweep(&self) -> Result<(), EngineError> {
        for mut rec in self.records(|r| r.status.is_in_progress()) {
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

    /// Drops what an update or its rollback noted on the records (`prior`, `cleanup`)
    /// once its cleanup is done.
    pub async fn clear_leftovers(&self) -> Result<(), EngineError> {
        for mut rec in self.records(|r| r.prior.is_some() || !r.cleanup.is_empty()) {
            rec.prior = None;
            rec.cleanup.clear();
            self.save(&mut rec).await?;
        }
        Ok(())
    }

    /// "The following resource(s) failed to create: [A, B]. " (and/or "... to update:
    /// ..."). AWS lists the cancelled resources too, after the ones that failed.
    pub fn failure_reason(&self, failed: &[String]) -> String {
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
            reason += &failed_to("create", &creates);
        }
        if !updates.is_empty() {
            reason += &failed_to("update", &updates);
        }
        reason
    }
}

/// "The following resource(s) failed to `verb`: [A, B]. "
pub(super) fn failed_to<S: std::borrow::Borrow<str>>(verb: &str, ids: &[S]) -> String {
    format!(
        "The following resource(s) failed to {verb}: [{}]. ",
        ids.join(", ")
    )
}

/// Nodes in template order and what each waits for (its dependencies).
pub(super) fn forward_order(plan: &dyn TemplatePlan) -> Order {
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
pub(super) fn reverse_order(plan: Option<&dyn TemplatePlan>, ids: &[String]) -> Order {
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
