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
    Native, Outcome, ProviderError, ResourceContext, ResourceState, TypeInfo, UPPER_ALNUM,
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

    /// What the child is to be, as an update of it would say (its template from the
    /// resource's `TemplateURL`, the `Parameters`, the parent's capabilities and role, the
    /// parent's tags and the resource's own), and the parent stack.
    async fn child(
        &self,
        ctx: &ResourceContext,
        properties: &Value,
    ) -> Outcome<(UpdateStackInput, StackRecord)> {
        let body = self.template(ctx, properties).await?;
        let parent = self
            .stacks
            .describe_stack(&ctx.stack_id)
            .await
            .map_err(internal)?;
        let child = UpdateStackInput {
            template_body: Some(body),
            parameters: parameters(properties),
            capabilities: parent.capabilities.clone(),
            tags: Some(tags(ctx, properties)),
            role_arn: parent.role_arn.clone(),
            ..UpdateStackInput::default()
        };
        Ok((child, parent))
    }

    /// The child once it settled, if it reached `wanted`; else the error `failed` makes
    /// of the status it reached and the child's reason.
    async fn outcome(
        &self,
        child_id: &str,
        wanted: StackStatus,
        failed: impl FnOnce(StackStatus, String) -> ProviderError,
    ) -> Outcome<StackRecord> {
        let child = self.settled(child_id).await?;
        if child.status == wanted {
            return Ok(child);
        }
        Err(failed(child.status, self.failure(&child).await))
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
impl Native for NestedStacks {
    type Record = StackRecord;
    const TYPE_NAME: &'static str = TYPE_NAME;

    fn info(&self) -> TypeInfo {
        kit::type_info(TYPE_NAME, &[], &[], true)
    }

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

    /// A child's id holds a fresh UUID: it cannot be told before the create.
    fn intended_id(_: &ResourceContext, _: &Value) -> Option<String> {
        None
    }

    fn made_since(child: &StackRecord, started: EpochMillis) -> bool {
        child.creation_time >= started
    }

    async fn create_record(
        &self,
        ctx: &ResourceContext,
        properties: &Value,
    ) -> Outcome<StackRecord> {
        let (child, parent) = self.child(ctx, properties).await?;
        let child_id = self
            .stacks
            .create_stack(CreateStackInput {
                stack_name: child_name(ctx),
                template_body: child.template_body.unwrap_or_default(),
                parameters: child.parameters,
                capabilities: child.capabilities,
                tags: child.tags.unwrap_or_default(),
                notification_arns: parent.notification_arns,
                role_arn: child.role_arn,
                parent_id: Some(parent.stack_id),
                ..CreateStackInput::default()
            })
            .await
            .map_err(|e| ProviderError::InvalidRequest(e.to_string()))?;
        self.outcome(&child_id, StackStatus::CreateComplete, |_, reason| {
            ProviderError::Internal(format!(
                "Embedded stack {child_id} was not successfully created: {reason}"
            ))
        })
        .await
    }

    async fn update_record(
        &self,
        ctx: &ResourceContext,
        child_id: &str,
        properties: &Value,
    ) -> Outcome<StackRecord> {
        let input = UpdateStackInput {
            stack_name: child_id.to_string(),
            ..self.child(ctx, properties).await?.0
        };
        match self.stacks.update_stack(input).await {
            Ok(_) => {}
            // The child already is what the parent asks: nothing to do, as in AWS.
            Err(EngineError::NoUpdates) => return self.settled(child_id).await,
            Err(e) => return Err(ProviderError::InvalidRequest(e.to_string())),
        }
        self.outcome(child_id, StackStatus::UpdateComplete, |status, reason| {
            ProviderError::Internal(format!(
                "Embedded stack {child_id} was not successfully updated. Currently in {status} with reason: {reason}"
            ))
        })
        .await
    }

    async fn get_record(
        &self,
        _: &ResourceContext,
        child_id: &str,
    ) -> Outcome<Option<StackRecord>> {
        match self.stacks.describe_stack(child_id).await {
            Ok(child) if child.status != StackStatus::DeleteComplete => Ok(Some(child)),
            Ok(_) | Err(EngineError::NotFound(_)) => Ok(None),
            Err(e) => Err(internal(e)),
        }
    }

    async fn delete_record(&self, ctx: &ResourceContext, child_id: &str) -> Outcome<()> {
        // A child still settling (recovery may be rolling it back) is deleted after.
        if self.get_record(ctx, child_id).await?.is_none() {
            return Ok(());
        }
        self.settled(child_id).await?;
        self.stacks
            .delete_stack(child_id, Vec::new())
            .await
            .map_err(|e| ProviderError::Conflict(e.to_string()))?;
        self.outcome(child_id, StackStatus::DeleteComplete, |_, reason| {
            ProviderError::Conflict(format!(
                "Embedded stack {child_id} was not successfully deleted: {reason}"
            ))
        })
        .await
        .map(drop)
    }

    /// The child the interrupted create made, found by the name the attempt gives it.
    async fn find_record(
        &self,
        ctx: &ResourceContext,
        _: &Value,
        started: EpochMillis,
    ) -> Outcome<Option<StackRecord>> {
        let child = self.get_record(ctx, &child_name(ctx)).await?;
        Ok(child.filter(|c| Self::made_since(c, started)))
    }
}
