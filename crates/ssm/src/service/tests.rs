//! The parameter operations, through `SsmService::handle`.

use super::*;
use crate::parameters::{NAME_RULES, PATH_RULES};
use sagestack_engine::FakeClock;
use sagestack_store::SqliteStore;

fn ctx() -> RequestContext {
    RequestContext::new("eu-west-1", "123456789012")
}

async fn service(dir: &std::path::Path) -> SsmService {
    let store = SqliteStore::open(dir).await.unwrap();
    SsmService::new(Arc::new(Parameters::new(
        Arc::new(store),
        Arc::new(FakeClock::ticking(1_700_000_000_000, 1000)),
    )))
}

async fn call(s: &SsmService, op: &str, input: Value) -> Result<Value> {
    Ok(s.handle(&ctx(), op, input).await?.into_value().unwrap())
}

#[test]
fn the_embedded_model_parses_and_has_every_operation() {
    for op in [
        "PutParameter",
        "GetParameter",
        "GetParameters",
        "GetParametersByPath",
        "DeleteParameter",
    ] {
        assert!(MODEL.has_operation(op), "{op}");
    }
}

#[tokio::test]
async fn put_get_versions_and_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let s = service(dir.path()).await;
    let out = call(
        &s,
        "PutParameter",
        json!({"Name": "/app/db", "Value": "v1", "Type": "String", "Description": "d"}),
    )
    .await
    .unwrap();
    assert_eq!(out, json!({"Version": 1, "Tier": "Standard"}));
    let e = call(
        &s,
        "PutParameter",
        json!({"Name": "/app/db", "Value": "v2"}),
    )
    .await
    .unwrap_err();
    assert_eq!(e, SsmError::ParameterAlreadyExists);
    assert_eq!(e.code(), "ParameterAlreadyExists");
    let out = call(
        &s,
        "PutParameter",
        json!({"Name": "/app/db", "Value": "v2", "Overwrite": true}),
    )
    .await
    .unwrap();
    assert_eq!(out["Version"], 2);
    let p = call(&s, "GetParameter", json!({"Name": "/app/db"}))
        .await
        .unwrap();
    assert_eq!(
        p["Parameter"],
        json!({"Name": "/app/db", "Type": "String", "Value": "v2", "Version": 2,
            "LastModifiedDate": 1_700_000_001.0,
            "ARN": "arn:aws:ssm:eu-west-1:123456789012:parameter/app/db", "DataType": "text"})
    );
    let p = call(&s, "GetParameter", json!({"Name": "/app/db:1"}))
        .await
        .unwrap();
    assert_eq!(p["Parameter"]["Value"], "v1");
    assert_eq!(p["Parameter"]["Selector"], ":1");
    assert_eq!(p["Parameter"]["Name"], "/app/db");
    let e = call(&s, "GetParameter", json!({"Name": "/app/db:7"}))
        .await
        .unwrap_err();
    assert_eq!(e.code(), "ParameterVersionNotFound");
    assert_eq!(
        e.to_string(),
        "Systems Manager could not find version 7 of /app/db. Verify the version and try again."
    );
    let e = call(&s, "GetParameter", json!({"Name": "/nope"}))
        .await
        .unwrap_err();
    assert_eq!(e, SsmError::ParameterNotFound);
}

