//! The [`Engine`]: the stack operations the API layer calls.
//!
//! Every mutating call validates synchronously, writes the stack's new in-progress state
//! and its first event, spawns a task that drives the operation (see `ops`), and returns.
//! Callers that need the outcome (tests, SageMaker's provisioning) await
//! [`Engine::wait_for_terminal`]. Dropping the engine aborts the driving tasks mid-step,
//! which is exactly what a crash looks like to the store; [`Engine::recover`] on a new
//! engine picks the stacks up again.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use crate::clock::{Clock, IdGenerator, RandomIds, SystemClock, change_set_arn, stack_arn};
use crate::diff::{self, MarkerLookup};
use crate::error::EngineError;
use crate::model::*;
use crate::ops::{self, Phase};
use crate::plan::{PlanFactory, StackIdentity, TemplatePlan};
use crate::provider::{ProviderRegistry, partition_for_region};
use crate::store::StackStore;

/// Where the engine runs and how hard it works.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    pub region: String,
    pub account_id: String,
    /// How many resource actions of one stack may run at once.
    pub max_parallel: usize,
}

impl EngineConfig {
    pub fn new(region: impl Into<String>, account_id: impl Into<String>) -> Self {
        Self {
            region: region.into(),
            account_id: account_id.into(),
            max_parallel: 16,
        }
    }
}

/// Everything an engine is built from. `clock` and `ids` default to the real ones.
pub struct EngineParts {
    pub config: EngineConfig,
    pub store: Arc<dyn StackStore>,
    pub providers: ProviderRegistry,
    pub plans: Arc<dyn PlanFactory>,
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<dyn IdGenerator>,
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
}

/// `CreateChangeSet`.
#[derive(Debug, Clone)]
pub struct CreateChangeSetInput {
    pub stack_name: String,
    pub change_set_name: String,
    pub change_set_type: ChangeSetType,
    /// `None` = `UsePreviousTemplate` (UPDATE only).
    pub template_body: Option<String>,
    pub parameters: BTreeMap<String, String>,
    pub capabilities: Vec<String>,
    pub tags: Option<Vec<(String, String)>>,
    pub notification_arns: Vec<String>,
    pub description: Option<String>,
    /// `RoleARN`: recorded on the stack when the change set is executed (`None` keeps
    /// the stack's role).
    pub role_arn: Option<String>,
}

/// What `CreateChangeSet` returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeSetIds {
    pub change_set_id: String,
    pub stack_id: String,
}

pub(crate) struct Inner {
    pub config: EngineConfig,
    pub partition: String,
    pub store: Arc<dyn StackStore>,
    pub providers: ProviderRegistry,
    pub plans: Arc<dyn PlanFactory>,
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<dyn IdGenerator>,
    /// Next event sequence number per stack. Held across the append so that store order
    /// and sequence order agree.
    #[allow(clippy::type_complexity)]
    event_seq: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Option<u64>>>>>,
    /// Serialises claims on export names across stacks.
    pub exports_lock: tokio::sync::Mutex<()>,
    /// Serialises stack-name and change-set-name uniqueness checks with their inserts.
    names_lock: tokio::sync::Mutex<()>,
    /// Bumped whenever a stack record is written; `wait_for_terminal` listens.
    changed: tokio::sync::watch::Sender<u64>,
    /// The tasks driving each stack. Admission lets one operation start at a time, but
    /// the previous one may still be ending (its flush and deregistration) when the next
    /// one is spawned: both are kept, so neither can escape the abort on drop.
    tasks: Mutex<HashMap<String, Vec<tokio::task::AbortHandle>>>,
}

