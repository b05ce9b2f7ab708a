//! `Fn::ForEach` of the `AWS::LanguageExtensions` transform.
//!
//! A key `Fn::ForEach::LoopName: [Identifier, Collection, {OutputKey: OutputValue}]` in any
//! map of `Resources`, `Conditions` or `Outputs` (including inside resource properties)
//! is replaced by one copy of the output map per collection item, with `${Identifier}` and
//! `&{Identifier}` (the item without its non-alphanumeric characters) substituted in keys
//! and strings, and `{"Ref": Identifier}` replaced by the item. Loops nest: the copies are
//! expanded again. The collection is evaluated like any value (a list, a `Ref` to a list
//! parameter, `Fn::FindInMap`, ...), so expansion needs the parameter values.

use crate::error::{ErrorCode, Errors, TemplateError};
use crate::eval::{Evaluator, stringify};
use crate::tree::{Entry, Kind, Map, Node};

/// Most values a whole expansion may add, so nested loops cannot exhaust memory.
const MAX_EXPANDED_NODES: usize = 1_000_000;

pub(crate) const PREFIX: &str = "Fn::ForEach::";

/// Expands every loop. `lenient` (static validation, parameters possibly unknown): a
/// collection that cannot be evaluated yields one placeholder item instead of an error.
pub(crate) fn expand_sections(
    root: &mut Node,
    ev: &Evaluator<'_>,
    lenient: bool,
) -> Result<(), Errors> {
    let mut errors = Errors::new();
    let mut budget = MAX_EXPANDED_NODES;
    if let Kind::Map(m) = &mut root.kind {
        for section in ["Conditions", "Resources", "Outputs"] {
            if let Some(e) = m.get_mut(section) {
                let mut x = Expander {
                    ev,
                    budget: &mut budget,
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
    budget: &'e mut usize,
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
                    for item in &items {
                        let Some(item) = stringify(item) else {
                            return Err(bad("collection items must be strings"));
                        };
                        let mut copy = Node::new(e.value.pos, Kind::Map(template.clone()));
                        substitute(&mut copy, id, &item);
                        let size = copy.size();
                        if size > *self.budget {
                            return Err(TemplateError::at(
                                ErrorCode::Limit,
                                "Template format error: Fn::ForEach expands to too many values",
                                e.key_pos,
                            ));
                        }
                        *self.budget -= size;
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
