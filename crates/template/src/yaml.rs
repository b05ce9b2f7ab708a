//! YAML templates, read with CloudFormation's rules rather than plain YAML 1.2.
//!
//! We consume `saphyr-parser` events (which carry tags and spans) and build the tree
//! ourselves, which is where the CloudFormation dialect lives:
//! - short-form tags become the long form: `!Ref X` → `{"Ref": "X"}`, `!GetAtt A.B` →
//!   `{"Fn::GetAtt": ["A", "B"]}`, `!Sub ...` → `{"Fn::Sub": ...}`; an unknown `!Tag` is an
//!   error rather than silently dropped;
//! - plain scalars: `true`/`false` (any case style) are booleans but `Yes`/`No`/`on`/`off`
//!   stay strings (CloudFormation's own YAML-to-JSON conversion, visible in the corpus'
//!   YAML/JSON pairs, keeps `Yes` a string); `~`/`null` are null; numbers accept YAML 1.1
//!   hex/octal/binary prefixes and underscores; timestamps and leading-zero numbers
//!   (account ids such as `012345678901`) stay strings;
//! - duplicate keys, null keys, complex keys and several documents are errors;
//! - aliases are expanded with a node budget and a byte budget (no "billion laughs", and
//!   no alias of a large scalar repeated a hundred thousand times): both are charged with
//!   the anchored node's size, known from when it was built, *before* the copy is made;
//!   nesting depth is bounded before we recurse.

use std::borrow::Cow;
use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, ScanError, Span, Tag};

use crate::budget::Budget;
use crate::error::{ErrorCode, TemplateError};
use crate::parse::Limits;
use crate::tree::{Entry, Kind, Map, Node, Pos};

/// Short-form tags CloudFormation accepts, without the `!`. All but `Ref` and `Condition`
/// expand to `Fn::<name>`.
const SHORT_FORMS: &[&str] = &[
    "Ref",
    "Condition",
    "And",
    "Base64",
    "Cidr",
    "Contains",
    "EachMemberEquals",
    "EachMemberIn",
    "Equals",
    "FindInMap",
    "ForEach",
    "GetAZs",
    "GetAtt",
    "GetStackOutput",
    "If",
    "ImportValue",
    "Join",
    "Length",
    "Not",
    "Or",
    "RefAll",
    "Select",
    "Split",
    "Sub",
    "ToJsonString",
    "Transform",
    "ValueOf",
    "ValueOfAll",
];

/// How many quoted scalars one template may have moved right before it is read again
/// (see [`parse`]): each costs one more reading, so a hostile template cannot make the
/// reader start over without end.
const MAX_REINDENTS: usize = 64;

/// Reads a YAML template. CloudFormation's YAML reader does not hold the continuation
/// lines of a quoted scalar or of a flow collection to the block's indentation
/// (`Value: "a` then `b"` at the key's column deploys, as does `[a,` then `b]` left of
/// it), while saphyr does, as YAML 1.2 says. So when saphyr refuses such a line for its
/// indentation, the line (for a quoted scalar: all its continuation lines) is moved
/// right and the template is read again. No value changes: a continuation line's
/// leading white space is folded away, and in a flow collection it is not content. Only
/// the columns of later diagnostics on those lines move.
pub(crate) fn parse(src: &str, limits: &Limits) -> Result<Node, TemplateError> {
    let mut text = Cow::Borrowed(src);
    let mut reindents = 0;
    loop {
        let (read, misindented) = {
            let mut b = Builder {
                parser: Parser::new_from_str(&text),
                anchors: HashMap::new(),
                nodes: 0,
                bytes: Budget::new(limits.max_expanded_bytes),
                limits,
                misindented: None,
            };
            (b.stream(), b.misindented)
        };
        let error = match read {
            Ok(node) => return Ok(node),
            Err(e) => e,
        };
        let moved = misindented
            .filter(|_| reindents < MAX_REINDENTS)
            .and_then(|m| match m {
                Misindented::Quote(at) => indent_quoted(&text, at),
                Misindented::FlowLine(line) => indent_flow_line(&text, line),
            });
        match moved {
            Some(fixed) => {
                reindents += 1;
                text = Cow::Owned(fixed);
            }
            None => return Err(error),
        }
    }
}

