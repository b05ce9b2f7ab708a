//! What CloudFormation runs beyond native and schema-described types, as configured on
//! the command line: custom resources sent to webhooks ([`custom_resources`]) and
//! unknown types kept as inert records ([`inert_types`]).
//!
//! [`HttpTransport`]: the custom-resource transport of `--custom-resource-webhook`,
//! plain HTTP/1.1 over hyper. It lives in the binary so that the providers crate stays
//! free of I/O (its invariant).
//!
//! It POSTs the request document as JSON and expects the response document in the body
//! of a 2xx answer. TLS is deliberately not built in (it would pull a TLS stack into every
//! build for a feature most setups use on localhost or inside a cluster): an `https://`
//! endpoint is refused with a message that says so; front such a handler with a
//! TLS-terminating proxy, or supply another [`CustomResourceTransport`].

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::Request;
use hyper::header::{CONTENT_TYPE, USER_AGENT};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use std::sync::Arc;

use sagestack_providers::{
    CustomResourceProvider, CustomResourceRequest, CustomResourceResponse, CustomResourceTransport,
    InertProvider,
};

/// CloudFormation waits up to an hour for a custom resource; a synchronous HTTP answer
/// gets a shorter default, configurable with [`HttpTransport::with_timeout`].
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

/// Bound on a response body; the document's `Data` is limited to 4 KiB anyway.
const MAX_RESPONSE_BYTES: usize = 1 << 20;

/// Plain-HTTP transport for custom-resource requests.
#[derive(Clone)]
pub struct HttpTransport {
    client: Client<HttpConnector, Full<Bytes>>,
    timeout: Duration,
}

impl Default for HttpTransport {
    fn default() -> Self {
        Self::new()
    }
}

impl HttpTransport {
    pub fn new() -> HttpTransport {
        HttpTransport {
            client: Client::builder(TokioExecutor::new()).build_http(),
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// How long to wait for the whole exchange.
    pub fn with_timeout(mut self, timeout: Duration) -> HttpTransport {
        self.timeout = timeout;
        self
    }

    async fn exchange(
        &self,
        endpoint: &str,
        request: &CustomResourceRequest,
    ) -> Result<CustomResourceResponse, String> {
        let uri: hyper::Uri = endpoint
            .parse()
            .map_err(|e| format!("invalid handler URL {endpoint}: {e}"))?;
        match uri.scheme_str() {
            Some("http") => {}
            Some("https") => {
                return Err(format!(
                    "{endpoint} uses https, which the built-in transport does not speak; \
                     use an http:// endpoint (e.g. behind a TLS-terminating proxy)"
                ));
            }
            _ => return Err(format!("invalid handler URL {endpoint}: expected http://")),
        }
        let body = serde_json::to_vec(request).map_err(|e| e.to_string())?;
        let http_request = Request::post(uri)
            .header(CONTENT_TYPE, "application/json")
            .header(USER_AGENT, "sagestack-custom-resource")
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| e.to_string())?;
        let response = self
            .client
            .request(http_request)
            .await
            .map_err(|e| format!("request failed: {e}"))?;
        let status = response.status();
        let bytes = Limited::new(response.into_body(), MAX_RESPONSE_BYTES)
            .collect()
            .await
            .map_err(|e| format!("reading the response failed: {e}"))?
            .to_bytes();
        if !status.is_success() {
            let text = String::from_utf8_lossy(&bytes);
            let excerpt: String = text.chars().take(200).collect();
            return Err(format!("HTTP {status}: {excerpt}"));
        }
        serde_json::from_slice(&bytes)
            .map_err(|e| format!("the response is not a custom-resource response document: {e}"))
    }
}

#[async_trait]
impl CustomResourceTransport for HttpTransport {
    async fn send(
        &self,
        endpoint: &str,
        request: &CustomResourceRequest,
    ) -> Result<CustomResourceResponse, String> {
        tokio::time::timeout(self.timeout, self.exchange(endpoint, request))
            .await
            .unwrap_or_else(|_| {
                Err(format!(
                    "no response within {} seconds",
                    self.timeout.as_secs()
                ))
            })
    }
}

/// The custom-resource provider of `--custom-resource-webhook` (`TOKEN_PREFIX` -> URL)
/// over this transport with `timeout`.
pub fn custom_resources(
    webhooks: &[(String, String)],
    timeout: Duration,
) -> CustomResourceProvider {
    let transport = HttpTransport::new().with_timeout(timeout);
    webhooks.iter().fold(
        CustomResourceProvider::new(Arc::new(transport)),
        |provider, (prefix, url)| provider.with_handler(prefix.clone(), url.clone()),
    )
}

/// The inert provider of `--accept-unknown-types` (`*` accepts every type).
pub fn inert_types(globs: &[String]) -> InertProvider {
    if globs.iter().any(|g| g == "*") {
        InertProvider::all()
    } else {
        InertProvider::only(globs.iter().cloned())
    }
}
