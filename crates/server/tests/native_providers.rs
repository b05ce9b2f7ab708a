//! The native providers inside a real CloudFormation service over the SQLite store: a
//! stack's SSM parameter, model package group and IAM role are real objects of this
//! server, created, updated and deleted with the stack, and visible through the APIs.

#[path = "../../../tests/support/requests.rs"]
mod requests;
#[path = "../../../tests/support/stacks.rs"]
mod stacks;

use std::collections::BTreeMap;
use std::sync::Arc;

use requests::{ctx, strings, value};
use sagestack_cloudformation::{
    CloudFormationService, CreateStackInput, ServiceConfig, StackStatus, UpdateStackInput,
};
use sagestack_sagemaker::{
    ModelPackageGroups, NoProvisioner, Projects, SageMakerService, SystemClock,
};
use sagestack_server::native_providers;
use sagestack_ssm::{Parameters, SsmService, StoreSsmLookup};
use sagestack_store::{SqliteStore, StackStore, Store};
use serde_json::json;
use stacks::create_complete;

struct World {
    store: Arc<dyn Store>,
    sagemaker: Arc<SageMakerService>,
    ssm: Arc<SsmService>,
    cfn: CloudFormationService,
}

async fn world(dir: &std::path::Path) -> World {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(dir).await.unwrap());
    let groups = Arc::new(ModelPackageGroups::new(
        store.clone(),
        Arc::new(SystemClock),
    ));
    let sagemaker = Arc::new(SageMakerService::new(
        Arc::new(Projects::new(store.clone(), Arc::new(SystemClock))),
        groups.clone(),
        Arc::new(NoProvisioner),
    ));
    let parameters = Arc::new(Parameters::with_system_clock(store.clone()));
    let ssm = Arc::new(SsmService::new(parameters.clone()));
    let stacks: Arc<dyn StackStore> = store.clone();
    let mut config = ServiceConfig::new("us-east-1", "123456789012", stacks)
        .with_ssm(Arc::new(StoreSsmLookup::new(store.clone())));
    for (type_name, provider) in native_providers(store.clone(), store.clone(), groups, parameters)
    {
        config = config.with_native_provider(type_name, provider);
    }
    let cfn = CloudFormationService::new(config).unwrap();
    World {
        store,
        sagemaker,
        ssm,
        cfn,
    }
}

const TEMPLATE: &str = r#"
Parameters:
  Stage: {Type: String, Default: dev}
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      Path: /ml/
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement:
          - {Effect: Allow, Principal: {Service: sagemaker.amazonaws.com}, Action: sts:AssumeRole}
  Group:
    Type: AWS::SageMaker::ModelPackageGroup
    Properties:
      ModelPackageGroupName: !Sub "models-${Stage}"
      ModelPackageGroupDescription: registry
  Config:
    Type: AWS::SSM::Parameter
    Properties:
      Name: /ml/config
      Type: String
      Value: !Sub "${Role.Arn}|${Group}|${Stage}"
Outputs:
  RoleName: {Value: !Ref Role}
  RoleId: {Value: !GetAtt Role.RoleId}
  GroupRef: {Value: !Ref Group}
  GroupStatus: {Value: !GetAtt Group.ModelPackageGroupStatus}
  GroupCreated: {Value: !GetAtt Group.CreationTime}
"#;

