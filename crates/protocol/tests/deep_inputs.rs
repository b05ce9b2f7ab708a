//! Deep, wide and huge-index inputs for every request parser of this crate (the Query
//! form, JSON 1.1 bodies and the model-driven validator): each must answer (a value or
//! a clear refusal) without panicking, without overflowing the 2 MiB stack a test
//! thread (like a tokio worker) has, and within a time bound. Case counts are fixed so
//! the suite runs in seconds.

use std::time::{Duration, Instant};

use proptest::prelude::*;
use sagestack_protocol::json11::parse_body;
use sagestack_protocol::query::{
    MAX_LIST_INDEX, MAX_NAME_SEGMENTS, MAX_PARAMETERS, QueryError, parse_request,
};
use sagestack_protocol::validate::Model;
use sagestack_protocol::{AwsError, ProtocolError};
use serde_json::Value;

/// Generous for a debug build on a loaded machine; a quadratic blow-up on these sizes
/// takes far longer.
const TIME_BOUND: Duration = Duration::from_secs(2);

fn timed<T>(f: impl FnOnce() -> T) -> T {
    let started = Instant::now();
    let out = f();
    let took = started.elapsed();
    assert!(took < TIME_BOUND, "took {took:?}");
    out
}

/// The issue's reproduction: `a.a.a...=1` with 2,000 segments in a GET query string.
#[test]
fn two_thousand_dotted_segments_are_refused() {
    let name = vec!["a"; 2000].join(".");
    let query = format!("Action=DescribeStacks&Version=2010-05-15&{name}=1");
    let err = timed(|| parse_request(Some(&query), b"")).unwrap_err();
    assert!(
        matches!(err, QueryError::InvalidQueryParameter(_)),
        "{err:?}"
    );
    assert_eq!(err.code(), "InvalidQueryParameter");
    assert_eq!(err.status(), 400);
    // The message names the parameter without repeating all 4 KB of it.
    assert!(err.message().len() < 400, "{}", err.message());
}

/// The issue's second reproduction: `X.member.1.member.1...` in a form body.
#[test]
fn nested_members_in_a_body_are_refused() {
    let name = format!("X{}", ".member.1".repeat(5000));
    let body = format!("Action=CreateStack&Version=2010-05-15&{name}=v");
    let err = timed(|| parse_request(None, body.as_bytes())).unwrap_err();
    assert!(
        matches!(err, QueryError::InvalidQueryParameter(_)),
        "{err:?}"
    );
}

#[test]
fn the_bounds_themselves_are_accepted() {
    // A name of exactly MAX_NAME_SEGMENTS segments, nested lists included.
    let mut segs = vec!["X"];
    while segs.len() + 2 <= MAX_NAME_SEGMENTS {
        segs.extend(["member", "1"]);
    }
    while segs.len() < MAX_NAME_SEGMENTS {
        segs.push("y");
    }
    let body = format!("Action=A&{}=v", segs.join("."));
    let r = parse_request(None, body.as_bytes()).unwrap();
    assert!(
        depth(&r.params) >= MAX_NAME_SEGMENTS / 2,
        "{}",
        depth(&r.params)
    );

    // The largest index, and exactly MAX_PARAMETERS parameters.
    let body = format!("Action=A&L.member.{MAX_LIST_INDEX}=z");
    let r = parse_request(None, body.as_bytes()).unwrap();
    assert_eq!(r.params, serde_json::json!({"L": ["z"]}));
    let mut body = String::from("Action=A");
    for i in 1..MAX_PARAMETERS {
        body.push_str(&format!("&L.member.{i}=x"));
    }
    let r = timed(|| parse_request(None, body.as_bytes())).unwrap();
    assert_eq!(r.params["L"].as_array().unwrap().len(), MAX_PARAMETERS - 1);
}

