//! The embedded S3 endpoint: an [`s3s::S3`] implementation over
//! [`sagestack_store::ObjectStore`].
//!
//! s3s owns the wire (REST routing, XML, SigV4, `aws-chunked` bodies); this module owns
//! the semantics, and is the one place where store results become S3 errors
//! ([`S3Api`] methods map [`StoreError`] with the resource in the message: `NoSuchBucket`,
//! `NoSuchKey`, `NoSuchUpload`). Operations s3s routes but this module does not
//! implement answer `501 NotImplemented` (s3s's default).
//!
//! Behaviour, where AWS's is known, is AWS's: bucket name rules (`InvalidBucketName`),
//! `BucketAlreadyOwnedByYou` (except the legacy `200 OK` when re-creating one's own
//! `us-east-1` bucket), `BucketNotEmpty`, `BadDigest` / `InvalidDigest` for
//! `Content-MD5`, `206` + `Content-Range` / `InvalidRange`, `If-Match` (`412`) and
//! `If-None-Match` (`304`) on reads, multipart ETags `"<md5 of the part MD5s>-<n>"`,
//! `InvalidPart` / `InvalidPartOrder` / `EntityTooSmall` (non-last part under 5 MiB),
//! list pagination (`MaxKeys` at most 1000, `Delimiter` → `CommonPrefixes`, each counted
//! as one key, `EncodingType=url`). Choices where AWS behaviour does not apply:
//!
//! * one region per server: a `LocationConstraint` is recorded as given (and returned
//!   by `GetBucketLocation`) whatever the server's region; without one the bucket is in
//!   the server's region. An explicit `us-east-1` constraint is refused
//!   (`InvalidLocationConstraint`) as AWS does.
//! * object size: bodies are kept whole in the store, so a bound applies
//!   ([`S3Api::with_max_object_size`], default [`DEFAULT_MAX_OBJECT_SIZE`]): a larger
//!   `PutObject`, `UploadPart` or completed upload is `EntityTooLarge`.
//! * `ContinuationToken` is the base64 of the last key (or common prefix) returned;
//!   `NextMarker` (v1, with a delimiter) is that entry itself. A listing resumed after a
//!   common prefix (token or marker equal to it) skips every key under it; a
//!   `StartAfter`/`Marker` inside a prefix still rolls the keys after it up into that
//!   prefix.
//! * `ListBuckets` returns every bucket in one page (`Prefix` and `BucketRegion` filter;
//!   `MaxBuckets` / `ContinuationToken` are ignored).
//! * the object document (the store's opaque JSON) keeps `Content-Type`, the other
//!   representation headers (`Cache-Control`, `Content-Disposition`, `Content-Encoding`,
//!   `Content-Language`) and the user metadata (`x-amz-meta-*`), as [`ObjectDocument`].
//! * bucket tags live in the bucket document as `{"Tags":[{"Key":..,"Value":..}]}`,
//!   the shape the `AWS::S3::Bucket` provider writes, so stack tags show in
//!   `GetBucketTagging`. Other fields of the document are preserved on update.
//! * no versioning, ACLs, policies or checksums beyond MD5 (other checksum headers are
//!   verified by s3s when it decodes the body, and not stored).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use bytes::{Bytes, BytesMut};
use futures::StreamExt as _;
use md5::{Digest as _, Md5};
use s3s::dto::*;
use s3s::{S3, S3Error, S3Request, S3Response, S3Result, s3_error};
use sagestack_store::{
    BucketRecord, ObjectMeta, ObjectStore, PartRecord, StoreError, UploadRecord,
};
use serde::{Deserialize, Serialize};

/// Default bound on one object (and on one part): 256 MiB.
pub const DEFAULT_MAX_OBJECT_SIZE: u64 = 256 * 1024 * 1024;
/// The smallest part S3 accepts, except for the last one of an upload.
pub const MIN_PART_SIZE: i64 = 5 * 1024 * 1024;
/// Most parts an upload may have, and the highest part number.
pub const MAX_PART_NUMBER: i32 = 10_000;
/// Most keys one list request returns (`MaxKeys` above it is lowered to it).
pub const MAX_KEYS: i32 = 1000;
/// Most tags on a bucket.
pub const MAX_BUCKET_TAGS: usize = 50;

/// The canonical user id every resource here is owned by (one owner per server).
const OWNER_ID: &str = "75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a";
const OWNER_NAME: &str = "sagestack";

/// What an object carries besides its body, kept as the store's opaque document.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ObjectDocument {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_control: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_disposition: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_encoding: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_language: Option<String>,
    /// `x-amz-meta-*` (names lowercase, without the prefix).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub metadata: std::collections::BTreeMap<String, String>,
    /// For completed multipart uploads: how many parts the object was assembled from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parts_count: Option<i32>,
}

impl ObjectDocument {
    fn parse(raw: &str) -> Self {
        // A document written by another component (or an older version) that does
        // not parse is treated as carrying nothing rather than failing the read.
        serde_json::from_str(raw).unwrap_or_default()
    }

    fn to_json(&self) -> Arc<str> {
        Arc::from(serde_json::to_string(self).expect("a document of strings serializes"))
    }

    fn metadata(&self) -> Option<Metadata> {
        (!self.metadata.is_empty()).then(|| {
            self.metadata
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
    }
}

/// Builds the document from request headers s3s parsed.
fn document_from(
    content_type: Option<&ContentType>,
    cache_control: Option<CacheControl>,
    content_disposition: Option<ContentDisposition>,
    content_encoding: Option<ContentEncoding>,
    content_language: Option<ContentLanguage>,
    metadata: Option<Metadata>,
) -> ObjectDocument {
    ObjectDocument {
        content_type: content_type.map(ToString::to_string),
        cache_control,
        content_disposition,
        content_encoding,
        content_language,
        metadata: metadata
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v))
            .collect(),
        parts_count: None,
    }
}

/// The S3 service. See the module documentation.
pub struct S3Api {
    store: Arc<dyn ObjectStore>,
    region: String,
    max_object_size: u64,
}

impl S3Api {
    /// Serves the buckets of `store` as the S3 endpoint of `region`.
    pub fn new(store: Arc<dyn ObjectStore>, region: impl Into<String>) -> Self {
        S3Api {
            store,
            region: region.into(),
            max_object_size: DEFAULT_MAX_OBJECT_SIZE,
        }
    }

    /// Sets the largest object (and part) accepted; larger ones are `EntityTooLarge`.
    pub fn with_max_object_size(mut self, bytes: u64) -> Self {
        self.max_object_size = bytes;
        self
    }

    /// Reads a request body, refusing more than `max_object_size` bytes (an announced
    /// larger body is refused before any of it is read).
    async fn read_body(
        &self,
        body: Option<StreamingBlob>,
        announced: Option<i64>,
    ) -> S3Result<Bytes> {
        let limit = self.max_object_size;
        if announced.is_some_and(|n| u64::try_from(n).unwrap_or(0) > limit) {
            return Err(too_large(limit));
        }
        let Some(mut body) = body else {
            return Ok(Bytes::new());
        };
        let mut buf = BytesMut::with_capacity(
            announced
                .and_then(|n| usize::try_from(n).ok())
                .unwrap_or(0)
                .min(limit as usize),
        );
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| {
                s3_error!(
                    IncompleteBody,
                    "You did not provide the number of bytes specified by the Content-Length HTTP header: {e}"
                )
            })?;
            if (buf.len() + chunk.len()) as u64 > limit {
                return Err(too_large(limit));
            }
            buf.extend_from_slice(&chunk);
        }
        Ok(buf.freeze())
    }

    async fn existing_bucket(&self, bucket: &str) -> S3Result<BucketRecord> {
        self.store
            .get_bucket(bucket)
            .await
            .map_err(internal)?
            .ok_or_else(|| no_such_bucket(bucket))
    }

    /// The upload, checked to belong to `bucket`/`key` (else `NoSuchUpload`, as AWS).
    async fn existing_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> S3Result<UploadRecord> {
        match self.store.get_upload(upload_id).await.map_err(internal)? {
            Some(u) if u.bucket == bucket && u.key == key => Ok(u),
            _ => {
                // A missing bucket is reported as such, before the upload.
                self.existing_bucket(bucket).await?;
                Err(no_such_upload(upload_id))
            }
        }
    }
}

// ---------------------------------------------------------------------------------
// Errors: the one place store results become S3 errors.

fn internal(e: StoreError) -> S3Error {
    tracing::error!(error = %e, "s3: store failure");
    s3_error!(
        InternalError,
        "We encountered an internal error. Please try again."
    )
}

