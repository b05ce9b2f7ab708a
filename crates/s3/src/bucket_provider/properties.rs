//! The `AWS::S3::Bucket` properties that configure the bucket, written into its document
//! as the S3 API keeps them ([`crate::config`]), so that `GetBucketVersioning`,
//! `GetBucketEncryption`, `GetPublicAccessBlock`, `GetBucketLifecycleConfiguration`,
//! `GetBucketOwnershipControls` and `GetBucketAcl` read back what the template set:
//! `VersioningConfiguration`, `BucketEncryption`, `PublicAccessBlockConfiguration`,
//! `LifecycleConfiguration`, `OwnershipControls` and `AccessControl`.
//!
//! Checked as S3 checks them (a refusal fails the resource with S3's message). A
//! property the template leaves out keeps the new bucket's default on create; one that
//! an update removes is undone: versioning that was enabled is suspended (a bucket
//! never returns to unversioned), encryption returns to SSE-S3, Block Public Access,
//! Object Ownership and lifecycle rules are deleted, the ACL returns to `private`.

use serde_json::Value;

use crate::config::lifecycle::{
    AbortIncompleteMultipartUpload, And, Expiration, Filter, FilterTag, Lifecycle,
    NoncurrentVersionExpiration, NoncurrentVersionTransition, Rule, Transition, generated_id,
    normalized_date,
};
use crate::config::{
    BucketDocument, ConfigError, Encryption, EncryptionDefault, EncryptionRule, PublicAccessBlock,
    malformed,
};

/// Writes the configuration `properties` give into `doc`; `previous` are the properties
/// the bucket had (`None` on create).
pub(super) fn apply(
    doc: &mut BucketDocument,
    properties: &Value,
    previous: Option<&Value>,
) -> Result<(), ConfigError> {
    let given = |key: &str| properties.get(key).filter(|v| !v.is_null());
    let removed = |key: &str| {
        given(key).is_none() && previous.is_some_and(|p| p.get(key).is_some_and(|v| !v.is_null()))
    };

    if let Some(v) = given("VersioningConfiguration") {
        let status = v.get("Status").and_then(Value::as_str);
        let changed = doc.versioning().changed(status, None, None)?;
        doc.set_versioning(&changed);
    } else if removed("VersioningConfiguration")
        && doc.versioning().status.as_deref() == Some("Enabled")
    {
        let suspended = doc.versioning().changed(Some("Suspended"), None, None)?;
        doc.set_versioning(&suspended);
    }

    if let Some(e) = given("BucketEncryption") {
        let e = encryption(e)?;
        e.validate()?;
        doc.set_encryption(Some(&e));
    } else if removed("BucketEncryption") {
        doc.set_encryption(None);
    }

    if let Some(p) = given("PublicAccessBlockConfiguration") {
        let flag = |k: &str| p.get(k).and_then(Value::as_bool).unwrap_or(false);
        doc.set_public_access_block(Some(&PublicAccessBlock {
            block_public_acls: flag("BlockPublicAcls"),
            ignore_public_acls: flag("IgnorePublicAcls"),
            block_public_policy: flag("BlockPublicPolicy"),
            restrict_public_buckets: flag("RestrictPublicBuckets"),
        }));
    } else if removed("PublicAccessBlockConfiguration") {
        doc.set_public_access_block(None);
    }

    if let Some(o) = given("OwnershipControls") {
        let rules: Vec<String> = o
            .get("Rules")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|r| r.get("ObjectOwnership").and_then(Value::as_str))
            .map(str::to_owned)
            .collect();
        let ownership = crate::config::validate_ownership(&rules)?;
        doc.set_ownership_checked(&ownership)?;
    } else if removed("OwnershipControls") {
        doc.set_object_ownership(None);
    }

    if let Some(acl) = given("AccessControl").and_then(Value::as_str) {
        doc.set_acl(&canned_acl(acl))?;
    } else if removed("AccessControl") {
        doc.set_acl("private")?;
    }

    if let Some(l) = given("LifecycleConfiguration") {
        let l = lifecycle(l)?;
        l.validate()?;
        doc.set_lifecycle(Some(&l));
    } else if removed("LifecycleConfiguration") {
        doc.set_lifecycle(None);
    }
    Ok(())
}

