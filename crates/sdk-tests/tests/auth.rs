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

/// The SageMaker and CloudFormation clients of the server at `url`, signing with `key`
/// and `secret`: what each account's half of the test calls.
fn clients(
    url: &str,
    (key, secret): (&str, &str),
) -> (aws_sdk_sagemaker::Client, aws_sdk_cloudformation::Client) {
    (
        sdk_client!(aws_sdk_sagemaker, url, key, secret),
        sdk_client!(aws_sdk_cloudformation, url, key, secret),
    )
}

/// The name `name` gives each of `items` (which must have one): what a list call shows.
fn names_of<'a, T>(items: &'a [T], name: impl Fn(&'a T) -> Option<&'a str>) -> Vec<&'a str> {
    items.iter().map(|item| name(item).unwrap()).collect()
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
        let (sm, cfn) = clients(&server.url, (key, secret));
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
        cfn.create_stack()
            .stack_name(format!("stack-of-{account}"))
            .template_body("Resources:\n  P:\n    Type: AWS::SSM::Parameter\n    Properties: {Type: String, Value: v}\n")
            .send()
            .await
            .unwrap();
    }
    for (key, secret, account) in [ALICE, BOB] {
        let (sm, cfn) = clients(&server.url, (key, secret));
        let groups = sm.list_model_package_groups().send().await.unwrap();
        let arns = names_of(groups.model_package_group_summary_list(), |g| {
            g.model_package_group_arn()
        });
        assert_eq!(arns.len(), 1, "{arns:?}");
        assert!(arns[0].contains(account), "{arns:?}");
        let stacks = cfn.describe_stacks().send().await.unwrap();
        let names = names_of(stacks.stacks(), |s| s.stack_name());
        assert_eq!(names, [format!("stack-of-{account}")]);
    }
    let wrong = sdk_client!(aws_sdk_sagemaker, &server.url, ALICE.0, "not-it");
    let err = wrong.list_projects().send().await.unwrap_err();
    assert_eq!(err.code(), Some("InvalidSignatureException"), "{err:?}");
    let unknown = sdk_client!(aws_sdk_sagemaker, &server.url, "AKIANOBODY000000", "x");
    let err = unknown.list_projects().send().await.unwrap_err();
    assert_eq!(err.code(), Some("UnrecognizedClientException"), "{err:?}");
}
