//! The one SQL implementation of [`ObjectStore`](super::ObjectStore) for both
//! backends, written once as a macro over the store type and the few clauses that differ
//! (row locks, collation). Never decides a backend's bucket lifecycle (`backends`).

/// `$share` / `$update` are the row-lock clauses (empty on SQLite, whose one connection
/// serialises every transaction); `$collate` makes text order bytewise.
macro_rules! object_store_impl {
    ($store:ty, $share:literal, $update:literal, $collate:literal) => {
        impl $store {
            /// The first column of the row `sql` selects for `id`, locking that row for the
            /// transaction: `sql` is the statement with the shared and with the exclusive
            /// lock clause, in that order.
            async fn lock_row(
                conn: &mut <<$store as crate::objects::Backend>::Db as sqlx::Database>::Connection,
                sql: [&'static str; 2],
                id: &str,
                exclusive: bool,
            ) -> Result<Option<String>, StoreError> {
                Ok(sqlx::query_scalar(sql[usize::from(exclusive)])
                    .bind(id)
                    .fetch_optional(&mut *conn)
                    .await?)
            }

            /// True when the bucket exists, locking its row for the transaction.
            async fn lock_bucket(
                conn: &mut <<$store as crate::objects::Backend>::Db as sqlx::Database>::Connection,
                name: &str,
                exclusive: bool,
            ) -> Result<bool, StoreError> {
                const SQL: [&str; 2] = [
                    concat!("SELECT name FROM s3_buckets WHERE name = $1", $share),
                    concat!("SELECT name FROM s3_buckets WHERE name = $1", $update),
                ];
                Ok(Self::lock_row(conn, SQL, name, exclusive).await?.is_some())
            }

            /// The upload's bucket when it exists, locking its row for the transaction.
            async fn lock_upload(
                conn: &mut <<$store as crate::objects::Backend>::Db as sqlx::Database>::Connection,
                upload_id: &str,
                exclusive: bool,
            ) -> Result<Option<String>, StoreError> {
                const SQL: [&str; 2] = [
                    concat!("SELECT bucket FROM s3_uploads WHERE upload_id = $1", $share),
                    concat!("SELECT bucket FROM s3_uploads WHERE upload_id = $1", $update),
                ];
                Self::lock_row(conn, SQL, upload_id, exclusive).await
            }

            /// A write transaction on `bucket`, its row locked shared (`NotFound` when the
            /// bucket does not exist): what every object and upload write starts with.
            async fn bucket_tx(
                &self,
                bucket: &str,
            ) -> Result<sqlx::Transaction<'static, <$store as crate::objects::Backend>::Db>, StoreError> {
                let mut tx = self.writer().await?.begin().await?;
                if !Self::lock_bucket(&mut tx, bucket, false).await? {
                    return Err(StoreError::NotFound);
                }
                Ok(tx)
            }

            /// A write transaction on an upload, its row locked shared (`NotFound` when
            /// the upload does not exist): what every part read or write starts with.
            async fn upload_tx(
                &self,
                upload_id: &str,
            ) -> Result<sqlx::Transaction<'static, <$store as crate::objects::Backend>::Db>, StoreError> {
                let mut tx = self.writer().await?.begin().await?;
                if Self::lock_upload(&mut tx, upload_id, false).await?.is_none() {
                    return Err(StoreError::NotFound);
                }
                Ok(tx)
            }

            /// Removes an upload and its parts (completed or aborted).
            async fn drop_upload(
                conn: &mut <<$store as crate::objects::Backend>::Db as sqlx::Database>::Connection,
                upload_id: &str,
            ) -> Result<(), StoreError> {
                sqlx::query("DELETE FROM s3_parts WHERE upload_id = $1")
                    .bind(upload_id)
                    .execute(&mut *conn)
                    .await?;
                sqlx::query("DELETE FROM s3_uploads WHERE upload_id = $1")
                    .bind(upload_id)
                    .execute(&mut *conn)
                    .await?;
                Ok(())
            }

            /// The row of `sql` (object columns first) for `bucket`/`key`, joined from the
            /// bucket in one round trip: `NotFound` without the bucket, `None` without the
            /// key (the bucket row comes back with the object's columns NULL).
            async fn object_row(
                conn: &mut <<$store as crate::objects::Backend>::Db as sqlx::Database>::Connection,
                sql: &'static str,
                bucket: &str,
                key: &str,
            ) -> Result<Option<<<$store as crate::objects::Backend>::Db as sqlx::Database>::Row>, StoreError> {
                let row = sqlx::query(sql)
                    .bind(bucket)
                    .bind(key)
                    .fetch_optional(&mut *conn)
                    .await?;
                let Some(row) = row else {
                    return Err(StoreError::NotFound);
                };
                if row.try_get::<Option<String>, _>(0)?.is_none() {
                    return Ok(None);
                }
                Ok(Some(row))
            }

            /// Lets go of what carrying `size` bytes of bodies left in a pooled connection:
            /// closes it on release when it read a large body (`CLOSE_AFTER_LARGE_READS`).
            fn release_after_read(
                conn: &mut sqlx::pool::PoolConnection<<$store as crate::objects::Backend>::Db>,
                size: usize,
            ) {
                if size >= crate::objects::LARGE_BODY
                    && <$store as crate::objects::Backend>::CLOSE_AFTER_LARGE_READS
                {
                    conn.close_on_drop();
                }
            }

            /// `body` is bound by value: sqlx copies a borrowed slice before sending it to
            /// the database, an owned `Vec` it takes as it is (one body-sized copy less).
            /// The connection's write buffer, grown to the body's size, shrinks back
            /// afterwards (a pooled connection would keep it: see `Backend`).
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
                sqlx::Connection::shrink_buffers(conn);
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
                // Through `reader`: a stack's bucket is created queued behind, and a
                // listing after the stack's answer must show it.
                let rows = sqlx::query(concat!(
                    "SELECT name, region, creation_micros, document FROM s3_buckets ORDER BY name",
                    $collate
                ))
                .fetch_all(self.reader().await?)
                .await?;
                rows.iter().map(bucket_from_row).collect()
            }

            async fn delete_bucket(&self, name: &str) -> Result<(), StoreError> {
                self.delete_bucket_backend(name).await
            }

            async fn put_object(&self, meta: &ObjectMeta, body: Bytes) -> Result<(), StoreError> {
                let _content = self.bucket_content_lock(&meta.bucket).await;
                let mut tx = self.bucket_tx(&meta.bucket).await?;
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
                let sql = "SELECT o.bucket, o.key, o.size, o.etag, o.last_modified_micros, o.document, o.body
                     FROM s3_buckets b LEFT JOIN s3_objects o ON o.bucket = b.name AND o.key = $2
                     WHERE b.name = $1";
                let mut conn = self.read_pool.acquire().await?;
                let Some(row) = Self::object_row(&mut conn, sql, bucket, key).await? else {
                    return Ok(None);
                };
                let meta = meta_from_row(&row, 0)?;
                let body: Vec<u8> = row.try_get(6)?;
                Self::release_after_read(&mut conn, body.len());
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
                let sql = "SELECT o.bucket, o.key, o.size, o.etag, o.last_modified_micros, o.document
                     FROM s3_buckets b LEFT JOIN s3_objects o ON o.bucket = b.name AND o.key = $2
                     WHERE b.name = $1";
                match Self::object_row(&mut *self.read_pool.acquire().await?, sql, bucket, key).await? {
                    Some(row) => meta_from_row(&row, 0).map(Some),
                    None => Ok(None),
                }
            }

            async fn delete_object(&self, bucket: &str, key: &str) -> Result<bool, StoreError> {
                let mut tx = self.bucket_tx(bucket).await?;
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

            async fn list_objects(&self, range: KeyRange<'_>) -> Result<ObjectPage, StoreError> {
                let KeyRange { bucket, prefix, after, limit } = range;
                let mut tx = self.bucket_tx(bucket).await?;
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
                let mut tx = self.bucket_tx(&upload.bucket).await?;
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
                let mut tx = self.bucket_tx(bucket).await?;
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
                let mut tx = self.upload_tx(upload_id).await?;
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
                // As after `upsert_object`: the write buffer does not stay body-sized.
                sqlx::Connection::shrink_buffers(&mut *tx);
                tx.commit().await?;
                self.durable().await
            }

            async fn list_parts(&self, upload_id: &str) -> Result<Vec<PartRecord>, StoreError> {
                let mut tx = self.upload_tx(upload_id).await?;
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
                // On a connection of its own, not the pool's: closed after large parts.
                let mut conn = self.writer().await?.acquire().await?;
                let mut tx = sqlx::Connection::begin(&mut *conn).await?;
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
                let size = bodies.iter().flatten().map(Bytes::len).max().unwrap_or(0);
                Self::release_after_read(&mut conn, size);
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
                Self::drop_upload(&mut tx, upload_id).await?;
                tx.commit().await?;
                self.durable().await
            }

            async fn abort_upload(&self, upload_id: &str) -> Result<bool, StoreError> {
                let mut tx = self.writer().await?.begin().await?;
                if Self::lock_upload(&mut tx, upload_id, true).await?.is_none() {
                    return Ok(false);
                }
                Self::drop_upload(&mut tx, upload_id).await?;
                tx.commit().await?;
                self.durable().await?;
                Ok(true)
            }
        }
    };
}

pub(super) use object_store_impl;
