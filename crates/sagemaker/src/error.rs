//! The SageMaker service's errors, and their AWS codes.

use sagestack_store::StoreError;

/// Everything a SageMaker operation can fail with.
#[derive(Debug, thiserror::Error)]
pub enum SageMakerError {
    /// The input broke a rule (model constraint or service rule). AWS reports all of
    /// these as `ValidationException`, including unknown and duplicate resources.
    #[error("{0}")]
    Validation(String),
    /// The input could not be read as the operation's input shape.
    #[error("{0}")]
    Serialization(String),
    /// The project changed concurrently and the change could not be applied.
    #[error("{0}")]
    Conflict(String),
    /// An account-level limit was hit.
    #[error("{0}")]
    ResourceLimitExceeded(String),
    /// The target names no SageMaker operation this server implements.
    #[error("{0}")]
    UnknownOperation(String),
    /// Storage failed.
    #[error("Internal failure: {0}")]
    Internal(String),
}

sagestack_protocol::json11_errors!(SageMakerError {
    Self::Conflict(_) => "ConflictException",
    Self::ResourceLimitExceeded(_) => "ResourceLimitExceeded",
    Self::Internal(_) => "InternalFailure",
});

impl From<StoreError> for SageMakerError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict => {
                SageMakerError::Conflict("The project was modified concurrently; retry".into())
            }
            StoreError::TooManyTags { limit } => SageMakerError::ResourceLimitExceeded(format!(
                "A resource can have at most {limit} tags"
            )),
            // NotFound / AlreadyExists carry no name; handlers map them with context.
            other => SageMakerError::Internal(other.to_string()),
        }
    }
}
