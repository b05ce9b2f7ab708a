//! The native `AWS::S3::Bucket` provider: a stack's bucket is a real bucket of this
//! server's object store, usable through the embedded S3 endpoint (`aws s3 cp`,
//! `TemplateURL`s) as soon as the resource is `CREATE_COMPLETE`.
//!
//! * Properties are validated against the bundled CloudFormation schema of the type (the
//!   same check, in the same words, as every schema-driven type), and `BucketName` by
//!   S3's naming rules ([`check_bucket_name`]).
//! * Without `BucketName` the name is generated as CloudFormation generates it:
//!   `{stack}-{logical}-{suffix}`, lowercase, with a 12-character random suffix, the
//!   stack name and logical id shortened so the whole fits S3's 63 characters.
//! * A name that is taken fails the resource with CloudFormation's `<name> already
//!   exists`.
//! * Ref is the name; `Fn::GetAtt` reads `Arn` (`arn:{partition}:s3:::{name}`),
//!   `DomainName` (`{name}.s3.{dns suffix}`), `RegionalDomainName`
//!   (`{name}.s3.{region}.{dns suffix}`), `DualStackDomainName`
//!   (`{name}.s3.dualstack.{region}.{dns suffix}`) and `WebsiteURL` (the region's website
//!   endpoint, dash form in the regions that predate the dot form).
//! * Tags: the resource's `Tags`, then the stack's propagated tags (the resource's own
//!   win), then `aws:cloudformation:stack-name`, `:stack-id` and `:logical-id` as
//!   CloudFormation adds them, stored in the bucket document as
//!   `{"Tags": [{"Key": .., "Value": ..}]}` (what the S3 API's GetBucketTagging reads).
//!   The other properties are kept under `"Properties"` (only recorded: this server does
//!   not enforce encryption, lifecycle, notifications or website hosting). Other keys
//!   of the document (written by the S3 API) are left alone by updates.
//! * `BucketName` (and the other create-only properties of the schema) replace the
//!   bucket when changed; everything else is updated in place.
//! * Delete fails, as on AWS, while the bucket holds objects (or unfinished multipart
//!   uploads): "The bucket you tried to delete is not empty", so the stack shows
//!   `DELETE_FAILED` until the objects are removed. A bucket already gone is success.
//!
//! With an external S3 (`--s3-endpoint`) buckets still live in this server's own store:
//! the provider never creates buckets in someone else's S3.

use std::sync::Arc;

use async_trait::async_trait;
use sagestack_engine::model::EpochMillis;
use sagestack_engine::provider::kit::{
    self, created_since_micros, deleted, found, internal as backend, invalid, name_or, not_found,
    type_info,
};
use sagestack_engine::provider::{Native, Outcome};
use sagestack_engine::{
    LOWER_ALNUM, ProviderError, ResourceContext, ResourceState, TypeInfo, partition_for_region,
};
use sagestack_store::{BucketRecord, ObjectStore, StoreError};
use serde_json::{Map, Value, json};

/// The resource type this provider serves.
pub const TYPE_NAME: &str = "AWS::S3::Bucket";
/// S3's limit on bucket names.
const MAX_NAME: usize = 63;
/// Length of CloudFormation's random bucket-name suffix.
const SUFFIX_LEN: usize = 12;

/// Microseconds since the epoch.
pub(crate) fn now_micros() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

/// Why `name` is not a valid bucket name (S3's general-purpose bucket rules), or `Ok`.
pub fn check_bucket_name(name: &str) -> Result<(), &'static str> {
    let len = name.len();
    if !(3..=MAX_NAME).contains(&len) {
        return Err("bucket names must be between 3 and 63 characters long");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
    {
        return Err(
            "bucket names can consist only of lowercase letters, numbers, periods and hyphens",
        );
    }
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if !alnum(name.as_bytes()[0]) || !alnum(name.as_bytes()[len - 1]) {
        return Err("bucket names must begin and end with a letter or number");
    }
    if name.contains("..") {
        return Err("bucket names must not contain two adjacent periods");
    }
    if name.parse::<std::net::Ipv4Addr>().is_ok() {
        return Err("bucket names must not be formatted as an IP address");
    }
    if ["xn--", "sthree-", "amzn-s3-demo-"]
        .iter()
        .any(|p| name.starts_with(p))
    {
        return Err("bucket names must not start with a reserved prefix");
    }
    if ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"]
        .iter()
        .any(|s| name.ends_with(s))
    {
        return Err("bucket names must not end with a reserved suffix");
    }
    Ok(())
}

