//! The CodeBuild errors, and their AWS codes: mapped once, here.
//!
//! CodeBuild's model names one client error for bad input, `InvalidInputException`, so
//! the model validator's messages land there (not in the `ValidationException` most
//! JSON services use).

use sagestack_protocol::{AwsError, ErrorKind};
use sagestack_store::StoreError;

/// Everything a CodeBuild operation can fail with. The `Display` text is the message
/// sent.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BuildError {
    /// A model constraint or a service rule was broken.
    #[error("{0}")]
    InvalidInput(String),
    /// The input could not be read as the operation's input shape.
    #[error("{0}")]
    Serialization(String),
    #[error("{0}")]
    UnknownOperation(String),
    /// The project, named by its ARN.
    #[error("Project cannot be found: {0}")]
    ProjectNotFound(String),
    /// The project, named by its ARN.
    #[error("Project already exists: {0}")]
    ProjectExists(String),
    /// A project changed under a read-modify-write more often than it was retried.
    #[error("{0}")]
    Conflict(String),
    /// Storage failed (or a stored document is unreadable).
    #[error("Internal failure: {0}")]
    Internal(String),
}

impl AwsError for BuildError {
    fn code(&self) -> &str {
        match self {
            Self::InvalidInput(_) | Self::Conflict(_) => "InvalidInputException",
            Self::Serialization(_) => "SerializationException",
            Self::UnknownOperation(_) => "UnknownOperationException",
            Self::ProjectNotFound(_) => "ResourceNotFoundException",
            Self::ProjectExists(_) => "ResourceAlreadyExistsException",
            Self::Internal(_) => "InternalFailure",
        }
    }
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Internal(_) => ErrorKind::Server,
            _ => ErrorKind::Client,
        }
    }
}

impl sagestack_protocol::json11::InputErrors for BuildError {
    fn validation(message: String) -> Self {
        BuildError::InvalidInput(message)
    }
    fn serialization(message: String) -> Self {
        BuildError::Serialization(message)
    }
}

impl From<StoreError> for BuildError {
    fn from(e: StoreError) -> Self {
        BuildError::Internal(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_messages() {
        let arn = "arn:aws:codebuild:us-east-1:123456789012:project/p";
        let e = BuildError::ProjectNotFound(arn.into());
        assert_eq!(e.code(), "ResourceNotFoundException");
        assert_eq!(e.to_string(), format!("Project cannot be found: {arn}"));
        assert_eq!(
            BuildError::ProjectExists(arn.into()).code(),
            "ResourceAlreadyExistsException"
        );
        assert_eq!(
            BuildError::InvalidInput("x".into()).code(),
            "InvalidInputException"
        );
        assert_eq!(BuildError::Internal("d".into()).kind(), ErrorKind::Server);
    }
}
