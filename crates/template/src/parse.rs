//! Entry point of parsing: size limits, format detection, JSON or YAML.

use crate::budget::MAX_EXPANDED_BYTES;
use crate::error::{ErrorCode, TemplateError};
use crate::tree::{Node, Pos};
use crate::{json, yaml};

/// Largest `TemplateBody` CloudFormation accepts inline in a request.
pub const MAX_INLINE_BODY_BYTES: usize = 51_200;
/// Largest template CloudFormation reads from S3 (`TemplateURL`): 1 MB.
pub const MAX_S3_BODY_BYTES: usize = 1_048_576;

/// Bounds that keep a hostile template from exhausting memory or the stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Maximum body size in bytes (see [`MAX_INLINE_BODY_BYTES`], [`MAX_S3_BODY_BYTES`]).
    pub max_bytes: usize,
    /// Maximum nesting of maps and lists.
    pub max_depth: usize,
    /// Maximum number of values in the tree, counting YAML alias expansions.
    pub max_nodes: usize,
    /// Maximum size of the tree as JSON text, counting YAML alias expansions; also what
    /// `Fn::ForEach` expansion and each evaluation may produce (see [`crate::budget`]).
    pub max_expanded_bytes: usize,
}

impl Limits {
    /// Limits for a template passed inline (`TemplateBody`).
    pub fn inline() -> Self {
        Limits {
            max_bytes: MAX_INLINE_BODY_BYTES,
            ..Limits::default()
        }
    }

    /// Limits for a template read from S3 (`TemplateURL`).
    pub fn s3() -> Self {
        Limits {
            max_bytes: MAX_S3_BODY_BYTES,
            ..Limits::default()
        }
    }

    /// The refusal of a map or list nested `depth` deep when that is beyond
    /// `max_depth`, worded the same for JSON and YAML; `pos` (where the value starts) is
    /// only computed then.
    pub(crate) fn check_depth(
        &self,
        depth: usize,
        pos: impl FnOnce() -> Pos,
    ) -> Result<(), TemplateError> {
        beyond(depth, self.max_depth, pos, |max| {
            format!("Template format error: nesting deeper than {max} levels")
        })
    }

    /// The refusal once `nodes` values were read when that is beyond `max_nodes`, worded
    /// the same for JSON and YAML but for `cause`, the message's tail (YAML names alias
    /// expansion, the usual way there); `pos` is only computed then.
    pub(crate) fn check_nodes(
        &self,
        nodes: usize,
        cause: &str,
        pos: impl FnOnce() -> Pos,
    ) -> Result<(), TemplateError> {
        beyond(nodes, self.max_nodes, pos, |max| {
            format!("Template format error: more than {max} values{cause}")
        })
    }
}

/// A [`ErrorCode::Limit`] refusal when `n` is beyond `max`, the message (given `max`) and
/// position only made then: the limits are checked once per value read.
fn beyond(
    n: usize,
    max: usize,
    pos: impl FnOnce() -> Pos,
    message: impl FnOnce(usize) -> String,
) -> Result<(), TemplateError> {
    if n > max {
        return Err(TemplateError::at(ErrorCode::Limit, message(max), pos()));
    }
    Ok(())
}

impl Default for Limits {
    /// S3 size limit, depth 128, at most 1,000,000 values (twice what a 1 MB body can
    /// spell out without aliases) and [`MAX_EXPANDED_BYTES`] expanded.
    fn default() -> Self {
        Limits {
            max_bytes: MAX_S3_BODY_BYTES,
            max_depth: 128,
            max_nodes: 1_000_000,
            max_expanded_bytes: MAX_EXPANDED_BYTES,
        }
    }
}

/// Which syntax a body was written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Yaml,
}

/// Parses a template body into a tree. A body whose first non-blank character is `{` is
/// JSON; if it is not valid JSON but is valid YAML (a flow mapping), it is read as YAML, as
/// CloudFormation does; otherwise the JSON error is reported.
pub fn parse_tree(body: &str, limits: &Limits) -> Result<(Node, Format), TemplateError> {
    if body.len() > limits.max_bytes {
        return Err(TemplateError::new(
            ErrorCode::Limit,
            format!(
                "Template may not exceed {} bytes in size (this one has {})",
                limits.max_bytes,
                body.len()
            ),
            None,
        ));
    }
    let body = body.strip_prefix('\u{feff}').unwrap_or(body);
    if body.trim_start().starts_with('{') {
        match json::parse(body, limits) {
            Ok(n) => Ok((n, Format::Json)),
            Err(e) if e.code == ErrorCode::Limit => Err(e),
            Err(e) => yaml::parse(body, limits)
                .map(|n| (n, Format::Yaml))
                .map_err(|_| e),
        }
    } else {
        yaml::parse(body, limits).map(|n| (n, Format::Yaml))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_limits_are_enforced() {
        let body = format!("Description: {}\n", "x".repeat(MAX_INLINE_BODY_BYTES));
        assert_eq!(
            parse_tree(&body, &Limits::inline()).unwrap_err().code,
            ErrorCode::Limit
        );
        assert!(parse_tree(&body, &Limits::s3()).is_ok());
    }

    #[test]
    fn detects_format() {
        assert_eq!(
            parse_tree("{\"a\": 1}", &Limits::default()).unwrap().1,
            Format::Json
        );
        assert_eq!(
            parse_tree("{a: 1}", &Limits::default()).unwrap().1,
            Format::Yaml
        );
        assert_eq!(
            parse_tree("a: 1", &Limits::default()).unwrap().1,
            Format::Yaml
        );
        let e = parse_tree("{\"a\": }}", &Limits::default()).unwrap_err();
        assert!(e.message.contains("JSON not well-formed"), "{}", e.message);
    }
}
