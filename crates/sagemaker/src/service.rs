//! The SageMaker project and tag operations.

use std::sync::Arc;

use async_trait::async_trait;
use sagestack_protocol::{AwsError, Json11Service, JsonOutput, RequestContext};
use sagestack_store::{
    ProjectCursor, ProjectQuery, ProjectRecord, ProjectSort, Store, StoreError, Tag as StoreTag,
};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::error::SageMakerError;
use crate::model_package_groups::is_model_package_group_arn;
use crate::pagination::{cut_page, decode_project_token, decode_tag_token, encode_tag_token};
use crate::provision::{ProjectEvent, Provisioner, ProvisioningUpdate};
use crate::types::*;
use crate::validate::{Invalid, MODEL};

/// Tags a resource may carry (AWS's documented limit, also the `TagList` maximum).
pub const MAX_TAGS_PER_RESOURCE: usize = 50;
/// `ListProjects` page size when `MaxResults` is absent.
pub const DEFAULT_LIST_PROJECTS: usize = 10;
/// `ListTags` page size when `MaxResults` is absent (the model's minimum).
pub const DEFAULT_LIST_TAGS: usize = 50;
/// How often an update is retried when it races with another update.
const UPDATE_ATTEMPTS: usize = 5;

/// The source of "now", replaceable in tests.
pub trait Clock: Send + Sync + 'static {
    /// Microseconds since the Unix epoch.
    fn now_micros(&self) -> i64;
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_micros(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_micros() as i64)
            .unwrap_or(0)
    }
}

/// The SageMaker service. Cheap to share (`Arc` inside).
pub struct SageMakerService {
    pub(crate) store: Arc<dyn Store>,
    provisioner: Arc<dyn Provisioner>,
    pub(crate) clock: Arc<dyn Clock>,
    /// Serializes the two operations that delete a project record by name on behalf of
    /// someone else: replacing a `DeleteCompleted` project with a new one of the same name
    /// (CreateProject) and purging it after the retention ([`Self::purge_deleted`]). The
    /// store has no conditional delete, so without this a purge could remove the project
    /// that just replaced the one it read. Per process: replicas sharing PostgreSQL keep a
    /// window of one read-delete round trip (documented in the README).
    names: tokio::sync::Mutex<()>,
}

type Result<T> = std::result::Result<T, SageMakerError>;

pub(crate) fn seconds(micros: i64) -> f64 {
    micros as f64 / 1_000_000.0
}

pub(crate) fn micros(seconds: f64) -> i64 {
    (seconds * 1_000_000.0).round() as i64
}

/// The AWS partition of a region.
pub(crate) fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else if region.starts_with("us-iso-") {
        "aws-iso"
    } else if region.starts_with("us-isob-") {
        "aws-iso-b"
    } else {
        "aws"
    }
}

/// `p-` and 12 lowercase alphanumerics.
fn new_project_id() -> String {
    let random = sagestack_engine::random_chars(sagestack_engine::LOWER_ALNUM, 12);
    format!("p-{random}")
}

pub(crate) fn user_context(ctx: &RequestContext) -> Option<UserContext> {
    let key = ctx.access_key_id.as_ref()?;
    Some(UserContext {
        user_profile_arn: None,
        user_profile_name: None,
        domain_id: None,
        iam_identity: Some(IamIdentity {
            arn: Some(format!(
                "arn:{}:iam::{}:root",
                partition(&ctx.region),
                ctx.account_id
            )),
            principal_id: Some(key.clone()),
            source_identity: None,
        }),
    })
}

pub(crate) fn decode<T: DeserializeOwned>(operation: &str, input: Value) -> Result<T> {
    if let Err(e) = MODEL.validate(operation, &input) {
        return Err(match e {
            Invalid::Constraints(_) => SageMakerError::Validation(e.message()),
            Invalid::Type(m) => SageMakerError::Serialization(m),
        });
    }
    serde_json::from_value(input).map_err(|e| SageMakerError::Serialization(e.to_string()))
}

fn not_found(name: &str) -> SageMakerError {
    SageMakerError::Validation(format!("Project {name} does not exist."))
}

