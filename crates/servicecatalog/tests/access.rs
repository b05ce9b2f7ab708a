//! What Terraform's aws_servicecatalog_* resources call beyond the launch path basics,
//! through the JSON API: UpdatePortfolio, ListPortfoliosForProduct, a portfolio's
//! principals and its constraints, and their error paths.

mod common;

use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_portfolio_and_its_tags() {
    let h = harness().await;
    let created = ok(
        &h,
        "CreatePortfolio",
        json!({"DisplayName": "ml", "ProviderName": "platform", "Description": "d1",
            "IdempotencyToken": "t", "Tags": [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}]}),
    )
    .await;
    let id = created["PortfolioDetail"]["Id"]
        .as_str()
        .unwrap()
        .to_string();
    let u = ok(
        &h,
        "UpdatePortfolio",
        json!({"Id": id, "AcceptLanguage": "en", "Description": "d2", "DisplayName": "ml2",
            "AddTags": [{"Key": "b", "Value": "3"}, {"Key": "c", "Value": "4"}], "RemoveTags": ["a"]}),
    )
    .await;
    assert_eq!(u["PortfolioDetail"]["DisplayName"], "ml2");
    assert_eq!(u["PortfolioDetail"]["Description"], "d2");
    assert_eq!(u["PortfolioDetail"]["ProviderName"], "platform");
    let expected = json!([{"Key": "b", "Value": "3"}, {"Key": "c", "Value": "4"}]);
    assert_eq!(u["Tags"], expected);
    let d = ok(&h, "DescribePortfolio", json!({"Id": id})).await;
    assert_eq!(d["Tags"], expected);
    assert_eq!(d["PortfolioDetail"]["Description"], "d2");
    let u = ok(&h, "UpdatePortfolio", json!({"Id": id, "Description": ""})).await;
    assert!(u["PortfolioDetail"].get("Description").is_none());

    let (code, _) = err(&h, "UpdatePortfolio", json!({"Id": "port-nope"})).await;
    assert_eq!(code, "ResourceNotFoundException");
    let many: Vec<Value> = (0..19)
        .map(|i| json!({"Key": format!("k{i}"), "Value": "v"}))
        .collect();
    let (code, _) = err(&h, "UpdatePortfolio", json!({"Id": id, "AddTags": many})).await;
    assert_eq!(
        code, "LimitExceededException",
        "21 tags with the two it has"
    );
    let (code, _) = err(
        &h,
        "UpdatePortfolio",
        json!({"Id": id, "AddTags": [{"Key": "aws:x", "Value": "v"}]}),
    )
    .await;
    assert_eq!(code, "InvalidParametersException");
    let (code, _) = err(&h, "UpdatePortfolio", json!({"Id": id, "DisplayName": ""})).await;
    assert_eq!(code, "ValidationException");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn portfolios_of_a_product() {
    let h = harness().await;
    let (port_id, prod_id, _) = product_with_portfolio(&h).await;
    let l = ok(
        &h,
        "ListPortfoliosForProduct",
        json!({"ProductId": prod_id, "AcceptLanguage": "en"}),
    )
    .await;
    assert_eq!(l["PortfolioDetails"][0]["Id"], port_id);
    assert_eq!(l["PortfolioDetails"].as_array().unwrap().len(), 1);
    assert!(l.get("NextPageToken").is_none());
    for i in 0..3 {
        let p = ok(
            &h,
            "CreatePortfolio",
            json!({"DisplayName": format!("p{i}"), "ProviderName": "x", "IdempotencyToken": "t"}),
        )
        .await;
        let id = p["PortfolioDetail"]["Id"].as_str().unwrap().to_string();
        ok(
            &h,
            "AssociateProductWithPortfolio",
            json!({"ProductId": prod_id, "PortfolioId": id}),
        )
        .await;
    }
    let first = ok(
        &h,
        "ListPortfoliosForProduct",
        json!({"ProductId": prod_id, "PageSize": 3}),
    )
    .await;
    assert_eq!(first["PortfolioDetails"].as_array().unwrap().len(), 3);
    let token = first["NextPageToken"].as_str().unwrap();
    let rest = ok(
        &h,
        "ListPortfoliosForProduct",
        json!({"ProductId": prod_id, "PageSize": 3, "PageToken": token}),
    )
    .await;
    assert_eq!(rest["PortfolioDetails"].as_array().unwrap().len(), 1);
    ok(
        &h,
        "DisassociateProductFromPortfolio",
        json!({"ProductId": prod_id, "PortfolioId": port_id}),
    )
    .await;
    let l = ok(
        &h,
        "ListPortfoliosForProduct",
        json!({"ProductId": prod_id}),
    )
    .await;
    assert!(
        l["PortfolioDetails"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["Id"] != port_id.as_str())
    );
    let (code, _) = err(
        &h,
        "ListPortfoliosForProduct",
        json!({"ProductId": "prod-nope"}),
    )
    .await;
    assert_eq!(code, "ResourceNotFoundException");
    let (code, _) = err(
        &h,
        "ListPortfoliosForProduct",
        json!({"ProductId": prod_id, "PageSize": 101}),
    )
    .await;
    assert_eq!(code, "ValidationException");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn principals_of_a_portfolio() {
    let h = harness().await;
    let (port_id, _, _) = product_with_portfolio(&h).await;
    let role = format!("arn:aws:iam::{ACCOUNT}:role/ops");
    let pattern = "arn:aws:iam:::role/team-*";
    for (arn, kind) in [(role.as_str(), "IAM"), (pattern, "IAM_PATTERN")] {
        let input = json!({"PortfolioId": port_id, "PrincipalARN": arn, "PrincipalType": kind});
        ok(&h, "AssociatePrincipalWithPortfolio", input.clone()).await;
        ok(&h, "AssociatePrincipalWithPortfolio", input).await;
    }
    let l = ok(
        &h,
        "ListPrincipalsForPortfolio",
        json!({"PortfolioId": port_id}),
    )
    .await;
    assert_eq!(
        l["Principals"],
        json!([
            {"PrincipalARN": role, "PrincipalType": "IAM"},
            {"PrincipalARN": pattern, "PrincipalType": "IAM_PATTERN"},
        ])
    );
    let (code, _) = err(&h, "DeletePortfolio", json!({"Id": port_id})).await;
    assert_eq!(code, "ResourceInUseException");
    ok(
        &h,
        "DisassociatePrincipalFromPortfolio",
        json!({"PortfolioId": port_id, "PrincipalARN": role}),
    )
    .await;
    let (code, _) = err(
        &h,
        "DisassociatePrincipalFromPortfolio",
        json!({"PortfolioId": port_id, "PrincipalARN": role}),
    )
    .await;
    assert_eq!(code, "ResourceNotFoundException");
    let (code, _) = err(
        &h,
        "AssociatePrincipalWithPortfolio",
        json!({"PortfolioId": port_id, "PrincipalARN": "role/ops", "PrincipalType": "IAM"}),
    )
    .await;
    assert_eq!(code, "InvalidParametersException");
    let (code, _) = err(
        &h,
        "AssociatePrincipalWithPortfolio",
        json!({"PortfolioId": port_id, "PrincipalARN": role, "PrincipalType": "USER"}),
    )
    .await;
    assert_eq!(code, "ValidationException");
    let (code, _) = err(
        &h,
        "AssociatePrincipalWithPortfolio",
        json!({"PortfolioId": "port-nope", "PrincipalARN": role, "PrincipalType": "IAM"}),
    )
    .await;
    assert_eq!(code, "ResourceNotFoundException");
    let (code, _) = err(
        &h,
        "ListPrincipalsForPortfolio",
        json!({"PortfolioId": "port-nope"}),
    )
    .await;
    assert_eq!(code, "ResourceNotFoundException");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn constraints_of_a_portfolio() {
    let h = harness().await;
    let (port_id, prod_id, _) = product_with_portfolio(&h).await;
    let role = format!("arn:aws:iam::{ACCOUNT}:role/launch");
    let params = json!({"RoleArn": role}).to_string();
    let c = ok(
        &h,
        "CreateConstraint",
        json!({"PortfolioId": port_id, "ProductId": prod_id, "Type": "LAUNCH",
            "Parameters": params, "Description": "launch as", "IdempotencyToken": "t"}),
    )
    .await;
    let id = c["ConstraintDetail"]["ConstraintId"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(id.starts_with("cons-"));
    assert_eq!(
        c,
        json!({
            "ConstraintDetail": {"ConstraintId": id, "Type": "LAUNCH", "Description": "launch as",
                "Owner": ACCOUNT, "ProductId": prod_id, "PortfolioId": port_id},
            "ConstraintParameters": params,
            "Status": "AVAILABLE",
        })
    );
    assert_eq!(ok(&h, "DescribeConstraint", json!({"Id": id})).await, c);
    let (code, _) = err(
        &h,
        "CreateConstraint",
        json!({"PortfolioId": port_id, "ProductId": prod_id, "Type": "LAUNCH",
            "Parameters": params, "IdempotencyToken": "t2"}),
    )
    .await;
    assert_eq!(code, "DuplicateResourceException");
    let notify = ok(
        &h,
        "CreateConstraint",
        json!({"PortfolioId": port_id, "ProductId": prod_id, "Type": "NOTIFICATION",
            "Parameters": r#"{"NotificationArns": ["arn:aws:sns:us-east-1:1:t"]}"#,
            "IdempotencyToken": "t3"}),
    )
    .await;
    let l = ok(
        &h,
        "ListConstraintsForPortfolio",
        json!({"PortfolioId": port_id, "ProductId": prod_id}),
    )
    .await;
    assert_eq!(
        strings(&l["ConstraintDetails"], "Type"),
        ["LAUNCH", "NOTIFICATION"]
    );
    let l = ok(
        &h,
        "ListConstraintsForPortfolio",
        json!({"PortfolioId": port_id, "ProductId": "prod-other"}),
    )
    .await;
    assert_eq!(l["ConstraintDetails"], json!([]));

    let new_params = json!({"LocalRoleName": "launch"}).to_string();
    let u = ok(
        &h,
        "UpdateConstraint",
        json!({"Id": id, "Description": "local role", "Parameters": new_params}),
    )
    .await;
    assert_eq!(u["ConstraintParameters"], new_params.as_str());
    assert_eq!(u["ConstraintDetail"]["Description"], "local role");
    let (code, _) = err(
        &h,
        "UpdateConstraint",
        json!({"Id": id, "Parameters": "{}"}),
    )
    .await;
    assert_eq!(code, "InvalidParametersException");

    // A portfolio with constraints is not deleted; the product's association goes.
    ok(
        &h,
        "DisassociateProductFromPortfolio",
        json!({"ProductId": prod_id, "PortfolioId": port_id}),
    )
    .await;
    let (code, _) = err(&h, "DeletePortfolio", json!({"Id": port_id})).await;
    assert_eq!(code, "ResourceInUseException");
    let (code, _) = err(
        &h,
        "CreateConstraint",
        json!({"PortfolioId": port_id, "ProductId": prod_id, "Type": "LAUNCH",
            "Parameters": params, "IdempotencyToken": "t4"}),
    )
    .await;
    assert_eq!(code, "ResourceNotFoundException", "not associated");
    for cid in [
        id.as_str(),
        notify["ConstraintDetail"]["ConstraintId"].as_str().unwrap(),
    ] {
        ok(&h, "DeleteConstraint", json!({"Id": cid})).await;
    }
    let (code, _) = err(&h, "DescribeConstraint", json!({"Id": id})).await;
    assert_eq!(code, "ResourceNotFoundException");
    let (code, _) = err(&h, "DeleteConstraint", json!({"Id": id})).await;
    assert_eq!(code, "ResourceNotFoundException");
    ok(&h, "DeletePortfolio", json!({"Id": port_id})).await;

    let (code, _) = err(
        &h,
        "CreateConstraint",
        json!({"PortfolioId": port_id, "ProductId": prod_id, "Type": "BOGUS",
            "Parameters": "{}", "IdempotencyToken": "t5"}),
    )
    .await;
    assert_eq!(code, "InvalidParametersException");
}
