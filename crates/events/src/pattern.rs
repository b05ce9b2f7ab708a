//! Event patterns with EventBridge's semantics: parsed and validated once, matched many
//! times, no I/O.
//!
//! A pattern is a JSON object. Each key names a field of the event; its value is either
//! a nested object (the field must be an object matching it) or an array of matchers
//! (the field's value, or any element of it when the event has an array, must match one
//! of them). Every key must match; `$or` (an array of at least two objects) matches when
//! one of its objects does. Matchers:
//!
//! * a literal: a string, a number (compared as numbers: `5` matches `5.0`), `true`,
//!   `false` or `null` (an event field that is present and `null`);
//! * `{"prefix": s}`, `{"suffix": s}` (each also with `{"equals-ignore-case": s}` inside),
//!   `{"equals-ignore-case": s}`, `{"wildcard": "a*b"}` (`\*` is a literal star);
//! * `{"anything-but": v}`, with `v` a literal, a list of literals, or `{"prefix": s}`,
//!   `{"suffix": s}`, `{"equals-ignore-case": s | [s]}`, `{"wildcard": s | [s]}`: the field
//!   is present and matches none of them;
//! * `{"numeric": [op, n, (op, n)]}` with `=`, `<`, `<=`, `>`, `>=`;
//! * `{"exists": true | false}`: whether the field is present (an empty array counts as
//!   absent);
//! * `{"cidr": "10.0.0.0/24"}` (IPv4 or IPv6): the field is an address in the range.
//!
//! Where EventBridge's exact error wording is not documented, the messages here say
//! what is wrong in the same frame ("Event pattern is not valid. Reason: ...").

use std::net::IpAddr;

use serde_json::{Map, Value};

use crate::EventsError;

/// How deeply pattern objects may nest (EventBridge's own bound is not documented; this
/// keeps matching and parsing bounded for hostile input).
pub const MAX_DEPTH: usize = 32;

/// A parsed, valid event pattern.
#[derive(Debug, Clone, PartialEq)]
pub struct Pattern {
    root: Obj,
}

#[derive(Debug, Clone, PartialEq)]
struct Obj {
    fields: Vec<(String, Field)>,
    /// Each `$or`: at least one of its objects must match.
    ors: Vec<Vec<Obj>>,
}

#[derive(Debug, Clone, PartialEq)]
enum Field {
    Nested(Obj),
    Leaf(Vec<Matcher>),
}

#[derive(Debug, Clone, PartialEq)]
enum Matcher {
    Exact(Value),
    Prefix { text: String, fold: bool },
    Suffix { text: String, fold: bool },
    EqualsIgnoreCase(String),
    Wildcard(String),
    AnythingBut(AnythingBut),
    Numeric(Vec<(Op, f64)>),
    Exists(bool),
    Cidr { network: IpAddr, bits: u8 },
}

#[derive(Debug, Clone, PartialEq)]
enum AnythingBut {
    Values(Vec<Value>),
    Prefix(String),
    Suffix(String),
    EqualsIgnoreCase(Vec<String>),
    Wildcard(Vec<String>),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
}

fn invalid(reason: impl Into<String>) -> EventsError {
    EventsError::InvalidEventPattern(reason.into())
}

impl Pattern {
    /// Parses and validates the pattern text.
    pub fn parse(text: &str) -> Result<Pattern, EventsError> {
        let value: Value = serde_json::from_str(text)
            .map_err(|e| invalid(format!("Filter is not valid JSON: {e}")))?;
        Pattern::from_value(&value)
    }

    /// Validates a pattern already read as JSON.
    pub fn from_value(value: &Value) -> Result<Pattern, EventsError> {
        let Value::Object(map) = value else {
            return Err(invalid("Filter is not an object"));
        };
        Ok(Pattern {
            root: parse_obj(map, 0)?,
        })
    }

    /// Whether `event` (an event as a JSON object) matches.
    pub fn matches(&self, event: &Value) -> bool {
        match_obj(&self.root, event)
    }

    /// The strings the event's top-level field `key` must equal, one of them, when the
    /// pattern says exactly that (`"source": ["a", "b"]`); `None` when it allows other
    /// values (another matcher, a number, no condition on `key`). What the rule index
    /// files a rule under: an event whose `key` is none of these cannot match.
    pub fn required_strings(&self, key: &str) -> Option<Vec<&str>> {
        let (_, Field::Leaf(matchers)) = self.root.fields.iter().find(|(k, _)| k == key)? else {
            return None;
        };
        matchers
            .iter()
            .map(|m| match m {
                Matcher::Exact(Value::String(s)) => Some(s.as_str()),
                _ => None,
            })
            .collect()
    }
}