#[test]
fn beyond_the_bounds_is_refused() {
    let name = vec!["a"; MAX_NAME_SEGMENTS + 1].join(".");
    let body = format!("Action=A&{name}=1");
    assert!(matches!(
        parse_request(None, body.as_bytes()),
        Err(QueryError::InvalidQueryParameter(_))
    ));
    for index in [
        (MAX_LIST_INDEX + 1).to_string(),
        "99999999999999999999999999".to_owned(),
    ] {
        for list in ["member", "entry"] {
            let body = format!("Action=A&L.{list}.{index}.Key=1");
            assert!(
                matches!(
                    parse_request(None, body.as_bytes()),
                    Err(QueryError::InvalidQueryParameter(_))
                ),
                "{body}"
            );
        }
    }
    // A 1 MiB body of empty parameters stops at the bound, query string included.
    let body = "a=&".repeat(350_000);
    let err = timed(|| parse_request(Some("Action=A"), body.as_bytes())).unwrap_err();
    assert!(
        matches!(err, QueryError::InvalidQueryParameter(_)),
        "{err:?}"
    );
}

/// A JSON 1.1 body nested past serde_json's recursion limit (128) is a
/// `SerializationException`, not a stack overflow; one within it parses and drops.
#[test]
fn deep_json_bodies() {
    for (open, close) in [("[", "]"), ("{\"a\":", "}")] {
        let deep = format!(
            "{{\"x\":{}1{}}}",
            open.repeat(100_000),
            close.repeat(100_000)
        );
        let err = timed(|| parse_body(deep.as_bytes())).unwrap_err();
        assert!(matches!(err, ProtocolError::Serialization(_)), "{err:?}");
        assert_eq!(err.code(), "SerializationException");
        let ok = format!("{{\"x\":{}1{}}}", open.repeat(120), close.repeat(120));
        timed(|| parse_body(ok.as_bytes())).unwrap();
    }
}

/// A model whose structure contains a list of itself: the validator's recursion follows
/// the input, so it must stay within what the parsers let through.
const RECURSIVE_MODEL: &str = r#"{
  "operations": {"Op": {"input": "Node"}},
  "shapes": {
    "Node": {"type": "structure", "required": ["Name"],
             "members": {"Name": "Name", "Children": "Nodes", "Attrs": "Attrs", "N": "Count"}},
    "Nodes": {"type": "list", "member": "Node", "max": 3},
    "Attrs": {"type": "map", "key": "Name", "value": "Name"},
    "Name": {"type": "string", "min": 1, "max": 8, "pattern": "[a-z]+"},
    "Count": {"type": "integer", "min": 1, "max": 9}
  }
}"#;

fn model() -> Model {
    Model::parse(RECURSIVE_MODEL).unwrap()
}

/// The deepest JSON object parse_body accepts, fed to the validator.
#[test]
fn validator_over_the_deepest_json() {
    let m = model();
    let mut doc = String::from("{\"Name\":\"BAD\"}");
    let mut levels = 1;
    // Two children per level while small, then one per level down to the limit.
    while doc.len() < 100_000 {
        doc = format!("{{\"Name\":\"x\",\"Children\":[{doc},{doc}]}}");
        levels += 1;
    }
    loop {
        let next = format!("{{\"Name\":\"x\",\"Children\":[{doc}]}}");
        if parse_body(next.as_bytes()).is_err() {
            break;
        }
        doc = next;
        levels += 1;
    }
    assert!(levels > 60, "{levels}");
    let v = parse_body(doc.as_bytes()).unwrap();
    let err = timed(|| m.validate("Op", &v)).unwrap_err();
    assert!(
        err.message().contains("validation error"),
        "{}",
        err.message()
    );
}

/// The deepest Query request the parser accepts, coerced and validated.
#[test]
fn validator_over_the_deepest_query() {
    let m = model();
    let mut name = String::new();
    let mut segments = 0;
    while segments + 4 <= MAX_NAME_SEGMENTS {
        name.push_str("Children.member.1.");
        segments += 3;
    }
    let body = format!("Action=Op&{name}N=1&Name=x");
    let mut r = parse_request(None, body.as_bytes()).unwrap();
    m.coerce_query("Op", &mut r.params);
    let err = timed(|| m.validate("Op", &r.params)).unwrap_err();
    assert!(
        err.message().contains("Member must not be null"),
        "{}",
        err.message()
    );
}

