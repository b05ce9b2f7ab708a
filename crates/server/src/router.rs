//! HTTP routing by request shape.
//!
//! Every AWS request arrives on one port. [`router`] sends
//! `GET /_sagestack/health` to the health check and everything else to [`dispatch`],
//! which asks [`sagestack_protocol::classify`] what the request is:
//!
//! * JSON 1.0/1.1 (`X-Amz-Target: <Prefix>.<Operation>`): the [`Json11Service`]
//!   registered for `<Prefix>` in [`Services`] (`SageMaker` and `AmazonSSM`
//!   today; `AWS242ServiceCatalogService` registers the same way);
//! * Query (form-encoded `Action=`): the [`QueryService`] registered for the request's
//!   `Version` (CloudFormation, `2010-05-15`); its errors are Query `ErrorResponse` XML;
//! * S3 REST (anything else): the s3s service registered with [`Services::with_s3`]
//!   (the embedded S3 endpoint, `sagestack_s3::api`). The body is handed over as a
//!   stream, never buffered here; s3s answers S3 XML errors itself, and a panic or a
//!   failure it cannot render in the S3 path becomes S3's `500 InternalError` XML.
//!
//! Panics anywhere else in a handler become a `500 InternalFailure` response
//! ([`CatchPanicLayer`]); the server keeps running.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sagestack_protocol::error::json_error_response;
use sagestack_protocol::json11::{self, MAX_BODY_BYTES};
use sagestack_protocol::query::{self, QueryError, QueryService};
use sagestack_protocol::{
    Json11Service, ProtocolError, REQUEST_ID_HEADER, RequestContext, RequestShape, classify,
    new_request_id, sigv4,
};
use tower_http::catch_panic::CatchPanicLayer;

/// The services reachable on this server, by wire protocol.
#[derive(Default, Clone)]
pub struct Services {
    json: HashMap<&'static str, Arc<dyn Json11Service>>,
    query: HashMap<&'static str, Arc<dyn QueryService>>,
    s3: Option<s3s::service::S3Service>,
}

impl Services {
    /// Routes `X-Amz-Target: <service.target_prefix()>.*` to `service`.
    pub fn with_json(mut self, service: Arc<dyn Json11Service>) -> Self {
        self.json.insert(service.target_prefix(), service);
        self
    }

    /// Routes Query requests with `Version=<service.version()>` to `service`.
    pub fn with_query(mut self, service: Arc<dyn QueryService>) -> Self {
        self.query.insert(service.version(), service);
        self
    }

    /// Routes S3 REST requests (every request that is neither JSON nor Query) to `s3`.
    pub fn with_s3(mut self, s3: s3s::service::S3Service) -> Self {
        self.s3 = Some(s3);
        self
    }
}

/// Shared by all requests.
#[derive(Clone)]
pub struct AppState {
    pub services: Services,
    pub region: String,
    pub account_id: String,
    /// Whose state the health check reports (none in tests of the routing alone).
    pub store: Option<Arc<dyn sagestack_store::Store>>,
}

/// The application router.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/_sagestack/health", get(health))
        .fallback(dispatch)
        .layer(CatchPanicLayer::custom(panic_response))
        .with_state(Arc::new(state))
}

/// `{"status":"ok","version":..,"store":"ok"}`, or HTTP 503 with `"status":"degraded"`
/// and the store's reason while it refuses writes (e.g. its disk is full): a load
/// balancer or orchestrator then stops sending writes here until space returns. Asking
/// is also what lets an idle store probe and recover (see `Store::health`).
async fn health(State(state): State<Arc<AppState>>) -> Response {
    let store = match &state.store {
        Some(store) => Some(store.health().await),
        None => None,
    };
    let (status, code, store) = match store {
        Some(sagestack_store::StoreHealth::Degraded(reason)) => (
            "degraded",
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            Some(reason),
        ),
        Some(sagestack_store::StoreHealth::Ok) => {
            ("ok", axum::http::StatusCode::OK, Some("ok".to_string()))
        }
        None => ("ok", axum::http::StatusCode::OK, None),
    };
    let mut body = serde_json::json!({
        "status": status,
        "version": env!("CARGO_PKG_VERSION"),
    });
    if let Some(store) = store {
        body["store"] = store.into();
    }
    let mut response = (code, axum::Json(body)).into_response();
    insert_request_id(&mut response, &new_request_id());
    response
}