fn outputs(stack: &sagestack_cloudformation::StackRecord) -> BTreeMap<String, String> {
    stack
        .outputs
        .iter()
        .map(|o| (o.key.clone(), o.value.clone()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stack_resources_are_real_objects_of_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let w = world(dir.path()).await;
    let stack = create_complete(
        &w.cfn,
        CreateStackInput {
            stack_name: "ml-stack".into(),
            template_body: TEMPLATE.into(),
            capabilities: vec!["CAPABILITY_IAM".into()],
            ..Default::default()
        },
    )
    .await;
    let out = outputs(&stack);
    let role = &out["RoleName"];
    assert!(role.starts_with("ml-stack-Role-"), "{role}");
    assert_eq!(role.len(), "ml-stack-Role-".len() + 13);
    assert!(out["RoleId"].starts_with("AROA") && out["RoleId"].len() == 21);
    let group_arn = "arn:aws:sagemaker:us-east-1:123456789012:model-package-group/models-dev";
    assert_eq!(out["GroupRef"], group_arn);
    assert_eq!(out["GroupStatus"], "Completed");
    assert!(out["GroupCreated"].ends_with('Z'));

    // Visible through the APIs and the store.
    let p = value(
        w.ssm
            .handle(&ctx(), "GetParameter", json!({"Name": "/ml/config"}))
            .await
            .unwrap(),
    );
    assert_eq!(
        p["Parameter"]["Value"],
        format!("arn:aws:iam::123456789012:role/ml/{role}|{group_arn}|dev")
    );
    let g = value(
        w.sagemaker
            .handle(
                &ctx(),
                "DescribeModelPackageGroup",
                json!({"ModelPackageGroupName": "models-dev"}),
            )
            .await
            .unwrap(),
    );
    assert_eq!(g["ModelPackageGroupDescription"], "registry");
    assert!(w.store.get_role(role).await.unwrap().is_some());

    // An update that changes the group's (create-only) name replaces it, and the
    // parameter gets a new version in place.
    let updated = w
        .cfn
        .update_stack_and_wait(UpdateStackInput {
            stack_name: "ml-stack".into(),
            template_body: None,
            parameters: BTreeMap::from([("Stage".into(), "prod".into())]),
            capabilities: vec!["CAPABILITY_IAM".into()],
            tags: None,
            ..UpdateStackInput::default()
        })
        .await
        .unwrap();
    assert_eq!(updated.status, StackStatus::UpdateComplete, "{updated:?}");
    let p = value(
        w.ssm
            .handle(&ctx(), "GetParameter", json!({"Name": "/ml/config"}))
            .await
            .unwrap(),
    );
    assert_eq!(p["Parameter"]["Version"], 2);
    assert!(
        p["Parameter"]["Value"]
            .as_str()
            .unwrap()
            .ends_with("models-prod|prod")
    );
    let list = value(
        w.sagemaker
            .handle(&ctx(), "ListModelPackageGroups", json!({}))
            .await
            .unwrap(),
    );
    let names = strings(
        &list["ModelPackageGroupSummaryList"],
        "ModelPackageGroupName",
    );
    assert_eq!(names, ["models-prod"], "the replaced group is cleaned up");

    // Deleting the stack deletes what it created.
    let deleted = w
        .cfn
        .delete_stack_and_wait("ml-stack")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(deleted.status, StackStatus::DeleteComplete);
    assert!(w.store.get_role(role).await.unwrap().is_none());
    assert!(
        w.store
            .get_parameter("/ml/config", None)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        w.store
            .get_model_package_group("models-prod")
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stacks_survive_a_restart_of_the_store() {
    let dir = tempfile::tempdir().unwrap();
    {
        let w = world(dir.path()).await;
        create_complete(
            &w.cfn,
            CreateStackInput {
                stack_name: "keep".into(),
                template_body: "Resources:\n  P:\n    Type: AWS::SSM::Parameter\n    Properties: {Name: /keep/p, Type: String, Value: v}\n".into(),
                ..Default::default()
            },
        )
        .await;
        w.store.close().await;
    }
    let w = world(dir.path()).await;
    let stack = w.cfn.describe_stack("keep").await.unwrap();
    assert_eq!(stack.status, StackStatus::CreateComplete);
    let resources = w.cfn.list_stack_resources("keep").await.unwrap();
    assert_eq!(resources.len(), 1);
    assert_eq!(resources[0].physical_id.as_deref(), Some("/keep/p"));
    let deleted = w.cfn.delete_stack_and_wait("keep").await.unwrap().unwrap();
    assert_eq!(deleted.status, StackStatus::DeleteComplete);
    assert!(
        w.store
            .get_parameter("/keep/p", None)
            .await
            .unwrap()
            .is_none()
    );
}
