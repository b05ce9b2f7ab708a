use serde_json::json;

use super::*;

fn target(v: Value) -> Result<TargetInput, EventsError> {
    TargetInput::from_target(v.as_object().unwrap())
}

const CTX: RenderContext<'static> = RenderContext {
    rule_arn: "arn:aws:events:us-east-1:123456789012:rule/approve",
    rule_name: "approve",
    ingestion_time: "2026-12-06T00:00:00Z",
};

fn event() -> Value {
    json!({
        "version": "0", "id": "e1", "detail-type": "SageMaker Model Package State Change",
        "source": "aws.sagemaker", "account": "123456789012", "time": "2026-12-06T00:00:00Z",
        "region": "us-east-1", "resources": ["arn:pkg/1"],
        "detail": {"ModelApprovalStatus": "Approved", "ModelPackageVersion": 3,
                   "tags": {"team": "ml"}, "list": [{"n": 1}, {"n": 2}], "a-b/c_d": "odd"}
    })
}

fn transformer(paths: Value, template: &str) -> String {
    target(json!({"InputTransformer": {"InputPathsMap": paths, "InputTemplate": template}}))
        .unwrap()
        .render(&event(), &CTX)
}

#[test]
fn no_input_member_sends_the_matched_event() {
    let input = target(json!({"Id": "t", "Arn": "x"})).unwrap();
    assert_eq!(input, TargetInput::MatchedEvent);
    let sent: Value = serde_json::from_str(&input.render(&event(), &CTX)).unwrap();
    assert_eq!(sent, event());
}

#[test]
fn constant_input_is_sent_as_given_and_must_be_json() {
    let input = target(json!({"Input": "{\"deploy\": true}"})).unwrap();
    assert_eq!(input.render(&event(), &CTX), "{\"deploy\": true}");
    assert!(matches!(
        target(json!({"Input": "{nope"})),
        Err(EventsError::Validation(_))
    ));
}

#[test]
fn input_path_selects_a_part_of_the_event() {
    let input = target(json!({"InputPath": "$.detail.tags"})).unwrap();
    assert_eq!(input.render(&event(), &CTX), r#"{"team":"ml"}"#);
    let missing = target(json!({"InputPath": "$.detail.nothing"})).unwrap();
    assert_eq!(missing.render(&event(), &CTX), "null");
    let indexed = target(json!({"InputPath": "$.detail.list[1].n"})).unwrap();
    assert_eq!(indexed.render(&event(), &CTX), "2");
    let odd = target(json!({"InputPath": "$.detail.a-b/c_d"})).unwrap();
    assert_eq!(odd.render(&event(), &CTX), "\"odd\"");
}

#[test]
fn only_one_input_member_is_allowed() {
    let both = target(json!({"Input": "{}", "InputPath": "$.detail"}));
    assert!(matches!(both, Err(EventsError::Validation(m)) if m.contains("Only one of Input")));
}

#[test]
fn placeholders_outside_strings_take_json_values() {
    let out = transformer(
        json!({"status": "$.detail.ModelApprovalStatus", "v": "$.detail.ModelPackageVersion", "tags": "$.detail.tags"}),
        r#"{"status": <status>, "version": <v>, "tags": <tags>}"#,
    );
    assert_eq!(
        serde_json::from_str::<Value>(&out).unwrap(),
        json!({"status": "Approved", "version": 3, "tags": {"team": "ml"}})
    );
}

#[test]
fn placeholders_inside_strings_are_inserted_bare() {
    let out = transformer(
        json!({"status": "$.detail.ModelApprovalStatus", "tags": "$.detail.tags"}),
        r#""model is <status>, tagged <tags>""#,
    );
    assert_eq!(out, r#""model is Approved, tagged {team:ml}""#);
    // AWS's documented example: escaped quotes inside a string template.
    let quoted = transformer(
        json!({"status": "$.detail.ModelApprovalStatus"}),
        r#"{"s": "state \"<status>\""}"#,
    );
    assert_eq!(quoted, r#"{"s": "state \"Approved\""}"#);
}

#[test]
fn reserved_variables_need_no_path() {
    let out = transformer(
        json!({}),
        r#"{"rule": <aws.events.rule-name>, "arn": "<aws.events.rule-arn>", "at": <aws.events.event.ingestion-time>, "e": <aws.events.event>, "all": <aws.events.event.json>}"#,
    );
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["rule"], "approve");
    assert_eq!(v["arn"], CTX.rule_arn);
    assert_eq!(v["at"], CTX.ingestion_time);
    assert!(v["e"].get("detail").is_none());
    assert_eq!(v["e"]["source"], "aws.sagemaker");
    assert_eq!(v["all"], event());
}

#[test]
fn unknown_names_stay_and_missing_values_keep_the_json_valid() {
    let out = transformer(
        json!({"gone": "$.detail.nothing"}),
        r#"{"a": <gone>, "b": "<gone>", "c": "<b>bold</b>"}"#,
    );
    assert_eq!(out, r#"{"a": null, "b": "", "c": "<b>bold</b>"}"#);
}

#[test]
fn wildcards_select_every_child() {
    let out = transformer(json!({"ns": "$.detail.list[*].n"}), "<ns>");
    assert_eq!(out, "[1,2]");
}

#[test]
fn keys_and_paths_are_validated() {
    let bad_key = target(
        json!({"InputTransformer": {"InputPathsMap": {"a b": "$.x"}, "InputTemplate": "<a>"}}),
    );
    assert!(matches!(bad_key, Err(EventsError::Validation(m)) if m.contains("[a-zA-Z0-9_-]+")));
    let bad_path = target(
        json!({"InputTransformer": {"InputPathsMap": {"a": "detail"}, "InputTemplate": "<a>"}}),
    );
    assert!(matches!(bad_path, Err(EventsError::Validation(m)) if m.contains("JSON path")));
    let no_template = target(json!({"InputTransformer": {"InputPathsMap": {}}}));
    assert!(matches!(no_template, Err(EventsError::Validation(_))));
    let many: Map<String, Value> = (0..101).map(|i| (format!("k{i}"), json!("$.a"))).collect();
    let too_many =
        target(json!({"InputTransformer": {"InputPathsMap": many, "InputTemplate": "x"}}));
    assert!(matches!(too_many, Err(EventsError::Validation(m)) if m.contains("100")));
    for path in ["$", "$.a[0].b", "$.a.*", "$['a']"] {
        let parsed = JsonPath::parse(path, "InputPath");
        assert_eq!(parsed.is_ok(), path != "$['a']", "{path}");
    }
}