/// `{stack}-{logical}-{suffix}`, lowercase, within 63 characters: the stack name and the
/// logical id lose characters (the longer one first), never the suffix.
pub fn generated_bucket_name(stack: &str, logical: &str, suffix: &str) -> String {
    let clean = |s: &str| -> String {
        s.chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
            .map(|c| c.to_ascii_lowercase())
            .collect()
    };
    let (stack, logical) = (clean(stack), clean(logical));
    let budget = MAX_NAME.saturating_sub(suffix.len() + 2);
    let (s, l) = kit::shortened(stack.len(), logical.len(), budget);
    format!("{}-{}-{}", &stack[..s], &logical[..l], suffix)
}

/// The host-name suffix of the partition's endpoints.
fn dns_suffix(partition: &str) -> &'static str {
    if partition == "aws-cn" {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    }
}

/// Regions whose website endpoint is `s3-website-{region}` (the newer ones use a dot).
const DASH_WEBSITE_REGIONS: &[&str] = &[
    "us-east-1",
    "us-west-1",
    "us-west-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-northeast-1",
    "eu-west-1",
    "sa-east-1",
    "us-gov-west-1",
];

/// Ref and the `Fn::GetAtt` attributes of bucket `name` in `region`.
fn state(name: &str, region: &str) -> ResourceState {
    let partition = partition_for_region(region);
    let suffix = dns_suffix(partition);
    let website = if DASH_WEBSITE_REGIONS.contains(&region) {
        format!("http://{name}.s3-website-{region}.{suffix}")
    } else {
        format!("http://{name}.s3-website.{region}.{suffix}")
    };
    let mut attributes = Map::new();
    attributes.insert("Arn".into(), format!("arn:{partition}:s3:::{name}").into());
    attributes.insert("DomainName".into(), format!("{name}.s3.{suffix}").into());
    attributes.insert(
        "RegionalDomainName".into(),
        format!("{name}.s3.{region}.{suffix}").into(),
    );
    attributes.insert(
        "DualStackDomainName".into(),
        format!("{name}.s3.dualstack.{region}.{suffix}").into(),
    );
    attributes.insert("WebsiteURL".into(), website.into());
    ResourceState {
        physical_id: name.to_string(),
        attributes,
    }
}

/// The resource's tags, the stack's, and CloudFormation's own, as S3 tag objects.
fn tags(ctx: &ResourceContext, properties: &Value) -> Vec<Value> {
    let mut tags: Vec<Value> = match properties.get("Tags") {
        Some(Value::Array(t)) => t
            .iter()
            .filter(|t| t.get("Key").is_some())
            .map(
                |t| json!({"Key": t["Key"], "Value": t.get("Value").cloned().unwrap_or(json!(""))}),
            )
            .collect(),
        _ => Vec::new(),
    };
    let system = [
        ("aws:cloudformation:stack-name", ctx.stack_name.as_str()),
        ("aws:cloudformation:stack-id", ctx.stack_id.as_str()),
        ("aws:cloudformation:logical-id", ctx.logical_id.as_str()),
    ];
    let extra = ctx
        .stack_tags
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .chain(system);
    for (k, v) in extra {
        if !tags.iter().any(|t| t["Key"] == k) {
            tags.push(json!({"Key": k, "Value": v}));
        }
    }
    tags
}

/// `document` with `Tags` and `Properties` replaced from `properties`; other keys kept.
fn document(ctx: &ResourceContext, properties: &Value, document: &str) -> String {
    let mut doc: Map<String, Value> = serde_json::from_str(document).unwrap_or_default();
    // The stack's account owns the bucket (S3 checks it on every request).
    doc.entry("Owner")
        .or_insert_with(|| Value::String(ctx.account_id.clone()));
    doc.insert("Tags".into(), Value::Array(tags(ctx, properties)));
    let mut recorded = properties.as_object().cloned().unwrap_or_default();
    recorded.remove("BucketName");
    recorded.remove("Tags");
    doc.insert("Properties".into(), Value::Object(recorded));
    Value::Object(doc).to_string()
}

/// See the module documentation.
pub struct BucketProvider {
    store: Arc<dyn ObjectStore>,
}

impl BucketProvider {
    pub fn new(store: Arc<dyn ObjectStore>) -> Self {
        BucketProvider { store }
    }

