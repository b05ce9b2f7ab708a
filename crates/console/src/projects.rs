//! SageMaker projects: the list (filters, sorting, keyset pages) and a project's page.
//!
//! Everything is read with the account's SageMaker API called in process
//! (`ListProjects`, `DescribeProject`, `ListTags`), so the console pages exactly as
//! `ListProjects` does: by its opaque keyset token, never an offset, which keeps a page
//! as fast at 100,000 projects as at 10. The status filter is the console's own
//! (`ListProjects` has none): it reads whole API pages in the chosen order and keeps the
//! matching rows, up to [`STATUS_SCAN`] rows per page shown, and offers the API's token
//! to go on from there. When that budget runs out before a page fills, the status is
//! rare, and the projects' status index (`Projects::projects_with_status`, the same
//! state the API reads) gives the whole of it at once, paged by offset (`by_status`).

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::layout::{self, Nav, badge, enc, notice};
use crate::{Console, PREFIX, html as respond};

/// Rows per page.
const PAGE: i64 = 50;
/// Most rows read from the API for one page shown when filtering by status.
const STATUS_SCAN: usize = 2_000;

/// Every `ProjectStatus`, for the filter.
const STATUSES: [&str; 10] = [
    "Pending",
    "CreateInProgress",
    "CreateCompleted",
    "CreateFailed",
    "UpdateInProgress",
    "UpdateCompleted",
    "UpdateFailed",
    "DeleteInProgress",
    "DeleteFailed",
    "DeleteCompleted",
];

#[derive(Deserialize, Default)]
pub(crate) struct ListQuery {
    #[serde(default)]
    status: String,
    #[serde(default)]
    name: String,
    /// `Name` or `CreationTime`.
    #[serde(default)]
    sort: String,
    /// `Ascending` or `Descending`.
    #[serde(default)]
    order: String,
    #[serde(default)]
    token: String,
}

impl ListQuery {
    /// This list's URL with another token.
    fn url(&self, token: Option<&str>) -> String {
        let mut url = format!(
            "{PREFIX}/projects?status={}&name={}&sort={}&order={}",
            enc(&self.status),
            enc(&self.name),
            enc(&self.sort),
            enc(&self.order)
        );
        if let Some(t) = token {
            url.push_str("&token=");
            url.push_str(&enc(t));
        }
        url
    }
}

