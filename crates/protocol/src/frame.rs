//! HTTP framing of the JSON 1.1 and Query protocols: from a request the router has
//! classified to the response bytes.
//!
//! Owns: reading a request body within its protocol's limit (an announced larger body
//! is refused before it is read), decoding it, calling the service, and writing either
//! its output or its error in the protocol's shape, with one log line per refusal.
//! Never: choosing which service answers (the server's router does that from the
//! request's shape) or knowing what an operation means (the services do).

use bytes::Bytes;
use http::request::Parts;
use http::{HeaderMap, HeaderValue, Response, StatusCode, header};
use http_body_util::{BodyExt as _, Limited};

use crate::auth::Auth;
use crate::error::json_error_response;
use crate::query::{self, QueryError, QueryService};
use crate::rest_json::{self, RestJsonService};
use crate::{AwsError, Json11Service, ProtocolError, REQUEST_ID_HEADER, RequestContext, json11};

/// What a request body may fail with while it is read.
type BodyError = Box<dyn std::error::Error + Send + Sync>;

/// A request body as the server hands it over, whatever its concrete type: said once
/// here for every entry point that reads one (a bound alias with a blanket impl).
pub trait RequestBody: http_body::Body<Data = Bytes, Error: Into<BodyError>> {}

impl<B> RequestBody for B where B: http_body::Body<Data = Bytes, Error: Into<BodyError>> {}

/// Reads a JSON 1.1 request (at most [`json11::MAX_BODY_BYTES`]), runs `operation` on
/// `service` and answers its output, or its error in the JSON shape.
pub async fn answer_json<B: RequestBody>(
    service: &dyn Json11Service,
    auth: &Auth,
    ctx: &RequestContext,
    parts: &Parts,
    body: B,
    operation: &str,
) -> Response<Bytes> {
    let result = async {
        let bytes = read_body(parts, body, json11::MAX_BODY_BYTES).await?;
        let ctx = &authenticated(auth, ctx, parts, &bytes, true)?;
        let input = json11::parse_body(&bytes)?;
        let output = service.call(ctx, operation, input).await?;
        Ok::<_, Box<dyn AwsError>>(json11::ok_response(output, &ctx.request_id))
    }
    .await;
    result.unwrap_or_else(|err| json_refusal(err.as_ref(), &ctx.request_id))
}

/// Reads a Query request (at most [`query::MAX_BODY_BYTES`] of form body), finds the
/// service for its `Version` with `service_for`, and answers XML: a result document or
/// a Query `ErrorResponse` (in the service's namespace once one was found).
pub async fn answer_query<'s, B: RequestBody>(
    service_for: impl Fn(&str) -> Option<&'s dyn QueryService>,
    auth: &Auth,
    ctx: &RequestContext,
    parts: &Parts,
    body: B,
) -> Response<Bytes> {
    let mut namespace = None;
    let result = async {
        let bytes = read_body(parts, body, query::MAX_BODY_BYTES).await?;
        let ctx = &authenticated(auth, ctx, parts, &bytes, false)?;
        let request = query::parse_request(parts.uri.query(), &bytes)?;
        let Some(service) = service_for(request.version.as_str()) else {
            return Err(Box::new(QueryError::InvalidAction {
                action: request.action,
                version: request.version,
            }) as Box<dyn AwsError>);
        };
        namespace = Some(service.xml_namespace());
        let result = service.call(ctx, &request.action, request.params).await?;
        Ok(query::ok_response(
            &request.action,
            service.xml_namespace(),
            result.as_ref(),
            &ctx.request_id,
        ))
    }
    .await;
    result.unwrap_or_else(|err| {
        log_refusal(err.as_ref(), &ctx.request_id);
        query::error_response(err.as_ref(), namespace, &ctx.request_id)
    })
}