/// `text` with line `line` (1-based, inside a flow collection) indented one column past
/// the nearest non-blank line above it, which lies inside the same collection or opens
/// it, and so is indented as far as the block holding the collection (lines are moved in
/// order, top first); a plain scalar there must stand one column further.
fn indent_flow_line(text: &str, line: usize) -> Option<String> {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let index = line.checked_sub(1)?;
    let indent = |l: &str| l.len() - l.trim_start_matches(' ').len();
    let want = lines[..index]
        .iter()
        .rev()
        .find(|l| !l.trim().is_empty())
        .map(|l| indent(l) + 1)?;
    let have = indent(lines.get(index)?);
    if have >= want {
        return None;
    }
    let mut out = String::with_capacity(text.len() + want);
    for (i, l) in lines.iter().enumerate() {
        if i == index {
            out.extend(std::iter::repeat_n(' ', want - have));
        }
        out.push_str(l);
    }
    Some(out)
}

/// `text` with the continuation lines of the quoted scalar whose opening quote is the
/// `quote_at`-th character indented one column past that quote; `None` when the scalar
/// does not close (then the reader's own error stands).
fn indent_quoted(text: &str, quote_at: usize) -> Option<String> {
    let (start, quote) = text.char_indices().nth(quote_at)?;
    if quote != '"' && quote != '\'' {
        return None;
    }
    let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
    let want = text[line_start..start].chars().count() + 1;
    let mut out = String::with_capacity(text.len() + 64);
    out.push_str(&text[..=start]);
    let mut chars = text[start + 1..].char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        out.push(c);
        match c {
            '\\' if quote == '"' => {
                if let Some((_, escaped)) = chars.next() {
                    out.push(escaped);
                }
            }
            '\'' if quote == '\'' && chars.peek().is_some_and(|(_, n)| *n == '\'') => {
                out.push(chars.next()?.1);
            }
            c if c == quote => {
                out.push_str(&text[start + 1 + i + c.len_utf8()..]);
                return Some(out);
            }
            '\n' => {
                let rest = &text[start + 1 + i + 1..];
                let line = &rest[..rest.find('\n').unwrap_or(rest.len())];
                let have = line.len() - line.trim_start_matches([' ', '\t']).len();
                if !line.trim().is_empty() && have < want {
                    out.extend(std::iter::repeat_n(' ', want - have));
                }
            }
            _ => {}
        }
    }
    None
}

struct Builder<'a> {
    parser: Parser<'a, saphyr_parser::StrInput<'a>>,
    anchors: HashMap<usize, Anchored>,
    nodes: usize,
    /// Bytes of the tree as JSON text, aliases expanded (see [`crate::budget`]).
    bytes: Budget,
    limits: &'a Limits,
    /// What the scanner refused for its indentation, which [`parse`] then moves right.
    misindented: Option<Misindented>,
}

/// A place the scanner refused for its indentation alone.
#[derive(Clone, Copy)]
enum Misindented {
    /// A quoted scalar, by the character index of its opening quote.
    Quote(usize),
    /// A line (1-based) inside a flow collection.
    FlowLine(usize),
}

/// An anchored node and what one more copy of it costs.
struct Anchored {
    node: Node,
    nodes: usize,
    bytes: usize,
}

fn pos_of(span: &Span) -> Pos {
    Pos::new(span.start.line() as u32, span.start.col() as u32 + 1)
}

