//! The one place store results become S3 errors (with the resource in the message).

use super::*;

pub(super) fn internal(e: StoreError) -> S3Error {
    tracing::error!(error = %e, "s3: store failure");
    match e {
        // The client can do something about this one (wait, free space): say what it is.
        StoreError::Full(reason) => s3_error!(
            InternalError,
            "We encountered an internal error: the server's storage is full ({reason}). Please try again later."
        ),
        _ => s3_error!(
            InternalError,
            "We encountered an internal error. Please try again."
        ),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_store_is_an_internal_error_that_names_the_reason() {
        let e = internal(StoreError::Full("database or disk is full".into()));
        assert_eq!(e.code().as_str(), "InternalError");
        let message = e.message().unwrap_or_default();
        assert!(
            message.contains("storage is full (database or disk is full)"),
            "{message}"
        );
        let other = internal(StoreError::Backend("secret detail".into()));
        assert!(!other.message().unwrap_or_default().contains("secret"));
    }
}
