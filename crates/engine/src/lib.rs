//! sagestack-engine: the CloudFormation stack engine.
//!
//! Architecture invariant: no HTTP, no SQL, no AWS wire formats. The engine reaches the
//! world only through the traits it defines here: [`provider::ResourceProvider`] for
//! resources, [`plan::PlanFactory`] / [`plan::TemplatePlan`] for template semantics, and
//! (as the stack engine grows) its store and clock interfaces.

pub mod plan;
pub mod provider;

pub use plan::{
    PlanDiagnostic, PlanFactory, PlannedResource, Policy, ResolveError, ResolvedOutput,
    ResourceLookup, StackIdentity, TemplatePlan,
};
pub use provider::{
    ProviderError, ProviderRegistry, ResourceContext, ResourceProvider, ResourceState, TypeInfo,
    UpdateBehavior, partition_for_region,
};
