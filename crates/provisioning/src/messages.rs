//! The `StatusMessage` texts of a project's `StackDetail`. They are part of the
//! product's contract (users read them, tests assert them), so every one is built here
//! and nowhere else:
//!
//! | outcome                     | text                                                            |
//! |-----------------------------|-----------------------------------------------------------------|
//! | operation started           | `Stack <name> is being created.` / `updated.` / `deleted.`      |
//! | stack reached its goal      | `Stack <name> reached CREATE_COMPLETE.` (or `UPDATE_COMPLETE`, `DELETE_COMPLETE`) |
//! | nothing to update           | `Stack <name> is up to date: No updates are to be performed.`   |
//! | the template fetch failed   | the `TemplateFetchError` text, e.g. `S3 error: The specified key does not exist (bucket: b, key: k)` |
//! | the template is invalid     | `Template error: <message> (line L:C)`, diagnostics joined by `; ` |
//! | the stack refused the input | `Stack <name> could not be <created/updated>: <CloudFormation message>` |
//! | a resource failed           | `Stack <name> reached ROLLBACK_COMPLETE: resource <Logical> (<Type>) failed: <reason>` |
//! | no resource event explains  | `Stack <name> reached <STATUS>: <the stack's status reason>`     |

use sagestack_cloudformation::{EngineError, PlanDiagnostic, StackRecord, StackStatus};
use sagestack_engine::StackEvent;

/// The operation running on a project, as its messages name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Create,
    Update,
    Delete,
}

impl Action {
    fn participle(self) -> &'static str {
        match self {
            Action::Create => "created",
            Action::Update => "updated",
            Action::Delete => "deleted",
        }
    }
}

/// `Stack <name> is being created.`
pub fn started(stack_name: &str, action: Action) -> String {
    format!("Stack {stack_name} is being {}.", action.participle())
}

/// `Stack <name> reached CREATE_COMPLETE.`
pub fn reached(stack_name: &str, status: StackStatus) -> String {
    format!("Stack {stack_name} reached {status}.")
}

/// An update that changes nothing.
pub fn up_to_date(stack_name: &str) -> String {
    format!(
        "Stack {stack_name} is up to date: {}",
        EngineError::NoUpdates
    )
}

/// Template diagnostics with their positions.
pub fn template_errors(diagnostics: &[PlanDiagnostic]) -> String {
    if diagnostics.is_empty() {
        return "Template error: Template format error".into();
    }
    let parts: Vec<String> = diagnostics
        .iter()
        .map(|d| match (d.line, d.column) {
            (Some(l), Some(c)) => format!("{} (line {l}:{c})", d.message),
            (Some(l), None) => format!("{} (line {l})", d.message),
            _ => d.message.clone(),
        })
        .collect();
    format!("Template error: {}", parts.join("; "))
}

/// The stack operation was refused before it started (parameters, capabilities...).
pub fn refused(stack_name: &str, action: Action, error: &EngineError) -> String {
    match error {
        EngineError::Template(d) => template_errors(d),
        other => format!(
            "Stack {stack_name} could not be {}: {other}",
            action.participle()
        ),
    }
}

/// A stack that ended somewhere other than its goal: its status and the first failing
/// resource of the operation (`failure`), or the stack's own reason.
pub fn failed(stack: &StackRecord, failure: Option<&StackEvent>) -> String {
    match failure {
        // The stack failed as a whole: its own event says why.
        Some(e) if e.logical_resource_id == stack.stack_name => format!(
            "Stack {} reached {}: {}",
            stack.stack_name,
            stack.status,
            e.resource_status_reason
                .as_deref()
                .unwrap_or("no reason given")
        ),
        Some(e) => format!(
            "Stack {} reached {}: resource {} ({}) failed: {}",
            stack.stack_name,
            stack.status,
            e.logical_resource_id,
            e.resource_type,
            e.resource_status_reason
                .as_deref()
                .unwrap_or("no reason given")
        ),
        None => format!(
            "Stack {} reached {}: {}",
            stack.stack_name,
            stack.status,
            stack.status_reason.as_deref().unwrap_or("no reason given")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn diag(message: &str, line: Option<u32>, column: Option<u32>) -> PlanDiagnostic {
        PlanDiagnostic {
            code: "E".into(),
            message: message.into(),
            line,
            column,
        }
    }

    #[test]
    fn template_errors_carry_positions() {
        assert_eq!(
            template_errors(&[
                diag("Unresolved resource dependencies [X]", Some(3), Some(7)),
                diag("second", Some(9), None),
                diag("third", None, None),
            ]),
            "Template error: Unresolved resource dependencies [X] (line 3:7); second (line 9); third"
        );
    }

    #[test]
    fn fixed_texts() {
        assert_eq!(
            started("SP-p-1-t", Action::Delete),
            "Stack SP-p-1-t is being deleted."
        );
        assert_eq!(
            reached("SP-p-1-t", StackStatus::CreateComplete),
            "Stack SP-p-1-t reached CREATE_COMPLETE."
        );
        assert_eq!(
            up_to_date("S"),
            "Stack S is up to date: No updates are to be performed."
        );
        assert_eq!(
            refused("S", Action::Create, &EngineError::Validation("bad".into())),
            "Stack S could not be created: bad"
        );
    }
}
