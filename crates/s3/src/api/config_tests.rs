//! Unit tests of the bucket sub-resource operations (`config`, `lifecycle`) through the
//! `S3` trait, over a real SQLite store.

use super::tests::{mb, req};
use super::*;
use s3s::dto::{Timestamp, TimestampFormat};

/// An API over a fresh store with bucket `cfg`.
async fn api() -> (S3Api, tempfile::TempDir) {
    let (api, dir) = super::tests::api().await;
    mb(&api, "cfg").await;
    (api, dir)
}

/// The error's code and HTTP status.
fn code<T>(r: S3Result<T>) -> (String, u16) {
    let Err(e) = r else {
        panic!("expected an error")
    };
    let status = e
        .status_code()
        .or_else(|| e.code().status_code())
        .map_or(0, |s| s.as_u16());
    (e.code().as_str().to_owned(), status)
}

fn named(code: &str, status: u16) -> (String, u16) {
    (code.to_owned(), status)
}

fn versioning_input(bucket: &str, status: Option<&'static str>) -> PutBucketVersioningInput {
    PutBucketVersioningInput {
        bucket: bucket.into(),
        checksum_algorithm: None,
        content_md5: None,
        expected_bucket_owner: None,
        mfa: None,
        versioning_configuration: VersioningConfiguration {
            status: status.map(BucketVersioningStatus::from_static),
            mfa_delete: None,
        },
    }
}

fn pab_input(c: PublicAccessBlockConfiguration) -> PutPublicAccessBlockInput {
    PutPublicAccessBlockInput {
        bucket: "cfg".into(),
        checksum_algorithm: None,
        content_md5: None,
        expected_bucket_owner: None,
        public_access_block_configuration: c,
    }
}

