//! One resource type's schema, compiled from the bundle's JSON into an arena of nodes.
//!
//! The bundle keeps JSON-Schema keywords as the CloudFormation registry publishes them.
//! Compiling turns each (sub)schema into a [`Node`] with its keywords parsed once, resolves
//! `$ref` (`#/definitions/X`, `#/properties/X`) to arena indices, and compiles `pattern`
//! through a process-wide cache (the same Tag-key pattern appears in hundreds of types).
//!
//! Invariant: compiling never fails. A keyword this module does not understand is ignored,
//! and a pattern the `regex` crate cannot compile (ECMA look-arounds, back-references) is
//! kept as source text with no regex, so validation skips it;
//! [`ResourceSchema::patterns`] lists them.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex, OnceLock};

use regex::Regex;
use sagestack_engine::provider::kit::picked;
use serde_json::{Map, Value};

/// Index of a node in [`ResourceSchema::nodes`].
pub(crate) type NodeId = usize;

/// JSON types a node accepts, as a bit set.
pub(crate) mod types {
    pub const STRING: u8 = 1;
    pub const INTEGER: u8 = 2;
    pub const NUMBER: u8 = 4;
    pub const BOOLEAN: u8 = 8;
    pub const OBJECT: u8 = 16;
    pub const ARRAY: u8 = 32;
    pub const NULL: u8 = 64;
}

/// A `pattern` keyword: the ECMA source and, once first used, the regex (`None` when the
/// `regex` crate cannot compile it). Compiling is deferred to first use because a few
/// hundred schema patterns (large Unicode classes with `{1,2048}` repetitions) take
/// milliseconds each, and most are never exercised by a given deployment.
#[derive(Debug, Clone)]
pub(crate) struct Pattern {
    pub source: String,
    cell: RegexCell,
}

type RegexCell = Arc<OnceLock<Option<Regex>>>;

impl Pattern {
    /// The compiled regex, compiling it on first call.
    pub fn regex(&self) -> Option<&Regex> {
        self.cell.get_or_init(|| build_regex(&self.source)).as_ref()
    }
}

/// One compiled (sub)schema.
#[derive(Debug, Default, Clone)]
pub(crate) struct Node {
    /// Accepted types; 0 means any.
    pub types: u8,
    /// The `$ref` target, validated in addition to this node's own keywords.
    pub reference: Option<NodeId>,
    /// Sorted by name for binary search.
    pub properties: Vec<(String, NodeId)>,
    pub pattern_properties: Vec<(Pattern, NodeId)>,
    /// `additionalProperties` (always a boolean in the registry schemas).
    pub additional_properties: bool,
    pub required: Vec<String>,
    pub items: Option<NodeId>,
    pub enum_values: Option<Vec<Value>>,
    pub enum_case_insensitive: bool,
    pub constant: Option<Value>,
    pub pattern: Option<Pattern>,
    pub min_length: Option<u64>,
    pub max_length: Option<u64>,
    pub minimum: Option<f64>,
    pub maximum: Option<f64>,
    pub exclusive_minimum: Option<f64>,
    pub exclusive_maximum: Option<f64>,
    pub multiple_of: Option<f64>,
    pub min_items: Option<u64>,
    pub max_items: Option<u64>,
    pub min_properties: Option<u64>,
    pub max_properties: Option<u64>,
    pub one_of: Vec<NodeId>,
    pub any_of: Vec<NodeId>,
    pub all_of: Vec<NodeId>,
    /// cfn-lint's `format` (e.g. `AWS::EC2::VPC.Id`, `date-time`): used to shape generated
    /// attribute values, not validated.
    pub format: Option<String>,
}

impl Node {
    pub fn property(&self, name: &str) -> Option<NodeId> {
        self.properties
            .binary_search_by(|(n, _)| n.as_str().cmp(name))
            .ok()
            .map(|i| self.properties[i].1)
    }
}

/// A resource type's compiled schema and resource-level facts.
#[derive(Debug)]
pub struct ResourceSchema {
    pub(crate) type_name: String,
    pub(crate) nodes: Vec<Node>,
    pub(crate) root: NodeId,
    /// JSON pointers, e.g. `/properties/BucketName`.
    pub(crate) create_only: Vec<String>,
    pub(crate) read_only: Vec<String>,
    pub(crate) write_only: Vec<String>,
    pub(crate) primary_identifier: Vec<String>,
    pub(crate) taggable: bool,
    /// `$ref`s that pointed nowhere (kept for diagnostics; zero in the current bundle).
    pub(crate) unresolved_refs: usize,
}