/// What a [`Inner::commit`] writes along with its events.
pub(crate) enum Record<'a> {
    Stack(&'a StackRecord),
    /// The stack, only if its stored revision is still the given one (admission).
    StackIf(&'a StackRecord, u64),
    Resource(&'a ResourceRecord),
    Nothing,
}

/// An event before the engine numbers and stamps it.
pub(crate) struct EventDraft<'a> {
    pub logical_id: &'a str,
    pub physical_id: Option<&'a str>,
    pub resource_type: &'a str,
    pub status: &'a str,
    pub reason: Option<&'a str>,
    pub properties: Option<&'a serde_json::Value>,
}

impl Inner {
    /// A stack id just made (a fresh UUID in it) has no events yet: its numbering starts
    /// at 1 without asking the store.
    pub fn new_stack_events(&self, stack_id: &str) {
        self.event_seq
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(
                stack_id.to_string(),
                Arc::new(tokio::sync::Mutex::new(Some(1))),
            );
    }

    /// Writes `record` (if any) together with events built from `drafts`, as one atomic
    /// store call. Events are numbered under a per-stack lock that is released before the
    /// write, so the resource actions of one stack running in parallel write at the same
    /// time (and a batching store combines them). Sequence order is the order in which
    /// the engine decided the transitions; two concurrent writes may reach the store in
    /// the other order, and a failed write leaves a gap in the numbers. `Ok(false)` only
    /// for a [`Record::StackIf`] whose revision no longer matched (nothing written).
    pub async fn commit(
        &self,
        stack_id: &str,
        stack_name: &str,
        record: Record<'_>,
        drafts: &[EventDraft<'_>],
    ) -> Result<bool, EngineError> {
        let slot = self
            .event_seq
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(stack_id.to_string())
            .or_default()
            .clone();
        let events = {
            let mut next = slot.lock().await;
            let mut seq = match *next {
                Some(n) => n,
                None => self
                    .store
                    .list_events(stack_id, None, 1)
                    .await?
                    .first()
                    .map(|e| e.seq + 1)
                    .unwrap_or(1),
            };
            let events: Vec<StackEvent> = drafts
                .iter()
                .map(|d| {
                    let event = StackEvent {
                        seq,
                        event_id: self.ids.uuid(),
                        stack_id: stack_id.to_string(),
                        stack_name: stack_name.to_string(),
                        logical_resource_id: d.logical_id.to_string(),
                        physical_resource_id: d.physical_id.map(str::to_string),
                        resource_type: d.resource_type.to_string(),
                        timestamp: self.clock.now(),
                        resource_status: d.status.to_string(),
                        resource_status_reason: d.reason.map(str::to_string),
                        resource_properties: d.properties.map(|p| p.to_string()),
                    };
                    seq += 1;
                    event
                })
                .collect();
            *next = Some(seq);
            events
        };
        match record {
            Record::Stack(s) => self.store.put_stack(s, &events).await?,
            Record::StackIf(s, expected) => {
                return Ok(self.store.put_stack_if(s, &events, expected).await?);
            }
            Record::Resource(r) => self.store.put_resource(r, &events).await?,
            Record::Nothing if events.is_empty() => {}
            Record::Nothing => self.store.append_events(&events).await?,
        }
        Ok(true)
    }

    /// Writes the stack with a new status and emits its stack event.
    pub async fn set_status(
        &self,
        stack: &mut StackRecord,
        status: StackStatus,
        reason: Option<String>,
    ) -> Result<(), EngineError> {
        self.write_status(stack, status, reason, None).await?;
        Ok(())
    }

    /// Admits an operation on `stack` as read from the store: writes `status` (an
    /// `*_IN_PROGRESS`) only if nobody wrote the stack since that read, else answers
    /// AWS's `Stack:<arn> is in <status> state and can not be <action>.` with the status
    /// the winner wrote. Check and write are one compare-and-set in the store, so racing
    /// requests (in this process or on other replicas) start one operation, not several.
    pub async fn admit(
        &self,
        stack: &mut StackRecord,
        status: StackStatus,
        action: &'static str,
    ) -> Result<(), EngineError> {
        let read = stack.revision;
        if self
            .write_status(stack, status, Some("User Initiated".into()), Some(read))
            .await?
        {
            return Ok(());
        }
        let current = self.store.get_stack(&stack.stack_id).await?;
        Err(EngineError::InvalidState {
            stack_id: stack.stack_id.clone(),
            status: current.map_or_else(|| "DELETE_COMPLETE".into(), |s| s.status.to_string()),
            action,
        })
    }

    /// [`Self::set_status`], conditional on the stored revision when `expected` is given;
    /// `Ok(false)` when that condition failed (the record in memory is then stale).
    async fn write_status(
        &self,
        stack: &mut StackRecord,
        status: StackStatus,
        reason: Option<String>,
        expected: Option<u64>,
    ) -> Result<bool, EngineError> {
        stack.revision += 1;
        stack.status = status;
        stack.status_reason = reason;
        if status == StackStatus::DeleteComplete {
            stack.deletion_time = Some(self.clock.now());
        }
        let draft = EventDraft {
            logical_id: &stack.stack_name,
            physical_id: Some(&stack.stack_id),
            resource_type: "AWS::CloudFormation::Stack",
            status: status.as_str(),
            reason: stack.status_reason.as_deref(),
            properties: None,
        };
        let record = match expected {
            Some(revision) => Record::StackIf(stack, revision),
            None => Record::Stack(stack),
        };
        if !self
            .commit(&stack.stack_id, &stack.stack_name, record, &[draft])
            .await?
        {
            return Ok(false);
        }
        if status == StackStatus::DeleteComplete {
            // Nothing is recorded for a deleted stack after this: forget its numbering
            // (otherwise one entry per stack ever made stays in memory).
            self.event_seq
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&stack.stack_id);
        }
        self.changed.send_modify(|n| *n += 1);
        Ok(true)
    }

    pub fn identity(&self, stack: &StackRecord) -> StackIdentity {
        StackIdentity {
            stack_name: stack.stack_name.clone(),
            stack_id: stack.stack_id.clone(),
            region: self.config.region.clone(),
            account_id: self.config.account_id.clone(),
            notification_arns: stack.notification_arns.clone(),
        }
    }

    pub fn plan(
        &self,
        stack: &StackRecord,
        template: &TemplateSource,
    ) -> Result<Arc<dyn TemplatePlan>, EngineError> {
        self.plans
            .plan(&template.body, &template.parameters, &self.identity(stack))
            .map_err(EngineError::Template)
    }

    pub async fn exports_map(&self) -> Result<HashMap<String, String>, EngineError> {
        Ok(self
            .store
            .list_exports()
            .await?
            .into_iter()
            .map(|e| (e.name, e.value))
            .collect())
    }

    /// Names of the stacks (other than `except`) whose templates import `export`.
    pub async fn importers(&self, export: &str, except: &str) -> Result<Vec<String>, EngineError> {
        Ok(self
            .store
            .list_stacks()
            .await?
            .into_iter()
            .filter(|s| {
                s.stack_id != except
                    && !matches!(
                        s.status,
                        StackStatus::DeleteComplete
                            | StackStatus::ReviewInProgress
                            | StackStatus::RollbackComplete
                    )
                    && s.imports.iter().any(|i| i == export)
            })
            .map(|s| s.stack_name)
            .collect())
    }

    pub fn spawn(self: &Arc<Self>, stack_id: String, phase: Phase) {
        let inner = self.clone();
        let id = stack_id.clone();
        // Registered under the lock the task takes to deregister itself, so a task that
        // finishes at once cannot leave a stale entry behind.
        let mut tasks = self.tasks.lock().unwrap_or_else(|e| e.into_inner());
        // The operation's steps are deferred (see `durability`); it flushes when it ends,
        // unless the caller runs deferred itself and flushes at its own end.
        let flush_at_end = !crate::durability::is_deferred();
        let handle = tokio::spawn(crate::durability::deferred(async move {
            ops::drive(inner.clone(), id.clone(), phase).await;
            if flush_at_end && let Err(e) = inner.store.sync().await {
                tracing::error!(stack_id = %id, error = %e, "flushing the finished operation");
            }
            // Deregister only ourselves: once the stack is terminal the caller may already
            // have started the next operation on it, registered under the same stack id.
            let me = tokio::task::id();
            let mut tasks = inner.tasks.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(handles) = tasks.get_mut(&id) {
                handles.retain(|h| h.id() != me);
                if handles.is_empty() {
                    tasks.remove(&id);
                }
            }
            drop(tasks);
            inner.changed.send_modify(|n| *n += 1);
        }));
        tasks
            .entry(stack_id)
            .or_default()
            .push(handle.abort_handle());
    }

    fn is_running(&self, stack_id: &str) -> bool {
        self.tasks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(stack_id)
    }
}

/// The CloudFormation stack engine for one account and region.
pub struct Engine {
    inner: Arc<Inner>,
}

impl Drop for Engine {
    fn drop(&mut self) {
        // Tasks hold their own `Arc<Inner>`; without this they would outlive the engine.
        for h in self
            .inner
            .tasks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain()
            .flat_map(|(_, handles)| handles)
        {
            h.abort();
        }
    }
}

// The API layer shares one engine between request handlers.
const _: fn() = || {
    fn shared<T: Send + Sync + 'static>() {}
    shared::<Engine>();
};

const NAME_CONSTRAINT: &str =
    "Member must satisfy regular expression pattern: [a-zA-Z][-a-zA-Z0-9]*";

/// Checks a stack or change set name against `[a-zA-Z][-a-zA-Z0-9]*`, at most 128 long.
pub fn validate_name(value: &str, field: &str) -> Result<(), EngineError> {
    let mut chars = value.chars();
    let pattern_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-');
    let constraint = if !pattern_ok {
        NAME_CONSTRAINT
    } else if value.len() > 128 {
        "Member must have length less than or equal to 128"
    } else {
        return Ok(());
    };
    Err(EngineError::Validation(format!(
        "1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: {constraint}"
    )))
}

/// IAM name properties whose presence needs `CAPABILITY_NAMED_IAM`.
const IAM_NAME_PROPERTIES: &[(&str, &str)] = &[
    ("AWS::IAM::Role", "RoleName"),
    ("AWS::IAM::User", "UserName"),
    ("AWS::IAM::Group", "GroupName"),
    ("AWS::IAM::ManagedPolicy", "ManagedPolicyName"),
    ("AWS::IAM::InstanceProfile", "InstanceProfileName"),
];

fn check_capabilities(plan: &dyn TemplatePlan, given: &[String]) -> Result<(), EngineError> {
    let iam: Vec<_> = plan
        .resources()
        .iter()
        .filter(|r| r.resource_type.starts_with("AWS::IAM::"))
        .collect();
    if iam.is_empty() {
        return Ok(());
    }
    let live = BTreeMap::new();
    let none = HashSet::new();
    let exports = HashMap::new();
    let lookup = MarkerLookup {
        live: &live,
        unknown: &none,
        exports: &exports,
        all_unknown: true,
    };
    let named = iam.iter().any(|r| {
        IAM_NAME_PROPERTIES.iter().any(|(t, p)| {
            *t == r.resource_type && {
                plan.resolve_properties(&r.logical_id, &lookup)
                    .is_ok_and(|props| props.get(*p).is_some())
            }
        })
    });
    let has = |c: &str| given.iter().any(|g| g == c);
    if named && !has("CAPABILITY_NAMED_IAM") {
        return Err(EngineError::InsufficientCapabilities(
            "CAPABILITY_NAMED_IAM".into(),
        ));
    }
    if !has("CAPABILITY_IAM") && !has("CAPABILITY_NAMED_IAM") {
        return Err(EngineError::InsufficientCapabilities(
            "CAPABILITY_IAM".into(),
        ));
    }
    Ok(())
}

impl Engine {
    pub fn new(parts: EngineParts) -> Self {
        let partition = partition_for_region(&parts.config.region).to_string();
        let (changed, _) = tokio::sync::watch::channel(0);
        Self {
            inner: Arc::new(Inner {
                config: parts.config,
                partition,
                store: parts.store,
                providers: parts.providers,
                plans: parts.plans,
                clock: parts.clock,
                ids: parts.ids,
                event_seq: Mutex::new(HashMap::new()),
                exports_lock: tokio::sync::Mutex::new(()),
                names_lock: tokio::sync::Mutex::new(()),
                changed,
                tasks: Mutex::new(HashMap::new()),
            }),
        }
    }

    pub fn config(&self) -> &EngineConfig {
        &self.inner.config
    }

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
        let mut rx = self.inner.changed.subscribe();
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

    pub async fn create_stack(&self, input: CreateStackInput) -> Result<String, EngineError> {
        validate_name(&input.stack_name, "stackName")?;
        let inner = &self.inner;
        let _names = inner.names_lock.lock().await;
        if self.describe_stack(&input.stack_name).await.is_ok() {
            return Err(EngineError::AlreadyExists(input.stack_name));
        }
        let stack_id = stack_arn(
            &inner.partition,
            &inner.config.region,
            &inner.config.account_id,
            &input.stack_name,
            &inner.ids.uuid(),
        );
        let mut stack = StackRecord {
            stack_id: stack_id.clone(),
            stack_name: input.stack_name,
            status: StackStatus::CreateInProgress,
            status_reason: None,
            creation_time: inner.clock.now(),
            last_updated_time: None,
            deletion_time: None,
            description: None,
            template: TemplateSource {
                body: input.template_body,
                parameters: input.parameters,
            },
            previous_template: None,
            displayed_parameters: BTreeMap::new(),
            capabilities: input.capabilities,
            tags: input.tags,
            role_arn: input.role_arn,
            notification_arns: input.notification_arns,
            disable_rollback: input.disable_rollback,
            outputs: Vec::new(),
            imports: Vec::new(),
            change_set_id: None,
            retain_resources: Vec::new(),
            revision: 0,
        };
        let plan = inner.plan(&stack, &stack.template)?;
        self.validate_plan(&*plan, &stack.capabilities)?;
        stack.description = plan.description();
        stack.displayed_parameters = plan.displayed_parameters();
        stack.imports = plan.imports();
        inner.new_stack_events(&stack_id);
        inner
            .set_status(
                &mut stack,
                StackStatus::CreateInProgress,
                Some("User Initiated".into()),
            )
            .await?;
        inner.spawn(stack_id.clone(), Phase::Create);
        Ok(stack_id)
    }

    fn validate_plan(&self, plan: &dyn TemplatePlan, caps: &[String]) -> Result<(), EngineError> {
        let unknown: Vec<&str> = plan
            .resources()
            .iter()
            .filter(|r| self.inner.providers.get(&r.resource_type).is_none())
            .map(|r| r.resource_type.as_str())
            .collect();
        if !unknown.is_empty() {
            return Err(EngineError::Validation(format!(
                "Template format error: Unrecognized resource types: [{}]",
                unknown.join(", ")
            )));
        }
        diff::topological_order(plan)?;
        check_capabilities(plan, caps)
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

    /// Live resources of a stack keyed by logical id.
    async fn live_resources(
        &self,
        stack_id: &str,
    ) -> Result<BTreeMap<String, ResourceRecord>, EngineError> {
        Ok(self
            .inner
            .store
            .list_resources(stack_id)
            .await?
            .into_iter()
            .filter(|r| !r.status.is_gone())
            .map(|r| (r.logical_id.clone(), r))
            .collect())
    }

    /// Plans `template` for `stack` and computes its changes against the live resources.
    /// Also says whether the outputs would change when no resource does.
    async fn plan_changes(
        &self,
        stack: &StackRecord,
        template: &TemplateSource,
        capabilities: &[String],
    ) -> Result<(Arc<dyn TemplatePlan>, Vec<ResourceChange>, bool), EngineError> {
        let plan = self.inner.plan(stack, template)?;
        self.validate_plan(&*plan, capabilities)?;
        let live = self.live_resources(&stack.stack_id).await?;
        let exports = self.inner.exports_map().await?;
        let changes = diff::compute_changes(&*plan, &live, &self.inner.providers, &exports)?;
        let outputs_changed = changes.is_empty() && {
            let none = HashSet::new();
            let lookup = MarkerLookup {
                live: &live,
                unknown: &none,
                exports: &exports,
                all_unknown: false,
            };
            plan.resolve_outputs(&lookup)
                .map(|o| o != stack.outputs)
                .unwrap_or(true)
        };
        Ok((plan, changes, outputs_changed))
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
        let (plan, changes, outputs_changed) = self
            .plan_changes(&stack, &template, &input.capabilities)
            .await?;
        if changes.is_empty() && !outputs_changed {
            return Err(EngineError::NoUpdates);
        }
        stack.change_set_id = None;
        if input.role_arn.is_some() {
            stack.role_arn = input.role_arn;
        }
        self.prepare_update(&mut stack, template, &*plan, input.capabilities, input.tags);
        self.inner
            .admit(&mut stack, StackStatus::UpdateInProgress, "updated")
            .await?;
        // Admitted: this call owns the stack's next operation. Its pending change sets
        // were computed against the template being replaced.
        for mut cs in self.inner.store.list_change_sets(&stack.stack_id).await? {
            if cs.execution_status == ExecutionStatus::Available {
                cs.execution_status = ExecutionStatus::Obsolete;
                self.inner.store.put_change_set(&cs).await?;
            }
        }
        self.inner.spawn(stack.stack_id.clone(), Phase::Update);
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
        stack.description = plan.description();
        stack.capabilities = capabilities;
        if let Some(t) = tags {
            stack.tags = t;
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
        if !retain_resources.is_empty() && stack.status != StackStatus::DeleteFailed {
            return Err(EngineError::Validation(format!(
                "Invalid operation on stack [{}]. RetainResources can only be specified when the stack is in the DELETE_FAILED state",
                stack.stack_id
            )));
        }
        stack.retain_resources = retain_resources;
        self.inner
            .admit(&mut stack, StackStatus::DeleteInProgress, "deleted")
            .await?;
        self.inner.spawn(stack.stack_id.clone(), Phase::Delete);
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
        self.inner
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
        self.inner.spawn(stack_id.clone(), Phase::UpdateRollback);
        Ok(stack_id)
    }

    // ---- change sets -------------------------------------------------------------

    pub async fn create_change_set(
        &self,
        input: CreateChangeSetInput,
    ) -> Result<ChangeSetIds, EngineError> {
        validate_name(&input.change_set_name, "changeSetName")?;
        let inner = &self.inner;
        let _names = inner.names_lock.lock().await;
        let existing = self.describe_stack(&input.stack_name).await;
        let (stack, template) = match input.change_set_type {
            ChangeSetType::Create => {
                let body = input.template_body.clone().ok_or_else(|| {
                    EngineError::Validation(
                        "Either Template URL or Template Body must be specified.".into(),
                    )
                })?;
                let template = TemplateSource {
                    body,
                    parameters: input.parameters.clone(),
                };
                match existing {
                    Ok(s) if s.status == StackStatus::ReviewInProgress => (s, template),
                    Ok(s) => {
                        return Err(EngineError::Validation(format!(
                            "Stack [{}] already exists and cannot be created again with the changeSet [{}].",
                            s.stack_name, input.change_set_name
                        )));
                    }
                    Err(EngineError::NotFound(_)) => {
                        validate_name(&input.stack_name, "stackName")?;
                        let stack = self.new_review_stack(&input).await?;
                        (stack, template)
                    }
                    Err(e) => return Err(e),
                }
            }
            ChangeSetType::Update => {
                let s = existing?;
                Self::ensure_updatable(&s)?;
                let template = TemplateSource {
                    body: input
                        .template_body
                        .clone()
                        .unwrap_or_else(|| s.template.body.clone()),
                    parameters: input.parameters.clone(),
                };
                (s, template)
            }
        };
        let taken = inner
            .store
            .list_change_sets(&stack.stack_id)
            .await?
            .into_iter()
            .any(|c| c.change_set_name == input.change_set_name);
        if taken {
            return Err(EngineError::ChangeSetAlreadyExists(input.change_set_name));
        }

        let change_set_id = change_set_arn(
            &inner.partition,
            &inner.config.region,
            &inner.config.account_id,
            &input.change_set_name,
            &inner.ids.uuid(),
        );
        let mut cs = ChangeSetRecord {
            change_set_id: change_set_id.clone(),
            change_set_name: input.change_set_name.clone(),
            stack_id: stack.stack_id.clone(),
            stack_name: stack.stack_name.clone(),
            change_set_type: input.change_set_type,
            status: ChangeSetStatus::CreatePending,
            status_reason: None,
            execution_status: ExecutionStatus::Unavailable,
            creation_time: inner.clock.now(),
            description: input.description.clone(),
            template: template.clone(),
            displayed_parameters: BTreeMap::new(),
            capabilities: input.capabilities.clone(),
            tags: input.tags.clone().unwrap_or_else(|| stack.tags.clone()),
            role_arn: input.role_arn.clone(),
            notification_arns: input.notification_arns.clone(),
            changes: Vec::new(),
        };

        // Template and capability problems are the caller's errors, answered now.
        let (plan, changes, outputs_changed) = match input.change_set_type {
            ChangeSetType::Create => {
                let plan = inner.plan(&stack, &template)?;
                self.validate_plan(&*plan, &input.capabilities)?;
                let changes = plan
                    .resources()
                    .iter()
                    .map(|r| ResourceChange {
                        action: ChangeAction::Add,
                        logical_resource_id: r.logical_id.clone(),
                        physical_resource_id: None,
                        resource_type: r.resource_type.clone(),
                        replacement: None,
                        scope: Vec::new(),
                        details: Vec::new(),
                    })
                    .collect();
                (plan, changes, true)
            }
            ChangeSetType::Update => {
                self.plan_changes(&stack, &template, &input.capabilities)
                    .await?
            }
        };
        inner.store.put_change_set(&cs).await?;
        cs.displayed_parameters = plan.displayed_parameters();
        if changes.is_empty() && !outputs_changed {
            cs.status = ChangeSetStatus::Failed;
            cs.status_reason = Some(
                "The submitted information didn't contain changes. Submit different information to create a change set.".into(),
            );
            cs.execution_status = ExecutionStatus::Unavailable;
        } else {
            cs.status = ChangeSetStatus::CreateComplete;
            cs.execution_status = ExecutionStatus::Available;
        }
        cs.changes = changes;
        inner.store.put_change_set(&cs).await?;
        Ok(ChangeSetIds {
            change_set_id,
            stack_id: stack.stack_id,
        })
    }

    async fn new_review_stack(
        &self,
        input: &CreateChangeSetInput,
    ) -> Result<StackRecord, EngineError> {
        let inner = &self.inner;
        let mut stack = StackRecord {
            stack_id: stack_arn(
                &inner.partition,
                &inner.config.region,
                &inner.config.account_id,
                &input.stack_name,
                &inner.ids.uuid(),
            ),
            stack_name: input.stack_name.clone(),
            status: StackStatus::ReviewInProgress,
            status_reason: None,
            creation_time: inner.clock.now(),
            last_updated_time: None,
            deletion_time: None,
            description: None,
            template: TemplateSource::default(),
            previous_template: None,
            displayed_parameters: BTreeMap::new(),
            capabilities: Vec::new(),
            tags: input.tags.clone().unwrap_or_default(),
            role_arn: input.role_arn.clone(),
            notification_arns: input.notification_arns.clone(),
            disable_rollback: false,
            outputs: Vec::new(),
            imports: Vec::new(),
            change_set_id: None,
            retain_resources: Vec::new(),
            revision: 0,
        };
        // The plan must be valid before the stack appears at all.
        let plan = inner.plan(
            &stack,
            &TemplateSource {
                body: input.template_body.clone().unwrap_or_default(),
                parameters: input.parameters.clone(),
            },
        )?;
        self.validate_plan(&*plan, &input.capabilities)?;
        inner
            .set_status(
                &mut stack,
                StackStatus::ReviewInProgress,
                Some("User Initiated".into()),
            )
            .await?;
        Ok(stack)
    }

    /// Finds a change set by ARN, or by name within `stack_name`.
    pub async fn describe_change_set(
        &self,
        change_set: &str,
        stack_name: Option<&str>,
    ) -> Result<ChangeSetRecord, EngineError> {
        let not_found = || EngineError::ChangeSetNotFound(change_set.to_string());
        if change_set.starts_with("arn:") {
            return self
                .inner
                .store
                .get_change_set(change_set)
                .await?
                .ok_or_else(not_found);
        }
        let Some(stack_name) = stack_name else {
            return Err(not_found());
        };
        let stack = self.describe_stack(stack_name).await.map_err(|e| match e {
            EngineError::NotFound(_) => not_found(),
            e => e,
        })?;
        self.inner
            .store
            .list_change_sets(&stack.stack_id)
            .await?
            .into_iter()
            .find(|c| c.change_set_name == change_set)
            .ok_or_else(not_found)
    }

    /// A stack's change sets (`ListChangeSets`).
    pub async fn list_change_sets(
        &self,
        stack_name: &str,
    ) -> Result<Vec<ChangeSetRecord>, EngineError> {
        let stack = self.describe_stack(stack_name).await?;
        Ok(self.inner.store.list_change_sets(&stack.stack_id).await?)
    }

    pub async fn delete_change_set(
        &self,
        change_set: &str,
        stack_name: Option<&str>,
    ) -> Result<(), EngineError> {
        let cs = self.describe_change_set(change_set, stack_name).await?;
        if cs.execution_status == ExecutionStatus::ExecuteInProgress {
            return Err(EngineError::InvalidChangeSetStatus {
                id: cs.change_set_id,
                status: cs.execution_status.to_string(),
            });
        }
        Ok(self
            .inner
            .store
            .delete_change_set(&cs.change_set_id)
            .await?)
    }

    /// `ExecuteChangeSet`: starts the create or update; returns the stack id.
    pub async fn execute_change_set(
        &self,
        change_set: &str,
        stack_name: Option<&str>,
    ) -> Result<String, EngineError> {
        let mut cs = self.describe_change_set(change_set, stack_name).await?;
        if cs.execution_status != ExecutionStatus::Available {
            return Err(EngineError::InvalidChangeSetStatus {
                id: cs.change_set_id,
                status: cs.execution_status.to_string(),
            });
        }
        let inner = &self.inner;
        let mut stack = self.describe_stack(&cs.stack_id).await?;
        let plan = inner.plan(&stack, &cs.template)?;
        match cs.change_set_type {
            ChangeSetType::Create if stack.status != StackStatus::ReviewInProgress => {
                return Err(EngineError::InvalidChangeSetStatus {
                    id: cs.change_set_id,
                    status: ExecutionStatus::Obsolete.to_string(),
                });
            }
            ChangeSetType::Update => Self::ensure_updatable(&stack)?,
            _ => {}
        }
        if cs.role_arn.is_some() {
            stack.role_arn = cs.role_arn.clone();
        }
        stack.change_set_id = Some(cs.change_set_id.clone());
        let (status, phase, action) = match cs.change_set_type {
            ChangeSetType::Create => {
                stack.template = cs.template.clone();
                stack.capabilities = cs.capabilities.clone();
                stack.tags = cs.tags.clone();
                stack.description = plan.description();
                stack.displayed_parameters = plan.displayed_parameters();
                stack.imports = plan.imports();
                (StackStatus::CreateInProgress, Phase::Create, "created")
            }
            ChangeSetType::Update => {
                self.prepare_update(
                    &mut stack,
                    cs.template.clone(),
                    &*plan,
                    cs.capabilities.clone(),
                    Some(cs.tags.clone()),
                );
                (StackStatus::UpdateInProgress, Phase::Update, "updated")
            }
        };
        if let Err(e) = inner.admit(&mut stack, status, action).await {
            if !matches!(e, EngineError::InvalidState { .. }) {
                return Err(e);
            }
            // Lost a race: to the caller, this change set was executed or made obsolete.
            let status = match inner.store.get_change_set(&cs.change_set_id).await? {
                Some(now) if now.execution_status != ExecutionStatus::Available => {
                    now.execution_status
                }
                Some(_) => ExecutionStatus::ExecuteInProgress,
                None => ExecutionStatus::Obsolete,
            };
            return Err(EngineError::InvalidChangeSetStatus {
                id: cs.change_set_id,
                status: status.to_string(),
            });
        }
        // Admitted (a racing execution of this or another change set lost): executing
        // one change set makes the stack's other change sets meaningless.
        for other in inner.store.list_change_sets(&stack.stack_id).await? {
            if other.change_set_id != cs.change_set_id {
                inner.store.delete_change_set(&other.change_set_id).await?;
            }
        }
        cs.execution_status = ExecutionStatus::ExecuteInProgress;
        inner.store.put_change_set(&cs).await?;
        inner.spawn(stack.stack_id.clone(), phase);
        Ok(stack.stack_id)
    }

    // ---- recovery ----------------------------------------------------------------

    /// Drives every stack left `*_IN_PROGRESS` by a previous engine to a terminal state:
    /// interrupted creates and updates roll back; rollbacks, deletes and cleanups resume.
    /// Returns the ids of the stacks it picked up; await them with `wait_for_terminal`.
    /// How many stacks' event numbering is held in memory (every stack not yet
    /// `DELETE_COMPLETE` that this engine wrote events for). For tests.
    #[doc(hidden)]
    pub fn event_counters(&self) -> usize {
        self.inner
            .event_seq
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .len()
    }

    /// Flushes every write made so far to stable storage: what a caller running
    /// operations in a deferred scope does at its own end (see [`crate::durability`]).
    pub async fn flush(&self) -> Result<(), EngineError> {
        Ok(self.inner.store.sync().await?)
    }

    pub async fn recover(&self) -> Result<Vec<String>, EngineError> {
        let inner = &self.inner;
        let mut picked = Vec::new();
        for stack in inner.store.list_stacks().await? {
            for mut cs in inner.store.list_change_sets(&stack.stack_id).await? {
                if matches!(
                    cs.status,
                    ChangeSetStatus::CreatePending | ChangeSetStatus::CreateInProgress
                ) {
                    cs.status = ChangeSetStatus::Failed;
                    cs.status_reason = Some("Change set creation was interrupted".into());
                    inner.store.put_change_set(&cs).await?;
                }
            }
            if !stack.status.is_operation_in_progress() || inner.is_running(&stack.stack_id) {
                continue;
            }
            let phase = ops::recover_resources(inner, &stack).await?;
            inner.spawn(stack.stack_id.clone(), phase);
            picked.push(stack.stack_id);
        }
        Ok(picked)
    }
}
