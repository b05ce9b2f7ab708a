//! Operations through the API as a client's decoded input reaches them: code signing
//! (always none), reserved concurrency and logging configuration.

use std::io::Write;
use std::time::Duration;

use base64::Engine as _;
use sagestack_engine::FakeClock;
use sagestack_store::SqliteStore;

use super::*;
use crate::{Executor, Functions, NoLogs, RuntimeConfig, Scope};

fn zip_b64() -> String {
    let mut out = std::io::Cursor::new(Vec::new());
    let mut zip = zip::ZipWriter::new(&mut out);
    zip.start_file("app.py", zip::write::SimpleFileOptions::default())
        .unwrap();
    zip.write_all(b"def handler(e, c):\n    return e\n")
        .unwrap();
    zip.finish().unwrap();
    base64::engine::general_purpose::STANDARD.encode(out.into_inner())
}

async fn api(dir: &std::path::Path) -> LambdaApi {
    let store: Arc<dyn sagestack_store::Store> = Arc::new(SqliteStore::open(dir).await.unwrap());
    let functions = Arc::new(Functions::new(
        store.clone(),
        store,
        Arc::new(FakeClock::new(1_700_000_000_000)),
        Scope {
            region: "us-east-1".into(),
            account_id: "123456789012".into(),
        },
        dir.join("code"),
    ));
    let executor = Executor::new(RuntimeConfig {
        python: None,
        node: None,
        endpoint_url: "http://127.0.0.1:9".into(),
        region: "us-east-1".into(),
        credentials: ("k".into(), "s".into()),
        max_workers: 4,
        per_function: 1,
        idle_timeout: Duration::from_secs(60),
        runtime_dir: dir.join("runtime"),
    })
    .unwrap();
    let invoker = Arc::new(Invoker::new(functions, executor, Arc::new(NoLogs)));
    LambdaApi::new(invoker, Arc::new(crate::CodeUrls::new()))
}

async fn run(api: &LambdaApi, op: &str, input: Value) -> Result<Value> {
    let out = api
        .handle(RestRequest {
            operation: op.into(),
            input,
            payload: None,
        })
        .await?;
    Ok(Value::Object(out.members))
}

async fn create(api: &LambdaApi, name: &str, extra: Value) -> Value {
    let mut input = json!({
        "FunctionName": name, "Runtime": "python3.12", "Handler": "app.handler",
        "Role": "arn:aws:iam::123456789012:role/r", "Code": {"ZipFile": zip_b64()},
    });
    for (k, v) in extra.as_object().unwrap() {
        input[k] = v.clone();
    }
    run(api, "CreateFunction", input).await.unwrap()
}

#[tokio::test]
async fn code_signing_is_none_for_every_function() {
    let dir = tempfile::tempdir().unwrap();
    let api = api(dir.path()).await;
    create(&api, "f", json!({})).await;
    let out = run(
        &api,
        "GetFunctionCodeSigningConfig",
        json!({"FunctionName": "f"}),
    )
    .await
    .unwrap();
    assert_eq!(
        out,
        json!({"CodeSigningConfigArn": "", "FunctionName": "f"})
    );
    let e = run(
        &api,
        "GetFunctionCodeSigningConfig",
        json!({"FunctionName": "nope"}),
    )
    .await
    .unwrap_err();
    assert_eq!(
        e,
        LambdaError::ResourceNotFound(
            "Function not found: arn:aws:lambda:us-east-1:123456789012:function:nope".into()
        )
    );
}

