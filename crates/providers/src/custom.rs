//! Custom resources (`AWS::CloudFormation::CustomResource`, `Custom::*`).
//!
//! In AWS a custom resource's `ServiceToken` is a Lambda function or SNS topic ARN, and the
//! handler answers by PUTting a response document to a presigned S3 `ResponseURL`. Here a
//! token goes, in this order, to:
//!
//! * an HTTP endpoint of the user's (`sagestack serve --custom-resource-webhook
//!   TOKEN_PREFIX=URL`): a handler key matches every token that starts with it, and the
//!   longest matching key wins, so one key can serve a whole account's functions
//!   (`arn:aws:lambda:us-east-1:123456789012:function:`) while a longer one singles out one
//!   function; a token that is itself an `http(s)://` URL is its own endpoint. The provider
//!   POSTs the standard request document there and reads the standard response document
//!   from the HTTP response body (synchronously: no S3 round trip, no hour-long wait);
//! * the Lambda transport ([`CustomResourceProvider::with_lambda`]) for a Lambda function
//!   ARN: the server's own functions, answering through the `ResponseURL` the transport
//!   names ([`CustomResourceTransport::response_url`]).
//!
//! Any other token (an SNS topic, say) fails the resource with a reason that says so.
//! A create the server crashed in is sent again with the same `RequestId` at start-up
//! (`find_interrupted_create`). Every call sits behind [`CustomResourceTransport`], so this
//! crate does no I/O and tests need no network.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use sagestack_engine::provider::{
    ProviderError, ResourceContext, ResourceProvider, ResourceState, TypeInfo, kit,
};

use crate::naming::{Rng, SUFFIX_LEN, physical_name};

/// The type name of the generic custom resource.
pub const CUSTOM_RESOURCE_TYPE: &str = "AWS::CloudFormation::CustomResource";

/// CloudFormation's limit on a response's `Data`, in bytes of JSON.
const MAX_DATA_BYTES: usize = 4096;

/// Whether `type_name` is a custom resource type.
pub fn is_custom_resource_type(type_name: &str) -> bool {
    type_name == CUSTOM_RESOURCE_TYPE || type_name.starts_with("Custom::")
}

/// The request document CloudFormation sends a custom-resource handler.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CustomResourceRequest {
    /// `Create`, `Update` or `Delete`.
    pub request_type: String,
    #[serde(rename = "ResponseURL")]
    pub response_url: String,
    pub stack_id: String,
    pub request_id: String,
    pub resource_type: String,
    pub logical_resource_id: String,
    /// Absent on `Create`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub physical_resource_id: Option<String>,
    /// The resource's properties, `ServiceToken` included.
    pub resource_properties: Value,
    /// Only on `Update`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old_resource_properties: Option<Value>,
    pub service_token: String,
}

/// The response document a handler returns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CustomResourceResponse {
    /// `SUCCESS` or `FAILED`.
    pub status: String,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub physical_resource_id: Option<String>,
    #[serde(default)]
    pub data: Option<Map<String, Value>>,
    #[serde(default)]
    pub no_echo: Option<bool>,
}

/// Delivers a request to a handler endpoint and returns its response document.
#[async_trait]
pub trait CustomResourceTransport: Send + Sync {
    /// POST `request` (as JSON) to `endpoint`; `Err` describes a delivery failure (connection,
    /// HTTP status, unparsable body) in words fit for a stack event.
    async fn send(
        &self,
        endpoint: &str,
        request: &CustomResourceRequest,
    ) -> Result<CustomResourceResponse, String>;

    /// The `ResponseURL` this transport listens on for `request_id`, when it reads the
    /// response from there (Lambda); `None` when the response comes back in the reply
    /// (webhooks), and the provider's configured URL is sent instead.
    fn response_url(&self, _request_id: &str) -> Option<String> {
        None
    }
}

/// A transport for configurations with no handlers: every call fails.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoTransport;