fn insert_request_id(response: &mut Response, id: &str) {
    if let Ok(v) = HeaderValue::from_str(id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, v);
    }
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("request handler panicked");
    let err = ProtocolError::InternalFailure("The server encountered an internal error".into());
    json_error_response(&err, &new_request_id()).map(Body::from)
}

/// Handles every request that is not the health check.
async fn dispatch(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let request_id = new_request_id();
    let (parts, body) = request.into_parts();
    let result = match classify(&parts) {
        RequestShape::Json { prefix, operation } => {
            match state.services.json.get(prefix.as_str()) {
                Some(service) => {
                    let ctx = RequestContext {
                        request_id: request_id.clone(),
                        region: state.region.clone(),
                        account_id: state.account_id.clone(),
                        access_key_id: parts
                            .headers
                            .get(header::AUTHORIZATION)
                            .and_then(|v| v.to_str().ok())
                            .and_then(sigv4::access_key_id)
                            .map(str::to_owned),
                    };
                    call_json(service.as_ref(), &ctx, &parts, body, &operation).await
                }
                None => Err(Box::new(ProtocolError::UnknownOperation(format!(
                    "No service handles the target prefix {prefix}"
                ))) as _),
            }
        }
        RequestShape::MalformedTarget => Err(Box::new(ProtocolError::UnknownOperation(
            "The X-Amz-Target header must be <Service>.<Operation>".into(),
        )) as _),
        RequestShape::MissingTarget => Err(Box::new(ProtocolError::UnknownOperation(
            "A JSON request needs an X-Amz-Target header: <Service>.<Operation>".into(),
        )) as _),
        RequestShape::Query => {
            let ctx = RequestContext {
                request_id: request_id.clone(),
                region: state.region.clone(),
                account_id: state.account_id.clone(),
                access_key_id: parts
                    .headers
                    .get(header::AUTHORIZATION)
                    .and_then(|v| v.to_str().ok())
                    .and_then(sigv4::access_key_id)
                    .map(str::to_owned),
            };
            return call_query(&state.services, &ctx, &parts, body)
                .await
                .map(Body::from);
        }
        RequestShape::Rest => match &state.services.s3 {
            Some(s3) => return call_s3(s3, parts, body, &request_id).await,
            None => Err(Box::new(ProtocolError::UnknownOperation(format!(
                "No service on this server handles {} {}",
                parts.method,
                parts.uri.path()
            ))) as _),
        },
    };
    let response = match result {
        Ok(response) => response,
        Err(err) => {
            if err.status().is_server_error() {
                tracing::error!(%request_id, code = err.code(), message = %err.message(), "request failed");
            } else {
                tracing::debug!(%request_id, code = err.code(), "request refused");
            }
            json_error_response(err.as_ref(), &request_id)
        }
    };
    response.map(Body::from)
}

/// Hands an S3 request to s3s with its body streaming. A panic inside the S3 path is
/// caught here (not by [`CatchPanicLayer`], whose answer is JSON) so that S3 clients get
/// S3's XML error document.
async fn call_s3(
    s3: &s3s::service::S3Service,
    parts: axum::http::request::Parts,
    body: Body,
    request_id: &str,
) -> Response {
    use futures::FutureExt as _;
    let expects_continue = parts
        .headers
        .get(header::EXPECT)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    let method = parts.method.clone();
    let path = bounded(parts.uri.path(), LOG_PATH_MAX).to_owned();
    let request = axum::http::Request::from_parts(parts, s3s::Body::http_body_unsync(body));
    match std::panic::AssertUnwindSafe(s3.call(request))
        .catch_unwind()
        .await
    {
        Ok(Ok(mut response)) => {
            log_s3_refusal(request_id, &method, &path, &response);
            // A request refused before its body was read (NoSuchUpload on UploadPart,
            // say) with `Expect: 100-continue` was never told to continue, so the client
            // does not send the body; if the connection were kept alive, the server would
            // take the start of the next request for the rest of this body. Close it.
            if expects_continue && !response.status().is_success() {
                response.headers_mut().insert(
                    header::CONNECTION,
                    axum::http::HeaderValue::from_static("close"),
                );
            }
            response.map(Body::new)
        }
        Ok(Err(e)) => {
            let error = format!("{e:?}");
            tracing::error!(%request_id, %method, %path, error = %bounded(&error, LOG_PATH_MAX), "s3 request failed");
            sagestack_s3::api::internal_error_response(request_id).map(Body::from)
        }
        Err(_) => {
            tracing::error!(%request_id, "s3 request handler panicked");
            sagestack_s3::api::internal_error_response(request_id).map(Body::from)
        }
    }
}

