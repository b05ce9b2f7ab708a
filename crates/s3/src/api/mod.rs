//! The embedded S3 endpoint: an [`s3s::S3`] implementation over
//! [`sagestack_store::ObjectStore`].
//!
//! s3s owns the wire (REST routing, XML, SigV4, `aws-chunked` bodies); this module owns
//! the semantics, and is the one place where store results become S3 errors
//! ([`S3Api`] methods map [`StoreError`] with the resource in the message: `NoSuchBucket`,
//! `NoSuchKey`, `NoSuchUpload`). Operations s3s routes but this module does not
//! implement answer `501 NotImplemented` (s3s's default).
//!
//! Layout: this file holds [`S3Api`] (its limits, body reading, the lookups every
//! operation shares) and the `impl S3` that forwards each operation to its group:
//! `buckets` (and bucket tagging), `config` (bucket sub-resources), `lifecycle`,
//! `objects`, `listing` (`ListObjects` v1 and v2) and `multipart`. `errors` is the one mapping to S3 errors (and the error document for a
//! failure outside s3s), `call` the HTTP edge the server hands S3 requests to, `list`
//! the key walk (delimiters, pages, tokens, URL encoding), `document` the object and
//! bucket documents (content headers, metadata, tags), `values` small helpers (ETags,
//! digests, bucket names, conditions). This module never writes XML: s3s does.
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
//! * bucket sub-resources (`config`, `lifecycle`; the model and its checks are
//!   [`crate::config`]): versioning, policy, Block Public Access, default encryption,
//!   lifecycle rules, Object Ownership and the canned bucket ACL are kept in the bucket
//!   document and returned as set (a new bucket reads as AWS makes one since 2023:
//!   SSE-S3, Block Public Access on, ACLs disabled). They are stored, never enforced:
//!   versioning keeps no versions (objects are overwritten in place and no
//!   `x-amz-version-id` is returned, `Enabled` or not), rules expire nothing, policies
//!   and ACLs grant nothing. CORS, website, accelerate, request payment, logging,
//!   replication and Object Lock answer as for a bucket that never had them (their
//!   `Put` is `501 NotImplemented`).
//! * no checksums beyond MD5 (other checksum headers are verified by s3s when it
//!   decodes the body, and not stored).

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
    BucketRecord, KeyRange, ObjectMeta, ObjectRecord, ObjectStore, PartRecord, StoreError,
    UploadRecord,
};
use serde::{Deserialize, Serialize};

use crate::config::{ConfigError, UpdateError};

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
/// The one version id objects have here: S3's id of an object written while the bucket
/// was never versioned (no versions are kept, whatever the versioning state).
pub const NULL_VERSION: &str = "null";

/// The canonical user id every resource here is owned by (one owner per server).
const OWNER_ID: &str = "75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a";
const OWNER_NAME: &str = "sagestack";

mod buckets;
mod budget;
mod call;
mod config;
#[cfg(test)]
mod config_tests;
/// What an object carries besides its body, kept as the store's opaque document.
mod document;
mod errors;
mod lifecycle;
mod list;
mod listing;
mod multipart;
mod objects;
#[cfg(test)]
mod tests;
mod values;

pub use budget::{BodyBudget, COPIES, DEFAULT_MAX_INFLIGHT_BYTES};
use budget::{BudgetedBody, Reservation};
pub use call::call;
pub use document::ObjectDocument;
use document::*;
pub use errors::refusal;
use errors::*;
use list::*;
use values::*;
pub use values::{etag_of, validate_bucket_name};

/// The S3 service. See the module documentation.
pub struct S3Api {
    store: Arc<dyn ObjectStore>,
    region: String,
    max_object_size: u64,
    budget: BodyBudget,
    /// The owner of buckets made before buckets had owners (the server's account).
    default_owner: String,
}