#[async_trait]
impl CustomResourceTransport for NoTransport {
    async fn send(
        &self,
        endpoint: &str,
        _request: &CustomResourceRequest,
    ) -> Result<CustomResourceResponse, String> {
        Err(format!(
            "no HTTP transport is configured to reach {endpoint}"
        ))
    }
}

/// Forwards custom resources to the HTTP handler configured for their `ServiceToken`.
#[derive(Clone)]
pub struct CustomResourceProvider {
    handlers: HashMap<String, String>,
    transport: Arc<dyn CustomResourceTransport>,
    /// Where `ServiceToken`s that are Lambda function ARNs go when no webhook prefix
    /// matches them: the server's own Lambda functions.
    lambda: Option<Arc<dyn CustomResourceTransport>>,
    response_url: Option<String>,
    seed: Option<u64>,
}

impl Default for CustomResourceProvider {
    fn default() -> Self {
        Self::new(Arc::new(NoTransport))
    }
}

impl CustomResourceProvider {
    /// No handlers yet; `transport` carries the calls once some are added.
    pub fn new(transport: Arc<dyn CustomResourceTransport>) -> CustomResourceProvider {
        CustomResourceProvider {
            handlers: HashMap::new(),
            transport,
            lambda: None,
            response_url: None,
            seed: None,
        }
    }

    /// Send requests whose `ServiceToken` starts with `service_token` to `endpoint` (an
    /// HTTP URL); the longest matching key wins.
    pub fn with_handler(
        mut self,
        service_token: impl Into<String>,
        endpoint: impl Into<String>,
    ) -> CustomResourceProvider {
        self.handlers.insert(service_token.into(), endpoint.into());
        self
    }

    /// Invoke `ServiceToken`s that are Lambda function ARNs through `transport` (the
    /// endpoint it is given is the token itself), unless a webhook prefix matches.
    pub fn with_lambda(
        mut self,
        transport: Arc<dyn CustomResourceTransport>,
    ) -> CustomResourceProvider {
        self.lambda = Some(transport);
        self
    }

    /// Replace all handlers with `handlers` (`ServiceToken` prefix -> URL).
    pub fn with_handlers(mut self, handlers: HashMap<String, String>) -> CustomResourceProvider {
        self.handlers = handlers;
        self
    }

    /// The `ResponseURL` put in requests (`{request_id}` is replaced). Default:
    /// `urn:sagestack:custom-resource-response:{request_id}`, which says that the answer is
    /// expected in the HTTP response body.
    pub fn with_response_url(mut self, template: impl Into<String>) -> CustomResourceProvider {
        self.response_url = Some(template.into());
        self
    }

    /// Deterministic request ids and generated physical ids (for tests).
    pub fn with_seed(mut self, seed: u64) -> CustomResourceProvider {
        self.seed = Some(seed);
        self
    }

    pub fn handlers(&self) -> &HashMap<String, String> {
        &self.handlers
    }

    /// The endpoint of the longest handler key that `token` starts with.
    fn endpoint_for(&self, token: &str) -> Option<&str> {
        self.handlers
            .iter()
            .filter(|(key, _)| token.starts_with(key.as_str()))
            .max_by_key(|(key, _)| key.len())
            .map(|(_, endpoint)| endpoint.as_str())
    }

    fn rng(&self, ctx: &ResourceContext, request_type: &str) -> Rng {
        match self.seed {
            Some(seed) => Rng::new(seed).fork(&format!(
                "{}\0{}\0{request_type}",
                ctx.stack_id, ctx.logical_id
            )),
            // A create attempt is named by when it started: a request re-sent after a
            // restart carries the same RequestId (and would generate the same id).
            None if ctx.started != 0 => Rng::new(ctx.started as u64).fork(&format!(
                "{}\0{}\0{request_type}",
                ctx.stack_id, ctx.logical_id
            )),
            None => Rng::from_entropy(),
        }
    }

