//! The [`Engine`]: the stack operations the API layer calls.
//!
//! Every mutating call validates synchronously, writes the stack's new in-progress state
//! and its first event, spawns a task that drives the operation (see `ops`), and returns,
//! once the operation has ended when all of its work is inside the store (`settle.rs`).
//! Callers that need the outcome (tests, SageMaker's provisioning) await
//! [`Engine::wait_for_terminal`]. Dropping the engine aborts the driving tasks mid-step,
//! which is exactly what a crash looks like to the store; [`Engine::recover`] on a new
//! engine picks the stacks up again.
//!
//! This module holds the mutating stack calls; `reads` the calls that only read,
//! `change_sets` the change set calls, `validate` the
//! checks a template must pass before anything is written. What they share with the
//! operations they start is `Inner` (`inner.rs`).

mod change_sets;
mod drift;
mod protection;
mod reads;
mod validate;

use std::collections::BTreeMap;
use std::sync::Arc;

pub use change_sets::{ChangeSetIds, CreateChangeSetInput};
pub use validate::validate_name;

use protection::checked_policy;

use crate::clock::{Clock, IdGenerator, RandomIds, SystemClock, stack_arn};
use crate::diff::{self, MarkerLookup};
use crate::error::EngineError;
use crate::inner::Inner;
use crate::model::*;
use crate::ops::{self, Phase, Records};
use crate::plan::{PlanFactory, TemplatePlan, TemplateUrls};
use crate::provider::ProviderRegistry;
use crate::publish::{EventPublisher, NoEvents};
use crate::store::StackStore;

/// Where the engine runs and how hard it works.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    pub region: String,
    pub account_id: String,
    /// How many resource actions of one stack may run at once.
    pub max_parallel: usize,
    /// How long a mutating call whose work is all inside the store waits for its
    /// operation to end before answering (see `settle.rs`); zero answers at once.
    pub settle_within: std::time::Duration,
}

impl EngineConfig {
    pub fn new(region: impl Into<String>, account_id: impl Into<String>) -> Self {
        Self {
            region: region.into(),
            account_id: account_id.into(),
            max_parallel: 16,
            settle_within: DEFAULT_SETTLE_WITHIN,
        }
    }
}

/// [`EngineConfig::settle_within`]'s default: long enough for thousands of local
/// resources, well inside SDKs' 60-second read timeout.
pub const DEFAULT_SETTLE_WITHIN: std::time::Duration = std::time::Duration::from_secs(5);

/// Everything an engine is built from. `clock` and `ids` default to the real ones.
pub struct EngineParts {
    pub config: EngineConfig,
    pub store: Arc<dyn StackStore>,
    pub providers: ProviderRegistry,
    pub plans: Arc<dyn PlanFactory>,
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<dyn IdGenerator>,
    /// Where nested stacks' `TemplateURL`s are read; without it a nested stack fails
    /// with the reason that no template source is configured.
    pub templates: Option<Arc<dyn TemplateUrls>>,
    /// Where the stacks' "CloudFormation Stack Status Change" and "CloudFormation
    /// Resource Status Change" events go (the account's default event bus); nowhere by
    /// default ([`NoEvents`]).
    pub events: Arc<dyn EventPublisher>,
    /// This process's claims on stacks, when processes share the store
    /// ([`crate::claims`]); every claim granted by default ([`crate::claims::Unclaimed`]).
    pub claims: Arc<dyn crate::claims::Claims>,
}

impl EngineParts {
    pub fn new(
        config: EngineConfig,
        store: Arc<dyn StackStore>,
        providers: ProviderRegistry,
        plans: Arc<dyn PlanFactory>,
    ) -> Self {
        Self {
            config,
            store,
            providers,
            plans,
            clock: Arc::new(SystemClock),
            ids: Arc::new(RandomIds),
            templates: None,
            events: Arc::new(NoEvents),
            claims: Arc::new(crate::claims::Unclaimed),
        }
    }
}