fn parse_obj(map: &Map<String, Value>, depth: usize) -> Result<Obj, EventsError> {
    if depth > MAX_DEPTH {
        return Err(invalid(format!(
            "Pattern nests deeper than {MAX_DEPTH} levels"
        )));
    }
    let mut obj = Obj {
        fields: Vec::new(),
        ors: Vec::new(),
    };
    for (key, value) in map {
        if key == "$or" {
            let Value::Array(items) = value else {
                return Err(invalid("Value of $or must be an array of objects"));
            };
            if items.len() < 2 {
                return Err(invalid("Length of $or array must be at least 2"));
            }
            let alternatives = items
                .iter()
                .map(|item| match item {
                    Value::Object(m) => parse_obj(m, depth + 1),
                    _ => Err(invalid("Value of $or must be an array of objects")),
                })
                .collect::<Result<Vec<_>, _>>()?;
            obj.ors.push(alternatives);
            continue;
        }
        let field = match value {
            Value::Object(m) => Field::Nested(parse_obj(m, depth + 1)?),
            Value::Array(items) => {
                if items.is_empty() {
                    return Err(invalid(format!("Empty arrays are not allowed (\"{key}\")")));
                }
                Field::Leaf(items.iter().map(parse_matcher).collect::<Result<_, _>>()?)
            }
            _ => {
                return Err(invalid(format!("\"{key}\" must be an object or an array")));
            }
        };
        obj.fields.push((key.clone(), field));
    }
    Ok(obj)
}

fn text_of<'a>(op: &str, v: &'a Value) -> Result<&'a str, EventsError> {
    v.as_str()
        .ok_or_else(|| invalid(format!("{op} match pattern must be a string")))
}

/// `s` or `{"equals-ignore-case": s}` (prefix and suffix take either).
fn folded_text(op: &str, v: &Value) -> Result<(String, bool), EventsError> {
    match v {
        Value::String(s) => Ok((s.clone(), false)),
        Value::Object(m) if m.len() == 1 && m.contains_key("equals-ignore-case") => {
            Ok((text_of(op, &m["equals-ignore-case"])?.to_owned(), true))
        }
        _ => Err(invalid(format!("{op} match pattern must be a string"))),
    }
}

fn parse_matcher(v: &Value) -> Result<Matcher, EventsError> {
    let map = match v {
        Value::Object(m) => m,
        Value::Array(_) => {
            return Err(invalid(
                "Match value must be String, number, true, false, or null",
            ));
        }
        literal => return Ok(Matcher::Exact(literal.clone())),
    };
    if map.len() != 1 {
        return Err(invalid("Only one key allowed in match expression"));
    }
    let (op, arg) = map.iter().next().expect("one key");
    match op.as_str() {
        "prefix" => {
            let (text, fold) = folded_text("prefix", arg)?;
            Ok(Matcher::Prefix { text, fold })
        }
        "suffix" => {
            let (text, fold) = folded_text("suffix", arg)?;
            Ok(Matcher::Suffix { text, fold })
        }
        "equals-ignore-case" => Ok(Matcher::EqualsIgnoreCase(
            text_of("equals-ignore-case", arg)?.to_owned(),
        )),
        "wildcard" => Ok(Matcher::Wildcard(wildcard(arg)?)),
        "anything-but" => Ok(Matcher::AnythingBut(anything_but(arg)?)),
        "numeric" => Ok(Matcher::Numeric(numeric(arg)?)),
        "exists" => match arg {
            Value::Bool(b) => Ok(Matcher::Exists(*b)),
            _ => Err(invalid(
                "exists match pattern must be either true or false.",
            )),
        },
        "cidr" => cidr(text_of("cidr", arg)?),
        other => Err(invalid(format!("Unrecognized match type {other}"))),
    }
}

fn wildcard(v: &Value) -> Result<String, EventsError> {
    let p = text_of("wildcard", v)?;
    if p.contains("**") {
        return Err(invalid(
            "Consecutive wildcard characters are not allowed in a wildcard pattern",
        ));
    }
    Ok(p.to_owned())
}

