//! HTTP routing by request shape, and nothing else: reading bodies and writing answers
//! and errors is the protocol's framing (`sagestack_protocol::frame` for JSON and Query,
//! `sagestack_s3::api::call` for S3 REST); this file must never know a wire format.
//!
//! Every AWS request arrives on one port. [`router`] sends
//! `GET /_sagestack/health` to the health check and everything else to [`dispatch`],
//! which asks [`sagestack_protocol::classify`] what the request is:
//!
//! * JSON 1.0/1.1 (`X-Amz-Target: <Prefix>.<Operation>`): the [`Json11Service`]
//!   registered for `<Prefix>` in [`Services`] (`SageMaker` and `AmazonSSM`
//!   today; `AWS242ServiceCatalogService` registers the same way);
//! * Query (form-encoded `Action=`): the [`QueryService`] registered for the request's
//!   `Version` (CloudFormation, `2010-05-15`);
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
use sagestack_protocol::{
    Json11Service, ProtocolError, RequestContext, RequestShape, classify, frame, new_request_id,
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
    let (parts, body) = request.into_parts();
    let ctx = RequestContext::from_parts(&parts, &state.region, &state.account_id);
    let services = &state.services;
    let refuse = |message: String| {
        frame::json_refusal(&ProtocolError::UnknownOperation(message), &ctx.request_id)
    };
    let response = match classify(&parts) {
        RequestShape::Json { prefix, operation } => match services.json.get(prefix.as_str()) {
            Some(service) => {
                frame::answer_json(service.as_ref(), &ctx, &parts, body, &operation).await
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
            frame::answer_query(service_for, &ctx, &parts, body).await
        }
        RequestShape::Rest => match &services.s3 {
            Some(s3) => {
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
