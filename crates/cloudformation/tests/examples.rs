//! The templates under `examples/` deploy: the README's reference MLOps template is
//! created, updated to another stage and deleted through the real engine and providers
//! (schema-driven here; the server swaps in its native S3, SageMaker, IAM and SSM ones).

mod common;

use std::collections::BTreeMap;

use common::{delete_completely, memory_service};
use sagestack_cloudformation::*;

fn mlops_template() -> String {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/mlops/mlops-template.yaml"
    );
    std::fs::read_to_string(path).expect("examples/mlops/mlops-template.yaml")
}

fn params(stage: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("SageMakerProjectName".to_string(), "churn".to_string()),
        (
            "SageMakerProjectId".to_string(),
            "p-abc123def456".to_string(),
        ),
        ("Stage".to_string(), stage.to_string()),
    ])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mlops_template_creates_updates_and_deletes() {
    let service = memory_service("eu-west-1", "123456789012");
    let stack = service
        .create_stack_and_wait(CreateStackInput {
            stack_name: "mlops".into(),
            template_body: mlops_template(),
            parameters: params("dev"),
            capabilities: vec!["CAPABILITY_NAMED_IAM".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        stack.status,
        StackStatus::CreateComplete,
        "{:?}",
        stack.status_reason
    );
    let resources = service.list_stack_resources("mlops").await.unwrap();
    assert_eq!(resources.len(), 11);
    let outputs: BTreeMap<_, _> = stack
        .outputs
        .iter()
        .map(|o| (o.key.as_str(), o.value.as_str()))
        .collect();
    assert_eq!(
        outputs["ArtifactBucketName"],
        "sagemaker-project-p-abc123def456-artifacts"
    );
    assert_eq!(
        outputs["ModelPackageGroupArn"],
        "arn:aws:sagemaker:eu-west-1:123456789012:model-package-group/churn-p-abc123def456"
    );
    assert_eq!(
        outputs["PipelineName"],
        "sagemaker-churn-p-abc123def456-modelbuild"
    );
    assert_eq!(outputs["ArtifactVersioning"], "disabled");

    // prod: versioning on, a larger build machine; both are in-place updates.
    let updated = service
        .update_stack_and_wait(UpdateStackInput {
            stack_name: "mlops".into(),
            template_body: Some(mlops_template()),
            parameters: params("prod"),
            capabilities: vec!["CAPABILITY_NAMED_IAM".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(updated.status, StackStatus::UpdateComplete);
    assert!(
        updated
            .outputs
            .iter()
            .any(|o| o.key == "ArtifactVersioning" && o.value == "enabled")
    );

    delete_completely(&service, "mlops").await;
}
