//! The SageMaker API: the JSON 1.1 operations on projects and tags (and the dispatch of
//! the model package group ones to [`ModelPackageGroups`]).
//!
//! It owns no state: projects live in [`Projects`], groups in [`ModelPackageGroups`].
//! After every stored project change it tells the [`Provisioner`] it was built with.

use std::sync::Arc;

use sagestack_protocol::{JsonOutput, RequestContext};
// The tests (`use super::*`) read error codes.
#[cfg(test)]
use sagestack_protocol::AwsError;
use sagestack_store::{StoreError, Tag as StoreTag};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::error::SageMakerError;
use crate::model_package_groups::{ModelPackageGroups, is_model_package_group_arn};
use crate::model_packages::is_model_package_arn;
use crate::pagination::{cursor_after, cut_page, encode_tag_token, keyset_query, tag_after};
use crate::projects::{
    ProjectScope, Projects, busy, not_found, now_micros, parse_document, seconds,
    template_provider_details, to_value,
};
use crate::provision::{ProjectEvent, Provisioner};
use crate::types::*;
use crate::validate::MODEL;

/// Tags a resource may carry (AWS's documented limit, also the `TagList` maximum).
pub const MAX_TAGS_PER_RESOURCE: usize = 50;
/// `ListProjects` page size when `MaxResults` is absent.
pub const DEFAULT_LIST_PROJECTS: usize = 10;
/// `ListTags` page size when `MaxResults` is absent (the model's minimum).
pub const DEFAULT_LIST_TAGS: usize = 50;

/// The SageMaker API: the wire operations over the project and model package group
/// states, telling the provisioner about every stored project change.
pub struct SageMakerService {
    projects: Arc<Projects>,
    groups: Arc<ModelPackageGroups>,
    provisioner: Arc<dyn Provisioner>,
}

type Result<T> = std::result::Result<T, SageMakerError>;

pub(crate) fn user_context(ctx: &RequestContext) -> Option<UserContext> {
    let caller = ctx.caller.as_ref()?;
    // The caller's ARN in this region's partition (`aws` for the usual regions).
    let partition = sagestack_engine::partition_for_region(&ctx.region);
    Some(UserContext {
        user_profile_arn: None,
        user_profile_name: None,
        domain_id: None,
        iam_identity: Some(IamIdentity {
            arn: Some(
                caller
                    .arn
                    .replacen("arn:aws:", &format!("arn:{partition}:"), 1),
            ),
            principal_id: Some(caller.user_id.clone()),
            source_identity: None,
        }),
    })
}

pub(crate) fn decode<T: DeserializeOwned>(operation: &str, input: Value) -> Result<T> {
    sagestack_protocol::json11::decode(&MODEL, operation, input)
}

/// Applies `TemplateProvidersToUpdate` to the stored `TemplateProviderDetails`: each
/// update must name (`TemplateName`) one of the project's templates; its `TemplateURL`
/// replaces the stored one and its `Parameters`, when given, replace the stored ones.
/// What an update cannot carry (`RoleARN`) and the `StackDetail` are kept.
fn merge_template_updates(name: &str, details: &mut Value, updates: &[Value]) -> Result<()> {
    let Some(details) = details.as_array_mut() else {
        return Err(SageMakerError::Internal(
            "stored TemplateProviderDetails is not a list".into(),
        ));
    };
    for update in updates {
        let Some(cfn) = update.get("CfnTemplateProvider").and_then(Value::as_object) else {
            return Err(SageMakerError::Validation(
                "Each template provider to update must specify CfnTemplateProvider.".into(),
            ));
        };
        let template_name = cfn
            .get("TemplateName")
            .and_then(Value::as_str)
            .unwrap_or("");
        let slot = details.iter_mut().find_map(|d| {
            d.get_mut("CfnTemplateProviderDetail")
                .and_then(Value::as_object_mut)
                .filter(|c| c.get("TemplateName").and_then(Value::as_str) == Some(template_name))
        });
        let Some(slot) = slot else {
            let known: Vec<&str> = details
                .iter()
                .filter_map(|d| d["CfnTemplateProviderDetail"]["TemplateName"].as_str())
                .collect();
            return Err(SageMakerError::Validation(format!(
                "TemplateName {template_name} does not match the template of project {name} ({}).",
                known.join(", ")
            )));
        };
        if let Some(url) = cfn.get("TemplateURL") {
            slot.insert("TemplateURL".into(), url.clone());
        }
        if let Some(parameters) = cfn.get("Parameters") {
            slot.insert("Parameters".into(), parameters.clone());
        }
    }
    Ok(())
}

