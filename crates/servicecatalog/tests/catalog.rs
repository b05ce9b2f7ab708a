//! Service Catalog end to end inside the process: the JSON operations over the SQLite
//! store, launches run by a real `CloudFormationService` (stacks in the same store), the
//! native providers publishing products from a stack, and templates read through a fake
//! `TemplateSource`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use sagestack_cloudformation::{
    CloudFormationService, CreateStackInput, ServiceConfig, StackStatus, TemplateFetchError,
    TemplateSource,
};
use sagestack_protocol::{AwsError, JsonOutput, RequestContext};
use sagestack_servicecatalog::provider::providers;
use sagestack_servicecatalog::{
    LaunchRequest, ScError, ServiceCatalogService, UpdateParameter, UpdateRequest,
};
use sagestack_store::{SqliteStore, StackStore, Store};
use serde_json::{Value, json};

const ACCOUNT: &str = "123456789012";

#[derive(Default)]
struct FakeSource {
    objects: Mutex<HashMap<String, String>>,
}

impl FakeSource {
    fn put(&self, url: &str, body: &str) {
        self.objects
            .lock()
            .unwrap()
            .insert(url.to_string(), body.to_string());
    }
}

#[async_trait]
impl TemplateSource for FakeSource {
    async fn fetch(&self, url: &str, _limit: u64) -> Result<String, TemplateFetchError> {
        self.objects
            .lock()
            .unwrap()
            .get(url)
            .cloned()
            .ok_or_else(|| TemplateFetchError::NoSuchKey {
                bucket: "templates".into(),
                key: url.rsplit('/').next().unwrap_or_default().into(),
            })
    }
}

struct Harness {
    _dir: tempfile::TempDir,
    sc: Arc<ServiceCatalogService>,
    cfn: Arc<CloudFormationService>,
    source: Arc<FakeSource>,
}

async fn harness() -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(dir.path()).await.unwrap());
    let source = Arc::new(FakeSource::default());
    let sc = Arc::new(
        ServiceCatalogService::with_system_clock(store.clone(), "us-east-1", ACCOUNT)
            .with_template_source(source.clone()),
    );
    let stacks: Arc<dyn StackStore> = store.clone();
    let mut config = ServiceConfig::new("us-east-1", ACCOUNT, stacks);
    for (t, p) in providers(sc.clone()) {
        config = config.with_native_provider(t, p);
    }
    let cfn = Arc::new(CloudFormationService::new(config).unwrap());
    sc.attach_cloudformation(cfn.clone());
    Harness {
        _dir: dir,
        sc,
        cfn,
        source,
    }
}

fn ctx() -> RequestContext {
    RequestContext {
        request_id: "r".into(),
        region: "us-east-1".into(),
        account_id: ACCOUNT.into(),
        access_key_id: None,
    }
}

async fn call(h: &Harness, op: &str, input: Value) -> Result<Value, ScError> {
    Ok(match h.sc.handle(&ctx(), op, input).await? {
        JsonOutput::Value(v) => v,
        JsonOutput::Raw(r) => serde_json::from_str(&r).unwrap(),
    })
}

async fn ok(h: &Harness, op: &str, input: Value) -> Value {
    call(h, op, input)
        .await
        .unwrap_or_else(|e| panic!("{op} failed: {} {e}", e.code()))
}

async fn err(h: &Harness, op: &str, input: Value) -> (String, String) {
    match call(h, op, input).await {
        Ok(v) => panic!("{op} succeeded: {v}"),
        Err(e) => (e.code().to_string(), e.to_string()),
    }
}

/// A product version: a queue (and a second one from v2 on), outputs, and the parameters
/// SageMaker passes.
fn template(version: u32) -> String {
    let extra = if version >= 2 {
        "  Second:\n    Type: AWS::SQS::Queue\n"
    } else {
        ""
    };
    format!(
        r#"Parameters:
  SageMakerProjectName: {{Type: String, Default: none}}
  SageMakerProjectId: {{Type: String, Default: none}}
  Env:
    Type: String
    Default: dev
    AllowedValues: [dev, prod]
Resources:
  Queue:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: !Sub "${{SageMakerProjectName}}-${{Env}}-q"
{extra}Outputs:
  QueueUrl: {{Value: !Ref Queue}}
  Version: {{Value: "v{version}"}}
"#
    )
}

