//! The S3 endpoint's HTTP edge: hands a request to the s3s service, logs S3 refusals,
//! and answers a panic or an unrenderable failure in the S3 path with S3's
//! `500 InternalError` document (not the JSON one the server gives other protocols).
//!
//! Never buffers a request body (it streams on to s3s) and never decides anything about
//! an operation: that is [`super::S3Api`]'s.

use futures::FutureExt as _;
use http::{HeaderValue, Method, Request, Response, header};

use super::errors::internal_error_response;

/// Longest client-chosen text (a path, an error) copied into a log line.
const LOG_TEXT_MAX: usize = 256;

/// Runs `request` through `s3` (body streaming). A panic inside the S3 path is caught
/// here so that S3 clients get S3's XML error document.
pub async fn call(
    s3: &s3s::service::S3Service,
    request: Request<s3s::Body>,
    request_id: &str,
) -> Response<s3s::Body> {
    let expects_continue = request
        .headers()
        .get(header::EXPECT)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    let method = request.method().clone();
    let path = bounded(request.uri().path(), LOG_TEXT_MAX).to_owned();
    match std::panic::AssertUnwindSafe(s3.call(request))
        .catch_unwind()
        .await
    {
        Ok(Ok(mut response)) => {
            log_refusal(request_id, &method, &path, &response);
            // A request refused before its body was read (NoSuchUpload on UploadPart,
            // say) with `Expect: 100-continue` was never told to continue, so the client
            // does not send the body; if the connection were kept alive, the server would
            // take the start of the next request for the rest of this body. Close it.
            if expects_continue && !response.status().is_success() {
                response
                    .headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            response
        }
        Ok(Err(e)) => {
            let error = format!("{e:?}");
            tracing::error!(%request_id, %method, %path, error = %bounded(&error, LOG_TEXT_MAX), "s3 request failed");
            internal_error_response(request_id)
        }
        Err(_) => {
            tracing::error!(%request_id, "s3 request handler panicked");
            internal_error_response(request_id)
        }
    }
}

/// One bounded line for an S3 error answer: method, path, status and S3's error code
/// (read from the small XML error document s3s buffers). Outcomes clients expect
/// (missing keys, not modified, conflicts, failed preconditions) stay at DEBUG.
fn log_refusal(request_id: &str, method: &Method, path: &str, response: &Response<s3s::Body>) {
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