pub(crate) fn resource_not_found(arn: &str) -> SageMakerError {
    SageMakerError::Validation(format!("Resource {arn} does not exist."))
}

pub(crate) fn check_tag_keys<'a>(keys: impl IntoIterator<Item = &'a str>) -> Result<()> {
    for key in keys {
        if key.to_ascii_lowercase().starts_with("aws:") {
            return Err(SageMakerError::Validation(format!(
                "Tag key '{key}' uses the reserved prefix 'aws:'."
            )));
        }
    }
    Ok(())
}

/// Tags as stored: the last value wins when a key repeats in one request.
pub(crate) fn store_tags(tags: &[Tag]) -> Vec<StoreTag> {
    let mut out: Vec<StoreTag> = Vec::with_capacity(tags.len());
    for t in tags {
        match out.iter_mut().find(|s| s.key == t.key) {
            Some(s) => s.value = t.value.clone(),
            None => out.push(StoreTag::new(&t.key, &t.value)),
        }
    }
    out
}

impl SageMakerService {
    /// The API over `projects` and `groups`, reporting project changes to
    /// `provisioner` (built before this service, from the same states).
    pub fn new(
        projects: Arc<Projects>,
        groups: Arc<ModelPackageGroups>,
        provisioner: Arc<dyn Provisioner>,
    ) -> Self {
        SageMakerService {
            projects,
            groups,
            provisioner,
        }
    }

    /// The projects' state this API serves.
    pub fn projects(&self) -> &Arc<Projects> {
        &self.projects
    }

    /// Runs one operation on a decoded JSON input.
    pub async fn handle(&self, ctx: &RequestContext, op: &str, input: Value) -> Result<JsonOutput> {
        match op {
            "CreateProject" => self.create_project(ctx, decode(op, input)?).await,
            "DescribeProject" => self.describe_project(decode(op, input)?).await,
            "UpdateProject" => self.update_project(ctx, decode(op, input)?).await,
            "ListProjects" => self.list_projects(decode(op, input)?).await,
            "DeleteProject" => self.delete_project(ctx, decode(op, input)?).await,
            "AddTags" => self.add_tags(decode(op, input)?).await,
            "ListTags" => self.list_tags(decode(op, input)?).await,
            "DeleteTags" => self.delete_tags(decode(op, input)?).await,
            "CreateModelPackageGroup"
            | "DescribeModelPackageGroup"
            | "ListModelPackageGroups"
            | "DeleteModelPackageGroup" => self.groups.handle(ctx, op, input).await,
            "CreateModelPackage"
            | "DescribeModelPackage"
            | "ListModelPackages"
            | "UpdateModelPackage"
            | "BatchDescribeModelPackage"
            | "DeleteModelPackage" => self.groups.handle_package(ctx, op, input).await,
            "EnableSagemakerServicecatalogPortfolio" => {
                self.set_servicecatalog_portfolio(true).await
            }
            "DisableSagemakerServicecatalogPortfolio" => {
                self.set_servicecatalog_portfolio(false).await
            }
            "GetSagemakerServicecatalogPortfolioStatus" => {
                self.servicecatalog_portfolio_status().await
            }
            other => Err(SageMakerError::UnknownOperation(format!(
                "Operation SageMaker.{other} is not supported by this server"
            ))),
        }
    }

    async fn create_project(
        &self,
        ctx: &RequestContext,
        input: CreateProjectInput,
    ) -> Result<JsonOutput> {
        let scope = ProjectScope::of(&ctx.region, &ctx.account_id);
        let project = self
            .projects
            .create(input, &scope, user_context(ctx))
            .await?;
        let output = json!({"ProjectArn": project.project_arn, "ProjectId": project.project_id});
        self.provisioner
            .project_changed(ProjectEvent::Created(project));
        Ok(JsonOutput::Value(output))
    }

    async fn describe_project(&self, input: ProjectNameInput) -> Result<JsonOutput> {
        match self.projects.store.get_project(&input.project_name).await? {
            // The stored document is the DescribeProject output.
            Some(record) => Ok(JsonOutput::Raw(record.document.to_string())),
            None => Err(not_found(&input.project_name)),
        }
    }

