//! Validating resolved resource properties against a compiled schema.
//!
//! Messages follow what CloudFormation prints for registry-backed types (its validator
//! reports JSON-pointer-prefixed violations such as
//! `#/Volumes/0: extraneous key [EfsVolumeConfiguration] is not permitted` and joins
//! several with spaces after `Properties validation failed for resource X with message: `).
//! Every violation is collected, not only the first.
//!
//! CloudFormation converts template scalars to the schema's primitive type before
//! validating (parameters are strings, so `!Ref Port` gives `"80"` to an integer property),
//! so this validator accepts a numeric string where an integer or number is expected, a
//! `"true"`/`"false"` string where a boolean is, and a number or boolean where a string is.

use std::fmt;
use std::sync::LazyLock;

use sagestack_engine::ProviderError;
use serde_json::{Map, Value};

use crate::schema::{Node, NodeId, ResourceSchema, types};

/// One schema violation, e.g. `#/Tags/0: required key [Key] not found`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// `#` for the properties object itself, `#/A/0/B` below it.
    pub pointer: String,
    pub message: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.pointer, self.message)
    }
}

/// The stack-event reason for a failed validation, in CloudFormation's words.
pub fn validation_message(logical_id: &str, violations: &[Violation]) -> String {
    let joined: Vec<String> = violations.iter().map(ToString::to_string).collect();
    format!(
        "Properties validation failed for resource {logical_id} with message: {}",
        joined.join(" ")
    )
}

/// The properties a resource is given: absent ones (`null`) are `{}`.
pub fn or_empty(properties: &Value) -> &Value {
    static EMPTY: LazyLock<Value> = LazyLock::new(|| Value::Object(Map::new()));
    if properties.is_null() {
        &EMPTY
    } else {
        properties
    }
}

/// The properties ([`or_empty`]) of resource `logical_id` if they satisfy `schema`, else
/// CloudFormation's validation failure naming every violation.
pub fn validated<'v>(
    schema: &ResourceSchema,
    logical_id: &str,
    properties: &'v Value,
) -> Result<&'v Value, ProviderError> {
    let props = or_empty(properties);
    let violations = validate(schema, props);
    if violations.is_empty() {
        Ok(props)
    } else {
        Err(ProviderError::InvalidRequest(validation_message(
            logical_id,
            &violations,
        )))
    }
}

/// Every violation of `properties` against `schema` (empty when valid).
pub fn validate(schema: &ResourceSchema, properties: &Value) -> Vec<Violation> {
    let mut v = Validator {
        schema,
        path: Vec::new(),
        out: Vec::new(),
        depth: 0,
        uncertain: false,
    };
    v.check(schema.root, properties);
    v.out
}

/// Guards against `$ref` cycles that consume no input (`A: {$ref: B}, B: {$ref: A}`).
const MAX_DEPTH: usize = 256;

struct Validator<'a> {
    schema: &'a ResourceSchema,
    path: Vec<String>,
    out: Vec<Violation>,
    depth: usize,
    /// Set when a check was skipped because its pattern does not compile, so the verdict on
    /// the current value is a guess (a skipped pattern counts as matching).
    uncertain: bool,
}

