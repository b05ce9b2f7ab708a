//! EventBridge errors and their AWS codes: mapped once, here.

use sagestack_store::StoreError;

/// Everything an EventBridge operation can fail with. The `Display` text is the message
/// AWS sends.
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
    /// A bus, rule or tagged resource that does not exist ("Event bus X does not
    /// exist.", "Rule R does not exist on EventBus B.").
    #[error("{0}")]
    ResourceNotFound(String),
    #[error("{0}")]
    ResourceAlreadyExists(String),
    /// More targets on a rule (or tags on a resource) than AWS allows.
    #[error("{0}")]
    LimitExceeded(String),
    /// A document changed under a read-modify-write more often than it was retried.
    #[error("{0}")]
    ConcurrentModification(String),
    #[error("{0}")]
    UnknownOperation(String),
    /// Storage failed, or a stored document is unreadable.
    #[error("{0}")]
    Internal(String),
}

sagestack_protocol::json11_errors!(EventsError {
    Self::InvalidEventPattern(_) => "InvalidEventPatternException",
    Self::ResourceNotFound(_) => "ResourceNotFoundException",
    Self::ResourceAlreadyExists(_) => "ResourceAlreadyExistsException",
    Self::LimitExceeded(_) => "LimitExceededException",
    Self::ConcurrentModification(_) => "ConcurrentModificationException",
    Self::Internal(_) => "InternalException",
});

impl From<StoreError> for EventsError {
    fn from(e: StoreError) -> Self {
        EventsError::Internal(e.to_string())
    }
}

/// Shorthand for a [`EventsError::Validation`] with `message`.
pub(crate) fn invalid(message: impl Into<String>) -> EventsError {
    EventsError::Validation(message.into())
}

/// AWS's message for a bus that does not exist.
pub(crate) fn no_bus(name: &str) -> EventsError {
    EventsError::ResourceNotFound(format!("Event bus {name} does not exist."))
}

/// AWS's message for a rule that does not exist on its bus.
pub(crate) fn no_rule(name: &str, bus: &str) -> EventsError {
    EventsError::ResourceNotFound(format!("Rule {name} does not exist on EventBus {bus}."))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sagestack_protocol::{AwsError, ErrorKind};

    #[test]
    fn codes_are_aws_s() {
        assert_eq!(no_bus("b").code(), "ResourceNotFoundException");
        assert_eq!(no_bus("b").to_string(), "Event bus b does not exist.");
        assert_eq!(
            no_rule("r", "default").to_string(),
            "Rule r does not exist on EventBus default."
        );
        assert_eq!(invalid("x").code(), "ValidationException");
        assert_eq!(
            EventsError::InvalidEventPattern("x".into()).code(),
            "InvalidEventPatternException"
        );
        assert_eq!(EventsError::Internal("x".into()).kind(), ErrorKind::Server);
        assert_eq!(
            EventsError::LimitExceeded("x".into()).kind(),
            ErrorKind::Client
        );
    }
}
