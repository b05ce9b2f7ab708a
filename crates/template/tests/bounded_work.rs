//! Property tests of bounded work: generated deep, wide and aliased inputs for the JSON
//! parser, the YAML parser and template evaluation. Each case must answer (a value or a
//! located error, never a panic or an abort) within a time bound, on a thread with the
//! stack the server gives template work ([`MIN_STACK_BYTES`]), and anything it accepts
//! must be within the byte budget.
//!
//! The seed and the number of cases are fixed so the suite takes a few seconds and a
//! failure reproduces.

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::test_runner::RngSeed;
use sagestack_template::*;
use support::*;

/// The stack the server's template jobs run with.
const STACK: usize = MIN_STACK_BYTES;
/// Per case, in a debug build, on a shared two-core machine.
const TIME: Duration = Duration::from_secs(3);

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        rng_seed: RngSeed::Fixed(0x5a6e_57ac),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Runs `f` on a 2 MiB thread and checks the time it took.
fn bounded<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let start = Instant::now();
    let out = std::thread::Builder::new()
        .stack_size(STACK)
        .spawn(f)
        .unwrap()
        .join()
        .unwrap_or_else(|_| panic!("{what}: panicked"));
    assert!(start.elapsed() < TIME, "{what}: took {:?}", start.elapsed());
    out
}

/// Every stage a server runs on a body, each result checked against the budget.
fn run_all(body: String) {
    bounded("template", move || {
        let t = match Template::parse(&body) {
            Ok(t) => t,
            Err(e) => {
                assert!(e.location.is_some() || e.code == ErrorCode::Limit, "{e:?}");
                return;
            }
        };
        let json = serde_json::to_string(&t.root().to_json()).unwrap();
        assert!(json.len() <= MAX_EXPANDED_BYTES + 1024, "{}", json.len());
        let _ = t.validate();
        let params = synthesise_all(&t);
        if let Ok(b) = t.bind(&params, &StackContext::example(), Arc::new(FakeEnv)) {
            for r in b.resources() {
                if let Ok(v) = b.resolve_properties(&r.logical_id, &FakeLookup) {
                    let n = serde_json::to_string(&v).unwrap().len();
                    assert!(n <= MAX_EXPANDED_BYTES, "{n}");
                }
            }
            let _ = b.resolve_outputs(&FakeLookup);
        }
        let _ = t.bind(
            &BTreeMap::new(),
            &StackContext::example(),
            Arc::new(EmptyEnvironment),
        );
    });
}

/// `depth` levels of lists and maps (chosen by `shape`'s bits), `width` members each
/// level, around a `leaf` of `leaf_len` bytes.
fn nested_json(depth: usize, width: usize, shape: u64, leaf_len: usize) -> String {
    let mut v = format!("\"{}\"", "x".repeat(leaf_len));
    for d in 0..depth {
        let siblings = vec!["0"; width.saturating_sub(1)].join(",");
        let sep = if siblings.is_empty() { "" } else { "," };
        v = if shape >> (d % 64) & 1 == 1 {
            format!("[{v}{sep}{siblings}]")
        } else {
            format!("{{\"k\":{v}{sep}{}}}", {
                (1..width)
                    .map(|i| format!("\"k{i}\":0"))
                    .collect::<Vec<_>>()
                    .join(",")
            })
        };
    }
    v
}

/// A YAML anchor chain: `levels` anchors, each a list of `fanout` aliases of the one
/// before, the first a scalar of `scalar` bytes.
fn alias_chain(levels: usize, fanout: usize, scalar: usize) -> String {
    let mut s = format!("Metadata:\n  a0: &a0 '{}'\n", "s".repeat(scalar));
    for l in 1..=levels {
        let refs = vec![format!("*a{}", l - 1); fanout].join(", ");
        s.push_str(&format!("  a{l}: &a{l} [{refs}]\n"));
    }
    s
}

/// `Fn::Sub` nested `levels` deep, each naming the level inside `refs` times.
fn sub_chain(levels: usize, refs: usize, leaf: usize) -> String {
    let mut inner = format!("'{}'", "l".repeat(leaf));
    for _ in 0..levels {
        inner = format!("!Sub ['{}', {{A: {inner}}}]", "${A}".repeat(refs));
    }
    format!(
        "Resources:\n  R:\n    Type: A::B::C\n    Properties:\n      P: {inner}\nOutputs:\n  O: {{Value: {inner}}}\n"
    )
}

