//! The template-side contract: what the stack engine needs to know about a template.
//!
//! The engine does not parse templates. A [`PlanFactory`] turns a template body plus
//! parameter values into a [`TemplatePlan`]: the active resources (conditions already
//! evaluated), their dependencies and policies, and the ability to resolve a resource's
//! properties or the stack's outputs *lazily*, once the resources they reference exist.
//! `sagestack-template` provides the real factory; tests use small hand-built plans.
//!
//! Keeping this a trait lets the engine store only what a template *is* (its body and
//! parameters) and rebuild the plan after a crash, and keeps template semantics in one
//! crate.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Physical ids and attributes of resources that already exist, as intrinsics read them.
pub trait ResourceLookup: Send + Sync {
    /// What `Ref` of `logical_id` returns, `None` when the resource does not exist yet.
    fn physical_id(&self, logical_id: &str) -> Option<String>;
    /// What `Fn::GetAtt [logical_id, attribute]` returns, `None` when unknown.
    fn attribute(&self, logical_id: &str, attribute: &str) -> Option<Value>;
    /// What `Fn::ImportValue` of `export_name` returns: the value another stack in the
    /// region exports under that name, `None` when nobody exports it.
    fn import_value(&self, export_name: &str) -> Option<String> {
        let _ = export_name;
        None
    }
}

/// `DeletionPolicy` / `UpdateReplacePolicy` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Policy {
    #[default]
    Delete,
    Retain,
    RetainExceptOnCreate,
    Snapshot,
}

/// One active resource of a plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlannedResource {
    pub logical_id: String,
    pub resource_type: String,
    /// Every resource this one must wait for: `DependsOn` plus every `Ref`, `Fn::GetAtt`
    /// and `Fn::Sub` variable naming a resource (only active resources).
    pub depends_on: Vec<String>,
    pub deletion_policy: Policy,
    pub update_replace_policy: Policy,
}

/// A stack output after resolution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResolvedOutput {
    pub key: String,
    pub value: String,
    pub description: Option<String>,
    pub export_name: Option<String>,
}

/// Why a property or output could not be resolved (message in CloudFormation's words).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[error("{message}")]
pub struct ResolveError {
    pub message: String,
}

/// A template bound to parameter values, ready to be provisioned.
pub trait TemplatePlan: Send + Sync {
    /// Active resources (those whose `Condition` is true), in template order.
    fn resources(&self) -> &[PlannedResource];

    /// The resolved `Properties` of `logical_id` (a JSON object; `{}` when the template has
    /// none), reading other resources through `lookup`. `AWS::NoValue` members are removed.
    fn resolve_properties(
        &self,
        logical_id: &str,
        lookup: &dyn ResourceLookup,
    ) -> Result<Value, ResolveError>;

    /// Outputs whose `Condition` is true, resolved against the finished resources.
    fn resolve_outputs(
        &self,
        lookup: &dyn ResourceLookup,
    ) -> Result<Vec<ResolvedOutput>, ResolveError>;

    /// Export names this template imports with `Fn::ImportValue`.
    fn imports(&self) -> Vec<String>;

    /// Parameter values as they should be shown (`NoEcho` ones masked as `****`).
    fn displayed_parameters(&self) -> BTreeMap<String, String>;

    /// What `AWS::SSM::Parameter::Value<...>` parameters resolved to, by name
    /// (`ResolvedValue`); none by default.
    fn resolved_parameters(&self) -> BTreeMap<String, String> {
        BTreeMap::new()
    }

    /// The template's `Description`, shown by `DescribeStacks`.
    fn description(&self) -> Option<String> {
        None
    }
}

/// Stack-level facts a plan needs for pseudo parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StackIdentity {
    pub stack_name: String,
    pub stack_id: String,
    pub region: String,
    pub account_id: String,
    pub notification_arns: Vec<String>,
}

/// One problem with a template or its parameters, located when the template says where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanDiagnostic {
    /// A stable code, e.g. `E3012`-style or a short name.
    pub code: String,
    pub message: String,
    /// 1-based line and column in the template body, when known.
    pub line: Option<u32>,
    pub column: Option<u32>,
}

/// Turns a stored template body and parameters into a plan.
pub trait PlanFactory: Send + Sync {
    fn plan(
        &self,
        template_body: &str,
        parameters: &BTreeMap<String, String>,
        identity: &StackIdentity,
    ) -> Result<Arc<dyn TemplatePlan>, Vec<PlanDiagnostic>>;
}

/// Reads the template a nested stack's `TemplateURL` names (the CloudFormation service's
/// template source: the configured S3). The error is the user-facing reason.
#[async_trait::async_trait]
pub trait TemplateUrls: Send + Sync {
    async fn fetch(&self, url: &str) -> Result<String, String>;
}
