//! The one place S3 errors are made: store results become S3 errors (with the resource
//! in the message), and a failure outside s3s becomes S3's error document. Never
//! writes error XML by hand: s3s serializes every [`S3Error`].

use super::*;

/// What an internal error tells the client (the cause is only logged).
const INTERNAL_MESSAGE: &str = "We encountered an internal error. Please try again.";

pub(super) fn internal(e: StoreError) -> S3Error {
    tracing::error!(error = %e, "s3: store failure");
    match e {
        // The client can do something about this one (wait, free space): say what it is.
        StoreError::Full(reason) => s3_error!(
            InternalError,
            "We encountered an internal error: the server's storage is full ({reason}). Please try again later."
        ),
        // Nor is this one the client's doing: 503, which S3 clients retry by themselves.
        StoreError::Unavailable(reason) => s3_error!(
            ServiceUnavailable,
            "Service unavailable, retry later: {}: {reason}",
            sagestack_store::transient::UNREACHABLE
        ),
        _ => S3Error::with_message(S3ErrorCode::InternalError, INTERNAL_MESSAGE),
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

/// `StoreError::NotFound` from an operation naming an upload means the upload is absent.
pub(super) fn upload_error(upload_id: &str) -> impl FnOnce(StoreError) -> S3Error + '_ {
    move |e| match e {
        StoreError::NotFound => no_such_upload(upload_id),
        e => internal(e),
    }
}

/// One key's failure in a `DeleteObjects` answer: the code and message the same store
/// error gets everywhere else.
pub(super) fn delete_error(bucket: &str, key: ObjectKey, e: StoreError) -> Error {
    let e = bucket_error(bucket)(e);
    Error {
        code: Some(e.code().as_str().to_owned()),
        key: Some(key),
        message: e.message().map(str::to_owned),
        version_id: None,
    }
}

/// A refused bucket configuration, in S3's code (and status, for the codes s3s does not
/// know).
pub(super) fn config_error(e: ConfigError) -> S3Error {
    let (code, status) = match &e {
        ConfigError::MalformedXml(_) => (S3ErrorCode::MalformedXML, None),
        ConfigError::InvalidArgument(_) => (S3ErrorCode::InvalidArgument, None),
        ConfigError::InvalidRequest(_) => (S3ErrorCode::InvalidRequest, None),
        ConfigError::MalformedPolicy(_) => (S3ErrorCode::MalformedPolicy, None),
        ConfigError::AccessDenied(_) => (S3ErrorCode::AccessDenied, None),
        ConfigError::AclNotSupported(_) => (S3ErrorCode::AccessControlListNotSupported, None),
        ConfigError::AclWithObjectOwnership(_) => {
            (S3ErrorCode::InvalidBucketAclWithObjectOwnership, None)
        }
        ConfigError::AclWithBlockPublicAccess(_) => (
            custom_code("InvalidBucketAclWithBlockPublicAccessError"),
            Some(http::StatusCode::BAD_REQUEST),
        ),
    };
    let mut error = S3Error::with_message(code, e.to_string());
    if let Some(status) = status {
        error.set_status_code(status);
    }
    error
}

/// A failed update of a bucket's document.
pub(super) fn update_error(bucket: &str) -> impl FnOnce(UpdateError) -> S3Error + '_ {
    move |e| match e {
        UpdateError::NoSuchBucket => no_such_bucket(bucket),
        UpdateError::Invalid(e) => config_error(e),
        UpdateError::Store(e) => internal(e),
    }
}

/// The answer for a sub-resource a bucket does not have: `404` with S3's code.
pub(super) fn not_configured(code: &str, message: &str) -> S3Error {
    let mut error = S3Error::with_message(custom_code(code), message.to_owned());
    error.set_status_code(http::StatusCode::NOT_FOUND);
    error
}

/// S3's error code `code` (a known one, or a custom one carrying the name).
fn custom_code(code: &str) -> S3ErrorCode {
    S3ErrorCode::from_bytes(code.as_bytes()).unwrap_or(S3ErrorCode::InternalError)
}

/// `StoreError::NotFound` from an operation naming a bucket means the bucket is absent.
pub(super) fn bucket_error(bucket: &str) -> impl FnOnce(StoreError) -> S3Error + '_ {
    move |e| match e {
        StoreError::NotFound => no_such_bucket(bucket),
        e => internal(e),
    }
}

/// What the store's read of `bucket`/`key` found: a failure as [`bucket_error`], nothing
/// as `NoSuchKey`. How every read of one object answers.
pub(super) fn key_found<T>(
    bucket: &str,
    key: &str,
    read: Result<Option<T>, StoreError>,
) -> S3Result<T> {
    read.map_err(bucket_error(bucket))?
        .ok_or_else(|| no_such_key(key))
}

/// A request refused before s3s saw it (by the server's credentials policy), as S3
/// words the refusal: `code` is S3's (`InvalidAccessKeyId`, `ExpiredToken`, ...).
pub fn refusal(
    status: http::StatusCode,
    code: &str,
    message: &str,
    request_id: &str,
) -> http::Response<s3s::Body> {
    let code = S3ErrorCode::from_bytes(code.as_bytes()).unwrap_or(S3ErrorCode::AccessDenied);
    let mut error = S3Error::with_message(code, message.to_owned());
    error.set_status_code(status);
    error.set_request_id(request_id);
    error
        .to_http_response()
        .unwrap_or_else(|_| internal_error_response(request_id))
}

/// The S3 error document for a failure outside s3s (a panic in the S3 path, or an
/// error s3s could not turn into a response itself): `500 InternalError`, as S3 words it.
pub(super) fn internal_error_response(request_id: &str) -> http::Response<s3s::Body> {
    let mut error = S3Error::with_message(S3ErrorCode::InternalError, INTERNAL_MESSAGE);
    error.set_request_id(request_id);
    let mut response = error.to_http_response().unwrap_or_else(|_| {
        // Serializing a code, a fixed message and an id cannot fail; should it, the
        // status alone still says what happened.
        let mut bare = http::Response::new(s3s::Body::empty());
        *bare.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
        bare
    });
    if let Ok(v) = http::HeaderValue::from_str(request_id) {
        response.headers_mut().insert("x-amz-request-id", v);
    }
    response
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

    #[test]
    fn an_unreachable_database_is_503_in_the_words_every_protocol_answers_503_for() {
        // The store's words and the protocol layer's are one text (they cannot name each
        // other: neither crate depends on the other).
        assert_eq!(
            sagestack_store::transient::UNREACHABLE,
            sagestack_protocol::error::DATABASE_UNREACHABLE
        );
        let e = StoreError::Unavailable("connection refused".into());
        assert!(
            e.to_string()
                .starts_with(sagestack_store::transient::UNREACHABLE)
        );
        let e = internal(e);
        assert_eq!(e.code().as_str(), "ServiceUnavailable");
        assert!(
            e.message()
                .unwrap_or_default()
                .contains("database unreachable: connection refused")
        );
    }
}
