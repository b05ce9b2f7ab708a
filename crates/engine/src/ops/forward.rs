//! What creates and updates share: the forward phase that both drive ([`forward_phase`]),
//! and the begin and finish of one resource's create or update, each under the resource's
//! gate so that a cancellation (another resource failed) never interleaves with them.

use std::sync::Arc;

use serde_json::Value;

use crate::error::EngineError;
use crate::inner::Inner;
use crate::model::*;
use crate::plan::{ResourceLookup, TemplatePlan};
use crate::provider::{ProviderError, ResourceState};

use super::Carry;
use super::run::{Create, Ev, Run, Update, forward_order, lock};

const CREATE_CANCELLED: &str = "Resource creation cancelled";
const UPDATE_CANCELLED: &str = "Resource update cancelled";
/// The stack's reason when `CancelUpdateStack` interrupted its update.
const UPDATE_INTERRUPTED: &str = "Stack update cancelled";
const INITIATED: &str = "Resource creation Initiated";

/// A forward action: what it reports at each step.
#[derive(Debug, Clone, Copy)]
pub(super) enum Forward {
    Create,
    Update,
}

impl Forward {
    fn in_progress(self) -> ResourceStatus {
        match self {
            Self::Create => ResourceStatus::CreateInProgress,
            Self::Update => ResourceStatus::UpdateInProgress,
        }
    }

    fn complete(self) -> ResourceStatus {
        match self {
            Self::Create => ResourceStatus::CreateComplete,
            Self::Update => ResourceStatus::UpdateComplete,
        }
    }

    fn failed(self) -> ResourceStatus {
        match self {
            Self::Create => ResourceStatus::CreateFailed,
            Self::Update => ResourceStatus::UpdateFailed,
        }
    }

    fn cancelled(self) -> &'static str {
        match self {
            Self::Create => CREATE_CANCELLED,
            Self::Update => UPDATE_CANCELLED,
        }
    }
}

/// The forward phase of a create or an update, over `stack` as stored: plans its template,
/// checks its imports, runs every resource's create or update in dependency order (the
/// first failure stops it and reports the actions still in flight cancelled), then
/// publishes the outputs into `stack` and claims their exports. `Ok(Err(reason))` fails
/// the operation; on success the plan, for what the caller records with the new status.
pub(super) async fn forward_phase(
    inner: &Arc<Inner>,
    stack: &mut StackRecord,
    kind: Forward,
    carry: &Arc<Carry>,
) -> Result<Result<Arc<dyn TemplatePlan>, String>, EngineError> {
    let plan = match inner.plan(stack, &stack.template) {
        Ok(p) => p,
        Err(e) => return Ok(Err(e.to_string())),
    };
    let run = Run::new(inner, stack, Some(plan.clone()), Some(carry)).await?;
    if let Some(missing) = plan
        .imports()
        .into_iter()
        .find(|i| !run.exports.contains_key(i))
    {
        return Ok(Err(format!("No export named {missing} found.")));
    }
    let order = forward_order(&*plan);
    let failed = match kind {
        Forward::Create => run.phase(order, Create).await?,
        Forward::Update => {
            let interrupt = inner.interrupt_of(&stack.stack_id);
            let outcome = run
                .interruptible_phase(order, Update, Some(&interrupt))
                .await?;
            if outcome.interrupted {
                run.sweep().await?;
                return Ok(Err(UPDATE_INTERRUPTED.into()));
            }
            outcome.failed
        }
    };
    run.sweep().await?;
    if !failed.is_empty() {
        return Ok(Err(run.failure_reason(&failed)));
    }
    Ok(
        publish_outputs(inner, stack, &*plan, &*run, &run.all_secrets())
            .await?
            .map(|()| plan),
    )
}

/// Resolves outputs and claims their exports. `Ok(Err(reason))` fails the operation.
/// Outputs are stored as `DescribeStacks` shows them: `NoEcho` values (`secrets`)
/// masked; exports keep the values.
async fn publish_outputs(
    inner: &Arc<Inner>,
    stack: &mut StackRecord,
    plan: &dyn TemplatePlan,
    lookup: &dyn ResourceLookup,
    secrets: &[String],
) -> Result<Result<(), String>, EngineError> {
    let outputs = match plan.resolve_outputs(lookup) {
        Ok(o) => o,
        Err(e) => return Ok(Err(e.message)),
    };
    let _exports = inner.exports_lock.lock().await;
    let all = inner.store.list_exports().await?;
    let new: Vec<ExportRecord> = outputs
        .iter()
        .filter_map(|o| {
            o.export_name.as_ref().map(|n| ExportRecord {
                name: n.clone(),
                value: o.value.clone(),
                exporting_stack_id: stack.stack_id.clone(),
            })
        })
        .collect();
    for e in &new {
        if let Some(other) = all
            .iter()
            .find(|x| x.name == e.name && x.exporting_stack_id != stack.stack_id)
        {
            let owner = inner
                .store
                .get_stack(&other.exporting_stack_id)
                .await?
                .map(|s| s.stack_name)
                .unwrap_or_else(|| other.exporting_stack_id.clone());
            return Ok(Err(EngineError::ExportAlreadyExported {
                name: e.name.clone(),
                stack: owner,
            }
            .to_string()));
        }
    }
    for old in all
        .iter()
        .filter(|x| x.exporting_stack_id == stack.stack_id)
    {
        let users = inner.importers(&old.name, &stack.stack_id).await?;
        if users.is_empty() {
            continue;
        }
        match new.iter().find(|n| n.name == old.name) {
            None => {
                return Ok(Err(EngineError::ExportInUse {
                    name: old.name.clone(),
                    stacks: users.join(", "),
                }
                .to_string()));
            }
            Some(n) if n.value != old.value => {
                return Ok(Err(format!(
                    "Export {} cannot be updated as it is in use by {}",
                    old.name,
                    users.join(", ")
                )));
            }
            Some(_) => {}
        }
    }
    inner.store.put_exports(&stack.stack_id, &new).await?;
    stack.outputs = crate::no_echo::mask_outputs(outputs, secrets);
    Ok(Ok(()))
}

