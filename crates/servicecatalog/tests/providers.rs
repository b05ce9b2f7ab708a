//! The native providers: a stack publishes real portfolios, products and associations,
//! and the providers find what an interrupted create made.

mod common;

use common::*;

const PUBLISHING: &str = r#"
Parameters:
  TemplateUrl: {Type: String}
  ExtraUrl: {Type: String, Default: ""}
Conditions:
  Two: !Not [!Equals [!Ref ExtraUrl, ""]]
Resources:
  Portfolio:
    Type: AWS::ServiceCatalog::Portfolio
    Properties:
      DisplayName: published
      ProviderName: platform
  Product:
    Type: AWS::ServiceCatalog::CloudFormationProduct
    Properties:
      Name: published-product
      Owner: platform
      ReplaceProvisioningArtifacts: true
      ProvisioningArtifactParameters: !If
        - Two
        - - Name: v1
            Info: {LoadTemplateFromURL: !Ref TemplateUrl}
          - Name: v2
            Info: {LoadTemplateFromURL: !Ref ExtraUrl}
        - - Name: v1
            Info: {LoadTemplateFromURL: !Ref TemplateUrl}
  Association:
    Type: AWS::ServiceCatalog::PortfolioProductAssociation
    Properties:
      PortfolioId: !Ref Portfolio
      ProductId: !Ref Product
Outputs:
  ProductId: {Value: !Ref Product}
  PortfolioId: {Value: !Ref Portfolio}
  Artifacts: {Value: !GetAtt Product.ProvisioningArtifactIds}
  Name: {Value: !GetAtt Product.ProductName}
"#;

