//! What a template and a name must satisfy before anything is written: the checks whose
//! failures are the caller's errors, answered synchronously.

use std::collections::{BTreeMap, HashMap};

use crate::diff::{self, MarkerLookup};
use crate::error::EngineError;
use crate::plan::TemplatePlan;

use super::Stacks;

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
    let (live, exports) = (BTreeMap::new(), HashMap::new());
    let lookup = MarkerLookup {
        all_unknown: true,
        ..MarkerLookup::known(&live, &exports)
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

impl Stacks {
    /// Checks a plan before anything is written: every resource type has a provider, the
    /// dependencies form no cycle, and the capabilities its IAM resources need were given.
    pub(super) fn validate_plan(
        &self,
        plan: &dyn TemplatePlan,
        caps: &[String],
    ) -> Result<(), EngineError> {
        let unknown: Vec<&str> = plan
            .resources()
            .iter()
            .filter(|r| self.inner.providers.get(&r.resource_type).is_none())
            .map(|r| r.resource_type.as_str())
            .collect();
        EngineError::refuse_listed(
            "Template format error: Unrecognized resource types",
            &unknown,
        )?;
        diff::topological_order(plan)?;
        check_capabilities(plan, caps)
    }
}
