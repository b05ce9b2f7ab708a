//! Model packages: the versions registered in a model package group and their approval
//! (CreateModelPackage, DescribeModelPackage, ListModelPackages, UpdateModelPackage,
//! DeleteModelPackage), part of [`ModelPackageGroups`]' state since a group owns its
//! versions (a group with versions cannot be deleted).
//!
//! A package is stored as its `DescribeModelPackageOutput` document in the store's
//! document table ([`CatalogKind::ModelPackage`]), keyed by what follows `model-package/`
//! in its ARN: `<group>/<version>` for a versioned package (the group's name lowercased,
//! as SageMaker writes ARNs), `<name>` for an unversioned one. A version number is the
//! group's highest plus one, claimed by inserting that key (a concurrent registration that
//! took it makes this one try the next). Packages are `Completed` at once: nothing
//! validates or scans them here.
//!
//! Choices where AWS's wording is not documented (said so in the README): a group that
//! still has versions is refused with `ConflictException`; a missing group or package is
//! a `ValidationException` "... does not exist.".
//!
//! EventBridge: see `events.rs`.

use serde::Deserialize;
use serde_json::{Map, Value, json};

use sagestack_protocol::{JsonOutput, RequestContext};
use sagestack_store::{CatalogKind, CatalogRecord, StoreError};

use crate::error::SageMakerError;
use crate::model_package_groups::{ModelPackageGroups, pick};
use crate::pagination::{decode_tag_token, encode_tag_token};
use crate::projects::{now_micros, seconds};
use crate::service::{MAX_TAGS_PER_RESOURCE, decode, user_context};
use crate::types::Tag;

type Result<T> = std::result::Result<T, SageMakerError>;

/// `ListModelPackages` page size when `MaxResults` is absent.
pub const DEFAULT_LIST_PACKAGES: usize = 10;
/// Registrations tried when concurrent ones take the next version numbers.
const VERSION_ATTEMPTS: usize = 8;

