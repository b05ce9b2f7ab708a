//! Building the server, in one straight line: store → states → providers →
//! CloudFormation → what runs on CloudFormation (provisioned products, the project
//! provisioner) → recovery → the wire APIs → the router's state.
//!
//! Every object is given what it needs when it is made, and nothing made later is
//! handed back to something made earlier, so ownership is a tree (ARCHITECTURE.md,
//! "Construction order"): no late binding, no back references, no cycles. Dropping the
//! [`App`] frees everything, the store included (`tests/lifetimes.rs` checks it).

use std::sync::Arc;

use sagestack_cloudformation::api::CloudFormationApi;
use sagestack_cloudformation::{CloudFormationService, ServiceConfig, TemplateSource};
use sagestack_provisioning::{
    ProjectLauncher, ProjectProvisioner, ProvisionerParts, ProvisioningConfig,
};
use sagestack_sagemaker::{ModelPackageGroups, Projects, SageMakerService, SystemClock};
use sagestack_servicecatalog::{Catalog, ProvisionedProducts, Scope, ServiceCatalogService};
use sagestack_ssm::{Parameters, SsmService, StoreSsmLookup};
use sagestack_store::Store;

use crate::cli::{AuthMode, ServeArgs};
use crate::native::{log_group_provider, native_providers};
use crate::router::{AppState, Services};
use crate::store_watch::Resumable;
use sagestack_protocol::auth::{Auth, Credentials, KeySource};

/// The built server: what the router serves, and what serving and shutdown need.
pub struct App {
    pub state: AppState,
    pub store: Arc<dyn Store>,
    pub provisioner: ProjectProvisioner,
    /// What the store watcher resumes once a failed store takes writes again.
    pub resumable: Resumable,
    /// Whether this process resumes interrupted operations (see [`build`]).
    pub reconcile: bool,
}

