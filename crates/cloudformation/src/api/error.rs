//! The CloudFormation API's errors and their AWS codes.
//!
//! Codes and HTTP statuses are the botocore model's (`awsQueryError`): for example
//! `ChangeSetNotFoundException` is sent as code `ChangeSetNotFound` with HTTP 404 and
//! `InvalidChangeSetStatusException` as `InvalidChangeSetStatus`. Most engine refusals are
//! plain `ValidationError`s, as in AWS.

use sagestack_engine::{EngineError, PlanDiagnostic};
use sagestack_protocol::{AwsError, ErrorKind};

/// An error of a CloudFormation API call, with its AWS code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    pub code: &'static str,
    pub message: String,
    /// HTTP status (400 unless the model says otherwise).
    pub status: u16,
}

impl ApiError {
    pub fn validation(message: impl Into<String>) -> Self {
        Self {
            code: "ValidationError",
            message: message.into(),
            status: 400,
        }
    }

    /// A model constraint violated, in AWS's wording.
    pub fn constraint(value: &str, path: &str, constraint: &str) -> Self {
        Self::validation(format!(
            "1 validation error detected: Value '{value}' at '{path}' failed to satisfy constraint: {constraint}"
        ))
    }

    /// A required member absent.
    pub fn missing(path: &str) -> Self {
        Self::validation(format!(
            "1 validation error detected: Value null at '{path}' failed to satisfy constraint: Member must not be null"
        ))
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self {
            code: "InternalFailure",
            message: message.into(),
            status: 500,
        }
    }
}

impl AwsError for ApiError {
    fn code(&self) -> &str {
        self.code
    }
    fn kind(&self) -> ErrorKind {
        if self.status >= 500 {
            ErrorKind::Server
        } else {
            ErrorKind::Client
        }
    }
    fn status(&self) -> http::StatusCode {
        http::StatusCode::from_u16(self.status).unwrap_or(http::StatusCode::BAD_REQUEST)
    }
}

/// A template problem as one message: the first diagnostic, with its line and column when
/// the template says where (`Template format error: ... (line 4, column 7)`), and how many
/// more there are.
pub fn template_message(diags: &[PlanDiagnostic]) -> String {
    let Some(first) = diags.first() else {
        return "Template format error: invalid template".into();
    };
    let mut message = first.message.clone();
    if let (Some(line), Some(column)) = (first.line, first.column) {
        message.push_str(&format!(" (line {line}, column {column})"));
    }
    if diags.len() > 1 {
        message.push_str(&format!(" and {} more error(s)", diags.len() - 1));
    }
    message
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        let message = e.to_string();
        let (code, status) = match &e {
            EngineError::AlreadyExists(_) | EngineError::ChangeSetAlreadyExists(_) => {
                ("AlreadyExistsException", 400)
            }
            EngineError::ChangeSetNotFound(_) => ("ChangeSetNotFound", 404),
            EngineError::InvalidChangeSetStatus { .. } => ("InvalidChangeSetStatus", 400),
            EngineError::InsufficientCapabilities(_) => ("InsufficientCapabilitiesException", 400),
            EngineError::Template(diags) => {
                return ApiError::validation(template_message(diags));
            }
            EngineError::Store(_) => ("InternalFailure", 500),
            EngineError::NotFound(_)
            | EngineError::InvalidState { .. }
            | EngineError::NoUpdates
            | EngineError::Validation(_)
            | EngineError::ExportAlreadyExported { .. }
            | EngineError::ExportInUse { .. } => ("ValidationError", 400),
        };
        ApiError {
            code,
            message,
            status,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_errors_map_to_model_codes() {
        let cases = [
            (
                EngineError::AlreadyExists("a".into()),
                "AlreadyExistsException",
                400,
            ),
            (EngineError::NotFound("a".into()), "ValidationError", 400),
            (EngineError::NoUpdates, "ValidationError", 400),
            (
                EngineError::ChangeSetNotFound("c".into()),
                "ChangeSetNotFound",
                404,
            ),
            (
                EngineError::InvalidChangeSetStatus {
                    id: "c".into(),
                    status: "OBSOLETE".into(),
                },
                "InvalidChangeSetStatus",
                400,
            ),
            (
                EngineError::InsufficientCapabilities("CAPABILITY_IAM".into()),
                "InsufficientCapabilitiesException",
                400,
            ),
        ];
        for (e, code, status) in cases {
            let api = ApiError::from(e.clone());
            assert_eq!((api.code, api.status), (code, status), "{e:?}");
            assert_eq!(api.message, e.to_string());
        }
        assert_eq!(
            ApiError::from(EngineError::NotFound("web".into())).message,
            "Stack with id web does not exist"
        );
    }

    #[test]
    fn template_errors_carry_their_position() {
        let d = |m: &str, at: Option<(u32, u32)>| PlanDiagnostic {
            code: "E".into(),
            message: m.into(),
            line: at.map(|a| a.0),
            column: at.map(|a| a.1),
        };
        let e = ApiError::from(EngineError::Template(vec![
            d("Template format error: bad", Some((4, 7))),
            d("other", None),
        ]));
        assert_eq!(e.code, "ValidationError");
        assert_eq!(
            e.message,
            "Template format error: bad (line 4, column 7) and 1 more error(s)"
        );
        assert_eq!(template_message(&[d("x", None)]), "x");
    }
}