pub(crate) async fn list(
    State(console): State<Arc<Console>>,
    headers: HeaderMap,
    Query(q): Query<ListQuery>,
) -> Response {
    let viewer = match console.viewer(&headers) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let sort = if q.sort == "Name" {
        "Name"
    } else {
        "CreationTime"
    };
    let order = match (q.order.as_str(), sort) {
        ("Ascending", _) => "Ascending",
        ("Descending", _) => "Descending",
        (_, "Name") => "Ascending",
        _ => "Descending",
    };
    let status = STATUSES.iter().find(|s| **s == q.status).copied();
    let mut input = json!({"SortBy": sort, "SortOrder": order, "MaxResults": if status.is_some() { 100 } else { PAGE }});
    if !q.name.trim().is_empty() {
        input["NameContains"] = q.name.trim().into();
    }
    let mut token = (!q.token.is_empty()).then(|| q.token.clone());
    let mut rows: Vec<Value> = Vec::new();
    let mut scanned = 0usize;
    let mut error = None;
    // A page of the status index (see `by_status`): the token says where.
    let index_offset = q
        .token
        .strip_prefix(INDEX_TOKEN)
        .and_then(|n| n.parse::<usize>().ok());
    if index_offset.is_some() {
        token = None;
    }
    while index_offset.is_none() {
        if let Some(t) = &token {
            input["NextToken"] = t.clone().into();
        }
        match console
            .call(
                &viewer,
                viewer.view.sagemaker.as_ref(),
                "ListProjects",
                input.clone(),
            )
            .await
        {
            Ok(out) => {
                let page = out["ProjectSummaryList"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                scanned += page.len();
                rows.extend(
                    page.into_iter()
                        .filter(|p| status.is_none_or(|s| p["ProjectStatus"] == s)),
                );
                token = out["NextToken"].as_str().map(str::to_string);
            }
            Err(e) => {
                error = Some(e);
                token = None;
            }
        }
        if status.is_none()
            || token.is_none()
            || rows.len() >= PAGE as usize
            || scanned >= STATUS_SCAN
        {
            break;
        }
    }
    // The scan's budget ran out before a page of a rare status filled: the status
    // index answers instead, the whole of that status at once.
    let mut scan_ran_out = status.is_some() && token.is_some() && rows.len() < PAGE as usize;
    if let Some(s) = status.filter(|_| scan_ran_out || index_offset.is_some()) {
        let offset = index_offset.unwrap_or(0);
        match by_status(&viewer, s, &q.name, sort, order).await {
            Ok(all) => {
                token = (all.len() > offset + PAGE as usize)
                    .then(|| format!("{INDEX_TOKEN}{}", offset + PAGE as usize));
                rows = all.into_iter().skip(offset).take(PAGE as usize).collect();
                scan_ran_out = false;
            }
            Err(e) => error = Some(e),
        }
    }
    let sort_link = |key: &str| {
        let order = if sort == key && order == "Ascending" {
            "Descending"
        } else {
            "Ascending"
        };
        let q2 = ListQuery {
            status: q.status.clone(),
            name: q.name.clone(),
            sort: key.into(),
            order: order.into(),
            token: String::new(),
        };
        q2.url(None)
    };
    let arrow = |key: &str| match (sort == key, order) {
        (true, "Ascending") => " ▲",
        (true, _) => " ▼",
        _ => "",
    };
    let aria_sort = |key: &str| match (sort == key, order) {
        (true, "Ascending") => Some("ascending"),
        (true, _) => Some("descending"),
        _ => None,
    };
    let busy = rows
        .iter()
        .any(|p| layout::is_busy(p["ProjectStatus"].as_str().unwrap_or("")));
    let body = html! {
        h1 { "Projects" }
        form.filters method="get" action={(PREFIX) "/projects"} role="search" {
            label { "Name contains" input type="search" name="name" value=(q.name) id="filter-name"; }
            label { "Status"
                select name="status" id="filter-status" {
                    option value="" { "Any" }
                    @for s in STATUSES { option value=(s) selected[Some(s) == status] { (s) } }
                }
            }
            input type="hidden" name="sort" value=(sort);
            input type="hidden" name="order" value=(order);
            button type="submit" { "Filter" }
        }
        @if let Some(e) = &error { (notice("error", e)) }
        @if scan_ran_out {
            (notice("warn", &format!("Read {scanned} projects without filling a page with status {}; the next page goes on from there.", status.unwrap_or(""))))
        }
        div.scroll {
            table.responsive id="projects" {
                thead { tr {
                    th scope="col" aria-sort=[aria_sort("Name")] { a href=(sort_link("Name")) { "Name" (arrow("Name")) } }
                    th scope="col" { "Status" }
                    th scope="col" aria-sort=[aria_sort("CreationTime")] { a href=(sort_link("CreationTime")) { "Created (UTC)" (arrow("CreationTime")) } }
                    th scope="col" { "ID" }
                    th scope="col" { "Description" }
                } }
                tbody {
                    @for p in &rows {
                        @let name = p["ProjectName"].as_str().unwrap_or("");
                        @let st = p["ProjectStatus"].as_str().unwrap_or("");
                        tr data-name=(name) {
                            td data-label="Name" { a href={(PREFIX) "/projects/" (enc(name))} { (name) } }
                            td data-label="Status" { (badge(st)) }
                            td data-label="Created" { (layout::time_secs(&p["CreationTime"])) }
                            td.mono data-label="ID" { (p["ProjectId"].as_str().unwrap_or("")) }
                            td data-label="Description" { (p["ProjectDescription"].as_str().unwrap_or("")) }
                        }
                    }
                    @if rows.is_empty() && error.is_none() { tr { td colspan="5" { "No projects match." } } }
                }
            }
        }
        nav.pager aria-label="Pages" {
            @if !q.token.is_empty() { a href=(q.url(None)) id="first-page" { "« First page" } }
            @if let Some(t) = &token { a href=(q.url(Some(t))) id="next-page" rel="next" { "Next page »" } }
            span.muted { (rows.len()) " shown" }
        }
    };
    // A list with running projects refreshes itself (only the first page: later pages
    // are a snapshot of a position).
    let live = (busy && q.token.is_empty())
        .then(|| format!("{PREFIX}/projects/-/poll?list={}", enc(&q.name)));
    respond(layout::page(
        &console,
        &viewer,
        Nav::Projects,
        "Projects",
        live,
        body,
    ))
}

/// A project's stored document, or the API's error.
async fn describe(
    console: &Console,
    viewer: &crate::Viewer<'_>,
    name: &str,
) -> Result<Value, String> {
    console
        .call(
            viewer,
            viewer.view.sagemaker.as_ref(),
            "DescribeProject",
            json!({"ProjectName": name}),
        )
        .await
}

/// The `CfnStackDetail`s of a project: (provider, stack name or id, status message).
fn stacks_of(project: &Value) -> Vec<(&Value, String, Option<String>)> {
    project["TemplateProviderDetails"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|d| {
            let cfn = &d["CfnTemplateProviderDetail"];
            let detail = &cfn["StackDetail"];
            let stack = detail["Id"]
                .as_str()
                .or(detail["Name"].as_str())?
                .to_string();
            Some((
                cfn,
                stack,
                detail["StatusMessage"].as_str().map(str::to_string),
            ))
        })
        .collect()
}

pub(crate) async fn page(
    State(console): State<Arc<Console>>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Response {
    let viewer = match console.viewer(&headers) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let project = match describe(&console, &viewer, &name).await {
        Ok(p) => p,
        Err(e) => {
            let body = html! { h1 { "Project " (name) } (notice("error", &e)) };
            let mut r = respond(layout::page(
                &console,
                &viewer,
                Nav::Projects,
                &name,
                None,
                body,
            ));
            *r.status_mut() = axum::http::StatusCode::NOT_FOUND;
            return r;
        }
    };
    let status = project["ProjectStatus"].as_str().unwrap_or("").to_string();
    let arn = project["ProjectArn"].as_str().unwrap_or("");
    let tags = console
        .call(
            &viewer,
            viewer.view.sagemaker.as_ref(),
            "ListTags",
            json!({"ResourceArn": arn}),
        )
        .await
        .ok()
        .and_then(|t| t["Tags"].as_array().cloned())
        .unwrap_or_default();
    let history = status_history(&viewer, &project).await;
    let stacks = stacks_of(&project);
    let mut sections = Vec::new();
    for (_, stack, _) in &stacks {
        sections.push(crate::stacks::summary_for_project(&console, &viewer, stack).await);
    }
    let body = html! {
        p { a href={(PREFIX) "/projects"} { "« Projects" } }
        h1 { "Project " (name) " " (badge(&status)) }
        dl.facts {
            dt { "Status" } dd id="project-status" { (status) }
            dt { "ID" } dd.mono { (project["ProjectId"].as_str().unwrap_or("")) }
            dt { "ARN" } dd.mono { (arn) }
            @if let Some(d) = project["ProjectDescription"].as_str() { dt { "Description" } dd { (d) } }
            dt { "Created (UTC)" } dd { (layout::time_secs(&project["CreationTime"])) }
            @if project.get("LastModifiedTime").is_some() { dt { "Last modified" } dd { (layout::time_secs(&project["LastModifiedTime"])) } }
            @if let Some(by) = project["CreatedBy"]["IamIdentity"]["Arn"].as_str() { dt { "Created by" } dd.mono { (by) } }
        }
        (history)
        @for (cfn, stack, message) in &stacks {
            h2 { "Template provider " (cfn["TemplateName"].as_str().unwrap_or("")) }
            dl.facts {
                dt { "Template URL" } dd.mono {
                    @let url = cfn["TemplateURL"].as_str().unwrap_or("");
                    @match s3_location(url) { Some((b, k)) => a id="template-url" href={(PREFIX) "/s3/" (enc(&b)) "/template?key=" (enc(&k))} { (url) }, None => (url) }
                }
                @if let Some(r) = cfn["RoleARN"].as_str() { dt { "Role" } dd.mono { (r) } }
                dt { "Stack" } dd { a id="stack-link" href=(layout::stack_link(stack, "")) { (cfn["StackDetail"]["Name"].as_str().unwrap_or(stack)) } " · " a href=(layout::stack_link(stack, "/timeline")) { "timeline" } " · " a href=(layout::stack_link(stack, "/template")) { "template" } }
                @if let Some(m) = message { dt { "Stack message" } dd id="stack-message" { (m) } }
            }
            @if let Some(params) = cfn["Parameters"].as_array().filter(|p| !p.is_empty()) {
                h2 { "Parameters" }
                table.responsive { thead { tr { th { "Key" } th { "Value" } } } tbody {
                    @for p in params { tr { td data-label="Key" { (p["Key"].as_str().unwrap_or("")) } td.wrap data-label="Value" { (p["Value"].as_str().unwrap_or("")) } } }
                } }
            }
        }
        @for s in &sections { (s) }
        @if let Some(sc) = project.get("ServiceCatalogProvisioningDetails") {
            h2 { "Service Catalog provisioning" } (json_facts(sc))
        }
        @if let Some(sc) = project.get("ServiceCatalogProvisionedProductDetails") {
            h2 { "Provisioned product" } (json_facts(sc))
        }
        h2 { "Tags" }
        @if tags.is_empty() { p { "No tags." } } @else {
            table.responsive id="tags" { thead { tr { th { "Key" } th { "Value" } } } tbody {
                @for t in &tags { tr { td data-label="Key" { (t["Key"].as_str().unwrap_or("")) } td.wrap data-label="Value" { (t["Value"].as_str().unwrap_or("")) } } }
            } }
        }
    };
    let live = layout::is_busy(&status).then(|| format!("{PREFIX}/projects/{}/poll", enc(&name)));
    respond(layout::page(
        &console,
        &viewer,
        Nav::Projects,
        &name,
        live,
        body,
    ))
}

/// Where a page of the status index starts (`token=index:<offset>`).
const INDEX_TOKEN: &str = "index:";

/// Every project of `status` whose name contains `name` (ignoring case, as
/// `NameContains`), as `ProjectSummary`-shaped rows in the list's order: from the
/// projects' status index (`Projects::projects_with_status`), which `ListProjects`, with
/// no status filter on AWS, cannot offer. Used only once a scan of `ListProjects` pages
/// found the status rare, so the whole of it is small.
async fn by_status(
    viewer: &crate::Viewer<'_>,
    status: &str,
    name: &str,
    sort: &str,
    order: &str,
) -> Result<Vec<Value>, String> {
    let status = serde_json::from_value(json!(status)).map_err(|e| e.to_string())?;
    let needle = name.trim().to_lowercase();
    let mut projects: Vec<_> = viewer
        .view
        .projects
        .projects_with_status(&[status])
        .await
        .map_err(|e| e.to_string())?
        .into_iter()
        .filter(|p| p.project_name.to_lowercase().contains(&needle))
        .collect();
    if sort == "Name" {
        projects.sort_by(|a, b| a.project_name.cmp(&b.project_name));
    } else {
        projects.sort_by(|a, b| {
            a.creation_time
                .total_cmp(&b.creation_time)
                .then_with(|| a.project_name.cmp(&b.project_name))
        });
    }
    if order == "Descending" {
        projects.reverse();
    }
    Ok(projects.iter().map(|p| json!(p)).collect())
}

/// The statuses the project went through, each with when it was entered and how long
/// it lasted (the last one lasts until now). Read from the projects' state: no API
/// serves this (AWS keeps no history).
async fn status_history(viewer: &crate::Viewer<'_>, project: &Value) -> Markup {
    let id = project["ProjectId"].as_str().unwrap_or("");
    let created = project["CreationTime"].as_f64().unwrap_or(0.0);
    let entries = match viewer.view.projects.status_history(id, created).await {
        Ok(e) => e,
        Err(e) => return html! { h2 { "Status history" } (notice("error", &e.to_string())) },
    };
    let ms = |secs: f64| (secs * 1000.0) as i64;
    let now = ms(std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64()));
    html! {
        h2 { "Status history" }
        table.responsive id="status-history" { thead { tr { th { "Status" } th { "Entered (UTC)" } th { "Lasted" } } } tbody {
            @for (i, (status, at)) in entries.iter().enumerate() {
                @let until = entries.get(i + 1).map_or(now, |(_, next)| ms(*next));
                tr data-status=(status) {
                    td data-label="Status" { (badge(status)) }
                    td data-label="Entered" { (layout::time(ms(*at))) }
                    td data-label="Lasted" { (layout::duration((until - ms(*at)).max(0))) @if i + 1 == entries.len() { " (so far)" } }
                }
            }
        } }
    }
}

/// The bucket and key an S3 URL names (virtual-hosted or path style).
fn s3_location(url: &str) -> Option<(String, String)> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?;
    let (host, path) = rest.split_once('/')?;
    match host.split_once(".s3") {
        Some((bucket, _)) if !bucket.is_empty() => Some((bucket.to_string(), path.to_string())),
        _ => {
            let (bucket, key) = path.split_once('/')?;
            Some((bucket.to_string(), key.to_string()))
        }
    }
}

