//! The API over a real service on a memory store: decoding-free calls to
//! [`CloudFormationApi::execute`] with the member trees the protocol layer builds.

use std::sync::Arc;

use sagestack_engine::{CreateStackInput, MemoryStore, StackStatus};
use serde_json::{Value, json};

use super::CloudFormationApi;
use crate::{CloudFormationService, ServiceConfig};

const QUEUE: &str = "Resources:\n  Q:\n    Type: AWS::SQS::Queue\n";

fn api() -> CloudFormationApi {
    let service = CloudFormationService::new(ServiceConfig::new(
        "us-east-1",
        "123456789012",
        Arc::new(MemoryStore::new()),
    ))
    .unwrap();
    CloudFormationApi::new(Arc::new(service)).with_page_size(2)
}

async fn call(api: &CloudFormationApi, action: &str, params: Value) -> Result<(), String> {
    match api.execute(action, &params).await {
        Ok(_) => Ok(()),
        Err(e) => Err(format!("{}: {}", e.code, e.message)),
    }
}

#[tokio::test]
async fn project_stacks_are_read_only_through_the_api() {
    let api = api();
    // A SageMaker project creates its stack through the service, not the API.
    let stack = api
        .service()
        .create_stack_and_wait(CreateStackInput {
            stack_name: "SP-p-1234".into(),
            template_body: QUEUE.into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(stack.status, StackStatus::CreateComplete);

    assert!(
        call(&api, "DescribeStacks", json!({"StackName": "SP-p-1234"}))
            .await
            .is_ok()
    );
    for (action, params) in [
        ("DeleteStack", json!({"StackName": "SP-p-1234"})),
        ("DeleteStack", json!({"StackName": stack.stack_id})),
        (
            "UpdateStack",
            json!({"StackName": "SP-p-1234", "TemplateBody": QUEUE.replace("Q:", "R:")}),
        ),
        (
            "CreateChangeSet",
            json!({"StackName": "SP-p-1234", "ChangeSetName": "c", "UsePreviousTemplate": "true"}),
        ),
        ("ContinueUpdateRollback", json!({"StackName": "SP-p-1234"})),
        (
            "CreateStack",
            json!({"StackName": "SP-other", "TemplateBody": QUEUE}),
        ),
    ] {
        let err = call(&api, action, params).await.unwrap_err();
        assert!(
            err.starts_with("ValidationError: ") && err.contains("managed by a SageMaker project"),
            "{action}: {err}"
        );
    }
    // Nothing changed.
    let after = api.service().describe_stack("SP-p-1234").await.unwrap();
    assert_eq!(after.status, StackStatus::CreateComplete);
}

#[tokio::test]
async fn list_pages_follow_next_token() {
    let api = api();
    for name in ["a", "b", "c", "d", "e"] {
        let id = api
            .service()
            .create_stack(CreateStackInput {
                stack_name: name.into(),
                template_body: QUEUE.into(),
                ..Default::default()
            })
            .await
            .unwrap();
        api.service().wait_for_terminal(&id).await.unwrap();
    }
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut params = json!({});
        if let Some(t) = &token {
            params["NextToken"] = json!(t);
        }
        let xml = api.execute("ListStacks", &params).await.unwrap().unwrap();
        let page = xml.members("StackSummaries");
        assert!(page.len() <= 2);
        seen.extend(
            page.iter()
                .map(|s| s.text_of("StackName").unwrap().to_string()),
        );
        token = xml.text_of("NextToken").map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    // Newest first, each stack once.
    assert_eq!(seen, ["e", "d", "c", "b", "a"]);
    let err = call(&api, "ListStacks", json!({"NextToken": "x"}))
        .await
        .unwrap_err();
    assert_eq!(err, "ValidationError: Invalid NextToken");
}

#[tokio::test]
async fn unknown_actions_and_missing_members() {
    let api = api();
    assert_eq!(
        call(&api, "Frobnicate", json!({})).await.unwrap_err(),
        "InvalidAction: Could not find operation Frobnicate for version 2010-05-15"
    );
    assert_eq!(
        call(&api, "DescribeStackResource", json!({"StackName": "x"}))
            .await
            .unwrap_err(),
        "ValidationError: 1 validation error detected: Value null at 'logicalResourceId' \
         failed to satisfy constraint: Member must not be null"
    );
    assert_eq!(
        call(
            &api,
            "CreateStack",
            json!({"StackName": "u", "TemplateURL": "https://x/y"})
        )
        .await
        .unwrap_err()
        .split(':')
        .next(),
        Some("ValidationError")
    );
}

#[test]
fn the_embedded_model_covers_every_operation() {
    let model: Value = serde_json::from_str(include_str!("model.json")).unwrap();
    let patterns = model["shapes"]
        .as_object()
        .unwrap()
        .values()
        .filter(|s| s.get("pattern").is_some())
        .count();
    assert_eq!(super::MODEL.pattern_count(), patterns);
    for action in [
        "CreateStack",
        "UpdateStack",
        "DeleteStack",
        "DescribeStacks",
        "ListStacks",
        "DescribeStackEvents",
        "DescribeStackResource",
        "DescribeStackResources",
        "ListStackResources",
        "GetTemplate",
        "GetTemplateSummary",
        "ValidateTemplate",
        "CreateChangeSet",
        "DescribeChangeSet",
        "ExecuteChangeSet",
        "DeleteChangeSet",
        "ListChangeSets",
        "ListExports",
        "ListImports",
        "CancelUpdateStack",
        "ContinueUpdateRollback",
    ] {
        assert!(super::MODEL.has_operation(action), "{action}");
    }
}

#[tokio::test]
async fn constrained_members_are_validated_with_aws_wording() {
    let api = api();
    let long = "a".repeat(129);
    assert_eq!(
        call(
            &api,
            "DescribeChangeSet",
            json!({"ChangeSetName": "9x", "StackName": "s"})
        )
        .await
        .unwrap_err(),
        "ValidationError: 1 validation error detected: Value '9x' at 'changeSetName' failed to \
         satisfy constraint: Member must satisfy regular expression pattern: \
         [a-zA-Z][-a-zA-Z0-9]*|arn:[-a-zA-Z0-9:/]*"
    );
    let err = call(
        &api,
        "CreateChangeSet",
        json!({"StackName": "s", "ChangeSetName": long, "TemplateBody": "",
               "Tags": [{"Key": "", "Value": "v"}], "Capabilities": ["NOPE"]}),
    )
    .await
    .unwrap_err();
    assert!(
        err.starts_with("ValidationError: 4 validation errors detected: "),
        "{err}"
    );
    for part in [
        "at 'capabilities.1.member' failed to satisfy constraint: Member must satisfy enum value set: [CAPABILITY_IAM, CAPABILITY_NAMED_IAM, CAPABILITY_AUTO_EXPAND]",
        "at 'changeSetName' failed to satisfy constraint: Member must have length less than or equal to 128",
        "Value '' at 'tags.1.member.key' failed to satisfy constraint: Member must have length greater than or equal to 1",
        "Value '' at 'templateBody' failed to satisfy constraint: Member must have length greater than or equal to 1",
    ] {
        assert!(err.contains(part), "{part} not in {err}");
    }
    assert!(
        call(&api, "ListStacks", json!({"StackStatusFilter": ["NOPE"]}))
            .await
            .unwrap_err()
            .contains("at 'stackStatusFilter.1.member' failed to satisfy constraint: Member must satisfy enum value set")
    );
    // Typed members: an empty list, a boolean.
    assert!(
        call(&api, "ListStacks", json!({"StackStatusFilter": ""}))
            .await
            .is_ok()
    );
    assert!(
        call(
            &api,
            "UpdateStack",
            json!({"StackName": "s", "UsePreviousTemplate": "maybe"})
        )
        .await
        .unwrap_err()
        .starts_with("ValidationError: ")
    );
}

#[tokio::test]
async fn role_arn_is_recorded_and_kept_by_updates_without_one() {
    let api = api();
    let role = "arn:aws:iam::123456789012:role/cfn";
    call(
        &api,
        "CreateStack",
        json!({"StackName": "r", "TemplateBody": QUEUE, "RoleARN": role}),
    )
    .await
    .unwrap();
    let s = api.service().describe_stack("r").await.unwrap();
    let s = api.service().wait_for_terminal(&s.stack_id).await.unwrap();
    assert_eq!(s.role_arn.as_deref(), Some(role));
    call(
        &api,
        "UpdateStack",
        json!({"StackName": "r", "TemplateBody": QUEUE.replace("Q:", "R:")}),
    )
    .await
    .unwrap();
    let s = api.service().wait_for_terminal(&s.stack_id).await.unwrap();
    assert_eq!(s.status, StackStatus::UpdateComplete);
    assert_eq!(
        s.role_arn.as_deref(),
        Some(role),
        "an update without RoleARN keeps it"
    );
    let other = "arn:aws:iam::123456789012:role/other";
    call(
        &api,
        "UpdateStack",
        json!({"StackName": "r", "TemplateBody": QUEUE, "RoleARN": other}),
    )
    .await
    .unwrap();
    let s = api.service().wait_for_terminal(&s.stack_id).await.unwrap();
    assert_eq!(s.role_arn.as_deref(), Some(other));
    assert_eq!(super::output::stack(&s).text_of("RoleARN"), Some(other));
}
