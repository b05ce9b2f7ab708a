//! EventBridge errors and their AWS codes.

use sagestack_protocol::{AwsError, ErrorKind};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventsError {
    /// The pattern is not one EventBridge accepts; the message says why.
    #[error("Event pattern is not valid. Reason: {0}")]
    InvalidEventPattern(String),
    /// A model constraint or a rule of an operation was broken.
    #[error("{0}")]
    Validation(String),
    #[error("{0}")]
    Serialization(String),
    #[error("{0}")]
    UnknownOperation(String),
    #[error("{0}")]
    Internal(String),
}

impl AwsError for EventsError {
    fn code(&self) -> &str {
        match self {
            Self::InvalidEventPattern(_) => "InvalidEventPatternException",
            Self::Validation(_) => "ValidationException",
            Self::Serialization(_) => "SerializationException",
            Self::UnknownOperation(_) => "UnknownOperationException",
            Self::Internal(_) => "InternalException",
        }
    }
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Internal(_) => ErrorKind::Server,
            _ => ErrorKind::Client,
        }
    }
}
