//! The one place store results become S3 errors (with the resource in the message).

use super::*;

pub(super) fn internal(e: StoreError) -> S3Error {
    tracing::error!(error = %e, "s3: store failure");
    s3_error!(
        InternalError,
        "We encountered an internal error. Please try again."
    )
}

pub(super) fn no_such_bucket(bucket: &str) -> S3Error {
    s3_error!(
        NoSuchBucket,
        "The specified bucket does not exist: {bucket}"
    )
}

pub(super) fn no_such_key(key: &str) -> S3Error {
    s3_error!(NoSuchKey, "The specified key does not exist: {key}")
}

pub(super) fn no_such_upload(upload_id: &str) -> S3Error {
    s3_error!(
        NoSuchUpload,
        "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed: {upload_id}"
    )
}

pub(super) fn too_large(limit: u64) -> S3Error {
    s3_error!(
        EntityTooLarge,
        "Your proposed upload exceeds the maximum allowed size of {limit} bytes"
    )
}

/// `StoreError::NotFound` from an operation naming a bucket means the bucket is absent.
pub(super) fn bucket_error(bucket: &str) -> impl FnOnce(StoreError) -> S3Error + '_ {
    move |e| match e {
        StoreError::NotFound => no_such_bucket(bucket),
        e => internal(e),
    }
}
