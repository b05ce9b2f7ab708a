//! A stack's resource records, kept from the end of one operation to the start of the next.
//!
//! [`super::carry`] hands the records from phase to phase inside one operation. This hands
//! them from an operation's end to the stack's next `UpdateStack`, `DeleteStack` or
//! change set, which would otherwise read and parse every record again: at 500 resources
//! that read was 7.5 of a delete's 44 ms (the SQL and the JSON parse), at 10 resources
//! 0.45 of 3 ms.
//!
//! Kept records are the stack's records for as long as the stack's revision is the one they
//! are kept with, for the reason the update path already relies on: records change only
//! inside an operation (and `ContinueUpdateRollback`, after its admission), every operation
//! starts with an admission that writes the stack and so raises its revision, and every
//! stack write raises it. So:
//! - records are kept only when an operation ended well (no store error; its last phase's
//!   copy is then the store's, see [`super::carry`]), with the revision the operation's
//!   own last write gave the stack (not one read back later: another call of this process
//!   may have been admitted, and even have finished, by then). Whatever writes the stack
//!   afterwards raises the revision, so records kept at a revision that has moved on are
//!   never given out;
//! - they are used only by a caller that read the stack at that same revision and then
//!   admits its operation with a compare-and-set on it (or only plans, for a change set);
//! - using them takes them: an operation changes them, and gives them back at its end.
//!
//! Memory is bounded by [`MAX_KEPT`] records over all stacks (the oldest kept go first);
//! a missing entry only costs the read it would have saved.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use super::carry::Records;

/// How many records are kept at most, over all stacks.
pub(crate) const MAX_KEPT: usize = 20_000;

/// See the module documentation.
#[derive(Default)]
pub(crate) struct Kept {
    slot: Mutex<Slot>,
}

#[derive(Default)]
struct Slot {
    by_stack: HashMap<String, Entry>,
    /// Stack ids with the entry's number, in the order they were kept. An id listed with
    /// a number its entry no longer has (taken, or kept again since) is skipped when met.
    order: VecDeque<(String, u64)>,
    /// The number the next entry gets.
    next: u64,
    /// The records kept, over all stacks.
    total: usize,
}

struct Entry {
    /// The stack revision the records are the stack's at.
    revision: u64,
    records: Records,
    /// Which keeping this is (see [`Slot::order`]).
    number: u64,
}

impl Kept {
    fn slot(&self) -> std::sync::MutexGuard<'_, Slot> {
        // Every change under this lock leaves the map, queue and count consistent before
        // anything that could panic.
        self.slot.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Keeps `records` as `stack_id`'s at `revision`, in place of any kept before.
    pub(crate) fn keep(&self, stack_id: &str, revision: u64, records: Records) {
        let mut slot = self.slot();
        let Slot {
            by_stack,
            order,
            next,
            total,
        } = &mut *slot;
        if let Some(old) = by_stack.remove(stack_id) {
            *total -= old.records.len();
        }
        if records.len() > MAX_KEPT {
            return;
        }
        *total += records.len();
        *next += 1;
        order.push_back((stack_id.to_string(), *next));
        by_stack.insert(
            stack_id.to_string(),
            Entry {
                revision,
                records,
                number: *next,
            },
        );
        let current = |by_stack: &HashMap<String, Entry>, (id, n): &(String, u64)| {
            by_stack.get(id).is_some_and(|e| e.number == *n)
        };
        while *total > MAX_KEPT {
            let Some(oldest) = order.pop_front() else {
                break;
            };
            if current(by_stack, &oldest)
                && let Some(old) = by_stack.remove(&oldest.0)
            {
                *total -= old.records.len();
            }
        }
        // Listings of entries taken or kept again stay until met: drop them once they
        // outnumber the entries, so that the queue cannot grow without limit.
        if order.len() > 2 * by_stack.len() + 64 {
            order.retain(|o| current(by_stack, o));
        }
    }

    /// `stack_id`'s records, if kept at `revision` (then no longer kept). Records kept at
    /// another revision are stale and dropped.
    pub(crate) fn take(&self, stack_id: &str, revision: u64) -> Option<Records> {
        let mut slot = self.slot();
        let entry = slot.by_stack.remove(stack_id)?;
        slot.total -= entry.records.len();
        (entry.revision == revision).then_some(entry.records)
    }

    /// Forgets every stack (the store was emptied).
    pub(crate) fn clear(&self) {
        *self.slot() = Slot::default();
    }

    /// How many records are kept. For tests.
    #[cfg(test)]
    fn total(&self) -> usize {
        self.slot().total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(n: usize) -> Records {
        let ids: Vec<String> = (0..n).map(|i| format!("R{i}")).collect();
        super::super::carry::test_records(&ids)
    }

    #[test]
    fn records_are_given_only_at_the_revision_they_were_kept_at() {
        let kept = Kept::default();
        kept.keep("s", 4, records(2));
        assert!(kept.take("s", 5).is_none(), "a later revision: stale");
        assert!(kept.take("s", 4).is_none(), "a stale entry is dropped");
        kept.keep("s", 6, records(3));
        assert_eq!(kept.take("s", 6).map(|r| r.len()), Some(3));
        assert!(
            kept.take("s", 6).is_none(),
            "taken records are not there twice"
        );
        assert_eq!(kept.total(), 0);
    }

    #[test]
    fn keeping_again_replaces() {
        let kept = Kept::default();
        kept.keep("s", 1, records(5));
        kept.keep("s", 2, records(1));
        assert_eq!(kept.total(), 1);
        assert!(kept.take("s", 1).is_none());
    }

    #[test]
    fn the_oldest_stacks_go_first_beyond_the_bound() {
        let kept = Kept::default();
        let each = MAX_KEPT / 4;
        for s in ["a", "b", "c", "d"] {
            kept.keep(s, 1, records(each));
        }
        // Kept again: "a" is now the newest.
        kept.keep("a", 2, records(each));
        kept.keep("e", 1, records(each));
        assert!(kept.total() <= MAX_KEPT);
        assert!(kept.take("b", 1).is_none(), "the oldest went");
        assert_eq!(kept.take("a", 2).map(|r| r.len()), Some(each));
        assert_eq!(kept.take("e", 1).map(|r| r.len()), Some(each));
        assert!(kept.take("c", 1).is_some());
    }

    #[test]
    fn a_stack_larger_than_the_bound_is_not_kept() {
        let kept = Kept::default();
        kept.keep("small", 1, records(3));
        kept.keep("huge", 1, records(MAX_KEPT + 1));
        assert!(kept.take("huge", 1).is_none());
        assert_eq!(kept.take("small", 1).map(|r| r.len()), Some(3));
    }

    #[test]
    fn the_queue_of_ids_stays_bounded() {
        let kept = Kept::default();
        for i in 0..10_000 {
            kept.keep("s", i, records(1));
        }
        assert!(kept.slot().order.len() <= 2 + 64);
    }
}