/// A segment: mostly the words and digits the tree gives meaning to.
fn segment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("member".to_owned()),
        Just("entry".to_owned()),
        Just("a".to_owned()),
        Just(String::new()),
        (0u64..20).prop_map(|n| n.to_string()),
        any::<u64>().prop_map(|n| n.to_string()),
        "[0-9]{15,30}",
        "[a-zA-Z%.=&+]{0,6}",
    ]
}

/// A parameter name: a few segments, or hundreds, or thousands of one.
fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::collection::vec(segment(), 1..8),
        prop::collection::vec(segment(), 1..400),
        (segment(), 1usize..3000).prop_map(|(s, n)| vec![s; n]),
    ]
    .prop_map(|segs| segs.join("."))
}

/// A form: a handful of names, or thousands of the same shape.
fn form() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::collection::vec((name(), "[a-z0-9]{0,4}"), 0..12),
        (name(), 1usize..(MAX_PARAMETERS + 50)).prop_map(|(n, count)| {
            (0..count)
                .map(|i| (format!("{n}.{i}"), String::new()))
                .collect()
        }),
    ]
    .prop_map(|pairs| {
        let mut form = String::from("Action=Op&Version=2010-05-15");
        for (k, v) in pairs {
            form.push('&');
            form.push_str(&k);
            form.push('=');
            form.push_str(&v);
        }
        form
    })
}

/// Nests `inner` `depth` times in arrays or objects, chosen per level by `pattern`.
fn nest(depth: usize, pattern: u64, inner: &str) -> String {
    let array = |i: usize| (pattern >> (i % 64)) & 1 == 0;
    let mut out = String::with_capacity(depth * 12 + inner.len());
    for i in 0..depth {
        out.push_str(if array(i) { "[" } else { "{\"Children\":" });
    }
    out.push_str(inner);
    for i in (0..depth).rev() {
        out.push(if array(i) { ']' } else { '}' });
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// Any form: a request or a Query error (400), never a panic, in bounded time; an
    /// accepted one is a tree no deeper than the name bound.
    #[test]
    fn query_forms_are_answered_or_refused(form in form(), in_query in any::<bool>()) {
        let (q, b) = if in_query { (Some(form.as_str()), &b""[..]) } else { (None, form.as_bytes()) };
        match timed(|| parse_request(q, b)) {
            Ok(r) => {
                prop_assert!(depth(&r.params) <= MAX_NAME_SEGMENTS);
                let m = model();
                let mut params = r.params;
                m.coerce_query("Op", &mut params);
                let _ = timed(|| m.validate("Op", &params));
            }
            Err(e) => prop_assert_eq!(e.status(), 400),
        }
    }

    /// Any nesting of JSON arrays and objects, at any depth: a value or a
    /// SerializationException; a value also goes through the validator.
    #[test]
    fn json_bodies_are_answered_or_refused(
        depth in prop_oneof![0usize..140, 0usize..50_000],
        pattern in any::<u64>(),
        width in 1usize..4,
    ) {
        let leaf = vec!["{\"Name\":\"x\"}"; width].join(",");
        let body = format!("{{\"Name\":\"x\",\"Children\":[{}]}}", nest(depth, pattern, &leaf));
        match timed(|| parse_body(body.as_bytes())) {
            Ok(v) => {
                let _ = timed(|| model().validate("Op", &v));
            }
            Err(e) => prop_assert_eq!(e.code(), "SerializationException"),
        }
    }
}

/// The depth of a JSON value, without recursion (the value may be deep).
fn depth(v: &Value) -> usize {
    let mut deepest = 0;
    let mut stack = vec![(v, 0usize)];
    while let Some((v, d)) = stack.pop() {
        deepest = deepest.max(d);
        match v {
            Value::Array(a) => stack.extend(a.iter().map(|c| (c, d + 1))),
            Value::Object(o) => stack.extend(o.values().map(|c| (c, d + 1))),
            _ => {}
        }
    }
    deepest
}