#[tokio::test]
async fn service_rules() {
    let dir = tempfile::tempdir().unwrap();
    let s = service(dir.path()).await;
    let e = call(&s, "PutParameter", json!({"Name": "x", "Value": "v"}))
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "A parameter type is required when you create a parameter."
    );
    for bad in ["a/b", "/aws/x", "ssm-thing", "/a//b", "bad name"] {
        let e = call(
            &s,
            "PutParameter",
            json!({"Name": bad, "Value": "v", "Type": "String"}),
        )
        .await
        .unwrap_err();
        assert_eq!(e.code(), "ValidationException", "{bad}");
    }
    let e = call(
        &s,
        "PutParameter",
        json!({"Name": "my app", "Value": "v", "Type": "String"}),
    )
    .await
    .unwrap_err();
    assert_eq!(e.to_string(), NAME_RULES);
    assert!(NAME_RULES.starts_with("Parameter name: can't be prefixed with \"ssm\""));
    let e = call(&s, "GetParameter", json!({"Name": "{bad}-name"}))
        .await
        .unwrap_err();
    assert_eq!(e.code(), "ValidationException");
    for path in ["no-slash", "/aws/x", "/bad path"] {
        let e = call(&s, "GetParametersByPath", json!({"Path": path}))
            .await
            .unwrap_err();
        assert_eq!(e.to_string(), PATH_RULES, "{path}");
    }
    assert!(PATH_RULES.contains(r#"It can't be prefixed with \"aws\" or \"ssm\""#));
    let deep = format!("/{}", vec!["l"; 16].join("/"));
    let e = call(
        &s,
        "PutParameter",
        json!({"Name": deep, "Value": "v", "Type": "String"}),
    )
    .await
    .unwrap_err();
    assert_eq!(e.code(), "HierarchyLevelLimitExceededException");
    let e = call(
        &s,
        "PutParameter",
        json!({"Name": "p", "Value": "abc", "Type": "String", "AllowedPattern": "^\\d+$"}),
    )
    .await
    .unwrap_err();
    assert_eq!(e.code(), "ParameterPatternMismatchException");
    let e = call(
        &s,
        "PutParameter",
        json!({"Name": "p", "Value": "v", "Type": "String", "Overwrite": true,
            "Tags": [{"Key": "k", "Value": "v"}]}),
    )
    .await
    .unwrap_err();
    assert!(
        e.to_string()
            .starts_with("Tags and overwrite can't be used together")
    );
    let e = call(
        &s,
        "PutParameter",
        json!({"Name": "p", "Value": "x".repeat(4097), "Type": "String"}),
    )
    .await
    .unwrap_err();
    assert_eq!(e.code(), "ValidationException");
    let out = call(
        &s,
        "PutParameter",
        json!({"Name": "p", "Value": "x".repeat(4097), "Type": "String", "Tier": "Advanced"}),
    )
    .await
    .unwrap();
    assert_eq!(out["Tier"], "Advanced");
    // Model validation, in AWS's wording.
    let e = call(&s, "PutParameter", json!({"Name": "", "Type": "Text"}))
        .await
        .unwrap_err();
    assert_eq!(e.code(), "ValidationException");
    assert!(
        e.to_string().starts_with("3 validation errors detected"),
        "{e}"
    );
    let e = call(&s, "GetParameter", json!({"Name": 5}))
        .await
        .unwrap_err();
    assert_eq!(e.code(), "SerializationException");
}

#[tokio::test]
async fn secure_strings_are_sealed_without_decryption() {
    let dir = tempfile::tempdir().unwrap();
    let s = service(dir.path()).await;
    call(
        &s,
        "PutParameter",
        json!({"Name": "pw", "Value": "hunter2", "Type": "SecureString"}),
    )
    .await
    .unwrap();
    let p = call(&s, "GetParameter", json!({"Name": "pw"}))
        .await
        .unwrap();
    assert_ne!(p["Parameter"]["Value"], "hunter2");
    let p = call(
        &s,
        "GetParameter",
        json!({"Name": "pw", "WithDecryption": true}),
    )
    .await
    .unwrap();
    assert_eq!(p["Parameter"]["Value"], "hunter2");
    assert_eq!(p["Parameter"]["Type"], "SecureString");
}

#[tokio::test]
async fn get_parameters_reports_invalid_ones() {
    let dir = tempfile::tempdir().unwrap();
    let s = service(dir.path()).await;
    for n in ["a", "b"] {
        call(
            &s,
            "PutParameter",
            json!({"Name": n, "Value": format!("{n}-v"), "Type": "StringList"}),
        )
        .await
        .unwrap();
    }
    let out = call(
        &s,
        "GetParameters",
        json!({"Names": ["a", "missing", "b:1", "b:2", "a"]}),
    )
    .await
    .unwrap();
    let names: Vec<&str> = out["Parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["Name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["a", "b"]);
    assert_eq!(out["InvalidParameters"], json!(["missing", "b:2"]));
}

#[tokio::test]
async fn by_path_recursive_and_pages() {
    let dir = tempfile::tempdir().unwrap();
    let s = service(dir.path()).await;
    for n in [
        "/app/a",
        "/app/b",
        "/app/c",
        "/app/deep/x",
        "/apple",
        "/other",
    ] {
        call(
            &s,
            "PutParameter",
            json!({"Name": n, "Value": "v", "Type": "String"}),
        )
        .await
        .unwrap();
    }
    let names = |v: &Value| -> Vec<String> {
        v["Parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["Name"].as_str().unwrap().to_string())
            .collect()
    };
    let out = call(&s, "GetParametersByPath", json!({"Path": "/app"}))
        .await
        .unwrap();
    assert_eq!(names(&out), ["/app/a", "/app/b", "/app/c"]);
    assert!(out.get("NextToken").is_none());
    let mut seen = Vec::new();
    let mut token: Option<Value> = None;
    loop {
        let mut input = json!({"Path": "/app/", "Recursive": true, "MaxResults": 3});
        if let Some(t) = &token {
            input["NextToken"] = t.clone();
        }
        let out = call(&s, "GetParametersByPath", input).await.unwrap();
        seen.extend(names(&out));
        match out.get("NextToken") {
            Some(t) => token = Some(t.clone()),
            None => break,
        }
    }
    assert_eq!(seen, ["/app/a", "/app/b", "/app/c", "/app/deep/x"]);
    let e = call(
        &s,
        "GetParametersByPath",
        json!({"Path": "/app", "NextToken": "garbage"}),
    )
    .await
    .unwrap_err();
    assert_eq!(e.code(), "InvalidNextToken");
    let e = call(
        &s,
        "GetParametersByPath",
        json!({"Path": "/app", "MaxResults": 11}),
    )
    .await
    .unwrap_err();
    assert_eq!(e.code(), "ValidationException");
}

#[tokio::test]
async fn delete_removes_every_version() {
    let dir = tempfile::tempdir().unwrap();
    let s = service(dir.path()).await;
    call(
        &s,
        "PutParameter",
        json!({"Name": "d", "Value": "v", "Type": "String"}),
    )
    .await
    .unwrap();
    call(&s, "DeleteParameter", json!({"Name": "d"}))
        .await
        .unwrap();
    let e = call(&s, "DeleteParameter", json!({"Name": "d"}))
        .await
        .unwrap_err();
    assert_eq!(e.code(), "ParameterNotFound");
    let e = call(&s, "GetParameter", json!({"Name": "d:1"}))
        .await
        .unwrap_err();
    assert_eq!(e.code(), "ParameterNotFound");
    let e = call(&s, "DescribeParameters", json!({})).await.unwrap_err();
    assert_eq!(e.code(), "UnknownOperationException");
}
