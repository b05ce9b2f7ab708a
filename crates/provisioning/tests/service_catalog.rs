//! SageMaker projects from Service Catalog products, in process: the SageMaker API
//! (CreateProject / UpdateProject / DeleteProject with Service Catalog details), the
//! project provisioner with this crate's `ProjectLauncher` as its Service Catalog backend
//! (built, as the server builds it, after CloudFormation), the Service Catalog catalog,
//! provisioned products and API, and a real `CloudFormationService`, all over one SQLite
//! store; templates come from a fake `TemplateSource`. Also the launcher on its own.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{ACCOUNT, FakeSource, ctx};
use sagestack_cloudformation::{CloudFormationService, ServiceConfig, StackStatus, TemplateSource};
use sagestack_protocol::JsonOutput;
use sagestack_provisioning::{
    ProjectLauncher, ProjectProvisioner, ProvisionerParts, ProvisioningConfig,
    ServiceCatalogBackend,
};
use sagestack_sagemaker::{ModelPackageGroups, Projects, SageMakerService, SystemClock};
use sagestack_servicecatalog::provider::register;
use sagestack_servicecatalog::{Catalog, ProvisionedProducts, ServiceCatalogService};
use sagestack_store::{SqliteStore, StackStore, Store};
use serde_json::{Value, json};

struct Harness {
    _dir: tempfile::TempDir,
    sm: Arc<SageMakerService>,
    sc: Arc<ServiceCatalogService>,
    pp: Arc<ProvisionedProducts>,
    cfn: Arc<CloudFormationService>,
    source: Arc<FakeSource>,
    _provisioner: ProjectProvisioner,
}

async fn harness() -> Harness {
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
    let projects = Arc::new(Projects::new(store.clone(), Arc::new(SystemClock)));
    let provisioner = ProjectProvisioner::new(ProvisionerParts {
        config: ProvisioningConfig {
            concurrency: 8,
            deleted_retention: Duration::from_secs(60),
        },
        source: Some(source.clone() as Arc<dyn TemplateSource>),
        service_catalog: Some(Arc::new(ProjectLauncher::new(pp.clone()))),
        projects: projects.clone(),
        cloudformation: cfn.clone(),
    });
    provisioner.reconcile().await.unwrap();
    let sm = Arc::new(SageMakerService::new(
        projects,
        Arc::new(ModelPackageGroups::new(
            store.clone(),
            Arc::new(SystemClock),
        )),
        Arc::new(provisioner.clone()),
    ));
    let sc = Arc::new(ServiceCatalogService::new(catalog, pp.clone()));
    Harness {
        _dir: dir,
        sm,
        sc,
        pp,
        cfn,
        source,
        _provisioner: provisioner,
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
        self.source.put(&url, body);
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
    h.source
        .put("https://b.s3.amazonaws.com/v1.yaml", &template(1, false));
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
    while h.pp.provisioned(&pp).await.is_ok() {
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
    let h = harness().await;
    let (prod_id, pa1) = product(&h).await;
    let launcher = ProjectLauncher::new(h.pp.clone());

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
    let a2 = h.artifact(&prod_id, "v2", &template(2, false)).await;
    p.service_catalog_provisioning_details = Some(json!({
        "ProductId": prod_id, "ProvisioningArtifactId": a2,
        "ProvisioningParameters": [{"Key": "Env", "Value": "dev"}]
    }));
    let out = launcher.update(&p).await;
    assert!(out.succeeded, "{out:?}");
    let pp = h.pp.provisioned(&pp_id).await.unwrap();
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
    assert_eq!(h.pp.provisioned(&pp_id).await.unwrap().status, "AVAILABLE");

    // Terminate; terminating again is a success.
    let out = launcher.terminate(&p).await;
    assert!(out.succeeded, "{out:?}");
    assert!(h.pp.provisioned(&pp_id).await.is_err());
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
    let broken = h.artifact(&prod_id, "broken", &template(3, true)).await;
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
