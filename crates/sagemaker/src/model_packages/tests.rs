//! "SageMaker Model Package State Change": published on registration and on each change
//! of approval, through the API and the native provider alike, and not built when
//! nobody wants it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use sagestack_engine::{EmittedEvent, EventPublisher, ResourceContext, ResourceProvider};
use sagestack_store::SqliteStore;
use serde_json::{Value, json};

use super::events::iso8601_seconds;
use super::*;
use crate::ModelPackageProvider;

/// Records what it is given, wanting everything or nothing.
struct Recorder {
    wanted: bool,
    asked: AtomicUsize,
    published: Mutex<Vec<EmittedEvent>>,
}

impl Recorder {
    fn new(wanted: bool) -> Arc<Self> {
        Arc::new(Self {
            wanted,
            asked: AtomicUsize::new(0),
            published: Mutex::new(Vec::new()),
        })
    }

    fn approvals(&self) -> Vec<String> {
        self.published
            .lock()
            .unwrap()
            .iter()
            .map(|e| {
                e.detail["ModelApprovalStatus"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect()
    }
}

#[async_trait]
impl EventPublisher for Recorder {
    async fn publish(&self, events: Vec<EmittedEvent>) {
        self.published.lock().unwrap().extend(events);
    }

    fn wants(&self, source: &str, detail_type: &str) -> bool {
        self.asked.fetch_add(1, Ordering::SeqCst);
        assert_eq!(
            (source, detail_type),
            (SAGEMAKER_SOURCE, MODEL_PACKAGE_STATE_CHANGE)
        );
        self.wanted
    }
}

fn ctx() -> RequestContext {
    RequestContext::new("us-east-2", "123456789012").with_caller(
        sagestack_protocol::auth::Caller::root("AKIDTEST", "123456789012"),
    )
}

/// Groups over a fresh store publishing to `recorder`, with the group `Churn`.
async fn groups(dir: &std::path::Path, recorder: Arc<Recorder>) -> Arc<ModelPackageGroups> {
    let store = Arc::new(SqliteStore::open(dir).await.unwrap());
    let groups = ModelPackageGroups::new(store, crate::testing::clock()).with_publisher(recorder);
    groups
        .handle(
            &ctx(),
            "CreateModelPackageGroup",
            json!({"ModelPackageGroupName": "Churn"}),
        )
        .await
        .unwrap();
    Arc::new(groups)
}

async fn call(groups: &ModelPackageGroups, op: &str, input: Value) -> Value {
    groups
        .handle_package(&ctx(), op, input)
        .await
        .unwrap()
        .into_value()
        .unwrap()
}

/// A fresh store's groups (with `Churn`) publishing to a recorder wanting `wanted`; the
/// directory lives as long as the first.
async fn setup(wanted: bool) -> (tempfile::TempDir, Arc<Recorder>, Arc<ModelPackageGroups>) {
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::new(wanted);
    let groups = groups(dir.path(), recorder.clone()).await;
    (dir, recorder, groups)
}

/// Registers a version in `Churn` (with `extra` members), answering its ARN.
async fn register(groups: &ModelPackageGroups, extra: Value) -> Value {
    let mut input =
        json!({"ModelPackageGroupName": "Churn", "InferenceSpecification": inference()});
    merge(&mut input, extra);
    call(groups, "CreateModelPackage", input).await["ModelPackageArn"].clone()
}

/// `extra`'s members added to the object `input`.
fn merge(input: &mut Value, extra: Value) {
    if let (Some(into), Value::Object(more)) = (input.as_object_mut(), extra) {
        into.extend(more);
    }
}

fn inference() -> Value {
    json!({
        "Containers": [{"Image": "123456789012.dkr.ecr.us-east-2.amazonaws.com/xgb:1",
            "ModelDataUrl": "s3://bucket/model.tar.gz"}],
        "SupportedContentTypes": ["text/csv"],
        "SupportedResponseMIMETypes": ["text/csv"],
    })
}

#[tokio::test]
async fn registering_a_version_publishes_it_as_stored() {
    let (_dir, recorder, groups) = setup(true).await;
    let metadata = json!({"MetadataProperties": {"GeneratedBy": "pipeline-execution"}});
    let arn = register(&groups, metadata).await;
    assert_eq!(
        arn,
        "arn:aws:sagemaker:us-east-2:123456789012:model-package/churn/1"
    );

    let published = recorder.published.lock().unwrap().clone();
    assert_eq!(published.len(), 1);
    let event = &published[0];
    assert_eq!(event.source, "aws.sagemaker");
    assert_eq!(event.detail_type, "SageMaker Model Package State Change");
    assert_eq!(event.resources, vec![arn.as_str().unwrap().to_string()]);
    let described = call(
        &groups,
        "DescribeModelPackage",
        json!({"ModelPackageName": arn}),
    )
    .await;
    let d = &event.detail;
    for key in [
        "ModelPackageGroupName",
        "ModelPackageVersion",
        "ModelPackageArn",
        "ModelPackageName",
        "InferenceSpecification",
        "ModelPackageStatus",
        "ModelPackageStatusDetails",
        "CertifyForMarketplace",
        "ModelApprovalStatus",
        "MetadataProperties",
        "CreatedBy",
    ] {
        assert_eq!(d[key], described[key], "{key}");
    }
    assert_eq!(d["ModelPackageVersion"], 1);
    assert_eq!(d["ModelApprovalStatus"], "PendingManualApproval");
    assert_eq!(d["ModelPackageStatus"], "Completed");
    assert_eq!(
        d["ModelPackageStatusDetails"],
        json!({"ValidationStatuses": [], "ImageScanStatuses": []})
    );
    assert_eq!(d["CertifyForMarketplace"], false);
    // Times as AWS's example writes them; the event at the package's last change.
    let created = described["CreationTime"].as_f64().unwrap();
    assert_eq!(
        d["CreationTime"],
        iso8601_seconds((created * 1000.0) as i64)
    );
    assert_eq!(
        d["CreationTime"].as_str().unwrap().len(),
        "2021-02-24T17:00:14Z".len()
    );
    assert_eq!(d["LastModifiedTime"], d["CreationTime"]);
    assert_eq!(event.time, (created * 1000.0).round() as i64);
}

#[tokio::test]
async fn each_change_of_approval_publishes_and_other_updates_do_not() {
    let (_dir, recorder, groups) = setup(true).await;
    let arn = register(&groups, json!({})).await;
    for update in [
        json!({"ModelApprovalStatus": "Approved"}),
        // The same approval again, a description, metadata: no state change.
        json!({"ModelApprovalStatus": "Approved"}),
        json!({"ApprovalDescription": "good"}),
        json!({"CustomerMetadataProperties": {"k": "v"}}),
        json!({"ModelApprovalStatus": "Rejected"}),
    ] {
        let mut input = json!({"ModelPackageArn": arn});
        merge(&mut input, update);
        call(&groups, "UpdateModelPackage", input).await;
    }
    assert_eq!(
        recorder.approvals(),
        ["PendingManualApproval", "Approved", "Rejected"]
    );
    let last = recorder.published.lock().unwrap().last().unwrap().clone();
    // The update's own members are in the detail, and its time is the update's.
    assert_eq!(last.detail["ApprovalDescription"], "good");
    assert_eq!(last.detail["CustomerMetadataProperties"], json!({"k": "v"}));
    assert!(
        last.detail["LastModifiedTime"].as_str().unwrap()
            > last.detail["CreationTime"].as_str().unwrap()
    );
    assert!(last.time > recorder.published.lock().unwrap()[0].time);
    // A deletion publishes nothing (AWS documents no event for it).
    call(
        &groups,
        "DeleteModelPackage",
        json!({"ModelPackageName": arn}),
    )
    .await;
    assert_eq!(recorder.published.lock().unwrap().len(), 3);
}

#[tokio::test]
async fn an_unversioned_package_publishes_on_registration() {
    let (_dir, recorder, groups) = setup(true).await;
    call(
        &groups,
        "CreateModelPackage",
        json!({"ModelPackageName": "Standalone", "InferenceSpecification": inference()}),
    )
    .await;
    let published = recorder.published.lock().unwrap().clone();
    assert_eq!(published.len(), 1);
    assert_eq!(
        published[0].resources,
        ["arn:aws:sagemaker:us-east-2:123456789012:model-package/standalone"]
    );
    assert_eq!(published[0].detail["ModelPackageName"], "Standalone");
    assert!(published[0].detail.get("ModelPackageVersion").is_none());
}

#[tokio::test]
async fn nothing_is_published_when_nobody_wants_it() {
    let (_dir, recorder, groups) = setup(false).await;
    let arn = register(&groups, json!({})).await;
    call(
        &groups,
        "UpdateModelPackage",
        json!({"ModelPackageArn": arn, "ModelApprovalStatus": "Approved"}),
    )
    .await;
    assert_eq!(recorder.asked.load(Ordering::SeqCst), 2);
    assert!(recorder.published.lock().unwrap().is_empty());
}

/// A stack's model package goes through the same operations: registered, then approved
/// by an update of the stack, it publishes both.
#[tokio::test]
async fn the_native_provider_publishes_too() {
    let (_dir, recorder, groups) = setup(true).await;
    let provider = ModelPackageProvider::new(groups);
    let ctx = ResourceContext {
        region: "us-east-2".into(),
        account_id: "123456789012".into(),
        partition: "aws".into(),
        stack_name: "s".into(),
        stack_id: "arn:aws:cloudformation:us-east-2:123456789012:stack/s/x".into(),
        logical_id: "Package".into(),
        resource_type: "AWS::SageMaker::ModelPackage".into(),
        stack_tags: vec![],
        started: 0,
    };
    let old = json!({"ModelPackageGroupName": "Churn", "InferenceSpecification": inference()});
    let state = provider.create(&ctx, &old).await.unwrap();
    let mut new = old.clone();
    new["ModelApprovalStatus"] = "Approved".into();
    provider.update(&ctx, &state, &old, &new).await.unwrap();
    assert_eq!(recorder.approvals(), ["PendingManualApproval", "Approved"]);
    assert!(
        recorder
            .published
            .lock()
            .unwrap()
            .iter()
            .all(|e| e.resources == [state.physical_id.clone()])
    );
}

#[test]
fn times_are_written_to_the_second() {
    assert_eq!(iso8601_seconds(1_614_186_014_250), "2021-02-24T17:00:14Z");
}
