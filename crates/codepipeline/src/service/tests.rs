//! The operations through `CodePipelineService::handle`: validation, the answers'
//! shapes, the recorded runs and the errors in AWS's codes.

use super::*;
use sagestack_engine::FakeClock;
use sagestack_protocol::AwsError;
use sagestack_protocol::auth::Caller;
use sagestack_store::SqliteStore;

use crate::executions::NOT_EXECUTED;
use crate::pipelines::Scope;

const NOW: i64 = 1_700_000_000_000;
const ACCOUNT: &str = "123456789012";

fn ctx() -> RequestContext {
    RequestContext::new("us-east-1", ACCOUNT).with_caller(Caller {
        access_key_id: "AKIA".into(),
        account_id: ACCOUNT.into(),
        arn: "arn:aws:iam::123456789012:user/alice".into(),
        user_id: "AIDA".into(),
    })
}

async fn service(dir: &std::path::Path) -> CodePipelineService {
    let store = SqliteStore::open(dir).await.unwrap();
    let scope = Scope {
        region: "us-east-1".into(),
        account_id: ACCOUNT.into(),
    };
    let clock = Arc::new(FakeClock::new(NOW));
    CodePipelineService::new(Arc::new(Pipelines::new(Arc::new(store), clock, scope)))
}

async fn call(s: &CodePipelineService, op: &str, input: Value) -> Result<Value> {
    Ok(s.handle(&ctx(), op, input).await?.into_value().unwrap())
}

async fn ok(s: &CodePipelineService, op: &str, input: Value) -> Value {
    call(s, op, input).await.unwrap()
}

async fn code(s: &CodePipelineService, op: &str, input: Value) -> String {
    call(s, op, input).await.unwrap_err().code().to_string()
}

fn pipeline(name: &str) -> Value {
    json!({
        "name": name,
        "roleArn": "arn:aws:iam::123456789012:role/pipeline",
        "artifactStore": {"type": "S3", "location": "artifacts"},
        "stages": [
            {"name": "Source", "actions": [{
                "name": "Model",
                "actionTypeId": {"category": "Source", "owner": "AWS", "provider": "S3", "version": "1"},
                "configuration": {"S3Bucket": "artifacts", "S3ObjectKey": "model.zip"},
                "outputArtifacts": [{"name": "ModelArtifact"}]
            }]},
            {"name": "Deploy", "actions": [{
                "name": "DeployStaging",
                "actionTypeId": {"category": "Deploy", "owner": "AWS", "provider": "CloudFormation", "version": "1"},
                "inputArtifacts": [{"name": "ModelArtifact"}]
            }]}
        ]
    })
}

#[test]
fn the_embedded_model_parses() {
    for op in [
        "CreatePipeline",
        "StartPipelineExecution",
        "ListTagsForResource",
    ] {
        assert!(
            MODEL.validate(op, &json!({})).is_err(),
            "{op} has required members"
        );
    }
}

#[tokio::test]
async fn definitions_are_kept_and_listed() {
    let dir = tempfile::tempdir().unwrap();
    let s = service(dir.path()).await;
    let made = ok(
        &s,
        "CreatePipeline",
        json!({"pipeline": pipeline("deploy"), "tags": [{"key": "team", "value": "ml"}]}),
    )
    .await;
    assert_eq!(made["pipeline"]["version"], 1);
    assert_eq!(made["tags"], json!([{"key": "team", "value": "ml"}]));
    let got = ok(&s, "GetPipeline", json!({"name": "deploy"})).await;
    assert_eq!(
        got["metadata"]["pipelineArn"],
        "arn:aws:codepipeline:us-east-1:123456789012:deploy"
    );
    assert_eq!(got["metadata"]["created"], 1_700_000_000.0);
    assert_eq!(
        got["pipeline"]["stages"][1]["actions"][0]["name"],
        "DeployStaging"
    );
    assert_eq!(
        code(
            &s,
            "CreatePipeline",
            json!({"pipeline": pipeline("deploy")})
        )
        .await,
        "PipelineNameInUseException"
    );
    let mut changed = pipeline("deploy");
    changed["stages"][0]["name"] = json!("Fetch");
    let updated = ok(&s, "UpdatePipeline", json!({"pipeline": changed})).await;
    assert_eq!(updated["pipeline"]["version"], 2);
    assert_eq!(
        code(&s, "GetPipeline", json!({"name": "deploy", "version": 1})).await,
        "PipelineVersionNotFoundException"
    );
    ok(
        &s,
        "CreatePipeline",
        json!({"pipeline": pipeline("another")}),
    )
    .await;
    let listed = ok(&s, "ListPipelines", json!({"maxResults": 1})).await;
    assert_eq!(listed["pipelines"][0]["name"], "another");
    assert_eq!(listed["pipelines"][0]["pipelineType"], "V1");
    let token = listed["nextToken"].clone();
    let rest = ok(&s, "ListPipelines", json!({"nextToken": token})).await;
    assert_eq!(rest["pipelines"][0]["name"], "deploy");
    assert!(rest.get("nextToken").is_none());
    assert_eq!(
        code(&s, "ListPipelines", json!({"nextToken": "garbage"})).await,
        "InvalidNextTokenException"
    );
}

