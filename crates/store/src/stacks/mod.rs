//! The stack engine's [`StackStore`] on both SQL backends.
//!
//! Records are stored whole, as the engine's serde JSON documents, in the tables of
//! migration 0002 (`cfn_stacks`, `cfn_resources`, `cfn_events`, `cfn_change_sets`,
//! `cfn_exports`), keyed as the contract documents. Every method is one transaction, so a
//! record and the events that describe its change are committed together or not at all,
//! and nothing is acknowledged before it is committed (SQLite: WAL, flushed by group
//! commit, see [`crate::durable`]). One implementation serves both backends: the
//! statements use only SQL that SQLite and PostgreSQL share (`$n` placeholders, `ON
//! CONFLICT ... DO UPDATE`); the one difference, byte-order collation for `ORDER BY` on
//! PostgreSQL, is a macro argument. SQLite answers some reads from memory
//! (`crate::stack_cache`).

use async_trait::async_trait;
use sagestack_engine::model::{
    ChangeSetRecord, ExportRecord, ResourceRecord, StackEvent, StackRecord, StackStatus,
};
use sagestack_engine::store::{StackStore, StoreError};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sqlx::Row;

use crate::{PostgresStore, SqliteStore};

/// The engine's error for a database failure; an unreachable database says so in the
/// words the protocol layer answers `503 ServiceUnavailable` for (`crate::transient`).
fn db(e: sqlx::Error) -> StoreError {
    if crate::transient::unreachable(&e) {
        StoreError(crate::StoreError::from(e).to_string())
    } else {
        StoreError(e.to_string())
    }
}

/// The engine's error for a store that cannot hand out a connection.
fn conn(e: crate::StoreError) -> StoreError {
    StoreError(e.to_string())
}

/// The engine's error for a failed flush (see [`crate::durable`]).
fn flushed(r: Result<(), crate::StoreError>) -> Result<(), StoreError> {
    r.map_err(|e| StoreError(e.to_string()))
}

fn to_doc<T: Serialize>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError(format!("cannot serialize record: {e}")))
}

fn from_doc<T: DeserializeOwned>(s: &str) -> Result<T, StoreError> {
    serde_json::from_str(s).map_err(|e| StoreError(format!("stored record is unreadable: {e}")))
}

/// The record a `SELECT document ...` row holds (column 0): how every read of this
/// file turns a row back into its record, on either database.
fn row_doc<T: DeserializeOwned, R: Row>(row: &R) -> Result<T, StoreError>
where
    usize: sqlx::ColumnIndex<R>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    from_doc(&row.try_get::<String, _>(0).map_err(db)?)
}

/// Every record of a `SELECT document ...` answer (see [`row_doc`]), or the database's
/// error: the end of every list read in this file, on either database.
fn rows_docs<T: DeserializeOwned, R: Row>(
    rows: Result<Vec<R>, sqlx::Error>,
) -> Result<Vec<T>, StoreError>
where
    usize: sqlx::ColumnIndex<R>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    rows.map_err(db)?.iter().map(row_doc).collect()
}

/// Inserts each of `$events` in transaction `$tx`, one statement per event, returning the
/// engine's error on the first failure: both backends' `put_stack_if`; a macro, as the
/// transaction's database type differs.
macro_rules! insert_events {
    ($tx:ident, $events:expr) => {
        for e in $events {
            sqlx::query(writes::PG_INSERT_EVENT.as_str())
                .bind(&e.stack_id)
                .bind(seq(e)?)
                .bind(to_doc(e)?)
                .execute(&mut *$tx)
                .await
                .map_err(db)?;
        }
    };
}

fn seq(e: &StackEvent) -> Result<i64, StoreError> {
    i64::try_from(e.seq).map_err(|_| StoreError(format!("event seq {} out of range", e.seq)))
}

#[cfg(test)]
mod tests;
mod writes;

use writes::Upsert;

