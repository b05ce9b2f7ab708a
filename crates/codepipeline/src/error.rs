//! The CodePipeline errors, and their AWS codes: mapped once, here.

use sagestack_store::StoreError;

/// Everything a CodePipeline operation can fail with. The `Display` text is the message
/// sent.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PipelineError {
    /// A model constraint or a service rule was broken.
    #[error("{0}")]
    Validation(String),
    /// The input could not be read as the operation's input shape.
    #[error("{0}")]
    Serialization(String),
    #[error("{0}")]
    UnknownOperation(String),
    #[error("Account '{account}' does not have a pipeline with name '{name}'")]
    PipelineNotFound { account: String, name: String },
    #[error("Pipeline version '{version}' of pipeline '{name}' is not found")]
    PipelineVersionNotFound { name: String, version: i64 },
    #[error("Pipeline execution '{id}' of pipeline '{name}' is not found")]
    ExecutionNotFound { name: String, id: String },
    #[error("A pipeline with name '{0}' already exists")]
    NameInUse(String),
    /// The pipeline's structure breaks a rule the model cannot state (stage count,
    /// duplicate names).
    #[error("{0}")]
    InvalidStructure(String),
    #[error(
        "Unable to stop pipeline execution '{0}': the execution is no longer in progress \
         (sagestack records executions as completed at once)"
    )]
    NotStoppable(String),
    #[error("{0}")]
    ResourceNotFound(String),
    #[error("{0}")]
    InvalidArn(String),
    #[error("{0}")]
    TooManyTags(String),
    #[error("{0}")]
    InvalidNextToken(String),
    /// A pipeline changed under a read-modify-write more often than it was retried.
    #[error("{0}")]
    ConcurrentModification(String),
    /// Storage failed (or a stored document is unreadable).
    #[error("Internal failure: {0}")]
    Internal(String),
}

sagestack_protocol::json11_errors!(PipelineError {
    Self::PipelineNotFound { .. } => "PipelineNotFoundException",
    Self::PipelineVersionNotFound { .. } => "PipelineVersionNotFoundException",
    Self::ExecutionNotFound { .. } => "PipelineExecutionNotFoundException",
    Self::NameInUse(_) => "PipelineNameInUseException",
    Self::InvalidStructure(_) => "InvalidStructureException",
    Self::NotStoppable(_) => "PipelineExecutionNotStoppableException",
    Self::ResourceNotFound(_) => "ResourceNotFoundException",
    Self::InvalidArn(_) => "InvalidArnException",
    Self::TooManyTags(_) => "TooManyTagsException",
    Self::InvalidNextToken(_) => "InvalidNextTokenException",
    Self::ConcurrentModification(_) => "ConcurrentModificationException",
    Self::Internal(_) => "InternalFailure",
});

impl From<StoreError> for PipelineError {
    fn from(e: StoreError) -> Self {
        PipelineError::Internal(e.to_string())
    }
}

/// Shorthand for a [`PipelineError::Validation`] with `message`.
pub(crate) fn invalid(message: impl Into<String>) -> PipelineError {
    PipelineError::Validation(message.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sagestack_protocol::{AwsError, ErrorKind};

    #[test]
    fn codes_and_messages() {
        let e = PipelineError::PipelineNotFound {
            account: "123456789012".into(),
            name: "p".into(),
        };
        assert_eq!(e.code(), "PipelineNotFoundException");
        assert_eq!(
            e.to_string(),
            "Account '123456789012' does not have a pipeline with name 'p'"
        );
        assert_eq!(
            PipelineError::NotStoppable("x".into()).code(),
            "PipelineExecutionNotStoppableException"
        );
        assert_eq!(invalid("x").code(), "ValidationException");
        assert_eq!(
            PipelineError::Internal("d".into()).kind(),
            ErrorKind::Server
        );
    }
}
