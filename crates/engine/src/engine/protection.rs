//! What protects a stack: its stack policy (`SetStackPolicy`, `GetStackPolicy`; enforced
//! on updates by `ops::update`, see [`crate::policy`]) and termination protection
//! (`UpdateTerminationProtection`; enforced by `delete_stack`). Both are settings of the
//! stack record, written with the compare-and-set that admits operations so that a
//! setting never overwrites an operation's write.

use crate::error::EngineError;
use crate::inner::Record;
use crate::model::*;
use crate::policy::StackPolicy;

use super::Stacks;

/// How often a setting is tried again when an operation wrote the stack in between.
const ATTEMPTS: usize = 8;

/// `policy` if it is a valid stack policy (`None` passes through).
pub(super) fn checked_policy(policy: Option<String>) -> Result<Option<String>, EngineError> {
    if let Some(body) = &policy {
        StackPolicy::parse(body).map_err(EngineError::Validation)?;
    }
    Ok(policy)
}

impl Stacks {
    /// `SetStackPolicy`.
    pub async fn set_stack_policy(
        &self,
        name_or_id: &str,
        policy: String,
    ) -> Result<(), EngineError> {
        let policy = checked_policy(Some(policy))?;
        self.amend_stack(name_or_id, |s| s.protection.stack_policy = policy.clone())
            .await?;
        Ok(())
    }

    /// `GetStackPolicy`: the policy, `None` when the stack has none.
    pub async fn get_stack_policy(&self, name_or_id: &str) -> Result<Option<String>, EngineError> {
        Ok(self
            .describe_stack(name_or_id)
            .await?
            .protection
            .stack_policy)
    }

    /// `UpdateTerminationProtection`: the stack's id.
    pub async fn update_termination_protection(
        &self,
        name_or_id: &str,
        enable: bool,
    ) -> Result<String, EngineError> {
        let stack = self
            .amend_stack(name_or_id, |s| s.protection.termination_protection = enable)
            .await?;
        Ok(stack.stack_id)
    }

    /// Applies `change` to the stored stack and writes it, reading it again when an
    /// operation wrote it in between.
    async fn amend_stack(
        &self,
        name_or_id: &str,
        change: impl Fn(&mut StackRecord),
    ) -> Result<StackRecord, EngineError> {
        for _ in 0..ATTEMPTS {
            let mut stack = self.describe_stack(name_or_id).await?;
            if stack.status == StackStatus::DeleteComplete {
                return Err(EngineError::NotFound(name_or_id.to_string()));
            }
            change(&mut stack);
            if self.write_if_unchanged(&mut stack).await? {
                return Ok(stack);
            }
        }
        Err(EngineError::Validation(format!(
            "Stack [{name_or_id}] is being written by an operation; try again"
        )))
    }

    /// Writes `stack` (as read, then changed), unless someone wrote it since it was
    /// read; whether it was written. Flushed before it returns.
    pub(super) async fn write_if_unchanged(
        &self,
        stack: &mut StackRecord,
    ) -> Result<bool, EngineError> {
        let read = stack.revision;
        stack.revision += 1;
        let written = self
            .inner
            .commit(
                &stack.stack_id,
                &stack.stack_name,
                Record::StackIf(stack, read),
                &[],
            )
            .await?;
        if written {
            self.flush().await?;
        }
        Ok(written)
    }
}