/// A version whose stack fails: a portfolio resource without its required ProviderName.
const BROKEN: &str = r#"
Parameters:
  SageMakerProjectName: {Type: String, Default: none}
  SageMakerProjectId: {Type: String, Default: none}
  Env: {Type: String, Default: dev}
Resources:
  Queue:
    Type: AWS::SQS::Queue
  Broken:
    Type: AWS::ServiceCatalog::Portfolio
    Properties:
      DisplayName: broken
"#;

async fn product_with_portfolio(h: &Harness) -> (String, String, String) {
    h.source
        .put("https://bucket.s3.amazonaws.com/v1.yaml", &template(1));
    let port = ok(
        h,
        "CreatePortfolio",
        json!({"DisplayName": "ml", "ProviderName": "platform", "IdempotencyToken": "t1"}),
    )
    .await;
    let port_id = port["PortfolioDetail"]["Id"].as_str().unwrap().to_string();
    let prod = ok(
        h,
        "CreateProduct",
        json!({
            "Name": "queue-product", "Owner": "platform", "ProductType": "CLOUD_FORMATION_TEMPLATE",
            "IdempotencyToken": "t2",
            "Tags": [{"Key": "team", "Value": "ml"}],
            "ProvisioningArtifactParameters": {
                "Name": "v1",
                "Info": {"LoadTemplateFromURL": "https://bucket.s3.amazonaws.com/v1.yaml"},
                "Type": "CLOUD_FORMATION_TEMPLATE"
            }
        }),
    )
    .await;
    let prod_id = prod["ProductViewDetail"]["ProductViewSummary"]["ProductId"]
        .as_str()
        .unwrap()
        .to_string();
    let pa = prod["ProvisioningArtifactDetail"]["Id"]
        .as_str()
        .unwrap()
        .to_string();
    ok(
        h,
        "AssociateProductWithPortfolio",
        json!({"ProductId": prod_id, "PortfolioId": port_id}),
    )
    .await;
    (port_id, prod_id, pa)
}