fn scan_error(e: ScanError) -> TemplateError {
    let m = e.marker();
    let pos = Pos::new(m.line() as u32, m.col() as u32 + 1);
    // The scanner bounds flow nesting itself; report it as the limit it is.
    let code = if e.info().contains("recursion limit") {
        ErrorCode::Limit
    } else {
        ErrorCode::Syntax
    };
    TemplateError::at(
        code,
        format!(
            "Template format error: YAML not well-formed. (line {}, column {}): {}",
            pos.line,
            pos.col,
            e.info()
        ),
        pos,
    )
}

fn syntax(pos: Pos, msg: String) -> TemplateError {
    TemplateError::at(
        ErrorCode::Syntax,
        format!("Template format error: {msg}"),
        pos,
    )
}

impl<'a> Builder<'a> {
    fn next(&mut self) -> Result<(Event<'a>, Span), TemplateError> {
        match self.parser.next_event() {
            Some(Ok(ev)) => Ok(ev),
            Some(Err(e)) => {
                self.misindented = match e.info() {
                    "invalid indentation in quoted scalar" => {
                        Some(Misindented::Quote(e.marker().index()))
                    }
                    // Only inside a flow collection: in block context the scanner closes
                    // the blocks a less indented line ends instead.
                    "invalid indentation" | "invalid indentation in flow construct" => {
                        Some(Misindented::FlowLine(e.marker().line()))
                    }
                    _ => None,
                };
                Err(scan_error(e))
            }
            None => Err(TemplateError::new(
                ErrorCode::Syntax,
                "Template format error: unexpected end of YAML",
                None,
            )),
        }
    }

    fn stream(&mut self) -> Result<Node, TemplateError> {
        let mut root = None;
        loop {
            let (ev, span) = self.next()?;
            match ev {
                Event::StreamStart | Event::DocumentEnd | Event::Nothing => {}
                Event::StreamEnd => break,
                Event::DocumentStart(_) => {
                    if root.is_some() {
                        return Err(syntax(
                            pos_of(&span),
                            "a template must be a single YAML document, found several".into(),
                        ));
                    }
                    let (ev, span) = self.next()?;
                    root = Some(self.node(ev, span, 0)?);
                }
                _ => return Err(syntax(pos_of(&span), "unexpected YAML event".into())),
            }
        }
        root.ok_or_else(|| {
            TemplateError::at(
                ErrorCode::Syntax,
                "Template format error: the template is empty",
                Pos::new(1, 1),
            )
        })
    }

    fn count(&mut self, n: usize, pos: Pos) -> Result<(), TemplateError> {
        self.nodes += n;
        self.limits
            .check_nodes(self.nodes, " after expanding YAML aliases", || pos)
    }

