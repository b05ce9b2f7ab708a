//! What a PostgreSQL failure means to the caller, and the one place a transaction is run
//! again.
//!
//! Two kinds of failure are not about the call itself:
//!
//! * **The database is unreachable** ([`unreachable`]): the connection was refused, the
//!   pool's wait for a connection ran out (`--database-acquire-timeout`), a connection
//!   broke mid-call, or the server is shutting down or starting up (SQLSTATE class `08`,
//!   `57P01`..`57P03`). The store reports [`StoreError::Unavailable`], whose text starts
//!   with [`UNREACHABLE`]; the protocol layer answers a server fault carrying those words
//!   as `503 ServiceUnavailable` (`sagestack_protocol::error::DATABASE_UNREACHABLE`, the
//!   same words). Nothing is retried here: the caller hears at once, within the pool's
//!   wait, and `/_sagestack/ready` fails until the database answers again (the pool then
//!   connects afresh by itself).
//! * **PostgreSQL rolled the transaction back and says running it again may succeed**
//!   ([`retryable`]): `40001` serialization_failure and `40P01` deadlock_detected. Such a
//!   transaction changed nothing, so [`retrying`] runs it again, up to [`ATTEMPTS`] times
//!   with a short, growing, jittered pause (so that the two sides of a deadlock do not
//!   meet again in step). Every PostgreSQL transaction that may take row locks in an
//!   order another can take in reverse should run through it.
//!
//! [`StoreError::Unavailable`]: crate::StoreError::Unavailable

use std::future::Future;
use std::time::Duration;

/// How a [`crate::StoreError::Unavailable`]'s text starts (kept equal to the protocol
/// layer's `DATABASE_UNREACHABLE` by a test in the server crate).
pub const UNREACHABLE: &str = "database unreachable";

/// How many times [`retrying`] runs a transaction in all.
pub const ATTEMPTS: u32 = 5;

/// The pause before the second attempt; doubled for each later one (plus jitter).
const FIRST_PAUSE: Duration = Duration::from_millis(5);

/// Whether `e` says the database cannot be reached now (see the module docs).
pub fn unreachable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::Tls(_) => true,
        sqlx::Error::Database(db) => db
            .code()
            .is_some_and(|c| c.starts_with("08") || matches!(&*c, "57P01" | "57P02" | "57P03")),
        _ => false,
    }
}

/// Whether PostgreSQL rolled the transaction back for running into another one, so that
/// running it again may succeed (`40001`, `40P01`).
pub fn retryable(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .and_then(|db| db.code())
        .is_some_and(|c| c == "40001" || c == "40P01")
}

/// How a transaction's attempt ends short of committing: a database error (retried by
/// [`retrying`] when [`retryable`]), or the caller's own refusal (returned as it is; the
/// transaction is rolled back by being dropped).
#[derive(Debug)]
pub enum Abort<E> {
    Sql(sqlx::Error),
    Refuse(E),
}

impl<E> From<sqlx::Error> for Abort<E> {
    fn from(e: sqlx::Error) -> Self {
        Abort::Sql(e)
    }
}

impl<E> Abort<E> {
    /// The caller's error: a refusal as it is, a database error through `sql`.
    pub fn into_error(self, sql: impl FnOnce(sqlx::Error) -> E) -> E {
        match self {
            Abort::Sql(e) => sql(e),
            Abort::Refuse(e) => e,
        }
    }
}

/// Runs `attempt` (one whole transaction: begin, statements, commit) until it succeeds,
/// is refused, fails for another reason than [`retryable`], or has run [`ATTEMPTS`]
/// times. `what` names it in the log.
pub async fn retrying<T, E, F, Fut>(what: &str, mut attempt: F) -> Result<T, Abort<E>>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Abort<E>>>,
{
    let mut pause = FIRST_PAUSE;
    let mut n = 0;
    loop {
        n += 1;
        match attempt().await {
            Err(Abort::Sql(e)) if n < ATTEMPTS && retryable(&e) => {
                tracing::debug!(what, attempt = n, error = %e, "transaction rolled back by the database; running it again");
                tokio::time::sleep(pause + jitter(pause)).await;
                pause *= 2;
            }
            Err(Abort::Sql(e)) if retryable(&e) => {
                tracing::warn!(what, attempts = n, error = %e, "transaction rolled back by the database every time; giving up");
                return Err(Abort::Sql(e));
            }
            other => return other,
        }
    }
}

/// Up to `pause` more, from the clock's low bits (enough to break two waiters' step).
fn jitter(pause: Duration) -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    pause.mul_f64(f64::from(nanos % 1000) / 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_failures_are_unreachable_and_others_are_not() {
        assert!(unreachable(&sqlx::Error::PoolTimedOut));
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert!(unreachable(&sqlx::Error::Io(refused)));
        assert!(!unreachable(&sqlx::Error::RowNotFound));
        assert!(!unreachable(&sqlx::Error::PoolClosed));
    }

    #[tokio::test]
    async fn a_refusal_is_returned_at_once_and_other_errors_are_not_retried() {
        let mut runs = 0;
        let r: Result<(), Abort<&str>> = retrying("t", || {
            runs += 1;
            async { Err(Abort::Refuse("no")) }
        })
        .await;
        assert!(matches!(r, Err(Abort::Refuse("no"))));
        assert_eq!(runs, 1);
        let mut runs = 0;
        let r: Result<(), Abort<&str>> = retrying("t", || {
            runs += 1;
            async { Err(Abort::Sql(sqlx::Error::RowNotFound)) }
        })
        .await;
        assert!(matches!(r, Err(Abort::Sql(sqlx::Error::RowNotFound))));
        assert_eq!(runs, 1);
    }
}
