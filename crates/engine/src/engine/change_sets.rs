//! Change sets: computed against the live stack when created, and executed as the create or
//! update they describe (`ops` then records the outcome on the change set).

use std::collections::BTreeMap;

use crate::clock::change_set_arn;
use crate::diff::{MarkerLookup, shown};
use crate::error::EngineError;
use crate::model::*;
use crate::ops::{Phase, Records};

use super::{Stacks, validate_name};

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

impl Stacks {
    pub async fn create_change_set(
        &self,
        input: CreateChangeSetInput,
    ) -> Result<ChangeSetIds, EngineError> {
        validate_name(&input.change_set_name, "changeSetName")?;
        let inner = &self.inner;
        let _names = inner.names_lock.lock(&input.stack_name).await;
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
            resolved_parameters: BTreeMap::new(),
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
                // Every resource is new: each reference to one is known after apply.
                let exports = inner.exports_map().await?;
                let none = BTreeMap::new();
                let unknown = std::collections::HashSet::new();
                let lookup = MarkerLookup {
                    live: &none,
                    unknown: &unknown,
                    exports: &exports,
                    all_unknown: true,
                };
                let secrets = crate::no_echo::parameter_secrets(
                    &plan.displayed_parameters(),
                    [&template.parameters],
                );
                let changes =
                    plan.resources()
                        .iter()
                        .map(|r| ResourceChange {
                            action: ChangeAction::Add,
                            logical_resource_id: r.logical_id.clone(),
                            physical_resource_id: None,
                            resource_type: r.resource_type.clone(),
                            replacement: None,
                            scope: Vec::new(),
                            details: Vec::new(),
                            values: plan.resolve_properties(&r.logical_id, &lookup).ok().map(
                                |after| ChangeValues {
                                    before: None,
                                    after: Some(shown(&after, &secrets)),
                                },
                            ),
                        })
                        .collect();
                (plan, changes, true)
            }
            ChangeSetType::Update => {
                let (plan, changes, outputs_changed, records) = self
                    .plan_changes(
                        &stack,
                        &template,
                        &input.capabilities,
                        input.tags.as_deref(),
                    )
                    .await?;
                // Planning changes nothing: the records stay the stack's at its revision.
                inner.kept.keep(&stack.stack_id, stack.revision, records);
                (plan, changes, outputs_changed)
            }
        };
        inner.store.put_change_set(&cs).await?;
        cs.displayed_parameters = plan.displayed_parameters();
        cs.resolved_parameters = plan.resolved_parameters();
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
        let mut stack = self.new_stack(input.stack_name.clone(), StackStatus::ReviewInProgress);
        stack.tags = input.tags.clone().unwrap_or_default();
        stack.role_arn = input.role_arn.clone();
        stack.notification_arns = input.notification_arns.clone();
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
        let read = stack.revision;
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
        let settle = match cs.change_set_type {
            ChangeSetType::Create => inner.settle_for([Some(&*plan)]),
            ChangeSetType::Update => {
                let previous = inner.plan(&stack, &stack.template).ok();
                inner.settle_for([Some(&*plan), previous.as_deref()])
            }
        };
        let (status, phase, action) = match cs.change_set_type {
            ChangeSetType::Create => {
                stack.template = cs.template.clone();
                stack.capabilities = cs.capabilities.clone();
                stack.tags = cs.tags.clone();
                stack.description = plan.description();
                stack.displayed_parameters = plan.displayed_parameters();
                stack.resolved_parameters = plan.resolved_parameters();
                stack.imports = plan.imports();
                (StackStatus::CreateInProgress, Phase::Create, "created")
            }
            ChangeSetType::Update => {
                // A change set carries no policy of its own for the update.
                stack.protection.update_policy = None;
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
        let admitted = async {
            let hold = self
                .admit_change_set(&mut stack, &cs, status, action)
                .await?;
            // Admitted (a racing execution of this or another change set lost): executing
            // one change set makes the stack's other change sets meaningless.
            for other in inner.store.list_change_sets(&stack.stack_id).await? {
                if other.change_set_id != cs.change_set_id {
                    inner.store.delete_change_set(&other.change_set_id).await?;
                }
            }
            cs.execution_status = ExecutionStatus::ExecuteInProgress;
            inner.store.put_change_set(&cs).await?;
            Ok::<_, EngineError>(hold)
        };
        let hold = inner.admission(settle, admitted).await?;
        inner.forget_interrupt(&stack.stack_id);
        // A stack in review (a change set of type Create) has no records yet; an updated
        // one's kept at the revision read are still its own (admitted on that revision).
        let records = match cs.change_set_type {
            ChangeSetType::Create => Some(Records::new()),
            ChangeSetType::Update => inner.kept.take(&stack.stack_id, read),
        };
        let task = inner.spawn(stack.stack_id.clone(), phase, hold, records, None);
        inner.settle(settle, task).await?;
        Ok(stack.stack_id)
    }

    /// Admits the execution of `cs` on `stack` as an operation in `status`; a lost race
    /// answers as the change set's status, as AWS does.
    async fn admit_change_set(
        &self,
        stack: &mut StackRecord,
        cs: &ChangeSetRecord,
        status: StackStatus,
        action: &'static str,
    ) -> Result<crate::inner::Hold, EngineError> {
        let inner = &self.inner;
        match inner.admit(stack, status, action).await {
            Ok(hold) => Ok(hold),
            Err(e) => {
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
                Err(EngineError::InvalidChangeSetStatus {
                    id: cs.change_set_id.clone(),
                    status: status.to_string(),
                })
            }
        }
    }

    /// Marks `FAILED` ("Change set creation was interrupted") every change set whose
    /// creation has not ended and that was begun at least `older_than` ago; returns how
    /// many. A `CreateChangeSet` writes its change set pending and then its outcome within
    /// the one call, so one left pending lost its process between the two writes. At
    /// start-up (`recover`) nobody else can be creating one and any age will do; on a
    /// shared database takeover's scan passes the lease lifetime, so that a replica never
    /// fails one a live process is about to finish (were it slower than that, its own
    /// outcome, written last, would stand).
    pub async fn fail_interrupted_change_sets(
        &self,
        older_than: std::time::Duration,
    ) -> Result<usize, EngineError> {
        let inner = &self.inner;
        let now = inner.clock.now();
        let age = i64::try_from(older_than.as_millis()).unwrap_or(i64::MAX);
        let mut failed = 0;
        for mut cs in inner.store.unfinished_change_sets().await? {
            // Zero means any age, even one a clock that moved back makes negative.
            if !older_than.is_zero() && now.saturating_sub(cs.creation_time) < age {
                continue;
            }
            cs.status = ChangeSetStatus::Failed;
            cs.status_reason = Some("Change set creation was interrupted".into());
            cs.execution_status = ExecutionStatus::Unavailable;
            inner.store.put_change_set(&cs).await?;
            failed += 1;
        }
        Ok(failed)
    }
}
