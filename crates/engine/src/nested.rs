//! Nested stacks: the `AWS::CloudFormation::Stack` resource runs a real child stack in
//! the same engine.
//!
//! The child is created, updated and deleted with its parent's resource action, which
//! waits for the child to settle and reports its outcome in CloudFormation's words
//! ("Embedded stack ... was not successfully created: ..."). The child gets AWS's name
//! (`<parent>-<logical id>-<13 characters>`, drawn from the create attempt so recovery
//! finds it again), `ParentId`/`RootId`, the `Parameters` given, the parent's
//! capabilities, role and notification topics, and the parent's tags plus the
//! resource's own `Tags`. `Ref` is the child's stack id; `Fn::GetAtt Child.Outputs.X`
//! reads its outputs.
//!
//! The provider holds a [`Stacks`] over the engine's shared state, made by the parent's
//! resource action for its own duration (the registry never holds it), so the engine
//! owns no reference to itself. A parent's update rollback updates the child back to
//! its previous template and parameters (AWS rolls the child back in place; the child's
//! events say `UPDATE_*` here, not `UPDATE_ROLLBACK_*`).

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{Map, Value};

use crate::engine::{CreateStackInput, Stacks, UpdateStackInput};
use crate::error::EngineError;
use crate::inner::Inner;
use crate::model::{EpochMillis, StackRecord, StackStatus};
use crate::provider::{
    ProviderError, ResourceContext, ResourceProvider, ResourceState, TypeInfo, UPPER_ALNUM,
    attempt_chars, kit,
};

/// The resource type of a nested stack.
pub const TYPE_NAME: &str = "AWS::CloudFormation::Stack";
/// CloudFormation's stack name limit.
const MAX_NAME: usize = 128;
const SUFFIX_LEN: usize = 13;

/// See the module documentation.
pub(crate) struct NestedStacks {
    stacks: Stacks,
}

impl NestedStacks {
    pub fn new(inner: Arc<Inner>) -> Self {
        NestedStacks {
            stacks: Stacks::over(inner),
        }
    }

    /// The template at the resource's `TemplateURL`.
    async fn template(
        &self,
        ctx: &ResourceContext,
        properties: &Value,
    ) -> Result<String, ProviderError> {
        let url = kit::required(ctx, properties, "TemplateURL")?;
        let Some(source) = &self.stacks.inner().templates else {
            return Err(ProviderError::InvalidRequest(
                "TemplateURL cannot be read: this server has no template source configured".into(),
            ));
        };
        source
            .fetch(&url)
            .await
            .map_err(ProviderError::InvalidRequest)
    }

    /// The parent stack (the resource's own stack).
    async fn parent(&self, ctx: &ResourceContext) -> Result<StackRecord, ProviderError> {
        self.stacks
            .describe_stack(&ctx.stack_id)
            .await
            .map_err(internal)
    }

    /// The child's state once it settled: its id, and its outputs as `Outputs.<key>`.
    fn state_of(child: &StackRecord) -> ResourceState {
        let mut attributes = Map::new();
        for o in &child.outputs {
            attributes.insert(format!("Outputs.{}", o.key), Value::String(o.value.clone()));
        }
        ResourceState {
            physical_id: child.stack_id.clone(),
            attributes,
        }
    }

    /// The reason the child's own events give for its failure, else its status reason.
    async fn failure(&self, child: &StackRecord) -> String {
        let events = self
            .stacks
            .stack_events(&child.stack_id, None, 100)
            .await
            .unwrap_or_default();
        events
            .iter()
            .find_map(|e| e.stack_reason().map(str::to_string))
            .or_else(|| child.status_reason.clone())
            .unwrap_or_else(|| format!("it reached {}", child.status))
    }

    async fn settled(&self, stack_id: &str) -> Result<StackRecord, ProviderError> {
        self.stacks
            .wait_for_terminal(stack_id)
            .await
            .map_err(internal)
    }
}

/// The child's name for the create attempt `ctx`: `<parent>-<logical id>-<suffix>`,
/// the prefix shortened to keep it within CloudFormation's limit.
fn child_name(ctx: &ResourceContext) -> String {
    let suffix = attempt_chars(ctx, UPPER_ALNUM, SUFFIX_LEN);
    let prefix: String = format!("{}-{}", ctx.stack_name, ctx.logical_id)
        .chars()
        .take(MAX_NAME - SUFFIX_LEN - 1)
        .collect();
    format!("{prefix}-{suffix}")
}

/// The resource's `Parameters` as the child's parameter values (lists joined by commas,
/// as CloudFormation passes a `CommaDelimitedList`).
fn parameters(properties: &Value) -> BTreeMap<String, String> {
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Array(items) => items
            .iter()
            .map(crate::drift::text)
            .collect::<Vec<_>>()
            .join(","),
        other => crate::drift::text(other),
    };
    properties
        .get("Parameters")
        .and_then(Value::as_object)
        .map(|m| m.iter().map(|(k, v)| (k.clone(), text(v))).collect())
        .unwrap_or_default()
}