    /// Where `token` goes: a webhook (longest matching prefix, or the token itself when
    /// it is an HTTP(S) URL), else the Lambda transport for a Lambda function ARN; the
    /// endpoint handed to the transport with it.
    fn route(&self, token: &str) -> Option<(&Arc<dyn CustomResourceTransport>, String)> {
        if let Some(endpoint) = self.endpoint_for(token) {
            return Some((&self.transport, endpoint.to_string()));
        }
        // A token that is itself a URL is its own webhook.
        if token.starts_with("http://") || token.starts_with("https://") {
            return Some((&self.transport, token.to_string()));
        }
        let lambda = self.lambda.as_ref()?;
        let mut parts = token.split(':');
        let is_lambda =
            parts.next() == Some("arn") && parts.next().is_some() && parts.next() == Some("lambda");
        is_lambda.then(|| (lambda, token.to_string()))
    }

    async fn call(
        &self,
        ctx: &ResourceContext,
        request_type: &str,
        physical_id: Option<&str>,
        properties: &Value,
        old_properties: Option<&Value>,
    ) -> Result<(CustomResourceRequest, CustomResourceResponse), ProviderError> {
        if !is_custom_resource_type(&ctx.resource_type) {
            return Err(ProviderError::UnsupportedType(format!(
                "Resource type {} is not a custom resource type",
                ctx.resource_type
            )));
        }
        let token = match properties.get("ServiceToken") {
            Some(Value::String(t)) => t.clone(),
            Some(_) => {
                let found = if properties["ServiceToken"].is_object() {
                    "JSONObject"
                } else {
                    "JSONArray"
                };
                return Err(kit::invalid(
                    ctx,
                    format_args!("#/ServiceToken: expected type: String, found: {found}"),
                ));
            }
            None => return Err(kit::missing(ctx, "ServiceToken")),
        };
        let Some((transport, endpoint)) = self.route(&token) else {
            let why = if token.split(':').nth(2) == Some("sns") {
                "it is an SNS topic, and sagestack does not deliver custom resources through \
                 SNS; use a Lambda function of this server, or map the token to an HTTP \
                 endpoint with --custom-resource-webhook TOKEN_PREFIX=URL"
            } else {
                "no handler is configured for it; use the ARN of a Lambda function of this \
                 server, or map the token to an HTTP endpoint with --custom-resource-webhook \
                 TOKEN_PREFIX=URL"
            };
            return Err(ProviderError::InvalidRequest(format!(
                "Custom resource {} cannot be {} with ServiceToken {token}: {why}",
                ctx.logical_id,
                match request_type {
                    "Create" => "created",
                    "Update" => "updated",
                    _ => "deleted",
                }
            )));
        };
        let mut rng = self.rng(ctx, request_type);
        let request_id = rng.uuid();
        let response_url = transport.response_url(&request_id).unwrap_or_else(|| {
            self.response_url
                .as_deref()
                .unwrap_or("urn:sagestack:custom-resource-response:{request_id}")
                .replace("{request_id}", &request_id)
        });
        let request = CustomResourceRequest {
            request_type: request_type.to_string(),
            response_url,
            stack_id: ctx.stack_id.clone(),
            request_id,
            resource_type: ctx.resource_type.clone(),
            logical_resource_id: ctx.logical_id.clone(),
            physical_resource_id: physical_id.map(str::to_string),
            resource_properties: properties.clone(),
            old_resource_properties: old_properties.cloned(),
            service_token: token,
        };
        let response = transport.send(&endpoint, &request).await.map_err(|e| {
            ProviderError::Internal(format!(
                "Custom resource {} ({request_type}): the handler at {endpoint} failed: {e}",
                ctx.logical_id
            ))
        })?;
        match response.status.as_str() {
            "SUCCESS" => {}
            "FAILED" => {
                return Err(ProviderError::Internal(format!(
                    "Received response status [FAILED] from custom resource. Message returned: \
                     {} (RequestId: {})",
                    response
                        .reason
                        .as_deref()
                        .unwrap_or("See the details in the handler's logs"),
                    request.request_id
                )));
            }
            other => {
                return Err(ProviderError::Internal(format!(
                    "Invalid response status [{other}] from custom resource (RequestId: {}): \
                     expected SUCCESS or FAILED",
                    request.request_id
                )));
            }
        }
        if let Some(data) = &response.data
            && serde_json::to_string(data).map(|s| s.len()).unwrap_or(0) > MAX_DATA_BYTES
        {
            return Err(ProviderError::Internal(
                "Response object is too long.".into(),
            ));
        }
        Ok((request, response))
    }

