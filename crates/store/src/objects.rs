//! S3 buckets and objects on both SQL backends, so that every replica sharing a
//! PostgreSQL database sees the same buckets (the embedded S3 endpoint, `TemplateURL`
//! fetches and the native `AWS::S3::Bucket` provider all go through [`ObjectStore`]).
//!
//! Object bodies are stored whole (one BLOB / `bytea` per object or part), which suits
//! templates and small artefacts; the S3 layer bounds the size it accepts and the
//! memory bodies in flight take together (its body budget). Bodies are handed to sqlx
//! by value, so binding one does not copy it once more.
//!
//! Both backends share one implementation (`object_store_impl!`, tables of migration
//! 0004). Integrity between buckets, objects, uploads and parts is enforced twice: by
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
    /// Objects whose key starts with `prefix` and sorts strictly after `after`, ordered
    /// by key, at most `limit`.
    async fn list_objects(
        &self,
        bucket: &str,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<ObjectPage, StoreError>;

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

/// Decodes [`meta_columns`] starting at column `at`.
fn meta_from_row<R>(row: &R, at: usize) -> Result<ObjectMeta, StoreError>
where
    R: Row,
    usize: sqlx::ColumnIndex<R>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    Ok(ObjectMeta {
        bucket: row.try_get(at)?,
        key: row.try_get(at + 1)?,
        size: row.try_get(at + 2)?,
        etag: row.try_get(at + 3)?,
        last_modified_micros: row.try_get(at + 4)?,
        document: Arc::from(row.try_get::<String, _>(at + 5)?),
    })
}

fn bucket_from_row<R>(row: &R) -> Result<BucketRecord, StoreError>
where
    R: Row,
    usize: sqlx::ColumnIndex<R>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    Ok(BucketRecord {
        name: row.try_get(0)?,
        region: row.try_get(1)?,
        creation_micros: row.try_get(2)?,
        document: Arc::from(row.try_get::<String, _>(3)?),
    })
}

fn upload_from_row<R>(row: &R) -> Result<UploadRecord, StoreError>
where
    R: Row,
    usize: sqlx::ColumnIndex<R>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    Ok(UploadRecord {
        upload_id: row.try_get(0)?,
        bucket: row.try_get(1)?,
        key: row.try_get(2)?,
        initiated_micros: row.try_get(3)?,
        document: Arc::from(row.try_get::<String, _>(4)?),
    })
}

