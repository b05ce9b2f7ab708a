//! The whole server is a tree of owners: built by `app::build` exactly as `sagestack
//! serve` builds it, used through its router (a project-free tour of SageMaker, SSM,
//! Service Catalog and a CloudFormation stack with native resources), then dropped.
//! Nothing may keep anything alive after that: no reference cycle, no back reference, no
//! task left holding a service. The store is the witness: it must be gone (and its data
//! directory lock released) without anyone calling `close()`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use clap::Parser;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

use sagestack_server::app::{App, build};
use sagestack_server::cli::{Cli, Command, ServeArgs};
use sagestack_server::router;

const AUTH: &str = "AWS4-HMAC-SHA256 Credential=AKIDLIFE/20250101/us-east-1/svc/aws4_request, SignedHeaders=host, Signature=0";

fn args(dir: &std::path::Path) -> ServeArgs {
    let cli = Cli::parse_from(["sagestack", "serve", "--data-dir", dir.to_str().unwrap()]);
    match cli.command {
        Command::Serve(args) => *args,
        _ => unreachable!(),
    }
}

async fn send(app: &axum::Router, request: Request<Body>) -> (StatusCode, String) {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

async fn json(app: &axum::Router, target: &str, body: Value) -> Value {
    let request = Request::post("/")
        .header("x-amz-target", target)
        .header("content-type", "application/x-amz-json-1.1")
        .header("authorization", AUTH)
        .header("x-amz-date", "20250101T000000Z")
        .body(Body::from(body.to_string()))
        .unwrap();
    let (status, text) = send(app, request).await;
    assert_eq!(status, StatusCode::OK, "{target}: {text}");
    serde_json::from_str(&text).unwrap()
}

async fn query(app: &axum::Router, form: &[(&str, &str)]) -> String {
    let body: String = form
        .iter()
        .map(|(k, v)| format!("{k}={}", urlencode(v)))
        .collect::<Vec<_>>()
        .join("&");
    let request = Request::post("/")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("authorization", AUTH)
        .header("x-amz-date", "20250101T000000Z")
        .body(Body::from(body))
        .unwrap();
    let (status, text) = send(app, request).await;
    assert_eq!(status, StatusCode::OK, "{form:?}: {text}");
    text
}

fn urlencode(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

const TEMPLATE: &str = r#"
Resources:
  Group:
    Type: AWS::SageMaker::ModelPackageGroup
    Properties: {ModelPackageGroupName: from-stack}
  Param:
    Type: AWS::SSM::Parameter
    Properties: {Type: String, Value: !GetAtt Group.ModelPackageGroupArn}
  Topic:
    Type: AWS::SNS::Topic
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_server_is_freed_when_dropped_without_close() {
    let dir = tempfile::tempdir().unwrap();
    let args = args(dir.path());
    let App {
        state,
        store,
        accounts,
        ..
    } = build(&args, "http://127.0.0.1:9").await.unwrap();
    let witness = Arc::downgrade(&store);
    drop(store);
    let api = router(state);

    json(
        &api,
        "SageMaker.CreateModelPackageGroup",
        json!({"ModelPackageGroupName": "by-api"}),
    )
    .await;
    json(
        &api,
        "AmazonSSM.PutParameter",
        json!({"Name": "/life/p", "Value": "v", "Type": "String"}),
    )
    .await;
    json(
        &api,
        "AWS242ServiceCatalogService.CreatePortfolio",
        json!({"DisplayName": "life", "ProviderName": "me", "IdempotencyToken": "t1"}),
    )
    .await;
    query(
        &api,
        &[
            ("Action", "CreateStack"),
            ("Version", "2010-05-15"),
            ("StackName", "life"),
            ("TemplateBody", TEMPLATE),
        ],
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let out = query(
            &api,
            &[
                ("Action", "DescribeStacks"),
                ("Version", "2010-05-15"),
                ("StackName", "life"),
            ],
        )
        .await;
        if out.contains("<StackStatus>CREATE_COMPLETE</StackStatus>") {
            break;
        }
        assert!(
            !out.contains("FAILED") && Instant::now() < deadline,
            "{out}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Everything built is owned by the router's state and the accounts' parts (their
    // provisioners and resumable handles); dropping them must free the store.
    drop(api);
    drop(accounts);
    let deadline = Instant::now() + Duration::from_secs(5);
    while witness.upgrade().is_some() {
        assert!(
            Instant::now() < deadline,
            "something still owns the store after the server was dropped"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    // The data directory lock went with it: the server builds again on the same
    // directory and finds what the first one wrote.
    let again = build(&args, "http://127.0.0.1:9").await.unwrap();
    let api = router(again.state);
    let group = json(
        &api,
        "SageMaker.DescribeModelPackageGroup",
        json!({"ModelPackageGroupName": "from-stack"}),
    )
    .await;
    assert_eq!(group["ModelPackageGroupName"], "from-stack");
}
