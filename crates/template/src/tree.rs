//! The template tree: JSON and YAML both parse into [`Node`]s that remember where they
//! started, so every later error can point at a line and column.
//!
//! Short-form YAML tags are already expanded here (`!Ref X` is the map `{"Ref": "X"}`), so
//! nothing past the parser knows which syntax the author used.

use std::fmt;

use indexmap::IndexMap;
use serde_json::Value;

/// 1-based line and column of a node in the template body (columns count characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Pos {
    pub line: u32,
    pub col: u32,
}

impl Pos {
    pub fn new(line: u32, col: u32) -> Self {
        Pos { line, col }
    }
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.col)
    }
}

/// A map member: the key's position and the value.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub key_pos: Pos,
    pub value: Node,
}

/// A mapping in template order.
pub type Map = IndexMap<String, Entry>;

/// What a node holds.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    Null,
    Bool(bool),
    /// A number as canonical decimal text (YAML hex/octal already converted), so that
    /// `Fn::Join` and `Fn::Sub` print it the way the author wrote it.
    Number(String),
    String(String),
    List(Vec<Node>),
    Map(Map),
}

/// A value of the template with the position where it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub pos: Pos,
    pub kind: Kind,
}

impl Node {
    pub fn new(pos: Pos, kind: Kind) -> Self {
        Node { pos, kind }
    }

    pub fn string(pos: Pos, s: impl Into<String>) -> Self {
        Node::new(pos, Kind::String(s.into()))
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            Kind::String(s) => Some(s),
            _ => None,
        }
    }

    /// A scalar as CloudFormation would print it: strings, numbers and booleans.
    pub fn scalar_text(&self) -> Option<String> {
        match &self.kind {
            Kind::String(s) => Some(s.clone()),
            Kind::Number(n) => Some(n.clone()),
            Kind::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&Map> {
        match &self.kind {
            Kind::Map(m) => Some(m),
            _ => None,
        }
    }

    pub fn as_list(&self) -> Option<&[Node]> {
        match &self.kind {
            Kind::List(l) => Some(l),
            _ => None,
        }
    }

    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map().and_then(|m| m.get(key)).map(|e| &e.value)
    }

    /// `Some((name, argument))` when this node is a one-member map whose key is an
    /// intrinsic function name (`Ref`, `Condition` or `Fn::...`).
    pub fn as_intrinsic(&self) -> Option<(&str, &Node)> {
        let m = self.as_map()?;
        if m.len() != 1 {
            return None;
        }
        let (k, e) = m.get_index(0)?;
        if k == "Ref" || k == "Condition" || k.starts_with("Fn::") {
            Some((k.as_str(), &e.value))
        } else {
            None
        }
    }

    pub fn type_name(&self) -> &'static str {
        match self.kind {
            Kind::Null => "null",
            Kind::Bool(_) => "boolean",
            Kind::Number(_) => "number",
            Kind::String(_) => "string",
            Kind::List(_) => "list",
            Kind::Map(_) => "object",
        }
    }

    /// Structural equality that ignores positions and treats numbers by value.
    pub fn same_value(&self, other: &Node) -> bool {
        match (&self.kind, &other.kind) {
            (Kind::Null, Kind::Null) => true,
            (Kind::Bool(a), Kind::Bool(b)) => a == b,
            (Kind::Number(a), Kind::Number(b)) => {
                a == b || matches!((a.parse::<f64>(), b.parse::<f64>()), (Ok(x), Ok(y)) if x == y)
            }
            (Kind::String(a), Kind::String(b)) => a == b,
            (Kind::List(a), Kind::List(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.same_value(y))
            }
            (Kind::Map(a), Kind::Map(b)) => {
                a.len() == b.len()
                    && a.iter()
                        .all(|(k, e)| b.get(k).is_some_and(|o| e.value.same_value(&o.value)))
            }
            _ => false,
        }
    }

    /// The node as plain JSON (positions dropped).
    pub fn to_json(&self) -> Value {
        match &self.kind {
            Kind::Null => Value::Null,
            Kind::Bool(b) => Value::Bool(*b),
            Kind::Number(n) => number_to_json(n),
            Kind::String(s) => Value::String(s.clone()),
            Kind::List(l) => Value::Array(l.iter().map(Node::to_json).collect()),
            Kind::Map(m) => Value::Object(
                m.iter()
                    .map(|(k, e)| (k.clone(), e.value.to_json()))
                    .collect(),
            ),
        }
    }

    /// Builds a node from JSON, every position set to `pos`.
    pub fn from_json(v: &Value, pos: Pos) -> Node {
        let kind = match v {
            Value::Null => Kind::Null,
            Value::Bool(b) => Kind::Bool(*b),
            Value::Number(n) => Kind::Number(n.to_string()),
            Value::String(s) => Kind::String(s.clone()),
            Value::Array(a) => Kind::List(a.iter().map(|x| Node::from_json(x, pos)).collect()),
            Value::Object(o) => Kind::Map(
                o.iter()
                    .map(|(k, x)| {
                        (
                            k.clone(),
                            Entry {
                                key_pos: pos,
                                value: Node::from_json(x, pos),
                            },
                        )
                    })
                    .collect(),
            ),
        };
        Node::new(pos, kind)
    }

    /// Number of nodes in this subtree (used to bound alias expansion).
    pub fn size(&self) -> usize {
        match &self.kind {
            Kind::List(l) => 1 + l.iter().map(Node::size).sum::<usize>(),
            Kind::Map(m) => 1 + m.values().map(|e| e.value.size()).sum::<usize>(),
            _ => 1,
        }
    }
}

/// Canonical number text to a JSON number; text that is not a finite JSON number stays a string.
pub fn number_to_json(n: &str) -> Value {
    if let Ok(i) = n.parse::<i64>() {
        return Value::from(i);
    }
    if let Ok(u) = n.parse::<u64>() {
        return Value::from(u);
    }
    match n.parse::<f64>().ok().and_then(serde_json::Number::from_f64) {
        Some(f)
            if n.chars()
                .all(|c| c.is_ascii_digit() || matches!(c, '-' | '+' | '.' | 'e' | 'E')) =>
        {
            Value::Number(f)
        }
        _ => Value::String(n.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_compare_by_value() {
        let a = Node::new(Pos::new(1, 1), Kind::Number("1.0".into()));
        let b = Node::new(Pos::new(2, 2), Kind::Number("1".into()));
        assert!(a.same_value(&b));
        assert!(!a.same_value(&Node::string(Pos::default(), "1")));
    }

    #[test]
    fn intrinsic_detection_needs_single_member() {
        let v = serde_json::json!({"Ref": "X"});
        let n = Node::from_json(&v, Pos::default());
        assert_eq!(n.as_intrinsic().map(|(k, _)| k), Some("Ref"));
        let v = serde_json::json!({"Ref": "X", "Other": 1});
        assert!(Node::from_json(&v, Pos::default()).as_intrinsic().is_none());
    }

    #[test]
    fn non_finite_numbers_become_strings() {
        assert_eq!(number_to_json(".inf"), Value::String(".inf".into()));
        assert_eq!(number_to_json("12"), Value::from(12));
        assert_eq!(number_to_json("1.5"), serde_json::json!(1.5));
    }
}
