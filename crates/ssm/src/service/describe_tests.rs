//! DescribeParameters, GetParameterHistory, DeleteParameters and the tag operations,
//! through `SsmService::handle` (the helpers are `tests.rs`').

use super::tests::{fail, ok, put, put_fails, service};
use super::*;

fn names(out: &Value) -> Vec<String> {
    out["Parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["Name"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn terraforms_put_and_read() {
    let dir = tempfile::tempdir().unwrap();
    let s = service(dir.path()).await;
    // What hashicorp/aws 5.100.0 sends to create an aws_ssm_parameter.
    let out = put(
        &s,
        json!({"AllowedPattern": "", "Name": "/tf/p", "Overwrite": false, "Type": "String",
            "Value": "one", "Description": "d", "Tags": [{"Key": "env", "Value": "dev"}]}),
    )
    .await;
    assert_eq!(out["Version"], 1);
    let out = ok(
        &s,
        "DescribeParameters",
        json!({"ParameterFilters": [{"Key": "Name", "Option": "Equals", "Values": ["/tf/p"]}]}),
    )
    .await;
    assert_eq!(
        out,
        json!({"Parameters": [{
            "Name": "/tf/p",
            "ARN": "arn:aws:ssm:eu-west-1:123456789012:parameter/tf/p",
            "Type": "String",
            "Description": "d",
            "LastModifiedDate": 1_700_000_000.0,
            "LastModifiedUser": "arn:aws:iam::123456789012:root",
            "Version": 1,
            "Tier": "Standard",
            "Policies": [],
            "DataType": "text",
        }]}),
        "an empty AllowedPattern is none"
    );
    let tags = ok(
        &s,
        "ListTagsForResource",
        json!({"ResourceType": "Parameter", "ResourceId": "/tf/p"}),
    )
    .await;
    assert_eq!(tags, json!({"TagList": [{"Key": "env", "Value": "dev"}]}));
    // An update: Overwrite without tags keeps them and the description.
    let out = put(
        &s,
        json!({"AllowedPattern": "", "Name": "/tf/p", "Overwrite": true, "Type": "String",
            "Value": "two", "Tier": "Standard"}),
    )
    .await;
    assert_eq!(out["Version"], 2);
    let listed = ok(
        &s,
        "ListTagsForResource",
        json!({"ResourceType": "Parameter", "ResourceId": "/tf/p"}),
    )
    .await;
    assert_eq!(listed, tags);
    let e = put_fails(
        &s,
        json!({"Name": "/tf/p", "Overwrite": true, "Type": "String", "Value": "x",
            "Tags": [{"Key": "a", "Value": "b"}]}),
    )
    .await;
    assert_eq!(e.code(), "ValidationException");
}

#[tokio::test]
async fn tags_change_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let s = service(dir.path()).await;
    put(&s, json!({"Name": "p", "Value": "v", "Type": "String"})).await;
    let id = json!({"ResourceType": "Parameter", "ResourceId": "p"});
    let with = |extra: Value| {
        let mut v = id.clone();
        for (k, x) in extra.as_object().unwrap() {
            v[k] = x.clone();
        }
        v
    };
    ok(
        &s,
        "AddTagsToResource",
        with(json!({"Tags": [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}]})),
    )
    .await;
    ok(
        &s,
        "AddTagsToResource",
        with(json!({"Tags": [{"Key": "a", "Value": "3"}]})),
    )
    .await;
    ok(
        &s,
        "RemoveTagsFromResource",
        with(json!({"TagKeys": ["b", "zz"]})),
    )
    .await;
    let tags = ok(&s, "ListTagsForResource", id.clone()).await;
    assert_eq!(tags["TagList"], json!([{"Key": "a", "Value": "3"}]));
    let p = ok(&s, "GetParameter", json!({"Name": "p"})).await;
    assert_eq!(p["Parameter"]["Version"], 1, "tags make no version");

    let missing = json!({"ResourceType": "Parameter", "ResourceId": "nope"});
    let e = fail(&s, "ListTagsForResource", missing.clone()).await;
    assert_eq!(e.code(), "InvalidResourceId");
    let mut add = missing.clone();
    add["Tags"] = json!([{"Key": "a", "Value": "1"}]);
    assert_eq!(
        fail(&s, "AddTagsToResource", add).await.code(),
        "InvalidResourceId"
    );
    let doc = json!({"ResourceType": "Document", "ResourceId": "p"});
    assert_eq!(
        fail(&s, "ListTagsForResource", doc).await.code(),
        "InvalidResourceId"
    );
    let bad_type = json!({"ResourceType": "Bucket", "ResourceId": "p"});
    assert_eq!(
        fail(&s, "ListTagsForResource", bad_type).await.code(),
        "ValidationException"
    );
    let many: Vec<Value> = (0..50)
        .map(|i| json!({"Key": format!("k{i}"), "Value": "v"}))
        .collect();
    let e = fail(&s, "AddTagsToResource", with(json!({"Tags": many}))).await;
    assert_eq!(e.code(), "TooManyTagsError", "51 with the one it has");
    let tags = ok(&s, "ListTagsForResource", id.clone()).await;
    assert_eq!(tags["TagList"].as_array().unwrap().len(), 1, "all or none");
}