/// `CreateStack`.
#[derive(Debug, Clone, Default)]
pub struct CreateStackInput {
    pub stack_name: String,
    pub template_body: String,
    pub parameters: BTreeMap<String, String>,
    pub capabilities: Vec<String>,
    pub tags: Vec<(String, String)>,
    pub notification_arns: Vec<String>,
    pub disable_rollback: bool,
    /// `RoleARN`: the IAM role recorded on the stack (sagestack does not assume it; it is
    /// kept and shown so that clients and projects see what AWS would show).
    pub role_arn: Option<String>,
    /// The parent stack's id, for a nested stack (set by the engine's nested stack
    /// resources, not by the API).
    pub parent_id: Option<String>,
    /// `StackPolicyBody` (checked here, enforced on updates).
    pub stack_policy: Option<String>,
    /// `EnableTerminationProtection`.
    pub termination_protection: bool,
}

/// `UpdateStack`. Parameter values are final: the API layer resolves `UsePreviousValue`
/// from [`StackRecord::template`]`.parameters`.
#[derive(Debug, Clone, Default)]
pub struct UpdateStackInput {
    /// Name or id.
    pub stack_name: String,
    /// `None` = `UsePreviousTemplate`.
    pub template_body: Option<String>,
    pub parameters: BTreeMap<String, String>,
    pub capabilities: Vec<String>,
    /// `None` keeps the stack's tags.
    pub tags: Option<Vec<(String, String)>>,
    /// `RoleARN`; `None` keeps the stack's role.
    pub role_arn: Option<String>,
    /// `StackPolicyBody`: replaces the stack's policy; `None` keeps it.
    pub stack_policy: Option<String>,
    /// `StackPolicyDuringUpdateBody`: the policy of this update only.
    pub update_policy: Option<String>,
}

/// The CloudFormation stack engine for one account and region. It owns the tasks that
/// drive operations (dropping it aborts them, see `Drop`); the operations themselves are
/// [`Stacks`]' methods, which it derefs to.
pub struct Engine {
    stacks: Stacks,
}

/// The stack operations over an engine's shared state, without ownership of its tasks.
/// An [`Engine`] is one; a nested stack's resource action ([`crate::nested`]) makes
/// another for the time of the action, to create, update or delete its child stack in the
/// same engine. It is built from the engine's state when needed and never stored in it,
/// so no reference cycle arises.
pub struct Stacks {
    inner: Arc<Inner>,
}

impl std::ops::Deref for Engine {
    type Target = Stacks;

    fn deref(&self) -> &Stacks {
        &self.stacks
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        // Tasks hold their own `Arc<Inner>`; without this they would outlive the engine.
        self.stacks.inner.abort_all();
    }
}

// The API layer shares one engine between request handlers.
const _: fn() = || {
    fn shared<T: Send + Sync + 'static>() {}
    shared::<Engine>();
};

impl Engine {
    pub fn new(parts: EngineParts) -> Self {
        Self {
            stacks: Stacks {
                inner: Arc::new(Inner::new(parts)),
            },
        }
    }
}

impl Stacks {
    /// The operations over `inner` (see [`Stacks`]).
    pub(crate) fn over(inner: Arc<Inner>) -> Self {
        Stacks { inner }
    }

    pub(crate) fn inner(&self) -> &Arc<Inner> {
        &self.inner
    }

    pub fn config(&self) -> &EngineConfig {
        &self.inner.config
    }

