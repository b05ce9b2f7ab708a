//! Crash safety: a process stops at some point of a project operation (its runtime
//! dropped, or the provisioner never started), a new one opens the same data dir,
//! recovers CloudFormation and reconciles, and every project reaches the state it would
//! have reached. Reconciling again changes nothing.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use common::*;
use sagestack_cloudformation::{CreateStackInput, StackRecord, StackStatus, UpdateStackInput};
use sagestack_sagemaker::{ProjectStatus, ProvisioningUpdate};
use serde_json::{Value, json};

const URL: &str = "https://templates.s3.us-east-1.amazonaws.com/ml.yaml";
const URL2: &str = "https://templates.s3.us-east-1.amazonaws.com/ml-v2.yaml";

/// A harness that never starts its provisioner: changes are stored, nothing runs (a
/// process that died right after acknowledging the request).
async fn stopped(dir: &Path) -> Harness {
    harness(
        dir,
        Options {
            start: false,
            ..Options::default()
        },
    )
    .await
}

async fn close(h: Harness) {
    h.provisioner.wait_idle().await;
    h.store.close().await;
}

/// Restart: a started harness over `dir` with templates at `URL` and `URL2`.
async fn restart(dir: &Path) -> Harness {
    let source = Arc::new(FakeSource::default());
    source.put(URL, BASIC);
    source.put(URL2, &v2());
    harness(
        dir,
        Options {
            source: Some(source),
            ..Options::default()
        },
    )
    .await
}

fn v2() -> String {
    BASIC.replace("Outputs:", "  Topic:\n    Type: AWS::SNS::Topic\nOutputs:")
}

/// Restart over `dir`: project `p` is resumed and settles as `status`; the harness and
/// the project.
async fn resumed_as(dir: &Path, status: &str) -> (Harness, Value) {
    let h = restart(dir).await;
    assert_eq!(h.reconciled.resumed, ["p"]);
    let p = h.settled_as("p", status).await;
    (h, p)
}

/// [`resumed_as`], with the project's stack.
async fn resumed(dir: &Path, status: &str) -> (Harness, Value, StackRecord) {
    let (h, p) = resumed_as(dir, status).await;
    let stack = h.stack_of(&p).await;
    (h, p, stack)
}

/// How many events stack `stack_id` has.
async fn event_count(h: &Harness, stack_id: &str) -> usize {
    let events = h.cfn.engine().stack_events(stack_id, None, 1000).await;
    events.unwrap().len()
}

/// On a stopped harness: project `p` created and recorded CreateInProgress (a worker
/// took it, then the process died); its id.
async fn create_in_progress(h: &Harness) -> String {
    let out = h.create("p", URL, &[], &[]).await;
    let id = out["ProjectId"].as_str().unwrap().to_string();
    h.sagemaker
        .projects()
        .record_provisioning(
            "p",
            ProvisioningUpdate::new(
                &id,
                &[ProjectStatus::Pending],
                ProjectStatus::CreateInProgress,
            ),
        )
        .await
        .unwrap()
        .unwrap();
    id
}

/// UpdateProject `p` to the template at `URL2`, which must be accepted.
async fn update_to_url2(h: &Harness) {
    h.call(
        "UpdateProject",
        json!({"ProjectName": "p", "TemplateProvidersToUpdate": [{"CfnTemplateProvider": {"TemplateName": "ml", "TemplateURL": URL2}}]}),
    )
    .await
    .unwrap();
}

/// A second reconciliation resumes nothing and changes no project.
async fn assert_idempotent(h: &Harness, name: &str) {
    let before = h.describe(name).await;
    let again = h.provisioner.reconcile().await.unwrap();
    assert!(again.resumed.is_empty(), "{again:?}");
    h.provisioner.wait_idle().await;
    assert_eq!(h.describe(name).await, before);
}

