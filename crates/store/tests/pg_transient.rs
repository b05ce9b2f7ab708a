//! PostgreSQL failures that are not about the call (`sagestack_store::transient`): a
//! deadlock provoked on purpose is retried and both transactions commit; a database that
//! cannot be reached is `StoreError::Unavailable`, within the pool's wait.
//!
//! The deadlock needs a server: `SAGESTACK_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`, then user `root`), in a schema of its own
//! dropped afterwards; skipped with a message when none is reachable, except when
//! `CI=true`: then it fails.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use sagestack_store::postgres::PostgresOptions;
use sagestack_store::transient::{Abort, retrying};
use sagestack_store::{PostgresStore, StoreError};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{AssertSqlSafe, Connection};

async fn server_url() -> Option<String> {
    let candidates = match std::env::var("SAGESTACK_TEST_POSTGRES_URL") {
        Ok(url) => vec![url],
        Err(_) => vec![
            "postgres://postgres@127.0.0.1:5432/test".to_string(),
            "postgres://root@127.0.0.1:5432/test".to_string(),
        ],
    };
    let mut errors = Vec::new();
    for url in candidates {
        match tokio::time::timeout(Duration::from_secs(5), sqlx::PgConnection::connect(&url)).await
        {
            Ok(Ok(conn)) => {
                let _ = conn.close().await;
                return Some(url);
            }
            Ok(Err(e)) => errors.push(format!("{url}: {e}")),
            Err(_) => errors.push(format!("{url}: timed out")),
        }
    }
    let reason = format!("no PostgreSQL reachable: {}", errors.join("; "));
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "CI=true: {reason}"
    );
    eprintln!("skipping: {reason}");
    None
}

/// A pool on a fresh schema holding `t(id, v)` with rows 1 and 2 at 0.
async fn table(url: &str, schema: &str) -> PgPool {
    let admin = PgPool::connect(url).await.unwrap();
    sqlx::query(AssertSqlSafe(format!("CREATE SCHEMA \"{schema}\"")))
        .execute(&admin)
        .await
        .unwrap();
    admin.close().await;
    let options: PgConnectOptions = url.parse().unwrap();
    let pool = PgPoolOptions::new()
        .max_connections(4)
        .connect_with(options.options([("search_path", schema)]))
        .await
        .unwrap();
    sqlx::raw_sql(
        "CREATE TABLE t (id int PRIMARY KEY, v int NOT NULL); INSERT INTO t VALUES (1, 0), (2, 0)",
    )
    .execute(&pool)
    .await
    .unwrap();
    pool
}

/// One transaction adding 1 to row `first`, then (after both transactions hold their
/// first row, on the first attempt) to row `second`: run from both sides at once, one of
/// them is chosen as the deadlock's victim.
async fn cross(
    pool: &PgPool,
    first: i32,
    second: i32,
    meet: &tokio::sync::Barrier,
    attempts: &AtomicU32,
) -> Result<(), Abort<StoreError>> {
    retrying("cross", || async {
        let n = attempts.fetch_add(1, Ordering::SeqCst) + 1;
        let mut tx = pool.begin().await?;
        sqlx::query("UPDATE t SET v = v + 1 WHERE id = $1")
            .bind(first)
            .execute(&mut *tx)
            .await?;
        if n == 1 {
            meet.wait().await;
        }
        sqlx::query("UPDATE t SET v = v + 1 WHERE id = $1")
            .bind(second)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deadlock_is_retried_and_both_transactions_commit() {
    let Some(url) = server_url().await else {
        return;
    };
    let schema = format!("sagestack_retry_{}", std::process::id());
    let pool = table(&url, &schema).await;
    let meet = Arc::new(tokio::sync::Barrier::new(2));
    let (a, b) = (AtomicU32::new(0), AtomicU32::new(0));
    let (ra, rb) = tokio::join!(cross(&pool, 1, 2, &meet, &a), cross(&pool, 2, 1, &meet, &b));
    let rows: Vec<(i32, i32)> = sqlx::query_as("SELECT id, v FROM t ORDER BY id")
        .fetch_all(&pool)
        .await
        .unwrap();
    pool.close().await;
    let admin = PgPool::connect(&url).await.unwrap();
    sqlx::query(AssertSqlSafe(format!("DROP SCHEMA \"{schema}\" CASCADE")))
        .execute(&admin)
        .await
        .unwrap();
    assert!(ra.is_ok() && rb.is_ok(), "{ra:?} {rb:?}");
    // Exactly one side was the deadlock's victim and ran again; each committed once.
    let attempts = (a.load(Ordering::SeqCst), b.load(Ordering::SeqCst));
    assert!(attempts == (1, 2) || attempts == (2, 1), "{attempts:?}");
    assert_eq!(rows, [(1, 2), (2, 2)]);
}

#[tokio::test]
async fn an_unreachable_database_is_unavailable_within_the_wait() {
    // Nothing listens on port 1: every connection is refused.
    let options = PostgresOptions {
        acquire_timeout: Duration::from_secs(1),
        ..PostgresOptions::default()
    };
    let began = Instant::now();
    let e = PostgresStore::connect_with("postgres://postgres@127.0.0.1:1/test", None, &options)
        .await
        .err()
        .expect("connected to nothing");
    assert!(matches!(e, StoreError::Unavailable(_)), "{e:?}");
    assert!(e.to_string().starts_with("database unreachable: "), "{e}");
    assert!(
        began.elapsed() < Duration::from_secs(4),
        "{:?}",
        began.elapsed()
    );
}
