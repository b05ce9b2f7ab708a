//! The SQL of one batch ([`super`]): every write's statements in queue order, bound with
//! anonymous parameters in order across the whole query, and the rows of shared
//! statements ([`SharedRows`]) gathered into one statement per table.

use rusqlite::fallible_iterator::FallibleIterator;
use sqlx::sqlite::SqlitePool;

use super::{Value, Write, WriteError};

/// A statement whose rows from every write of a batch are gathered into one: `head` +
/// `(..), (..), ...` + `tail`. Either an `INSERT` (`INSERT INTO t (..) VALUES ` ... and,
/// say, ` ON CONFLICT (..) DO UPDATE ...`) or a delete by key (`DELETE FROM t WHERE k IN
/// (VALUES ` ... `)`). The engine's hot writes are each a row or two, and every statement
/// of a batch costs a parse and a step of its own, so one statement per table instead
/// of one or two per write is most of a batch's cost saved (a 500-resource stack delete
/// was 750 single-row deletes of buckets and parameters).
///
/// Rows of a batch land in the order their writes were queued: a later upsert of the same
/// key wins, and a row of one shared statement is never reordered against a row of
/// another on the same table (the earlier one's gathered rows are written out first).
/// Rows may move past other writes' *statements* only where that cannot change the
/// outcome: before a statement that mentions `table`, the rows gathered so far are
/// written out. A shared statement must therefore touch only `table`, and nothing outside
/// the store's own SQL may read it mid-transaction (no triggers). A table that others
/// reference by foreign key may take shared deletes only where the store has made sure,
/// under its own lock, that no referencing row exists (an S3 bucket known empty).
pub(crate) struct SharedRows {
    pub table: &'static str,
    /// Up to the first row, e.g. `INSERT INTO table (columns) VALUES `.
    pub head: &'static str,
    /// Values per row.
    pub arity: usize,
    /// After the rows, e.g. ` ON CONFLICT (key) DO UPDATE SET ...` or `)`.
    pub tail: &'static str,
}

/// `template` (a [`super::Write`] statement) with its `{}` placeholders numbered `$1`,
/// `$2`, ... in order: the same statement for PostgreSQL.
pub(crate) fn numbered(template: &str) -> String {
    let mut parts = template.split("{}");
    let mut out = parts.next().unwrap_or_default().to_string();
    for (i, part) in parts.enumerate() {
        out.push_str(&format!("${}{part}", i + 1));
    }
    out
}

/// A [`SharedRows`] deleting the rows of `$table` whose single-column key `$key` is one
/// of the batch's values.
macro_rules! shared_delete {
    ($table:literal, $key:literal) => {
        $crate::batch::SharedRows {
            table: $table,
            head: concat!("DELETE FROM ", $table, " WHERE ", $key, " IN (VALUES "),
            arity: 1,
            tail: ")",
        }
    };
}
pub(crate) use shared_delete;

/// The SQL text and arguments of one batch: parameters are bound in order across the whole
/// query, shared statements gather their rows (see [`SharedRows`]).
struct Query<'a> {
    sql: String,
    /// The values of the `?`s in `sql`, in order.
    args: Vec<&'a Value>,
    /// Shared statements with rows not yet written out: `(statement, values of its rows)`.
    pending: Vec<(&'static SharedRows, Vec<&'a Value>)>,
}

impl<'a> Query<'a> {
    fn bind(&mut self, v: &'a Value) {
        self.args.push(v);
        // Anonymous `?`: SQLite numbers them in order within a statement ([`run`] binds
        // the values in order across the statements). A `$n` is a *named* parameter to
        // SQLite, looked up in a list as the query is parsed: quadratic in a batch's
        // thousands of parameters.
        self.sql.push('?');
    }

    fn statement(
        &mut self,
        template: &str,
        count: usize,
        values: &mut std::slice::Iter<'a, Value>,
    ) -> Result<(), WriteError> {
        // Rows gathered for a table this statement mentions go in first (queue order).
        let mut i = 0;
        while i < self.pending.len() {
            if template.contains(self.pending[i].0.table) {
                self.write_rows(i)?;
            } else {
                i += 1;
            }
        }
        let mut parts = template.split("{}");
        self.sql.push_str(parts.next().unwrap_or_default());
        for part in parts.take(count) {
            let v = values
                .next()
                .ok_or_else(|| WriteError::other("a statement has more parameters than values"))?;
            self.bind(v);
            self.sql.push_str(part);
        }
        self.sql.push_str(";\n");
        Ok(())
    }

    fn rows(&mut self, shared: &'static SharedRows, values: &'a [Value]) -> Result<(), WriteError> {
        if shared.arity == 0 || !values.len().is_multiple_of(shared.arity) {
            return Err(WriteError::other(
                "a shared statement's values are not whole rows",
            ));
        }
        // Rows gathered for another statement on this table go in first (queue order).
        let mut i = 0;
        while i < self.pending.len() {
            let other = self.pending[i].0;
            if other.table == shared.table && !std::ptr::eq(other, shared) {
                self.write_rows(i)?;
            } else {
                i += 1;
            }
        }
        let at = match self.pending.iter().position(|p| std::ptr::eq(p.0, shared)) {
            Some(at) => at,
            None => {
                self.pending.push((shared, Vec::new()));
                self.pending.len() - 1
            }
        };
        self.pending[at].1.extend(values.iter());
        Ok(())
    }

