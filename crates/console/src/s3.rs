//! S3: the viewer's buckets, a bucket's objects (by prefix, in key order, in pages), an
//! object's download, and uploading a file (a template, typically) into a bucket.
//!
//! Buckets are one namespace for the whole server; a bucket is shown to the account that
//! owns it only, by the rule the S3 API applies (`sagestack_s3::auth::bucket_owner`).
//! Downloads are always served as attachments with `nosniff`, so an object's content is
//! never rendered as a page of this origin. An upload is checked as `PutObject` checks
//! it (the bucket exists and is the viewer's, the key is 1 to 1,024 bytes, the body is
//! within `--s3-max-object-size`), stored with its MD5 ETag through the same object
//! store, and a template (`.yaml`, `.yml`, `.json`, `.template`) is validated on the way
//! so the page can say where it is wrong.

use std::sync::Arc;

use axum::extract::{Multipart, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::html;
use sagestack_store::{BucketRecord, KeyRange, ObjectMeta};
use serde::Deserialize;

use crate::layout::{self, Nav, enc, notice};
use crate::session::csrf_ok;
use crate::{Console, PREFIX, Viewer, html as respond};

/// Objects per page.
const PAGE: usize = 200;
/// The longest key S3 accepts.
const MAX_KEY_BYTES: usize = 1024;

/// The bucket named `name` if the viewer's account owns it.
pub(crate) async fn own_bucket(
    console: &Console,
    viewer: &Viewer<'_>,
    name: &str,
) -> Option<BucketRecord> {
    let bucket = viewer.view.objects.get_bucket(name).await.ok().flatten()?;
    (sagestack_s3::auth::bucket_owner(&bucket, &console.config.account_id) == viewer.account_id)
        .then_some(bucket)
}

pub(crate) async fn buckets(State(console): State<Arc<Console>>, headers: HeaderMap) -> Response {
    let viewer = match console.viewer(&headers) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let all = viewer.view.objects.list_buckets().await;
    let body = html! {
        h1 { "S3 buckets" }
        @match &all {
            Err(e) => (notice("error", &e.to_string())),
            Ok(all) => table.responsive id="buckets" {
                thead { tr { th { "Name" } th { "Region" } th { "Created (UTC)" } } }
                tbody { @for b in all.iter().filter(|b| sagestack_s3::auth::bucket_owner(b, &console.config.account_id) == viewer.account_id) {
                    tr { td data-label="Name" { a href={(PREFIX) "/s3/" (enc(&b.name))} { (b.name) } }
                        td data-label="Region" { (b.region) } td data-label="Created" { (layout::time(b.creation_micros / 1000)) } }
                } }
            }
        }
    };
    respond(layout::page(&console, &viewer, Nav::S3, "S3", None, body))
}

#[derive(Deserialize, Default)]
pub(crate) struct ObjectsQuery {
    #[serde(default)]
    prefix: String,
    #[serde(default)]
    after: String,
    /// A message from an upload just made.
    #[serde(default)]
    uploaded: String,
}

pub(crate) async fn objects(
    State(console): State<Arc<Console>>,
    headers: HeaderMap,
    Path(bucket): Path<String>,
    Query(q): Query<ObjectsQuery>,
) -> Response {
    let viewer = match console.viewer(&headers) {
        Ok(v) => v,
        Err(r) => return r,
    };
    if own_bucket(&console, &viewer, &bucket).await.is_none() {
        let body = html! { h1 { "Bucket " (bucket) } (notice("error", "The specified bucket does not exist.")) };
        let mut r = respond(layout::page(
            &console,
            &viewer,
            Nav::S3,
            &bucket,
            None,
            body,
        ));
        *r.status_mut() = StatusCode::NOT_FOUND;
        return r;
    }
    let page = viewer
        .view
        .objects
        .list_objects(KeyRange {
            bucket: &bucket,
            prefix: &q.prefix,
            after: (!q.after.is_empty()).then_some(q.after.as_str()),
            limit: PAGE,
        })
        .await;
    let body = html! {
        p { a href={(PREFIX) "/s3"} { "« Buckets" } }
        h1 { "Bucket " (bucket) }
        @if !q.uploaded.is_empty() { (notice("info", &q.uploaded)) }
        form.filters method="get" action={(PREFIX) "/s3/" (enc(&bucket))} role="search" {
            label { "Key prefix" input type="search" name="prefix" value=(q.prefix); }
            button type="submit" { "List" }
        }
        form.upload method="post" enctype="multipart/form-data" action={(PREFIX) "/s3/" (enc(&bucket)) "/upload"} {
            input type="hidden" name="csrf" value=(viewer.csrf);
            label { "Key " input name="key" placeholder="templates/my-template.yaml" id="upload-key"; }
            label { "File " input type="file" name="file" required id="upload-file"; }
            button type="submit" { "Upload" }
        }
        @match &page {
            Err(e) => (notice("error", &e.to_string())),
            Ok(page) => {
                table.responsive id="objects" {
                    thead { tr { th { "Key" } th { "Size" } th { "Last modified (UTC)" } th { "ETag" } } }
                    tbody { @for o in &page.objects { tr {
                        td.wrap data-label="Key" { a href={(PREFIX) "/s3/" (enc(&bucket)) "/object?key=" (enc(&o.key))} download { (o.key) } }
                        td data-label="Size" { (o.size) } td data-label="Modified" { (layout::time(o.last_modified_micros / 1000)) }
                        td.mono data-label="ETag" { (o.etag) } } }
                        @if page.objects.is_empty() { tr { td colspan="4" { "No objects." } } }
                    }
                }
                @if page.truncated { @if let Some(last) = page.objects.last() {
                    nav.pager { a rel="next" href={(PREFIX) "/s3/" (enc(&bucket)) "?prefix=" (enc(&q.prefix)) "&after=" (enc(&last.key))} { "Next page »" } }
                } }
            }
        }
    };
    respond(layout::page(
        &console,
        &viewer,
        Nav::S3,
        &bucket,
        None,
        body,
    ))
}

#[derive(Deserialize)]
pub(crate) struct KeyQuery {
    key: String,
}

pub(crate) async fn download(
    State(console): State<Arc<Console>>,
    headers: HeaderMap,
    Path(bucket): Path<String>,
    Query(q): Query<KeyQuery>,
) -> Response {
    let viewer = match console.viewer(&headers) {
        Ok(v) => v,
        Err(r) => return r,
    };
    if own_bucket(&console, &viewer, &bucket).await.is_none() {
        return (
            StatusCode::NOT_FOUND,
            "The specified bucket does not exist.",
        )
            .into_response();
    }
    match viewer.view.objects.get_object(&bucket, &q.key).await {
        Ok(Some(object)) => {
            let name: String = q
                .key
                .rsplit('/')
                .next()
                .unwrap_or("object")
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || "._-".contains(c) {
                        c
                    } else {
                        '_'
                    }
                })
                .collect();
            let mut response = object.body.into_response();
            let h = response.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            );
            h.insert(
                "x-content-type-options",
                HeaderValue::from_static("nosniff"),
            );
            if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
                h.insert(header::CONTENT_DISPOSITION, v);
            }
            response
        }
        Ok(None) => (StatusCode::NOT_FOUND, "The specified key does not exist.").into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// Checks and stores an uploaded file; back to the bucket's page with what happened.
