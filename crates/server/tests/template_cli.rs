//! `sagestack template validate` as a user runs it: the real binary, a file on disk, the
//! exit code and the `file:line:col` lines it prints.

use std::process::Command;

fn validate(body: &str, extra: &[&str]) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("template.yaml");
    std::fs::write(&path, body).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_sagestack"))
        .args(["template", "validate"])
        .arg(&path)
        .args(extra)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    (out.status.code().unwrap(), text)
}

/// A template of one bucket named `name` (on line 5).
fn bucket(name: &str) -> String {
    format!(
        "Resources:\n  Bucket:\n    Type: AWS::S3::Bucket\n    Properties:\n      BucketName: {name}\n"
    )
}

#[test]
fn a_valid_template_exits_zero() {
    let (code, _) = validate(&bucket("!Sub '${AWS::StackName}-b'"), &[]);
    assert_eq!(code, 0);
}

#[test]
fn errors_are_located_and_exit_non_zero() {
    let (code, text) = validate(&bucket("!Ref Missing"), &[]);
    assert_ne!(code, 0);
    // The unresolved Ref is on line 5; the printed location must point there.
    assert!(text.contains("template.yaml:5:"), "{text}");
    assert!(text.contains("Missing"), "{text}");
}

#[test]
fn parameters_are_checked_against_their_constraints() {
    let body = "Parameters:\n  Env:\n    Type: String\n    AllowedValues: [dev, prod]\nResources:\n  Topic:\n    Type: AWS::SNS::Topic\n";
    let (ok, _) = validate(body, &["--param", "Env=dev"]);
    assert_eq!(ok, 0);
    let (bad, text) = validate(body, &["--param", "Env=qa"]);
    assert_ne!(bad, 0, "{text}");
    assert!(text.contains("Env"), "{text}");
}

#[test]
fn rules_are_evaluated_with_the_defaults_when_no_parameter_is_given() {
    // As CreateStack does without parameters (issue #23, item 8).
    let body = "Parameters:\n  Env:\n    Type: String\n    Default: dev\nRules:\n  ProdOnly:\n    Assertions:\n      - Assert: !Equals [!Ref Env, prod]\n        AssertDescription: Env must be prod\nResources:\n  Topic:\n    Type: AWS::SNS::Topic\n";
    let (code, text) = validate(body, &[]);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("Env must be prod"), "{text}");
    assert_eq!(validate(body, &["--param", "Env=prod"]).0, 0);
    // Parameters without defaults: the template is checked alone, as before.
    let needs =
        "Parameters:\n  Name:\n    Type: String\nResources:\n  Topic:\n    Type: AWS::SNS::Topic\n";
    assert_eq!(validate(needs, &[]).0, 0);
}

#[test]
fn unregistered_types_are_reported_as_create_stack_reports_them() {
    let body = "Resources:\n  Gear:\n    Type: Vendor::Widgets::Gear\n  Seed:\n    Type: Custom::Seed\n    Properties: {ServiceToken: x}\n";
    let (code, text) = validate(body, &[]);
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains("template.yaml:3:11: E1003 Template format error: Unrecognized resource types: [Vendor::Widgets::Gear]"),
        "{text}"
    );
}
