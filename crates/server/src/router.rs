//! HTTP routing by request shape, and nothing else: reading bodies and writing answers
//! and errors is the protocol's framing (`sagestack_protocol::frame` for JSON and Query,
//! `sagestack_s3::api::call` for S3 REST); this file must never know a wire format.
//!
//! Every AWS request arrives on one port. [`router`] sends
//! `GET /_sagestack/health` to the health check, `/_sagestack/console/...` to the web
//! console (`sagestack_console::router`), and everything else to [`dispatch`],
//! which asks [`sagestack_protocol::classify`] what the request is:
//!
//! * JSON 1.0/1.1 (`X-Amz-Target: <Prefix>.<Operation>`): the [`Json11Service`]
//!   registered for `<Prefix>` in [`Services`] (`SageMaker` and `AmazonSSM`
//!   today; `AWS242ServiceCatalogService` registers the same way);
//! * Query (form-encoded `Action=`): the [`QueryService`] registered for the request's
//!   `Version` (CloudFormation, `2010-05-15`);
//! * REST-JSON (Lambda): the [`RestJsonService`] whose SigV4 signing name the request's
//!   credential scope names (`.../us-east-1/lambda/aws4_request`); a request with no
//!   scope goes to the one whose routes match its method and path. A path-style S3
//!   request (`/2015-03-31/functions` is a valid bucket name) is told apart this way.
//! * S3 REST (anything else): the s3s service registered with [`Services::with_s3`]
//!   (the embedded S3 endpoint, `sagestack_s3::api`). The body is handed over as a
//!   stream, never buffered here; a panic in the S3 path is answered there, in S3's shape.
//!
//! Panics anywhere else in a handler become a `500 InternalFailure` response
//! ([`CatchPanicLayer`]); the server keeps running.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sagestack_protocol::query::QueryService;
use sagestack_protocol::rest_json::RestJsonService;
use sagestack_protocol::{
    Json11Service, ProtocolError, RequestContext, RequestShape, classify, frame, new_request_id,
};
use tower_http::catch_panic::CatchPanicLayer;

/// The services reachable on this server, by wire protocol.
#[derive(Default, Clone)]
pub struct Services {
    json: HashMap<&'static str, Arc<dyn Json11Service>>,
    query: HashMap<&'static str, Arc<dyn QueryService>>,
    rest: Vec<Arc<dyn RestJsonService>>,
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

    /// Routes REST-JSON requests signed for `service.signing_name()` (or, unsigned,
    /// matching its routes) to `service`.
    pub fn with_rest(mut self, service: Arc<dyn RestJsonService>) -> Self {
        self.rest.push(service);
        self
    }

