//! The engine's typed errors. Messages are CloudFormation's; the protocol layer maps each
//! variant to its AWS error code (`ValidationError`, `AlreadyExistsException`,
//! `ChangeSetNotFound`, `InsufficientCapabilitiesException`, ...).

use crate::plan::PlanDiagnostic;
use crate::store::StoreError;

#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum EngineError {
    /// `AlreadyExistsException`.
    #[error("Stack [{0}] already exists")]
    AlreadyExists(String),
    /// `ValidationError`. Carries the name or id as the caller gave it.
    #[error("Stack with id {0} does not exist")]
    NotFound(String),
    /// `ValidationError`: the stack is in a state that does not allow the operation.
    #[error("Stack:{stack_id} is in {status} state and can not be {action}.")]
    InvalidState {
        stack_id: String,
        status: String,
        /// `updated`, `deleted`, `created` (executing a change set), ...
        action: &'static str,
    },
    /// `ValidationError`.
    #[error("No updates are to be performed.")]
    NoUpdates,
    /// `ChangeSetNotFound`.
    #[error("ChangeSet [{0}] does not exist")]
    ChangeSetNotFound(String),
    /// `AlreadyExistsException` for change sets.
    #[error("ChangeSet [{0}] already exists")]
    ChangeSetAlreadyExists(String),
    /// `InvalidChangeSetStatus`.
    #[error("ChangeSet [{id}] cannot be executed in its current status of [{status}]")]
    InvalidChangeSetStatus { id: String, status: String },
    /// `InsufficientCapabilitiesException`; the capability missing, e.g. `CAPABILITY_IAM`.
    #[error("Requires capabilities : [{0}]")]
    InsufficientCapabilities(String),
    /// `ValidationError` with a free-form CloudFormation message.
    #[error("{0}")]
    Validation(String),
    /// `ValidationError`: the template or its parameters do not plan.
    #[error("{}", .0.first().map(|d| d.message.as_str()).unwrap_or("Template format error"))]
    Template(Vec<PlanDiagnostic>),
    /// `ValidationError`.
    #[error("Export with name {name} is already exported by stack {stack}")]
    ExportAlreadyExported { name: String, stack: String },
    /// `ValidationError`.
    #[error("Export {name} cannot be deleted as it is in use by {stacks}")]
    ExportInUse { name: String, stacks: String },
    /// An internal storage failure (HTTP 500).
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl EngineError {
    /// `Ok` when `names` is empty, else the validation failure `{what}: [{names}]`, the
    /// way CloudFormation lists the resources or types a template is refused for.
    pub(crate) fn refuse_listed(what: &str, names: &[&str]) -> Result<(), EngineError> {
        if names.is_empty() {
            return Ok(());
        }
        Err(EngineError::Validation(format!(
            "{what}: [{}]",
            names.join(", ")
        )))
    }
}