pub(crate) async fn upload(
    State(console): State<Arc<Console>>,
    headers: HeaderMap,
    Path(bucket): Path<String>,
    mut form: Multipart,
) -> Response {
    let viewer = match console.viewer(&headers) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let (mut csrf, mut key, mut file) = (String::new(), String::new(), None);
    let limit = console.config.max_object_size as usize;
    loop {
        match form.next_field().await {
            Ok(Some(field)) => {
                let name = field.name().unwrap_or("").to_string();
                let file_name = field.file_name().map(str::to_string);
                match field.bytes().await {
                    Ok(bytes) if name == "file" => {
                        file = Some((file_name.unwrap_or_default(), bytes))
                    }
                    Ok(bytes) if name == "csrf" => {
                        csrf = String::from_utf8_lossy(&bytes).into_owned()
                    }
                    Ok(bytes) if name == "key" => {
                        key = String::from_utf8_lossy(&bytes).trim().to_string()
                    }
                    Ok(_) => {}
                    Err(e) => return refused(&console, &viewer, &bucket, &e.to_string()),
                }
            }
            Ok(None) => break,
            Err(e) => return refused(&console, &viewer, &bucket, &e.to_string()),
        }
    }
    if !csrf_ok(&viewer.csrf, &csrf) {
        return (
            StatusCode::FORBIDDEN,
            "The form's token is missing or stale; reload the page.",
        )
            .into_response();
    }
    if own_bucket(&console, &viewer, &bucket).await.is_none() {
        return refused(
            &console,
            &viewer,
            &bucket,
            "The specified bucket does not exist.",
        );
    }
    let Some((file_name, body)) = file else {
        return refused(&console, &viewer, &bucket, "Choose a file to upload.");
    };
    if key.is_empty() {
        key = file_name;
    }
    if key.is_empty() || key.len() > MAX_KEY_BYTES {
        return refused(&console, &viewer, &bucket, "A key is 1 to 1024 bytes long.");
    }
    if body.len() > limit {
        return refused(
            &console,
            &viewer,
            &bucket,
            &format!("Your proposed upload exceeds the maximum allowed size ({limit} bytes)."),
        );
    }
    let meta = ObjectMeta {
        bucket: bucket.clone(),
        key: key.clone(),
        size: body.len() as i64,
        etag: sagestack_s3::api::etag_of(&body),
        last_modified_micros: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_micros() as i64),
        document: "{}".into(),
    };
    let mut message = format!("Uploaded {key} ({} bytes).", body.len());
    let is_template = [".yaml", ".yml", ".json", ".template"]
        .iter()
        .any(|x| key.ends_with(x));
    if is_template {
        let text = String::from_utf8_lossy(&body);
        match viewer.view.cloudformation.validate_template(&text, false) {
            Ok(_) => message.push_str(" The template is valid."),
            Err(ds) => {
                let first = &ds[0];
                message.push_str(&format!(
                    " The template is not valid: {}:{}: {}",
                    first.line.unwrap_or(0),
                    first.column.unwrap_or(0),
                    first.message
                ));
            }
        }
    }
    if let Err(e) = viewer.view.objects.put_object(&meta, body).await {
        return refused(&console, &viewer, &bucket, &e.to_string());
    }
    axum::response::Redirect::to(&format!(
        "{PREFIX}/s3/{}?uploaded={}",
        enc(&bucket),
        enc(&message)
    ))
    .into_response()
}

fn refused(console: &Console, viewer: &Viewer<'_>, bucket: &str, message: &str) -> Response {
    let body = html! {
        p { a href={(PREFIX) "/s3/" (enc(bucket))} { "« Bucket " (bucket) } }
        h1 { "Upload refused" } (notice("error", message))
    };
    let mut r = respond(layout::page(console, viewer, Nav::S3, "Upload", None, body));
    *r.status_mut() = StatusCode::BAD_REQUEST;
    r
}
