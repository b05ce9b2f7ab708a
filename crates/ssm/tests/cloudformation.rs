//! The SSM service as CloudFormation sees it: the native `AWS::SSM::Parameter` provider
//! and the SSM lookup, inside a real `CloudFormationService` whose stacks are kept in the
//! SQLite store (the same store the SSM API reads).

#[path = "../../../tests/support/requests.rs"]
mod requests;
#[path = "../../../tests/support/stacks.rs"]
mod stacks;

use std::path::Path;
use std::sync::Arc;

use requests::{ctx, value};
use sagestack_cloudformation::{
    CloudFormationService, CreateStackInput, ServiceConfig, StackRecord, StackStatus,
};
use sagestack_ssm::{ParameterProvider, Parameters, SsmService, StoreSsmLookup};
use sagestack_store::{SqliteStore, StackStore, Store};
use serde_json::{Value, json};
use stacks::{event_reason, output};

async fn call(ssm: &SsmService, op: &str, input: Value) -> Result<Value, sagestack_ssm::SsmError> {
    ssm.handle(&ctx(), op, input).await.map(value)
}

/// The SQLite store in `dir`, the SSM API over it, and CloudFormation with the native
/// `AWS::SSM::Parameter` provider; with `lookup`, templates also read SSM from the store.
async fn services(
    dir: &Path,
    lookup: bool,
) -> (Arc<dyn Store>, Arc<SsmService>, CloudFormationService) {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(dir).await.unwrap());
    let parameters = Arc::new(Parameters::with_system_clock(store.clone()));
    let ssm = Arc::new(SsmService::new(parameters.clone()));
    let stacks: Arc<dyn StackStore> = store.clone();
    let mut config = ServiceConfig::new("us-east-1", "123456789012", stacks).with_native_provider(
        "AWS::SSM::Parameter",
        Arc::new(ParameterProvider::new(parameters)),
    );
    if lookup {
        config = config.with_ssm(Arc::new(StoreSsmLookup::new(store.clone())));
    }
    (store, ssm, CloudFormationService::new(config).unwrap())
}

/// PutParameter of String `name` = `value` (replacing it with `overwrite`), which must
/// succeed.
async fn put(ssm: &SsmService, name: &str, value: &str, overwrite: bool) {
    let input = json!({"Name": name, "Value": value, "Type": "String", "Overwrite": overwrite});
    call(ssm, "PutParameter", input).await.unwrap();
}

/// CreateStack `name` from `body` and wait for it to settle.
async fn create(cfn: &CloudFormationService, name: &str, body: &str) -> StackRecord {
    cfn.create_stack_and_wait(CreateStackInput {
        stack_name: name.into(),
        template_body: body.into(),
        ..Default::default()
    })
    .await
    .unwrap()
}

const TEMPLATE: &str = include_str!("../../../tests/fixtures/ssm-stack.yaml");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stack_parameters_are_real_and_templates_read_ssm() {
    let dir = tempfile::tempdir().unwrap();
    let (store, ssm, cfn) = services(dir.path(), true).await;
    put(&ssm, "/config/base", "v1", false).await;
    put(&ssm, "/config/base", "v2", true).await;
    let stack = create(&cfn, "params", TEMPLATE).await;
    assert_eq!(stack.status, StackStatus::CreateComplete, "{stack:?}");
    assert_eq!(output(&stack, "NamedRef"), "/stack/named");
    assert_eq!(output(&stack, "NamedType"), "String");
    assert_eq!(output(&stack, "GeneratedValue"), "a,b");
    let generated = output(&stack, "GeneratedRef");
    assert!(
        regex::Regex::new("^CFN-Generated-[A-Za-z0-9]{12}$")
            .unwrap()
            .is_match(&generated),
        "{generated}"
    );
    // The parameters are real: the SSM API reads them.
    let p = call(&ssm, "GetParameter", json!({"Name": "/stack/named"}))
        .await
        .unwrap();
    assert_eq!(
        p["Parameter"]["Value"], "v2-v1",
        "latest via the typed parameter, version 1 via resolve"
    );
    let p = call(&ssm, "GetParameter", json!({"Name": generated}))
        .await
        .unwrap();
    assert_eq!(p["Parameter"]["Type"], "StringList");
    // The stack records are in the store too (they survive a restart).
    assert_eq!(store.list_stacks().await.unwrap().len(), 1);
    let deleted = cfn.delete_stack_and_wait("params").await.unwrap().unwrap();
    assert_eq!(deleted.status, StackStatus::DeleteComplete);
    let e = call(&ssm, "GetParameter", json!({"Name": "/stack/named"}))
        .await
        .unwrap_err();
    assert_eq!(e, sagestack_ssm::SsmError::ParameterNotFound);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_name_fails_the_stack() {
    let dir = tempfile::tempdir().unwrap();
    let (_store, ssm, cfn) = services(dir.path(), false).await;
    put(&ssm, "taken", "mine", false).await;
    let stack = create(&cfn, "clash", "Resources:\n  P:\n    Type: AWS::SSM::Parameter\n    Properties: {Name: taken, Type: String, Value: theirs}\n").await;
    assert_eq!(stack.status, StackStatus::RollbackComplete);
    let reason = event_reason(&cfn, &stack.stack_id, "P", "CREATE_FAILED").await;
    assert!(
        reason.contains(
            "Resource of type 'AWS::SSM::Parameter' with identifier 'taken' already exists."
        ),
        "{reason}"
    );
    // The rollback did not delete the parameter it did not create.
    let secure = create(&cfn, "secure", "Resources:\n  P:\n    Type: AWS::SSM::Parameter\n    Properties: {Type: SecureString, Value: s}\n").await;
    assert_eq!(secure.status, StackStatus::RollbackComplete);
    let p = call(&ssm, "GetParameter", json!({"Name": "taken"}))
        .await
        .unwrap();
    assert_eq!(p["Parameter"]["Value"], "mine");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stack_update_replaces_the_parameters_tags() {
    let dir = tempfile::tempdir().unwrap();
    let (_store, ssm, cfn) = services(dir.path(), false).await;
    let body = |value: &str, tags: &str| {
        format!(
            "Resources:\n  P:\n    Type: AWS::SSM::Parameter\n    Properties: {{Name: tagged, Type: String, Value: {value}, Tags: {tags}}}\n"
        )
    };
    let stack = create(&cfn, "tags", &body("one", "{a: '1', b: '2'}")).await;
    assert_eq!(stack.status, StackStatus::CreateComplete, "{stack:?}");
    let list = json!({"ResourceType": "Parameter", "ResourceId": "tagged"});
    let tags = call(&ssm, "ListTagsForResource", list.clone())
        .await
        .unwrap();
    assert_eq!(
        tags["TagList"],
        json!([{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}])
    );
    let updated = cfn
        .update_stack_and_wait(sagestack_cloudformation::UpdateStackInput {
            stack_name: "tags".into(),
            template_body: Some(body("two", "{a: '3', c: '4'}")),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(updated.status, StackStatus::UpdateComplete, "{updated:?}");
    let tags = call(&ssm, "ListTagsForResource", list).await.unwrap();
    assert_eq!(
        tags["TagList"],
        json!([{"Key": "a", "Value": "3"}, {"Key": "c", "Value": "4"}])
    );
    let p = call(&ssm, "GetParameter", json!({"Name": "tagged"}))
        .await
        .unwrap();
    assert_eq!(
        (&p["Parameter"]["Value"], &p["Parameter"]["Version"]),
        (&json!("two"), &json!(2))
    );
}
