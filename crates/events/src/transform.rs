//! What a target receives: the matched event, a constant (`Input`), a part of the event
//! (`InputPath`) or a template filled from the event (`InputTransformer`). Validated once
//! at `PutTargets` ([`TargetInput::from_target`]) and rendered per delivery
//! ([`TargetInput::render`]). Pure: no I/O.
//!
//! Rendering follows EventBridge's documented rules for templates:
//! * a placeholder outside a JSON string takes the value as JSON (a string gains quotes,
//!   an object or array is inserted as is);
//! * inside a JSON string a string value is inserted without quotes and without
//!   escaping (AWS does not escape either), and an object or array loses its internal
//!   quotes (`{key1: value1}`), so that the string stays a string;
//! * the reserved variables `aws.events.rule-arn`, `aws.events.rule-name`,
//!   `aws.events.event.ingestion-time`, `aws.events.event` (the event without `detail`)
//!   and `aws.events.event.json` (the whole event) need no path;
//! * a `<name>` that is not a variable is left as written (templates may hold `<`).
//!
//! AWS documents a variable whose path is absent from the event as "not created"; what
//! then stands in the output is not documented. sagestack writes `null` outside a string
//! and nothing inside one, so that a JSON template stays valid JSON (docs/EVENTS.md).

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::EventsError;

/// Most `InputPathsMap` entries (AWS's limit).
pub const MAX_PATHS: usize = 100;
/// Longest `InputPath` or `InputPathsMap` value.
pub const MAX_PATH_CHARS: usize = 256;
/// Longest `InputTemplate`.
pub const MAX_TEMPLATE_CHARS: usize = 8192;
/// Longest `Input`.
pub const MAX_INPUT_CHARS: usize = 8192;

/// Variables EventBridge defines itself; an `InputPathsMap` key may not take their names.
pub const RESERVED: [&str; 5] = [
    "aws.events.rule-arn",
    "aws.events.rule-name",
    "aws.events.event.ingestion-time",
    "aws.events.event",
    "aws.events.event.json",
];

/// What a target is sent.
#[derive(Debug, Clone, PartialEq)]
pub enum TargetInput {
    /// The matched event, whole (no `Input*` member given).
    MatchedEvent,
    /// `Input`: this JSON text, as given.
    Constant(String),
    /// `InputPath`: the part of the event the path selects.
    Path(JsonPath),
    /// `InputTransformer`: the template with its placeholders filled.
    Transformer {
        paths: BTreeMap<String, JsonPath>,
        template: String,
    },
}

/// Per-delivery facts the reserved variables stand for.
#[derive(Debug, Clone, Copy)]
pub struct RenderContext<'a> {
    pub rule_arn: &'a str,
    pub rule_name: &'a str,
    /// ISO-8601, when the bus accepted the event.
    pub ingestion_time: &'a str,
}