/// Stack parameters: each names the URL of a template version.
fn urls(pairs: &[(&str, &str)]) -> std::collections::BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| {
            (
                k.to_string(),
                format!("https://b.s3.amazonaws.com/{v}.yaml"),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stack_publishes_real_products() {
    let h = harness().await;
    h.source
        .put("https://b.s3.amazonaws.com/v1.yaml", &template(1));
    h.source
        .put("https://b.s3.amazonaws.com/v2.yaml", &template(2));
    let stack = create_complete(
        &h.cfn,
        CreateStackInput {
            stack_name: "publisher".into(),
            template_body: PUBLISHING.into(),
            parameters: urls(&[("TemplateUrl", "v1")]),
            ..Default::default()
        },
    )
    .await;
    let prod_id = output(&stack, "ProductId");
    assert!(prod_id.starts_with("prod-"));
    assert_eq!(output(&stack, "Name"), "published-product");
    let p = ok(&h, "DescribeProduct", json!({"Id": prod_id})).await;
    assert_eq!(p["LaunchPaths"][0]["Name"], "published");
    // Launch it.
    let r =
        h.pp.provision_and_wait(launch(&prod_id, "from-stack"))
            .await
            .unwrap();
    assert_eq!(r.status, "SUCCEEDED");
    // A second version through a stack update.
    let stack = h
        .cfn
        .update_stack_and_wait(sagestack_cloudformation::UpdateStackInput {
            stack_name: "publisher".into(),
            template_body: Some(PUBLISHING.into()),
            parameters: urls(&[("TemplateUrl", "v1"), ("ExtraUrl", "v2")]),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        stack.status,
        StackStatus::UpdateComplete,
        "{:?}",
        stack.status_reason
    );
    let product = h.catalog.product(&prod_id).await.unwrap();
    let names: Vec<&str> = product.artifacts.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["v1", "v2"]);
    h.pp.terminate_and_wait(
        &h.pp
            .provisioned_by(None, Some("from-stack"))
            .await
            .unwrap()
            .id,
        false,
    )
    .await
    .unwrap();
    // Deleting the stack removes the association, the product and the portfolio.
    let gone = h
        .cfn
        .delete_stack_and_wait("publisher")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        gone.status,
        StackStatus::DeleteComplete,
        "{:?}",
        gone.status_reason
    );
    assert_eq!(
        h.catalog.product(&prod_id).await.unwrap_err().code(),
        "ResourceNotFoundException"
    );
    let l = ok(&h, "ListPortfolios", json!({})).await;
    assert!(l["PortfolioDetails"].as_array().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn providers_find_what_an_interrupted_create_made() {
    use sagestack_engine::{ResourceContext, ResourceProvider};
    use sagestack_servicecatalog::provider::{
        AssociationProvider, PortfolioProvider, ProductProvider,
    };
    let h = harness().await;
    let ctx = |logical: &str, t: &str| ResourceContext {
        region: "us-east-1".into(),
        account_id: ACCOUNT.into(),
        partition: "aws".into(),
        stack_name: "s".into(),
        stack_id: "arn:aws:cloudformation:us-east-1:123456789012:stack/s/1".into(),
        logical_id: logical.into(),
        resource_type: t.into(),
        stack_tags: Vec::new(),
        started: 0,
    };
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
        - 1;
    let (port_id, prod_id, _) = product_with_portfolio(&h).await;
    let portfolios = PortfolioProvider::new(h.catalog.clone());
    let props = json!({"DisplayName": "ml", "ProviderName": "platform"});
    let found = portfolios
        .find_interrupted_create(&ctx("P", "AWS::ServiceCatalog::Portfolio"), &props, before)
        .await
        .unwrap();
    assert_eq!(found.map(|s| s.physical_id), Some(port_id.clone()));
    // Made before the create started: someone else's.
    let later = before + 3_600_000;
    assert!(
        portfolios
            .find_interrupted_create(&ctx("P", "AWS::ServiceCatalog::Portfolio"), &props, later)
            .await
            .unwrap()
            .is_none()
    );
    let products = ProductProvider::new(h.catalog.clone());
    let found = products
        .find_interrupted_create(
            &ctx("Q", "AWS::ServiceCatalog::CloudFormationProduct"),
            &json!({"Name": "queue-product", "Owner": "platform"}),
            before,
        )
        .await
        .unwrap();
    assert_eq!(found.map(|s| s.physical_id), Some(prod_id.clone()));
    let assoc = AssociationProvider::new(h.catalog.clone());
    let actx = ctx("A", "AWS::ServiceCatalog::PortfolioProductAssociation");
    let found = assoc
        .find_interrupted_create(
            &actx,
            &json!({"PortfolioId": port_id, "ProductId": prod_id}),
            before,
        )
        .await
        .unwrap();
    assert_eq!(
        found.map(|s| s.physical_id),
        Some(format!("{port_id}|{prod_id}"))
    );
    assert!(
        assoc
            .find_interrupted_create(
                &actx,
                &json!({"PortfolioId": "port-other0000000", "ProductId": prod_id}),
                before,
            )
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_reads_products_as_the_catalog_holds_them() {
    use sagestack_engine::drift::differences;
    use sagestack_engine::{Live, ResourceContext, ResourceProvider, ResourceState};
    use sagestack_servicecatalog::provider::ProductProvider;
    let h = harness().await;
    let (_, prod_id, _) = product_with_portfolio(&h).await;
    let ctx = ResourceContext {
        resource_type: "AWS::ServiceCatalog::CloudFormationProduct".into(),
        ..ResourceContext::default()
    };
    let current = ResourceState {
        physical_id: prod_id.clone(),
        ..ResourceState::default()
    };
    // What a template that made this product would have said.
    let expected = json!({"Name": "queue-product", "Owner": "platform",
                          "Tags": [{"Key": "team", "Value": "ml"}]});
    let products = ProductProvider::new(h.catalog.clone());
    let live = || async { products.live(&ctx, &current, &expected).await.unwrap() };
    let Live::Properties(actual) = live().await else {
        panic!("a product is checked")
    };
    assert!(
        differences(&expected, &actual, &[]).is_empty(),
        "{actual:?}"
    );
    ok(
        &h,
        "UpdateProduct",
        json!({"Id": prod_id, "Owner": "someone else",
                                   "Description": "changed"}),
    )
    .await;
    let Live::Properties(actual) = live().await else {
        panic!("a product is checked")
    };
    let found: Vec<_> = differences(&expected, &actual, &[])
        .into_iter()
        .map(|d| (d.path, d.kind.as_str()))
        .collect();
    assert_eq!(
        found,
        [
            ("/Owner".to_string(), "NOT_EQUAL"),
            ("/Description".to_string(), "ADD")
        ]
    );
}