/// Answers a REST-JSON request: finds the operation from the method and path, refuses
/// an unsigned request, reads the body within the operation's limit, binds the members
/// and answers the output (or the error in REST-JSON's shape).
pub async fn answer_rest<B: RequestBody>(
    service: &dyn RestJsonService,
    auth: &Auth,
    ctx: &RequestContext,
    parts: &Parts,
    body: B,
) -> Response<Bytes> {
    let result = async {
        let (operation, labels) = rest_json::route(service, parts)?;
        crate::sigv4::check_shape(parts)
            .map_err(|e| Box::new(e.for_json()) as Box<dyn AwsError>)?;
        let bytes = read_body(parts, body, service.max_body_bytes(operation)).await?;
        let ctx = &authenticated(auth, ctx, parts, &bytes, true)?;
        let request = rest_json::bind(service, operation, labels, parts, bytes)?;
        let output = service.call(ctx, request).await?;
        Ok::<_, Box<dyn AwsError>>(rest_json::ok_response(
            service,
            operation,
            output,
            &ctx.request_id,
        ))
    }
    .await;
    result.unwrap_or_else(|err| {
        log_refusal(err.as_ref(), &ctx.request_id);
        rest_json::error_response(err.as_ref(), &ctx.request_id)
    })
}

/// `ctx` made by the caller `auth` finds the request (with `body`) to come from, or the
/// refusal in the JSON (`json`) or Query shape. The one place every buffered protocol
/// authenticates.
fn authenticated(
    auth: &Auth,
    ctx: &RequestContext,
    parts: &Parts,
    body: &[u8],
    json: bool,
) -> Result<RequestContext, Box<dyn AwsError>> {
    match auth.authenticate(parts, body, std::time::SystemTime::now()) {
        Ok(caller) => Ok(ctx.clone().with_caller(caller)),
        Err(e) if json => Err(Box::new(e.for_json())),
        Err(e) => Err(Box::new(e)),
    }
}

/// A request refused before any service saw it (no service for its target, say), in
/// the JSON shape; logged like a service's refusal.
pub fn json_refusal(err: &dyn AwsError, request_id: &str) -> Response<Bytes> {
    log_refusal(err, request_id);
    json_error_response(err, request_id)
}

/// The answer when a handler panicked: `500 InternalFailure` in the JSON shape.
pub fn internal_failure(request_id: &str) -> Response<Bytes> {
    let err = ProtocolError::InternalFailure("The server encountered an internal error".into());
    json_error_response(&err, request_id)
}

/// Puts the request id header on a response (every response carries one).
pub fn insert_request_id(headers: &mut HeaderMap, request_id: &str) {
    if let Ok(v) = HeaderValue::from_str(request_id) {
        headers.insert(REQUEST_ID_HEADER, v);
    }
}

/// A response with `status`, `body`, its content type and the request id.
pub(crate) fn response(
    status: StatusCode,
    body: Bytes,
    content_type: &'static str,
    request_id: &str,
) -> Response<Bytes> {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    insert_request_id(response.headers_mut(), request_id);
    response
}

/// Server faults are errors in the log; client refusals only debug lines (they are the
/// client's business, and a client could otherwise flood the log).
fn log_refusal(err: &dyn AwsError, request_id: &str) {
    // Logged as it goes on the wire (a store failure saying the database is unreachable
    // is answered `503 ServiceUnavailable`).
    let outage = crate::error::outage(err);
    let err: &dyn AwsError = match &outage {
        Some(outage) => outage,
        None => err,
    };
    if err.status().is_server_error() {
        tracing::error!(%request_id, code = err.code(), message = %err.message(), "request failed");
    } else {
        tracing::debug!(%request_id, code = err.code(), "request refused");
    }
}

/// Reads a request body of at most `limit` bytes; an announced larger body is refused
/// before it is read.
async fn read_body<B: RequestBody>(
    parts: &Parts,
    body: B,
    limit: usize,
) -> Result<Bytes, ProtocolError> {
    let announced = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|n| n > limit as u64) {
        return Err(ProtocolError::RequestTooLarge { limit });
    }
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) => Err(body_error(&*error, limit)),
    }
}

/// Why a body could not be read: over `limit` (413), or it stopped arriving.
fn body_error(error: &(dyn std::error::Error + 'static), limit: usize) -> ProtocolError {
    let mut source = Some(error);
    while let Some(e) = source {
        if e.is::<http_body_util::LengthLimitError>() {
            return ProtocolError::RequestTooLarge { limit };
        }
        source = e.source();
    }
    ProtocolError::RequestTimeout
}
