//! `--auth sigv4` with two accounts, through aws-sdk-rust: each account's signed calls
//! see only its own resources (the same names in both), and a wrong secret is refused.

use aws_sdk_sagemaker::error::ProvideErrorMetadata;
use sagestack_sdk_tests::{sdk_client, start_with};

const ALICE: (&str, &str, &str) = ("AKIASDKALICE0000", "alice/secret+1", "111111111111");
const BOB: (&str, &str, &str) = ("AKIASDKBOB000000", "bob-secret", "222222222222");

fn credentials_file(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("credentials.toml");
    let entry = |(k, s, a): (&str, &str, &str)| {
        format!(
            "[[credentials]]\naccess_key_id = \"{k}\"\nsecret_access_key = \"{s}\"\naccount_id = \"{a}\"\n"
        )
    };
    std::fs::write(&path, entry(ALICE) + &entry(BOB)).unwrap();
    path
}

#[tokio::test]
async fn two_accounts_through_the_rust_sdk() {
    let dir = tempfile::tempdir().unwrap();
    let file = credentials_file(dir.path());
    let server = start_with(&[
        "--auth",
        "sigv4",
        "--credentials-file",
        file.to_str().unwrap(),
    ]);
    for (key, secret, account) in [ALICE, BOB] {
        let sm = sdk_client!(aws_sdk_sagemaker, &server.url, key, secret);
        let made = sm
            .create_model_package_group()
            .model_package_group_name("shared-name")
            .send()
            .await
            .unwrap();
        let arn = made.model_package_group_arn().unwrap();
        assert_eq!(
            arn,
            format!("arn:aws:sagemaker:us-east-1:{account}:model-package-group/shared-name")
        );
        let cfn = sdk_client!(aws_sdk_cloudformation, &server.url, key, secret);
        cfn.create_stack()
            .stack_name(format!("stack-of-{account}"))
            .template_body("Resources:\n  P:\n    Type: AWS::SSM::Parameter\n    Properties: {Type: String, Value: v}\n")
            .send()
            .await
            .unwrap();
    }
    for (key, secret, account) in [ALICE, BOB] {
        let sm = sdk_client!(aws_sdk_sagemaker, &server.url, key, secret);
        let groups = sm.list_model_package_groups().send().await.unwrap();
        let arns: Vec<&str> = groups
            .model_package_group_summary_list()
            .iter()
            .map(|g| g.model_package_group_arn().unwrap())
            .collect();
        assert_eq!(arns.len(), 1, "{arns:?}");
        assert!(arns[0].contains(account), "{arns:?}");
        let cfn = sdk_client!(aws_sdk_cloudformation, &server.url, key, secret);
        let stacks = cfn.describe_stacks().send().await.unwrap();
        let names: Vec<&str> = stacks
            .stacks()
            .iter()
            .map(|s| s.stack_name().unwrap())
            .collect();
        assert_eq!(names, [format!("stack-of-{account}")]);
    }
    let wrong = sdk_client!(aws_sdk_sagemaker, &server.url, ALICE.0, "not-it");
    let err = wrong.list_projects().send().await.unwrap_err();
    assert_eq!(err.code(), Some("InvalidSignatureException"), "{err:?}");
    let unknown = sdk_client!(aws_sdk_sagemaker, &server.url, "AKIANOBODY000000", "x");
    let err = unknown.list_projects().send().await.unwrap_err();
    assert_eq!(err.code(), Some("UnrecognizedClientException"), "{err:?}");
}
