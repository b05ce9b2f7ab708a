//! The Service Catalog service's errors, and their AWS codes.
//!
//! Service Catalog reports model-constraint violations (lengths, patterns, enums,
//! required members) as `ValidationException`, and the service's own rules (a missing
//! launch path, an inactive artifact, an unreadable template, a bad parameter) as
//! `InvalidParametersException`.

use sagestack_store::StoreError;

/// Everything a Service Catalog operation can fail with. The `Display` text is the
/// message AWS sends.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum ScError {
    /// A model constraint was broken.
    #[error("{0}")]
    Validation(String),
    /// The input could not be read as the operation's input shape.
    #[error("{0}")]
    Serialization(String),
    /// A service rule was broken.
    #[error("{0}")]
    InvalidParameters(String),
    #[error("{0}")]
    ResourceNotFound(String),
    #[error("{0}")]
    ResourceInUse(String),
    #[error("{0}")]
    DuplicateResource(String),
    /// The object is in a state that does not allow the operation.
    #[error("{0}")]
    InvalidState(String),
    #[error("{0}")]
    LimitExceeded(String),
    #[error("{0}")]
    UnknownOperation(String),
    /// Storage (or the stack engine) failed.
    #[error("Internal failure: {0}")]
    Internal(String),
}

sagestack_protocol::json11_errors!(ScError {
    Self::InvalidParameters(_) => "InvalidParametersException",
    Self::ResourceNotFound(_) => "ResourceNotFoundException",
    Self::ResourceInUse(_) => "ResourceInUseException",
    Self::DuplicateResource(_) => "DuplicateResourceException",
    Self::InvalidState(_) => "InvalidStateException",
    Self::LimitExceeded(_) => "LimitExceededException",
    Self::Internal(_) => "InternalFailure",
});

impl From<StoreError> for ScError {
    fn from(e: StoreError) -> Self {
        ScError::Internal(e.to_string())
    }
}
