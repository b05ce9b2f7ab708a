//! SageMaker projects from Service Catalog products, in process: the SageMaker API
//! (CreateProject / UpdateProject / DeleteProject with Service Catalog details), the
//! project provisioner with this crate's `ProjectLauncher` as its Service Catalog backend
//! (built, as the server builds it, after CloudFormation), the Service Catalog catalog,
//! provisioned products and API, and a real `CloudFormationService`, all over one SQLite
//! store; templates come from a fake `TemplateSource`. Also the launcher on its own.

// The Service Catalog crate's test harness: these tests add SageMaker and the project
// provisioner on top of the same services, templates and product.
#[path = "../../servicecatalog/tests/common/mod.rs"]
mod catalog;

use std::sync::Arc;
use std::time::{Duration, Instant};

use catalog::{ACCOUNT, BROKEN_PORTFOLIO, SECOND_QUEUE, ctx, output, product_template, value};
use sagestack_cloudformation::{StackRecord, StackStatus, TemplateSource};
use sagestack_provisioning::{
    ProjectLauncher, ProjectProvisioner, ProvisionerParts, ProvisioningConfig,
    ServiceCatalogBackend,
};
use sagestack_sagemaker::{ModelPackageGroups, Projects, SageMakerService, SystemClock};
use serde_json::{Value, json};

struct Harness {
    /// The store, catalog, CloudFormation, provisioned products and Service Catalog API.
    base: catalog::Harness,
    sm: Arc<SageMakerService>,
    _provisioner: ProjectProvisioner,
}

async fn harness() -> Harness {
    let base = catalog::harness().await;
    let projects = Arc::new(Projects::new(base.store.clone(), Arc::new(SystemClock)));
    let provisioner = ProjectProvisioner::new(ProvisionerParts {
        config: ProvisioningConfig {
            concurrency: 8,
            deleted_retention: Duration::from_secs(60),
        },
        source: Some(base.source.clone() as Arc<dyn TemplateSource>),
        service_catalog: Some(Arc::new(ProjectLauncher::new(base.pp.clone()))),
        projects: projects.clone(),
        cloudformation: base.cfn.clone(),
        changes: None,
        claims: None,
    });
    provisioner.reconcile().await.unwrap();
    let sm = Arc::new(SageMakerService::new(
        projects,
        Arc::new(ModelPackageGroups::new(
            base.store.clone(),
            Arc::new(SystemClock),
        )),
        Arc::new(provisioner.clone()),
    ));
    Harness {
        base,
        sm,
        _provisioner: provisioner,
    }
}

impl Harness {
    async fn sm(&self, op: &str, input: Value) -> Value {
        value(self.sm.handle(&ctx(), op, input).await.unwrap())
    }

    async fn sc(&self, op: &str, input: Value) -> Value {
        catalog::ok(&self.base, op, input).await
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

    /// UpdateProject `name` to `artifact`: the project once the update settled.
    async fn update(&self, name: &str, artifact: &str) -> Value {
        self.sm(
            "UpdateProject",
            json!({"ProjectName": name, "ServiceCatalogProvisioningUpdateDetails": {"ProvisioningArtifactId": artifact}}),
        )
        .await;
        self.wait(name, &["UpdateCompleted", "UpdateFailed"]).await
    }

    /// Artifact `name` of `prod` from the template `body`: its id.
    async fn artifact(&self, prod: &str, name: &str, body: &str) -> String {
        catalog::api_artifact_body(&self.base, prod, name, body).await["ProvisioningArtifactDetail"]
            ["Id"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// The stack of provisioned product `pp`.
    async fn stack(&self, pp: &str) -> StackRecord {
        self.base
            .cfn
            .describe_stack(&format!("SC-{ACCOUNT}-{pp}"))
            .await
            .unwrap()
    }
}

/// A product version: the shared product template, a second queue from v2 on, and with
/// `fail` a portfolio without its required ProviderName (the stack fails).
fn template(version: u32, fail: bool) -> String {
    let mut extra = String::new();
    if version >= 2 {
        extra.push_str(SECOND_QUEUE);
    }
    if fail {
        extra.push_str(BROKEN_PORTFOLIO);
    }
    product_template(version, &extra)
}

/// The Service Catalog harness's product (template v1) in a portfolio: its id and its
/// first artifact's.
async fn product(h: &Harness) -> (String, String) {
    let (_port, prod_id, pa) = catalog::product_with_portfolio(&h.base).await;
    (prod_id, pa)
}

/// `stack` carries the parameters SageMaker passes for project `name` with `id`.
fn assert_project_parameters(stack: &StackRecord, name: &str, id: &Value) {
    assert_eq!(stack.template.parameters["SageMakerProjectName"], name);
    assert_eq!(stack.template.parameters["SageMakerProjectId"], *id);
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
    let stack = h.stack(&pp).await;
    assert_project_parameters(&stack, "demo", &p["ProjectId"]);

    let pa2 = h.artifact(&prod, "v2", &template(2, false)).await;
    let p = h.update("demo", &pa2).await;
    assert_eq!(p["ProjectStatus"], "UpdateCompleted", "{p}");
    let stack = h.stack(&pp).await;
    assert_eq!(stack.status, StackStatus::UpdateComplete);
    assert_eq!(output(&stack, "Version"), "v2");
    assert_eq!(stack.template.parameters["Env"], "prod", "kept");

    // A failing version: UpdateFailed, TAINTED with the reason, rolled back.
    let broken = h.artifact(&prod, "broken", &template(3, true)).await;
    let p = h.update("demo", &broken).await;
    assert_eq!(p["ProjectStatus"], "UpdateFailed", "{p}");
    let msg = p["ServiceCatalogProvisionedProductDetails"]["ProvisionedProductStatusMessage"]
        .as_str()
        .unwrap();
    assert!(
        msg.starts_with("TAINTED: ") && msg.contains("ProviderName"),
        "{msg}"
    );
    let stack = h.stack(&pp).await;
    assert_eq!(stack.status, StackStatus::UpdateRollbackComplete);

    h.sm("DeleteProject", json!({"ProjectName": "demo"})).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while h.base.pp.provisioned(&pp).await.is_ok() {
        assert!(Instant::now() < deadline, "never terminated");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(
        h.base
            .cfn
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
    let launcher = ProjectLauncher::new(h.base.pp.clone());

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
    let stack = h.stack(&pp_id).await;
    assert_project_parameters(&stack, "mlops", &json!(p.project_id));
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
    let pp = h.base.pp.provisioned(&pp_id).await.unwrap();
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
    assert_eq!(
        h.base.pp.provisioned(&pp_id).await.unwrap().status,
        "AVAILABLE"
    );

    // Terminate; terminating again is a success.
    let out = launcher.terminate(&p).await;
    assert!(out.succeeded, "{out:?}");
    assert!(h.base.pp.provisioned(&pp_id).await.is_err());
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
