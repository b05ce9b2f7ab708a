//! The engine's persistence contract, and an in-memory implementation.
//!
//! The engine writes a stack's state before and after every resource action, so a
//! [`StackStore`] must commit calls in call order (a later write never lands without an
//! earlier one): after a crash, a new engine over the same store calls
//! [`crate::Engine::recover`] and finishes whatever was in progress from these records
//! alone. A write must be committed and on stable storage before it returns unless the
//! caller runs deferred ([`crate::durability::is_deferred`]); then it may return earlier
//! (queued), as long as every read sees it, and [`StackStore::sync`] commits and flushes. The contract is deliberately small (whole
//! records in, whole records out, no transactions across calls) so a SQL backend is a
//! handful of tables keyed as documented on each method.
//!
//! One store holds one account-and-region namespace (stack names and export names are
//! unique within it).

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use async_trait::async_trait;

use crate::model::{
    ChangeSetRecord, ExportRecord, ResourceRecord, StackEvent, StackRecord, StackStatus,
};

/// A storage failure, surfaced to callers as [`crate::EngineError::Store`].
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("stack store: {0}")]
pub struct StoreError(pub String);

impl StoreError {
    /// Whether the database could not be reached ([`UNREACHABLE`]): a failure that
    /// passes, after which the same call may succeed.
    pub fn is_unreachable(&self) -> bool {
        self.0.starts_with(UNREACHABLE)
    }
}

/// How a store's failure text starts when its database cannot be reached now (a
/// PostgreSQL outage): the words of `sagestack_store::transient::UNREACHABLE`, which a
/// test in `sagestack-provisioning` (`stacks.rs`) keeps equal. A service behind a
/// provider reports its own store's outage in these words too, which is how the engine
/// tells an interrupted resource action from a failed one
/// ([`crate::ProviderError::is_outage`]).
pub const UNREACHABLE: &str = "database unreachable";

/// Durable state of stacks. Every method is atomic on its own.
#[async_trait]
pub trait StackStore: Send + Sync {
    /// Insert or replace the stack keyed by `stack_id` and append `events`, atomically
    /// (a status change and its event are one step: both happen or neither does).
    async fn put_stack(&self, stack: &StackRecord, events: &[StackEvent])
    -> Result<(), StoreError>;
    /// What [`StackStore::put_stack`] does, for the `*_IN_PROGRESS` status an operation
    /// writes between two of its phases (`ops::then`), or a new stack's first
    /// `CREATE_IN_PROGRESS`. Inside a deferred scope ([`crate::durability`]) a backend
    /// may queue it with the operation's steps, to commit in order with them. Until then
    /// no reader gets the new record before its commit (a read may wait for it), a
    /// by-name lookup already finds the stack, and the operation goes on with the record
    /// it wrote rather than reading it back.
    async fn put_stack_step(
        &self,
        stack: &StackRecord,
        events: &[StackEvent],
    ) -> Result<(), StoreError> {
        self.put_stack(stack, events).await
    }
    /// Compare-and-set: what [`StackStore::put_stack`] does, only if the stored record's
    /// [`StackRecord::revision`] is still `expected` (a record stored without one counts
    /// as revision 0); `Ok(false)`, writing nothing, otherwise. Check and write are one
    /// atomic step in the backend (one transaction, one conditional statement), so of
    /// two callers that read the same revision exactly one succeeds, in one process or
    /// across replicas sharing a database: what makes the admission of a stack
    /// operation (UpdateStack, DeleteStack, ...) atomic.
    async fn put_stack_if(
        &self,
        stack: &StackRecord,
        events: &[StackEvent],
        expected: u64,
    ) -> Result<bool, StoreError>;
    async fn get_stack(&self, stack_id: &str) -> Result<Option<StackRecord>, StoreError>;
    /// Every stack, deleted ones included, in creation order.
    async fn list_stacks(&self) -> Result<Vec<StackRecord>, StoreError>;
    /// The newest stack named `stack_name` whose status is not `DELETE_COMPLETE` (the
    /// engine keeps at most one such stack per name). What every by-name lookup asks,
    /// so a backend should answer it from an index; this default scans [`list_stacks`].
    ///
    /// [`list_stacks`]: StackStore::list_stacks
    async fn find_live_stack(&self, stack_name: &str) -> Result<Option<StackRecord>, StoreError> {
        Ok(self
            .list_stacks()
            .await?
            .into_iter()
            .rev()
            .find(|s| s.stack_name == stack_name && s.status != StackStatus::DeleteComplete))
    }