/// UpdateProject / DeleteProject while an operation runs on the project.
fn busy(name: &str, action: &str, status: ProjectStatus) -> SageMakerError {
    SageMakerError::Conflict(format!(
        "Project {name} cannot be {action} while its status is {status}; retry once the current operation has finished."
    ))
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
fn store_tags(tags: &[Tag]) -> Vec<StoreTag> {
    let mut out: Vec<StoreTag> = Vec::with_capacity(tags.len());
    for t in tags {
        match out.iter_mut().find(|s| s.key == t.key) {
            Some(s) => s.value = t.value.clone(),
            None => out.push(StoreTag::new(&t.key, &t.value)),
        }
    }
    out
}

fn parse_document(record: &ProjectRecord) -> Result<Project> {
    serde_json::from_str(&record.document)
        .map_err(|e| SageMakerError::Internal(format!("stored project is unreadable: {e}")))
}

/// `TemplateProviderDetails` from a `CreateTemplateProvider`/`UpdateTemplateProvider`
/// list: each `CfnTemplateProvider` becomes a `CfnTemplateProviderDetail` (whose
/// `StackDetail` is filled in by provisioning).
fn template_provider_details<T: serde::Serialize>(providers: &[T]) -> Value {
    Value::Array(
        providers
            .iter()
            .map(|p| {
                let mut detail = serde_json::Map::new();
                if let Some(cfn) = to_value(p).get("CfnTemplateProvider") {
                    detail.insert("CfnTemplateProviderDetail".into(), cfn.clone());
                }
                Value::Object(detail)
            })
            .collect(),
    )
}

fn to_value<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).expect("serializable")
}

impl SageMakerService {
    pub fn new(
        store: Arc<dyn Store>,
        provisioner: Arc<dyn Provisioner>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        SageMakerService {
            store,
            provisioner,
            clock,
            names: tokio::sync::Mutex::new(()),
        }
    }

    fn record(project: &Project, creation_micros: i64, version: i64) -> ProjectRecord {
        ProjectRecord {
            name: project.project_name.clone(),
            id: project.project_id.clone(),
            arn: project.project_arn.clone(),
            creation_micros,
            version,
            document: Arc::from(serde_json::to_string(project).expect("serializable")),
        }
    }