    async fn update_project(
        &self,
        ctx: &RequestContext,
        input: UpdateProjectInput,
    ) -> Result<JsonOutput> {
        let tags = input.tags.unwrap_or_default();
        check_tag_keys(tags.iter().map(|t| t.key.as_str()))?;
        let sc_update = input.service_catalog_provisioning_update_details;
        let tp_update = input.template_providers_to_update;
        if sc_update.is_some() && tp_update.is_some() {
            return Err(SageMakerError::Validation(
                "ServiceCatalogProvisioningUpdateDetails and TemplateProvidersToUpdate cannot both be specified."
                    .into(),
            ));
        }
        let now = seconds(now_micros(&*self.projects.clock));
        let user = user_context(ctx);
        let active = self.provisioner.is_active();
        let (before, after) = self
            .projects.modify(&input.project_name, &store_tags(&tags), |p| {
                if active {
                    if p.project_status == ProjectStatus::DeleteCompleted {
                        return Err(not_found(&p.project_name));
                    }
                    if p.project_status.is_busy() {
                        return Err(busy(&p.project_name, "updated", p.project_status));
                    }
                }
                if let Some(d) = &input.project_description {
                    p.project_description = Some(d.clone());
                }
                if let Some(update) = &sc_update {
                    let Some(Value::Object(details)) = &mut p.service_catalog_provisioning_details
                    else {
                        return Err(SageMakerError::Validation(format!(
                            "Project {} was not created from a Service Catalog product; ServiceCatalogProvisioningUpdateDetails does not apply.",
                            p.project_name
                        )));
                    };
                    if let Value::Object(update) = update {
                        for (k, v) in update {
                            details.insert(k.clone(), v.clone());
                        }
                    }
                }
                if let Some(providers) = &tp_update {
                    if p.template_provider_details.is_none() {
                        return Err(SageMakerError::Validation(format!(
                            "Project {} was not created from template providers; TemplateProvidersToUpdate does not apply.",
                            p.project_name
                        )));
                    }
                    if active {
                        let name = p.project_name.clone();
                        if let Some(details) = &mut p.template_provider_details {
                            merge_template_updates(&name, details, providers)?;
                        }
                    } else {
                        p.template_provider_details = Some(template_provider_details(providers));
                    }
                }
                if active && (sc_update.is_some() || tp_update.is_some()) {
                    if !matches!(
                        p.project_status,
                        ProjectStatus::CreateCompleted
                            | ProjectStatus::UpdateCompleted
                            | ProjectStatus::UpdateFailed
                    ) {
                        // A project that never provisioned (CreateFailed) or whose
                        // deletion failed has nothing sound to update: it is deleted (and
                        // created again) instead.
                        return Err(SageMakerError::Validation(format!(
                            "Project {} is in {} state; only a project whose creation completed can update its provisioning. Delete it and create it again.",
                            p.project_name, p.project_status
                        )));
                    }
                    p.project_status = ProjectStatus::UpdateInProgress;
                }
                p.last_modified_time = Some(now);
                p.last_modified_by = user.clone();
                Ok(())
            })
            .await?;
        let arn = after.project_arn.clone();
        self.provisioner.project_changed(ProjectEvent::Updated {
            before: Box::new(before),
            after: Box::new(after),
        });
        Ok(JsonOutput::Value(json!({ "ProjectArn": arn })))
    }

    async fn list_projects(&self, input: ListProjectsInput) -> Result<JsonOutput> {
        let bad_token = "The NextToken is not valid for this request (it was issued for another sort order, or is corrupt).";
        let (query, limit) = keyset_query(input, true, DEFAULT_LIST_PROJECTS, bad_token)?;
        let mut records = self.projects.store.list_projects(&query).await?;
        let next_token = cut_page(&mut records, limit, query.sort, query.descending, |last| {
            cursor_after(last.creation_micros, &last.name)
        });
        let mut summaries = Vec::with_capacity(records.len());
        for record in &records {
            let p = parse_document(record)?;
            let mut s = serde_json::Map::new();
            s.insert("ProjectName".into(), p.project_name.into());
            if let Some(d) = p.project_description {
                s.insert("ProjectDescription".into(), d.into());
            }
            s.insert("ProjectArn".into(), p.project_arn.into());
            s.insert("ProjectId".into(), p.project_id.into());
            s.insert("CreationTime".into(), p.creation_time.into());
            s.insert("ProjectStatus".into(), to_value(&p.project_status));
            summaries.push(Value::Object(s));
        }
        let mut out = json!({ "ProjectSummaryList": summaries });
        if let Some(t) = next_token {
            out["NextToken"] = t.into();
        }
        Ok(JsonOutput::Value(out))
    }

    async fn delete_project(
        &self,
        ctx: &RequestContext,
        input: ProjectNameInput,
    ) -> Result<JsonOutput> {
        if self.provisioner.is_active() {
            // The record stays, `DeleteInProgress`, until the provisioner has deleted
            // what the project provisioned.
            let after = self
                .projects
                .mark_deleting(&input.project_name, user_context(ctx))
                .await?;
            self.provisioner
                .project_changed(ProjectEvent::Deleted(after));
            return Ok(JsonOutput::Value(json!({})));
        }
        match self
            .projects
            .store
            .delete_project(&input.project_name)
            .await?
        {
            Some(record) => {
                let project = parse_document(&record)?;
                self.provisioner
                    .project_changed(ProjectEvent::Deleted(project));
                Ok(JsonOutput::Value(json!({})))
            }
            None => Err(not_found(&input.project_name)),
        }
    }

