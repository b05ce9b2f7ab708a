//! Input validation driven by a service's botocore model, with AWS's wording, shared by
//! every service (SageMaker, SSM, CloudFormation...).
//!
//! A model (each service embeds a compact copy of the botocore shapes it serves)
//! describes every input shape: structures with required members, lists, maps, strings
//! with length/pattern/enum, integers with ranges. [`Model::validate`] walks an input
//! document along its shape and collects every violated constraint, the way AWS reports
//! them:
//!
//! ```text
//! 2 validation errors detected: Value null at 'projectName' failed to satisfy
//! constraint: Member must not be null; Value '...' at 'tags.1.member.key' ...
//! ```
//!
//! A JSON value of the wrong type is not a constraint violation but a
//! deserialization failure (`SerializationException`), as in AWS.
//!
//! Query-protocol services (CloudFormation) receive every leaf as a string and lists
//! as `member.N` trees ([`crate::query`]); [`Model::coerce_query`] first gives those
//! values the types their shapes declare, then the same validation applies.

use std::collections::HashMap;
use std::fmt::Write as _;

use regex::Regex;
use serde::Deserialize;
use serde_json::{Map, Value};

#[derive(Deserialize)]
struct RawModel {
    operations: HashMap<String, RawOperation>,
    shapes: HashMap<String, RawShape>,
}

#[derive(Deserialize)]
struct RawOperation {
    input: Option<String>,
}

#[derive(Deserialize)]
struct RawShape {
    #[serde(rename = "type")]
    kind: String,
    min: Option<f64>,
    max: Option<f64>,
    pattern: Option<String>,
    regex: Option<String>,
    #[serde(rename = "enum")]
    enum_values: Option<Vec<String>>,
    #[serde(default)]
    members: Members,
    #[serde(default)]
    required: Vec<String>,
    member: Option<String>,
    key: Option<String>,
    value: Option<String>,
}

/// Structure members as `[[name, shape], ...]` (the compact form) or `{name: shape}`
/// (the botocore form), in model order either way.
#[derive(Deserialize, Default)]
#[serde(untagged)]
enum Members {
    #[default]
    None,
    List(Vec<(String, String)>),
    Map(Map<String, Value>),
}

impl Members {
    fn pairs(&self, shape: &str) -> Result<Vec<(String, String)>, String> {
        match self {
            Members::None => Ok(Vec::new()),
            Members::List(l) => Ok(l.clone()),
            Members::Map(m) => m
                .iter()
                .map(|(k, v)| match v {
                    Value::String(t) => Ok((k.clone(), t.clone())),
                    // botocore's own form: {"shape": "..."}.
                    Value::Object(o) => o
                        .get("shape")
                        .and_then(Value::as_str)
                        .map(|t| (k.clone(), t.to_owned()))
                        .ok_or(format!("{shape}.{k}: no shape")),
                    _ => Err(format!("{shape}.{k}: no shape")),
                })
                .collect(),
        }
    }
}

#[derive(Debug)]
enum Kind {
    Structure {
        members: Vec<(String, String)>,
        required: Vec<String>,
    },
    List(String),
    Map(String, String),
    String,
    Integer,
    Float,
    Boolean,
    Timestamp,
    Blob,
}

#[derive(Debug)]
struct Shape {
    kind: Kind,
    min: Option<f64>,
    max: Option<f64>,
    /// The pattern as the model spells it (for messages) and its compiled form.
    pattern: Option<(String, Regex)>,
    enum_values: Option<Vec<String>>,
}

/// The operations and shapes of a service model.
#[derive(Debug)]
pub struct Model {
    inputs: HashMap<String, Option<String>>,
    shapes: HashMap<String, Shape>,
    /// Print patterns as the model spells them; otherwise with a leading `^` when they
    /// lack one (SageMaker's messages show it, CloudFormation's do not).
    verbatim_patterns: bool,
}

/// Why an input was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invalid {
    /// Constraint violations, already in AWS's wording (one entry each).
    Constraints(Vec<String>),
    /// A value has the wrong JSON type.
    Type(String),
}

impl Invalid {
    /// AWS's `ValidationException` message for constraint violations.
    pub fn message(&self) -> String {
        match self {
            Invalid::Constraints(v) if v.len() == 1 => {
                format!("1 validation error detected: {}", v[0])
            }
            Invalid::Constraints(v) => {
                format!("{} validation errors detected: {}", v.len(), v.join("; "))
            }
            Invalid::Type(m) => m.clone(),
        }
    }
}

