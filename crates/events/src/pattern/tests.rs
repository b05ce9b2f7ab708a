//! A table of (pattern, event, expected) over every operator, and invalid patterns.

use serde_json::json;

use super::*;

fn event(detail: Value) -> Value {
    json!({
        "version": "0", "id": "e1", "detail-type": "SageMaker Model Package State Change",
        "source": "aws.sagemaker", "account": "123456789012",
        "time": "2026-12-06T00:00:00Z", "region": "us-east-1",
        "resources": ["arn:aws:sagemaker:us-east-1:123456789012:model-package/g/1"],
        "detail": detail
    })
}

fn check(pattern: Value, detail: Value, expected: bool) {
    let p = Pattern::from_value(&pattern).unwrap_or_else(|e| panic!("{pattern}: {e}"));
    assert_eq!(
        p.matches(&event(detail.clone())),
        expected,
        "{pattern} on {detail}"
    );
}

#[test]
fn the_matching_table() {
    let approved = json!({"ModelApprovalStatus": "Approved", "ModelPackageGroupName": "churn",
                          "ModelPackageVersion": 3, "Score": 0.91, "Tags": ["a", "b"],
                          "Ip": "10.0.1.7", "Ip6": "2001:db8::1", "Nothing": null,
                          "Nested": {"Deep": {"Value": "x"}}, "Empty": []});
    let cases: Vec<(Value, bool)> = vec![
        // Literals at the top level and in the detail.
        (json!({"source": ["aws.sagemaker"]}), true),
        (json!({"source": ["aws.s3"]}), false),
        (json!({"source": ["aws.s3", "aws.sagemaker"]}), true),
        (
            json!({"detail-type": ["SageMaker Model Package State Change"]}),
            true,
        ),
        (
            json!({"detail": {"ModelApprovalStatus": ["Approved"]}}),
            true,
        ),
        (
            json!({"detail": {"ModelApprovalStatus": ["approved"]}}),
            false,
        ),
        (json!({"detail": {"ModelPackageVersion": [3]}}), true),
        (json!({"detail": {"ModelPackageVersion": [3.0]}}), true),
        (json!({"detail": {"ModelPackageVersion": ["3"]}}), false),
        (json!({"detail": {"Nothing": [null]}}), true),
        (json!({"detail": {"Missing": [null]}}), false),
        (
            json!({"detail": {"Nested": {"Deep": {"Value": ["x"]}}}}),
            true,
        ),
        (
            json!({"detail": {"Nested": {"Deep": {"Value": ["y"]}}}}),
            false,
        ),
        (json!({"detail": {"Nested": ["x"]}}), false),
        // Arrays in the event: any element.
        (json!({"detail": {"Tags": ["b"]}}), true),
        (json!({"detail": {"Tags": ["c"]}}), false),
        (
            json!({"resources": [{"prefix": "arn:aws:sagemaker:"}]}),
            true,
        ),
        // Every key must match.
        (
            json!({"source": ["aws.sagemaker"], "detail": {"ModelApprovalStatus": ["Rejected"]}}),
            false,
        ),
        // prefix / suffix / equals-ignore-case / wildcard.
        (
            json!({"detail": {"ModelPackageGroupName": [{"prefix": "ch"}]}}),
            true,
        ),
        (
            json!({"detail": {"ModelPackageGroupName": [{"prefix": "CH"}]}}),
            false,
        ),
        (
            json!({"detail": {"ModelPackageGroupName": [{"prefix": {"equals-ignore-case": "CH"}}]}}),
            true,
        ),
        (
            json!({"detail": {"ModelPackageGroupName": [{"suffix": "rn"}]}}),
            true,
        ),
        (
            json!({"detail": {"ModelPackageGroupName": [{"suffix": {"equals-ignore-case": "RN"}}]}}),
            true,
        ),
        (
            json!({"detail": {"ModelPackageGroupName": [{"suffix": "x"}]}}),
            false,
        ),
        (
            json!({"detail": {"ModelApprovalStatus": [{"equals-ignore-case": "APPROVED"}]}}),
            true,
        ),
        (
            json!({"detail": {"ModelApprovalStatus": [{"wildcard": "App*d"}]}}),
            true,
        ),
        (
            json!({"detail": {"ModelApprovalStatus": [{"wildcard": "*prov*"}]}}),
            true,
        ),
        (
            json!({"detail": {"ModelApprovalStatus": [{"wildcard": "Rej*"}]}}),
            false,
        ),
        (
            json!({"detail": {"ModelPackageVersion": [{"prefix": "3"}]}}),
            false,
        ),
        // anything-but: the issue's case (PendingManualApproval must not pass).
        (
            json!({"detail": {"ModelApprovalStatus": [{"anything-but": "PendingManualApproval"}]}}),
            true,
        ),
        (
            json!({"detail": {"ModelApprovalStatus": [{"anything-but": ["Approved", "Rejected"]}]}}),
            false,
        ),
        (
            json!({"detail": {"ModelApprovalStatus": [{"anything-but": {"prefix": "App"}}]}}),
            false,
        ),
        (
            json!({"detail": {"ModelApprovalStatus": [{"anything-but": {"prefix": "Pend"}}]}}),
            true,
        ),
        (
            json!({"detail": {"ModelApprovalStatus": [{"anything-but": {"suffix": "ved"}}]}}),
            false,
        ),
        (
            json!({"detail": {"ModelApprovalStatus": [{"anything-but": {"equals-ignore-case": "approved"}}]}}),
            false,
        ),
        (
            json!({"detail": {"ModelApprovalStatus": [{"anything-but": {"equals-ignore-case": ["x", "y"]}}]}}),
            true,
        ),
        (
            json!({"detail": {"ModelApprovalStatus": [{"anything-but": {"wildcard": "*ove*"}}]}}),
            false,
        ),
        (
            json!({"detail": {"ModelPackageVersion": [{"anything-but": [1, 2]}]}}),
            true,
        ),
        (
            json!({"detail": {"ModelPackageVersion": [{"anything-but": 3}]}}),
            false,
        ),
        (
            json!({"detail": {"Missing": [{"anything-but": "x"}]}}),
            false,
        ),
        // numeric.
        (
            json!({"detail": {"Score": [{"numeric": [">", 0.9]}]}}),
            true,
        ),
        (
            json!({"detail": {"Score": [{"numeric": [">", 0.9, "<=", 0.91]}]}}),
            true,
        ),
        (
            json!({"detail": {"Score": [{"numeric": [">=", 0.95]}]}}),
            false,
        ),
        (
            json!({"detail": {"ModelPackageVersion": [{"numeric": ["=", 3]}]}}),
            true,
        ),
        (
            json!({"detail": {"ModelApprovalStatus": [{"numeric": [">", 0]}]}}),
            false,
        ),
        // exists.
        (json!({"detail": {"Score": [{"exists": true}]}}), true),
        (json!({"detail": {"Missing": [{"exists": true}]}}), false),
        (json!({"detail": {"Missing": [{"exists": false}]}}), true),
        (json!({"detail": {"Score": [{"exists": false}]}}), false),
        (json!({"detail": {"Empty": [{"exists": false}]}}), true),
        (json!({"detail": {"Nothing": [{"exists": true}]}}), true),
        (json!({"absent": {"inner": [{"exists": false}]}}), true),
        // cidr.
        (json!({"detail": {"Ip": [{"cidr": "10.0.0.0/16"}]}}), true),
        (json!({"detail": {"Ip": [{"cidr": "10.1.0.0/16"}]}}), false),
        (
            json!({"detail": {"Ip6": [{"cidr": "2001:db8::/32"}]}}),
            true,
        ),
        (json!({"detail": {"Ip6": [{"cidr": "10.0.0.0/8"}]}}), false),
        // $or.
        (
            json!({"$or": [{"source": ["aws.s3"]}, {"detail": {"Score": [{"numeric": [">", 0.5]}]}}]}),
            true,
        ),
        (
            json!({"$or": [{"source": ["aws.s3"]}, {"source": ["aws.ec2"]}]}),
            false,
        ),
        (
            json!({"detail": {"$or": [{"ModelApprovalStatus": ["Approved"]}, {"Score": [0]}]}}),
            true,
        ),
        // Several matchers in one array: any.
        (
            json!({"detail": {"ModelApprovalStatus": ["Rejected", {"prefix": "Appr"}]}}),
            true,
        ),
    ];
    assert!(cases.len() >= 60, "{}", cases.len());
    for (pattern, expected) in cases {
        check(pattern, approved.clone(), expected);
    }
}

