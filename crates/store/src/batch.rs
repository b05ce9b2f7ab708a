//! Write combining for the stack engine's hot writes on SQLite.
//!
//! Each engine step writes a record and its events ([`StackStore::put_stack`],
//! [`StackStore::put_resource`], [`StackStore::append_events`]). With many stacks in
//! flight (projects provisioning in parallel), these arrive concurrently, and each one
//! going to SQLite's single connection on its own pays a round trip to the connection
//! thread plus a transaction. [`WriteBatcher`] queues them instead: one task takes every
//! write waiting (up to [`MAX_BATCH`]; after the first it yields once, so that the tasks
//! woken at the same moment, e.g. by the previous batch's commit, join this batch rather
//! than the next: measured +17% projects/s at 32 in flight) and sends them as ONE
//! multi-statement query
//! (`BEGIN; ...; COMMIT;`, `$n` parameters numbered across statements), then answers
//! each caller. Atomicity per write is kept: if the batch fails, it is rolled back and
//! each write is retried alone, so one bad write fails only its own caller. Durability
//! is the caller's next step (the group flush in [`crate::durable`]).
//!
//! [`StackStore::put_stack`]: sagestack_engine::store::StackStore::put_stack
//! [`StackStore::put_resource`]: sagestack_engine::store::StackStore::put_resource
//! [`StackStore::append_events`]: sagestack_engine::store::StackStore::append_events

use sqlx::Arguments;
use sqlx::sqlite::{SqliteArguments, SqlitePool};
use tokio::sync::{mpsc, oneshot};

/// Writes combined into one query at most.
pub(crate) const MAX_BATCH: usize = 64;

/// One write: its statements (with `{}` where parameter numbers go, in order) and values.
pub(crate) struct Write {
    /// `(statement template, number of parameters)`, each template holding `{}` once per
    /// parameter, in order.
    pub statements: Vec<(String, usize)>,
    pub values: Vec<Value>,
}

/// A bound value.
pub(crate) enum Value {
    Text(String),
    Int(i64),
}

/// Why a write failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WriteError {
    pub message: String,
    /// A unique constraint refused the write (the caller's "already exists").
    pub unique_violation: bool,
}

impl WriteError {
    fn other(message: &str) -> Self {
        WriteError {
            message: message.to_string(),
            unique_violation: false,
        }
    }
}

impl std::fmt::Display for WriteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<sqlx::Error> for WriteError {
    fn from(e: sqlx::Error) -> Self {
        WriteError {
            unique_violation: e
                .as_database_error()
                .is_some_and(|d| d.is_unique_violation()),
            message: e.to_string(),
        }
    }
}

struct Job {
    write: Write,
    done: oneshot::Sender<Result<(), WriteError>>,
}

/// See the module documentation. Dropping it stops its task once the queue is empty.
pub(crate) struct WriteBatcher {
    queue: mpsc::UnboundedSender<Job>,
}

impl WriteBatcher {
    /// Starts the batching task on the current tokio runtime.
    pub(crate) fn start(pool: SqlitePool) -> Self {
        let (queue, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(pool, rx));
        WriteBatcher { queue }
    }

    /// Commits `write` (with whatever else is waiting).
    pub(crate) async fn write(&self, write: Write) -> Result<(), WriteError> {
        let (done, rx) = oneshot::channel();
        self.queue
            .send(Job { write, done })
            .map_err(|_| WriteError::other("the store is closed"))?;
        rx.await
            .map_err(|_| WriteError::other("the store's writer stopped"))?
    }
}

async fn run(pool: SqlitePool, mut rx: mpsc::UnboundedReceiver<Job>) {
    let mut jobs = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut jobs, MAX_BATCH).await > 0 {
        if jobs.len() < MAX_BATCH {
            // Let the tasks woken with this one enqueue their writes too: one yield costs
            // microseconds, a transaction of its own for each write costs a commit.
            tokio::task::yield_now().await;
            while jobs.len() < MAX_BATCH
                && let Ok(job) = rx.try_recv()
            {
                jobs.push(job);
            }
        }
        let writes: Vec<&Write> = jobs.iter().map(|j| &j.write).collect();
        match execute(&pool, &writes).await {
            Ok(()) => {
                for job in jobs.drain(..) {
                    let _ = job.done.send(Ok(()));
                }
            }
            Err(e) if jobs.len() == 1 => {
                let job = jobs.pop().expect("one job");
                let _ = job.done.send(Err(e));
            }
            Err(_) => {
                // Find the culprit: every write alone, each with its own outcome.
                for job in jobs.drain(..) {
                    let result = execute(&pool, &[&job.write]).await;
                    let _ = job.done.send(result);
                }
            }
        }
    }
}

/// `BEGIN; <every statement>; COMMIT;` in one query on one connection; rolled back on
/// any error.
async fn execute(pool: &SqlitePool, writes: &[&Write]) -> Result<(), WriteError> {
    let mut sql = String::from("BEGIN;\n");
    let mut args = SqliteArguments::default();
    let mut n = 0usize;
    for w in writes {
        let mut values = w.values.iter();
        for (template, count) in &w.statements {
            let mut parts = template.split("{}");
            sql.push_str(parts.next().unwrap_or_default());
            for part in parts.take(*count) {
                let v = values.next().ok_or_else(|| {
                    WriteError::other("a statement has more parameters than values")
                })?;
                match v {
                    Value::Text(t) => args.add(t.clone()),
                    Value::Int(i) => args.add(*i),
                }
                .map_err(|e| WriteError::other(&format!("cannot bind a value: {e}")))?;
                n += 1;
                sql.push('$');
                sql.push_str(&n.to_string());
                sql.push_str(part);
            }
            sql.push_str(";\n");
        }
    }
    sql.push_str("COMMIT;");
    let mut conn = pool.acquire().await?;
    let result = sqlx::query_with(sqlx::AssertSqlSafe(sql), args)
        .execute(&mut *conn)
        .await;
    if let Err(e) = result {
        // Whatever statement failed, leave no transaction open on this connection.
        let _ = sqlx::query("ROLLBACK").execute(&mut *conn).await;
        return Err(e.into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::sqlite::SqlitePoolOptions;

    fn insert(v: i64) -> Write {
        Write {
            statements: vec![("INSERT INTO t (v) VALUES ({})".into(), 1)],
            values: vec![Value::Int(v)],
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failing_write_fails_alone_and_the_rest_commit() {
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect("sqlite::memory:")
            .await
            .unwrap();
        sqlx::query("CREATE TABLE t (v INTEGER PRIMARY KEY CHECK (v <> 13))")
            .execute(&pool)
            .await
            .unwrap();
        let batcher = std::sync::Arc::new(WriteBatcher::start(pool.clone()));
        let tasks: Vec<_> = (0..40)
            .map(|v| {
                let b = batcher.clone();
                tokio::spawn(async move { (v, b.write(insert(v)).await) })
            })
            .collect();
        for t in tasks {
            let (v, result) = t.await.unwrap();
            assert_eq!(result.is_err(), v == 13, "write {v}: {result:?}");
        }
        let count: i64 = sqlx::query_scalar("SELECT count(*) FROM t")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(count, 39);
        // The connection is usable afterwards: no transaction was left open.
        batcher.write(insert(100)).await.unwrap();
    }
}
