//! sagestack-codepipeline: CodePipeline as kept definitions with recorded runs.
//!
//! sagestack does not run pipelines. It keeps their definitions and records each start
//! honestly: an execution lists the stages and actions of the definition and completes
//! `Succeeded` at once, every action's summary saying it was not executed
//! ([`executions::NOT_EXECUTED`]). What started it is recorded as its trigger
//! ([`Trigger`]: `CreatePipeline`, `StartPipelineExecution` with the caller, or
//! `CloudWatchEvent` with an EventBridge rule's ARN).
//!
//! The common module shape:
//! * state: [`Pipelines`] (`pipelines.rs`: definitions, tags; `executions.rs`: the
//!   recorded runs, [`Pipelines::start_execution`] for EventBridge targets), over the
//!   store's document table ([`sagestack_store::CatalogKind::Pipeline`],
//!   [`sagestack_store::CatalogKind::PipelineExecution`]);
//! * API: [`CodePipelineService`] (`service.rs`), a JSON 1.1 service for the
//!   `CodePipeline_20150709` target prefix;
//! * provider: [`PipelineProvider`], the native `AWS::CodePipeline::Pipeline`;
//! * validation: the botocore model in `model/` (`scripts/gen-codepipeline-model.py`)
//!   through [`sagestack_protocol::validate`], plus the structure rules in
//!   [`pipelines::normalized`];
//! * [`error`]: typed errors mapped to AWS codes once.
//!
//! Architecture invariant: no HTTP and no SQL here; the state never calls the API or
//! the provider.

pub mod error;
pub mod executions;
pub mod pipelines;
pub mod provider;
pub mod service;

pub use error::PipelineError;
pub use executions::{Execution, NOT_EXECUTED, Trigger, TriggerType};
pub use pipelines::{Pipeline, Pipelines, Scope};
pub use provider::PipelineProvider;
pub use service::CodePipelineService;