/// Longest client-chosen text (a path, an error) copied into a log line.
const LOG_PATH_MAX: usize = 256;

/// One bounded line for an S3 error answer: method, path, status and S3's error code
/// (read from the small XML error document s3s buffers). Outcomes clients expect
/// (missing keys, not modified, conflicts, failed preconditions) stay at DEBUG.
fn log_s3_refusal(
    request_id: &str,
    method: &axum::http::Method,
    path: &str,
    response: &axum::http::Response<s3s::Body>,
) {
    let status = response.status();
    if status.is_success() || status.is_redirection() && status != 304 {
        return;
    }
    let body = response.body().bytes().unwrap_or_default();
    let text = String::from_utf8_lossy(&body[..body.len().min(4096)]);
    let code = text
        .split_once("<Code>")
        .and_then(|(_, rest)| rest.split_once("</Code>"))
        .map_or("", |(code, _)| bounded(code, 64));
    let status = status.as_u16();
    if status >= 500 {
        tracing::error!(%request_id, %method, %path, status, code, "s3 request failed");
    } else if matches!(status, 304 | 404 | 409 | 412) {
        tracing::debug!(%request_id, %method, %path, status, code, "s3 request refused");
    } else {
        tracing::warn!(%request_id, %method, %path, status, code, "s3 request refused");
    }
}

/// At most `max` characters of `value`.
fn bounded(value: &str, max: usize) -> &str {
    match value.char_indices().nth(max) {
        Some((end, _)) => &value[..end],
        None => value,
    }
}

/// Reads the form body (bounded like JSON bodies), routes by `Version` and answers XML:
/// a result document or a Query `ErrorResponse`.
async fn call_query(
    services: &Services,
    ctx: &RequestContext,
    parts: &axum::http::request::Parts,
    body: Body,
) -> axum::http::Response<bytes::Bytes> {
    let mut namespace = None;
    let result = async {
        let bytes = read_body(parts, body, query::MAX_BODY_BYTES).await?;
        let request = query::parse_request(parts.uri.query(), &bytes)?;
        let Some(service) = services.query.get(request.version.as_str()) else {
            return Err(Box::new(QueryError::InvalidAction {
                action: request.action,
                version: request.version,
            }) as Box<dyn sagestack_protocol::AwsError>);
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
    match result {
        Ok(response) => response,
        Err(err) => {
            if err.status().is_server_error() {
                tracing::error!(request_id = %ctx.request_id, code = err.code(), message = %err.message(), "request failed");
            } else {
                tracing::debug!(request_id = %ctx.request_id, code = err.code(), "request refused");
            }
            query::error_response(err.as_ref(), namespace, &ctx.request_id)
        }
    }
}

/// Reads a request body of at most `limit` bytes; an announced larger body is refused
/// before it is read.
async fn read_body(
    parts: &axum::http::request::Parts,
    body: Body,
    limit: usize,
) -> Result<bytes::Bytes, Box<dyn sagestack_protocol::AwsError>> {
    let too_large = || ProtocolError::RequestTooLarge { limit };
    let announced = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|n| n > limit as u64) {
        return Err(too_large().into());
    }
    axum::body::to_bytes(body, limit)
        .await
        .map_err(|e| body_error(e, limit).into())
}

/// Why a body could not be read: over `limit` (413), or it stopped arriving.
fn body_error(error: axum::Error, limit: usize) -> ProtocolError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&error);
    while let Some(e) = source {
        if e.is::<http_body_util::LengthLimitError>() {
            return ProtocolError::RequestTooLarge { limit };
        }
        source = e.source();
    }
    ProtocolError::RequestTimeout
}

async fn call_json(
    service: &dyn Json11Service,
    ctx: &RequestContext,
    parts: &axum::http::request::Parts,
    body: Body,
    operation: &str,
) -> Result<axum::http::Response<bytes::Bytes>, Box<dyn sagestack_protocol::AwsError>> {
    let bytes = read_body(parts, body, MAX_BODY_BYTES).await?;
    let input = json11::parse_body(&bytes)?;
    let output = service.call(ctx, operation, input).await?;
    Ok(json11::ok_response(output, &ctx.request_id))
}