impl ResourceSchema {
    pub fn type_name(&self) -> &str {
        &self.type_name
    }

    /// `createOnlyProperties` as JSON pointers.
    pub fn create_only_properties(&self) -> &[String] {
        &self.create_only
    }

    /// `readOnlyProperties` as JSON pointers.
    pub fn read_only_properties(&self) -> &[String] {
        &self.read_only
    }

    /// `writeOnlyProperties` as JSON pointers.
    pub fn write_only_properties(&self) -> &[String] {
        &self.write_only
    }

    /// `primaryIdentifier` as JSON pointers.
    pub fn primary_identifier(&self) -> &[String] {
        &self.primary_identifier
    }

    pub fn taggable(&self) -> bool {
        self.taggable
    }

    /// Top-level property names whose change forces replacement.
    pub fn create_only_top_level(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for p in &self.create_only {
            if let Some(name) = top_level_name(p)
                && !out.iter().any(|n| n == name)
            {
                out.push(name.to_string());
            }
        }
        out
    }

    /// `Fn::GetAtt` names: each read-only pointer below `/properties/`, with `/` as `.`.
    pub fn attribute_names(&self) -> Vec<String> {
        self.read_only
            .iter()
            .filter(|p| is_attribute_pointer(p))
            .filter_map(|p| attribute_name(p))
            .collect()
    }

    pub(crate) fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id]
    }

    /// The node a JSON pointer below `/properties/` designates, following `$ref`s and
    /// `items` (a numeric or `*` segment).
    pub(crate) fn node_at(&self, pointer: &str) -> Option<NodeId> {
        let rest = pointer.strip_prefix("/properties/")?;
        let mut id = self.root;
        for seg in rest.split('/') {
            let node = self.resolved(id);
            id = match self.node(node).property(seg) {
                Some(child) => child,
                None => self
                    .node(node)
                    .items
                    .filter(|_| seg == "*" || seg.chars().all(|c| c.is_ascii_digit()))?,
            };
        }
        Some(self.resolved(id))
    }

    /// Follow `$ref` chains from `id` to the node that carries the keywords.
    pub(crate) fn resolved(&self, mut id: NodeId) -> NodeId {
        for _ in 0..32 {
            let n = &self.nodes[id];
            match n.reference {
                Some(r) if n.properties.is_empty() && n.items.is_none() => id = r,
                _ => return id,
            }
        }
        id
    }

    /// Every `pattern` / `patternProperties` source of this type, with whether the `regex`
    /// crate compiled it (validation skips the ones it did not).
    pub fn patterns(&self) -> impl Iterator<Item = (&str, bool)> {
        self.nodes.iter().flat_map(|n| {
            n.pattern
                .iter()
                .chain(n.pattern_properties.iter().map(|(p, _)| p))
                .map(|p| (p.source.as_str(), p.regex().is_some()))
        })
    }

    /// `$ref`s that pointed nowhere.
    pub fn unresolved_refs(&self) -> usize {
        self.unresolved_refs
    }

    /// Whether the JSON pointer (`/properties/A/B`) names a property of the schema.
    pub fn resolves(&self, pointer: &str) -> bool {
        self.node_at(pointer).is_some()
    }
}

/// `/properties/A/B` -> `A`.
pub(crate) fn top_level_name(pointer: &str) -> Option<&str> {
    pointer
        .strip_prefix("/properties/")
        .map(|rest| rest.split('/').next().unwrap_or(rest))
        .filter(|s| !s.is_empty())
}

/// Whether a read-only pointer is something `Fn::GetAtt` can read: not a field of array
/// items (`/properties/Destinations/*/Status`), which describes each element instead.
pub(crate) fn is_attribute_pointer(pointer: &str) -> bool {
    !pointer
        .split('/')
        .any(|seg| seg == "*" || (!seg.is_empty() && seg.chars().all(|c| c.is_ascii_digit())))
}

/// `/properties/Endpoint/Address` -> `Endpoint.Address`.
pub(crate) fn attribute_name(pointer: &str) -> Option<String> {
    pointer
        .strip_prefix("/properties/")
        .filter(|s| !s.is_empty())
        .map(|rest| rest.replace('/', "."))
}

// ---------------------------------------------------------------------------------------
// Compiling