fn to_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// `$share` / `$update` are the row-lock clauses (empty on SQLite, whose one connection
/// serialises every transaction); `$collate` makes text order bytewise.
macro_rules! object_store_impl {
    ($store:ty, $share:literal, $update:literal, $collate:literal) => {
        impl $store {
            /// True when the bucket exists, locking its row for the transaction.
            async fn lock_bucket(
                conn: &mut <<$store as crate::objects::Backend>::Db as sqlx::Database>::Connection,
                name: &str,
                exclusive: bool,
            ) -> Result<bool, StoreError> {
                let sql = if exclusive {
                    concat!("SELECT 1 FROM s3_buckets WHERE name = $1", $update)
                } else {
                    concat!("SELECT 1 FROM s3_buckets WHERE name = $1", $share)
                };
                Ok(sqlx::query(sql)
                    .bind(name)
                    .fetch_optional(&mut *conn)
                    .await?
                    .is_some())
            }

            /// The upload's bucket when it exists, locking its row for the transaction.
            async fn lock_upload(
                conn: &mut <<$store as crate::objects::Backend>::Db as sqlx::Database>::Connection,
                upload_id: &str,
                exclusive: bool,
            ) -> Result<Option<String>, StoreError> {
                let sql = if exclusive {
                    concat!("SELECT bucket FROM s3_uploads WHERE upload_id = $1", $update)
                } else {
                    concat!("SELECT bucket FROM s3_uploads WHERE upload_id = $1", $share)
                };
                Ok(sqlx::query_scalar(sql)
                    .bind(upload_id)
                    .fetch_optional(&mut *conn)
                    .await?)
            }

            /// `body` is bound by value: sqlx copies a borrowed slice before sending it to
            /// the database, an owned `Vec` it takes as it is (one body-sized copy less).
            async fn upsert_object(
                conn: &mut <<$store as crate::objects::Backend>::Db as sqlx::Database>::Connection,
                meta: &ObjectMeta,
                body: Vec<u8>,
            ) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO s3_objects (bucket, key, size, etag, last_modified_micros, document, body)
                     VALUES ($1, $2, $3, $4, $5, $6, $7)
                     ON CONFLICT (bucket, key) DO UPDATE SET size = excluded.size,
                     etag = excluded.etag, last_modified_micros = excluded.last_modified_micros,
                     document = excluded.document, body = excluded.body",
                )
                .bind(&meta.bucket)
                .bind(&meta.key)
                .bind(meta.size)
                .bind(&meta.etag)
                .bind(meta.last_modified_micros)
                .bind(&*meta.document)
                .bind(body)
                .execute(&mut *conn)
                .await?;
                Ok(())
            }
        }

        #[async_trait]
        impl ObjectStore for $store {
            async fn create_bucket(&self, bucket: &BucketRecord) -> Result<(), StoreError> {
                self.create_bucket_backend(bucket).await
            }

            async fn get_bucket(&self, name: &str) -> Result<Option<BucketRecord>, StoreError> {
                let row = sqlx::query(
                    "SELECT name, region, creation_micros, document FROM s3_buckets WHERE name = $1",
                )
                .bind(name)
                .fetch_optional(self.reader().await?)
                .await?;
                row.as_ref().map(bucket_from_row).transpose()
            }

            async fn update_bucket(&self, name: &str, document: &str) -> Result<(), StoreError> {
                let updated = sqlx::query("UPDATE s3_buckets SET document = $1 WHERE name = $2")
                    .bind(document)
                    .bind(name)
                    .execute(self.writer().await?)
                    .await?
                    .rows_affected();
                if updated == 0 {
                    return Err(StoreError::NotFound);
                }
                self.durable().await
            }

            async fn list_buckets(&self) -> Result<Vec<BucketRecord>, StoreError> {
                let rows = sqlx::query(concat!(
                    "SELECT name, region, creation_micros, document FROM s3_buckets ORDER BY name",
                    $collate
                ))
                .fetch_all(&self.read_pool)
                .await?;
                rows.iter().map(bucket_from_row).collect()
            }

            async fn delete_bucket(&self, name: &str) -> Result<(), StoreError> {
                self.delete_bucket_backend(name).await
            }

            async fn put_object(&self, meta: &ObjectMeta, body: Bytes) -> Result<(), StoreError> {
                let _content = self.bucket_content_lock(&meta.bucket).await;
                let mut tx = self.writer().await?.begin().await?;
                if !Self::lock_bucket(&mut tx, &meta.bucket, false).await? {
                    return Err(StoreError::NotFound);
                }
                // `Vec::from` takes the buffer of a uniquely held `Bytes` without copying.
                Self::upsert_object(&mut tx, meta, Vec::from(body)).await?;
                tx.commit().await?;
                self.durable().await
            }

            async fn get_object(
                &self,
                bucket: &str,
                key: &str,
            ) -> Result<Option<ObjectRecord>, StoreError> {
                // One round trip: the bucket row always comes back when it exists, the
                // object's columns are NULL when the key is absent.
                let row = sqlx::query(
                    "SELECT o.bucket, o.key, o.size, o.etag, o.last_modified_micros, o.document, o.body
                     FROM s3_buckets b LEFT JOIN s3_objects o ON o.bucket = b.name AND o.key = $2
                     WHERE b.name = $1",
                )
                .bind(bucket)
                .bind(key)
                .fetch_optional(&self.read_pool)
                .await?;
                let Some(row) = row else {
                    return Err(StoreError::NotFound);
                };
                if row.try_get::<Option<String>, _>(0)?.is_none() {
                    return Ok(None);
                }
                let meta = meta_from_row(&row, 0)?;
                let body: Vec<u8> = row.try_get(6)?;
                Ok(Some(ObjectRecord {
                    meta,
                    body: Bytes::from(body),
                }))
            }

            async fn head_object(
                &self,
                bucket: &str,
                key: &str,
            ) -> Result<Option<ObjectMeta>, StoreError> {
                let row = sqlx::query(
                    "SELECT o.bucket, o.key, o.size, o.etag, o.last_modified_micros, o.document
                     FROM s3_buckets b LEFT JOIN s3_objects o ON o.bucket = b.name AND o.key = $2
                     WHERE b.name = $1",
                )
                .bind(bucket)
                .bind(key)
                .fetch_optional(&self.read_pool)
                .await?;
                let Some(row) = row else {
                    return Err(StoreError::NotFound);
                };
                if row.try_get::<Option<String>, _>(0)?.is_none() {
                    return Ok(None);
                }
                meta_from_row(&row, 0).map(Some)
            }

            async fn delete_object(&self, bucket: &str, key: &str) -> Result<bool, StoreError> {
                let mut tx = self.writer().await?.begin().await?;
                if !Self::lock_bucket(&mut tx, bucket, false).await? {
                    return Err(StoreError::NotFound);
                }
                let deleted = sqlx::query("DELETE FROM s3_objects WHERE bucket = $1 AND key = $2")
                    .bind(bucket)
                    .bind(key)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                tx.commit().await?;
                self.durable().await?;
                Ok(deleted > 0)
            }

            async fn list_objects(
                &self,
                bucket: &str,
                prefix: &str,
                after: Option<&str>,
                limit: usize,
            ) -> Result<ObjectPage, StoreError> {
                let mut tx = self.writer().await?.begin().await?;
                if !Self::lock_bucket(&mut tx, bucket, false).await? {
                    return Err(StoreError::NotFound);
                }
                // `key >= prefix` lets the primary key index start at the prefix; one
                // row more than asked tells whether more follow.
                let rows = sqlx::query(concat!(
                    "SELECT ",
                    meta_columns!(),
                    " FROM s3_objects WHERE bucket = $1 AND key >= $2
                     AND substr(key, 1, length($2)) = $2 AND ($3 IS NULL OR key > $3)
                     ORDER BY key",
                    $collate,
                    " LIMIT $4"
                ))
                .bind(bucket)
                .bind(prefix)
                .bind(after)
                .bind(to_i64(limit).saturating_add(1))
                .fetch_all(&mut *tx)
                .await?;
                tx.commit().await?;
                let mut objects = rows
                    .iter()
                    .map(|r| meta_from_row(r, 0))
                    .collect::<Result<Vec<_>, _>>()?;
                let truncated = objects.len() > limit;
                objects.truncate(limit);
                Ok(ObjectPage { objects, truncated })
            }

            async fn create_upload(&self, upload: &UploadRecord) -> Result<(), StoreError> {
                let _content = self.bucket_content_lock(&upload.bucket).await;
                let mut tx = self.writer().await?.begin().await?;
                if !Self::lock_bucket(&mut tx, &upload.bucket, false).await? {
                    return Err(StoreError::NotFound);
                }
                sqlx::query(
                    "INSERT INTO s3_uploads (upload_id, bucket, key, initiated_micros, document)
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(&upload.upload_id)
                .bind(&upload.bucket)
                .bind(&upload.key)
                .bind(upload.initiated_micros)
                .bind(&*upload.document)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                self.durable().await
            }

            async fn get_upload(&self, upload_id: &str) -> Result<Option<UploadRecord>, StoreError> {
                let row = sqlx::query(
                    "SELECT upload_id, bucket, key, initiated_micros, document FROM s3_uploads
                     WHERE upload_id = $1",
                )
                .bind(upload_id)
                .fetch_optional(&self.read_pool)
                .await?;
                row.as_ref().map(upload_from_row).transpose()
            }

            async fn list_uploads(&self, bucket: &str) -> Result<Vec<UploadRecord>, StoreError> {
                let mut tx = self.writer().await?.begin().await?;
                if !Self::lock_bucket(&mut tx, bucket, false).await? {
                    return Err(StoreError::NotFound);
                }
                let rows = sqlx::query(concat!(
                    "SELECT upload_id, bucket, key, initiated_micros, document FROM s3_uploads
                     WHERE bucket = $1 ORDER BY key",
                    $collate,
                    ", initiated_micros, upload_id"
                ))
                .bind(bucket)
                .fetch_all(&mut *tx)
                .await?;
                tx.commit().await?;
                rows.iter().map(upload_from_row).collect()
            }

            async fn put_part(
                &self,
                upload_id: &str,
                part: &PartRecord,
                body: Bytes,
            ) -> Result<(), StoreError> {
                let mut tx = self.writer().await?.begin().await?;
                if Self::lock_upload(&mut tx, upload_id, false).await?.is_none() {
                    return Err(StoreError::NotFound);
                }
                sqlx::query(
                    "INSERT INTO s3_parts (upload_id, part_number, size, etag, last_modified_micros, body)
                     VALUES ($1, $2, $3, $4, $5, $6)
                     ON CONFLICT (upload_id, part_number) DO UPDATE SET size = excluded.size,
                     etag = excluded.etag, last_modified_micros = excluded.last_modified_micros,
                     body = excluded.body",
                )
                .bind(upload_id)
                .bind(part.part_number)
                .bind(part.size)
                .bind(&part.etag)
                .bind(part.last_modified_micros)
                .bind(Vec::from(body))
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                self.durable().await
            }

            async fn list_parts(&self, upload_id: &str) -> Result<Vec<PartRecord>, StoreError> {
                let mut tx = self.writer().await?.begin().await?;
                if Self::lock_upload(&mut tx, upload_id, false).await?.is_none() {
                    return Err(StoreError::NotFound);
                }
                let rows: Vec<(i32, i64, String, i64)> = sqlx::query_as(
                    "SELECT part_number, size, etag, last_modified_micros FROM s3_parts
                     WHERE upload_id = $1 ORDER BY part_number",
                )
                .bind(upload_id)
                .fetch_all(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(rows
                    .into_iter()
                    .map(|(part_number, size, etag, last_modified_micros)| PartRecord {
                        part_number,
                        size,
                        etag,
                        last_modified_micros,
                    })
                    .collect())
            }

            async fn get_parts(
                &self,
                upload_id: &str,
                part_numbers: &[i32],
            ) -> Result<Vec<Option<Bytes>>, StoreError> {
                let mut tx = self.writer().await?.begin().await?;
                if Self::lock_upload(&mut tx, upload_id, false).await?.is_none() {
                    return Err(StoreError::NotFound);
                }
                let mut bodies = Vec::with_capacity(part_numbers.len());
                for n in part_numbers {
                    let body: Option<Vec<u8>> = sqlx::query_scalar(
                        "SELECT body FROM s3_parts WHERE upload_id = $1 AND part_number = $2",
                    )
                    .bind(upload_id)
                    .bind(*n)
                    .fetch_optional(&mut *tx)
                    .await?;
                    bodies.push(body.map(Bytes::from));
                }
                tx.commit().await?;
                Ok(bodies)
            }

            async fn complete_upload(
                &self,
                upload_id: &str,
                meta: &ObjectMeta,
                body: Bytes,
            ) -> Result<(), StoreError> {
                let mut tx = self.writer().await?.begin().await?;
                let Some(bucket) = Self::lock_upload(&mut tx, upload_id, true).await? else {
                    return Err(StoreError::NotFound);
                };
                if !Self::lock_bucket(&mut tx, &bucket, false).await? {
                    return Err(StoreError::NotFound);
                }
                Self::upsert_object(&mut tx, meta, Vec::from(body)).await?;
                sqlx::query("DELETE FROM s3_parts WHERE upload_id = $1")
                    .bind(upload_id)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("DELETE FROM s3_uploads WHERE upload_id = $1")
                    .bind(upload_id)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                self.durable().await
            }

            async fn abort_upload(&self, upload_id: &str) -> Result<bool, StoreError> {
                let mut tx = self.writer().await?.begin().await?;
                if Self::lock_upload(&mut tx, upload_id, true).await?.is_none() {
                    return Ok(false);
                }
                sqlx::query("DELETE FROM s3_parts WHERE upload_id = $1")
                    .bind(upload_id)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("DELETE FROM s3_uploads WHERE upload_id = $1")
                    .bind(upload_id)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                self.durable().await?;
                Ok(true)
            }
        }
    };
}

