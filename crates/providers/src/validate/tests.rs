//! The validator against a small hand-written schema: conversions, pointers, wording.

use super::*;
use crate::schema::compile;
use serde_json::json;

fn schema() -> ResourceSchema {
    compile(
        "Test::Thing::Widget",
        &json!({
            "additionalProperties": false,
            "required": ["Name"],
            "properties": {
                "Name": {"type": "string", "minLength": 3, "maxLength": 8, "pattern": "^[a-z-]+$"},
                "Size": {"type": "integer", "minimum": 1, "maximum": 10},
                "Ratio": {"type": "number", "exclusiveMaximum": 1},
                "Enabled": {"type": "boolean"},
                "Mode": {"type": "string", "enum": ["Fast", "Slow"]},
                "Level": {"type": "string", "enum": ["Low", "High"], "enumCaseInsensitive": true},
                "Tags": {"type": "array", "maxItems": 2, "items": {"$ref": "#/definitions/Tag"}},
                "Config": {
                    "type": "object",
                    "additionalProperties": false,
                    "properties": {"A": {"type": "string"}, "B": {"type": "string"}},
                    "oneOf": [{"required": ["A"]}, {"required": ["B"]}]
                },
                "Labels": {
                    "type": "object",
                    "additionalProperties": false,
                    "patternProperties": {"^[a-z]+$": {"type": "string", "maxLength": 3}}
                },
                "Doc": {"type": ["object", "string"]}
            },
            "definitions": {
                "Tag": {
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["Key", "Value"],
                    "properties": {"Key": {"type": "string"}, "Value": {"type": "string"}}
                }
            }
        }),
    )
}

fn messages(props: Value) -> Vec<String> {
    validate(&schema(), &props)
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[test]
fn a_valid_object_has_no_violations() {
    assert_eq!(
        messages(json!({
            "Name": "abc-d", "Size": 3, "Ratio": 0.5, "Enabled": true, "Mode": "Fast",
            "Level": "high", "Tags": [{"Key": "k", "Value": "v"}], "Config": {"A": "x"},
            "Labels": {"ab": "xyz"}, "Doc": {"any": 1}
        })),
        Vec::<String>::new()
    );
}

#[test]
fn scalars_convert_the_way_cloudformation_converts_them() {
    assert_eq!(
        messages(json!({"Name": "abc", "Size": "7", "Enabled": "false", "Ratio": "0.25"})),
        Vec::<String>::new()
    );
    assert_eq!(
        messages(json!({"Name": "abc", "Size": "70"})),
        vec!["#/Size: 70 is not less or equal to 10"]
    );
    assert_eq!(
        messages(json!({"Name": "abc", "Size": 1.5})),
        vec!["#/Size: expected type: Integer, found: Number"]
    );
    assert_eq!(
        messages(json!({"Name": "abc", "Size": "1.5"})),
        vec!["#/Size: expected type: Integer, found: String"]
    );
    assert_eq!(
        messages(json!({"Name": "abc", "Enabled": "yes"})),
        vec!["#/Enabled: expected type: Boolean, found: String"]
    );
}

#[test]
fn every_violation_is_reported_with_its_pointer() {
    let got = messages(json!({
        "Size": 0, "Ratio": 1, "Mode": "Medium", "Extra": 1,
        "Tags": [{"Key": "k"}, {"Key": "k", "Value": "v", "Bad": 1}, {"Key": 1, "Value": {}}],
        "Config": {"A": "x", "B": "y"},
        "Labels": {"UPPER": "x", "ok": "long"}
    }));
    assert_eq!(
        got,
        vec![
            "#: required key [Name] not found",
            "#: extraneous key [Extra] is not permitted",
            "#/Size: 0 is not greater or equal to 1",
            "#/Ratio: 1 is not less than 1",
            "#/Mode: Medium is not a valid enum value",
            "#/Tags: expected maximum item count: 2, found: 3",
            "#/Tags/0: required key [Value] not found",
            "#/Tags/1: extraneous key [Bad] is not permitted",
            "#/Tags/2/Value: expected type: String, found: JSONObject",
            "#/Config: #: 2 subschemas matched instead of one",
            "#/Labels: extraneous key [UPPER] is not permitted",
            "#/Labels/ok: expected maxLength: 3, actual: 4",
        ]
    );
}

#[test]
fn string_rules_use_cloudformation_wording() {
    assert_eq!(
        messages(json!({"Name": "ab"})),
        vec!["#/Name: expected minLength: 3, actual: 2"]
    );
    assert_eq!(
        messages(json!({"Name": "ABCDEFGHIJ"})),
        vec![
            "#/Name: expected maxLength: 8, actual: 10",
            "#/Name: string [ABCDEFGHIJ] does not match pattern ^[a-z-]+$",
        ]
    );
    assert_eq!(
        messages(json!({"Name": "abc", "Doc": [5], "Config": {}})),
        vec![
            "#/Doc: expected type: one of [String, JSONObject], found: JSONArray",
            "#/Config: #: 0 subschemas matched instead of one",
        ]
    );
}

#[test]
fn a_one_of_decided_by_an_unsupported_pattern_is_not_a_violation() {
    let s = compile(
        "Test::Thing::Id",
        &json!({"properties": {"Id": {"type": "string", "oneOf": [
            {"pattern": "^[a-z]+$"},
            {"pattern": "^(?=.{5,}$)arn.*"}
        ]}}}),
    );
    // "abc" matches the first branch, and the second cannot be checked: no verdict.
    assert!(validate(&s, &json!({"Id": "abc"})).is_empty());
    // "arnXYZ" fails the checkable branch and may match the other: no verdict either.
    assert!(validate(&s, &json!({"Id": "arnXYZ"})).is_empty());
    // Certain answers are still reported.
    let t = compile(
        "Test::Thing::Id",
        &json!({"properties": {"Id": {"type": "string", "oneOf": [
            {"pattern": "^[a-z]+$"}, {"pattern": "^[a-c]+$"}
        ]}}}),
    );
    assert_eq!(
        validate(&t, &json!({"Id": "abc"}))[0].to_string(),
        "#/Id: #: 2 subschemas matched instead of one"
    );
    assert_eq!(
        validate(&t, &json!({"Id": "XYZ"}))[0].to_string(),
        "#/Id: #: 0 subschemas matched instead of one"
    );
}

#[test]
fn the_reason_joins_violations_like_cloudformation() {
    let v = validate(&schema(), &json!({"Extra": true}));
    assert_eq!(
        validation_message("MyWidget", &v),
        "Properties validation failed for resource MyWidget with message: \
         #: required key [Name] not found #: extraneous key [Extra] is not permitted"
    );
}