impl Run {
    /// Resolves `id`'s properties under its gate. `None` when the resource was cancelled,
    /// or when its properties did not resolve: that is recorded as `kind`'s failure of
    /// `rec`, after `on_failure` has prepared it.
    pub(super) async fn resolve_gated(
        &self,
        id: &str,
        rec: &mut ResourceRecord,
        kind: Forward,
        on_failure: impl FnOnce(&mut ResourceRecord),
    ) -> Result<Option<Value>, EngineError> {
        let Some(_gate) = self.open_gate(id).await else {
            return Ok(None);
        };
        match self.resolve(id) {
            Ok(props) => Ok(Some(props)),
            Err(reason) => {
                on_failure(rec);
                self.transition(rec, kind.failed(), Some(reason), None)
                    .await?;
                Ok(None)
            }
        }
    }

    /// Under `id`'s gate, records `rec`'s action started (`kind`'s in-progress status with
    /// `reason` and the target `props`; a provider that keeps no state, `write` false, has
    /// it written with the outcome instead). `false` when the resource was cancelled.
    pub(super) async fn begin(
        &self,
        id: &str,
        rec: &mut ResourceRecord,
        kind: Forward,
        reason: Option<String>,
        props: &Value,
        write: bool,
    ) -> Result<bool, EngineError> {
        let Some(_gate) = self.open_gate(id).await else {
            return Ok(false);
        };
        if write {
            self.transition(rec, kind.in_progress(), reason, Some(props))
                .await?;
        }
        Ok(true)
    }

    /// Under `id`'s gate, records the outcome of `rec`'s provider call; whether it
    /// succeeded. `made`: the properties a new physical resource was created with (a create
    /// or a replacement), whose id the record takes and whose creation is reported
    /// "Initiated". `opening`: the opening event of a provider that keeps no state, written
    /// with the outcome.
    pub(super) async fn finish(
        &self,
        id: &str,
        rec: &mut ResourceRecord,
        kind: Forward,
        result: Result<ResourceState, ProviderError>,
        made: Option<&Value>,
        opening: Option<Ev<'_>>,
    ) -> Result<bool, EngineError> {
        let _gate = self.gate(id).await;
        let result = result.map(|state| {
            if made.is_some() {
                rec.physical_id = Some(state.physical_id);
            }
            rec.attributes = Arc::new(state.attributes);
        });
        if self.is_cancelled(id) {
            if opening.is_some() {
                // `cancel` found no record to report: report it here, as it would have.
                let reason = Some(kind.cancelled().into());
                self.transition_after(opening, rec, kind.failed(), reason, None)
                    .await?;
                lock(&self.reported_cancelled).push(id.to_string());
            } else if result.is_ok() {
                // Already reported cancelled; keep the physical id so rollback deletes
                // what the provider made.
                rec.status = kind.failed();
                rec.status_reason = Some(kind.cancelled().into());
                self.save(rec).await?;
            }
            return Ok(false);
        }
        match (result, made) {
            (Ok(()), Some(props)) => {
                rec.status = kind.complete();
                rec.status_reason = None;
                let physical = rec.physical_id.clone();
                let initiated = Ev {
                    status: kind.in_progress(),
                    reason: Some(INITIATED),
                    physical_id: physical.as_deref(),
                    properties: Some(props),
                };
                let complete = Ev {
                    status: kind.complete(),
                    reason: None,
                    physical_id: physical.as_deref(),
                    properties: None,
                };
                self.save_with(rec, opening, &[initiated, complete]).await?;
                Ok(true)
            }
            (Ok(()), None) => {
                self.transition(rec, kind.complete(), None, None).await?;
                Ok(true)
            }
            (Err(e), _) => {
                let reason = Some(e.to_string());
                self.transition_after(opening, rec, kind.failed(), reason, None)
                    .await?;
                Ok(false)
            }
        }
    }

    /// Reports every still-running create/update cancelled.
    pub(super) async fn cancel(self: Arc<Self>, running: Vec<String>) {
        for id in running {
            let _gate = self.gate(&id).await;
            lock(&self.cancelled).insert(id.clone());
            let Some(mut rec) = self.record(&id) else {
                continue;
            };
            let kind = match rec.status {
                ResourceStatus::CreateInProgress => Forward::Create,
                ResourceStatus::UpdateInProgress => Forward::Update,
                _ => continue,
            };
            let reason = Some(kind.cancelled().into());
            if let Err(e) = self.transition(&mut rec, kind.failed(), reason, None).await {
                tracing::error!(logical_id = %id, error = %e, "recording cancellation");
            }
            lock(&self.reported_cancelled).push(id);
        }
    }
}