impl Model {
    /// Parses and compiles a model; fails on unknown shape references or patterns the
    /// `regex` crate cannot compile.
    pub fn parse(text: &str) -> Result<Model, String> {
        let raw: RawModel = serde_json::from_str(text).map_err(|e| e.to_string())?;
        let mut shapes = HashMap::new();
        for (name, s) in &raw.shapes {
            let kind = match s.kind.as_str() {
                "structure" => Kind::Structure {
                    members: s.members.pairs(name)?,
                    required: s.required.clone(),
                },
                "list" => Kind::List(s.member.clone().ok_or(format!("{name}: no member"))?),
                "map" => Kind::Map(
                    s.key.clone().ok_or(format!("{name}: no key"))?,
                    s.value.clone().ok_or(format!("{name}: no value"))?,
                ),
                "string" => Kind::String,
                "integer" | "long" => Kind::Integer,
                "float" | "double" => Kind::Float,
                "boolean" => Kind::Boolean,
                "timestamp" => Kind::Timestamp,
                "blob" => Kind::Blob,
                other => return Err(format!("{name}: unsupported type {other}")),
            };
            let pattern = match &s.pattern {
                None => None,
                Some(p) => {
                    let source = s.regex.as_deref().unwrap_or(p);
                    // AWS matches the whole value.
                    let re = Regex::new(&format!("^(?:{source})$"))
                        .map_err(|e| format!("{name}: pattern {p:?} does not compile: {e}"))?;
                    Some((p.clone(), re))
                }
            };
            shapes.insert(
                name.clone(),
                Shape {
                    kind,
                    min: s.min,
                    max: s.max,
                    pattern,
                    enum_values: s.enum_values.clone(),
                },
            );
        }
        let model = Model {
            inputs: raw
                .operations
                .into_iter()
                .map(|(k, v)| (k, v.input))
                .collect(),
            shapes,
            verbatim_patterns: false,
        };
        // Every reference must resolve.
        for (name, s) in &model.shapes {
            let refs: Vec<&String> = match &s.kind {
                Kind::Structure { members, .. } => members.iter().map(|(_, t)| t).collect(),
                Kind::List(m) => vec![m],
                Kind::Map(k, v) => vec![k, v],
                _ => vec![],
            };
            for r in refs {
                if !model.shapes.contains_key(r) {
                    return Err(format!("{name} refers to unknown shape {r}"));
                }
            }
        }
        for input in model.inputs.values().flatten() {
            if !model.shapes.contains_key(input) {
                return Err(format!("unknown input shape {input}"));
            }
        }
        Ok(model)
    }

    /// Messages print patterns exactly as the model spells them (no `^` added).
    pub fn with_verbatim_patterns(mut self) -> Self {
        self.verbatim_patterns = true;
        self
    }

    /// How many shapes carry a (compiled) pattern.
    pub fn pattern_count(&self) -> usize {
        self.shapes.values().filter(|s| s.pattern.is_some()).count()
    }

    /// Gives a Query request's members (strings, `member.N` arrays, `""` for an empty
    /// list) the JSON types their shapes declare: booleans, numbers, arrays and maps
    /// (`entry.N.key/value`). Values that do not parse are left as they are, so that
    /// [`Model::validate`] reports them.
    pub fn coerce_query(&self, operation: &str, input: &mut Value) {
        if let Some(Some(shape)) = self.inputs.get(operation) {
            self.coerce(shape, input);
        }
    }

