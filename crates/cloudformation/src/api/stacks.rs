//! Stack operations: create, update, delete, describe, list, events, resources,
//! rollback continuation, exports and imports.

use sagestack_engine::{
    CreateStackInput, EngineError, ResourceRecord, StackRecord, StackStatus, UpdateStackInput,
};
use sagestack_protocol::query::Xml;

use super::input::{Input, previous_values, resolve_parameters};
use super::project::refuse_project_stack;
use super::{ApiError, CloudFormationApi, Result, output};

/// `Capabilities.member.N` (their values are checked against the model's enum before
/// any operation runs).
pub(super) fn capabilities(input: &Input<'_>) -> Result<Vec<String>> {
    input.strings("Capabilities")
}

/// `RoleARN`: recorded on the stack and shown by `DescribeStacks` (sagestack does not
/// assume it). Its length is checked against the model before any operation runs.
pub(super) fn role_arn(input: &Input<'_>) -> Result<Option<String>> {
    Ok(input.str("RoleARN").map(str::to_owned))
}

/// Resources still part of a stack (all of them for a deleted stack, which shows its
/// resources as `DELETE_COMPLETE`).
fn visible_resources(stack: &StackRecord, all: Vec<ResourceRecord>) -> Vec<ResourceRecord> {
    if stack.status == StackStatus::DeleteComplete {
        all
    } else {
        all.into_iter().filter(|r| !r.status.is_gone()).collect()
    }
}

impl CloudFormationApi {
    /// The template of a create: exactly one of `TemplateBody` and `TemplateURL` (read
    /// through the template source).
    pub(super) async fn new_template_body(&self, input: &Input<'_>) -> Result<String> {
        match (input.str("TemplateBody"), input.str("TemplateURL")) {
            (Some(_), Some(_)) => Err(ApiError::validation(
                "Specify exactly one of TemplateBody or TemplateUrl.",
            )),
            (None, Some(url)) => self.fetch_template(url).await,
            (Some(body), None) if !body.is_empty() => Ok(body.to_owned()),
            _ => Err(ApiError::validation(
                "Either Template URL or Template Body must be specified.",
            )),
        }
    }

    /// The template of an update: a new body, or `None` for `UsePreviousTemplate`.
    pub(super) async fn update_template_body(&self, input: &Input<'_>) -> Result<Option<String>> {
        let use_previous = input.bool("UsePreviousTemplate")?.unwrap_or(false);
        let body = input.str("TemplateBody");
        let url = input.str("TemplateURL");
        if use_previous {
            if body.is_some() || url.is_some() {
                return Err(ApiError::validation(
                    "You cannot specify both usePreviousTemplate and Template Body/Template Url.",
                ));
            }
            return Ok(None);
        }
        self.new_template_body(input).await.map(Some)
    }

    pub(super) async fn create_stack(&self, input: &Input<'_>) -> Result<Xml> {
        let stack_name = input.required("StackName")?;
        refuse_project_stack(stack_name, "created")?;
        let template_body = self.new_template_body(input).await?;
        let parameters = resolve_parameters(&input.parameters()?, None)?;
        let capabilities = capabilities(input)?;
        let tags = input.tags()?.unwrap_or_default();
        let notification_arns = input.strings("NotificationARNs")?;
        let disable_rollback = input.bool("DisableRollback")?;
        let on_failure = input.str("OnFailure");
        if disable_rollback.is_some() && on_failure.is_some() {
            return Err(ApiError::validation(
                "You may specify either OnFailure or DisableRollback, but not both.",
            ));
        }
        let (disable_rollback, delete_on_failure) = match on_failure {
            None => (disable_rollback.unwrap_or(false), false),
            Some("ROLLBACK") => (false, false),
            Some("DO_NOTHING") => (true, false),
            Some("DELETE") => (false, true),
            Some(other) => {
                return Err(ApiError::constraint(
                    other,
                    "onFailure",
                    "Member must satisfy enum value set: [DO_NOTHING, ROLLBACK, DELETE]",
                ));
            }
        };
        let stack_id = self
            .service
            .create_stack(CreateStackInput {
                stack_name: stack_name.to_owned(),
                template_body,
                parameters,
                capabilities,
                tags,
                notification_arns,
                disable_rollback,
                role_arn: role_arn(input)?,
                parent_id: None,
                stack_policy: self.policy_of(input, "StackPolicy").await?,
                termination_protection: input.bool("EnableTerminationProtection")?.unwrap_or(false),
            })
            .await?;
        if delete_on_failure {
            // OnFailure=DELETE: once the creation has rolled back, delete the stack. The
            // intent lives in this task only; a restart during the create forgets it and
            // leaves the stack in ROLLBACK_COMPLETE.
            let service = self.service.clone();
            let id = stack_id.clone();
            tokio::spawn(async move {
                if let Ok(s) = service.wait_for_terminal(&id).await
                    && s.status == StackStatus::RollbackComplete
                    && let Err(e) = service.delete_stack(&id, Vec::new()).await
                {
                    tracing::warn!(stack_id = %id, "OnFailure=DELETE could not delete: {e}");
                }
            });
        }
        Ok(Xml::new().text("StackId", stack_id))
    }

