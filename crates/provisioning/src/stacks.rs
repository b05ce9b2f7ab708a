//! Template-provider operations: fetch the `TemplateURL`, validate the template (once
//! per distinct body), and create, update or delete the project's stack, adopting what
//! a previous process left; and what a finished stack says for the project record.

use std::collections::BTreeMap;
use std::sync::Arc;

use sagestack_cloudformation::{
    CloudFormationService, CreateStackInput, EngineError, S3_TEMPLATE_LIMIT, StackRecord,
    StackStatus, TemplateFetchError, UpdateStackInput,
};
use sagestack_engine::StackEvent;
use sagestack_sagemaker::{Project, ProjectStatus, Projects, ProvisioningUpdate, SageMakerError};
use serde_json::{Value, json};

use crate::messages::{self, Action};
use crate::worker::{Checked, Inner};
use crate::{
    CAPABILITIES, PROJECT_ID_PARAMETER, PROJECT_ID_TAG, PROJECT_NAME_PARAMETER, PROJECT_NAME_TAG,
    TEMPLATE_CACHE, stack_name,
};

/// The first `CfnTemplateProviderDetail` of a project.
pub(crate) fn cfn_detail(project: &Project) -> Option<&serde_json::Map<String, Value>> {
    project
        .template_provider_details
        .as_ref()?
        .as_array()?
        .iter()
        .find_map(|d| d.get("CfnTemplateProviderDetail")?.as_object())
}

/// The project's `TemplateProviderDetails` with `stack_detail` set on its template.
pub(crate) fn with_stack_detail(project: &Project, stack_detail: Value) -> Value {
    let mut details = project
        .template_provider_details
        .clone()
        .unwrap_or_else(|| json!([]));
    if let Some(cfn) = details
        .as_array_mut()
        .and_then(|a| a.first_mut())
        .and_then(|d| d.get_mut("CfnTemplateProviderDetail"))
        .and_then(Value::as_object_mut)
    {
        cfn.insert("StackDetail".into(), stack_detail);
    }
    details
}

pub(crate) fn stack_detail(name: &str, id: Option<&str>, message: &str) -> Value {
    let mut d = json!({"Name": name, "StatusMessage": message});
    if let Some(id) = id {
        d["Id"] = id.into();
    }
    d
}

/// What a template-provider operation needs from the project.
struct Target {
    stack_name: String,
    /// The stack ARN recorded in `StackDetail.Id`, once the stack was created.
    stack_id: Option<String>,
    url: String,
    role_arn: Option<String>,
    parameters: BTreeMap<String, String>,
}

impl Target {
    fn of(project: &Project) -> Option<Target> {
        let cfn = cfn_detail(project)?;
        let template_name = cfn.get("TemplateName")?.as_str()?;
        let parameters = crate::key_values(cfn.get("Parameters"))
            .filter_map(|(k, v)| Some((k?.to_string(), v.to_string())))
            .collect();
        Some(Target {
            stack_name: stack_name(&project.project_id, template_name),
            stack_id: cfn
                .get("StackDetail")
                .and_then(|d| d.get("Id"))
                .and_then(Value::as_str)
                .map(str::to_string),
            url: cfn.get("TemplateURL")?.as_str()?.to_string(),
            role_arn: cfn
                .get("RoleARN")
                .and_then(Value::as_str)
                .map(str::to_string),
            parameters,
        })
    }
}

/// How an operation ended, for the project record.
pub(crate) struct Outcome {
    pub(crate) status: ProjectStatus,
    pub(crate) stack_id: Option<String>,
    pub(crate) message: String,
}

impl Inner {
    async fn fetch(&self, url: &str) -> Result<String, String> {
        match &self.source {
            Some(source) => source
                .fetch(url, S3_TEMPLATE_LIMIT)
                .await
                .map_err(|e| e.to_string()),
            None => Err(TemplateFetchError::Unavailable(
                "no object store is configured to read TemplateURL".into(),
            )
            .to_string()),
        }
    }

