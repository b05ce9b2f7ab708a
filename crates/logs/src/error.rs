//! The CloudWatch Logs errors, and their AWS codes: mapped once, here.
//!
//! CloudWatch Logs answers a broken model constraint (length, pattern, range) with
//! `InvalidParameterException`, not the `ValidationException` most JSON services use,
//! so the model validator's messages land in [`LogsError::InvalidParameter`].

use sagestack_protocol::{AwsError, ErrorKind};
use sagestack_store::StoreError;

/// Everything a Logs operation can fail with. The `Display` text is the message AWS
/// sends.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LogsError {
    /// A model constraint or a service rule was broken.
    #[error("{0}")]
    InvalidParameter(String),
    /// The input could not be read as the operation's input shape.
    #[error("{0}")]
    Serialization(String),
    #[error("The specified log group does not exist.")]
    GroupNotFound,
    #[error("The specified log stream does not exist.")]
    StreamNotFound,
    #[error("The specified log group already exists")]
    GroupAlreadyExists,
    #[error("The specified log stream already exists")]
    StreamAlreadyExists,
    /// More tags than a log group may have.
    #[error("{0}")]
    TooManyTags(String),
    /// A group changed under a read-modify-write more often than it was retried.
    #[error("{0}")]
    OperationAborted(String),
    #[error("{0}")]
    UnknownOperation(String),
    /// Storage failed (or a stored document is unreadable).
    #[error("Internal failure: {0}")]
    Internal(String),
}

impl AwsError for LogsError {
    fn code(&self) -> &str {
        match self {
            Self::InvalidParameter(_) => "InvalidParameterException",
            Self::Serialization(_) => "SerializationException",
            Self::GroupNotFound | Self::StreamNotFound => "ResourceNotFoundException",
            Self::GroupAlreadyExists | Self::StreamAlreadyExists => {
                "ResourceAlreadyExistsException"
            }
            Self::TooManyTags(_) => "TooManyTagsException",
            Self::OperationAborted(_) => "OperationAbortedException",
            Self::UnknownOperation(_) => "UnknownOperationException",
            Self::Internal(_) => "ServiceUnavailableException",
        }
    }
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Internal(_) => ErrorKind::Server,
            _ => ErrorKind::Client,
        }
    }
}

impl From<StoreError> for LogsError {
    fn from(e: StoreError) -> Self {
        LogsError::Internal(e.to_string())
    }
}

impl sagestack_protocol::json11::InputErrors for LogsError {
    fn validation(message: String) -> Self {
        LogsError::InvalidParameter(message)
    }
    fn serialization(message: String) -> Self {
        LogsError::Serialization(message)
    }
}

/// Shorthand for an [`LogsError::InvalidParameter`] with `message`.
pub(crate) fn invalid(message: impl Into<String>) -> LogsError {
    LogsError::InvalidParameter(message.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_messages_are_aws_s() {
        for (e, code, message) in [
            (
                LogsError::GroupNotFound,
                "ResourceNotFoundException",
                "The specified log group does not exist.",
            ),
            (
                LogsError::StreamNotFound,
                "ResourceNotFoundException",
                "The specified log stream does not exist.",
            ),
            (
                LogsError::GroupAlreadyExists,
                "ResourceAlreadyExistsException",
                "The specified log group already exists",
            ),
        ] {
            assert_eq!((e.code(), e.to_string().as_str()), (code, message));
        }
        assert_eq!(invalid("x").code(), "InvalidParameterException");
        assert_eq!(LogsError::Internal("disk".into()).kind(), ErrorKind::Server);
    }
}
