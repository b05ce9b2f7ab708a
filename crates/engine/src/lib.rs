//! sagestack-engine: the CloudFormation stack engine.
//!
//! Architecture invariant: no HTTP, no SQL, no AWS wire formats. The engine reaches the
//! world only through the traits it defines here ([`provider::ResourceProvider`] and, as
//! the stack engine grows, its store and clock interfaces).

pub mod provider;

pub use provider::{
    ProviderError, ProviderRegistry, ResourceContext, ResourceProvider, ResourceState, TypeInfo,
    UpdateBehavior, partition_for_region,
};
