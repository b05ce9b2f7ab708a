//! CloudFormation stacks: the list, a stack's page (resources, parameters with `NoEcho`
//! masked as `DescribeStacks` masks them, outputs, change sets, recent events), its
//! timeline, a change set with its property-level diff, and the live fingerprint.
//! Read through the account's [`sagestack_cloudformation::CloudFormationService`].

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use sagestack_engine::{StackEvent, StackRecord};
use serde::Deserialize;

use crate::layout::{self, Nav, badge, enc, notice, stack_link};
use crate::timeline::{self, Timeline};
use crate::{Console, PREFIX, Viewer, html as respond};

/// Most events read for one timeline (a 500-resource stack's create and rollback fit).
const MAX_EVENTS: usize = 20_000;
/// Events per store read.
const EVENT_PAGE: usize = 1_000;

#[derive(Deserialize)]
pub(crate) struct StackQuery {
    name: String,
    #[serde(default)]
    cs: String,
}

/// Every event of a stack, oldest first (at most [`MAX_EVENTS`]).
pub(crate) async fn all_events(viewer: &Viewer<'_>, stack_id: &str) -> Vec<StackEvent> {
    let engine = viewer.view.cloudformation.engine();
    let mut out: Vec<StackEvent> = Vec::new();
    let mut before = None;
    while out.len() < MAX_EVENTS {
        let Ok(page) = engine.stack_events(stack_id, before, EVENT_PAGE).await else {
            break;
        };
        let full = page.len() == EVENT_PAGE;
        before = page.last().map(|e| e.seq);
        out.extend(page);
        if !full {
            break;
        }
    }
    out.reverse();
    out
}

/// The timeline of a stack's whole history.
pub(crate) async fn timeline_of(viewer: &Viewer<'_>, stack: &StackRecord) -> Timeline {
    let events = all_events(viewer, &stack.stack_id).await;
    let mut deps = timeline::template_dependencies(&stack.template.body);
    if let Some(previous) = &stack.previous_template {
        for (k, v) in timeline::template_dependencies(&previous.body) {
            deps.entry(k).or_default().extend(v);
        }
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let mut t = timeline::layout(&stack.stack_name, &events, &deps, now);
    if !stack.status.is_operation_in_progress() {
        // Nothing runs: a bar left open was cut short by a crash or a cancelled wait.
        t.end = t
            .bars
            .iter()
            .map(|b| b.end)
            .chain([t.start])
            .max()
            .unwrap_or(t.start);
    }
    t
}

async fn stack_or_404(
    console: &Console,
    viewer: &Viewer<'_>,
    name: &str,
) -> Result<StackRecord, Response> {
    viewer
        .view
        .cloudformation
        .describe_stack(name)
        .await
        .map_err(|e| {
            let body = html! { h1 { "Stack " (name) } (notice("error", &e.to_string())) };
            let mut r = respond(layout::page(console, viewer, Nav::Stacks, name, None, body));
            *r.status_mut() = StatusCode::NOT_FOUND;
            r
        })
}

/// The viewer of a request and the stack it names, or the answer to give instead (the
/// login page, the stack's 404).
async fn viewer_and_stack<'a>(
    console: &'a Console,
    headers: &HeaderMap,
    name: &str,
) -> Result<(Viewer<'a>, StackRecord), Response> {
    let viewer = console.viewer(headers)?;
    let stack = stack_or_404(console, &viewer, name).await?;
    Ok((viewer, stack))
}

pub(crate) async fn list(State(console): State<Arc<Console>>, headers: HeaderMap) -> Response {
    let viewer = match console.viewer(&headers) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let stacks = viewer.view.cloudformation.list_stacks().await;
    let body = html! {
        h1 { "Stacks" }
        @match &stacks {
            Err(e) => (notice("error", &e.to_string())),
            Ok(stacks) => div.scroll { table.responsive id="stacks" {
                thead { tr { th { "Name" } th { "Status" } th { "Created (UTC)" } th { "Reason" } } }
                tbody {
                    @for s in stacks.iter().rev().filter(|s| s.status.as_str() != "DELETE_COMPLETE") {
                        tr { td data-label="Name" { a href=(stack_link(&s.stack_id, "")) { (s.stack_name) } }
                            td data-label="Status" { (badge(s.status.as_str())) }
                            td data-label="Created" { (layout::time(s.creation_time)) }
                            td.wrap data-label="Reason" { (s.status_reason.as_deref().unwrap_or("")) } }
                    }
                }
            } }
        }
    };
    respond(layout::page(
        &console,
        &viewer,
        Nav::Stacks,
        "Stacks",
        None,
        body,
    ))
}

