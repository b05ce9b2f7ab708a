//! `Fn::Sub`: the string split into literals and `${...}` variables, and its evaluation.
//!
//! A variable of the second form's map is evaluated once, at its first reference, and its
//! text reused at every later one. Within one evaluation nothing a variable reads can
//! change, so this is only faster; but it is what keeps a variable that is itself a
//! `Fn::Sub` (nested twelve deep, referenced four times at each level) from being
//! re-evaluated 4^12 times. The result is charged to the evaluation's byte budget piece by
//! piece, before it is appended.

use std::collections::HashMap;

use serde_json::Value;

use super::{Evaluator, R, err, stringify};
use crate::tree::{Kind, Map, Node, Pos};

/// A piece of an `Fn::Sub` string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubPart {
    Literal(String),
    /// `${Name}` or `${Resource.Attribute}`.
    Var(String),
}

/// Splits an `Fn::Sub` string into literals and variables; `${!X}` is the literal `${X}`.
pub fn sub_parts(s: &str) -> Vec<SubPart> {
    let mut parts = Vec::new();
    let mut lit = String::new();
    let mut rest = s;
    while let Some(i) = rest.find("${") {
        lit.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        match after.find('}') {
            Some(j) => {
                let inner = &after[..j];
                if let Some(l) = inner.strip_prefix('!') {
                    lit.push_str("${");
                    lit.push_str(l);
                    lit.push('}');
                } else {
                    if !lit.is_empty() {
                        parts.push(SubPart::Literal(std::mem::take(&mut lit)));
                    }
                    parts.push(SubPart::Var(inner.trim().to_string()));
                }
                rest = &after[j + 1..];
            }
            None => {
                lit.push_str(&rest[i..]);
                rest = "";
            }
        }
    }
    lit.push_str(rest);
    if !lit.is_empty() {
        parts.push(SubPart::Literal(lit));
    }
    parts
}

impl Evaluator<'_> {
    pub(super) fn sub(&self, arg: &Node, pos: Pos) -> R<Option<Value>> {
        let (text, vars) = match &arg.kind {
            Kind::String(t) => (t.as_str(), None),
            _ => {
                let l = self.args(arg, "Fn::Sub", 2, 2, pos)?;
                let t = l[0].as_str().ok_or_else(|| {
                    err(l[0].pos, "Template error: Fn::Sub string must be a string")
                })?;
                let vars = l[1].as_map().ok_or_else(|| {
                    err(
                        l[1].pos,
                        "Template error: Fn::Sub variables must be an object",
                    )
                })?;
                (t, Some(vars))
            }
        };
        let mut texts: HashMap<String, String> = HashMap::new();
        let mut out = String::new();
        for part in sub_parts(text) {
            let piece = match part {
                SubPart::Literal(l) => {
                    self.budget.charge(l.len(), pos, "Fn::Sub")?;
                    out.push_str(&l);
                    continue;
                }
                SubPart::Var(v) => {
                    if !texts.contains_key(&v) {
                        let t = self.sub_variable(&v, vars, pos)?;
                        texts.insert(v.clone(), t);
                    }
                    &texts[&v]
                }
            };
            self.budget.charge(piece.len(), pos, "Fn::Sub")?;
            out.push_str(piece);
        }
        Ok(Some(Value::String(out)))
    }

    /// The text of `${v}`: a variable of the map, a resource attribute, or a `Ref`.
    fn sub_variable(&self, v: &str, vars: Option<&Map>, pos: Pos) -> R<String> {
        let value = if let Some(e) = vars.and_then(|m| m.get(v)) {
            self.value(&e.value)?
        } else if let Some((r, a)) = v.split_once('.').filter(|_| !v.starts_with("AWS::")) {
            self.get_att(r, a, pos)?
        } else {
            self.reference(v, pos)?
                .ok_or_else(|| err(pos, "AWS::NoValue cannot be used in Fn::Sub"))?
        };
        match &value {
            Value::Array(items) => Ok(items
                .iter()
                .filter_map(stringify)
                .collect::<Vec<_>>()
                .join(",")),
            other => stringify(other).ok_or_else(|| {
                err(
                    pos,
                    format!("Template error: variable {v} in Fn::Sub must be a string"),
                )
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::env::{EmptyEnvironment, StackContext};
    use crate::params::BoundParameters;
    use crate::parse::{Limits, parse_tree};
    use crate::{ErrorCode, MAX_EXPANDED_BYTES, Template};

    /// `!Sub` nested `levels` deep, each level naming the one inside `refs` times.
    fn chain(levels: usize, refs: usize) -> String {
        let mut inner = format!("'{}'", "leaf-".repeat(20));
        for _ in 0..levels {
            inner = format!("!Sub ['{}', {{A: {inner}}}]", "${A}".repeat(refs));
        }
        inner
    }

    fn evaluate(expr: &str) -> (R<Option<Value>>, usize, Duration) {
        let node = parse_tree(&format!("V: {expr}\n"), &Limits::default())
            .unwrap()
            .0;
        let (params, ctx) = (BoundParameters::default(), StackContext::example());
        let ev = Evaluator::new(&params, &ctx, &EmptyEnvironment, MAX_EXPANDED_BYTES);
        crate::test_alloc::measure(|| ev.eval(node.get("V").unwrap()))
    }

    /// The chains: 12 levels of 4 and of 10 references (before: +3.5 GiB and more).
    #[test]
    fn variable_chains_are_refused_quickly_when_evaluated() {
        for refs in [4, 10] {
            let (r, peak, took) = evaluate(&chain(12, refs));
            let e = r.unwrap_err();
            assert_eq!(e.code, ErrorCode::Limit, "{}", e.message);
            assert!(
                e.message
                    .starts_with("Template format error: Fn::Sub at line 1"),
                "{}",
                e.message
            );
            assert!(peak < 64 << 20, "peak {peak} bytes");
            assert!(took < Duration::from_secs(1), "{took:?}");
        }
    }

    #[test]
    fn variable_chains_are_refused_at_validation() {
        for refs in [4, 10] {
            let body = format!(
                "Resources:\n  R:\n    Type: A::B::C\n    Properties:\n      P: {}\n",
                chain(12, refs)
            );
            let t = Template::parse(&body).unwrap();
            let (r, _, took) = crate::test_alloc::measure(|| t.validate());
            let errors = r.unwrap_err();
            assert_eq!(errors.len(), 1, "{errors:?}");
            assert_eq!(errors[0].code, ErrorCode::Limit);
            assert_eq!(errors[0].location.map(|p| p.line), Some(5));
            assert!(took < Duration::from_secs(1), "{took:?}");
            let bound = t.bind(
                &BTreeMap::new(),
                &StackContext::example(),
                Arc::new(EmptyEnvironment),
            );
            assert_eq!(bound.unwrap_err()[0].code, ErrorCode::Limit);
        }
    }

    #[test]
    fn a_variable_is_evaluated_once_and_reused() {
        let (r, _, _) = evaluate("!Sub ['${A}-${A}-${B}', {A: !Sub ['${B}${B}', {B: x}], B: y}]");
        assert_eq!(r.unwrap(), Some(Value::String("xx-xx-y".into())));
        // Four levels of four references: 4^4 copies, all the same text.
        let (r, _, _) = evaluate(&chain(4, 4));
        assert_eq!(r.unwrap(), Some(Value::String("leaf-".repeat(20 * 256))));
    }
}