    fn generated_id(&self, ctx: &ResourceContext) -> String {
        let suffix = self.rng(ctx, "PhysicalResourceId").upper_alnum(SUFFIX_LEN);
        physical_name(&ctx.stack_name, &ctx.logical_id, &suffix, 128, false)
    }
}

/// The resource a response describes: its `PhysicalResourceId` (`default_id` when it
/// gives none), and its `Data` for `Fn::GetAtt`, marked secret (shown masked in events
/// and outputs) when the handler answered `NoEcho: true`.
fn state(response: CustomResourceResponse, default_id: impl FnOnce() -> String) -> ResourceState {
    let mut attributes = response.data.unwrap_or_default();
    if response.no_echo == Some(true) {
        attributes.insert(sagestack_engine::no_echo::NO_ECHO.into(), Value::Bool(true));
    }
    ResourceState {
        physical_id: response
            .physical_resource_id
            .filter(|id| !id.is_empty())
            .unwrap_or_else(default_id),
        attributes,
    }
}

#[async_trait]
impl ResourceProvider for CustomResourceProvider {
    fn type_info(&self, type_name: &str) -> Option<TypeInfo> {
        // Attributes are whatever the handler's `Data` holds, so none can be listed here.
        is_custom_resource_type(type_name).then(|| TypeInfo {
            type_name: type_name.to_string(),
            ..TypeInfo::default()
        })
    }

    /// The handler is the user's own HTTP endpoint.
    fn effects_outside_store(&self, _type_name: &str) -> bool {
        true
    }

    async fn create(
        &self,
        ctx: &ResourceContext,
        properties: &Value,
    ) -> Result<ResourceState, ProviderError> {
        let (_, response) = self.call(ctx, "Create", None, properties, None).await?;
        Ok(state(response, || self.generated_id(ctx)))
    }

    async fn update(
        &self,
        ctx: &ResourceContext,
        current: &ResourceState,
        old_properties: &Value,
        new_properties: &Value,
    ) -> Result<ResourceState, ProviderError> {
        if old_properties.get("ServiceToken") != new_properties.get("ServiceToken") {
            return Err(ProviderError::InvalidRequest(
                "Modifying service token is not allowed.".into(),
            ));
        }
        let (_, response) = self
            .call(
                ctx,
                "Update",
                Some(&current.physical_id),
                new_properties,
                Some(old_properties),
            )
            .await?;
        // A different PhysicalResourceId means the handler replaced the resource; the engine
        // then owes the old one a Delete, as CloudFormation does in cleanup.
        Ok(state(response, || current.physical_id.clone()))
    }

    async fn delete(
        &self,
        ctx: &ResourceContext,
        current: &ResourceState,
        properties: &Value,
    ) -> Result<(), ProviderError> {
        self.call(ctx, "Delete", Some(&current.physical_id), properties, None)
            .await
            .map(|_| ())
    }

    /// A create the server crashed in: CloudFormation would still be waiting for the
    /// handler's response, so the request is sent again, with the same `RequestId` (it is
    /// derived from the attempt, see `rng`), and what the handler answers is recorded
    /// for the rollback to delete. A handler that had already acted can tell the repeat
    /// by its `RequestId`.
    async fn find_interrupted_create(
        &self,
        ctx: &ResourceContext,
        properties: &Value,
        _started: sagestack_engine::EpochMillis,
    ) -> Result<Option<ResourceState>, ProviderError> {
        self.create(ctx, properties).await.map(Some)
    }
}
