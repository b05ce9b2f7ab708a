//! The native providers of what hangs off a function: `AWS::Lambda::Permission` (a
//! statement of the function's policy), `AWS::Lambda::Version` (a published version)
//! and `AWS::Lambda::Alias`. Each goes through the same [`Functions`] operations as the
//! API, so the API reads what a stack made.
//!
//! A permission's and a version's properties are all create-only (a change replaces
//! them, as on AWS); an alias updates its version and description in place.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;

use sagestack_engine::provider::kit::{self, deleted, required, text};
use sagestack_engine::{
    ProviderError, ResourceContext, ResourceProvider, ResourceState, TypeInfo, UPPER_ALNUM,
    attempt_chars,
};

use super::function::provider_error;
use crate::error::LambdaError;
use crate::functions::Functions;
use crate::model::parse_function_name;
use crate::versions::{AddPermissionInput, AliasInput};

pub const PERMISSION: &str = "AWS::Lambda::Permission";
pub const VERSION: &str = "AWS::Lambda::Version";
pub const ALIAS: &str = "AWS::Lambda::Alias";

/// The three types, over one [`Functions`].
pub struct RelatedProvider {
    functions: Arc<Functions>,
}

impl RelatedProvider {
    pub fn new(functions: Arc<Functions>) -> Self {
        RelatedProvider { functions }
    }

    fn function(
        &self,
        ctx: &ResourceContext,
        properties: &Value,
    ) -> Result<(String, Option<String>), ProviderError> {
        let given = required(ctx, properties, "FunctionName")?;
        parse_function_name(self.functions.scope(), &given)
            .map_err(|e| ProviderError::InvalidRequest(e.to_string()))
    }
}

fn is_gone(e: &LambdaError) -> bool {
    matches!(e, LambdaError::ResourceNotFound(_))
}

/// `arn:...:function:name:qualifier` → (`name`, `qualifier`).
fn split_qualified(physical_id: &str) -> (String, String) {
    let mut parts: Vec<&str> = physical_id.rsplitn(2, ':').collect();
    let qualifier = parts.remove(0).to_string();
    let function = parts.pop().unwrap_or_default();
    let name = function.rsplit(':').next().unwrap_or_default().to_string();
    (name, qualifier)
}

#[async_trait]
impl ResourceProvider for RelatedProvider {
    fn type_info(&self, type_name: &str) -> Option<TypeInfo> {
        let (create_only, attributes): (&[&str], &[&str]) = match type_name {
            PERMISSION => (
                &[
                    "Action",
                    "FunctionName",
                    "Principal",
                    "SourceArn",
                    "SourceAccount",
                    "EventSourceToken",
                    "FunctionUrlAuthType",
                    "PrincipalOrgID",
                ],
                &["Id"],
            ),
            VERSION => (
                &[
                    "FunctionName",
                    "Description",
                    "CodeSha256",
                    "ProvisionedConcurrencyConfig",
                    "RuntimePolicy",
                ],
                &["FunctionArn", "Version"],
            ),
            ALIAS => (&["FunctionName", "Name"], &["AliasArn"]),
            _ => return None,
        };
        Some(kit::type_info(type_name, create_only, attributes, false))
    }

    async fn create(
        &self,
        ctx: &ResourceContext,
        properties: &Value,
    ) -> Result<ResourceState, ProviderError> {
        let (function, qualifier) = self.function(ctx, properties)?;
        let fail = |e| provider_error(&ctx.resource_type, &function, e);
        Ok(match ctx.resource_type.as_str() {
            PERMISSION => {
                let sid = sagestack_providers::physical_name(
                    &ctx.stack_name,
                    &ctx.logical_id,
                    &attempt_chars(ctx, UPPER_ALNUM, 12),
                    100,
                    false,
                );
                let input = AddPermissionInput {
                    statement_id: sid.clone(),
                    action: required(ctx, properties, "Action")?,
                    principal: required(ctx, properties, "Principal")?,
                    source_arn: text(properties, "SourceArn"),
                    source_account: text(properties, "SourceAccount"),
                    principal_org_id: text(properties, "PrincipalOrgID"),
                    function_url_auth_type: text(properties, "FunctionUrlAuthType"),
                    revision_id: None,
                };
                self.functions
                    .add_permission(&function, qualifier.as_deref(), &input)
                    .await
                    .map_err(fail)?;
                // The physical id names the function too, so delete finds the statement.
                let id = format!("{function}|{sid}");
                kit::state(&*id, [("Id", id.clone().into())])
            }
            VERSION => {
                let config = self
                    .functions
                    .publish_version(
                        &function,
                        text(properties, "Description").as_deref(),
                        text(properties, "CodeSha256").as_deref(),
                        None,
                    )
                    .await
                    .map_err(fail)?;
                kit::state(
                    &*config.function_arn,
                    [
                        ("FunctionArn", config.function_arn.clone().into()),
                        ("Version", config.version.into()),
                    ],
                )
            }
            _ => {
                let input = AliasInput {
                    name: Some(required(ctx, properties, "Name")?),
                    function_version: Some(required(ctx, properties, "FunctionVersion")?),
                    description: text(properties, "Description"),
                    revision_id: None,
                };
                let alias = self
                    .functions
                    .create_alias(&function, &input)
                    .await
                    .map_err(fail)?;
                kit::state(
                    &*alias.alias_arn,
                    [("AliasArn", alias.alias_arn.clone().into())],
                )
            }
        })
    }

    async fn update(
        &self,
        ctx: &ResourceContext,
        current: &ResourceState,
        _old: &Value,
        new_properties: &Value,
    ) -> Result<ResourceState, ProviderError> {
        // Only aliases have properties that are not create-only.
        let (function, name) = split_qualified(&current.physical_id);
        let input = AliasInput {
            name: None,
            function_version: Some(required(ctx, new_properties, "FunctionVersion")?),
            description: Some(text(new_properties, "Description").unwrap_or_default()),
            revision_id: None,
        };
        self.functions
            .update_alias(&function, &name, &input)
            .await
            .map_err(|e| provider_error(ALIAS, &function, e))?;
        Ok(current.clone())
    }

    async fn delete(
        &self,
        ctx: &ResourceContext,
        current: &ResourceState,
        _properties: &Value,
    ) -> Result<(), ProviderError> {
        let id = &current.physical_id;
        let fail = |e| provider_error(&ctx.resource_type, id, e);
        match ctx.resource_type.as_str() {
            PERMISSION => {
                let (function, sid) = id.split_once('|').unwrap_or((id, id));
                deleted(
                    self.functions.remove_statement(function, sid).await,
                    is_gone,
                    fail,
                )
            }
            VERSION => {
                let (function, version) = split_qualified(id);
                deleted(
                    self.functions.delete(&function, Some(&version)).await,
                    is_gone,
                    fail,
                )
            }
            _ => {
                let (function, name) = split_qualified(id);
                deleted(
                    self.functions.delete_alias(&function, &name).await,
                    is_gone,
                    fail,
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qualified_arns_split() {
        assert_eq!(
            split_qualified("arn:aws:lambda:us-east-1:123456789012:function:f:live"),
            ("f".to_string(), "live".to_string())
        );
    }
}
