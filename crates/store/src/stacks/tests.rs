//! The SQLite backend's admissions decided in memory (`SqliteStore::admit_in_memory`):
//! what the stack store conformance cases cannot see from outside, where the write went
//! and when it became durable.

use sagestack_engine::model::{StackEvent, StackRecord, StackStatus};
use sagestack_engine::store::StackStore;

use crate::{SqliteStore, Store};

fn stack(revision: u64, status: StackStatus) -> StackRecord {
    let mut s = StackRecord::new("arn:s".into(), "s".into(), status, 0);
    s.revision = revision;
    s
}

fn event(seq: u64, status: StackStatus) -> StackEvent {
    StackEvent {
        seq,
        event_id: format!("e{seq}"),
        stack_id: "arn:s".into(),
        stack_name: "s".into(),
        logical_resource_id: "s".into(),
        physical_resource_id: Some("arn:s".into()),
        resource_type: "AWS::CloudFormation::Stack".into(),
        timestamp: seq as i64,
        resource_status: status.as_str().into(),
        resource_status_reason: None,
        resource_properties: None,
    }
}

/// A store in `dir` holding `settled` (written as `put_stack` writes, so the cache has it).
async fn holding(
    dir: &tempfile::TempDir,
    settled: &StackRecord,
    events: &[StackEvent],
) -> SqliteStore {
    let store = SqliteStore::open(dir.path()).await.unwrap();
    store.put_stack(settled, events).await.unwrap();
    store
}

/// The revision the database holds (not the cache).
async fn stored_revision(store: &SqliteStore) -> i64 {
    sqlx::query_scalar("SELECT json_extract(document, '$.revision') FROM cfn_stacks")
        .fetch_one(&store.pool)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admission_inside_an_operation_is_queued_with_its_steps_and_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let settled = stack(1, StackStatus::CreateComplete);
    let store = holding(&dir, &settled, &[event(1, StackStatus::CreateComplete)]).await;
    let admitted = stack(2, StackStatus::UpdateInProgress);
    let (won, lost) = sagestack_engine::durability::deferred(async {
        let won = store
            .put_stack_if(&admitted, &[event(2, StackStatus::UpdateInProgress)], 1)
            .await
            .unwrap();
        // Decided, and served, before anything reached the database.
        assert_eq!(stored_revision(&store).await, 1, "queued, not committed");
        assert_eq!(
            store.get_stack("arn:s").await.unwrap(),
            Some(admitted.clone())
        );
        let rival = stack(2, StackStatus::DeleteInProgress);
        let lost = store.put_stack_if(&rival, &[], 1).await.unwrap();
        (won, lost)
    })
    .await;
    assert!(won);
    assert!(!lost, "the second caller that read revision 1 loses");
    store.flush().await.unwrap();
    assert_eq!(stored_revision(&store).await, 2);
    store.close().await;
    drop(store);
    let store = SqliteStore::open(dir.path()).await.unwrap();
    assert_eq!(store.get_stack("arn:s").await.unwrap(), Some(admitted));
    let events = store.list_events("arn:s", None, 10).await.unwrap();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].resource_status, "UPDATE_IN_PROGRESS");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admission_answered_at_once_is_committed_before_it_returns() {
    let dir = tempfile::tempdir().unwrap();
    let store = holding(&dir, &stack(1, StackStatus::UpdateComplete), &[]).await;
    let admitted = stack(2, StackStatus::DeleteInProgress);
    assert!(store.put_stack_if(&admitted, &[], 1).await.unwrap());
    assert_eq!(stored_revision(&store).await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admission_whose_write_fails_leaves_the_stack_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let settled = stack(1, StackStatus::CreateComplete);
    let store = holding(&dir, &settled, &[]).await;
    // No room for another page: the admission's record (a large template) cannot land.
    let pages: i64 = sqlx::query_scalar("PRAGMA page_count")
        .fetch_one(&store.pool)
        .await
        .unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "PRAGMA max_page_count = {pages}"
    )))
    .execute(&store.pool)
    .await
    .unwrap();
    let mut admitted = stack(2, StackStatus::UpdateInProgress);
    admitted.template.body = "x".repeat(64 * 1024);
    let refused = store.put_stack_if(&admitted, &[], 1).await;
    assert!(refused.is_err(), "{refused:?}");
    assert_eq!(store.get_stack("arn:s").await.unwrap(), Some(settled));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_phase_status_is_queued_and_no_reader_sees_it_before_it_commits() {
    let dir = tempfile::tempdir().unwrap();
    let store = holding(&dir, &stack(1, StackStatus::UpdateInProgress), &[]).await;
    let cleanup = stack(2, StackStatus::UpdateCompleteCleanupInProgress);
    sagestack_engine::durability::deferred(async {
        store
            .put_stack_step(&cleanup, &[event(1, cleanup.status)])
            .await
            .unwrap();
        assert_eq!(stored_revision(&store).await, 1, "queued, not committed");
        // Not served from memory: the read waits for the queue and gets it committed.
        assert_eq!(
            store.get_stack("arn:s").await.unwrap(),
            Some(cleanup.clone())
        );
        assert_eq!(stored_revision(&store).await, 2);
    })
    .await;
    // Outside an operation it is committed at once, as `put_stack` is.
    let done = stack(3, StackStatus::UpdateComplete);
    store.put_stack_step(&done, &[]).await.unwrap();
    assert_eq!(stored_revision(&store).await, 3);
    assert_eq!(store.get_stack("arn:s").await.unwrap(), Some(done));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_stack_queued_by_its_create_is_found_by_name_once_committed() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).await.unwrap();
    let created = stack(1, StackStatus::CreateInProgress);
    sagestack_engine::durability::deferred(async {
        store.put_stack_step(&created, &[]).await.unwrap();
        let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM cfn_stacks")
            .fetch_one(&store.pool)
            .await
            .unwrap();
        assert_eq!(rows, 0, "queued, not committed");
        // The name is taken: the lookup finds the stack and waits for its commit.
        assert_eq!(
            store.find_live_stack("s").await.unwrap(),
            Some(created.clone())
        );
        assert_eq!(stored_revision(&store).await, 1);
    })
    .await;
}
