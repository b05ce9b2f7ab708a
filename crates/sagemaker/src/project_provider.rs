//! The native `AWS::SageMaker::Project` provider: a stack's project is a real project of
//! this server, made by the same rules as `CreateProject` ([`Projects::create`]) and
//! provisioned by the same provisioner.
//!
//! The provider is built before the provisioner (which runs on CloudFormation), so it
//! cannot hold it: it tells the provisioner about the projects it creates and deletes
//! through [`ProjectChanges`], a channel whose receiving end the provisioner is given at
//! construction. A create waits for the provisioning to settle (`CreateCompleted`, else
//! the resource fails with the project's own reason and the failed project is deleted);
//! a delete waits for `DeleteCompleted`. The project's `SP-`/`SC-` stack is a stack of
//! its own, as on AWS. Every property is create-only (the schema says so): a change
//! replaces the project.

use std::sync::Arc;

use async_trait::async_trait;
use sagestack_engine::model::EpochMillis;
use sagestack_engine::provider::kit::type_info;
use sagestack_engine::provider::{Native, Outcome};
use sagestack_engine::{ProviderError, ResourceContext, ResourceState, TypeInfo};
use serde_json::{Map, Value, json};

use crate::error::SageMakerError;
use crate::projects::{ProjectScope, Projects};
use crate::provision::{ProjectChanges, ProjectEvent};
use crate::types::{CreateProjectInput, Project, ProjectStatus};

pub const TYPE_NAME: &str = "AWS::SageMaker::Project";

/// See the module documentation.
pub struct ProjectProvider {
    projects: Arc<Projects>,
    changes: ProjectChanges,
}

impl ProjectProvider {
    pub fn new(projects: Arc<Projects>, changes: ProjectChanges) -> Self {
        ProjectProvider { projects, changes }
    }

    /// Waits until the project named `name` (id `id`) leaves the statuses of a running
    /// operation; `None` when it is gone.
    async fn settled(&self, name: &str, id: &str) -> Outcome<Option<Project>> {
        self.projects
            .wait_for(name, |p| {
                p.is_none_or(|p| p.project_id != id || !p.project_status.is_busy())
            })
            .await
            .map_err(internal)
    }

    /// Deletes the project and waits for its deletion to end.
    async fn delete_and_wait(&self, project: &Project) -> Outcome<()> {
        let name = &project.project_name;
        // An operation already running is awaited first (DeleteProject would refuse).
        let Some(current) = self.settled(name, &project.project_id).await? else {
            return Ok(());
        };
        if current.project_id != project.project_id
            || current.project_status == ProjectStatus::DeleteCompleted
        {
            return Ok(());
        }
        let deleting = match self.projects.mark_deleting(name, None).await {
            Ok(p) => p,
            Err(SageMakerError::Validation(_)) => return Ok(()),
            Err(e) => return Err(internal(e)),
        };
        self.changes.send(ProjectEvent::Deleted(deleting));
        match self.settled(name, &project.project_id).await? {
            Some(p)
                if p.project_id == project.project_id
                    && p.project_status == ProjectStatus::DeleteFailed =>
            {
                Err(ProviderError::Conflict(format!(
                    "Project {name} could not be deleted: {}",
                    status_message(&p)
                )))
            }
            _ => Ok(()),
        }
    }
}

fn internal(e: SageMakerError) -> ProviderError {
    match e {
        SageMakerError::Validation(m) => ProviderError::InvalidRequest(m),
        other => ProviderError::Internal(other.to_string()),
    }
}

/// The project's own account of why provisioning failed.
fn status_message(p: &Project) -> String {
    let from_stack = p
        .template_provider_details
        .as_ref()
        .and_then(|d| d.pointer("/0/CfnTemplateProviderDetail/StackDetail/StatusMessage"))
        .and_then(Value::as_str);
    let from_product = p
        .service_catalog_provisioned_product_details
        .as_ref()
        .and_then(|d| d.get("ProvisionedProductStatusMessage"))
        .and_then(Value::as_str);
    from_stack.or(from_product).map_or_else(
        || format!("it reached {}", p.project_status),
        str::to_string,
    )
}

/// CreateProject's input from the resource's properties: `TemplateProviderDetails`'
/// `CfnTemplateProviderDetail`s are the API's `TemplateProviders`' `CfnTemplateProvider`s;
/// the stack's propagated tags join the resource's own (minus `aws:` ones, which
/// CreateProject refuses).
fn create_input(ctx: &ResourceContext, properties: &Value) -> Outcome<CreateProjectInput> {
    let mut input = sagestack_engine::provider::kit::picked(
        properties,
        &[
            "ProjectName",
            "ProjectDescription",
            "ServiceCatalogProvisioningDetails",
        ],
    );
    if let Some(details) = properties
        .get("TemplateProviderDetails")
        .and_then(Value::as_array)
    {
        let providers = details
            .iter()
            .map(|d| json!({"CfnTemplateProvider": d.get("CfnTemplateProviderDetail").cloned().unwrap_or(Value::Null)}))
            .collect();
        input.insert("TemplateProviders".into(), Value::Array(providers));
    }
    let mut tags: Vec<Value> = properties
        .get("Tags")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for (k, v) in ctx
        .stack_tags
        .iter()
        .filter(|(k, _)| !k.starts_with("aws:"))
    {
        if !tags
            .iter()
            .any(|t| t.get("Key").and_then(Value::as_str) == Some(k))
        {
            tags.push(json!({"Key": k, "Value": v}));
        }
    }
    if !tags.is_empty() {
        input.insert("Tags".into(), Value::Array(tags));
    }
    crate::service::decode("CreateProject", Value::Object(input)).map_err(internal)
}