/// The sqlx database of a backend (lets the shared macro name its connection type).
pub(crate) trait Backend {
    type Db: sqlx::Database;
}

impl Backend for SqliteStore {
    type Db = sqlx::Sqlite;
}

impl Backend for PostgresStore {
    type Db = sqlx::Postgres;
}

object_store_impl!(SqliteStore, "", "", "");
object_store_impl!(PostgresStore, " FOR SHARE", " FOR UPDATE", " COLLATE \"C\"");

fn insert_bucket(bucket: &BucketRecord) -> (&'static str, Vec<crate::batch::Value>) {
    use crate::batch::Value as V;
    (
        "INSERT INTO s3_buckets (name, region, creation_micros, document)
         VALUES ({}, {}, {}, {})",
        vec![
            V::Text(bucket.name.clone()),
            V::Text(bucket.region.clone()),
            V::Int(bucket.creation_micros),
            V::Text(bucket.document.to_string()),
        ],
    )
}

impl PostgresStore {
    /// Nothing to take: the bucket row's lock (`FOR SHARE` against a delete's
    /// `FOR UPDATE`) orders an object put against a bucket delete.
    async fn bucket_content_lock(&self, _bucket: &str) {}

    async fn create_bucket_backend(&self, bucket: &BucketRecord) -> Result<(), StoreError> {
        let (statement, values) = insert_bucket(bucket);
        self.write_one(statement, values).await?;
        self.durable().await
    }

