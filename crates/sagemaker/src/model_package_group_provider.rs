//! The native `AWS::SageMaker::ModelPackageGroup` provider: a stack's group is a real
//! group of this server, readable through DescribeModelPackageGroup and
//! ListModelPackageGroups.
//!
//! The provider goes through the same operations as API callers (and so through the
//! same model validation). As in CloudFormation's schema for the type, the primary
//! identifier is the group's ARN: Ref returns `ModelPackageGroupArn`. `Fn::GetAtt` reads
//! `ModelPackageGroupArn`, `CreationTime` (ISO 8601) and `ModelPackageGroupStatus`.
//! `ModelPackageGroupName` (required) and `ModelPackageGroupDescription` are
//! create-only. The group's tags are the template's `Tags`, then the stack's tags it
//! does not name; as in CloudFormation's schema for the type, `Tags` update in place:
//! an update makes them the group's only tags (what ListTags on the group's ARN
//! answers), so new stack tags alone (an update of scope `Tags`) retag the group, and
//! a rollback (an update with the old properties and the old stack tags) puts the old
//! ones back. `ModelPackageGroupPolicy` is accepted and not kept (this server has no
//! group policy operations).

use std::sync::Arc;

use async_trait::async_trait;
use sagestack_engine::model::EpochMillis;
use sagestack_engine::provider::kit::{
    created_since_secs, deleted, found, gone_is_none, missing, not_found, type_info,
};
use sagestack_engine::provider::{Native, Outcome};
use sagestack_engine::{ProviderError, ResourceContext, ResourceState, TypeInfo};
use sagestack_protocol::RequestContext;
use serde_json::{Map, Value, json};

use crate::error::SageMakerError;
use crate::model_package_groups::ModelPackageGroups;

/// The resource type this provider serves.
pub const TYPE_NAME: &str = "AWS::SageMaker::ModelPackageGroup";

/// See the module documentation.
pub struct ModelPackageGroupProvider {
    groups: Arc<ModelPackageGroups>,
}

impl ModelPackageGroupProvider {
    pub fn new(groups: Arc<ModelPackageGroups>) -> Self {
        ModelPackageGroupProvider { groups }
    }

    async fn call(
        &self,
        ctx: &ResourceContext,
        operation: &str,
        input: Value,
    ) -> Result<Value, SageMakerError> {
        let request = RequestContext::new(&ctx.region, &ctx.account_id);
        let output = self.groups.handle(&request, operation, input).await?;
        output
            .into_value()
            .map_err(|e| SageMakerError::Internal(e.to_string()))
    }

    /// DescribeModelPackageGroup of `name` (a name or an ARN), `None` when it is gone.
    async fn describe_group(
        &self,
        ctx: &ResourceContext,
        name: &str,
    ) -> Result<Option<Value>, ProviderError> {
        let input = json!({ "ModelPackageGroupName": name });
        let described = self.call(ctx, "DescribeModelPackageGroup", input).await;
        gone_is_none(described, is_gone, provider_error)
    }
}

/// Whether `e` says the group does not exist.
fn is_gone(e: &SageMakerError) -> bool {
    matches!(e, SageMakerError::Validation(m) if m.ends_with("does not exist."))
}

/// The group's tags: the template's `Tags`, then the stack's tags it does not name.
fn tags(ctx: &ResourceContext, properties: &Value) -> Vec<Value> {
    let mut tags: Vec<Value> = match properties.get("Tags") {
        Some(Value::Array(t)) => t.clone(),
        _ => Vec::new(),
    };
    for (k, v) in &ctx.stack_tags {
        if !tags.iter().any(|t| t["Key"] == k.as_str()) {
            tags.push(json!({"Key": k, "Value": v}));
        }
    }
    tags
}

/// RFC 3339 UTC with milliseconds for epoch seconds.
fn iso8601(seconds: f64) -> String {
    sagestack_engine::iso8601_millis((seconds * 1000.0).round() as i64)
}

