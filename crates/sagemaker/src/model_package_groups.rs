//! Model package groups: their state ([`ModelPackageGroups`]) and operations
//! (CreateModelPackageGroup, DescribeModelPackageGroup, ListModelPackageGroups,
//! DeleteModelPackageGroup, and tags on group ARNs).
//!
//! A group is stored as its `DescribeModelPackageGroupOutput` document. Groups are
//! ready as soon as they are created (`ModelPackageGroupStatus: Completed`): there is
//! nothing to provision. SageMaker writes resource names in lowercase in ARNs.

use std::sync::Arc;

use sagestack_engine::{Clock, EventPublisher, NoEvents};
use sagestack_protocol::{JsonOutput, RequestContext};
use sagestack_store::{ModelPackageGroupRecord, Store, StoreError, Tag as StoreTag};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::SageMakerError;
use crate::pagination::{cursor_after, cut_page, keyset_query, tag_after};
use crate::projects::{now_micros, seconds};
use crate::service::{
    DEFAULT_LIST_TAGS, MAX_TAGS_PER_RESOURCE, check_tag_keys, decode, resource_not_found,
    store_tags, tags_changed, tags_page, user_context,
};
use crate::types::{AddTagsInput, DeleteTagsInput, ListTagsInput, Tag};

/// `ListModelPackageGroups` page size when `MaxResults` is absent.
pub const DEFAULT_LIST_GROUPS: usize = 10;

type Result<T> = std::result::Result<T, SageMakerError>;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct CreateModelPackageGroupInput {
    model_package_group_name: String,
    model_package_group_description: Option<String>,
    tags: Option<Vec<Tag>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ModelPackageGroupNameInput {
    /// A name or an ARN (`ArnOrName`).
    model_package_group_name: String,
}

/// ListModelPackageGroups takes ListProjects' members (the model bounds `MaxResults`
/// to 1..=100 for both before either is read).
pub(crate) type ListModelPackageGroupsInput = crate::types::ListProjectsInput;

/// `arn:{partition}:sagemaker:{region}:{account}:model-package-group/{lowercased name}`.
pub fn model_package_group_arn(region: &str, account_id: &str, name: &str) -> String {
    format!(
        "arn:{}:sagemaker:{region}:{account_id}:model-package-group/{}",
        sagestack_engine::partition_for_region(region),
        name.to_ascii_lowercase()
    )
}

/// Whether a tagged resource's ARN names a model package group (its tags live with the
/// group, not in the projects' tag table).
pub(crate) fn is_model_package_group_arn(arn: &str) -> bool {
    arn.starts_with("arn:") && arn.contains(":model-package-group/")
}

/// The members `keys` of `doc` that it has: a summary of a described object.
pub(crate) fn pick(doc: &Value, keys: &[&str]) -> Value {
    let mut out = serde_json::Map::new();
    for key in keys {
        if let Some(v) = doc.get(*key) {
            out.insert((*key).into(), v.clone());
        }
    }
    Value::Object(out)
}

fn not_found(name: &str) -> SageMakerError {
    SageMakerError::Validation(format!("ModelPackageGroup {name} does not exist."))
}

fn parse(record: &ModelPackageGroupRecord) -> Result<Value> {
    serde_json::from_str(&record.document)
        .map_err(|e| SageMakerError::Internal(format!("stored group is unreadable: {e}")))
}

/// The model package groups' state: records with their tags, and the operations on
/// them. Shared by the SageMaker API and the native `AWS::SageMaker::ModelPackageGroup`
/// provider, which is why it is apart from the API.
pub struct ModelPackageGroups {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) clock: Arc<dyn Clock>,
    /// Where "SageMaker Model Package State Change" events go (`model_packages.rs`).
    pub(crate) events: Arc<dyn EventPublisher>,
}