    /// Insert or replace the resource keyed by `(stack_id, logical_id)` and append
    /// `events`, atomically.
    async fn put_resource(
        &self,
        resource: &ResourceRecord,
        events: &[StackEvent],
    ) -> Result<(), StoreError>;
    async fn delete_resource(&self, stack_id: &str, logical_id: &str) -> Result<(), StoreError>;
    /// A stack's resources, ordered by logical id.
    async fn list_resources(&self, stack_id: &str) -> Result<Vec<ResourceRecord>, StoreError>;

    /// Append events (their `seq` is already set by the engine and increases per stack).
    async fn append_events(&self, events: &[StackEvent]) -> Result<(), StoreError>;
    /// Newest first: at most `limit` events of the stack whose `seq` is below `before_seq`
    /// (all when `None`). Pass the last returned `seq` to get the next page.
    async fn list_events(
        &self,
        stack_id: &str,
        before_seq: Option<u64>,
        limit: usize,
    ) -> Result<Vec<StackEvent>, StoreError>;

    /// Insert or replace the change set keyed by `change_set_id`.
    async fn put_change_set(&self, change_set: &ChangeSetRecord) -> Result<(), StoreError>;
    async fn get_change_set(
        &self,
        change_set_id: &str,
    ) -> Result<Option<ChangeSetRecord>, StoreError>;
    /// A stack's change sets in creation order.
    async fn list_change_sets(&self, stack_id: &str) -> Result<Vec<ChangeSetRecord>, StoreError>;
    /// Every stack's change sets whose creation has not ended (`CREATE_PENDING`,
    /// `CREATE_IN_PROGRESS`): what recovery fails when their creator is gone. This default
    /// reads every stack's change sets; a SQL backend reads only those.
    async fn unfinished_change_sets(&self) -> Result<Vec<ChangeSetRecord>, StoreError> {
        let mut out = Vec::new();
        for stack in self.list_stacks().await? {
            let sets = self.list_change_sets(&stack.stack_id).await?;
            out.extend(sets.into_iter().filter(|c| c.status.is_creating()));
        }
        Ok(out)
    }
    async fn delete_change_set(&self, change_set_id: &str) -> Result<(), StoreError>;
    /// Removes every change set of `stack_id` (what a stack's deletion does). This default
    /// lists them and deletes each; a SQL backend deletes them in one statement without
    /// reading, queued with the deleting operation's other writes.
    async fn delete_change_sets(&self, stack_id: &str) -> Result<(), StoreError> {
        for cs in self.list_change_sets(stack_id).await? {
            self.delete_change_set(&cs.change_set_id).await?;
        }
        Ok(())
    }

    /// Replace every export of `stack_id` with `exports` (empty removes them all).
    async fn put_exports(&self, stack_id: &str, exports: &[ExportRecord])
    -> Result<(), StoreError>;
    /// Every export, ordered by name.
    async fn list_exports(&self) -> Result<Vec<ExportRecord>, StoreError>;

