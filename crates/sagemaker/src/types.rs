//! Operation inputs and the stored project document, as serde types named like the
//! botocore shapes. Inputs are validated against the model before they are decoded.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A key-value pair (`Tag`), as every JSON 1.1 service here spells it.
pub use sagestack_protocol::json11::Tag;

/// The stored project: exactly the `DescribeProjectOutput` document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Project {
    pub project_arn: String,
    pub project_name: String,
    pub project_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project_description: Option<String>,
    /// Kept as the client sent it (validated against the model).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_catalog_provisioning_details: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_catalog_provisioned_product_details: Option<Value>,
    pub project_status: ProjectStatus,
    /// `TemplateProviderDetailList` (from `TemplateProviders` on create).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub template_provider_details: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_by: Option<UserContext>,
    /// Epoch seconds with fraction.
    pub creation_time: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_modified_time: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_modified_by: Option<UserContext>,
}

/// `ProjectStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProjectStatus {
    Pending,
    CreateInProgress,
    CreateCompleted,
    CreateFailed,
    DeleteInProgress,
    DeleteFailed,
    DeleteCompleted,
    UpdateInProgress,
    UpdateCompleted,
    UpdateFailed,
}

impl ProjectStatus {
    /// The AWS spelling (`CreateInProgress`...).
    pub fn as_str(self) -> &'static str {
        match self {
            ProjectStatus::Pending => "Pending",
            ProjectStatus::CreateInProgress => "CreateInProgress",
            ProjectStatus::CreateCompleted => "CreateCompleted",
            ProjectStatus::CreateFailed => "CreateFailed",
            ProjectStatus::DeleteInProgress => "DeleteInProgress",
            ProjectStatus::DeleteFailed => "DeleteFailed",
            ProjectStatus::DeleteCompleted => "DeleteCompleted",
            ProjectStatus::UpdateInProgress => "UpdateInProgress",
            ProjectStatus::UpdateCompleted => "UpdateCompleted",
            ProjectStatus::UpdateFailed => "UpdateFailed",
        }
    }

    /// An operation is queued or running on the project (`Pending`, `*InProgress`).
    pub fn is_busy(self) -> bool {
        matches!(
            self,
            ProjectStatus::Pending
                | ProjectStatus::CreateInProgress
                | ProjectStatus::UpdateInProgress
                | ProjectStatus::DeleteInProgress
        )
    }
}

impl std::fmt::Display for ProjectStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `UserContext`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UserContext {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_profile_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_profile_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iam_identity: Option<IamIdentity>,
}

/// `IamIdentity`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct IamIdentity {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub principal_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_identity: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateProjectInput {
    pub project_name: String,
    pub project_description: Option<String>,
    pub service_catalog_provisioning_details: Option<Value>,
    pub template_providers: Option<Vec<CreateTemplateProvider>>,
    pub tags: Option<Vec<Tag>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateTemplateProvider {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cfn_template_provider: Option<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ProjectNameInput {
    pub project_name: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateProjectInput {
    pub project_name: String,
    pub project_description: Option<String>,
    pub service_catalog_provisioning_update_details: Option<Value>,
    pub template_providers_to_update: Option<Vec<Value>>,
    pub tags: Option<Vec<Tag>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListProjectsInput {
    pub creation_time_after: Option<f64>,
    pub creation_time_before: Option<f64>,
    pub max_results: Option<i64>,
    pub name_contains: Option<String>,
    pub next_token: Option<String>,
    pub sort_by: Option<String>,
    pub sort_order: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AddTagsInput {
    pub resource_arn: String,
    pub tags: Vec<Tag>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListTagsInput {
    pub resource_arn: String,
    pub max_results: Option<i64>,
    pub next_token: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteTagsInput {
    pub resource_arn: String,
    pub tag_keys: Vec<String>,
}