fn no_such_bucket(bucket: &str) -> S3Error {
    s3_error!(
        NoSuchBucket,
        "The specified bucket does not exist: {bucket}"
    )
}

fn no_such_key(key: &str) -> S3Error {
    s3_error!(NoSuchKey, "The specified key does not exist: {key}")
}

fn no_such_upload(upload_id: &str) -> S3Error {
    s3_error!(
        NoSuchUpload,
        "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed: {upload_id}"
    )
}

fn too_large(limit: u64) -> S3Error {
    s3_error!(
        EntityTooLarge,
        "Your proposed upload exceeds the maximum allowed size of {limit} bytes"
    )
}

/// `StoreError::NotFound` from an operation naming a bucket means the bucket is absent.
fn bucket_error(bucket: &str) -> impl FnOnce(StoreError) -> S3Error + '_ {
    move |e| match e {
        StoreError::NotFound => no_such_bucket(bucket),
        e => internal(e),
    }
}

// ---------------------------------------------------------------------------------
// Helpers.

fn now_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

fn timestamp(micros: i64) -> Timestamp {
    Timestamp::from(UNIX_EPOCH + Duration::from_micros(u64::try_from(micros).unwrap_or(0)))
}

fn md5(data: &[u8]) -> [u8; 16] {
    Md5::digest(data).into()
}

/// The quoted ETag S3 gives a body: its MD5 in hex.
fn etag_of(data: &[u8]) -> String {
    format!("\"{}\"", hex::encode(md5(data)))
}

/// The stored (quoted) ETag as s3s's type (which adds the quotes on the wire).
fn etag(stored: &str) -> ETag {
    ETag::Strong(unquote(stored).to_owned())
}

fn unquote(etag: &str) -> &str {
    etag.trim_matches('"')
}

/// Checks `Content-MD5` (base64 of the body's MD5): `InvalidDigest` when it is not a
/// base64 MD5, `BadDigest` when it differs.
fn check_content_md5(content_md5: Option<&str>, body: &[u8]) -> S3Result<()> {
    let Some(given) = content_md5 else {
        return Ok(());
    };
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(given.trim())
        .ok()
        .filter(|d| d.len() == 16)
        .ok_or_else(|| s3_error!(InvalidDigest, "The Content-MD5 you specified is not valid."))?;
    if decoded != md5(body) {
        return Err(s3_error!(
            BadDigest,
            "The Content-MD5 you specified did not match what we received."
        ));
    }
    Ok(())
}

/// AWS's bucket naming rules (general purpose buckets).
pub fn validate_bucket_name(name: &str) -> Result<(), &'static str> {
    let b = name.as_bytes();
    if !(3..=63).contains(&b.len()) {
        return Err("Bucket names must be between 3 and 63 characters long");
    }
    if !b
        .iter()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'.' || *c == b'-')
    {
        return Err(
            "Bucket names can consist only of lowercase letters, numbers, dots (.), and hyphens (-)",
        );
    }
    let alnum = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    if !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return Err("Bucket names must begin and end with a letter or number");
    }
    if name.contains("..") || name.contains(".-") || name.contains("-.") {
        return Err(
            "Bucket names must not contain two adjacent periods or a period next to a hyphen",
        );
    }
    if name.parse::<std::net::Ipv4Addr>().is_ok() {
        return Err("Bucket names must not be formatted as an IP address");
    }
    if ["xn--", "sthree-", "amzn-s3-demo-"]
        .iter()
        .any(|p| name.starts_with(p))
        || ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"]
            .iter()
            .any(|s| name.ends_with(s))
    {
        return Err("Bucket names must not use a reserved prefix or suffix");
    }
    Ok(())
}

/// Percent-encodes a key for `EncodingType=url` (everything but unreserved characters
/// and `/`, as S3 does).
fn url_encode(s: &str) -> String {
    const SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~')
        .remove(b'/');
    percent_encoding::utf8_percent_encode(s, SET).to_string()
}

/// Validates `EncodingType`; true when keys are to be URL-encoded.
fn url_encoding(encoding_type: Option<&EncodingType>) -> S3Result<bool> {
    match encoding_type.map(EncodingType::as_str) {
        None => Ok(false),
        Some("url") => Ok(true),
        Some(other) => Err(s3_error!(
            InvalidArgument,
            "Invalid Encoding Method specified in Request: {other}"
        )),
    }
}

fn max_keys(requested: Option<i32>) -> S3Result<usize> {
    match requested {
        None => Ok(MAX_KEYS as usize),
        Some(n) if n < 0 => Err(s3_error!(
            InvalidArgument,
            "max-keys must be a non-negative integer, got {n}"
        )),
        Some(n) => Ok(n.min(MAX_KEYS) as usize),
    }
}

/// The largest UTF-8 character: a key made of a prefix followed by it sorts after
/// every key that has the prefix followed by anything smaller (so, in practice, every
/// key under the prefix; a key that does continue with it is skipped by the caller).
const AFTER_EVERYTHING: char = '\u{10FFFF}';

/// A listing of keys: objects and common prefixes in key order.
#[derive(Debug, Default)]
struct Listing {
    objects: Vec<ObjectMeta>,
    prefixes: Vec<String>,
    truncated: bool,
    /// The last entry returned (a key or a common prefix), where the next page resumes.
    last: Option<String>,
}

impl S3Api {
    /// Lists up to `max` entries of `bucket` whose key starts with `prefix` and sorts
    /// after `after`, rolling keys that contain `delimiter` past the prefix up into
    /// common prefixes (one entry each). An `after` that is itself a common prefix (a
    /// resumed listing) skips every key under it.
    async fn list(
        &self,
        bucket: &str,
        prefix: &str,
        delimiter: Option<&str>,
        after: Option<&str>,
        max: usize,
    ) -> S3Result<Listing> {
        let delimiter = delimiter.filter(|d| !d.is_empty());
        let mut out = Listing::default();
        let mut cursor: Option<String> = after.map(str::to_owned);
        let mut entries = 0usize;
        // Pages of the store are bigger than what is returned when a delimiter folds
        // many keys into one prefix.
        let page = (max + 1).clamp(1, MAX_KEYS as usize + 1);
        'pages: loop {
            let batch = self
                .store
                .list_objects(bucket, prefix, cursor.as_deref(), page)
                .await
                .map_err(bucket_error(bucket))?;
            for object in batch.objects {
                cursor = Some(object.key.clone());
                let common = delimiter.and_then(|d| {
                    object.key[prefix.len()..]
                        .find(d)
                        .map(|at| object.key[..prefix.len() + at + d.len()].to_owned())
                });
                match common {
                    Some(cp) => {
                        // A listing resumed after this very prefix (its token or
                        // marker is the prefix) has returned it already.
                        let seen = out.prefixes.last() == Some(&cp) || after == Some(cp.as_str());
                        if seen {
                            continue;
                        }
                        if entries == max {
                            out.truncated = true;
                            break 'pages;
                        }
                        entries += 1;
                        out.last = Some(cp.clone());
                        out.prefixes.push(cp.clone());
                        // Jump over the rest of this prefix.
                        let mut skip = cp;
                        skip.push(AFTER_EVERYTHING);
                        cursor = Some(skip);
                        continue 'pages;
                    }
                    None => {
                        if entries == max {
                            out.truncated = true;
                            break 'pages;
                        }
                        entries += 1;
                        out.last = Some(object.key.clone());
                        out.objects.push(object);
                    }
                }
            }
            if !batch.truncated {
                break;
            }
        }
        Ok(out)
    }
}

fn s3_object(meta: &ObjectMeta, encode: bool, with_owner: bool) -> Object {
    Object {
        e_tag: Some(etag(&meta.etag)),
        key: Some(if encode {
            url_encode(&meta.key)
        } else {
            meta.key.clone()
        }),
        last_modified: Some(timestamp(meta.last_modified_micros)),
        owner: with_owner.then(owner),
        restore_status: None,
        size: Some(meta.size),
        storage_class: Some(ObjectStorageClass::from_static(
            ObjectStorageClass::STANDARD,
        )),
        ..Default::default()
    }
}

fn common_prefixes(prefixes: Vec<String>, encode: bool) -> Option<CommonPrefixList> {
    (!prefixes.is_empty()).then(|| {
        prefixes
            .into_iter()
            .map(|p| CommonPrefix {
                prefix: Some(if encode { url_encode(&p) } else { p }),
            })
            .collect()
    })
}

fn maybe_encode(s: Option<String>, encode: bool) -> Option<String> {
    s.map(|s| if encode { url_encode(&s) } else { s })
}

fn owner() -> Owner {
    Owner {
        display_name: Some(OWNER_NAME.to_owned()),
        id: Some(OWNER_ID.to_owned()),
    }
}

