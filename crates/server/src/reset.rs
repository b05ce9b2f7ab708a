//! `POST /_sagestack/reset`: empties every account's state in place, without a
//! restart, so that a test session can start each test on an empty server
//! (`sagestack serve --ephemeral` plus this is what a pytest fixture needs).
//!
//! What is emptied, per account: the store (every table: projects, stacks, S3 buckets
//! and objects, SSM, IAM, Service Catalog, model packages, Lambda functions,
//! EventBridge buses, rules and outbox, pipelines, builds, log groups, leases...) with
//! what it keeps in memory (`Store::reset`), EventBridge's rules in memory, counts and
//! held deliveries (`EventBridge::reset`), log streams and events (kept only in
//! memory), warm Lambda worker processes, the engine's event numbering; and the
//! server's temporary (STS) keys. Kept: long-term keys, console sign-ins, and caches of
//! pure computations (parsed templates, resource schemas).
//!
//! **Operations in flight.** A reset never cuts an operation in half: it waits (up to
//! `?wait=SECONDS`, default [`DEFAULT_WAIT`]) until no stack, project or provisioned
//! product operation and no Lambda invocation runs, then takes the request gate
//! ([`Reset::gate`], which every other request holds while it runs: requests in flight
//! finish first, new ones wait) and checks again; if work is still running when the
//! wait is over, it answers `409` naming it and changes nothing. Event deliveries
//! waiting for a retry are not waited for: they are dropped with the outbox they came
//! from.
//!
//! **Who may reset.** Under `--auth none`, anyone who can reach the address, as for
//! every other call; the guard still refuses browsers' cross-origin requests and
//! foreign `Host`s (`guard.rs`), so a web page cannot. Under `--auth sigv4`, only a
//! request signed (SigV4, any service name) by a long-term key of the server's own
//! account (`--account-id`). With `--database-url` a reset is refused: the database
//! is shared by replicas whose memory this process cannot empty.
//!
//! Answers (JSON): `200 {"reset":true,"accounts":[..],"elapsedMs":..}`;
//! `409 {"reset":false,"code":"Busy","message":..,"busy":[..]}`;
//! `403 {"reset":false,"code":"AccessDenied"|..,"message":..}`;
//! `400 {"reset":false,"code":"NotSupported"|"InvalidParameter","message":..}`;
//! `500 {"reset":false,"code":"InternalFailure","message":..}`.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sagestack_protocol::auth::Auth;
use serde_json::json;

/// How long a reset waits for running operations by default.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(10);
/// The longest `?wait=` accepted.
const MAX_WAIT: Duration = Duration::from_secs(600);
/// How often a waiting reset looks again.
const POLL: Duration = Duration::from_millis(2);
/// Largest body read (a reset has none; a signed one may carry an empty JSON object).
const MAX_BODY: usize = 64 * 1024;

/// One account's parts a reset empties or asks about.
pub struct ResetAccount {
    pub account_id: String,
    pub store: Arc<dyn sagestack_store::Store>,
    pub cloudformation: Arc<sagestack_cloudformation::CloudFormationService>,
    pub provisioner: sagestack_provisioning::ProjectProvisioner,
    pub provisioned: Arc<sagestack_servicecatalog::ProvisionedProducts>,
    pub invoker: Arc<sagestack_lambda::Invoker>,
    pub events: Arc<sagestack_events::EventBridge>,
    pub logs: Arc<sagestack_logs::Logs>,
}

/// See the module documentation.
pub struct Reset {
    /// Every request but the health checks and the reset holds it shared; a reset holds
    /// it alone.
    gate: Arc<tokio::sync::RwLock<()>>,
    accounts: Vec<ResetAccount>,
    auth: Auth,
    /// The server's own account: under sigv4, only its long-term keys may reset.
    account_id: String,
    /// Why resets are refused on this server (PostgreSQL), if they are.
    refused: Option<String>,
}

/// Why a reset did not happen.
#[derive(Debug, thiserror::Error)]
pub enum ResetError {
    #[error("{0}")]
    NotSupported(String),
    #[error("{0}")]
    InvalidParameter(String),
    #[error("{message}")]
    Denied { code: String, message: String },
    #[error("operations are still running after {waited_ms} ms: {}", .busy.join(", "))]
    Busy { busy: Vec<String>, waited_ms: u64 },
    #[error("{0}")]
    Failed(String),
}