    /// Runs one operation on a decoded JSON input.
    pub async fn handle(
        &self,
        ctx: &RequestContext,
        operation: &str,
        input: Value,
    ) -> Result<JsonOutput> {
        match operation {
            "CreateProject" => self.create_project(ctx, decode(operation, input)?).await,
            "DescribeProject" => self.describe_project(decode(operation, input)?).await,
            "UpdateProject" => self.update_project(ctx, decode(operation, input)?).await,
            "ListProjects" => self.list_projects(decode(operation, input)?).await,
            "DeleteProject" => self.delete_project(ctx, decode(operation, input)?).await,
            "AddTags" => self.add_tags(decode(operation, input)?).await,
            "ListTags" => self.list_tags(decode(operation, input)?).await,
            "DeleteTags" => self.delete_tags(decode(operation, input)?).await,
            "CreateModelPackageGroup" => {
                self.create_model_package_group(ctx, decode(operation, input)?)
                    .await
            }
            "DescribeModelPackageGroup" => {
                self.describe_model_package_group(decode(operation, input)?)
                    .await
            }
            "ListModelPackageGroups" => {
                self.list_model_package_groups(decode(operation, input)?)
                    .await
            }
            "DeleteModelPackageGroup" => {
                self.delete_model_package_group(decode(operation, input)?)
                    .await
            }
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
        if input.service_catalog_provisioning_details.is_some()
            == input.template_providers.is_some()
        {
            return Err(SageMakerError::Validation(
                "Exactly one of ServiceCatalogProvisioningDetails and TemplateProviders must be specified."
                    .into(),
            ));
        }
        if let Some(providers) = &input.template_providers
            && providers.iter().any(|p| p.cfn_template_provider.is_none())
        {
            return Err(SageMakerError::Validation(
                "Each template provider must specify CfnTemplateProvider.".into(),
            ));
        }
        let tags = input.tags.unwrap_or_default();
        check_tag_keys(tags.iter().map(|t| t.key.as_str()))?;
        let now = self.clock.now_micros();
        let arn = format!(
            "arn:{}:sagemaker:{}:{}:project/{}",
            partition(&ctx.region),
            ctx.region,
            ctx.account_id,
            input.project_name
        );
        let template_provider_details = input
            .template_providers
            .as_deref()
            .map(template_provider_details);
        let user = user_context(ctx);
        let project = Project {
            project_arn: arn,
            project_name: input.project_name,
            project_id: new_project_id(),
            project_description: input.project_description,
            service_catalog_provisioning_details: input.service_catalog_provisioning_details,
            service_catalog_provisioned_product_details: None,
            project_status: ProjectStatus::Pending,
            template_provider_details,
            created_by: user.clone(),
            creation_time: seconds(now),
            last_modified_time: Some(seconds(now)),
            last_modified_by: user,
        };
        let record = Self::record(&project, now, 1);
        let tags = store_tags(&tags);
        match self.store.create_project(&record, &tags).await {
            Ok(()) => {}
            Err(StoreError::AlreadyExists) if self.replace_deleted(&record, &tags).await? => {}
            Err(StoreError::AlreadyExists) => {
                return Err(SageMakerError::Validation(format!(
                    "Project {} already exists.",
                    project.project_name
                )));
            }
            Err(e) => return Err(e.into()),
        }
        let output = json!({"ProjectArn": project.project_arn, "ProjectId": project.project_id});
        self.provisioner
            .project_changed(ProjectEvent::Created(project));
        Ok(JsonOutput::Value(output))
    }

    /// CreateProject over a `DeleteCompleted` project of the same name: the old record
    /// (kept only for its retention) gives way at once. `false` when the name is held by
    /// a live project.
    async fn replace_deleted(&self, record: &ProjectRecord, tags: &[StoreTag]) -> Result<bool> {
        let _names = self.names.lock().await;
        let Some(existing) = self.store.get_project(&record.name).await? else {
            // Purged meanwhile.
            return match self.store.create_project(record, tags).await {
                Ok(()) => Ok(true),
                Err(StoreError::AlreadyExists) => Ok(false),
                Err(e) => Err(e.into()),
            };
        };
        if parse_document(&existing)?.project_status != ProjectStatus::DeleteCompleted {
            return Ok(false);
        }
        self.store.delete_project(&record.name).await?;
        match self.store.create_project(record, tags).await {
            Ok(()) => Ok(true),
            Err(StoreError::AlreadyExists) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    async fn describe_project(&self, input: ProjectNameInput) -> Result<JsonOutput> {
        match self.store.get_project(&input.project_name).await? {
            // The stored document is the DescribeProject output.
            Some(record) => Ok(JsonOutput::Raw(record.document.to_string())),
            None => Err(not_found(&input.project_name)),
        }
    }

    /// Reads, changes and writes back a project, retrying when another update won
    /// the race. Returns the stored versions before and after.
    async fn modify(
        &self,
        name: &str,
        tags: &[StoreTag],
        change: impl Fn(&mut Project) -> Result<()>,
    ) -> Result<(Project, Project)> {
        match self
            .modify_if(name, tags, |p| change(p).map(|()| true))
            .await?
        {
            Some(versions) => Ok(versions),
            None => Err(not_found(name)),
        }
    }

    /// [`Self::modify`] for a change that may decide not to apply (`Ok(false)`: nothing
    /// is written and the answer is `None`, as when the project does not exist).
    async fn modify_if(
        &self,
        name: &str,
        tags: &[StoreTag],
        change: impl Fn(&mut Project) -> Result<bool>,
    ) -> Result<Option<(Project, Project)>> {
        for _ in 0..UPDATE_ATTEMPTS {
            let Some(current) = self.store.get_project(name).await? else {
                return Ok(None);
            };
            let before = parse_document(&current)?;
            let mut after = before.clone();
            if !change(&mut after)? {
                return Ok(None);
            }
            let record = Self::record(&after, current.creation_micros, current.version + 1);
            match self
                .store
                .update_project(&record, current.version, tags, MAX_TAGS_PER_RESOURCE)
                .await
            {
                Ok(()) => return Ok(Some((before, after))),
                Err(StoreError::Conflict) => continue,
                Err(StoreError::NotFound) => return Ok(None),
                Err(StoreError::TooManyTags { limit }) => {
                    return Err(SageMakerError::Validation(format!(
                        "The tags would exceed the limit of {limit} tags per resource."
                    )));
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(SageMakerError::Conflict(format!(
            "Project {name} is being modified concurrently; retry the request."
        )))
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
        let now = seconds(self.clock.now_micros());
        let user = user_context(ctx);
        let active = self.provisioner.is_active();
        let (before, after) = self
            .modify(&input.project_name, &store_tags(&tags), |p| {
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
        let sort = match input.sort_by.as_deref() {
            Some("Name") => ProjectSort::Name,
            _ => ProjectSort::CreationTime,
        };
        let descending = input.sort_order.as_deref() != Some("Ascending");
        let limit = input
            .max_results
            .map_or(DEFAULT_LIST_PROJECTS, |n| n as usize);
        let mut query = ProjectQuery::new(sort, descending, limit + 1);
        if let Some(token) = input.next_token.as_deref().filter(|t| !t.is_empty()) {
            query.after = Some(decode_project_token(token, sort, descending).map_err(|_| {
                SageMakerError::Validation(
                    "The NextToken is not valid for this request (it was issued for another sort order, or is corrupt)."
                        .into(),
                )
            })?);
        }
        query.created_after = input.creation_time_after.map(micros);
        query.created_before = input.creation_time_before.map(micros);
        query.name_contains = input.name_contains;
        let mut records = self.store.list_projects(&query).await?;
        let next_token = cut_page(&mut records, limit, sort, descending, |last| {
            ProjectCursor {
                creation_micros: last.creation_micros,
                name: last.name.clone(),
            }
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
            let now = seconds(self.clock.now_micros());
            let user = user_context(ctx);
            let (_, after) = self
                .modify(&input.project_name, &[], |p| {
                    if p.project_status == ProjectStatus::DeleteCompleted {
                        return Err(not_found(&p.project_name));
                    }
                    if p.project_status.is_busy() {
                        return Err(busy(&p.project_name, "deleted", p.project_status));
                    }
                    p.project_status = ProjectStatus::DeleteInProgress;
                    p.last_modified_time = Some(now);
                    p.last_modified_by = user.clone();
                    Ok(())
                })
                .await?;
            self.provisioner
                .project_changed(ProjectEvent::Deleted(after));
            return Ok(JsonOutput::Value(json!({})));
        }
        match self.store.delete_project(&input.project_name).await? {
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
            return self.add_group_tags(input).await;
        }
        match self
            .store
            .add_tags(
                &input.resource_arn,
                &store_tags(&input.tags),
                MAX_TAGS_PER_RESOURCE,
            )
            .await
        {
            Ok(()) => Ok(JsonOutput::Value(json!({ "Tags": input.tags }))),
            Err(StoreError::NotFound) => Err(resource_not_found(&input.resource_arn)),
            Err(StoreError::TooManyTags { limit }) => Err(SageMakerError::Validation(format!(
                "The tags would exceed the limit of {limit} tags per resource."
            ))),
            Err(e) => Err(e.into()),
        }
    }

    async fn list_tags(&self, input: ListTagsInput) -> Result<JsonOutput> {
        if is_model_package_group_arn(&input.resource_arn) {
            return self.list_group_tags(input).await;
        }
        let limit = input.max_results.map_or(DEFAULT_LIST_TAGS, |n| n as usize);
        let after =
            match input.next_token.as_deref().filter(|t| !t.is_empty()) {
                Some(t) => Some(decode_tag_token(t).map_err(|_| {
                    SageMakerError::Validation("The NextToken is not valid.".into())
                })?),
                None => None,
            };
        let Some(tags) = self
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
            return self.delete_group_tags(input).await;
        }
        match self
            .store
            .delete_tags(&input.resource_arn, &input.tag_keys)
            .await
        {
            Ok(()) => Ok(JsonOutput::Value(json!({}))),
            Err(StoreError::NotFound) => Err(resource_not_found(&input.resource_arn)),
            Err(e) => Err(e.into()),
        }
    }

    /// Records provisioning progress reported by a [`Provisioner`] worker: sets the
    /// status and, when given, the provisioning details. Returns the stored project, or
    /// `None` when the report no longer applies (no such project, another project of that
    /// name, or a status outside `update.expected`; see the [`crate::provision`] doc).
    pub async fn record_provisioning(
        &self,
        project_name: &str,
        update: ProvisioningUpdate,
    ) -> Result<Option<Project>> {
        let now = seconds(self.clock.now_micros());
        let applied = self
            .modify_if(project_name, &[], |p| {
                if p.project_id != update.project_id
                    || (!update.expected.is_empty() && !update.expected.contains(&p.project_status))
                {
                    return Ok(false);
                }
                p.project_status = update.status;
                if let Some(d) = &update.service_catalog_provisioned_product_details {
                    p.service_catalog_provisioned_product_details = Some(d.clone());
                }
                if let Some(d) = &update.template_provider_details {
                    p.template_provider_details = Some(d.clone());
                }
                p.last_modified_time = Some(now);
                Ok(true)
            })
            .await?;
        Ok(applied.map(|(_, after)| after))
    }

    /// The stored project named `name`, if any.
    pub async fn project(&self, name: &str) -> Result<Option<Project>> {
        match self.store.get_project(name).await? {
            Some(record) => Ok(Some(parse_document(&record)?)),
            None => Ok(None),
        }
    }

    /// A project's tags (at most [`MAX_TAGS_PER_RESOURCE`]), in key order.
    pub async fn project_tags(&self, project_arn: &str) -> Result<Vec<(String, String)>> {
        let tags = self
            .store
            .list_tags(project_arn, None, MAX_TAGS_PER_RESOURCE)
            .await?
            .unwrap_or_default();
        Ok(tags.into_iter().map(|t| (t.key, t.value)).collect())
    }

    /// Every stored project whose status is one of `statuses`, in name order: what a
    /// provisioner reconciles at start-up.
    pub async fn projects_with_status(&self, statuses: &[ProjectStatus]) -> Result<Vec<Project>> {
        const PAGE: usize = 500;
        let mut out = Vec::new();
        let mut query = ProjectQuery::new(ProjectSort::Name, false, PAGE);
        loop {
            let records = self.store.list_projects(&query).await?;
            for record in &records {
                let p = parse_document(record)?;
                if statuses.contains(&p.project_status) {
                    out.push(p);
                }
            }
            match records.last() {
                Some(last) if records.len() == PAGE => {
                    query.after = Some(ProjectCursor {
                        creation_micros: last.creation_micros,
                        name: last.name.clone(),
                    });
                }
                _ => return Ok(out),
            }
        }
    }

    /// Removes the record of project `project_id` (named `name`) if it is still
    /// `DeleteCompleted`: the end of its retention. `true` when removed.
    pub async fn purge_deleted(&self, name: &str, project_id: &str) -> Result<bool> {
        let _names = self.names.lock().await;
        let Some(record) = self.store.get_project(name).await? else {
            return Ok(false);
        };
        let p = parse_document(&record)?;
        if p.project_id != project_id || p.project_status != ProjectStatus::DeleteCompleted {
            return Ok(false);
        }
        Ok(self.store.delete_project(name).await?.is_some())
    }
}

#[async_trait]
impl Json11Service for SageMakerService {
    fn target_prefix(&self) -> &'static str {
        "SageMaker"
    }

    async fn call(
        &self,
        ctx: &RequestContext,
        operation: &str,
        input: Value,
    ) -> std::result::Result<JsonOutput, Box<dyn AwsError>> {
        self.handle(ctx, operation, input)
            .await
            .map_err(|e| Box::new(e) as Box<dyn AwsError>)
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
mod tests {
    use super::*;
    use crate::provision::NoProvisioner;
    use sagestack_store::SqliteStore;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicI64, Ordering};

    struct TestClock(AtomicI64);
    impl Clock for TestClock {
        fn now_micros(&self) -> i64 {
            self.0.fetch_add(1_000_000, Ordering::SeqCst)
        }
    }

    #[derive(Default)]
    struct Recorder(Mutex<Vec<String>>);
    impl Provisioner for Recorder {
        fn project_changed(&self, event: ProjectEvent) {
            let s = match event {
                ProjectEvent::Created(p) => format!("created {}", p.project_name),
                ProjectEvent::Updated { after, .. } => format!("updated {}", after.project_name),
                ProjectEvent::Deleted(p) => format!("deleted {}", p.project_name),
            };
            self.0.lock().unwrap().push(s);
        }
    }

    fn ctx() -> RequestContext {
        RequestContext {
            request_id: "r".into(),
            region: "eu-west-1".into(),
            account_id: "123456789012".into(),
            access_key_id: Some("AKIDTEST".into()),
        }
    }

    async fn service(dir: &std::path::Path, p: Arc<dyn Provisioner>) -> SageMakerService {
        let store = SqliteStore::open(dir).await.unwrap();
        SageMakerService::new(
            Arc::new(store),
            p,
            Arc::new(TestClock(AtomicI64::new(1_700_000_000_000_000))),
        )
    }

    fn value(out: JsonOutput) -> Value {
        match out {
            JsonOutput::Value(v) => v,
            JsonOutput::Raw(s) => serde_json::from_str(&s).unwrap(),
        }
    }

    async fn create(s: &SageMakerService, name: &str) -> Value {
        value(
            s.handle(
                &ctx(),
                "CreateProject",
                json!({"ProjectName": name, "ServiceCatalogProvisioningDetails": {"ProductId": "prod-1"}}),
            )
            .await
            .unwrap(),
        )
    }

    #[test]
    fn project_ids_have_the_documented_form() {
        let re = regex::Regex::new("^p-[a-z0-9]{12}$").unwrap();
        for _ in 0..1000 {
            assert!(re.is_match(&new_project_id()));
        }
        assert_ne!(new_project_id(), new_project_id());
        assert_eq!(partition("cn-north-1"), "aws-cn");
        assert_eq!(partition("us-gov-west-1"), "aws-us-gov");
        assert_eq!(partition("eu-west-1"), "aws");
    }

    #[tokio::test]
    async fn create_describe_and_provisioner_events() {
        let dir = tempfile::tempdir().unwrap();
        let rec = Arc::new(Recorder::default());
        let s = service(dir.path(), rec.clone()).await;
        let out = create(&s, "alpha").await;
        assert_eq!(
            out["ProjectArn"],
            "arn:aws:sagemaker:eu-west-1:123456789012:project/alpha"
        );
        let d = value(
            s.handle(&ctx(), "DescribeProject", json!({"ProjectName": "alpha"}))
                .await
                .unwrap(),
        );
        assert_eq!(d["ProjectStatus"], "Pending");
        assert_eq!(d["ProjectId"], out["ProjectId"]);
        assert_eq!(d["CreationTime"], 1_700_000_000.0);
        assert_eq!(
            d["CreatedBy"]["IamIdentity"],
            json!({"Arn": "arn:aws:iam::123456789012:root", "PrincipalId": "AKIDTEST"})
        );
        assert_eq!(
            d["ServiceCatalogProvisioningDetails"],
            json!({"ProductId": "prod-1"})
        );
        // An active provisioner owns the lifecycle: no update while Pending.
        let e = s
            .handle(
                &ctx(),
                "UpdateProject",
                json!({"ProjectName": "alpha", "ProjectDescription": "new"}),
            )
            .await
            .unwrap_err();
        assert_eq!(e.code(), "ConflictException");
        assert_eq!(
            e.to_string(),
            "Project alpha cannot be updated while its status is Pending; retry once the current operation has finished."
        );
        let id = out["ProjectId"].as_str().unwrap();
        s.record_provisioning(
            "alpha",
            ProvisioningUpdate::new(
                id,
                &[ProjectStatus::Pending],
                ProjectStatus::CreateCompleted,
            ),
        )
        .await
        .unwrap()
        .unwrap();
        s.handle(
            &ctx(),
            "UpdateProject",
            json!({"ProjectName": "alpha", "ProjectDescription": "new"}),
        )
        .await
        .unwrap();
        s.handle(&ctx(), "DeleteProject", json!({"ProjectName": "alpha"}))
            .await
            .unwrap();
        assert_eq!(
            *rec.0.lock().unwrap(),
            ["created alpha", "updated alpha", "deleted alpha"]
        );
        // The record stays, DeleteInProgress, for the provisioner to finish.
        let d = value(
            s.handle(&ctx(), "DescribeProject", json!({"ProjectName": "alpha"}))
                .await
                .unwrap(),
        );
        assert_eq!(d["ProjectStatus"], "DeleteInProgress");
        let e = s
            .handle(&ctx(), "DeleteProject", json!({"ProjectName": "alpha"}))
            .await
            .unwrap_err();
        assert_eq!(e.code(), "ConflictException");
    }

    #[tokio::test]
    async fn rules_beyond_the_model() {
        let dir = tempfile::tempdir().unwrap();
        let s = service(dir.path(), Arc::new(NoProvisioner)).await;
        let e = s
            .handle(&ctx(), "CreateProject", json!({"ProjectName": "x"}))
            .await
            .unwrap_err();
        assert!(e.to_string().starts_with("Exactly one of"));
        create(&s, "x").await;
        let e = s
            .handle(
                &ctx(),
                "CreateProject",
                json!({"ProjectName": "x", "ServiceCatalogProvisioningDetails": {"ProductId": "p"}}),
            )
            .await
            .unwrap_err();
        assert_eq!(e.to_string(), "Project x already exists.");
        let e = s
            .handle(&ctx(), "DescribeProject", json!({"ProjectName": "nope"}))
            .await
            .unwrap_err();
        assert_eq!(e.to_string(), "Project nope does not exist.");
        let e = s
            .handle(&ctx(), "CreateModel", json!({}))
            .await
            .unwrap_err();
        assert_eq!(e.code(), "UnknownOperationException");
    }

    #[tokio::test]
    async fn record_provisioning_updates_status() {
        let dir = tempfile::tempdir().unwrap();
        let s = service(dir.path(), Arc::new(NoProvisioner)).await;
        create(&s, "p1").await;
        let id = value(
            s.handle(&ctx(), "DescribeProject", json!({"ProjectName": "p1"}))
                .await
                .unwrap(),
        )["ProjectId"]
            .as_str()
            .unwrap()
            .to_string();
        let report = |expected: &[ProjectStatus], id: &str| {
            ProvisioningUpdate::new(id, expected, ProjectStatus::CreateInProgress)
                .with_service_catalog_details(json!({"ProvisionedProductId": "pp-1"}))
        };
        // Another project's report, or one expecting another status, is dropped.
        assert!(
            s.record_provisioning("p1", report(&[ProjectStatus::Pending], "p-other"))
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            s.record_provisioning("p1", report(&[ProjectStatus::UpdateInProgress], &id))
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            s.record_provisioning("nope", report(&[], &id))
                .await
                .unwrap()
                .is_none()
        );
        let p = s
            .record_provisioning("p1", report(&[ProjectStatus::Pending], &id))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(p.project_status, ProjectStatus::CreateInProgress);
        let d = value(
            s.handle(&ctx(), "DescribeProject", json!({"ProjectName": "p1"}))
                .await
                .unwrap(),
        );
        assert_eq!(d["ProjectStatus"], "CreateInProgress");
        assert_eq!(
            d["ServiceCatalogProvisionedProductDetails"]["ProvisionedProductId"],
            "pp-1"
        );
    }

    #[tokio::test]
    async fn list_pages_follow_the_keyset() {
        let dir = tempfile::tempdir().unwrap();
        let s = service(dir.path(), Arc::new(NoProvisioner)).await;
        for i in 0..7 {
            create(&s, &format!("p{i}")).await;
        }
        let mut seen = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut input = json!({"MaxResults": 3, "SortBy": "Name", "SortOrder": "Ascending"});
            if let Some(t) = &token {
                input["NextToken"] = t.clone().into();
            }
            let out = value(s.handle(&ctx(), "ListProjects", input).await.unwrap());
            for p in out["ProjectSummaryList"].as_array().unwrap() {
                seen.push(p["ProjectName"].as_str().unwrap().to_string());
            }
            // Delete one already-listed and one not-yet-listed project mid-way.
            if token.is_none() {
                s.handle(&ctx(), "DeleteProject", json!({"ProjectName": "p0"}))
                    .await
                    .unwrap();
                s.handle(&ctx(), "DeleteProject", json!({"ProjectName": "p4"}))
                    .await
                    .unwrap();
            }
            match out.get("NextToken") {
                Some(t) => token = Some(t.as_str().unwrap().to_string()),
                None => break,
            }
        }
        assert_eq!(seen, ["p0", "p1", "p2", "p3", "p5", "p6"]);
        // Default order: newest first.
        let out = value(s.handle(&ctx(), "ListProjects", json!({})).await.unwrap());
        let names: Vec<&str> = out["ProjectSummaryList"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["ProjectName"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["p6", "p5", "p3", "p2", "p1"]);
        // A token is refused with another order.
        let first = value(
            s.handle(&ctx(), "ListProjects", json!({"MaxResults": 1}))
                .await
                .unwrap(),
        );
        let e = s
            .handle(
                &ctx(),
                "ListProjects",
                json!({"MaxResults": 1, "SortBy": "Name", "NextToken": first["NextToken"]}),
            )
            .await
            .unwrap_err();
        assert_eq!(e.code(), "ValidationException");
    }

    #[tokio::test]
    async fn tag_limits_and_pages() {
        let dir = tempfile::tempdir().unwrap();
        let s = service(dir.path(), Arc::new(NoProvisioner)).await;
        let arn = create(&s, "t").await["ProjectArn"].clone();
        let tags: Vec<Value> = (0..50)
            .map(|i| json!({"Key": format!("k{i:02}"), "Value": "v"}))
            .collect();
        s.handle(&ctx(), "AddTags", json!({"ResourceArn": arn, "Tags": tags}))
            .await
            .unwrap();
        let e = s
            .handle(
                &ctx(),
                "AddTags",
                json!({"ResourceArn": arn, "Tags": [{"Key": "one-more", "Value": "v"}]}),
            )
            .await
            .unwrap_err();
        assert!(e.to_string().contains("limit of 50"), "{e}");
        // Overwriting an existing key is not a new tag.
        s.handle(
            &ctx(),
            "AddTags",
            json!({"ResourceArn": arn, "Tags": [{"Key": "k00", "Value": "w"}]}),
        )
        .await
        .unwrap();
        let page = value(
            s.handle(&ctx(), "ListTags", json!({"ResourceArn": arn}))
                .await
                .unwrap(),
        );
        assert_eq!(page["Tags"].as_array().unwrap().len(), 50);
        assert!(page.get("NextToken").is_none());
        assert_eq!(page["Tags"][0], json!({"Key": "k00", "Value": "w"}));
        let e = s
            .handle(
                &ctx(),
                "AddTags",
                json!({"ResourceArn": arn, "Tags": [{"Key": "aws:x", "Value": "v"}]}),
            )
            .await
            .unwrap_err();
        assert!(e.to_string().contains("reserved"));
        let e = s
            .handle(
                &ctx(),
                "ListTags",
                json!({"ResourceArn": "arn:aws:sagemaker:eu-west-1:123456789012:project/none"}),
            )
            .await
            .unwrap_err();
        assert!(e.to_string().ends_with("does not exist."));
    }
}