/// Checks `If-Match` / `If-None-Match` against an object's ETag: `412
/// PreconditionFailed` / `304 NotModified`.
fn check_conditions(
    stored_etag: &str,
    if_match: Option<&ETagCondition>,
    if_none_match: Option<&ETagCondition>,
) -> S3Result<()> {
    let matches = |c: &ETagCondition| match c {
        ETagCondition::Any => true,
        ETagCondition::ETag(e) => e.value() == unquote(stored_etag),
    };
    if if_match.is_some_and(|c| !matches(c)) {
        return Err(s3_error!(
            PreconditionFailed,
            "At least one of the pre-conditions you specified did not hold"
        ));
    }
    if if_none_match.is_some_and(matches) {
        return Err(s3_error!(NotModified));
    }
    Ok(())
}

/// Bucket tags as the bucket document holds them.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
struct StoredTag {
    key: String,
    value: String,
}

fn bucket_tags(document: &str) -> Vec<StoredTag> {
    serde_json::from_str::<serde_json::Value>(document)
        .ok()
        .and_then(|mut v| v.get_mut("Tags").map(serde_json::Value::take))
        .and_then(|t| serde_json::from_value(t).ok())
        .unwrap_or_default()
}

/// The bucket document with its `Tags` replaced (removed when `tags` is `None`), every
/// other field kept.
fn with_tags(document: &str, tags: Option<&[StoredTag]>) -> String {
    let mut doc = match serde_json::from_str::<serde_json::Value>(document) {
        Ok(serde_json::Value::Object(map)) => map,
        _ => serde_json::Map::new(),
    };
    match tags {
        Some(tags) => {
            doc.insert(
                "Tags".into(),
                serde_json::to_value(tags).expect("tags serialize"),
            );
        }
        None => {
            doc.remove("Tags");
        }
    }
    serde_json::Value::Object(doc).to_string()
}

fn validate_tags(tags: &[Tag]) -> S3Result<Vec<StoredTag>> {
    if tags.len() > MAX_BUCKET_TAGS {
        return Err(s3_error!(
            InvalidTag,
            "Bucket tag count cannot be greater than {MAX_BUCKET_TAGS}"
        ));
    }
    let mut out: Vec<StoredTag> = Vec::with_capacity(tags.len());
    for t in tags {
        let key = t.key.clone().unwrap_or_default();
        let value = t.value.clone().unwrap_or_default();
        if key.is_empty() || key.chars().count() > 128 {
            return Err(s3_error!(
                InvalidTag,
                "The TagKey you have provided is invalid: {key}"
            ));
        }
        if value.chars().count() > 256 {
            return Err(s3_error!(
                InvalidTag,
                "The TagValue you have provided is invalid: {value}"
            ));
        }
        if key.starts_with("aws:") {
            return Err(s3_error!(
                InvalidTag,
                "Your TagKey cannot be prefixed with aws: ({key})"
            ));
        }
        if out.iter().any(|o| o.key == key) {
            return Err(s3_error!(
                InvalidTag,
                "Cannot provide multiple Tags with the same key: {key}"
            ));
        }
        out.push(StoredTag { key, value });
    }
    Ok(out)
}

fn decode_token(token: &str) -> S3Result<String> {
    base64::engine::general_purpose::STANDARD
        .decode(token)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| {
            s3_error!(
                InvalidArgument,
                "The continuation token provided is incorrect"
            )
        })
}

fn encode_token(last: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(last)
}

/// The multipart ETag: MD5 of the concatenated binary part MD5s, dash, part count.
fn multipart_etag(part_etags: &[&str]) -> S3Result<String> {
    let mut all = Vec::with_capacity(part_etags.len() * 16);
    for e in part_etags {
        let raw = hex::decode(unquote(e))
            .map_err(|_| s3_error!(InternalError, "a stored part ETag is not an MD5: {e}"))?;
        all.extend_from_slice(&raw);
    }
    Ok(format!(
        "\"{}-{}\"",
        hex::encode(md5(&all)),
        part_etags.len()
    ))
}

fn request_host<T>(req: &S3Request<T>) -> String {
    req.headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost")
        .to_owned()
}

#[async_trait::async_trait]
impl S3 for S3Api {
    async fn list_buckets(
        &self,
        req: S3Request<ListBucketsInput>,
    ) -> S3Result<S3Response<ListBucketsOutput>> {
        let input = req.input;
        let buckets = self
            .store
            .list_buckets()
            .await
            .map_err(internal)?
            .into_iter()
            .filter(|b| {
                input
                    .prefix
                    .as_deref()
                    .is_none_or(|p| b.name.starts_with(p))
                    && input.bucket_region.as_deref().is_none_or(|r| b.region == r)
            })
            .map(|b| Bucket {
                bucket_region: Some(b.region),
                creation_date: Some(timestamp(b.creation_micros)),
                name: Some(b.name),
            })
            .collect();
        Ok(S3Response::new(ListBucketsOutput {
            buckets: Some(buckets),
            continuation_token: None,
            owner: Some(owner()),
            prefix: input.prefix,
        }))
    }

    async fn create_bucket(
        &self,
        req: S3Request<CreateBucketInput>,
    ) -> S3Result<S3Response<CreateBucketOutput>> {
        let input = req.input;
        let name = input.bucket;
        validate_bucket_name(&name).map_err(|why| {
            s3_error!(
                InvalidBucketName,
                "The specified bucket is not valid: {name} ({why})"
            )
        })?;
        let constraint = input
            .create_bucket_configuration
            .and_then(|c| c.location_constraint)
            .map(|c| c.as_str().to_owned());
        let region = match constraint {
            Some(c) if c == "us-east-1" || c.is_empty() => {
                return Err(s3_error!(
                    InvalidLocationConstraint,
                    "The specified location-constraint is not valid: {c}"
                ));
            }
            Some(c) => c,
            None => self.region.clone(),
        };
        let record = BucketRecord {
            name: name.clone(),
            region: region.clone(),
            creation_micros: now_micros(),
            document: Arc::from("{}"),
        };
        match self.store.create_bucket(&record).await {
            Ok(()) => {}
            Err(StoreError::AlreadyExists) => {
                // AWS's legacy behaviour: re-creating one's own bucket in us-east-1
                // succeeds; every other region answers BucketAlreadyOwnedByYou.
                let existing = self.store.get_bucket(&name).await.map_err(internal)?;
                let legacy =
                    region == "us-east-1" && existing.is_some_and(|b| b.region == "us-east-1");
                if !legacy {
                    return Err(s3_error!(
                        BucketAlreadyOwnedByYou,
                        "Your previous request to create the named bucket succeeded and you already own it: {name}"
                    ));
                }
            }
            Err(e) => return Err(internal(e)),
        }
        Ok(S3Response::new(CreateBucketOutput {
            location: Some(format!("/{name}")),
        }))
    }

    async fn head_bucket(
        &self,
        req: S3Request<HeadBucketInput>,
    ) -> S3Result<S3Response<HeadBucketOutput>> {
        let bucket = self.existing_bucket(&req.input.bucket).await?;
        Ok(S3Response::new(HeadBucketOutput {
            bucket_region: Some(bucket.region),
            ..Default::default()
        }))
    }

    async fn delete_bucket(
        &self,
        req: S3Request<DeleteBucketInput>,
    ) -> S3Result<S3Response<DeleteBucketOutput>> {
        let name = &req.input.bucket;
        match self.store.delete_bucket(name).await {
            Ok(()) => Ok(S3Response::new(DeleteBucketOutput {})),
            Err(StoreError::NotFound) => Err(no_such_bucket(name)),
            Err(StoreError::Conflict) => Err(s3_error!(
                BucketNotEmpty,
                "The bucket you tried to delete is not empty: {name}"
            )),
            Err(e) => Err(internal(e)),
        }
    }

    async fn get_bucket_location(
        &self,
        req: S3Request<GetBucketLocationInput>,
    ) -> S3Result<S3Response<GetBucketLocationOutput>> {
        let bucket = self.existing_bucket(&req.input.bucket).await?;
        // us-east-1 is the empty constraint, as in AWS.
        let location_constraint =
            (bucket.region != "us-east-1").then(|| BucketLocationConstraint::from(bucket.region));
        Ok(S3Response::new(GetBucketLocationOutput {
            location_constraint,
        }))
    }

