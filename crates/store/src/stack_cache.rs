//! Stack records in memory, for the SQLite backend.
//!
//! The engine reads a stack's record several times per operation (by name when a stack
//! is created, at each phase, when an operation is awaited) and the API reads it on every
//! DescribeStacks. With one process owning the data directory, the store can answer
//! these from memory:
//!
//! * the names of live stacks (not `DELETE_COMPLETE`) are all in memory, loaded at open
//!   and kept by every write, so a by-name lookup of a name that is free (every
//!   CreateStack) never reads the database;
//! * the records last written are kept, up to [`CAPACITY`] of them (oldest written
//!   leave first). Only writes fill the cache, after their commit: a read that missed
//!   never inserts what it read, since a newer write may have committed meanwhile.
//!
//! A write that fills it after its commit makes it forget the record first
//! ([`StackCache::forget`]), so that nothing is answered from the record that write
//! replaces. One write fills it *before* its commit: an admission's compare-and-set
//! ([`StackCache::compare_and_put`], see `SqliteStore::admit_in_memory`). That record is
//! an `*_IN_PROGRESS` status, never a terminal one, and it commits with the operation's
//! first steps.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};

use std::collections::BTreeMap;

use sagestack_engine::model::{ExportRecord, StackRecord, StackStatus};

/// Stack records kept at most.
pub(crate) const CAPACITY: usize = 4096;

#[derive(Default)]
pub(crate) struct StackCache {
    inner: Mutex<Inner>,
    /// Every export by name: complete (exports are few and small).
    exports: Mutex<BTreeMap<String, ExportRecord>>,
    /// The stacks that may have change sets: every stack with one in the database, and
    /// possibly some whose last one was deleted alone. An update marks its stack's change
    /// sets obsolete; most stacks never had one, and for them that is no read.
    change_sets: Mutex<HashSet<String>>,
}

#[derive(Default)]
struct Inner {
    /// By stack id, with the write number that put it there.
    records: HashMap<String, (u64, Arc<StackRecord>)>,
    /// Write numbers in order, for eviction (stale entries are skipped).
    order: VecDeque<(u64, String)>,
    written: u64,
    /// Live stack name -> its stack id: complete.
    live: HashMap<String, String>,
}