#[test]
fn the_issues_anything_but_rule_lets_only_decisions_through() {
    let rule = Pattern::parse(
        r#"{"source": ["aws.sagemaker"], "detail-type": ["SageMaker Model Package State Change"],
            "detail": {"ModelApprovalStatus": [{"anything-but": "PendingManualApproval"}]}}"#,
    )
    .unwrap();
    for (status, fires) in [
        ("PendingManualApproval", false),
        ("Approved", true),
        ("Rejected", true),
    ] {
        let e = event(json!({"ModelApprovalStatus": status}));
        assert_eq!(rule.matches(&e), fires, "{status}");
    }
}

#[test]
fn wildcards_escape_and_do_not_explode() {
    assert!(wildcard_match("a\\*b", "a*b"));
    assert!(!wildcard_match("a\\*b", "axb"));
    assert!(wildcard_match("*", ""));
    assert!(wildcard_match("a*b*c", "aXXbYYc"));
    assert!(!wildcard_match("a*b*c", "aXXbYY"));
    let long = "a".repeat(5000);
    assert!(!wildcard_match("*a*a*a*a*a*a*a*a*b", &long));
}

#[test]
fn invalid_patterns_are_refused_with_a_reason() {
    for (text, reason) in [
        ("[]", "Filter is not an object"),
        ("{\"source\": \"aws.s3\"}", "must be an object or an array"),
        ("{\"source\": []}", "Empty arrays are not allowed"),
        ("{\"source\": [[\"x\"]]}", "Match value must be"),
        (
            "{\"source\": [{\"prefix\": 1}]}",
            "prefix match pattern must be a string",
        ),
        (
            "{\"source\": [{\"bogus\": 1}]}",
            "Unrecognized match type bogus",
        ),
        (
            "{\"source\": [{\"prefix\": \"a\", \"suffix\": \"b\"}]}",
            "Only one key",
        ),
        ("{\"n\": [{\"numeric\": [\">\"]}]}", "Bad numeric range"),
        (
            "{\"n\": [{\"numeric\": [\"~\", 1]}]}",
            "Unrecognized numeric range operator",
        ),
        (
            "{\"n\": [{\"numeric\": [\">\", \"1\"]}]}",
            "must be numeric",
        ),
        (
            "{\"n\": [{\"numeric\": [\">\", 1, \">\", 2]}]}",
            "one lower and one upper",
        ),
        ("{\"n\": [{\"exists\": \"yes\"}]}", "either true or false"),
        ("{\"n\": [{\"cidr\": \"10.0.0.0\"}]}", "one '/' required"),
        (
            "{\"n\": [{\"cidr\": \"10.0.0.0/33\"}]}",
            "Invalid prefix length",
        ),
        (
            "{\"n\": [{\"wildcard\": \"a**b\"}]}",
            "Consecutive wildcard",
        ),
        ("{\"n\": [{\"anything-but\": []}]}", "Empty arrays"),
        (
            "{\"n\": [{\"anything-but\": [true]}]}",
            "only strings and numbers",
        ),
        ("{\"$or\": [{\"a\": [1]}]}", "at least 2"),
        ("{not json", "not valid JSON"),
    ] {
        match Pattern::parse(text) {
            Err(EventsError::InvalidEventPattern(m)) => assert!(m.contains(reason), "{text}: {m}"),
            other => panic!("{text}: {other:?}"),
        }
    }
    let deep = format!("{}{{\"x\": [1]}}{}", "{\"a\": ".repeat(40), "}".repeat(40));
    assert!(Pattern::parse(&deep).is_err());
}
