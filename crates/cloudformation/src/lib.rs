//! sagestack-cloudformation: the CloudFormation service module. It joins the three pure
//! crates: templates (`sagestack-template`) become the engine's plans through
//! [`TemplatePlanFactory`], and [`CloudFormationService`] assembles the stack engine
//! (`sagestack-engine`) with native providers registered by other services and the
//! schema-driven, custom-resource and inert providers (`sagestack-providers`) for every
//! other type.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use std::sync::Arc;
//! use sagestack_cloudformation::{CloudFormationService, CreateStackInput, ServiceConfig, StackStatus};
//! use sagestack_engine::MemoryStore;
//!
//! let service = CloudFormationService::new(ServiceConfig::new(
//!     "us-east-1",
//!     "123456789012",
//!     Arc::new(MemoryStore::new()),
//! ))
//! .unwrap();
//! let stack = service
//!     .create_stack_and_wait(CreateStackInput {
//!         stack_name: "queues".into(),
//!         template_body: "Resources:\n  Q:\n    Type: AWS::SQS::Queue\nOutputs:\n  Url: {Value: !Ref Q}\n".into(),
//!         ..Default::default()
//!     })
//!     .await
//!     .unwrap();
//! assert_eq!(stack.status, StackStatus::CreateComplete);
//! assert!(stack.outputs[0].value.starts_with("https://sqs.us-east-1.amazonaws.com/123456789012/queues-Q-"));
//! # }
//! ```
//!
//! Architecture invariant: like the crates it joins, no HTTP, no SQL and no wire formats
//! here; the CloudFormation Query API layer calls [`CloudFormationService`] and maps
//! [`EngineError`] to AWS error shapes.

pub mod api;
pub mod blocking;
pub mod jobs;
pub mod plan;
pub mod service;
pub mod source;

pub use jobs::TemplateJobs;
pub use plan::{
    SNAPSHOT_TYPES, SecretsLookup, SsmLookup, TemplatePlanFactory, TemplateStackPlan,
    availability_zones,
};
pub use service::{
    CloudFormationService, NativeProvider, ServiceConfig, ServiceError, TemplateSummary,
};
pub use source::{S3_TEMPLATE_LIMIT, TemplateFetchError, TemplateSource};

pub use sagestack_engine::{
    CreateChangeSetInput, CreateStackInput, EngineError, PlanDiagnostic, ResourceProvider,
    StackRecord, StackStatus, UpdateStackInput,
};
