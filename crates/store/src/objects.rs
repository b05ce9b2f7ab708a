//! S3 buckets and objects on both SQL backends, so that every replica sharing a
//! PostgreSQL database sees the same buckets (the embedded S3 endpoint, `TemplateURL`
//! fetches and the native `AWS::S3::Bucket` provider all go through [`ObjectStore`]).
//!
//! Object bodies are stored whole (one BLOB / `bytea` per object or part), which suits
//! templates and small artefacts; the S3 layer bounds the size it accepts and the
//! memory bodies in flight take together (its body budget). Bodies are handed to sqlx
//! by value, so binding one does not copy it once more.
//!
//! Both backends share one implementation (`object_store_impl!` in `sql`, tables of
//! migration 0004); only creating and deleting a bucket differ (`backends`). Integrity between buckets, objects, uploads and parts is enforced twice: by
//! explicit checks that yield the documented [`StoreError`]s, and by foreign keys as a
//! backstop. On PostgreSQL, where several replicas write concurrently, writes into a
//! bucket lock its row `FOR SHARE` and `delete_bucket` locks it `FOR UPDATE`, so an
//! object cannot be put into a bucket that is being deleted; part writes and
//! `complete_upload` lock the upload row the same way, so a completed upload cannot
//! gain a part. SQLite's single connection serialises all of this anyway.

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;

use sqlx::Row;

use crate::{PostgresStore, SqliteStore, StoreError};

mod backends;
mod sql;

/// A page of a bucket's keys to list: those that start with `prefix` and sort strictly
/// after `after` (bytewise), at most `limit` of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyRange<'a> {
    pub bucket: &'a str,
    pub prefix: &'a str,
    pub after: Option<&'a str>,
    pub limit: usize,
}

use sql::object_store_impl;

/// A bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketRecord {
    pub name: String,
    /// The region it was created in (`LocationConstraint`).
    pub region: String,
    /// Microseconds since the epoch.
    pub creation_micros: i64,
    /// Bucket configuration kept as an opaque JSON object (tags, versioning... whatever
    /// the S3 layer or the `AWS::S3::Bucket` provider records).
    pub document: Arc<str>,
}

/// An object's metadata (everything but the body).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMeta {
    pub bucket: String,
    pub key: String,
    pub size: i64,
    /// The quoted ETag as S3 returns it (`"<md5 hex>"`, or `"<hex>-<parts>"` after a
    /// multipart upload).
    pub etag: String,
    /// Microseconds since the epoch.
    pub last_modified_micros: i64,
    /// `Content-Type`, user metadata (`x-amz-meta-*`), checksums...: an opaque JSON object.
    pub document: Arc<str>,
}

/// An object with its body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRecord {
    pub meta: ObjectMeta,
    pub body: Bytes,
}

/// A page of [`ObjectStore::list_objects`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ObjectPage {
    /// Ordered by key (bytewise).
    pub objects: Vec<ObjectMeta>,
    /// More keys follow the last one returned.
    pub truncated: bool,
}

/// An in-progress multipart upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadRecord {
    pub upload_id: String,
    pub bucket: String,
    pub key: String,
    pub initiated_micros: i64,
    /// What the object will carry once completed (as [`ObjectMeta::document`]).
    pub document: Arc<str>,
}

/// One uploaded part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartRecord {
    pub part_number: i32,
    pub size: i64,
    /// Quoted MD5 of the part.
    pub etag: String,
    pub last_modified_micros: i64,
}

/// Durable S3 state. Each method is atomic. Errors: [`StoreError::NotFound`] when the
/// bucket (or upload) named is absent, [`StoreError::AlreadyExists`] when a bucket name
/// is taken, [`StoreError::Conflict`] when deleting a bucket that still holds objects
/// or uploads.
#[async_trait]
pub trait ObjectStore: Send + Sync {
    async fn create_bucket(&self, bucket: &BucketRecord) -> Result<(), StoreError>;
    async fn get_bucket(&self, name: &str) -> Result<Option<BucketRecord>, StoreError>;
    /// Replaces the bucket's `document` ([`StoreError::NotFound`] if absent).
    async fn update_bucket(&self, name: &str, document: &str) -> Result<(), StoreError>;
    /// Every bucket, ordered by name.
    async fn list_buckets(&self) -> Result<Vec<BucketRecord>, StoreError>;
    /// Deletes an empty bucket (no objects, no uploads), else [`StoreError::Conflict`].
    async fn delete_bucket(&self, name: &str) -> Result<(), StoreError>;