impl Validator<'_> {
    fn report(&mut self, message: String) {
        let mut pointer = String::from("#");
        for seg in &self.path {
            pointer.push('/');
            pointer.push_str(seg);
        }
        self.out.push(Violation { pointer, message });
    }

    /// Does `value` satisfy node `id`, and was the answer certain? (For oneOf / anyOf /
    /// allOf branches.)
    fn matches(&mut self, id: NodeId, value: &Value) -> (bool, bool) {
        let saved = std::mem::take(&mut self.out);
        let saved_uncertain = std::mem::replace(&mut self.uncertain, false);
        self.check(id, value);
        let ok = self.out.is_empty();
        let certain = !self.uncertain;
        self.out = saved;
        self.uncertain = saved_uncertain || !certain;
        (ok, certain)
    }

    fn check(&mut self, id: NodeId, value: &Value) {
        if self.depth >= MAX_DEPTH {
            return;
        }
        self.depth += 1;
        let node = self.schema.node(id);
        self.check_node(node, value);
        self.depth -= 1;
    }

    fn check_node(&mut self, node: &Node, value: &Value) {
        if node.types != 0 && !accepts(node.types, value) {
            self.report(format!(
                "expected type: {}, found: {}",
                expected_name(node.types),
                found_name(value)
            ));
            return;
        }
        if let Some(r) = node.reference {
            self.check(r, value);
        }

        if let Some(values) = &node.enum_values
            && !values
                .iter()
                .any(|e| same_scalar(e, value, node.enum_case_insensitive))
        {
            self.report(format!("{} is not a valid enum value", display(value)));
        }
        if let Some(c) = &node.constant
            && !same_scalar(c, value, false)
        {
            self.report(format!(
                "{} is not equal to the constant {}",
                display(value),
                display(c)
            ));
        }

        if let Some(text) = as_text(node.types, value) {
            self.check_string(node, &text);
        }
        if let Some(n) = as_number(node.types, value) {
            self.check_number(node, n, value);
        }
        match value {
            Value::Object(map) => self.check_object(node, map),
            Value::Array(items) => self.check_array(node, items),
            _ => {}
        }
        self.check_combinators(node, value);
    }

    /// Reports a size (`count` characters, members or items) outside the bounds
    /// `(min, max)`, in the words `below` / `above` give (the bound broken, the size).
    fn check_size(
        &mut self,
        count: usize,
        (min, max): (Option<u64>, Option<u64>),
        below: impl FnOnce(u64, u64) -> String,
        above: impl FnOnce(u64, u64) -> String,
    ) {
        let count = count as u64;
        if let Some(min) = min
            && count < min
        {
            self.report(below(min, count));
        }
        if let Some(max) = max
            && count > max
        {
            self.report(above(max, count));
        }
    }

    fn check_string(&mut self, node: &Node, text: &str) {
        self.check_size(
            text.chars().count(),
            (node.min_length, node.max_length),
            |min, len| format!("expected minLength: {min}, actual: {len}"),
            |max, len| format!("expected maxLength: {max}, actual: {len}"),
        );
        if let Some(p) = &node.pattern
            && p.regex().is_none()
        {
            self.uncertain = true;
        }
        if let Some(p) = &node.pattern
            && let Some(re) = p.regex()
            && !re.is_match(text)
        {
            self.report(format!(
                "string [{text}] does not match pattern {}",
                p.source
            ));
        }
    }

    fn check_number(&mut self, node: &Node, n: f64, value: &Value) {
        let shown = display(value);
        if let Some(min) = node.minimum
            && n < min
        {
            self.report(format!("{shown} is not greater or equal to {}", num(min)));
        }
        if let Some(max) = node.maximum
            && n > max
        {
            self.report(format!("{shown} is not less or equal to {}", num(max)));
        }
        if let Some(min) = node.exclusive_minimum
            && n <= min
        {
            self.report(format!("{shown} is not greater than {}", num(min)));
        }
        if let Some(max) = node.exclusive_maximum
            && n >= max
        {
            self.report(format!("{shown} is not less than {}", num(max)));
        }
        if let Some(m) = node.multiple_of {
            let q = n / m;
            if (q - q.round()).abs() > 1e-9 {
                self.report(format!("{shown} is not a multiple of {}", num(m)));
            }
        }
    }

    fn check_object(&mut self, node: &Node, map: &serde_json::Map<String, Value>) {
        for key in &node.required {
            if !map.contains_key(key) {
                self.report(format!("required key [{key}] not found"));
            }
        }
        if !node.additional_properties {
            for key in map.keys() {
                let known = node.property(key).is_some()
                    || node
                        .pattern_properties
                        .iter()
                        .any(|(p, _)| p.regex().is_none_or(|re| re.is_match(key)));
                if !known {
                    self.report(format!("extraneous key [{key}] is not permitted"));
                }
            }
        }
        self.check_size(
            map.len(),
            (node.min_properties, node.max_properties),
            |min, count| format!("minimum size: [{min}], found: [{count}]"),
            |max, count| format!("maximum size: [{max}], found: [{count}]"),
        );
        for (key, v) in map {
            let mut targets: Vec<NodeId> = Vec::new();
            if let Some(child) = node.property(key) {
                targets.push(child);
            }
            for (p, child) in &node.pattern_properties {
                if p.regex().is_some_and(|re| re.is_match(key)) {
                    targets.push(*child);
                }
            }
            if targets.is_empty() {
                continue;
            }
            self.path.push(escape_pointer(key));
            for t in targets {
                self.check(t, v);
            }
            self.path.pop();
        }
    }

    fn check_array(&mut self, node: &Node, items: &[Value]) {
        self.check_size(
            items.len(),
            (node.min_items, node.max_items),
            |min, count| format!("expected minimum item count: {min}, found: {count}"),
            |max, count| format!("expected maximum item count: {max}, found: {count}"),
        );
        if let Some(item) = node.items {
            for (i, v) in items.iter().enumerate() {
                self.path.push(i.to_string());
                self.check(item, v);
                self.path.pop();
            }
        }
    }

    fn check_combinators(&mut self, node: &Node, value: &Value) {
        // A branch decided by a pattern the regex crate cannot compile counts as matching;
        // when that makes a oneOf ambiguous, say nothing rather than reject valid input.
        if !node.one_of.is_empty() {
            let (mut matched, mut all_certain) = (0, true);
            for &s in &node.one_of {
                let (ok, certain) = self.matches(s, value);
                matched += usize::from(ok);
                all_certain &= certain;
            }
            if matched != 1 && (all_certain || matched == 0) {
                self.report(format!("#: {matched} subschemas matched instead of one"));
            }
        }
        if !node.any_of.is_empty() && !node.any_of.iter().any(|&s| self.matches(s, value).0) {
            self.report(format!(
                "#: no subschema matched out of the total {} subschemas",
                node.any_of.len()
            ));
        }
        if !node.all_of.is_empty() {
            let matched = node
                .all_of
                .iter()
                .filter(|&&s| self.matches(s, value).0)
                .count();
            if matched != node.all_of.len() {
                self.report(format!(
                    "#: only {matched} subschema matches out of {}",
                    node.all_of.len()
                ));
            }
        }
    }
}

