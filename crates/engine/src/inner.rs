//! The state every part of an [`Engine`](crate::Engine) shares: its configuration and
//! collaborators, and the bookkeeping that orders its writes. [`Inner::commit`] is the one
//! way a record and its events reach the store (numbered, atomically), and then
//! EventBridge (`emit.rs`);
//! [`Inner::set_status`] and [`Inner::admit`] write a stack's status, the latter as the
//! compare-and-set that admits an operation; [`Inner::spawn`] starts the task that drives
//! one (see `ops`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::claims::{self, Claims};
use crate::clock::{Clock, IdGenerator};
use crate::emit::Emitter;
use crate::engine::{EngineConfig, EngineParts};
use crate::error::EngineError;
use crate::model::*;
use crate::ops::{self, Phase};
use crate::plan::{PlanFactory, StackIdentity, TemplatePlan};
use crate::provider::{ProviderRegistry, partition_for_region};
use crate::store::StackStore;

pub(crate) struct Inner {
    pub config: EngineConfig,
    pub partition: String,
    pub store: Arc<dyn StackStore>,
    pub providers: ProviderRegistry,
    pub plans: Arc<dyn PlanFactory>,
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<dyn IdGenerator>,
    pub templates: Option<Arc<dyn crate::plan::TemplateUrls>>,
    /// This process's claims on stacks (`claims.rs`).
    claims: Arc<dyn Claims>,
    /// Per stack, how many [`Hold`]s this engine has (an admission under way, a task
    /// driving it): the stack's claim is taken with the first and released after the last.
    /// Claims and releases run under this lock, so they reach the store in hold order.
    held: tokio::sync::Mutex<HashMap<String, usize>>,
    /// Publishes committed stack events to EventBridge (`emit.rs`).
    emitter: Emitter,
    /// Per stack, the next event's number and the last event's time. Held across the
    /// append so that store order and sequence order agree.
    #[allow(clippy::type_complexity)]
    event_seq: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Option<EventCursor>>>>>,
    /// Serialises claims on export names across stacks.
    pub exports_lock: tokio::sync::Mutex<()>,
    /// Serialises a stack name's uniqueness check with its insert (a lock per name).
    pub names_lock: crate::name_locks::NameLocks,
    /// Bumped whenever a stack record is written; `wait_for_terminal` listens.
    changed: tokio::sync::watch::Sender<u64>,
    /// The tasks driving each stack. Admission lets one operation start at a time, but
    /// the previous one may still be ending (its flush and deregistration) when the next
    /// one is spawned: both are kept, so neither can escape the abort on drop.
    tasks: Mutex<HashMap<String, Vec<tokio::task::AbortHandle>>>,
    /// Per stack, what `CancelUpdateStack` notifies to interrupt its running update.
    interrupts: Mutex<HashMap<String, Arc<tokio::sync::Notify>>>,
    /// The records of stacks whose last operation ended here (`ops/kept.rs`).
    pub kept: ops::Kept,
}

/// How [`Inner::write_status`] writes the stack record.
#[derive(Debug, Clone, Copy)]
enum StatusWrite {
    Always,
    /// The status a phase starts under ([`Inner::set_phase_status`]).
    Step,
    /// Only if the stored revision is still this one (admission).
    If(u64),
}