impl TargetInput {
    /// Reads `Input`, `InputPath` and `InputTransformer` from a `Target` object (API or
    /// template), with AWS's rules: at most one of them, limits, path syntax, key names.
    pub fn from_target(target: &Map<String, Value>) -> Result<TargetInput, EventsError> {
        let given = ["Input", "InputPath", "InputTransformer"]
            .into_iter()
            .filter(|k| target.get(*k).is_some_and(|v| !v.is_null()))
            .count();
        if given > 1 {
            return Err(invalid(
                "Only one of Input, InputPath, or InputTransformer must be provided.",
            ));
        }
        if let Some(input) = target.get("Input").and_then(Value::as_str) {
            if input.chars().count() > MAX_INPUT_CHARS {
                return Err(invalid(format!(
                    "Input must have length less than or equal to {MAX_INPUT_CHARS}."
                )));
            }
            if serde_json::from_str::<Value>(input).is_err() {
                return Err(invalid("Input is not valid JSON text."));
            }
            return Ok(TargetInput::Constant(input.to_owned()));
        }
        if let Some(path) = target.get("InputPath").and_then(Value::as_str) {
            return Ok(TargetInput::Path(JsonPath::parse(path, "InputPath")?));
        }
        let Some(transformer) = target.get("InputTransformer") else {
            return Ok(TargetInput::MatchedEvent);
        };
        let Some(transformer) = transformer.as_object() else {
            return Err(invalid("InputTransformer must be an object."));
        };
        let Some(template) = transformer.get("InputTemplate").and_then(Value::as_str) else {
            return Err(invalid("InputTransformer must have an InputTemplate."));
        };
        if template.is_empty() || template.chars().count() > MAX_TEMPLATE_CHARS {
            return Err(invalid(format!(
                "InputTemplate must have a length between 1 and {MAX_TEMPLATE_CHARS}."
            )));
        }
        let mut paths = BTreeMap::new();
        if let Some(map) = transformer.get("InputPathsMap") {
            let Some(map) = map.as_object() else {
                return Err(invalid("InputPathsMap must be a map of strings."));
            };
            if map.len() > MAX_PATHS {
                return Err(invalid(format!(
                    "InputPathsMap must have at most {MAX_PATHS} entries."
                )));
            }
            for (key, path) in map {
                check_key(key)?;
                let Some(path) = path.as_str() else {
                    return Err(invalid(format!(
                        "InputPathsMap value of {key} must be a string."
                    )));
                };
                paths.insert(key.clone(), JsonPath::parse(path, "InputPathsMap")?);
            }
        }
        Ok(TargetInput::Transformer {
            paths,
            template: template.to_owned(),
        })
    }

    /// The text the target receives for `event`.
    pub fn render(&self, event: &Value, ctx: &RenderContext<'_>) -> String {
        match self {
            TargetInput::MatchedEvent => event.to_string(),
            TargetInput::Constant(text) => text.clone(),
            TargetInput::Path(path) => path
                .select(event)
                .map_or_else(|| "null".to_owned(), |v| v.to_string()),
            TargetInput::Transformer { paths, template } => fill(template, |name| {
                match name {
                    "aws.events.rule-arn" => Some(Some(Value::String(ctx.rule_arn.into()))),
                    "aws.events.rule-name" => Some(Some(Value::String(ctx.rule_name.into()))),
                    "aws.events.event.ingestion-time" => {
                        Some(Some(Value::String(ctx.ingestion_time.into())))
                    }
                    "aws.events.event" => {
                        let mut without = event.clone();
                        if let Value::Object(fields) = &mut without {
                            fields.remove("detail");
                        }
                        Some(Some(without))
                    }
                    "aws.events.event.json" => Some(Some(event.clone())),
                    // A variable: `Some(value)`, `Some(None)` when its path selects nothing.
                    _ => paths
                        .get(name)
                        .map(|p| p.select(event).map(Cow::into_owned)),
                }
            }),
        }
    }
}