/// JSON-pointer escaping of one segment (`~` -> `~0`, `/` -> `~1`).
fn escape_pointer(key: &str) -> String {
    if key.contains(['~', '/']) {
        key.replace('~', "~0").replace('/', "~1")
    } else {
        key.to_string()
    }
}

/// Whether `value` is acceptable for the type set, with CloudFormation's scalar conversions.
pub(crate) fn accepts(t: u8, value: &Value) -> bool {
    match value {
        Value::String(s) => {
            t & types::STRING != 0
                || (t & types::INTEGER != 0 && parse_integer(s).is_some())
                || (t & types::NUMBER != 0 && s.trim().parse::<f64>().is_ok())
                || (t & types::BOOLEAN != 0 && parse_bool(s).is_some())
        }
        Value::Number(n) => {
            t & (types::NUMBER | types::STRING) != 0
                || (t & types::INTEGER != 0 && n.as_f64().is_some_and(|f| f.fract() == 0.0))
        }
        Value::Bool(_) => t & (types::BOOLEAN | types::STRING) != 0,
        Value::Object(_) => t & types::OBJECT != 0,
        Value::Array(_) => t & types::ARRAY != 0,
        Value::Null => t & types::NULL != 0,
    }
}

fn parse_integer(s: &str) -> Option<i128> {
    s.trim().parse::<i128>().ok()
}

fn parse_bool(s: &str) -> Option<bool> {
    match s.to_ascii_lowercase().as_str() {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

/// The text that length and pattern checks see, when the value is (or converts to) a string.
fn as_text(t: u8, value: &Value) -> Option<String> {
    match value {
        Value::String(s) => {
            // A numeric string given to an integer/number-only property is a number.
            let numeric_only = t != 0
                && t & types::STRING == 0
                && t & (types::INTEGER | types::NUMBER | types::BOOLEAN) != 0;
            (!numeric_only).then(|| s.clone())
        }
        Value::Number(_) | Value::Bool(_) if t & types::STRING != 0 => {
            let numeric_too = t & (types::INTEGER | types::NUMBER | types::BOOLEAN) != 0;
            (!numeric_too).then(|| display(value))
        }
        _ => None,
    }
}

/// The number that minimum / maximum checks see.
fn as_number(t: u8, value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) if t & types::STRING == 0 && t & (types::INTEGER | types::NUMBER) != 0 => {
            s.trim().parse::<f64>().ok()
        }
        _ => None,
    }
}

/// Enum / const comparison on the scalar text (so `5` matches `"5"`).
fn same_scalar(expected: &Value, value: &Value, case_insensitive: bool) -> bool {
    if expected == value {
        return true;
    }
    match (expected, value) {
        (Value::Object(_) | Value::Array(_), _) | (_, Value::Object(_) | Value::Array(_)) => false,
        _ => {
            let (a, b) = (display(expected), display(value));
            if case_insensitive {
                a.eq_ignore_ascii_case(&b)
            } else {
                a == b
            }
        }
    }
}

/// A value as CloudFormation's messages show it: strings bare, others as JSON.
fn display(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `5` rather than `5.0` for integral bounds.
fn num(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        n.to_string()
    }
}

fn type_name(bit: u8) -> &'static str {
    match bit {
        types::STRING => "String",
        types::INTEGER => "Integer",
        types::NUMBER => "Number",
        types::BOOLEAN => "Boolean",
        types::OBJECT => "JSONObject",
        types::ARRAY => "JSONArray",
        _ => "Null",
    }
}

fn expected_name(t: u8) -> String {
    let names: Vec<&str> = (0..7)
        .map(|i| 1u8 << i)
        .filter(|b| t & b != 0)
        .map(type_name)
        .collect();
    if names.len() == 1 {
        names[0].to_string()
    } else {
        format!("one of [{}]", names.join(", "))
    }
}

fn found_name(value: &Value) -> &'static str {
    match value {
        Value::String(_) => "String",
        Value::Number(n) if n.is_i64() || n.is_u64() => "Integer",
        Value::Number(_) => "Number",
        Value::Bool(_) => "Boolean",
        Value::Object(_) => "JSONObject",
        Value::Array(_) => "JSONArray",
        Value::Null => "Null",
    }
}

#[cfg(test)]
mod synthesized;
#[cfg(test)]
mod tests;
