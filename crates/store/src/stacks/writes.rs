//! The engine's hot writes on each backend: a stack or resource record together with
//! the events describing its change (one transaction on PostgreSQL, the write batcher on
//! SQLite), and the deletes that go the same way. The rest of [`StackStore`] is in the
//! parent module, shared by both backends.
//!
//! [`StackStore`]: sagestack_engine::store::StackStore

use sagestack_engine::model::{StackEvent, StackRecord, StackStatus};
use sagestack_engine::store::StoreError;

use super::{conn, db, flushed, seq, to_doc};
use crate::batch::numbered;
use crate::transient::retrying;
use crate::{PostgresStore, SqliteStore};

/// The record half of the engine's hot writes (a record and the events describing its
/// change, committed together).
pub(super) enum Upsert<'a> {
    Stack {
        stack_id: &'a str,
        document: String,
        stack_name: &'a str,
        live: bool,
    },
    Resource {
        stack_id: &'a str,
        logical_id: &'a str,
        document: String,
    },
}

impl<'a> Upsert<'a> {
    /// A stack record's row: its document, and whether the stack is live (its name
    /// taken).
    pub(super) fn of(stack: &'a StackRecord) -> Result<Self, StoreError> {
        Ok(Upsert::Stack {
            stack_id: &stack.stack_id,
            document: to_doc(stack)?,
            stack_name: &stack.stack_name,
            live: stack.status != StackStatus::DeleteComplete,
        })
    }
}

// The hot writes' SQL, written once with `{}` where each parameter goes: SQLite's write
// combiner numbers them across a whole batch, PostgreSQL numbers them per statement
// ([`numbered`]).
const UPSERT_STACK: &str = "INSERT INTO cfn_stacks (stack_id, document, stack_name, live)
     VALUES ({}, {}, {}, {})
     ON CONFLICT (stack_id) DO UPDATE SET document = excluded.document,
         stack_name = excluded.stack_name, live = excluded.live";
const UPSERT_RESOURCE: &str = "INSERT INTO cfn_resources (stack_id, logical_id, document)
     VALUES ({}, {}, {})
     ON CONFLICT (stack_id, logical_id) DO UPDATE SET document = excluded.document";
const DELETE_RESOURCE: &str = "DELETE FROM cfn_resources WHERE stack_id = {} AND logical_id = {}";
const DELETE_CHANGE_SETS: &str = "DELETE FROM cfn_change_sets WHERE stack_id = {}";
const INSERT_EVENTS: &str = "INSERT INTO cfn_events (stack_id, seq, document) VALUES ";
const EVENT_ROW: &str = "({}, {}, {})";
const EVENTS_CONFLICT: &str =
    " ON CONFLICT (stack_id, seq) DO UPDATE SET document = excluded.document";

/// SQLite's shared multi-row forms of [`UPSERT_RESOURCE`] and the event insert.
static RESOURCE_ROWS: crate::batch::SharedRows = crate::batch::SharedRows {
    table: "cfn_resources",
    head: "INSERT INTO cfn_resources (stack_id, logical_id, document) VALUES ",
    arity: 3,
    tail: " ON CONFLICT (stack_id, logical_id) DO UPDATE SET document = excluded.document",
};
static EVENT_ROWS: crate::batch::SharedRows = crate::batch::SharedRows {
    table: "cfn_events",
    head: INSERT_EVENTS,
    arity: 3,
    tail: EVENTS_CONFLICT,
};

static PG_UPSERT_STACK: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| numbered(UPSERT_STACK));
static PG_UPSERT_RESOURCE: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| numbered(UPSERT_RESOURCE));
static PG_DELETE_RESOURCE: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| numbered(DELETE_RESOURCE));
static PG_DELETE_CHANGE_SETS: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| numbered(DELETE_CHANGE_SETS));
pub(super) static PG_INSERT_EVENT: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| numbered(&format!("{INSERT_EVENTS}{EVENT_ROW}{EVENTS_CONFLICT}")));