    /// Schema validation (the bundled registry schema of the type).
    fn check(&self, ctx: &ResourceContext, properties: &Value) -> Result<(), ProviderError> {
        match sagestack_providers::bundle().get(TYPE_NAME) {
            Some(schema) => {
                sagestack_providers::validated(&schema, &ctx.logical_id, properties).map(drop)
            }
            None => Ok(()),
        }
    }
}

/// The generated name of the bucket the create attempt `ctx` makes.
fn attempt_name(ctx: &ResourceContext) -> String {
    kit::attempt_name(ctx, LOWER_ALNUM, SUFFIX_LEN, generated_bucket_name)
}

#[async_trait]
impl Native for BucketProvider {
    type Record = BucketRecord;
    const TYPE_NAME: &'static str = TYPE_NAME;

    fn info(&self) -> TypeInfo {
        match sagestack_providers::bundle().get(TYPE_NAME) {
            Some(schema) => TypeInfo {
                type_name: TYPE_NAME.into(),
                create_only_properties: schema.create_only_top_level(),
                attributes: schema.attribute_names(),
                taggable: true,
                name_property: Some("BucketName".into()),
                amends: Vec::new(),
            },
            None => type_info(
                TYPE_NAME,
                &["BucketName", "ObjectLockEnabled"],
                &[
                    "Arn",
                    "DomainName",
                    "DualStackDomainName",
                    "RegionalDomainName",
                    "WebsiteURL",
                ],
                true,
            )
            .named("BucketName"),
        }
    }

    fn state_of(bucket: &BucketRecord) -> ResourceState {
        state(&bucket.name, &bucket.region)
    }

    fn intended_id(ctx: &ResourceContext, properties: &Value) -> Option<String> {
        Some(name_or(properties, "BucketName", || attempt_name(ctx)))
    }

    fn made_since(bucket: &BucketRecord, started: EpochMillis) -> bool {
        created_since_micros(bucket.creation_micros, started)
    }

    /// Drift: the bucket's tags, which the S3 API changes (`PutBucketTagging`). Its other
    /// settings are kept as the template gave them and no API here changes them.
    fn live_properties(bucket: &BucketRecord, expected: &Value) -> Option<Map<String, Value>> {
        let doc: Map<String, Value> = serde_json::from_str(&bucket.document).unwrap_or_default();
        let tags = doc.get("Tags").cloned().unwrap_or_else(|| json!([]));
        Some(kit::live(expected, [("Tags", tags, json!([]))]))
    }

    async fn create_record(
        &self,
        ctx: &ResourceContext,
        properties: &Value,
    ) -> Outcome<BucketRecord> {
        self.check(ctx, properties)?;
        let name = match properties.get("BucketName") {
            Some(Value::String(n)) => {
                check_bucket_name(n).map_err(|reason| {
                    invalid(
                        ctx,
                        format_args!("#/BucketName: {n} is not a valid bucket name: {reason}"),
                    )
                })?;
                n.clone()
            }
            Some(Value::Null) | None => attempt_name(ctx),
            Some(other) => {
                return Err(invalid(
                    ctx,
                    format_args!("#/BucketName: expected type: String, found: {other}"),
                ));
            }
        };
        let record = BucketRecord {
            name,
            region: ctx.region.clone(),
            creation_micros: now_micros(),
            document: document(ctx, properties, "{}").into(),
        };
        match self.store.create_bucket(&record).await {
            Ok(()) => Ok(record),
            Err(StoreError::AlreadyExists) => Err(ProviderError::AlreadyExists(format!(
                "{} already exists",
                record.name
            ))),
            Err(e) => Err(backend(e)),
        }
    }

    async fn update_record(
        &self,
        ctx: &ResourceContext,
        name: &str,
        properties: &Value,
    ) -> Outcome<BucketRecord> {
        self.check(ctx, properties)?;
        let bucket = self.store.get_bucket(name).await.map_err(backend)?;
        let bucket = found(bucket, TYPE_NAME, name)?;
        let doc = document(ctx, properties, &bucket.document);
        match self.store.update_bucket(name, &doc).await {
            Ok(()) => Ok(BucketRecord {
                document: doc.into(),
                ..bucket
            }),
            Err(StoreError::NotFound) => Err(not_found(TYPE_NAME, name)),
            Err(e) => Err(backend(e)),
        }
    }

