//! IAM errors and their AWS codes (Query protocol: `ErrorResponse` XML).
//!
//! Codes and HTTP statuses are the botocore model's (`awsQueryError`): for example
//! `NoSuchEntityException` is sent as code `NoSuchEntity` with HTTP 404 and
//! `DeleteConflictException` as `DeleteConflict` with 409. A model constraint broken by
//! the input is IAM's plain `ValidationError` (400).

use http::StatusCode;
use sagestack_protocol::{AwsError, ErrorKind};
use sagestack_store::StoreError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IamError {
    /// An input that breaks a model constraint (`ValidationError`, 400).
    #[error("{0}")]
    Validation(String),
    /// The role, inline policy or attached policy named does not exist (404).
    #[error("{0}")]
    NoSuchEntity(String),
    /// A role with this name (ignoring case) exists (409).
    #[error("{0}")]
    EntityAlreadyExists(String),
    /// The role still has policies (409).
    #[error("{0}")]
    DeleteConflict(String),
    /// A policy document that does not parse or breaks the policy grammar (400).
    #[error("{0}")]
    MalformedPolicyDocument(String),
    /// A quota: tags, attached policies, policy sizes (409).
    #[error("{0}")]
    LimitExceeded(String),
    /// An input the model allows but IAM refuses: a malformed ARN, duplicate tag keys (400).
    #[error("{0}")]
    InvalidInput(String),
    /// The role kept changing under this request (409).
    #[error("{0}")]
    ConcurrentModification(String),
    /// The store failed (`ServiceFailure`, 500; 503 when the database is unreachable).
    #[error("{0}")]
    ServiceFailure(String),
}

impl IamError {
    /// `NoSuchEntity` for a role name.
    pub fn no_such_role(name: &str) -> Self {
        IamError::NoSuchEntity(format!("The role with name {name} cannot be found."))
    }
}

impl From<StoreError> for IamError {
    fn from(e: StoreError) -> Self {
        IamError::ServiceFailure(e.to_string())
    }
}

impl AwsError for IamError {
    fn code(&self) -> &str {
        match self {
            IamError::Validation(_) => "ValidationError",
            IamError::NoSuchEntity(_) => "NoSuchEntity",
            IamError::EntityAlreadyExists(_) => "EntityAlreadyExists",
            IamError::DeleteConflict(_) => "DeleteConflict",
            IamError::MalformedPolicyDocument(_) => "MalformedPolicyDocument",
            IamError::LimitExceeded(_) => "LimitExceeded",
            IamError::InvalidInput(_) => "InvalidInput",
            IamError::ConcurrentModification(_) => "ConcurrentModification",
            IamError::ServiceFailure(_) => "ServiceFailure",
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            IamError::Validation(_)
            | IamError::MalformedPolicyDocument(_)
            | IamError::InvalidInput(_) => StatusCode::BAD_REQUEST,
            IamError::NoSuchEntity(_) => StatusCode::NOT_FOUND,
            IamError::EntityAlreadyExists(_)
            | IamError::DeleteConflict(_)
            | IamError::LimitExceeded(_)
            | IamError::ConcurrentModification(_) => StatusCode::CONFLICT,
            IamError::ServiceFailure(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn kind(&self) -> ErrorKind {
        match self {
            IamError::ServiceFailure(_) => ErrorKind::Server,
            _ => ErrorKind::Client,
        }
    }
}
