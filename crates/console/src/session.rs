//! Signing in to the console under `--auth sigv4`, and the CSRF tokens of its forms.
//!
//! The login form takes an access key id and its secret and checks them against the
//! server's credentials policy (`sagestack_protocol::auth`: the same keys SigV4
//! verification uses; temporary keys are refused, they need a session token). A
//! session is a random id kept in memory (sessions end with the process, or after
//! [`SESSION_TTL`]), sent back as an `HttpOnly`, `SameSite=Strict` cookie scoped to the
//! console's path. Each session has its own CSRF token, which every form carries and
//! every `POST` must echo; under `--auth none` one token per process plays that part.
//! The server's guard already refuses cross-origin browser requests; the token is the
//! second lock.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Form;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use sagestack_protocol::auth::Auth;
use serde::Deserialize;

use crate::{Console, PREFIX, html as page};

/// How long a session lasts without signing in again.
const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);
/// The session cookie's name.
const COOKIE: &str = "sagestack_console";
/// At most this many live sessions (the oldest go first).
const MAX_SESSIONS: usize = 10_000;

#[derive(Clone)]
pub(crate) struct Session {
    pub account_id: String,
    pub access_key_id: String,
    pub csrf: String,
    started: Instant,
}

/// The live sessions, and the token that stands in for one under `--auth none`.
pub(crate) struct Sessions {
    by_id: Mutex<HashMap<String, Session>>,
    open_csrf: String,
}

impl Default for Sessions {
    fn default() -> Self {
        Sessions {
            by_id: Mutex::default(),
            open_csrf: random_token(),
        }
    }
}

fn random_token() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

impl Sessions {
    pub fn open_csrf(&self) -> &str {
        &self.open_csrf
    }

    /// The session a request's cookie names, if it is live.
    pub fn of(&self, headers: &HeaderMap) -> Option<Session> {
        let id = cookie(headers, COOKIE)?;
        let mut sessions = self.by_id.lock().expect("sessions lock");
        match sessions.get(id) {
            Some(s) if s.started.elapsed() < SESSION_TTL => Some(s.clone()),
            Some(_) => {
                sessions.remove(id);
                None
            }
            None => None,
        }
    }

    fn start(&self, account_id: String, access_key_id: String) -> String {
        let id = random_token();
        let mut sessions = self.by_id.lock().expect("sessions lock");
        if sessions.len() >= MAX_SESSIONS {
            sessions.retain(|_, s| s.started.elapsed() < SESSION_TTL);
            if sessions.len() >= MAX_SESSIONS
                && let Some(oldest) = sessions
                    .iter()
                    .min_by_key(|(_, s)| s.started)
                    .map(|(k, _)| k.clone())
            {
                sessions.remove(&oldest);
            }
        }
        sessions.insert(
            id.clone(),
            Session {
                account_id,
                access_key_id,
                csrf: random_token(),
                started: Instant::now(),
            },
        );
        id
    }

    fn end(&self, headers: &HeaderMap) {
        if let Some(id) = cookie(headers, COOKIE) {
            self.by_id.lock().expect("sessions lock").remove(id);
        }
    }
}

/// The value of cookie `name`.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Whether `sent` is the viewer's CSRF token (compared in constant time).
pub(crate) fn csrf_ok(expected: &str, sent: &str) -> bool {
    expected.len() == sent.len()
        && expected
            .bytes()
            .zip(sent.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

pub(crate) async fn login_page(State(console): State<Arc<Console>>) -> Response {
    login_form(&console, None, StatusCode::OK)
}

fn login_form(console: &Console, error: Option<&str>, status: StatusCode) -> Response {
    if matches!(console.config.auth, Auth::None { .. }) {
        return Redirect::to(&format!("{PREFIX}/projects")).into_response();
    }
    let body = html! {
        (maud::DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "Sign in · sagestack console" }
                link rel="icon" href="data:,";
                link rel="stylesheet" href={(PREFIX) "/assets/console.css"};
            }
            body {
                main.login {
                    h1 { "sagestack console" }
                    p { "This server verifies SigV4 signatures (" code { "--auth sigv4" } "). Sign in with an access key of the credentials it was started with; you will see that key's account only." }
                    @if let Some(e) = error { p.error role="alert" id="login-error" { (e) } }
                    form method="post" action={(PREFIX) "/login"} {
                        label for="access_key_id" { "Access key ID" }
                        input id="access_key_id" name="access_key_id" autocomplete="username" required autofocus;
                        label for="secret_access_key" { "Secret access key" }
                        input id="secret_access_key" name="secret_access_key" type="password" autocomplete="current-password" required;
                        button type="submit" { "Sign in" }
                    }
                }
            }
        }
    };
    let mut response = page(body);
    *response.status_mut() = status;
    response
}

#[derive(Deserialize)]
pub(crate) struct LoginForm {
    access_key_id: String,
    secret_access_key: String,
}

/// Checks the key against the credentials policy and starts a session.
pub(crate) async fn login(
    State(console): State<Arc<Console>>,
    Form(form): Form<LoginForm>,
) -> Response {
    let Auth::Sigv4(credentials) = &console.config.auth else {
        return Redirect::to(&format!("{PREFIX}/projects")).into_response();
    };
    let principal = credentials
        .get(form.access_key_id.trim())
        .filter(|p| p.session.is_none())
        .filter(|p| csrf_ok(&p.secret_access_key, &form.secret_access_key));
    let Some(principal) = principal else {
        tracing::warn!("console sign-in refused");
        return login_form(
            &console,
            Some("The access key ID or the secret is not valid."),
            StatusCode::UNAUTHORIZED,
        );
    };
    let id = console.sessions.start(
        principal.account_id.clone(),
        principal.access_key_id.clone(),
    );
    let mut response = Redirect::to(&format!("{PREFIX}/projects")).into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        format!("{COOKIE}={id}; Path={PREFIX}; HttpOnly; SameSite=Strict")
            .parse()
            .expect("a valid cookie"),
    );
    response
}

#[derive(Deserialize)]
pub(crate) struct CsrfForm {
    csrf: String,
}

pub(crate) async fn logout(
    State(console): State<Arc<Console>>,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Response {
    if let Some(s) = console.sessions.of(&headers)
        && csrf_ok(&s.csrf, &form.csrf)
    {
        console.sessions.end(&headers);
    }
    let mut response = Redirect::to(&format!("{PREFIX}/login")).into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        format!("{COOKIE}=; Path={PREFIX}; HttpOnly; SameSite=Strict; Max-Age=0")
            .parse()
            .expect("a valid cookie"),
    );
    response
}
