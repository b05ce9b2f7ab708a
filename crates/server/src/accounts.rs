//! Accounts kept apart: every account the server answers for has its own set of
//! services over its own store (an SQLite directory or a PostgreSQL schema), and a
//! request is answered by the set of the account its caller is verified to belong to.
//!
//! The wire protocols route a request to a service before its caller is known (the
//! signature is checked once the body is read). [`PerAccount`] is that routed service:
//! one per protocol entry, it hands the call to the caller's account's own service,
//! whose state holds nothing of any other account. Keys, names and indexes are
//! therefore per account by construction (a second account's `my-project` is in another
//! database), not by a filter applied after reading. S3 stays one namespace for the
//! whole server, as bucket names are global on AWS.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use axum::http::StatusCode;
use sagestack_protocol::query::{self, QueryService};
use sagestack_protocol::rest_json::{self, RestJsonService, RestRequest, Routes};
use sagestack_protocol::validate::Model;
use sagestack_protocol::{AwsError, Json11Service, RequestContext, json11};
use serde_json::Value;

/// One service per account, answering as the caller's account's.
pub struct PerAccount<S: ?Sized> {
    by_account: BTreeMap<String, Arc<S>>,
}

impl<S: ?Sized> PerAccount<S> {
    /// `services` by account id; at least one.
    pub fn new(services: BTreeMap<String, Arc<S>>) -> Self {
        assert!(
            !services.is_empty(),
            "a server answers for at least its own account"
        );
        PerAccount {
            by_account: services,
        }
    }

    /// Any one of them, for what does not depend on the account (names, routes).
    fn any(&self) -> &S {
        self.by_account.values().next().expect("at least one (new)")
    }

    fn of(&self, ctx: &RequestContext) -> Result<&Arc<S>, Box<dyn AwsError>> {
        self.by_account
            .get(&ctx.account_id)
            .ok_or_else(|| Box::new(NotServed(ctx.account_id.clone())) as Box<dyn AwsError>)
    }
}

/// A verified caller of an account this server does not answer for: its keys were
/// added to the credentials file after start-up (accounts are read once, at start-up;
/// keys of known accounts reload on SIGHUP).
#[derive(Debug, thiserror::Error)]
#[error(
    "Account {0} is not served by this server: accounts are read from the credentials at \
     start-up; restart the server to serve a new account"
)]
pub struct NotServed(String);

impl AwsError for NotServed {
    fn code(&self) -> &str {
        "AccessDenied"
    }
    fn status(&self) -> StatusCode {
        StatusCode::FORBIDDEN
    }
}

#[async_trait]
impl Json11Service for PerAccount<dyn Json11Service> {
    fn target_prefix(&self) -> &'static str {
        self.any().target_prefix()
    }
    async fn call(
        &self,
        ctx: &RequestContext,
        operation: &str,
        input: Value,
    ) -> json11::CallResult {
        self.of(ctx)?.call(ctx, operation, input).await
    }
}

#[async_trait]
impl QueryService for PerAccount<dyn QueryService> {
    fn version(&self) -> &'static str {
        self.any().version()
    }
    fn xml_namespace(&self) -> &'static str {
        self.any().xml_namespace()
    }
    async fn call(&self, ctx: &RequestContext, action: &str, params: Value) -> query::CallResult {
        self.of(ctx)?.call(ctx, action, params).await
    }
}

#[async_trait]
impl RestJsonService for PerAccount<dyn RestJsonService> {
    fn signing_name(&self) -> &'static str {
        self.any().signing_name()
    }
    fn routes(&self) -> &Routes {
        self.any().routes()
    }
    fn model(&self) -> &Model {
        self.any().model()
    }
    fn max_body_bytes(&self, operation: &str) -> usize {
        self.any().max_body_bytes(operation)
    }
    async fn call(&self, ctx: &RequestContext, request: RestRequest) -> rest_json::CallResult {
        self.of(ctx)?.call(ctx, request).await
    }
}
