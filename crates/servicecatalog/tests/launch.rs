//! Provisioned products end to end: provision, update and terminate through the API
//! and the `*_and_wait` forms, their error paths, and the recovery of operations a
//! previous process left in progress.

mod common;

use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provision_update_terminate_through_the_api() {
    let h = harness().await;
    let (_port, prod_id, pa1) = product_with_portfolio(&h).await;
    let r = ok(
        &h,
        "ProvisionProduct",
        json!({"ProductId": prod_id, "ProvisioningArtifactId": pa1, "ProvisionedProductName": "web",
               "ProvisionToken": "p1",
               "ProvisioningParameters": [{"Key": "Env", "Value": "prod"}, {"Key": "SageMakerProjectName", "Value": "proj"}]}),
    )
    .await;
    let rec = r["RecordDetail"]["RecordId"].as_str().unwrap().to_string();
    let pp_id = r["RecordDetail"]["ProvisionedProductId"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(rec.starts_with("rec-") && pp_id.starts_with("pp-"));
    assert_eq!(r["RecordDetail"]["RecordType"], "PROVISION_PRODUCT");
    let done = wait_record(&h, &rec).await;
    assert_eq!(done["RecordDetail"]["Status"], "SUCCEEDED", "{done}");
    let outputs = done["RecordOutputs"].as_array().unwrap();
    assert!(
        outputs
            .iter()
            .any(|o| o["OutputKey"] == "Version" && o["OutputValue"] == "v1")
    );
    let stack_name = format!("SC-{ACCOUNT}-{pp_id}");
    let stack = h.cfn.describe_stack(&stack_name).await.unwrap();
    assert_eq!(stack.status, StackStatus::CreateComplete);
    assert_eq!(stack.template.parameters["Env"], "prod");
    let pp = ok(&h, "DescribeProvisionedProduct", json!({"Name": "web"})).await;
    assert_eq!(pp["ProvisionedProductDetail"]["Status"], "AVAILABLE");
    assert_eq!(
        pp["ProvisionedProductDetail"]["LastSuccessfulProvisioningRecordId"],
        rec
    );

    // The same name again: DuplicateResourceException.
    let (code, _) = err(
        &h,
        "ProvisionProduct",
        json!({"ProductId": prod_id, "ProvisioningArtifactId": pa1, "ProvisionedProductName": "web", "ProvisionToken": "p2"}),
    )
    .await;
    assert_eq!(code, "DuplicateResourceException");

    // Update to v2, keeping the previous parameters.
    let a2 = api_artifact(&h, &prod_id, "v2", 2).await;
    let pa2 = a2["ProvisioningArtifactDetail"]["Id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = ok(
        &h,
        "UpdateProvisionedProduct",
        json!({"ProvisionedProductId": pp_id, "ProvisioningArtifactId": pa2, "UpdateToken": "u1"}),
    )
    .await;
    let rec2 = r["RecordDetail"]["RecordId"].as_str().unwrap().to_string();
    let done = wait_record(&h, &rec2).await;
    assert_eq!(done["RecordDetail"]["Status"], "SUCCEEDED", "{done}");
    let stack = h.cfn.describe_stack(&stack_name).await.unwrap();
    assert_eq!(stack.status, StackStatus::UpdateComplete);
    assert_eq!(stack.template.parameters["Env"], "prod");
    let pp = ok(&h, "DescribeProvisionedProduct", json!({"Id": pp_id})).await;
    assert_eq!(
        pp["ProvisionedProductDetail"]["ProvisioningArtifactId"],
        pa2
    );

    // Search and scan.
    let s = ok(
        &h,
        "SearchProvisionedProducts",
        json!({"Filters": {"SearchQuery": ["name:web"]}}),
    )
    .await;
    assert_eq!(s["TotalResultsCount"], 1);
    assert_eq!(s["ProvisionedProducts"][0]["ProductName"], "queue-product");
    assert_eq!(
        s["ProvisionedProducts"][0]["ProvisioningArtifactName"],
        "v2"
    );
    let s = ok(&h, "ScanProvisionedProducts", json!({})).await;
    assert_eq!(s["ProvisionedProducts"].as_array().unwrap().len(), 1);

    // Terminate.
    let r = ok(
        &h,
        "TerminateProvisionedProduct",
        json!({"ProvisionedProductName": "web", "TerminateToken": "x"}),
    )
    .await;
    let rec3 = r["RecordDetail"]["RecordId"].as_str().unwrap().to_string();
    let done = wait_record(&h, &rec3).await;
    assert_eq!(done["RecordDetail"]["Status"], "SUCCEEDED");
    assert!(h.cfn.describe_stack(&stack_name).await.is_err());
    let (code, _) = err(&h, "DescribeProvisionedProduct", json!({"Id": pp_id})).await;
    assert_eq!(code, "ResourceNotFoundException");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn launch_error_paths() {
    let h = harness().await;
    let (_port, prod_id, pa1) = product_with_portfolio(&h).await;
    let launch = |name: &str| launch(&prod_id, name);
    // Unknown product, unknown artifact, bad parameter values, unknown parameters.
    let parameters = |key: &str, value: &str| LaunchRequest {
        parameters: vec![(key.into(), value.into())],
        ..launch("a")
    };
    let mut unknown_product = launch("a");
    unknown_product.selection.product_id = Some("prod-nothere00000".into());
    let cases = [
        (unknown_product, "ResourceNotFoundException", None),
        (
            naming(launch("a"), Some("pa-nothere0000000"), None),
            "ResourceNotFoundException",
            None,
        ),
        (
            parameters("Env", "staging"),
            "InvalidParametersException",
            Some("Env"),
        ),
        (
            parameters("Nope", "x"),
            "InvalidParametersException",
            Some("Nope"),
        ),
    ];
    for (req, code, mention) in cases {
        let e = h.pp.provision_and_wait(req).await.unwrap_err();
        assert_eq!(e.code(), code);
        if let Some(m) = mention {
            assert!(e.to_string().contains(m), "{e}");
        }
    }
    // An inactive artifact is refused; without one named, the newest active is used.
    h.source
        .put("https://bucket.s3.amazonaws.com/v2.yaml", &template(2));
    let a2 = h
        .catalog
        .create_artifact(&prod_id, artifact("v2"))
        .await
        .unwrap();
    h.catalog
        .update_artifact(sagestack_servicecatalog::UpdateArtifactInput {
            product_id: prod_id.clone(),
            provisioning_artifact_id: a2.id.clone(),
            active: Some(false),
            ..Default::default()
        })
        .await
        .unwrap();
    let e =
        h.pp.provision_and_wait(naming(launch("a"), Some(&a2.id), None))
            .await
            .unwrap_err();
    assert_eq!(e.code(), "InvalidParametersException");
    assert!(e.to_string().contains("not active"), "{e}");
    let r = h.pp.provision_and_wait(launch("latest")).await.unwrap();
    assert_eq!(r.status, "SUCCEEDED");
    assert_eq!(r.provisioning_artifact_id, pa1, "v2 is inactive");

    // Several launch paths: one must be named.
    let port2 = ok(
        &h,
        "CreatePortfolio",
        json!({"DisplayName": "second", "ProviderName": "p", "IdempotencyToken": "t9"}),
    )
    .await["PortfolioDetail"]["Id"]
        .as_str()
        .unwrap()
        .to_string();
    ok(
        &h,
        "AssociateProductWithPortfolio",
        json!({"ProductId": prod_id, "PortfolioId": port2}),
    )
    .await;
    let e = h.pp.provision_and_wait(launch("b")).await.unwrap_err();
    assert_eq!(e.code(), "InvalidParametersException");
    assert!(e.to_string().contains("launch paths"), "{e}");
    let paths = ok(&h, "ListLaunchPaths", json!({"ProductId": prod_id})).await;
    let second = paths["LaunchPathSummaries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["Name"] == "second")
        .unwrap()["Id"]
        .as_str()
        .unwrap()
        .to_string();
    let r =
        h.pp.provision_and_wait(naming(launch("b"), None, Some(&second)))
            .await
            .unwrap();
    assert_eq!(r.path_id, second);

    // A stack that fails: the provisioned product is ERROR with the reason.
    h.source
        .put("https://bucket.s3.amazonaws.com/broken.yaml", &broken());
    let broken = h
        .catalog
        .create_artifact(&prod_id, artifact("broken"))
        .await
        .unwrap();
    let r =
        h.pp.provision_and_wait(naming(launch("c"), Some(&broken.id), Some(&second)))
            .await
            .unwrap();
    assert_eq!(r.status, "FAILED");
    assert!(
        r.record_errors[0].description.contains("ProviderName"),
        "{r:?}"
    );
    let pp = h.pp.provisioned_by(None, Some("c")).await.unwrap();
    assert_eq!(pp.status, "ERROR");
    assert!(pp.status_message.unwrap().contains("ProviderName"));
    // Its stack rolled back: an update is refused by the stack and changes nothing.
    let r =
        h.pp.update_provisioned_and_wait(update_to(&pp.id, &pa1, Vec::new()))
            .await
            .unwrap();
    assert_eq!(r.status, "FAILED");
    assert!(
        r.record_errors[0]
            .description
            .contains("can not be updated"),
        "{r:?}"
    );
    let still = h.pp.provisioned(&pp.id).await.unwrap();
    assert_eq!(still.status, "ERROR");
    assert_eq!(still.provisioning_artifact_id, broken.id);
    assert!(still.status_message.unwrap().contains("ProviderName"));
    let r = h.pp.terminate_and_wait(&pp.id, false).await.unwrap();
    assert_eq!(r.status, "SUCCEEDED");

    // An update that fails rolls back: TAINTED, still at the old artifact.
    let pp = h.pp.provisioned_by(None, Some("b")).await.unwrap();
    let r =
        h.pp.update_provisioned_and_wait(update_to(
            &pp.id,
            &broken.id,
            vec![UpdateParameter {
                key: "Env".into(),
                value: None,
                use_previous_value: true,
            }],
        ))
        .await
        .unwrap();
    assert_eq!(r.status, "FAILED");
    let after = h.pp.provisioned(&pp.id).await.unwrap();
    assert_eq!(after.status, "TAINTED");
    assert_eq!(after.provisioning_artifact_id, pa1);
    assert!(after.status_message.unwrap().contains("ProviderName"));
    // A tainted product can be updated again (back to a good version).
    let r =
        h.pp.update_provisioned_and_wait(update_to(
            &pp.id,
            &pa1,
            vec![UpdateParameter {
                key: "Env".into(),
                value: Some("prod".into()),
                use_previous_value: false,
            }],
        ))
        .await
        .unwrap();
    assert_eq!(r.status, "SUCCEEDED", "{r:?}");
    assert_eq!(h.pp.provisioned(&pp.id).await.unwrap().status, "AVAILABLE");
}

/// An update of `pp_id` to artifact `artifact` with these parameters.
fn update_to(pp_id: &str, artifact: &str, parameters: Vec<UpdateParameter>) -> UpdateRequest {
    UpdateRequest {
        provisioned_product_id: Some(pp_id.into()),
        selection: Selection {
            artifact_id: Some(artifact.into()),
            ..Default::default()
        },
        parameters,
        ..Default::default()
    }
}

/// Rewrites a stored document as a crashed process would have left it.
async fn rewrite<T: serde::Serialize + serde::de::DeserializeOwned>(
    store: &dyn Store,
    kind: sagestack_store::CatalogKind,
    id: &str,
    change: impl FnOnce(&mut T),
) {
    let r = store.catalog_get(kind, id).await.unwrap().unwrap();
    let mut v: T = serde_json::from_str(&r.document).unwrap();
    change(&mut v);
    let next = sagestack_store::CatalogRecord {
        version: r.version + 1,
        document: Arc::from(serde_json::to_string(&v).unwrap()),
        ..r.clone()
    };
    store.catalog_update(kind, &next, r.version).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupted_operations_are_settled_on_recovery() {
    use sagestack_servicecatalog::{ProvisionedProduct, Record};
    use sagestack_store::CatalogKind;
    let h = harness().await;
    let store: Arc<dyn Store> = h.catalog.store_handle();
    let (_port, prod_id, _pa1) = product_with_portfolio(&h).await;
    let launch = |name: &str| launch(&prod_id, name);
    // A launch whose stack completed but whose settling was lost.
    let done = h.pp.provision_and_wait(launch("finished")).await.unwrap();
    // A launch that died before its stack was created.
    let lost = h.pp.provision_and_wait(launch("lost")).await.unwrap();
    for (r, pp_name) in [(&done, "finished"), (&lost, "lost")] {
        rewrite::<Record>(store.as_ref(), CatalogKind::Record, &r.record_id, |rec| {
            rec.status = "IN_PROGRESS".into();
        })
        .await;
        rewrite::<ProvisionedProduct>(
            store.as_ref(),
            CatalogKind::ProvisionedProduct,
            &r.provisioned_product_id,
            |pp| {
                pp.status = "UNDER_CHANGE".into();
                if pp_name == "lost" {
                    pp.stack_id = None;
                    pp.stack_name = format!("SC-{ACCOUNT}-pp-neverlaunched0");
                }
            },
        )
        .await;
    }
    assert_eq!(h.pp.recover().await.unwrap(), 2);
    let settled = h.pp.wait_record(&done.record_id).await.unwrap();
    assert_eq!(settled.status, "SUCCEEDED");
    assert_eq!(
        h.pp.provisioned_by(None, Some("finished"))
            .await
            .unwrap()
            .status,
        "AVAILABLE"
    );
    let settled = h.pp.wait_record(&lost.record_id).await.unwrap();
    assert_eq!(settled.status, "FAILED");
    let pp = h.pp.provisioned_by(None, Some("lost")).await.unwrap();
    assert_eq!(pp.status, "ERROR");
    assert!(pp.status_message.unwrap().contains("interrupted"));
    assert_eq!(h.pp.recover().await.unwrap(), 0, "nothing left in progress");
}