fn state(describe: &Value) -> ResourceState {
    let arn = describe["ModelPackageGroupArn"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let mut attributes = Map::new();
    attributes.insert("ModelPackageGroupArn".into(), arn.clone().into());
    attributes.insert(
        "CreationTime".into(),
        iso8601(describe["CreationTime"].as_f64().unwrap_or(0.0)).into(),
    );
    attributes.insert(
        "ModelPackageGroupStatus".into(),
        describe["ModelPackageGroupStatus"].clone(),
    );
    // Not a documented attribute, but the bundled schema-driven provider answers
    // `GetAtt X.ModelPackageGroupName` (read from the properties), and templates written
    // against it (examples/mlops) must deploy the same on the native provider.
    attributes.insert(
        "ModelPackageGroupName".into(),
        describe["ModelPackageGroupName"].clone(),
    );
    ResourceState {
        physical_id: arn,
        attributes,
    }
}

fn provider_error(e: SageMakerError) -> ProviderError {
    match e {
        SageMakerError::Validation(m) if m.contains("already exists") => {
            ProviderError::AlreadyExists(m)
        }
        SageMakerError::Validation(m) | SageMakerError::Serialization(m) => {
            ProviderError::InvalidRequest(m)
        }
        SageMakerError::Conflict(m) => ProviderError::Conflict(m),
        other => ProviderError::Internal(other.to_string()),
    }
}

/// A group's record is its DescribeModelPackageGroup.
#[async_trait]
impl Native for ModelPackageGroupProvider {
    type Record = Value;
    const TYPE_NAME: &'static str = TYPE_NAME;

    fn info(&self) -> TypeInfo {
        let create_only = ["ModelPackageGroupName", "ModelPackageGroupDescription"];
        let attributes = [
            "ModelPackageGroupArn",
            "CreationTime",
            "ModelPackageGroupStatus",
            "ModelPackageGroupName",
        ];
        type_info(TYPE_NAME, &create_only, &attributes, true).named("ModelPackageGroupName")
    }

    fn state_of(describe: &Value) -> ResourceState {
        state(describe)
    }

    /// The group's name (DescribeModelPackageGroup takes a name as well as an ARN).
    fn intended_id(_: &ResourceContext, properties: &Value) -> Option<String> {
        let name = properties.get("ModelPackageGroupName")?.as_str()?;
        Some(name.to_string())
    }

    fn made_since(describe: &Value, started: EpochMillis) -> bool {
        created_since_secs(describe["CreationTime"].as_f64().unwrap_or(0.0), started)
    }

    /// Drift: the group's description (its name cannot change without a replacement;
    /// a deleted group reads as gone).
    fn live_properties(describe: &Value, expected: &Value) -> Option<Map<String, Value>> {
        let description = describe
            .get("ModelPackageGroupDescription")
            .cloned()
            .unwrap_or(Value::Null);
        Some(sagestack_engine::provider::kit::live(
            expected,
            [("ModelPackageGroupDescription", description, Value::Null)],
        ))
    }

    async fn create_record(&self, ctx: &ResourceContext, properties: &Value) -> Outcome<Value> {
        let Some(name) = properties.get("ModelPackageGroupName") else {
            return Err(missing(ctx, "ModelPackageGroupName"));
        };
        let mut input = json!({ "ModelPackageGroupName": name });
        if let Some(d) = properties.get("ModelPackageGroupDescription") {
            input["ModelPackageGroupDescription"] = d.clone();
        }
        let tags = tags(ctx, properties);
        if !tags.is_empty() {
            input["Tags"] = Value::Array(tags);
        }
        let out = self
            .call(ctx, "CreateModelPackageGroup", input)
            .await
            .map_err(provider_error)?;
        let arn = out["ModelPackageGroupArn"].as_str().unwrap_or_default();
        self.describe_group(ctx, arn).await?.ok_or_else(|| {
            ProviderError::Internal(format!("model package group {arn} vanished after creation"))
        })
    }

    /// The tags are replaced (the other updatable property, the policy, is not kept);
    /// the group is read again.
    async fn update_record(
        &self,
        ctx: &ResourceContext,
        arn: &str,
        properties: &Value,
    ) -> Outcome<Value> {
        let tags = Value::Array(tags(ctx, properties));
        match self.groups.replace_tags(arn, tags).await {
            Ok(()) => {}
            Err(e) if is_gone(&e) => return Err(not_found(TYPE_NAME, arn)),
            Err(e) => return Err(provider_error(e)),
        }
        let read = self.describe_group(ctx, arn).await?;
        found(read, TYPE_NAME, arn)
    }

    async fn get_record(&self, ctx: &ResourceContext, arn: &str) -> Outcome<Option<Value>> {
        self.describe_group(ctx, arn).await
    }

    async fn delete_record(&self, ctx: &ResourceContext, arn: &str) -> Outcome<()> {
        let input = json!({ "ModelPackageGroupName": arn });
        let result = self.call(ctx, "DeleteModelPackageGroup", input).await;
        deleted(result.map(drop), is_gone, provider_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sagestack_engine::ResourceProvider;
    use sagestack_store::SqliteStore;

    /// The context of the group `Group` in stack `s` (us-east-1), with `stack_tags`.
    fn group_context(stack_tags: &[(&str, &str)]) -> ResourceContext {
        ResourceContext {
            region: "us-east-1".into(),
            account_id: "123456789012".into(),
            partition: "aws".into(),
            stack_name: "s".into(),
            stack_id: "arn:aws:cloudformation:us-east-1:123456789012:stack/s/x".into(),
            logical_id: "Group".into(),
            resource_type: TYPE_NAME.into(),
            stack_tags: stack_tags
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            started: 0,
        }
    }

    #[test]
    fn iso8601_formats_epoch_seconds() {
        assert_eq!(iso8601(0.0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso8601(1_700_000_000.123), "2023-11-14T22:13:20.123Z");
        assert_eq!(iso8601(951_825_600.0), "2000-02-29T12:00:00.000Z");
    }

    #[tokio::test]
    async fn provider_creates_a_group_the_api_reads() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn sagestack_store::Store> =
            Arc::new(SqliteStore::open(dir.path()).await.unwrap());
        let groups = Arc::new(ModelPackageGroups::new(store, crate::testing::clock()));
        let p = ModelPackageGroupProvider::new(groups);
        let ctx = group_context(&[("sagemaker:project-name", "p")]);
        let s = p
            .create(
                &ctx,
                &json!({"ModelPackageGroupName": "Fraud", "Tags": [{"Key": "a", "Value": "b"}]}),
            )
            .await
            .unwrap();
        let arn = "arn:aws:sagemaker:us-east-1:123456789012:model-package-group/fraud";
        assert_eq!(s.physical_id, arn);
        assert_eq!(s.attributes["ModelPackageGroupArn"], arn);
        assert_eq!(s.attributes["ModelPackageGroupStatus"], "Completed");
        assert_eq!(s.attributes["ModelPackageGroupName"], "Fraud");
        assert!(
            s.attributes["CreationTime"]
                .as_str()
                .unwrap()
                .ends_with('Z')
        );
        let described = p.read(&ctx, &s, &json!({})).await.unwrap();
        assert_eq!(described, Some(s.clone()));
        let e = p
            .create(&ctx, &json!({"ModelPackageGroupName": "Fraud"}))
            .await
            .unwrap_err();
        assert!(matches!(e, ProviderError::AlreadyExists(_)), "{e:?}");
        let e = p.create(&ctx, &json!({})).await.unwrap_err();
        assert!(matches!(e, ProviderError::InvalidRequest(_)));
        let e = p
            .create(&ctx, &json!({"ModelPackageGroupName": "no_underscores"}))
            .await
            .unwrap_err();
        assert!(matches!(e, ProviderError::InvalidRequest(m) if m.contains("validation error")));
        p.delete(&ctx, &s, &json!({})).await.unwrap();
        assert_eq!(p.read(&ctx, &s, &json!({})).await.unwrap(), None);
        p.delete(&ctx, &s, &json!({})).await.unwrap();
    }

    #[tokio::test]
    async fn an_update_replaces_the_tags_and_a_rollback_puts_them_back() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn sagestack_store::Store> =
            Arc::new(SqliteStore::open(dir.path()).await.unwrap());
        let groups = Arc::new(ModelPackageGroups::new(
            store.clone(),
            crate::testing::clock(),
        ));
        let p = ModelPackageGroupProvider::new(groups);
        let c = group_context(&[("env", "stack"), ("team", "ml")]);
        let tags = async |arn: &str| -> Vec<String> {
            let group = store.get_model_package_group(arn).await.unwrap().unwrap();
            group
                .tags
                .iter()
                .map(|t| format!("{}={}", t.key, t.value))
                .collect()
        };
        let old = json!({"ModelPackageGroupName": "Tagged",
            "Tags": [{"Key": "env", "Value": "template"}]});
        let s = p.create(&c, &old).await.unwrap();
        let arn = s.physical_id.clone();
        assert_eq!(tags(&arn).await, ["env=template", "team=ml"]);
        // New stack tags alone: the same properties, other stack tags.
        let mut retagged = c.clone();
        retagged.stack_tags = vec![("owner".into(), "me".into())];
        let updated = p.update(&retagged, &s, &old, &old).await.unwrap();
        assert_eq!(updated, s, "identity survives an in-place update");
        assert_eq!(tags(&arn).await, ["env=template", "owner=me"]);
        // A template change of Tags.
        let new = json!({"ModelPackageGroupName": "Tagged",
            "Tags": [{"Key": "cost", "Value": "1"}]});
        p.update(&retagged, &s, &old, &new).await.unwrap();
        assert_eq!(tags(&arn).await, ["owner=me", "cost=1"]);
        // Rollback: the old properties and the old stack tags.
        p.update(&c, &s, &new, &old).await.unwrap();
        assert_eq!(tags(&arn).await, ["env=template", "team=ml"]);
        // No tags at all leaves none; a reserved key is refused as AddTags refuses it.
        let mut bare = c.clone();
        bare.stack_tags.clear();
        let none = json!({"ModelPackageGroupName": "Tagged"});
        p.update(&bare, &s, &old, &none).await.unwrap();
        assert!(tags(&arn).await.is_empty());
        let reserved = json!({"ModelPackageGroupName": "Tagged",
            "Tags": [{"Key": "aws:x", "Value": "1"}]});
        let e = p.update(&bare, &s, &none, &reserved).await.unwrap_err();
        assert!(matches!(e, ProviderError::InvalidRequest(m) if m.contains("reserved prefix")));
        p.delete(&c, &s, &json!({})).await.unwrap();
        let e = p.update(&c, &s, &none, &old).await.unwrap_err();
        assert!(matches!(e, ProviderError::NotFound(_)), "{e:?}");
    }
}