#[tokio::test]
async fn reserved_concurrency_is_kept_answered_and_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let api = api(dir.path()).await;
    create(&api, "a", json!({})).await;
    create(&api, "b", json!({})).await;
    let get = json!({"FunctionName": "a"});
    assert_eq!(
        run(&api, "GetFunctionConcurrency", get.clone())
            .await
            .unwrap(),
        json!({})
    );
    let put = |name: &str, n: i64| json!({"FunctionName": name, "ReservedConcurrentExecutions": n});
    assert_eq!(
        run(&api, "PutFunctionConcurrency", put("a", 600))
            .await
            .unwrap(),
        json!({"ReservedConcurrentExecutions": 600})
    );
    let function = run(&api, "GetFunction", get.clone()).await.unwrap();
    assert_eq!(
        function["Concurrency"],
        json!({"ReservedConcurrentExecutions": 600})
    );
    // 600 + 301 leaves 99 of the account's 1,000 unreserved: one short.
    let e = run(&api, "PutFunctionConcurrency", put("b", 301))
        .await
        .unwrap_err();
    assert_eq!(
        e,
        LambdaError::InvalidParameterValue(
            "Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [100].".into()
        )
    );
    run(&api, "PutFunctionConcurrency", put("b", 300))
        .await
        .unwrap();
    // Changing a's own reservation does not count its old one.
    run(&api, "PutFunctionConcurrency", put("a", 600))
        .await
        .unwrap();
    let e = run(&api, "PutFunctionConcurrency", put("a", -1))
        .await
        .unwrap_err();
    assert!(
        matches!(&e, LambdaError::Validation(m) if m.contains("reservedConcurrentExecutions")),
        "{e:?}"
    );
    run(&api, "DeleteFunctionConcurrency", get.clone())
        .await
        .unwrap();
    assert_eq!(
        run(&api, "GetFunctionConcurrency", get.clone())
            .await
            .unwrap(),
        json!({})
    );
    assert!(
        run(&api, "GetFunction", get.clone())
            .await
            .unwrap()
            .get("Concurrency")
            .is_none()
    );
    let e = run(&api, "PutFunctionConcurrency", put("nope", 1))
        .await
        .unwrap_err();
    assert!(matches!(e, LambdaError::ResourceNotFound(_)));
}

#[tokio::test]
async fn logging_config_defaults_updates_and_rules() {
    let dir = tempfile::tempdir().unwrap();
    let api = api(dir.path()).await;
    let out = create(&api, "f", json!({})).await;
    assert_eq!(
        out["LoggingConfig"],
        json!({"LogFormat": "Text", "LogGroup": "/aws/lambda/f"})
    );
    let out = run(
        &api,
        "UpdateFunctionConfiguration",
        json!({"FunctionName": "f", "LoggingConfig": {"LogFormat": "JSON", "LogGroup": "/custom/f"}}),
    )
    .await
    .unwrap();
    assert_eq!(
        out["LoggingConfig"],
        json!({"LogFormat": "JSON", "ApplicationLogLevel": "INFO", "SystemLogLevel": "INFO", "LogGroup": "/custom/f"})
    );
    let spec = api.invoker.spec("f", None).await.unwrap();
    assert_eq!(spec.log_group, "/custom/f");
    let e = create(&api, "g", json!({})).await;
    assert_eq!(e["LoggingConfig"]["LogGroup"], "/aws/lambda/g");
    let e = run(
        &api,
        "CreateFunction",
        json!({"FunctionName": "h", "Runtime": "python3.12", "Handler": "app.handler",
               "Role": "arn:aws:iam::123456789012:role/r", "Code": {"ZipFile": zip_b64()},
               "LoggingConfig": {"LogFormat": "Text", "SystemLogLevel": "WARN"}}),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(e, LambdaError::InvalidParameterValue(m) if m.starts_with("LogLevel is not supported"))
    );
    let e = run(
        &api,
        "UpdateFunctionConfiguration",
        json!({"FunctionName": "f", "LoggingConfig": {"LogFormat": "XML"}}),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&e, LambdaError::Validation(m) if m.contains("loggingConfig.logFormat") || m.contains("logFormat")),
        "{e:?}"
    );
    // Layers are replaced by an update.
    let out = run(
        &api,
        "UpdateFunctionConfiguration",
        json!({"FunctionName": "f", "Layers": ["arn:aws:lambda:us-east-1:123456789012:layer:l:1"]}),
    )
    .await
    .unwrap();
    assert_eq!(
        out["Layers"][0]["Arn"],
        "arn:aws:lambda:us-east-1:123456789012:layer:l:1"
    );
}

