//! SageMaker projects from Service Catalog products, in process: the SageMaker API
//! (CreateProject / UpdateProject / DeleteProject with Service Catalog details), the
//! project provisioner with this crate's `ProjectLauncher` as its Service Catalog backend,
//! the Service Catalog service and a real `CloudFormationService`, all over one SQLite
//! store; templates come from a fake `TemplateSource`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use sagestack_cloudformation::{
    CloudFormationService, ServiceConfig, StackStatus, TemplateFetchError, TemplateSource,
};
use sagestack_protocol::{JsonOutput, RequestContext};
use sagestack_provisioning::{ProjectProvisioner, ProvisionerParts, ProvisioningConfig};
use sagestack_sagemaker::{ModelPackageGroups, Projects, SageMakerService, SystemClock};
use sagestack_servicecatalog::provider::providers;
use sagestack_servicecatalog::{ProjectLauncher, ServiceCatalogService};
use sagestack_store::{SqliteStore, StackStore, Store};
use serde_json::{Value, json};

const ACCOUNT: &str = "123456789012";

#[derive(Default)]
struct FakeSource(Mutex<HashMap<String, String>>);

#[async_trait]
impl TemplateSource for FakeSource {
    async fn fetch(&self, url: &str, _limit: u64) -> Result<String, TemplateFetchError> {
        self.0
            .lock()
            .unwrap()
            .get(url)
            .cloned()
            .ok_or_else(|| TemplateFetchError::InvalidUrl(format!("unknown {url}")))
    }
}

struct Harness {
    _dir: tempfile::TempDir,
    sm: Arc<SageMakerService>,
    sc: Arc<ServiceCatalogService>,
    cfn: Arc<CloudFormationService>,
    source: Arc<FakeSource>,
    _provisioner: ProjectProvisioner,
}

async fn harness() -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(dir.path()).await.unwrap());
    let source = Arc::new(FakeSource::default());
    let sc = Arc::new(
        ServiceCatalogService::with_system_clock(store.clone(), "us-east-1", ACCOUNT)
            .with_template_source(source.clone()),
    );
    let projects = Arc::new(Projects::new(store.clone(), Arc::new(SystemClock)));
    let groups = Arc::new(ModelPackageGroups::new(
        store.clone(),
        Arc::new(SystemClock),
    ));
    let stacks: Arc<dyn StackStore> = store.clone();
    let mut config = ServiceConfig::new("us-east-1", ACCOUNT, stacks);
    for (t, p) in providers(sc.clone()) {
        config = config.with_native_provider(t, p);
    }
    let cfn = Arc::new(CloudFormationService::new(config).unwrap());
    sc.attach_cloudformation(cfn.clone());
    let provisioner = ProjectProvisioner::new(ProvisionerParts {
        config: ProvisioningConfig {
            concurrency: 8,
            deleted_retention: Duration::from_secs(60),
        },
        source: Some(source.clone() as Arc<dyn TemplateSource>),
        service_catalog: Some(Arc::new(ProjectLauncher::new(sc.clone()))),
        projects: projects.clone(),
        cloudformation: cfn.clone(),
    });
    provisioner.start(true).await.unwrap();
    let sm = Arc::new(SageMakerService::new(
        projects,
        groups,
        Arc::new(provisioner.clone()),
    ));
    Harness {
        _dir: dir,
        sm,
        sc,
        cfn,
        source,
        _provisioner: provisioner,
    }
}

fn ctx() -> RequestContext {
    RequestContext {
        request_id: "r".into(),
        region: "us-east-1".into(),
        account_id: ACCOUNT.into(),
        access_key_id: Some("AKIDTEST".into()),
    }
}

fn value(out: JsonOutput) -> Value {
    match out {
        JsonOutput::Value(v) => v,
        JsonOutput::Raw(s) => serde_json::from_str(&s).unwrap(),
    }
}

impl Harness {
    async fn sm(&self, op: &str, input: Value) -> Value {
        value(self.sm.handle(&ctx(), op, input).await.unwrap())
    }

    async fn sc(&self, op: &str, input: Value) -> Value {
        value(self.sc.handle(&ctx(), op, input).await.unwrap())
    }