/// Opens the store and builds every service over it. [`App::reconcile`] says whether
/// this process resumes what a previous one left in progress (always with the embedded
/// store, which one process owns; with PostgreSQL only on the replica started with
/// `--reconcile`, since replicas would otherwise each take over the operations the
/// others are running): `serve.rs` does that once the server listens, because a
/// resumed custom resource's function calls this server back.
///
/// `endpoint` is this server's base URL as its own processes reach it (Lambda functions'
/// `AWS_ENDPOINT_URL`, custom resources' `ResponseURL`): the listener is bound first.
pub async fn build(args: &ServeArgs, endpoint: &str) -> Result<App, String> {
    let store = sagestack_store::open(args.database_url.as_deref(), &args.data_dir)
        .await
        .map_err(|e| format!("cannot open the store: {e}"))?;
    let reconcile = args.database_url.is_none() || args.reconcile;
    let auth = auth_policy(args)?;
    // Where TemplateURLs are read (projects, products and the CloudFormation API): the
    // embedded object store, or an external S3 with --s3-endpoint.
    let template_source: Arc<dyn TemplateSource> = crate::template_source::template_source(
        args,
        store.clone() as Arc<dyn sagestack_store::ObjectStore>,
    )?;

    // States: each service's rules and storage, shared by its API and its providers.
    let clock: Arc<dyn sagestack_engine::Clock> = Arc::new(SystemClock);
    let projects = Arc::new(Projects::new(store.clone(), clock.clone()));
    let groups = Arc::new(ModelPackageGroups::new(store.clone(), clock.clone()));
    let parameters = Arc::new(Parameters::new(store.clone(), clock.clone()));
    let scope = Scope {
        region: args.region.clone(),
        account_id: args.account_id.clone(),
    };
    let catalog = Arc::new(
        Catalog::new(store.clone(), clock.clone(), scope)
            .with_template_source(template_source.clone()),
    );
    let logs = Arc::new(sagestack_logs::Logs::new(
        store.clone(),
        clock.clone(),
        sagestack_logs::Scope {
            region: args.region.clone(),
            account_id: args.account_id.clone(),
        },
    ));

    // Lambda: the functions' state, and what runs them (before CloudFormation, whose
    // Lambda-backed custom resources invoke them).
    let lambda_scope = sagestack_lambda::Scope {
        region: args.region.clone(),
        account_id: args.account_id.clone(),
    };
    let functions = Arc::new(sagestack_lambda::Functions::new(
        store.clone(),
        clock.clone(),
        lambda_scope,
        args.data_dir.join("lambda").join("code"),
    ));
    let invoker = Arc::new(sagestack_lambda::Invoker::new(
        functions.clone(),
        crate::lambda::executor(args, &auth, endpoint)?,
        Arc::new(crate::lambda::FunctionLogs(logs.clone())),
    ));
    let responses = sagestack_lambda::custom_resource::Responses::new();

    // CloudFormation, with the providers over those states and the configured extras.
    let stack_store: Arc<dyn sagestack_engine::StackStore> = store.clone();
    let mut cfn_config =
        ServiceConfig::new(args.region.clone(), args.account_id.clone(), stack_store)
            .with_ssm(Arc::new(StoreSsmLookup::new(store.clone())));
    let native = native_providers(store.clone(), groups.clone(), parameters.clone());
    for (type_name, provider) in native
        .into_iter()
        .chain(sagestack_servicecatalog::provider::providers(
            catalog.clone(),
        ))
        .chain(sagestack_lambda::provider::providers(functions.clone()))
    {
        cfn_config = cfn_config.with_native_provider(type_name, provider);
    }
    let (type_name, provider) = log_group_provider(logs.clone());
    cfn_config = cfn_config.with_native_provider(type_name, provider);
    // Custom resources: Lambda ServiceTokens run this server's functions; configured
    // webhook prefixes go over HTTP.
    let lambda_custom = sagestack_lambda::custom_resource::LambdaCustomResources::new(
        invoker.clone(),
        responses.clone(),
        endpoint.to_string(),
    );
    cfn_config = cfn_config.with_custom_resources(
        crate::webhook::custom_resources(
            &args.custom_resource_webhooks,
            args.custom_resource_timeout,
        )
        .with_lambda(Arc::new(lambda_custom)),
    );
    if !args.accept_unknown_types.is_empty() {
        cfn_config = cfn_config.with_inert(crate::webhook::inert_types(&args.accept_unknown_types));
    }
    let cloudformation = Arc::new(
        CloudFormationService::new(cfn_config)
            .map_err(|e| format!("cannot assemble CloudFormation: {e}"))?,
    );

    // What runs on CloudFormation: provisioned products, and the project provisioner
    // (template projects run stacks; Service Catalog projects launch products).
    let provisioned = Arc::new(ProvisionedProducts::new(
        catalog.clone(),
        cloudformation.clone(),
    ));
    let provisioner = ProjectProvisioner::new(ProvisionerParts {
        config: ProvisioningConfig {
            concurrency: args.provisioning_concurrency as usize,
            deleted_retention: std::time::Duration::from_secs(args.deleted_project_retention),
        },
        source: Some(template_source.clone()),
        service_catalog: Some(Arc::new(ProjectLauncher::new(provisioned.clone()))),
        projects: projects.clone(),
        cloudformation: cloudformation.clone(),
    });
    let resumable = Resumable {
        cloudformation: cloudformation.clone(),
        provisioned: provisioned.clone(),
        provisioner: provisioner.clone(),
    };

    // The wire APIs, last: each over its state (SageMaker also tells the provisioner).
    let sagemaker = SageMakerService::new(projects, groups, Arc::new(provisioner.clone()));
    let cloudformation =
        CloudFormationApi::new(cloudformation).with_template_source(template_source);
    let s3 = sagestack_s3::api::service(
        store.clone(),
        args.region.clone(),
        args.s3_max_object_size,
        args.s3_max_inflight_bytes,
        auth.clone(),
    );
    // STS: temporary keys go into the credentials the policy accepts (sigv4 only).
    let sessions = Arc::new(sagestack_sts::Sessions::new(
        store.clone(),
        match &auth {
            Auth::Sigv4(credentials) => Some(credentials.clone()),
            Auth::None { .. } => None,
        },
        clock.clone(),
        &args.region,
    ));
    let state = AppState {
        services: Services::default()
            .with_json(Arc::new(sagemaker))
            .with_json(Arc::new(SsmService::new(parameters)))
            .with_json(Arc::new(ServiceCatalogService::new(catalog, provisioned)))
            .with_json(Arc::new(sagestack_logs::LogsService::new(logs)))
            .with_query(Arc::new(cloudformation))
            .with_query(Arc::new(sagestack_sts::StsApi::new(sessions)))
            .with_rest(Arc::new(sagestack_lambda::LambdaApi::new(invoker)))
            .with_s3(s3),
        lambda: Some(crate::lambda::LambdaRoutes {
            functions,
            responses,
        }),
        region: args.region.clone(),
        account_id: args.account_id.clone(),
        auth,
        store: Some(store.clone()),
    };
    Ok(App {
        state,
        store,
        provisioner,
        resumable,
        reconcile,
    })
}

/// The credentials policy `--auth` names, with its keys read.
fn auth_policy(args: &ServeArgs) -> Result<Auth, String> {
    // An empty value (`SAGESTACK_CREDENTIALS=`) is no value.
    let inline = args.credentials.as_ref().filter(|c| !c.trim().is_empty());
    let source = match (&args.credentials_file, inline) {
        (Some(_), Some(_)) => {
            return Err("give --credentials-file or --credentials, not both".into());
        }
        (Some(path), None) => Some(KeySource::File(path.clone())),
        (None, Some(raw)) => Some(KeySource::Inline(raw.clone())),
        (None, None) => None,
    };
    match (args.auth, source) {
        (AuthMode::None, _) => Ok(Auth::None {
            account_id: args.account_id.clone(),
        }),
        (AuthMode::Sigv4, None) => {
            Err("--auth sigv4 needs --credentials-file or --credentials".into())
        }
        (AuthMode::Sigv4, Some(source)) => Credentials::load(source, &args.account_id)
            .map(|c| Auth::Sigv4(Arc::new(c)))
            .map_err(|e| format!("invalid credentials: {e}")),
    }
}