#[tokio::test]
async fn a_version_is_published_only_when_latest_changed() {
    let dir = tempfile::tempdir().unwrap();
    let api = api(dir.path()).await;
    let out = create(&api, "f", json!({"Publish": true})).await;
    assert_eq!(out["Version"], "1");
    let publish = |d: Option<&str>| {
        let mut i = json!({"FunctionName": "f"});
        if let Some(d) = d {
            i["Description"] = json!(d);
        }
        i
    };
    let version = |v: Value| v["Version"].as_str().unwrap().to_string();
    assert_eq!(
        version(run(&api, "PublishVersion", publish(None)).await.unwrap()),
        "1"
    );
    // A logging change is a configuration change.
    run(
        &api,
        "UpdateFunctionConfiguration",
        json!({"FunctionName": "f", "LoggingConfig": {"LogFormat": "JSON"}}),
    )
    .await
    .unwrap();
    assert_eq!(
        version(run(&api, "PublishVersion", publish(None)).await.unwrap()),
        "2"
    );
    // So is the description; the version's own description does not count.
    run(
        &api,
        "UpdateFunctionConfiguration",
        json!({"FunctionName": "f", "Description": "new"}),
    )
    .await
    .unwrap();
    let v3 = run(&api, "PublishVersion", publish(Some("release 3")))
        .await
        .unwrap();
    assert_eq!(
        (version(v3.clone()), v3["Description"].clone()),
        ("3".into(), json!("release 3"))
    );
    assert_eq!(
        version(run(&api, "PublishVersion", publish(None)).await.unwrap()),
        "3"
    );
}

#[tokio::test]
async fn dead_letter_targets_and_kms_keys_are_recorded_the_rest_refused() {
    let dir = tempfile::tempdir().unwrap();
    let api = api(dir.path()).await;
    let dlq = "arn:aws:sqs:us-east-1:123456789012:dlq";
    let key = "arn:aws:kms:us-east-1:123456789012:key/k";
    let out = create(
        &api,
        "f",
        json!({"DeadLetterConfig": {"TargetArn": dlq}, "KMSKeyArn": key,
               "VpcConfig": {"SubnetIds": [], "SecurityGroupIds": []}}),
    )
    .await;
    assert_eq!(out["DeadLetterConfig"], json!({"TargetArn": dlq}));
    assert_eq!(out["KMSKeyArn"], key);
    let out = run(
        &api,
        "UpdateFunctionConfiguration",
        json!({"FunctionName": "f", "DeadLetterConfig": {"TargetArn": ""}, "KMSKeyArn": ""}),
    )
    .await
    .unwrap();
    assert!(
        out.get("DeadLetterConfig").is_none() && out.get("KMSKeyArn").is_none(),
        "{out}"
    );
    let e = run(
        &api,
        "UpdateFunctionConfiguration",
        json!({"FunctionName": "f", "VpcConfig": {"SubnetIds": ["subnet-1"]}}),
    )
    .await
    .unwrap_err();
    assert_eq!(
        e,
        LambdaError::InvalidParameterValue(
            "sagestack runs functions as local processes: VpcConfig (VPC networking) is not supported".into()
        )
    );
    let mut input = json!({
        "FunctionName": "g", "Runtime": "python3.12", "Handler": "app.handler",
        "Role": "arn:aws:iam::123456789012:role/r", "Code": {"ZipFile": zip_b64()},
        "CodeSigningConfigArn": "arn:aws:lambda:us-east-1:123456789012:code-signing-config:csc-0123456789abcdefg",
    });
    let e = run(&api, "CreateFunction", input.clone())
        .await
        .unwrap_err();
    assert_eq!(e.code(), "CodeSigningConfigNotFoundException");
    assert_eq!(e.status(), http::StatusCode::NOT_FOUND);
    input["CodeSigningConfigArn"] = json!("not an arn");
    let e = run(&api, "CreateFunction", input).await.unwrap_err();
    assert!(
        matches!(&e, LambdaError::Validation(m) if m.contains("codeSigningConfigArn")),
        "{e:?}"
    );
}

