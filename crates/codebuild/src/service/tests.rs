//! The operations through `CodeBuildService::handle`: validation, the answers' shapes,
//! the recorded builds and the errors in AWS's codes.

use super::*;
use sagestack_engine::FakeClock;
use sagestack_protocol::AwsError;
use sagestack_protocol::auth::Caller;
use sagestack_store::SqliteStore;

use crate::builds::NOT_EXECUTED;
use crate::projects::Scope;

const ACCOUNT: &str = "123456789012";

fn ctx() -> RequestContext {
    RequestContext::new("us-east-1", ACCOUNT).with_caller(Caller {
        access_key_id: "AKIA".into(),
        account_id: ACCOUNT.into(),
        arn: "arn:aws:iam::123456789012:user/alice".into(),
        user_id: "AIDA".into(),
    })
}

async fn service(dir: &std::path::Path) -> (CodeBuildService, Arc<Builds>) {
    let store = SqliteStore::open(dir).await.unwrap();
    let scope = Scope {
        region: "us-east-1".into(),
        account_id: ACCOUNT.into(),
    };
    let clock = Arc::new(FakeClock::new(1_700_000_000_000));
    let builds = Arc::new(Builds::new(Arc::new(store), clock, scope));
    (CodeBuildService::new(builds.clone()), builds)
}

async fn call(s: &CodeBuildService, op: &str, input: Value) -> Result<Value> {
    Ok(s.handle(&ctx(), op, input).await?.into_value().unwrap())
}

async fn ok(s: &CodeBuildService, op: &str, input: Value) -> Value {
    call(s, op, input).await.unwrap()
}

async fn code(s: &CodeBuildService, op: &str, input: Value) -> String {
    call(s, op, input).await.unwrap_err().code().to_string()
}

fn project(name: &str) -> Value {
    json!({
        "name": name,
        "source": {"type": "NO_SOURCE", "buildspec": "version: 0.2"},
        "artifacts": {"type": "NO_ARTIFACTS"},
        "environment": {
            "type": "LINUX_CONTAINER",
            "image": "aws/codebuild/standard:7.0",
            "computeType": "BUILD_GENERAL1_SMALL",
            "environmentVariables": [{"name": "STAGE", "value": "staging"}]
        },
        "serviceRole": "arn:aws:iam::123456789012:role/build",
        "tags": [{"key": "team", "value": "ml"}]
    })
}

#[tokio::test]
async fn projects_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let (s, _) = service(dir.path()).await;
    let made = ok(&s, "CreateProject", project("deploy-model")).await["project"].clone();
    assert_eq!(
        made["arn"],
        "arn:aws:codebuild:us-east-1:123456789012:project/deploy-model"
    );
    assert_eq!(made["timeoutInMinutes"], 60);
    assert_eq!(made["created"], 1_700_000_000.0);
    assert_eq!(
        code(&s, "CreateProject", project("deploy-model")).await,
        "ResourceAlreadyExistsException"
    );
    ok(&s, "CreateProject", project("another")).await;
    let got = ok(
        &s,
        "BatchGetProjects",
        json!({"names": ["deploy-model", "absent"]}),
    )
    .await;
    assert_eq!(got["projects"][0]["name"], "deploy-model");
    assert_eq!(got["projectsNotFound"], json!(["absent"]));
    let listed = ok(&s, "ListProjects", json!({})).await;
    assert_eq!(listed["projects"], json!(["another", "deploy-model"]));
    ok(&s, "DeleteProject", json!({"name": "another"})).await;
    ok(&s, "DeleteProject", json!({"name": "another"})).await;
    let listed = ok(&s, "ListProjects", json!({"sortOrder": "DESCENDING"})).await;
    assert_eq!(listed["projects"], json!(["deploy-model"]));
}

