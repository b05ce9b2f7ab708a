//! Wiring of Lambda: the executor from the flags (interpreters, worker limits, the
//! credentials and endpoint functions get), and the two plain-HTTP paths functions use
//! besides the AWS APIs: `PUT /_sagestack/cfn-response/<request id>` (a custom
//! resource's `ResponseURL`) and `GET /_sagestack/lambda/code/<sha256>` (the package
//! `GetFunction`'s `Code.Location` points at).

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use sagestack_lambda::custom_resource::Responses;
use sagestack_lambda::{Executor, Functions, RuntimeConfig};

use crate::cli::ServeArgs;
use sagestack_protocol::auth::Auth;

/// What the router needs of Lambda beyond its API.
#[derive(Clone)]
pub struct LambdaRoutes {
    pub functions: Arc<Functions>,
    pub responses: Arc<Responses>,
    /// Checks the signed code locations `GetFunction` hands out.
    pub code_urls: Arc<sagestack_lambda::CodeUrls>,
}

/// Function logs go to CloudWatch Logs (`/aws/lambda/<name>`, one stream per worker).
pub struct FunctionLogs(pub Arc<sagestack_logs::Logs>);

#[async_trait::async_trait]
impl sagestack_lambda::LogSink for FunctionLogs {
    async fn append(&self, group: &str, stream: &str, timestamp_ms: i64, lines: Vec<String>) {
        let events = lines
            .into_iter()
            .map(|message| sagestack_logs::LogEvent {
                timestamp_ms,
                message,
            })
            .collect();
        if let Err(e) = self.0.append(group, stream, events).await {
            tracing::warn!(%group, %stream, "cannot write a function's log: {e}");
        }
    }
}

/// The executor `args` describe; functions reach this server at `endpoint`.
pub fn executor(
    args: &ServeArgs,
    auth: &Auth,
    account_id: &str,
    endpoint: &str,
) -> Result<Executor, String> {
    // Functions call this server back with a key of their own account.
    let (akid, secret) = match auth {
        Auth::Sigv4(credentials) => credentials
            .key_of(account_id)
            .map(|p| (p.access_key_id, p.secret_access_key))
            .unwrap_or_default(),
        Auth::None { .. } => ("test".into(), "test".into()),
    };
    Executor::new(RuntimeConfig {
        python: args.lambda_python.clone(),
        node: args.lambda_node.clone(),
        endpoint_url: endpoint.to_string(),
        region: args.region.clone(),
        credentials: (akid, secret),
        max_workers: args.lambda_max_workers as usize,
        per_function: args.lambda_workers_per_function as usize,
        idle_timeout: args.lambda_idle_timeout,
        runtime_dir: args.data_dir.join("lambda").join("runtime"),
    })
    .map_err(|e| {
        format!(
            "cannot prepare the Lambda runtimes under {}: {e}",
            args.data_dir.display()
        )
    })
}

/// The base URL this server's own processes reach it at: the bound address, with a
/// wildcard host replaced by loopback.
pub fn endpoint_url(addr: std::net::SocketAddr) -> String {
    let ip = if addr.ip().is_unspecified() {
        match addr {
            std::net::SocketAddr::V4(_) => std::net::IpAddr::from([127, 0, 0, 1]),
            std::net::SocketAddr::V6(_) => std::net::IpAddr::from(std::net::Ipv6Addr::LOCALHOST),
        }
    } else {
        addr.ip()
    };
    format!("http://{}", std::net::SocketAddr::new(ip, addr.port()))
}

/// `PUT /_sagestack/cfn-response/{id}`: the response document of a custom resource.
/// Good once: a second `PUT`, or one for a request nobody awaits, is `404`.
pub async fn cfn_response(
    State(routes): State<LambdaRoutes>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    if routes.responses.deliver(&id, body) {
        StatusCode::OK.into_response()
    } else {
        (
            StatusCode::NOT_FOUND,
            "No custom-resource request awaits a response at this URL (it was answered already, or timed out).\n",
        )
            .into_response()
    }
}

/// The query of a signed code location.
#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CodeQuery {
    expires: Option<u64>,
    signature: Option<String>,
}

/// `GET /_sagestack/lambda/code/{sha256}?Expires=..&Signature=..`: a stored deployment
/// package, through the signed location `GetFunction` gave (valid 10 minutes).
pub async fn code(
    State(routes): State<LambdaRoutes>,
    Path(hex): Path<String>,
    Query(query): Query<CodeQuery>,
) -> Response {
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return StatusCode::NOT_FOUND.into_response();
    }
    let allowed = match (query.expires, query.signature.as_deref()) {
        (Some(expires), Some(signature)) => {
            routes
                .code_urls
                .allows(&hex, expires, signature, std::time::SystemTime::now())
        }
        _ => false,
    };
    if !allowed {
        return (
            StatusCode::FORBIDDEN,
            "Access Denied: this code location is not signed or has expired (GetFunction gives a new one)\n",
        )
            .into_response();
    }
    match routes.functions.package_zip(&hex).await {
        Ok(zip) => ([("content-type", "application/zip")], Body::from(zip)).into_response(),
        Err(_) => StatusCode::NOT_FOUND.into_response(),
    }
}
