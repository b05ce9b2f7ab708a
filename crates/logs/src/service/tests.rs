//! The operations through `LogsService::handle`: decoding, validation in AWS's words,
//! and the shapes of the answers.

use super::*;
use sagestack_engine::FakeClock;
use sagestack_protocol::AwsError;
use sagestack_store::SqliteStore;

const NOW: i64 = 1_700_000_000_000;

fn ctx() -> RequestContext {
    RequestContext {
        request_id: "r".into(),
        region: "us-east-1".into(),
        account_id: "123456789012".into(),
        caller: None,
    }
}

async fn service(dir: &std::path::Path) -> LogsService {
    let store = SqliteStore::open(dir).await.unwrap();
    let scope = crate::Scope {
        region: "us-east-1".into(),
        account_id: "123456789012".into(),
    };
    LogsService::new(Arc::new(Logs::new(
        Arc::new(store),
        Arc::new(FakeClock::new(NOW)),
        scope,
    )))
}

async fn call(s: &LogsService, op: &str, input: Value) -> Result<Value> {
    match s.handle(&ctx(), op, input).await? {
        JsonOutput::Value(v) => Ok(v),
        JsonOutput::Raw(r) => Ok(serde_json::from_str(&r).unwrap()),
    }
}

/// The answer of a call that must succeed.
async fn ok(s: &LogsService, op: &str, input: Value) -> Value {
    call(s, op, input).await.unwrap()
}

/// The error of a call that must fail.
async fn fails(s: &LogsService, op: &str, input: Value) -> LogsError {
    call(s, op, input).await.unwrap_err()
}

#[test]
fn the_embedded_model_parses_and_has_every_operation() {
    for op in [
        "CreateLogGroup",
        "DeleteLogGroup",
        "DescribeLogGroups",
        "CreateLogStream",
        "DeleteLogStream",
        "DescribeLogStreams",
        "PutLogEvents",
        "GetLogEvents",
        "FilterLogEvents",
        "PutRetentionPolicy",
        "DeleteRetentionPolicy",
        "TagResource",
        "UntagResource",
        "ListTagsForResource",
        "TagLogGroup",
        "UntagLogGroup",
        "ListTagsLogGroup",
    ] {
        assert!(MODEL.has_operation(op), "{op}");
    }
}

#[tokio::test]
async fn validation_is_invalid_parameter_in_aws_words() {
    let dir = tempfile::tempdir().unwrap();
    let s = service(dir.path()).await;
    let e = fails(&s, "CreateLogGroup", json!({"logGroupName": "my group"})).await;
    assert_eq!(e.code(), "InvalidParameterException");
    assert_eq!(
        e.to_string(),
        "1 validation error detected: Value 'my group' at 'logGroupName' failed to satisfy \
         constraint: Member must satisfy regular expression pattern: [\\.\\-_/#A-Za-z0-9]+"
    );
    let e = fails(&s, "DescribeLogGroups", json!({"limit": 51})).await;
    assert_eq!(e.code(), "InvalidParameterException");
    assert!(e.to_string().contains("at 'limit'"), "{e}");
    let e = fails(
        &s,
        "PutRetentionPolicy",
        json!({"logGroupName": "g", "retentionInDays": 8}),
    )
    .await;
    assert_eq!(e.code(), "InvalidParameterException");
    assert!(e.to_string().contains("enum value set: [1, 3, 5"), "{e}");
    let e = fails(&s, "CreateLogGroup", json!({"logGroupName": 5})).await;
    assert_eq!(e.code(), "SerializationException");
    let e = fails(&s, "StartQuery", json!({})).await;
    assert_eq!(e.code(), "UnknownOperationException");
}

