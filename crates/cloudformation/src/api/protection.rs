//! Stack policies and termination protection: `SetStackPolicy`, `GetStackPolicy`,
//! `UpdateTerminationProtection`, and the policy members of `CreateStack` and
//! `UpdateStack`. The rules are the engine's (`sagestack_engine::policy`); this layer
//! reads a policy from its body or its URL.

use sagestack_protocol::query::Xml;

use super::input::Input;
use super::{ApiError, CloudFormationApi, Result};

impl CloudFormationApi {
    /// A policy given as `<name>Body` or `<name>URL` (read through the template source);
    /// `None` when neither is given.
    pub(super) async fn policy_of(&self, input: &Input<'_>, name: &str) -> Result<Option<String>> {
        let (body_member, url_member) = (format!("{name}Body"), format!("{name}URL"));
        match (input.str(&body_member), input.str(&url_member)) {
            (Some(_), Some(_)) => Err(ApiError::validation(format!(
                "You cannot specify both {url_member} and {body_member}"
            ))),
            (Some(body), None) => Ok(Some(body.to_owned())),
            (None, Some(url)) => self.fetch_template(url).await.map(Some),
            (None, None) => Ok(None),
        }
    }

    pub(super) async fn set_stack_policy(&self, input: &Input<'_>) -> Result<()> {
        let name = input.required("StackName")?;
        let policy = self.policy_of(input, "StackPolicy").await?.ok_or_else(|| {
            ApiError::validation("Either StackPolicyBody or StackPolicyURL must be specified")
        })?;
        self.service.engine().set_stack_policy(name, policy).await?;
        Ok(())
    }

    pub(super) async fn get_stack_policy(&self, input: &Input<'_>) -> Result<Xml> {
        let name = input.required("StackName")?;
        let policy = self.service.engine().get_stack_policy(name).await?;
        Ok(Xml::new().opt_text("StackPolicyBody", policy))
    }

    pub(super) async fn update_termination_protection(&self, input: &Input<'_>) -> Result<Xml> {
        let name = input.required("StackName")?;
        let enable = input
            .bool("EnableTerminationProtection")?
            .ok_or_else(|| ApiError::missing("EnableTerminationProtection"))?;
        let stack = self.service.describe_stack(name).await?;
        if stack.nesting.is_some() {
            return Err(ApiError::validation(
                "Termination protection cannot be set on a nested stack: set it on its root stack",
            ));
        }
        let id = self
            .service
            .engine()
            .update_termination_protection(name, enable)
            .await?;
        Ok(Xml::new().text("StackId", id))
    }
}