/// The tabs of a stack's pages.
fn tabs(stack: &StackRecord, current: &str) -> Markup {
    let id = &stack.stack_id;
    html! {
        nav.tabs aria-label="Stack" {
            @for (tab, label) in [("", "Overview"), ("/timeline", "Timeline"), ("/template", "Template")] {
                a href=(stack_link(id, tab)) aria-current=[(tab == current).then_some("page")] { (label) }
            }
        }
    }
}

/// The header every stack page shares.
pub(crate) fn header(stack: &StackRecord, current: &str) -> Markup {
    html! {
        p { a href={(PREFIX) "/stacks"} { "« Stacks" } }
        h1 { "Stack " (stack.stack_name) " " (badge(stack.status.as_str())) }
        @if let Some(r) = &stack.status_reason { p id="stack-reason" { (r) } }
        (tabs(stack, current))
    }
}

/// Where a resource's physical id leads in this console, if somewhere.
fn resource_link(resource_type: &str, physical: &str) -> Option<String> {
    match resource_type {
        "AWS::S3::Bucket" => Some(format!("{PREFIX}/s3/{}", enc(physical))),
        "AWS::SageMaker::Project" => Some(format!("{PREFIX}/projects/{}", enc(physical))),
        "AWS::SageMaker::ModelPackageGroup" => Some(format!("{PREFIX}/models#{}", enc(physical))),
        "AWS::CloudFormation::Stack" => Some(stack_link(physical, "")),
        "AWS::Events::Rule" => Some(format!("{PREFIX}/rules")),
        t if t.starts_with("AWS::ServiceCatalog::") => Some(format!("{PREFIX}/catalog")),
        _ => None,
    }
}

/// The first failure of a timeline, as a highlighted box.
pub(crate) fn failure_box(t: &Timeline) -> Markup {
    html! {
        @if let Some(i) = t.first_failure {
            @let b = &t.bars[i];
            div.failure id="first-failure" role="note" {
                strong { "First failure: " } span.mono id="first-failure-resource" { (b.logical_id) } " (" (b.resource_type) ", " (b.operation.as_str()) ") at " (layout::time(b.end))
                @if let Some(r) = &b.reason { br; span id="first-failure-reason" { (r) } }
            }
        }
    }
}

/// A project page's view of its stack: status, first failure, resources, outputs.
pub(crate) async fn summary_for_project(
    console: &Console,
    viewer: &Viewer<'_>,
    name: &str,
) -> Markup {
    let Ok(stack) = viewer.view.cloudformation.describe_stack(name).await else {
        return html! { (notice("warn", &format!("Stack {name} does not exist (yet)."))) };
    };
    let _ = console;
    let t = timeline_of(viewer, &stack).await;
    html! {
        h2 { "Stack " a href=(stack_link(&stack.stack_id, "")) { (stack.stack_name) } " " (badge(stack.status.as_str())) }
        (failure_box(&t))
        (crate::timeline_svg::render(&t, stack_link(&stack.stack_id, "")))
    }
}