fn literal(v: &Value) -> Result<Value, EventsError> {
    match v {
        Value::String(_) | Value::Number(_) => Ok(v.clone()),
        _ => Err(invalid(
            "Inside anything-but list, only strings and numbers are allowed",
        )),
    }
}

fn strings(op: &str, v: &Value) -> Result<Vec<String>, EventsError> {
    match v {
        Value::Array(items) if !items.is_empty() => items
            .iter()
            .map(|i| text_of(op, i).map(str::to_owned))
            .collect(),
        other => Ok(vec![text_of(op, other)?.to_owned()]),
    }
}

fn anything_but(v: &Value) -> Result<AnythingBut, EventsError> {
    match v {
        Value::Array(items) if items.is_empty() => {
            Err(invalid("Empty arrays are not allowed (anything-but)"))
        }
        Value::Array(items) => Ok(AnythingBut::Values(
            items.iter().map(literal).collect::<Result<_, _>>()?,
        )),
        Value::Object(m) if m.len() == 1 => {
            let (op, arg) = m.iter().next().expect("one key");
            match op.as_str() {
                "prefix" => Ok(AnythingBut::Prefix(text_of("prefix", arg)?.to_owned())),
                "suffix" => Ok(AnythingBut::Suffix(text_of("suffix", arg)?.to_owned())),
                "equals-ignore-case" => Ok(AnythingBut::EqualsIgnoreCase(strings(
                    "equals-ignore-case",
                    arg,
                )?)),
                "wildcard" => {
                    let patterns = strings("wildcard", arg)?;
                    for p in &patterns {
                        wildcard(&Value::String(p.clone()))?;
                    }
                    Ok(AnythingBut::Wildcard(patterns))
                }
                other => Err(invalid(format!(
                    "Unsupported anything-but pattern: {other}"
                ))),
            }
        }
        Value::Object(_) => Err(invalid("Only one key allowed in match expression")),
        other => Ok(AnythingBut::Values(vec![literal(other)?])),
    }
}

fn numeric(v: &Value) -> Result<Vec<(Op, f64)>, EventsError> {
    let Value::Array(items) = v else {
        return Err(invalid("Value of numeric must be an array."));
    };
    if items.is_empty() || items.len() % 2 != 0 || items.len() > 4 {
        return Err(invalid(
            "Bad numeric range: expected one or two (operator, number) pairs",
        ));
    }
    let mut out = Vec::new();
    for pair in items.chunks(2) {
        let op = match pair[0].as_str() {
            Some("=") => Op::Eq,
            Some("<") => Op::Lt,
            Some("<=") => Op::Le,
            Some(">") => Op::Gt,
            Some(">=") => Op::Ge,
            _ => {
                return Err(invalid(format!(
                    "Unrecognized numeric range operator: {}",
                    pair[0]
                )));
            }
        };
        let n = pair[1]
            .as_f64()
            .ok_or_else(|| invalid(format!("Value of {} must be numeric", pair[0])))?;
        out.push((op, n));
    }
    // Two conditions make a range: one lower bound and one upper bound.
    if let [(a, _), (b, _)] = out[..] {
        let lower = |o: Op| matches!(o, Op::Gt | Op::Ge);
        let upper = |o: Op| matches!(o, Op::Lt | Op::Le);
        if !(lower(a) && upper(b) || upper(a) && lower(b)) {
            return Err(invalid(
                "Bad numeric range: a range needs one lower and one upper bound",
            ));
        }
    }
    Ok(out)
}

fn cidr(text: &str) -> Result<Matcher, EventsError> {
    let (addr, bits) = text
        .split_once('/')
        .ok_or_else(|| invalid("Malformed CIDR, one '/' required"))?;
    let network: IpAddr = addr
        .parse()
        .map_err(|_| invalid(format!("Invalid IP address in CIDR: {addr}")))?;
    let max = if network.is_ipv4() { 32 } else { 128 };
    let bits: u8 = bits
        .parse()
        .ok()
        .filter(|b| *b <= max)
        .ok_or_else(|| invalid(format!("Invalid prefix length in CIDR: {bits}")))?;
    Ok(Matcher::Cidr { network, bits })
}

// ---- matching ------------------------------------------------------------------------

