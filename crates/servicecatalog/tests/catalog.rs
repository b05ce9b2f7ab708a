//! The catalog through the JSON API: portfolios, products, provisioning artifacts,
//! associations and launch paths, and their error paths.

mod common;

use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn portfolios_products_artifacts_and_paths() {
    let h = harness().await;
    let (port_id, prod_id, pa1) = product_with_portfolio(&h).await;
    assert!(port_id.starts_with("port-") && port_id.len() == 18);
    assert!(prod_id.starts_with("prod-") && pa1.starts_with("pa-"));

    let d = ok(&h, "DescribePortfolio", json!({"Id": port_id})).await;
    assert_eq!(d["PortfolioDetail"]["DisplayName"], "ml");
    assert_eq!(
        d["PortfolioDetail"]["ARN"],
        format!("arn:aws:catalog:us-east-1:{ACCOUNT}:portfolio/{port_id}")
    );
    let l = ok(&h, "ListPortfolios", json!({})).await;
    assert_eq!(l["PortfolioDetails"].as_array().unwrap().len(), 1);

    let p = ok(&h, "DescribeProductAsAdmin", json!({"Id": prod_id})).await;
    assert_eq!(
        p["ProductViewDetail"]["ProductViewSummary"]["Name"],
        "queue-product"
    );
    assert_eq!(p["Tags"], json!([{"Key": "team", "Value": "ml"}]));
    assert_eq!(p["ProvisioningArtifactSummaries"][0]["Id"], pa1);
    let p = ok(&h, "DescribeProduct", json!({"Name": "queue-product"})).await;
    assert_eq!(p["LaunchPaths"][0]["Name"], "ml");
    assert_eq!(p["ProductViewSummary"]["HasDefaultPath"], true);

    // A second artifact; artifacts can be deactivated and deprecated.
    let a2 = api_artifact(&h, &prod_id, "v2", 2).await;
    let pa2 = a2["ProvisioningArtifactDetail"]["Id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(a2["ProvisioningArtifactDetail"]["Active"], true);
    let list = ok(
        &h,
        "ListProvisioningArtifacts",
        json!({"ProductId": prod_id}),
    )
    .await;
    assert_eq!(
        list["ProvisioningArtifactDetails"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let u = ok(
        &h,
        "UpdateProvisioningArtifact",
        json!({"ProductId": prod_id, "ProvisioningArtifactId": pa1, "Active": false, "Guidance": "DEPRECATED"}),
    )
    .await;
    assert_eq!(u["ProvisioningArtifactDetail"]["Active"], false);
    assert_eq!(u["ProvisioningArtifactDetail"]["Guidance"], "DEPRECATED");
    let d = ok(
        &h,
        "DescribeProvisioningArtifact",
        json!({"ProductId": prod_id, "ProvisioningArtifactId": pa2, "IncludeProvisioningArtifactParameters": true}),
    )
    .await;
    let keys = strings(&d["ProvisioningArtifactParameters"], "ParameterKey");
    assert_eq!(keys, ["SageMakerProjectName", "SageMakerProjectId", "Env"]);

    // Search, with filters and the admin view by portfolio.
    let s = ok(
        &h,
        "SearchProducts",
        json!({"Filters": {"FullTextSearch": ["QUEUE"]}}),
    )
    .await;
    assert_eq!(s["ProductViewSummaries"].as_array().unwrap().len(), 1);
    let s = ok(
        &h,
        "SearchProducts",
        json!({"Filters": {"Owner": ["nobody"]}}),
    )
    .await;
    assert!(s["ProductViewSummaries"].as_array().unwrap().is_empty());
    let s = ok(&h, "SearchProductsAsAdmin", json!({"PortfolioId": port_id})).await;
    assert_eq!(s["ProductViewDetails"].as_array().unwrap().len(), 1);

    // Update with tags.
    let u = ok(
        &h,
        "UpdateProduct",
        json!({"Id": prod_id, "Description": "queues", "AddTags": [{"Key": "tier", "Value": "1"}], "RemoveTags": ["team"]}),
    )
    .await;
    assert_eq!(u["Tags"], json!([{"Key": "tier", "Value": "1"}]));
    assert_eq!(
        u["ProductViewDetail"]["ProductViewSummary"]["ShortDescription"],
        "queues"
    );

    // Deletes are refused while associated.
    let (code, _) = err(&h, "DeleteProduct", json!({"Id": prod_id})).await;
    assert_eq!(code, "ResourceInUseException");
    let (code, _) = err(&h, "DeletePortfolio", json!({"Id": port_id})).await;
    assert_eq!(code, "ResourceInUseException");
    ok(
        &h,
        "DeleteProvisioningArtifact",
        json!({"ProductId": prod_id, "ProvisioningArtifactId": pa1}),
    )
    .await;
    ok(
        &h,
        "DisassociateProductFromPortfolio",
        json!({"ProductId": prod_id, "PortfolioId": port_id}),
    )
    .await;
    let (code, _) = err(&h, "DescribeProduct", json!({"Id": prod_id})).await;
    assert_eq!(
        code, "ResourceNotFoundException",
        "no launch path: invisible"
    );
    ok(&h, "DeleteProduct", json!({"Id": prod_id})).await;
    ok(&h, "DeletePortfolio", json!({"Id": port_id})).await;
    let (code, _) = err(&h, "DescribePortfolio", json!({"Id": port_id})).await;
    assert_eq!(code, "ResourceNotFoundException");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catalog_error_paths() {
    let h = harness().await;
    let (port_id, prod_id, pa1) = product_with_portfolio(&h).await;
    // Model constraints: ValidationException.
    let (code, msg) = err(
        &h,
        "CreatePortfolio",
        json!({"DisplayName": "", "ProviderName": "p", "IdempotencyToken": "x"}),
    )
    .await;
    assert_eq!(code, "ValidationException", "{msg}");
    let (code, _) = err(&h, "DescribePortfolio", json!({})).await;
    assert_eq!(code, "ValidationException");
    // Templates are read and validated when the artifact is created.
    let artifact = |name: &str, file: &str| {
        json!({"ProductId": prod_id, "IdempotencyToken": "t",
               "Parameters": {"Name": name, "Info": {"LoadTemplateFromURL": format!("https://bucket.s3.amazonaws.com/{file}")}}})
    };
    let (code, msg) = err(
        &h,
        "CreateProvisioningArtifact",
        artifact("v9", "missing.yaml"),
    )
    .await;
    assert_eq!(code, "InvalidParametersException");
    assert!(msg.contains("does not exist"), "{msg}");
    h.source.put(
        "https://bucket.s3.amazonaws.com/bad.yaml",
        "Resources:\n  Q:\n    Properties: {}\n",
    );
    let (code, msg) = err(&h, "CreateProvisioningArtifact", artifact("v9", "bad.yaml")).await;
    assert_eq!(code, "InvalidParametersException");
    assert!(msg.starts_with("Invalid templateBody."), "{msg}");
    let (code, _) = err(&h, "CreateProvisioningArtifact", artifact("v1", "v1.yaml")).await;
    assert_eq!(
        code, "InvalidParametersException",
        "duplicate artifact name"
    );
    let (code, _) = err(
        &h,
        "CreateProduct",
        json!({"Name": "n", "Owner": "o", "ProductType": "CLOUD_FORMATION_TEMPLATE", "IdempotencyToken": "t"}),
    )
    .await;
    assert_eq!(code, "InvalidParametersException");
    // Unknown ids.
    let (code, _) = err(
        &h,
        "DescribeProductAsAdmin",
        json!({"Id": "prod-nothere00000"}),
    )
    .await;
    assert_eq!(code, "ResourceNotFoundException");
    let (code, _) = err(
        &h,
        "AssociateProductWithPortfolio",
        json!({"ProductId": "prod-nothere00000", "PortfolioId": port_id}),
    )
    .await;
    assert_eq!(code, "ResourceNotFoundException");
    let (code, _) = err(
        &h,
        "DescribeProvisioningArtifact",
        json!({"ProductId": prod_id, "ProvisioningArtifactId": "pa-nothere0000000"}),
    )
    .await;
    assert_eq!(code, "ResourceNotFoundException");
    let (code, _) = err(
        &h,
        "DeleteProvisioningArtifact",
        json!({"ProductId": prod_id, "ProvisioningArtifactId": pa1}),
    )
    .await;
    assert_eq!(code, "InvalidParametersException", "last artifact");
    let (code, _) = err(&h, "DescribeRecord", json!({"Id": "rec-nothere000000"})).await;
    assert_eq!(code, "ResourceNotFoundException");
    let (code, _) = err(&h, "ListPortfolios", json!({"PageToken": "garbage"})).await;
    assert_eq!(code, "InvalidParametersException");
    let (code, _) = err(&h, "CreateTagOption", json!({})).await;
    assert_eq!(code, "UnknownOperationException");
}