    /// Writes out the `i`th pending shared statement and forgets it.
    fn write_rows(&mut self, i: usize) -> Result<(), WriteError> {
        let (shared, values) = self.pending.remove(i);
        self.sql.push_str(shared.head);
        for (r, row) in values.chunks(shared.arity).enumerate() {
            if r > 0 {
                self.sql.push_str(", ");
            }
            self.sql.push('(');
            for (c, v) in row.iter().enumerate() {
                if c > 0 {
                    self.sql.push_str(", ");
                }
                self.bind(v);
            }
            self.sql.push(')');
        }
        self.sql.push_str(shared.tail);
        self.sql.push_str(";\n");
        Ok(())
    }
}

/// `BEGIN; <every statement>; COMMIT;` on the writer connection; rolled back on any
/// error.
///
/// The statements run on the calling task's thread, through the connection's raw SQLite
/// handle (sqlx's [`lock_handle`](sqlx::sqlite::SqliteConnection::lock_handle), which
/// parks sqlx's connection thread until the lock is dropped) and `rusqlite`, not as one
/// sqlx query: sqlx runs a query on its connection thread and sends each statement's
/// result back across a channel, so a batch crossed threads once per statement, and it
/// copied every bound string. One lock instead measured 5-8% faster at 10 resources and
/// 11-27% at 100 and 500, with 9-19% less server CPU (docs/benchmarks/stacks-rounds.md,
/// "Ninth round"). The cost: the batch's SQLite work (a few milliseconds for the largest
/// batches, longer if a checkpoint holds SQLite's write lock) occupies an async worker
/// rather than sqlx's thread.
pub(super) async fn execute(pool: &SqlitePool, writes: &[&Write]) -> Result<(), WriteError> {
    let mut q = Query {
        sql: String::from("BEGIN;\n"),
        args: Vec::new(),
        pending: Vec::new(),
    };
    for w in writes {
        let mut values = w.values.iter();
        for (template, count) in &w.statements {
            q.statement(template, *count, &mut values)?;
        }
        for (insert, values) in &w.rows {
            q.rows(insert, values)?;
        }
    }
    while !q.pending.is_empty() {
        q.write_rows(0)?;
    }
    q.sql.push_str("COMMIT;");
    let mut conn = pool.acquire().await?;
    let mut locked = conn.lock_handle().await?;
    let db = locked.as_raw_handle().as_ptr();
    // SAFETY: `db` is the open connection's handle, and nothing else uses it until
    // `locked` drops (sqlx's thread waits for the lock); `sqlite`, declared after
    // `locked`, is dropped before it, and does not close the handle.
    let sqlite = unsafe { rusqlite::Connection::from_handle(db) }.map_err(sqlite_error)?;
    let result = run(&sqlite, &q.sql, &q.args);
    if result.is_err() && !sqlite.is_autocommit() {
        // Whatever statement failed, leave no transaction open on this connection.
        let _ = sqlite.execute_batch("ROLLBACK");
    }
    result
}

/// Runs each statement of `sql` in turn, binding `args` in order to their `?`s.
fn run(conn: &rusqlite::Connection, sql: &str, args: &[&Value]) -> Result<(), WriteError> {
    let mut values = args.iter();
    let mut statements = rusqlite::Batch::new(conn, sql);
    while let Some(mut statement) = statements.next().map_err(sqlite_error)? {
        for i in 1..=statement.parameter_count() {
            match values.next() {
                Some(Value::Text(t)) => statement.raw_bind_parameter(i, t.as_str()),
                Some(Value::Int(n)) => statement.raw_bind_parameter(i, *n),
                None => {
                    return Err(WriteError::other(
                        "a batch has fewer values than parameters",
                    ));
                }
            }
            .map_err(sqlite_error)?;
        }
        statement.raw_execute().map_err(sqlite_error)?;
    }
    match values.next() {
        Some(_) => Err(WriteError::other("a batch has more values than parameters")),
        None => Ok(()),
    }
}

/// A failure as [`WriteError`] says it: unique and primary-key violations, and
/// `SQLITE_FULL` (the disk, or the page cap), are told apart.
fn sqlite_error(e: rusqlite::Error) -> WriteError {
    let (unique_violation, full) = match &e {
        rusqlite::Error::SqliteFailure(f, _) => (
            matches!(
                f.extended_code,
                rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                    | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
            ),
            f.code == rusqlite::ErrorCode::DiskFull,
        ),
        _ => (false, false),
    };
    WriteError {
        message: e.to_string(),
        unique_violation,
        full,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn numbered_numbers_placeholders_in_order() {
        assert_eq!(super::numbered("f({}, {}) g({})"), "f($1, $2) g($3)");
        assert_eq!(super::numbered("no parameters"), "no parameters");
    }
}
