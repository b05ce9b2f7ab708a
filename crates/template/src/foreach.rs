//! `Fn::ForEach` of the `AWS::LanguageExtensions` transform.
//!
//! A key `Fn::ForEach::LoopName: [Identifier, Collection, {OutputKey: OutputValue}]` in any
//! map of `Resources`, `Conditions` or `Outputs` (including inside resource properties)
//! is replaced by one copy of the output map per collection item, with `${Identifier}` and
//! `&{Identifier}` (the item without its non-alphanumeric characters) substituted in keys
//! and strings, and `{"Ref": Identifier}` replaced by the item. Loops nest: the copies are
//! expanded again. The collection is evaluated like any value (a list, a `Ref` to a list
//! parameter, `Fn::FindInMap`, ...), so expansion needs the parameter values.
//!
//! Every copy is charged to the expansion's byte [`Budget`] before it is made: the output
//! template's size plus what the item adds at each place it is substituted. Nested loops
//! multiply, so this is what stops a small template from expanding without bound.

use crate::budget::{Budget, map_bytes};
use crate::error::{ErrorCode, Errors, TemplateError};
use crate::eval::{Evaluator, stringify};
use crate::tree::{Entry, Kind, Map, Node};

pub(crate) const PREFIX: &str = "Fn::ForEach::";

