//! The web console: server-rendered HTML pages over each account's services, served by
//! `sagestack serve` under [`PREFIX`].
//!
//! What it owns: the pages (one module per area: `projects`, `stacks`, `template_view`,
//! `timeline` and `timeline_svg`, `s3`, `catalog`), the console's sessions and CSRF
//! tokens (`session`), and its embedded assets (`assets/`: one stylesheet, one small
//! script that refreshes pages of running operations). Every asset is compiled into the
//! binary; a page needs nothing from the network.
//!
//! What it must never do: reach the store by a path of its own or change state without
//! the API's validation. It reads and writes through what the wire APIs use: the
//! account's JSON 1.1 services called in process (`ListProjects` with its keyset
//! pagination, `DescribeProject`, Service Catalog's and EventBridge's list calls), the
//! account's [`CloudFormationService`] (stacks, events, change sets, template
//! validation) and the object store the S3 API serves, under the same ownership rules
//! (a bucket is shown to its owner's account only).
//!
//! Accounts: the console is built after every account's services and holds one
//! [`AccountView`] per account, exactly as the router's `PerAccount` entries do. A
//! request is answered from the view of the signed-in account (`--auth sigv4`: the
//! session's, set by a login checked against the server's credentials policy) or of
//! the server's own account (`--auth none`, said in every page's header).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::Markup;
use sagestack_cloudformation::CloudFormationService;
use sagestack_protocol::auth::{Auth, Caller};
use sagestack_protocol::{Json11Service, RequestContext};
use serde_json::Value;

mod catalog;
mod layout;
mod projects;
mod s3;
mod session;
mod stacks;
mod template_view;
pub mod timeline;
mod timeline_svg;

/// Where the console is served.
pub const PREFIX: &str = "/_sagestack/console";

/// What the console reads (and writes through) for one account: the same objects the
/// router's entries hand that account's calls to.
#[derive(Clone)]
pub struct AccountView {
    /// `SageMaker` (projects, model package groups).
    pub sagemaker: Arc<dyn Json11Service>,
    /// The projects' state, for what no API serves: a project's status history.
    pub projects: Arc<sagestack_sagemaker::Projects>,
    /// `AWS242ServiceCatalogService`.
    pub servicecatalog: Arc<dyn Json11Service>,
    /// `AWSEvents`.
    pub events: Arc<dyn Json11Service>,
    pub cloudformation: Arc<CloudFormationService>,
    /// The embedded S3's object store (one namespace; buckets are shown to their owner).
    pub objects: Arc<dyn sagestack_store::ObjectStore>,
}

/// How the console is set up.
pub struct ConsoleConfig {
    pub region: String,
    /// The server's own account (`--account-id`): the one shown under `--auth none`,
    /// and the owner of buckets created before owners were recorded.
    pub account_id: String,
    pub auth: Auth,
    /// `--s3-max-object-size`: the largest upload accepted.
    pub max_object_size: u64,
}

/// The console: built last, over every account's [`AccountView`].
pub struct Console {
    config: ConsoleConfig,
    accounts: BTreeMap<String, AccountView>,
    sessions: session::Sessions,
}

impl Console {
    pub fn new(config: ConsoleConfig, accounts: BTreeMap<String, AccountView>) -> Arc<Self> {
        Arc::new(Console {
            config,
            accounts,
            sessions: session::Sessions::default(),
        })
    }
}

