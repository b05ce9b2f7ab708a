//! The native `AWS::SageMaker::ModelPackage` provider: a stack's model package is a real
//! version in its group (or an unversioned package), made and changed by the same rules
//! as CreateModelPackage and UpdateModelPackage ([`ModelPackageGroups`]). Only the
//! approval, its description and the customer metadata change in place (the schema's
//! create-only list says the rest replaces the package).

use std::sync::Arc;

use async_trait::async_trait;
use sagestack_engine::model::EpochMillis;
use sagestack_engine::provider::kit::{self, type_info};
use sagestack_engine::provider::{Native, Outcome};
use sagestack_engine::{ProviderError, ResourceContext, ResourceState, TypeInfo};
use sagestack_protocol::RequestContext;
use serde_json::{Map, Value, json};

use crate::error::SageMakerError;
use crate::model_package_groups::ModelPackageGroups;
use crate::model_packages::KEPT;

pub const TYPE_NAME: &str = "AWS::SageMaker::ModelPackage";

/// Properties CreateModelPackage takes besides those a package keeps as given
/// ([`KEPT`]).
const CREATE_MEMBERS: [&str; 5] = [
    "ModelPackageGroupName",
    "ModelPackageName",
    "ModelApprovalStatus",
    "CertifyForMarketplace",
    "ClientToken",
];

/// The schema's create-only properties: changing one replaces the package.
const CREATE_ONLY: [&str; 14] = [
    "ModelPackageGroupName",
    "ModelPackageDescription",
    "InferenceSpecification",
    "ValidationSpecification",
    "SourceAlgorithmSpecification",
    "MetadataProperties",
    "ModelMetrics",
    "ClientToken",
    "DriftCheckBaselines",
    "Domain",
    "Task",
    "SamplePayloadUrl",
    "SecurityConfig",
    "ModelPackageName",
];

/// What `Fn::GetAtt` reads.
const ATTRIBUTES: [&str; 6] = [
    "ModelPackageArn",
    "CreationTime",
    "LastModifiedTime",
    "ModelPackageStatus",
    "ModelPackageVersion",
    "ModelApprovalStatus",
];

/// See the module documentation.
pub struct ModelPackageProvider {
    groups: Arc<ModelPackageGroups>,
}

impl ModelPackageProvider {
    pub fn new(groups: Arc<ModelPackageGroups>) -> Self {
        ModelPackageProvider { groups }
    }
}

/// Whether `e` says the package does not exist.
fn is_gone(e: &SageMakerError) -> bool {
    matches!(e, SageMakerError::Validation(m) if m.ends_with("does not exist."))
}

fn provider_error(e: SageMakerError) -> ProviderError {
    match e {
        SageMakerError::Validation(m) if m.ends_with("does not exist.") => {
            ProviderError::NotFound(m)
        }
        SageMakerError::Validation(m) => ProviderError::InvalidRequest(m),
        other => ProviderError::Internal(other.to_string()),
    }
}

/// CreateModelPackage's input, validated against the SageMaker model as API input is.
fn create_input(properties: &Value) -> Outcome<Map<String, Value>> {
    let mut input = kit::picked(properties, &CREATE_MEMBERS);
    input.extend(kit::picked(properties, &KEPT));
    let input = Value::Object(input);
    crate::service::decode("CreateModelPackage", input).map_err(provider_error)
}

#[async_trait]
impl Native for ModelPackageProvider {
    type Record = Value;
    const TYPE_NAME: &'static str = TYPE_NAME;

    fn info(&self) -> TypeInfo {
        type_info(TYPE_NAME, &CREATE_ONLY, &ATTRIBUTES, true)
    }