/// A JSON object as a definition list (nested values as JSON text).
pub(crate) fn json_facts(v: &Value) -> Markup {
    html! {
        dl.facts {
            @for (k, v) in v.as_object().into_iter().flatten() {
                dt { (k) }
                dd.mono { @match v { Value::String(s) => (s), other => (other.to_string()) } }
            }
        }
    }
}

/// What a live project page compares: its status and how far its stacks' events go.
pub(crate) async fn poll(
    State(console): State<Arc<Console>>,
    headers: HeaderMap,
    Path(name): Path<String>,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Response {
    let viewer = match console.viewer(&headers) {
        Ok(v) => v,
        Err(r) => return r,
    };
    if name == "-" {
        // The list: the statuses of its first page.
        let mut input = json!({"MaxResults": PAGE});
        if let Some(n) = q.get("list").filter(|n| !n.is_empty()) {
            input["NameContains"] = n.clone().into();
        }
        let out = console
            .call(
                &viewer,
                viewer.view.sagemaker.as_ref(),
                "ListProjects",
                input,
            )
            .await
            .unwrap_or_default();
        let fp: String = out["ProjectSummaryList"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| {
                format!(
                    "{}={};",
                    p["ProjectName"].as_str().unwrap_or(""),
                    p["ProjectStatus"].as_str().unwrap_or("")
                )
            })
            .collect();
        return fp.into_response();
    }
    let Ok(project) = describe(&console, &viewer, &name).await else {
        return "gone".into_response();
    };
    let mut fp = project["ProjectStatus"].as_str().unwrap_or("").to_string();
    for (_, stack, message) in stacks_of(&project) {
        fp.push('|');
        fp.push_str(&crate::stacks::fingerprint(&viewer, &stack).await);
        fp.push_str(message.as_deref().unwrap_or(""));
    }
    fp.into_response()
}