#[tokio::test]
async fn describe_filters_and_pages() {
    let dir = tempfile::tempdir().unwrap();
    let s = service(dir.path()).await;
    for (name, kind) in [
        ("/app/a", "String"),
        ("/app/b", "SecureString"),
        ("/app/x/y", "StringList"),
        ("/other", "String"),
        ("top", "String"),
    ] {
        put(&s, json!({"Name": name, "Value": "v", "Type": kind})).await;
    }
    ok(
        &s,
        "AddTagsToResource",
        json!({"ResourceType": "Parameter", "ResourceId": "/app/a",
            "Tags": [{"Key": "team", "Value": "ml"}]}),
    )
    .await;
    let describe = |filters: Value| {
        let s = &s;
        async move {
            names(
                &ok(
                    s,
                    "DescribeParameters",
                    json!({ "ParameterFilters": filters }),
                )
                .await,
            )
        }
    };
    assert_eq!(
        describe(json!([])).await,
        ["/app/a", "/app/b", "/app/x/y", "/other", "top"]
    );
    assert_eq!(
        describe(json!([{"Key": "Path", "Values": ["/app"]}])).await,
        ["/app/a", "/app/b"]
    );
    assert_eq!(
        describe(json!([{"Key": "Path", "Option": "Recursive", "Values": ["/app"]}])).await,
        ["/app/a", "/app/b", "/app/x/y"]
    );
    assert_eq!(
        describe(json!([{"Key": "Path", "Values": ["/"]}])).await,
        ["/other", "top"]
    );
    assert_eq!(
        describe(json!([{"Key": "Type", "Values": ["SecureString"]}])).await,
        ["/app/b"]
    );
    assert_eq!(
        describe(json!([{"Key": "Name", "Option": "Contains", "Values": ["x"]}])).await,
        ["/app/x/y"]
    );
    assert_eq!(describe(json!([{"Key": "tag:team"}])).await, ["/app/a"]);
    assert_eq!(
        describe(json!([{"Key": "Name", "Values": ["/app/b", "/nope", "/app/a"]}])).await,
        ["/app/a", "/app/b"]
    );
    let secure = ok(
        &s,
        "DescribeParameters",
        json!({"ParameterFilters": [{"Key": "KeyId", "Values": ["alias/aws/ssm"]}]}),
    )
    .await;
    assert_eq!(secure["Parameters"][0]["KeyId"], "alias/aws/ssm");
    let legacy = ok(
        &s,
        "DescribeParameters",
        json!({"Filters": [{"Key": "Name", "Values": ["/app/"]}]}),
    )
    .await;
    assert_eq!(names(&legacy), ["/app/a", "/app/b", "/app/x/y"]);
    let e = fail(
        &s,
        "DescribeParameters",
        json!({"Filters": [{"Key": "Type", "Values": ["String"]}],
            "ParameterFilters": [{"Key": "Type", "Values": ["String"]}]}),
    )
    .await;
    assert_eq!(e.code(), "ValidationException");

    // Pages of two, over a scan and over named reads.
    for filters in [
        json!([]),
        json!([{"Key": "Name", "Values": ["top", "/other", "/app/a", "/app/b", "/app/x/y"]}]),
    ] {
        let mut seen = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut input = json!({"ParameterFilters": filters, "MaxResults": 2});
            if let Some(t) = &token {
                input["NextToken"] = t.clone().into();
            }
            let out = ok(&s, "DescribeParameters", input).await;
            let page = names(&out);
            assert!(page.len() <= 2);
            seen.extend(page);
            match out["NextToken"].as_str() {
                Some(t) => token = Some(t.to_string()),
                None => break,
            }
        }
        assert_eq!(seen, ["/app/a", "/app/b", "/app/x/y", "/other", "top"]);
    }
    let e = fail(&s, "DescribeParameters", json!({"NextToken": "bogus"})).await;
    assert_eq!(e.code(), "InvalidNextToken");
    let e = fail(&s, "DescribeParameters", json!({"MaxResults": 51})).await;
    assert_eq!(e.code(), "ValidationException");
}

