//! The Lambda service's errors, and their AWS codes and HTTP statuses (the botocore
//! model's `error.httpStatusCode` of each).

use http::StatusCode;
use sagestack_protocol::{AwsError, ErrorKind};
use sagestack_store::StoreError;

/// Everything a Lambda operation can fail with. The `Display` text is the message.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum LambdaError {
    /// A model constraint was broken (`ValidationException`, AWS's generated wording).
    #[error("{0}")]
    Validation(String),
    /// The input could not be read as the operation's input shape.
    #[error("{0}")]
    Serialization(String),
    /// A value the model allows but the service refuses.
    #[error("{0}")]
    InvalidParameterValue(String),
    #[error("{0}")]
    ResourceNotFound(String),
    /// Invoke's payload is not JSON.
    #[error("{0}")]
    InvalidRequestContent(String),
    #[error("{0}")]
    ResourceConflict(String),
    /// `RevisionId` did not match.
    #[error("{0}")]
    PreconditionFailed(String),
    /// The request payload is over the limit (Invoke: 6 MB).
    #[error("{0}")]
    RequestTooLarge(String),
    /// The concurrency limit is reached and no slot freed in time.
    #[error("{0}")]
    TooManyRequests(String),
    /// A code signing configuration that does not exist (none do here).
    #[error("{0}")]
    CodeSigningConfigNotFound(String),
    /// Storage or a local process failed.
    #[error("{0}")]
    Service(String),
}

impl AwsError for LambdaError {
    fn code(&self) -> &str {
        match self {
            Self::Validation(_) => "ValidationException",
            Self::Serialization(_) => "SerializationException",
            Self::InvalidParameterValue(_) => "InvalidParameterValueException",
            Self::ResourceNotFound(_) => "ResourceNotFoundException",
            Self::InvalidRequestContent(_) => "InvalidRequestContentException",
            Self::ResourceConflict(_) => "ResourceConflictException",
            Self::PreconditionFailed(_) => "PreconditionFailedException",
            Self::RequestTooLarge(_) => "RequestTooLargeException",
            Self::TooManyRequests(_) => "TooManyRequestsException",
            Self::CodeSigningConfigNotFound(_) => "CodeSigningConfigNotFoundException",
            Self::Service(_) => "ServiceException",
        }
    }
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Service(_) => ErrorKind::Server,
            _ => ErrorKind::Client,
        }
    }
    fn status(&self) -> StatusCode {
        match self {
            Self::ResourceNotFound(_) | Self::CodeSigningConfigNotFound(_) => StatusCode::NOT_FOUND,
            Self::ResourceConflict(_) => StatusCode::CONFLICT,
            Self::PreconditionFailed(_) => StatusCode::PRECONDITION_FAILED,
            Self::RequestTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::Service(_) => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

impl From<StoreError> for LambdaError {
    fn from(e: StoreError) -> Self {
        LambdaError::Service(format!("Internal failure: {e}"))
    }
}

impl sagestack_protocol::json11::InputErrors for LambdaError {
    fn validation(message: String) -> Self {
        LambdaError::Validation(message)
    }
    fn serialization(message: String) -> Self {
        LambdaError::Serialization(message)
    }
}

pub type Result<T, E = LambdaError> = std::result::Result<T, E>;
