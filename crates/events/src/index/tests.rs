use serde_json::{Value, json};

use super::*;

fn table() -> Value {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/event-patterns.json"
    ))
    .expect("the shared pattern table");
    serde_json::from_str(&text).unwrap()
}

/// Every pattern of the shared table as a rule of one bus: for every event of the
/// table (and variants of it), the index finds exactly the rules a full scan finds.
#[test]
fn the_index_agrees_with_a_full_scan_over_the_shared_table() {
    let t = table();
    let mut index = Index::default();
    let mut all = Vec::new();
    for (i, case) in t["cases"].as_array().unwrap().iter().enumerate() {
        let pattern = Pattern::from_value(&case["pattern"]).unwrap();
        let name = format!("r{i:03}");
        index.insert("default", &name, pattern.clone());
        all.push((name, pattern));
    }
    let mut events: Vec<Value> = t["events"].as_object().unwrap().values().cloned().collect();
    // Variants: other sources and detail-types, an array source, fields missing.
    for e in events.clone() {
        let mut other = e.clone();
        other["source"] = json!("my.app");
        events.push(other);
        let mut arr = e.clone();
        arr["source"] = json!([e["source"].clone(), "other"]);
        events.push(arr);
        let mut bare = e.clone();
        bare.as_object_mut().unwrap().remove("detail-type");
        events.push(bare);
    }
    let mut narrowed = false;
    for event in &events {
        let mut scan: Vec<String> = all
            .iter()
            .filter(|(_, p)| p.matches(event))
            .map(|(n, _)| n.clone())
            .collect();
        scan.sort();
        assert_eq!(index.matching("default", event), scan, "{event}");
        narrowed |= index.candidate_count("default", event) < all.len();
    }
    assert!(narrowed, "the index never narrowed the search");
    // Every case's expectation still holds through the index.
    for (i, case) in t["cases"].as_array().unwrap().iter().enumerate() {
        let event = &t["events"][case["event"].as_str().unwrap()];
        let found = index
            .matching("default", event)
            .contains(&format!("r{i:03}"));
        assert_eq!(found, case["matches"].as_bool().unwrap(), "{case}");
    }
}

#[test]
fn rules_are_filed_once_and_taken_out_cleanly() {
    let mut index = Index::default();
    let p = |v: Value| Pattern::from_value(&v).unwrap();
    index.insert("b", "by-source", p(json!({"source": ["a", "a", "b"]})));
    index.insert("b", "by-type", p(json!({"detail-type": ["T"]})));
    index.insert("b", "prefix", p(json!({"source": [{"prefix": "a"}]})));
    let ev = json!({"source": "a", "detail-type": "T"});
    assert_eq!(index.matching("b", &ev), ["by-source", "by-type", "prefix"]);
    assert_eq!(index.candidate_count("b", &json!({"source": "z"})), 1);
    assert!(
        index.wants("b", "z", "x"),
        "the fallback list wants everything"
    );
    index.remove("b", "prefix");
    assert!(!index.wants("b", "z", "x"));
    assert!(index.wants("b", "b", "x"));
    assert!(index.wants("b", "z", "T"));
    // Re-filing moves the rule.
    index.insert("b", "by-source", p(json!({"source": ["c"]})));
    assert_eq!(index.matching("b", &ev), ["by-type"]);
    assert!(!index.wants("b", "a", "x"));
    assert!(index.matching("other", &ev).is_empty());
    index.remove_bus("b");
    assert!(!index.wants("b", "c", "T"));
}

/// Thousands of rules on distinct sources: an event tries only its own source's rules.
#[test]
fn thousands_of_rules_are_not_scanned() {
    let mut index = Index::default();
    for i in 0..5000 {
        let pattern = Pattern::from_value(&json!({"source": [format!("app.{i}")]})).unwrap();
        index.insert("default", &format!("r{i}"), pattern);
    }
    let ev = json!({"source": "app.42", "detail-type": "x"});
    assert_eq!(index.candidate_count("default", &ev), 1);
    assert_eq!(index.matching("default", &ev), ["r42"]);
}