    /// Validates a template (once per distinct body): its declared parameter names.
    fn check(&self, cfn: &CloudFormationService, body: &str) -> Checked {
        if let Some(hit) = self.templates.lock().unwrap().get(body) {
            return hit.clone();
        }
        let checked = match cfn.validate_template(body, false) {
            Ok(summary) => Ok(Arc::new(
                summary.parameters.into_iter().map(|p| p.name).collect(),
            )),
            Err(diagnostics) => Err(messages::template_errors(&diagnostics)),
        };
        let mut cache = self.templates.lock().unwrap();
        if cache.len() >= TEMPLATE_CACHE {
            cache.clear();
        }
        cache.insert(body.to_string(), checked.clone());
        checked
    }

    /// Fetch and validate: the body and the parameters to pass (user parameters plus
    /// the project's name and id when declared).
    async fn prepare(
        &self,
        cfn: &CloudFormationService,
        project: &Project,
        target: &Target,
    ) -> Result<(String, BTreeMap<String, String>), String> {
        let body = self.fetch(&target.url).await?;
        let declared = self.check(cfn, &body)?;
        let mut parameters = target.parameters.clone();
        if declared.iter().any(|p| p == PROJECT_NAME_PARAMETER) {
            parameters.insert(PROJECT_NAME_PARAMETER.into(), project.project_name.clone());
        }
        if declared.iter().any(|p| p == PROJECT_ID_PARAMETER) {
            parameters.insert(PROJECT_ID_PARAMETER.into(), project.project_id.clone());
        }
        Ok((body, parameters))
    }

    async fn stack_tags(
        &self,
        projects: &Projects,
        project: &Project,
    ) -> Result<Vec<(String, String)>, SageMakerError> {
        let mut tags = vec![
            (PROJECT_NAME_TAG.to_string(), project.project_name.clone()),
            (PROJECT_ID_TAG.to_string(), project.project_id.clone()),
        ];
        tags.extend(projects.project_tags(&project.project_arn).await?);
        Ok(tags)
    }

