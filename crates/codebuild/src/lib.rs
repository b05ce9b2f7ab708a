//! sagestack-codebuild: CodeBuild as kept projects with recorded builds.
//!
//! sagestack does not run builds. It keeps build projects and records each build
//! honestly: stored complete, `SUCCEEDED`, every phase that would have run something
//! carrying a context that says it was not executed ([`builds::NOT_EXECUTED`]). Who
//! started it is its `initiator` ([`Initiator`]: the caller's name, `rule/{rule}` for an
//! EventBridge rule, `codepipeline/{pipeline}`).
//!
//! The common module shape:
//! * state: [`Builds`] (`projects.rs`: projects; `builds.rs`: the recorded builds,
//!   [`Builds::start_build`] for EventBridge targets), over the store's document table
//!   ([`sagestack_store::CatalogKind::BuildProject`], [`sagestack_store::CatalogKind::Build`]);
//! * API: [`CodeBuildService`] (`service.rs`), a JSON 1.1 service for the
//!   `CodeBuild_20161006` target prefix;
//! * provider: [`ProjectProvider`], the native `AWS::CodeBuild::Project`;
//! * validation: the botocore model in `model/` (`scripts/gen-codebuild-model.py`)
//!   through [`sagestack_protocol::validate`]; violations are `InvalidInputException`;
//! * [`error`]: typed errors mapped to AWS codes once.
//!
//! Architecture invariant: no HTTP and no SQL here; the state never calls the API or
//! the provider.

pub mod builds;
pub mod error;
pub mod projects;
pub mod provider;
pub mod service;

pub use builds::{Build, Initiator, NOT_EXECUTED};
pub use error::BuildError;
pub use projects::{Builds, Project, Scope};
pub use provider::ProjectProvider;
pub use service::CodeBuildService;