    async fn put_object(
        &self,
        req: S3Request<PutObjectInput>,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        let input = req.input;
        if input.write_offset_bytes.is_some() {
            return Err(s3_error!(
                NotImplemented,
                "Appending to objects is not supported"
            ));
        }
        let body = self.read_body(input.body, input.content_length).await?;
        check_content_md5(input.content_md5.as_deref(), &body)?;
        if input
            .if_none_match
            .as_ref()
            .is_some_and(ETagCondition::is_any)
        {
            // Conditional create (If-None-Match: *). Checked before the write, not in
            // its transaction: two racing conditional puts may both succeed.
            if self
                .store
                .head_object(&input.bucket, &input.key)
                .await
                .map_err(bucket_error(&input.bucket))?
                .is_some()
            {
                return Err(s3_error!(
                    PreconditionFailed,
                    "At least one of the pre-conditions you specified did not hold"
                ));
            }
        }
        let document = document_from(
            input.content_type.as_ref(),
            input.cache_control,
            input.content_disposition,
            input.content_encoding,
            input.content_language,
            input.metadata,
        );
        let etag_value = etag_of(&body);
        let meta = ObjectMeta {
            bucket: input.bucket.clone(),
            key: input.key,
            size: body.len() as i64,
            etag: etag_value.clone(),
            last_modified_micros: now_micros(),
            document: document.to_json(),
        };
        self.store
            .put_object(&meta, body)
            .await
            .map_err(bucket_error(&input.bucket))?;
        Ok(S3Response::new(PutObjectOutput {
            e_tag: Some(etag(&etag_value)),
            size: Some(meta.size),
            ..Default::default()
        }))
    }

    async fn get_object(
        &self,
        req: S3Request<GetObjectInput>,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        let input = req.input;
        if input.part_number.is_some() {
            return Err(s3_error!(
                NotImplemented,
                "GetObject by part number is not supported"
            ));
        }
        let object = self
            .store
            .get_object(&input.bucket, &input.key)
            .await
            .map_err(bucket_error(&input.bucket))?
            .ok_or_else(|| no_such_key(&input.key))?;
        let meta = object.meta;
        check_conditions(
            &meta.etag,
            input.if_match.as_ref(),
            input.if_none_match.as_ref(),
        )?;
        let total = object.body.len() as u64;
        let (body, content_range) = match input.range {
            None => (object.body, None),
            Some(range) => {
                let r = range.check(total).map_err(|_| {
                    s3_error!(
                        InvalidRange,
                        "The requested range is not satisfiable (object size {total})"
                    )
                })?;
                let content_range = format!("bytes {}-{}/{total}", r.start, r.end - 1);
                (
                    object.body.slice(r.start as usize..r.end as usize),
                    Some(content_range),
                )
            }
        };
        let doc = ObjectDocument::parse(&meta.document);
        let content_type = doc
            .content_type
            .as_deref()
            .and_then(|c| c.parse::<ContentType>().ok());
        let output = GetObjectOutput {
            accept_ranges: Some("bytes".to_owned()),
            content_length: Some(body.len() as i64),
            content_range,
            content_type,
            cache_control: doc.cache_control.clone(),
            content_disposition: doc.content_disposition.clone(),
            content_encoding: doc.content_encoding.clone(),
            content_language: doc.content_language.clone(),
            e_tag: Some(etag(&meta.etag)),
            last_modified: Some(timestamp(meta.last_modified_micros)),
            metadata: doc.metadata(),
            parts_count: doc.parts_count,
            body: Some(StreamingBlob::from(s3s::Body::from(body))),
            ..Default::default()
        };
        Ok(S3Response::new(output))
    }

    async fn head_object(
        &self,
        req: S3Request<HeadObjectInput>,
    ) -> S3Result<S3Response<HeadObjectOutput>> {
        let input = req.input;
        let meta = self
            .store
            .head_object(&input.bucket, &input.key)
            .await
            .map_err(bucket_error(&input.bucket))?
            .ok_or_else(|| no_such_key(&input.key))?;
        check_conditions(
            &meta.etag,
            input.if_match.as_ref(),
            input.if_none_match.as_ref(),
        )?;
        let doc = ObjectDocument::parse(&meta.document);
        let content_type = doc
            .content_type
            .as_deref()
            .and_then(|c| c.parse::<ContentType>().ok());
        Ok(S3Response::new(HeadObjectOutput {
            accept_ranges: Some("bytes".to_owned()),
            content_length: Some(meta.size),
            content_type,
            cache_control: doc.cache_control.clone(),
            content_disposition: doc.content_disposition.clone(),
            content_encoding: doc.content_encoding.clone(),
            content_language: doc.content_language.clone(),
            e_tag: Some(etag(&meta.etag)),
            last_modified: Some(timestamp(meta.last_modified_micros)),
            metadata: doc.metadata(),
            parts_count: doc.parts_count,
            ..Default::default()
        }))
    }

    async fn delete_object(
        &self,
        req: S3Request<DeleteObjectInput>,
    ) -> S3Result<S3Response<DeleteObjectOutput>> {
        let input = req.input;
        // Deleting an absent key succeeds (204), as in S3.
        self.store
            .delete_object(&input.bucket, &input.key)
            .await
            .map_err(bucket_error(&input.bucket))?;
        Ok(S3Response::new(DeleteObjectOutput::default()))
    }

    async fn delete_objects(
        &self,
        req: S3Request<DeleteObjectsInput>,
    ) -> S3Result<S3Response<DeleteObjectsOutput>> {
        let input = req.input;
        let objects = input.delete.objects;
        if objects.is_empty() || objects.len() > 1000 {
            return Err(s3_error!(
                MalformedXML,
                "The XML you provided was not well-formed or did not validate against our published schema (1 to 1000 keys)"
            ));
        }
        self.existing_bucket(&input.bucket).await?;
        let quiet = input.delete.quiet.unwrap_or(false);
        let mut deleted = Vec::new();
        let mut errors = Vec::new();
        for o in objects {
            match self.store.delete_object(&input.bucket, &o.key).await {
                Ok(_) => {
                    if !quiet {
                        deleted.push(DeletedObject {
                            key: Some(o.key),
                            ..Default::default()
                        });
                    }
                }
                Err(StoreError::NotFound) => errors.push(Error {
                    code: Some("NoSuchBucket".to_owned()),
                    key: Some(o.key),
                    message: Some(format!(
                        "The specified bucket does not exist: {}",
                        input.bucket
                    )),
                    version_id: None,
                }),
                Err(e) => {
                    tracing::error!(error = %e, "s3: store failure in DeleteObjects");
                    errors.push(Error {
                        code: Some("InternalError".to_owned()),
                        key: Some(o.key),
                        message: Some(
                            "We encountered an internal error. Please try again.".to_owned(),
                        ),
                        version_id: None,
                    });
                }
            }
        }
        Ok(S3Response::new(DeleteObjectsOutput {
            deleted: Some(deleted),
            errors: (!errors.is_empty()).then_some(errors),
            ..Default::default()
        }))
    }

    async fn list_objects(
        &self,
        req: S3Request<ListObjectsInput>,
    ) -> S3Result<S3Response<ListObjectsOutput>> {
        let input = req.input;
        let encode = url_encoding(input.encoding_type.as_ref())?;
        let max = max_keys(input.max_keys)?;
        let prefix = input.prefix.clone().unwrap_or_default();
        let marker = input.marker.clone().filter(|m| !m.is_empty());
        let listing = self
            .list(
                &input.bucket,
                &prefix,
                input.delimiter.as_deref(),
                marker.as_deref(),
                max,
            )
            .await?;
        // NextMarker only with a delimiter (without one, clients use the last key).
        let next_marker = (listing.truncated && input.delimiter.is_some())
            .then(|| listing.last.clone())
            .flatten();
        Ok(S3Response::new(ListObjectsOutput {
            name: Some(input.bucket),
            prefix: Some(maybe_encode(Some(prefix), encode).unwrap_or_default()),
            marker: Some(maybe_encode(marker, encode).unwrap_or_default()),
            max_keys: Some(max as i32),
            is_truncated: Some(listing.truncated),
            contents: Some(
                listing
                    .objects
                    .iter()
                    .map(|o| s3_object(o, encode, true))
                    .collect(),
            ),
            common_prefixes: common_prefixes(listing.prefixes, encode),
            delimiter: maybe_encode(input.delimiter, encode),
            next_marker: maybe_encode(next_marker, encode),
            encoding_type: input.encoding_type,
            ..Default::default()
        }))
    }