    /// The project's live stack, awaited until no operation drives it. Found by the id
    /// recorded in `StackDetail` when there is one (one record read), else by name.
    async fn settled_stack(
        cfn: &CloudFormationService,
        target: &Target,
    ) -> Result<Option<StackRecord>, EngineError> {
        let found = match &target.stack_id {
            Some(id) => match cfn.describe_stack(id).await {
                Ok(s) if s.status == StackStatus::DeleteComplete => {
                    Err(EngineError::NotFound(id.clone()))
                }
                other => other,
            },
            None => cfn.describe_stack(&target.stack_name).await,
        };
        match found {
            Ok(stack) if stack.status.is_operation_in_progress() => {
                cfn.wait_for_settled(&stack.stack_id).await.map(Some)
            }
            Ok(stack) => Ok(Some(stack)),
            Err(EngineError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The outcome of a stack that settled: `goal` reached, or a failure explained by
    /// the first failing resource event after `after_seq`.
    async fn settled(
        cfn: &CloudFormationService,
        stack: &StackRecord,
        goal: StackStatus,
        after_seq: u64,
        ok: ProjectStatus,
        failed: ProjectStatus,
    ) -> Outcome {
        if stack.status == goal {
            return Outcome {
                status: ok,
                stack_id: Some(stack.stack_id.clone()),
                message: messages::reached(&stack.stack_name, goal),
            };
        }
        let failure = first_failure(cfn, stack, after_seq).await;
        Outcome {
            status: failed,
            stack_id: Some(stack.stack_id.clone()),
            message: messages::failed(stack, failure.as_ref()),
        }
    }

    pub(crate) async fn create(
        &self,
        projects: &Projects,
        cfn: &CloudFormationService,
        project: &Project,
    ) -> Result<(), SageMakerError> {
        let Some(target) = Target::of(project) else {
            return self
                .record_plain(
                    projects,
                    project,
                    &[ProjectStatus::Pending, ProjectStatus::CreateInProgress],
                    ProjectStatus::CreateFailed,
                )
                .await;
        };
        let name = target.stack_name.clone();
        if !self
            .record(
                projects,
                project,
                &[ProjectStatus::Pending, ProjectStatus::CreateInProgress],
                &name,
                &Outcome {
                    status: ProjectStatus::CreateInProgress,
                    stack_id: None,
                    message: messages::started(&name, Action::Create),
                },
            )
            .await?
        {
            return Ok(());
        }
        let outcome = self.create_stack(projects, cfn, project, &target).await?;
        self.record(
            projects,
            project,
            &[ProjectStatus::CreateInProgress],
            &name,
            &outcome,
        )
        .await?;
        Ok(())
    }

    /// A project with no template provider (cannot be stored so, but a record is data).
    async fn record_plain(
        &self,
        projects: &Projects,
        project: &Project,
        expected: &[ProjectStatus],
        status: ProjectStatus,
    ) -> Result<(), SageMakerError> {
        projects
            .record_provisioning(
                &project.project_name,
                ProvisioningUpdate::new(&project.project_id, expected, status),
            )
            .await?;
        Ok(())
    }

    /// Creates the stack, or adopts the one a previous process created.
    async fn create_stack(
        &self,
        projects: &Projects,
        cfn: &CloudFormationService,
        project: &Project,
        target: &Target,
    ) -> Result<Outcome, SageMakerError> {
        let name = &target.stack_name;
        let fail = |message: String| Outcome {
            status: ProjectStatus::CreateFailed,
            stack_id: None,
            message,
        };
        // The worker records CreateInProgress before it creates the stack, so only a
        // project found in that state (after a crash) may already have one. Skipping
        // the look-up otherwise matters: finding a stack by name reads every stack.
        let existing = if project.project_status == ProjectStatus::CreateInProgress {
            Self::settled_stack(cfn, target).await
        } else {
            Ok(None)
        };
        match existing {
            // A create that a crash interrupted was rolled back by the engine's
            // recovery; the project still wants its stack, so the leftover goes and the
            // create runs again (resume rather than fail).
            Ok(Some(stack)) if interrupted(cfn, &stack).await => {
                if let Err(e) = cfn.delete_stack_and_wait(&stack.stack_id).await {
                    store_down(&e)?;
                    return Ok(fail(messages::refused(name, Action::Create, &e)));
                }
            }
            Ok(Some(stack)) => {
                return Ok(Self::settled(
                    cfn,
                    &stack,
                    StackStatus::CreateComplete,
                    0,
                    ProjectStatus::CreateCompleted,
                    ProjectStatus::CreateFailed,
                )
                .await);
            }
            Ok(None) => {}
            Err(e) => {
                store_down(&e)?;
                return Ok(fail(messages::refused(name, Action::Create, &e)));
            }
        }
        let (body, parameters) = match self.prepare(cfn, project, target).await {
            Ok(x) => x,
            Err(message) => return Ok(fail(message)),
        };
        let tags = self.stack_tags(projects, project).await?;
        let input = CreateStackInput {
            stack_name: name.clone(),
            template_body: body,
            parameters,
            capabilities: CAPABILITIES.iter().map(|c| c.to_string()).collect(),
            tags,
            notification_arns: Vec::new(),
            disable_rollback: false,
            role_arn: target.role_arn.clone(),
            ..CreateStackInput::default()
        };
        Ok(match cfn.create_stack_and_wait(input).await {
            Ok(stack) => {
                Self::settled(
                    cfn,
                    &stack,
                    StackStatus::CreateComplete,
                    0,
                    ProjectStatus::CreateCompleted,
                    ProjectStatus::CreateFailed,
                )
                .await
            }
            Err(e) => {
                store_down(&e)?;
                fail(messages::refused(name, Action::Create, &e))
            }
        })
    }

    pub(crate) async fn update(
        &self,
        projects: &Projects,
        cfn: &CloudFormationService,
        project: &Project,
    ) -> Result<(), SageMakerError> {
        let expected = [ProjectStatus::UpdateInProgress];
        let Some(target) = Target::of(project) else {
            return self
                .record_plain(projects, project, &expected, ProjectStatus::UpdateFailed)
                .await;
        };
        let outcome = self.update_stack(projects, cfn, project, &target).await?;
        self.record(projects, project, &expected, &target.stack_name, &outcome)
            .await?;
        Ok(())
    }

    async fn update_stack(
        &self,
        projects: &Projects,
        cfn: &CloudFormationService,
        project: &Project,
        target: &Target,
    ) -> Result<Outcome, SageMakerError> {
        let name = &target.stack_name;
        let fail = |stack_id: Option<&str>, message: String| Outcome {
            status: ProjectStatus::UpdateFailed,
            stack_id: stack_id.map(str::to_string),
            message,
        };
        let stack = match Self::settled_stack(cfn, target).await {
            Ok(Some(stack)) => stack,
            Ok(None) => {
                return Ok(fail(
                    None,
                    messages::refused(name, Action::Update, &EngineError::NotFound(name.clone())),
                ));
            }
            Err(e) => {
                store_down(&e)?;
                return Ok(fail(None, messages::refused(name, Action::Update, &e)));
            }
        };
        let id = stack.stack_id.clone();
        let (body, parameters) = match self.prepare(cfn, project, target).await {
            Ok(x) => x,
            Err(message) => return Ok(fail(Some(&id), message)),
        };
        // The stack already runs exactly what the project wants: the update ran (before
        // a crash) or there is nothing to do.
        if stack.status.is_updatable()
            && stack.template.body == body
            && stack.template.parameters == parameters
        {
            return Ok(Outcome {
                status: ProjectStatus::UpdateCompleted,
                stack_id: Some(id),
                message: if stack.status == StackStatus::UpdateComplete {
                    messages::reached(name, StackStatus::UpdateComplete)
                } else {
                    messages::up_to_date(name)
                },
            });
        }
        let after_seq = cfn
            .engine()
            .stack_events(&id, None, 1)
            .await
            .ok()
            .and_then(|e| e.first().map(|e| e.seq))
            .unwrap_or(0);
        let input = UpdateStackInput {
            stack_name: id.clone(),
            template_body: Some(body),
            parameters,
            capabilities: CAPABILITIES.iter().map(|c| c.to_string()).collect(),
            tags: Some(self.stack_tags(projects, project).await?),
            ..UpdateStackInput::default()
        };
        Ok(match cfn.update_stack_and_wait(input).await {
            Ok(stack) => {
                Self::settled(
                    cfn,
                    &stack,
                    StackStatus::UpdateComplete,
                    after_seq,
                    ProjectStatus::UpdateCompleted,
                    ProjectStatus::UpdateFailed,
                )
                .await
            }
            Err(EngineError::NoUpdates) => Outcome {
                status: ProjectStatus::UpdateCompleted,
                stack_id: Some(id),
                message: messages::up_to_date(name),
            },
            Err(e) => {
                store_down(&e)?;
                fail(Some(&id), messages::refused(name, Action::Update, &e))
            }
        })
    }

    pub(crate) async fn delete(
        self: &Arc<Self>,
        projects: &Projects,
        cfn: &CloudFormationService,
        project: &Project,
    ) -> Result<(), SageMakerError> {
        let expected = [ProjectStatus::DeleteInProgress];
        let Some(target) = Target::of(project) else {
            self.record_plain(projects, project, &expected, ProjectStatus::DeleteCompleted)
                .await?;
            self.schedule_purge(project, self.config.deleted_retention);
            return Ok(());
        };
        let name = &target.stack_name;
        let outcome = match Self::settled_stack(cfn, &target).await {
            Ok(None) => Outcome {
                status: ProjectStatus::DeleteCompleted,
                stack_id: None,
                message: messages::reached(name, StackStatus::DeleteComplete),
            },
            Ok(Some(stack)) => {
                let after_seq = cfn
                    .engine()
                    .stack_events(&stack.stack_id, None, 1)
                    .await
                    .ok()
                    .and_then(|e| e.first().map(|e| e.seq))
                    .unwrap_or(0);
                match cfn.delete_stack_and_wait(&stack.stack_id).await {
                    Ok(Some(done)) => {
                        Self::settled(
                            cfn,
                            &done,
                            StackStatus::DeleteComplete,
                            after_seq,
                            ProjectStatus::DeleteCompleted,
                            ProjectStatus::DeleteFailed,
                        )
                        .await
                    }
                    Ok(None) => Outcome {
                        status: ProjectStatus::DeleteCompleted,
                        stack_id: Some(stack.stack_id.clone()),
                        message: messages::reached(name, StackStatus::DeleteComplete),
                    },
                    Err(e) => {
                        store_down(&e)?;
                        Outcome {
                            status: ProjectStatus::DeleteFailed,
                            stack_id: Some(stack.stack_id.clone()),
                            message: messages::refused(name, Action::Delete, &e),
                        }
                    }
                }
            }
            Err(e) => {
                store_down(&e)?;
                Outcome {
                    status: ProjectStatus::DeleteFailed,
                    stack_id: None,
                    message: messages::refused(name, Action::Delete, &e),
                }
            }
        };
        let recorded = self
            .record(projects, project, &expected, name, &outcome)
            .await?;
        if recorded && outcome.status == ProjectStatus::DeleteCompleted {
            self.schedule_purge(project, self.config.deleted_retention);
        }
        Ok(())
    }
}

/// The first resource event of the stack's latest operation (after `after_seq`) whose
/// status is a failure, oldest first; when no resource failed (the stack failed as a
/// whole: a missing export, an output that cannot resolve), the stack's own first event
/// that gives a reason, such as its `ROLLBACK_IN_PROGRESS` "No export named X found".
async fn first_failure(
    cfn: &CloudFormationService,
    stack: &StackRecord,
    after_seq: u64,
) -> Option<StackEvent> {
    let mut before = None;
    let mut first: Option<StackEvent> = None;
    let mut stack_level: Option<StackEvent> = None;
    loop {
        let page = cfn
            .engine()
            .stack_events(&stack.stack_id, before, 500)
            .await
            .ok()?;
        let Some(last) = page.last() else { break };
        before = Some(last.seq);
        let mut done = false;
        for e in page {
            if e.seq <= after_seq {
                done = true;
                break;
            }
            if e.logical_resource_id != stack.stack_name {
                if e.resource_status.ends_with("_FAILED") {
                    first = Some(e);
                }
            } else if e.stack_reason().is_some() {
                stack_level = Some(e);
            }
        }
        if done || before == Some(1) {
            break;
        }
    }
    first.or(stack_level)
}

/// Whether `stack` is a create that an engine restart interrupted and rolled back (the
/// engine's recovery marks the stack, or its in-flight resources, with "engine restart").
async fn interrupted(cfn: &CloudFormationService, stack: &StackRecord) -> bool {
    const MARK: &str = "engine restart";
    if stack.status != StackStatus::RollbackComplete {
        return false;
    }
    if stack
        .status_reason
        .as_deref()
        .is_some_and(|r| r.contains(MARK))
    {
        return true;
    }
    // A create has few events; the interrupted one is among them.
    cfn.engine()
        .stack_events(&stack.stack_id, None, 1000)
        .await
        .unwrap_or_default()
        .iter()
        .any(|e| {
            e.resource_status_reason
                .as_deref()
                .is_some_and(|r| r.contains(MARK))
        })
}

/// An unreachable database is not the stack's failure: the operation's task ends
/// (`Err`) with the project still in progress, and is resumed once the database is back
/// (takeover; the store watcher), rather than recorded as failed for good (a PostgreSQL
/// outage would otherwise fail every project operation it interrupts). Other store
/// failures, which may not pass, are recorded as before.
fn store_down(e: &EngineError) -> Result<(), SageMakerError> {
    match e {
        EngineError::Store(s) if s.is_unreachable() => Err(SageMakerError::Internal(format!(
            "the stack operation was interrupted: {e}"
        ))),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_unreachable_database_leaves_the_project_in_progress() {
        // The engine's copy of the words the store's unreachable errors start with.
        assert_eq!(
            sagestack_engine::store::UNREACHABLE,
            sagestack_store::transient::UNREACHABLE
        );
        let down = sagestack_store::StoreError::Unavailable("connection refused".into());
        let down = EngineError::Store(sagestack_engine::StoreError(down.to_string()));
        assert!(store_down(&down).is_err());
        let broken = EngineError::Store(sagestack_engine::StoreError("unreadable".into()));
        assert!(store_down(&broken).is_ok());
        assert!(store_down(&EngineError::NoUpdates).is_ok());
    }
}
