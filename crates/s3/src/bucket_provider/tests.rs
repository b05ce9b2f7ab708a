//! Unit tests of the `AWS::S3::Bucket` provider over the in-memory store.

use super::*;
use crate::config::BucketDocument;
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

/// The properties `cdk bootstrap`'s staging bucket sets (CDK's bootstrap template).
fn staging_properties() -> Value {
    json!({
        "BucketName": "cdk-hnb659fds-assets-123456789012-us-east-1",
        "AccessControl": "Private",
        "BucketEncryption": {"ServerSideEncryptionConfiguration": [
            {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}
        ]},
        "PublicAccessBlockConfiguration": {"BlockPublicAcls": true, "BlockPublicPolicy": true,
            "IgnorePublicAcls": true, "RestrictPublicBuckets": true},
        "VersioningConfiguration": {"Status": "Enabled"},
        "LifecycleConfiguration": {"Rules": [
            {"Id": "CleanupOldVersions", "Status": "Enabled",
             "NoncurrentVersionExpiration": {"NoncurrentDays": 365}},
            {"Id": "AbortIncompleteMultipartUploads", "Status": "Enabled",
             "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}}
        ]},
        "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    })
}

#[tokio::test]
async fn configuration_properties_are_kept_as_the_s3_api_reads_them() {
    let store = Arc::new(MemoryObjectStore::new());
    let p = BucketProvider::new(store.clone());
    let c = ctx("us-east-1", "CDKToolkit", "StagingBucket");
    let props = staging_properties();
    let s = p.create(&c, &props).await.unwrap();
    let name = s.physical_id.clone();
    let read = |store: Arc<MemoryObjectStore>| {
        let name = name.clone();
        async move {
            let b = store.get_bucket(&name).await.unwrap().unwrap();
            BucketDocument::parse(&b.document)
        }
    };
    let doc = read(store.clone()).await;
    assert_eq!(doc.versioning().status.as_deref(), Some("Enabled"));
    let e = doc.encryption();
    let d = e.rules[0]
        .apply_server_side_encryption_by_default
        .as_ref()
        .unwrap();
    assert_eq!(d.sse_algorithm, "aws:kms");
    assert_eq!(
        doc.public_access_block(),
        Some(crate::config::PublicAccessBlock::NEW_BUCKET)
    );
    let rules = doc.lifecycle().unwrap().rules;
    assert_eq!(rules.len(), 2);
    assert_eq!(rules[0].id, "CleanupOldVersions");
    assert_eq!(
        rules[0]
            .noncurrent_version_expiration
            .as_ref()
            .unwrap()
            .noncurrent_days,
        Some(365)
    );
    assert_eq!(
        doc.object_ownership().as_deref(),
        Some("BucketOwnerEnforced")
    );
    assert_eq!(doc.acl(), "private");

    // An update that drops them undoes them: versioning suspended (never unversioned),
    // encryption back to SSE-S3, the rest deleted.
    let bare = json!({"BucketName": props["BucketName"]});
    p.update(&c, &s, &props, &bare).await.unwrap();
    let doc = read(store.clone()).await;
    assert_eq!(doc.versioning().status.as_deref(), Some("Suspended"));
    assert_eq!(doc.encryption(), crate::config::Encryption::new_bucket());
    assert_eq!(doc.public_access_block(), None);
    assert_eq!(doc.lifecycle(), None);
    assert_eq!(doc.object_ownership(), None);

    // What S3 refuses fails the resource with S3's message, and changes nothing.
    let mut bad = props.clone();
    bad["LifecycleConfiguration"]["Rules"][0]["NoncurrentVersionExpiration"]["NoncurrentDays"] =
        json!(0);
    let e = p.update(&c, &s, &bare, &bad).await.unwrap_err();
    assert_eq!(
        e,
        ProviderError::InvalidRequest(
            "'NoncurrentDays' for NoncurrentVersionExpiration action must be a positive integer"
                .into()
        )
    );
    assert_eq!(read(store.clone()).await.lifecycle(), None);
    let public = json!({"AccessControl": "PublicRead"});
    let e = p.create(&c, &public).await.unwrap_err();
    assert_eq!(
        e,
        ProviderError::InvalidRequest("The bucket does not allow ACLs".into())
    );
}
