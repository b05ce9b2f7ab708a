//! A stack's whole life through the assembled service with the schema-driven providers:
//! create, an update that replaces a resource (its dependent repointed), an in-place
//! update, and delete.

mod common;

use common::{delete_completely, memory_service};
use sagestack_cloudformation::*;
use sagestack_engine::{ResourceStatus, StackEvent};
use serde_json::json;

fn template(bucket: &str, retention: u32) -> String {
    format!(
        r#"
Parameters:
  Env: {{Type: String, AllowedValues: [dev, prod]}}
Resources:
  Bucket:
    Type: AWS::S3::Bucket
    Properties:
      BucketName: !Sub '{bucket}-${{Env}}'
  Queue:
    Type: AWS::SQS::Queue
    Properties:
      MessageRetentionPeriod: {retention}
  Pointer:
    Type: AWS::SSM::Parameter
    Properties:
      Type: String
      Name: !Sub '/${{AWS::StackName}}/bucket'
      Value: !GetAtt Bucket.Arn
Outputs:
  Bucket: {{Value: !Ref Bucket, Export: {{Name: !Sub '${{AWS::StackName}}-bucket'}}}}
  Queue: {{Value: !Ref Queue}}
"#
    )
}

/// `logical STATUS` lines of the events after the first `skip`, oldest first.
fn lines(events: &[StackEvent], skip: usize) -> Vec<String> {
    let mut e: Vec<&StackEvent> = events.iter().collect();
    e.reverse();
    e.into_iter()
        .skip(skip)
        .map(|e| format!("{} {}", e.logical_resource_id, e.resource_status))
        .collect()
}

#[tokio::test]
async fn create_update_with_replacement_and_delete() {
    let service = memory_service("eu-west-1", "111122223333");
    let params = |env: &str| [("Env".to_string(), env.to_string())].into();

    // Create.
    let created = service
        .create_stack_and_wait(CreateStackInput {
            stack_name: "life".into(),
            template_body: template("data", 60),
            parameters: params("dev"),
            tags: vec![("team".into(), "ml".into())],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(created.status, StackStatus::CreateComplete);
    let id = created.stack_id.clone();
    assert!(id.starts_with("arn:aws:cloudformation:eu-west-1:111122223333:stack/life/"));
    let resources = service.list_stack_resources("life").await.unwrap();
    assert_eq!(resources.len(), 3);
    let bucket = |rs: &[sagestack_engine::ResourceRecord]| {
        rs.iter()
            .find(|r| r.logical_id == "Bucket")
            .unwrap()
            .clone()
    };
    let b1 = bucket(&resources);
    assert_eq!(b1.physical_id.as_deref(), Some("data-dev"));
    assert_eq!(b1.attributes["Arn"], json!("arn:aws:s3:::data-dev"));
    let exports = service.list_exports().await.unwrap();
    assert_eq!(exports.len(), 1);
    assert_eq!(
        (exports[0].name.as_str(), exports[0].value.as_str()),
        ("life-bucket", "data-dev")
    );
    let queue_before = resources
        .iter()
        .find(|r| r.logical_id == "Queue")
        .unwrap()
        .physical_id
        .clone();
    let n = service
        .engine()
        .stack_events(&id, None, 1000)
        .await
        .unwrap()
        .len();

    // Update: a new bucket name replaces the bucket; the pointer follows it; the queue's
    // retention changes in place.
    // The update to the `archive` bucket in `prod` (applied here, and again below).
    let to_archive = || UpdateStackInput {
        stack_name: "life".into(),
        template_body: Some(template("archive", 120)),
        parameters: params("prod"),
        ..Default::default()
    };
    let updated = service.update_stack_and_wait(to_archive()).await.unwrap();
    assert_eq!(updated.status, StackStatus::UpdateComplete, "{updated:?}");
    let resources = service.list_stack_resources(&id).await.unwrap();
    let b2 = bucket(&resources);
    assert_eq!(b2.physical_id.as_deref(), Some("archive-prod"));
    assert_eq!(b2.status, ResourceStatus::UpdateComplete);
    let pointer = resources
        .iter()
        .find(|r| r.logical_id == "Pointer")
        .unwrap();
    assert_eq!(
        pointer.properties["Value"],
        json!("arn:aws:s3:::archive-prod")
    );
    let queue = resources.iter().find(|r| r.logical_id == "Queue").unwrap();
    assert_eq!(
        queue.physical_id, queue_before,
        "in-place update keeps the queue"
    );
    assert_eq!(queue.properties["MessageRetentionPeriod"], json!(120));
    let events = service
        .engine()
        .stack_events(&id, None, 1000)
        .await
        .unwrap();
    let after = lines(&events, n);
    // The old bucket is deleted in the cleanup phase, after the new one exists.
    let at = |line: &str| after.iter().position(|l| l == line).unwrap();
    let new_done = at("Bucket UPDATE_COMPLETE");
    let cleanup = at("life UPDATE_COMPLETE_CLEANUP_IN_PROGRESS");
    let old_deleted = at("Bucket DELETE_COMPLETE");
    assert!(new_done < cleanup && cleanup < old_deleted, "{after:#?}");
    let old_delete_event = events
        .iter()
        .find(|e| e.logical_resource_id == "Bucket" && e.resource_status == "DELETE_COMPLETE")
        .unwrap();
    assert_eq!(
        old_delete_event.physical_resource_id.as_deref(),
        Some("data-dev")
    );
    assert_eq!(after.last().unwrap(), "life UPDATE_COMPLETE");
    assert_eq!(
        service.list_exports().await.unwrap()[0].value,
        "archive-prod"
    );

    // Nothing to do is refused as AWS refuses it.
    let same = service.update_stack(to_archive()).await.unwrap_err();
    assert_eq!(same, EngineError::NoUpdates);

    // Delete.
    let deleted = delete_completely(&service, "life").await;
    assert!(deleted.deletion_time.is_some());
    assert!(matches!(
        service.describe_stack("life").await,
        Err(EngineError::NotFound(_))
    ));
    // Still described by id, with every resource gone, and no export left.
    assert_eq!(
        service.describe_stack(&id).await.unwrap().status,
        StackStatus::DeleteComplete
    );
    assert!(service.list_exports().await.unwrap().is_empty());
    let events = service
        .engine()
        .stack_events(&id, None, 1000)
        .await
        .unwrap();
    for logical in ["Bucket", "Queue", "Pointer"] {
        assert!(
            events
                .iter()
                .any(|e| e.logical_resource_id == logical && e.resource_status == "DELETE_COMPLETE"),
            "{logical} deleted"
        );
    }
    assert_eq!(events[0].resource_status, "DELETE_COMPLETE");
    assert_eq!(service.delete_stack_and_wait("life").await.unwrap(), None);
}