#[tokio::test]
async fn builds_are_recorded_succeeded_and_not_executed() {
    let dir = tempfile::tempdir().unwrap();
    let (s, builds) = service(dir.path()).await;
    ok(&s, "CreateProject", project("deploy-model")).await;
    let started = ok(
        &s,
        "StartBuild",
        json!({
            "projectName": "deploy-model",
            "environmentVariablesOverride": [{"name": "STAGE", "value": "prod"}],
            "idempotencyToken": "t1"
        }),
    )
    .await["build"]
        .clone();
    let id = started["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("deploy-model:"));
    assert_eq!(
        (
            started["buildStatus"].clone(),
            started["buildNumber"].clone()
        ),
        (json!("SUCCEEDED"), json!(1))
    );
    assert_eq!(started["initiator"], "alice");
    assert_eq!(
        started["environment"]["environmentVariables"],
        json!([{"name": "STAGE", "value": "prod"}])
    );
    assert!(started.get("idempotencyToken").is_none());
    let again = ok(
        &s,
        "StartBuild",
        json!({"projectName": "deploy-model", "idempotencyToken": "t1"}),
    )
    .await;
    assert_eq!(again["build"]["id"], id.as_str());
    let rule = "arn:aws:events:us-east-1:123456789012:rule/model-approved";
    let by_rule = builds
        .start_build("deploy-model", Initiator::Rule(rule.into()))
        .await
        .unwrap();
    let got = ok(
        &s,
        "BatchGetBuilds",
        json!({"ids": [by_rule, "deploy-model:nope"]}),
    )
    .await;
    let b = &got["builds"][0];
    assert_eq!(
        (b["initiator"].clone(), b["buildNumber"].clone()),
        (json!("rule/model-approved"), json!(2))
    );
    assert_eq!(b["currentPhase"], "COMPLETED");
    let build_phase = b["phases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["phaseType"] == "BUILD")
        .unwrap();
    assert_eq!(build_phase["contexts"][0]["message"], NOT_EXECUTED);
    assert_eq!(got["buildsNotFound"], json!(["deploy-model:nope"]));
    let listed = ok(
        &s,
        "ListBuildsForProject",
        json!({"projectName": "deploy-model"}),
    )
    .await;
    assert_eq!(listed["ids"], json!([by_rule, id]));
    let all = ok(&s, "ListBuilds", json!({"sortOrder": "ASCENDING"})).await;
    assert_eq!(all["ids"], json!([id, by_rule]));
}

#[tokio::test]
async fn errors_answer_in_aws_codes() {
    let dir = tempfile::tempdir().unwrap();
    let (s, builds) = service(dir.path()).await;
    assert_eq!(
        code(&s, "StartBuild", json!({"projectName": "absent"})).await,
        "ResourceNotFoundException"
    );
    assert_eq!(
        code(&s, "ListBuildsForProject", json!({"projectName": "absent"})).await,
        "ResourceNotFoundException"
    );
    let e = builds
        .start_build("absent", Initiator::Pipeline("p".into()))
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "Project cannot be found: arn:aws:codebuild:us-east-1:123456789012:project/absent"
    );
    assert_eq!(
        code(&s, "BatchGetProjects", json!({"names": []})).await,
        "InvalidInputException"
    );
    let mut bad = project("x");
    bad["name"] = json!("-bad name");
    assert_eq!(
        code(&s, "CreateProject", bad).await,
        "InvalidInputException"
    );
    assert_eq!(
        code(&s, "StopBuild", json!({})).await,
        "UnknownOperationException"
    );
}

#[tokio::test]
async fn update_project_changes_only_what_is_given() {
    let dir = tempfile::tempdir().unwrap();
    let (s, _) = service(dir.path()).await;
    ok(&s, "CreateProject", project("upd")).await;
    let changed = ok(
        &s,
        "UpdateProject",
        json!({"name": "upd", "description": "second", "timeoutInMinutes": 30,
               "tags": [{"key": "team", "value": "ops"}], "badgeEnabled": true}),
    )
    .await["project"]
        .clone();
    assert_eq!(changed["description"], "second");
    assert_eq!(changed["timeoutInMinutes"], 30);
    assert_eq!(changed["tags"], json!([{"key": "team", "value": "ops"}]));
    assert_eq!(changed["badge"], json!({"badgeEnabled": true}));
    assert_eq!(changed["source"]["buildspec"], "version: 0.2", "kept");
    assert_eq!(changed["created"], 1_700_000_000.0);
    let got = ok(&s, "BatchGetProjects", json!({"names": ["upd"]})).await;
    assert_eq!(got["projects"][0], changed);
    assert_eq!(
        code(&s, "UpdateProject", json!({"name": "absent"})).await,
        "ResourceNotFoundException"
    );
    assert_eq!(
        code(
            &s,
            "UpdateProject",
            json!({"name": "upd", "timeoutInMinutes": 2})
        )
        .await,
        "InvalidInputException"
    );
}
