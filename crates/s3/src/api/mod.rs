//! The embedded S3 endpoint: an [`s3s::S3`] implementation over
//! [`sagestack_store::ObjectStore`].
//!
//! s3s owns the wire (REST routing, XML, SigV4, `aws-chunked` bodies); this module owns
//! the semantics, and is the one place where store results become S3 errors
//! ([`S3Api`] methods map [`StoreError`] with the resource in the message: `NoSuchBucket`,
//! `NoSuchKey`, `NoSuchUpload`). Operations s3s routes but this module does not
//! implement answer `501 NotImplemented` (s3s's default).
//!
//! Layout: this file holds [`S3Api`] and its operations; `errors` maps store results to
//! S3 errors, `list` does key listing (delimiters, pages, tokens, URL encoding),
//! `document` the object and bucket documents (content headers, metadata, tags),
//! `values` small helpers (ETags, digests, bucket names, conditions).
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
//!   `PutObject`, `UploadPart` or completed upload is `EntityTooLarge`. Memory is bounded
//!   across requests too: every body in flight holds a share of one budget
//!   ([`S3Api::with_max_inflight_bytes`], `budget`), and an object too large for the
//!   whole budget is `EntityTooLarge` as well.
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
use s3s::{S3, S3Error, S3ErrorCode, S3Request, S3Response, S3Result, s3_error};
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

mod budget;
mod call;
/// What an object carries besides its body, kept as the store's opaque document.
mod document;
mod errors;
mod list;
#[cfg(test)]
mod tests;
mod values;

pub use budget::{BodyBudget, COPIES, DEFAULT_MAX_INFLIGHT_BYTES};
pub use call::call;
pub use errors::internal_error_response;
use budget::{BudgetedBody, Reservation};
pub use document::ObjectDocument;
use document::*;
use errors::*;
use list::*;
pub use values::validate_bucket_name;
use values::*;

/// The S3 service. See the module documentation.
pub struct S3Api {
    store: Arc<dyn ObjectStore>,
    region: String,
    max_object_size: u64,
    budget: BodyBudget,
}

impl S3Api {
    /// Serves the buckets of `store` as the S3 endpoint of `region`.
    pub fn new(store: Arc<dyn ObjectStore>, region: impl Into<String>) -> Self {
        S3Api {
            store,
            region: region.into(),
            max_object_size: DEFAULT_MAX_OBJECT_SIZE,
            budget: BodyBudget::new(DEFAULT_MAX_INFLIGHT_BYTES),
        }
    }

    /// Sets the in-flight body budget: the memory every request's body (and the store's
    /// copies of it) may take at once; requests wait for room. See `budget`.
    pub fn with_max_inflight_bytes(mut self, bytes: u64) -> Self {
        self.budget = BodyBudget::new(bytes);
        self
    }

    /// The largest body accepted: the configured maximum, or less when the whole budget
    /// could not hold a body that large.
    fn limit(&self) -> u64 {
        self.max_object_size.min(self.budget.bytes() / COPIES)
    }

    /// Sets the largest object (and part) accepted; larger ones are `EntityTooLarge`.
    pub fn with_max_object_size(mut self, bytes: u64) -> Self {
        self.max_object_size = bytes;
        self
    }

    /// Reads a request body, refusing more than [`Self::limit`] bytes (an announced
    /// larger body is refused before any of it is read). Room for it is reserved from
    /// the budget first (the announced size, or the limit when none was announced), and
    /// held by the caller until the store has it.
    async fn read_body(
        &self,
        body: Option<StreamingBlob>,
        announced: Option<i64>,
    ) -> S3Result<(Bytes, Reservation)> {
        let announced = announced.map(|n| u64::try_from(n).unwrap_or(0));
        let limit = self.limit();
        if announced.is_some_and(|n| n > limit) {
            return Err(too_large(limit));
        }
        let Some(mut body) = body else {
            return Ok((Bytes::new(), self.budget.reserve(0).await));
        };
        let reserved = announced.unwrap_or(limit);
        let reservation = self.budget.reserve(reserved).await;
        let mut buf = BytesMut::with_capacity(announced.unwrap_or(0) as usize);
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| {
                s3_error!(
                    IncompleteBody,
                    "You did not provide the number of bytes specified by the Content-Length HTTP header: {e}"
                )
            })?;
            let len = (buf.len() + chunk.len()) as u64;
            if len > limit {
                return Err(too_large(limit));
            }
            // More than announced would outgrow the reservation (s3s refuses a length
            // mismatch too, once the body ends).
            if len > reserved {
                return Err(s3_error!(
                    InvalidRequest,
                    "The request body is longer than its Content-Length"
                ));
            }
            buf.extend_from_slice(&chunk);
        }
        Ok((buf.freeze(), reservation))
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
        let (body, _reservation) = self.read_body(input.body, input.content_length).await?;
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
        // Room for the body is reserved before it is read, by its stored size (an
        // object replaced in between by a larger one overshoots by the difference).
        let size = self
            .store
            .head_object(&input.bucket, &input.key)
            .await
            .map_err(bucket_error(&input.bucket))?
            .ok_or_else(|| no_such_key(&input.key))?
            .size;
        let mut reservation = self.budget.reserve(u64::try_from(size).unwrap_or(0)).await;
        let object = self
            .store
            .get_object(&input.bucket, &input.key)
            .await
            .map_err(bucket_error(&input.bucket))?
            .ok_or_else(|| no_such_key(&input.key))?;
        // The store's copies are gone; the body itself stays until it has been sent.
        reservation.shrink_to(object.body.len() as u64);
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
            body: Some(StreamingBlob::new(BudgetedBody::new(body, reservation))),
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
        let size = self
            .store
            .head_object(&src_bucket, &src_key)
            .await
            .map_err(bucket_error(&src_bucket))?
            .ok_or_else(|| no_such_key(&src_key))?
            .size;
        let size = u64::try_from(size).unwrap_or(0);
        if size > self.limit() {
            return Err(too_large(self.limit()));
        }
        // Held while the body is read and written again.
        let _reservation = self.budget.reserve(size).await;
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
        let (body, _reservation) = self.read_body(input.body, input.content_length).await?;
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
        let total_bytes = u64::try_from(total).unwrap_or(u64::MAX);
        if total_bytes > self.limit() {
            return Err(too_large(self.limit()));
        }
        // Held while the parts are read, assembled and written as one object.
        let _reservation = self.budget.reserve(total_bytes).await;
        let bodies = match self.store.get_parts(&input.upload_id, &numbers).await {
            Ok(b) => b,
            Err(StoreError::NotFound) => return Err(no_such_upload(&input.upload_id)),
            Err(e) => return Err(internal(e)),
        };
        let mut body = BytesMut::with_capacity(usize::try_from(total).unwrap_or(0));
        // Each part is dropped once copied, so the parts and the object are not both
        // held whole.
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
    max_inflight_bytes: u64,
    credentials: crate::auth::StaticCredentials,
) -> s3s::service::S3Service {
    let api = S3Api::new(store, region)
        .with_max_object_size(max_object_size)
        .with_max_inflight_bytes(max_inflight_bytes);
    let mut builder = s3s::service::S3ServiceBuilder::new(api);
    builder.set_auth(credentials);
    builder.set_host(LocalhostVirtualHosts);
    builder.build()
}
