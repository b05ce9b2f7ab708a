//! Delivery counts per rule and target, in memory (they restart at zero with the
//! process): how many events each rule matched, and for each of its targets how many
//! deliveries succeeded, how many attempts failed and how many deliveries were given up.
//! Served as JSON by the server's stats endpoint ([`crate::EventBridge::stats`]).

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde::Serialize;
use serde_json::Value;

/// One target's counts.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetCounts {
    pub delivered: u64,
    pub failed_attempts: u64,
    pub given_up: u64,
}

/// One rule's counts.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleCounts {
    pub matched: u64,
    pub targets: BTreeMap<String, TargetCounts>,
}

/// What happened to one delivery attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    Delivered,
    Failed,
    GivenUp,
}

/// Counts by rule ARN.
#[derive(Debug, Default)]
pub struct Stats {
    rules: Mutex<BTreeMap<String, RuleCounts>>,
}

impl Stats {
    /// Forgets every count (`EventBridge::reset`).
    pub fn clear(&self) {
        self.rules.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    fn with<T>(&self, rule_arn: &str, f: impl FnOnce(&mut RuleCounts) -> T) -> T {
        let mut rules = self.rules.lock().unwrap_or_else(|e| e.into_inner());
        f(rules.entry(rule_arn.to_owned()).or_default())
    }

    pub fn matched(&self, rule_arn: &str, n: u64) {
        self.with(rule_arn, |r| r.matched += n);
    }

    pub fn attempt(&self, rule_arn: &str, target_id: &str, outcome: Attempt) {
        self.with(rule_arn, |r| {
            let t = r.targets.entry(target_id.to_owned()).or_default();
            match outcome {
                Attempt::Delivered => t.delivered += 1,
                Attempt::Failed => t.failed_attempts += 1,
                Attempt::GivenUp => t.given_up += 1,
            }
        });
    }

    /// One rule's counts.
    pub fn rule(&self, rule_arn: &str) -> RuleCounts {
        self.with(rule_arn, |r| r.clone())
    }

    /// Every rule's counts: `{"rules": {arn: {"matched", "targets": {id: {...}}}}}`.
    pub fn to_json(&self) -> Value {
        let rules = self.rules.lock().unwrap_or_else(|e| e.into_inner());
        serde_json::json!({ "rules": &*rules })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_by_rule_and_target() {
        let s = Stats::default();
        s.matched("r", 2);
        s.attempt("r", "t", Attempt::Failed);
        s.attempt("r", "t", Attempt::Delivered);
        s.attempt("r", "u", Attempt::GivenUp);
        let v = s.to_json();
        assert_eq!(v["rules"]["r"]["matched"], 2);
        assert_eq!(v["rules"]["r"]["targets"]["t"]["delivered"], 1);
        assert_eq!(v["rules"]["r"]["targets"]["t"]["failedAttempts"], 1);
        assert_eq!(v["rules"]["r"]["targets"]["u"]["givenUp"], 1);
    }
}