    /// The REST-JSON service a REST-shaped request is for, if any: by the SigV4
    /// signing name first, by method and path only when the request names none.
    fn rest_for(&self, parts: &axum::http::request::Parts) -> Option<&dyn RestJsonService> {
        match sagestack_protocol::sigv4::signing_name(parts) {
            Some(name) => self.rest.iter().find(|s| s.signing_name() == name),
            None => self
                .rest
                .iter()
                .find(|s| s.routes().matches(&parts.method, parts.uri.path())),
        }
        .map(|s| s.as_ref())
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
    /// Who may call (`--auth`): every protocol authenticates by it.
    pub auth: sagestack_protocol::auth::Auth,
    /// Whose state the health check reports (none in tests of the routing alone).
    pub store: Option<Arc<dyn sagestack_store::Store>>,
    /// Lambda's plain-HTTP paths (custom-resource responses, code downloads).
    pub lambda: Option<crate::lambda::LambdaRoutes>,
    /// Each account's EventBridge, for `GET /_sagestack/events/stats`.
    pub events: std::collections::BTreeMap<String, Arc<sagestack_events::EventBridge>>,
    /// The web console (`/_sagestack/console/...`; none in tests of the routing alone).
    pub console: Option<Arc<sagestack_console::Console>>,
    /// `POST /_sagestack/reset` and the request gate it takes (`reset.rs`; none in
    /// tests of the routing alone).
    pub reset: Option<Arc<crate::reset::Reset>>,
}

/// The application router.
pub fn router(state: AppState) -> Router {
    let mut router = Router::new();
    if let Some(lambda) = state.lambda.clone() {
        router = router.merge(
            Router::new()
                .route(
                    "/_sagestack/cfn-response/{id}",
                    axum::routing::put(crate::lambda::cfn_response),
                )
                .route("/_sagestack/lambda/code/{hex}", get(crate::lambda::code))
                .with_state(lambda),
        );
    }
    if let Some(console) = state.console.clone() {
        router = router.merge(sagestack_console::router(console));
    }
    let reset = state.reset.clone();
    let mut router = router
        .route("/_sagestack/events/stats", get(event_stats))
        .fallback(dispatch);
    // Every route above holds the reset gate while it runs (`reset.rs`); the health
    // checks and the reset itself, added below, do not.
    if let Some(reset) = reset {
        router = router
            .layer(axum::middleware::from_fn_with_state(
                reset.gate(),
                crate::reset::hold_gate,
            ))
            .merge(
                Router::new()
                    .route(
                        "/_sagestack/reset",
                        axum::routing::post(crate::reset::handle),
                    )
                    .with_state(reset),
            );
    }
    router
        .route("/_sagestack/health", get(health))
        .route("/_sagestack/ready", get(ready))
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
    frame::insert_request_id(response.headers_mut(), &new_request_id());
    response
}

/// Readiness: HTTP 200 `{"ready":true}` while the store takes calls, 503
/// `{"ready":false,"reason":..}` while it does not (PostgreSQL unreachable, or the
/// embedded store's disk full), so a load balancer sends this replica no requests it
/// could only fail. The process itself stays up and becomes ready again by itself.
async fn ready(State(state): State<Arc<AppState>>) -> Response {
    let health = match &state.store {
        Some(store) => store.health().await,
        None => sagestack_store::StoreHealth::Ok,
    };
    let (code, body) = match health {
        sagestack_store::StoreHealth::Ok => (
            axum::http::StatusCode::OK,
            serde_json::json!({"ready": true}),
        ),
        sagestack_store::StoreHealth::Degraded(reason) => (
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            serde_json::json!({"ready": false, "reason": reason}),
        ),
    };
    let mut response = (code, axum::Json(body)).into_response();
    frame::insert_request_id(response.headers_mut(), &new_request_id());
    response
}

/// EventBridge's delivery counts since this process started, by account:
/// `{"<account>": {"rules": {"<rule ARN>": {"matched", "targets": {"<id>": {"delivered",
/// "failedAttempts", "givenUp"}}}}}}`. Like the health check it needs no signature: it
/// tells rule ARNs and counts, nothing of events' contents.
async fn event_stats(State(state): State<Arc<AppState>>) -> Response {
    let body: serde_json::Map<String, serde_json::Value> = state
        .events
        .iter()
        .map(|(account, events)| (account.clone(), events.stats()))
        .collect();
    let mut response = axum::Json(body).into_response();
    frame::insert_request_id(response.headers_mut(), &new_request_id());
    response
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("request handler panicked");
    frame::internal_failure(&new_request_id()).map(Body::from)
}

/// Handles every request that is not the health check: picks the service by the
/// request's shape and hands the request to its protocol's framing.
async fn dispatch(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let (mut parts, body) = request.into_parts();
    let ctx = RequestContext::new(&state.region, &state.account_id);
    let auth = &state.auth;
    let services = &state.services;
    let refuse = |message: String| {
        frame::json_refusal(&ProtocolError::UnknownOperation(message), &ctx.request_id)
    };
    let response = match classify(&parts) {
        RequestShape::Json { prefix, operation } => match services.json.get(prefix.as_str()) {
            Some(service) => {
                frame::answer_json(service.as_ref(), auth, &ctx, &parts, body, &operation).await
            }
            None => refuse(format!("No service handles the target prefix {prefix}")),
        },
        RequestShape::MalformedTarget => {
            refuse("The X-Amz-Target header must be <Service>.<Operation>".into())
        }
        RequestShape::MissingTarget => {
            refuse("A JSON request needs an X-Amz-Target header: <Service>.<Operation>".into())
        }
        RequestShape::Query => {
            let service_for = |version: &str| services.query.get(version).map(|s| s.as_ref());
            frame::answer_query(service_for, auth, &ctx, &parts, body).await
        }
        RequestShape::Rest if services.rest_for(&parts).is_some() => {
            let service = services.rest_for(&parts).expect("checked");
            frame::answer_rest(service, auth, &ctx, &parts, body).await
        }
        RequestShape::Rest => match &services.s3 {
            Some(s3) => {
                let now = std::time::SystemTime::now();
                let checked = auth
                    .resign_for_s3(&mut parts)
                    .and_then(|unverified| auth.check_s3_session(&parts, now).map(|()| unverified));
                match checked {
                    // A SigV2 signature `none` mode removed: signed, let in unverified.
                    Ok(true) => {
                        parts
                            .extensions
                            .insert(sagestack_s3::auth::SignedUnverified);
                    }
                    Ok(false) => {}
                    Err(e) => return s3_refusal(&e, &ctx.request_id).map(Body::new),
                }
                // The body streams on to s3s; it is never buffered here.
                let request = Request::from_parts(parts, s3s::Body::http_body_unsync(body));
                return sagestack_s3::api::call(s3, request, &ctx.request_id)
                    .await
                    .map(Body::new);
            }
            None => refuse(format!(
                "No service on this server handles {} {}",
                parts.method,
                parts.uri.path()
            )),
        },
    };
    response.map(Body::from)
}

/// A refusal of the credentials policy in S3's words.
fn s3_refusal(
    err: &sagestack_protocol::sigv4::AuthError,
    request_id: &str,
) -> axum::http::Response<s3s::Body> {
    use sagestack_protocol::sigv4::AuthError as E;
    let code = match err {
        E::InvalidClientTokenId => "InvalidToken",
        E::ExpiredToken => "ExpiredToken",
        E::NotSupported(_) => "NotImplemented",
        E::SignatureDoesNotMatch(_) => "SignatureDoesNotMatch",
        E::IncompleteSignature(_) => "AuthorizationHeaderMalformed",
        _ => "AccessDenied",
    };
    let status = sagestack_protocol::AwsError::status(err);
    let message = match err {
        E::InvalidClientTokenId => "The provided token is malformed or otherwise invalid.".into(),
        E::ExpiredToken => "The provided token has expired.".into(),
        other => other.to_string(),
    };
    sagestack_s3::api::refusal(status, code, &message, request_id)
}
