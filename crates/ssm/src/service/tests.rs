//! The parameter operations, through `SsmService::handle`.

#[path = "../../../../tests/support/requests.rs"]
mod support;

use super::*;
use crate::parameters::{NAME_RULES, PATH_RULES};
use sagestack_engine::FakeClock;
use sagestack_store::SqliteStore;

pub(super) fn ctx() -> RequestContext {
    RequestContext::new("eu-west-1", "123456789012")
}

pub(super) async fn service(dir: &std::path::Path) -> SsmService {
    let store = SqliteStore::open(dir).await.unwrap();
    SsmService::new(Arc::new(Parameters::new(
        Arc::new(store),
        Arc::new(FakeClock::ticking(1_700_000_000_000, 1000)),
    )))
}

pub(super) async fn call(s: &SsmService, op: &str, input: Value) -> Result<Value> {
    Ok(s.handle(&ctx(), op, input).await?.into_value().unwrap())
}

/// `op`'s output; the call must succeed.
pub(super) async fn ok(s: &SsmService, op: &str, input: Value) -> Value {
    call(s, op, input).await.unwrap()
}

/// `op`'s error; the call must fail.
pub(super) async fn fail(s: &SsmService, op: &str, input: Value) -> SsmError {
    call(s, op, input).await.unwrap_err()
}

/// PutParameter's output; the put must succeed.
pub(super) async fn put(s: &SsmService, input: Value) -> Value {
    ok(s, "PutParameter", input).await
}

/// PutParameter's error; the put must fail.
pub(super) async fn put_fails(s: &SsmService, input: Value) -> SsmError {
    fail(s, "PutParameter", input).await
}

#[test]
fn the_embedded_model_parses_and_has_every_operation() {
    for op in [
        "PutParameter",
        "GetParameter",
        "GetParameters",
        "GetParametersByPath",
        "DeleteParameter",
        "DeleteParameters",
        "DescribeParameters",
        "GetParameterHistory",
        "AddTagsToResource",
        "RemoveTagsFromResource",
        "ListTagsForResource",
    ] {
        assert!(MODEL.has_operation(op), "{op}");
    }
}

#[tokio::test]
async fn put_get_versions_and_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let s = service(dir.path()).await;
    let out = put(
        &s,
        json!({"Name": "/app/db", "Value": "v1", "Type": "String", "Description": "d"}),
    )
    .await;
    assert_eq!(out, json!({"Version": 1, "Tier": "Standard"}));
    let e = put_fails(&s, json!({"Name": "/app/db", "Value": "v2"})).await;
    assert_eq!(e, SsmError::ParameterAlreadyExists);
    assert_eq!(e.code(), "ParameterAlreadyExists");
    let out = put(
        &s,
        json!({"Name": "/app/db", "Value": "v2", "Overwrite": true}),
    )
    .await;
    assert_eq!(out["Version"], 2);
    let p = ok(&s, "GetParameter", json!({"Name": "/app/db"})).await;
    assert_eq!(
        p["Parameter"],
        json!({"Name": "/app/db", "Type": "String", "Value": "v2", "Version": 2,
            "LastModifiedDate": 1_700_000_001.0,
            "ARN": "arn:aws:ssm:eu-west-1:123456789012:parameter/app/db", "DataType": "text"})
    );
    let p = ok(&s, "GetParameter", json!({"Name": "/app/db:1"})).await;
    assert_eq!(p["Parameter"]["Value"], "v1");
    assert_eq!(p["Parameter"]["Selector"], ":1");
    assert_eq!(p["Parameter"]["Name"], "/app/db");
    let e = fail(&s, "GetParameter", json!({"Name": "/app/db:7"})).await;
    assert_eq!(e.code(), "ParameterVersionNotFound");
    assert_eq!(
        e.to_string(),
        "Systems Manager could not find version 7 of /app/db. Verify the version and try again."
    );
    let e = fail(&s, "GetParameter", json!({"Name": "/nope"})).await;
    assert_eq!(e, SsmError::ParameterNotFound);
}

