//! sagestack-engine: the CloudFormation stack engine.
//!
//! Architecture invariant: no HTTP, no SQL, no AWS wire formats. The engine reaches the
//! world only through the traits it defines here: [`provider::ResourceProvider`] for
//! resources, [`plan::PlanFactory`] / [`plan::TemplatePlan`] for template semantics,
//! [`store::StackStore`] for durable state and [`clock::Clock`] / [`clock::IdGenerator`]
//! for time and ids.
//!
//! Entry point: [`Engine`]. Its mutating calls return as soon as the operation is durably
//! started; [`Engine::wait_for_terminal`] awaits the outcome; [`Engine::recover`] resumes
//! whatever a crashed engine left in progress.
//!
//! Invariants worth keeping:
//! - every resource action writes its record (with its event, atomically) *before* the
//!   provider is called and again *after*; a record left `*_IN_PROGRESS` therefore always
//!   means "started, outcome unknown", and recovery relies on nothing else. The
//!   exceptions write the "before" with the "after": a provider that keeps no state
//!   (`ResourceProvider::keeps_state`: nothing to recover from its call), and a delete by
//!   a provider whose effects are in the store (idempotent and queued with the records,
//!   so a crash before its outcome leaves the record as it was, to delete again);
//! - writes are committed in call order; an operation's steps are flushed to stable
//!   storage at its end and before any provider acting outside the store, API calls'
//!   writes before they return ([`durability`]);
//! - each stack phase (`ops`) is derived from the stored records alone, so it can be run
//!   again after a crash: deletions must be idempotent at the provider;
//! - one engine drives a given store namespace (account + region); several engines over
//!   one store would each try to recover the same stacks.

pub mod amend;
pub mod claims;
pub mod clock;
mod dag;
mod diff;
pub mod drift;
pub mod durability;
mod emit;
pub mod engine;
pub mod error;
mod inner;
pub mod model;
mod name_locks;
pub mod nested;
pub mod no_echo;
mod ops;
pub mod plan;
pub mod policy;
pub mod provider;
pub mod publish;
mod settle;
pub mod store;

pub use clock::{
    Clock, FakeClock, IdGenerator, RandomIds, SequentialIds, SystemClock, iso8601_millis,
};
pub use engine::{
    ChangeSetIds, CreateChangeSetInput, CreateStackInput, Engine, EngineConfig, EngineParts,
    Stacks, UpdateStackInput, validate_name,
};
pub use error::EngineError;
pub use model::*;
pub use plan::{
    PlanDiagnostic, PlanFactory, PlannedResource, Policy, ResolveError, ResolvedOutput,
    ResourceLookup, StackIdentity, TemplatePlan,
};
pub use provider::{
    LOWER_ALNUM, Live, MIXED_ALNUM, ProviderError, ProviderRegistry, ResourceContext,
    ResourceProvider, ResourceState, TypeInfo, UPPER_ALNUM, UpdateBehavior, arn, attempt_chars,
    partition_for_region, random_chars,
};
pub use publish::{
    CLOUDFORMATION_SOURCE, EmittedEvent, EventPublisher, NoEvents, RESOURCE_STATUS_CHANGE,
    STACK_STATUS_CHANGE,
};
pub use store::{MemoryStore, StackStore, StoreError};