    async fn wait(&self, name: &str, states: &[&str]) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let p = self
                .sm("DescribeProject", json!({"ProjectName": name}))
                .await;
            if states.iter().any(|s| p["ProjectStatus"] == *s) {
                return p;
            }
            assert!(Instant::now() < deadline, "stuck: {p}");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    async fn artifact(&self, prod: &str, name: &str, body: &str) -> String {
        let url = format!("https://b.s3.amazonaws.com/{name}.yaml");
        self.source
            .0
            .lock()
            .unwrap()
            .insert(url.clone(), body.into());
        self.sc(
            "CreateProvisioningArtifact",
            json!({"ProductId": prod, "IdempotencyToken": name,
                   "Parameters": {"Name": name, "Info": {"LoadTemplateFromURL": url}}}),
        )
        .await["ProvisioningArtifactDetail"]["Id"]
            .as_str()
            .unwrap()
            .to_string()
    }
}

fn template(version: u32, fail: bool) -> String {
    let mut extra = String::new();
    if version >= 2 {
        extra.push_str("  Second:\n    Type: AWS::SQS::Queue\n");
    }
    if fail {
        extra.push_str("  Broken:\n    Type: AWS::ServiceCatalog::Portfolio\n    Properties: {DisplayName: x}\n");
    }
    format!(
        "Parameters:\n  SageMakerProjectName: {{Type: String}}\n  SageMakerProjectId: {{Type: String}}\n  Env: {{Type: String, Default: dev, AllowedValues: [dev, prod]}}\nResources:\n  Queue:\n    Type: AWS::SQS::Queue\n    Properties: {{QueueName: !Sub \"${{SageMakerProjectName}}-${{Env}}\"}}\n{extra}Outputs:\n  Version: {{Value: v{version}}}\n"
    )
}

