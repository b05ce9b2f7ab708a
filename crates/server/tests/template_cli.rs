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
