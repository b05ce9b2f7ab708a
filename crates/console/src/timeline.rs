//! The provisioning timeline's layout: a stack's events turned into bars (one per
//! resource and operation), with the critical path and the first failure. Pure: no
//! HTML, no I/O; `timeline_svg.rs` draws what this computes.
//!
//! A bar opens at a resource's `*_IN_PROGRESS` event and closes at its next outcome
//! (`*_COMPLETE`, `*_FAILED`, `DELETE_SKIPPED`); an outcome with no opening (providers
//! that keep no state write both at once) is a bar of no length. A bar's operation is
//! `Rollback` when it ran while the stack was rolling back (between the stack's
//! `ROLLBACK_IN_PROGRESS`/`UPDATE_ROLLBACK_IN_PROGRESS` event and the end of that phase).
//! A second `*_IN_PROGRESS` of the same operation ("Resource creation Initiated")
//! belongs to the bar already open.
//!
//! The critical path is the chain of bars that decided when the operation ended: from
//! the bar that ended last, back through the dependency (from the template's `Ref`,
//! `GetAtt`, `Sub` and `DependsOn`) that ended last before it started, and so on. Where
//! the template names no dependency the chain stops: a resource with no predecessor
//! started as soon as the stack did.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use sagestack_engine::model::StackEvent;

/// What a bar did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Operation {
    Create,
    Update,
    Delete,
    Rollback,
}

impl Operation {
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Create => "create",
            Operation::Update => "update",
            Operation::Delete => "delete",
            Operation::Rollback => "rollback",
        }
    }
}

/// How a bar ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Complete,
    Failed,
    /// Still running (the bar ends "now").
    Running,
    /// `DELETE_SKIPPED` (retained).
    Skipped,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Complete => "complete",
            Outcome::Failed => "failed",
            Outcome::Running => "running",
            Outcome::Skipped => "skipped",
        }
    }
}

/// One resource's one operation.
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    pub logical_id: String,
    pub resource_type: String,
    pub operation: Operation,
    pub outcome: Outcome,
    /// Milliseconds since the epoch.
    pub start: i64,
    pub end: i64,
    /// The outcome's reason (a failure's message).
    pub reason: Option<String>,
    /// On the critical path.
    pub critical: bool,
    /// The position of its first event in the stack's event stream: the order of bars
    /// that start in the same millisecond.
    pub seq: u64,
}

/// The laid-out timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct Timeline {
    /// In start order (ties in event order): one row each.
    pub bars: Vec<Bar>,
    /// The earliest event (the axis' origin) and the latest bar end.
    pub start: i64,
    pub end: i64,
    /// Index in `bars` of the first bar that failed for a reason of its own (not a
    /// cancellation caused by another failure).
    pub first_failure: Option<usize>,
    /// Most bars running at one moment.
    pub max_parallel: usize,
    /// Stack-level phases: (status, time), in order.
    pub phases: Vec<(String, i64)>,
}

/// Lays out `events` (any order) of the stack named `stack_name`; `deps` maps a logical
/// id to the ids it depends on; `now` closes bars still running.
pub fn layout(
    stack_name: &str,
    events: &[StackEvent],
    deps: &HashMap<String, BTreeSet<String>>,
    now: i64,
) -> Timeline {
    let mut events: Vec<&StackEvent> = events.iter().collect();
    events.sort_by_key(|e| e.seq);
    let mut bars: Vec<Bar> = Vec::new();
    let mut open: HashMap<&str, usize> = HashMap::new();
    let mut phases = Vec::new();
    let mut rolling_back = false;
    for e in &events {
        let status = e.resource_status.as_str();
        if e.logical_resource_id == stack_name && e.resource_type == "AWS::CloudFormation::Stack" {
            phases.push((status.to_string(), e.timestamp));
            rolling_back = status.contains("ROLLBACK") && status.ends_with("_IN_PROGRESS");
            continue;
        }
        let (verb, state) = match status.split_once('_') {
            Some((verb, state)) => (verb, state),
            None => continue,
        };
        let operation = if rolling_back {
            Operation::Rollback
        } else {
            match verb {
                "CREATE" => Operation::Create,
                "UPDATE" => Operation::Update,
                _ => Operation::Delete,
            }
        };
        let id = e.logical_resource_id.as_str();
        if state == "IN_PROGRESS" {
            // CloudFormation's second opening ("Resource creation Initiated") continues
            // the bar the first one opened.
            if open
                .get(id)
                .is_some_and(|&i| bars[i].operation == operation)
            {
                continue;
            }
            if let Some(i) = open.remove(id) {
                // A second opening closes the first (a replacement's create, then its
                // delete): the first ran until now.
                bars[i].end = e.timestamp;
                bars[i].outcome = Outcome::Complete;
            }
            open.insert(id, bars.len());
            bars.push(Bar {
                logical_id: id.to_string(),
                resource_type: e.resource_type.clone(),
                operation,
                outcome: Outcome::Running,
                start: e.timestamp,
                end: now.max(e.timestamp),
                reason: None,
                critical: false,
                seq: e.seq,
            });
            continue;
        }
        let outcome = match state {
            "FAILED" => Outcome::Failed,
            "SKIPPED" => Outcome::Skipped,
            _ => Outcome::Complete,
        };
        let reason = e.resource_status_reason.clone().filter(|r| !r.is_empty());
        match open.remove(id) {
            Some(i) => {
                bars[i].end = e.timestamp;
                bars[i].outcome = outcome;
                bars[i].reason = reason;
            }
            None => bars.push(Bar {
                logical_id: id.to_string(),
                resource_type: e.resource_type.clone(),
                operation,
                outcome,
                start: e.timestamp,
                end: e.timestamp,
                reason,
                critical: false,
                seq: e.seq,
            }),
        }
    }
    bars.sort_by_key(|b| (b.start, b.seq));
    let start = events
        .first()
        .map(|e| e.timestamp)
        .unwrap_or(now)
        .min(bars.iter().map(|b| b.start).min().unwrap_or(i64::MAX));
    let end = bars
        .iter()
        .map(|b| b.end)
        .chain(events.last().map(|e| e.timestamp))
        .max()
        .unwrap_or(start);
    mark_critical(&mut bars, deps);
    let first_failure = first_failure(&bars);
    let max_parallel = max_parallel(&bars);
    Timeline {
        bars,
        start,
        end,
        first_failure,
        max_parallel,
        phases,
    }
}

