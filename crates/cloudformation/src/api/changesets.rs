//! Change set operations.

use sagestack_engine::{ChangeSetRecord, ChangeSetType, CreateChangeSetInput, EngineError};
use sagestack_protocol::query::Xml;

use super::input::{Input, previous_values, resolve_parameters};
use super::project::refuse_project_stack;
use super::stacks::{capabilities, role_arn};
use super::{ApiError, CloudFormationApi, Result, output};

impl CloudFormationApi {
    /// A change set by ARN, or by name within `stack_name` (required then).
    pub(super) async fn find_change_set(
        &self,
        change_set: &str,
        stack_name: Option<&str>,
    ) -> Result<ChangeSetRecord> {
        if !change_set.starts_with("arn:") && stack_name.is_none() {
            return Err(ApiError::validation(
                "StackName must be specified if ChangeSetName is not specified as an ARN.",
            ));
        }
        Ok(self
            .service
            .engine()
            .describe_change_set(change_set, stack_name)
            .await?)
    }

    pub(super) async fn create_change_set(&self, input: &Input<'_>) -> Result<Xml> {
        let stack_name = input.required("StackName")?;
        let change_set_name = input.required("ChangeSetName")?;
        let change_set_type = match input.str("ChangeSetType").unwrap_or("UPDATE") {
            "CREATE" => ChangeSetType::Create,
            "UPDATE" => ChangeSetType::Update,
            "IMPORT" => {
                return Err(ApiError::validation(
                    "Change sets of type IMPORT are not supported by this server",
                ));
            }
            other => {
                return Err(ApiError::constraint(
                    other,
                    "changeSetType",
                    "Member must satisfy enum value set: [IMPORT, UPDATE, CREATE]",
                ));
            }
        };
        let (template_body, previous) = match change_set_type {
            ChangeSetType::Create => {
                refuse_project_stack(stack_name, "created")?;
                (Some(self.new_template_body(input).await?), None)
            }
            ChangeSetType::Update => {
                let stack = self.service.describe_stack(stack_name).await?;
                refuse_project_stack(&stack.stack_name, "updated")?;
                (
                    self.update_template_body(input).await?,
                    Some(previous_values(&stack)),
                )
            }
        };
        let parameters = resolve_parameters(&input.parameters()?, previous.as_ref())?;
        let ids = self
            .service
            .create_change_set(CreateChangeSetInput {
                stack_name: stack_name.to_owned(),
                change_set_name: change_set_name.to_owned(),
                change_set_type,
                template_body,
                parameters,
                capabilities: capabilities(input)?,
                tags: input.tags()?,
                notification_arns: input.strings("NotificationARNs")?,
                description: input.str("Description").map(str::to_owned),
                role_arn: role_arn(input)?,
            })
            .await?;
        Ok(Xml::new()
            .text("Id", ids.change_set_id)
            .text("StackId", ids.stack_id))
    }

    pub(super) async fn describe_change_set(&self, input: &Input<'_>) -> Result<Xml> {
        let name = input.required("ChangeSetName")?;
        let cs = self.find_change_set(name, input.str("StackName")).await?;
        let with_values = input.bool("IncludePropertyValues")? == Some(true);
        Ok(output::change_set(&cs, with_values))
    }

    pub(super) async fn execute_change_set(&self, input: &Input<'_>) -> Result<Xml> {
        let name = input.required("ChangeSetName")?;
        if input.bool("DisableRollback")? == Some(true) {
            return Err(ApiError::validation(
                "DisableRollback on ExecuteChangeSet is not supported by this server",
            ));
        }
        let stack_name = input.str("StackName");
        let cs = self.find_change_set(name, stack_name).await?;
        refuse_project_stack(&cs.stack_name, "updated")?;
        self.service
            .engine()
            .execute_change_set(&cs.change_set_id, None)
            .await?;
        Ok(Xml::new())
    }

    /// `DeleteChangeSet`. A change set named on a stack that exists but has no change set
    /// of that name is deleted already: AWS answers success (the CDK CLI relies on it,
    /// deleting its `cdk-diff-change-set`/`cdk-deploy-change-set` "if it exists" before
    /// creating one); a stack that does not exist is a `ValidationError`.
    pub(super) async fn delete_change_set(&self, input: &Input<'_>) -> Result<Xml> {
        let name = input.required("ChangeSetName")?;
        let stack_name = input.str("StackName");
        let cs = match self.find_change_set(name, stack_name).await {
            Ok(cs) => cs,
            Err(e) if e.code == "ChangeSetNotFound" && !name.starts_with("arn:") => {
                let stack_name = stack_name.unwrap_or_default();
                self.service.describe_stack(stack_name).await?;
                return Ok(Xml::new());
            }
            Err(e) => return Err(e),
        };
        match self
            .service
            .engine()
            .delete_change_set(&cs.change_set_id, None)
            .await
        {
            Ok(()) => Ok(Xml::new()),
            Err(EngineError::InvalidChangeSetStatus { id, status }) => Err(ApiError {
                code: "InvalidChangeSetStatus",
                message: format!("Cannot delete ChangeSet {id} because it is in {status} status"),
                status: 400,
            }),
            Err(e) => Err(e.into()),
        }
    }

    pub(super) async fn list_change_sets(&self, input: &Input<'_>) -> Result<Xml> {
        let name = input.required("StackName")?;
        let sets = self.service.engine().list_change_sets(name).await?;
        self.paged(input, "Summaries", sets, output::change_set_summary)
    }
}