/// CloudFormation's `AccessControl` names (`PublicRead`) as S3's canned ACLs
/// (`public-read`).
fn canned_acl(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('-');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

fn encryption(e: &Value) -> Result<Encryption, ConfigError> {
    let rules = e
        .get("ServerSideEncryptionConfiguration")
        .and_then(Value::as_array)
        .ok_or_else(malformed)?;
    Ok(Encryption {
        rules: rules
            .iter()
            .map(|r| EncryptionRule {
                apply_server_side_encryption_by_default: r
                    .get("ServerSideEncryptionByDefault")
                    .map(|d| EncryptionDefault {
                        sse_algorithm: text(d, "SSEAlgorithm").unwrap_or_default(),
                        kms_master_key_id: text(d, "KMSMasterKeyID"),
                    }),
                bucket_key_enabled: r.get("BucketKeyEnabled").and_then(Value::as_bool),
            })
            .collect(),
    })
}

fn text(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_owned)
}

fn int(v: &Value, key: &str) -> Option<i32> {
    v.get(key)
        .and_then(Value::as_i64)
        .and_then(|n| i32::try_from(n).ok())
}

/// A size in bytes, given as a string of digits in the template.
fn size(v: &Value, key: &str) -> Option<i64> {
    match v.get(key)? {
        Value::String(s) => s.parse().ok(),
        n => n.as_i64(),
    }
}

/// A storage class as S3 names it (`Glacier`, which CloudFormation accepts, is
/// `GLACIER`).
fn storage_class(v: &Value) -> Option<String> {
    text(v, "StorageClass").map(|c| c.to_ascii_uppercase())
}

fn date(v: &Value, key: &str) -> Result<Option<String>, ConfigError> {
    text(v, key).as_deref().map(normalized_date).transpose()
}

fn lifecycle(l: &Value) -> Result<Lifecycle, ConfigError> {
    let rules = l
        .get("Rules")
        .and_then(Value::as_array)
        .ok_or_else(malformed)?;
    Ok(Lifecycle {
        rules: rules.iter().map(rule).collect::<Result<_, _>>()?,
        transition_default_minimum_object_size: text(l, "TransitionDefaultMinimumObjectSize"),
    })
}