    /// Returns once every write that returned before this call is committed and on
    /// stable storage.
    /// A backend whose writes are flushed before they return (or that keeps nothing)
    /// has nothing to do. See [`crate::durability`].
    async fn sync(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

#[derive(Default)]
struct Tables {
    stacks: Vec<StackRecord>,
    resources: HashMap<String, BTreeMap<String, ResourceRecord>>,
    events: HashMap<String, Vec<StackEvent>>,
    change_sets: Vec<ChangeSetRecord>,
    exports: BTreeMap<String, ExportRecord>,
}

/// A [`StackStore`] in memory: for tests, benchmarks and single-process use without
/// persistence. Cloning records in and out mimics a real backend's serialisation boundary.
#[derive(Default)]
pub struct MemoryStore {
    tables: Mutex<Tables>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Tables> {
        // A panic while holding this lock cannot leave a half-written record (every
        // mutation is a single insert/remove), so a poisoned lock is still usable.
        self.tables.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Replaces the record `same` picks, else adds `record` last: the tables kept as vectors
/// list in creation order, which a replacement keeps.
fn upsert<T: Clone>(records: &mut Vec<T>, record: &T, same: impl Fn(&T) -> bool) {
    match records.iter_mut().find(|r| same(r)) {
        Some(r) => *r = record.clone(),
        None => records.push(record.clone()),
    }
}

fn append(t: &mut Tables, events: &[StackEvent]) {
    for e in events {
        t.events
            .entry(e.stack_id.clone())
            .or_default()
            .push(e.clone());
    }
}

#[async_trait]
impl StackStore for MemoryStore {
    async fn put_stack(
        &self,
        stack: &StackRecord,
        events: &[StackEvent],
    ) -> Result<(), StoreError> {
        let mut t = self.lock();
        append(&mut t, events);
        upsert(&mut t.stacks, stack, |s| s.stack_id == stack.stack_id);
        Ok(())
    }

    async fn put_stack_if(
        &self,
        stack: &StackRecord,
        events: &[StackEvent],
        expected: u64,
    ) -> Result<bool, StoreError> {
        let mut t = self.lock();
        let Some(i) = t.stacks.iter().position(|s| s.stack_id == stack.stack_id) else {
            return Ok(false);
        };
        if t.stacks[i].revision != expected {
            return Ok(false);
        }
        t.stacks[i] = stack.clone();
        append(&mut t, events);
        Ok(true)
    }

    async fn get_stack(&self, stack_id: &str) -> Result<Option<StackRecord>, StoreError> {
        Ok(self
            .lock()
            .stacks
            .iter()
            .find(|s| s.stack_id == stack_id)
            .cloned())
    }

    async fn list_stacks(&self) -> Result<Vec<StackRecord>, StoreError> {
        Ok(self.lock().stacks.clone())
    }

    async fn put_resource(
        &self,
        resource: &ResourceRecord,
        events: &[StackEvent],
    ) -> Result<(), StoreError> {
        let mut t = self.lock();
        append(&mut t, events);
        t.resources
            .entry(resource.stack_id.clone())
            .or_default()
            .insert(resource.logical_id.clone(), resource.clone());
        Ok(())
    }

    async fn delete_resource(&self, stack_id: &str, logical_id: &str) -> Result<(), StoreError> {
        if let Some(r) = self.lock().resources.get_mut(stack_id) {
            r.remove(logical_id);
        }
        Ok(())
    }

    async fn list_resources(&self, stack_id: &str) -> Result<Vec<ResourceRecord>, StoreError> {
        Ok(self
            .lock()
            .resources
            .get(stack_id)
            .map(|r| r.values().cloned().collect())
            .unwrap_or_default())
    }

    async fn append_events(&self, events: &[StackEvent]) -> Result<(), StoreError> {
        append(&mut self.lock(), events);
        Ok(())
    }

    async fn list_events(
        &self,
        stack_id: &str,
        before_seq: Option<u64>,
        limit: usize,
    ) -> Result<Vec<StackEvent>, StoreError> {
        let t = self.lock();
        let Some(all) = t.events.get(stack_id) else {
            return Ok(Vec::new());
        };
        Ok(all
            .iter()
            .rev()
            .filter(|e| before_seq.is_none_or(|b| e.seq < b))
            .take(limit)
            .cloned()
            .collect())
    }

    async fn put_change_set(&self, change_set: &ChangeSetRecord) -> Result<(), StoreError> {
        let change_sets = &mut self.lock().change_sets;
        upsert(change_sets, change_set, |c| {
            c.change_set_id == change_set.change_set_id
        });
        Ok(())
    }

    async fn get_change_set(
        &self,
        change_set_id: &str,
    ) -> Result<Option<ChangeSetRecord>, StoreError> {
        Ok(self
            .lock()
            .change_sets
            .iter()
            .find(|c| c.change_set_id == change_set_id)
            .cloned())
    }

    async fn list_change_sets(&self, stack_id: &str) -> Result<Vec<ChangeSetRecord>, StoreError> {
        Ok(self
            .lock()
            .change_sets
            .iter()
            .filter(|c| c.stack_id == stack_id)
            .cloned()
            .collect())
    }

    async fn delete_change_set(&self, change_set_id: &str) -> Result<(), StoreError> {
        self.lock()
            .change_sets
            .retain(|c| c.change_set_id != change_set_id);
        Ok(())
    }

    async fn put_exports(
        &self,
        stack_id: &str,
        exports: &[ExportRecord],
    ) -> Result<(), StoreError> {
        let mut t = self.lock();
        t.exports.retain(|_, e| e.exporting_stack_id != stack_id);
        for e in exports {
            t.exports.insert(e.name.clone(), e.clone());
        }
        Ok(())
    }

    async fn list_exports(&self) -> Result<Vec<ExportRecord>, StoreError> {
        Ok(self.lock().exports.values().cloned().collect())
    }
}

pub mod conformance;
