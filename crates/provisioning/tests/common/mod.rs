//! The provisioning test harness: a real SQLite store in a temp dir, the real SageMaker
//! and CloudFormation services over it, a fake `TemplateSource` (URL -> body or error)
//! and a fake custom-resource handler whose failures tests switch on.

// Each test binary uses some of these helpers.
#![allow(dead_code, unused_imports)]

#[path = "../../../../tests/support/requests.rs"]
mod requests;
#[path = "../../../../tests/support/stacks.rs"]
mod stacks;

pub use requests::value;
pub use stacks::tag_pairs;

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use sagestack_cloudformation::{
    CloudFormationService, ServiceConfig, StackRecord, TemplateFetchError, TemplateSource,
};
use sagestack_protocol::{AwsError, RequestContext};
use sagestack_providers::{
    CustomResourceProvider, CustomResourceRequest, CustomResourceResponse, CustomResourceTransport,
};
use sagestack_provisioning::{
    ProjectProvisioner, ProvisionerParts, ProvisioningConfig, Reconciled,
};
use sagestack_sagemaker::{
    ModelPackageGroupProvider, ModelPackageGroups, ProjectEvent, Projects, Provisioner,
    SageMakerError, SageMakerService, SystemClock,
};
use sagestack_store::{SqliteStore, Store};
use serde_json::{Value, json};

pub const REGION: &str = "us-east-1";
pub const ACCOUNT: &str = "123456789012";
pub const TOKEN: &str = "arn:aws:lambda:us-east-1:123456789012:function:handler";

/// URL -> template body or fetch error.
#[derive(Default)]
pub struct FakeSource(Mutex<HashMap<String, Result<String, TemplateFetchError>>>);

impl FakeSource {
    pub fn put(&self, url: &str, body: &str) {
        self.0
            .lock()
            .unwrap()
            .insert(url.into(), Ok(body.to_string()));
    }
    pub fn fail(&self, url: &str, e: TemplateFetchError) {
        self.0.lock().unwrap().insert(url.into(), Err(e));
    }
}

#[async_trait]
impl TemplateSource for FakeSource {
    async fn fetch(&self, url: &str, _limit: u64) -> Result<String, TemplateFetchError> {
        self.0
            .lock()
            .unwrap()
            .get(url)
            .cloned()
            .unwrap_or_else(|| Err(TemplateFetchError::InvalidUrl(format!("unknown {url}"))))
    }
}

/// A custom-resource handler: `Fail: "true"` fails the create; `fail_delete` fails every
/// delete; while `block` is set, a create of a resource with `Block: "true"` never
/// answers (to freeze a stack mid-operation) and signals `blocked`.
#[derive(Default)]
pub struct FakeHandler {
    pub fail_delete: AtomicBool,
    pub block: AtomicBool,
    pub blocked: tokio::sync::Notify,
    /// Creates of `Pause: "true"` resources running now, and the most seen at once.
    pub in_flight: AtomicUsize,
    pub max_in_flight: AtomicUsize,
}

#[async_trait]
impl CustomResourceTransport for FakeHandler {
    async fn send(
        &self,
        _endpoint: &str,
        request: &CustomResourceRequest,
    ) -> Result<CustomResourceResponse, String> {
        let prop = |k: &str| request.resource_properties.get(k).and_then(Value::as_str);
        let respond = |ok: bool, reason: &str| CustomResourceResponse {
            status: if ok { "SUCCESS" } else { "FAILED" }.into(),
            reason: (!ok).then(|| reason.to_string()),
            physical_resource_id: Some(format!("custom-{}", request.logical_resource_id)),
            data: None,
            no_echo: None,
        };
        match request.request_type.as_str() {
            "Create" if prop("Block") == Some("true") && self.block.load(Ordering::SeqCst) => {
                self.blocked.notify_one();
                std::future::pending().await
            }
            "Create" if prop("Fail") == Some("true") => {
                Ok(respond(false, "handler refused Create"))
            }
            "Create" if prop("Pause") == Some("true") => {
                let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                self.max_in_flight.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(20)).await;
                self.in_flight.fetch_sub(1, Ordering::SeqCst);
                Ok(respond(true, ""))
            }
            "Delete" if self.fail_delete.load(Ordering::SeqCst) => {
                Ok(respond(false, "handler refused Delete"))
            }
            _ => Ok(respond(true, "")),
        }
    }
}

pub struct Harness {
    pub store: Arc<dyn Store>,
    pub sagemaker: Arc<SageMakerService>,
    pub cfn: Arc<CloudFormationService>,
    pub provisioner: ProjectProvisioner,
    pub source: Arc<FakeSource>,
    pub handler: Arc<FakeHandler>,
    pub reconciled: Reconciled,
}

/// Stands in for a provisioner that never got to run (a process that stored project
/// changes and died before provisioning them): it is active, so the API keeps the
/// project lifecycle rules, but it ignores every change.
struct Dormant;