/// A CloudFormation rule as S3's: its conditions (`Prefix`, `TagFilters`, object sizes)
/// become the `Filter` (one of them directly, several under `And`; none, an empty
/// filter: every object); the single `Transition` and `NoncurrentVersionTransition`
/// join their lists; `NoncurrentVersionExpirationInDays` is a `NoncurrentVersionExpiration`.
fn rule(r: &Value) -> Result<Rule, ConfigError> {
    let prefix = text(r, "Prefix");
    let tags: Vec<FilterTag> = r
        .get("TagFilters")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|t| FilterTag {
            key: text(t, "Key").unwrap_or_default(),
            value: text(t, "Value").unwrap_or_default(),
        })
        .collect();
    let (gt, lt) = (
        size(r, "ObjectSizeGreaterThan"),
        size(r, "ObjectSizeLessThan"),
    );
    let conditions = usize::from(prefix.is_some())
        + tags.len()
        + usize::from(gt.is_some())
        + usize::from(lt.is_some());
    let filter = if conditions > 1 {
        Filter {
            and: Some(And {
                prefix,
                tags,
                object_size_greater_than: gt,
                object_size_less_than: lt,
            }),
            ..Filter::default()
        }
    } else {
        Filter {
            prefix,
            tag: tags.into_iter().next(),
            object_size_greater_than: gt,
            object_size_less_than: lt,
            and: None,
        }
    };
    let expiration = Expiration {
        date: date(r, "ExpirationDate")?,
        days: int(r, "ExpirationInDays"),
        expired_object_delete_marker: r.get("ExpiredObjectDeleteMarker").and_then(Value::as_bool),
    };
    let expiration = (expiration != Expiration::default()).then_some(expiration);
    let mut transitions = Vec::new();
    let listed = r
        .get("Transitions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten();
    for t in r.get("Transition").into_iter().chain(listed) {
        transitions.push(Transition {
            date: date(t, "TransitionDate")?,
            days: int(t, "TransitionInDays"),
            storage_class: storage_class(t),
        });
    }
    let listed = r
        .get("NoncurrentVersionTransitions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten();
    let noncurrent_version_transitions = r
        .get("NoncurrentVersionTransition")
        .into_iter()
        .chain(listed)
        .map(|t| NoncurrentVersionTransition {
            noncurrent_days: int(t, "TransitionInDays"),
            storage_class: storage_class(t),
            newer_noncurrent_versions: int(t, "NewerNoncurrentVersions"),
        })
        .collect();
    let noncurrent_version_expiration = match r.get("NoncurrentVersionExpiration") {
        Some(n) => Some(NoncurrentVersionExpiration {
            noncurrent_days: int(n, "NoncurrentDays"),
            newer_noncurrent_versions: int(n, "NewerNoncurrentVersions"),
        }),
        None => {
            int(r, "NoncurrentVersionExpirationInDays").map(|days| NoncurrentVersionExpiration {
                noncurrent_days: Some(days),
                newer_noncurrent_versions: None,
            })
        }
    };
    Ok(Rule {
        id: text(r, "Id").unwrap_or_else(generated_id),
        status: text(r, "Status").unwrap_or_default(),
        prefix: None,
        filter: Some(filter),
        expiration,
        transitions,
        noncurrent_version_expiration,
        noncurrent_version_transitions,
        abort_incomplete_multipart_upload: r.get("AbortIncompleteMultipartUpload").map(|a| {
            AbortIncompleteMultipartUpload {
                days_after_initiation: int(a, "DaysAfterInitiation"),
            }
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn access_control_names_are_s3_canned_acls() {
        assert_eq!(canned_acl("Private"), "private");
        assert_eq!(canned_acl("PublicReadWrite"), "public-read-write");
        assert_eq!(canned_acl("LogDeliveryWrite"), "log-delivery-write");
    }

    #[test]
    fn lifecycle_rules_become_s3_rules() {
        let l = lifecycle(&json!({"Rules": [
            {"Id": "logs", "Status": "Enabled", "Prefix": "logs/", "ExpirationInDays": 30,
             "NoncurrentVersionExpirationInDays": 7},
            {"Status": "Enabled", "Prefix": "tmp/", "TagFilters": [{"Key": "k", "Value": "v"}],
             "ObjectSizeGreaterThan": "1024", "Transition": {"StorageClass": "Glacier", "TransitionInDays": 1},
             "Transitions": [{"StorageClass": "DEEP_ARCHIVE", "TransitionDate": "2030-01-01T00:00:00Z"}]},
            {"Id": "mpu", "Status": "Disabled", "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}}
        ], "TransitionDefaultMinimumObjectSize": "varies_by_storage_class"}))
        .unwrap();
        assert_eq!(l.validate(), Ok(()));
        let [logs, tmp, mpu] = &l.rules[..] else {
            panic!("{l:?}")
        };
        assert_eq!(logs.id, "logs");
        assert_eq!(
            logs.filter.as_ref().unwrap().prefix.as_deref(),
            Some("logs/")
        );
        assert_eq!(logs.expiration.as_ref().unwrap().days, Some(30));
        assert_eq!(
            logs.noncurrent_version_expiration
                .as_ref()
                .unwrap()
                .noncurrent_days,
            Some(7)
        );
        assert_eq!(tmp.id.len(), 48, "a generated id: {}", tmp.id);
        let and = tmp.filter.as_ref().unwrap().and.as_ref().unwrap();
        assert_eq!(and.prefix.as_deref(), Some("tmp/"));
        assert_eq!(and.tags.len(), 1);
        assert_eq!(and.object_size_greater_than, Some(1024));
        assert_eq!(tmp.transitions[0].storage_class.as_deref(), Some("GLACIER"));
        assert_eq!(
            tmp.transitions[1].date.as_deref(),
            Some("2030-01-01T00:00:00.000Z")
        );
        assert_eq!(mpu.filter, Some(Filter::default()));
        assert_eq!(
            l.transition_default_minimum_object_size.as_deref(),
            Some("varies_by_storage_class")
        );
        // S3's own checks apply: a rule with nothing to do.
        let l = lifecycle(&json!({"Rules": [{"Status": "Enabled", "Prefix": "x"}]})).unwrap();
        assert!(matches!(l.validate(), Err(ConfigError::InvalidRequest(_))));
    }
}
