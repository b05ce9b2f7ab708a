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
//!   The other properties are kept under `"Properties"`; those that configure the bucket
//!   (`VersioningConfiguration`, `BucketEncryption`, `PublicAccessBlockConfiguration`,
//!   `LifecycleConfiguration`, `OwnershipControls`, `AccessControl`) are also written
//!   as the S3 API keeps them ([`properties`]), so `GetBucketVersioning` and the rest
//!   read them back. Nothing enforces them (no encryption, expiry, notifications or
//!   website hosting happens here). Other keys of the document (written by the S3
//!   API) are left alone by updates.
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

use crate::config::{BucketDocument, ConfigError, UpdateError, update_document};

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

/// `document` with `Tags` and `Properties` replaced from `properties`, and the bucket
/// configuration the properties set ([`properties::apply`], against the properties
/// recorded before); other keys kept. A configuration S3 refuses fails the resource
/// with S3's message.
fn document(
    ctx: &ResourceContext,
    properties: &Value,
    doc: &mut BucketDocument,
) -> Result<(), ConfigError> {
    let previous = doc.fields().get("Properties").cloned();
    properties::apply(doc, properties, previous.as_ref())?;
    let fields = doc.fields();
    // The stack's account owns the bucket (S3 checks it on every request).
    fields
        .entry("Owner")
        .or_insert_with(|| Value::String(ctx.account_id.clone()));
    fields.insert("Tags".into(), Value::Array(tags(ctx, properties)));
    let mut recorded = properties.as_object().cloned().unwrap_or_default();
    recorded.remove("BucketName");
    recorded.remove("Tags");
    fields.insert("Properties".into(), Value::Object(recorded));
    Ok(())
}

/// A configuration S3 refuses, as the resource's failure: S3's message.
fn refused(e: ConfigError) -> ProviderError {
    ProviderError::InvalidRequest(e.to_string())
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
    /// settings are not compared (the S3 API can change them too: a gap).
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
        let mut doc = BucketDocument::default();
        document(ctx, properties, &mut doc).map_err(refused)?;
        let record = BucketRecord {
            name,
            region: ctx.region.clone(),
            creation_micros: now_micros(),
            document: doc.to_json().into(),
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
        let updated =
            update_document(&self.store, name, |doc| document(ctx, properties, doc)).await;
        match updated {
            Ok(()) => {}
            Err(UpdateError::NoSuchBucket) => return Err(not_found(TYPE_NAME, name)),
            Err(UpdateError::Invalid(e)) => return Err(refused(e)),
            Err(UpdateError::Store(e)) => return Err(backend(e)),
        }
        let bucket = self.store.get_bucket(name).await.map_err(backend)?;
        found(bucket, TYPE_NAME, name)
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

mod properties;
#[cfg(test)]
mod tests;