    pub(super) async fn update_stack(&self, input: &Input<'_>) -> Result<Xml> {
        let name = input.required("StackName")?;
        let stack = self.service.describe_stack(name).await?;
        refuse_project_stack(&stack.stack_name, "updated")?;
        let template_body = self.update_template_body(input).await?;
        let parameters = resolve_parameters(&input.parameters()?, Some(&previous_values(&stack)))?;
        let stack_id = self
            .service
            .update_stack(UpdateStackInput {
                stack_name: stack.stack_id.clone(),
                template_body,
                parameters,
                capabilities: capabilities(input)?,
                tags: input.tags()?,
                role_arn: role_arn(input)?,
                stack_policy: self.policy_of(input, "StackPolicy").await?,
                update_policy: self.policy_of(input, "StackPolicyDuringUpdate").await?,
            })
            .await?;
        Ok(Xml::new().text("StackId", stack_id))
    }

    pub(super) async fn delete_stack(&self, input: &Input<'_>) -> Result<()> {
        let name = input.required("StackName")?;
        match self.service.describe_stack(name).await {
            Ok(stack) => refuse_project_stack(&stack.stack_name, "deleted")?,
            Err(EngineError::NotFound(_)) => return Ok(()),
            Err(e) => return Err(e.into()),
        }
        let retain = input.strings("RetainResources")?;
        self.service.delete_stack(name, retain).await?;
        Ok(())
    }

    pub(super) async fn describe_stacks(&self, input: &Input<'_>) -> Result<Xml> {
        let stacks = match input.str("StackName").filter(|s| !s.is_empty()) {
            Some(name) => vec![self.service.describe_stack(name).await?],
            None => {
                let mut all: Vec<StackRecord> = self
                    .service
                    .list_stacks()
                    .await?
                    .into_iter()
                    .filter(|s| s.status != StackStatus::DeleteComplete)
                    .collect();
                all.reverse();
                all
            }
        };
        self.paged(input, "Stacks", stacks, output::stack)
    }

    pub(super) async fn list_stacks(&self, input: &Input<'_>) -> Result<Xml> {
        let filter = input.strings("StackStatusFilter")?;
        let mut stacks: Vec<StackRecord> = self
            .service
            .list_stacks()
            .await?
            .into_iter()
            .filter(|s| filter.is_empty() || filter.iter().any(|f| f == s.status.as_str()))
            .collect();
        stacks.reverse();
        self.paged(input, "StackSummaries", stacks, output::stack_summary)
    }

    pub(super) async fn describe_stack_events(&self, input: &Input<'_>) -> Result<Xml> {
        let name = input.required("StackName")?;
        // The token is the sequence number of the last event sent: the next page starts
        // just before it (events are newest first).
        let scope = format!("StackEvents\0{name}");
        let before = match input.str("NextToken") {
            None => None,
            Some(t) => Some(super::token::open(&scope, t)?),
        };
        let mut events = self
            .service
            .engine()
            .stack_events(name, before, self.page_size + 1)
            .await?;
        let next = if events.len() > self.page_size {
            events.truncate(self.page_size);
            events.last().map(|e| super::token::seal(&scope, e.seq))
        } else {
            None
        };
        Ok(Xml::new()
            .list("StackEvents", events.iter().map(output::event))
            .opt_text("NextToken", next))
    }