impl S3Api {
    /// Serves the buckets of `store` as the S3 endpoint of `region`.
    pub fn new(store: Arc<dyn ObjectStore>, region: impl Into<String>) -> Self {
        S3Api {
            store,
            region: region.into(),
            max_object_size: DEFAULT_MAX_OBJECT_SIZE,
            budget: BodyBudget::new(DEFAULT_MAX_INFLIGHT_BYTES),
            default_owner: "000000000000".into(),
        }
    }

    /// Sets the account that owns buckets made before buckets had owners.
    pub fn with_default_owner(mut self, account_id: &str) -> Self {
        self.default_owner = account_id.to_owned();
        self
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

    /// The object's metadata (else `NoSuchBucket` or `NoSuchKey`).
    async fn existing_meta(&self, bucket: &str, key: &str) -> S3Result<ObjectMeta> {
        key_found(bucket, key, self.store.head_object(bucket, key).await)
    }

    /// The object with its body (else `NoSuchBucket` or `NoSuchKey`).
    async fn existing_object(&self, bucket: &str, key: &str) -> S3Result<ObjectRecord> {
        key_found(bucket, key, self.store.get_object(bucket, key).await)
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

/// s3s wants one `impl S3`; each operation lives in its group's file as a function of
/// the same name over the operation's input (and, where named, a value read from the
/// request: `host = request_host`), and this impl only forwards to it.
macro_rules! forward {
    ($($group:ident::$op:ident($input:ident $(, $arg:ident = $read:ident)?) -> $output:ident;)*) => {
        #[async_trait::async_trait]
        impl S3 for S3Api {
            $(
                async fn $op(&self, req: S3Request<$input>) -> S3Result<S3Response<$output>> {
                    $(let $arg = $read(&req);)?
                    $group::$op(self, req.input $(, $arg)?).await.map(S3Response::new)
                }
            )*
        }
    };
}

forward! {
    buckets::list_buckets(ListBucketsInput, caller = caller_account) -> ListBucketsOutput;
    buckets::create_bucket(CreateBucketInput, caller = caller_account) -> CreateBucketOutput;
    buckets::head_bucket(HeadBucketInput) -> HeadBucketOutput;
    buckets::delete_bucket(DeleteBucketInput) -> DeleteBucketOutput;
    buckets::get_bucket_location(GetBucketLocationInput) -> GetBucketLocationOutput;
    objects::put_object(PutObjectInput) -> PutObjectOutput;
    objects::get_object(GetObjectInput) -> GetObjectOutput;
    objects::head_object(HeadObjectInput) -> HeadObjectOutput;
    objects::delete_object(DeleteObjectInput) -> DeleteObjectOutput;
    objects::delete_objects(DeleteObjectsInput) -> DeleteObjectsOutput;
    listing::list_objects(ListObjectsInput) -> ListObjectsOutput;
    listing::list_objects_v2(ListObjectsV2Input) -> ListObjectsV2Output;
    listing::list_object_versions(ListObjectVersionsInput) -> ListObjectVersionsOutput;
    objects::copy_object(CopyObjectInput) -> CopyObjectOutput;
    multipart::create_multipart_upload(CreateMultipartUploadInput) -> CreateMultipartUploadOutput;
    multipart::upload_part(UploadPartInput) -> UploadPartOutput;
    multipart::complete_multipart_upload(CompleteMultipartUploadInput, host = request_host) -> CompleteMultipartUploadOutput;
    multipart::abort_multipart_upload(AbortMultipartUploadInput) -> AbortMultipartUploadOutput;
    multipart::list_parts(ListPartsInput) -> ListPartsOutput;
    multipart::list_multipart_uploads(ListMultipartUploadsInput) -> ListMultipartUploadsOutput;
    buckets::get_bucket_tagging(GetBucketTaggingInput) -> GetBucketTaggingOutput;
    buckets::put_bucket_tagging(PutBucketTaggingInput) -> PutBucketTaggingOutput;
    buckets::delete_bucket_tagging(DeleteBucketTaggingInput) -> DeleteBucketTaggingOutput;
    config::get_bucket_versioning(GetBucketVersioningInput) -> GetBucketVersioningOutput;
    config::put_bucket_versioning(PutBucketVersioningInput) -> PutBucketVersioningOutput;
    config::get_bucket_policy(GetBucketPolicyInput) -> GetBucketPolicyOutput;
    config::put_bucket_policy(PutBucketPolicyInput) -> PutBucketPolicyOutput;
    config::delete_bucket_policy(DeleteBucketPolicyInput) -> DeleteBucketPolicyOutput;
    config::get_bucket_policy_status(GetBucketPolicyStatusInput) -> GetBucketPolicyStatusOutput;
    config::get_public_access_block(GetPublicAccessBlockInput) -> GetPublicAccessBlockOutput;
    config::put_public_access_block(PutPublicAccessBlockInput) -> PutPublicAccessBlockOutput;
    config::delete_public_access_block(DeletePublicAccessBlockInput) -> DeletePublicAccessBlockOutput;
    config::get_bucket_encryption(GetBucketEncryptionInput) -> GetBucketEncryptionOutput;
    config::put_bucket_encryption(PutBucketEncryptionInput) -> PutBucketEncryptionOutput;
    config::delete_bucket_encryption(DeleteBucketEncryptionInput) -> DeleteBucketEncryptionOutput;
    config::get_bucket_ownership_controls(GetBucketOwnershipControlsInput) -> GetBucketOwnershipControlsOutput;
    config::put_bucket_ownership_controls(PutBucketOwnershipControlsInput) -> PutBucketOwnershipControlsOutput;
    config::delete_bucket_ownership_controls(DeleteBucketOwnershipControlsInput) -> DeleteBucketOwnershipControlsOutput;
    config::get_bucket_acl(GetBucketAclInput) -> GetBucketAclOutput;
    config::put_bucket_acl(PutBucketAclInput) -> PutBucketAclOutput;
    config::get_bucket_cors(GetBucketCorsInput) -> GetBucketCorsOutput;
    config::delete_bucket_cors(DeleteBucketCorsInput) -> DeleteBucketCorsOutput;
    config::get_bucket_website(GetBucketWebsiteInput) -> GetBucketWebsiteOutput;
    config::delete_bucket_website(DeleteBucketWebsiteInput) -> DeleteBucketWebsiteOutput;
    config::get_bucket_accelerate_configuration(GetBucketAccelerateConfigurationInput) -> GetBucketAccelerateConfigurationOutput;
    config::get_bucket_request_payment(GetBucketRequestPaymentInput) -> GetBucketRequestPaymentOutput;
    config::get_bucket_logging(GetBucketLoggingInput) -> GetBucketLoggingOutput;
    config::get_bucket_replication(GetBucketReplicationInput) -> GetBucketReplicationOutput;
    config::delete_bucket_replication(DeleteBucketReplicationInput) -> DeleteBucketReplicationOutput;
    config::get_object_lock_configuration(GetObjectLockConfigurationInput) -> GetObjectLockConfigurationOutput;
    lifecycle::get_bucket_lifecycle_configuration(GetBucketLifecycleConfigurationInput) -> GetBucketLifecycleConfigurationOutput;
    lifecycle::put_bucket_lifecycle_configuration(PutBucketLifecycleConfigurationInput) -> PutBucketLifecycleConfigurationOutput;
    lifecycle::delete_bucket_lifecycle(DeleteBucketLifecycleInput) -> DeleteBucketLifecycleOutput;
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
    auth: sagestack_protocol::auth::Auth,
    account_id: &str,
) -> s3s::service::S3Service {
    let access = crate::auth::BucketAccess::new(auth.clone(), store.clone(), account_id);
    let api = S3Api::new(store, region)
        .with_max_object_size(max_object_size)
        .with_max_inflight_bytes(max_inflight_bytes)
        .with_default_owner(account_id);
    let mut builder = s3s::service::S3ServiceBuilder::new(api);
    builder.set_auth(crate::auth::S3Keys(auth));
    builder.set_access(access);
    builder.set_host(LocalhostVirtualHosts);
    builder.build()
}
