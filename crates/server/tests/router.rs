//! The router against stub services: dispatch by request shape, error shapes,
//! body limits and panic containment.

use std::sync::Arc;

use async_trait::async_trait;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use sagestack_protocol::json11::CallResult;
use sagestack_protocol::{Json11Service, JsonOutput, ProtocolError, RequestContext};
use sagestack_server::{AppState, Services, router};
use serde_json::{Value, json};
use tower::ServiceExt;

struct Echo;

#[async_trait]
impl Json11Service for Echo {
    fn target_prefix(&self) -> &'static str {
        "Echo"
    }
    async fn call(&self, ctx: &RequestContext, operation: &str, input: Value) -> CallResult {
        match operation {
            "Echo" => Ok(JsonOutput::Value(
                json!({"input": input, "key": ctx.caller.as_ref().map(|c| &c.access_key_id), "region": ctx.region}),
            )),
            "Panic" => panic!("handler bug"),
            other => Err(ProtocolError::UnknownOperation(format!("no {other}")).into()),
        }
    }
}

fn app() -> axum::Router {
    app_with(Services::default().with_json(Arc::new(Echo)))
}

/// The router over `services`, in eu-west-3 without a store.
fn app_with(services: Services) -> axum::Router {
    router(AppState {
        services,
        region: "eu-west-3".into(),
        account_id: "111122223333".into(),
        auth: sagestack_protocol::auth::Auth::None {
            account_id: "111122223333".into(),
        },
        store: None,
        lambda: None,
        events: Default::default(),
        console: None,
        reset: None,
    })
}

/// One request through `app`: the status, the headers and the body's bytes.
async fn respond(
    app: axum::Router,
    req: Request<Body>,
) -> (StatusCode, axum::http::HeaderMap, axum::body::Bytes) {
    let resp = app.oneshot(req).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (status, headers, bytes)
}

async fn send(req: Request<Body>) -> (StatusCode, axum::http::HeaderMap, Value) {
    let (status, headers, bytes) = respond(app(), req).await;
    (status, headers, serde_json::from_slice(&bytes).unwrap())
}

fn json_req(target: &str, body: impl Into<Body>) -> Request<Body> {
    Request::post("/")
        .header("x-amz-target", target)
        .header("content-type", "application/x-amz-json-1.1")
        .header(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=AKIDX/20250101/eu-west-3/echo/aws4_request, SignedHeaders=host, Signature=0",
        )
        .header("x-amz-date", "20250101T000000Z")
        .body(body.into())
        .unwrap()
}

#[tokio::test]
async fn routes_json_by_target_prefix_with_context() {
    let (status, headers, body) = send(json_req("Echo.Echo", r#"{"a":1}"#)).await;
    assert_eq!(status, 200);
    assert!(headers.contains_key("x-amzn-requestid"));
    assert_eq!(
        body,
        json!({"input": {"a": 1}, "key": "AKIDX", "region": "eu-west-3"})
    );
}

#[tokio::test]
async fn unknown_targets_and_shapes() {
    for target in ["Nope.Echo", "Echo", "Echo.Missing"] {
        let (status, headers, body) = send(json_req(target, "{}")).await;
        assert_eq!(status, 400, "{target}");
        assert_eq!(headers["x-amzn-errortype"], "UnknownOperationException");
        assert_eq!(body["__type"], "UnknownOperationException");
        assert!(headers.contains_key("x-amzn-requestid"));
    }
}

#[tokio::test]
async fn query_requests_without_a_service_get_a_query_error() {
    // Form-encoded `Action=` requests are the Query protocol: their errors are XML.
    let req = Request::post("/")
        .header("content-type", "application/x-www-form-urlencoded")
        .header(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=AKIDX/20250101/eu-west-3/cloudformation/aws4_request, SignedHeaders=host, Signature=0",
        )
        .header("x-amz-date", "20250101T000000Z")
        .body(Body::from("Action=ListStacks&Version=2010-05-15"))
        .unwrap();
    let resp = app().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), 400);
    assert!(resp.headers().contains_key("x-amzn-requestid"));
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let text = String::from_utf8_lossy(&bytes);
    assert!(text.contains("<ErrorResponse"), "{text}");
    assert!(text.contains("<Code>"), "{text}");
}

#[tokio::test]
async fn malformed_json_is_a_serialization_exception() {
    for bad in ["{", "[]", "\"x\"", "{\"a\":}"] {
        let (status, headers, body) = send(json_req("Echo.Echo", bad)).await;
        assert_eq!(status, 400, "{bad}");
        assert_eq!(headers["x-amzn-errortype"], "SerializationException");
        assert_eq!(body["__type"], "SerializationException");
    }
}