/// The project's name in its ARN (`...:project/<name>`).
fn name_of(arn: &str) -> &str {
    arn.rsplit_once("project/").map_or(arn, |(_, name)| name)
}

#[async_trait]
impl Native for ProjectProvider {
    type Record = Project;
    const TYPE_NAME: &'static str = TYPE_NAME;

    fn info(&self) -> TypeInfo {
        let create_only = [
            "ProjectName",
            "ProjectDescription",
            "ServiceCatalogProvisioningDetails",
            "TemplateProviderDetails",
            "Tags",
        ];
        let attributes = [
            "ProjectArn",
            "ProjectId",
            "CreationTime",
            "ProjectStatus",
            "ServiceCatalogProvisionedProductDetails",
        ];
        type_info(TYPE_NAME, &create_only, &attributes, true).named("ProjectName")
    }

    fn state_of(p: &Project) -> ResourceState {
        let mut attributes = Map::new();
        attributes.insert("ProjectArn".into(), p.project_arn.clone().into());
        attributes.insert("ProjectId".into(), p.project_id.clone().into());
        let created = (p.creation_time * 1000.0) as EpochMillis;
        attributes.insert(
            "CreationTime".into(),
            sagestack_engine::iso8601_millis(created).into(),
        );
        attributes.insert("ProjectStatus".into(), p.project_status.to_string().into());
        if let Some(d) = &p.service_catalog_provisioned_product_details {
            attributes.insert("ServiceCatalogProvisionedProductDetails".into(), d.clone());
        }
        ResourceState {
            physical_id: p.project_arn.clone(),
            attributes,
        }
    }

    fn intended_id(ctx: &ResourceContext, properties: &Value) -> Option<String> {
        let name = properties.get("ProjectName")?.as_str()?;
        Some(ProjectScope::of(&ctx.region, &ctx.account_id).arn(name))
    }

    fn made_since(p: &Project, started: EpochMillis) -> bool {
        (p.creation_time * 1000.0) as EpochMillis >= started
    }

    async fn create_record(&self, ctx: &ResourceContext, properties: &Value) -> Outcome<Project> {
        let input = create_input(ctx, properties)?;
        let scope = ProjectScope::of(&ctx.region, &ctx.account_id);
        let project = self
            .projects
            .create(input, &scope, None)
            .await
            .map_err(|e| match e {
                SageMakerError::Validation(m) if m.ends_with("already exists.") => {
                    ProviderError::AlreadyExists(m)
                }
                other => internal(other),
            })?;
        self.changes.send(ProjectEvent::Created(project.clone()));
        let settled = self
            .settled(&project.project_name, &project.project_id)
            .await?;
        match settled {
            Some(p)
                if p.project_id == project.project_id
                    && p.project_status == ProjectStatus::CreateCompleted =>
            {
                Ok(p)
            }
            Some(p) if p.project_id == project.project_id => {
                let reason = status_message(&p);
                // Nothing of a failed create stays behind (its rollback has no id to delete).
                self.delete_and_wait(&p).await?;
                Err(ProviderError::Internal(format!(
                    "Project {} failed to create: {reason}",
                    p.project_name
                )))
            }
            _ => Err(ProviderError::NotFound(format!(
                "Project {} was deleted while it was being created",
                project.project_name
            ))),
        }
    }

    /// Every property is create-only: an update changes nothing (the engine replaces the
    /// project when a property changes); the project as it is.
    async fn update_record(
        &self,
        ctx: &ResourceContext,
        arn: &str,
        _props: &Value,
    ) -> Outcome<Project> {
        self.get_record(ctx, arn).await?.ok_or_else(|| {
            ProviderError::NotFound(format!("Project {} does not exist", name_of(arn)))
        })
    }

    async fn get_record(&self, _: &ResourceContext, arn: &str) -> Outcome<Option<Project>> {
        let project = self
            .projects
            .project(name_of(arn))
            .await
            .map_err(internal)?;
        Ok(project
            .filter(|p| p.project_arn == arn && p.project_status != ProjectStatus::DeleteCompleted))
    }

    async fn delete_record(&self, ctx: &ResourceContext, arn: &str) -> Outcome<()> {
        match self.get_record(ctx, arn).await? {
            Some(project) => self.delete_and_wait(&project).await,
            None => Ok(()),
        }
    }
}
