//! One error type for every stage: parsing, validation, parameter binding and resolution.
//!
//! CloudFormation reports template problems as a code-less message; we add a stable
//! [`ErrorCode`] so callers (the CLI, the stack engine, tests) can match on the kind of
//! problem without parsing prose, and a [`Pos`] when the template says where.

use std::fmt;

use crate::tree::Pos;

/// The kind of a template problem. `as_str` is the stable code printed by the CLI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ErrorCode {
    /// The body is not well-formed JSON/YAML, or breaks a CloudFormation YAML rule
    /// (duplicate key, several documents, null key, unknown short-form tag).
    Syntax,
    /// A size, depth or alias-expansion bound was exceeded.
    Limit,
    /// A top-level section is unknown, malformed or has a bad value.
    Section,
    /// A logical id (resource, parameter, output, mapping, condition) is invalid.
    LogicalId,
    /// A resource, output or other entry is missing a required member or has a bad one.
    Structure,
    /// An intrinsic function is unknown, used in the wrong place, or has bad arguments.
    Intrinsic,
    /// `Ref`/`Fn::GetAtt`/`Fn::Sub` names something the template does not define.
    UnresolvedReference,
    /// A condition is used but not defined, or is malformed.
    Condition,
    /// Resources depend on each other in a cycle.
    Cycle,
    /// A parameter declaration is invalid, or a value breaks its constraints.
    Parameter,
    /// A `Rules` assertion failed.
    Rule,
    /// A transform this engine cannot run (SAM, macros, `AWS::Include`).
    Transform,
    /// A value could not be computed (missing import, SSM parameter, bad Fn::Select index...).
    Resolve,
}

impl ErrorCode {
    /// Stable short code.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Syntax => "E0001",
            ErrorCode::Limit => "E0002",
            ErrorCode::Section => "E1001",
            ErrorCode::LogicalId => "E1002",
            ErrorCode::Structure => "E1003",
            ErrorCode::Intrinsic => "E1010",
            ErrorCode::UnresolvedReference => "E1012",
            ErrorCode::Condition => "E1028",
            ErrorCode::Cycle => "E3004",
            ErrorCode::Parameter => "E2001",
            ErrorCode::Rule => "E1700",
            ErrorCode::Transform => "E1021",
            ErrorCode::Resolve => "E1019",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A template problem: code, CloudFormation-style message and, when known, where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct TemplateError {
    pub code: ErrorCode,
    pub message: String,
    pub location: Option<Pos>,
}

impl TemplateError {
    pub fn new(code: ErrorCode, message: impl Into<String>, location: Option<Pos>) -> Self {
        TemplateError {
            code,
            message: message.into(),
            location,
        }
    }

    pub fn at(code: ErrorCode, message: impl Into<String>, location: Pos) -> Self {
        TemplateError::new(code, message, Some(location))
    }

    /// `file:line:col: CODE message` (or `file: CODE message` without a location).
    pub fn render(&self, file: &str) -> String {
        match self.location {
            Some(p) => format!(
                "{file}:{}:{}: {} {}",
                p.line, p.col, self.code, self.message
            ),
            None => format!("{file}: {} {}", self.code, self.message),
        }
    }
}

/// Several errors: validation collects all of them rather than stopping at the first.
pub type Errors = Vec<TemplateError>;