#[tokio::test]
async fn oversized_bodies_are_refused() {
    let big = vec![b' '; sagestack_protocol::json11::MAX_BODY_BYTES + 1];
    let (status, _, body) = send(json_req("Echo.Echo", big)).await;
    assert_eq!(status, 413);
    assert_eq!(body["__type"], "RequestEntityTooLargeException");
    // A body that lies about its length is still cut off at the limit.
    let stream = futures_stream(sagestack_protocol::json11::MAX_BODY_BYTES + 10);
    let (status, _, _) = send(json_req("Echo.Echo", stream)).await;
    assert_eq!(status, 413);
}

fn futures_stream(n: usize) -> Body {
    // No Content-Length: a body of unknown size, delivered in chunks.
    let chunks: Vec<Result<bytes::Bytes, std::io::Error>> = (0..n / 1024 + 1)
        .map(|_| Ok(bytes::Bytes::from(vec![b' '; 1024])))
        .collect();
    Body::from_stream(tokio_stream_iter(chunks))
}

fn tokio_stream_iter<T: Send + Unpin + 'static>(
    items: Vec<T>,
) -> impl futures_core::Stream<Item = T> + Send + 'static {
    struct Iter<T>(std::vec::IntoIter<T>);
    impl<T> futures_core::Stream for Iter<T>
    where
        T: Unpin,
    {
        type Item = T;
        fn poll_next(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<T>> {
            std::task::Poll::Ready(self.0.next())
        }
    }
    Iter(items.into_iter())
}

#[tokio::test]
async fn panics_become_internal_failures() {
    let (status, headers, body) = send(json_req("Echo.Panic", "{}")).await;
    assert_eq!(status, 500);
    assert_eq!(headers["x-amzn-errortype"], "InternalFailure");
    assert_eq!(body["__type"], "InternalFailure");
    // The router still serves afterwards.
    let (status, _, _) = send(json_req("Echo.Echo", "{}")).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn health() {
    let req = Request::get("/_sagestack/health")
        .body(Body::empty())
        .unwrap();
    let (status, headers, body) = send(req).await;
    assert_eq!(status, 200);
    assert!(headers.contains_key("x-amzn-requestid"));
    assert_eq!(body["status"], "ok");
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
}

/// An S3 implementation whose ListBuckets panics; everything else is s3s's default
/// (`NotImplemented`).
struct PanickyS3;

#[async_trait]
impl s3s::S3 for PanickyS3 {
    async fn list_buckets(
        &self,
        _req: s3s::S3Request<s3s::dto::ListBucketsInput>,
    ) -> s3s::S3Result<s3s::S3Response<s3s::dto::ListBucketsOutput>> {
        panic!("s3 handler bug")
    }
}

/// Lets anonymous requests through, so the stub is reachable without signing.
struct AllowAll;

#[async_trait]
impl s3s::access::S3Access for AllowAll {
    async fn check(&self, _cx: &mut s3s::access::S3AccessContext<'_>) -> s3s::S3Result<()> {
        Ok(())
    }
}

fn s3_app() -> axum::Router {
    let mut builder = s3s::service::S3ServiceBuilder::new(PanickyS3);
    builder.set_access(AllowAll);
    app_with(
        Services::default()
            .with_json(Arc::new(Echo))
            .with_s3(builder.build()),
    )
}

async fn send_s3(req: Request<Body>) -> (StatusCode, axum::http::HeaderMap, String) {
    let (status, headers, bytes) = respond(s3_app(), req).await;
    (status, headers, String::from_utf8(bytes.to_vec()).unwrap())
}

#[tokio::test]
async fn s3_panics_answer_s3_xml_not_json() {
    let (status, headers, body) = send_s3(Request::get("/").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(body.contains("<Code>InternalError</Code>"), "{body}");
    assert!(headers["x-amz-request-id"].len() > 10);
    // The JSON services on the same router are unaffected.
    let resp = s3_app().oneshot(json_req("Echo.Echo", "{}")).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
}

#[tokio::test]
async fn s3_posts_reach_s3_even_with_a_form_content_type() {
    let form = "application/x-www-form-urlencoded";
    for uri in ["/bucket?delete", "/?delete", "/bucket/key?uploads"] {
        let (status, _, body) = send_s3(
            Request::post(uri)
                .header("content-type", form)
                .body(Body::from("<Delete></Delete>"))
                .unwrap(),
        )
        .await;
        // Answered by s3s (S3 XML), not by the Query protocol.
        assert!(body.contains("<Error><Code>"), "{uri}: {status} {body}");
        assert!(!body.contains("ErrorResponse"), "{uri}: {body}");
    }
}

#[tokio::test]
async fn refused_expect_continue_requests_close_the_connection() {
    let (status, headers, _) = send_s3(
        Request::put("/bucket/key")
            .header("expect", "100-continue")
            .header("content-length", "5")
            .body(Body::from("hello"))
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_IMPLEMENTED);
    assert_eq!(headers["connection"], "close");
    let (_, headers, _) = send_s3(
        Request::put("/bucket/key")
            .header("content-length", "5")
            .body(Body::from("hello"))
            .unwrap(),
    )
    .await;
    assert!(headers.get("connection").is_none());
}