/// What a [`Inner::commit`] writes along with its events.
pub(crate) enum Record<'a> {
    Stack(&'a StackRecord),
    /// The status a phase of the stack's operation starts under: the next phase's, or a
    /// new stack's create ([`StackStore::put_stack_step`]).
    StackStep(&'a StackRecord),
    /// The stack, only if its stored revision is still the given one (admission).
    StackIf(&'a StackRecord, u64),
    Resource(&'a ResourceRecord),
    Nothing,
}

/// Where a stack's event stream is: the next event's number, and the time of the last
/// one. Each event is stamped at least a millisecond after the one before it, so that
/// time order is event order: clients sort by `Timestamp` (the CDK CLI merges its pages
/// with a stable sort on it), and events of one millisecond (a resource's
/// `CREATE_IN_PROGRESS`, "Resource creation Initiated" and `CREATE_COMPLETE` often are)
/// would otherwise come out in any order.
#[derive(Debug, Clone, Copy)]
struct EventCursor {
    next_seq: u64,
    last_time: EpochMillis,
}

impl EventCursor {
    const NEW: EventCursor = EventCursor {
        next_seq: 1,
        last_time: EpochMillis::MIN,
    };

    /// The time for an event happening at `now`.
    fn stamp(&mut self, now: EpochMillis) -> EpochMillis {
        self.last_time = now.max(self.last_time.saturating_add(1));
        self.last_time
    }
}

/// An event before the engine numbers and stamps it.
pub(crate) struct EventDraft<'a> {
    pub logical_id: &'a str,
    pub physical_id: Option<&'a str>,
    pub resource_type: &'a str,
    pub status: &'a str,
    pub reason: Option<&'a str>,
    pub properties: Option<&'a serde_json::Value>,
}

impl Inner {
    pub fn new(parts: EngineParts) -> Self {
        let partition = partition_for_region(&parts.config.region).to_string();
        let (changed, _) = tokio::sync::watch::channel(0);
        Self {
            config: parts.config,
            partition,
            store: parts.store,
            providers: parts.providers,
            plans: parts.plans,
            clock: parts.clock,
            ids: parts.ids,
            templates: parts.templates,
            claims: parts.claims,
            held: tokio::sync::Mutex::new(HashMap::new()),
            emitter: Emitter::new(parts.events),
            event_seq: Mutex::new(HashMap::new()),
            exports_lock: tokio::sync::Mutex::new(()),
            names_lock: crate::name_locks::NameLocks::default(),
            changed,
            tasks: Mutex::new(HashMap::new()),
            interrupts: Mutex::new(HashMap::new()),
            kept: ops::Kept::default(),
        }
    }

    /// Wakes on every write of a stack record and every end of a driving task.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// How many stacks' event numbering is held in memory.
    pub fn event_counters(&self) -> usize {
        self.event_seq
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .len()
    }

    /// How many stacks a task of this engine is driving now.
    pub fn driving(&self) -> usize {
        self.tasks.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Forgets every stack's event numbering (the store was emptied).
    pub fn forget_event_numbering(&self) {
        self.event_seq
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        self.kept.clear();
    }

    /// Aborts every driving task (the engine is going away).
    pub fn abort_all(&self) {
        for h in self
            .tasks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain()
            .flat_map(|(_, handles)| handles)
        {
            h.abort();
        }
    }

    /// A stack id just made (a fresh UUID in it) has no events yet: its numbering starts
    /// at 1 without asking the store.
    pub fn new_stack_events(&self, stack_id: &str) {
        self.event_seq
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(
                stack_id.to_string(),
                Arc::new(tokio::sync::Mutex::new(Some(EventCursor::NEW))),
            );
    }

    /// Writes `record` (if any) together with events built from `drafts`, as one atomic
    /// store call. Events are numbered under a per-stack lock that is released before the
    /// write, so the resource actions of one stack running in parallel write at the same
    /// time (and a batching store combines them). Sequence order is the order in which
    /// the engine decided the transitions; two concurrent writes may reach the store in
    /// the other order, and a failed write leaves a gap in the numbers. `Ok(false)` only
    /// for a [`Record::StackIf`] whose revision no longer matched (nothing written).
    pub async fn commit(
        &self,
        stack_id: &str,
        stack_name: &str,
        record: Record<'_>,
        drafts: &[EventDraft<'_>],
    ) -> Result<bool, EngineError> {
        let slot = self
            .event_seq
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(stack_id.to_string())
            .or_default()
            .clone();
        let events = {
            let mut next = slot.lock().await;
            let mut cursor = match *next {
                Some(cursor) => cursor,
                None => self
                    .store
                    .list_events(stack_id, None, 1)
                    .await?
                    .first()
                    .map(|e| EventCursor {
                        next_seq: e.seq + 1,
                        last_time: e.timestamp,
                    })
                    .unwrap_or(EventCursor::NEW),
            };
            let events: Vec<StackEvent> = drafts
                .iter()
                .map(|d| {
                    let event = StackEvent {
                        seq: cursor.next_seq,
                        event_id: self.ids.uuid(),
                        stack_id: stack_id.to_string(),
                        stack_name: stack_name.to_string(),
                        logical_resource_id: d.logical_id.to_string(),
                        physical_resource_id: d.physical_id.map(str::to_string),
                        resource_type: d.resource_type.to_string(),
                        timestamp: cursor.stamp(self.clock.now()),
                        resource_status: d.status.to_string(),
                        resource_status_reason: d.reason.map(str::to_string),
                        resource_properties: d.properties.map(|p| p.to_string()),
                    };
                    cursor.next_seq += 1;
                    event
                })
                .collect();
            *next = Some(cursor);
            events
        };
        match record {
            Record::Stack(s) => self.store.put_stack(s, &events).await?,
            Record::StackStep(s) => self.store.put_stack_step(s, &events).await?,
            Record::StackIf(s, expected) => {
                if !self.store.put_stack_if(s, &events, expected).await? {
                    return Ok(false);
                }
            }
            Record::Resource(r) => self.store.put_resource(r, &events).await?,
            Record::Nothing if events.is_empty() => {}
            Record::Nothing => self.store.append_events(&events).await?,
        }
        // Written (queued behind the operation's earlier writes when deferred, which the
        // publisher's own writes then follow): now EventBridge may hear of it.
        self.emitter.committed(&events);
        Ok(true)
    }

    /// Writes the stack with a new status and emits its stack event.
    pub async fn set_status(
        &self,
        stack: &mut StackRecord,
        status: StackStatus,
        reason: Option<String>,
    ) -> Result<(), EngineError> {
        self.write_status(stack, status, reason, StatusWrite::Always)
            .await?;
        Ok(())
    }

    /// [`Self::set_status`] for the `*_IN_PROGRESS` status that starts a phase of an
    /// operation (the next one, or a new stack's create; [`StackStore::put_stack_step`]):
    /// the operation goes on with `stack` as written, without reading it back.
    pub async fn set_phase_status(
        &self,
        stack: &mut StackRecord,
        status: StackStatus,
        reason: Option<String>,
    ) -> Result<(), EngineError> {
        self.write_status(stack, status, reason, StatusWrite::Step)
            .await?;
        Ok(())
    }

    /// Admits an operation on `stack` as read from the store: writes `status` (an
    /// `*_IN_PROGRESS`) only if nobody wrote the stack since that read, else answers
    /// AWS's `Stack:<arn> is in <status> state and can not be <action>.` with the status
    /// the winner wrote. Check and write are one compare-and-set in the store, so racing
    /// requests (in this process or on other replicas) start one operation, not several.
    ///
    /// The stack is claimed first (`claims.rs`): a stack another live process holds is
    /// refused the same way, with the status it has now.
    pub async fn admit(
        self: &Arc<Self>,
        stack: &mut StackRecord,
        status: StackStatus,
        action: &'static str,
    ) -> Result<Hold, EngineError> {
        let read = stack.revision;
        let give_up = std::time::Instant::now() + CLAIM_WAIT;
        let current = loop {
            if let Some(hold) = self.hold(&stack.stack_id, false).await? {
                if self
                    .write_status(
                        stack,
                        status,
                        Some("User Initiated".into()),
                        StatusWrite::If(read),
                    )
                    .await?
                {
                    return Ok(hold);
                }
                break self.store.get_stack(&stack.stack_id).await?;
            }
            // Another process holds the claim while the record is as we read it (settled,
            // or the caller would not admit): that process has claimed and is about to
            // write its own status, or has just finished and is about to let go. Refusing
            // now would name a settled status, or refuse a stack nobody is working on;
            // so wait for one or the other.
            let current = self.store.get_stack(&stack.stack_id).await?;
            if current.as_ref().is_none_or(|s| s.revision != read)
                || std::time::Instant::now() >= give_up
            {
                break current;
            }
            tokio::time::sleep(CLAIM_POLL).await;
        };
        Err(EngineError::InvalidState {
            stack_id: stack.stack_id.clone(),
            status: current.map_or_else(
                || "DELETE_COMPLETE".into(),
                |s| winner_status(s.status).to_string(),
            ),
            action,
        })
    }

    /// [`Self::set_status`], written as `how` says; `Ok(false)` when its condition
    /// failed (the record in memory is then stale).
    async fn write_status(
        &self,
        stack: &mut StackRecord,
        status: StackStatus,
        reason: Option<String>,
        how: StatusWrite,
    ) -> Result<bool, EngineError> {
        stack.revision += 1;
        stack.status = status;
        stack.status_reason = reason;
        if status == StackStatus::DeleteComplete {
            stack.deletion_time = Some(self.clock.now());
        }
        let draft = EventDraft {
            logical_id: &stack.stack_name,
            physical_id: Some(&stack.stack_id),
            resource_type: "AWS::CloudFormation::Stack",
            status: status.as_str(),
            reason: stack.status_reason.as_deref(),
            properties: None,
        };
        let record = match how {
            StatusWrite::Always => Record::Stack(stack),
            StatusWrite::Step => Record::StackStep(stack),
            StatusWrite::If(revision) => Record::StackIf(stack, revision),
        };
        if !self
            .commit(&stack.stack_id, &stack.stack_name, record, &[draft])
            .await?
        {
            return Ok(false);
        }
        if status == StackStatus::DeleteComplete {
            // Nothing is recorded for a deleted stack after this: forget its numbering
            // (otherwise one entry per stack ever made stays in memory).
            self.event_seq
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&stack.stack_id);
        }
        self.changed.send_modify(|n| *n += 1);
        Ok(true)
    }

    pub fn identity(&self, stack: &StackRecord) -> StackIdentity {
        StackIdentity {
            stack_name: stack.stack_name.clone(),
            stack_id: stack.stack_id.clone(),
            region: self.config.region.clone(),
            account_id: self.config.account_id.clone(),
            notification_arns: stack.notification_arns.clone(),
        }
    }

    pub fn plan(
        &self,
        stack: &StackRecord,
        template: &TemplateSource,
    ) -> Result<Arc<dyn TemplatePlan>, EngineError> {
        self.plans
            .plan(&template.body, &template.parameters, &self.identity(stack))
            .map_err(EngineError::Template)
    }

    /// Every resource record of a stack (gone ones too) keyed by logical id, as stored.
    pub async fn stored_records(&self, stack_id: &str) -> Result<ops::Records, EngineError> {
        Ok(self
            .store
            .list_resources(stack_id)
            .await?
            .into_iter()
            .map(|r| (r.logical_id.clone(), r))
            .collect())
    }

    /// [`Self::stored_records`] of `stack` as read at its revision: the records its last
    /// operation here left, if kept (then taken: see `ops/kept.rs`), else as stored.
    pub async fn records_at(&self, stack: &StackRecord) -> Result<ops::Records, EngineError> {
        match self.kept.take(&stack.stack_id, stack.revision) {
            Some(records) => Ok(records),
            None => self.stored_records(&stack.stack_id).await,
        }
    }

    pub async fn exports_map(&self) -> Result<HashMap<String, String>, EngineError> {
        Ok(self
            .store
            .list_exports()
            .await?
            .into_iter()
            .map(|e| (e.name, e.value))
            .collect())
    }

    /// Names of the stacks (other than `except`) whose templates import `export`.
    pub async fn importers(&self, export: &str, except: &str) -> Result<Vec<String>, EngineError> {
        Ok(self
            .store
            .list_stacks()
            .await?
            .into_iter()
            .filter(|s| {
                s.stack_id != except
                    && !matches!(
                        s.status,
                        StackStatus::DeleteComplete
                            | StackStatus::ReviewInProgress
                            | StackStatus::RollbackComplete
                    )
                    && s.imports.iter().any(|i| i == export)
            })
            .map(|s| s.stack_name)
            .collect())
    }

    /// Takes a hold on `stack_id` (see [`Inner::held`]), claiming the stack when this
    /// engine had none: `None` when another process holds it or, with `only_if_idle`,
    /// when this engine already does.
    pub async fn hold(
        self: &Arc<Self>,
        stack_id: &str,
        only_if_idle: bool,
    ) -> Result<Option<Hold>, EngineError> {
        let mut held = self.held.lock().await;
        if let Some(n) = held.get_mut(stack_id) {
            if only_if_idle {
                return Ok(None);
            }
            *n += 1;
        } else if self.claims.claim(claims::STACK, stack_id).await? {
            held.insert(stack_id.to_string(), 1);
        } else {
            return Ok(None);
        }
        Ok(Some(Hold {
            inner: Some(self.clone()),
            stack_id: stack_id.to_string(),
        }))
    }

    /// Gives back one hold on `stack_id`, and its claim with the last.
    async fn unhold(&self, stack_id: &str) {
        let mut held = self.held.lock().await;
        match held.get_mut(stack_id) {
            Some(n) if *n > 1 => *n -= 1,
            Some(_) => {
                held.remove(stack_id);
                self.claims.release(claims::STACK, stack_id).await;
            }
            None => {}
        }
    }

    /// Starts the task that drives `stack_id` through `phase`; it keeps `hold` until it
    /// ends. `records`: the stack's resource records when the caller has just read them
    /// or knows them (a new stack has none), which the first phase then need not read;
    /// `written`: the stack's record as the caller has just written it with
    /// [`Self::set_phase_status`] (a new stack's), which the first phase then takes
    /// rather than reading it back. The task answers whether its final flush succeeded
    /// (`false` when it had none to do because its caller runs deferred, see
    /// [`crate::settle`]).
    pub fn spawn(
        self: &Arc<Self>,
        stack_id: String,
        phase: Phase,
        mut hold: Hold,
        records: Option<ops::Records>,
        written: Option<StackRecord>,
    ) -> tokio::task::JoinHandle<bool> {
        hold.inner = None;
        let inner = self.clone();
        let id = stack_id.clone();
        // Registered under the lock the task takes to deregister itself, so a task that
        // finishes at once cannot leave a stale entry behind.
        let mut tasks = self.tasks.lock().unwrap_or_else(|e| e.into_inner());
        // The operation's steps are deferred (see `durability`); it flushes when it ends,
        // unless the caller runs deferred itself and flushes at its own end.
        let flush_at_end = !crate::durability::is_deferred();
        let handle = tokio::spawn(crate::durability::deferred(async move {
            let carry = ops::Carry::new(records);
            let ended = ops::drive(inner.clone(), id.clone(), phase, carry.clone(), written).await;
            let flushed = flush_at_end
                && match inner.store.sync().await {
                    Ok(()) => true,
                    Err(e) => {
                        tracing::error!(stack_id = %id, error = %e, "flushing the finished operation");
                        false
                    }
                };
            // Kept with the revision the operation's own last write gave the stack: any
            // later write raises it (see `ops/kept.rs`).
            if let Some((status, revision)) = ended
                && (flushed || !flush_at_end)
                && status != StackStatus::DeleteComplete
                && let (_, Some(records)) = carry.take()
            {
                inner.kept.keep(&id, revision, records);
            }
            // Deregister only ourselves: once the stack is terminal the caller may already
            // have started the next operation on it, registered under the same stack id.
            let me = tokio::task::id();
            {
                let mut tasks = inner.tasks.lock().unwrap_or_else(|e| e.into_inner());
                if let Some(handles) = tasks.get_mut(&id) {
                    handles.retain(|h| h.id() != me);
                    if handles.is_empty() {
                        tasks.remove(&id);
                    }
                }
            }
            inner.unhold(&id).await;
            inner.changed.send_modify(|n| *n += 1);
            flushed
        }));
        tasks
            .entry(stack_id)
            .or_default()
            .push(handle.abort_handle());
        handle
    }

    /// What interrupts `stack_id`'s update (made on first use; a notification before the
    /// update reaches its resources is kept until it does).
    pub fn interrupt_of(&self, stack_id: &str) -> Arc<tokio::sync::Notify> {
        self.interrupts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(stack_id.to_string())
            .or_default()
            .clone()
    }

    /// Drops `stack_id`'s interruption, so that one meant for an earlier update (sent as
    /// it ended) cannot stop the next.
    pub fn forget_interrupt(&self, stack_id: &str) {
        self.interrupts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(stack_id);
    }

    /// What a provider is told about `rec` of the stack `stack_id` (named `stack_name`,
    /// propagating `tags`): the one place a resource's context is built.
    pub fn resource_context(
        &self,
        stack_id: &str,
        stack_name: &str,
        tags: &[(String, String)],
        rec: &ResourceRecord,
    ) -> crate::provider::ResourceContext {
        crate::provider::ResourceContext {
            region: self.config.region.clone(),
            account_id: self.config.account_id.clone(),
            partition: self.partition.clone(),
            stack_name: stack_name.to_string(),
            stack_id: stack_id.to_string(),
            logical_id: rec.logical_id.clone(),
            resource_type: rec.resource_type.clone(),
            stack_tags: tags.to_vec(),
            started: rec.last_updated,
        }
    }

    pub fn is_running(&self, stack_id: &str) -> bool {
        self.tasks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(stack_id)
    }
}

/// One hold on a stack (see [`Inner::hold`]): given to the task that drives the stack
/// ([`Inner::spawn`]), or, dropped before that (an admission that failed half-way),
/// given back by a task of its own.
pub(crate) struct Hold {
    inner: Option<Arc<Inner>>,
    stack_id: String,
}

impl Drop for Hold {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.take()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            let stack_id = std::mem::take(&mut self.stack_id);
            runtime.spawn(async move { inner.unhold(&stack_id).await });
        }
    }
}

/// How long an admission waits on a claim another process holds over a stack whose
/// record has not moved (see [`Inner::admit`]): a claimant writes within milliseconds
/// of claiming, and lets go within milliseconds of finishing; a claim held longer than
/// this over an unchanged record is refused with the status the record has.
const CLAIM_WAIT: std::time::Duration = std::time::Duration::from_secs(2);
const CLAIM_POLL: std::time::Duration = std::time::Duration::from_millis(5);

/// The state the stack was in when this admission lost: the winner's operation. Usually
/// that is what the record still says; but the winner may have finished already (a fast
/// update, or another replica), and "is in UPDATE_COMPLETE state and can not be updated"
/// would contradict itself, so a settled status names the operation that settled it.
fn winner_status(current: StackStatus) -> StackStatus {
    match current {
        StackStatus::CreateComplete | StackStatus::CreateFailed | StackStatus::RollbackComplete => {
            StackStatus::CreateInProgress
        }
        StackStatus::UpdateComplete | StackStatus::UpdateRollbackComplete => {
            StackStatus::UpdateInProgress
        }
        StackStatus::DeleteComplete | StackStatus::DeleteFailed => StackStatus::DeleteInProgress,
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::EventCursor;

    #[test]
    fn events_of_one_millisecond_are_stamped_a_millisecond_apart() {
        let mut cursor = EventCursor::NEW;
        // Three events read the clock in the same millisecond, then time moves on.
        let stamps: Vec<i64> = [1_000, 1_000, 1_000, 1_001, 1_010, 1_009]
            .into_iter()
            .map(|now| cursor.stamp(now))
            .collect();
        assert_eq!(stamps, [1_000, 1_001, 1_002, 1_003, 1_010, 1_011]);
        // A cursor picked up from the store continues after its last event.
        let mut resumed = EventCursor {
            next_seq: 7,
            last_time: 2_000,
        };
        assert_eq!(resumed.stamp(2_000), 2_001);
    }
}