/// Implements [`StackStore`] for a backend (of sqlx database `$db`) whose pool is
/// `self.pool`; `$collate` is
/// appended to text sort keys (`COLLATE "C"` on PostgreSQL, so order is by bytes as
/// SQLite's default `BINARY` collation orders); `$resources_as_array` selects a stack's
/// resource documents (`$1`: the stack id) as one JSON array text, ordered by logical id;
/// `$put_if` is the compare-and-set of [`StackStore::put_stack_if`]: an `UPDATE` of the
/// document and `live` (`$1`, `$2`) of stack `$3` whose stored document's `revision`
/// (absent: 0) is `$4`. The revision lives in the JSON document, so the condition is a
/// JSON expression per dialect (no column to migrate and keep in step).
macro_rules! stack_store_impl {
    ($store:ty, $db:ty, $collate:literal, $resources_as_array:literal, $put_if:literal) => {
        /// The reads below that differ only in their SQL.
        impl $store {
            /// The record `sql` (a `SELECT document` filtered on `$1` = `key`) finds.
            async fn cfn_doc<T: DeserializeOwned>(
                &self,
                sql: &'static str,
                key: &str,
            ) -> Result<Option<T>, StoreError> {
                let row = sqlx::query(sql)
                    .bind(key)
                    .fetch_optional(self.reader().await.map_err(conn)?)
                    .await
                    .map_err(db)?;
                row.as_ref().map(row_doc).transpose()
            }

            /// Every record `sql` (a `SELECT document` filtered on `$1` = `key`) lists.
            async fn cfn_docs<T: DeserializeOwned>(
                &self,
                sql: &'static str,
                key: &str,
            ) -> Result<Vec<T>, StoreError> {
                let reader = self.reader().await.map_err(conn)?;
                rows_docs(sqlx::query(sql).bind(key).fetch_all(reader).await)
            }

            /// Before a write of `stack_id`'s record that the cache takes after its commit
            /// ([`stack_written`](Self::stack_written)): see `StackCache::forget`.
            fn stack_writing(&self, stack_id: &str) {
                if let Some(cache) = self.stack_cache() {
                    cache.forget(stack_id);
                }
            }

            /// Once `stack`'s write has committed: the stack cache takes the record, then
            /// the write is flushed. Shared by `put_stack` and `put_stack_if`, so the cache
            /// is updated after the commit and before the acknowledgement on both paths.
            async fn stack_written(&self, stack: &StackRecord) -> Result<(), StoreError> {
                if let Some(cache) = self.stack_cache() {
                    cache.put(stack);
                }
                flushed(self.durable().await)
            }

            /// A transaction on the writer connection (once every write queued before it
            /// has committed).
            async fn write_transaction(&self) -> Result<sqlx::Transaction<'_, $db>, StoreError> {
                self.writer().await.map_err(conn)?.begin().await.map_err(db)
            }

            /// Runs one change set write (`sql` with `binds` as `$1..`) on the writer
            /// connection, then flushes. Shared by `put_change_set` and
            /// `delete_change_set`, which differ only in their statement.
            async fn cfn_exec(&self, sql: &'static str, binds: &[&str]) -> Result<(), StoreError> {
                let mut query = sqlx::query(sql);
                for value in binds {
                    query = query.bind(*value);
                }
                query
                    .execute(self.writer().await.map_err(conn)?)
                    .await
                    .map_err(db)?;
                flushed(self.durable().await)
            }
        }

        #[async_trait]
        impl StackStore for $store {
            async fn put_stack(
                &self,
                stack: &StackRecord,
                events: &[StackEvent],
            ) -> Result<(), StoreError> {
                let record = Upsert::of(stack)?;
                self.stack_writing(&stack.stack_id);
                self.upsert_with_events(Some(record), events).await?;
                self.stack_written(stack).await
            }

            async fn put_stack_step(
                &self,
                stack: &StackRecord,
                events: &[StackEvent],
            ) -> Result<(), StoreError> {
                if self.queue_stack_step(stack, events).await? {
                    return Ok(());
                }
                StackStore::put_stack(self, stack, events).await
            }

            async fn put_stack_if(
                &self,
                stack: &StackRecord,
                events: &[StackEvent],
                expected: u64,
            ) -> Result<bool, StoreError> {
                if let Some(won) = self.admit_in_memory(stack, events, expected).await? {
                    return Ok(won);
                }
                let expected = i64::try_from(expected)
                    .map_err(|_| StoreError(format!("revision {expected} out of range")))?;
                self.stack_writing(&stack.stack_id);
                // Outside the write combiner: the answer (written or not) is needed now, and
                // `writer` first lets every write queued before this one commit.
                let mut tx = self.write_transaction().await?;
                let written = sqlx::query($put_if)
                    .bind(to_doc(stack)?)
                    .bind(i32::from(stack.status != StackStatus::DeleteComplete))
                    .bind(&stack.stack_id)
                    .bind(expected)
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?
                    .rows_affected()
                    == 1;
                if !written {
                    return Ok(false);
                }
                insert_events!(tx, events);
                tx.commit().await.map_err(db)?;
                self.stack_written(stack).await?;
                Ok(true)
            }

            async fn find_live_stack(
                &self,
                stack_name: &str,
            ) -> Result<Option<StackRecord>, StoreError> {
                if let Some(cache) = self.stack_cache() {
                    return match cache.live_id(stack_name) {
                        Some(id) => self.get_stack(&id).await,
                        None => Ok(None),
                    };
                }
                let sql = "SELECT document FROM cfn_stacks WHERE stack_name = $1 AND live = 1
                     ORDER BY ord DESC LIMIT 1";
                self.cfn_doc(sql, stack_name).await
            }

            async fn get_stack(&self, stack_id: &str) -> Result<Option<StackRecord>, StoreError> {
                if let Some(stack) = self.stack_cache().and_then(|c| c.get(stack_id)) {
                    return Ok(Some(stack));
                }
                let sql = "SELECT document FROM cfn_stacks WHERE stack_id = $1";
                self.cfn_doc(sql, stack_id).await
            }

            async fn list_stacks(&self) -> Result<Vec<StackRecord>, StoreError> {
                let sql = "SELECT document FROM cfn_stacks ORDER BY ord";
                let reader = self.reader().await.map_err(conn)?;
                rows_docs(sqlx::query(sql).fetch_all(reader).await)
            }

            async fn put_resource(
                &self,
                resource: &ResourceRecord,
                events: &[StackEvent],
            ) -> Result<(), StoreError> {
                let record = Upsert::Resource {
                    stack_id: &resource.stack_id,
                    logical_id: &resource.logical_id,
                    document: to_doc(resource)?,
                };
                self.upsert_with_events(Some(record), events).await?;
                flushed(self.durable().await)
            }

            async fn delete_resource(
                &self,
                stack_id: &str,
                logical_id: &str,
            ) -> Result<(), StoreError> {
                self.delete_resource_row(stack_id, logical_id).await?;
                flushed(self.durable().await)
            }

            async fn list_resources(
                &self,
                stack_id: &str,
            ) -> Result<Vec<ResourceRecord>, StoreError> {
                // One row holding every document as a JSON array: a stack's 500 resources
                // as one result, not 500 (sqlx hands each row across threads).
                let all: String = sqlx::query_scalar($resources_as_array)
                    .bind(stack_id)
                    .fetch_one(self.reader().await.map_err(conn)?)
                    .await
                    .map_err(db)?;
                from_doc(&all)
            }

            async fn append_events(&self, events: &[StackEvent]) -> Result<(), StoreError> {
                self.upsert_with_events(None, events).await?;
                flushed(self.durable().await)
            }

            async fn list_events(
                &self,
                stack_id: &str,
                before_seq: Option<u64>,
                limit: usize,
            ) -> Result<Vec<StackEvent>, StoreError> {
                let before = before_seq.map_or(i64::MAX, |b| i64::try_from(b).unwrap_or(i64::MAX));
                let limit = i64::try_from(limit).unwrap_or(i64::MAX);
                let rows = sqlx::query(
                    "SELECT document FROM cfn_events WHERE stack_id = $1 AND seq < $2
                     ORDER BY seq DESC LIMIT $3",
                )
                .bind(stack_id)
                .bind(before)
                .bind(limit)
                .fetch_all(self.reader().await.map_err(conn)?)
                .await;
                rows_docs(rows)
            }

            async fn put_change_set(&self, change_set: &ChangeSetRecord) -> Result<(), StoreError> {
                let sql = "INSERT INTO cfn_change_sets (change_set_id, stack_id, document)
                     VALUES ($1, $2, $3) ON CONFLICT (change_set_id) DO UPDATE
                     SET stack_id = excluded.stack_id, document = excluded.document";
                let doc = to_doc(change_set)?;
                if let Some(cache) = self.stack_cache() {
                    cache.note_change_set(&change_set.stack_id);
                }
                self.cfn_exec(
                    sql,
                    &[&change_set.change_set_id, &change_set.stack_id, &doc],
                )
                .await
            }

            async fn get_change_set(
                &self,
                change_set_id: &str,
            ) -> Result<Option<ChangeSetRecord>, StoreError> {
                let sql = "SELECT document FROM cfn_change_sets WHERE change_set_id = $1";
                self.cfn_doc(sql, change_set_id).await
            }

            async fn list_change_sets(
                &self,
                stack_id: &str,
            ) -> Result<Vec<ChangeSetRecord>, StoreError> {
                if self
                    .stack_cache()
                    .is_some_and(|c| !c.may_have_change_sets(stack_id))
                {
                    return Ok(Vec::new());
                }
                let sql = "SELECT document FROM cfn_change_sets WHERE stack_id = $1 ORDER BY ord";
                self.cfn_docs(sql, stack_id).await
            }

            async fn unfinished_change_sets(&self) -> Result<Vec<ChangeSetRecord>, StoreError> {
                // The documents are compact JSON (`to_doc`): the patterns find every
                // change set in those statuses (and, harmlessly, any other document
                // holding the same text); the parsed status decides.
                let sql = "SELECT document FROM cfn_change_sets
                     WHERE document LIKE '%\"status\":\"CREATE_PENDING\"%'
                        OR document LIKE '%\"status\":\"CREATE_IN_PROGRESS\"%'
                     ORDER BY ord";
                let reader = self.reader().await.map_err(conn)?;
                let sets: Vec<ChangeSetRecord> =
                    rows_docs(sqlx::query(sql).fetch_all(reader).await)?;
                Ok(sets
                    .into_iter()
                    .filter(|c| c.status.is_creating())
                    .collect())
            }

            async fn delete_change_sets(&self, stack_id: &str) -> Result<(), StoreError> {
                self.delete_change_set_rows(stack_id).await?;
                if let Some(cache) = self.stack_cache() {
                    cache.forget_change_sets(stack_id);
                }
                flushed(self.durable().await)
            }

            async fn delete_change_set(&self, change_set_id: &str) -> Result<(), StoreError> {
                let sql = "DELETE FROM cfn_change_sets WHERE change_set_id = $1";
                self.cfn_exec(sql, &[change_set_id]).await
            }

            async fn put_exports(
                &self,
                stack_id: &str,
                exports: &[ExportRecord],
            ) -> Result<(), StoreError> {
                if exports.is_empty() && self.stack_cache().is_some_and(|c| !c.exports_of(stack_id))
                {
                    // Nothing to remove and nothing to add (most stacks export nothing).
                    return Ok(());
                }
                let mut tx = self.write_transaction().await?;
                sqlx::query("DELETE FROM cfn_exports WHERE stack_id = $1")
                    .bind(stack_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?;
                for e in exports {
                    sqlx::query(
                        "INSERT INTO cfn_exports (name, value, stack_id) VALUES ($1, $2, $3)
                         ON CONFLICT (name) DO UPDATE
                         SET value = excluded.value, stack_id = excluded.stack_id",
                    )
                    .bind(&e.name)
                    .bind(&e.value)
                    .bind(&e.exporting_stack_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?;
                }
                tx.commit().await.map_err(db)?;
                if let Some(cache) = self.stack_cache() {
                    cache.put_exports(stack_id, exports);
                }
                flushed(self.durable().await)
            }

            async fn list_exports(&self) -> Result<Vec<ExportRecord>, StoreError> {
                if let Some(cache) = self.stack_cache() {
                    return Ok(cache.exports());
                }
                let rows = sqlx::query(concat!(
                    "SELECT name, value, stack_id FROM cfn_exports ORDER BY name",
                    $collate
                ))
                .fetch_all(self.reader().await.map_err(conn)?)
                .await
                .map_err(db)?;
                rows.iter()
                    .map(|r| {
                        Ok(ExportRecord {
                            name: r.try_get(0).map_err(db)?,
                            value: r.try_get(1).map_err(db)?,
                            exporting_stack_id: r.try_get(2).map_err(db)?,
                        })
                    })
                    .collect()
            }

            async fn sync(&self) -> Result<(), StoreError> {
                flushed(self.flush().await)
            }
        }
    };
}

stack_store_impl!(
    SqliteStore,
    sqlx::Sqlite,
    "",
    // The documents are JSON this store wrote: joined as text, not parsed again by
    // SQLite's `json()` (which at 500 resources took most of this read's time).
    "SELECT '[' || COALESCE(group_concat(document, ',' ORDER BY logical_id), '') || ']'
     FROM cfn_resources WHERE stack_id = $1",
    "UPDATE cfn_stacks SET document = $1, live = $2
     WHERE stack_id = $3 AND COALESCE(json_extract(document, '$.revision'), 0) = $4"
);
stack_store_impl!(
    PostgresStore,
    sqlx::Postgres,
    " COLLATE \"C\"",
    "SELECT COALESCE(json_agg(document::json ORDER BY logical_id COLLATE \"C\"), '[]')::text
     FROM cfn_resources WHERE stack_id = $1",
    "UPDATE cfn_stacks SET document = $1, live = $2
     WHERE stack_id = $3 AND COALESCE((document::jsonb ->> 'revision')::bigint, 0) = $4"
);