/// Compile one bundle entry (the object the generator script writes for a type).
pub(crate) fn compile(type_name: &str, entry: &Value) -> ResourceSchema {
    let empty = Map::new();
    let obj = entry.as_object().unwrap_or(&empty);
    let mut c = Compiler {
        nodes: Vec::new(),
        definitions: HashMap::new(),
        pending_property_refs: Vec::new(),
        unresolved: 0,
    };

    // Reserve one slot per definition so `$ref`s can point at them before they are compiled
    // (definitions refer to each other and to themselves).
    let defs = obj.get("definitions").and_then(Value::as_object);
    if let Some(defs) = defs {
        for name in defs.keys() {
            let id = c.alloc();
            c.definitions.insert(name.clone(), id);
        }
        for (name, def) in defs {
            let id = c.definitions[name];
            c.compile_into(id, def);
        }
    }

    // The resource itself is an object schema with the entry's top-level keywords.
    let mut root_schema = Map::from_iter([("type".into(), Value::String("object".into()))]);
    root_schema.extend(picked(
        entry,
        &[
            "properties",
            "required",
            "additionalProperties",
            "oneOf",
            "anyOf",
            "allOf",
        ],
    ));
    root_schema
        .entry("additionalProperties")
        .or_insert(Value::Bool(true));
    let root_id = c.alloc();
    c.compile_into(root_id, &Value::Object(root_schema));

    for (from, prop) in std::mem::take(&mut c.pending_property_refs) {
        match c.nodes[root_id].property(&prop) {
            Some(target) => c.nodes[from].reference = Some(target),
            None => c.unresolved += 1,
        }
    }

    let strings = |key: &str| -> Vec<String> {
        obj.get(key)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };

    ResourceSchema {
        type_name: type_name.to_string(),
        nodes: c.nodes,
        root: root_id,
        create_only: strings("createOnlyProperties"),
        read_only: strings("readOnlyProperties"),
        write_only: strings("writeOnlyProperties"),
        primary_identifier: strings("primaryIdentifier"),
        taggable: obj
            .get("taggable")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        unresolved_refs: c.unresolved,
    }
}

struct Compiler {
    nodes: Vec<Node>,
    definitions: HashMap<String, NodeId>,
    /// (node, property name) for `$ref: #/properties/X`, patched once the root exists.
    pending_property_refs: Vec<(NodeId, String)>,
    unresolved: usize,
}

impl Compiler {
    fn alloc(&mut self) -> NodeId {
        self.nodes.push(Node {
            additional_properties: true,
            ..Node::default()
        });
        self.nodes.len() - 1
    }

    /// Compile `schema` into the reserved slot `id`, pointing any `#/properties/X` ref
    /// recorded for the slot's own `$ref` at `id`.
    fn compile_into(&mut self, id: NodeId, schema: &Value) {
        let before = self.pending_property_refs.len();
        let node = self.compile_node(schema);
        self.nodes[id] = node;
        for entry in &mut self.pending_property_refs[before..] {
            if entry.0 == usize::MAX {
                entry.0 = id;
            }
        }
    }

