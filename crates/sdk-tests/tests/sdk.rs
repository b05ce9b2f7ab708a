//! aws-sdk-sagemaker against the real `sagestack` binary (started by the crate's
//! `start`, see `src/lib.rs`).

use aws_sdk_sagemaker::Client;
use aws_sdk_sagemaker::error::ProvideErrorMetadata;
use aws_sdk_sagemaker::types::{ProjectSortOrder, ServiceCatalogProvisioningDetails, Tag};
use sagestack_sdk_tests::start;

fn client(url: &str) -> Client {
    sagestack_sdk_tests::sdk_client!(aws_sdk_sagemaker, url)
}

/// Polls DescribeProject until `ok` accepts the project (provisioning runs after the
/// request answered), or `None` once the project no longer exists.
async fn wait_project(
    sm: &Client,
    name: &str,
    ok: impl Fn(Option<&str>) -> bool,
) -> Option<aws_sdk_sagemaker::operation::describe_project::DescribeProjectOutput> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let d = sm.describe_project().project_name(name).send().await;
        let status = d
            .as_ref()
            .ok()
            .and_then(|d| d.project_status().map(|s| s.as_str().to_string()));
        if ok(status.as_deref()) {
            return d.ok();
        }
        assert!(std::time::Instant::now() < deadline, "{name}: {status:?}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn project_lifecycle_with_the_rust_sdk() {
    let server = start();
    let sm = client(&server.url);

    let created = sm
        .create_project()
        .project_name("sdk-project")
        .project_description("made by aws-sdk-rust")
        .service_catalog_provisioning_details(
            ServiceCatalogProvisioningDetails::builder()
                .product_id("prod-abc")
                .build(),
        )
        .tags(Tag::builder().key("team").value("ml").build())
        .send()
        .await
        .unwrap();
    let arn = created.project_arn().unwrap().to_string();
    assert_eq!(
        arn,
        "arn:aws:sagemaker:us-east-1:000000000000:project/sdk-project"
    );
    let id = created.project_id().unwrap();
    assert!(id.starts_with("p-") && id.len() == 14, "{id}");

    let d = sm
        .describe_project()
        .project_name("sdk-project")
        .send()
        .await
        .unwrap();
    assert_eq!(d.project_id(), Some(id));
    // The product does not exist in this server's Service Catalog: the project ends
    // CreateFailed, saying why.
    let d = wait_project(&sm, "sdk-project", |s| s == Some("CreateFailed"))
        .await
        .unwrap();
    assert!(
        d.service_catalog_provisioned_product_details()
            .and_then(|p| p.provisioned_product_status_message())
            .is_some_and(|m| m.ends_with("not found.") && m.starts_with("Product prod-"))
    );
    assert!(d.creation_time().is_some());
    assert_eq!(
        d.created_by()
            .and_then(|u| u.iam_identity())
            .and_then(|i| i.principal_id()),
        Some(sagestack_sdk_tests::ACCESS_KEY)
    );

    sm.update_project()
        .project_name("sdk-project")
        .project_description("updated")
        .send()
        .await
        .unwrap();
    let listed = sm
        .list_projects()
        .sort_order(ProjectSortOrder::Ascending)
        .send()
        .await
        .unwrap();
    let summaries = listed.project_summary_list();
    assert_eq!(summaries.len(), 1);
    assert_eq!(summaries[0].project_description(), Some("updated"));

    sm.add_tags()
        .resource_arn(&arn)
        .tags(Tag::builder().key("env").value("dev").build())
        .send()
        .await
        .unwrap();
    let tags = sm.list_tags().resource_arn(&arn).send().await.unwrap();
    let keys: Vec<&str> = tags.tags().iter().filter_map(|t| t.key()).collect();
    assert_eq!(keys, ["env", "team"]);
    sm.delete_tags()
        .resource_arn(&arn)
        .tag_keys("team")
        .send()
        .await
        .unwrap();
    let tags = sm.list_tags().resource_arn(&arn).send().await.unwrap();
    assert_eq!(tags.tags().len(), 1);

    sm.delete_project()
        .project_name("sdk-project")
        .send()
        .await
        .unwrap();
    assert!(
        wait_project(&sm, "sdk-project", |s| s.is_none())
            .await
            .is_none()
    );
    let listed = sm.list_projects().send().await.unwrap();
    assert!(listed.project_summary_list().is_empty());
}

#[tokio::test]
async fn validation_errors_reach_the_rust_sdk() {
    let server = start();
    let sm = client(&server.url);
    let err = sm
        .describe_project()
        .project_name("not_valid!")
        .send()
        .await
        .unwrap_err();
    let meta = err.as_service_error().map(|e| e.meta().clone()).unwrap();
    assert_eq!(meta.code(), Some("ValidationException"));
    assert_eq!(
        meta.message(),
        Some(
            "1 validation error detected: Value 'not_valid!' at 'projectName' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,31}"
        )
    );
    let err = sm
        .describe_project()
        .project_name("missing")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("ValidationException"));
    assert_eq!(err.message(), Some("Project missing does not exist."));
}
