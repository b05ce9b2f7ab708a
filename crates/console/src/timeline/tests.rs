use std::collections::{BTreeSet, HashMap};

use sagestack_engine::model::StackEvent;

use super::*;

const STACK: &str = "web";

/// An event of `id` (the stack itself when `id` is the stack's name) at `t` seconds.
fn ev(seq: u64, t: i64, id: &str, status: &str, reason: Option<&str>) -> StackEvent {
    StackEvent {
        seq,
        event_id: format!("e{seq}"),
        stack_id: "arn:aws:cloudformation:us-east-1:1:stack/web/x".into(),
        stack_name: STACK.into(),
        logical_resource_id: id.into(),
        physical_resource_id: None,
        resource_type: if id == STACK {
            "AWS::CloudFormation::Stack".into()
        } else {
            "AWS::S3::Bucket".into()
        },
        timestamp: t * 1000,
        resource_status: status.into(),
        resource_status_reason: reason.map(str::to_string),
        resource_properties: None,
    }
}

fn deps(pairs: &[(&str, &[&str])]) -> HashMap<String, BTreeSet<String>> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.iter().map(|s| s.to_string()).collect()))
        .collect()
}

/// A and B run in parallel from 0; C depends on B and runs 5..9; D runs 1..2.
fn parallel_create() -> Vec<StackEvent> {
    vec![
        ev(1, 0, STACK, "CREATE_IN_PROGRESS", Some("User Initiated")),
        ev(2, 0, "A", "CREATE_IN_PROGRESS", None),
        ev(3, 0, "B", "CREATE_IN_PROGRESS", None),
        ev(4, 1, "D", "CREATE_IN_PROGRESS", None),
        ev(5, 2, "D", "CREATE_COMPLETE", None),
        ev(6, 3, "A", "CREATE_COMPLETE", None),
        ev(7, 5, "B", "CREATE_COMPLETE", None),
        ev(8, 5, "C", "CREATE_IN_PROGRESS", None),
        ev(9, 9, "C", "CREATE_COMPLETE", None),
        ev(10, 9, STACK, "CREATE_COMPLETE", None),
    ]
}

#[test]
fn bars_are_in_start_order_with_their_times() {
    let t = layout(STACK, &parallel_create(), &HashMap::new(), 100_000);
    let rows: Vec<(&str, i64, i64)> = t
        .bars
        .iter()
        .map(|b| (b.logical_id.as_str(), b.start / 1000, b.end / 1000))
        .collect();
    assert_eq!(rows, [("A", 0, 3), ("B", 0, 5), ("D", 1, 2), ("C", 5, 9)]);
    assert!(t.bars.iter().all(|b| b.operation == Operation::Create));
    assert!(t.bars.iter().all(|b| b.outcome == Outcome::Complete));
    assert_eq!((t.start, t.end), (0, 9000));
    assert_eq!(t.phases.len(), 2);
}

#[test]
fn parallel_lanes_count_overlaps_only() {
    let t = layout(STACK, &parallel_create(), &HashMap::new(), 0);
    // A, B and D overlap at t=1..2; C starts exactly when B ends.
    assert_eq!(t.max_parallel, 3);
}

#[test]
fn critical_path_follows_dependencies_back_from_the_last_end() {
    let d = deps(&[("C", &["B"]), ("B", &[]), ("A", &[]), ("D", &["A"])]);
    let t = layout(STACK, &parallel_create(), &d, 0);
    let critical: Vec<&str> = t
        .bars
        .iter()
        .filter(|b| b.critical)
        .map(|b| b.logical_id.as_str())
        .collect();
    assert_eq!(critical, ["B", "C"]);
}

#[test]
fn critical_path_ignores_dependencies_that_ended_later() {
    // C depends on A and B; B ended last (5) so it is the one C waited for, not A.
    let d = deps(&[("C", &["A", "B"])]);
    let t = layout(STACK, &parallel_create(), &d, 0);
    assert!(
        t.bars
            .iter()
            .find(|b| b.logical_id == "B")
            .unwrap()
            .critical
    );
    assert!(
        !t.bars
            .iter()
            .find(|b| b.logical_id == "A")
            .unwrap()
            .critical
    );
}

