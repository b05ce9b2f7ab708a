//! Bucket lifecycle configuration (`PutBucketLifecycleConfiguration`,
//! `GetBucketLifecycleConfiguration`, `DeleteBucketLifecycle`): s3s's types to and from
//! [`crate::config::lifecycle`], which checks the rules. Rules are stored and returned
//! as given (a rule without an `ID` gets a generated one, as on S3); they never run.

use super::*;
use crate::config::lifecycle::{
    AbortIncompleteMultipartUpload as StoredAbort, And, Expiration, Filter, FilterTag, Lifecycle,
    MINIMUM_OBJECT_SIZES, NoncurrentVersionExpiration as StoredNoncurrentExpiration,
    NoncurrentVersionTransition as StoredNoncurrentTransition, Rule,
    Transition as StoredTransition, date_text, generated_id,
};
use s3s::dto::{Timestamp, TimestampFormat};

pub(super) async fn get_bucket_lifecycle_configuration(
    api: &S3Api,
    input: GetBucketLifecycleConfigurationInput,
) -> S3Result<GetBucketLifecycleConfigurationOutput> {
    let lifecycle = api
        .bucket_document(&input.bucket)
        .await?
        .lifecycle()
        .ok_or_else(|| {
            not_configured(
                "NoSuchLifecycleConfiguration",
                "The lifecycle configuration does not exist",
            )
        })?;
    Ok(GetBucketLifecycleConfigurationOutput {
        transition_default_minimum_object_size: Some(minimum_size(&lifecycle)),
        rules: Some(lifecycle.rules.into_iter().map(rule_out).collect()),
    })
}

pub(super) async fn put_bucket_lifecycle_configuration(
    api: &S3Api,
    input: PutBucketLifecycleConfigurationInput,
) -> S3Result<PutBucketLifecycleConfigurationOutput> {
    let configuration = input
        .lifecycle_configuration
        .ok_or_else(|| config_error(crate::config::malformed()))?;
    let lifecycle = Lifecycle {
        rules: configuration
            .rules
            .into_iter()
            .map(rule_in)
            .collect::<S3Result<_>>()?,
        transition_default_minimum_object_size: input
            .transition_default_minimum_object_size
            .map(|s| s.as_str().to_owned()),
    };
    lifecycle.validate().map_err(config_error)?;
    api.update_document(&input.bucket, |doc| {
        doc.set_lifecycle(Some(&lifecycle));
        Ok(())
    })
    .await?;
    Ok(PutBucketLifecycleConfigurationOutput {
        transition_default_minimum_object_size: Some(minimum_size(&lifecycle)),
    })
}

pub(super) async fn delete_bucket_lifecycle(
    api: &S3Api,
    input: DeleteBucketLifecycleInput,
) -> S3Result<DeleteBucketLifecycleOutput> {
    api.update_document(&input.bucket, |doc| {
        doc.set_lifecycle(None);
        Ok(())
    })
    .await?;
    Ok(DeleteBucketLifecycleOutput::default())
}

/// The configuration's minimum object size for transitions, S3's default when unset.
fn minimum_size(lifecycle: &Lifecycle) -> TransitionDefaultMinimumObjectSize {
    let size = lifecycle
        .transition_default_minimum_object_size
        .clone()
        .unwrap_or_else(|| MINIMUM_OBJECT_SIZES[0].to_owned());
    TransitionDefaultMinimumObjectSize::from(size)
}

fn date_in(date: &Timestamp) -> S3Result<String> {
    date_text(date).map_err(config_error)
}

fn date_out(date: &str) -> Option<Timestamp> {
    Timestamp::parse(TimestampFormat::DateTime, date).ok()
}

fn tag_in(tag: Tag) -> FilterTag {
    FilterTag {
        key: tag.key.unwrap_or_default(),
        value: tag.value.unwrap_or_default(),
    }
}

fn tag_out(tag: FilterTag) -> Tag {
    Tag {
        key: Some(tag.key),
        value: Some(tag.value),
    }
}

