//! AWS JSON 1.1: request decoding, the service trait, and success responses.

use async_trait::async_trait;
use bytes::Bytes;
use http::{Response, StatusCode};
use serde_json::Value;

use crate::{AwsError, ProtocolError, RequestContext};

/// Content type of JSON 1.1 requests and responses.
pub const CONTENT_TYPE: &str = "application/x-amz-json-1.1";

/// Largest JSON request body accepted, in bytes (1 MiB). A request announcing a
/// larger `Content-Length` is refused before its body is read; a chunked body is
/// read only up to this limit.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// A successful operation's output.
#[derive(Debug)]
pub enum JsonOutput {
    Value(Value),
    /// An already-serialized JSON document (lets a service answer from a stored
    /// document without re-parsing it).
    Raw(String),
}

/// A service spoken over AWS JSON 1.1, routed by its `X-Amz-Target` prefix.
#[async_trait]
pub trait Json11Service: Send + Sync + 'static {
    /// The `X-Amz-Target` prefix, e.g. `SageMaker`.
    fn target_prefix(&self) -> &'static str;
    /// Runs `operation` on a decoded input object. Unknown operations should answer
    /// [`ProtocolError::UnknownOperation`].
    async fn call(
        &self,
        ctx: &RequestContext,
        operation: &str,
        input: Value,
    ) -> Result<JsonOutput, Box<dyn AwsError>>;
}

/// Decodes a JSON 1.1 request body: an object (an empty body counts as `{}`).
pub fn parse_body(body: &[u8]) -> Result<Value, ProtocolError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Default::default()));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(_) => Err(ProtocolError::Serialization(
            "Request body must be a JSON object".into(),
        )),
        Err(e) => Err(ProtocolError::Serialization(format!(
            "Malformed JSON request body: {e}"
        ))),
    }
}

/// A `200 OK` JSON 1.1 response carrying `output`.
pub fn ok_response(output: JsonOutput, request_id: &str) -> Response<Bytes> {
    let body = match output {
        JsonOutput::Value(v) => Bytes::from(v.to_string()),
        JsonOutput::Raw(s) => Bytes::from(s),
    };
    crate::frame::response(StatusCode::OK, body, CONTENT_TYPE, request_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies() {
        assert_eq!(parse_body(b"").unwrap(), serde_json::json!({}));
        assert_eq!(parse_body(b" \n").unwrap(), serde_json::json!({}));
        assert_eq!(
            parse_body(br#"{"a":1}"#).unwrap(),
            serde_json::json!({"a":1})
        );
        assert!(matches!(
            parse_body(b"{not json"),
            Err(ProtocolError::Serialization(_))
        ));
        assert!(matches!(
            parse_body(b"[1]"),
            Err(ProtocolError::Serialization(_))
        ));
    }
}