    fn node(&mut self, ev: Event<'a>, span: Span, depth: usize) -> Result<Node, TemplateError> {
        let pos = pos_of(&span);
        self.limits.check_depth(depth, || pos)?;
        self.count(1, pos)?;
        let (nodes_before, bytes_before) = (self.nodes, self.bytes.spent());
        let (node, anchor, tag) = match ev {
            Event::Alias(id) => {
                let a = self
                    .anchors
                    .get(&id)
                    .ok_or_else(|| syntax(pos, "alias to an unknown anchor".into()))?;
                let (nodes, bytes) = (a.nodes, a.bytes);
                self.count(nodes, pos)?;
                self.bytes.charge(bytes, pos, "YAML alias")?;
                let mut n = self.anchors[&id].node.clone();
                n.pos = pos;
                return Ok(n);
            }
            Event::Scalar(value, style, anchor, tag) => {
                // The text is in the body already; what counts is what aliases repeat.
                self.bytes.charge(value.len() + 2, pos, "YAML scalar")?;
                // A tagged scalar keeps its text (`!Ref 80` names "80"), except that an empty
                // plain one (`!GetAZs` alone) is null, as in untagged YAML.
                let node = match (&tag, style) {
                    (Some(_), ScalarStyle::Plain) if value.is_empty() => Node::new(pos, Kind::Null),
                    (Some(_), _) => Node::new(pos, Kind::String(value.into_owned())),
                    (None, _) => Node::new(pos, resolve_plain(value, style)),
                };
                (node, anchor, tag)
            }
            Event::SequenceStart(anchor, tag) => {
                self.bytes.charge(2, pos, "YAML sequence")?;
                let mut items = Vec::new();
                loop {
                    let (ev, span) = self.next()?;
                    if matches!(ev, Event::SequenceEnd) {
                        break;
                    }
                    items.push(self.node(ev, span, depth + 1)?);
                }
                (Node::new(pos, Kind::List(items)), anchor, tag)
            }
            Event::MappingStart(anchor, tag) => {
                self.bytes.charge(2, pos, "YAML mapping")?;
                let mut map = Map::new();
                loop {
                    let (ev, kspan) = self.next()?;
                    let key_pos = pos_of(&kspan);
                    let key = match ev {
                        Event::MappingEnd => break,
                        Event::Scalar(k, style, _, ktag) => {
                            if ktag.is_none()
                                && style == ScalarStyle::Plain
                                && matches!(&*k, "" | "~" | "null" | "Null" | "NULL")
                            {
                                return Err(syntax(key_pos, "null keys are not allowed".into()));
                            }
                            self.bytes.charge(k.len() + 3, key_pos, "YAML key")?;
                            k.into_owned()
                        }
                        Event::Alias(id) => match self
                            .anchors
                            .get(&id)
                            .and_then(|a| a.node.scalar_text())
                        {
                            Some(k) => {
                                self.bytes.charge(k.len() + 3, key_pos, "YAML alias")?;
                                k
                            }
                            None => {
                                return Err(syntax(key_pos, "mapping keys must be strings".into()));
                            }
                        },
                        _ => return Err(syntax(key_pos, "mapping keys must be strings".into())),
                    };
                    let (vev, vspan) = self.next()?;
                    let value = self.node(vev, vspan, depth + 1)?;
                    if map.contains_key(&key) {
                        return Err(syntax(
                            key_pos,
                            format!(
                                "duplicate key '{key}' (line {}, column {})",
                                key_pos.line, key_pos.col
                            ),
                        ));
                    }
                    map.insert(key, Entry { key_pos, value });
                }
                (Node::new(pos, Kind::Map(map)), anchor, tag)
            }
            _ => return Err(syntax(pos, "unexpected YAML event".into())),
        };
        let node = match tag {
            Some(tag) => apply_tag(node, &tag, pos)?,
            None => node,
        };
        if anchor != 0 {
            // What the node cost to build is what each alias of it will cost (a tag adds
            // a one-member map around it: a few bytes, counted once here).
            let anchored = Anchored {
                node: node.clone(),
                nodes: self.nodes - nodes_before + 1,
                bytes: self.bytes.spent() - bytes_before + 16,
            };
            self.anchors.insert(anchor, anchored);
        }
        Ok(node)
    }
}

/// Turns a tagged node into the long form of its intrinsic (or applies a core-schema tag).
fn apply_tag(node: Node, tag: &Tag, pos: Pos) -> Result<Node, TemplateError> {
    if tag.is_yaml_core_schema() {
        return Ok(match (tag.suffix.as_str(), node.kind) {
            ("str", Kind::String(s)) => Node::new(pos, Kind::String(s)),
            (_, Kind::String(s)) => {
                Node::new(pos, resolve_plain(Cow::Owned(s), ScalarStyle::Plain))
            }
            (_, kind) => Node::new(pos, kind),
        });
    }
    if tag.handle != "!" || !SHORT_FORMS.contains(&tag.suffix.as_str()) {
        return Err(syntax(pos, format!("unknown YAML tag {tag}")));
    }
    let name = tag.suffix.as_str();
    let value = match (name, node.kind) {
        ("GetAtt", Kind::String(s)) => {
            // `!GetAtt Res.Attr.Sub` splits at the first dot only.
            match s.split_once('.') {
                Some((r, a)) => Node::new(
                    pos,
                    Kind::List(vec![Node::string(pos, r), Node::string(pos, a)]),
                ),
                None => Node::string(pos, s),
            }
        }
        (_, kind) => Node::new(pos, kind),
    };
    let key = match name {
        "Ref" | "Condition" => name.to_string(),
        _ => format!("Fn::{name}"),
    };
    let mut map = Map::new();
    map.insert(
        key,
        Entry {
            key_pos: pos,
            value,
        },
    );
    Ok(Node::new(pos, Kind::Map(map)))
}