impl StackCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts from the live stacks in the database, `(stack id, name)` oldest first.
    pub(crate) fn with_live(live: impl IntoIterator<Item = (String, String)>) -> Self {
        let cache = StackCache::default();
        {
            let mut c = cache.lock();
            for (id, name) in live {
                c.live.insert(name, id);
            }
        }
        cache
    }

    /// Forgets every record kept and takes the live names, exports and stacks with
    /// change sets of `loaded` (just read from the database, after queued writes were
    /// lost, see `SqliteStore::recover`): later reads go to the database, which holds
    /// only what committed.
    pub(crate) fn reset_from(&self, loaded: StackCache) {
        let live = std::mem::take(&mut loaded.lock().live);
        {
            let mut c = self.lock();
            c.records.clear();
            c.order.clear();
            c.live = live;
        }
        let exports = loaded
            .exports
            .into_inner()
            .unwrap_or_else(|e| e.into_inner());
        *self.exports.lock().unwrap_or_else(|e| e.into_inner()) = exports;
        let change_sets = loaded
            .change_sets
            .into_inner()
            .unwrap_or_else(|e| e.into_inner());
        *self.change_sets.lock().unwrap_or_else(|e| e.into_inner()) = change_sets;
    }

    /// Starts the exports from the database's.
    pub(crate) fn set_exports(&self, exports: impl IntoIterator<Item = ExportRecord>) {
        let mut e = self.exports.lock().unwrap_or_else(|e| e.into_inner());
        e.clear();
        e.extend(exports.into_iter().map(|x| (x.name.clone(), x)));
    }

    /// Starts the stacks with change sets from the database's.
    pub(crate) fn set_change_set_stacks(&self, stacks: impl IntoIterator<Item = String>) {
        let mut c = self.change_sets.lock().unwrap_or_else(|e| e.into_inner());
        c.clear();
        c.extend(stacks);
    }

    /// Before a change set of `stack_id` is written (before, so that no reader can
    /// see the row and miss the note).
    pub(crate) fn note_change_set(&self, stack_id: &str) {
        let mut c = self.change_sets.lock().unwrap_or_else(|e| e.into_inner());
        if !c.contains(stack_id) {
            c.insert(stack_id.to_string());
        }
    }

    /// Whether `stack_id` may have change sets (`false`: it has none).
    pub(crate) fn may_have_change_sets(&self, stack_id: &str) -> bool {
        let c = self.change_sets.lock().unwrap_or_else(|e| e.into_inner());
        c.contains(stack_id)
    }

    /// After every change set of `stack_id` was deleted (queued writes included: they
    /// commit in order, so a read that then skips the table agrees with them).
    pub(crate) fn forget_change_sets(&self, stack_id: &str) {
        let mut c = self.change_sets.lock().unwrap_or_else(|e| e.into_inner());
        c.remove(stack_id);
    }

    /// Every export, ordered by name.
    pub(crate) fn exports(&self) -> Vec<ExportRecord> {
        let e = self.exports.lock().unwrap_or_else(|e| e.into_inner());
        e.values().cloned().collect()
    }

    /// Whether `stack_id` has any export.
    pub(crate) fn exports_of(&self, stack_id: &str) -> bool {
        let e = self.exports.lock().unwrap_or_else(|e| e.into_inner());
        e.values().any(|x| x.exporting_stack_id == stack_id)
    }

    /// After the exports of `stack_id` were replaced by `exports` and committed.
    pub(crate) fn put_exports(&self, stack_id: &str, exports: &[ExportRecord]) {
        let mut e = self.exports.lock().unwrap_or_else(|e| e.into_inner());
        e.retain(|_, x| x.exporting_stack_id != stack_id);
        e.extend(exports.iter().map(|x| (x.name.clone(), x.clone())));
    }

    /// The record, when it is among those kept.
    pub(crate) fn get(&self, stack_id: &str) -> Option<StackRecord> {
        self.lock()
            .records
            .get(stack_id)
            .map(|(_, r)| StackRecord::clone(r))
    }

    /// The id of the live stack named `name`, if there is one (always known).
    pub(crate) fn live_id(&self, name: &str) -> Option<String> {
        self.lock().live.get(name).cloned()
    }

    /// After `stack` was committed.
    pub(crate) fn put(&self, stack: &StackRecord) {
        self.lock().put(stack);
    }

    /// Before a queued write of `stack`'s record (`SqliteStore::queue_stack_step`): the
    /// record is forgotten as by [`forget`](Self::forget), and the stack's name is
    /// taken at once, as a later commit would take it.
    pub(crate) fn forget_record_keep_name(&self, stack: &StackRecord) {
        let mut c = self.lock();
        c.records.remove(&stack.stack_id);
        if stack.status != StackStatus::DeleteComplete {
            c.live
                .insert(stack.stack_name.clone(), stack.stack_id.clone());
        }
    }

    /// Before a write of `stack_id`'s record that fills the cache only after its commit:
    /// until then the record is not kept, so that no reader is answered, and no
    /// [`compare_and_put`](Self::compare_and_put) decided, from the record this write
    /// replaces once it has committed (both go to the database instead, behind it).
    pub(crate) fn forget(&self, stack_id: &str) {
        self.lock().records.remove(stack_id);
    }

    /// The admission's compare-and-set, decided here rather than in the database (see
    /// `SqliteStore::admit_in_memory`): takes `stack` in place of the kept record if that
    /// record is at revision `expected`. Every write of a stack record passes through
    /// this cache, so a kept record is the stack's latest: one at a later revision means
    /// someone else wrote since the caller read (lost). Not kept, or kept at an earlier
    /// revision (a write that committed but has not reached the cache yet), is
    /// [`Cas::Unknown`]: the database decides. Returns what the cache held before, to put
    /// back if the write then fails ([`StackCache::undo`]).
    pub(crate) fn compare_and_put(&self, stack: &StackRecord, expected: u64) -> Cas {
        let mut c = self.lock();
        let kept = match c.records.get(&stack.stack_id) {
            None => return Cas::Unknown,
            Some((_, kept)) if kept.revision < expected => return Cas::Unknown,
            Some((_, kept)) if kept.revision > expected => return Cas::Lost,
            Some((_, kept)) => kept.clone(),
        };
        c.put(stack);
        Cas::Won(kept)
    }

    /// After the write of a [`Cas::Won`] failed: puts `previous` back, unless the record
    /// has been written again since (then that newer write stands).
    pub(crate) fn undo(&self, stack: &StackRecord, previous: &StackRecord) {
        let mut c = self.lock();
        if c.records
            .get(&stack.stack_id)
            .is_some_and(|(_, kept)| kept.revision == stack.revision)
        {
            c.put(previous);
        }
    }
}