#[tokio::test]
async fn service_rules() {
    let dir = tempfile::tempdir().unwrap();
    let s = service(dir.path()).await;
    let e = put_fails(&s, json!({"Name": "x", "Value": "v"})).await;
    assert_eq!(
        e.to_string(),
        "A parameter type is required when you create a parameter."
    );
    for bad in ["a/b", "/aws/x", "ssm-thing", "/a//b", "bad name"] {
        let e = put_fails(&s, json!({"Name": bad, "Value": "v", "Type": "String"})).await;
        assert_eq!(e.code(), "ValidationException", "{bad}");
    }
    let e = put_fails(
        &s,
        json!({"Name": "my app", "Value": "v", "Type": "String"}),
    )
    .await;
    assert_eq!(e.to_string(), NAME_RULES);
    assert!(NAME_RULES.starts_with("Parameter name: can't be prefixed with \"ssm\""));
    let e = fail(&s, "GetParameter", json!({"Name": "{bad}-name"})).await;
    assert_eq!(e.code(), "ValidationException");
    for path in ["no-slash", "/aws/x", "/bad path"] {
        let e = fail(&s, "GetParametersByPath", json!({"Path": path})).await;
        assert_eq!(e.to_string(), PATH_RULES, "{path}");
    }
    assert!(PATH_RULES.contains(r#"It can't be prefixed with \"aws\" or \"ssm\""#));
    // Refused puts, with the code each answers.
    let deep = format!("/{}", vec!["l"; 16].join("/"));
    let pattern =
        json!({"Name": "p", "Value": "abc", "Type": "String", "AllowedPattern": "^\\d+$"});
    for (input, code) in [
        (
            json!({"Name": deep, "Value": "v", "Type": "String"}),
            "HierarchyLevelLimitExceededException",
        ),
        (pattern, "ParameterPatternMismatchException"),
        (
            json!({"Name": "p", "Value": "x".repeat(4097), "Type": "String"}),
            "ValidationException",
        ),
    ] {
        assert_eq!(put_fails(&s, input.clone()).await.code(), code, "{input}");
    }
    let e = put_fails(
        &s,
        json!({"Name": "p", "Value": "v", "Type": "String", "Overwrite": true,
            "Tags": [{"Key": "k", "Value": "v"}]}),
    )
    .await;
    assert!(
        e.to_string()
            .starts_with("Invalid request: tags and overwrite can't be used together")
    );
    let out = put(
        &s,
        json!({"Name": "p", "Value": "x".repeat(4097), "Type": "String", "Tier": "Advanced"}),
    )
    .await;
    assert_eq!(out["Tier"], "Advanced");
    // Model validation, in AWS's wording.
    let e = put_fails(&s, json!({"Name": "", "Type": "Text"})).await;
    assert_eq!(e.code(), "ValidationException");
    assert!(
        e.to_string().starts_with("3 validation errors detected"),
        "{e}"
    );
    let e = fail(&s, "GetParameter", json!({"Name": 5})).await;
    assert_eq!(e.code(), "SerializationException");
}

#[tokio::test]
async fn secure_strings_are_sealed_without_decryption() {
    let dir = tempfile::tempdir().unwrap();
    let s = service(dir.path()).await;
    put(
        &s,
        json!({"Name": "pw", "Value": "hunter2", "Type": "SecureString"}),
    )
    .await;
    let p = ok(&s, "GetParameter", json!({"Name": "pw"})).await;
    assert_ne!(p["Parameter"]["Value"], "hunter2");
    let p = ok(
        &s,
        "GetParameter",
        json!({"Name": "pw", "WithDecryption": true}),
    )
    .await;
    assert_eq!(p["Parameter"]["Value"], "hunter2");
    assert_eq!(p["Parameter"]["Type"], "SecureString");
}

#[tokio::test]
async fn get_parameters_reports_invalid_ones() {
    let dir = tempfile::tempdir().unwrap();
    let s = service(dir.path()).await;
    for n in ["a", "b"] {
        put(
            &s,
            json!({"Name": n, "Value": format!("{n}-v"), "Type": "StringList"}),
        )
        .await;
    }
    let out = ok(
        &s,
        "GetParameters",
        json!({"Names": ["a", "missing", "b:1", "b:2", "a"]}),
    )
    .await;
    let names = support::strings(&out["Parameters"], "Name");
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
        put(&s, json!({"Name": n, "Value": "v", "Type": "String"})).await;
    }
    let names = |v: &Value| -> Vec<String> {
        v["Parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["Name"].as_str().unwrap().to_string())
            .collect()
    };
    let out = ok(&s, "GetParametersByPath", json!({"Path": "/app"})).await;
    assert_eq!(names(&out), ["/app/a", "/app/b", "/app/c"]);
    assert!(out.get("NextToken").is_none());
    let mut seen = Vec::new();
    let mut token: Option<Value> = None;
    loop {
        let mut input = json!({"Path": "/app/", "Recursive": true, "MaxResults": 3});
        if let Some(t) = &token {
            input["NextToken"] = t.clone();
        }
        let out = ok(&s, "GetParametersByPath", input).await;
        seen.extend(names(&out));
        match out.get("NextToken") {
            Some(t) => token = Some(t.clone()),
            None => break,
        }
    }
    assert_eq!(seen, ["/app/a", "/app/b", "/app/c", "/app/deep/x"]);
    let e = fail(
        &s,
        "GetParametersByPath",
        json!({"Path": "/app", "NextToken": "garbage"}),
    )
    .await;
    assert_eq!(e.code(), "InvalidNextToken");
    let e = fail(
        &s,
        "GetParametersByPath",
        json!({"Path": "/app", "MaxResults": 11}),
    )
    .await;
    assert_eq!(e.code(), "ValidationException");
}

#[tokio::test]
async fn delete_removes_every_version() {
    let dir = tempfile::tempdir().unwrap();
    let s = service(dir.path()).await;
    put(&s, json!({"Name": "d", "Value": "v", "Type": "String"})).await;
    ok(&s, "DeleteParameter", json!({"Name": "d"})).await;
    let e = fail(&s, "DeleteParameter", json!({"Name": "d"})).await;
    assert_eq!(e.code(), "ParameterNotFound");
    let e = fail(&s, "GetParameter", json!({"Name": "d:1"})).await;
    assert_eq!(e.code(), "ParameterNotFound");
    let listed = ok(&s, "DescribeParameters", json!({})).await;
    assert_eq!(listed, json!({"Parameters": []}));
    let e = fail(&s, "LabelParameterVersion", json!({})).await;
    assert_eq!(e.code(), "UnknownOperationException");
}
