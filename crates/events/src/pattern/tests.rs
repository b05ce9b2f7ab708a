//! A table of (pattern, event, expected) over every operator, and invalid patterns.

use serde_json::json;

use super::*;

/// The shared table (`tests/fixtures/event-patterns.json`), also run over HTTP through
/// `TestEventPattern` by `tests/py/test_events.py`.
fn table() -> Value {
    serde_json::from_str(include_str!(
        "../../../../tests/fixtures/event-patterns.json"
    ))
    .unwrap()
}

fn event(detail: Value) -> Value {
    let mut e = table()["events"]["model-package"].clone();
    e["detail"] = detail;
    e
}

#[test]
fn the_matching_table() {
    let table = table();
    let cases = table["cases"].as_array().unwrap();
    assert!(cases.len() >= 150, "{}", cases.len());
    let mut wrong = Vec::new();
    for case in cases {
        let pattern = &case["pattern"];
        let event = &table["events"][case["event"].as_str().unwrap()];
        let p = Pattern::from_value(pattern).unwrap_or_else(|e| panic!("{pattern}: {e}"));
        if p.matches(event) != case["matches"].as_bool().unwrap() {
            wrong.push(format!("{pattern} on {}", case["event"]));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[test]
fn the_issues_anything_but_rule_lets_only_decisions_through() {
    let rule = Pattern::parse(
        r#"{"source": ["aws.sagemaker"], "detail-type": ["SageMaker Model Package State Change"],
            "detail": {"ModelApprovalStatus": [{"anything-but": "PendingManualApproval"}]}}"#,
    )
    .unwrap();
    for (status, fires) in [
        ("PendingManualApproval", false),
        ("Approved", true),
        ("Rejected", true),
    ] {
        let e = event(json!({"ModelApprovalStatus": status}));
        assert_eq!(rule.matches(&e), fires, "{status}");
    }
}

#[test]
fn wildcards_escape_and_do_not_explode() {
    assert!(wildcard_match("a\\*b", "a*b"));
    assert!(!wildcard_match("a\\*b", "axb"));
    assert!(wildcard_match("*", ""));
    assert!(wildcard_match("a*b*c", "aXXbYYc"));
    assert!(!wildcard_match("a*b*c", "aXXbYY"));
    let long = "a".repeat(5000);
    assert!(!wildcard_match("*a*a*a*a*a*a*a*a*b", &long));
}

#[test]
fn invalid_patterns_are_refused_with_a_reason() {
    for case in table()["invalid"].as_array().unwrap() {
        let (text, reason) = (
            case["pattern"].as_str().unwrap(),
            case["reason"].as_str().unwrap(),
        );
        match Pattern::parse(text) {
            Err(EventsError::InvalidEventPattern(m)) => assert!(m.contains(reason), "{text}: {m}"),
            other => panic!("{text}: {other:?}"),
        }
    }
    let deep = format!("{}{{\"x\": [1]}}{}", "{\"a\": ".repeat(40), "}".repeat(40));
    assert!(Pattern::parse(&deep).is_err());
}
