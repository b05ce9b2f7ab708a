//! FilterLogEvents' filter patterns, for unstructured log events: the subset this
//! server matches, refused clearly beyond it rather than matched wrongly.
//!
//! A pattern is a list of terms separated by whitespace:
//! * `ERROR`: the event contains the text (case-sensitive, anywhere in the message);
//! * `"out of memory"`: a quoted phrase, matched as one text (`\"` and `\\` inside it
//!   stand for `"` and `\`);
//! * `-DEBUG`, `-"health check"`: the event must not contain it;
//! * `?ERROR ?WARN`: optional terms: when any are given, at least one must match;
//! * `%5\d\d%`: a regular expression (AWS's `%regex%` terms), searched in the message.
//!
//! An event matches when every plain term matches, no excluded term does, and at least
//! one optional term does (if there are any). An empty pattern matches everything.
//! JSON (`{ $.level = ... }`) and space-delimited (`[ip, user, ...]`) patterns are
//! refused with `InvalidParameterException`: they select fields of structured events,
//! which this server does not parse.

use regex::Regex;

use crate::error::{LogsError, invalid};

#[derive(Debug, Clone)]
enum Needle {
    Text(String),
    Regex(Regex),
}

impl Needle {
    fn found_in(&self, message: &str) -> bool {
        match self {
            Needle::Text(t) => message.contains(t.as_str()),
            Needle::Regex(r) => r.is_match(message),
        }
    }
}

/// A parsed filter pattern (see the module documentation).
#[derive(Debug, Clone, Default)]
pub struct FilterPattern {
    required: Vec<Needle>,
    excluded: Vec<Needle>,
    optional: Vec<Needle>,
}

impl FilterPattern {
    /// Parses `pattern`; `InvalidParameterException` for what this server does not
    /// match (structured patterns) or cannot read (an unclosed quote or `%`).
    pub fn parse(pattern: &str) -> Result<FilterPattern, LogsError> {
        let trimmed = pattern.trim();
        if trimmed.starts_with('{') || trimmed.starts_with('[') {
            return Err(invalid(
                "JSON and space-delimited filter patterns are not supported by this server; \
                 use terms, \"quoted phrases\", ?optional, -excluded or %regex% terms",
            ));
        }
        let mut out = FilterPattern::default();
        let mut rest = trimmed;
        while !rest.is_empty() {
            let (sign, body) = match rest.as_bytes()[0] {
                b'-' if rest.len() > 1 => (Some(b'-'), &rest[1..]),
                b'?' if rest.len() > 1 => (Some(b'?'), &rest[1..]),
                _ => (None, rest),
            };
            let (needle, after) = term(body)?;
            match sign {
                Some(b'-') => out.excluded.push(needle),
                Some(_) => out.optional.push(needle),
                None => out.required.push(needle),
            }
            rest = after.trim_start();
        }
        Ok(out)
    }

    /// Whether `message` matches.
    pub fn matches(&self, message: &str) -> bool {
        self.required.iter().all(|n| n.found_in(message))
            && !self.excluded.iter().any(|n| n.found_in(message))
            && (self.optional.is_empty() || self.optional.iter().any(|n| n.found_in(message)))
    }

    /// Whether every message matches (no term at all).
    pub fn is_empty(&self) -> bool {
        self.required.is_empty() && self.excluded.is_empty() && self.optional.is_empty()
    }
}

/// The term at the start of `s` and what follows it.
fn term(s: &str) -> Result<(Needle, &str), LogsError> {
    if let Some(quoted) = s.strip_prefix('"') {
        let mut text = String::new();
        let mut chars = quoted.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => return Ok((Needle::Text(text), &quoted[i + 1..])),
                '\\' => match chars.next() {
                    Some((_, e)) => text.push(e),
                    None => break,
                },
                c => text.push(c),
            }
        }
        return Err(invalid(format!(
            "Invalid filter pattern: unclosed quote in {s}"
        )));
    }
    if let Some(body) = s.strip_prefix('%') {
        let Some(end) = body.find('%') else {
            return Err(invalid(format!(
                "Invalid filter pattern: unclosed % in {s}"
            )));
        };
        let re = Regex::new(&body[..end])
            .map_err(|e| invalid(format!("Invalid regular expression in filter pattern: {e}")))?;
        return Ok((Needle::Regex(re), &body[end + 1..]));
    }
    let end = s.find(char::is_whitespace).unwrap_or(s.len());
    Ok((Needle::Text(s[..end].to_string()), &s[end..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pattern: &str, message: &str) -> bool {
        FilterPattern::parse(pattern).unwrap().matches(message)
    }

    #[test]
    fn empty_patterns_match_everything() {
        assert!(m("", "anything"));
        assert!(m("   ", ""));
        assert!(FilterPattern::parse(" ").unwrap().is_empty());
    }

    #[test]
    fn terms_are_all_required_and_case_sensitive() {
        assert!(m("ERROR", "[ERROR] disk full"));
        assert!(!m("ERROR", "error: disk full"));
        assert!(m("ERROR disk", "[ERROR] disk full"));
        assert!(!m("ERROR memory", "[ERROR] disk full"));
    }

    #[test]
    fn quoted_phrases_match_as_one_text() {
        assert!(m("\"disk full\"", "ERROR disk full"));
        assert!(!m("\"full disk\"", "ERROR disk full"));
        assert!(m("\"a \\\"b\\\"\" x", "x a \"b\""));
        assert!(m("\"a:b\"", "key a:b"));
    }

    #[test]
    fn optional_and_excluded_terms() {
        assert!(m("?ERROR ?WARN", "WARN low disk"));
        assert!(!m("?ERROR ?WARN", "INFO ok"));
        assert!(m("ERROR -retrying", "ERROR failed"));
        assert!(!m("ERROR -retrying", "ERROR failed, retrying"));
        assert!(!m("-\"health check\"", "GET /health check"));
        assert!(m("request ?500 ?503", "request 503"));
        assert!(!m("request ?500 ?503", "request 200"));
        // A lone sign is a term of its own.
        assert!(m("-", "a - b"));
    }

    #[test]
    fn regex_terms() {
        assert!(m("%5\\d\\d%", "status 503"));
        assert!(!m("%5\\d\\d%", "status 404"));
        assert!(m("GET %/api/v[12]/%", "GET /api/v2/users"));
    }

    #[test]
    fn what_is_refused() {
        for bad in [
            "{ $.level = \"ERROR\" }",
            "[ip, user]",
            "\"open",
            "%open",
            "%(%",
        ] {
            let e = FilterPattern::parse(bad).unwrap_err();
            assert!(matches!(e, LogsError::InvalidParameter(_)), "{bad}");
        }
    }
}
