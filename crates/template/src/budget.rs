//! The byte budget for expanded values: what keeps a small template from growing into a
//! huge one while it is processed.
//!
//! A template can name one value many times: YAML aliases repeat an anchored node,
//! `Fn::ForEach` copies its output template once per collection item, and a `Fn::Sub`
//! variable is pasted at every `${Var}`. Nested, each multiplies the last, so counting
//! *nodes* is not enough (one alias of a 500 KB scalar is one node). Every stage that
//! repeats values therefore charges the size they would have as JSON text (what AWS's
//! processed template measures) to a [`Budget`] *before* it builds them, and refuses with
//! a located `Template format error` once the budget is spent:
//! - YAML alias expansion ([`crate::yaml`]), against the limit in [`Limits`](crate::Limits);
//! - `Fn::ForEach` expansion ([`crate::foreach`]), against what the parsed template left;
//! - intrinsic evaluation ([`crate::eval`]), one budget per evaluation (one resource's
//!   properties, the outputs, a condition set).
//!
//! [`check_sub_expansion`] is the static half, run by validation: a lower bound of every
//! `Fn::Sub`'s result, so that a chain of substitutions that can only blow the budget is
//! refused by `ValidateTemplate` and `CreateStack` instead of when its resource is created.

use std::cell::Cell;
use std::collections::HashMap;

use serde_json::Value;

use crate::error::{ErrorCode, TemplateError};
use crate::eval::{SubPart, sub_parts};
use crate::tree::{Kind, Map, Node, Pos};

/// Most bytes (as JSON text) a template may expand to, and one evaluation may produce.
///
/// AWS limits a processed template to the size of its source (51,200 bytes inline, 1 MB
/// from S3) and "allows some buffer" while transforms run (CloudFormation user guide,
/// "Troubleshoot the processed template"; beyond it: "Transformation data limit
/// exceeded"). We keep the S3 limit with a 16x buffer: room for any legitimate use of
/// aliases, loops and substitutions, while a refused bomb stays a few tens of MB.
pub const MAX_EXPANDED_BYTES: usize = 16 * 1_048_576;

/// Bytes left to spend. Shared by reference (`Cell`): evaluation runs through `&self`.
#[derive(Debug)]
pub(crate) struct Budget {
    left: Cell<usize>,
    limit: usize,
}

impl Budget {
    pub(crate) fn new(limit: usize) -> Self {
        Budget {
            left: Cell::new(limit),
            limit,
        }
    }

    /// Bytes spent so far.
    pub(crate) fn spent(&self) -> usize {
        self.limit - self.left.get()
    }

    /// Spends `bytes` for `what` at `pos`, or refuses (and stays spent: a refused template
    /// gets no further).
    pub(crate) fn charge(&self, bytes: usize, pos: Pos, what: &str) -> Result<(), TemplateError> {
        match self.left.get().checked_sub(bytes) {
            Some(left) => {
                self.left.set(left);
                Ok(())
            }
            None => {
                self.left.set(0);
                Err(over_budget(self.limit, pos, what))
            }
        }
    }
}

/// The refusal every stage gives.
pub(crate) fn over_budget(limit: usize, pos: Pos, what: &str) -> TemplateError {
    TemplateError::at(
        ErrorCode::Limit,
        format!(
            "Template format error: {what} at line {}, column {} expands the template beyond {limit} bytes",
            pos.line, pos.col
        ),
        pos,
    )
}

/// Size of a node as compact JSON text (close enough: escapes are not counted).
/// Recursion is bounded by the parsers' depth limit.
pub(crate) fn node_bytes(node: &Node) -> usize {
    match &node.kind {
        Kind::Null => 4,
        Kind::Bool(b) => 4 + usize::from(!b),
        Kind::Number(n) => n.len(),
        Kind::String(s) => s.len() + 2,
        Kind::List(l) => l.iter().fold(1 + l.len().max(1), |acc, n| {
            acc.saturating_add(node_bytes(n))
        }),
        Kind::Map(m) => map_bytes(m),
    }
}

/// [`node_bytes`] of a map.
pub(crate) fn map_bytes(m: &Map) -> usize {
    m.iter().fold(1 + m.len().max(1), |acc, (k, e)| {
        acc.saturating_add(k.len() + 3)
            .saturating_add(node_bytes(&e.value))
    })
}

/// Size of a JSON value as compact text (escapes not counted).
pub(crate) fn value_bytes(v: &Value) -> usize {
    match v {
        Value::Null => 4,
        Value::Bool(b) => 4 + usize::from(!b),
        Value::Number(n) => n.to_string().len(),
        Value::String(s) => s.len() + 2,
        Value::Array(a) => a.iter().fold(1 + a.len().max(1), |acc, x| {
            acc.saturating_add(value_bytes(x))
        }),
        Value::Object(o) => o.iter().fold(1 + o.len().max(1), |acc, (k, x)| {
            acc.saturating_add(k.len() + 3)
                .saturating_add(value_bytes(x))
        }),
    }
}

