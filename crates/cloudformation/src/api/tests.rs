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

/// A [`TemplateSource`] over a fixed map of URL -> result, recording each fetch's limit.
struct FakeSource {
    templates: std::collections::HashMap<String, Result<String, crate::TemplateFetchError>>,
    limits: std::sync::Mutex<Vec<u64>>,
}

#[async_trait::async_trait]
impl crate::TemplateSource for FakeSource {
    async fn fetch(&self, url: &str, limit: u64) -> Result<String, crate::TemplateFetchError> {
        self.limits.lock().unwrap().push(limit);
        self.templates.get(url).cloned().unwrap_or_else(|| {
            Err(crate::TemplateFetchError::InvalidUrl(
                "TemplateURL must be a supported URL.".into(),
            ))
        })
    }
}

const URL_V1: &str = "https://t.s3.amazonaws.com/v1.yaml";
const URL_V2: &str = "https://t.s3.amazonaws.com/v2.yaml";
const URL_BIG: &str = "https://t.s3.amazonaws.com/big.yaml";
const URL_MISSING: &str = "https://t.s3.amazonaws.com/missing.yaml";

fn api_with_source() -> (CloudFormationApi, Arc<FakeSource>) {
    // Over the inline limit (51,200 bytes), well under the S3 one.
    let big = format!(
        "Description: '{}'\nResources:\n  Q:\n    Type: AWS::SQS::Queue\n",
        "d".repeat(900)
    ) + &format!("Metadata:\n  Pad: '{}'\n", "p".repeat(60_000));
    let templates = [
        (URL_V1, Ok(format!("Description: from S3\n{QUEUE}"))),
        (URL_V2, Ok(QUEUE.replace("Q:", "R:"))),
        (URL_BIG, Ok(big)),
        (
            URL_MISSING,
            Err(crate::TemplateFetchError::NoSuchKey {
                bucket: "t".into(),
                key: "missing.yaml".into(),
            }),
        ),
    ]
    .into_iter()
    .map(|(u, r)| (u.to_string(), r))
    .collect();
    let source = Arc::new(FakeSource {
        templates,
        limits: std::sync::Mutex::new(Vec::new()),
    });
    (api().with_template_source(source.clone()), source)
}

#[tokio::test]
async fn template_urls_are_read_through_the_template_source() {
    let (api, source) = api_with_source();
    // CreateStack.
    call(
        &api,
        "CreateStack",
        json!({"StackName": "u", "TemplateURL": URL_V1}),
    )
    .await
    .unwrap();
    let stack = api.service().wait_for_terminal("u").await.unwrap();
    assert_eq!(stack.status, StackStatus::CreateComplete);
    assert!(stack.template.body.contains("from S3"));
    assert_eq!(*source.limits.lock().unwrap(), [crate::S3_TEMPLATE_LIMIT]);

    // UpdateStack.
    call(
        &api,
        "UpdateStack",
        json!({"StackName": "u", "TemplateURL": URL_V2}),
    )
    .await
    .unwrap();
    let stack = api.service().wait_for_terminal("u").await.unwrap();
    assert_eq!(stack.status, StackStatus::UpdateComplete, "{stack:?}");
    assert!(stack.template.body.contains("R:"));

    // CreateChangeSet (CREATE and UPDATE).
    call(
        &api,
        "CreateChangeSet",
        json!({"StackName": "cs", "ChangeSetName": "c1", "ChangeSetType": "CREATE",
               "TemplateURL": URL_V1}),
    )
    .await
    .unwrap();
    call(
        &api,
        "CreateChangeSet",
        json!({"StackName": "u", "ChangeSetName": "c2", "TemplateURL": URL_V1}),
    )
    .await
    .unwrap();

    // ValidateTemplate and GetTemplateSummary.
    let xml = api
        .execute("ValidateTemplate", &json!({"TemplateURL": URL_V1}))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(xml.text_of("Description"), Some("from S3"));
    let xml = api
        .execute("GetTemplateSummary", &json!({"TemplateURL": URL_V1}))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(xml.text_of("Description"), Some("from S3"));
    assert_eq!(source.limits.lock().unwrap().len(), 6);
}

