//! A stack's template source with line numbers, and the template crate's validation
//! findings shown at their line and column (what `ValidateTemplate` would answer, by
//! the same [`sagestack_cloudformation::CloudFormationService::validate_template`]).
//! During an update or its rollback both templates are offered.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use maud::{Markup, html};
use serde::Deserialize;

use crate::layout::{self, Nav, notice};
use crate::{Console, html as respond};

#[derive(Deserialize)]
pub(crate) struct TemplateQuery {
    name: String,
    /// `previous` shows the stack's previous template (during an update).
    #[serde(default)]
    which: String,
}

/// Each resource's `Properties` of a template body, as JSON (empty if it does not parse).
pub(crate) fn resources_of(body: &str) -> HashMap<String, serde_json::Value> {
    let Ok(t) = sagestack_template::Template::parse_with(body, &sagestack_template::Limits::s3())
    else {
        return HashMap::new();
    };
    t.root()
        .get("Resources")
        .and_then(|r| r.as_map())
        .map(|m| {
            m.iter()
                .map(|(k, e)| {
                    let props = e
                        .value
                        .get("Properties")
                        .map(|p| p.to_json())
                        .unwrap_or_default();
                    (k.clone(), props)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// One property of one resource as compact JSON (`a.b` paths follow nested maps).
pub(crate) fn property(
    resources: &HashMap<String, serde_json::Value>,
    logical_id: &str,
    name: &str,
) -> Option<String> {
    let mut v = resources.get(logical_id)?;
    for part in name.split('.') {
        v = v.get(part)?;
    }
    Some(match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    })
}

pub(crate) async fn page(
    State(console): State<Arc<Console>>,
    headers: HeaderMap,
    Query(q): Query<TemplateQuery>,
) -> Response {
    let viewer = match console.viewer(&headers) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let cfn = &viewer.view.cloudformation;
    let stack = match cfn.describe_stack(&q.name).await {
        Ok(s) => s,
        Err(e) => {
            let body = html! { (notice("error", &e.to_string())) };
            return respond(layout::page(
                &console,
                &viewer,
                Nav::Stacks,
                &q.name,
                None,
                body,
            ));
        }
    };
    let previous = q.which == "previous";
    let source = match (&stack.previous_template, previous) {
        (Some(p), true) => p,
        _ => &stack.template,
    };
    let findings = match cfn.validate_template(&source.body, false) {
        Ok(_) => Vec::new(),
        Err(diags) => diags,
    };
    let body = html! {
        (crate::stacks::header(&stack, "/template"))
        @if stack.previous_template.is_some() {
            p { "This stack has a previous template (an update, or its rollback, is or was under way): "
                @if previous { a href=(layout::stack_link(&stack.stack_id, "/template")) { "show the current one" } }
                @else { a href={(layout::stack_link(&stack.stack_id, "/template")) "&which=previous"} { "show the previous one" } } "." }
        }
        (findings_box(&findings))
        (source_listing(&source.body, &findings))
        @if !source.parameters.is_empty() {
            p { (source.parameters.len()) " parameter value(s) given; see the stack's overview (NoEcho values masked)." }
        }
    };
    respond(layout::page(
        &console,
        &viewer,
        Nav::Stacks,
        &stack.stack_name,
        None,
        body,
    ))
}

#[derive(Deserialize)]
pub(crate) struct ObjectQuery {
    key: String,
}

/// A template stored in S3 (a project's `TemplateURL`), with its validation findings:
/// where a project whose template was refused shows why.
pub(crate) async fn s3_page(
    State(console): State<Arc<Console>>,
    headers: HeaderMap,
    axum::extract::Path(bucket): axum::extract::Path<String>,
    Query(q): Query<ObjectQuery>,
) -> Response {
    let viewer = match console.viewer(&headers) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let object = match crate::s3::own_bucket(&console, &viewer, &bucket).await {
        Some(_) => viewer
            .view
            .objects
            .get_object(&bucket, &q.key)
            .await
            .ok()
            .flatten(),
        None => None,
    };
    let Some(object) = object else {
        let body = html! { h1 { "Template s3://" (bucket) "/" (q.key) } (notice("error", "The specified key does not exist.")) };
        return respond(layout::page(&console, &viewer, Nav::S3, &q.key, None, body));
    };
    let text = String::from_utf8_lossy(&object.body);
    let findings = match viewer.view.cloudformation.validate_template(&text, false) {
        Ok(_) => Vec::new(),
        Err(diags) => diags,
    };
    let body = html! {
        p { a href={(crate::PREFIX) "/s3/" (layout::enc(&bucket))} { "« Bucket " (bucket) } }
        h1 { "Template s3://" (bucket) "/" (q.key) }
        (findings_box(&findings))
        (source_listing(&text, &findings))
    };
    respond(layout::page(&console, &viewer, Nav::S3, &q.key, None, body))
}

/// The findings as a list of links to their lines, or "valid".
fn findings_box(findings: &[sagestack_engine::PlanDiagnostic]) -> Markup {
    html! {
        @if findings.is_empty() {
            p.notice id="template-valid" { "The template is valid." }
        } @else {
            div.notice.error id="template-errors" role="alert" {
                strong { (findings.len()) " validation error(s):" }
                ul { @for d in findings { li {
                    @match (d.line, d.column) {
                        (Some(l), Some(c)) => { a.loc href={"#L" (l)} data-line=(l) data-column=(c) { (l) ":" (c) } ": " }
                        (Some(l), None) => { a.loc href={"#L" (l)} data-line=(l) { (l) } ": " }
                        _ => {}
                    }
                    (d.message) " " span.mono { "(" (d.code) ")" }
                } } }
            }
        }
    }
}

/// The body, one `<li id="L<n>">` per line, with each finding under its line.
fn source_listing(body: &str, findings: &[sagestack_engine::PlanDiagnostic]) -> Markup {
    let mut at: BTreeMap<u32, Vec<&sagestack_engine::PlanDiagnostic>> = BTreeMap::new();
    for d in findings {
        if let Some(l) = d.line {
            at.entry(l).or_default().push(d);
        }
    }
    html! {
        ol.source id="template-source" aria-label="Template source" {
            @for (i, line) in body.lines().enumerate() {
                @let n = i as u32 + 1;
                @let here = at.get(&n);
                li id={"L" (n)} class=[here.map(|_| "err")] { (line)
                    @if let Some(ds) = here { @for d in ds {
                        span.diag { "▲ " (n) ":" (d.column.unwrap_or(1)) " " (d.message) }
                    } }
                }
            }
        }
    }
}