/// Whether a failure is only the consequence of another one.
fn is_consequence(reason: &str) -> bool {
    let r = reason.to_ascii_lowercase();
    r.contains("cancelled") || r.contains("canceled") || r.contains("were not created")
}

fn first_failure(bars: &[Bar]) -> Option<usize> {
    let failed = |own: bool| {
        bars.iter()
            .enumerate()
            .filter(|(_, b)| b.outcome == Outcome::Failed)
            .filter(|(_, b)| !own || !b.reason.as_deref().is_some_and(is_consequence))
            .min_by_key(|(i, b)| (b.end, *i))
            .map(|(i, _)| i)
    };
    failed(true).or_else(|| failed(false))
}

/// The largest number of bars of positive length open at one instant (a bar ending as
/// another starts does not overlap it).
fn max_parallel(bars: &[Bar]) -> usize {
    let mut points: Vec<(i64, i32)> = Vec::with_capacity(bars.len() * 2);
    for b in bars.iter().filter(|b| b.end > b.start) {
        points.push((b.start, 1));
        points.push((b.end, -1));
    }
    points.sort();
    let (mut now, mut most) = (0i32, 0i32);
    for (_, d) in points {
        now += d;
        most = most.max(now);
    }
    most.max(i32::from(!bars.is_empty())) as usize
}

/// Marks the critical path: from the bar that ended last (what the user waited for),
/// back through the latest-ending predecessor (by dependency) that started before it.
fn mark_critical(bars: &mut [Bar], deps: &HashMap<String, BTreeSet<String>>) {
    let Some(mut current) = (0..bars.len()).max_by_key(|&i| (bars[i].end, std::cmp::Reverse(i)))
    else {
        return;
    };
    let mut by_id: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, b) in bars.iter().enumerate() {
        by_id.entry(b.logical_id.as_str()).or_default().push(i);
    }
    let mut path = vec![current];
    loop {
        let bar = &bars[current];
        // The bars this one waited for: its own earlier operation (a replacement's
        // create before its delete), and its dependencies' bars of the same phase.
        let mut candidates: Vec<usize> = by_id
            .get(bar.logical_id.as_str())
            .into_iter()
            .flatten()
            .copied()
            .filter(|&j| j != current)
            .collect();
        if let Some(ds) = deps.get(&bar.logical_id) {
            for d in ds {
                candidates.extend(by_id.get(d.as_str()).into_iter().flatten().copied());
            }
        }
        // Delete and rollback run in reverse dependency order: who waited for whom is
        // reversed too, so dependents count as predecessors there.
        if matches!(bar.operation, Operation::Delete | Operation::Rollback) {
            for (id, ds) in deps {
                if ds.contains(&bar.logical_id) {
                    candidates.extend(by_id.get(id.as_str()).into_iter().flatten().copied());
                }
            }
        }
        let next = candidates
            .into_iter()
            // Started no later than this one: which predecessor released it is read from
            // the dependencies, not from the clock, since a dependency's completion and
            // the start it released are stamped by different tasks and can read out of
            // order by a few milliseconds (more on a loaded machine).
            .filter(|&j| !path.contains(&j) && bars[j].start <= bar.start)
            .max_by_key(|&j| (bars[j].end, std::cmp::Reverse(j)));
        match next {
            Some(j) => {
                path.push(j);
                current = j;
            }
            None => break,
        }
    }
    for i in path {
        bars[i].critical = true;
    }
}

/// Each resource's dependencies in a template body: `Ref`, `GetAtt`, `Sub` variables
/// and `DependsOn` naming other resources. Empty when the body does not parse.
pub fn template_dependencies(body: &str) -> HashMap<String, BTreeSet<String>> {
    use sagestack_template::graph::references;
    let mut out = HashMap::new();
    let Ok(template) =
        sagestack_template::Template::parse_with(body, &sagestack_template::Limits::s3())
    else {
        return out;
    };
    let Some(resources) = template.root().get("Resources").and_then(|r| r.as_map()) else {
        return out;
    };
    let ids: BTreeSet<String> = resources.keys().map(|k| k.to_string()).collect();
    for (id, entry) in resources.iter() {
        let node = &entry.value;
        let mut refs = Vec::new();
        references(node, &mut refs, &|_| None);
        let mut ds: BTreeSet<String> = refs
            .into_iter()
            .map(|r| r.name)
            .filter(|n| ids.contains(n) && n != id.as_str())
            .collect();
        if let Some(d) = node.get("DependsOn") {
            let names: Vec<String> = match d.as_list() {
                Some(list) => list.iter().filter_map(|n| n.scalar_text()).collect(),
                None => d.scalar_text().into_iter().collect(),
            };
            ds.extend(names.into_iter().filter(|n| ids.contains(n)));
        }
        out.insert(id.to_string(), ds);
    }
    out
}

#[cfg(test)]
mod tests;
