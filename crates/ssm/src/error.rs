//! The SSM service's errors, and their AWS codes.

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
    InvalidFilterKey(String),
    #[error("{0}")]
    InvalidFilterOption(String),
    #[error("{0}")]
    InvalidFilterValue(String),
    #[error("The resource ID isn't valid. Verify that you entered the correct ID and try again.")]
    InvalidResourceId,
    #[error(
        "The Targets parameter includes too many tags. Remove one or more tags and try the command again."
    )]
    TooManyTags,
    /// Another writer kept changing the parameter while its tags were being changed.
    #[error("There are concurrent updates for a resource that supports one update at a time.")]
    TooManyUpdates,
    #[error("{0}")]
    UnknownOperation(String),
    /// Storage failed.
    #[error("Internal failure: {0}")]
    Internal(String),
}

sagestack_protocol::json11_errors!(SsmError {
    Self::ParameterNotFound => "ParameterNotFound",
    Self::ParameterVersionNotFound(_) => "ParameterVersionNotFound",
    Self::ParameterAlreadyExists => "ParameterAlreadyExists",
    Self::HierarchyLevelLimitExceeded(_) => "HierarchyLevelLimitExceededException",
    Self::ParameterPatternMismatch(_) => "ParameterPatternMismatchException",
    Self::InvalidAllowedPattern(_) => "InvalidAllowedPatternException",
    Self::InvalidNextToken(_) => "InvalidNextToken",
    Self::InvalidFilterKey(_) => "InvalidFilterKey",
    Self::InvalidFilterOption(_) => "InvalidFilterOption",
    Self::InvalidFilterValue(_) => "InvalidFilterValue",
    Self::InvalidResourceId => "InvalidResourceId",
    Self::TooManyTags => "TooManyTagsError",
    Self::TooManyUpdates => "TooManyUpdates",
    Self::Internal(_) => "InternalServerError",
});

impl From<StoreError> for SsmError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::AlreadyExists => SsmError::ParameterAlreadyExists,
            other => SsmError::Internal(other.to_string()),
        }
    }
}