    fn compile_node(&mut self, schema: &Value) -> Node {
        let mut n = Node {
            additional_properties: true,
            ..Node::default()
        };
        let Some(obj) = schema.as_object() else {
            return n;
        };
        for (key, v) in obj {
            match key.as_str() {
                "type" => n.types = parse_types(v),
                "$ref" => {
                    let r = v.as_str().unwrap_or_default();
                    if let Some(def) = r.strip_prefix("#/definitions/") {
                        match self.definitions.get(def) {
                            Some(id) => n.reference = Some(*id),
                            None => self.unresolved += 1,
                        }
                    } else if let Some(prop) = r.strip_prefix("#/properties/") {
                        // Patched once the node has its arena index (`compile_into`).
                        self.pending_property_refs
                            .push((usize::MAX, prop.to_string()));
                    } else {
                        self.unresolved += 1;
                    }
                }
                "properties" => {
                    if let Some(props) = v.as_object() {
                        let mut list: Vec<(String, NodeId)> = props
                            .iter()
                            .map(|(name, sub)| (name.clone(), self.child_tracked(sub)))
                            .collect();
                        list.sort_by(|a, b| a.0.cmp(&b.0));
                        n.properties = list;
                    }
                }
                "patternProperties" => {
                    if let Some(props) = v.as_object() {
                        n.pattern_properties = props
                            .iter()
                            .map(|(pat, sub)| (compile_pattern(pat), self.child_tracked(sub)))
                            .collect();
                    }
                }
                "additionalProperties" => {
                    // Registry schemas only use booleans here; a schema object means "allowed".
                    n.additional_properties = v.as_bool().unwrap_or(true);
                }
                "required" => {
                    n.required = v
                        .as_array()
                        .map(|a| {
                            a.iter()
                                .filter_map(|s| s.as_str().map(str::to_string))
                                .collect()
                        })
                        .unwrap_or_default();
                }
                "items" if v.is_object() => n.items = Some(self.child_tracked(v)),
                "enum" => n.enum_values = v.as_array().cloned(),
                // cfn-lint writes either a flag next to `enum` or the value list itself.
                "enumCaseInsensitive" => match v {
                    Value::Array(values) => {
                        n.enum_values = Some(values.clone());
                        n.enum_case_insensitive = true;
                    }
                    other => n.enum_case_insensitive = other.as_bool().unwrap_or(false),
                },
                "const" => n.constant = Some(v.clone()),
                "pattern" => {
                    if let Some(p) = v.as_str() {
                        n.pattern = Some(compile_pattern(p));
                    }
                }
                "minLength" => n.min_length = v.as_u64(),
                "maxLength" => n.max_length = v.as_u64(),
                "minimum" => n.minimum = v.as_f64(),
                "maximum" => n.maximum = v.as_f64(),
                "exclusiveMinimum" => n.exclusive_minimum = v.as_f64(),
                "exclusiveMaximum" => n.exclusive_maximum = v.as_f64(),
                "multipleOf" => n.multiple_of = v.as_f64().filter(|m| *m > 0.0),
                "minItems" => n.min_items = v.as_u64(),
                "maxItems" => n.max_items = v.as_u64(),
                "minProperties" => n.min_properties = v.as_u64(),
                "maxProperties" => n.max_properties = v.as_u64(),
                "oneOf" | "anyOf" | "allOf" => {
                    let subs: Vec<NodeId> = v
                        .as_array()
                        .map(|a| a.iter().map(|s| self.child_tracked(s)).collect())
                        .unwrap_or_default();
                    match key.as_str() {
                        "oneOf" => n.one_of = subs,
                        "anyOf" => n.any_of = subs,
                        _ => n.all_of = subs,
                    }
                }
                "format" => n.format = v.as_str().map(str::to_string),
                _ => {}
            }
        }
        n
    }

    /// Compile `schema` as a new arena node, fixing up a pending `#/properties/X` ref
    /// recorded while compiling it to point from the node's real index.
    fn child_tracked(&mut self, schema: &Value) -> NodeId {
        // Children compiled inside `compile_node` fix their own placeholders before this
        // returns, so the only placeholder left in the new range is this node's.
        let id = self.alloc();
        self.compile_into(id, schema);
        id
    }
}

fn parse_types(v: &Value) -> u8 {
    let one = |s: &str| match s {
        "string" => types::STRING,
        "integer" => types::INTEGER,
        "number" => types::NUMBER,
        "boolean" => types::BOOLEAN,
        "object" => types::OBJECT,
        "array" => types::ARRAY,
        "null" => types::NULL,
        _ => 0,
    };
    match v {
        Value::String(s) => one(s),
        Value::Array(a) => a
            .iter()
            .filter_map(Value::as_str)
            .map(one)
            .fold(0, |a, b| a | b),
        _ => 0,
    }
}

// ---------------------------------------------------------------------------------------
// Patterns

/// Pattern cells shared by every type: the same Tag-key pattern appears in hundreds.
static PATTERN_CACHE: LazyLock<Mutex<HashMap<String, RegexCell>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// Large enough for the Unicode-class patterns with `{1,2048}` repetitions that several
/// schemas use; the default 10 MiB limit rejects some of them.
const REGEX_SIZE_LIMIT: usize = 64 << 20;

pub(crate) fn compile_pattern(source: &str) -> Pattern {
    let mut cache = PATTERN_CACHE.lock().unwrap_or_else(|e| e.into_inner());
    let cell = cache.entry(source.to_string()).or_default().clone();
    Pattern {
        source: source.to_string(),
        cell,
    }
}

