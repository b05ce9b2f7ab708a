//! The native `AWS::S3::BucketPolicy` provider: a stack's bucket policy is the policy of
//! a bucket of this server's object store, as `PutBucketPolicy` sets it (and
//! `GetBucketPolicy` reads it back).
//!
//! * `Bucket` (create-only) names the bucket; `PolicyDocument` is a JSON object (stored
//!   as its JSON text) or a string (stored as given). Both are required (the bundled
//!   registry schema checks them, in CloudFormation's words).
//! * The policy is checked as `PutBucketPolicy` checks it ([`BucketDocument::set_policy_checked`]):
//!   S3's `MalformedPolicy` messages, and `Access Denied` for a public policy while the
//!   bucket's Block Public Access blocks public policies. A missing bucket fails the
//!   resource with S3's `The specified bucket does not exist`.
//! * Ref is the bucket name. An update replaces the policy; delete removes it (a bucket
//!   already gone is success).

use std::sync::Arc;

use async_trait::async_trait;
use sagestack_engine::provider::kit::{self, internal, type_info};
use sagestack_engine::provider::{Live, Outcome};
use sagestack_engine::{ProviderError, ResourceContext, ResourceProvider, ResourceState, TypeInfo};
use sagestack_store::ObjectStore;
use serde_json::Value;

use crate::config::{BucketDocument, UpdateError, update_document};

/// The resource type this provider serves.
pub const TYPE_NAME: &str = "AWS::S3::BucketPolicy";

/// See the module documentation.
pub struct BucketPolicyProvider {
    store: Arc<dyn ObjectStore>,
}

impl BucketPolicyProvider {
    pub fn new(store: Arc<dyn ObjectStore>) -> Self {
        BucketPolicyProvider { store }
    }

    /// The bucket and the policy text of `properties`, validated against the type's
    /// registry schema.
    fn bucket_and_policy(
        &self,
        ctx: &ResourceContext,
        properties: &Value,
    ) -> Result<(String, String), ProviderError> {
        if let Some(schema) = sagestack_providers::bundle().get(TYPE_NAME) {
            sagestack_providers::validated(&schema, &ctx.logical_id, properties)?;
        }
        let bucket = kit::required(ctx, properties, "Bucket")?;
        let policy = match properties.get("PolicyDocument") {
            Some(Value::String(text)) => text.clone(),
            Some(doc @ Value::Object(_)) => doc.to_string(),
            _ => return Err(kit::missing(ctx, "PolicyDocument")),
        };
        Ok((bucket, policy))
    }

    /// Puts the policy of `properties` on its bucket: the resource's state.
    async fn put(&self, ctx: &ResourceContext, properties: &Value) -> Outcome<ResourceState> {
        let (bucket, policy) = self.bucket_and_policy(ctx, properties)?;
        update_document(&self.store, &bucket, |doc| {
            doc.set_policy_checked(&bucket, &policy)
        })
        .await
        .map_err(|e| match e {
            UpdateError::NoSuchBucket => {
                ProviderError::NotFound(format!("The specified bucket does not exist: {bucket}"))
            }
            UpdateError::Invalid(e) => ProviderError::InvalidRequest(e.to_string()),
            UpdateError::Store(e) => internal(e),
        })?;
        Ok(kit::state(bucket, []))
    }

    /// The policy bucket `name` has now (`None`: no bucket, or no policy).
    async fn policy_of(&self, name: &str) -> Outcome<Option<String>> {
        let bucket = self.store.get_bucket(name).await.map_err(internal)?;
        Ok(bucket.and_then(|b| BucketDocument::parse(&b.document).policy()))
    }
}

#[async_trait]
impl ResourceProvider for BucketPolicyProvider {
    fn type_info(&self, type_name: &str) -> Option<TypeInfo> {
        (type_name == TYPE_NAME).then(|| type_info(TYPE_NAME, &["Bucket"], &[], false))
    }

    async fn create(&self, ctx: &ResourceContext, properties: &Value) -> Outcome<ResourceState> {
        self.put(ctx, properties).await
    }

    async fn update(
        &self,
        ctx: &ResourceContext,
        _current: &ResourceState,
        _old_properties: &Value,
        new_properties: &Value,
    ) -> Outcome<ResourceState> {
        self.put(ctx, new_properties).await
    }

    async fn delete(
        &self,
        _ctx: &ResourceContext,
        current: &ResourceState,
        _properties: &Value,
    ) -> Outcome<()> {
        let result = update_document(&self.store, &current.physical_id, |doc| {
            doc.set_policy(None);
            Ok(())
        })
        .await;
        match result {
            Ok(()) | Err(UpdateError::NoSuchBucket) => Ok(()),
            Err(e) => Err(internal(e)),
        }
    }

    async fn read(
        &self,
        _ctx: &ResourceContext,
        current: &ResourceState,
        _properties: &Value,
    ) -> Outcome<Option<ResourceState>> {
        let policy = self.policy_of(&current.physical_id).await?;
        Ok(policy.map(|_| current.clone()))
    }