    async fn delete_bucket_backend(&self, name: &str) -> Result<(), StoreError> {
        let mut tx = self.writer().await?.begin().await?;
        if !Self::lock_bucket(&mut tx, name, true).await? {
            return Err(StoreError::NotFound);
        }
        let busy = sqlx::query(
            "SELECT 1 FROM s3_objects WHERE bucket = $1
             UNION ALL SELECT 1 FROM s3_uploads WHERE bucket = $1 LIMIT 1",
        )
        .bind(name)
        .fetch_optional(&mut *tx)
        .await?
        .is_some();
        if busy {
            return Err(StoreError::Conflict);
        }
        sqlx::query("DELETE FROM s3_buckets WHERE name = $1")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.durable().await
    }
}

impl SqliteStore {
    /// Taken by every write that adds an object or an upload to `bucket`: the bucket's
    /// name lock, so a delete's emptiness check and its queued delete see no object
    /// arrive in between.
    async fn bucket_content_lock(&self, bucket: &str) -> tokio::sync::MutexGuard<'_, ()> {
        self.name_lock(&format!("s3:{bucket}")).await
    }

    /// Under the name's lock, checked against the names in memory
    /// ([`crate::sqlite::Names`]), so that inside a stack operation it is queued behind
    /// with the operation's steps.
    async fn create_bucket_backend(&self, bucket: &BucketRecord) -> Result<(), StoreError> {
        let _w = self.name_lock(&format!("s3:{}", bucket.name)).await;
        if self.names().buckets.contains(&bucket.name) {
            return Err(StoreError::AlreadyExists);
        }
        let (statement, values) = insert_bucket(bucket);
        self.submit(crate::batch::Write::one(statement, values))
            .await?;
        self.names().buckets.insert(bucket.name.clone());
        drop(_w);
        self.durable().await
    }

    /// Under the bucket's name lock (which every write adding an object or an upload
    /// takes too): whether it exists (the names in memory) and is empty (one read), then
    /// the delete through the write combiner, queued behind inside a stack operation.
    async fn delete_bucket_backend(&self, name: &str) -> Result<(), StoreError> {
        let _w = self.name_lock(&format!("s3:{name}")).await;
        if !self.names().buckets.contains(name) {
            return Err(StoreError::NotFound);
        }
        let busy: i64 = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM s3_objects WHERE bucket = $1)
                 OR EXISTS (SELECT 1 FROM s3_uploads WHERE bucket = $1)",
        )
        .bind(name)
        // No wait for queued writes: objects and uploads are never queued behind (their
        // writes commit before they return), so the read connections already see them.
        .fetch_one(&self.read_pool)
        .await?;
        if busy != 0 {
            return Err(StoreError::Conflict);
        }
        self.submit(crate::batch::Write::one(
            "DELETE FROM s3_buckets WHERE name = {}",
            vec![crate::batch::Value::Text(name.to_owned())],
        ))
        .await?;
        self.names().buckets.remove(name);
        drop(_w);
        self.durable().await
    }
}