    async fn get_record(&self, _: &ResourceContext, name: &str) -> Outcome<Option<BucketRecord>> {
        self.store.get_bucket(name).await.map_err(backend)
    }

    async fn delete_record(&self, _: &ResourceContext, name: &str) -> Outcome<()> {
        deleted(
            self.store.delete_bucket(name).await,
            |e| matches!(e, StoreError::NotFound),
            |e| match e {
                StoreError::Conflict => {
                    ProviderError::Conflict("The bucket you tried to delete is not empty".into())
                }
                e => backend(e),
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::{MemoryObjectStore, object_meta};
    use bytes::Bytes;
    use sagestack_engine::{ResourceProvider, attempt_chars};

    fn ctx(region: &str, stack: &str, logical: &str) -> ResourceContext {
        ResourceContext {
            region: region.into(),
            account_id: "123456789012".into(),
            partition: partition_for_region(region).into(),
            stack_name: stack.into(),
            stack_id: format!("arn:aws:cloudformation:{region}:123456789012:stack/{stack}/x"),
            logical_id: logical.into(),
            resource_type: TYPE_NAME.into(),
            stack_tags: vec![("team".into(), "ml".into()), ("env".into(), "stack".into())],
            started: 0,
        }
    }

    #[test]
    fn bucket_names_follow_s3_rules() {
        for ok in ["abc", "my-bucket.v2", "a1b", &"a".repeat(63), "1.2.3.4a"] {
            assert_eq!(check_bucket_name(ok), Ok(()), "{ok}");
        }
        for bad in [
            "ab",
            &"a".repeat(64),
            "My-Bucket",
            "my_bucket",
            "-abc",
            "abc.",
            "a..b",
            "192.168.1.1",
            "xn--abc",
            "sthree-abc",
            "abc-s3alias",
            "abc--x-s3",
        ] {
            assert!(check_bucket_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn generated_names_are_lowercase_valid_and_fit() {
        let n = generated_bucket_name("My-Stack", "DataBucket", "abcdefghijkl");
        assert_eq!(n, "my-stack-databucket-abcdefghijkl");
        let n = generated_bucket_name(&"S".repeat(128), &"L".repeat(100), "abcdefghijkl");
        assert_eq!(n.len(), 63);
        assert!(n.ends_with("-abcdefghijkl"));
        assert_eq!(check_bucket_name(&n), Ok(()));
        let random = attempt_chars(&ResourceContext::default(), LOWER_ALNUM, SUFFIX_LEN);
        assert_eq!(random.len(), 12);
        assert!(
            random
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        );
    }

    #[test]
    fn attributes_have_the_region_and_partition_formats() {
        let s = state("b", "us-east-1");
        assert_eq!(s.attributes["Arn"], "arn:aws:s3:::b");
        assert_eq!(s.attributes["DomainName"], "b.s3.amazonaws.com");
        assert_eq!(
            s.attributes["RegionalDomainName"],
            "b.s3.us-east-1.amazonaws.com"
        );
        assert_eq!(
            s.attributes["DualStackDomainName"],
            "b.s3.dualstack.us-east-1.amazonaws.com"
        );
        assert_eq!(
            s.attributes["WebsiteURL"],
            "http://b.s3-website-us-east-1.amazonaws.com"
        );
        let s = state("b", "eu-central-1");
        assert_eq!(
            s.attributes["WebsiteURL"],
            "http://b.s3-website.eu-central-1.amazonaws.com"
        );
        let s = state("b", "cn-north-1");
        assert_eq!(s.attributes["Arn"], "arn:aws-cn:s3:::b");
        assert_eq!(
            s.attributes["RegionalDomainName"],
            "b.s3.cn-north-1.amazonaws.com.cn"
        );
        let s = state("b", "us-gov-west-1");
        assert_eq!(s.attributes["Arn"], "arn:aws-us-gov:s3:::b");
    }

    /// The document the store keeps for bucket `name`.
    async fn stored_document(store: &dyn ObjectStore, name: &str) -> Value {
        let bucket = store.get_bucket(name).await.unwrap().unwrap();
        serde_json::from_str(&bucket.document).unwrap()
    }

    #[tokio::test]
    async fn create_update_read_delete() {
        let store = Arc::new(MemoryObjectStore::new());
        let p = BucketProvider::new(store.clone());
        let c = ctx("eu-west-1", "Proj-Stack", "Artifacts");

        let info = p.type_info(TYPE_NAME).unwrap();
        assert!(
            info.create_only_properties
                .contains(&"BucketName".to_string())
        );
        assert!(info.attributes.contains(&"WebsiteURL".to_string()));
        assert!(p.type_info("AWS::S3::BucketPolicy").is_none());

        // Generated name, tags merged (the resource's own win over the stack's).
        let s = p
            .create(
                &c,
                &json!({"Tags": [{"Key": "env", "Value": "mine"}],
                        "VersioningConfiguration": {"Status": "Enabled"}}),
            )
            .await
            .unwrap();
        assert!(
            s.physical_id.starts_with("proj-stack-artifacts-"),
            "{}",
            s.physical_id
        );
        assert_eq!(s.physical_id.len(), "proj-stack-artifacts-".len() + 12);
        let record = store.get_bucket(&s.physical_id).await.unwrap().unwrap();
        assert_eq!(record.region, "eu-west-1");
        let doc: Value = serde_json::from_str(&record.document).unwrap();
        let tag = |k: &str| {
            doc["Tags"]
                .as_array()
                .unwrap()
                .iter()
                .find(|t| t["Key"] == k)
                .map(|t| t["Value"].clone())
        };
        assert_eq!(tag("env"), Some(json!("mine")));
        assert_eq!(tag("team"), Some(json!("ml")));
        assert_eq!(
            tag("aws:cloudformation:logical-id"),
            Some(json!("Artifacts"))
        );
        assert_eq!(
            doc["Properties"]["VersioningConfiguration"]["Status"],
            "Enabled"
        );
        assert_eq!(p.read(&c, &s, &json!({})).await.unwrap(), Some(s.clone()));

        // Named; taken names fail as CloudFormation reports them.
        let named = p
            .create(&c, &json!({"BucketName": "data-bucket"}))
            .await
            .unwrap();
        assert_eq!(named.physical_id, "data-bucket");
        let e = p
            .create(&c, &json!({"BucketName": "data-bucket"}))
            .await
            .unwrap_err();
        assert_eq!(
            e,
            ProviderError::AlreadyExists("data-bucket already exists".into())
        );
        let e = p
            .create(&c, &json!({"BucketName": "Bad_Name"}))
            .await
            .unwrap_err();
        assert!(
            matches!(&e, ProviderError::InvalidRequest(m) if m.starts_with("Properties validation failed for resource Artifacts")),
            "{e:?}"
        );
        let e = p
            .create(
                &c,
                &json!({"VersioningConfiguration": {"Status": "Sometimes"}}),
            )
            .await
            .unwrap_err();
        assert!(
            matches!(&e, ProviderError::InvalidRequest(m) if m.contains("VersioningConfiguration")),
            "{e:?}"
        );

        // Update in place keeps keys the S3 API wrote, replaces tags and properties.
        let mut d = stored_document(&*store, "data-bucket").await;
        d["Versioning"] = json!("Enabled");
        store
            .update_bucket("data-bucket", &d.to_string())
            .await
            .unwrap();
        let updated = p
            .update(
                &c,
                &named,
                &json!({"BucketName": "data-bucket"}),
                &json!({"BucketName": "data-bucket", "Tags": [{"Key": "k", "Value": "v"}]}),
            )
            .await
            .unwrap();
        assert_eq!(updated, named);
        let d = stored_document(&*store, "data-bucket").await;
        assert_eq!(d["Versioning"], "Enabled");
        assert!(
            d["Tags"]
                .as_array()
                .unwrap()
                .iter()
                .any(|t| t["Key"] == "k")
        );

        // A bucket with an object cannot be deleted; once empty it can, twice.
        store
            .put_object(&object_meta("data-bucket", "k", b"x"), Bytes::from("x"))
            .await
            .unwrap();
        let e = p.delete(&c, &named, &json!({})).await.unwrap_err();
        assert_eq!(
            e,
            ProviderError::Conflict("The bucket you tried to delete is not empty".into())
        );
        store.delete_object("data-bucket", "k").await.unwrap();
        p.delete(&c, &named, &json!({})).await.unwrap();
        assert_eq!(p.read(&c, &named, &json!({})).await.unwrap(), None);
        p.delete(&c, &named, &json!({})).await.unwrap();
        let e = p
            .update(&c, &named, &json!({}), &json!({}))
            .await
            .unwrap_err();
        assert!(matches!(e, ProviderError::NotFound(_)), "{e:?}");
    }
}