/// The console's routes (mounted at [`PREFIX`] by the server's router).
pub fn router<S: Clone + Send + Sync + 'static>(console: Arc<Console>) -> Router<S> {
    let p = |path: &str| format!("{PREFIX}{path}");
    Router::new()
        .route(
            PREFIX,
            get(|| async { Redirect::to(&format!("{PREFIX}/projects")) }),
        )
        .route(
            &p("/"),
            get(|| async { Redirect::to(&format!("{PREFIX}/projects")) }),
        )
        .route(&p("/assets/console.css"), get(layout::css))
        .route(&p("/assets/console.js"), get(layout::js))
        .route(&p("/login"), get(session::login_page).post(session::login))
        .route(&p("/logout"), post(session::logout))
        .route(&p("/projects"), get(projects::list))
        .route(&p("/projects/{name}"), get(projects::page))
        .route(&p("/projects/{name}/poll"), get(projects::poll))
        .route(&p("/stacks"), get(stacks::list))
        .route(&p("/stack"), get(stacks::page))
        .route(&p("/stack/timeline"), get(stacks::timeline))
        .route(&p("/stack/template"), get(template_view::page))
        .route(&p("/stack/changeset"), get(stacks::change_set))
        .route(&p("/stack/poll"), get(stacks::poll))
        .route(&p("/s3"), get(s3::buckets))
        .route(&p("/s3/{bucket}"), get(s3::objects))
        .route(&p("/s3/{bucket}/object"), get(s3::download))
        .route(&p("/s3/{bucket}/upload"), post(s3::upload))
        .route(&p("/s3/{bucket}/template"), get(template_view::s3_page))
        .route(&p("/catalog"), get(catalog::page))
        .route(&p("/models"), get(catalog::models))
        .route(&p("/rules"), get(catalog::rules))
        .with_state(console)
}

/// Who is looking: the account whose objects a page shows.
pub(crate) struct Viewer<'a> {
    pub account_id: String,
    pub view: &'a AccountView,
    /// The access key signed in with (`None` under `--auth none`).
    pub access_key_id: Option<String>,
    /// The token every form of this session carries.
    pub csrf: String,
}

impl Viewer<'_> {
    /// The context of an in-process API call made for this viewer.
    pub fn ctx(&self, console: &Console) -> RequestContext {
        let ctx = RequestContext::new(&console.config.region, &self.account_id);
        match &self.access_key_id {
            Some(key) => ctx.with_caller(Caller::root(key, &self.account_id)),
            None => ctx,
        }
    }
}

impl Console {
    /// The viewer of a request, or the answer that sends it to the login page.
    // The error is the handler's finished answer (an axum `Response`), returned with `?`
    // by every page; boxing it would only add an unbox at each of them.
    #[allow(clippy::result_large_err)]
    pub(crate) fn viewer(&self, headers: &HeaderMap) -> Result<Viewer<'_>, Response> {
        let (account_id, access_key_id, csrf) = match &self.config.auth {
            Auth::None { account_id } => (
                account_id.clone(),
                None,
                self.sessions.open_csrf().to_string(),
            ),
            Auth::Sigv4(_) => match self.sessions.of(headers) {
                Some(s) => (s.account_id, Some(s.access_key_id), s.csrf),
                None => return Err(Redirect::to(&format!("{PREFIX}/login")).into_response()),
            },
        };
        let view = self.accounts.get(&account_id).ok_or_else(|| {
            error_page(
                StatusCode::FORBIDDEN,
                &format!("Account {account_id} is not served by this server."),
            )
        })?;
        Ok(Viewer {
            account_id,
            view,
            access_key_id,
            csrf,
        })
    }

    /// `operation` of `service` called in process as the viewer, as a JSON value, or
    /// the API's error message.
    pub(crate) async fn call(
        &self,
        viewer: &Viewer<'_>,
        service: &dyn Json11Service,
        operation: &str,
        input: Value,
    ) -> Result<Value, String> {
        match service.call(&viewer.ctx(self), operation, input).await {
            Ok(out) => out.into_value().map_err(|e| e.to_string()),
            Err(e) => Err(format!("{}: {}", e.code(), e.message())),
        }
    }

    pub(crate) fn auth_mode(&self) -> &'static str {
        self.config.auth.name()
    }
}

/// An HTML answer.
pub(crate) fn html(markup: Markup) -> Response {
    let mut response = Html(markup.into_string()).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, "no-store".parse().expect("valid"));
    response
}

/// A bare error page (for answers made before a viewer is known).
pub(crate) fn error_page(status: StatusCode, message: &str) -> Response {
    let body = maud::html! {
        (maud::DOCTYPE)
        html lang="en" { head { title { "sagestack console" } }
            body { h1 { "sagestack console" } p role="alert" { (message) } } }
    };
    (status, Html(body.into_string())).into_response()
}