/// Input members copied into the package as given (the model has validated them).
pub(crate) const KEPT: [&str; 16] = [
    "ModelPackageDescription",
    "ModelPackageRegistrationType",
    "InferenceSpecification",
    "ValidationSpecification",
    "SourceAlgorithmSpecification",
    "MetadataProperties",
    "ModelMetrics",
    "Domain",
    "Task",
    "SamplePayloadUrl",
    "CustomerMetadataProperties",
    "DriftCheckBaselines",
    "AdditionalInferenceSpecifications",
    "SkipModelValidation",
    "SourceUri",
    "SecurityConfig",
];

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct NameInput {
    /// A name (unversioned) or an ARN.
    model_package_name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListInput {
    creation_time_after: Option<f64>,
    creation_time_before: Option<f64>,
    max_results: Option<i64>,
    name_contains: Option<String>,
    model_approval_status: Option<String>,
    model_package_group_name: Option<String>,
    model_package_type: Option<String>,
    next_token: Option<String>,
    sort_by: Option<String>,
    sort_order: Option<String>,
}

fn missing(what: &str) -> SageMakerError {
    SageMakerError::Validation(format!("{what} does not exist."))
}

fn parse(record: &CatalogRecord) -> Result<Value> {
    serde_json::from_str(&record.document)
        .map_err(|e| SageMakerError::Internal(format!("stored model package is unreadable: {e}")))
}

/// The document-table key of the package an ARN or name names.
fn key_of(name_or_arn: &str) -> String {
    match name_or_arn.split_once(":model-package/") {
        Some((_, key)) => key.to_string(),
        None => name_or_arn.to_ascii_lowercase(),
    }
}

impl ModelPackageGroups {
    /// Runs one model package operation on its JSON input (validated against the model).
    pub async fn handle_package(
        &self,
        ctx: &RequestContext,
        op: &str,
        input: Value,
    ) -> Result<JsonOutput> {
        let value = match op {
            "CreateModelPackage" => self.create_package(ctx, decode(op, input)?).await?,
            "DescribeModelPackage" => {
                self.package(&decode::<NameInput>(op, input)?.model_package_name)
                    .await?
            }
            "ListModelPackages" => self.list_packages(decode(op, input)?).await?,
            "UpdateModelPackage" => self.update_package(ctx, decode(op, input)?).await?,
            "BatchDescribeModelPackage" => {
                let input: Map<String, Value> = decode(op, input)?;
                self.batch_describe(&input).await?
            }
            "DeleteModelPackage" => {
                let name = decode::<NameInput>(op, input)?.model_package_name;
                self.delete_package(&name).await?;
                json!({})
            }
            other => {
                return Err(SageMakerError::UnknownOperation(format!(
                    "Operation SageMaker.{other} is not supported by this server"
                )));
            }
        };
        Ok(JsonOutput::Value(value))
    }

    pub(crate) async fn create_package(
        &self,
        ctx: &RequestContext,
        input: Map<String, Value>,
    ) -> Result<Value> {
        let text = |k: &str| input.get(k).and_then(Value::as_str).map(str::to_string);
        let (group, name) = (text("ModelPackageGroupName"), text("ModelPackageName"));
        let now = now_micros(&*self.clock);
        let user = serde_json::to_value(user_context(ctx)).unwrap_or(Value::Null);
        let mut doc = Map::new();
        for key in KEPT {
            if let Some(v) = input.get(key) {
                doc.insert(key.into(), v.clone());
            }
        }
        if let Some(tags) = input.get("Tags").and_then(Value::as_array) {
            doc.insert(TAGS.into(), Value::Array(deduplicated(tags.clone())));
        }
        doc.insert("CreationTime".into(), seconds(now).into());
        doc.insert("LastModifiedTime".into(), seconds(now).into());
        doc.insert("ModelPackageStatus".into(), "Completed".into());
        doc.insert(
            "ModelPackageStatusDetails".into(),
            json!({"ValidationStatuses": [], "ImageScanStatuses": []}),
        );
        doc.insert(
            "CertifyForMarketplace".into(),
            input
                .get("CertifyForMarketplace")
                .cloned()
                .unwrap_or(false.into()),
        );
        if !user.is_null() {
            doc.insert("CreatedBy".into(), user.clone());
            doc.insert("LastModifiedBy".into(), user);
        }
        let prefix = format!(
            "arn:{}:sagemaker:{}:{}:model-package/",
            sagestack_engine::partition_for_region(&ctx.region),
            ctx.region,
            ctx.account_id
        );
        match (group, name) {
            (Some(group), None) => {
                let group_doc = self
                    .describe_group(&group)
                    .await?
                    .ok_or_else(|| missing(&format!("Model Package Group {group}")))?;
                let group = group_doc["ModelPackageGroupName"]
                    .as_str()
                    .unwrap_or(&group)
                    .to_string();
                let status =
                    text("ModelApprovalStatus").unwrap_or_else(|| "PendingManualApproval".into());
                doc.insert("ModelPackageName".into(), group.clone().into());
                doc.insert("ModelPackageGroupName".into(), group.clone().into());
                doc.insert("ModelApprovalStatus".into(), status.into());
                let stored = self.insert_version(&prefix, &group, doc, now).await?;
                self.state_changed(&stored).await;
                Ok(json!({"ModelPackageArn": stored["ModelPackageArn"]}))
            }
            (None, Some(name)) => {
                if input.contains_key("ModelApprovalStatus") {
                    return Err(SageMakerError::Validation(
                        "ModelApprovalStatus applies to versioned model packages only.".into(),
                    ));
                }
                let key = name.to_ascii_lowercase();
                doc.insert("ModelPackageName".into(), name.clone().into());
                doc.insert("ModelPackageArn".into(), format!("{prefix}{key}").into());
                self.insert(&key, &doc, now).await.map_err(|e| match e {
                    SageMakerError::Conflict(_) => {
                        SageMakerError::Validation(format!("Model Package {name} already exists."))
                    }
                    other => other,
                })?;
                let stored = Value::Object(doc);
                self.state_changed(&stored).await;
                Ok(json!({"ModelPackageArn": stored["ModelPackageArn"]}))
            }
            _ => Err(SageMakerError::Validation(
                "Exactly one of ModelPackageGroupName and ModelPackageName must be specified."
                    .into(),
            )),
        }
    }

    /// Stores `doc` as the next version of `group`; the package as stored.
    async fn insert_version(
        &self,
        prefix: &str,
        group: &str,
        mut doc: Map<String, Value>,
        now: i64,
    ) -> Result<Value> {
        let lower = group.to_ascii_lowercase();
        for _ in 0..VERSION_ATTEMPTS {
            let highest = self
                .all_packages()
                .await?
                .iter()
                .filter(|p| {
                    p["ModelPackageGroupName"]
                        .as_str()
                        .is_some_and(|g| g.eq_ignore_ascii_case(group))
                })
                .filter_map(|p| p["ModelPackageVersion"].as_u64())
                .max()
                .unwrap_or(0);
            let version = highest + 1;
            let key = format!("{lower}/{version}");
            doc.insert("ModelPackageVersion".into(), version.into());
            doc.insert("ModelPackageArn".into(), format!("{prefix}{key}").into());
            match self.insert(&key, &doc, now).await {
                Ok(()) => return Ok(Value::Object(doc)),
                Err(SageMakerError::Conflict(_)) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(SageMakerError::Conflict(format!(
            "Model package group {group} is being registered into concurrently; retry the request."
        )))
    }

    async fn insert(&self, key: &str, doc: &Map<String, Value>, now: i64) -> Result<()> {
        let record = CatalogRecord {
            id: key.to_string(),
            name: None,
            version: 1,
            created_micros: now,
            document: serde_json::to_string(doc).expect("serializable").into(),
        };
        match self
            .store
            .catalog_insert(CatalogKind::ModelPackage, &record)
            .await
        {
            Ok(()) => Ok(()),
            Err(StoreError::AlreadyExists) => Err(SageMakerError::Conflict(key.to_string())),
            Err(e) => Err(e.into()),
        }
    }

    /// DescribeModelPackage.
    pub(crate) async fn package(&self, name_or_arn: &str) -> Result<Value> {
        let record = self
            .store
            .catalog_get(CatalogKind::ModelPackage, &key_of(name_or_arn))
            .await?;
        let record = record.ok_or_else(|| missing(&format!("ModelPackage {name_or_arn}")))?;
        let mut doc = parse(&record)?;
        // Tags are ListTags' answer, not DescribeModelPackage's.
        doc.as_object_mut().map(|d| d.remove(TAGS));
        Ok(doc)
    }

    /// A package's tags (`None`: no package has this ARN), in key order.
    pub(crate) async fn package_tags(&self, arn: &str) -> Result<Option<Vec<Tag>>> {
        let Some(record) = self
            .store
            .catalog_get(CatalogKind::ModelPackage, &key_of(arn))
            .await?
        else {
            return Ok(None);
        };
        let doc = parse(&record)?;
        let mut tags: Vec<Tag> =
            serde_json::from_value(doc.get(TAGS).cloned().unwrap_or(json!([]))).map_err(|e| {
                SageMakerError::Internal(format!("stored tags are unreadable: {e}"))
            })?;
        tags.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(Some(tags))
    }

    /// Adds `add` (a key given again takes the new value) and removes `remove` from a
    /// package's tags, within the per-resource limit.
    pub(crate) async fn change_package_tags(
        &self,
        arn: &str,
        add: &[Tag],
        remove: &[String],
    ) -> Result<()> {
        let changed = self
            .modify_package(arn, |doc| {
                let mut tags: Vec<Value> = doc.get(TAGS).and_then(Value::as_array).cloned().unwrap_or_default();
                tags.extend(add.iter().map(|t| json!({"Key": t.key, "Value": t.value})));
                let mut tags = deduplicated(tags);
                tags.retain(|t| t["Key"].as_str().is_none_or(|k| !remove.iter().any(|r| r == k)));
                if tags.len() > MAX_TAGS_PER_RESOURCE {
                    return Err(SageMakerError::Validation(format!(
                        "The tags would exceed the limit of {MAX_TAGS_PER_RESOURCE} tags per resource."
                    )));
                }
                doc[TAGS] = Value::Array(tags);
                Ok(())
            })
            .await;
        match changed {
            // Tag operations answer AWS's tag wording for an unknown resource.
            Err(SageMakerError::Validation(m))
                if m.ends_with("does not exist.") && m.starts_with("ModelPackage ") =>
            {
                Err(crate::service::resource_not_found(arn))
            }
            other => other.map(drop),
        }
    }

    /// Every stored package (a full scan of the kind: local registries hold hundreds).
    pub(crate) async fn all_packages(&self) -> Result<Vec<Value>> {
        let records = sagestack_store::catalog_all(&*self.store, CatalogKind::ModelPackage).await?;
        records.iter().map(parse).collect()
    }

    /// BatchDescribeModelPackage: a summary per package found, an error per ARN not.
    async fn batch_describe(&self, input: &Map<String, Value>) -> Result<Value> {
        let mut summaries = Map::new();
        let mut errors = Map::new();
        for arn in input["ModelPackageArnList"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            match self.package(arn).await {
                Ok(p) => {
                    let keys = [
                        "ModelPackageGroupName",
                        "ModelPackageVersion",
                        "ModelPackageArn",
                        "ModelPackageDescription",
                        "CreationTime",
                        "InferenceSpecification",
                        "ModelPackageStatus",
                        "ModelApprovalStatus",
                        "ModelPackageRegistrationType",
                    ];
                    summaries.insert(arn.into(), pick(&p, &keys));
                }
                Err(SageMakerError::Validation(message)) => {
                    errors.insert(
                        arn.into(),
                        json!({"ErrorCode": "ValidationException", "ErrorResponse": message}),
                    );
                }
                Err(e) => return Err(e),
            }
        }
        Ok(json!({"ModelPackageSummaries": summaries, "BatchDescribeModelPackageErrorMap": errors}))
    }

    async fn list_packages(&self, input: ListInput) -> Result<Value> {
        let limit = input
            .max_results
            .map_or(DEFAULT_LIST_PACKAGES, |n| n as usize);
        let kind = input.model_package_type.as_deref().unwrap_or(
            if input.model_package_group_name.is_some() {
                "Versioned"
            } else {
                "Unversioned"
            },
        );
        let mut packages: Vec<Value> = self
            .all_packages()
            .await?
            .into_iter()
            .filter(|p| {
                let versioned = p.get("ModelPackageVersion").is_some();
                let created = p["CreationTime"].as_f64().unwrap_or(0.0);
                let name = p["ModelPackageName"].as_str().unwrap_or_default();
                (kind == "Both" || (kind == "Versioned") == versioned)
                    && input.model_package_group_name.as_deref().is_none_or(|g| {
                        p["ModelPackageGroupName"]
                            .as_str()
                            .is_some_and(|n| n.eq_ignore_ascii_case(key_of(g).as_str()) || n == g)
                    })
                    && input
                        .model_approval_status
                        .as_deref()
                        .is_none_or(|s| p["ModelApprovalStatus"] == s)
                    && input
                        .name_contains
                        .as_deref()
                        .is_none_or(|n| name.contains(n))
                    && input.creation_time_after.is_none_or(|t| created > t)
                    && input.creation_time_before.is_none_or(|t| created < t)
            })
            .collect();
        let by_name = input.sort_by.as_deref() == Some("Name");
        let sort_key = |p: &Value| {
            let arn = p["ModelPackageArn"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let first = if by_name {
                p["ModelPackageName"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string()
            } else {
                format!("{:020.6}", p["CreationTime"].as_f64().unwrap_or(0.0))
            };
            (first, arn)
        };
        packages.sort_by_key(sort_key);
        if input.sort_order.as_deref() != Some("Ascending") {
            packages.reverse();
        }
        let start = match input.next_token.as_deref() {
            None => 0,
            Some(t) => {
                let last = decode_tag_token(t)
                    .map_err(|_| SageMakerError::Validation("Invalid pagination token".into()))?;
                packages
                    .iter()
                    .position(|p| p["ModelPackageArn"] == last.as_str())
                    .map_or(packages.len(), |i| i + 1)
            }
        };
        let page: Vec<&Value> = packages.iter().skip(start).take(limit).collect();
        let summaries: Vec<Value> = page.iter().map(|p| summary(p)).collect();
        let mut out = json!({"ModelPackageSummaryList": summaries});
        if start + limit < packages.len()
            && let Some(last) = page.last()
        {
            out["NextToken"] =
                encode_tag_token(last["ModelPackageArn"].as_str().unwrap_or_default()).into();
        }
        Ok(out)
    }

    pub(crate) async fn update_package(
        &self,
        ctx: &RequestContext,
        input: Map<String, Value>,
    ) -> Result<Value> {
        let arn = input
            .get("ModelPackageArn")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let remove: Vec<String> = input
            .get("CustomerMetadataPropertiesToRemove")
            .and_then(Value::as_array)
            .map(|l| {
                l.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let add = input
            .get("CustomerMetadataProperties")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        if let Some(both) = remove.iter().find(|k| add.contains_key(*k)) {
            return Err(SageMakerError::Validation(format!(
                "The key {both} cannot be both added and removed in the same request."
            )));
        }
        let user = user_context(ctx);
        let now = seconds(now_micros(&*self.clock));
        let (before, doc) = self
            .modify_package(&arn, |doc| {
                if input.contains_key("ModelApprovalStatus")
                    && doc.get("ModelPackageVersion").is_none()
                {
                    return Err(SageMakerError::Validation(
                        "ModelApprovalStatus applies to versioned model packages only.".into(),
                    ));
                }
                for k in [
                    "ModelApprovalStatus",
                    "ApprovalDescription",
                    "SourceUri",
                    "ModelPackageRegistrationType",
                    "InferenceSpecification",
                ] {
                    if let Some(v) = input.get(k) {
                        doc[k] = v.clone();
                    }
                }
                let mut metadata = doc
                    .get("CustomerMetadataProperties")
                    .and_then(Value::as_object)
                    .cloned()
                    .unwrap_or_default();
                metadata.extend(add.clone());
                metadata.retain(|k, _| !remove.contains(k));
                if metadata.is_empty() {
                    doc.as_object_mut()
                        .map(|d| d.remove("CustomerMetadataProperties"));
                } else {
                    doc["CustomerMetadataProperties"] = Value::Object(metadata);
                }
                doc["LastModifiedTime"] = now.into();
                if let Some(user) = &user {
                    doc["LastModifiedBy"] = serde_json::to_value(user).unwrap_or(Value::Null);
                }
                Ok(())
            })
            .await?;
        if ["ModelApprovalStatus", "ModelPackageStatus"]
            .iter()
            .any(|k| before.get(k) != doc.get(k))
        {
            self.state_changed(&doc).await;
        }
        Ok(json!({"ModelPackageArn": doc["ModelPackageArn"]}))
    }

    /// Reads, changes and writes back a package, retrying when another write won the
    /// race; the package as read (by the write that won) and as written.
    async fn modify_package(
        &self,
        arn: &str,
        change: impl Fn(&mut Value) -> Result<()>,
    ) -> Result<(Value, Value)> {
        let key = key_of(arn);
        for _ in 0..VERSION_ATTEMPTS {
            let record = self
                .store
                .catalog_get(CatalogKind::ModelPackage, &key)
                .await?;
            let record = record.ok_or_else(|| missing(&format!("ModelPackage {arn}")))?;
            let before = parse(&record)?;
            let mut doc = before.clone();
            change(&mut doc)?;
            let next = CatalogRecord {
                version: record.version + 1,
                document: doc.to_string().into(),
                ..record.clone()
            };
            match self
                .store
                .catalog_update(CatalogKind::ModelPackage, &next, record.version)
                .await
            {
                Ok(()) => return Ok((before, doc)),
                Err(StoreError::Conflict) => continue,
                Err(StoreError::NotFound) => return Err(missing(&format!("ModelPackage {arn}"))),
                Err(e) => return Err(e.into()),
            }
        }
        Err(SageMakerError::Conflict(format!(
            "Model package {arn} is being updated concurrently; retry the request."
        )))
    }

    /// Publishes `package` (as stored) as a "SageMaker Model Package State Change", if
    /// the publisher wants one; returns once it is queued for delivery.
    async fn state_changed(&self, package: &Value) {
        if self
            .events
            .wants(SAGEMAKER_SOURCE, MODEL_PACKAGE_STATE_CHANGE)
        {
            self.events.publish(vec![state_change(package)]).await;
        }
    }

    pub(crate) async fn delete_package(&self, name_or_arn: &str) -> Result<()> {
        match self
            .store
            .catalog_delete(CatalogKind::ModelPackage, &key_of(name_or_arn))
            .await?
        {
            Some(_) => Ok(()),
            None => Err(missing(&format!("ModelPackage {name_or_arn}"))),
        }
    }

    /// Whether the group named `name` (any case) has versions.
    pub(crate) async fn has_versions(&self, name: &str) -> Result<bool> {
        Ok(self.all_packages().await?.iter().any(|p| {
            p["ModelPackageGroupName"]
                .as_str()
                .is_some_and(|g| g.eq_ignore_ascii_case(name))
        }))
    }
}

/// Where a package's tags are kept in its document (left out of DescribeModelPackage).
const TAGS: &str = "Tags";

/// Tags with each key once, the last value given winning.
fn deduplicated(tags: Vec<Value>) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::with_capacity(tags.len());
    for t in tags {
        match out.iter_mut().find(|o| o["Key"] == t["Key"]) {
            Some(o) => *o = t,
            None => out.push(t),
        }
    }
    out
}

/// Whether `arn` names a model package (not a group).
pub(crate) fn is_model_package_arn(arn: &str) -> bool {
    arn.starts_with("arn:") && arn.contains(":model-package/")
}

/// `ModelPackageSummary`.
fn summary(p: &Value) -> Value {
    pick(
        p,
        &[
            "ModelPackageName",
            "ModelPackageGroupName",
            "ModelPackageVersion",
            "ModelPackageArn",
            "ModelPackageDescription",
            "CreationTime",
            "ModelPackageStatus",
            "ModelApprovalStatus",
        ],
    )
}

mod events;
#[cfg(test)]
mod tests;

use events::state_change;
pub use events::{MODEL_PACKAGE_STATE_CHANGE, SAGEMAKER_SOURCE};