/// Replaces each `<name>` the lookup knows; `lookup(name)` is `None` for a name that is
/// not a variable, `Some(None)` for a variable with no value.
fn fill(template: &str, lookup: impl Fn(&str) -> Option<Option<Value>>) -> String {
    let mut out = String::with_capacity(template.len() + 64);
    let mut in_string = false;
    let mut rest = template;
    while let Some(c) = rest.chars().next() {
        if c == '<'
            && let Some(end) = rest[1..].find(['>', '<'])
            && rest.as_bytes()[1 + end] == b'>'
            && let Some(value) = lookup(&rest[1..1 + end])
        {
            insert(&mut out, value.as_ref(), in_string);
            rest = &rest[end + 2..];
            continue;
        }
        match c {
            '"' => in_string = !in_string,
            '\\' if in_string => {
                // An escaped character is copied with its backslash and never ends a string.
                if let Some(next) = rest[1..].chars().next() {
                    out.push('\\');
                    out.push(next);
                    rest = &rest[1 + next.len_utf8()..];
                    continue;
                }
            }
            _ => {}
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

fn insert(out: &mut String, value: Option<&Value>, in_string: bool) {
    match (value, in_string) {
        (None, true) => {}
        (None, false) => out.push_str("null"),
        (Some(Value::String(s)), true) => out.push_str(s),
        (Some(v @ (Value::Object(_) | Value::Array(_))), true) => {
            out.extend(v.to_string().chars().filter(|c| *c != '"'))
        }
        (Some(v), _) => out.push_str(&v.to_string()),
    }
}

fn check_key(key: &str) -> Result<(), EventsError> {
    let well_formed = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !well_formed {
        return Err(invalid(format!(
            "InputPathsMap key {key} is not valid: it must match [a-zA-Z0-9_-]+."
        )));
    }
    if key.to_ascii_lowercase().starts_with("aws.") || RESERVED.contains(&key) {
        return Err(invalid(format!(
            "InputPathsMap key {key} is reserved: keys cannot start with \"AWS.\"."
        )));
    }
    Ok(())
}

fn invalid(message: impl Into<String>) -> EventsError {
    EventsError::Validation(message.into())
}

/// The JSON path subset EventBridge evaluates: `$`, then `.name` steps (names may hold
/// dashes, underscores, slashes and other characters but not `.` or `[`), `[n]` array
/// indices, and `.*` / `[*]` wildcards (every child, as an array).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonPath {
    steps: Vec<Step>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Field(String),
    Index(usize),
    All,
}

impl JsonPath {
    /// `member` names the parameter in error messages.
    pub fn parse(text: &str, member: &str) -> Result<JsonPath, EventsError> {
        let bad = || invalid(format!("{member} {text} is not a valid JSON path."));
        if text.is_empty() || text.chars().count() > MAX_PATH_CHARS {
            return Err(invalid(format!(
                "{member} must have a length between 1 and {MAX_PATH_CHARS}."
            )));
        }
        let mut rest = text.strip_prefix('$').ok_or_else(bad)?;
        let mut steps = Vec::new();
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix('.') {
                let end = after.find(['.', '[']).unwrap_or(after.len());
                let name = &after[..end];
                if name.is_empty() {
                    return Err(bad());
                }
                steps.push(if name == "*" {
                    Step::All
                } else {
                    Step::Field(name.to_owned())
                });
                rest = &after[end..];
            } else if let Some(after) = rest.strip_prefix('[') {
                let end = after.find(']').ok_or_else(bad)?;
                let inside = &after[..end];
                steps.push(match inside {
                    "*" => Step::All,
                    n => Step::Index(n.parse().map_err(|_| bad())?),
                });
                rest = &after[end + 1..];
            } else {
                return Err(bad());
            }
        }
        Ok(JsonPath { steps })
    }

    /// The value the path selects, if any; a wildcard selects every child that the rest
    /// of the path selects something in, as an array.
    pub fn select<'a>(&self, event: &'a Value) -> Option<Cow<'a, Value>> {
        walk(&self.steps, event)
    }
}

fn walk<'a>(steps: &[Step], at: &'a Value) -> Option<Cow<'a, Value>> {
    match steps.split_first() {
        None => Some(Cow::Borrowed(at)),
        Some((Step::Field(name), rest)) => walk(rest, at.as_object()?.get(name)?),
        Some((Step::Index(i), rest)) => walk(rest, at.as_array()?.get(*i)?),
        Some((Step::All, rest)) => {
            let children: Vec<&Value> = match at {
                Value::Object(fields) => fields.values().collect(),
                Value::Array(items) => items.iter().collect(),
                _ => return None,
            };
            let picked = children
                .into_iter()
                .filter_map(|child| walk(rest, child))
                .map(Cow::into_owned)
                .collect();
            Some(Cow::Owned(Value::Array(picked)))
        }
    }
}

#[cfg(test)]
mod tests;
