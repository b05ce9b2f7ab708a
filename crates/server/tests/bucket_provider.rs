//! `AWS::S3::Bucket` through the server's native providers over the SQLite store and
//! PostgreSQL (its own schema; skipped with a message when no server is reachable,
//! unless `CI=true`; URL from `SAGESTACK_TEST_POSTGRES_URL`): the
//! stack's bucket is a row of the store's buckets (tags where GetBucketTagging reads
//! them), a bucket holding an object fails the stack delete with S3's reason, and the
//! delete completes once the bucket is empty.

#[path = "../../../tests/support/stacks.rs"]
mod stacks;

use std::sync::Arc;

use bytes::Bytes;
use sagestack_cloudformation::{
    CloudFormationService, CreateStackInput, ServiceConfig, StackStatus,
};
use sagestack_sagemaker::{ModelPackageGroups, SystemClock};
use sagestack_server::native_providers;
use sagestack_ssm::Parameters;
use sagestack_store::{ObjectMeta, PostgresStore, SqliteStore, StackStore, Store};
use serde_json::Value;
use stacks::{create_complete, event_reason};

const TEMPLATE: &str = r#"
Resources:
  Artifacts:
    Type: AWS::S3::Bucket
    Properties:
      BucketName: !Sub "${AWS::StackName}-artifacts"
      Tags: [{Key: stage, Value: dev}]
Outputs:
  Domain: {Value: !GetAtt Artifacts.RegionalDomainName}
"#;

#[tokio::test]
async fn a_stack_bucket_is_a_bucket_of_the_sqlite_store() {
    let dir = tempfile::tempdir().unwrap();
    run(Arc::new(SqliteStore::open(dir.path()).await.unwrap())).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stack_bucket_is_a_bucket_of_the_postgres_store() {
    let schema = format!(
        "sagestack_s3src_{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos()
    );
    let urls = match std::env::var("SAGESTACK_TEST_POSTGRES_URL") {
        Ok(u) => vec![u],
        Err(_) => vec![
            "postgres://postgres@127.0.0.1:5432/test".to_string(),
            "postgres://root@127.0.0.1:5432/test".to_string(),
        ],
    };
    let mut last_error = String::new();
    for url in urls {
        match PostgresStore::connect(&url, Some(&schema)).await {
            Ok(store) => {
                run(Arc::new(store)).await;
                PostgresStore::drop_schema(&url, &schema).await.unwrap();
                return;
            }
            Err(e) => last_error = e.to_string(),
        }
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "CI=true and PostgreSQL is unreachable: {last_error}"
    );
    use std::io::Write as _;
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED: PostgreSQL bucket provider test ({last_error})"
    );
}

async fn run(store: Arc<dyn Store>) {
    let groups = Arc::new(ModelPackageGroups::new(
        store.clone(),
        Arc::new(SystemClock),
    ));
    let parameters = Arc::new(Parameters::with_system_clock(store.clone()));
    let stacks: Arc<dyn StackStore> = store.clone();
    let mut config = ServiceConfig::new("us-west-2", "123456789012", stacks);
    for (type_name, provider) in native_providers(store.clone(), store.clone(), groups, parameters)
    {
        config = config.with_native_provider(type_name, provider);
    }
    let cfn = CloudFormationService::new(config).unwrap();

    let created = create_complete(
        &cfn,
        CreateStackInput {
            stack_name: "ml".into(),
            template_body: TEMPLATE.into(),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(
        created.outputs[0].value,
        "ml-artifacts.s3.us-west-2.amazonaws.com"
    );
    let bucket = store.get_bucket("ml-artifacts").await.unwrap().unwrap();
    assert_eq!(bucket.region, "us-west-2");
    let doc: Value = serde_json::from_str(&bucket.document).unwrap();
    assert!(
        doc["Tags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["Key"] == "stage" && t["Value"] == "dev"),
        "{doc}"
    );

    // A second stack asking for the same name fails as CloudFormation reports it.
    let clash = cfn
        .create_stack_and_wait(CreateStackInput {
            stack_name: "ml2".into(),
            template_body: TEMPLATE.replace("${AWS::StackName}", "ml"),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(clash.status, StackStatus::RollbackComplete);
    assert_eq!(
        event_reason(&cfn, &clash.stack_id, "Artifacts", "CREATE_FAILED").await,
        "ml-artifacts already exists"
    );
    assert!(store.get_bucket("ml-artifacts").await.unwrap().is_some());

    let meta = ObjectMeta {
        bucket: "ml-artifacts".into(),
        key: "model.tar.gz".into(),
        size: 7,
        etag: "\"0\"".into(),
        last_modified_micros: 0,
        document: "{}".into(),
    };
    store
        .put_object(&meta, Bytes::from_static(b"weights"))
        .await
        .unwrap();
    let failed = cfn.delete_stack_and_wait("ml").await.unwrap().unwrap();
    assert_eq!(failed.status, StackStatus::DeleteFailed);
    assert_eq!(
        event_reason(&cfn, &created.stack_id, "Artifacts", "DELETE_FAILED").await,
        "The bucket you tried to delete is not empty"
    );
    store
        .delete_object("ml-artifacts", "model.tar.gz")
        .await
        .unwrap();
    let deleted = cfn
        .delete_stack_and_wait(&created.stack_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(deleted.status, StackStatus::DeleteComplete);
    assert!(store.get_bucket("ml-artifacts").await.unwrap().is_none());
}