    fn coerce(&self, shape_name: &str, value: &mut Value) {
        match &self.shape(shape_name).kind {
            Kind::Structure { members, .. } => {
                if let Value::Object(map) = value {
                    for (member, target) in members {
                        if let Some(v) = map.get_mut(member) {
                            self.coerce(target, v);
                        }
                    }
                }
            }
            Kind::List(member) => {
                if value.as_str() == Some("") {
                    *value = Value::Array(Vec::new());
                }
                if let Value::Array(items) = value {
                    for item in items {
                        self.coerce(member, item);
                    }
                }
            }
            Kind::Map(_, val) => {
                if value.as_str() == Some("") {
                    *value = Value::Object(Map::new());
                }
                if let Value::Array(entries) = value {
                    let mut map = Map::new();
                    for e in entries.iter() {
                        if let (Some(k), Some(v)) =
                            (e.get("key").and_then(Value::as_str), e.get("value"))
                        {
                            map.insert(k.to_owned(), v.clone());
                        }
                    }
                    if map.len() == entries.len() {
                        *value = Value::Object(map);
                    }
                }
                if let Value::Object(map) = value {
                    for v in map.values_mut() {
                        self.coerce(val, v);
                    }
                }
            }
            Kind::Boolean => match value.as_str() {
                Some(s) if s.eq_ignore_ascii_case("true") => *value = Value::Bool(true),
                Some(s) if s.eq_ignore_ascii_case("false") => *value = Value::Bool(false),
                _ => {}
            },
            Kind::Integer => {
                if let Some(n) = value.as_str().and_then(|s| s.parse::<i64>().ok()) {
                    *value = Value::from(n);
                }
            }
            Kind::Float => {
                if let Some(n) = value.as_str().and_then(|s| s.parse::<f64>().ok()) {
                    *value = Value::from(n);
                }
            }
            Kind::String | Kind::Timestamp | Kind::Blob => {}
        }
    }

    /// Whether the model has this operation.
    pub fn has_operation(&self, operation: &str) -> bool {
        self.inputs.contains_key(operation)
    }

    /// Validates an operation's input document against its input shape.
    pub fn validate(&self, operation: &str, input: &Value) -> Result<(), Invalid> {
        let Some(Some(shape)) = self.inputs.get(operation) else {
            return Ok(());
        };
        let mut violations = Vec::new();
        self.check_structure_members(shape, input, "", &mut violations)?;
        if violations.is_empty() {
            Ok(())
        } else {
            Err(Invalid::Constraints(violations))
        }
    }

    fn shape(&self, name: &str) -> &Shape {
        // `parse` checked that every reference resolves.
        &self.shapes[name]
    }

    /// The members of a top-level or nested structure.
    fn check_structure_members(
        &self,
        shape_name: &str,
        value: &Value,
        path: &str,
        out: &mut Vec<String>,
    ) -> Result<(), Invalid> {
        let Kind::Structure { members, required } = &self.shape(shape_name).kind else {
            return self.check(shape_name, value, path, out);
        };
        let Value::Object(map) = value else {
            return Err(type_error(path, "structure", value));
        };
        for (member, target) in members {
            let member_path = join(path, &lower_camel(member));
            match map.get(member) {
                None | Some(Value::Null) => {
                    if required.contains(member) {
                        out.push(format!(
                            "Value null at '{member_path}' failed to satisfy constraint: Member must not be null"
                        ));
                    }
                }
                Some(v) => self.check(target, v, &member_path, out)?,
            }
        }
        Ok(())
    }

    fn check(
        &self,
        shape_name: &str,
        value: &Value,
        path: &str,
        out: &mut Vec<String>,
    ) -> Result<(), Invalid> {
        let shape = self.shape(shape_name);
        let mut fail = |what: String| {
            out.push(format!(
                "Value {} at '{path}' failed to satisfy constraint: {what}",
                render(value)
            ))
        };
        match &shape.kind {
            Kind::Structure { .. } => {
                return self.check_structure_members(shape_name, value, path, out);
            }
            Kind::List(member) => {
                let Value::Array(items) = value else {
                    return Err(type_error(path, "list", value));
                };
                length(shape, items.len(), &mut fail);
                for (i, item) in items.iter().enumerate() {
                    let item_path = format!("{path}.{}.member", i + 1);
                    if item.is_null() {
                        continue;
                    }
                    self.check(member, item, &item_path, out)?;
                }
            }
            Kind::Map(key, val) => {
                let Value::Object(map) = value else {
                    return Err(type_error(path, "map", value));
                };
                length(shape, map.len(), &mut fail);
                for (k, v) in map {
                    self.check(key, &Value::String(k.clone()), &format!("{path}.key"), out)?;
                    self.check(val, v, &format!("{path}.{k}.value"), out)?;
                }
            }
            Kind::String => {
                let Value::String(s) = value else {
                    return Err(type_error(path, "string", value));
                };
                length(shape, s.chars().count(), &mut fail);
                if let Some(allowed) = &shape.enum_values
                    && !allowed.iter().any(|a| a == s)
                {
                    fail(format!(
                        "Member must satisfy enum value set: [{}]",
                        allowed.join(", ")
                    ));
                }
                if let Some((pattern, re)) = &shape.pattern
                    && !re.is_match(s)
                {
                    let shown = if pattern.starts_with('^') || self.verbatim_patterns {
                        pattern.clone()
                    } else {
                        format!("^{pattern}")
                    };
                    fail(format!(
                        "Member must satisfy regular expression pattern: {shown}"
                    ));
                }
            }
            Kind::Integer => {
                let Some(n) = value.as_i64() else {
                    return Err(type_error(path, "integer", value));
                };
                range(shape, n as f64, &mut fail);
            }
            Kind::Float => {
                let Some(n) = value.as_f64() else {
                    return Err(type_error(path, "number", value));
                };
                range(shape, n, &mut fail);
            }
            Kind::Boolean => {
                if !value.is_boolean() {
                    return Err(type_error(path, "boolean", value));
                }
            }
            Kind::Timestamp => {
                // The JSON protocol sends epoch seconds (a number).
                if !value.is_number() {
                    return Err(type_error(path, "timestamp", value));
                }
            }
            Kind::Blob => {
                if !value.is_string() {
                    return Err(type_error(path, "blob", value));
                }
            }
        }
        Ok(())
    }
}

