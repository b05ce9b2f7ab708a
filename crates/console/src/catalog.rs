//! Service Catalog (portfolios, products, provisioned products), model package groups
//! and EventBridge rules: read-only lists through each service's API called in process
//! (`ListPortfolios`, `SearchProductsAsAdmin`, `ScanProvisionedProducts`,
//! `ListModelPackageGroups`, `ListRules`), first pages only (100 items).

use std::sync::Arc;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use maud::{Markup, html};
use serde_json::{Value, json};

use crate::layout::{self, Nav, badge, notice, stack_link};
use crate::{Console, PREFIX, html as respond};

fn text<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    let mut v = v;
    for p in path {
        v = &v[*p];
    }
    v.as_str().unwrap_or("")
}

/// A list answered by an API, or its error.
fn items<'a>(out: &'a Result<Value, String>, member: &str) -> Result<&'a [Value], Markup> {
    match out {
        Ok(v) => Ok(v[member].as_array().map(Vec::as_slice).unwrap_or(&[])),
        Err(e) => Err(notice("error", e)),
    }
}

pub(crate) async fn page(State(console): State<Arc<Console>>, headers: HeaderMap) -> Response {
    let viewer = match console.viewer(&headers) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let sc = viewer.view.servicecatalog.as_ref();
    let portfolios = console
        .call(&viewer, sc, "ListPortfolios", json!({"PageSize": 100}))
        .await;
    let products = console
        .call(
            &viewer,
            sc,
            "SearchProductsAsAdmin",
            json!({"PageSize": 100}),
        )
        .await;
    let provisioned = console
        .call(
            &viewer,
            sc,
            "ScanProvisionedProducts",
            json!({"PageSize": 100}),
        )
        .await;
    let body = html! {
        h1 { "Service Catalog" }
        h2 { "Portfolios" }
        @match items(&portfolios, "PortfolioDetails") {
            Err(m) => (m),
            Ok(list) => table.responsive id="portfolios" {
                thead { tr { th { "Name" } th { "ID" } th { "Provider" } th { "Description" } } }
                tbody { @for p in list { tr { td data-label="Name" { (text(p, &["DisplayName"])) } td.mono data-label="ID" { (text(p, &["Id"])) }
                    td data-label="Provider" { (text(p, &["ProviderName"])) } td data-label="Description" { (text(p, &["Description"])) } } } }
            }
        }
        h2 { "Products" }
        @match items(&products, "ProductViewDetails") {
            Err(m) => (m),
            Ok(list) => table.responsive id="products" {
                thead { tr { th { "Name" } th { "ID" } th { "Owner" } th { "Status" } } }
                tbody { @for p in list { tr { td data-label="Name" { (text(p, &["ProductViewSummary", "Name"])) }
                    td.mono data-label="ID" { (text(p, &["ProductViewSummary", "ProductId"])) }
                    td data-label="Owner" { (text(p, &["ProductViewSummary", "Owner"])) }
                    td data-label="Status" { (badge(text(p, &["Status"]))) } } } }
            }
        }
        h2 { "Provisioned products" }
        @match items(&provisioned, "ProvisionedProducts") {
            Err(m) => (m),
            Ok(list) => table.responsive id="provisioned" {
                thead { tr { th { "Name" } th { "ID" } th { "Status" } th { "Stack" } th { "Message" } } }
                tbody { @for p in list {
                    @let stack = text(p, &["PhysicalId"]);
                    tr { td data-label="Name" { (text(p, &["Name"])) } td.mono data-label="ID" { (text(p, &["Id"])) }
                        td data-label="Status" { (badge(text(p, &["Status"]))) }
                        td.wrap data-label="Stack" { @if stack.starts_with("arn:") { a href=(stack_link(stack, "")) { "stack" } } }
                        td.wrap data-label="Message" { (text(p, &["StatusMessage"])) } }
                } }
            }
        }
    };
    respond(layout::page(
        &console,
        &viewer,
        Nav::Catalog,
        "Service Catalog",
        None,
        body,
    ))
}

pub(crate) async fn models(State(console): State<Arc<Console>>, headers: HeaderMap) -> Response {
    let viewer = match console.viewer(&headers) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let out = console
        .call(
            &viewer,
            viewer.view.sagemaker.as_ref(),
            "ListModelPackageGroups",
            json!({"MaxResults": 100}),
        )
        .await;
    let body = html! {
        h1 { "Model package groups" }
        @match items(&out, "ModelPackageGroupSummaryList") {
            Err(m) => (m),
            Ok(list) => table.responsive id="model-package-groups" {
                thead { tr { th { "Name" } th { "Status" } th { "Created (UTC)" } th { "Description" } } }
                tbody { @for g in list {
                    @let name = text(g, &["ModelPackageGroupName"]);
                    tr id=(name) { td data-label="Name" { (name) } td data-label="Status" { (badge(text(g, &["ModelPackageGroupStatus"]))) }
                        td data-label="Created" { (layout::time_secs(&g["CreationTime"])) } td data-label="Description" { (text(g, &["ModelPackageGroupDescription"])) } }
                } }
            }
        }
    };
    respond(layout::page(
        &console,
        &viewer,
        Nav::Models,
        "Model packages",
        None,
        body,
    ))
}

pub(crate) async fn rules(State(console): State<Arc<Console>>, headers: HeaderMap) -> Response {
    let viewer = match console.viewer(&headers) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let out = console
        .call(
            &viewer,
            viewer.view.events.as_ref(),
            "ListRules",
            json!({"Limit": 100}),
        )
        .await;
    let body = html! {
        h1 { "EventBridge rules" }
        p { "On the default bus. Delivery counts: " a href="/_sagestack/events/stats" { "/_sagestack/events/stats" } "." }
        @match items(&out, "Rules") {
            Err(m) => (m),
            Ok(list) => table.responsive id="rules" {
                thead { tr { th { "Name" } th { "State" } th { "Pattern or schedule" } th { "Description" } } }
                tbody { @for r in list { tr {
                    td data-label="Name" { (text(r, &["Name"])) } td data-label="State" { (badge(text(r, &["State"]))) }
                    td.mono.wrap data-label="Pattern" { (r["EventPattern"].as_str().or(r["ScheduleExpression"].as_str()).unwrap_or("")) }
                    td data-label="Description" { (text(r, &["Description"])) } } } }
            }
        }
    };
    let _ = PREFIX;
    respond(layout::page(
        &console,
        &viewer,
        Nav::Rules,
        "EventBridge rules",
        None,
        body,
    ))
}