    async fn add_tags(&self, input: AddTagsInput) -> Result<JsonOutput> {
        check_tag_keys(input.tags.iter().map(|t| t.key.as_str()))?;
        if is_model_package_group_arn(&input.resource_arn) {
            return self.groups.add_tags(input).await;
        }
        if is_model_package_arn(&input.resource_arn) {
            let arn = &input.resource_arn;
            self.groups
                .change_package_tags(arn, &input.tags, &[])
                .await?;
            return Ok(JsonOutput::Value(json!({ "Tags": input.tags })));
        }
        let tags = store_tags(&input.tags);
        let store = &self.projects.store;
        let added = store
            .add_tags(&input.resource_arn, &tags, MAX_TAGS_PER_RESOURCE)
            .await;
        tags_changed(added, &input.resource_arn, json!({ "Tags": input.tags }))
    }

    async fn list_tags(&self, input: ListTagsInput) -> Result<JsonOutput> {
        if is_model_package_group_arn(&input.resource_arn) {
            return self.groups.list_tags(input).await;
        }
        let limit = input.max_results.map_or(DEFAULT_LIST_TAGS, |n| n as usize);
        let after = tag_after(input.next_token.as_deref())?;
        if is_model_package_arn(&input.resource_arn) {
            let tags = self.groups.package_tags(&input.resource_arn).await?;
            let tags = tags.ok_or_else(|| resource_not_found(&input.resource_arn))?;
            let rows = tags
                .into_iter()
                .filter(|t| after.as_deref().is_none_or(|a| t.key.as_str() > a))
                .take(limit.saturating_add(1))
                .map(|t| StoreTag::new(&t.key, &t.value))
                .collect();
            return Ok(tags_page(rows, limit));
        }
        let Some(tags) = self
            .projects
            .store
            .list_tags(
                &input.resource_arn,
                after.as_deref(),
                limit.saturating_add(1),
            )
            .await?
        else {
            return Err(resource_not_found(&input.resource_arn));
        };
        Ok(tags_page(tags, limit))
    }

    async fn delete_tags(&self, input: DeleteTagsInput) -> Result<JsonOutput> {
        if is_model_package_group_arn(&input.resource_arn) {
            return self.groups.delete_tags(input).await;
        }
        if is_model_package_arn(&input.resource_arn) {
            let arn = &input.resource_arn;
            self.groups
                .change_package_tags(arn, &[], &input.tag_keys)
                .await?;
            return Ok(JsonOutput::Value(json!({})));
        }
        let store = &self.projects.store;
        let deleted = store
            .delete_tags(&input.resource_arn, &input.tag_keys)
            .await;
        tags_changed(deleted, &input.resource_arn, json!({}))
    }
}

sagestack_protocol::json11_service!(SageMakerService, "SageMaker");

/// A tag change's answer: `ok` once written, else the resource's absence or the tag
/// limit in the API's words (shared by projects and model package groups).
pub(crate) fn tags_changed<T>(
    result: std::result::Result<T, StoreError>,
    arn: &str,
    ok: Value,
) -> Result<JsonOutput> {
    match result {
        Ok(_) => Ok(JsonOutput::Value(ok)),
        Err(StoreError::NotFound) => Err(resource_not_found(arn)),
        Err(StoreError::TooManyTags { limit }) => Err(SageMakerError::Validation(format!(
            "The tags would exceed the limit of {limit} tags per resource."
        ))),
        Err(e) => Err(e.into()),
    }
}

/// One `ListTags` page from tags in key order, read with one extra row past `limit`: the
/// extra row says another page exists, and the token points after the last tag kept.
pub(crate) fn tags_page(mut tags: Vec<StoreTag>, limit: usize) -> JsonOutput {
    let next = if tags.len() > limit {
        tags.truncate(limit);
        tags.last().map(|t| encode_tag_token(&t.key))
    } else {
        None
    };
    let tags: Vec<Tag> = tags
        .into_iter()
        .map(|t| Tag {
            key: t.key,
            value: t.value,
        })
        .collect();
    let mut out = json!({ "Tags": tags });
    if let Some(n) = next {
        out["NextToken"] = n.into();
    }
    JsonOutput::Value(out)
}

#[cfg(test)]
mod tests;