    /// Drift: the bucket's policy, as JSON when the template gave an object.
    async fn live(
        &self,
        _ctx: &ResourceContext,
        current: &ResourceState,
        properties: &Value,
    ) -> Outcome<Live> {
        let Some(policy) = self.policy_of(&current.physical_id).await? else {
            return Ok(Live::Gone);
        };
        let live = match properties.get("PolicyDocument") {
            Some(Value::String(_)) => Value::String(policy),
            _ => serde_json::from_str(&policy).unwrap_or(Value::String(policy)),
        };
        Ok(Live::Properties(kit::live(
            properties,
            [("PolicyDocument", live, Value::Null)],
        )))
    }

    /// After a crash: the bucket holds this create's policy already.
    async fn find_interrupted_create(
        &self,
        ctx: &ResourceContext,
        properties: &Value,
        _started: sagestack_engine::model::EpochMillis,
    ) -> Outcome<Option<ResourceState>> {
        let Ok((bucket, policy)) = self.bucket_and_policy(ctx, properties) else {
            return Ok(None);
        };
        let current = self.policy_of(&bucket).await?;
        Ok((current.as_deref() == Some(policy.as_str())).then(|| kit::state(bucket, [])))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::MemoryObjectStore;
    use sagestack_engine::partition_for_region;
    use sagestack_store::BucketRecord;
    use serde_json::json;

    fn ctx() -> ResourceContext {
        ResourceContext {
            region: "us-east-1".into(),
            account_id: "123456789012".into(),
            partition: partition_for_region("us-east-1").into(),
            stack_name: "s".into(),
            stack_id: "arn:aws:cloudformation:us-east-1:123456789012:stack/s/x".into(),
            logical_id: "Policy".into(),
            resource_type: TYPE_NAME.into(),
            stack_tags: vec![],
            started: 0,
        }
    }

    fn statement(effect: &str, condition: Value) -> Value {
        let mut s = json!({"Effect": effect, "Principal": "*", "Action": "s3:*",
                           "Resource": ["arn:aws:s3:::staging", "arn:aws:s3:::staging/*"]});
        if !condition.is_null() {
            s["Condition"] = condition;
        }
        json!({"Version": "2012-10-17", "Statement": [s]})
    }

    #[tokio::test]
    async fn puts_replaces_and_removes_the_bucket_policy() {
        let store = Arc::new(MemoryObjectStore::new());
        let p = BucketPolicyProvider::new(store.clone());
        let c = ctx();
        assert!(p.type_info(TYPE_NAME).is_some());
        assert!(p.type_info("AWS::S3::Bucket").is_none());

        // No bucket yet.
        let deny = statement("Deny", json!({"Bool": {"aws:SecureTransport": "false"}}));
        let props = json!({"Bucket": "staging", "PolicyDocument": deny});
        let e = p.create(&c, &props).await.unwrap_err();
        assert!(
            matches!(&e, ProviderError::NotFound(m) if m.contains("does not exist")),
            "{e:?}"
        );

        store
            .create_bucket(&BucketRecord {
                name: "staging".into(),
                region: "us-east-1".into(),
                creation_micros: 0,
                document: Arc::from("{\"Owner\":\"123456789012\"}"),
            })
            .await
            .unwrap();
        let s = p.create(&c, &props).await.unwrap();
        assert_eq!(s.physical_id, "staging");
        let policy = p.policy_of("staging").await.unwrap().unwrap();
        assert_eq!(serde_json::from_str::<Value>(&policy).unwrap(), deny);
        assert_eq!(p.read(&c, &s, &props).await.unwrap(), Some(s.clone()));
        assert_eq!(
            p.find_interrupted_create(&c, &props, 0).await.unwrap(),
            Some(s.clone())
        );
        match p.live(&c, &s, &props).await.unwrap() {
            Live::Properties(m) => assert_eq!(m["PolicyDocument"], deny),
            other => panic!("{other:?}"),
        }

        // A public policy is refused while Block Public Access (on by default) blocks it.
        let public =
            json!({"Bucket": "staging", "PolicyDocument": statement("Allow", Value::Null)});
        let e = p.update(&c, &s, &props, &public).await.unwrap_err();
        assert!(
            matches!(&e, ProviderError::InvalidRequest(m) if m.starts_with("Access Denied")),
            "{e:?}"
        );
        // S3's own checks, in its words; a string document is stored as given.
        let bad = json!({"Bucket": "staging", "PolicyDocument": "{\"Statement\": []}"});
        let e = p.update(&c, &s, &props, &bad).await.unwrap_err();
        assert_eq!(
            e,
            ProviderError::InvalidRequest("Missing required field Statement".into())
        );
        let text = deny.to_string().replace(',', ", ");
        let as_text = json!({"Bucket": "staging", "PolicyDocument": text});
        p.update(&c, &s, &props, &as_text).await.unwrap();
        assert_eq!(p.policy_of("staging").await.unwrap(), Some(text));

        p.delete(&c, &s, &as_text).await.unwrap();
        assert_eq!(p.policy_of("staging").await.unwrap(), None);
        assert_eq!(p.read(&c, &s, &props).await.unwrap(), None);
        store.delete_bucket("staging").await.unwrap();
        p.delete(&c, &s, &as_text).await.unwrap();
        let e = p
            .create(&c, &json!({"Bucket": "staging"}))
            .await
            .unwrap_err();
        assert!(
            matches!(&e, ProviderError::InvalidRequest(m) if m.contains("PolicyDocument")),
            "{e:?}"
        );
    }
}