pub(crate) async fn page(
    State(console): State<Arc<Console>>,
    headers: HeaderMap,
    Query(q): Query<StackQuery>,
) -> Response {
    let (viewer, stack) = match viewer_and_stack(&console, &headers, &q.name).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    let cfn = &viewer.view.cloudformation;
    let resources = cfn
        .list_stack_resources(&stack.stack_id)
        .await
        .unwrap_or_default();
    let change_sets = cfn
        .engine()
        .list_change_sets(&stack.stack_id)
        .await
        .unwrap_or_default();
    let events = cfn
        .engine()
        .stack_events(&stack.stack_id, None, 50)
        .await
        .unwrap_or_default();
    let t = timeline_of(&viewer, &stack).await;
    let body = html! {
        (header(&stack, ""))
        (failure_box(&t))
        dl.facts {
            dt { "Stack ID" } dd.mono { (stack.stack_id) }
            @if let Some(d) = &stack.description { dt { "Description" } dd { (d) } }
            dt { "Created (UTC)" } dd { (layout::time(stack.creation_time)) }
            @if let Some(u) = stack.last_updated_time { dt { "Last updated" } dd { (layout::time(u)) } }
            @if let Some(r) = &stack.role_arn { dt { "Role" } dd.mono { (r) } }
            @if let Some(n) = &stack.nesting { dt { "Parent" } dd { a href=(stack_link(&n.parent_id, "")) { (n.parent_id) } } }
        }
        h2 { "Resources (" (resources.len()) ")" }
        div.scroll { table.responsive id="resources" {
            thead { tr { th { "Logical ID" } th { "Type" } th { "Status" } th { "Physical ID" } th { "Reason" } } }
            tbody { @for r in &resources {
                tr data-logical-id=(r.logical_id) {
                    td.mono.lid data-label="Logical ID" { (r.logical_id) }
                    td data-label="Type" { (r.resource_type) }
                    td data-label="Status" { (badge(r.status.as_str())) }
                    td.mono data-label="Physical ID" {
                        @if let Some(p) = &r.physical_id {
                            @match resource_link(&r.resource_type, p) { Some(href) => a href=(href) { (p) }, None => (p) }
                        }
                    }
                    td.wrap data-label="Reason" { (r.status_reason.as_deref().unwrap_or("")) }
                }
            } }
        } }
        h2 { "Parameters" }
        @if stack.displayed_parameters.is_empty() { p { "None." } } @else {
            table.responsive id="parameters" { thead { tr { th { "Key" } th { "Value" } } } tbody {
                @for (k, v) in &stack.displayed_parameters { tr { td data-label="Key" { (k) }
                    td.wrap data-label="Value" { @if v == sagestack_template::NO_ECHO_MASK { span.masked title="NoEcho" { (v) " (NoEcho)" } } @else { (v) } } } }
            } }
        }
        h2 { "Outputs" }
        @if stack.outputs.is_empty() { p { "None." } } @else {
            table.responsive id="outputs" { thead { tr { th { "Key" } th { "Value" } th { "Export" } th { "Description" } } } tbody {
                @for o in &stack.outputs { tr { td data-label="Key" { (o.key) } td.wrap.mono data-label="Value" { (o.value) }
                    td data-label="Export" { (o.export_name.as_deref().unwrap_or("")) } td data-label="Description" { (o.description.as_deref().unwrap_or("")) } } }
            } }
        }
        h2 { "Change sets" }
        @if change_sets.is_empty() { p { "None." } } @else {
            table.responsive id="change-sets" { thead { tr { th { "Name" } th { "Status" } th { "Execution" } th { "Created (UTC)" } } } tbody {
                @for c in &change_sets { tr {
                    td data-label="Name" { a href={(PREFIX) "/stack/changeset?name=" (enc(&stack.stack_id)) "&cs=" (enc(&c.change_set_id))} { (c.change_set_name) } }
                    td data-label="Status" { (badge(c.status.as_str())) }
                    td data-label="Execution" { (c.execution_status.as_str()) }
                    td data-label="Created" { (layout::time(c.creation_time)) } } }
            } }
        }
        @if !stack.tags.is_empty() {
            h2 { "Tags" }
            table.responsive { tbody { @for (k, v) in &stack.tags { tr { td data-label="Key" { (k) } td.wrap data-label="Value" { (v) } } } } }
        }
        h2 { "Recent events" }
        div.scroll { table.responsive id="events" {
            thead { tr { th { "Time (UTC)" } th { "Logical ID" } th { "Status" } th { "Reason" } } }
            tbody { @for e in &events { tr {
                td data-label="Time" { (layout::time(e.timestamp)) } td.mono data-label="Logical ID" { (e.logical_resource_id) }
                td data-label="Status" { (badge(&e.resource_status)) } td.wrap data-label="Reason" { (e.resource_status_reason.as_deref().unwrap_or("")) } } } }
        } }
    };
    let live = stack
        .status
        .is_operation_in_progress()
        .then(|| format!("{PREFIX}/stack/poll?name={}", enc(&stack.stack_id)));
    respond(layout::page(
        &console,
        &viewer,
        Nav::Stacks,
        &stack.stack_name,
        live,
        body,
    ))
}

pub(crate) async fn timeline(
    State(console): State<Arc<Console>>,
    headers: HeaderMap,
    Query(q): Query<StackQuery>,
) -> Response {
    let (viewer, stack) = match viewer_and_stack(&console, &headers, &q.name).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    let t = timeline_of(&viewer, &stack).await;
    let critical: Vec<&str> = t
        .bars
        .iter()
        .filter(|b| b.critical)
        .map(|b| b.logical_id.as_str())
        .collect();
    let body = html! {
        (header(&stack, "/timeline"))
        (failure_box(&t))
        p id="timeline-stats" {
            (t.bars.len()) " operations on resources over " (layout::duration(t.end - t.start))
            "; at most " (t.max_parallel) " ran at once; critical path: " (critical.len()) " step(s)"
            @if !critical.is_empty() { " (" (critical.join(" → ")) ")" } "."
        }
        (crate::timeline_svg::render(&t, stack_link(&stack.stack_id, "")))
        details {
            summary { "The same as a table" }
            div.scroll { table.responsive id="timeline-table" {
                thead { tr { th { "#" } th { "Logical ID" } th { "Operation" } th { "Outcome" } th { "Start (UTC)" } th { "Duration" } th { "Critical" } th { "Reason" } } }
                tbody { @for (i, b) in t.bars.iter().enumerate() { tr {
                    td data-label="#" { (i + 1) } td.mono data-label="Logical ID" { (b.logical_id) } td data-label="Operation" { (b.operation.as_str()) }
                    td data-label="Outcome" { (b.outcome.as_str()) } td data-label="Start" { (layout::time(b.start)) }
                    td data-label="Duration" { (layout::duration(b.end - b.start)) } td data-label="Critical" { @if b.critical { "yes" } }
                    td.wrap data-label="Reason" { (b.reason.as_deref().unwrap_or("")) } } } }
            } }
        }
    };
    let live = stack
        .status
        .is_operation_in_progress()
        .then(|| format!("{PREFIX}/stack/poll?name={}", enc(&stack.stack_id)));
    respond(layout::page(
        &console,
        &viewer,
        Nav::Stacks,
        &stack.stack_name,
        live,
        body,
    ))
}