#[tokio::test]
async fn groups_round_trip_with_aws_s_shapes() {
    let dir = tempfile::tempdir().unwrap();
    let s = service(dir.path()).await;
    ok(
        &s,
        "CreateLogGroup",
        json!({"logGroupName": "/app/web", "tags": {"team": "ml"}}),
    )
    .await;
    let e = fails(&s, "CreateLogGroup", json!({"logGroupName": "/app/web"})).await;
    assert_eq!(e.code(), "ResourceAlreadyExistsException");
    assert_eq!(e.to_string(), "The specified log group already exists");
    ok(
        &s,
        "PutRetentionPolicy",
        json!({"logGroupName": "/app/web", "retentionInDays": 14}),
    )
    .await;
    let out = ok(
        &s,
        "DescribeLogGroups",
        json!({"logGroupNamePrefix": "/app"}),
    )
    .await;
    assert_eq!(
        out,
        json!({"logGroups": [{
            "logGroupName": "/app/web",
            "creationTime": NOW,
            "arn": "arn:aws:logs:us-east-1:123456789012:log-group:/app/web:*",
            "metricFilterCount": 0,
            "storedBytes": 0,
            "logGroupClass": "STANDARD",
            "logGroupArn": "arn:aws:logs:us-east-1:123456789012:log-group:/app/web",
            "retentionInDays": 14,
        }]})
    );
    let out = ok(
        &s,
        "DescribeLogGroups",
        json!({"logGroupNamePattern": "web"}),
    )
    .await;
    assert_eq!(
        out["logGroups"][0].as_object().unwrap().len(),
        3,
        "a pattern answers name, creation time and arn only"
    );
    // Tagging takes the ARN without `:*` (the model's pattern refuses `*`).
    let arn = "arn:aws:logs:us-east-1:123456789012:log-group:/app/web";
    ok(
        &s,
        "TagResource",
        json!({"resourceArn": arn, "tags": {"env": "dev"}}),
    )
    .await;
    let out = ok(&s, "ListTagsForResource", json!({"resourceArn": arn})).await;
    assert_eq!(out, json!({"tags": {"env": "dev", "team": "ml"}}));
    ok(
        &s,
        "UntagLogGroup",
        json!({"logGroupName": "/app/web", "tags": ["team"]}),
    )
    .await;
    let out = ok(&s, "ListTagsLogGroup", json!({"logGroupName": "/app/web"})).await;
    assert_eq!(out, json!({"tags": {"env": "dev"}}));
    ok(
        &s,
        "DeleteRetentionPolicy",
        json!({"logGroupName": "/app/web"}),
    )
    .await;
    ok(&s, "DeleteLogGroup", json!({"logGroupName": "/app/web"})).await;
    let e = fails(&s, "DeleteLogGroup", json!({"logGroupName": "/app/web"})).await;
    assert_eq!(e.code(), "ResourceNotFoundException");
    assert_eq!(e.to_string(), "The specified log group does not exist.");
}

#[tokio::test]
async fn events_round_trip_with_aws_s_shapes() {
    let dir = tempfile::tempdir().unwrap();
    let s = service(dir.path()).await;
    ok(&s, "CreateLogGroup", json!({"logGroupName": "g"})).await;
    let e = fails(
        &s,
        "PutLogEvents",
        json!({"logGroupName": "g", "logStreamName": "s",
            "logEvents": [{"timestamp": NOW, "message": "m"}]}),
    )
    .await;
    assert_eq!(e.code(), "ResourceNotFoundException");
    assert_eq!(e.to_string(), "The specified log stream does not exist.");
    ok(
        &s,
        "CreateLogStream",
        json!({"logGroupName": "g", "logStreamName": "s"}),
    )
    .await;
    let out = ok(
        &s,
        "PutLogEvents",
        json!({"logGroupName": "g", "logStreamName": "s", "sequenceToken": "ignored",
            "logEvents": [{"timestamp": NOW, "message": "ERROR one"},
                          {"timestamp": NOW + 1, "message": "INFO two"}]}),
    )
    .await;
    assert_eq!(out["nextSequenceToken"].as_str().unwrap().len(), 56);
    assert!(out.get("rejectedLogEventsInfo").is_none());

    let out = ok(
        &s,
        "GetLogEvents",
        json!({"logGroupIdentifier": "arn:aws:logs:us-east-1:123456789012:log-group:g",
            "logStreamName": "s", "startFromHead": true}),
    )
    .await;
    assert_eq!(
        out["events"],
        json!([{"timestamp": NOW, "message": "ERROR one", "ingestionTime": NOW},
               {"timestamp": NOW + 1, "message": "INFO two", "ingestionTime": NOW}])
    );
    assert!(out["nextForwardToken"].as_str().unwrap().starts_with("f/"));
    assert!(out["nextBackwardToken"].as_str().unwrap().starts_with("b/"));
    // A `null` flag is unset: the newest events, as without it.
    let out = ok(
        &s,
        "GetLogEvents",
        json!({"logGroupName": "g", "logStreamName": "s", "startFromHead": null, "limit": 1}),
    )
    .await;
    assert_eq!(out["events"][0]["message"], "INFO two");

    // What `aws logs tail` sends: interleaved (deprecated, ignored) and a start time.
    let out = ok(
        &s,
        "FilterLogEvents",
        json!({"logGroupName": "g", "interleaved": true, "startTime": NOW - 600_000,
            "filterPattern": "ERROR"}),
    )
    .await;
    let events = out["events"].as_array().unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["logStreamName"], "s");
    assert_eq!(events[0]["message"], "ERROR one");
    assert_eq!(events[0]["eventId"].as_str().unwrap().len(), 56);
    assert_eq!(
        out["searchedLogStreams"],
        json!([{"logStreamName": "s", "searchedCompletely": true}])
    );
    assert!(out.get("nextToken").is_none());

    let out = ok(&s, "DescribeLogStreams", json!({"logGroupName": "g"})).await;
    let stream = &out["logStreams"][0];
    assert_eq!(stream["logStreamName"], "s");
    assert_eq!(stream["firstEventTimestamp"], NOW);
    assert_eq!(stream["lastEventTimestamp"], NOW + 1);
    assert_eq!(stream["storedBytes"], 0);

    let e = fails(&s, "GetLogEvents", json!({"logStreamName": "s"})).await;
    assert_eq!(e.code(), "InvalidParameterException");
    let e = fails(
        &s,
        "FilterLogEvents",
        json!({"logGroupName": "g", "logGroupIdentifier": "g"}),
    )
    .await;
    assert_eq!(
        e.to_string(),
        "LogGroup name and LogGroup ARN are mutually exclusive parameters."
    );
}