fn length(shape: &Shape, len: usize, fail: &mut impl FnMut(String)) {
    bounds(shape, len as f64, "length", fail);
}

fn range(shape: &Shape, n: f64, fail: &mut impl FnMut(String)) {
    bounds(shape, n, "value", fail);
}

/// The shape's `min` / `max` against `x`, a `what` ("length" or "value"), in AWS's words.
fn bounds(shape: &Shape, x: f64, what: &str, fail: &mut impl FnMut(String)) {
    if let Some(min) = shape.min
        && x < min
    {
        fail(format!(
            "Member must have {what} greater than or equal to {min}"
        ));
    }
    if let Some(max) = shape.max
        && x > max
    {
        fail(format!(
            "Member must have {what} less than or equal to {max}"
        ));
    }
}

fn type_error(path: &str, expected: &str, got: &Value) -> Invalid {
    let got = match got {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "object",
    };
    let at = if path.is_empty() { "the request" } else { path };
    Invalid::Type(format!(
        "Cannot deserialize '{at}': expected a {expected}, found a {got}"
    ))
}

fn join(path: &str, member: &str) -> String {
    if path.is_empty() {
        member.to_owned()
    } else {
        format!("{path}.{member}")
    }
}

/// `ProjectName` -> `projectName`, `RoleARN` -> `roleARN`.
fn lower_camel(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Renders a value the way AWS quotes it in messages: strings in single quotes,
/// `null` bare, lists and structures in Java's `toString` style.
fn render(value: &Value) -> String {
    fn inner(value: &Value, out: &mut String) {
        match value {
            Value::Null => out.push_str("null"),
            Value::String(s) => out.push_str(s),
            Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    inner(item, out);
                }
                out.push(']');
            }
            Value::Object(map) => {
                out.push('{');
                for (i, (k, v)) in map.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    let _ = write!(out, "{}=", lower_camel(k));
                    inner(v, out);
                }
                out.push('}');
            }
            other => out.push_str(&other.to_string()),
        }
    }
    match value {
        Value::Null => "null".into(),
        _ => {
            let mut s = String::from("'");
            inner(value, &mut s);
            s.push('\'');
            s
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A small model in botocore's member-map form.
    const MODEL: &str = r#"{
      "operations": {"Create": {"input": "CreateInput"}, "Plain": {"input": null}},
      "shapes": {
        "CreateInput": {"type": "structure", "required": ["Name"], "members": {
          "Name": "Name", "Flag": "Flag", "Count": "Count", "Tags": "Tags",
          "Caps": "Caps", "Attrs": "Attrs"}},
        "Name": {"type": "string", "min": 1, "max": 5, "pattern": "[a-z]+"},
        "Flag": {"type": "boolean"},
        "Count": {"type": "integer", "min": 1, "max": 9},
        "Tags": {"type": "list", "member": "Tag", "max": 2},
        "Tag": {"type": "structure", "required": ["Key"], "members": {"Key": "Name", "Value": "Name"}},
        "Caps": {"type": "list", "member": "Cap"},
        "Cap": {"type": "string", "enum": ["A", "B"]},
        "Attrs": {"type": "map", "key": "Name", "value": "Name"}
      }
    }"#;

    fn model() -> Model {
        Model::parse(MODEL).unwrap().with_verbatim_patterns()
    }

    #[test]
    fn broken_patterns_and_references_are_refused() {
        let bad = r#"{"operations":{},"shapes":{"S":{"type":"string","pattern":"(?<=x)a"}}}"#;
        assert!(Model::parse(bad).unwrap_err().contains("does not compile"));
        let bad = r#"{"operations":{},"shapes":{"L":{"type":"list","member":"Nope"}}}"#;
        assert!(Model::parse(bad).unwrap_err().contains("unknown shape"));
        let bad = r#"{"operations":{},"shapes":{"S":{"type":"structure","members":{"A":"Nope"}}}}"#;
        assert!(Model::parse(bad).unwrap_err().contains("unknown shape"));
    }

    #[test]
    fn member_maps_and_pairs_are_the_same_model() {
        let pairs = r#"{"operations":{"Op":{"input":"In"}},"shapes":{
            "In":{"type":"structure","required":["A"],"members":[["A","S"]]},
            "S":{"type":"string","min":2}}}"#;
        let map = pairs.replace(r#"[["A","S"]]"#, r#"{"A":{"shape":"S"}}"#);
        for text in [pairs, map.as_str()] {
            let m = Model::parse(text).unwrap();
            assert_eq!(
                m.validate("Op", &json!({"A": "x"})).unwrap_err().message(),
                "1 validation error detected: Value 'x' at 'a' failed to satisfy constraint: \
                 Member must have length greater than or equal to 2"
            );
            assert_eq!(m.pattern_count(), 0);
        }
    }

    #[test]
    fn query_values_are_coerced_then_validated() {
        let m = model();
        let mut input = json!({
            "Name": "abc", "Flag": "true", "Count": "3", "Caps": "",
            "Tags": [{"Key": "a", "Value": "b"}],
            "Attrs": [{"key": "k", "value": "v"}]
        });
        m.coerce_query("Create", &mut input);
        assert_eq!(
            input,
            json!({"Name": "abc", "Flag": true, "Count": 3, "Caps": [],
                   "Tags": [{"Key": "a", "Value": "b"}], "Attrs": {"k": "v"}})
        );
        assert_eq!(m.validate("Create", &input), Ok(()));

        let mut input = json!({"Name": "ABC", "Count": "10", "Caps": ["A", "C"],
                               "Tags": [{"Value": "x"}, {"Key": "b"}, {"Key": "c"}]});
        m.coerce_query("Create", &mut input);
        assert_eq!(
            m.validate("Create", &input).unwrap_err().message(),
            "5 validation errors detected: \
             Value 'ABC' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-z]+; \
             Value '10' at 'count' failed to satisfy constraint: Member must have value less than or equal to 9; \
             Value '[{value=x}, {key=b}, {key=c}]' at 'tags' failed to satisfy constraint: Member must have length less than or equal to 2; \
             Value null at 'tags.1.member.key' failed to satisfy constraint: Member must not be null; \
             Value 'C' at 'caps.2.member' failed to satisfy constraint: Member must satisfy enum value set: [A, B]"
        );
        // A boolean that is not one stays a string: a type error.
        let mut input = json!({"Name": "a", "Flag": "yes"});
        m.coerce_query("Create", &mut input);
        assert!(matches!(
            m.validate("Create", &input),
            Err(Invalid::Type(_))
        ));
        // Operations without input accept anything.
        assert_eq!(m.validate("Plain", &json!({"x": 1})), Ok(()));
    }

    #[test]
    fn carets_are_added_unless_verbatim() {
        let m = Model::parse(MODEL).unwrap();
        let e = m.validate("Create", &json!({"Name": "A"})).unwrap_err();
        assert!(e.message().ends_with("pattern: ^[a-z]+"), "{}", e.message());
    }

    #[test]
    fn lower_camel_paths() {
        assert_eq!(lower_camel("ProjectName"), "projectName");
        assert_eq!(lower_camel("RoleARN"), "roleARN");
    }
}