    async fn list_objects_v2(
        &self,
        req: S3Request<ListObjectsV2Input>,
    ) -> S3Result<S3Response<ListObjectsV2Output>> {
        let input = req.input;
        let encode = url_encoding(input.encoding_type.as_ref())?;
        let fetch_owner = input.fetch_owner.unwrap_or(false);
        let max = max_keys(input.max_keys)?;
        let prefix = input.prefix.clone().unwrap_or_default();
        let after = match input.continuation_token.as_deref() {
            Some(token) => Some(decode_token(token)?),
            None => input.start_after.clone().filter(|s| !s.is_empty()),
        };
        let listing = self
            .list(
                &input.bucket,
                &prefix,
                input.delimiter.as_deref(),
                after.as_deref(),
                max,
            )
            .await?;
        let key_count = (listing.objects.len() + listing.prefixes.len()) as i32;
        let next_continuation_token = listing
            .truncated
            .then(|| listing.last.as_deref().map(encode_token))
            .flatten();
        Ok(S3Response::new(ListObjectsV2Output {
            name: Some(input.bucket),
            prefix: Some(maybe_encode(Some(prefix), encode).unwrap_or_default()),
            max_keys: Some(max as i32),
            key_count: Some(key_count),
            continuation_token: input.continuation_token,
            is_truncated: Some(listing.truncated),
            next_continuation_token,
            contents: Some(
                listing
                    .objects
                    .iter()
                    .map(|o| s3_object(o, encode, fetch_owner))
                    .collect(),
            ),
            common_prefixes: common_prefixes(listing.prefixes, encode),
            delimiter: maybe_encode(input.delimiter, encode),
            encoding_type: input.encoding_type,
            start_after: maybe_encode(input.start_after, encode),
            ..Default::default()
        }))
    }

    async fn copy_object(
        &self,
        req: S3Request<CopyObjectInput>,
    ) -> S3Result<S3Response<CopyObjectOutput>> {
        let input = req.input;
        let (src_bucket, src_key) = match &input.copy_source {
            CopySource::Bucket {
                bucket,
                key,
                version_id,
            } => {
                if version_id.is_some() {
                    return Err(s3_error!(
                        NotImplemented,
                        "Copying a specific version is not supported (no versioning)"
                    ));
                }
                (bucket.to_string(), key.to_string())
            }
            _ => {
                return Err(s3_error!(
                    NotImplemented,
                    "Copying from an access point or outpost is not supported"
                ));
            }
        };
        let replace = input
            .metadata_directive
            .as_ref()
            .is_some_and(|d| d.as_str() == MetadataDirective::REPLACE);
        if src_bucket == input.bucket && src_key == input.key && !replace {
            return Err(s3_error!(
                InvalidRequest,
                "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes."
            ));
        }
        let source = self
            .store
            .get_object(&src_bucket, &src_key)
            .await
            .map_err(bucket_error(&src_bucket))?
            .ok_or_else(|| no_such_key(&src_key))?;
        check_conditions(&source.meta.etag, input.copy_source_if_match.as_ref(), None)?;
        if input
            .copy_source_if_none_match
            .as_ref()
            .is_some_and(|c| check_conditions(&source.meta.etag, None, Some(c)).is_err())
        {
            // For copies a matching If-None-Match is a failed precondition, not 304.
            return Err(s3_error!(
                PreconditionFailed,
                "At least one of the pre-conditions you specified did not hold"
            ));
        }
        let document = if replace {
            document_from(
                input.content_type.as_ref(),
                input.cache_control,
                input.content_disposition,
                input.content_encoding,
                input.content_language,
                input.metadata,
            )
            .to_json()
        } else {
            source.meta.document.clone()
        };
        let meta = ObjectMeta {
            bucket: input.bucket.clone(),
            key: input.key,
            size: source.meta.size,
            etag: source.meta.etag.clone(),
            last_modified_micros: now_micros(),
            document,
        };
        self.store
            .put_object(&meta, source.body)
            .await
            .map_err(bucket_error(&input.bucket))?;
        Ok(S3Response::new(CopyObjectOutput {
            copy_object_result: Some(CopyObjectResult {
                e_tag: Some(etag(&meta.etag)),
                last_modified: Some(timestamp(meta.last_modified_micros)),
                ..Default::default()
            }),
            ..Default::default()
        }))
    }

    async fn create_multipart_upload(
        &self,
        req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        let input = req.input;
        let document = document_from(
            input.content_type.as_ref(),
            input.cache_control,
            input.content_disposition,
            input.content_encoding,
            input.content_language,
            input.metadata,
        );
        // Upload ids are opaque to clients; a random UUID's hex cannot collide in
        // practice (and a collision would be refused by the store, not merged).
        let upload_id = uuid::Uuid::new_v4().simple().to_string();
        let upload = UploadRecord {
            upload_id: upload_id.clone(),
            bucket: input.bucket.clone(),
            key: input.key.clone(),
            initiated_micros: now_micros(),
            document: document.to_json(),
        };
        self.store
            .create_upload(&upload)
            .await
            .map_err(bucket_error(&input.bucket))?;
        Ok(S3Response::new(CreateMultipartUploadOutput {
            bucket: Some(input.bucket),
            key: Some(input.key),
            upload_id: Some(upload_id),
            ..Default::default()
        }))
    }

    async fn upload_part(
        &self,
        req: S3Request<UploadPartInput>,
    ) -> S3Result<S3Response<UploadPartOutput>> {
        let input = req.input;
        if !(1..=MAX_PART_NUMBER).contains(&input.part_number) {
            return Err(s3_error!(
                InvalidArgument,
                "Part number must be an integer between 1 and {MAX_PART_NUMBER}, inclusive"
            ));
        }
        self.existing_upload(&input.bucket, &input.key, &input.upload_id)
            .await?;
        let body = self.read_body(input.body, input.content_length).await?;
        check_content_md5(input.content_md5.as_deref(), &body)?;
        let part = PartRecord {
            part_number: input.part_number,
            size: body.len() as i64,
            etag: etag_of(&body),
            last_modified_micros: now_micros(),
        };
        match self.store.put_part(&input.upload_id, &part, body).await {
            Ok(()) => {}
            Err(StoreError::NotFound) => return Err(no_such_upload(&input.upload_id)),
            Err(e) => return Err(internal(e)),
        }
        Ok(S3Response::new(UploadPartOutput {
            e_tag: Some(etag(&part.etag)),
            ..Default::default()
        }))
    }