#[tokio::test]
async fn template_url_bodies_have_the_s3_size_limit_not_the_inline_one() {
    let (api, source) = api_with_source();
    let big = source.templates[URL_BIG].clone().unwrap();
    assert!(big.len() > 51_200);
    api.execute("ValidateTemplate", &json!({"TemplateURL": URL_BIG}))
        .await
        .unwrap();
    api.execute("GetTemplateSummary", &json!({"TemplateURL": URL_BIG}))
        .await
        .unwrap();
    let e = call(&api, "ValidateTemplate", json!({"TemplateBody": big}))
        .await
        .unwrap_err();
    assert!(e.starts_with("ValidationError: "), "{e}");
}

#[tokio::test]
async fn template_url_failures_are_validation_errors() {
    let plain = api();
    let (api, _) = api_with_source();
    for action in ["CreateStack", "ValidateTemplate", "GetTemplateSummary"] {
        assert_eq!(
            call(
                &api,
                action,
                json!({"StackName": "e", "TemplateURL": URL_MISSING})
            )
            .await
            .unwrap_err(),
            "ValidationError: S3 error: The specified key does not exist. \
             (bucket: t, key: missing.yaml)",
            "{action}"
        );
        assert_eq!(
            call(
                &api,
                action,
                json!({"StackName": "e", "TemplateURL": "https://example.com/x"})
            )
            .await
            .unwrap_err(),
            "ValidationError: TemplateURL must be a supported URL.",
            "{action}"
        );
        assert_eq!(
            call(
                &api,
                action,
                json!({"StackName": "e", "TemplateURL": URL_V1, "TemplateBody": QUEUE})
            )
            .await
            .unwrap_err(),
            "ValidationError: Specify exactly one of TemplateBody or TemplateUrl.",
            "{action}"
        );
    }
    call(
        &api,
        "CreateStack",
        json!({"StackName": "u", "TemplateBody": QUEUE}),
    )
    .await
    .unwrap();
    assert_eq!(
        call(
            &api,
            "UpdateStack",
            json!({"StackName": "u", "TemplateURL": URL_MISSING})
        )
        .await
        .unwrap_err(),
        "ValidationError: S3 error: The specified key does not exist. \
         (bucket: t, key: missing.yaml)"
    );
    assert_eq!(
        call(
            &api,
            "UpdateStack",
            json!({"StackName": "u", "TemplateURL": URL_V1, "UsePreviousTemplate": "true"})
        )
        .await
        .unwrap_err(),
        "ValidationError: You cannot specify both usePreviousTemplate and Template Body/Template Url."
    );
    assert!(
        call(
            &api,
            "CreateChangeSet",
            json!({"StackName": "u", "ChangeSetName": "c", "TemplateURL": URL_MISSING})
        )
        .await
        .unwrap_err()
        .contains("The specified key does not exist")
    );
    // Without a source the API says TemplateURL is not available, before any fetch.
    let e = call(
        &plain,
        "CreateStack",
        json!({"StackName": "n", "TemplateURL": URL_V1}),
    )
    .await
    .unwrap_err();
    assert!(e.contains("no template source is configured"), "{e}");
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

#[tokio::test]
async fn inline_template_bodies_over_51200_bytes_are_refused_as_aws_does() {
    let (api, _) = api_with_source();
    // A valid template, one byte over the inline limit (as the issue's 900 KB body was).
    let pad = 51_201 - QUEUE.len() - "Metadata: {Pad: ''}\n".len();
    let big = format!("Metadata: {{Pad: '{}'}}\n{QUEUE}", "d".repeat(pad));
    assert_eq!(big.len(), 51_201);
    for (action, extra) in [
        ("CreateStack", json!({"StackName": "big"})),
        ("UpdateStack", json!({"StackName": "big"})),
        (
            "CreateChangeSet",
            json!({"StackName": "big", "ChangeSetName": "c"}),
        ),
        ("ValidateTemplate", json!({})),
        ("GetTemplateSummary", json!({})),
    ] {
        let mut params = extra.clone();
        params["TemplateBody"] = json!(big);
        let e = call(&api, action, params).await.unwrap_err();
        assert!(
            e.starts_with(
                "ValidationError: 1 validation error detected: Value 'Metadata: {Pad: 'ddd"
            ),
            "{action}: {}",
            &e[..100]
        );
        assert!(
            e.ends_with(
                "' at 'templateBody' failed to satisfy constraint: Member must have length less than or equal to 51200"
            ),
            "{action}: {}",
            &e[e.len() - 120..]
        );
        assert!(
            api.service().describe_stack("big").await.is_err(),
            "{action}"
        );
    }
    // At the limit it is accepted.
    let at = format!("Metadata: {{Pad: '{}'}}\n{QUEUE}", "d".repeat(pad - 1));
    assert_eq!(at.len(), 51_200);
    call(&api, "ValidateTemplate", json!({"TemplateBody": at}))
        .await
        .unwrap();
}

#[tokio::test]
async fn deleting_a_missing_change_set_of_a_stack_that_exists_succeeds() {
    let api = api();
    let id = api
        .service()
        .create_stack(CreateStackInput {
            stack_name: "cdk".into(),
            template_body: QUEUE.into(),
            ..Default::default()
        })
        .await
        .unwrap();
    api.service().wait_for_terminal(&id).await.unwrap();
    // The CDK CLI's "Removing existing change set ... if it exists", by name and by id.
    for stack in ["cdk", id.as_str()] {
        let deleted = call(
            &api,
            "DeleteChangeSet",
            json!({"StackName": stack, "ChangeSetName": "cdk-deploy-change-set"}),
        )
        .await;
        assert_eq!(deleted, Ok(()), "{stack}");
    }
    // A stack that does not exist is still refused.
    let err = call(
        &api,
        "DeleteChangeSet",
        json!({"StackName": "nope", "ChangeSetName": "cdk-deploy-change-set"}),
    )
    .await
    .unwrap_err();
    assert_eq!(err, "ValidationError: Stack with id nope does not exist");
    // So is a change set ARN nobody made, and a name without its stack.
    let arn = "arn:aws:cloudformation:us-east-1:123456789012:changeSet/x/1";
    let err = call(&api, "DeleteChangeSet", json!({"ChangeSetName": arn}))
        .await
        .unwrap_err();
    assert!(err.starts_with("ChangeSetNotFound: "), "{err}");
    let err = call(&api, "DeleteChangeSet", json!({"ChangeSetName": "x"}))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        "ValidationError: StackName must be specified if ChangeSetName is not specified as an ARN."
    );
}