#[tokio::test]
async fn kms_keys_are_associated_by_name_or_arn_and_disassociated() {
    let dir = tempfile::tempdir().unwrap();
    let s = service(dir.path()).await;
    let key = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    let not_found =
        LogsError::InvalidParameter("The specified KMS Key Id could not be found.".into());
    // CreateLogGroup takes a key ARN only (a key id or alias is not found).
    assert_eq!(
        fails(
            &s,
            "CreateLogGroup",
            json!({"logGroupName": "g", "kmsKeyId": "1234abcd"})
        )
        .await,
        not_found
    );
    ok(
        &s,
        "CreateLogGroup",
        json!({"logGroupName": "g", "kmsKeyId": key}),
    )
    .await;
    let kms = |v: Value| v["logGroups"][0].get("kmsKeyId").cloned();
    let describe = json!({"logGroupNamePrefix": "g"});
    assert_eq!(
        kms(ok(&s, "DescribeLogGroups", describe.clone()).await),
        Some(json!(key))
    );
    ok(&s, "DisassociateKmsKey", json!({"logGroupName": "g"})).await;
    assert_eq!(
        kms(ok(&s, "DescribeLogGroups", describe.clone()).await),
        None
    );
    let other = "arn:aws:kms:us-east-1:123456789012:key/other";
    ok(
        &s,
        "AssociateKmsKey",
        json!({"resourceIdentifier": "arn:aws:logs:us-east-1:123456789012:log-group:g", "kmsKeyId": other}),
    )
    .await;
    assert_eq!(
        kms(ok(&s, "DescribeLogGroups", describe.clone()).await),
        Some(json!(other))
    );
    assert_eq!(
        fails(
            &s,
            "AssociateKmsKey",
            json!({"logGroupName": "g", "kmsKeyId": "alias/k"})
        )
        .await,
        not_found
    );
    assert_eq!(
        fails(
            &s,
            "AssociateKmsKey",
            json!({"logGroupName": "nope", "kmsKeyId": key})
        )
        .await,
        LogsError::GroupNotFound
    );
    assert!(matches!(
        fails(&s, "AssociateKmsKey", json!({"kmsKeyId": key})).await,
        LogsError::InvalidParameter(_)
    ));
    assert!(matches!(
        fails(
            &s,
            "AssociateKmsKey",
            json!({"logGroupName": "g", "resourceIdentifier": "arn:aws:logs:us-east-1:123456789012:log-group:g", "kmsKeyId": key})
        )
        .await,
        LogsError::InvalidParameter(_)
    ));
    // kmsKeyId is required by the model.
    let e = fails(&s, "AssociateKmsKey", json!({"logGroupName": "g"})).await;
    assert_eq!(e.code(), "InvalidParameterException");
    assert!(e.to_string().contains("kmsKeyId"), "{e}");
}