/// Expands every loop, the copies charged to `budget`. `lenient` (static validation,
/// parameters possibly unknown): a collection that cannot be evaluated yields one
/// placeholder item instead of an error.
pub(crate) fn expand_sections(
    root: &mut Node,
    ev: &Evaluator<'_>,
    budget: &Budget,
    lenient: bool,
) -> Result<(), Errors> {
    let mut errors = Errors::new();
    if let Kind::Map(m) = &mut root.kind {
        for section in ["Conditions", "Resources", "Outputs"] {
            if let Some(e) = m.get_mut(section) {
                let mut x = Expander {
                    ev,
                    budget,
                    lenient,
                };
                match x.expand(&mut e.value, 0) {
                    Err(err) => errors.push(err),
                    Ok(()) => normalize_names(&mut e.value, ev),
                }
            }
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// With the language extensions, `Ref` and the resource name of `Fn::GetAtt` may be
/// computed (typically `!Sub "Bucket${Identifier}"` inside a loop); they are resolved here,
/// once, so that the rest of the engine sees plain names.
fn normalize_names(node: &mut Node, ev: &Evaluator<'_>) {
    let pos = node.pos;
    match &mut node.kind {
        Kind::List(l) => l.iter_mut().for_each(|n| normalize_names(n, ev)),
        Kind::Map(m) => {
            if m.len() == 1 {
                if let Some(e) = m.get_mut("Ref")
                    && e.value.as_map().is_some()
                    && let Ok(name) = ev.string(&e.value, "Ref")
                {
                    e.value = Node::string(pos, name);
                }
                if let Some(e) = m.get_mut("Fn::GetAtt")
                    && let Kind::List(l) = &mut e.value.kind
                    && let Some(first) = l.first_mut()
                    && first.as_map().is_some()
                    && let Ok(name) = ev.string(first, "Fn::GetAtt resource")
                {
                    *first = Node::string(first.pos, name);
                }
            }
            m.values_mut()
                .for_each(|e| normalize_names(&mut e.value, ev));
        }
        _ => {}
    }
}

struct Expander<'e, 'a> {
    ev: &'e Evaluator<'a>,
    budget: &'e Budget,
    lenient: bool,
}

impl Expander<'_, '_> {
    fn expand(&mut self, node: &mut Node, depth: usize) -> Result<(), TemplateError> {
        if depth > 64 {
            return Err(TemplateError::at(
                ErrorCode::Limit,
                "Template format error: Fn::ForEach nested too deeply",
                node.pos,
            ));
        }
        match &mut node.kind {
            Kind::List(l) => l.iter_mut().try_for_each(|n| self.expand(n, depth + 1)),
            Kind::Map(m) => {
                if !m.keys().any(|k| k.starts_with(PREFIX)) {
                    return m
                        .values_mut()
                        .try_for_each(|e| self.expand(&mut e.value, depth + 1));
                }
                let old = std::mem::take(m);
                let mut out = Map::with_capacity(old.len());
                for (k, mut e) in old {
                    if !k.starts_with(PREFIX) {
                        self.expand(&mut e.value, depth + 1)?;
                        insert(&mut out, k, e)?;
                        continue;
                    }
                    let bad = |msg: &str| {
                        TemplateError::at(
                            ErrorCode::Intrinsic,
                            format!("Template format error: {k} {msg}"),
                            e.key_pos,
                        )
                    };
                    let Some([id, collection, template]) = e
                        .value
                        .as_list()
                        .and_then(|l| <&[Node; 3]>::try_from(l).ok())
                    else {
                        return Err(bad(
                            "must be a list of [Identifier, Collection, OutputTemplate]",
                        ));
                    };
                    let Some(id) = id.as_str() else {
                        return Err(bad("identifier must be a string"));
                    };
                    let Some(template) = template.as_map() else {
                        return Err(bad("output template must be an object"));
                    };
                    let items = match self.ev.value(collection) {
                        Ok(serde_json::Value::Array(a)) => a,
                        Ok(_) if !self.lenient => return Err(bad("collection must be a list")),
                        Err(err) if !self.lenient => return Err(err),
                        _ => vec![serde_json::Value::String("Placeholder".into())],
                    };
                    // Sized once per loop; each copy is charged before it is made.
                    let copy_bytes = map_bytes(template);
                    let uses = template
                        .iter()
                        .map(|(k, e)| uses_in_text(k, id) + uses_of(&e.value, id))
                        .sum::<usize>();
                    for item in &items {
                        let Some(item) = stringify(item) else {
                            return Err(bad("collection items must be strings"));
                        };
                        let cost = copy_bytes.saturating_add(uses.saturating_mul(item.len()));
                        self.budget.charge(cost, e.key_pos, &k)?;
                        let mut copy = Node::new(e.value.pos, Kind::Map(template.clone()));
                        substitute(&mut copy, id, &item);
                        self.expand(&mut copy, depth + 1)?;
                        if let Kind::Map(generated) = copy.kind {
                            for (gk, ge) in generated {
                                insert(&mut out, gk, ge)?;
                            }
                        }
                    }
                }
                *m = out;
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

fn insert(out: &mut Map, k: String, e: Entry) -> Result<(), TemplateError> {
    if out.contains_key(&k) {
        return Err(TemplateError::at(
            ErrorCode::Structure,
            format!("Template format error: Fn::ForEach generates the duplicate key {k}"),
            e.key_pos,
        ));
    }
    out.insert(k, e);
    Ok(())
}

/// How many times `${id}` or `&{id}` appears in `s`.
fn uses_in_text(s: &str, id: &str) -> usize {
    if !s.contains('{') {
        return 0;
    }
    s.matches(&format!("${{{id}}}")).count() + s.matches(&format!("&{{{id}}}")).count()
}

/// How many places of `node` [`substitute`] replaces with the item.
fn uses_of(node: &Node, id: &str) -> usize {
    if let Some(("Ref", arg)) = node.as_intrinsic()
        && arg.as_str() == Some(id)
    {
        return 1;
    }
    match &node.kind {
        Kind::String(s) => uses_in_text(s, id),
        Kind::List(l) => l.iter().map(|n| uses_of(n, id)).sum(),
        Kind::Map(m) => m
            .iter()
            .map(|(k, e)| uses_in_text(k, id) + uses_of(&e.value, id))
            .sum(),
        _ => 0,
    }
}

fn replace_ids(s: &str, id: &str, item: &str) -> String {
    if !s.contains('{') {
        return s.to_string();
    }
    let alnum: String = item.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
    s.replace(&format!("${{{id}}}"), item)
        .replace(&format!("&{{{id}}}"), &alnum)
}

fn substitute(node: &mut Node, id: &str, item: &str) {
    if let Some(("Ref", arg)) = node.as_intrinsic()
        && arg.as_str() == Some(id)
    {
        node.kind = Kind::String(item.to_string());
        return;
    }
    match &mut node.kind {
        Kind::String(s) => *s = replace_ids(s, id, item),
        Kind::List(l) => l.iter_mut().for_each(|n| substitute(n, id, item)),
        Kind::Map(m) => {
            let old = std::mem::take(m);
            for (k, mut e) in old {
                substitute(&mut e.value, id, item);
                m.insert(replace_ids(&k, id, item), e);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use crate::{ErrorCode, Template};

    include!("../tests/support/foreach_loops.rs");

    /// Nested loops whose resource property ends with `${L0}`.
    fn loops(levels: usize, items: usize, payload: usize) -> String {
        loops_with(levels, items, payload, "${L0}")
    }

    /// Three nested loops of 40 items over a 20 KB payload: 64,000 copies, 1.3 GB.
    #[test]
    fn nested_loops_with_a_large_payload_are_refused_before_copying() {
        let body = loops(3, 40, 20_000);
        let t = Template::parse(&body).unwrap();
        let (r, peak, took) = crate::test_alloc::measure(|| t.validate());
        let errors = r.unwrap_err();
        let e = &errors[0];
        assert_eq!(e.code, ErrorCode::Limit, "{errors:?}");
        assert!(
            e.message
                .starts_with("Template format error: Fn::ForEach::F"),
            "{}",
            e.message
        );
        assert!(e.location.is_some());
        assert!(peak < 64 << 20, "peak {peak} bytes");
        assert!(took < std::time::Duration::from_secs(1), "{took:?}");
    }

    #[test]
    fn substitution_is_counted_before_the_copy() {
        // One loop, few copies, but each copy repeats a 4 KB item 5,000 times (20 MB each).
        let item = "x".repeat(4_000);
        let refs = vec!["${X}"; 5_000].concat();
        let body = format!(
            "Transform: AWS::LanguageExtensions\nResources:\n  Fn::ForEach::L:\n    - X\n    - ['{item}']\n    - 'R': {{Type: A::B::C, Properties: {{P: '{refs}'}}}}\n"
        );
        let t = Template::parse(&body).unwrap();
        let (r, peak, _) = crate::test_alloc::measure(|| t.validate());
        assert_eq!(r.unwrap_err()[0].code, ErrorCode::Limit);
        assert!(peak < 16 << 20, "peak {peak} bytes");
    }

    #[test]
    fn loops_within_the_budget_expand() {
        let t = Template::parse(&loops(2, 10, 100)).unwrap();
        t.validate().unwrap();
    }
}
