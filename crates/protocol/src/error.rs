//! AWS error shapes, produced in exactly one place.
//!
//! Every layer keeps its own typed error (thiserror enums); each implements [`AwsError`]
//! to say which AWS error code, message and HTTP status it stands for. Only the
//! functions here turn an [`AwsError`] into bytes on the wire.

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode};

/// Who is at fault, which decides the HTTP status class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The request was wrong (HTTP 400 unless [`AwsError::status`] says otherwise).
    Client,
    /// The server failed (HTTP 500).
    Server,
}

/// An error that has an AWS wire representation.
pub trait AwsError: std::error::Error + Send + Sync + 'static {
    /// The AWS error code, e.g. `ValidationException`.
    fn code(&self) -> &str;
    /// The human-readable message; the `Display` text by default.
    fn message(&self) -> String {
        self.to_string()
    }
    fn kind(&self) -> ErrorKind {
        ErrorKind::Client
    }
    /// The HTTP status; 400 for client faults and 500 for server faults by default.
    fn status(&self) -> StatusCode {
        match self.kind() {
            ErrorKind::Client => StatusCode::BAD_REQUEST,
            ErrorKind::Server => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// Errors raised by the protocol layer itself, before a service sees the request.
#[derive(Debug, thiserror::Error)]
pub enum ProtocolError {
    /// The body is not a JSON object, or a member has the wrong JSON type.
    #[error("{0}")]
    Serialization(String),
    /// No service or operation answers this target.
    #[error("{0}")]
    UnknownOperation(String),
    /// The body is larger than the documented limit; it was not read whole.
    #[error("Request body exceeds the maximum size of {limit} bytes")]
    RequestTooLarge { limit: usize },
    /// The body stopped arriving (no bytes within the body-read timeout) or broke off.
    #[error(
        "Your socket connection to the server was not read from or written to within the timeout period."
    )]
    RequestTimeout,
    /// A bug or an unexpected failure inside the server.
    #[error("{0}")]
    InternalFailure(String),
}

impl AwsError for ProtocolError {
    fn code(&self) -> &str {
        match self {
            Self::Serialization(_) => "SerializationException",
            Self::UnknownOperation(_) => "UnknownOperationException",
            Self::RequestTooLarge { .. } => "RequestEntityTooLargeException",
            Self::RequestTimeout => "RequestTimeout",
            Self::InternalFailure(_) => "InternalFailure",
        }
    }
    fn kind(&self) -> ErrorKind {
        match self {
            Self::InternalFailure(_) => ErrorKind::Server,
            _ => ErrorKind::Client,
        }
    }
    fn status(&self) -> StatusCode {
        match self {
            // Refused before the body is read: 413 is what HTTP clients and proxies expect.
            Self::RequestTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::InternalFailure(_) => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

/// The words a server fault's message carries when the server cannot reach its database
/// (`sagestack_store::StoreError::Unavailable`, whichever service carried it up; the
/// store's `transient::UNREACHABLE` is the same text).
pub const DATABASE_UNREACHABLE: &str = "database unreachable";

/// `503 ServiceUnavailable`: what a server fault saying [`DATABASE_UNREACHABLE`] is
/// answered as, in every protocol. The call can be retried once the database is back
/// (the SDKs retry a 503 by themselves); the message names the cause.
#[derive(Debug, thiserror::Error)]
#[error("Service unavailable, retry later: {0}")]
pub struct ServiceUnavailable(pub String);

impl AwsError for ServiceUnavailable {
    fn code(&self) -> &str {
        "ServiceUnavailable"
    }
    fn kind(&self) -> ErrorKind {
        ErrorKind::Server
    }
    fn status(&self) -> StatusCode {
        StatusCode::SERVICE_UNAVAILABLE
    }
}

/// `err` as a [`ServiceUnavailable`] when it is a server fault saying the database is
/// unreachable (the message from those words on); `None` for any other error.
pub(crate) fn outage(err: &dyn AwsError) -> Option<ServiceUnavailable> {
    // (A `ServiceUnavailable` already is what it would become.)
    if err.kind() != ErrorKind::Server || err.code() == "ServiceUnavailable" {
        return None;
    }
    let message = err.message();
    let at = message.find(DATABASE_UNREACHABLE)?;
    Some(ServiceUnavailable(message[at..].to_string()))
}

impl From<ProtocolError> for Box<dyn AwsError> {
    fn from(e: ProtocolError) -> Self {
        Box::new(e)
    }
}

/// The AWS JSON (1.0/1.1) error response: status, `x-amzn-ErrorType`,
/// `x-amzn-RequestId` and `{"__type": code, "message": message}`.
pub fn json_error_response(err: &dyn AwsError, request_id: &str) -> Response<Bytes> {
    let body = serde_json::json!({ "__type": err.code(), "message": err.message() });
    typed_error_response(err, body, crate::json11::CONTENT_TYPE, request_id)
}

/// An error response of the JSON family: `err`'s status, `body`, and the
/// `x-amzn-ErrorType` header that JSON 1.1 and REST-JSON clients read the code from.
pub(crate) fn typed_error_response(
    err: &dyn AwsError,
    body: serde_json::Value,
    content_type: &'static str,
    request_id: &str,
) -> Response<Bytes> {
    if let Some(outage) = outage(err) {
        let body = match body {
            serde_json::Value::Object(mut fields) if fields.contains_key("message") => {
                fields.insert("message".into(), outage.message().into());
                if fields.contains_key("__type") {
                    fields.insert("__type".into(), outage.code().into());
                }
                serde_json::Value::Object(fields)
            }
            other => other,
        };
        return typed_error_response(&outage, body, content_type, request_id);
    }
    let mut response = crate::frame::response(
        err.status(),
        Bytes::from(body.to_string()),
        content_type,
        request_id,
    );
    if let Ok(v) = HeaderValue::from_str(err.code()) {
        response.headers_mut().insert("x-amzn-errortype", v);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_shape_and_headers() {
        let err = ProtocolError::Serialization("bad".into());
        let resp = json_error_response(&err, "rid-1");
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
        assert_eq!(resp.headers()["x-amzn-errortype"], "SerializationException");
        assert_eq!(resp.headers()["x-amzn-requestid"], "rid-1");
        let body: serde_json::Value = serde_json::from_slice(resp.body()).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"__type": "SerializationException", "message": "bad"})
        );
    }

    #[test]
    fn an_unreachable_database_is_503_service_unavailable() {
        let err = ProtocolError::InternalFailure(
            "Internal failure: database unreachable: connection refused".into(),
        );
        let resp = json_error_response(&err, "rid");
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(resp.headers()["x-amzn-errortype"], "ServiceUnavailable");
        let body: serde_json::Value = serde_json::from_slice(resp.body()).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"__type": "ServiceUnavailable",
                "message": "Service unavailable, retry later: database unreachable: connection refused"})
        );
        // A client's fault saying those words is the client's.
        let mine = ProtocolError::Serialization("database unreachable".into());
        assert_eq!(
            json_error_response(&mine, "rid").status(),
            StatusCode::BAD_REQUEST
        );
    }

    #[test]
    fn server_faults_are_500() {
        let err = ProtocolError::InternalFailure("boom".into());
        assert_eq!(json_error_response(&err, "r").status(), 500);
        let err = ProtocolError::RequestTooLarge { limit: 10 };
        assert_eq!(json_error_response(&err, "r").status(), 413);
    }
}