impl ModelPackageGroups {
    /// Groups over `store`, publishing no events (see [`Self::with_publisher`]).
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        ModelPackageGroups {
            store,
            clock,
            events: Arc::new(NoEvents),
        }
    }

    /// Publish the model packages' state changes (registration, approval) through
    /// `publisher`, the account's default event bus. Given while building, before the
    /// groups are shared.
    pub fn with_publisher(mut self, publisher: Arc<dyn EventPublisher>) -> Self {
        self.events = publisher;
        self
    }

    /// Runs one model package group operation (`CreateModelPackageGroup`,
    /// `DescribeModelPackageGroup`, `ListModelPackageGroups`, `DeleteModelPackageGroup`)
    /// on its JSON input, validated against the SageMaker model as API input is.
    pub async fn handle(&self, ctx: &RequestContext, op: &str, input: Value) -> Result<JsonOutput> {
        match op {
            "CreateModelPackageGroup" => self.create(ctx, decode(op, input)?).await,
            "DescribeModelPackageGroup" => self.describe(decode(op, input)?).await,
            "ListModelPackageGroups" => self.list(decode(op, input)?).await,
            "DeleteModelPackageGroup" => self.delete(decode(op, input)?).await,
            other => Err(SageMakerError::UnknownOperation(format!(
                "Operation SageMaker.{other} is not supported by this server"
            ))),
        }
    }

    async fn create(
        &self,
        ctx: &RequestContext,
        input: CreateModelPackageGroupInput,
    ) -> Result<JsonOutput> {
        let tags = input.tags.unwrap_or_default();
        check_tag_keys(tags.iter().map(|t| t.key.as_str()))?;
        let name = input.model_package_group_name;
        let arn = model_package_group_arn(&ctx.region, &ctx.account_id, &name);
        let now = now_micros(&*self.clock);
        let mut doc = json!({
            "ModelPackageGroupName": name,
            "ModelPackageGroupArn": arn,
            "CreationTime": seconds(now),
            "CreatedBy": user_context(ctx).map_or_else(|| json!({}), |u| json!(u)),
            "ModelPackageGroupStatus": "Completed",
        });
        if let Some(d) = input.model_package_group_description {
            doc["ModelPackageGroupDescription"] = d.into();
        }
        let record = ModelPackageGroupRecord {
            name: name.clone(),
            arn: arn.clone(),
            creation_micros: now,
            document: Arc::from(doc.to_string()),
            tags: store_tags(&tags),
        };
        match self.store.create_model_package_group(&record).await {
            Ok(()) => Ok(JsonOutput::Value(json!({ "ModelPackageGroupArn": arn }))),
            Err(StoreError::AlreadyExists) => Err(SageMakerError::Validation(format!(
                "Model Package Group already exists: {arn}"
            ))),
            Err(e) => Err(e.into()),
        }
    }

    async fn describe(&self, input: ModelPackageGroupNameInput) -> Result<JsonOutput> {
        let name = &input.model_package_group_name;
        match self.store.get_model_package_group(name).await? {
            Some(record) => Ok(JsonOutput::Raw(record.document.to_string())),
            None => Err(not_found(name)),
        }
    }

    async fn list(&self, input: ListModelPackageGroupsInput) -> Result<JsonOutput> {
        let bad_token = "The NextToken is not valid for this request.";
        let (query, limit) = keyset_query(input, false, DEFAULT_LIST_GROUPS, bad_token)?;
        let mut records = self.store.list_model_package_groups(&query).await?;
        let next = cut_page(&mut records, limit, query.sort, query.descending, |last| {
            cursor_after(last.creation_micros, &last.name)
        });
        let mut summaries = Vec::with_capacity(records.len());
        for record in &records {
            let doc = parse(record)?;
            summaries.push(pick(
                &doc,
                &[
                    "ModelPackageGroupName",
                    "ModelPackageGroupArn",
                    "ModelPackageGroupDescription",
                    "CreationTime",
                    "ModelPackageGroupStatus",
                ],
            ));
        }
        let mut out = json!({ "ModelPackageGroupSummaryList": summaries });
        if let Some(t) = next {
            out["NextToken"] = t.into();
        }
        Ok(JsonOutput::Value(out))
    }

    pub(crate) async fn add_tags(&self, input: AddTagsInput) -> Result<JsonOutput> {
        let add: Vec<StoreTag> = input
            .tags
            .iter()
            .map(|t| StoreTag::new(&t.key, &t.value))
            .collect();
        let arn = &input.resource_arn;
        let added = self
            .store
            .update_model_package_group_tags(arn, &add, &[], MAX_TAGS_PER_RESOURCE)
            .await;
        tags_changed(added, arn, json!({ "Tags": input.tags }))
    }

    /// Makes `tags` (a `TagList`, validated as AddTags' is) the group's only tags: what
    /// it holds and `tags` does not name is removed, in the same write as the rest is
    /// added. The `AWS::SageMaker::ModelPackageGroup` provider's update.
    pub(crate) async fn replace_tags(&self, arn: &str, tags: Value) -> Result<()> {
        let input: AddTagsInput = decode("AddTags", json!({"ResourceArn": arn, "Tags": tags}))?;
        check_tag_keys(input.tags.iter().map(|t| t.key.as_str()))?;
        let wanted = store_tags(&input.tags);
        let Some(group) = self
            .store
            .get_model_package_group(arn)
            .await?
            .filter(|g| g.arn == arn)
        else {
            return Err(resource_not_found(arn));
        };
        let gone: Vec<String> = group
            .tags
            .into_iter()
            .filter(|t| !wanted.iter().any(|w| w.key == t.key))
            .map(|t| t.key)
            .collect();
        let replaced = self
            .store
            .update_model_package_group_tags(arn, &wanted, &gone, MAX_TAGS_PER_RESOURCE)
            .await;
        tags_changed(replaced, arn, json!({})).map(drop)
    }

    pub(crate) async fn list_tags(&self, input: ListTagsInput) -> Result<JsonOutput> {
        let limit = input.max_results.map_or(DEFAULT_LIST_TAGS, |n| n as usize);
        let after = tag_after(input.next_token.as_deref())?;
        let Some(group) = self
            .store
            .get_model_package_group(&input.resource_arn)
            .await?
            .filter(|g| g.arn == input.resource_arn)
        else {
            return Err(resource_not_found(&input.resource_arn));
        };
        let mut tags = group.tags;
        tags.sort_by(|a, b| a.key.cmp(&b.key));
        tags.retain(|t| after.as_deref().is_none_or(|k| t.key.as_str() > k));
        Ok(tags_page(tags, limit))
    }

    pub(crate) async fn delete_tags(&self, input: DeleteTagsInput) -> Result<JsonOutput> {
        let arn = &input.resource_arn;
        let deleted = self
            .store
            .update_model_package_group_tags(arn, &[], &input.tag_keys, usize::MAX)
            .await;
        tags_changed(deleted, arn, json!({}))
    }

    /// The group named (or whose ARN is) `name_or_arn`, as DescribeModelPackageGroup
    /// answers it.
    pub(crate) async fn describe_group(&self, name_or_arn: &str) -> Result<Option<Value>> {
        match self.store.get_model_package_group(name_or_arn).await? {
            Some(record) => Ok(Some(parse(&record)?)),
            None => Ok(None),
        }
    }

    async fn delete(&self, input: ModelPackageGroupNameInput) -> Result<JsonOutput> {
        let name = &input.model_package_group_name;
        if self.has_versions(name).await? {
            return Err(SageMakerError::Conflict(format!(
                "Model Package Group {name} cannot be deleted while it holds model packages: delete them first."
            )));
        }
        match self.store.delete_model_package_group(name).await? {
            Some(_) => Ok(JsonOutput::Value(json!({}))),
            None => Err(not_found(name)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SageMakerService;
    use crate::provision::NoProvisioner;
    use sagestack_protocol::AwsError;
    use sagestack_store::SqliteStore;

    fn ctx() -> RequestContext {
        RequestContext::new("us-west-2", "123456789012").with_caller(
            sagestack_protocol::auth::Caller::root("AKIDTEST", "123456789012"),
        )
    }

    async fn service(dir: &std::path::Path) -> SageMakerService {
        crate::testing::api(
            Arc::new(SqliteStore::open(dir).await.unwrap()),
            Arc::new(NoProvisioner),
        )
    }

    async fn call(s: &SageMakerService, op: &str, input: Value) -> Result<Value> {
        Ok(s.handle(&ctx(), op, input).await?.into_value().unwrap())
    }

    #[tokio::test]
    async fn create_describe_delete() {
        let dir = tempfile::tempdir().unwrap();
        let s = service(dir.path()).await;
        let out = call(
            &s,
            "CreateModelPackageGroup",
            json!({"ModelPackageGroupName": "Churn-Models", "ModelPackageGroupDescription": "d",
                "Tags": [{"Key": "team", "Value": "ml"}]}),
        )
        .await
        .unwrap();
        let arn = "arn:aws:sagemaker:us-west-2:123456789012:model-package-group/churn-models";
        assert_eq!(out, json!({"ModelPackageGroupArn": arn}));
        let d = call(
            &s,
            "DescribeModelPackageGroup",
            json!({"ModelPackageGroupName": "Churn-Models"}),
        )
        .await
        .unwrap();
        assert_eq!(d["ModelPackageGroupName"], "Churn-Models");
        assert_eq!(d["ModelPackageGroupStatus"], "Completed");
        assert_eq!(d["ModelPackageGroupDescription"], "d");
        assert_eq!(d["CreationTime"], 1_700_000_000.0);
        assert_eq!(d["CreatedBy"]["IamIdentity"]["PrincipalId"], "AKIDTEST");
        let by_arn = call(
            &s,
            "DescribeModelPackageGroup",
            json!({"ModelPackageGroupName": arn}),
        )
        .await;
        assert_eq!(by_arn.unwrap()["ModelPackageGroupName"], "Churn-Models");
        let e = call(
            &s,
            "CreateModelPackageGroup",
            json!({"ModelPackageGroupName": "churn-models"}),
        )
        .await
        .unwrap_err();
        assert!(
            e.to_string().contains("already exists"),
            "names collide ignoring case"
        );
        let e = call(
            &s,
            "CreateModelPackageGroup",
            json!({"ModelPackageGroupName": "Churn-Models"}),
        )
        .await
        .unwrap_err();
        assert_eq!(e.code(), "ValidationException");
        assert_eq!(
            e.to_string(),
            format!("Model Package Group already exists: {arn}")
        );
        let e = call(
            &s,
            "CreateModelPackageGroup",
            json!({"ModelPackageGroupName": "bad_name"}),
        )
        .await
        .unwrap_err();
        assert!(
            e.to_string().starts_with("1 validation error detected"),
            "{e}"
        );
        // Tags on the group's ARN.
        call(
            &s,
            "AddTags",
            json!({"ResourceArn": arn, "Tags": [{"Key": "env", "Value": "dev"}, {"Key": "team", "Value": "ds"}]}),
        )
        .await
        .unwrap();
        let tags = call(&s, "ListTags", json!({"ResourceArn": arn}))
            .await
            .unwrap();
        assert_eq!(
            tags["Tags"],
            json!([{"Key": "env", "Value": "dev"}, {"Key": "team", "Value": "ds"}]),
            "created with team=ml, overwritten by AddTags"
        );
        call(
            &s,
            "DeleteTags",
            json!({"ResourceArn": arn, "TagKeys": ["team"]}),
        )
        .await
        .unwrap();
        let tags = call(&s, "ListTags", json!({"ResourceArn": arn}))
            .await
            .unwrap();
        assert_eq!(tags["Tags"], json!([{"Key": "env", "Value": "dev"}]));
        let e = call(
            &s,
            "ListTags",
            json!({"ResourceArn": format!("{arn}-nope")}),
        )
        .await
        .unwrap_err();
        assert!(e.to_string().ends_with("does not exist."));
        call(
            &s,
            "DeleteModelPackageGroup",
            json!({"ModelPackageGroupName": "Churn-Models"}),
        )
        .await
        .unwrap();
        let e = call(
            &s,
            "DeleteModelPackageGroup",
            json!({"ModelPackageGroupName": "Churn-Models"}),
        )
        .await
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "ModelPackageGroup Churn-Models does not exist."
        );
    }

    #[tokio::test]
    async fn list_sorts_filters_and_pages() {
        let dir = tempfile::tempdir().unwrap();
        let s = service(dir.path()).await;
        for n in ["g-c", "g-a", "other", "g-b"] {
            call(
                &s,
                "CreateModelPackageGroup",
                json!({"ModelPackageGroupName": n}),
            )
            .await
            .unwrap();
        }
        let names = |v: &Value| -> Vec<String> {
            v["ModelPackageGroupSummaryList"]
                .as_array()
                .unwrap()
                .iter()
                .map(|g| g["ModelPackageGroupName"].as_str().unwrap().to_string())
                .collect()
        };
        let out = call(&s, "ListModelPackageGroups", json!({})).await.unwrap();
        assert_eq!(
            names(&out),
            ["g-c", "g-a", "other", "g-b"],
            "creation order"
        );
        let mut seen = Vec::new();
        let mut token: Option<Value> = None;
        loop {
            let mut input = json!({"SortBy": "Name", "SortOrder": "Descending",
                "NameContains": "G-", "MaxResults": 2});
            if let Some(t) = &token {
                input["NextToken"] = t.clone();
            }
            let out = call(&s, "ListModelPackageGroups", input).await.unwrap();
            seen.extend(names(&out));
            match out.get("NextToken") {
                Some(t) => token = Some(t.clone()),
                None => break,
            }
        }
        assert_eq!(seen, ["g-c", "g-b", "g-a"]);
        let out = call(
            &s,
            "ListModelPackageGroups",
            json!({"CreationTimeAfter": 1_700_000_001.5}),
        )
        .await
        .unwrap();
        assert_eq!(names(&out), ["other", "g-b"]);
        let e = call(&s, "ListModelPackageGroups", json!({"MaxResults": 101}))
            .await
            .unwrap_err();
        assert_eq!(e.code(), "ValidationException");
    }
}