impl Provisioner for Dormant {
    fn project_changed(&self, _event: ProjectEvent) {}
}

pub struct Options {
    pub config: ProvisioningConfig,
    /// Start (reconcile) the provisioner and let the API tell it about changes; without
    /// it changes are only stored.
    pub start: bool,
    pub source: Option<Arc<FakeSource>>,
    pub handler: Option<Arc<FakeHandler>>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            config: ProvisioningConfig {
                concurrency: 8,
                deleted_retention: Duration::from_secs(60),
            },
            start: true,
            source: None,
            handler: None,
        }
    }
}

impl Options {
    /// The defaults with `concurrency` workers keeping deleted projects for `retention`.
    pub fn bounded(concurrency: usize, retention: Duration) -> Self {
        Options {
            config: ProvisioningConfig {
                concurrency,
                deleted_retention: retention,
            },
            ..Options::default()
        }
    }
}

/// Builds everything over the store in `dir` the way `sagestack serve` does: provisioner,
/// SageMaker, CloudFormation (recovered), then the provisioner reconciled.
pub async fn harness(dir: &Path, options: Options) -> Harness {
    // A "crashed" harness releases the data dir lock when its runtime's tasks are gone.
    let mut attempts = 0;
    let store: Arc<dyn Store> = loop {
        match SqliteStore::open(dir).await {
            Ok(s) => break Arc::new(s),
            Err(sagestack_store::StoreError::Locked(_)) if attempts < 200 => {
                attempts += 1;
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            Err(e) => panic!("cannot open the store: {e}"),
        }
    };
    let source = options.source.unwrap_or_default();
    let handler = options.handler.unwrap_or_default();
    // The same straight line as `sagestack serve`: states, providers, CloudFormation,
    // provisioner, API.
    let projects = Arc::new(Projects::new(store.clone(), Arc::new(SystemClock)));
    let groups = Arc::new(ModelPackageGroups::new(
        store.clone(),
        Arc::new(SystemClock),
    ));
    let stack_store: Arc<dyn sagestack_engine::StackStore> = store.clone();
    let custom = CustomResourceProvider::new(handler.clone()).with_handler(TOKEN, "http://handler");
    let cfn = Arc::new(
        CloudFormationService::new(
            ServiceConfig::new(REGION, ACCOUNT, stack_store)
                .with_custom_resources(custom)
                .with_native_provider(
                    "AWS::SageMaker::ModelPackageGroup",
                    Arc::new(ModelPackageGroupProvider::new(groups.clone())),
                ),
        )
        .unwrap(),
    );
    cfn.recover().await.unwrap();
    let provisioner = ProjectProvisioner::new(ProvisionerParts {
        config: options.config,
        source: Some(source.clone() as Arc<dyn TemplateSource>),
        service_catalog: None,
        projects: projects.clone(),
        cloudformation: cfn.clone(),
        changes: None,
        claims: None,
    });
    let (reconciled, told): (_, Arc<dyn Provisioner>) = if options.start {
        let reconciled = provisioner.reconcile().await.unwrap();
        (reconciled, Arc::new(provisioner.clone()))
    } else {
        (Reconciled::default(), Arc::new(Dormant))
    };
    let sagemaker = Arc::new(SageMakerService::new(projects, groups, told));
    Harness {
        store,
        sagemaker,
        cfn,
        provisioner,
        source,
        handler,
        reconciled,
    }
}

/// A request with an access key: SageMaker records it as the project's creator.
pub fn ctx() -> RequestContext {
    let ctx = requests::ctx();
    let caller = sagestack_protocol::auth::Caller::root("AKIDPROVTEST", &ctx.account_id);
    ctx.with_caller(caller)
}

/// `[(key, value)]` as the API's `[{"Key": key, "Value": value}]`.
pub fn key_values(pairs: &[(&str, &str)]) -> Vec<Value> {
    pairs
        .iter()
        .map(|(k, v)| json!({"Key": k, "Value": v}))
        .collect()
}

impl Harness {
    pub async fn call(&self, op: &str, input: Value) -> Result<Value, SageMakerError> {
        self.sagemaker.handle(&ctx(), op, input).await.map(value)
    }

    /// CreateProject from `url` with `params` (`[(key, value)]`) and `tags`.
    pub async fn create(
        &self,
        name: &str,
        url: &str,
        params: &[(&str, &str)],
        tags: &[(&str, &str)],
    ) -> Value {
        let params = key_values(params);
        let tags = key_values(tags);
        let mut input = json!({
            "ProjectName": name,
            "TemplateProviders": [{"CfnTemplateProvider": {
                "TemplateName": "ml",
                "TemplateURL": url,
                "RoleARN": "arn:aws:iam::123456789012:role/SageMakerProjects",
                "Parameters": params,
            }}],
        });
        if !tags.is_empty() {
            input["Tags"] = tags.into();
        }
        self.call("CreateProject", input).await.unwrap()
    }

    /// `op`, which must fail with `code` and `message`.
    pub async fn assert_refused(&self, op: &str, input: Value, code: &str, message: &str) {
        let e = self.call(op, input).await.unwrap_err();
        assert_eq!(e.code(), code);
        assert_eq!(e.to_string(), message);
    }

    /// `body` served at `url`, then project `name` created from it with `params`: the
    /// project once CreateCompleted.
    pub async fn created(
        &self,
        name: &str,
        url: &str,
        body: &str,
        params: &[(&str, &str)],
    ) -> Value {
        self.source.put(url, body);
        self.create(name, url, params, &[]).await;
        self.settled_as(name, "CreateCompleted").await
    }

    pub async fn describe(&self, name: &str) -> Value {
        self.call("DescribeProject", json!({"ProjectName": name}))
            .await
            .unwrap()
    }

    /// Waits for the provisioner, then describes.
    pub async fn settled(&self, name: &str) -> Value {
        self.provisioner.wait_idle().await;
        self.describe(name).await
    }

    /// Waits for the provisioner, describes, and checks the project's status.
    pub async fn settled_as(&self, name: &str, status: &str) -> Value {
        let p = self.settled(name).await;
        assert_eq!(p["ProjectStatus"], status, "{p:#}");
        p
    }

    /// `op` (which must succeed), then [`Harness::settled_as`] `status`.
    pub async fn call_settled(&self, op: &str, input: Value, status: &str) -> Value {
        let name = input["ProjectName"].as_str().unwrap().to_string();
        self.call(op, input).await.unwrap();
        self.settled_as(&name, status).await
    }

    /// DeleteProject, then [`Harness::settled_as`] `status`.
    pub async fn delete(&self, name: &str, status: &str) -> Value {
        self.call_settled("DeleteProject", json!({"ProjectName": name}), status)
            .await
    }

    pub async fn stack_of(&self, project: &Value) -> StackRecord {
        let name = project["TemplateProviderDetails"][0]["CfnTemplateProviderDetail"]
            ["StackDetail"]["Name"]
            .as_str()
            .unwrap()
            .to_string();
        self.cfn.describe_stack(&name).await.unwrap()
    }
}

/// The project's `StackDetail`.
pub fn stack_detail(project: &Value) -> &Value {
    &project["TemplateProviderDetails"][0]["CfnTemplateProviderDetail"]["StackDetail"]
}

/// The project's stack name (`StackDetail.Name`).
pub fn stack_name(project: &Value) -> String {
    stack_detail(project)["Name"].as_str().unwrap().to_string()
}

/// The `StatusMessage` of a stack that reached `status` cleanly.
pub fn reached(stack: &str, status: &str) -> String {
    format!("Stack {stack} reached {status}.")
}

/// The `StatusMessage` of a stack that reached `status` because the handler refused
/// `request` for the custom resource `logical` (of type `Custom::{logical}`).
pub fn refused(stack: &str, status: &str, logical: &str, request: &str) -> String {
    format!(
        "Stack {stack} reached {status}: resource {logical} (Custom::{logical}) failed: Received response status [FAILED] from custom resource. Message returned: handler refused {request}"
    )
}

/// `StackDetail.StatusMessage`.
pub fn message(project: &Value) -> &str {
    stack_detail(project)["StatusMessage"].as_str().unwrap()
}

/// A project template: a queue and a model package group (a fixture file of the tree).
pub const BASIC: &str = include_str!("../../../../tests/fixtures/project-queue.yaml");

/// [`BASIC`] plus a custom resource whose create fails.
pub fn with_failing_resource(base: &str) -> String {
    let (params_and_resources, outputs) = base.split_once("Outputs:").unwrap();
    format!(
        "{params_and_resources}  Broken:\n    Type: Custom::Broken\n    Properties:\n      ServiceToken: {TOKEN}\n      Fail: \"true\"\nOutputs:{outputs}"
    )
}

/// A stack with one custom resource (its delete fails while `fail_delete` is set).
pub const STICKY: &str = "Resources:\n  Sticky:\n    Type: Custom::Sticky\n    Properties:\n      ServiceToken: arn:aws:lambda:us-east-1:123456789012:function:handler\n";

/// A stack whose custom resource never answers its create.
pub const BLOCKING: &str = "Resources:\n  Slow:\n    Type: Custom::Slow\n    Properties:\n      ServiceToken: arn:aws:lambda:us-east-1:123456789012:function:handler\n      Block: \"true\"\n";

/// A stack with one custom resource that takes 20 ms to create (and counts how many are
/// being created at once).
pub const PAUSING: &str = "Resources:\n  Pause:\n    Type: Custom::Pause\n    Properties:\n      ServiceToken: arn:aws:lambda:us-east-1:123456789012:function:handler\n      Pause: \"true\"\n";