#[tokio::test]
async fn describe_change_set_includes_property_values_when_asked() {
    let api = api();
    let template = |delay: u32| {
        format!(
            "Resources:\n  Q:\n    Type: AWS::SQS::Queue\n    Properties: {{DelaySeconds: {delay}}}\n  \
             P:\n    Type: AWS::SSM::Parameter\n    Properties: {{Type: String, Value: !GetAtt Q.Arn}}\n"
        )
    };
    let id = api
        .service()
        .create_stack(CreateStackInput {
            stack_name: "values".into(),
            template_body: template(1),
            ..Default::default()
        })
        .await
        .unwrap();
    api.service().wait_for_terminal(&id).await.unwrap();
    let params = json!({"StackName": "values", "ChangeSetName": "c", "TemplateBody": template(5)});
    api.execute("CreateChangeSet", &params).await.unwrap();
    let api = &api;
    let describe = |with: bool| {
        let params =
            json!({"StackName": "values", "ChangeSetName": "c", "IncludePropertyValues": with});
        async move {
            api.execute("DescribeChangeSet", &params)
                .await
                .unwrap()
                .unwrap()
        }
    };
    let plain = describe(false).await;
    let change = plain.members("Changes")[0].child("ResourceChange").unwrap();
    assert_eq!(change.text_of("LogicalResourceId"), Some("Q"));
    assert_eq!(change.text_of("BeforeContext"), None);
    let target = change.members("Details")[0].child("Target").unwrap();
    assert_eq!(target.text_of("Path"), None);

    let full = describe(true).await;
    let change = full.members("Changes")[0].child("ResourceChange").unwrap();
    assert_eq!(
        change.text_of("BeforeContext"),
        Some(r#"{"Properties":{"DelaySeconds":1}}"#)
    );
    assert_eq!(
        change.text_of("AfterContext"),
        Some(r#"{"Properties":{"DelaySeconds":5}}"#)
    );
    let target = change.members("Details")[0].child("Target").unwrap();
    assert_eq!(target.text_of("Name"), Some("DelaySeconds"));
    assert_eq!(target.text_of("Path"), Some("/Properties/DelaySeconds"));
    assert_eq!(target.text_of("BeforeValue"), Some("1"));
    assert_eq!(target.text_of("AfterValue"), Some("5"));
    assert_eq!(target.text_of("AttributeChangeType"), Some("Modify"));
}
