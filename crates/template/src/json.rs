//! A small JSON parser that records the position of every value and key.
//!
//! No maintained JSON crate gives spans for every node together with duplicate-key
//! detection, and JSON is small enough to parse carefully by hand: recursive descent with
//! an explicit depth bound, so hostile input can neither overflow the stack nor loop.

use crate::error::{ErrorCode, TemplateError};
use crate::parse::Limits;
use crate::tree::{Entry, Kind, Map, Node, Pos};

pub(crate) fn parse(src: &str, limits: &Limits) -> Result<Node, TemplateError> {
    let mut p = Parser {
        s: src.as_bytes(),
        src,
        i: 0,
        line: 1,
        line_start: 0,
        limits,
        nodes: 0,
    };
    p.ws();
    let v = p.value(0)?;
    p.ws();
    if p.i < p.s.len() {
        return Err(p.err("unexpected content after the top-level value"));
    }
    Ok(v)
}

struct Parser<'a> {
    s: &'a [u8],
    src: &'a str,
    i: usize,
    line: u32,
    line_start: usize,
    limits: &'a Limits,
    nodes: usize,
}

impl Parser<'_> {
    fn pos(&self) -> Pos {
        let start = self.line_start.min(self.i);
        // Columns count characters; `i` is always on a char boundary when we ask.
        let col = self
            .src
            .get(start..self.i)
            .map_or(self.i - start, |t| t.chars().count());
        Pos::new(self.line, col as u32 + 1)
    }

    fn err(&self, what: &str) -> TemplateError {
        let p = self.pos();
        TemplateError::at(
            ErrorCode::Syntax,
            format!(
                "Template format error: JSON not well-formed. (line {}, column {}): {what}",
                p.line, p.col
            ),
            p,
        )
    }

    fn ws(&mut self) {
        while let Some(&c) = self.s.get(self.i) {
            match c {
                b' ' | b'\t' | b'\r' => self.i += 1,
                b'\n' => {
                    self.i += 1;
                    self.line += 1;
                    self.line_start = self.i;
                }
                _ => break,
            }
        }
    }

    fn value(&mut self, depth: usize) -> Result<Node, TemplateError> {
        self.limits.check_depth(depth, || self.pos())?;
        self.nodes += 1;
        self.limits.check_nodes(self.nodes, "", || self.pos())?;
        let pos = self.pos();
        match self.s.get(self.i) {
            None => Err(self.err("unexpected end of input")),
            Some(b'{') => {
                let mut map = Map::new();
                self.items(b'}', |p| {
                    let key_pos = p.pos();
                    if p.s.get(p.i) != Some(&b'"') {
                        return Err(p.err("expected a string key"));
                    }
                    let key = p.string()?;
                    p.ws();
                    if p.s.get(p.i) != Some(&b':') {
                        return Err(p.err("expected ':'"));
                    }
                    p.i += 1;
                    p.ws();
                    let value = p.value(depth + 1)?;
                    if map.contains_key(&key) {
                        return Err(TemplateError::at(
                            ErrorCode::Syntax,
                            format!(
                                "Template format error: duplicate key '{key}' (line {}, column {})",
                                key_pos.line, key_pos.col
                            ),
                            key_pos,
                        ));
                    }
                    map.insert(key, Entry { key_pos, value });
                    Ok(())
                })?;
                Ok(Node::new(pos, Kind::Map(map)))
            }
            Some(b'[') => {
                let mut list = Vec::new();
                self.items(b']', |p| {
                    list.push(p.value(depth + 1)?);
                    Ok(())
                })?;
                Ok(Node::new(pos, Kind::List(list)))
            }
            Some(b'"') => Ok(Node::new(pos, Kind::String(self.string()?))),
            Some(b't') => self.word("true", Kind::Bool(true), pos),
            Some(b'f') => self.word("false", Kind::Bool(false), pos),
            Some(b'n') => self.word("null", Kind::Null, pos),
            Some(b'-' | b'0'..=b'9') => self.number(pos),
            Some(_) => Err(self.err("unexpected character")),
        }
    }

    /// An object's or array's items, from its opening byte (at `i`) past `close`: none,
    /// or `item`s separated by commas. White space around each item is skipped here, so
    /// objects and arrays read their separators the same way.
    fn items(
        &mut self,
        close: u8,
        mut item: impl FnMut(&mut Self) -> Result<(), TemplateError>,
    ) -> Result<(), TemplateError> {
        self.i += 1;
        self.ws();
        if self.s.get(self.i) == Some(&close) {
            self.i += 1;
            return Ok(());
        }
        loop {
            self.ws();
            item(self)?;
            self.ws();
            match self.s.get(self.i) {
                Some(b',') => self.i += 1,
                Some(&c) if c == close => {
                    self.i += 1;
                    return Ok(());
                }
                _ if close == b'}' => return Err(self.err("expected ',' or '}'")),
                _ => return Err(self.err("expected ',' or ']'")),
            }
        }
    }

    fn word(&mut self, w: &str, kind: Kind, pos: Pos) -> Result<Node, TemplateError> {
        if self.s[self.i..].starts_with(w.as_bytes()) {
            self.i += w.len();
            Ok(Node::new(pos, kind))
        } else {
            Err(self.err("invalid literal"))
        }
    }

    fn number(&mut self, pos: Pos) -> Result<Node, TemplateError> {
        let start = self.i;
        if self.s.get(self.i) == Some(&b'-') {
            self.i += 1;
        }
        match self.s.get(self.i) {
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(self.err("invalid number")),
        }
        if self.s.get(self.i) == Some(&b'.') {
            self.i += 1;
            if !self.s.get(self.i).is_some_and(u8::is_ascii_digit) {
                return Err(self.err("invalid number"));
            }
            self.digits();
        }
        if matches!(self.s.get(self.i), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.s.get(self.i), Some(b'+' | b'-')) {
                self.i += 1;
            }
            if !self.s.get(self.i).is_some_and(u8::is_ascii_digit) {
                return Err(self.err("invalid number"));
            }
            self.digits();
        }
        Ok(Node::new(
            pos,
            Kind::Number(self.src[start..self.i].to_string()),
        ))
    }

    fn digits(&mut self) {
        while self.s.get(self.i).is_some_and(u8::is_ascii_digit) {
            self.i += 1;
        }
    }

    fn hex4(&mut self) -> Result<u32, TemplateError> {
        let h = self
            .s
            .get(self.i..self.i + 4)
            .ok_or_else(|| self.err("bad \\u escape"))?;
        let h = std::str::from_utf8(h).map_err(|_| self.err("bad \\u escape"))?;
        let v = u32::from_str_radix(h, 16).map_err(|_| self.err("bad \\u escape"))?;
        self.i += 4;
        Ok(v)
    }

    /// Parses a string starting at the opening quote.
    fn string(&mut self) -> Result<String, TemplateError> {
        self.i += 1;
        let mut out = String::new();
        loop {
            let run = self.i;
            while let Some(&c) = self.s.get(self.i) {
                if c == b'"' || c == b'\\' || c < 0x20 {
                    break;
                }
                self.i += 1;
            }
            out.push_str(&self.src[run..self.i]);
            match self.s.get(self.i) {
                None => return Err(self.err("unterminated string")),
                Some(b'"') => {
                    self.i += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.i += 1;
                    let c = *self
                        .s
                        .get(self.i)
                        .ok_or_else(|| self.err("unterminated string"))?;
                    self.i += 1;
                    match c {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => {
                            let mut cp = self.hex4()?;
                            if (0xD800..0xDC00).contains(&cp)
                                && self.s[self.i..].starts_with(b"\\u")
                            {
                                self.i += 2;
                                let lo = self.hex4()?;
                                if !(0xDC00..0xE000).contains(&lo) {
                                    return Err(self.err("invalid surrogate pair"));
                                }
                                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                            }
                            out.push(
                                char::from_u32(cp).ok_or_else(|| self.err("invalid \\u escape"))?,
                            );
                        }
                        _ => return Err(self.err("invalid escape")),
                    }
                }
                Some(_) => return Err(self.err("control character in string")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<Node, TemplateError> {
        parse(s, &Limits::default())
    }

    #[test]
    fn positions_are_recorded() {
        let n = p("{\n  \"A\": [1, \"x\"],\n  \"B\": {\"C\": true}\n}").unwrap();
        let m = n.as_map().unwrap();
        assert_eq!(m["A"].key_pos, Pos::new(2, 3));
        assert_eq!(m["A"].value.pos, Pos::new(2, 8));
        assert_eq!(m["B"].value.get("C").unwrap().pos, Pos::new(3, 14));
    }

    #[test]
    fn duplicate_keys_are_rejected_with_position() {
        let e = p("{\"A\": 1,\n \"A\": 2}").unwrap_err();
        assert_eq!(e.location, Some(Pos::new(2, 2)));
        assert!(e.message.contains("duplicate key 'A'"));
    }

    #[test]
    fn escapes_and_unicode() {
        let n = p(r#"["a\nb", "\u00e9\ud83d\ude00", "é"]"#).unwrap();
        let l = n.as_list().unwrap();
        assert_eq!(l[0].as_str(), Some("a\nb"));
        assert_eq!(l[1].as_str(), Some("é😀"));
    }

    #[test]
    fn malformed_inputs_fail() {
        for s in [
            "",
            "{",
            "[1,]",
            "{\"a\" 1}",
            "01",
            "1.",
            "\"abc",
            "tru",
            "{} x",
            "[\"\\x\"]",
        ] {
            assert!(p(s).is_err(), "{s:?} should fail");
        }
    }

    #[test]
    fn depth_is_bounded() {
        let deep = "[".repeat(100_000);
        let e = p(&deep).unwrap_err();
        assert_eq!(e.code, ErrorCode::Limit);
    }
}