/// A live stack page's fingerprint: its status and its newest event.
pub(crate) async fn fingerprint(viewer: &Viewer<'_>, name: &str) -> String {
    let cfn = &viewer.view.cloudformation;
    match cfn.describe_stack(name).await {
        Ok(s) => {
            let seq = cfn
                .engine()
                .stack_events(&s.stack_id, None, 1)
                .await
                .ok()
                .and_then(|e| e.first().map(|e| e.seq))
                .unwrap_or(0);
            format!("{}:{seq}", s.status.as_str())
        }
        Err(_) => "none".into(),
    }
}

pub(crate) async fn poll(
    State(console): State<Arc<Console>>,
    headers: HeaderMap,
    Query(q): Query<StackQuery>,
) -> Response {
    match console.viewer(&headers) {
        Ok(viewer) => fingerprint(&viewer, &q.name).await.into_response(),
        Err(r) => r,
    }
}

pub(crate) async fn change_set(
    State(console): State<Arc<Console>>,
    headers: HeaderMap,
    Query(q): Query<StackQuery>,
) -> Response {
    let (viewer, stack) = match viewer_and_stack(&console, &headers, &q.name).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    let cfn = &viewer.view.cloudformation;
    let cs = match cfn
        .engine()
        .describe_change_set(&q.cs, Some(&stack.stack_id))
        .await
    {
        Ok(cs) => cs,
        Err(e) => {
            let body = html! { (header(&stack, "-")) (notice("error", &e.to_string())) };
            return respond(layout::page(
                &console,
                &viewer,
                Nav::Stacks,
                &stack.stack_name,
                None,
                body,
            ));
        }
    };
    let before = crate::template_view::resources_of(&stack.template.body);
    let after = crate::template_view::resources_of(&cs.template.body);
    let body = html! {
        (header(&stack, "-"))
        h2 { "Change set " (cs.change_set_name) " " (badge(cs.status.as_str())) }
        dl.facts {
            dt { "Type" } dd { (format!("{:?}", cs.change_set_type).to_uppercase()) }
            dt { "Execution" } dd { (cs.execution_status.as_str()) }
            @if let Some(r) = &cs.status_reason { dt { "Reason" } dd { (r) } }
            @if let Some(d) = &cs.description { dt { "Description" } dd { (d) } }
        }
        div.scroll { table id="changes" {
            thead { tr { th { "Action" } th { "Logical ID" } th { "Type" } th { "Replacement" } th { "Property changes" } } }
            tbody { @for c in &cs.changes {
                tr data-logical-id=(c.logical_resource_id) {
                    td { (c.action.as_str()) }
                    td.mono { (c.logical_resource_id) }
                    td { (c.resource_type) }
                    td { @match c.replacement { Some(r) => strong.replacement data-replacement=(r.as_str()) { (r.as_str()) }, None => "" } }
                    td { @for d in &c.details {
                        @let prop = d.target.name.clone().unwrap_or_default();
                        div.change {
                            span.mono { (prop) } " — recreation: " strong { (d.target.requires_recreation.as_str()) }
                            @if let Some(cause) = &d.causing_entity { " (caused by " (cause) ")" }
                            @let old = crate::template_view::property(&before, &c.logical_resource_id, &prop);
                            @let new = crate::template_view::property(&after, &c.logical_resource_id, &prop);
                            @if old.is_some() || new.is_some() {
                                br; span.diff-old.mono { "− " (old.unwrap_or_else(|| "(absent)".into())) }
                                br; span.diff-new.mono { "+ " (new.unwrap_or_else(|| "(absent)".into())) }
                            }
                        }
                    } }
                }
            } }
        } }
    };
    respond(layout::page(
        &console,
        &viewer,
        Nav::Stacks,
        &cs.change_set_name,
        None,
        body,
    ))
}
