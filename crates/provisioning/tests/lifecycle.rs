//! Project lifecycles end to end over a real SQLite store: create, update and delete,
//! every failure path with its exact `StatusMessage`, conflicts and retention.

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use common::*;
use sagestack_cloudformation::{StackStatus, TemplateFetchError};
use sagestack_provisioning::NOT_CONFIGURED;
use serde_json::{Value, json};

const URL: &str = "https://templates.s3.us-east-1.amazonaws.com/ml.yaml";
const URL2: &str = "https://templates.s3.us-east-1.amazonaws.com/ml-v2.yaml";

fn id(project: &Value) -> &str {
    project["ProjectId"].as_str().unwrap()
}

fn group_arn(name: &str) -> String {
    format!("arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package-group/{name}")
}

/// DescribeModelPackageGroup `name`: the group, or the error if there is none.
async fn group(h: &Harness, name: &str) -> Result<Value, sagestack_sagemaker::SageMakerError> {
    h.call(
        "DescribeModelPackageGroup",
        json!({"ModelPackageGroupName": name}),
    )
    .await
}

async fn tags_of(h: &Harness, arn: &str) -> Vec<(String, String)> {
    let out = h
        .call("ListTags", json!({"ResourceArn": arn}))
        .await
        .unwrap();
    tag_pairs(&out["Tags"])
}

