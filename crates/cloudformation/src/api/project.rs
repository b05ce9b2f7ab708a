//! Stacks that belong to SageMaker projects.
//!
//! A SageMaker project provisions its template as a stack named
//! `SP-<project id>-<template name>` (`sagestack-provisioning`) and
//! owns it from then on: the project's own update and delete operations drive the stack
//! through [`crate::CloudFormationService`] directly. Through the CloudFormation API
//! such a stack can be read but not changed, deleted or created under that name, so the
//! project's record and its stack cannot drift apart.

use super::error::ApiError;

/// The stack name prefix reserved for SageMaker project stacks.
pub const PROJECT_STACK_PREFIX: &str = "SP-";

/// Whether `stack_name` (a name, not an ARN) names a project stack.
pub fn is_project_stack(stack_name: &str) -> bool {
    stack_name.starts_with(PROJECT_STACK_PREFIX)
}

/// Refuses `action` (`created`, `updated`, `deleted`...) on a project stack.
pub fn refuse_project_stack(stack_name: &str, action: &str) -> Result<(), ApiError> {
    if is_project_stack(stack_name) {
        return Err(ApiError::validation(format!(
            "Stack [{stack_name}] is managed by a SageMaker project and cannot be {action} directly; \
             update or delete the project instead"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_sp_prefix_is_reserved() {
        assert!(is_project_stack("SP-p-abc123"));
        assert!(!is_project_stack("sp-lowercase"));
        assert!(!is_project_stack("SPX"));
        assert!(!is_project_stack("web-SP-1"));
        let e = refuse_project_stack("SP-p-1", "deleted").unwrap_err();
        assert_eq!(e.code, "ValidationError");
        assert!(e.message.contains("[SP-p-1]") && e.message.contains("cannot be deleted"));
        assert!(refuse_project_stack("web", "deleted").is_ok());
    }
}
