//! The request guard in front of [`crate::router`]: what a web page must not be able
//! to do to this server.
//!
//! Each request, before any service sees it (the health check excepted, so that load
//! balancers and scripts probe it freely):
//!
//! 0. A request target over 16 KiB is refused `414` with a text body.
//! 1. `Host` must be one of ours ([`AllowedHosts`]), else `421 Misdirected Request`
//!    (plain text: no AWS endpoint answers for a foreign name, so there is no AWS
//!    error to mimic). This defeats DNS rebinding.
//! 2. A CORS preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`)
//!    is answered `403` without any `Access-Control-Allow-*` header, so browsers never
//!    send cross-origin calls that need one (every signed call does).
//! 3. A request that a browser marks as coming from another origin
//!    (`Sec-Fetch-Site` other than `same-origin`/`none`, or an `Origin` that is not the
//!    `Host`) is refused, except S3 reads (`GET`/`HEAD`: presigned object URLs in
//!    `<img>` tags are a normal use). SDKs and the CLI send neither header.
//! 4. JSON and Query requests must carry a SigV4-shaped signature
//!    ([`sigv4::check_shape`]); whether it is the right one is decided after the body
//!    is read, by the credentials policy (`sagestack_protocol::auth`, `--auth`). S3
//!    REST requests go on to s3s, which verifies signatures against the same policy's
//!    keys and refuses unsigned ones itself. The web console's paths
//!    (`sagestack_console::PREFIX`) are pages, not AWS calls: they pass this step
//!    (having passed 1 to 3, so only same-origin browser requests reach them) and
//!    authenticate by the console's session cookie and CSRF token instead.
//!
//! Refusals 3 and 4 are AWS's errors in the request's protocol
//! (`MissingAuthenticationToken[Exception]`, `IncompleteSignature[Exception]`,
//! `AccessDenied[Exception]`); refusal 3 of an S3 request is plain text.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use sagestack_protocol::error::json_error_response;
use sagestack_protocol::sigv4::{self, AuthError};
use sagestack_protocol::{RequestShape, classify, new_request_id, query};

use crate::hosts::AllowedHosts;

/// The paths that stay open to everyone (a load balancer's checks send any `Host`).
const OPEN_PATHS: [&str; 2] = ["/_sagestack/health", "/_sagestack/ready"];

/// Longest request target (path and query) accepted. hyper refuses targets over
/// 64 KiB itself, with a bare `414` (no body, and no way to give it one); below that
/// this limit answers `414` with a text saying why. 16 KiB is far above any AWS
/// request (S3 keys are at most 1 KiB, presigned URLs a few hundred bytes more).
const MAX_TARGET_BYTES: usize = 16 * 1024;

/// Longest piece of a client-chosen value (a `Host`, a path) put in a log line.
const LOG_VALUE_MAX: usize = 128;

/// Puts the guard in front of `router`.
pub fn guard(router: Router, hosts: AllowedHosts) -> Router {
    router.layer(middleware::from_fn_with_state(Arc::new(hosts), check))
}

async fn check(State(hosts): State<Arc<AllowedHosts>>, request: Request, next: Next) -> Response {
    if OPEN_PATHS.contains(&request.uri().path()) {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    if let Some(refusal) = refuse(&hosts, &parts) {
        return refusal;
    }
    next.run(Request::from_parts(parts, body)).await
}

/// The answer to a request that must not go further, if it is one.
fn refuse(hosts: &AllowedHosts, parts: &Parts) -> Option<Response> {
    let target = parts.uri.path_and_query().map_or(0, |p| p.as_str().len());
    if target > MAX_TARGET_BYTES {
        return Some(plain(
            StatusCode::URI_TOO_LONG,
            format!(
                "The request target is {target} bytes long; this server accepts at most \
                 {MAX_TARGET_BYTES}.\n"
            ),
        ));
    }
    let host = request_host(parts);
    if !host.is_some_and(|h| hosts.allows(h)) {
        let host = host.unwrap_or("");
        tracing::warn!(
            host = %bounded(host),
            "refused a request for a host this server does not answer to (see --allowed-host)"
        );
        return Some(plain(
            StatusCode::MISDIRECTED_REQUEST,
            format!(
                "This server does not answer to the host '{}'; start it with \
                 --allowed-host to accept that name.\n",
                bounded(host)
            ),
        ));
    }
    if is_preflight(parts) {
        return Some(plain(
            StatusCode::FORBIDDEN,
            "Cross-origin requests are not allowed on this server.\n".into(),
        ));
    }
    let shape = classify(parts);
    let s3_read =
        matches!(shape, RequestShape::Rest) && matches!(parts.method, Method::GET | Method::HEAD);
    if !s3_read && from_another_origin(parts, host.unwrap_or("")) {
        let err = AuthError::AccessDenied(
            "Cross-origin requests from a web browser are not allowed on this server".into(),
        );
        tracing::warn!(method = %parts.method, path = %bounded(parts.uri.path()), "refused a cross-origin browser request");
        return Some(match shape {
            RequestShape::Rest => plain(StatusCode::FORBIDDEN, format!("{err}\n")),
            shape => protocol_error(&shape, err),
        });
    }
    if is_console(parts) {
        return None;
    }
    match shape {
        RequestShape::Rest => None,
        shape => sigv4::check_shape(parts)
            .err()
            .map(|err| protocol_error(&shape, err)),
    }
}

/// `Host`, or the URI's authority (HTTP/2 has no `Host` header).
fn request_host(parts: &Parts) -> Option<&str> {
    parts
        .headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| parts.uri.authority().map(|a| a.as_str()))
}

/// A request for the web console (its pages, forms and assets).
fn is_console(parts: &Parts) -> bool {
    let path = parts.uri.path();
    path.strip_prefix(sagestack_console::PREFIX)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

fn is_preflight(parts: &Parts) -> bool {
    parts.method == Method::OPTIONS
        && parts.headers.contains_key(header::ORIGIN)
        && parts
            .headers
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
}

/// What browsers say about where a request comes from. `Sec-Fetch-Site` is sent by
/// current browsers on every request (`<img>` included); `Origin` by all of them on
/// cross-origin POSTs.
fn from_another_origin(parts: &Parts, host: &str) -> bool {
    let site = parts
        .headers
        .get("sec-fetch-site")
        .map(|v| v.as_bytes().to_ascii_lowercase());
    if site.is_some_and(|s| s != b"same-origin" && s != b"none") {
        return true;
    }
    let Some(origin) = parts.headers.get(header::ORIGIN) else {
        return false;
    };
    // `Origin: scheme://host[:port]` of the same authority as `Host` is same-origin.
    let origin = origin.to_str().unwrap_or("null");
    let authority = origin.split_once("://").map_or("", |(_, a)| a);
    !authority.eq_ignore_ascii_case(host)
}

/// `err` in the shape of the request's protocol: JSON 1.1 or Query XML.
fn protocol_error(shape: &RequestShape, err: AuthError) -> Response {
    let request_id = new_request_id();
    tracing::debug!(%request_id, code = sagestack_protocol::AwsError::code(&err), "request refused before dispatch");
    let response = match shape {
        RequestShape::Query => query::error_response(&err, None, &request_id),
        _ => json_error_response(&err.for_json(), &request_id),
    };
    response.map(Body::from)
}

fn plain(status: StatusCode, text: String) -> Response {
    let mut response = Response::new(Body::from(text));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// At most [`LOG_VALUE_MAX`] characters of a client-chosen value.
fn bounded(value: &str) -> &str {
    match value.char_indices().nth(LOG_VALUE_MAX) {
        Some((end, _)) => &value[..end],
        None => value,
    }
}