#[tokio::test]
async fn update_function_code_changes_the_architecture_when_given() {
    let dir = tempfile::tempdir().unwrap();
    let api = api(dir.path()).await;
    assert_eq!(
        create(&api, "f", json!({})).await["Architectures"],
        json!(["x86_64"])
    );
    let code = |extra: Value| {
        let mut i = json!({"FunctionName": "f", "ZipFile": zip_b64()});
        for (k, v) in extra.as_object().unwrap() {
            i[k] = v.clone();
        }
        i
    };
    let out = run(
        &api,
        "UpdateFunctionCode",
        code(json!({"Architectures": ["arm64"]})),
    )
    .await
    .unwrap();
    assert_eq!(out["Architectures"], json!(["arm64"]));
    let out = run(&api, "UpdateFunctionCode", code(json!({})))
        .await
        .unwrap();
    assert_eq!(out["Architectures"], json!(["arm64"]));
    let e = run(
        &api,
        "UpdateFunctionCode",
        code(json!({"Architectures": ["sparc"]})),
    )
    .await
    .unwrap_err();
    assert!(matches!(e, LambdaError::Validation(_)), "{e:?}");
}

#[tokio::test]
async fn a_version_or_alias_has_a_policy_of_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let api = api(dir.path()).await;
    create(&api, "f", json!({"Publish": true})).await;
    run(
        &api,
        "CreateAlias",
        json!({"FunctionName": "f", "Name": "live", "FunctionVersion": "1"}),
    )
    .await
    .unwrap();
    let add = |q: Option<&str>| {
        let mut i = json!({"FunctionName": "f", "StatementId": "s", "Action": "lambda:InvokeFunction",
                           "Principal": "events.amazonaws.com"});
        if let Some(q) = q {
            i["Qualifier"] = json!(q);
        }
        i
    };
    // The same statement id on the function and on its alias: two policies.
    run(&api, "AddPermission", add(None)).await.unwrap();
    run(&api, "AddPermission", add(Some("live"))).await.unwrap();
    let e = run(&api, "AddPermission", add(Some("live")))
        .await
        .unwrap_err();
    assert!(matches!(e, LambdaError::ResourceConflict(_)), "{e:?}");
    let resources = |out: Value| {
        let policy: Value = serde_json::from_str(out["Policy"].as_str().unwrap()).unwrap();
        policy["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["Resource"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    let arn = "arn:aws:lambda:us-east-1:123456789012:function:f";
    assert_eq!(
        resources(
            run(&api, "GetPolicy", json!({"FunctionName": "f"}))
                .await
                .unwrap()
        ),
        [arn]
    );
    assert_eq!(
        resources(
            run(&api, "GetPolicy", json!({"FunctionName": "f:live"}))
                .await
                .unwrap()
        ),
        [format!("{arn}:live")]
    );
    let e = run(
        &api,
        "GetPolicy",
        json!({"FunctionName": "f", "Qualifier": "1"}),
    )
    .await
    .unwrap_err();
    assert_eq!(
        e,
        LambdaError::ResourceNotFound("The resource you requested does not exist.".into())
    );
    let e = run(
        &api,
        "GetPolicy",
        json!({"FunctionName": "f", "Qualifier": "nope"}),
    )
    .await
    .unwrap_err();
    assert!(matches!(e, LambdaError::ResourceNotFound(_)));
    run(
        &api,
        "RemovePermission",
        json!({"FunctionName": "f", "StatementId": "s", "Qualifier": "live"}),
    )
    .await
    .unwrap();
    assert!(
        run(&api, "GetPolicy", json!({"FunctionName": "f:live"}))
            .await
            .is_err()
    );
    assert_eq!(
        resources(
            run(&api, "GetPolicy", json!({"FunctionName": "f"}))
                .await
                .unwrap()
        ),
        [arn]
    );
    let e = run(
        &api,
        "RemovePermission",
        json!({"FunctionName": "f", "StatementId": "s", "Qualifier": "live"}),
    )
    .await
    .unwrap_err();
    assert_eq!(
        e,
        LambdaError::ResourceNotFound("Statement s is not found in resource policy.".into())
    );
}