fn rule_in(r: LifecycleRule) -> S3Result<Rule> {
    let expiration = match r.expiration {
        Some(e) => Some(Expiration {
            date: e.date.as_ref().map(date_in).transpose()?,
            days: e.days,
            expired_object_delete_marker: e.expired_object_delete_marker,
        }),
        None => None,
    };
    let transitions = r
        .transitions
        .unwrap_or_default()
        .into_iter()
        .map(|t| {
            Ok(StoredTransition {
                date: t.date.as_ref().map(date_in).transpose()?,
                days: t.days,
                storage_class: t.storage_class.map(|c| c.as_str().to_owned()),
            })
        })
        .collect::<S3Result<_>>()?;
    Ok(Rule {
        id: r
            .id
            .filter(|id| !id.is_empty())
            .unwrap_or_else(generated_id),
        status: r.status.as_str().to_owned(),
        prefix: r.prefix,
        filter: r.filter.map(|f| Filter {
            prefix: f.prefix,
            tag: f.tag.map(tag_in),
            object_size_greater_than: f.object_size_greater_than,
            object_size_less_than: f.object_size_less_than,
            and: f.and.map(|a| And {
                prefix: a.prefix,
                tags: a.tags.unwrap_or_default().into_iter().map(tag_in).collect(),
                object_size_greater_than: a.object_size_greater_than,
                object_size_less_than: a.object_size_less_than,
            }),
        }),
        expiration,
        transitions,
        noncurrent_version_expiration: r.noncurrent_version_expiration.map(|n| {
            StoredNoncurrentExpiration {
                noncurrent_days: n.noncurrent_days,
                newer_noncurrent_versions: n.newer_noncurrent_versions,
            }
        }),
        noncurrent_version_transitions: r
            .noncurrent_version_transitions
            .unwrap_or_default()
            .into_iter()
            .map(|t| StoredNoncurrentTransition {
                noncurrent_days: t.noncurrent_days,
                storage_class: t.storage_class.map(|c| c.as_str().to_owned()),
                newer_noncurrent_versions: t.newer_noncurrent_versions,
            })
            .collect(),
        abort_incomplete_multipart_upload: r.abort_incomplete_multipart_upload.map(|a| {
            StoredAbort {
                days_after_initiation: a.days_after_initiation,
            }
        }),
    })
}

/// A list as s3s's optional list: absent when empty.
fn non_empty<T>(v: Vec<T>) -> Option<Vec<T>> {
    (!v.is_empty()).then_some(v)
}

fn rule_out(r: Rule) -> LifecycleRule {
    LifecycleRule {
        id: Some(r.id),
        status: ExpirationStatus::from(r.status),
        prefix: r.prefix,
        filter: r.filter.map(|f| LifecycleRuleFilter {
            prefix: f.prefix,
            tag: f.tag.map(tag_out),
            object_size_greater_than: f.object_size_greater_than,
            object_size_less_than: f.object_size_less_than,
            and: f.and.map(|a| LifecycleRuleAndOperator {
                prefix: a.prefix,
                tags: non_empty(a.tags.into_iter().map(tag_out).collect()),
                object_size_greater_than: a.object_size_greater_than,
                object_size_less_than: a.object_size_less_than,
            }),
        }),
        expiration: r.expiration.map(|e| LifecycleExpiration {
            date: e.date.as_deref().and_then(date_out),
            days: e.days,
            expired_object_delete_marker: e.expired_object_delete_marker,
        }),
        transitions: non_empty(
            r.transitions
                .into_iter()
                .map(|t| Transition {
                    date: t.date.as_deref().and_then(date_out),
                    days: t.days,
                    storage_class: t.storage_class.map(TransitionStorageClass::from),
                })
                .collect(),
        ),
        noncurrent_version_expiration: r.noncurrent_version_expiration.map(|n| {
            NoncurrentVersionExpiration {
                noncurrent_days: n.noncurrent_days,
                newer_noncurrent_versions: n.newer_noncurrent_versions,
            }
        }),
        noncurrent_version_transitions: non_empty(
            r.noncurrent_version_transitions
                .into_iter()
                .map(|t| NoncurrentVersionTransition {
                    noncurrent_days: t.noncurrent_days,
                    storage_class: t.storage_class.map(TransitionStorageClass::from),
                    newer_noncurrent_versions: t.newer_noncurrent_versions,
                })
                .collect(),
        ),
        abort_incomplete_multipart_upload: r.abort_incomplete_multipart_upload.map(|a| {
            AbortIncompleteMultipartUpload {
                days_after_initiation: a.days_after_initiation,
            }
        }),
    }
}
