//! The stack calls that only read: a stack by name or id, the lists, events, exports and
//! imports, and the wait for an operation's end.

use crate::error::EngineError;
use crate::model::*;

use super::Stacks;

impl Stacks {
    /// The stack a name (live stacks only) or a stack id (any, deleted included) names.
    pub async fn describe_stack(&self, name_or_id: &str) -> Result<StackRecord, EngineError> {
        let store = &self.inner.store;
        let found = if name_or_id.starts_with("arn:") {
            store.get_stack(name_or_id).await?
        } else {
            store.find_live_stack(name_or_id).await?
        };
        found.ok_or_else(|| EngineError::NotFound(name_or_id.to_string()))
    }

    /// Every stack, deleted ones included, in creation order (`ListStacks`; the API layer
    /// filters by status; `DescribeStacks` without a name shows the non-deleted ones).
    pub async fn list_stacks(&self) -> Result<Vec<StackRecord>, EngineError> {
        Ok(self.inner.store.list_stacks().await?)
    }

    /// A stack's resources, by logical id (`ListStackResources` / `DescribeStackResources`).
    pub async fn list_stack_resources(
        &self,
        name_or_id: &str,
    ) -> Result<Vec<ResourceRecord>, EngineError> {
        let stack = self.describe_stack(name_or_id).await?;
        Ok(self.inner.store.list_resources(&stack.stack_id).await?)
    }

    /// Newest first, at most `limit`, older than `before_seq` (`DescribeStackEvents`).
    pub async fn stack_events(
        &self,
        name_or_id: &str,
        before_seq: Option<u64>,
        limit: usize,
    ) -> Result<Vec<StackEvent>, EngineError> {
        let stack = self.describe_stack(name_or_id).await?;
        Ok(self
            .inner
            .store
            .list_events(&stack.stack_id, before_seq, limit)
            .await?)
    }

    /// Every export in the region (`ListExports`).
    pub async fn list_exports(&self) -> Result<Vec<ExportRecord>, EngineError> {
        Ok(self.inner.store.list_exports().await?)
    }

    /// Names of the stacks importing `export_name` (`ListImports`).
    pub async fn list_imports(&self, export_name: &str) -> Result<Vec<String>, EngineError> {
        self.inner.importers(export_name, "").await
    }

    /// Waits until the stack is not being driven by an operation, and returns it.
    ///
    /// Every waiter is woken by every stack's status change (one engine-wide counter),
    /// so a wake-up only checks, in memory, whether this stack's driving task is still
    /// registered; the stack is read from the store once, when it is not. Reading it on
    /// every wake-up made N concurrent waiters cost O(N^2) store reads.
    pub async fn wait_for_terminal(&self, stack_id: &str) -> Result<StackRecord, EngineError> {
        let mut rx = self.inner.subscribe();
        let stack = self.describe_stack(stack_id).await?;
        if !stack.status.is_operation_in_progress() {
            return Ok(stack);
        }
        let id = stack.stack_id;
        while self.inner.is_running(&id) {
            if rx.changed().await.is_err() {
                break;
            }
        }
        // No task drives the stack: its status is final, or (still in progress) the
        // operation was interrupted and awaits `recover`.
        self.describe_stack(&id).await
    }
}
