//! The write combiner's tests: order, batching, holding queued writes, failures.

use super::*;
use sqlx::sqlite::SqlitePoolOptions;

fn insert(v: i64) -> Write {
    Write::one("INSERT INTO t (v) VALUES ({})", vec![Value::Int(v)])
}

/// The table [`insert`] writes to; inserting 13 fails, the way a write fails.
const REFUSES_13: &str = "CREATE TABLE t (v INTEGER PRIMARY KEY CHECK (v <> 13))";

/// A batcher over a new [`REFUSES_13`] table that queued [`insert`]s of `values` (13
/// among them) and settled: the failure it is left in.
async fn failed_after_queueing(values: &[i64]) -> (SqlitePool, WriteBatcher, WriteError) {
    let pool = memory_pool(REFUSES_13).await;
    let batcher = WriteBatcher::start(pool.clone());
    let mut failing_queued = false;
    for &v in values {
        match batcher.enqueue(insert(v)) {
            Ok(_) => {}
            // The writer may run (and fail on 13) while later writes are still being
            // queued: from then on the queue refuses them, which is the behaviour
            // under test, not a failure of the set-up.
            Err(_) if failing_queued => {}
            Err(e) => panic!("write {v} refused before 13 was queued: {e:?}"),
        }
        failing_queued |= v == 13;
    }
    let failure = batcher.settle().await.unwrap_err();
    (pool, batcher, failure)
}