impl ResetError {
    fn status(&self) -> StatusCode {
        match self {
            ResetError::NotSupported(_) | ResetError::InvalidParameter(_) => {
                StatusCode::BAD_REQUEST
            }
            ResetError::Denied { .. } => StatusCode::FORBIDDEN,
            ResetError::Busy { .. } => StatusCode::CONFLICT,
            ResetError::Failed(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn code(&self) -> &str {
        match self {
            ResetError::NotSupported(_) => "NotSupported",
            ResetError::InvalidParameter(_) => "InvalidParameter",
            ResetError::Denied { code, .. } => code,
            ResetError::Busy { .. } => "Busy",
            ResetError::Failed(_) => "InternalFailure",
        }
    }
}

impl Reset {
    /// `refused`: why this server cannot reset (`--database-url`), if so.
    pub fn new(
        accounts: Vec<ResetAccount>,
        auth: Auth,
        account_id: String,
        refused: Option<String>,
    ) -> Reset {
        Reset {
            gate: Arc::default(),
            accounts,
            auth,
            account_id,
            refused,
        }
    }

    /// The request gate (see the module documentation), for [`hold_gate`].
    pub fn gate(&self) -> Arc<tokio::sync::RwLock<()>> {
        self.gate.clone()
    }

    /// What is running now, in words; empty when nothing is.
    fn busy(&self) -> Vec<String> {
        let mut busy = Vec::new();
        for a in &self.accounts {
            let mut count = |n: usize, what: &str| {
                if n > 0 {
                    busy.push(format!("{n} {what} (account {})", a.account_id));
                }
            };
            count(a.cloudformation.engine().driving(), "stack operation(s)");
            count(a.provisioner.in_flight(), "project operation(s)");
            count(a.provisioned.running(), "provisioned product operation(s)");
            count(a.invoker.running(), "Lambda invocation(s)");
        }
        busy
    }

    /// Waits for running work to end (at most `wait`), then empties every account.
    pub async fn run(&self, wait: Duration) -> Result<Vec<String>, ResetError> {
        if let Some(why) = &self.refused {
            return Err(ResetError::NotSupported(why.clone()));
        }
        let started = Instant::now();
        let deadline = started + wait;
        let busy_error = |busy: Vec<String>| ResetError::Busy {
            busy,
            waited_ms: started.elapsed().as_millis() as u64,
        };
        loop {
            let busy = self.busy();
            if !busy.is_empty() {
                if Instant::now() >= deadline {
                    return Err(busy_error(busy));
                }
                tokio::time::sleep(POLL).await;
                continue;
            }
            // Bounded: a request in flight may wait for work that needs another request
            // (a function calling this server back), which waits behind this one.
            let left = deadline.saturating_duration_since(Instant::now());
            let gate = match tokio::time::timeout(left.max(POLL), self.gate.write()).await {
                Ok(gate) => gate,
                Err(_) => return Err(busy_error(vec!["requests in flight".into()])),
            };
            // Nothing starts work while the gate is held but background tasks already
            // started, which the check above may have raced with.
            if !self.busy().is_empty() {
                drop(gate);
                continue;
            }
            let result = self.empty_everything().await;
            drop(gate);
            return result;
        }
    }

    async fn empty_everything(&self) -> Result<Vec<String>, ResetError> {
        let failed = |account: &str, e: &dyn std::fmt::Display| {
            ResetError::Failed(format!("account {account}: {e}"))
        };
        for a in &self.accounts {
            a.store
                .reset()
                .await
                .map_err(|e| failed(&a.account_id, &e))?;
            a.events
                .reset()
                .await
                .map_err(|e| failed(&a.account_id, &e))?;
            a.logs.reset();
            a.invoker.stop_idle_workers().await;
            a.cloudformation.engine().forget_stacks();
        }
        if let Auth::Sigv4(credentials) = &self.auth {
            credentials.forget_sessions();
        }
        Ok(self.accounts.iter().map(|a| a.account_id.clone()).collect())
    }

    /// Under sigv4: the request must be signed by a long-term key of the server's own
    /// account. Under none: anyone (the guard already refused browsers).
    fn authorize(&self, parts: &axum::http::request::Parts, body: &[u8]) -> Result<(), ResetError> {
        let Auth::Sigv4(credentials) = &self.auth else {
            return Ok(());
        };
        let denied = |code: &str, message: String| ResetError::Denied {
            code: code.to_owned(),
            message,
        };
        let caller = self
            .auth
            .authenticate(parts, body, SystemTime::now())
            .map_err(|e| denied(sagestack_protocol::AwsError::code(&e), e.to_string()))?;
        let long_term = credentials
            .get(&caller.access_key_id)
            .is_some_and(|p| p.session.is_none());
        if caller.account_id != self.account_id || !long_term {
            return Err(denied(
                "AccessDenied",
                format!(
                    "Only a long-term key of account {} may reset this server",
                    self.account_id
                ),
            ));
        }
        Ok(())
    }
}

/// `POST /_sagestack/reset[?wait=SECONDS]` (see the module documentation).
pub async fn handle(State(reset): State<Arc<Reset>>, request: Request) -> Response {
    let started = Instant::now();
    let (parts, body) = request.into_parts();
    let result = async {
        let body = axum::body::to_bytes(body, MAX_BODY)
            .await
            .map_err(|e| ResetError::InvalidParameter(format!("cannot read the body: {e}")))?;
        reset.authorize(&parts, &body)?;
        let wait = wait_of(parts.uri.query())?;
        reset.run(wait).await
    }
    .await;
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    let (status, body) = match result {
        Ok(accounts) => {
            tracing::info!(elapsed_ms, "state reset");
            (
                StatusCode::OK,
                json!({"reset": true, "accounts": accounts, "elapsedMs": elapsed_ms}),
            )
        }
        Err(e) => {
            tracing::warn!(code = e.code(), "reset refused: {e}");
            let mut body = json!({"reset": false, "code": e.code(), "message": e.to_string()});
            if let ResetError::Busy { busy, .. } = &e {
                body["busy"] = json!(busy);
            }
            (e.status(), body)
        }
    };
    let mut response = (status, axum::Json(body)).into_response();
    sagestack_protocol::frame::insert_request_id(
        response.headers_mut(),
        &sagestack_protocol::new_request_id(),
    );
    response
}

/// `?wait=SECONDS` (fractions allowed, 0 for no wait), else [`DEFAULT_WAIT`].
fn wait_of(query: Option<&str>) -> Result<Duration, ResetError> {
    let Some(raw) = query
        .into_iter()
        .flat_map(|q| q.split('&'))
        .find_map(|kv| kv.strip_prefix("wait="))
    else {
        return Ok(DEFAULT_WAIT);
    };
    raw.parse::<f64>()
        .ok()
        .filter(|s| (0.0..=MAX_WAIT.as_secs_f64()).contains(s))
        .map(Duration::from_secs_f64)
        .ok_or_else(|| {
            ResetError::InvalidParameter(format!(
                "wait must be a number of seconds from 0 to {}, got '{raw}'",
                MAX_WAIT.as_secs()
            ))
        })
}

/// The request gate's middleware: every request it wraps holds the gate shared while
/// it runs, so a reset happens between requests, never under one.
pub async fn hold_gate(
    State(gate): State<Arc<tokio::sync::RwLock<()>>>,
    request: Request<Body>,
    next: Next,
) -> Response {
    let _shared = gate.read().await;
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_is_seconds_within_bounds() {
        assert_eq!(wait_of(None).unwrap(), DEFAULT_WAIT);
        assert_eq!(wait_of(Some("x=1")).unwrap(), DEFAULT_WAIT);
        assert_eq!(wait_of(Some("wait=0")).unwrap(), Duration::ZERO);
        assert_eq!(
            wait_of(Some("a=b&wait=0.5")).unwrap(),
            Duration::from_millis(500)
        );
        assert!(wait_of(Some("wait=-1")).is_err());
        assert!(wait_of(Some("wait=601")).is_err());
        assert!(wait_of(Some("wait=soon")).is_err());
    }
}