#[tokio::test]
async fn versioning_is_stored_and_returned() {
    let (api, _dir) = api().await;
    let get = || {
        api.get_bucket_versioning(req(GetBucketVersioningInput {
            bucket: "cfg".into(),
            ..Default::default()
        }))
    };
    let never = get().await.unwrap().output;
    assert_eq!((never.status, never.mfa_delete), (None, None));
    let put = |status: &'static str| {
        api.put_bucket_versioning(req(versioning_input("cfg", Some(status))))
    };
    put("Enabled").await.unwrap();
    let v = get().await.unwrap().output;
    assert_eq!(v.status.as_ref().map(|s| s.as_str()), Some("Enabled"));
    put("Suspended").await.unwrap();
    let v = get().await.unwrap().output;
    assert_eq!(v.status.as_ref().map(|s| s.as_str()), Some("Suspended"));
    assert_eq!(code(put("Off").await), named("MalformedXML", 400));
    // Objects are still overwritten in place: no version id.
    let out = api
        .put_object(req(PutObjectInput {
            bucket: "cfg".into(),
            key: "k".into(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .output;
    assert_eq!(out.version_id, None);
}

#[tokio::test]
async fn policy_put_get_status_delete() {
    let (api, _dir) = api().await;
    let get = || {
        api.get_bucket_policy(req(GetBucketPolicyInput {
            bucket: "cfg".into(),
            ..Default::default()
        }))
    };
    let status = || {
        api.get_bucket_policy_status(req(GetBucketPolicyStatusInput {
            bucket: "cfg".into(),
            ..Default::default()
        }))
    };
    let put = |policy: &str| {
        api.put_bucket_policy(req(PutBucketPolicyInput {
            bucket: "cfg".into(),
            policy: policy.to_owned(),
            ..Default::default()
        }))
    };
    assert_eq!(code(get().await), named("NoSuchBucketPolicy", 404));
    assert_eq!(code(status().await), named("NoSuchBucketPolicy", 404));
    assert_eq!(code(put("{").await), named("MalformedPolicy", 400));
    let public = r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::cfg/*"}]}"#;
    // Block Public Access is on for a new bucket.
    assert_eq!(code(put(public).await), named("AccessDenied", 403));
    api.put_public_access_block(req(pab_input(PublicAccessBlockConfiguration::default())))
        .await
        .unwrap();
    put(public).await.unwrap();
    assert_eq!(get().await.unwrap().output.policy.as_deref(), Some(public));
    let s = status().await.unwrap().output.policy_status.unwrap();
    assert_eq!(s.is_public, Some(true));
    api.delete_bucket_policy(req(DeleteBucketPolicyInput {
        bucket: "cfg".into(),
        ..Default::default()
    }))
    .await
    .unwrap();
    assert_eq!(code(get().await), named("NoSuchBucketPolicy", 404));
}

#[tokio::test]
async fn public_access_block_defaults_and_deletion() {
    let (api, _dir) = api().await;
    let get = || {
        api.get_public_access_block(req(GetPublicAccessBlockInput {
            bucket: "cfg".into(),
            ..Default::default()
        }))
    };
    let pab = get()
        .await
        .unwrap()
        .output
        .public_access_block_configuration
        .unwrap();
    assert_eq!(pab.block_public_acls, Some(true));
    assert_eq!(pab.restrict_public_buckets, Some(true));
    api.put_public_access_block(req(pab_input(PublicAccessBlockConfiguration {
        block_public_policy: Some(true),
        ..Default::default()
    })))
    .await
    .unwrap();
    let pab = get()
        .await
        .unwrap()
        .output
        .public_access_block_configuration
        .unwrap();
    assert_eq!(
        (pab.block_public_acls, pab.block_public_policy),
        (Some(false), Some(true))
    );
    api.delete_public_access_block(req(DeletePublicAccessBlockInput {
        bucket: "cfg".into(),
        ..Default::default()
    }))
    .await
    .unwrap();
    assert_eq!(
        code(get().await),
        named("NoSuchPublicAccessBlockConfiguration", 404)
    );
}

#[tokio::test]
async fn encryption_defaults_to_sse_s3_and_returns_there() {
    let (api, _dir) = api().await;
    let get = || async {
        let rules = api
            .get_bucket_encryption(req(GetBucketEncryptionInput {
                bucket: "cfg".into(),
                ..Default::default()
            }))
            .await
            .unwrap()
            .output
            .server_side_encryption_configuration
            .unwrap()
            .rules;
        let rule = rules.into_iter().next().unwrap();
        let d = rule.apply_server_side_encryption_by_default.unwrap();
        (
            d.sse_algorithm.as_str().to_owned(),
            d.kms_master_key_id,
            rule.bucket_key_enabled,
        )
    };
    assert_eq!(get().await, ("AES256".into(), None, Some(false)));
    let put = |algorithm: &'static str, key: Option<&str>| {
        api.put_bucket_encryption(req(PutBucketEncryptionInput {
            bucket: "cfg".into(),
            checksum_algorithm: None,
            content_md5: None,
            expected_bucket_owner: None,
            server_side_encryption_configuration: ServerSideEncryptionConfiguration {
                rules: vec![ServerSideEncryptionRule {
                    apply_server_side_encryption_by_default: Some(ServerSideEncryptionByDefault {
                        sse_algorithm: ServerSideEncryption::from_static(algorithm),
                        kms_master_key_id: key.map(Into::into),
                    }),
                    bucket_key_enabled: Some(true),
                }],
            },
        }))
    };
    put("aws:kms", Some("alias/data")).await.unwrap();
    assert_eq!(
        get().await,
        ("aws:kms".into(), Some("alias/data".into()), Some(true))
    );
    assert_eq!(
        code(put("AES256", Some("alias/data")).await),
        named("InvalidArgument", 400)
    );
    assert_eq!(code(put("ROT13", None).await), named("MalformedXML", 400));
    api.delete_bucket_encryption(req(DeleteBucketEncryptionInput {
        bucket: "cfg".into(),
        ..Default::default()
    }))
    .await
    .unwrap();
    assert_eq!(get().await, ("AES256".into(), None, Some(false)));
}

fn lifecycle_rule(id: Option<&str>, days: i32) -> LifecycleRule {
    LifecycleRule {
        id: id.map(Into::into),
        status: ExpirationStatus::from_static(ExpirationStatus::ENABLED),
        filter: Some(LifecycleRuleFilter {
            prefix: Some("logs/".into()),
            ..Default::default()
        }),
        expiration: Some(LifecycleExpiration {
            days: Some(days),
            ..Default::default()
        }),
        abort_incomplete_multipart_upload: None,
        noncurrent_version_expiration: None,
        noncurrent_version_transitions: None,
        prefix: None,
        transitions: None,
    }
}

#[tokio::test]
async fn lifecycle_rules_are_stored_checked_and_deleted() {
    let (api, _dir) = api().await;
    let get = || {
        api.get_bucket_lifecycle_configuration(req(GetBucketLifecycleConfigurationInput {
            bucket: "cfg".into(),
            ..Default::default()
        }))
    };
    let put = |rules: Vec<LifecycleRule>| {
        api.put_bucket_lifecycle_configuration(req(PutBucketLifecycleConfigurationInput {
            bucket: "cfg".into(),
            lifecycle_configuration: Some(BucketLifecycleConfiguration { rules }),
            ..Default::default()
        }))
    };
    assert_eq!(
        code(get().await),
        named("NoSuchLifecycleConfiguration", 404)
    );
    let mut dated = lifecycle_rule(None, 1);
    dated.expiration = Some(LifecycleExpiration {
        date: Some(Timestamp::parse(TimestampFormat::DateTime, "2031-02-03T00:00:00Z").unwrap()),
        ..Default::default()
    });
    let put_out = put(vec![lifecycle_rule(Some("logs"), 30), dated])
        .await
        .unwrap()
        .output;
    assert_eq!(
        put_out
            .transition_default_minimum_object_size
            .as_ref()
            .map(|s| s.as_str()),
        Some("all_storage_classes_128K")
    );
    let rules = get().await.unwrap().output.rules.unwrap();
    assert_eq!(rules.len(), 2);
    assert_eq!(rules[0].id.as_deref(), Some("logs"));
    assert_eq!(rules[0].expiration.as_ref().unwrap().days, Some(30));
    assert_eq!(
        rules[0].filter.as_ref().unwrap().prefix.as_deref(),
        Some("logs/")
    );
    assert_eq!(rules[1].id.as_ref().map(String::len), Some(48));
    let date = rules[1].expiration.as_ref().unwrap().date.clone().unwrap();
    assert_eq!(
        crate::config::lifecycle::date_text(&date).unwrap(),
        "2031-02-03T00:00:00.000Z"
    );
    assert_eq!(
        code(put(vec![lifecycle_rule(Some("a"), 0)]).await),
        named("InvalidArgument", 400)
    );
    let mut idle = lifecycle_rule(Some("a"), 1);
    idle.expiration = None;
    assert_eq!(code(put(vec![idle]).await), named("InvalidRequest", 400));
    assert_eq!(code(put(vec![]).await), named("MalformedXML", 400));
    // A refused configuration leaves the stored one alone.
    assert_eq!(get().await.unwrap().output.rules.unwrap().len(), 2);
    api.delete_bucket_lifecycle(req(DeleteBucketLifecycleInput {
        bucket: "cfg".into(),
        ..Default::default()
    }))
    .await
    .unwrap();
    assert_eq!(
        code(get().await),
        named("NoSuchLifecycleConfiguration", 404)
    );
}

#[tokio::test]
async fn ownership_and_acl() {
    let (api, _dir) = api().await;
    let ownership = || async {
        api.get_bucket_ownership_controls(req(GetBucketOwnershipControlsInput {
            bucket: "cfg".into(),
            ..Default::default()
        }))
        .await
        .map(|r| {
            r.output.ownership_controls.unwrap().rules[0]
                .object_ownership
                .as_str()
                .to_owned()
        })
    };
    assert_eq!(ownership().await.unwrap(), "BucketOwnerEnforced");
    let acl = |canned: &'static str| {
        api.put_bucket_acl(req(PutBucketAclInput {
            bucket: "cfg".into(),
            acl: Some(BucketCannedACL::from_static(canned)),
            ..Default::default()
        }))
    };
    acl("private").await.unwrap();
    assert_eq!(
        code(acl("public-read").await),
        named("AccessControlListNotSupported", 400)
    );
    api.put_bucket_ownership_controls(req(PutBucketOwnershipControlsInput {
        bucket: "cfg".into(),
        content_md5: None,
        expected_bucket_owner: None,
        ownership_controls: OwnershipControls {
            rules: vec![OwnershipControlsRule {
                object_ownership: ObjectOwnership::from_static(ObjectOwnership::OBJECT_WRITER),
            }],
        },
    }))
    .await
    .unwrap();
    assert_eq!(ownership().await.unwrap(), "ObjectWriter");
    acl("log-delivery-write").await.unwrap();
    let grants = api
        .get_bucket_acl(req(GetBucketAclInput {
            bucket: "cfg".into(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .output
        .grants
        .unwrap();
    let described: Vec<(Option<String>, Option<String>, String)> = grants
        .into_iter()
        .map(|g| {
            let grantee = g.grantee.unwrap();
            (
                grantee.id,
                grantee.uri,
                g.permission.unwrap().as_str().to_owned(),
            )
        })
        .collect();
    let log_delivery = Some("http://acs.amazonaws.com/groups/s3/LogDelivery".to_owned());
    assert_eq!(
        described,
        [
            (Some(OWNER_ID.to_owned()), None, "FULL_CONTROL".to_owned()),
            (None, log_delivery.clone(), "WRITE".to_owned()),
            (None, log_delivery, "READ_ACP".to_owned()),
        ]
    );
    api.delete_bucket_ownership_controls(req(DeleteBucketOwnershipControlsInput {
        bucket: "cfg".into(),
        ..Default::default()
    }))
    .await
    .unwrap();
    assert_eq!(
        code(ownership().await),
        named("OwnershipControlsNotFoundError", 404)
    );
}

#[tokio::test]
async fn unconfigured_sub_resources_answer_as_on_aws() {
    let (api, _dir) = api().await;
    let bucket = || BucketName::from("cfg");
    assert_eq!(
        code(
            api.get_bucket_cors(req(GetBucketCorsInput {
                bucket: bucket(),
                ..Default::default()
            }))
            .await
        ),
        named("NoSuchCORSConfiguration", 404)
    );
    assert_eq!(
        code(
            api.get_bucket_website(req(GetBucketWebsiteInput {
                bucket: bucket(),
                ..Default::default()
            }))
            .await
        ),
        named("NoSuchWebsiteConfiguration", 404)
    );
    assert_eq!(
        code(
            api.get_bucket_replication(req(GetBucketReplicationInput {
                bucket: bucket(),
                ..Default::default()
            }))
            .await
        ),
        named("ReplicationConfigurationNotFoundError", 404)
    );
    assert_eq!(
        code(
            api.get_object_lock_configuration(req(GetObjectLockConfigurationInput {
                bucket: bucket(),
                ..Default::default()
            }))
            .await
        ),
        named("ObjectLockConfigurationNotFoundError", 404)
    );
    let payer = api
        .get_bucket_request_payment(req(GetBucketRequestPaymentInput {
            bucket: bucket(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .output
        .payer;
    assert_eq!(payer.as_ref().map(|p| p.as_str()), Some("BucketOwner"));
    let logging = api
        .get_bucket_logging(req(GetBucketLoggingInput {
            bucket: bucket(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .output;
    assert!(logging.logging_enabled.is_none());
    let accelerate = api
        .get_bucket_accelerate_configuration(req(GetBucketAccelerateConfigurationInput {
            bucket: bucket(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .output;
    assert!(accelerate.status.is_none());
    // A missing bucket is NoSuchBucket first.
    assert_eq!(
        code(
            api.get_bucket_cors(req(GetBucketCorsInput {
                bucket: "absent".into(),
                ..Default::default()
            }))
            .await
        ),
        named("NoSuchBucket", 404)
    );
    assert_eq!(
        code(
            api.put_bucket_versioning(req(versioning_input("absent", None)))
                .await
        ),
        named("NoSuchBucket", 404)
    );
}

#[tokio::test]
async fn a_deleted_bucket_takes_its_configuration_with_it() {
    let (api, _dir) = api().await;
    api.put_bucket_versioning(req(versioning_input("cfg", Some("Enabled"))))
        .await
        .unwrap();
    api.delete_bucket(req(DeleteBucketInput {
        bucket: "cfg".into(),
        ..Default::default()
    }))
    .await
    .unwrap();
    api.create_bucket(req(CreateBucketInput {
        bucket: "cfg".into(),
        object_ownership: Some(ObjectOwnership::from_static("ObjectWriter")),
        ..Default::default()
    }))
    .await
    .unwrap();
    let v = api
        .get_bucket_versioning(req(GetBucketVersioningInput {
            bucket: "cfg".into(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .output;
    assert_eq!(v.status, None);
    // CreateBucket's headers: an ACL ownership forbids is refused.
    let refused = api
        .create_bucket(req(CreateBucketInput {
            bucket: "acl-bucket".into(),
            acl: Some(BucketCannedACL::from_static("public-read")),
            ..Default::default()
        }))
        .await;
    assert_eq!(
        code(refused),
        named("InvalidBucketAclWithObjectOwnership", 400)
    );
}