async fn product(h: &Harness) -> (String, String) {
    h.source.0.lock().unwrap().insert(
        "https://b.s3.amazonaws.com/v1.yaml".into(),
        template(1, false),
    );
    let prod = h
        .sc(
            "CreateProduct",
            json!({"Name": "p", "Owner": "o", "ProductType": "CLOUD_FORMATION_TEMPLATE", "IdempotencyToken": "t",
                   "ProvisioningArtifactParameters": {"Name": "v1", "Info": {"LoadTemplateFromURL": "https://b.s3.amazonaws.com/v1.yaml"}}}),
        )
        .await;
    let prod_id = prod["ProductViewDetail"]["ProductViewSummary"]["ProductId"]
        .as_str()
        .unwrap()
        .to_string();
    let port = h
        .sc(
            "CreatePortfolio",
            json!({"DisplayName": "ml", "ProviderName": "o", "IdempotencyToken": "t"}),
        )
        .await["PortfolioDetail"]["Id"]
        .as_str()
        .unwrap()
        .to_string();
    h.sc(
        "AssociateProductWithPortfolio",
        json!({"ProductId": prod_id, "PortfolioId": port}),
    )
    .await;
    let pa = prod["ProvisioningArtifactDetail"]["Id"]
        .as_str()
        .unwrap()
        .to_string();
    (prod_id, pa)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_update_delete_a_service_catalog_project() {
    let h = harness().await;
    let (prod, _pa1) = product(&h).await;
    h.sm(
        "CreateProject",
        json!({"ProjectName": "demo", "ServiceCatalogProvisioningDetails": {
            "ProductId": prod, "ProvisioningParameters": [{"Key": "Env", "Value": "prod"}]}}),
    )
    .await;
    let p = h.wait("demo", &["CreateCompleted", "CreateFailed"]).await;
    assert_eq!(p["ProjectStatus"], "CreateCompleted", "{p}");
    let details = &p["ServiceCatalogProvisionedProductDetails"];
    assert_eq!(details["ProvisionedProductStatusMessage"], "AVAILABLE");
    let pp = details["ProvisionedProductId"]
        .as_str()
        .unwrap()
        .to_string();
    let stack = h
        .cfn
        .describe_stack(&format!("SC-{ACCOUNT}-{pp}"))
        .await
        .unwrap();
    assert_eq!(stack.template.parameters["SageMakerProjectName"], "demo");
    assert_eq!(
        stack.template.parameters["SageMakerProjectId"],
        p["ProjectId"]
    );

    let pa2 = h.artifact(&prod, "v2", &template(2, false)).await;
    h.sm(
        "UpdateProject",
        json!({"ProjectName": "demo", "ServiceCatalogProvisioningUpdateDetails": {"ProvisioningArtifactId": pa2}}),
    )
    .await;
    let p = h.wait("demo", &["UpdateCompleted", "UpdateFailed"]).await;
    assert_eq!(p["ProjectStatus"], "UpdateCompleted", "{p}");
    let stack = h
        .cfn
        .describe_stack(&format!("SC-{ACCOUNT}-{pp}"))
        .await
        .unwrap();
    assert_eq!(stack.status, StackStatus::UpdateComplete);
    assert_eq!(
        stack
            .outputs
            .iter()
            .find(|o| o.key == "Version")
            .unwrap()
            .value,
        "v2"
    );
    assert_eq!(stack.template.parameters["Env"], "prod", "kept");

    // A failing version: UpdateFailed, TAINTED with the reason, rolled back.
    let broken = h.artifact(&prod, "broken", &template(3, true)).await;
    h.sm(
        "UpdateProject",
        json!({"ProjectName": "demo", "ServiceCatalogProvisioningUpdateDetails": {"ProvisioningArtifactId": broken}}),
    )
    .await;
    let p = h.wait("demo", &["UpdateCompleted", "UpdateFailed"]).await;
    assert_eq!(p["ProjectStatus"], "UpdateFailed", "{p}");
    let msg = p["ServiceCatalogProvisionedProductDetails"]["ProvisionedProductStatusMessage"]
        .as_str()
        .unwrap();
    assert!(
        msg.starts_with("TAINTED: ") && msg.contains("ProviderName"),
        "{msg}"
    );
    let stack = h
        .cfn
        .describe_stack(&format!("SC-{ACCOUNT}-{pp}"))
        .await
        .unwrap();
    assert_eq!(stack.status, StackStatus::UpdateRollbackComplete);

    h.sm("DeleteProject", json!({"ProjectName": "demo"})).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while h.sc.provisioned(&pp).await.is_ok() {
        assert!(Instant::now() < deadline, "never terminated");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(
        h.cfn
            .describe_stack(&format!("SC-{ACCOUNT}-{pp}"))
            .await
            .is_err()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_end_create_failed_with_the_reason() {
    let h = harness().await;
    let (prod, pa1) = product(&h).await;
    let cases = [
        (
            "unknown",
            json!({"ProductId": "prod-nothere00000"}),
            "Product prod-nothere00000 not found.",
        ),
        (
            "badparam",
            json!({"ProductId": prod, "ProvisioningParameters": [{"Key": "Env", "Value": "x"}]}),
            "Env",
        ),
        (
            "noartifact",
            json!({"ProductId": prod, "ProvisioningArtifactId": "pa-nothere0000000"}),
            "pa-nothere0000000",
        ),
    ];
    for (name, details, expect) in cases {
        h.sm(
            "CreateProject",
            json!({"ProjectName": name, "ServiceCatalogProvisioningDetails": details}),
        )
        .await;
        let p = h.wait(name, &["CreateCompleted", "CreateFailed"]).await;
        assert_eq!(p["ProjectStatus"], "CreateFailed", "{p}");
        let msg = p["ServiceCatalogProvisionedProductDetails"]["ProvisionedProductStatusMessage"]
            .as_str()
            .unwrap();
        assert!(msg.contains(expect), "{name}: {msg}");
    }
    h.sc(
        "UpdateProvisioningArtifact",
        json!({"ProductId": prod, "ProvisioningArtifactId": pa1, "Active": false}),
    )
    .await;
    h.sm(
        "CreateProject",
        json!({"ProjectName": "inactive", "ServiceCatalogProvisioningDetails": {"ProductId": prod}}),
    )
    .await;
    let p = h
        .wait("inactive", &["CreateCompleted", "CreateFailed"])
        .await;
    assert_eq!(p["ProjectStatus"], "CreateFailed", "{p}");
}
