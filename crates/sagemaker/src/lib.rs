//! sagestack-sagemaker: the SageMaker *Projects* service (projects and their tags) and
//! model package groups ([`model_package_groups`], with the native
//! `AWS::SageMaker::ModelPackageGroup` provider in [`model_package_group_provider`]).
//!
//! Shape of a service module (the same for every AWS service in sagestack):
//! * state: [`projects`] ([`Projects`]: records and their rules of change, shared with
//!   the provisioner) and [`model_package_groups`] ([`ModelPackageGroups`], shared with
//!   the native provider);
//! * [`service`]: the wire operations ([`SageMakerService`], a
//!   [`sagestack_protocol::Json11Service`] for the `SageMaker` target prefix), built
//!   over the states and the provisioner;
//! * [`validate`]: input validation driven by the botocore model in `model/`;
//! * [`types`]: inputs and the stored project document;
//! * [`error`]: typed errors, mapped to AWS codes via [`sagestack_protocol::AwsError`];
//! * storage is [`sagestack_store::Store`].
//!
//! Architecture invariant: no HTTP and no SQL here.

pub mod error;
pub mod model_package_group_provider;
pub mod model_package_groups;
pub mod model_package_provider;
pub mod model_packages;
pub mod pagination;
pub mod project_provider;
pub mod projects;
pub mod provision;
pub mod service;
pub mod servicecatalog_portfolio;
#[cfg(test)]
mod testing;
pub mod types;
pub mod validate;

pub use error::SageMakerError;
pub use model_package_group_provider::ModelPackageGroupProvider;
pub use model_package_groups::ModelPackageGroups;
pub use model_package_provider::ModelPackageProvider;
pub use project_provider::ProjectProvider;
pub use projects::Projects;
pub use provision::{
    NoProvisioner, ProjectChangeFeed, ProjectChanges, ProjectEvent, Provisioner,
    ProvisioningUpdate, project_changes,
};
pub use sagestack_engine::{Clock, SystemClock};
pub use service::SageMakerService;
pub use types::{Project, ProjectStatus};