#[tokio::test]
async fn runs_are_recorded_succeeded_and_not_executed() {
    let dir = tempfile::tempdir().unwrap();
    let s = service(dir.path()).await;
    ok(
        &s,
        "CreatePipeline",
        json!({"pipeline": pipeline("deploy")}),
    )
    .await;
    let started = ok(&s, "StartPipelineExecution", json!({"name": "deploy"})).await;
    let id = started["pipelineExecutionId"].as_str().unwrap().to_string();
    let e = ok(
        &s,
        "GetPipelineExecution",
        json!({"pipelineName": "deploy", "pipelineExecutionId": id}),
    )
    .await["pipelineExecution"]
        .clone();
    assert_eq!(e["status"], "Succeeded");
    assert_eq!(
        e["trigger"],
        json!({"triggerType": "StartPipelineExecution", "triggerDetail": "arn:aws:iam::123456789012:user/alice"})
    );
    let listed = ok(
        &s,
        "ListPipelineExecutions",
        json!({"pipelineName": "deploy"}),
    )
    .await;
    let summaries = listed["pipelineExecutionSummaries"].as_array().unwrap();
    assert_eq!(summaries.len(), 2);
    assert_eq!(summaries[0]["pipelineExecutionId"], id.as_str());
    assert_eq!(summaries[1]["trigger"]["triggerType"], "CreatePipeline");
    let state = ok(&s, "GetPipelineState", json!({"name": "deploy"})).await;
    let deploy = &state["stageStates"][1];
    assert_eq!(
        deploy["latestExecution"]["pipelineExecutionId"],
        id.as_str()
    );
    let action = &deploy["actionStates"][0]["latestExecution"];
    assert_eq!(
        (action["status"].clone(), action["summary"].clone()),
        (json!("Succeeded"), json!(NOT_EXECUTED))
    );
    assert_eq!(
        code(
            &s,
            "StopPipelineExecution",
            json!({"pipelineName": "deploy", "pipelineExecutionId": id})
        )
        .await,
        "PipelineExecutionNotStoppableException"
    );
}

#[tokio::test]
async fn errors_answer_in_aws_codes() {
    let dir = tempfile::tempdir().unwrap();
    let s = service(dir.path()).await;
    for (op, input) in [
        ("GetPipeline", json!({"name": "absent"})),
        ("GetPipelineState", json!({"name": "absent"})),
        ("StartPipelineExecution", json!({"name": "absent"})),
        ("ListPipelineExecutions", json!({"pipelineName": "absent"})),
    ] {
        assert_eq!(
            code(&s, op, input).await,
            "PipelineNotFoundException",
            "{op}"
        );
    }
    assert_eq!(
        code(&s, "GetPipeline", json!({"name": "bad name"})).await,
        "ValidationException"
    );
    let mut one_stage = pipeline("p");
    one_stage["stages"].as_array_mut().unwrap().pop();
    assert_eq!(
        code(&s, "CreatePipeline", json!({"pipeline": one_stage})).await,
        "InvalidStructureException"
    );
    ok(&s, "CreatePipeline", json!({"pipeline": pipeline("p")})).await;
    let missing =
        json!({"pipelineName": "p", "pipelineExecutionId": "00000000-0000-0000-0000-000000000000"});
    assert_eq!(
        code(&s, "GetPipelineExecution", missing).await,
        "PipelineExecutionNotFoundException"
    );
    let arn = "arn:aws:codepipeline:us-east-1:123456789012:";
    let input = json!({"resourceArn": format!("{arn}gone")});
    assert_eq!(
        code(&s, "ListTagsForResource", input).await,
        "ResourceNotFoundException"
    );
    ok(
        &s,
        "TagResource",
        json!({"resourceArn": format!("{arn}p"), "tags": [{"key": "a", "value": "1"}]}),
    )
    .await;
    let tags = ok(
        &s,
        "ListTagsForResource",
        json!({"resourceArn": format!("{arn}p")}),
    )
    .await;
    assert_eq!(tags["tags"], json!([{"key": "a", "value": "1"}]));
    ok(
        &s,
        "UntagResource",
        json!({"resourceArn": format!("{arn}p"), "tagKeys": ["a"]}),
    )
    .await;
    ok(&s, "DeletePipeline", json!({"name": "p"})).await;
    ok(&s, "DeletePipeline", json!({"name": "p"})).await;
    assert_eq!(
        code(&s, "GetPipeline", json!({"name": "p"})).await,
        "PipelineNotFoundException"
    );
    assert_eq!(
        code(&s, "PutJobSuccessResult", json!({})).await,
        "UnknownOperationException"
    );
}