    pub async fn create_stack(&self, input: CreateStackInput) -> Result<String, EngineError> {
        validate_name(&input.stack_name, "stackName")?;
        let inner = &self.inner;
        let _names = inner.names_lock.lock(&input.stack_name).await;
        // A store failure is the answer, not "no such stack": a stack of this name may
        // exist where the store cannot see now.
        match self.describe_stack(&input.stack_name).await {
            Ok(_) => return Err(EngineError::AlreadyExists(input.stack_name)),
            Err(EngineError::NotFound(_)) => {}
            Err(e) => return Err(e),
        }
        let mut stack = self.new_stack(input.stack_name, StackStatus::CreateInProgress);
        let stack_id = stack.stack_id.clone();
        stack.template = TemplateSource {
            body: input.template_body,
            parameters: input.parameters,
        };
        stack.capabilities = input.capabilities;
        stack.tags = input.tags;
        stack.role_arn = input.role_arn;
        stack.notification_arns = input.notification_arns;
        stack.disable_rollback = input.disable_rollback;
        stack.protection.stack_policy = checked_policy(input.stack_policy)?;
        stack.protection.termination_protection = input.termination_protection;
        if let Some(parent_id) = input.parent_id {
            let parent = self.describe_stack(&parent_id).await?;
            let root_id = parent.nesting.map_or(parent.stack_id, |n| n.root_id);
            stack.nesting = Some(Nesting { parent_id, root_id });
        }
        let plan = inner.plan(&stack, &stack.template)?;
        self.validate_plan(&*plan, &stack.capabilities)?;
        let settle = inner.settle_for([Some(&*plan)]);
        stack.description = plan.description();
        stack.displayed_parameters = plan.displayed_parameters();
        stack.resolved_parameters = plan.resolved_parameters();
        stack.imports = plan.imports();
        inner.new_stack_events(&stack_id);
        // A fresh id: no other process can hold it, but the claim must exist before the
        // stack reads as in progress, or another replica would take it over.
        let hold = inner
            .hold(&stack_id, false)
            .await?
            .ok_or_else(|| EngineError::AlreadyExists(stack.stack_name.clone()))?;
        // Written as the status of the create's phase: when the call waits for the
        // operation, queued with its steps rather than committed on its own
        // (`StackStore::put_stack_step`), so the operation takes the record from here.
        let started = inner.set_phase_status(
            &mut stack,
            StackStatus::CreateInProgress,
            Some("User Initiated".into()),
        );
        inner.admission(settle, started).await?;
        // A new stack has no records: its first phase need not read them.
        let task = inner.spawn(
            stack_id.clone(),
            Phase::Create,
            hold,
            Some(Records::new()),
            Some(stack),
        );
        drop(_names);
        inner.settle(settle, task).await?;
        Ok(stack_id)
    }

    /// The record of a stack about to be made, with a fresh id, as nothing but its name
    /// and `status` (not written yet).
    fn new_stack(&self, stack_name: String, status: StackStatus) -> StackRecord {
        let inner = &self.inner;
        let id = stack_arn(
            &inner.partition,
            &inner.config.region,
            &inner.config.account_id,
            &stack_name,
            &inner.ids.uuid(),
        );
        StackRecord::new(id, stack_name, status, inner.clock.now())
    }

    fn ensure_updatable(stack: &StackRecord) -> Result<(), EngineError> {
        if stack.status.is_updatable() {
            Ok(())
        } else {
            Err(EngineError::InvalidState {
                stack_id: stack.stack_id.clone(),
                status: stack.status.to_string(),
                action: "updated",
            })
        }
    }