/// A default harness in a directory of its own (the guard, kept for the test's length)
/// with project `name` created from `body` at `URL` with `params`: the project and its
/// stack's name. The start of the tests that change an existing project.
async fn with_project(
    name: &str,
    body: &str,
    params: &[(&str, &str)],
) -> (tempfile::TempDir, Harness, Value, String) {
    let dir = tempfile::tempdir().unwrap();
    let h = harness(dir.path(), Options::default()).await;
    let p = h.created(name, URL, body, params).await;
    let stack = stack_name(&p);
    (dir, h, p, stack)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_completes_with_parameters_tags_and_role() {
    let dir = tempfile::tempdir().unwrap();
    let h = harness(dir.path(), Options::default()).await;
    h.source.put(URL, BASIC);
    let out = h
        .create("alpha", URL, &[("Stage", "prod")], &[("team", "ml")])
        .await;
    let p = h.settled_as("alpha", "CreateCompleted").await;
    let pid = id(&out);
    let name = format!("SP-{pid}-ml");
    let stack = h.cfn.describe_stack(&name).await.unwrap();
    assert_eq!(stack.status, StackStatus::CreateComplete);
    assert_eq!(
        stack_detail(&p),
        &json!({"Name": name, "StatusMessage": reached(&name, "CREATE_COMPLETE"), "Id": stack.stack_id})
    );
    // Parameters: the project's name and id, and the user's.
    let params = &stack.template.parameters;
    assert_eq!(params["SageMakerProjectName"], "alpha");
    assert_eq!(params["SageMakerProjectId"], pid);
    assert_eq!(params["Stage"], "prod");
    assert_eq!(stack.outputs[0].value, pid);
    // Tags and role.
    for tag in [
        ("sagemaker:project-name", "alpha"),
        ("sagemaker:project-id", pid),
        ("team", "ml"),
    ] {
        assert!(
            stack.tags.contains(&(tag.0.into(), tag.1.into())),
            "{:?}",
            stack.tags
        );
    }
    assert_eq!(
        stack.role_arn.as_deref(),
        Some("arn:aws:iam::123456789012:role/SageMakerProjects")
    );
    // The model package group is a real one, carrying the project's tags.
    let described = group(&h, "alpha-models").await.unwrap();
    assert_eq!(described["ModelPackageGroupArn"], group_arn("alpha-models"));
    let tags = tags_of(&h, &group_arn("alpha-models")).await;
    assert!(
        tags.contains(&("sagemaker:project-id".into(), pid.into())),
        "{tags:?}"
    );
    assert!(tags.contains(&("team".into(), "ml".into())), "{tags:?}");
    // Caller identity.
    assert_eq!(p["CreatedBy"]["IamIdentity"]["PrincipalId"], "AKIDPROVTEST");
    assert_eq!(
        p["LastModifiedBy"]["IamIdentity"]["PrincipalId"],
        "AKIDPROVTEST"
    );
    // The provider's RoleARN is kept in the details.
    assert_eq!(
        p["TemplateProviderDetails"][0]["CfnTemplateProviderDetail"]["RoleARN"],
        "arn:aws:iam::123456789012:role/SageMakerProjects"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_failures_end_create_failed_with_the_fetch_error() {
    let dir = tempfile::tempdir().unwrap();
    let h = harness(dir.path(), Options::default()).await;
    let cases = [
        (
            "no-bucket",
            TemplateFetchError::NoSuchBucket {
                bucket: "templates".into(),
            },
        ),
        (
            "no-key",
            TemplateFetchError::NoSuchKey {
                bucket: "templates".into(),
                key: "ml.yaml".into(),
            },
        ),
        (
            "too-large",
            TemplateFetchError::TooLarge {
                bucket: "templates".into(),
                key: "big.yaml".into(),
                size: 1_048_577,
                limit: 1_048_576,
            },
        ),
    ];
    // The contract: the StatusMessage is the fetch error's own text.
    assert_eq!(
        cases[2].1.to_string(),
        "Template may not exceed 1048576 bytes in size (s3://templates/big.yaml has 1048577 bytes)"
    );
    for (name, error) in cases {
        let text = error.to_string();
        let url = format!("https://templates.s3.amazonaws.com/{name}");
        h.source.fail(&url, error);
        let out = h.create(name, &url, &[], &[]).await;
        let p = h.settled_as(name, "CreateFailed").await;
        assert_eq!(message(&p), text);
        let stack = format!("SP-{}-ml", id(&out));
        assert_eq!(stack_detail(&p)["Name"], stack.as_str());
        assert!(stack_detail(&p).get("Id").is_none(), "no stack was created");
        assert!(h.cfn.describe_stack(&stack).await.is_err());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_templates_and_parameters_end_create_failed() {
    let dir = tempfile::tempdir().unwrap();
    let h = harness(dir.path(), Options::default()).await;
    // An undefined reference, at line 5 column 18.
    let invalid = "Resources:\n  Queue:\n    Type: AWS::SQS::Queue\n    Properties:\n      QueueName: !Ref Missing\n";
    h.source.put(URL, invalid);
    h.create("invalid", URL, &[], &[]).await;
    let p = h.settled_as("invalid", "CreateFailed").await;
    assert_eq!(
        message(&p),
        "Template error: Template format error: Unresolved resource dependencies [Missing] in the Resources block of the template (line 5:18)"
    );
    // A parameter failing its AllowedValues.
    h.source.put(URL2, BASIC);
    let out = h.create("badparam", URL2, &[("Stage", "qa")], &[]).await;
    let p = h.settled_as("badparam", "CreateFailed").await;
    let _ = out;
    assert_eq!(
        message(&p),
        "Template error: Parameter 'Stage' must be one of AllowedValues (line 6:3)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_resource_rolls_the_create_back() {
    let dir = tempfile::tempdir().unwrap();
    let h = harness(dir.path(), Options::default()).await;
    h.source.put(URL, &with_failing_resource(BASIC));
    let out = h.create("broken", URL, &[], &[]).await;
    let p = h.settled_as("broken", "CreateFailed").await;
    let name = format!("SP-{}-ml", id(&out));
    assert_eq!(
        without_request_id(message(&p)),
        refused(&name, "ROLLBACK_COMPLETE", "Broken", "Create")
    );
    let stack = h.stack_of(&p).await;
    assert_eq!(stack.status, StackStatus::RollbackComplete);
    assert_eq!(stack_detail(&p)["Id"], stack.stack_id.as_str());
    // Rolled back: the group it created is gone.
    assert!(group(&h, "broken-models").await.is_err());
    // A project that never provisioned cannot update its template; it can be deleted.
    h.assert_refused(
        "UpdateProject",
        json!({"ProjectName": "broken", "TemplateProvidersToUpdate": [{"CfnTemplateProvider": {"TemplateName": "ml", "TemplateURL": URL}}]}),
        "ValidationException",
        "Project broken is in CreateFailed state; only a project whose creation completed can update its provisioning. Delete it and create it again.",
    )
    .await;
    h.delete("broken", "DeleteCompleted").await;
    assert!(h.cfn.describe_stack(&name).await.is_err());
}

fn update_input(name: &str, template: &str, url: &str, params: &[(&str, &str)]) -> Value {
    let params = key_values(params);
    json!({"ProjectName": name, "TemplateProvidersToUpdate": [{"CfnTemplateProvider": {
        "TemplateName": template, "TemplateURL": url, "Parameters": params}}]})
}

/// UpdateProject `name` (template `ml`) to `url` with `params`, then settled as `status`.
async fn update(
    h: &Harness,
    name: &str,
    url: &str,
    params: &[(&str, &str)],
    status: &str,
) -> Value {
    h.call_settled(
        "UpdateProject",
        update_input(name, "ml", url, params),
        status,
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn updates_change_parameters_then_the_template() {
    let (_dir, h, _, name) = with_project("up", BASIC, &[("Stage", "prod")]).await;

    // New parameters.
    let p = update(&h, "up", URL, &[("Stage", "dev")], "UpdateCompleted").await;
    assert_eq!(message(&p), reached(&name, "UPDATE_COMPLETE"));
    let stack = h.stack_of(&p).await;
    assert_eq!(stack.template.parameters["Stage"], "dev");

    // A new template URL adding a resource.
    let v2 = BASIC.replace("Outputs:", "  Topic:\n    Type: AWS::SNS::Topic\nOutputs:");
    h.source.put(URL2, &v2);
    let p = update(&h, "up", URL2, &[], "UpdateCompleted").await;
    let detail = &p["TemplateProviderDetails"][0]["CfnTemplateProviderDetail"];
    assert_eq!(detail["TemplateURL"], URL2);
    assert_eq!(
        detail["RoleARN"],
        "arn:aws:iam::123456789012:role/SageMakerProjects"
    );
    let resources = h.cfn.list_stack_resources(&name).await.unwrap();
    assert!(resources.iter().any(|r| r.logical_id == "Topic"));
    // Same template and parameters again: nothing to do, still a completed update.
    let p = update(&h, "up", URL2, &[], "UpdateCompleted").await;
    assert_eq!(message(&p), reached(&name, "UPDATE_COMPLETE"));

    // The template name must be the project's.
    h.assert_refused(
        "UpdateProject",
        update_input("up", "other", URL, &[]),
        "ValidationException",
        "TemplateName other does not match the template of project up (ml).",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_update_keeps_the_old_stack() {
    let (_dir, h, p, name) = with_project("keep", BASIC, &[]).await;
    let before = h.stack_of(&p).await;

    h.source.put(URL2, &with_failing_resource(BASIC));
    let p = update(&h, "keep", URL2, &[], "UpdateFailed").await;
    assert_eq!(
        without_request_id(message(&p)),
        refused(&name, "UPDATE_ROLLBACK_COMPLETE", "Broken", "Create")
    );
    let after = h.stack_of(&p).await;
    assert_eq!(after.status, StackStatus::UpdateRollbackComplete);
    assert_eq!(
        after.template.body, before.template.body,
        "the old template is back"
    );
    let live: Vec<String> = h
        .cfn
        .list_stack_resources(&name)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| !r.status.is_gone())
        .map(|r| r.logical_id)
        .collect();
    assert_eq!(live.len(), 2, "{live:?}");
    assert!(live.contains(&"Queue".to_string()) && live.contains(&"Group".to_string()));
    group(&h, "keep-models").await.unwrap();
    // The project keeps working: a good update after a failed one completes.
    update(&h, "keep", URL, &[("Stage", "prod")], "UpdateCompleted").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operations_in_progress_refuse_update_and_delete() {
    let dir = tempfile::tempdir().unwrap();
    let handler = std::sync::Arc::new(FakeHandler::default());
    handler.block.store(true, Ordering::SeqCst);
    let h = harness(
        dir.path(),
        Options {
            handler: Some(handler.clone()),
            ..Options::default()
        },
    )
    .await;
    h.source.put(URL, BLOCKING);
    h.create("busy", URL, &[], &[]).await;
    handler.blocked.notified().await;
    let p = h.describe("busy").await;
    assert_eq!(p["ProjectStatus"], "CreateInProgress");
    assert_eq!(
        message(&p),
        format!("Stack SP-{}-ml is being created.", id(&p))
    );
    for (op, input, action) in [
        (
            "UpdateProject",
            json!({"ProjectName": "busy", "ProjectDescription": "d"}),
            "updated",
        ),
        ("DeleteProject", json!({"ProjectName": "busy"}), "deleted"),
    ] {
        let message = format!(
            "Project busy cannot be {action} while its status is CreateInProgress; retry once the current operation has finished."
        );
        h.assert_refused(op, input, "ConflictException", &message)
            .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleted_projects_are_kept_for_the_retention_and_their_name_is_reusable() {
    let dir = tempfile::tempdir().unwrap();
    let h = harness(dir.path(), Options::bounded(4, Duration::from_millis(400))).await;
    h.source.put(URL, BASIC);
    let first = h.create("again", URL, &[], &[]).await;
    h.create("gone", URL, &[], &[]).await;
    h.provisioner.wait_idle().await;
    let p = h.describe("again").await;
    let name = stack_name(&p);
    for project in ["again", "gone"] {
        h.call("DeleteProject", json!({"ProjectName": project}))
            .await
            .unwrap();
    }
    let p = h.settled_as("again", "DeleteCompleted").await;
    assert_eq!(message(&p), reached(&name, "DELETE_COMPLETE"));
    assert!(h.cfn.describe_stack(&name).await.is_err());
    assert!(group(&h, "again-models").await.is_err());
    // Deleting it again: it no longer exists.
    let e = h
        .call("DeleteProject", json!({"ProjectName": "again"}))
        .await
        .unwrap_err();
    assert_eq!(e.to_string(), "Project again does not exist.");
    // Its name is free at once.
    let second = h.create("again", URL, &[], &[]).await;
    assert_ne!(second["ProjectId"], first["ProjectId"]);
    h.settled_as("again", "CreateCompleted").await;
    // After the retention the deleted one is gone, and the purge of the old "again"
    // did not touch the new one.
    tokio::time::sleep(Duration::from_millis(700)).await;
    let e = h
        .call("DescribeProject", json!({"ProjectName": "gone"}))
        .await
        .unwrap_err();
    assert_eq!(e.to_string(), "Project gone does not exist.");
    let p = h.describe("again").await;
    assert_eq!(p["ProjectId"], second["ProjectId"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_delete_can_be_retried() {
    let (_dir, h, _, name) = with_project("sticky", STICKY, &[]).await;
    h.handler.fail_delete.store(true, Ordering::SeqCst);
    let p = h.delete("sticky", "DeleteFailed").await;
    assert_eq!(
        without_request_id(message(&p)),
        refused(&name, "DELETE_FAILED", "Sticky", "Delete")
    );
    h.handler.fail_delete.store(false, Ordering::SeqCst);
    let p = h.delete("sticky", "DeleteCompleted").await;
    assert_eq!(message(&p), reached(&name, "DELETE_COMPLETE"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_catalog_projects_fail_honestly_without_a_backend() {
    let dir = tempfile::tempdir().unwrap();
    let h = harness(dir.path(), Options::default()).await;
    let p = h.call_settled("CreateProject", json!({"ProjectName": "sc", "ServiceCatalogProvisioningDetails": {"ProductId": "prod-abc"}}), "CreateFailed").await;
    assert_eq!(
        p["ServiceCatalogProvisionedProductDetails"]["ProvisionedProductStatusMessage"],
        NOT_CONFIGURED
    );
    h.delete("sc", "DeleteCompleted").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_projects_provision_in_parallel_within_the_bound() {
    let dir = tempfile::tempdir().unwrap();
    let h = harness(dir.path(), Options::bounded(4, Duration::from_secs(60))).await;
    h.source.put(URL, PAUSING);
    let n = 40;
    // CreateProject answers at once; the stacks are built by the workers, 4 at a time.
    for i in 0..n {
        h.create(&format!("par-{i}"), URL, &[], &[]).await;
    }
    h.provisioner.wait_idle().await;
    for i in 0..n {
        let p = h.describe(&format!("par-{i}")).await;
        assert_eq!(p["ProjectStatus"], "CreateCompleted", "{p:#}");
    }
    let max = h.handler.max_in_flight.load(Ordering::SeqCst);
    assert!(
        (2..=4).contains(&max),
        "at most 4 at once, and more than one: {max}"
    );
    assert_eq!(h.cfn.list_stacks().await.unwrap().len(), n);
}

/// A custom resource's failure reason ends with the request's random id.
fn without_request_id(message: &str) -> &str {
    let (kept, id) = message.rsplit_once(" (RequestId: ").expect("a RequestId");
    assert!(id.ends_with(')') && id.len() == 37, "{id}");
    kept
}
