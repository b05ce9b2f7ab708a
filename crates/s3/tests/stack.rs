//! `AWS::S3::Bucket` through the whole CloudFormation service: a stack's bucket is a
//! bucket of the object store, and deleting the stack while the bucket holds an object
//! fails the way CloudFormation fails (`DELETE_FAILED`, S3's reason), then succeeds once
//! the bucket is empty.

#[path = "../../../tests/support/stacks.rs"]
mod stacks;

use std::sync::Arc;

use bytes::Bytes;
use sagestack_cloudformation::{
    CloudFormationService, CreateStackInput, ServiceConfig, StackStatus, UpdateStackInput,
};
use sagestack_engine::MemoryStore;
use sagestack_s3::bucket_provider::{BucketProvider, TYPE_NAME};
use sagestack_s3::memory::{MemoryObjectStore, object_meta};
use sagestack_store::ObjectStore;
use serde_json::Value;
use stacks::{create_complete, event_reason, output, tag_pairs};

const TEMPLATE: &str = r#"
Parameters:
  Team: {Type: String}
Resources:
  Data:
    Type: AWS::S3::Bucket
    Properties:
      Tags: [{Key: team, Value: !Ref Team}]
  Named:
    Type: AWS::S3::Bucket
    Properties:
      BucketName: !Sub '${AWS::StackName}-named'
Outputs:
  Name: {Value: !Ref Data}
  Arn: {Value: !GetAtt Data.Arn}
  Regional: {Value: !GetAtt Named.RegionalDomainName}
"#;

fn service(objects: Arc<MemoryObjectStore>) -> CloudFormationService {
    CloudFormationService::new(
        ServiceConfig::new("eu-central-1", "111122223333", Arc::new(MemoryStore::new()))
            .with_native_provider(TYPE_NAME, Arc::new(BucketProvider::new(objects))),
    )
    .unwrap()
}

fn tags(document: &str) -> Vec<(String, String)> {
    let doc: Value = serde_json::from_str(document).unwrap();
    tag_pairs(&doc["Tags"])
}

#[tokio::test]
async fn stack_buckets_are_real_and_a_non_empty_one_fails_the_delete() {
    let objects = Arc::new(MemoryObjectStore::new());
    let service = service(objects.clone());
    let params = |team: &str| [("Team".to_string(), team.to_string())].into();
    let created = create_complete(
        &service,
        CreateStackInput {
            stack_name: "proj".into(),
            template_body: TEMPLATE.into(),
            parameters: params("ml"),
            tags: vec![("cost-center".into(), "42".into())],
            ..Default::default()
        },
    )
    .await;
    let data = output(&created, "Name");
    assert!(data.starts_with("proj-data-"), "{data}");
    assert_eq!(output(&created, "Arn"), format!("arn:aws:s3:::{data}"));
    assert_eq!(
        output(&created, "Regional"),
        "proj-named.s3.eu-central-1.amazonaws.com"
    );
    let bucket = objects.get_bucket(&data).await.unwrap().unwrap();
    assert_eq!(bucket.region, "eu-central-1");
    let t = tags(&bucket.document);
    assert!(t.contains(&("team".into(), "ml".into())), "{t:?}");
    assert!(t.contains(&("cost-center".into(), "42".into())), "{t:?}");
    assert!(t.contains(&("aws:cloudformation:stack-name".into(), "proj".into())));
    assert!(objects.get_bucket("proj-named").await.unwrap().is_some());

    // An in-place update rewrites the tags of the same bucket.
    let updated = service
        .update_stack_and_wait(UpdateStackInput {
            stack_name: "proj".into(),
            template_body: Some(TEMPLATE.into()),
            parameters: params("data"),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(updated.status, StackStatus::UpdateComplete, "{updated:?}");
    let bucket = objects.get_bucket(&data).await.unwrap().unwrap();
    assert!(tags(&bucket.document).contains(&("team".into(), "data".into())));

    // A bucket with an object: DELETE_FAILED with S3's reason; the other one is gone.
    objects
        .put_object(
            &object_meta(&data, "model.tar.gz", b"weights"),
            Bytes::from("weights"),
        )
        .await
        .unwrap();
    let failed = service
        .delete_stack_and_wait("proj")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(failed.status, StackStatus::DeleteFailed, "{failed:?}");
    let reason = event_reason(&service, &created.stack_id, "Data", "DELETE_FAILED").await;
    assert!(
        reason.contains("The bucket you tried to delete is not empty"),
        "{reason}"
    );
    assert!(objects.get_bucket(&data).await.unwrap().is_some());
    assert!(objects.get_bucket("proj-named").await.unwrap().is_none());

    // Emptied, the retried delete completes.
    objects.delete_object(&data, "model.tar.gz").await.unwrap();
    let deleted = service
        .delete_stack_and_wait(&created.stack_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(deleted.status, StackStatus::DeleteComplete, "{deleted:?}");
    assert!(objects.get_bucket(&data).await.unwrap().is_none());
}