    /// Plans `template` for `stack` and computes its changes against the live resources.
    /// Also says whether the update changes something besides its resources: the outputs,
    /// or the stack's tags. `tags`, when given and not the stack's, change every taggable
    /// resource too. Last, the stack's records as read, for the update's first phase.
    async fn plan_changes(
        &self,
        stack: &StackRecord,
        template: &TemplateSource,
        capabilities: &[String],
        tags: Option<&[(String, String)]>,
    ) -> Result<(Arc<dyn TemplatePlan>, Vec<ResourceChange>, bool, Records), EngineError> {
        let plan = self.inner.plan(stack, template)?;
        self.validate_plan(&*plan, capabilities)?;
        let records = self.inner.records_at(stack).await?;
        // The live ones: all of them, unless some are gone (a copy only then).
        let live: std::borrow::Cow<'_, Records> = if records.values().any(|r| r.status.is_gone()) {
            std::borrow::Cow::Owned(
                records
                    .iter()
                    .filter(|(_, r)| !r.status.is_gone())
                    .map(|(id, r)| (id.clone(), r.clone()))
                    .collect(),
            )
        } else {
            std::borrow::Cow::Borrowed(&records)
        };
        let exports = self.inner.exports_map().await?;
        // What the change set must not show: custom resources' NoEcho data, and NoEcho
        // parameters' values, old and new.
        let secrets = crate::no_echo::secrets(live.values().map(|r| &*r.attributes));
        let mut shown_secrets = crate::no_echo::parameter_secrets(
            &plan.displayed_parameters(),
            [&stack.template.parameters, &template.parameters],
        );
        shown_secrets.extend(secrets.iter().cloned());
        shown_secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        let mut changes = diff::compute_changes(
            &*plan,
            &live,
            &self.inner.providers,
            &exports,
            &shown_secrets,
        )?;
        let tags_changed = tags.is_some_and(|t| t != stack.tags.as_slice());
        if tags_changed {
            diff::add_tag_changes(
                &mut changes,
                &*plan,
                &live,
                &self.inner.providers,
                &shown_secrets,
            );
        }
        // A change of the stack's tags alone is an update, as in CloudFormation.
        let outputs_changed = tags_changed
            || changes.is_empty() && {
                // Compared as stored: with NoEcho values masked.
                plan.resolve_outputs(&MarkerLookup::known(&live, &exports))
                    .map(|o| crate::no_echo::mask_outputs(o, &secrets) != stack.outputs)
                    .unwrap_or(true)
            };
        Ok((plan, changes, outputs_changed, records))
    }

    pub async fn update_stack(&self, input: UpdateStackInput) -> Result<String, EngineError> {
        let mut stack = self.describe_stack(&input.stack_name).await?;
        Self::ensure_updatable(&stack)?;
        let template = TemplateSource {
            body: input
                .template_body
                .unwrap_or_else(|| stack.template.body.clone()),
            parameters: input.parameters,
        };
        let (plan, changes, outputs_changed, records) = self
            .plan_changes(
                &stack,
                &template,
                &input.capabilities,
                input.tags.as_deref(),
            )
            .await?;
        if changes.is_empty() && !outputs_changed {
            // Nothing runs: the records stay the stack's at the revision read.
            self.inner
                .kept
                .keep(&stack.stack_id, stack.revision, records);
            return Err(EngineError::NoUpdates);
        }
        stack.change_set_id = None;
        if input.role_arn.is_some() {
            stack.role_arn = input.role_arn;
        }
        if let Some(policy) = checked_policy(input.stack_policy)? {
            stack.protection.stack_policy = Some(policy);
        }
        stack.protection.update_policy = checked_policy(input.update_policy)?;
        let previous = self.inner.plan(&stack, &stack.template).ok();
        let settle = self.inner.settle_for([Some(&*plan), previous.as_deref()]);
        self.prepare_update(&mut stack, template, &*plan, input.capabilities, input.tags);
        let admitted = self
            .inner
            .admit(&mut stack, StackStatus::UpdateInProgress, "updated");
        let hold = self.inner.admission(settle, admitted).await?;
        // Admitted: this call owns the stack's next operation. Its pending change sets
        // were computed against the template being replaced.
        for mut cs in self.inner.store.list_change_sets(&stack.stack_id).await? {
            if cs.execution_status == ExecutionStatus::Available {
                cs.execution_status = ExecutionStatus::Obsolete;
                self.inner.store.put_change_set(&cs).await?;
            }
        }
        self.inner.forget_interrupt(&stack.stack_id);
        // The records read above are still the stack's: records change only inside an
        // operation, and admission (a compare-and-set on the stack's revision read before
        // them) succeeded, so none ran in between.
        let task = self.inner.spawn(
            stack.stack_id.clone(),
            Phase::Update,
            hold,
            Some(records),
            None,
        );
        self.inner.settle(settle, task).await?;
        Ok(stack.stack_id)
    }

    /// The record of `stack` at the start of an update to `template` (admitted and
    /// spawned by the caller).
    fn prepare_update(
        &self,
        stack: &mut StackRecord,
        template: TemplateSource,
        plan: &dyn TemplatePlan,
        capabilities: Vec<String>,
        tags: Option<Vec<(String, String)>>,
    ) {
        stack.previous_template = Some(std::mem::replace(&mut stack.template, template));
        stack.displayed_parameters = plan.displayed_parameters();
        stack.resolved_parameters = plan.resolved_parameters();
        stack.description = plan.description();
        stack.capabilities = capabilities;
        // New tags reach every taggable resource (`Run::tags_changed`); the old ones are
        // kept for a rollback to put back.
        stack.previous_tags = None;
        if let Some(t) = tags
            && t != stack.tags
        {
            stack.previous_tags = Some(std::mem::replace(&mut stack.tags, t));
        }
        // While the update runs the stack uses both templates' imports: an export the new
        // template stops importing is still in use until the update completes.
        for i in plan.imports() {
            if !stack.imports.contains(&i) {
                stack.imports.push(i);
            }
        }
        stack.last_updated_time = Some(self.inner.clock.now());
    }

    /// `CancelUpdateStack`: interrupts the stack's running update, which then rolls back
    /// ("Stack update cancelled"). Only an update this engine is driving can be
    /// interrupted (one driven by another replica answers as a stack not updating).
    pub async fn cancel_update_stack(&self, name_or_id: &str) -> Result<(), EngineError> {
        let stack = self.describe_stack(name_or_id).await?;
        if stack.status != StackStatus::UpdateInProgress || !self.inner.is_running(&stack.stack_id)
        {
            return Err(EngineError::Validation(
                "CancelUpdateStack cannot be called from current stack status".into(),
            ));
        }
        self.inner.interrupt_of(&stack.stack_id).notify_one();
        Ok(())
    }

    /// `DeleteStack`. `Ok(None)` when no such stack exists (AWS answers success then).
    pub async fn delete_stack(
        &self,
        name_or_id: &str,
        retain_resources: Vec<String>,
    ) -> Result<Option<String>, EngineError> {
        let mut stack = match self.describe_stack(name_or_id).await {
            Ok(s) => s,
            Err(EngineError::NotFound(_)) => return Ok(None),
            Err(e) => return Err(e),
        };
        if stack.status == StackStatus::DeleteComplete {
            return Ok(Some(stack.stack_id));
        }
        if stack.status.is_operation_in_progress() {
            return Err(EngineError::InvalidState {
                stack_id: stack.stack_id,
                status: stack.status.to_string(),
                action: "deleted",
            });
        }
        if stack.protection.termination_protection {
            return Err(EngineError::Validation(format!(
                "Stack [{}] cannot be deleted while TerminationProtection is enabled",
                stack.stack_name
            )));
        }
        if !retain_resources.is_empty() && stack.status != StackStatus::DeleteFailed {
            return Err(EngineError::Validation(format!(
                "Invalid operation on stack [{}]. RetainResources can only be specified when the stack is in the DELETE_FAILED state",
                stack.stack_id
            )));
        }
        stack.retain_resources = retain_resources;
        let plan = self.inner.plan(&stack, &stack.template).ok();
        let settle = self.inner.settle_for_delete(plan.as_deref());
        let read = stack.revision;
        let admitted = self
            .inner
            .admit(&mut stack, StackStatus::DeleteInProgress, "deleted");
        let hold = self.inner.admission(settle, admitted).await?;
        // Admitted on the revision read: records kept at it are still the stack's.
        let records = self.inner.kept.take(&stack.stack_id, read);
        let task = self
            .inner
            .spawn(stack.stack_id.clone(), Phase::Delete, hold, records, None);
        self.inner.settle(settle, task).await?;
        Ok(Some(stack.stack_id))
    }

    /// `ContinueUpdateRollback`: resumes the rollback of a stack in
    /// `UPDATE_ROLLBACK_FAILED`. Resources in `resources_to_skip` are not rolled back:
    /// like AWS, their status is set to `UPDATE_COMPLETE` and their pre-update state is
    /// dropped (the physical resource stays as it is).
    pub async fn continue_update_rollback(
        &self,
        name_or_id: &str,
        resources_to_skip: Vec<String>,
    ) -> Result<String, EngineError> {
        let mut stack = self.describe_stack(name_or_id).await?;
        if stack.status != StackStatus::UpdateRollbackFailed {
            return Err(EngineError::Validation(format!(
                "Stack {} is in {} state and cannot continue an update rollback",
                stack.stack_id, stack.status
            )));
        }
        let store = &self.inner.store;
        let records = store.list_resources(&stack.stack_id).await?;
        if let Some(id) = resources_to_skip
            .iter()
            .find(|id| !records.iter().any(|r| &r.logical_id == *id))
        {
            return Err(EngineError::Validation(format!(
                "Resource {id} does not exist in stack {}",
                stack.stack_name
            )));
        }
        let hold = self
            .inner
            .admit(&mut stack, StackStatus::UpdateRollbackInProgress, "")
            .await
            .map_err(|e| match e {
                // The same answer as when the read had shown the winner's status.
                EngineError::InvalidState {
                    stack_id, status, ..
                } => EngineError::Validation(format!(
                    "Stack {stack_id} is in {status} state and cannot continue an update rollback"
                )),
                e => e,
            })?;
        // Admitted: no other operation runs on the stack, so its records are ours to edit
        // before the rollback task starts.
        for rec in records
            .iter()
            .filter(|r| resources_to_skip.contains(&r.logical_id))
        {
            let mut rec = rec.clone();
            rec.prior = None;
            rec.status = ResourceStatus::UpdateComplete;
            rec.status_reason = None;
            store.put_resource(&rec, &[]).await?;
        }
        let stack_id = stack.stack_id.clone();
        self.inner
            .spawn(stack_id.clone(), Phase::UpdateRollback, hold, None, None);
        Ok(stack_id)
    }

    // ---- recovery ----------------------------------------------------------------

    /// How many stacks' event numbering is held in memory (every stack not yet
    /// `DELETE_COMPLETE` that this engine wrote events for). For tests.
    #[doc(hidden)]
    pub fn event_counters(&self) -> usize {
        self.inner.event_counters()
    }

    /// How many stacks this engine is driving now (an operation running, or ending).
    pub fn driving(&self) -> usize {
        self.inner.driving()
    }

    /// After the store was emptied with no stack driven (`POST /_sagestack/reset`):
    /// forgets what this engine remembers of stacks (their event numbering).
    pub fn forget_stacks(&self) {
        self.inner.forget_event_numbering();
    }

    /// Flushes every write made so far to stable storage: what a caller running
    /// operations in a deferred scope does at its own end (see [`crate::durability`]).
    pub async fn flush(&self) -> Result<(), EngineError> {
        Ok(self.inner.store.sync().await?)
    }

    /// Drives every stack left `*_IN_PROGRESS` by a previous engine to a terminal state:
    /// interrupted creates and updates roll back; rollbacks, deletes and cleanups resume.
    /// A stack that another live process holds (`claims.rs`) is left to it. Returns the
    /// ids of the stacks it picked up; await them with `wait_for_terminal`.
    pub async fn recover(&self) -> Result<Vec<String>, EngineError> {
        let inner = &self.inner;
        let mut picked = Vec::new();
        // At start-up nobody else can be creating one: fail them whatever their age.
        self.fail_interrupted_change_sets(std::time::Duration::ZERO)
            .await?;
        for stack in inner.store.list_stacks().await? {
            if self.recover_stack(&stack).await? {
                picked.push(stack.stack_id);
            }
        }
        Ok(picked)
    }

    /// Resumes one stack (as [`Engine::recover`] does each) if it is in progress, nothing
    /// in this engine holds it, and it can be claimed (no live process holds it): `true`
    /// when a task now drives it. `stack` is a listing's copy; it is read again once
    /// claimed, since its holder may have finished it in between.
    pub async fn recover_stack(&self, stack: &StackRecord) -> Result<bool, EngineError> {
        let inner = &self.inner;
        if !stack.status.is_operation_in_progress() || inner.is_running(&stack.stack_id) {
            return Ok(false);
        }
        let Some(hold) = inner.hold(&stack.stack_id, true).await? else {
            return Ok(false);
        };
        let Some(stack) = inner.store.get_stack(&stack.stack_id).await? else {
            return Ok(false);
        };
        if !stack.status.is_operation_in_progress() || inner.is_running(&stack.stack_id) {
            return Ok(false);
        }
        let phase = ops::recover_resources(inner, &stack).await?;
        inner.spawn(stack.stack_id.clone(), phase, hold, None, None);
        Ok(true)
    }
}