async fn wait_record(h: &Harness, id: &str) -> Value {
    for _ in 0..500 {
        let r = ok(h, "DescribeRecord", json!({"Id": id})).await;
        if r["RecordDetail"]["Status"] != "IN_PROGRESS" {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("record {id} never settled");
}

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
    h.source
        .put("https://bucket.s3.amazonaws.com/v2.yaml", &template(2));
    let a2 = ok(
        &h,
        "CreateProvisioningArtifact",
        json!({"ProductId": prod_id, "IdempotencyToken": "t3",
               "Parameters": {"Name": "v2", "Info": {"LoadTemplateFromURL": "https://bucket.s3.amazonaws.com/v2.yaml"}}}),
    )
    .await;
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
    let keys: Vec<&str> = d["ProvisioningArtifactParameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["ParameterKey"].as_str().unwrap())
        .collect();
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
    let (code, msg) = err(
        &h,
        "CreateProvisioningArtifact",
        json!({"ProductId": prod_id, "IdempotencyToken": "t",
               "Parameters": {"Name": "v9", "Info": {"LoadTemplateFromURL": "https://bucket.s3.amazonaws.com/missing.yaml"}}}),
    )
    .await;
    assert_eq!(code, "InvalidParametersException");
    assert!(msg.contains("does not exist"), "{msg}");
    h.source.put(
        "https://bucket.s3.amazonaws.com/bad.yaml",
        "Resources:\n  Q:\n    Properties: {}\n",
    );
    let (code, msg) = err(
        &h,
        "CreateProvisioningArtifact",
        json!({"ProductId": prod_id, "IdempotencyToken": "t",
               "Parameters": {"Name": "v9", "Info": {"LoadTemplateFromURL": "https://bucket.s3.amazonaws.com/bad.yaml"}}}),
    )
    .await;
    assert_eq!(code, "InvalidParametersException");
    assert!(msg.starts_with("Invalid templateBody."), "{msg}");
    let (code, _) = err(
        &h,
        "CreateProvisioningArtifact",
        json!({"ProductId": prod_id, "IdempotencyToken": "t",
               "Parameters": {"Name": "v1", "Info": {"LoadTemplateFromURL": "https://bucket.s3.amazonaws.com/v1.yaml"}}}),
    )
    .await;
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
    h.source
        .put("https://bucket.s3.amazonaws.com/v2.yaml", &template(2));
    let a2 = ok(
        &h,
        "CreateProvisioningArtifact",
        json!({"ProductId": prod_id, "IdempotencyToken": "t3",
               "Parameters": {"Name": "v2", "Info": {"LoadTemplateFromURL": "https://bucket.s3.amazonaws.com/v2.yaml"}}}),
    )
    .await;
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
    let launch = |name: &str| LaunchRequest {
        provisioned_product_name: name.into(),
        product_id: Some(prod_id.clone()),
        token: "t".into(),
        ..Default::default()
    };
    // Unknown product, unknown artifact, bad parameter values, unknown parameters.
    let e =
        h.sc.provision_and_wait(LaunchRequest {
            product_id: Some("prod-nothere00000".into()),
            ..launch("a")
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), "ResourceNotFoundException");
    let e =
        h.sc.provision_and_wait(LaunchRequest {
            artifact_id: Some("pa-nothere0000000".into()),
            ..launch("a")
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), "ResourceNotFoundException");
    let e =
        h.sc.provision_and_wait(LaunchRequest {
            parameters: vec![("Env".into(), "staging".into())],
            ..launch("a")
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), "InvalidParametersException");
    assert!(e.to_string().contains("Env"), "{e}");
    let e =
        h.sc.provision_and_wait(LaunchRequest {
            parameters: vec![("Nope".into(), "x".into())],
            ..launch("a")
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), "InvalidParametersException");
    assert!(e.to_string().contains("Nope"), "{e}");
    // An inactive artifact is refused; without one named, the newest active is used.
    h.source
        .put("https://bucket.s3.amazonaws.com/v2.yaml", &template(2));
    let a2 =
        h.sc.create_artifact(
            &prod_id,
            sagestack_servicecatalog::service::ArtifactInput {
                name: Some("v2".into()),
                info: Some(
                    [(
                        "LoadTemplateFromURL".to_string(),
                        "https://bucket.s3.amazonaws.com/v2.yaml".to_string(),
                    )]
                    .into(),
                ),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    h.sc.update_artifact(sagestack_servicecatalog::service::UpdateArtifactInput {
        product_id: prod_id.clone(),
        provisioning_artifact_id: a2.id.clone(),
        active: Some(false),
        ..Default::default()
    })
    .await
    .unwrap();
    let e =
        h.sc.provision_and_wait(LaunchRequest {
            artifact_id: Some(a2.id.clone()),
            ..launch("a")
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), "InvalidParametersException");
    assert!(e.to_string().contains("not active"), "{e}");
    let r = h.sc.provision_and_wait(launch("latest")).await.unwrap();
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
    let e = h.sc.provision_and_wait(launch("b")).await.unwrap_err();
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
        h.sc.provision_and_wait(LaunchRequest {
            path_id: Some(second.clone()),
            ..launch("b")
        })
        .await
        .unwrap();
    assert_eq!(r.path_id, second);

    // A stack that fails: the provisioned product is ERROR with the reason.
    h.source
        .put("https://bucket.s3.amazonaws.com/broken.yaml", BROKEN);
    let broken =
        h.sc.create_artifact(
            &prod_id,
            sagestack_servicecatalog::service::ArtifactInput {
                name: Some("broken".into()),
                info: Some(
                    [(
                        "LoadTemplateFromURL".to_string(),
                        "https://bucket.s3.amazonaws.com/broken.yaml".to_string(),
                    )]
                    .into(),
                ),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let r =
        h.sc.provision_and_wait(LaunchRequest {
            artifact_id: Some(broken.id.clone()),
            path_id: Some(second.clone()),
            ..launch("c")
        })
        .await
        .unwrap();
    assert_eq!(r.status, "FAILED");
    assert!(
        r.record_errors[0].description.contains("ProviderName"),
        "{r:?}"
    );
    let pp = h.sc.provisioned_by(None, Some("c")).await.unwrap();
    assert_eq!(pp.status, "ERROR");
    assert!(pp.status_message.unwrap().contains("ProviderName"));
    // Its stack rolled back: an update is refused by the stack and changes nothing.
    let r =
        h.sc.update_provisioned_and_wait(UpdateRequest {
            provisioned_product_id: Some(pp.id.clone()),
            artifact_id: Some(pa1.clone()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(r.status, "FAILED");
    assert!(
        r.record_errors[0]
            .description
            .contains("can not be updated"),
        "{r:?}"
    );
    let still = h.sc.provisioned(&pp.id).await.unwrap();
    assert_eq!(still.status, "ERROR");
    assert_eq!(still.provisioning_artifact_id, broken.id);
    assert!(still.status_message.unwrap().contains("ProviderName"));
    let r = h.sc.terminate_and_wait(&pp.id, false).await.unwrap();
    assert_eq!(r.status, "SUCCEEDED");

    // An update that fails rolls back: TAINTED, still at the old artifact.
    let pp = h.sc.provisioned_by(None, Some("b")).await.unwrap();
    let r =
        h.sc.update_provisioned_and_wait(UpdateRequest {
            provisioned_product_id: Some(pp.id.clone()),
            artifact_id: Some(broken.id.clone()),
            parameters: vec![UpdateParameter {
                key: "Env".into(),
                value: None,
                use_previous_value: true,
            }],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(r.status, "FAILED");
    let after = h.sc.provisioned(&pp.id).await.unwrap();
    assert_eq!(after.status, "TAINTED");
    assert_eq!(after.provisioning_artifact_id, pa1);
    assert!(after.status_message.unwrap().contains("ProviderName"));
    // A tainted product can be updated again (back to a good version).
    let r =
        h.sc.update_provisioned_and_wait(UpdateRequest {
            provisioned_product_id: Some(pp.id.clone()),
            artifact_id: Some(pa1.clone()),
            parameters: vec![UpdateParameter {
                key: "Env".into(),
                value: Some("prod".into()),
                use_previous_value: false,
            }],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(r.status, "SUCCEEDED", "{r:?}");
    assert_eq!(h.sc.provisioned(&pp.id).await.unwrap().status, "AVAILABLE");
}

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stack_publishes_real_products() {
    let h = harness().await;
    h.source
        .put("https://b.s3.amazonaws.com/v1.yaml", &template(1));
    h.source
        .put("https://b.s3.amazonaws.com/v2.yaml", &template(2));
    let stack = h
        .cfn
        .create_stack_and_wait(CreateStackInput {
            stack_name: "publisher".into(),
            template_body: PUBLISHING.into(),
            parameters: [(
                "TemplateUrl".to_string(),
                "https://b.s3.amazonaws.com/v1.yaml".to_string(),
            )]
            .into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        stack.status,
        StackStatus::CreateComplete,
        "{:?}",
        stack.status_reason
    );
    let out = |k: &str| {
        stack
            .outputs
            .iter()
            .find(|o| o.key == k)
            .unwrap()
            .value
            .clone()
    };
    let prod_id = out("ProductId");
    assert!(prod_id.starts_with("prod-"));
    assert_eq!(out("Name"), "published-product");
    let p = ok(&h, "DescribeProduct", json!({"Id": prod_id})).await;
    assert_eq!(p["LaunchPaths"][0]["Name"], "published");
    // Launch it.
    let r =
        h.sc.provision_and_wait(LaunchRequest {
            provisioned_product_name: "from-stack".into(),
            product_id: Some(prod_id.clone()),
            token: "t".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(r.status, "SUCCEEDED");
    // A second version through a stack update.
    let stack = h
        .cfn
        .update_stack_and_wait(sagestack_cloudformation::UpdateStackInput {
            stack_name: "publisher".into(),
            template_body: Some(PUBLISHING.into()),
            parameters: [
                (
                    "TemplateUrl".to_string(),
                    "https://b.s3.amazonaws.com/v1.yaml".to_string(),
                ),
                (
                    "ExtraUrl".to_string(),
                    "https://b.s3.amazonaws.com/v2.yaml".to_string(),
                ),
            ]
            .into(),
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
    let product = h.sc.product(&prod_id).await.unwrap();
    let names: Vec<&str> = product.artifacts.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["v1", "v2"]);
    h.sc.terminate_and_wait(
        &h.sc
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
        h.sc.product(&prod_id).await.unwrap_err().code(),
        "ResourceNotFoundException"
    );
    let l = ok(&h, "ListPortfolios", json!({})).await;
    assert!(l["PortfolioDetails"].as_array().unwrap().is_empty());
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
    let store: Arc<dyn Store> = h.sc.store_handle();
    let (_port, prod_id, _pa1) = product_with_portfolio(&h).await;
    let launch = |name: &str| LaunchRequest {
        provisioned_product_name: name.into(),
        product_id: Some(prod_id.clone()),
        token: "t".into(),
        ..Default::default()
    };
    // A launch whose stack completed but whose settling was lost.
    let done = h.sc.provision_and_wait(launch("finished")).await.unwrap();
    // A launch that died before its stack was created.
    let lost = h.sc.provision_and_wait(launch("lost")).await.unwrap();
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
    assert_eq!(h.sc.recover().await.unwrap(), 2);
    let settled = h.sc.wait_record(&done.record_id).await.unwrap();
    assert_eq!(settled.status, "SUCCEEDED");
    assert_eq!(
        h.sc.provisioned_by(None, Some("finished"))
            .await
            .unwrap()
            .status,
        "AVAILABLE"
    );
    let settled = h.sc.wait_record(&lost.record_id).await.unwrap();
    assert_eq!(settled.status, "FAILED");
    let pp = h.sc.provisioned_by(None, Some("lost")).await.unwrap();
    assert_eq!(pp.status, "ERROR");
    assert!(pp.status_message.unwrap().contains("interrupted"));
    assert_eq!(h.sc.recover().await.unwrap(), 0, "nothing left in progress");
}

fn project(name: &str, details: Value) -> sagestack_sagemaker::Project {
    sagestack_sagemaker::Project {
        project_arn: format!("arn:aws:sagemaker:us-east-1:{ACCOUNT}:project/{name}"),
        project_name: name.into(),
        project_id: format!("p-{name}0000000"),
        project_description: None,
        service_catalog_provisioning_details: Some(details),
        service_catalog_provisioned_product_details: None,
        project_status: sagestack_sagemaker::ProjectStatus::Pending,
        template_provider_details: None,
        created_by: None,
        creation_time: 0.0,
        last_modified_time: None,
        last_modified_by: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn projects_provision_update_and_terminate_products() {
    use sagestack_servicecatalog::ProjectLauncher;
    let h = harness().await;
    let (_port, prod_id, pa1) = product_with_portfolio(&h).await;
    let launcher = ProjectLauncher::new(h.sc.clone());

    // Created without an artifact: the newest active one, with SageMaker's parameters.
    let mut p = project(
        "mlops",
        json!({"ProductId": prod_id, "ProvisioningParameters": [{"Key": "Env", "Value": "prod"}]}),
    );
    let out = launcher.provision(&p).await;
    assert!(out.succeeded, "{out:?}");
    assert_eq!(out.details["ProvisionedProductStatusMessage"], "AVAILABLE");
    let pp_id = out.details["ProvisionedProductId"]
        .as_str()
        .unwrap()
        .to_string();
    let stack = h
        .cfn
        .describe_stack(&format!("SC-{ACCOUNT}-{pp_id}"))
        .await
        .unwrap();
    assert_eq!(stack.template.parameters["SageMakerProjectName"], "mlops");
    assert_eq!(
        stack.template.parameters["SageMakerProjectId"],
        p.project_id
    );
    assert_eq!(stack.template.parameters["Env"], "prod");
    assert!(
        stack
            .tags
            .contains(&("sagemaker:project-name".to_string(), "mlops".to_string()))
    );
    // Provisioning again (a retry after a crash) adopts what exists.
    let again = launcher.provision(&p).await;
    assert!(again.succeeded);
    assert_eq!(again.details["ProvisionedProductId"], pp_id.as_str());

    // Update to a new artifact and parameter.
    h.source
        .put("https://bucket.s3.amazonaws.com/v2.yaml", &template(2));
    let a2 = ok(
        &h,
        "CreateProvisioningArtifact",
        json!({"ProductId": prod_id, "IdempotencyToken": "t3",
               "Parameters": {"Name": "v2", "Info": {"LoadTemplateFromURL": "https://bucket.s3.amazonaws.com/v2.yaml"}}}),
    )
    .await["ProvisioningArtifactDetail"]["Id"]
        .as_str()
        .unwrap()
        .to_string();
    p.service_catalog_provisioning_details = Some(json!({
        "ProductId": prod_id, "ProvisioningArtifactId": a2,
        "ProvisioningParameters": [{"Key": "Env", "Value": "dev"}]
    }));
    let out = launcher.update(&p).await;
    assert!(out.succeeded, "{out:?}");
    let pp = h.sc.provisioned(&pp_id).await.unwrap();
    assert_eq!(pp.provisioning_artifact_id, a2);
    assert_eq!(pp.parameters["Env"], "dev");
    // The same update again changes nothing and succeeds.
    assert!(launcher.update(&p).await.succeeded);

    // A bad parameter: the update is refused, the product stays as it was.
    let mut bad = p.clone();
    bad.service_catalog_provisioning_details = Some(json!({
        "ProductId": prod_id, "ProvisioningArtifactId": a2,
        "ProvisioningParameters": [{"Key": "Env", "Value": "staging"}]
    }));
    let out = launcher.update(&bad).await;
    assert!(!out.succeeded);
    assert!(
        out.details["ProvisionedProductStatusMessage"]
            .as_str()
            .unwrap()
            .contains("Env"),
        "{out:?}"
    );
    assert_eq!(h.sc.provisioned(&pp_id).await.unwrap().status, "AVAILABLE");

    // Terminate; terminating again is a success.
    let out = launcher.terminate(&p).await;
    assert!(out.succeeded, "{out:?}");
    assert!(h.sc.provisioned(&pp_id).await.is_err());
    assert!(launcher.terminate(&p).await.succeeded);

    // Refusals carry the reason and no id.
    let out = launcher
        .provision(&project("nope", json!({"ProductId": "prod-nothere00000"})))
        .await;
    assert!(!out.succeeded);
    assert_eq!(
        out.details,
        json!({"ProvisionedProductStatusMessage": "Product prod-nothere00000 not found."})
    );
    let out = launcher
        .provision(&project(
            "inactive",
            json!({"ProductId": prod_id, "ProvisioningArtifactId": "pa-nothere0000000"}),
        ))
        .await;
    assert!(!out.succeeded);
    // A stack that fails: ERROR with the reason, and the id to look at.
    h.source
        .put("https://bucket.s3.amazonaws.com/broken.yaml", BROKEN);
    let broken = ok(
        &h,
        "CreateProvisioningArtifact",
        json!({"ProductId": prod_id, "IdempotencyToken": "t4",
               "Parameters": {"Name": "broken", "Info": {"LoadTemplateFromURL": "https://bucket.s3.amazonaws.com/broken.yaml"}}}),
    )
    .await["ProvisioningArtifactDetail"]["Id"]
        .as_str()
        .unwrap()
        .to_string();
    let _ = pa1;
    let fails = project(
        "fails",
        json!({"ProductId": prod_id, "ProvisioningArtifactId": broken}),
    );
    let out = launcher.provision(&fails).await;
    assert!(!out.succeeded);
    let msg = out.details["ProvisionedProductStatusMessage"]
        .as_str()
        .unwrap();
    assert!(
        msg.starts_with("ERROR: ") && msg.contains("ProviderName"),
        "{msg}"
    );
    assert!(
        out.details["ProvisionedProductId"]
            .as_str()
            .unwrap()
            .starts_with("pp-")
    );
    assert!(launcher.terminate(&fails).await.succeeded);
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
    let portfolios = PortfolioProvider::new(h.sc.clone());
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
    let products = ProductProvider::new(h.sc.clone());
    let found = products
        .find_interrupted_create(
            &ctx("Q", "AWS::ServiceCatalog::CloudFormationProduct"),
            &json!({"Name": "queue-product", "Owner": "platform"}),
            before,
        )
        .await
        .unwrap();
    assert_eq!(found.map(|s| s.physical_id), Some(prod_id.clone()));
    let assoc = AssociationProvider::new(h.sc.clone());
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