/// What [`StackCache::compare_and_put`] decided.
pub(crate) enum Cas {
    /// Taken; the record it replaced.
    Won(Arc<StackRecord>),
    /// Someone wrote the stack since the caller's read.
    Lost,
    /// The cache cannot tell.
    Unknown,
}

impl Inner {
    fn put(&mut self, stack: &StackRecord) {
        let c = self;
        c.written += 1;
        let n = c.written;
        if stack.status == StackStatus::DeleteComplete {
            if c.live.get(&stack.stack_name) == Some(&stack.stack_id) {
                c.live.remove(&stack.stack_name);
            }
        } else {
            c.live
                .insert(stack.stack_name.clone(), stack.stack_id.clone());
        }
        c.records
            .insert(stack.stack_id.clone(), (n, Arc::new(stack.clone())));
        c.order.push_back((n, stack.stack_id.clone()));
        while c.records.len() > CAPACITY {
            let Some((n, id)) = c.order.pop_front() else {
                break;
            };
            if c.records.get(&id).is_some_and(|(m, _)| *m == n) {
                c.records.remove(&id);
            }
        }
        // Stale order entries (records rewritten since) are dropped as they surface;
        // bound them too, so a few hot stacks rewritten forever cannot grow the queue.
        if c.order.len() > 4 * CAPACITY {
            let Inner { records, order, .. } = &mut *c;
            order.retain(|(n, id)| records.get(id).is_some_and(|(m, _)| m == n));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stack(id: &str, name: &str, status: StackStatus) -> StackRecord {
        StackRecord::new(id.into(), name.into(), status, 0)
    }

    #[test]
    fn live_names_follow_writes_and_records_are_bounded() {
        let c = StackCache::with_live([("old".to_string(), "a".to_string())]);
        assert_eq!(c.live_id("a").as_deref(), Some("old"));
        assert_eq!(c.get("old"), None, "loaded names do not bring records");
        c.put(&stack("old", "a", StackStatus::DeleteComplete));
        assert_eq!(c.live_id("a"), None);
        c.put(&stack("new", "a", StackStatus::CreateInProgress));
        assert_eq!(c.live_id("a").as_deref(), Some("new"));
        // A late write of the deleted stack does not take the name from the new one.
        c.put(&stack("old", "a", StackStatus::DeleteComplete));
        assert_eq!(c.live_id("a").as_deref(), Some("new"));
        for i in 0..CAPACITY + 10 {
            c.put(&stack(
                &format!("s{i}"),
                &format!("n{i}"),
                StackStatus::CreateComplete,
            ));
            c.put(&stack("new", "a", StackStatus::CreateComplete));
        }
        assert!(c.get("s0").is_none(), "the oldest written left");
        assert!(c.get(&format!("s{}", CAPACITY + 9)).is_some());
        assert_eq!(c.get("new").unwrap().status, StackStatus::CreateComplete);
        assert!(c.lock().records.len() <= CAPACITY);
        assert!(c.lock().order.len() <= 4 * CAPACITY + 1);
        // Every name stays known, cached record or not.
        assert_eq!(c.live_id("n0").as_deref(), Some("s0"));
    }

    fn at(revision: u64, status: StackStatus) -> StackRecord {
        let mut s = stack("s", "n", status);
        s.revision = revision;
        s
    }

    fn decided(c: &StackCache, s: &StackRecord, expected: u64) -> &'static str {
        match c.compare_and_put(s, expected) {
            Cas::Won(_) => "won",
            Cas::Lost => "lost",
            Cas::Unknown => "unknown",
        }
    }

    #[test]
    fn compare_and_put_decides_only_from_the_latest_record() {
        let c = StackCache::default();
        let admitted = at(3, StackStatus::UpdateInProgress);
        assert_eq!(decided(&c, &admitted, 2), "unknown", "not kept");
        c.put(&at(2, StackStatus::CreateComplete));
        assert_eq!(
            decided(&c, &at(4, StackStatus::UpdateInProgress), 3),
            "unknown",
            "kept behind the caller's read (a commit not in the cache yet)"
        );
        assert_eq!(decided(&c, &at(3, StackStatus::DeleteInProgress), 2), "won");
        assert_eq!(c.get("s").unwrap().status, StackStatus::DeleteInProgress);
        assert_eq!(decided(&c, &admitted, 2), "lost", "the other caller won");
        // A record being written is kept again only once it has committed.
        c.forget("s");
        assert_eq!(
            decided(&c, &at(5, StackStatus::UpdateInProgress), 4),
            "unknown"
        );
        assert_eq!(c.get("s"), None);
    }

    #[test]
    fn a_failed_admission_puts_back_what_it_replaced_unless_written_since() {
        let c = StackCache::default();
        let before = at(2, StackStatus::CreateComplete);
        c.put(&before);
        let admitted = at(3, StackStatus::UpdateInProgress);
        let Cas::Won(previous) = c.compare_and_put(&admitted, 2) else {
            panic!("not won");
        };
        c.undo(&admitted, &previous);
        assert_eq!(c.get("s"), Some(before.clone()));
        // Undone after a newer write: that write stands.
        let Cas::Won(previous) = c.compare_and_put(&admitted, 2) else {
            panic!("not won");
        };
        let newer = at(4, StackStatus::UpdateComplete);
        c.put(&newer);
        c.undo(&admitted, &previous);
        assert_eq!(c.get("s"), Some(newer));
    }
}

#[cfg(test)]
mod export_tests {
    use super::*;