    async fn complete_multipart_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        let host = request_host(&req);
        let input = req.input;
        let upload = self
            .existing_upload(&input.bucket, &input.key, &input.upload_id)
            .await?;
        let requested = input
            .multipart_upload
            .and_then(|m| m.parts)
            .unwrap_or_default();
        if requested.is_empty() {
            return Err(s3_error!(
                MalformedXML,
                "The XML you provided was not well-formed or did not validate against our published schema: at least one part is required"
            ));
        }
        let mut numbers = Vec::with_capacity(requested.len());
        for p in &requested {
            let n = p.part_number.unwrap_or(0);
            if numbers.last().is_some_and(|last| n <= *last) {
                return Err(s3_error!(
                    InvalidPartOrder,
                    "The list of parts was not in ascending order. The parts list must be specified in order by part number."
                ));
            }
            numbers.push(n);
        }
        let stored: HashMap<i32, PartRecord> = match self.store.list_parts(&input.upload_id).await {
            Ok(parts) => parts.into_iter().map(|p| (p.part_number, p)).collect(),
            Err(StoreError::NotFound) => return Err(no_such_upload(&input.upload_id)),
            Err(e) => return Err(internal(e)),
        };
        let invalid_part = |n: i32| {
            s3_error!(
                InvalidPart,
                "One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not match the part's entity tag (part {n})."
            )
        };
        let mut chosen: Vec<&PartRecord> = Vec::with_capacity(requested.len());
        for p in &requested {
            let n = p.part_number.unwrap_or(0);
            let part = stored.get(&n).ok_or_else(|| invalid_part(n))?;
            if let Some(given) = &p.e_tag
                && given.value() != unquote(&part.etag)
            {
                return Err(invalid_part(n));
            }
            chosen.push(part);
        }
        let last = chosen.len() - 1;
        if let Some((i, small)) = chosen
            .iter()
            .enumerate()
            .find(|(i, p)| *i < last && p.size < MIN_PART_SIZE)
        {
            return Err(s3_error!(
                EntityTooSmall,
                "Your proposed upload is smaller than the minimum allowed object size: part {} is {} bytes, the minimum for all but the last part is {MIN_PART_SIZE} (position {})",
                small.part_number,
                small.size,
                i + 1
            ));
        }
        let total: i64 = chosen.iter().map(|p| p.size).sum();
        if u64::try_from(total).unwrap_or(u64::MAX) > self.max_object_size {
            return Err(too_large(self.max_object_size));
        }
        let bodies = match self.store.get_parts(&input.upload_id, &numbers).await {
            Ok(b) => b,
            Err(StoreError::NotFound) => return Err(no_such_upload(&input.upload_id)),
            Err(e) => return Err(internal(e)),
        };
        let mut body = BytesMut::with_capacity(usize::try_from(total).unwrap_or(0));
        for (b, n) in bodies.into_iter().zip(&numbers) {
            // A part replaced or removed between the two reads (a concurrent
            // UploadPart) is caught here rather than assembled.
            let b = b.ok_or_else(|| invalid_part(*n))?;
            body.extend_from_slice(&b);
        }
        if body.len() as i64 != total {
            return Err(invalid_part(*numbers.last().unwrap_or(&0)));
        }
        let etags: Vec<&str> = chosen.iter().map(|p| p.etag.as_str()).collect();
        let object_etag = multipart_etag(&etags)?;
        let mut doc = ObjectDocument::parse(&upload.document);
        doc.parts_count = Some(chosen.len() as i32);
        let meta = ObjectMeta {
            bucket: input.bucket.clone(),
            key: input.key.clone(),
            size: total,
            etag: object_etag.clone(),
            last_modified_micros: now_micros(),
            document: doc.to_json(),
        };
        match self
            .store
            .complete_upload(&input.upload_id, &meta, body.freeze())
            .await
        {
            Ok(()) => {}
            Err(StoreError::NotFound) => return Err(no_such_upload(&input.upload_id)),
            Err(e) => return Err(internal(e)),
        }
        Ok(S3Response::new(CompleteMultipartUploadOutput {
            bucket: Some(input.bucket.clone()),
            key: Some(input.key.clone()),
            e_tag: Some(etag(&object_etag)),
            location: Some(format!(
                "http://{host}/{}/{}",
                input.bucket,
                url_encode(&input.key)
            )),
            ..Default::default()
        }))
    }

    async fn abort_multipart_upload(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        let input = req.input;
        self.existing_upload(&input.bucket, &input.key, &input.upload_id)
            .await?;
        if !self
            .store
            .abort_upload(&input.upload_id)
            .await
            .map_err(internal)?
        {
            return Err(no_such_upload(&input.upload_id));
        }
        Ok(S3Response::new(AbortMultipartUploadOutput::default()))
    }

    async fn list_parts(
        &self,
        req: S3Request<ListPartsInput>,
    ) -> S3Result<S3Response<ListPartsOutput>> {
        let input = req.input;
        self.existing_upload(&input.bucket, &input.key, &input.upload_id)
            .await?;
        let max = match input.max_parts {
            None => 1000,
            Some(n) if n < 0 => {
                return Err(s3_error!(
                    InvalidArgument,
                    "max-parts must be a non-negative integer, got {n}"
                ));
            }
            Some(n) => n.min(1000) as usize,
        };
        let marker = input.part_number_marker.unwrap_or(0);
        let parts = match self.store.list_parts(&input.upload_id).await {
            Ok(p) => p,
            Err(StoreError::NotFound) => return Err(no_such_upload(&input.upload_id)),
            Err(e) => return Err(internal(e)),
        };
        let mut after: Vec<PartRecord> = parts
            .into_iter()
            .filter(|p| p.part_number > marker)
            .collect();
        let truncated = after.len() > max;
        after.truncate(max);
        let next = truncated
            .then(|| after.last().map(|p| p.part_number))
            .flatten();
        Ok(S3Response::new(ListPartsOutput {
            bucket: Some(input.bucket),
            key: Some(input.key),
            upload_id: Some(input.upload_id),
            max_parts: Some(max as i32),
            part_number_marker: input.part_number_marker,
            next_part_number_marker: next,
            is_truncated: Some(truncated),
            initiator: Some(Initiator {
                display_name: Some(OWNER_NAME.to_owned()),
                id: Some(OWNER_ID.to_owned()),
            }),
            owner: Some(owner()),
            storage_class: Some(StorageClass::from_static(StorageClass::STANDARD)),
            parts: Some(
                after
                    .into_iter()
                    .map(|p| Part {
                        e_tag: Some(etag(&p.etag)),
                        last_modified: Some(timestamp(p.last_modified_micros)),
                        part_number: Some(p.part_number),
                        size: Some(p.size),
                        ..Default::default()
                    })
                    .collect(),
            ),
            ..Default::default()
        }))
    }

    async fn list_multipart_uploads(
        &self,
        req: S3Request<ListMultipartUploadsInput>,
    ) -> S3Result<S3Response<ListMultipartUploadsOutput>> {
        let input = req.input;
        let encode = url_encoding(input.encoding_type.as_ref())?;
        let max = match input.max_uploads {
            None => 1000,
            Some(n) if n < 0 => {
                return Err(s3_error!(
                    InvalidArgument,
                    "max-uploads must be a non-negative integer, got {n}"
                ));
            }
            Some(n) => n.min(1000) as usize,
        };
        let uploads = self
            .store
            .list_uploads(&input.bucket)
            .await
            .map_err(bucket_error(&input.bucket))?;
        let prefix = input.prefix.clone().unwrap_or_default();
        let delimiter = input.delimiter.clone().filter(|d| !d.is_empty());
        let key_marker = input.key_marker.clone().unwrap_or_default();
        let id_marker = input.upload_id_marker.clone();
        let mut out = Vec::new();
        let mut prefixes: Vec<String> = Vec::new();
        let mut truncated = false;
        let mut id_marker_seen = false;
        let mut next: Option<(String, Option<String>)> = None;
        for u in uploads {
            if !u.key.starts_with(&prefix) {
                continue;
            }
            // After (key-marker, upload-id-marker): keys after the marker, or the
            // marker's key with uploads after the upload id marker (by store order).
            // Uploads of the marker's key come after the upload-id-marker in the
            // store's order (initiation time); without that marker, none of them.
            let past_marker = if key_marker.is_empty() || u.key.as_str() > key_marker.as_str() {
                true
            } else if u.key == key_marker {
                let past = id_marker_seen;
                if id_marker.as_deref() == Some(u.upload_id.as_str()) {
                    id_marker_seen = true;
                }
                past
            } else {
                false
            };
            if !past_marker {
                continue;
            }
            let common = delimiter.as_deref().and_then(|d| {
                u.key[prefix.len()..]
                    .find(d)
                    .map(|at| u.key[..prefix.len() + at + d.len()].to_owned())
            });
            if let Some(cp) = &common
                && prefixes.last() == Some(cp)
            {
                continue;
            }
            if out.len() + prefixes.len() == max {
                truncated = true;
                break;
            }
            match common {
                Some(cp) => {
                    next = Some((cp.clone(), None));
                    prefixes.push(cp);
                }
                None => {
                    next = Some((u.key.clone(), Some(u.upload_id.clone())));
                    out.push(MultipartUpload {
                        initiated: Some(timestamp(u.initiated_micros)),
                        initiator: Some(Initiator {
                            display_name: Some(OWNER_NAME.to_owned()),
                            id: Some(OWNER_ID.to_owned()),
                        }),
                        key: Some(if encode { url_encode(&u.key) } else { u.key }),
                        owner: Some(owner()),
                        storage_class: Some(StorageClass::from_static(StorageClass::STANDARD)),
                        upload_id: Some(u.upload_id),
                        ..Default::default()
                    });
                }
            }
        }
        let (next_key_marker, next_upload_id_marker) = match next.filter(|_| truncated) {
            Some((k, id)) => (Some(k), id),
            None => (None, None),
        };
        Ok(S3Response::new(ListMultipartUploadsOutput {
            bucket: Some(input.bucket),
            common_prefixes: common_prefixes(prefixes, encode),
            delimiter: maybe_encode(input.delimiter, encode),
            encoding_type: input.encoding_type,
            is_truncated: Some(truncated),
            key_marker: Some(maybe_encode(input.key_marker, encode).unwrap_or_default()),
            max_uploads: Some(max as i32),
            next_key_marker: maybe_encode(next_key_marker, encode),
            next_upload_id_marker,
            prefix: Some(maybe_encode(input.prefix, encode).unwrap_or_default()),
            upload_id_marker: Some(input.upload_id_marker.unwrap_or_default()),
            uploads: Some(out),
            ..Default::default()
        }))
    }

    async fn get_bucket_tagging(
        &self,
        req: S3Request<GetBucketTaggingInput>,
    ) -> S3Result<S3Response<GetBucketTaggingOutput>> {
        let bucket = self.existing_bucket(&req.input.bucket).await?;
        let tags = bucket_tags(&bucket.document);
        if tags.is_empty() {
            return Err(s3_error!(
                NoSuchTagSet,
                "The TagSet does not exist: {}",
                bucket.name
            ));
        }
        Ok(S3Response::new(GetBucketTaggingOutput {
            tag_set: tags
                .into_iter()
                .map(|t| Tag {
                    key: Some(t.key),
                    value: Some(t.value),
                })
                .collect(),
        }))
    }

    async fn put_bucket_tagging(
        &self,
        req: S3Request<PutBucketTaggingInput>,
    ) -> S3Result<S3Response<PutBucketTaggingOutput>> {
        let input = req.input;
        let tags = validate_tags(&input.tagging.tag_set)?;
        // Read-modify-write of the document: a concurrent update of another field of
        // the same bucket document (rare: tags are its only S3-written field) can be
        // lost; the store has no compare-and-set for buckets.
        let bucket = self.existing_bucket(&input.bucket).await?;
        let document = with_tags(&bucket.document, Some(&tags));
        self.store
            .update_bucket(&input.bucket, &document)
            .await
            .map_err(bucket_error(&input.bucket))?;
        Ok(S3Response::new(PutBucketTaggingOutput::default()))
    }

    async fn delete_bucket_tagging(
        &self,
        req: S3Request<DeleteBucketTaggingInput>,
    ) -> S3Result<S3Response<DeleteBucketTaggingOutput>> {
        let input = req.input;
        let bucket = self.existing_bucket(&input.bucket).await?;
        let document = with_tags(&bucket.document, None);
        self.store
            .update_bucket(&input.bucket, &document)
            .await
            .map_err(bucket_error(&input.bucket))?;
        Ok(S3Response::new(DeleteBucketTaggingOutput::default()))
    }
}

