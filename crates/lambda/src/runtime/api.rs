//! The Lambda Runtime API one worker talks to (`AWS_LAMBDA_RUNTIME_API`): the same paths
//! and headers as in Lambda, served on a loopback port of the worker's own, so a
//! runtime client written for AWS (ours, `awslambdaric`, the Rust or Go runtimes in a
//! `provided` function) works unchanged.
//!
//! * `GET /2018-06-01/runtime/invocation/next` waits for the worker's next invocation
//!   and answers its payload with `Lambda-Runtime-Aws-Request-Id`,
//!   `Lambda-Runtime-Deadline-Ms`, `Lambda-Runtime-Invoked-Function-Arn` and
//!   `Lambda-Runtime-Trace-Id`;
//! * `POST .../invocation/{id}/response` and `.../invocation/{id}/error` answer it;
//! * `POST /2018-06-01/runtime/init/error` reports that the function could not start.
//!
//! A worker runs one invocation at a time, as in Lambda; a response for another request
//! id than the current one is refused `400` (`InvalidRequestID`).

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio::sync::{Mutex, mpsc, oneshot};

/// Largest response a function may return (6 MB, as Lambda's synchronous invoke).
pub const MAX_RESPONSE_BYTES: usize = 6 * 1024 * 1024;

/// One invocation, as the runtime receives it.
pub struct Invocation {
    pub request_id: String,
    pub deadline_ms: i64,
    pub function_arn: String,
    pub payload: Bytes,
    pub client_context: Option<String>,
}

/// An invocation handed to the worker, with where its answer goes.
pub struct Job {
    pub invocation: Invocation,
    pub reply: oneshot::Sender<Reply>,
}

/// What the runtime answered.
#[derive(Debug)]
pub enum Reply {
    Response(Bytes),
    /// The handler failed: the error document and `Lambda-Runtime-Function-Error-Type`.
    Error(Bytes),
    /// The function could not initialize.
    InitError(Bytes),
}

/// The runtime API's state for one worker.
pub struct RuntimeApi {
    jobs: Mutex<mpsc::Receiver<Job>>,
    current: Mutex<Option<(String, oneshot::Sender<Reply>)>>,
    /// An `init/error` posted while no invocation was current (the usual case: the
    /// runtime fails before it asks for the first invocation).
    pub init_error: Mutex<Option<Bytes>>,
    /// When the runtime took the current invocation: the end of a cold start's init,
    /// and the start of the invocation's duration.
    pub taken_at: std::sync::Mutex<Option<std::time::Instant>>,
}

impl RuntimeApi {
    pub fn new(jobs: mpsc::Receiver<Job>) -> Arc<RuntimeApi> {
        Arc::new(RuntimeApi {
            jobs: Mutex::new(jobs),
            current: Mutex::new(None),
            init_error: Mutex::new(None),
            taken_at: std::sync::Mutex::new(None),
        })
    }

    pub fn router(self: Arc<Self>) -> Router {
        Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(response),
            )
            .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .layer(axum::extract::DefaultBodyLimit::max(
                MAX_RESPONSE_BYTES + 1024,
            ))
            .with_state(self)
    }

    async fn answer(&self, id: &str, reply: Reply) -> Response {
        let mut current = self.current.lock().await;
        match current.take() {
            Some((current_id, sender)) if current_id == id => {
                let _ = sender.send(reply);
                (StatusCode::ACCEPTED, r#"{"status":"OK"}"#).into_response()
            }
            other => {
                *current = other;
                (
                    StatusCode::BAD_REQUEST,
                    format!(
                        r#"{{"errorMessage":"Invalid request ID: {id}","errorType":"InvalidRequestID"}}"#
                    ),
                )
                    .into_response()
            }
        }
    }
}

async fn next(State(api): State<Arc<RuntimeApi>>) -> Response {
    let job = {
        let mut jobs = api.jobs.lock().await;
        jobs.recv().await
    };
    let Some(job) = job else {
        // The worker is being retired: the runtime waits here until it is killed.
        return std::future::pending::<Response>().await;
    };
    let Job {
        invocation: job,
        reply,
    } = job;
    *api.current.lock().await = Some((job.request_id.clone(), reply));
    *api.taken_at.lock().unwrap_or_else(|e| e.into_inner()) = Some(std::time::Instant::now());
    let mut headers = HeaderMap::new();
    let mut put = |name: &'static str, value: &str| {
        if let Ok(v) = value.parse() {
            headers.insert(name, v);
        }
    };
    put("lambda-runtime-aws-request-id", &job.request_id);
    put("lambda-runtime-deadline-ms", &job.deadline_ms.to_string());
    put("lambda-runtime-invoked-function-arn", &job.function_arn);
    put(
        "lambda-runtime-trace-id",
        &format!(
            "Root=1-{:08x}-{}",
            job.deadline_ms / 1000,
            &job.request_id.replace('-', "")[..24]
        ),
    );
    if let Some(cc) = &job.client_context {
        put("lambda-runtime-client-context", cc);
    }
    put("content-type", "application/json");
    (StatusCode::OK, headers, job.payload).into_response()
}

async fn response(
    State(api): State<Arc<RuntimeApi>>,
    Path(id): Path<String>,
    body: Body,
) -> Response {
    // Read at most one byte past the limit: a larger response is the invocation's error
    // (as in Lambda), never a refusal the runtime would not expect.
    match http_body_util::BodyExt::collect(http_body_util::Limited::new(body, MAX_RESPONSE_BYTES))
        .await
    {
        Ok(collected) => api.answer(&id, Reply::Response(collected.to_bytes())).await,
        Err(_) => {
            let message = format!(
                r#"{{"errorMessage":"Response payload size exceeded maximum allowed payload size ({MAX_RESPONSE_BYTES} bytes).","errorType":"Function.ResponseSizeTooLarge"}}"#
            );
            api.answer(&id, Reply::Error(Bytes::from(message))).await
        }
    }
}

async fn error(
    State(api): State<Arc<RuntimeApi>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    api.answer(&id, Reply::Error(body)).await
}

async fn init_error(State(api): State<Arc<RuntimeApi>>, body: Bytes) -> Response {
    let current = api.current.lock().await.take();
    match current {
        Some((_, sender)) => {
            let _ = sender.send(Reply::InitError(body));
        }
        None => *api.init_error.lock().await = Some(body),
    }
    (StatusCode::ACCEPTED, r#"{"status":"OK"}"#).into_response()
}