/// Conditions naming conditions, each wrapped in `nots` `Fn::Not`s.
fn condition_chain(conditions: usize, nots: usize) -> String {
    let mut s = String::from("Conditions:\n");
    for i in 0..conditions {
        let inner = format!("{{Condition: C{}}}", i + 1);
        let wrapped = (0..nots).fold(inner, |acc, _| format!("{{'Fn::Not': [{acc}]}}"));
        s.push_str(&format!("  C{i}: {wrapped}\n"));
    }
    s.push_str(&format!("  C{conditions}: !Equals [a, a]\n"));
    s.push_str("Resources:\n  R: {Type: A::B::C, Condition: C0}\n");
    s
}

include!("support/foreach_loops.rs");

/// Nested `Fn::ForEach` loops of `items` items over a `payload`-byte string.
fn loops(levels: usize, items: usize, payload: usize) -> String {
    loops_with(levels, items, payload, "")
}

proptest! {
    #![proptest_config(config(24))]

    #[test]
    fn json_of_any_depth_and_width_is_bounded(
        depth in 1usize..400,
        width in 1usize..400,
        shape in any::<u64>(),
        leaf in 0usize..20_000,
    ) {
        let body = nested_json(depth, width, shape, leaf);
        let len = body.len();
        let r = bounded("json", move || {
            parse_tree(&body, &Limits { max_bytes: len, ..Limits::default() }).map(|_| ())
        });
        if depth > 128 {
            prop_assert_eq!(r.unwrap_err().code, ErrorCode::Limit);
        }
    }

    #[test]
    fn yaml_of_any_depth_is_bounded(depth in 1usize..400, flow in any::<bool>()) {
        let body = if flow {
            format!("a: {}x{}\n", "[".repeat(depth), "]".repeat(depth))
        } else {
            (0..depth).map(|i| format!("{}k{i}:\n", " ".repeat(i))).collect()
        };
        let r = bounded("yaml depth", move || parse_tree(&body, &Limits::default()).map(|_| ()));
        if depth > 130 {
            prop_assert_eq!(r.unwrap_err().code, ErrorCode::Limit);
        }
    }

    #[test]
    fn yaml_aliases_are_bounded(levels in 1usize..24, fanout in 1usize..24, scalar in 1usize..200_000) {
        let body = alias_chain(levels, fanout, scalar);
        // The expansion's size: the scalar repeated fanout^levels times.
        let copies = (fanout as f64).powi(levels as i32);
        let expanded = copies * (scalar as f64 + 3.0);
        let r = bounded("yaml aliases", move || parse_tree(&body, &Limits::default()).map(|_| ()));
        match r {
            Ok(()) => prop_assert!(expanded <= 2.0 * MAX_EXPANDED_BYTES as f64, "{expanded}"),
            Err(e) => {
                prop_assert_eq!(e.code, ErrorCode::Limit);
                prop_assert!(e.location.is_some());
            }
        }
    }

    #[test]
    fn sub_chains_are_bounded(levels in 1usize..16, refs in 1usize..12, leaf in 1usize..2_000) {
        let body = sub_chain(levels, refs, leaf);
        let expanded = (refs as f64).powi(levels as i32) * leaf as f64;
        let refused = bounded("sub", move || Template::parse(&body).unwrap().validate().is_err());
        prop_assert_eq!(refused, expanded > MAX_EXPANDED_BYTES as f64, "{}", expanded);
        run_all(sub_chain(levels, refs, leaf));
    }

    #[test]
    fn condition_chains_are_bounded(conditions in 1usize..70, nots in 0usize..64) {
        run_all(condition_chain(conditions, nots));
    }

    #[test]
    fn nested_loops_are_bounded(levels in 1usize..5, items in 1usize..40, payload in 0usize..30_000) {
        run_all(loops(levels, items, payload));
    }
}

#[test]
fn evaluation_deeper_than_the_limit_is_refused_not_overflowed() {
    // 30 conditions, each 60 `Fn::Not`s around the next: 1,800 nested evaluations.
    let body = condition_chain(30, 60);
    let errors = bounded("depth", move || {
        Template::parse(&body)
            .unwrap()
            .bind(
                &BTreeMap::new(),
                &StackContext::example(),
                Arc::new(EmptyEnvironment),
            )
            .unwrap_err()
    });
    assert!(
        errors.iter().any(|e| e.code == ErrorCode::Limit
            && e.message
                .contains(&format!("deeper than {MAX_EVAL_DEPTH} levels"))
            && e.location.is_some()),
        "{errors:?}"
    );
}