#[tokio::test]
async fn history_lists_every_version() {
    let dir = tempfile::tempdir().unwrap();
    let s = service(dir.path()).await;
    put(
        &s,
        json!({"Name": "h", "Value": "1", "Type": "SecureString"}),
    )
    .await;
    for v in 2..=5 {
        put(
            &s,
            json!({"Name": "h", "Value": v.to_string(), "Overwrite": true, "Description": format!("d{v}")}),
        )
        .await;
    }
    let out = ok(
        &s,
        "GetParameterHistory",
        json!({"Name": "h", "WithDecryption": true}),
    )
    .await;
    let versions: Vec<i64> = out["Parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["Version"].as_i64().unwrap())
        .collect();
    assert_eq!(versions, [1, 2, 3, 4, 5]);
    assert_eq!(out["Parameters"][4]["Value"], "5");
    assert_eq!(out["Parameters"][4]["Description"], "d5");
    assert_eq!(out["Parameters"][0]["Labels"], json!([]));
    assert!(out.get("NextToken").is_none());
    let sealed = ok(&s, "GetParameterHistory", json!({"Name": "h"})).await;
    assert_ne!(sealed["Parameters"][0]["Value"], "1");
    let first = ok(
        &s,
        "GetParameterHistory",
        json!({"Name": "h", "MaxResults": 3}),
    )
    .await;
    assert_eq!(first["Parameters"].as_array().unwrap().len(), 3);
    let token = first["NextToken"].as_str().unwrap();
    let rest = ok(
        &s,
        "GetParameterHistory",
        json!({"Name": "h", "MaxResults": 3, "NextToken": token}),
    )
    .await;
    assert_eq!(rest["Parameters"][0]["Version"], 4);
    assert_eq!(rest["Parameters"].as_array().unwrap().len(), 2);
    assert!(rest.get("NextToken").is_none());
    let e = fail(&s, "GetParameterHistory", json!({"Name": "nope"})).await;
    assert_eq!(e.code(), "ParameterNotFound");
}

#[tokio::test]
async fn delete_parameters_reports_what_was_not_there() {
    let dir = tempfile::tempdir().unwrap();
    let s = service(dir.path()).await;
    put(&s, json!({"Name": "a", "Value": "v", "Type": "String"})).await;
    let out = ok(&s, "DeleteParameters", json!({"Names": ["a", "b", "a"]})).await;
    assert_eq!(
        out,
        json!({"DeletedParameters": ["a"], "InvalidParameters": ["b"]})
    );
    let e = fail(&s, "GetParameter", json!({"Name": "a"})).await;
    assert_eq!(e.code(), "ParameterNotFound");
}