    fn state_of(p: &Value) -> ResourceState {
        let arn = p["ModelPackageArn"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let mut attributes = Map::new();
        for key in [
            "ModelPackageArn",
            "ModelPackageStatus",
            "ModelPackageVersion",
            "ModelApprovalStatus",
        ] {
            if let Some(v) = p.get(key) {
                attributes.insert(key.into(), v.clone());
            }
        }
        for key in ["CreationTime", "LastModifiedTime"] {
            if let Some(t) = p[key].as_f64() {
                let at = sagestack_engine::iso8601_millis((t * 1000.0) as EpochMillis);
                attributes.insert(key.into(), at.into());
            }
        }
        ResourceState {
            physical_id: arn,
            attributes,
        }
    }

    /// A version's number is drawn at creation: it cannot be told in advance
    /// ([`Self::find_record`] searches).
    fn intended_id(_: &ResourceContext, _: &Value) -> Option<String> {
        None
    }

    fn made_since(p: &Value, started: EpochMillis) -> bool {
        p["CreationTime"]
            .as_f64()
            .is_some_and(|t| kit::created_since_secs(t, started))
    }

    async fn create_record(&self, ctx: &ResourceContext, properties: &Value) -> Outcome<Value> {
        let input = create_input(properties)?;
        let request = RequestContext::new(&ctx.region, &ctx.account_id);
        let created = self
            .groups
            .create_package(&request, input)
            .await
            .map_err(provider_error)?;
        let arn = created["ModelPackageArn"].as_str().unwrap_or_default();
        self.groups.package(arn).await.map_err(provider_error)
    }

    /// The approval, its description and the customer metadata (keys the template no
    /// longer has are removed).
    async fn update_record(
        &self,
        ctx: &ResourceContext,
        arn: &str,
        properties: &Value,
    ) -> Outcome<Value> {
        let current = self.groups.package(arn).await.map_err(provider_error)?;
        let wanted = properties
            .get("CustomerMetadataProperties")
            .and_then(Value::as_object);
        let removed: Vec<Value> = current["CustomerMetadataProperties"]
            .as_object()
            .into_iter()
            .flat_map(|m| m.keys())
            .filter(|k| wanted.is_none_or(|w| !w.contains_key(*k)))
            .map(|k| Value::String(k.clone()))
            .collect();
        let mut input = kit::picked(
            properties,
            &[
                "ModelApprovalStatus",
                "ApprovalDescription",
                "CustomerMetadataProperties",
            ],
        );
        input.insert("ModelPackageArn".into(), json!(arn));
        if !removed.is_empty() {
            input.insert(
                "CustomerMetadataPropertiesToRemove".into(),
                Value::Array(removed),
            );
        }
        let input: Map<String, Value> =
            crate::service::decode("UpdateModelPackage", Value::Object(input))
                .map_err(provider_error)?;
        let request = RequestContext::new(&ctx.region, &ctx.account_id);
        self.groups
            .update_package(&request, input)
            .await
            .map_err(provider_error)?;
        self.groups.package(arn).await.map_err(provider_error)
    }

    async fn get_record(&self, _: &ResourceContext, arn: &str) -> Outcome<Option<Value>> {
        let read = self.groups.package(arn).await;
        kit::gone_is_none(read, is_gone, provider_error)
    }

    async fn delete_record(&self, _: &ResourceContext, arn: &str) -> Outcome<()> {
        let result = self.groups.delete_package(arn).await;
        kit::deleted(result, is_gone, provider_error)
    }

    /// The version an interrupted create registered in the template's group, if it was
    /// registered since the create started (the newest such).
    async fn find_record(
        &self,
        _: &ResourceContext,
        properties: &Value,
        started: EpochMillis,
    ) -> Outcome<Option<Value>> {
        let group = properties
            .get("ModelPackageGroupName")
            .and_then(Value::as_str);
        let all = match group {
            Some(_) => self.groups.all_packages().await.map_err(provider_error)?,
            None => return Ok(None),
        };
        let ours = |p: &&Value| {
            p["ModelPackageGroupName"]
                .as_str()
                .is_some_and(|g| Some(g) == group)
                && Self::made_since(p, started)
        };
        let newest = all
            .iter()
            .filter(ours)
            .max_by_key(|p| p["ModelPackageVersion"].as_u64());
        Ok(newest.cloned())
    }
}