/// Virtual-hosted-style addressing on `localhost`: `Host: <bucket>.localhost[:port]`
/// names the bucket (what SDKs configured with `addressing_style=virtual` and an
/// `http://localhost:<port>` endpoint send, and `*.localhost` resolves to the loopback
/// address without DNS set-up). Every other host is path-style (`/<bucket>/<key>`), the
/// style clients use with a custom endpoint by default. s3s itself treats IP-address
/// hosts as path-style before asking.
#[derive(Debug, Clone, Copy, Default)]
pub struct LocalhostVirtualHosts;

impl s3s::host::S3Host for LocalhostVirtualHosts {
    fn parse_host_header<'a>(&'a self, host: &'a str) -> S3Result<s3s::host::VirtualHost<'a>> {
        let name = host
            .rsplit_once(':')
            .filter(|(_, port)| port.chars().all(|c| c.is_ascii_digit()))
            .map_or(host, |(name, _)| name);
        match name.strip_suffix(".localhost") {
            Some(bucket) if !bucket.is_empty() => {
                Ok(s3s::host::VirtualHost::new("localhost").with_bucket(bucket))
            }
            _ => Ok(s3s::host::VirtualHost::new(name)),
        }
    }
}

/// The S3 endpoint as an HTTP service: [`S3Api`] over `store`, requests authenticated
/// against `credentials`, virtual-hosted style on `*.localhost`.
pub fn service(
    store: Arc<dyn ObjectStore>,
    region: impl Into<String>,
    max_object_size: u64,
    credentials: crate::auth::StaticCredentials,
) -> s3s::service::S3Service {
    let api = S3Api::new(store, region).with_max_object_size(max_object_size);
    let mut builder = s3s::service::S3ServiceBuilder::new(api);
    builder.set_auth(credentials);
    builder.set_host(LocalhostVirtualHosts);
    builder.build()
}