/// The regex for an ECMA pattern, directly or after [`translate_dialect`]; `None` when the
/// `regex` crate supports neither (look-arounds, back-references).
fn build_regex(source: &str) -> Option<Regex> {
    let build = |src: &str| {
        regex::RegexBuilder::new(src)
            .size_limit(REGEX_SIZE_LIMIT)
            .build()
            .ok()
    };
    build(source).or_else(|| build(&translate_dialect(source)))
}

/// Rewrite the Java-isms some schemas use into the `regex` crate's syntax, without
/// changing what the pattern matches: `\Z` (end of input) becomes `\z`, the POSIX classes
/// `\p{Graph}` / `\p{Print}` become `[[:graph:]]` / `[[:print:]]`, and a `-` right after a
/// class escape inside brackets (`[\w-.]`, a literal dash in ECMA and Java) is escaped.
fn translate_dialect(source: &str) -> String {
    let chars: Vec<char> = source.chars().collect();
    let mut out = String::with_capacity(source.len() + 8);
    let mut in_class = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' && i + 1 < chars.len() {
            let next = chars[i + 1];
            let rest: String = chars[i + 1..].iter().take(8).collect();
            if next == 'Z' {
                out.push_str("\\z");
                i += 2;
                continue;
            }
            if let Some(class) = [("p{Graph}", "[[:graph:]]"), ("p{Print}", "[[:print:]]")]
                .iter()
                .find(|(k, _)| rest.starts_with(k))
            {
                out.push_str(class.1);
                i += 1 + class.0.len();
                continue;
            }
            out.push(c);
            out.push(next);
            i += 2;
            let class_escape = matches!(next, 'w' | 'W' | 'd' | 'D' | 's' | 'S');
            if in_class
                && class_escape
                && chars.get(i) == Some(&'-')
                && chars.get(i + 1) != Some(&']')
            {
                out.push_str("\\-");
                i += 1;
            }
            continue;
        }
        match c {
            '[' if !in_class => in_class = true,
            ']' if in_class => in_class = false,
            _ => {}
        }
        out.push(c);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn compiles_refs_definitions_and_property_refs() {
        let entry = json!({
            "properties": {
                "Name": {"type": "string", "maxLength": 5},
                "Alias": {"$ref": "#/properties/Name"},
                "Tags": {"type": "array", "items": {"$ref": "#/definitions/Tag"}},
                "Endpoint": {"type": "object", "properties": {"Address": {"type": "string"}}}
            },
            "definitions": {"Tag": {"type": "object", "properties": {"Key": {"type": "string"}}}},
            "readOnlyProperties": ["/properties/Endpoint/Address", "/properties/Arn"],
            "createOnlyProperties": ["/properties/Name", "/properties/Endpoint/Address"],
            "primaryIdentifier": ["/properties/Name"],
            "taggable": true
        });
        let s = compile("X::Y::Z", &entry);
        assert_eq!(s.unresolved_refs, 0);
        let alias = s.node(s.root).property("Alias").unwrap();
        let target = s.node(alias).reference.unwrap();
        assert_eq!(s.node(target).max_length, Some(5));
        let tag = s.node_at("/properties/Tags/0/Key").unwrap();
        assert_eq!(s.node(tag).types, types::STRING);
        assert_eq!(s.attribute_names(), vec!["Endpoint.Address", "Arn"]);
        assert_eq!(s.create_only_top_level(), vec!["Name", "Endpoint"]);
        assert!(s.taggable());
    }

    #[test]
    fn java_isms_are_translated_not_dropped() {
        assert_eq!(
            translate_dialect(r"^(vpc-)([a-z0-9]+)\Z"),
            r"^(vpc-)([a-z0-9]+)\z"
        );
        assert_eq!(translate_dialect(r"^[\w-\.\+]+$"), r"^[\w\-\.\+]+$");
        assert_eq!(translate_dialect(r"^\p{Print}+$"), "^[[:print:]]+$");
        let p = compile_pattern(r"^[\p{Graph}\x20]*$");
        let re = p.regex().expect("translated");
        assert!(re.is_match("a b"));
        assert!(!re.is_match("a\tb"));
        let sg = compile_pattern(r"^(sg-)([a-z0-9]+)\Z");
        assert!(sg.regex().unwrap().is_match("sg-12ab"));
    }

    #[test]
    fn unsupported_patterns_are_kept_without_regex() {
        assert!(compile_pattern("^(?!aws:).*$").regex().is_none());
        assert!(compile_pattern("^[a-z]+$").regex().is_some());
    }
}
