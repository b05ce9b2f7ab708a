//! AWS JSON 1.1: request decoding, the service trait, model-driven input decoding
//! ([`decode`]), and success responses.

use async_trait::async_trait;
use bytes::Bytes;
use http::{Response, StatusCode};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::validate::{Invalid, Model};
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

impl JsonOutput {
    /// The output as a JSON value (a raw document parsed): for in-process callers that
    /// read the answer instead of sending it (a provider calling its service, tests).
    pub fn into_value(self) -> serde_json::Result<Value> {
        match self {
            JsonOutput::Value(v) => Ok(v),
            JsonOutput::Raw(r) => serde_json::from_str(&r),
        }
    }
}

/// What a JSON 1.1 service's call answers: its output, or its error in AWS's terms.
pub type CallResult = Result<JsonOutput, Box<dyn AwsError>>;

/// A service spoken over AWS JSON 1.1, routed by its `X-Amz-Target` prefix.
#[async_trait]
pub trait Json11Service: Send + Sync + 'static {
    /// The `X-Amz-Target` prefix, e.g. `SageMaker`.
    fn target_prefix(&self) -> &'static str;
    /// Runs `operation` on a decoded input object. Unknown operations should answer
    /// [`ProtocolError::UnknownOperation`].
    async fn call(&self, ctx: &RequestContext, operation: &str, input: Value) -> CallResult;
}

/// Implements [`Json11Service`] for `$service` with target prefix `$prefix`, by its
/// inherent `async fn handle(&self, &RequestContext, &str, Value) -> Result<JsonOutput, E>`
/// (`E` its typed [`AwsError`]): the framing every JSON 1.1 service here shares, so each
/// keeps only its operations.
#[macro_export]
macro_rules! json11_service {
    ($service:ty, $prefix:expr) => {
        #[$crate::json11::__private::async_trait]
        impl $crate::Json11Service for $service {
            fn target_prefix(&self) -> &'static str {
                $prefix
            }

            async fn call(
                &self,
                ctx: &$crate::RequestContext,
                operation: &str,
                input: $crate::json11::__private::Value,
            ) -> $crate::json11::CallResult {
                self.handle(ctx, operation, input).await.map_err(|e| {
                    ::std::boxed::Box::new(e) as ::std::boxed::Box<dyn $crate::AwsError>
                })
            }
        }
    };
}

/// Implements [`AwsError`] and [`InputErrors`] for a JSON 1.1 service's error enum, which
/// must have the variants `Validation(String)`, `Serialization(String)`,
/// `UnknownOperation(String)` and `Internal(..)`: those four answer as every JSON 1.1
/// service here answers them (`Internal` is the one server fault), and `$variant => $code`
/// gives the code of each of the service's own variants (`Internal` among them: services
/// spell its code differently).
#[macro_export]
macro_rules! json11_errors {
    ($error:ty { $($variant:pat => $code:literal,)+ }) => {
        impl $crate::AwsError for $error {
            fn code(&self) -> &str {
                match self {
                    Self::Validation(_) => "ValidationException",
                    Self::Serialization(_) => "SerializationException",
                    Self::UnknownOperation(_) => "UnknownOperationException",
                    $($variant => $code,)+
                }
            }
            fn kind(&self) -> $crate::ErrorKind {
                match self {
                    Self::Internal(_) => $crate::ErrorKind::Server,
                    _ => $crate::ErrorKind::Client,
                }
            }
        }

        impl $crate::json11::InputErrors for $error {
            fn validation(message: String) -> Self {
                Self::Validation(message)
            }
            fn serialization(message: String) -> Self {
                Self::Serialization(message)
            }
        }
    };
}

/// A resource tag as the JSON 1.1 services here spell it (`{"Key": .., "Value": ..}`):
/// SageMaker, SSM and Service Catalog share the shape, each re-exporting it as its `Tag`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Tag {
    pub key: String,
    pub value: String,
}

/// One page of a listing paged by offset: `items` from the offset `token` names (the
/// start when absent), `size` of them (at least one), and the token of the next page
/// when there is one. Offset tokens read `o{offset}`; `None` for a token that is not one
/// or lies past the end (each service refuses it in its own words).
pub fn offset_page<T>(
    items: Vec<T>,
    token: Option<&str>,
    size: usize,
) -> Option<(Vec<T>, Option<String>)> {
    let start = match token {
        None => 0,
        Some(t) => t
            .strip_prefix("o")
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|n| *n <= items.len())?,
    };
    let size = size.max(1);
    let end = start.saturating_add(size).min(items.len());
    let next = (end < items.len()).then(|| format!("o{end}"));
    Some((items.into_iter().skip(start).take(size).collect(), next))
}

/// A listing's answer `out` with its next page's token as `member` (`NextToken`,
/// `nextToken`) when there is one.
pub fn with_token(mut out: Value, member: &str, next: Option<String>) -> Value {
    if let Some(t) = next {
        out[member] = t.into();
    }
    out
}

/// What [`json11_service!`](crate::json11_service) expands to needs, whether or not the
/// crate using it depends on these itself.
#[doc(hidden)]
pub mod __private {
    pub use async_trait::async_trait;
    pub use serde_json::Value;
}

/// The two ways a model-driven JSON service refuses an operation's input, as its own
/// error type spells them (each service has its typed error; [`decode`] needs only these).
pub trait InputErrors: Sized {
    /// `ValidationException`: the model's constraints, in AWS's wording.
    fn validation(message: String) -> Self;
    /// `SerializationException`: a value of the wrong JSON type, or one the typed input
    /// cannot hold.
    fn serialization(message: String) -> Self;
}

/// Reads `operation`'s input the way every JSON 1.1 service here does: the `model`'s
/// constraints first ([`InputErrors::validation`], or [`InputErrors::serialization`] for
/// a value of the wrong type), then the typed shape `T`. Shared so that SageMaker, SSM
/// and Service Catalog refuse inputs in the same order and words.
pub fn decode<T: DeserializeOwned, E: InputErrors>(
    model: &Model,
    operation: &str,
    input: Value,
) -> Result<T, E> {
    if let Err(e) = model.validate(operation, &input) {
        return Err(match e {
            Invalid::Constraints(_) => E::validation(e.message()),
            Invalid::Type(m) => E::serialization(m),
        });
    }
    serde_json::from_value(input).map_err(|e| E::serialization(e.to_string()))
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
    fn offset_pages() {
        let items: Vec<u32> = (0..5).collect();
        assert_eq!(
            offset_page(items.clone(), None, 2),
            Some((vec![0, 1], Some("o2".into())))
        );
        assert_eq!(
            offset_page(items.clone(), Some("o4"), 2),
            Some((vec![4], None))
        );
        assert_eq!(
            offset_page(items.clone(), Some("o5"), 0),
            Some((vec![], None))
        );
        for bad in ["o6", "4", "ox", ""] {
            assert_eq!(offset_page(items.clone(), Some(bad), 2), None, "{bad}");
        }
        let out = with_token(serde_json::json!({"a": 1}), "nextToken", Some("o2".into()));
        assert_eq!(out, serde_json::json!({"a": 1, "nextToken": "o2"}));
        assert_eq!(
            with_token(serde_json::json!({}), "NextToken", None),
            serde_json::json!({})
        );
    }

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