/// Validation's check of `Fn::Sub` chains: the first `Fn::Sub` whose result is certainly
/// larger than `limit`, as the error evaluation would give.
///
/// The bound is a lower one (a reference to a parameter, resource or other function counts
/// nothing), so no template that could evaluate within the budget is refused. Each
/// variable of a `Fn::Sub` is sized once however often it is referenced, so the check is
/// linear in the template even when the value it bounds is exponential.
pub(crate) fn check_sub_expansion(root: &Node, limit: usize) -> Option<TemplateError> {
    let mut found = None;
    lower_bound(root, limit, &mut found);
    found
}

fn lower_bound(node: &Node, limit: usize, found: &mut Option<TemplateError>) -> usize {
    if found.is_some() {
        return 0;
    }
    match (&node.kind, node.as_intrinsic()) {
        (_, Some(("Fn::Sub", arg))) => {
            let (text, vars) = match &arg.kind {
                Kind::String(t) => (t.as_str(), None),
                Kind::List(l) if l.len() == 2 => match (l[0].as_str(), l[1].as_map()) {
                    (Some(t), vars) => (t, vars),
                    _ => return 0,
                },
                _ => return 0,
            };
            let mut sized: HashMap<String, usize> = HashMap::new();
            let mut total = 0usize;
            for part in sub_parts(text) {
                let n = match part {
                    SubPart::Literal(l) => l.len(),
                    SubPart::Var(v) => match vars.and_then(|m| m.get(&v)) {
                        Some(e) => match sized.get(&v) {
                            Some(n) => *n,
                            None => {
                                let n = lower_bound(&e.value, limit, found);
                                sized.insert(v, n);
                                n
                            }
                        },
                        None => 0,
                    },
                };
                total = total.saturating_add(n);
            }
            if total > limit && found.is_none() {
                *found = Some(over_budget(limit, node.pos, "Fn::Sub"));
            }
            total
        }
        (_, Some(("Fn::Join", arg))) => match arg.as_list() {
            Some([delim, items]) => {
                let d = delim.as_str().map_or(0, str::len);
                match items.as_list() {
                    Some(items) => items
                        .iter()
                        .fold(d.saturating_mul(items.len().saturating_sub(1)), |acc, n| {
                            acc.saturating_add(lower_bound(n, limit, found))
                        }),
                    None => lower_bound(items, limit, found),
                }
            }
            _ => 0,
        },
        (_, Some((_, arg))) => {
            // Other functions may shrink their arguments, so they bound nothing; their
            // arguments are still checked.
            lower_bound(arg, limit, found);
            0
        }
        (Kind::String(s), None) => s.len(),
        (Kind::Number(n), None) => n.len(),
        (Kind::List(l), None) => l.iter().fold(0usize, |acc, n| {
            acc.saturating_add(lower_bound(n, limit, found))
        }),
        (Kind::Map(m), None) => m.values().fold(0usize, |acc, e| {
            acc.saturating_add(lower_bound(&e.value, limit, found))
        }),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::{Limits, parse_tree};

    fn tree(body: &str) -> Node {
        parse_tree(body, &Limits::default()).unwrap().0
    }

    #[test]
    fn sizes_are_compact_json_lengths() {
        let n = tree(r#"{"a": [1, "xy", true, null], "b": {}}"#);
        let compact = serde_json::to_string(&n.to_json()).unwrap();
        assert_eq!(node_bytes(&n), compact.len());
        assert_eq!(value_bytes(&n.to_json()), compact.len());
    }

    #[test]
    fn budget_refuses_once_spent_and_stays_spent() {
        let b = Budget::new(10);
        b.charge(6, Pos::new(1, 1), "x").unwrap();
        let e = b.charge(5, Pos::new(2, 3), "YAML alias").unwrap_err();
        assert_eq!(e.code, ErrorCode::Limit);
        assert_eq!(e.location, Some(Pos::new(2, 3)));
        assert!(
            e.message
                .starts_with("Template format error: YAML alias at line 2, column 3")
        );
        assert!(b.charge(1, Pos::default(), "x").is_err());
    }

    #[test]
    fn sub_chains_are_bounded_without_evaluating() {
        // Level k references level k-1 four times: 4^12 copies of "abcd".
        let mut inner = "'abcd'".to_string();
        for _ in 0..12 {
            inner = format!("!Sub ['${{A}}${{A}}${{A}}${{A}}', {{A: {inner}}}]");
        }
        let body = format!("Outputs:\n  O:\n    Value: {inner}\n");
        let e = check_sub_expansion(&tree(&body), MAX_EXPANDED_BYTES).unwrap();
        assert_eq!(e.code, ErrorCode::Limit);
        assert_eq!(e.location, Some(Pos::new(3, 12)));
        // A small chain is within the budget.
        let ok = "Outputs:\n  O:\n    Value: !Sub ['${A}${A}', {A: !Sub ['${B}-${B}', {B: x}]}]\n";
        assert!(check_sub_expansion(&tree(ok), MAX_EXPANDED_BYTES).is_none());
        // References the template cannot size count nothing.
        let refs = "Outputs:\n  O:\n    Value: !Sub '${AWS::Region}${P}${R.Arn}'\n";
        assert!(check_sub_expansion(&tree(refs), 1).is_none());
    }
}
