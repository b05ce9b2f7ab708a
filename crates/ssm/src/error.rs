//! The SSM service's errors, and their AWS codes.

use sagestack_protocol::{AwsError, ErrorKind};
use sagestack_store::StoreError;

/// Everything an SSM parameter operation can fail with. The `Display` text is the
/// message AWS sends.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SsmError {
    /// A model constraint or service rule was broken.
    #[error("{0}")]
    Validation(String),
    /// The input could not be read as the operation's input shape.
    #[error("{0}")]
    Serialization(String),
    /// AWS sends this one without a message.
    #[error("")]
    ParameterNotFound,
    #[error("{0}")]
    ParameterVersionNotFound(String),
    #[error(
        "The parameter already exists. To overwrite this value, set the overwrite option in the request to true."
    )]
    ParameterAlreadyExists,
    #[error("{0}")]
    HierarchyLevelLimitExceeded(String),
    #[error("{0}")]
    ParameterPatternMismatch(String),
    #[error("{0}")]
    InvalidAllowedPattern(String),
    #[error("{0}")]
    InvalidNextToken(String),
    #[error("{0}")]
    UnknownOperation(String),
    /// Storage failed.
    #[error("Internal failure: {0}")]
    Internal(String),
}

impl AwsError for SsmError {
    fn code(&self) -> &str {
        match self {
            Self::Validation(_) => "ValidationException",
            Self::Serialization(_) => "SerializationException",
            Self::ParameterNotFound => "ParameterNotFound",
            Self::ParameterVersionNotFound(_) => "ParameterVersionNotFound",
            Self::ParameterAlreadyExists => "ParameterAlreadyExists",
            Self::HierarchyLevelLimitExceeded(_) => "HierarchyLevelLimitExceededException",
            Self::ParameterPatternMismatch(_) => "ParameterPatternMismatchException",
            Self::InvalidAllowedPattern(_) => "InvalidAllowedPatternException",
            Self::InvalidNextToken(_) => "InvalidNextToken",
            Self::UnknownOperation(_) => "UnknownOperationException",
            Self::Internal(_) => "InternalServerError",
        }
    }
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Internal(_) => ErrorKind::Server,
            _ => ErrorKind::Client,
        }
    }
}

impl From<StoreError> for SsmError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::AlreadyExists => SsmError::ParameterAlreadyExists,
            other => SsmError::Internal(other.to_string()),
        }
    }
}

impl sagestack_protocol::json11::InputErrors for SsmError {
    fn validation(message: String) -> Self {
        SsmError::Validation(message)
    }
    fn serialization(message: String) -> Self {
        SsmError::Serialization(message)
    }
}