    fn export(name: &str, stack: &str) -> ExportRecord {
        ExportRecord {
            name: name.into(),
            value: format!("{name}-value"),
            exporting_stack_id: stack.into(),
        }
    }

    #[test]
    fn stacks_with_change_sets_are_noted_before_and_forgotten_after() {
        let c = StackCache::default();
        c.set_change_set_stacks(["s1".to_string()]);
        assert!(c.may_have_change_sets("s1"));
        assert!(!c.may_have_change_sets("s2"));
        c.note_change_set("s2");
        c.forget_change_sets("s1");
        assert!(!c.may_have_change_sets("s1"));
        assert!(c.may_have_change_sets("s2"));
        // Recovery starts over from what the database holds.
        let loaded = StackCache::default();
        loaded.set_change_set_stacks(["s3".to_string()]);
        c.reset_from(loaded);
        assert!(!c.may_have_change_sets("s2"));
        assert!(c.may_have_change_sets("s3"));
    }

    #[test]
    fn exports_are_replaced_per_stack_and_listed_by_name() {
        let c = StackCache::default();
        c.set_exports([export("b", "s1")]);
        assert!(c.exports_of("s1"));
        assert!(!c.exports_of("s2"));
        c.put_exports("s2", &[export("c", "s2"), export("a", "s2")]);
        let names: Vec<String> = c.exports().into_iter().map(|e| e.name).collect();
        assert_eq!(names, ["a", "b", "c"]);
        c.put_exports("s2", &[]);
        assert!(!c.exports_of("s2"));
        assert_eq!(c.exports(), [export("b", "s1")]);
    }
}