#[test]
fn first_failure_is_the_own_failure_not_the_cancellations() {
    let events = vec![
        ev(1, 0, STACK, "CREATE_IN_PROGRESS", None),
        ev(2, 0, "A", "CREATE_IN_PROGRESS", None),
        ev(3, 0, "B", "CREATE_IN_PROGRESS", None),
        ev(
            4,
            2,
            "B",
            "CREATE_FAILED",
            Some("Bucket name already taken"),
        ),
        ev(
            5,
            2,
            "A",
            "CREATE_FAILED",
            Some("Resource creation cancelled"),
        ),
        ev(
            6,
            2,
            STACK,
            "ROLLBACK_IN_PROGRESS",
            Some("The following resource(s) failed to create: [B]."),
        ),
        ev(7, 3, "A", "DELETE_IN_PROGRESS", None),
        ev(8, 4, "A", "DELETE_COMPLETE", None),
        ev(9, 4, "B", "DELETE_COMPLETE", None),
        ev(10, 4, STACK, "ROLLBACK_COMPLETE", None),
    ];
    let t = layout(STACK, &events, &HashMap::new(), 0);
    let first = &t.bars[t.first_failure.unwrap()];
    assert_eq!(first.logical_id, "B");
    assert_eq!(first.reason.as_deref(), Some("Bucket name already taken"));
    // The rollback's deletes are rollback bars; B's delete had no opening: zero length.
    let rollback: Vec<(&str, i64, i64)> = t
        .bars
        .iter()
        .filter(|b| b.operation == Operation::Rollback)
        .map(|b| (b.logical_id.as_str(), b.start / 1000, b.end / 1000))
        .collect();
    assert_eq!(rollback, [("A", 3, 4), ("B", 4, 4)]);
}

#[test]
fn a_running_bar_ends_now() {
    let events = vec![
        ev(1, 0, STACK, "CREATE_IN_PROGRESS", None),
        ev(2, 1, "A", "CREATE_IN_PROGRESS", None),
    ];
    let t = layout(STACK, &events, &HashMap::new(), 7000);
    assert_eq!(t.bars[0].outcome, Outcome::Running);
    assert_eq!((t.bars[0].start, t.bars[0].end), (1000, 7000));
    assert_eq!(t.end, 7000);
}

#[test]
fn delete_critical_path_runs_against_the_dependencies() {
    // B depends on A: on delete, B goes first, then A.
    let events = vec![
        ev(1, 0, STACK, "DELETE_IN_PROGRESS", None),
        ev(2, 0, "B", "DELETE_IN_PROGRESS", None),
        ev(3, 2, "B", "DELETE_COMPLETE", None),
        ev(4, 2, "A", "DELETE_IN_PROGRESS", None),
        ev(5, 3, "A", "DELETE_COMPLETE", None),
    ];
    let t = layout(STACK, &events, &deps(&[("B", &["A"])]), 0);
    assert!(t.bars.iter().all(|b| b.critical));
    assert_eq!(t.bars[0].operation, Operation::Delete);
}

#[test]
fn template_dependencies_reads_refs_getatts_subs_and_depends_on() {
    let body = "Resources:\n  A: {Type: AWS::S3::Bucket}\n  B:\n    Type: AWS::S3::Bucket\n    DependsOn: A\n  C:\n    Type: AWS::SSM::Parameter\n    Properties:\n      Value: !Sub '${B}-${A.Arn}'\n      Name: !Ref AWS::Region\n";
    let d = template_dependencies(body);
    assert_eq!(d["A"], BTreeSet::new());
    assert_eq!(d["B"], BTreeSet::from(["A".to_string()]));
    assert_eq!(d["C"], BTreeSet::from(["A".to_string(), "B".to_string()]));
}

#[test]
fn five_hundred_resources_lay_out_quickly() {
    let mut events = vec![ev(1, 0, STACK, "CREATE_IN_PROGRESS", None)];
    let mut seq = 2;
    let mut d = HashMap::new();
    for i in 0..500 {
        let id = format!("R{i}");
        events.push(ev(seq, i / 10, &id, "CREATE_IN_PROGRESS", None));
        events.push(ev(seq + 1, i / 10 + 1, &id, "CREATE_COMPLETE", None));
        seq += 2;
        if i >= 10 {
            d.insert(id, BTreeSet::from([format!("R{}", i - 10)]));
        }
    }
    let started = std::time::Instant::now();
    let t = layout(STACK, &events, &d, 0);
    assert_eq!(t.bars.len(), 500);
    assert!(t.bars.iter().filter(|b| b.critical).count() >= 50);
    assert!(started.elapsed() < std::time::Duration::from_millis(500));
}

#[test]
fn initiated_events_continue_the_open_bar() {
    let events = vec![
        ev(1, 0, STACK, "CREATE_IN_PROGRESS", None),
        ev(2, 0, "A", "CREATE_IN_PROGRESS", None),
        ev(
            3,
            1,
            "A",
            "CREATE_IN_PROGRESS",
            Some("Resource creation Initiated"),
        ),
        ev(4, 3, "A", "CREATE_COMPLETE", None),
    ];
    let t = layout(STACK, &events, &HashMap::new(), 0);
    assert_eq!(t.bars.len(), 1);
    assert_eq!((t.bars[0].start, t.bars[0].end), (0, 3000));
}
