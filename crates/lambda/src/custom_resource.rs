//! Lambda-backed custom resources: CloudFormation's request goes to a function of this
//! server as its event, and the response comes back the way it does on AWS, as a `PUT`
//! to the request's `ResponseURL`: here a one-time URL on this server
//! (`/_sagestack/cfn-response/<request id>`) that [`Responses`] answers.
//!
//! Beyond AWS (which waits up to an hour for a response that never comes): when the
//! invocation fails or times out before any response arrived, or the function returns
//! without sending one, the resource fails at once with the function's error and the
//! tail of its log.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use tokio::sync::oneshot;

use sagestack_providers::{CustomResourceRequest, CustomResourceResponse, CustomResourceTransport};

use crate::invoke::Invoker;

/// The `ResponseURL` path prefix on this server.
pub const RESPONSE_PATH: &str = "/_sagestack/cfn-response/";
/// How long a response may trail the function's return (a handler that sends it from a
/// thread it does not join).
const LATE_RESPONSE: Duration = Duration::from_millis(500);
/// Log lines quoted in a failure reason.
const TAIL_LINES: usize = 8;

/// Responses awaited, by request id. Shared by the transport (which waits) and the
/// server's router (which delivers the `PUT`s).
#[derive(Default)]
pub struct Responses {
    pending: Mutex<HashMap<String, oneshot::Sender<Bytes>>>,
}

impl Responses {
    pub fn new() -> Arc<Responses> {
        Arc::default()
    }

    fn register(&self, request_id: &str) -> oneshot::Receiver<Bytes> {
        let (tx, rx) = oneshot::channel();
        self.lock().insert(request_id.to_string(), tx);
        rx
    }

    fn forget(&self, request_id: &str) {
        self.lock().remove(request_id);
    }

    /// Delivers a `PUT` to `ResponseURL`; false when nothing awaits `request_id` (an
    /// unknown id, or one already answered: the URL is good for one response).
    pub fn deliver(&self, request_id: &str, body: Bytes) -> bool {
        match self.lock().remove(request_id) {
            Some(tx) => tx.send(body).is_ok(),
            None => false,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, oneshot::Sender<Bytes>>> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The custom-resource transport for Lambda `ServiceToken`s.
pub struct LambdaCustomResources {
    invoker: Arc<Invoker>,
    responses: Arc<Responses>,
    /// This server's base URL (`http://127.0.0.1:4566`).
    base_url: String,
}

impl LambdaCustomResources {
    pub fn new(invoker: Arc<Invoker>, responses: Arc<Responses>, base_url: String) -> Self {
        LambdaCustomResources {
            invoker,
            responses,
            base_url,
        }
    }
}

#[async_trait]
impl CustomResourceTransport for LambdaCustomResources {
    fn response_url(&self, request_id: &str) -> Option<String> {
        Some(format!("{}{RESPONSE_PATH}{request_id}", self.base_url))
    }

    async fn send(
        &self,
        function_arn: &str,
        request: &CustomResourceRequest,
    ) -> Result<CustomResourceResponse, String> {
        let spec = self
            .invoker
            .spec(function_arn, None)
            .await
            .map_err(|e| e.to_string())?;
        let payload = serde_json::to_vec(request).map_err(|e| e.to_string())?;
        let mut response = self.responses.register(&request.request_id);
        // The invocation runs as a task of its own: the response may come before the
        // function returns, and the function must not be cut off when it does.
        let invoker = self.invoker.clone();
        let invocation_id = uuid::Uuid::new_v4().to_string();
        let mut run = tokio::spawn(async move {
            invoker
                .run(&spec, &invocation_id, Bytes::from(payload), None)
                .await
        });
        let result = tokio::select! {
            body = &mut response => parse(body.ok()),
            done = &mut run => match done {
                Err(e) => Err(format!("the invocation failed: {e}")),
                Ok(outcome) => {
                    if outcome.function_error.is_some() {
                        Err(format!(
                            "the function failed before sending a response: {}{}",
                            error_text(&outcome.payload),
                            tail(&outcome.log_lines)
                        ))
                    } else {
                        match tokio::time::timeout(LATE_RESPONSE, &mut response).await {
                            Ok(body) => parse(body.ok()),
                            Err(_) => Err(format!(
                                "the function returned without sending a response to the ResponseURL{}",
                                tail(&outcome.log_lines)
                            )),
                        }
                    }
                }
            },
        };
        self.responses.forget(&request.request_id);
        result
    }
}

fn parse(body: Option<Bytes>) -> Result<CustomResourceResponse, String> {
    let body = body.ok_or("the response channel closed")?;
    serde_json::from_slice(&body).map_err(|e| {
        format!(
            "the response sent to the ResponseURL is not a custom-resource response document: {e}"
        )
    })
}

/// `errorType: errorMessage` of a Lambda error document, or the payload as text.
fn error_text(payload: &[u8]) -> String {
    let doc: serde_json::Value = serde_json::from_slice(payload).unwrap_or_default();
    match (doc["errorType"].as_str(), doc["errorMessage"].as_str()) {
        (Some(t), Some(m)) => format!("{t}: {m}"),
        (None, Some(m)) => m.to_string(),
        _ => String::from_utf8_lossy(payload).chars().take(500).collect(),
    }
}

fn tail(lines: &[String]) -> String {
    let body: Vec<&str> = lines
        .iter()
        .map(String::as_str)
        .filter(|l| !l.starts_with("START ") && !l.starts_with("END ") && !l.starts_with("REPORT "))
        .collect();
    if body.is_empty() {
        return String::new();
    }
    let start = body.len().saturating_sub(TAIL_LINES);
    format!(". Log tail: {}", body[start..].join(" | "))
}
