//! Unit tests of the bucket configuration model: a new bucket's defaults, S3's checks,
//! and the document they live in.

use super::lifecycle::{Expiration, Filter, Rule, Transition};
use super::*;
use serde_json::json;

#[test]
fn a_new_bucket_reads_as_aws_makes_one() {
    let doc = BucketDocument::parse(r#"{"Owner":"123456789012"}"#);
    assert_eq!(doc.versioning(), Versioning::default());
    assert_eq!(doc.policy(), None);
    assert_eq!(
        doc.public_access_block(),
        Some(PublicAccessBlock::NEW_BUCKET)
    );
    assert_eq!(doc.encryption(), Encryption::new_bucket());
    assert_eq!(doc.lifecycle(), None);
    assert_eq!(
        doc.object_ownership().as_deref(),
        Some("BucketOwnerEnforced")
    );
    assert_eq!(doc.acl(), "private");
    // Garbage (or a document written by something else) reads the same way.
    assert_eq!(BucketDocument::parse("not json"), BucketDocument::default());
    let odd = BucketDocument::parse(r#"{"Versioning":"Enabled","Encryption":7}"#);
    assert_eq!(odd.versioning(), Versioning::default());
    assert_eq!(odd.encryption(), Encryption::new_bucket());
}

#[test]
fn settings_are_kept_beside_other_keys_and_deletion_is_remembered() {
    let mut doc = BucketDocument::parse(r#"{"Owner":"1","Tags":[{"Key":"k","Value":"v"}]}"#);
    doc.set_versioning(&Versioning {
        status: Some("Enabled".into()),
        mfa_delete: None,
    });
    doc.set_public_access_block(None);
    doc.set_object_ownership(None);
    doc.set_policy(Some("{}"));
    let stored: Value = serde_json::from_str(&doc.to_json()).unwrap();
    assert_eq!(
        stored,
        json!({"Owner": "1", "Tags": [{"Key": "k", "Value": "v"}],
               "Versioning": {"Status": "Enabled"}, "PublicAccessBlock": null,
               "OwnershipControls": null, "Policy": "{}"})
    );
    let doc = BucketDocument::parse(&doc.to_json());
    assert_eq!(doc.public_access_block(), None);
    assert_eq!(doc.object_ownership(), None);
    let mut doc = doc;
    doc.set_policy(None);
    doc.set_encryption(None);
    assert_eq!(doc.policy(), None);
    assert!(!doc.to_json().contains("Policy"));
}

#[test]
fn versioning_changes_follow_s3() {
    let never = Versioning::default();
    let on = never.changed(Some("Enabled"), None, None).unwrap();
    assert_eq!(on.status.as_deref(), Some("Enabled"));
    assert_eq!(on.mfa_delete, None);
    let off = on.changed(Some("Suspended"), None, None).unwrap();
    assert_eq!(off.status.as_deref(), Some("Suspended"));
    assert_eq!(
        never.changed(Some("Disabled"), None, None),
        Err(malformed())
    );
    assert_eq!(
        never.changed(None, Some("Sometimes"), None),
        Err(malformed())
    );
    // MFA Delete: only with an x-amz-mfa header, then every change needs one.
    assert!(matches!(
        on.changed(Some("Enabled"), Some("Enabled"), None),
        Err(ConfigError::AccessDenied(_))
    ));
    assert!(matches!(
        on.changed(Some("Enabled"), Some("Enabled"), Some("123456")),
        Err(ConfigError::InvalidArgument(_))
    ));
    let mfa = on
        .changed(
            Some("Enabled"),
            Some("Enabled"),
            Some("arn:aws:iam::1:mfa/root 123456"),
        )
        .unwrap();
    assert_eq!(mfa.mfa_delete.as_deref(), Some("Enabled"));
    assert!(matches!(
        mfa.changed(Some("Suspended"), None, None),
        Err(ConfigError::AccessDenied(_))
    ));
    // Disabled on a bucket without MFA Delete changes nothing and needs no MFA.
    let plain = on.changed(Some("Enabled"), Some("Disabled"), None).unwrap();
    assert_eq!(plain.mfa_delete.as_deref(), Some("Disabled"));
}

#[test]
fn encryption_is_checked_as_s3_checks_it() {
    assert_eq!(Encryption::new_bucket().validate(), Ok(()));
    let rule = |algorithm: &str, key: Option<&str>| Encryption {
        rules: vec![EncryptionRule {
            apply_server_side_encryption_by_default: Some(EncryptionDefault {
                sse_algorithm: algorithm.into(),
                kms_master_key_id: key.map(Into::into),
            }),
            bucket_key_enabled: Some(true),
        }],
    };
    assert_eq!(rule("aws:kms", Some("alias/k")).validate(), Ok(()));
    assert_eq!(rule("aws:kms:dsse", None).validate(), Ok(()));
    assert_eq!(rule("DES", None).validate(), Err(malformed()));
    assert!(matches!(
        rule("AES256", Some("alias/k")).validate(),
        Err(ConfigError::InvalidArgument(_))
    ));
    assert_eq!(Encryption { rules: vec![] }.validate(), Err(malformed()));
}

#[test]
fn acls_need_ownership_and_block_public_access_to_allow_them() {
    let mut doc = BucketDocument::default();
    assert_eq!(doc.set_acl("private"), Ok(()));
    assert!(matches!(
        doc.set_acl("public-read"),
        Err(ConfigError::AclNotSupported(_))
    ));
    assert!(matches!(
        doc.set_acl("bucket-owner-read"),
        Err(ConfigError::InvalidArgument(_))
    ));
    doc.set_ownership_checked("ObjectWriter").unwrap();
    assert_eq!(doc.set_acl("log-delivery-write"), Ok(()));
    assert!(matches!(
        doc.set_acl("public-read"),
        Err(ConfigError::AccessDenied(_))
    ));
    doc.set_public_access_block(None);
    assert_eq!(doc.set_acl("public-read"), Ok(()));
    assert_eq!(doc.acl(), "public-read");
    // ACLs cannot be disabled while the ACL grants others.
    assert!(matches!(
        doc.set_ownership_checked("BucketOwnerEnforced"),
        Err(ConfigError::AclWithObjectOwnership(_))
    ));
    assert_eq!(doc.set_ownership_checked("Nobody"), Err(malformed()));
    assert_eq!(
        validate_ownership(&["ObjectWriter".into(), "ObjectWriter".into()]),
        Err(malformed())
    );

    // CreateBucket's headers.
    let mut created = BucketDocument::default();
    assert!(matches!(
        created.set_created_with(None, Some("public-read")),
        Err(ConfigError::AclWithObjectOwnership(_))
    ));
    assert!(matches!(
        created.set_created_with(Some("ObjectWriter"), Some("public-read")),
        Err(ConfigError::AclWithBlockPublicAccess(_))
    ));
    let mut created = BucketDocument::default();
    created
        .set_created_with(Some("BucketOwnerPreferred"), Some("log-delivery-write"))
        .unwrap();
    assert_eq!(created.acl(), "log-delivery-write");
    assert_eq!(
        created.object_ownership().as_deref(),
        Some("BucketOwnerPreferred")
    );
}

#[test]
fn public_policies_are_refused_while_blocked() {
    let public = r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}"#;
    let mut doc = BucketDocument::default();
    assert!(matches!(
        doc.set_policy_checked("b", public),
        Err(ConfigError::AccessDenied(_))
    ));
    doc.set_public_access_block(Some(&PublicAccessBlock::default()));
    doc.set_policy_checked("b", public).unwrap();
    assert_eq!(doc.policy().as_deref(), Some(public));
}

fn rule(id: &str) -> Rule {
    Rule {
        id: id.into(),
        status: "Enabled".into(),
        filter: Some(Filter::default()),
        expiration: Some(Expiration {
            days: Some(30),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn check(rules: Vec<Rule>) -> Result<(), ConfigError> {
    Lifecycle {
        rules,
        transition_default_minimum_object_size: None,
    }
    .validate()
}

#[test]
fn lifecycle_rules_are_checked_as_s3_checks_them() {
    assert_eq!(check(vec![rule("a"), rule("b")]), Ok(()));
    assert_eq!(check(vec![]), Err(malformed()));
    let message = |r: Result<(), ConfigError>| r.unwrap_err().to_string();
    assert_eq!(
        message(check(vec![rule("a"), rule("a")])),
        "Rule ID must be unique. Found same ID for more than one rule"
    );
    assert_eq!(
        message(check(vec![rule(&"x".repeat(256))])),
        "ID length should not exceed allowed limit of 255"
    );
    let with = |f: fn(&mut Rule)| {
        let mut r = rule("r");
        f(&mut r);
        check(vec![r])
    };
    assert_eq!(with(|r| r.status = "On".into()), Err(malformed()));
    // Prefix and Filter: exactly one.
    assert_eq!(with(|r| r.prefix = Some("p".into())), Err(malformed()));
    assert_eq!(with(|r| r.filter = None), Err(malformed()));
    assert_eq!(
        with(|r| {
            r.filter = None;
            r.prefix = Some("p".into());
        }),
        Ok(())
    );
    assert_eq!(
        with(|r| {
            r.filter = Some(Filter {
                prefix: Some("p".into()),
                object_size_greater_than: Some(10),
                ..Default::default()
            })
        }),
        Err(malformed())
    );
    assert_eq!(
        message(with(|r| r.expiration = None)),
        "At least one action needs to be specified in a rule"
    );
    assert!(matches!(
        with(|r| r.expiration = None),
        Err(ConfigError::InvalidRequest(_))
    ));
    assert_eq!(
        message(with(|r| r.expiration.as_mut().unwrap().days = Some(0))),
        "'Days' for Expiration action must be a positive integer"
    );
    assert_eq!(
        with(|r| r.expiration.as_mut().unwrap().expired_object_delete_marker = Some(true)),
        Err(malformed())
    );
    assert_eq!(
        message(with(|r| {
            r.expiration = Some(Expiration {
                date: Some("2030-01-01T12:00:00.000Z".into()),
                ..Default::default()
            })
        })),
        "'Date' must be at midnight GMT"
    );
    assert_eq!(
        message(with(|r| {
            r.transitions = vec![Transition {
                days: Some(10),
                storage_class: Some("STANDARD_IA".into()),
                date: None,
            }]
        })),
        "'Days' in Transition action must be greater than or equal to 30 for storageClass 'STANDARD_IA'"
    );
    assert_eq!(
        with(|r| {
            r.transitions = vec![Transition {
                days: Some(10),
                storage_class: Some("TAPE".into()),
                date: None,
            }]
        }),
        Err(malformed())
    );
    assert_eq!(
        with(|r| {
            r.transitions = vec![Transition {
                days: Some(0),
                storage_class: Some("GLACIER".into()),
                date: None,
            }]
        }),
        Ok(())
    );
    assert_eq!(
        lifecycle::normalized_date("2030-01-01T00:00:00Z").as_deref(),
        Ok("2030-01-01T00:00:00.000Z")
    );
    assert_eq!(lifecycle::normalized_date("2030-01-01"), Err(malformed()));
    let l = Lifecycle {
        rules: vec![rule("a")],
        transition_default_minimum_object_size: Some("tiny".into()),
    };
    assert!(matches!(l.validate(), Err(ConfigError::InvalidArgument(_))));
    assert_eq!(lifecycle::generated_id().len(), 48);
}
