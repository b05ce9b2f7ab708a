//! What differs between the backends for S3: creating and deleting a bucket (through
//! the write combiner and the names in memory on SQLite, row locks on PostgreSQL) and
//! the lock that orders object writes against a bucket's delete. Never reads or writes
//! objects: that is the shared implementation's (`sql`).

use super::*;

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
    pub(super) async fn bucket_content_lock(&self, _bucket: &str) {}

    pub(super) async fn create_bucket_backend(
        &self,
        bucket: &BucketRecord,
    ) -> Result<(), StoreError> {
        let (statement, values) = insert_bucket(bucket);
        self.write_one(statement, values).await?;
        self.durable().await
    }

    pub(super) async fn delete_bucket_backend(&self, name: &str) -> Result<(), StoreError> {
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

static BUCKET_DELETES: crate::batch::SharedRows =
    crate::batch::shared_delete!("s3_buckets", "name");

impl SqliteStore {
    /// Taken by every write that adds an object or an upload to `bucket`: the bucket's
    /// name lock, so a delete's emptiness check and its queued delete see no object
    /// arrive in between.
    /// The bucket is no longer known empty from here on (see
    /// [`crate::sqlite::Names::empty_buckets`]).
    pub(super) async fn bucket_content_lock(
        &self,
        bucket: &str,
    ) -> tokio::sync::MutexGuard<'_, ()> {
        let lock = self.name_lock(&format!("s3:{bucket}")).await;
        self.names().empty_buckets.remove(bucket);
        lock
    }

    /// Under the name's lock, checked against the names in memory
    /// ([`crate::sqlite::Names`]), so that inside a stack operation it is queued behind
    /// with the operation's steps.
    pub(super) async fn create_bucket_backend(
        &self,
        bucket: &BucketRecord,
    ) -> Result<(), StoreError> {
        let _w = self.name_lock(&format!("s3:{}", bucket.name)).await;
        if self.names().buckets.contains(&bucket.name) {
            return Err(StoreError::AlreadyExists);
        }
        let (statement, values) = insert_bucket(bucket);
        self.submit(crate::batch::Write::one(statement, values))
            .await?;
        {
            let mut names = self.names();
            names.buckets.insert(bucket.name.clone());
            names.empty_buckets.insert(bucket.name.clone());
        }
        drop(_w);
        self.durable().await
    }

    /// Under the bucket's name lock (which every write adding an object or an upload
    /// takes too): whether it exists (the names in memory) and is empty (known from
    /// memory, else one read), then the delete through the write combiner, queued behind
    /// inside a stack operation.
    pub(super) async fn delete_bucket_backend(&self, name: &str) -> Result<(), StoreError> {
        let _w = self.name_lock(&format!("s3:{name}")).await;
        let known_empty = {
            let names = self.names();
            if !names.buckets.contains(name) {
                return Err(StoreError::NotFound);
            }
            names.empty_buckets.contains(name)
        };
        let busy: i64 = if known_empty {
            0
        } else {
            sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM s3_objects WHERE bucket = $1)
                 OR EXISTS (SELECT 1 FROM s3_uploads WHERE bucket = $1)",
            )
            .bind(name)
            // No wait for queued writes: objects and uploads are never queued behind (their
            // writes commit before they return), so the read connections already see them.
            .fetch_one(&self.read_pool)
            .await?
        };
        if busy != 0 {
            return Err(StoreError::Conflict);
        }
        // A shared delete (one statement for a batch's buckets): allowed on a table that
        // objects and uploads reference because this bucket is empty under its lock.
        self.submit(crate::batch::Write::shared(vec![(
            &BUCKET_DELETES,
            vec![crate::batch::Value::Text(name.to_owned())],
        )]))
        .await?;
        {
            let mut names = self.names();
            names.buckets.remove(name);
            names.empty_buckets.remove(name);
        }
        drop(_w);
        self.durable().await
    }
}