/// Resolves an untagged scalar the way CloudFormation reads YAML.
fn resolve_plain(value: Cow<'_, str>, style: ScalarStyle) -> Kind {
    if style != ScalarStyle::Plain {
        return Kind::String(value.into_owned());
    }
    let v: &str = &value;
    match v {
        "" | "~" | "null" | "Null" | "NULL" => return Kind::Null,
        "true" | "True" | "TRUE" => return Kind::Bool(true),
        "false" | "False" | "FALSE" => return Kind::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Kind::Number(".inf".into());
        }
        "-.inf" | "-.Inf" | "-.INF" => return Kind::Number("-.inf".into()),
        ".nan" | ".NaN" | ".NAN" => return Kind::Number(".nan".into()),
        _ => {}
    }
    match number(v) {
        Some(n) => Kind::Number(n),
        None => Kind::String(value.into_owned()),
    }
}

/// Canonical text of a YAML number, or `None` when `v` is not one.
fn number(v: &str) -> Option<String> {
    let (sign, body) = match v.as_bytes().first()? {
        b'-' => ("-", &v[1..]),
        b'+' => ("", &v[1..]),
        _ => ("", v),
    };
    if body.is_empty() {
        return None;
    }
    let radix = |digits: &str, r: u32| -> Option<String> {
        let clean: String = digits.chars().filter(|&c| c != '_').collect();
        if clean.is_empty() {
            return None;
        }
        let n = i128::from_str_radix(&clean, r).ok()?;
        Some(format!("{sign}{n}"))
    };
    if let Some(h) = body.strip_prefix("0x") {
        return radix(h, 16);
    }
    if let Some(o) = body.strip_prefix("0o") {
        return radix(o, 8);
    }
    if let Some(b) = body.strip_prefix("0b") {
        return radix(b, 2);
    }
    let bytes = body.as_bytes();
    let starts_number = bytes[0].is_ascii_digit()
        || (bytes[0] == b'.' && bytes.len() > 1 && bytes[1].is_ascii_digit());
    if !starts_number {
        return None;
    }
    // Digits, at most one dot, an optional exponent; underscores allowed between digits.
    let mut seen_dot = false;
    let mut seen_exp = false;
    let mut prev = b' ';
    let mut clean = String::with_capacity(body.len());
    for (i, &c) in bytes.iter().enumerate() {
        match c {
            b'0'..=b'9' => clean.push(c as char),
            b'_' if !seen_exp && !seen_dot && prev.is_ascii_digit() => {}
            b'.' if !seen_dot && !seen_exp => {
                seen_dot = true;
                clean.push('.');
            }
            b'e' | b'E' if !seen_exp && prev.is_ascii_digit() && i + 1 < bytes.len() => {
                seen_exp = true;
                clean.push('e');
            }
            b'+' | b'-' if prev == b'e' || prev == b'E' => clean.push(c as char),
            _ => return None,
        }
        prev = c;
    }
    if !prev.is_ascii_digit() && prev != b'.' {
        return None;
    }
    // Leading-zero integers (account ids, file modes) stay strings.
    if !seen_dot && !seen_exp && clean.len() > 1 && clean.starts_with('0') {
        return None;
    }
    if seen_dot
        && clean
            .split('.')
            .next()
            .is_some_and(|ip| ip.len() > 1 && ip.starts_with('0'))
    {
        return None;
    }
    Some(format!("{sign}{clean}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn p(s: &str) -> Result<Node, TemplateError> {
        parse(s, &Limits::default())
    }

    fn j(s: &str) -> serde_json::Value {
        p(s).unwrap().to_json()
    }

    #[test]
    fn short_forms_expand_to_long_forms() {
        let v = j(
            "A: !Ref X\nB: !GetAtt R.Arn.Sub\nC: !GetAtt [R, Arn]\nD: !Sub '${X}'\nE: !Condition C\nF: !If [C, !Ref X, !Ref AWS::NoValue]\nG: !GetAZs ''\nH: !GetAZs\n",
        );
        assert_eq!(
            v,
            json!({
                "A": {"Ref": "X"},
                "B": {"Fn::GetAtt": ["R", "Arn.Sub"]},
                "C": {"Fn::GetAtt": ["R", "Arn"]},
                "D": {"Fn::Sub": "${X}"},
                "E": {"Condition": "C"},
                "F": {"Fn::If": ["C", {"Ref": "X"}, {"Ref": "AWS::NoValue"}]},
                "G": {"Fn::GetAZs": ""},
                "H": {"Fn::GetAZs": null}
            })
        );
    }

    #[test]
    fn scalars_follow_cloudformation_rules() {
        let v = j(
            "a: Yes\nb: 0x1F\nc: 012345678901\nd: 2010-09-09\ne: 1_000\nf: 1.50\ng: ~\nh: '80'\ni: 80\nj: 1e3\nk: 1.2.3\n",
        );
        assert_eq!(
            v,
            json!({"a": "Yes", "b": 31, "c": "012345678901", "d": "2010-09-09", "e": 1000, "f": 1.5,
                   "g": null, "h": "80", "i": 80, "j": 1000.0, "k": "1.2.3"})
        );
        // The number keeps its text for string contexts.
        let n = p("f: 1.50").unwrap();
        assert_eq!(n.get("f").unwrap().scalar_text().as_deref(), Some("1.50"));
    }

    #[test]
    fn quoted_scalars_may_close_at_the_keys_indentation() {
        // CloudFormation reads these (issue #23, item 2); YAML 1.2 readers refuse them.
        for (src, want) in [
            (
                "a:\n  b: \"line one\n    line two\n  \"\n  c: 1\n",
                json!({"a": {"b": "line one line two ", "c": 1}}),
            ),
            (
                "a:\n  b: \"one \\\"q\\\"\ntwo\"\nd: [x,\n y]\n",
                json!({"a": {"b": "one \"q\" two"}, "d": ["x", "y"]}),
            ),
            ("a:\n  b: 'it''s\n  two'\n", json!({"a": {"b": "it's two"}})),
            ("a:\n  - \"x\n  y\"\n", json!({"a": ["x y"]})),
            (
                "a:\n  b: !Join [',', [x,\n y,\nz]]\n  c: {d: 1,\n e: 2\n }\n",
                json!({"a": {"b": {"Fn::Join": [",", ["x", "y", "z"]]}, "c": {"d": 1, "e": 2}}}),
            ),
        ] {
            assert_eq!(j(src), want, "{src}");
        }
        // An unterminated scalar stays an error, and a template of many such scalars is
        // read again a bounded number of times.
        assert!(p("a:\n  b: \"open\nc: 1\n").is_err());
        let many: String = (0..MAX_REINDENTS + 1)
            .map(|i| format!("k{i}:\n  b: \"x\n y\"\n"))
            .collect();
        let err = p(&many).unwrap_err();
        assert!(
            err.message.contains("invalid indentation in quoted scalar"),
            "{err:?}"
        );
        let fewer: String = (0..MAX_REINDENTS)
            .map(|i| format!("k{i}:\n  b: \"x\n y\"\n"))
            .collect();
        assert_eq!(j(&fewer)["k0"]["b"], "x y");
    }

    #[test]
    fn positions_are_one_based() {
        let n = p("Resources:\n  Bucket:\n    Type: AWS::S3::Bucket\n").unwrap();
        let r = n.get("Resources").unwrap().as_map().unwrap();
        assert_eq!(r["Bucket"].key_pos, Pos::new(2, 3));
        assert_eq!(r["Bucket"].value.get("Type").unwrap().pos, Pos::new(3, 11));
    }

    #[test]
    fn rejects_dialect_violations() {
        for (src, needle) in [
            ("a: 1\na: 2\n", "duplicate key 'a'"),
            ("a: 1\n---\nb: 2\n", "single YAML document"),
            ("~: 1\n", "null keys"),
            ("a: !Bogus x\n", "unknown YAML tag"),
            ("? [a]\n: 1\n", "keys must be strings"),
            ("a: [1, 2\n", "not well-formed"),
        ] {
            let e = p(src).unwrap_err();
            assert!(e.message.contains(needle), "{src:?}: {}", e.message);
            assert!(e.location.is_some());
        }
    }

    #[test]
    fn billion_laughs_is_bounded() {
        let mut s = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let prev = (b'a' + i - 1) as char;
            let cur = (b'a' + i) as char;
            s.push_str(&format!("{cur}: &{cur} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"));
        }
        let e = p(&s).unwrap_err();
        assert_eq!(e.code, ErrorCode::Limit);
    }

    /// The bombs: a 1 MB body with a 500 KB scalar and 160k aliases of it, and a
    /// 950 KB one with a 250 KB scalar and 100k aliases (80 GB and 25 GB expanded).
    #[test]
    fn aliases_of_a_large_scalar_are_refused_before_they_are_copied() {
        for (scalar, aliases) in [(500_000, 160_000), (250_000, 100_000)] {
            let body = format!(
                "Metadata:\n  A: &a '{}'\n  B: [{}]\n",
                "x".repeat(scalar),
                vec!["*a"; aliases].join(",")
            );
            assert!(body.len() <= crate::MAX_S3_BODY_BYTES, "{}", body.len());
            let (r, peak, took) = crate::test_alloc::measure(|| p(&body));
            let e = r.unwrap_err();
            assert_eq!(e.code, ErrorCode::Limit, "{}", e.message);
            assert!(e.message.contains("YAML alias at line 3"), "{}", e.message);
            assert_eq!(e.location.map(|l| l.line), Some(3));
            // The budget (16 MiB) plus the tree built so far: tens of MB, not gigabytes.
            assert!(peak < 64 << 20, "peak {peak} bytes");
            assert!(took < std::time::Duration::from_secs(1), "{took:?}");
        }
    }

    #[test]
    fn aliases_within_the_budget_expand() {
        let body = format!("A: &a '{}'\nB: [*a, *a, *a]\n", "x".repeat(100_000));
        let n = p(&body).unwrap();
        assert_eq!(n.get("B").unwrap().as_list().unwrap().len(), 3);
    }

    #[test]
    fn small_aliases_work() {
        assert_eq!(
            j("a: &x {k: v}\nb: *x\n"),
            json!({"a": {"k": "v"}, "b": {"k": "v"}})
        );
    }

    #[test]
    fn depth_is_bounded() {
        let deep = format!("{}1{}", "[".repeat(50_000), "]".repeat(50_000));
        assert_eq!(p(&deep).unwrap_err().code, ErrorCode::Limit);
        let mut block = String::new();
        for i in 0..300 {
            block.push_str(&" ".repeat(i));
            block.push_str("k:\n");
        }
        assert_eq!(p(&block).unwrap_err().code, ErrorCode::Limit);
    }
}