/// What [`insert`] committed, in order.
async fn inserted(pool: &SqlitePool) -> Vec<i64> {
    sqlx::query_scalar("SELECT v FROM t ORDER BY v")
        .fetch_all(pool)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_write_fails_alone_and_the_rest_commit() {
    let pool = memory_pool(REFUSES_13).await;
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

async fn memory_pool(ddl: &'static str) -> SqlitePool {
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect("sqlite::memory:")
        .await
        .unwrap();
    sqlx::query(ddl).execute(&pool).await.unwrap();
    pool
}

static KV_ROWS: SharedRows = SharedRows {
    table: "kv",
    head: "INSERT INTO kv (k, v) VALUES ",
    arity: 2,
    tail: " ON CONFLICT (k) DO UPDATE SET v = excluded.v",
};

fn kv_row(k: &str, v: i64) -> Write {
    Write::shared(vec![(&KV_ROWS, vec![Value::Text(k.into()), Value::Int(v)])])
}

fn kv_delete(k: &str) -> Write {
    Write::one("DELETE FROM kv WHERE k = {}", vec![Value::Text(k.into())])
}

static KV_DELETES: SharedRows = shared_delete!("kv", "k");

fn kv_shared_delete(k: &str) -> Write {
    Write::shared(vec![(&KV_DELETES, vec![Value::Text(k.into())])])
}

async fn kv(pool: &SqlitePool) -> Vec<(String, i64)> {
    sqlx::query_as("SELECT k, v FROM kv ORDER BY k")
        .fetch_all(pool)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_writes_commit_in_order_and_settle_waits_for_them() {
    let pool = memory_pool("CREATE TABLE kv (k TEXT PRIMARY KEY, v INTEGER NOT NULL)").await;
    let batcher = WriteBatcher::start(pool.clone());
    // Shared-row upserts around a statement on the same table: the delete must land
    // between the upserts it was queued between, whatever batch they share.
    for round in 0..50 {
        batcher.enqueue(kv_row("a", round)).unwrap();
        batcher.enqueue(kv_row("b", round)).unwrap();
        batcher.enqueue(kv_delete("a")).unwrap();
        batcher.enqueue(kv_row("b", round + 1000)).unwrap();
    }
    batcher.enqueue(kv_row("c", 7)).unwrap();
    batcher.settle().await.unwrap();
    assert_eq!(kv(&pool).await, vec![("b".into(), 1049), ("c".into(), 7)]);
    // An awaited write after queued ones sees them committed first.
    batcher.enqueue(kv_row("a", 1)).unwrap();
    batcher.write(kv_delete("a")).await.unwrap();
    assert_eq!(kv(&pool).await.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_deletes_and_upserts_of_one_table_keep_queue_order() {
    let pool = memory_pool("CREATE TABLE kv (k TEXT PRIMARY KEY, v INTEGER NOT NULL)").await;
    let batcher = WriteBatcher::start(pool.clone());
    // Upserts and deletes of the same keys, both as shared rows, interleaved: each
    // key ends as its last queued write left it, whatever batches they fall into.
    let writes = || {
        (0..40).flat_map(|round| {
            let mut w = vec![
                kv_row("a", round),
                kv_row("b", round),
                kv_shared_delete("a"),
                kv_row(&format!("k{round}"), round),
                kv_shared_delete("b"),
                kv_row("b", round + 1000),
            ];
            if round % 2 == 0 {
                w.push(kv_shared_delete(&format!("k{round}")));
            }
            w
        })
    };
    for w in writes() {
        batcher.enqueue(w).unwrap();
    }
    batcher.settle().await.unwrap();
    // The same writes as ONE batch (the batcher may split them as they arrive).
    let one: Vec<Write> = writes().collect();
    let after_batcher = kv(&pool).await;
    sqlx::query("DELETE FROM kv").execute(&pool).await.unwrap();
    execute(&pool, &one.iter().collect::<Vec<_>>())
        .await
        .unwrap();
    assert_eq!(kv(&pool).await, after_batcher);
    let mut want: Vec<(String, i64)> = (0..40)
        .filter(|r| r % 2 == 1)
        .map(|r| (format!("k{r}"), r))
        .collect();
    want.push(("b".into(), 1039));
    want.sort();
    assert_eq!(kv(&pool).await, want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_writes_wait_for_a_caller_that_needs_them_and_commit_together() {
    let pool = memory_pool(REFUSES_13).await;
    // A linger no test run reaches: only the callers below make the task commit.
    let batcher = WriteBatcher::start_with(pool.clone(), std::time::Duration::from_secs(600));
    for v in 0..10 {
        batcher.enqueue(insert(v)).unwrap();
        // The steps of an operation come apart (a resource's work between them).
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
    // Nobody needs them yet: nothing is committed (a reader on the pool directly,
    // which skips the settle every store reader makes, sees none of them).
    assert_eq!(inserted(&pool).await, Vec::<i64>::new());
    batcher.settle().await.unwrap();
    assert_eq!(inserted(&pool).await, (0..10).collect::<Vec<_>>());
    assert_eq!(
        batcher.batches(),
        1,
        "ten queued writes, one settle, one commit"
    );
    // An awaited write takes the writes queued before it into its own commit.
    batcher.enqueue(insert(20)).unwrap();
    batcher.enqueue(insert(21)).unwrap();
    batcher.write(insert(22)).await.unwrap();
    assert_eq!(batcher.batches(), 2);
    assert_eq!(inserted(&pool).await.len(), 13);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_writes_nobody_waits_for_commit_after_the_linger() {
    let pool = memory_pool(REFUSES_13).await;
    let batcher = WriteBatcher::start(pool.clone());
    batcher.enqueue(insert(1)).unwrap();
    let deadline = tokio::time::Instant::now() + LINGER * 50;
    while inserted(&pool).await.is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "never committed");
        tokio::time::sleep(LINGER / 4).await;
    }
    assert_eq!(batcher.batches(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enough_queued_writes_commit_without_waiting() {
    let pool = memory_pool(REFUSES_13).await;
    let batcher = WriteBatcher::start_with(pool.clone(), std::time::Duration::from_secs(600));
    let values: Vec<i64> = (100..100 + EAGER as i64).collect();
    let start = tokio::time::Instant::now();
    for &v in &values {
        batcher.enqueue(insert(v)).unwrap();
    }
    while inserted(&pool).await.len() < EAGER {
        assert!(start.elapsed() < std::time::Duration::from_secs(60));
        tokio::task::yield_now().await;
    }
    drop(batcher);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_batcher_commits_what_was_queued() {
    let pool = memory_pool(REFUSES_13).await;
    let batcher = WriteBatcher::start(pool.clone());
    batcher.enqueue(insert(7)).unwrap();
    let mut finished = batcher.progress.finished.subscribe();
    drop(batcher);
    let _ = tokio::time::timeout(LINGER / 2, finished.wait_for(|n| *n >= 1)).await;
    assert_eq!(inserted(&pool).await, vec![7]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_queued_write_poisons_every_later_write() {
    let (pool, batcher, failure) = failed_after_queueing(&[1, 13, 2]).await;
    assert!(failure.message.contains("CHECK"), "{failure}");
    // Nothing after the failed write landed: commits stay a prefix of the queue.
    let rows = inserted(&pool).await;
    assert_eq!(rows, vec![1]);
    assert_eq!(batcher.write(insert(3)).await.unwrap_err(), failure);
    assert_eq!(batcher.enqueue(insert(4)).unwrap_err(), failure);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_probe_after_a_failure_lets_later_writes_commit() {
    let (pool, batcher, failure) = failed_after_queueing(&[13, 2]).await;
    assert_eq!(batcher.trouble(), Some(failure.clone()));
    // A probe that cannot commit leaves the store failed.
    assert!(batcher.probe(&pool, &insert(13)).await.is_err());
    assert_eq!(batcher.write(insert(3)).await.unwrap_err(), failure);
    batcher.probe(&pool, &insert(50)).await.unwrap();
    batcher.clear();
    assert_eq!(batcher.trouble(), None);
    batcher.enqueue(insert(4)).unwrap();
    batcher.write(insert(5)).await.unwrap();
    batcher.settle().await.unwrap();
    let rows = inserted(&pool).await;
    // The write queued behind the failed one never landed; the later ones did.
    assert_eq!(rows, vec![4, 5, 50]);
}

#[tokio::test]
async fn a_unique_violation_is_told_apart_from_other_refusals() {
    let pool = memory_pool(REFUSES_13).await;
    let batcher = WriteBatcher::start(pool.clone());
    batcher.write(insert(1)).await.unwrap();
    let again = batcher.write(insert(1)).await.unwrap_err();
    assert!(again.unique_violation && !again.full, "{again:?}");
    assert!(
        again.message.contains("UNIQUE constraint failed"),
        "{again:?}"
    );
    let check = batcher.write(insert(13)).await.unwrap_err();
    assert!(!check.unique_violation && !check.full, "{check:?}");
    // The refusals rolled back: the connection takes sqlx's queries and later batches.
    batcher.write(insert(2)).await.unwrap();
    assert_eq!(inserted(&pool).await, vec![1, 2]);
}

#[tokio::test]
async fn a_batch_whose_sql_wants_other_values_than_it_has_is_refused() {
    let pool = memory_pool(REFUSES_13).await;
    let batcher = WriteBatcher::start(pool.clone());
    // A template's placeholders are `{}`: a literal `?` is a parameter with no value.
    let stray = Write::one("INSERT INTO t (v) VALUES (?)", Vec::new());
    let e = batcher.write(stray).await.unwrap_err();
    assert!(e.message.contains("fewer values"), "{e:?}");
    let short = Write {
        statements: vec![("INSERT INTO t (v) VALUES ({}), ({})".into(), 2)],
        values: vec![Value::Int(1)],
        rows: Vec::new(),
    };
    assert!(batcher.write(short).await.is_err());
    assert!(inserted(&pool).await.is_empty());
}