impl PostgresStore {
    /// One transaction: the record (if any), then the events; run again when PostgreSQL
    /// rolls it back for a deadlock or a serialization failure (`crate::transient`).
    pub(super) async fn upsert_with_events(
        &self,
        record: Option<Upsert<'_>>,
        events: &[StackEvent],
    ) -> Result<(), StoreError> {
        let rows = events
            .iter()
            .map(|e| Ok((e.stack_id.as_str(), seq(e)?, to_doc(e)?)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        let (record, rows) = (&record, &rows);
        retrying::<(), StoreError, _, _>("stack write", || async move {
            let mut tx = self.pool.begin().await?;
            match record {
                Some(Upsert::Stack {
                    stack_id,
                    document,
                    stack_name,
                    live,
                }) => {
                    sqlx::query(PG_UPSERT_STACK.as_str())
                        .bind(*stack_id)
                        .bind(document.as_str())
                        .bind(*stack_name)
                        .bind(i32::from(*live))
                        .execute(&mut *tx)
                        .await?;
                }
                Some(Upsert::Resource {
                    stack_id,
                    logical_id,
                    document,
                }) => {
                    sqlx::query(PG_UPSERT_RESOURCE.as_str())
                        .bind(*stack_id)
                        .bind(*logical_id)
                        .bind(document.as_str())
                        .execute(&mut *tx)
                        .await?;
                }
                None => {}
            }
            for (stack_id, seq, document) in rows {
                sqlx::query(PG_INSERT_EVENT.as_str())
                    .bind(*stack_id)
                    .bind(*seq)
                    .bind(document.as_str())
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok(())
        })
        .await
        .map_err(|a| a.into_error(db))
    }

    pub(super) async fn delete_resource_row(
        &self,
        stack_id: &str,
        logical_id: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(PG_DELETE_RESOURCE.as_str())
            .bind(stack_id)
            .bind(logical_id)
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(())
    }

    pub(super) async fn delete_change_set_rows(&self, stack_id: &str) -> Result<(), StoreError> {
        sqlx::query(PG_DELETE_CHANGE_SETS.as_str())
            .bind(stack_id)
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(())
    }
}

impl PostgresStore {
    /// Never queued on PostgreSQL, whose writes are each a transaction of their own.
    pub(super) async fn queue_stack_step(
        &self,
        _stack: &StackRecord,
        _events: &[StackEvent],
    ) -> Result<bool, StoreError> {
        Ok(false)
    }

    /// Never decided in memory on PostgreSQL: other replicas write the same stacks.
    pub(super) async fn admit_in_memory(
        &self,
        _stack: &StackRecord,
        _events: &[StackEvent],
        _expected: u64,
    ) -> Result<Option<bool>, StoreError> {
        Ok(None)
    }
}

impl SqliteStore {
    /// The same as PostgreSQL's, through the write batcher ([`crate::batch`]): this
    /// write (the upsert, then its events) joins whatever other writes are waiting in one
    /// `BEGIN..COMMIT` query, one round trip to SQLite's connection thread for all of
    /// them, and its resource and event rows join the batch's shared multi-row inserts
    /// ([`crate::batch::SharedRows`]). sqlx runs each SQLite statement on the connection's
    /// worker thread and sends each statement's result back: with one transaction per
    /// write (four round trips), then with two statements per write, those thread
    /// wake-ups were most of a stack operation's time (perf: `futex`, not SQL).
    pub(super) async fn upsert_with_events(
        &self,
        record: Option<Upsert<'_>>,
        events: &[StackEvent],
    ) -> Result<(), StoreError> {
        let stack_record = matches!(record, Some(Upsert::Stack { .. }));
        let Some(write) = stack_write(record, events)? else {
            return Ok(());
        };
        if stack_record {
            // A stack's status is served from memory as soon as it is written, so it is
            // committed before anyone can see it (a `kill -9` cannot take back a terminal
            // status a client saw); it is one write per phase.
            return self
                .batcher
                .write(write)
                .await
                .map_err(|e| StoreError(e.message));
        }
        self.submit(write).await.map_err(conn)
    }

    /// `put_stack_step` inside a deferred scope: the status a phase of an operation
    /// starts under (a new stack's first one included) is queued behind the steps of the
    /// phase before it, so that both phases' writes commit together where they used to
    /// be two commits, the first one waited for (an update's cleanup; with the
    /// admission's saving below, a 10-resource update 20-23% faster,
    /// docs/benchmarks/stacks-rounds.md, "Tenth round"). The stack cache forgets the
    /// record until a later write of it commits: until then readers read the database,
    /// behind the queue, so none sees the status before it commits. Whether it was queued
    /// (`false`: not deferred, the caller writes it as `put_stack` does).
    pub(super) async fn queue_stack_step(
        &self,
        stack: &StackRecord,
        events: &[StackEvent],
    ) -> Result<bool, StoreError> {
        if !sagestack_engine::durability::is_deferred() {
            return Ok(false);
        }
        if let Some(cache) = self.stack_cache() {
            // A new stack's name is taken now (its create holds the name's lock until
            // this returns): a by-name lookup then finds its id and reads the record
            // from the database, once committed.
            cache.forget_record_keep_name(stack);
        }
        self.submit_stack(stack, events).await?;
        Ok(true)
    }

    /// `stack`'s record and `events` through the combiner ([`SqliteStore::submit`]):
    /// queued behind inside a deferred scope, else committed before this returns.
    async fn submit_stack(
        &self,
        stack: &StackRecord,
        events: &[StackEvent],
    ) -> Result<(), StoreError> {
        if let Some(write) = stack_write(Some(Upsert::of(stack)?), events)? {
            self.submit(write).await.map_err(conn)?;
        }
        Ok(())
    }

    /// `put_stack_if` decided by the stack cache ([`StackCache::compare_and_put`]) when it
    /// can tell, `None` when the database must. One process owns the data directory and
    /// every write of a stack record goes through that cache, so the revision it keeps is
    /// the stack's latest. A won admission's write is then queued like an operation step
    /// ([`SqliteStore::submit`]): inside a deferred scope (an operation the caller waits
    /// for) it commits with the operation's first steps and is flushed by its end;
    /// otherwise it is committed and flushed before this returns. Either way nothing is
    /// acknowledged before it is durable. Deciding it in the database instead was a
    /// transaction of its own on sqlx's thread (five round trips to it) before the
    /// operation could start: 7-8% of a 10-resource update and 10-15% of a delete
    /// (docs/benchmarks/stacks-rounds.md, "Tenth round").
    ///
    /// The admitted record (an `*_IN_PROGRESS` status) is served from the cache before it
    /// commits. A `kill -9` before that commit takes it back, and the stack is as it was:
    /// the operation's caller had no answer yet, and nothing ran that recovery would have
    /// to finish.
    ///
    /// [`StackCache::compare_and_put`]: crate::stack_cache::StackCache::compare_and_put
    pub(super) async fn admit_in_memory(
        &self,
        stack: &StackRecord,
        events: &[StackEvent],
        expected: u64,
    ) -> Result<Option<bool>, StoreError> {
        use crate::stack_cache::Cas;
        let Some(cache) = self.stack_cache() else {
            return Ok(None);
        };
        let previous = match cache.compare_and_put(stack, expected) {
            Cas::Unknown => return Ok(None),
            Cas::Lost => return Ok(Some(false)),
            Cas::Won(previous) => previous,
        };
        let written = async {
            self.submit_stack(stack, events).await?;
            flushed(self.durable().await)
        };
        if let Err(e) = written.await {
            cache.undo(stack, &previous);
            return Err(e);
        }
        Ok(Some(true))
    }

    pub(super) async fn delete_resource_row(
        &self,
        stack_id: &str,
        logical_id: &str,
    ) -> Result<(), StoreError> {
        use crate::batch::{Value, Write};
        self.submit(Write::one(
            DELETE_RESOURCE,
            vec![
                Value::Text(stack_id.to_owned()),
                Value::Text(logical_id.to_owned()),
            ],
        ))
        .await
        .map_err(conn)
    }

    /// Through the write batcher, as `delete_resource_row`: inside a stack operation it
    /// is queued with the operation's other writes.
    pub(super) async fn delete_change_set_rows(&self, stack_id: &str) -> Result<(), StoreError> {
        use crate::batch::{Value, Write};
        self.submit(Write::one(
            DELETE_CHANGE_SETS,
            vec![Value::Text(stack_id.to_owned())],
        ))
        .await
        .map_err(conn)
    }
}

/// The write combiner's form of a record and its events ([`crate::batch::Write`]): the
/// record's row (a stack's as a statement of its own, a resource's among the batch's
/// shared rows), then the events among theirs. `None` when there is nothing to write.
fn stack_write(
    record: Option<Upsert<'_>>,
    events: &[StackEvent],
) -> Result<Option<crate::batch::Write>, StoreError> {
    use crate::batch::{Value, Write};
    let mut write = Write::shared(Vec::with_capacity(2));
    match record {
        Some(Upsert::Stack {
            stack_id,
            document,
            stack_name,
            live,
        }) => {
            write.statements.push((UPSERT_STACK.to_string(), 4));
            write.values.extend([
                Value::Text(stack_id.to_owned()),
                Value::Text(document),
                Value::Text(stack_name.to_owned()),
                Value::Int(i64::from(live)),
            ]);
        }
        Some(Upsert::Resource {
            stack_id,
            logical_id,
            document,
        }) => {
            write.rows.push((
                &RESOURCE_ROWS,
                vec![
                    Value::Text(stack_id.to_owned()),
                    Value::Text(logical_id.to_owned()),
                    Value::Text(document),
                ],
            ));
        }
        None => {}
    }
    if !events.is_empty() {
        let mut values = Vec::with_capacity(3 * events.len());
        for e in events {
            values.extend([
                Value::Text(e.stack_id.clone()),
                Value::Int(seq(e)?),
                Value::Text(to_doc(e)?),
            ]);
        }
        write.rows.push((&EVENT_ROWS, values));
    }
    if write.statements.is_empty() && write.rows.is_empty() {
        return Ok(None);
    }
    Ok(Some(write))
}
