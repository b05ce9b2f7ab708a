//! STS errors and their AWS codes (Query protocol: `ErrorResponse` XML).

use http::StatusCode;
use sagestack_protocol::{AwsError, ErrorKind};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StsError {
    /// An input that breaks a constraint (code `ValidationError`, 400).
    #[error("{0}")]
    Validation(String),
    /// A role that does not exist here or belongs to another account (403).
    #[error("{0}")]
    AccessDenied(String),
    #[error("{0}")]
    Internal(String),
}

impl AwsError for StsError {
    fn code(&self) -> &str {
        match self {
            StsError::Validation(_) => "ValidationError",
            StsError::AccessDenied(_) => "AccessDenied",
            StsError::Internal(_) => "InternalFailure",
        }
    }
    fn status(&self) -> StatusCode {
        match self {
            StsError::Validation(_) => StatusCode::BAD_REQUEST,
            StsError::AccessDenied(_) => StatusCode::FORBIDDEN,
            StsError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
    fn kind(&self) -> ErrorKind {
        match self {
            StsError::Internal(_) => ErrorKind::Server,
            _ => ErrorKind::Client,
        }
    }
}