/// The S3 error document for a failure outside s3s (a panic in the S3 path, or an
/// error s3s could not turn into a response itself): `500 InternalError`, as S3 words it.
pub fn internal_error_response(request_id: &str) -> http::Response<Bytes> {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>InternalError</Code>\
         <Message>We encountered an internal error. Please try again.</Message>\
         <RequestId>{}</RequestId></Error>",
        xml_escape(request_id)
    );
    let mut response = http::Response::new(Bytes::from(body));
    *response.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/xml"),
    );
    if let Ok(v) = http::HeaderValue::from_str(request_id) {
        response.headers_mut().insert("x-amz-request-id", v);
    }
    response
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use s3s::S3ErrorCode;
    use s3s::host::S3Host as _;

    fn req<T>(input: T) -> S3Request<T> {
        S3Request {
            input,
            method: http::Method::GET,
            uri: http::Uri::from_static("/"),
            headers: http::HeaderMap::new(),
            extensions: http::Extensions::new(),
            credentials: None,
            region: None,
            service: None,
            trailing_headers: None,
        }
    }

    async fn api() -> (S3Api, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let store = sagestack_store::SqliteStore::open(dir.path())
            .await
            .unwrap();
        (S3Api::new(Arc::new(store), "us-east-1"), dir)
    }

    async fn mb(api: &S3Api, name: &str) {
        api.create_bucket(req(CreateBucketInput {
            bucket: name.into(),
            ..Default::default()
        }))
        .await
        .unwrap();
    }

    async fn put(api: &S3Api, bucket: &str, key: &str, body: &'static [u8]) -> PutObjectOutput {
        api.put_object(req(PutObjectInput {
            bucket: bucket.into(),
            key: key.into(),
            body: Some(StreamingBlob::from(s3s::Body::from(Bytes::from_static(
                body,
            )))),
            ..Default::default()
        }))
        .await
        .unwrap()
        .output
    }

    fn code<T: std::fmt::Debug>(r: S3Result<T>) -> S3ErrorCode {
        r.unwrap_err().code().clone()
    }

    #[test]
    fn bucket_names_follow_aws_rules() {
        for ok in ["abc", "my.bucket-1", "a1b", &"a".repeat(63)] {
            assert!(validate_bucket_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "ab",
            &"a".repeat(64),
            "Upper",
            "under_score",
            "-start",
            "end-",
            "a..b",
            "a.-b",
            "192.168.1.1",
            "xn--abc",
            "sthree-x",
            "name-s3alias",
            "name--ol-s3",
        ] {
            assert!(validate_bucket_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn url_encoding_keeps_slashes_and_unreserved() {
        assert_eq!(url_encode("a b/c+d~e_é"), "a%20b/c%2Bd~e_%C3%A9");
    }

    #[test]
    fn multipart_etag_is_md5_of_binary_part_md5s() {
        let a = etag_of(b"hello");
        let b = etag_of(b"world");
        let mut both = md5(b"hello").to_vec();
        both.extend_from_slice(&md5(b"world"));
        assert_eq!(
            multipart_etag(&[&a, &b]).unwrap(),
            format!("\"{}-2\"", hex::encode(md5(&both)))
        );
        assert_eq!(etag_of(b""), "\"d41d8cd98f00b204e9800998ecf8427e\"");
    }

    #[test]
    fn content_md5_is_checked() {
        let good = base64::engine::general_purpose::STANDARD.encode(md5(b"x"));
        assert!(check_content_md5(Some(&good), b"x").is_ok());
        assert_eq!(
            code(check_content_md5(Some(&good), b"y")),
            S3ErrorCode::BadDigest
        );
        assert_eq!(
            code(check_content_md5(Some("not-base64!"), b"x")),
            S3ErrorCode::InvalidDigest
        );
    }

    #[test]
    fn bucket_tags_keep_the_rest_of_the_document() {
        let doc = r#"{"Versioning":"Enabled","Tags":[{"Key":"a","Value":"1"}]}"#;
        assert_eq!(
            bucket_tags(doc),
            vec![StoredTag {
                key: "a".into(),
                value: "1".into()
            }]
        );
        let new = with_tags(
            doc,
            Some(&[StoredTag {
                key: "b".into(),
                value: "2".into(),
            }]),
        );
        let v: serde_json::Value = serde_json::from_str(&new).unwrap();
        assert_eq!(v["Versioning"], "Enabled");
        assert_eq!(v["Tags"], serde_json::json!([{"Key":"b","Value":"2"}]));
        let gone: serde_json::Value = serde_json::from_str(&with_tags(&new, None)).unwrap();
        assert_eq!(gone, serde_json::json!({"Versioning":"Enabled"}));
        assert!(bucket_tags("not json").is_empty());
    }

    #[test]
    fn tags_are_validated() {
        let tag = |k: &str, v: &str| Tag {
            key: Some(k.into()),
            value: Some(v.into()),
        };
        assert!(validate_tags(&[tag("a", ""), tag("b", "x")]).is_ok());
        for bad in [
            vec![tag("a", "1"), tag("a", "2")],
            vec![tag("", "1")],
            vec![tag("aws:x", "1")],
            vec![tag(&"k".repeat(129), "1")],
            vec![tag("k", &"v".repeat(257))],
            (0..51).map(|i| tag(&format!("k{i}"), "v")).collect(),
        ] {
            assert_eq!(code(validate_tags(&bad)), S3ErrorCode::InvalidTag);
        }
    }

    #[test]
    fn localhost_subdomains_are_virtual_hosts() {
        let h = LocalhostVirtualHosts;
        let vh = h.parse_host_header("my-bucket.localhost:4566").unwrap();
        assert_eq!(vh.bucket(), Some("my-bucket"));
        let vh = h.parse_host_header("my.bucket.localhost").unwrap();
        assert_eq!(vh.bucket(), Some("my.bucket"));
        assert_eq!(
            h.parse_host_header("localhost:4566").unwrap().bucket(),
            None
        );
        assert_eq!(h.parse_host_header("example.com").unwrap().bucket(), None);
    }

    #[tokio::test]
    async fn listing_rolls_up_prefixes_and_pages() {
        let (api, _dir) = api().await;
        mb(&api, "bkt").await;
        for k in ["a/1", "a/2", "b/1", "c", "d/x/1", "d/y", "e"] {
            put(&api, "bkt", k, b"x").await;
        }
        let list = |token: Option<String>, max: i32| {
            api.list_objects_v2(req(ListObjectsV2Input {
                bucket: "bkt".into(),
                delimiter: Some("/".into()),
                max_keys: Some(max),
                continuation_token: token,
                ..Default::default()
            }))
        };
        let all = list(None, 1000).await.unwrap().output;
        let keys: Vec<String> = all
            .contents
            .unwrap()
            .into_iter()
            .map(|o| o.key.unwrap())
            .collect();
        let prefixes: Vec<String> = all
            .common_prefixes
            .unwrap()
            .into_iter()
            .map(|p| p.prefix.unwrap())
            .collect();
        assert_eq!(keys, ["c", "e"]);
        assert_eq!(prefixes, ["a/", "b/", "d/"]);
        assert_eq!(all.key_count, Some(5));
        // Two entries a page: a/ b/ | c d/ | e, no entry repeated.
        let mut token = None;
        let mut pages = Vec::new();
        loop {
            let page = list(token, 2).await.unwrap().output;
            let mut entries: Vec<String> = page
                .contents
                .unwrap_or_default()
                .into_iter()
                .map(|o| o.key.unwrap())
                .collect();
            entries.extend(
                page.common_prefixes
                    .unwrap_or_default()
                    .into_iter()
                    .map(|p| p.prefix.unwrap()),
            );
            entries.sort();
            assert_eq!(page.key_count, Some(entries.len() as i32));
            pages.push(entries);
            token = page.next_continuation_token;
            assert_eq!(page.is_truncated, Some(token.is_some()));
            if token.is_none() {
                break;
            }
        }
        assert_eq!(pages, [vec!["a/", "b/"], vec!["c", "d/"], vec!["e"]]);
        // Prefix + delimiter one level down.
        let sub = api
            .list_objects_v2(req(ListObjectsV2Input {
                bucket: "bkt".into(),
                prefix: Some("d/".into()),
                delimiter: Some("/".into()),
                ..Default::default()
            }))
            .await
            .unwrap()
            .output;
        assert_eq!(sub.contents.unwrap()[0].key.as_deref(), Some("d/y"));
        assert_eq!(
            sub.common_prefixes.unwrap()[0].prefix.as_deref(),
            Some("d/x/")
        );
        assert_eq!(
            code(list(Some("%%%".into()), 1).await),
            S3ErrorCode::InvalidArgument
        );
    }

    #[tokio::test]
    async fn start_after_inside_a_prefix_still_rolls_up_the_rest() {
        let (api, _dir) = api().await;
        mb(&api, "bkt").await;
        for k in ["a/1", "a/2", "b"] {
            put(&api, "bkt", k, b"x").await;
        }
        let out = api
            .list_objects_v2(req(ListObjectsV2Input {
                bucket: "bkt".into(),
                delimiter: Some("/".into()),
                start_after: Some("a/1".into()),
                ..Default::default()
            }))
            .await
            .unwrap()
            .output;
        assert_eq!(
            out.common_prefixes.unwrap()[0].prefix.as_deref(),
            Some("a/")
        );
        assert_eq!(out.contents.unwrap()[0].key.as_deref(), Some("b"));
        // Resuming after the prefix itself (a v1 NextMarker) does not repeat it.
        let out = api
            .list_objects(req(ListObjectsInput {
                bucket: "bkt".into(),
                delimiter: Some("/".into()),
                marker: Some("a/".into()),
                ..Default::default()
            }))
            .await
            .unwrap()
            .output;
        assert!(out.common_prefixes.is_none());
        let keys: Vec<_> = out
            .contents
            .unwrap()
            .into_iter()
            .map(|o| o.key.unwrap())
            .collect();
        assert_eq!(keys, ["b"]);
    }

    #[tokio::test]
    async fn objects_round_trip_with_ranges_and_conditions() {
        let (api, _dir) = api().await;
        mb(&api, "bkt").await;
        let out = put(&api, "bkt", "k", b"0123456789").await;
        let etag_value = out.e_tag.unwrap();
        let get = |range: Option<Range>, if_match: Option<ETagCondition>| {
            api.get_object(req(GetObjectInput {
                bucket: "bkt".into(),
                key: "k".into(),
                range,
                if_match,
                ..Default::default()
            }))
        };
        let got = get(
            Some(Range::Int {
                first: 2,
                last: Some(4),
            }),
            None,
        )
        .await
        .unwrap()
        .output;
        assert_eq!(got.content_range.as_deref(), Some("bytes 2-4/10"));
        assert_eq!(got.content_length, Some(3));
        assert_eq!(
            code(
                get(
                    Some(Range::Int {
                        first: 10,
                        last: None
                    }),
                    None
                )
                .await
            ),
            S3ErrorCode::InvalidRange
        );
        assert!(
            get(None, Some(ETagCondition::ETag(etag_value.clone())))
                .await
                .is_ok()
        );
        assert_eq!(
            code(get(None, Some(ETagCondition::ETag(ETag::Strong("x".into())))).await),
            S3ErrorCode::PreconditionFailed
        );
        let missing = api
            .get_object(req(GetObjectInput {
                bucket: "bkt".into(),
                key: "nope".into(),
                ..Default::default()
            }))
            .await
            .unwrap_err();
        assert_eq!(*missing.code(), S3ErrorCode::NoSuchKey);
        assert!(missing.message().unwrap().contains("nope"));
        let no_bucket = api
            .get_object(req(GetObjectInput {
                bucket: "zzz".into(),
                key: "k".into(),
                ..Default::default()
            }))
            .await
            .unwrap_err();
        assert_eq!(*no_bucket.code(), S3ErrorCode::NoSuchBucket);
    }

    #[tokio::test]
    async fn oversized_bodies_are_refused() {
        let (api, _dir) = api().await;
        let api = api.with_max_object_size(4);
        mb(&api, "bkt").await;
        let r = api
            .put_object(req(PutObjectInput {
                bucket: "bkt".into(),
                key: "k".into(),
                body: Some(StreamingBlob::from(s3s::Body::from(Bytes::from_static(
                    b"12345",
                )))),
                ..Default::default()
            }))
            .await;
        assert_eq!(code(r), S3ErrorCode::EntityTooLarge);
    }

    #[tokio::test]
    async fn buckets_already_owned_and_not_empty() {
        let (api, _dir) = api().await;
        mb(&api, "bkt").await;
        // Legacy us-east-1: re-creating one's own bucket succeeds.
        mb(&api, "bkt").await;
        let eu = || {
            api.create_bucket(req(CreateBucketInput {
                bucket: "eu-bucket".into(),
                create_bucket_configuration: Some(CreateBucketConfiguration {
                    location_constraint: Some(BucketLocationConstraint::from(
                        "eu-west-1".to_owned(),
                    )),
                    ..Default::default()
                }),
                ..Default::default()
            }))
        };
        eu().await.unwrap();
        assert_eq!(code(eu().await), S3ErrorCode::BucketAlreadyOwnedByYou);
        let loc = api
            .get_bucket_location(req(GetBucketLocationInput {
                bucket: "eu-bucket".into(),
                ..Default::default()
            }))
            .await
            .unwrap()
            .output;
        assert_eq!(
            loc.location_constraint.as_ref().map(|c| c.as_str()),
            Some("eu-west-1")
        );
        put(&api, "bkt", "k", b"x").await;
        let del = api
            .delete_bucket(req(DeleteBucketInput {
                bucket: "bkt".into(),
                ..Default::default()
            }))
            .await;
        assert_eq!(code(del), S3ErrorCode::BucketNotEmpty);
        let bad = api
            .create_bucket(req(CreateBucketInput {
                bucket: "Bad_Name".into(),
                ..Default::default()
            }))
            .await;
        assert_eq!(code(bad), S3ErrorCode::InvalidBucketName);
    }
}
