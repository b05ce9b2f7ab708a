//! The Service Catalog test harness: a real SQLite store in a temp dir, the catalog,
//! a real `CloudFormationService` with the catalog's providers, the provisioned products
//! and the API built in the server's order, a fake `TemplateSource`, and the helpers
//! the tests share (calls, a product with a portfolio, template versions).

#![allow(dead_code, unused_imports)]

#[path = "../../../../tests/support/requests.rs"]
mod requests;
#[path = "../../../../tests/support/stacks.rs"]
mod stacks;

pub use requests::{ctx, strings, value};
pub use stacks::{create_complete, output, tag_pairs};

pub use std::collections::HashMap;
pub use std::sync::{Arc, Mutex};
pub use std::time::Duration;

pub use async_trait::async_trait;
pub use sagestack_cloudformation::{
    CloudFormationService, CreateStackInput, ServiceConfig, StackStatus, TemplateFetchError,
    TemplateSource,
};
pub use sagestack_protocol::{AwsError, JsonOutput, RequestContext};
pub use sagestack_servicecatalog::provider::{providers, register};
pub use sagestack_servicecatalog::{
    ArtifactInput, Catalog, LaunchRequest, ProvisionedProducts, ScError, Selection,
    ServiceCatalogService, UpdateParameter, UpdateRequest,
};
pub use sagestack_store::{SqliteStore, StackStore, Store};
pub use serde_json::{Value, json};

pub const ACCOUNT: &str = "123456789012";

#[derive(Default)]
pub struct FakeSource {
    objects: Mutex<HashMap<String, String>>,
}

impl FakeSource {
    pub fn put(&self, url: &str, body: &str) {
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

pub struct Harness {
    pub _dir: tempfile::TempDir,
    pub store: Arc<dyn Store>,
    pub api: Arc<ServiceCatalogService>,
    pub catalog: Arc<Catalog>,
    pub pp: Arc<ProvisionedProducts>,
    pub cfn: Arc<CloudFormationService>,
    pub source: Arc<FakeSource>,
}

/// The services in the order the server builds them: the catalog, CloudFormation with
/// the catalog's providers, the provisioned products, the API.
pub async fn harness() -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(dir.path()).await.unwrap());
    let source = Arc::new(FakeSource::default());
    let catalog = Arc::new(
        Catalog::with_system_clock(store.clone(), "us-east-1", ACCOUNT)
            .with_template_source(source.clone()),
    );
    let stacks: Arc<dyn StackStore> = store.clone();
    let config = register(
        ServiceConfig::new("us-east-1", ACCOUNT, stacks),
        catalog.clone(),
    );
    let cfn = Arc::new(CloudFormationService::new(config).unwrap());
    let pp = Arc::new(ProvisionedProducts::new(catalog.clone(), cfn.clone()));
    let api = Arc::new(ServiceCatalogService::new(catalog.clone(), pp.clone()));
    Harness {
        _dir: dir,
        store,
        api,
        catalog,
        pp,
        cfn,
        source,
    }
}

pub async fn call(h: &Harness, op: &str, input: Value) -> Result<Value, ScError> {
    h.api.handle(&ctx(), op, input).await.map(value)
}

pub async fn ok(h: &Harness, op: &str, input: Value) -> Value {
    call(h, op, input)
        .await
        .unwrap_or_else(|e| panic!("{op} failed: {} {e}", e.code()))
}

pub async fn err(h: &Harness, op: &str, input: Value) -> (String, String) {
    match call(h, op, input).await {
        Ok(v) => panic!("{op} succeeded: {v}"),
        Err(e) => (e.code().to_string(), e.to_string()),
    }
}

/// A product version from the fixture the Python tests share: the queue, its SSM
/// parameter, outputs, the parameters SageMaker passes, and `extra` resources.
pub fn product_template(version: u32, extra: &str) -> String {
    include_str!("../../../../tests/fixtures/sc-product.yaml")
        .replace("{version}", &version.to_string())
        .replace("{extra}\n", extra)
}

/// The second queue versions 2 and later add.
pub const SECOND_QUEUE: &str = "  Second:\n    Type: AWS::SQS::Queue\n";

/// A product version: [`product_template`] with a second queue from v2 on.
pub fn template(version: u32) -> String {
    product_template(version, if version >= 2 { SECOND_QUEUE } else { "" })
}

/// A portfolio resource without its required ProviderName: the stack that declares it
/// fails.
pub const BROKEN_PORTFOLIO: &str =
    "  Broken:\n    Type: AWS::ServiceCatalog::Portfolio\n    Properties: {DisplayName: broken}\n";

/// A version whose stack fails: [`product_template`] with [`BROKEN_PORTFOLIO`].
pub fn broken() -> String {
    product_template(1, BROKEN_PORTFOLIO)
}

pub async fn product_with_portfolio(h: &Harness) -> (String, String, String) {
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

/// An artifact named `name`, read from `https://bucket.s3.amazonaws.com/{name}.yaml`.
pub fn artifact(name: &str) -> ArtifactInput {
    ArtifactInput {
        name: Some(name.into()),
        info: Some(
            [(
                "LoadTemplateFromURL".to_string(),
                format!("https://bucket.s3.amazonaws.com/{name}.yaml"),
            )]
            .into(),
        ),
        ..Default::default()
    }
}

/// Creates artifact `name` (template version `version`) of a product through the API;
/// the answer.
pub async fn api_artifact(h: &Harness, product_id: &str, name: &str, version: u32) -> Value {
    api_artifact_body(h, product_id, name, &template(version)).await
}

/// Creates artifact `name` of a product from the template `body` through the API; the
/// answer.
pub async fn api_artifact_body(h: &Harness, product_id: &str, name: &str, body: &str) -> Value {
    let url = format!("https://bucket.s3.amazonaws.com/{name}.yaml");
    h.source.put(&url, body);
    ok(
        h,
        "CreateProvisioningArtifact",
        json!({"ProductId": product_id, "IdempotencyToken": name,
               "Parameters": {"Name": name, "Info": {"LoadTemplateFromURL": url}}}),
    )
    .await
}

/// A launch of `product_id` as `name` (newest active artifact, the only launch path).
pub fn launch(product_id: &str, name: &str) -> LaunchRequest {
    LaunchRequest {
        provisioned_product_name: name.into(),
        selection: Selection {
            product_id: Some(product_id.into()),
            ..Default::default()
        },
        token: "t".into(),
        ..Default::default()
    }
}

/// `req` naming this artifact and launch path.
pub fn naming(mut req: LaunchRequest, artifact: Option<&str>, path: Option<&str>) -> LaunchRequest {
    req.selection.artifact_id = artifact.map(str::to_string);
    req.selection.path_id = path.map(str::to_string);
    req
}

pub async fn wait_record(h: &Harness, id: &str) -> Value {
    for _ in 0..500 {
        let r = ok(h, "DescribeRecord", json!({"Id": id})).await;
        if r["RecordDetail"]["Status"] != "IN_PROGRESS" {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("record {id} never settled");
}
