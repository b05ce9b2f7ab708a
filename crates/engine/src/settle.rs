//! Answering a mutating call after its operation, when the operation is local and short.
//!
//! AWS answers `CreateStack`, `UpdateStack`, `DeleteStack` and `ExecuteChangeSet` at once
//! and clients poll `DescribeStacks` until the stack leaves `*_IN_PROGRESS` (boto3's and
//! the CLI's waiters every 30 s, Terraform every 10 s, benchmarks and test helpers every
//! few milliseconds). When every resource of an operation is served inside this process's
//! store (no provider with effects outside it, no nested stack), the whole operation takes
//! milliseconds, so the call waits for it, up to [`EngineConfig::settle_within`], and the
//! client's first poll sees the terminal status. Nothing else changes: the same task
//! drives the operation, the same events and records are written, and a call that runs
//! out of time answers with the stack in progress exactly as before.
//!
//! Durability: the call's own write (the in-progress status) is then deferred like the
//! operation's steps, and the single flush at the operation's end makes both durable
//! before the answer, so a settled call costs one `fsync` rather than two. A call that
//! times out flushes before it answers, as every API write does ([`crate::durability`]).
//! An OS crash before that flush loses a stack operation nobody was told about, which
//! recovery then never sees, or rolls back from a prefix of its steps, as after any crash.
//!
//! [`EngineConfig::settle_within`]: crate::EngineConfig::settle_within

use std::future::Future;

use tokio::task::JoinHandle;

use crate::error::EngineError;
use crate::inner::Inner;
use crate::plan::TemplatePlan;
use crate::provider::ResourceProvider;

/// Whether a call waits for its operation (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Settle {
    /// Local work: the call's writes are deferred and the call waits for the operation.
    Wait,
    /// Work outside the store (a custom resource, a nested stack) or waiting disabled:
    /// the call answers as soon as the operation has durably started.
    Answer,
}

impl Inner {
    /// [`Settle::Wait`] when every resource of every plan is served inside the store and
    /// waiting is enabled. A plan that failed to build (`None`) settles nothing.
    pub fn settle_for<'a>(
        &self,
        plans: impl IntoIterator<Item = Option<&'a dyn TemplatePlan>>,
    ) -> Settle {
        self.settle_if(plans, |p, ty| !p.effects_outside_store(ty))
    }

    /// [`Inner::settle_for`] a stack delete: every resource's delete is served inside the
    /// store ([`ResourceProvider::deletes_outside_store`]).
    pub fn settle_for_delete(&self, plan: Option<&dyn TemplatePlan>) -> Settle {
        self.settle_if([plan], |p, ty| !p.deletes_outside_store(ty))
    }

    fn settle_if<'a>(
        &self,
        plans: impl IntoIterator<Item = Option<&'a dyn TemplatePlan>>,
        local: impl Fn(&dyn ResourceProvider, &str) -> bool,
    ) -> Settle {
        if self.config.settle_within.is_zero() {
            return Settle::Answer;
        }
        for plan in plans {
            let Some(plan) = plan else {
                return Settle::Answer;
            };
            let local = plan.resources().iter().all(|r| {
                let ty = r.resource_type.as_str();
                ty != crate::nested::TYPE_NAME
                    && self.providers.get(ty).is_some_and(|p| local(&**p, ty))
            });
            if !local {
                return Settle::Answer;
            }
        }
        Settle::Wait
    }

    /// Runs the call's own write (`admission`): deferred when the call will wait for its
    /// operation (the operation's final flush covers it), else flushed before it returns.
    pub async fn admission<F: Future>(&self, settle: Settle, admission: F) -> F::Output {
        match settle {
            Settle::Wait => crate::durability::deferred(admission).await,
            Settle::Answer => admission.await,
        }
    }

    /// Waits (with [`Settle::Wait`]) for the operation `task` drives to end, at most
    /// `settle_within`; if it has not, flushes the call's deferred write, which the answer
    /// is about to report. A caller inside a deferred scope of its own flushes at its end.
    /// `task` answers whether its final flush succeeded; a task that panicked, failed to
    /// flush or is still running leaves the flush to this call.
    pub async fn settle(&self, settle: Settle, task: JoinHandle<bool>) -> Result<(), EngineError> {
        if settle == Settle::Answer {
            return Ok(());
        }
        let flushed = matches!(
            tokio::time::timeout(self.config.settle_within, task).await,
            Ok(Ok(true))
        );
        if !flushed && !crate::durability::is_deferred() {
            self.store.sync().await?;
        }
        Ok(())
    }
}