    pub(super) async fn describe_stack_resource(&self, input: &Input<'_>) -> Result<Xml> {
        let name = input.required("StackName")?;
        let logical_id = input.required("LogicalResourceId")?;
        let stack = self.service.describe_stack(name).await?;
        let resources = self.service.list_stack_resources(&stack.stack_id).await?;
        let found = visible_resources(&stack, resources)
            .into_iter()
            .find(|r| r.logical_id == logical_id)
            .ok_or_else(|| {
                ApiError::validation(format!(
                    "Resource {logical_id} does not exist for stack {name}"
                ))
            })?;
        Ok(Xml::new().element(
            "StackResourceDetail",
            output::resource_detail(&found, &stack),
        ))
    }

    pub(super) async fn describe_stack_resources(&self, input: &Input<'_>) -> Result<Xml> {
        let stack_name = input.str("StackName").filter(|s| !s.is_empty());
        let physical_id = input.str("PhysicalResourceId").filter(|s| !s.is_empty());
        let stack = match (stack_name, physical_id) {
            (Some(name), _) => self.service.describe_stack(name).await?,
            (None, Some(pid)) => self.stack_owning(pid).await?,
            (None, None) => {
                return Err(ApiError::validation(
                    "Either StackName or PhysicalResourceId must be specified.",
                ));
            }
        };
        let logical_id = input.str("LogicalResourceId").filter(|s| !s.is_empty());
        let resources: Vec<ResourceRecord> = visible_resources(
            &stack,
            self.service.list_stack_resources(&stack.stack_id).await?,
        )
        .into_iter()
        .filter(|r| logical_id.is_none_or(|l| r.logical_id == l))
        .filter(|r| {
            stack_name.is_none() || physical_id.is_none_or(|p| r.physical_id.as_deref() == Some(p))
        })
        .collect();
        Ok(Xml::new().list(
            "StackResources",
            resources.iter().map(|r| output::resource(r, &stack)),
        ))
    }

    /// The live stack one of whose resources has this physical id.
    async fn stack_owning(&self, physical_id: &str) -> Result<StackRecord> {
        for stack in self.service.list_stacks().await? {
            if stack.status == StackStatus::DeleteComplete {
                continue;
            }
            let resources = self.service.list_stack_resources(&stack.stack_id).await?;
            if resources
                .iter()
                .any(|r| !r.status.is_gone() && r.physical_id.as_deref() == Some(physical_id))
            {
                return Ok(stack);
            }
        }
        Err(ApiError::validation(format!(
            "Stack for {physical_id} does not exist"
        )))
    }

    pub(super) async fn list_stack_resources(&self, input: &Input<'_>) -> Result<Xml> {
        let name = input.required("StackName")?;
        let stack = self.service.describe_stack(name).await?;
        let resources = visible_resources(
            &stack,
            self.service.list_stack_resources(&stack.stack_id).await?,
        );
        self.paged(input, "StackResourceSummaries", resources, |r| {
            output::resource_summary(r, &stack)
        })
    }

    /// `CancelUpdateStack`: the engine interrupts the running update (see
    /// `Stacks::cancel_update_stack`).
    pub(super) async fn cancel_update_stack(&self, input: &Input<'_>) -> Result<()> {
        let name = input.required("StackName")?;
        let stack = self.service.describe_stack(name).await?;
        refuse_project_stack(&stack.stack_name, "updated")?;
        self.service
            .engine()
            .cancel_update_stack(&stack.stack_id)
            .await?;
        Ok(())
    }

    pub(super) async fn continue_update_rollback(&self, input: &Input<'_>) -> Result<Xml> {
        let name = input.required("StackName")?;
        let stack = self.service.describe_stack(name).await?;
        refuse_project_stack(&stack.stack_name, "updated")?;
        let skip = input.strings("ResourcesToSkip")?;
        self.service
            .engine()
            .continue_update_rollback(&stack.stack_id, skip)
            .await?;
        Ok(Xml::new())
    }

    pub(super) async fn list_exports(&self, input: &Input<'_>) -> Result<Xml> {
        let exports = self.service.list_exports().await?;
        self.paged(input, "Exports", exports, output::export)
    }

    pub(super) async fn list_imports(&self, input: &Input<'_>) -> Result<Xml> {
        let export = input.required("ExportName")?;
        let importers = self.service.engine().list_imports(export).await?;
        if importers.is_empty() {
            return Err(ApiError::validation(format!(
                "Export '{export}' is not imported by any stack."
            )));
        }
        let (page, next) = self.page(input, "Imports", importers)?;
        Ok(Xml::new()
            .text_list("Imports", page)
            .opt_text("NextToken", next))
    }
}