/// The parent's propagated tags, then the resource's own `Tags`.
fn tags(ctx: &ResourceContext, properties: &Value) -> Vec<(String, String)> {
    let mut tags = ctx.stack_tags.clone();
    for t in properties
        .get("Tags")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let (Some(k), Some(v)) = (
            t.get("Key").and_then(Value::as_str),
            t.get("Value").and_then(Value::as_str),
        ) {
            tags.retain(|(key, _)| key != k);
            tags.push((k.to_string(), v.to_string()));
        }
    }
    tags
}

fn internal(e: EngineError) -> ProviderError {
    ProviderError::Internal(e.to_string())
}

#[async_trait]
impl ResourceProvider for NestedStacks {
    fn type_info(&self, type_name: &str) -> Option<TypeInfo> {
        (type_name == TYPE_NAME).then(|| kit::type_info(TYPE_NAME, &[], &[], true))
    }

    async fn create(
        &self,
        ctx: &ResourceContext,
        properties: &Value,
    ) -> Result<ResourceState, ProviderError> {
        let body = self.template(ctx, properties).await?;
        let parent = self.parent(ctx).await?;
        let child_id = self
            .stacks
            .create_stack(CreateStackInput {
                stack_name: child_name(ctx),
                template_body: body,
                parameters: parameters(properties),
                capabilities: parent.capabilities.clone(),
                tags: tags(ctx, properties),
                notification_arns: parent.notification_arns.clone(),
                disable_rollback: false,
                role_arn: parent.role_arn.clone(),
                parent_id: Some(parent.stack_id.clone()),
                ..CreateStackInput::default()
            })
            .await
            .map_err(|e| ProviderError::InvalidRequest(e.to_string()))?;
        let child = self.settled(&child_id).await?;
        if child.status != StackStatus::CreateComplete {
            let reason = self.failure(&child).await;
            return Err(ProviderError::Internal(format!(
                "Embedded stack {child_id} was not successfully created: {reason}"
            )));
        }
        Ok(Self::state_of(&child))
    }

    async fn update(
        &self,
        ctx: &ResourceContext,
        current: &ResourceState,
        _old_properties: &Value,
        new_properties: &Value,
    ) -> Result<ResourceState, ProviderError> {
        let body = self.template(ctx, new_properties).await?;
        let parent = self.parent(ctx).await?;
        let child_id = &current.physical_id;
        let started = self
            .stacks
            .update_stack(UpdateStackInput {
                stack_name: child_id.clone(),
                template_body: Some(body),
                parameters: parameters(new_properties),
                capabilities: parent.capabilities.clone(),
                tags: Some(tags(ctx, new_properties)),
                role_arn: parent.role_arn.clone(),
                ..UpdateStackInput::default()
            })
            .await;
        let updated = match started {
            Ok(_) => true,
            // The child already is what the parent asks: nothing to do, as in AWS.
            Err(EngineError::NoUpdates) => false,
            Err(e) => return Err(ProviderError::InvalidRequest(e.to_string())),
        };
        let child = self.settled(child_id).await?;
        if updated && child.status != StackStatus::UpdateComplete {
            let reason = self.failure(&child).await;
            return Err(ProviderError::Internal(format!(
                "Embedded stack {child_id} was not successfully updated. Currently in {} with reason: {reason}",
                child.status
            )));
        }
        Ok(Self::state_of(&child))
    }

    async fn delete(
        &self,
        _ctx: &ResourceContext,
        current: &ResourceState,
        _properties: &Value,
    ) -> Result<(), ProviderError> {
        let child_id = &current.physical_id;
        // A child still settling (recovery may be rolling it back) is deleted after.
        match self.stacks.describe_stack(child_id).await {
            Ok(child) if child.status == StackStatus::DeleteComplete => return Ok(()),
            Ok(_) => {
                self.settled(child_id).await?;
            }
            Err(EngineError::NotFound(_)) => return Ok(()),
            Err(e) => return Err(internal(e)),
        }
        self.stacks
            .delete_stack(child_id, Vec::new())
            .await
            .map_err(|e| ProviderError::Conflict(e.to_string()))?;
        let child = self.settled(child_id).await?;
        if child.status != StackStatus::DeleteComplete {
            let reason = self.failure(&child).await;
            return Err(ProviderError::Conflict(format!(
                "Embedded stack {child_id} was not successfully deleted: {reason}"
            )));
        }
        Ok(())
    }

    async fn read(
        &self,
        _ctx: &ResourceContext,
        current: &ResourceState,
        _properties: &Value,
    ) -> Result<Option<ResourceState>, ProviderError> {
        match self.stacks.describe_stack(&current.physical_id).await {
            Ok(child) if child.status != StackStatus::DeleteComplete => {
                Ok(Some(Self::state_of(&child)))
            }
            Ok(_) | Err(EngineError::NotFound(_)) => Ok(None),
            Err(e) => Err(internal(e)),
        }
    }

    /// The child the interrupted create made, found by the name the attempt gives it,
    /// if it was made since the create started.
    async fn find_interrupted_create(
        &self,
        ctx: &ResourceContext,
        _properties: &Value,
        started: EpochMillis,
    ) -> Result<Option<ResourceState>, ProviderError> {
        match self.stacks.describe_stack(&child_name(ctx)).await {
            Ok(child) if child.creation_time >= started => Ok(Some(Self::state_of(&child))),
            Ok(_) | Err(EngineError::NotFound(_)) => Ok(None),
            Err(e) => Err(internal(e)),
        }
    }
}
