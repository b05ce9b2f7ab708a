//! The page shell (header, navigation, the auth mode), status badges, times, and the
//! embedded assets.

use maud::{DOCTYPE, Markup, PreEscaped, html};

use crate::{Console, PREFIX, Viewer};

const CSS: &str = include_str!("../assets/console.css");
const JS: &str = include_str!("../assets/console.js");

pub(crate) async fn css() -> impl axum::response::IntoResponse {
    asset("text/css; charset=utf-8", CSS)
}

pub(crate) async fn js() -> impl axum::response::IntoResponse {
    asset("text/javascript; charset=utf-8", JS)
}

fn asset(content_type: &'static str, body: &'static str) -> axum::response::Response {
    use axum::http::header;
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}

use axum::response::IntoResponse;

/// Which navigation entry a page belongs to.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Nav {
    Projects,
    Stacks,
    S3,
    Catalog,
    Models,
    Rules,
}

/// A whole page: `live` makes the script poll `live` (a URL answering a fingerprint)
/// and refresh `<main>` when it changes.
pub(crate) fn page(
    console: &Console,
    viewer: &Viewer<'_>,
    nav: Nav,
    title: &str,
    live: Option<String>,
    body: Markup,
) -> Markup {
    let items = [
        (Nav::Projects, "projects", "Projects"),
        (Nav::Stacks, "stacks", "Stacks"),
        (Nav::S3, "s3", "S3"),
        (Nav::Catalog, "catalog", "Service Catalog"),
        (Nav::Models, "models", "Model packages"),
        (Nav::Rules, "rules", "EventBridge rules"),
    ];
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · sagestack console" }
                // No icon: otherwise every page load also asks for /favicon.ico, which the S3 API
                // answers (a bucket named favicon.ico) with AccessDenied and a warning in the log.
                link rel="icon" href="data:,";
                link rel="stylesheet" href={(PREFIX) "/assets/console.css"};
                script src={(PREFIX) "/assets/console.js"} defer {}
            }
            body data-live=[live.as_deref()] {
                a.skip href="#main" { "Skip to content" }
                header.top {
                    a.brand href={(PREFIX) "/projects"} { "sagestack" }
                    nav aria-label="Sections" {
                        ul {
                            @for (n, path, label) in items {
                                li { a href={(PREFIX) "/" (path)} aria-current=[(n == nav).then_some("page")] { (label) } }
                            }
                        }
                    }
                    div.who {
                        span.account { "Account " (viewer.account_id) }
                        @match console.auth_mode() {
                            "none" => span.auth.off id="auth-mode" title="Started with --auth none: requests are not authenticated" { "auth: none (anyone on this address sees everything)" },
                            _ => {
                                span.auth id="auth-mode" { "signed in as " (viewer.access_key_id.as_deref().unwrap_or("")) }
                                form.inline method="post" action={(PREFIX) "/logout"} {
                                    input type="hidden" name="csrf" value=(viewer.csrf);
                                    button type="submit" { "Sign out" }
                                }
                            }
                        }
                    }
                }
                main id="main" tabindex="-1" { (body) }
                @if live.is_some() { p.live-note aria-live="polite" id="live-note" { "Live: this page refreshes while an operation runs." } }
            }
        }
    }
}

/// A status badge, coloured by what the status means.
pub(crate) fn badge(status: &str) -> Markup {
    html! { span class={"badge " (status_class(status))} data-status=(status) { (status) } }
}

/// `ok`, `bad`, `busy`, `warn` or `idle` for a project, stack, resource or change set status.
pub(crate) fn status_class(status: &str) -> &'static str {
    let s = status.to_ascii_uppercase();
    if s.contains("ROLLBACK") && s.contains("COMPLETE") {
        "warn"
    } else if s.contains("FAILED") || s.contains("ERROR") {
        "bad"
    } else if s.contains("PROGRESS") || s == "PENDING" || s.contains("UNDER_CHANGE") {
        "busy"
    } else if s.contains("COMPLETE")
        || s == "AVAILABLE"
        || s == "ENABLED"
        || s == "APPROVED"
        || s == "SUCCEEDED"
    {
        "ok"
    } else {
        "idle"
    }
}

/// Whether a status means something is running.
pub(crate) fn is_busy(status: &str) -> bool {
    status_class(status) == "busy"
}

/// Epoch milliseconds as `YYYY-MM-DD HH:MM:SS` UTC (the API's instant, as people read it).
pub(crate) fn time(ms: i64) -> String {
    sagestack_engine::iso8601_millis(ms)[..19].replacen('T', " ", 1)
}

/// Epoch seconds (SageMaker's JSON numbers) as [`time`].
pub(crate) fn time_secs(v: &serde_json::Value) -> String {
    v.as_f64()
        .map(|s| time((s * 1000.0) as i64))
        .unwrap_or_default()
}

/// A duration in milliseconds, short (`850 ms`, `12.4 s`, `3 min 5 s`).
pub(crate) fn duration(ms: i64) -> String {
    match ms {
        ..1000 => format!("{ms} ms"),
        1000..60_000 => format!("{:.1} s", ms as f64 / 1000.0),
        _ => format!("{} min {} s", ms / 60_000, ms % 60_000 / 1000),
    }
}

/// Percent-encodes a query or path value.
pub(crate) fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The link to a stack's page (`tab`: "" for the overview, "/timeline", "/template").
pub(crate) fn stack_link(stack: &str, tab: &str) -> String {
    format!("{PREFIX}/stack{tab}?name={}", enc(stack))
}

/// A message box.
pub(crate) fn notice(kind: &str, text: &str) -> Markup {
    html! { p class={"notice " (kind)} role=[(kind == "error").then_some("alert")] { (text) } }
}

/// Raw markup (the timeline's SVG, which is built escaped).
pub(crate) fn raw(s: String) -> Markup {
    PreEscaped(s)
}