fn match_obj(obj: &Obj, event: &Value) -> bool {
    let empty = Map::new();
    let map = event.as_object().unwrap_or(&empty);
    obj.fields.iter().all(|(key, field)| match field {
        // An absent nested object is matched as an empty one (so `exists: false` inside
        // it holds).
        Field::Nested(inner) => match map.get(key) {
            Some(v @ Value::Object(_)) => match_obj(inner, v),
            Some(_) => false,
            None => match_obj(inner, &Value::Object(Map::new())),
        },
        Field::Leaf(matchers) => match_leaf(matchers, map.get(key)),
    }) && obj
        .ors
        .iter()
        .all(|alternatives| alternatives.iter().any(|alt| match_obj(alt, event)))
}

fn match_leaf(matchers: &[Matcher], value: Option<&Value>) -> bool {
    let present = match value {
        None => false,
        Some(Value::Array(items)) => !items.is_empty(),
        Some(_) => true,
    };
    matchers.iter().any(|m| match (m, value) {
        (Matcher::Exists(want), _) => *want == present,
        (_, None) => false,
        (_, Some(Value::Array(items))) => items.iter().any(|item| match_scalar(m, item)),
        (_, Some(v)) => match_scalar(m, v),
    })
}

fn same_literal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

fn fold(s: &str) -> String {
    s.to_lowercase()
}

fn match_scalar(m: &Matcher, v: &Value) -> bool {
    let text = v.as_str();
    match m {
        Matcher::Exact(want) => same_literal(want, v),
        Matcher::Prefix { text: p, fold: f } => text.is_some_and(|t| {
            if *f {
                fold(t).starts_with(&fold(p))
            } else {
                t.starts_with(p.as_str())
            }
        }),
        Matcher::Suffix { text: p, fold: f } => text.is_some_and(|t| {
            if *f {
                fold(t).ends_with(&fold(p))
            } else {
                t.ends_with(p.as_str())
            }
        }),
        Matcher::EqualsIgnoreCase(want) => text.is_some_and(|t| fold(t) == fold(want)),
        Matcher::Wildcard(p) => text.is_some_and(|t| wildcard_match(p, t)),
        Matcher::AnythingBut(but) => anything_but_matches(but, v),
        Matcher::Numeric(conds) => v.as_f64().is_some_and(|n| {
            conds.iter().all(|(op, x)| match op {
                Op::Eq => n == *x,
                Op::Lt => n < *x,
                Op::Le => n <= *x,
                Op::Gt => n > *x,
                Op::Ge => n >= *x,
            })
        }),
        Matcher::Exists(_) => unreachable!("handled by match_leaf"),
        Matcher::Cidr { network, bits } => text
            .and_then(|t| t.parse::<IpAddr>().ok())
            .is_some_and(|ip| in_network(ip, *network, *bits)),
    }
}

fn anything_but_matches(but: &AnythingBut, v: &Value) -> bool {
    let text = v.as_str();
    match but {
        AnythingBut::Values(values) => {
            matches!(
                v,
                Value::String(_) | Value::Number(_) | Value::Bool(_) | Value::Null
            ) && !values.iter().any(|w| same_literal(w, v))
        }
        AnythingBut::Prefix(p) => text.is_some_and(|t| !t.starts_with(p.as_str())),
        AnythingBut::Suffix(p) => text.is_some_and(|t| !t.ends_with(p.as_str())),
        AnythingBut::EqualsIgnoreCase(values) => {
            text.is_some_and(|t| !values.iter().any(|w| fold(w) == fold(t)))
        }
        AnythingBut::Wildcard(patterns) => {
            text.is_some_and(|t| !patterns.iter().any(|p| wildcard_match(p, t)))
        }
    }
}

/// `*` matches any run of characters; `\*` is a literal star, `\\` a backslash.
fn wildcard_match(pattern: &str, text: &str) -> bool {
    enum Tok {
        Any,
        Lit(char),
    }
    let mut toks = Vec::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => toks.push(Tok::Lit(chars.next().unwrap_or('\\'))),
            '*' => toks.push(Tok::Any),
            c => toks.push(Tok::Lit(c)),
        }
    }
    let text: Vec<char> = text.chars().collect();
    // Greedy matching with backtracking to the last star: linear in practice, and
    // O(pattern × text) at worst (no exponential blow-up).
    let (mut t, mut p) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match toks.get(p) {
            Some(Tok::Lit(c)) if *c == text[t] => {
                t += 1;
                p += 1;
            }
            Some(Tok::Any) => {
                star = Some((p, t));
                p += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    toks[p..].iter().all(|tok| matches!(tok, Tok::Any))
}

fn in_network(ip: IpAddr, network: IpAddr, bits: u8) -> bool {
    match (ip, network) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests;