    /// Creates or replaces the object ([`StoreError::NotFound`] if the bucket is absent).
    async fn put_object(&self, meta: &ObjectMeta, body: Bytes) -> Result<(), StoreError>;
    /// `None` when the object is absent; [`StoreError::NotFound`] when the bucket is.
    async fn get_object(&self, bucket: &str, key: &str)
    -> Result<Option<ObjectRecord>, StoreError>;
    async fn head_object(&self, bucket: &str, key: &str) -> Result<Option<ObjectMeta>, StoreError>;
    /// True when an object was deleted; deleting an absent key is not an error.
    async fn delete_object(&self, bucket: &str, key: &str) -> Result<bool, StoreError>;
    /// The objects in `range`, ordered by key.
    async fn list_objects(&self, range: KeyRange<'_>) -> Result<ObjectPage, StoreError>;

    async fn create_upload(&self, upload: &UploadRecord) -> Result<(), StoreError>;
    async fn get_upload(&self, upload_id: &str) -> Result<Option<UploadRecord>, StoreError>;
    /// Uploads of a bucket, ordered by key then initiation time.
    async fn list_uploads(&self, bucket: &str) -> Result<Vec<UploadRecord>, StoreError>;
    /// Creates or replaces a part ([`StoreError::NotFound`] if the upload is absent).
    async fn put_part(
        &self,
        upload_id: &str,
        part: &PartRecord,
        body: Bytes,
    ) -> Result<(), StoreError>;
    /// Parts ordered by number (metadata only).
    async fn list_parts(&self, upload_id: &str) -> Result<Vec<PartRecord>, StoreError>;
    /// The bodies of the given parts, in the order given (`None` for a missing one).
    async fn get_parts(
        &self,
        upload_id: &str,
        part_numbers: &[i32],
    ) -> Result<Vec<Option<Bytes>>, StoreError>;
    /// Atomically stores the assembled object and removes the upload and its parts.
    async fn complete_upload(
        &self,
        upload_id: &str,
        meta: &ObjectMeta,
        body: Bytes,
    ) -> Result<(), StoreError>;
    /// Removes the upload and its parts; false when there was none.
    async fn abort_upload(&self, upload_id: &str) -> Result<bool, StoreError>;
}

/// The object columns selected by every metadata read, in [`meta_from_row`]'s order.
macro_rules! meta_columns {
    () => {
        "bucket, key, size, etag, last_modified_micros, document"
    };
}

/// A row of the object tables, whose columns are text or 64-bit integers on both
/// backends: one set of sqlx bounds for every decoder below.
trait ObjectRow {
    fn text(&self, column: usize) -> Result<String, StoreError>;
    fn int(&self, column: usize) -> Result<i64, StoreError>;
}

impl<R> ObjectRow for R
where
    R: Row,
    usize: sqlx::ColumnIndex<R>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    fn text(&self, column: usize) -> Result<String, StoreError> {
        Ok(self.try_get(column)?)
    }
    fn int(&self, column: usize) -> Result<i64, StoreError> {
        Ok(self.try_get(column)?)
    }
}

/// Decodes [`meta_columns`] starting at column `at`.
fn meta_from_row(row: &impl ObjectRow, at: usize) -> Result<ObjectMeta, StoreError> {
    Ok(ObjectMeta {
        bucket: row.text(at)?,
        key: row.text(at + 1)?,
        size: row.int(at + 2)?,
        etag: row.text(at + 3)?,
        last_modified_micros: row.int(at + 4)?,
        document: Arc::from(row.text(at + 5)?),
    })
}

fn bucket_from_row(row: &impl ObjectRow) -> Result<BucketRecord, StoreError> {
    Ok(BucketRecord {
        name: row.text(0)?,
        region: row.text(1)?,
        creation_micros: row.int(2)?,
        document: Arc::from(row.text(3)?),
    })
}

fn upload_from_row(row: &impl ObjectRow) -> Result<UploadRecord, StoreError> {
    Ok(UploadRecord {
        upload_id: row.text(0)?,
        bucket: row.text(1)?,
        key: row.text(2)?,
        initiated_micros: row.int(3)?,
        document: Arc::from(row.text(4)?),
    })
}

fn to_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A body at least this large does not leave its size behind in a pooled connection
/// (see [`Backend::CLOSE_AFTER_LARGE_READS`]).
const LARGE_BODY: usize = 1 << 20;

/// The sqlx database of a backend (lets the shared macro name its connection type).
pub(crate) trait Backend {
    type Db: sqlx::Database;
    /// Whether a pooled connection that read a large body is closed rather than kept. A
    /// PostgreSQL connection's socket buffers grow to the largest message it carried and
    /// its read buffer stays alive until its next query, so every pooled connection
    /// would keep one body's worth of memory outside the S3 layer's body budget (four
    /// 32 MiB GETs on four connections kept 128 MiB more than the budget). Written
    /// bodies need no reconnection: `shrink_buffers` frees the write buffer. SQLite
    /// connections have no socket buffers.
    const CLOSE_AFTER_LARGE_READS: bool;
}

impl Backend for SqliteStore {
    type Db = sqlx::Sqlite;
    const CLOSE_AFTER_LARGE_READS: bool = false;
}

impl Backend for PostgresStore {
    type Db = sqlx::Postgres;
    const CLOSE_AFTER_LARGE_READS: bool = true;
}

object_store_impl!(SqliteStore, "", "", "");
object_store_impl!(PostgresStore, " FOR SHARE", " FOR UPDATE", " COLLATE \"C\"");