/// The process behind `h` stops (its queued work is what a crash leaves) and a new one
/// starts over `dir`: project `p` is resumed and created, and a second reconciliation
/// changes nothing.
async fn restart_creates_p(h: Harness, dir: &Path) {
    close(h).await;
    let (h, _) = resumed_as(dir, "CreateCompleted").await;
    assert_idempotent(&h, "p").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pending_project_is_created_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let h = stopped(dir.path()).await;
    h.create("p", URL, &[], &[]).await;
    assert_eq!(h.describe("p").await["ProjectStatus"], "Pending");
    restart_creates_p(h, dir.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_in_progress_without_a_stack_creates_it() {
    let dir = tempfile::tempdir().unwrap();
    let h = stopped(dir.path()).await;
    create_in_progress(&h).await;
    restart_creates_p(h, dir.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_in_progress_with_a_finished_stack_adopts_it() {
    let dir = tempfile::tempdir().unwrap();
    let h = stopped(dir.path()).await;
    let id = create_in_progress(&h).await;
    // The worker created the stack, then the process died before recording it.
    let stack = h
        .cfn
        .create_stack_and_wait(CreateStackInput {
            stack_name: format!("SP-{id}-ml"),
            template_body: BASIC.into(),
            parameters: [
                ("SageMakerProjectName".to_string(), "p".to_string()),
                ("SageMakerProjectId".to_string(), id.clone()),
            ]
            .into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(stack.status, StackStatus::CreateComplete);
    close(h).await;

    let h = restart(dir.path()).await;
    let p = h.settled_as("p", "CreateCompleted").await;
    assert_eq!(
        stack_detail(&p)["Id"],
        stack.stack_id.as_str(),
        "adopted, not recreated"
    );
    assert_idempotent(&h, "p").await;
}

/// Runs `phase` on its own runtime until it returns, then drops that runtime with every
/// task still running: to the store, exactly a `kill -9`.
fn crash_after<F>(dir: &Path, phase: impl FnOnce(Harness) -> F + Send + 'static)
where
    F: std::future::Future<Output = ()>,
{
    let dir = dir.to_path_buf();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let handler = Arc::new(FakeHandler::default());
            handler.block.store(true, Ordering::SeqCst);
            let source = Arc::new(FakeSource::default());
            source.put(URL, BASIC);
            source.put(URL2, &blocking_v2());
            let h = harness(
                &dir,
                Options {
                    handler: Some(handler),
                    source: Some(source),
                    ..Options::default()
                },
            )
            .await;
            phase(h).await;
        });
        rt.shutdown_background();
    })
    .join()
    .unwrap();
}

/// [`v2`]'s resources plus a custom resource that blocks while the handler blocks. It
/// depends on the others so that the crash finds them finished: a native resource whose
/// creation is cut mid-call is not known to the engine after a restart (no physical id
/// was recorded) and would collide with its own re-creation.
fn blocking_v2() -> String {
    v2().replace(
        "Outputs:",
        "  Slow:\n    Type: Custom::Slow\n    DependsOn: [Queue, Group, Topic]\n    Properties:\n      ServiceToken: arn:aws:lambda:us-east-1:123456789012:function:handler\n      Block: \"true\"\nOutputs:",
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_killed_mid_stack_is_resumed() {
    let dir = tempfile::tempdir().unwrap();
    crash_after(dir.path(), |h| async move {
        // The project's template blocks on its custom resource: the stack is
        // CREATE_IN_PROGRESS when the process dies.
        h.source.put(URL, &blocking_v2());
        h.create("p", URL, &[], &[]).await;
        h.handler.blocked.notified().await;
        assert_eq!(h.describe("p").await["ProjectStatus"], "CreateInProgress");
    });

    // After the restart the same URL serves a template that completes (the handler no
    // longer blocks either): the interrupted, rolled-back stack is replaced.
    let (h, p, stack) = resumed(dir.path(), "CreateCompleted").await;
    assert_eq!(stack.status, StackStatus::CreateComplete);
    assert_eq!(stack_detail(&p)["Id"], stack.stack_id.as_str());
    assert_idempotent(&h, "p").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_killed_mid_stack_is_resumed() {
    let dir = tempfile::tempdir().unwrap();
    crash_after(dir.path(), |h| async move {
        h.create("p", URL, &[], &[]).await;
        assert_eq!(h.settled("p").await["ProjectStatus"], "CreateCompleted");
        update_to_url2(&h).await;
        h.handler.blocked.notified().await;
        assert_eq!(h.describe("p").await["ProjectStatus"], "UpdateInProgress");
    });

    // The engine rolls the interrupted update back; the project still wants v2, so the
    // update runs again (this time URL2 serves v2 without the blocking resource).
    let (h, _, stack) = resumed(dir.path(), "UpdateCompleted").await;
    assert_eq!(stack.status, StackStatus::UpdateComplete);
    assert_eq!(stack.template.body, v2());
    assert_idempotent(&h, "p").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_whose_stack_already_updated_is_only_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let h = restart(dir.path()).await;
    h.create("p", URL, &[], &[]).await;
    h.settled_as("p", "CreateCompleted").await;
    close(h).await;

    let h = stopped(dir.path()).await;
    update_to_url2(&h).await;
    let p = h.describe("p").await;
    assert_eq!(p["ProjectStatus"], "UpdateInProgress");
    // The worker's stack update finished; the process died before recording it.
    let stack = h.stack_of(&p).await;
    let updated = h
        .cfn
        .update_stack_and_wait(UpdateStackInput {
            stack_name: stack.stack_id.clone(),
            template_body: Some(v2()),
            parameters: stack.template.parameters.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(updated.status, StackStatus::UpdateComplete);
    let events = event_count(&h, &stack.stack_id).await;
    close(h).await;

    let h = restart(dir.path()).await;
    let p = h.settled_as("p", "UpdateCompleted").await;
    assert_eq!(
        message(&p),
        format!("Stack {} reached UPDATE_COMPLETE.", stack.stack_name)
    );
    assert_eq!(
        event_count(&h, &stack.stack_id).await,
        events,
        "no second update ran"
    );
    assert_idempotent(&h, "p").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delete_in_progress_finishes_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let h = restart(dir.path()).await;
    h.create("p", URL, &[], &[]).await;
    let p = h.settled_as("p", "CreateCompleted").await;
    let stack = h.stack_of(&p).await;
    close(h).await;

    let h = stopped(dir.path()).await;
    h.call("DeleteProject", json!({"ProjectName": "p"}))
        .await
        .unwrap();
    assert_eq!(h.describe("p").await["ProjectStatus"], "DeleteInProgress");
    close(h).await;

    let (h, _) = resumed_as(dir.path(), "DeleteCompleted").await;
    assert_eq!(
        h.cfn.describe_stack(&stack.stack_id).await.unwrap().status,
        StackStatus::DeleteComplete
    );
    assert_idempotent(&h, "p").await;
}

/// A deletion recorded by a process that died before its purge timer fired: the record
/// stays `DeleteCompleted` until something purges it. `purge_due` (takeover's full scan
/// on a shared database) removes it once its retention has run out, and not before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_due_purge_whose_timer_died_is_done_by_purge_due() {
    let dir = tempfile::tempdir().unwrap();
    crash_after(dir.path(), |h| async move {
        h.create("p", URL, &[], &[]).await;
        h.settled_as("p", "CreateCompleted").await;
        h.call("DeleteProject", json!({"ProjectName": "p"}))
            .await
            .unwrap();
        h.settled_as("p", "DeleteCompleted").await;
    });

    // Not yet due (the default retention is a minute): it stays.
    let h = stopped(dir.path()).await;
    assert_eq!(h.provisioner.purge_due().await.unwrap(), 0);
    assert_eq!(h.describe("p").await["ProjectStatus"], "DeleteCompleted");
    close(h).await;

    // Due: purged once, and a second pass finds nothing.
    let mut options = Options::bounded(8, std::time::Duration::ZERO);
    options.start = false;
    let h = harness(dir.path(), options).await;
    assert_eq!(h.describe("p").await["ProjectStatus"], "DeleteCompleted");
    assert_eq!(h.provisioner.purge_due().await.unwrap(), 1);
    let e = h
        .call("DescribeProject", json!({"ProjectName": "p"}))
        .await
        .unwrap_err();
    assert_eq!(e.to_string(), "Project p does not exist.");
    assert_eq!(h.provisioner.purge_due().await.unwrap(), 0);
    close(h).await;
}
