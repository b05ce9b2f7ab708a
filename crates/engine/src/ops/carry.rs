//! The stack's resource records, handed from one phase of an operation to the next.
//!
//! Every phase works over the stack's records ([`super::run::Run`]), and every record a
//! phase changes it changes through its `Run`, which keeps its copy in step with the store.
//! So when a phase ends well, its copy *is* what the store holds, and the next phase of
//! the same operation (an update's cleanup after its forward phase, a rollback after a
//! failed create) can start from it instead of reading and parsing every record again:
//! on SQLite that read also waits for the operation's queued writes to commit, a
//! transaction the operation's end would otherwise fold into its last one.
//!
//! The copy is handed on only when that is certain:
//! - a `Run` that saw a store write fail keeps it (its copy may differ from the store);
//! - the driver drops the carry when a phase fails with a store error;
//! - a `Run` gives it back only if no later `Run` has taken the slot in between (each
//!   taker gets a fresh token), so a late drop never hands on an older copy.
//!
//! An operation starts with nothing carried, and its first phase reads the store, unless
//! the caller knows the records already: a new stack has none.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use crate::model::ResourceRecord;

/// A stack's records by logical id.
pub(crate) type Records = BTreeMap<String, ResourceRecord>;

/// See the module documentation. One per driven operation.
pub(crate) struct Carry {
    slot: Mutex<Slot>,
}

struct Slot {
    /// The token of the last `Run` that took the slot.
    lent_to: u64,
    records: Option<Records>,
}

impl Carry {
    /// A carry holding `records` for the first phase (`None`: it reads the store).
    pub(crate) fn new(records: Option<Records>) -> Arc<Self> {
        Arc::new(Carry {
            slot: Mutex::new(Slot {
                lent_to: 0,
                records,
            }),
        })
    }

    fn slot(&self) -> std::sync::MutexGuard<'_, Slot> {
        // Every change under this lock is one assignment: a poisoned lock is consistent.
        self.slot.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The records carried, if any (then the slot is empty), and the taker's token.
    pub(crate) fn take(&self) -> (u64, Option<Records>) {
        let mut slot = self.slot();
        slot.lent_to += 1;
        (slot.lent_to, slot.records.take())
    }

    /// Hands `records` on to the next phase, if the taker of `token` is still the last.
    pub(crate) fn give_back(&self, token: u64, records: Records) {
        let mut slot = self.slot();
        if slot.lent_to == token {
            slot.records = Some(records);
        }
    }
}

/// Records of the given logical ids, for tests.
#[cfg(test)]
pub(super) fn test_records<S: AsRef<str>>(ids: &[S]) -> Records {
    ids.iter()
        .map(|id| {
            let id = id.as_ref();
            let rec = ResourceRecord {
                stack_id: "s".into(),
                logical_id: id.to_string(),
                resource_type: "T::T::T".into(),
                status: crate::model::ResourceStatus::CreateComplete,
                status_reason: None,
                last_updated: 1,
                physical_id: None,
                attributes: Default::default(),
                properties: Arc::new(serde_json::json!({})),
                deletion_policy: Default::default(),
                update_replace_policy: Default::default(),
                prior: None,
                cleanup: vec![],
            };
            (id.to_string(), rec)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(ids: &[&str]) -> Records {
        test_records(ids)
    }

    #[test]
    fn records_go_to_the_next_taker_once() {
        let carry = Carry::new(Some(records(&["A"])));
        let (first, got) = carry.take();
        assert_eq!(got.map(|r| r.len()), Some(1));
        carry.give_back(first, records(&["A", "B"]));
        let (_, got) = carry.take();
        assert_eq!(got.map(|r| r.len()), Some(2));
        let (_, got) = carry.take();
        assert!(got.is_none(), "taken records are not there twice");
    }

    #[test]
    fn a_late_give_back_does_not_overwrite_a_newer_taker() {
        let carry = Carry::new(None);
        let (old, _) = carry.take();
        let (new, got) = carry.take();
        assert!(got.is_none());
        carry.give_back(old, records(&["stale"]));
        assert!(
            carry.take().1.is_none(),
            "the older taker's copy is dropped"
        );
        carry.give_back(new, records(&["A"]));
        // `new` is no longer the last taker either (the take above lent the slot again).
        assert!(carry.take().1.is_none());
    }
}
