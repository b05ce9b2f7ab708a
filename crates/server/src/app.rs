//! Building the server, in one straight line: the shared parts (main store, embedded S3,
//! credentials policy) → for each account served, over its own store: states →
//! providers → CloudFormation → what runs on CloudFormation (provisioned products, the
//! project provisioner) → the wire APIs → the router's state, whose entries hand each
//! call to the caller's account's API (`accounts.rs`).
//!
//! Every object is given what it needs when it is made, and nothing made later is
//! handed back to something made earlier, so ownership is a tree (ARCHITECTURE.md,
//! "Construction order"): no late binding, no back references, no cycles. Dropping the
//! [`App`] frees everything, the store included (`tests/lifetimes.rs` checks it).

use std::collections::BTreeMap;
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

use crate::accounts::PerAccount;
use crate::cli::{AuthMode, ServeArgs};
use crate::native::{log_group_provider, native_providers};
use crate::router::{AppState, Services};
use crate::store_watch::Resumable;
use sagestack_protocol::Json11Service;
use sagestack_protocol::auth::{Auth, Credentials, KeySource};
use sagestack_protocol::query::QueryService;
use sagestack_protocol::rest_json::RestJsonService;

/// The built server: what the router serves, and what serving and shutdown need.
pub struct App {
    pub state: AppState,
    /// The server's own account's store, which also holds the embedded S3 (one
    /// namespace for every account).
    pub store: Arc<dyn Store>,
    /// Every account served, the server's own first.
    pub accounts: Vec<AccountApp>,
    /// Whether start-up resumes every interrupted operation at once (the embedded store,
    /// which one process owns); with PostgreSQL the takeover task does it item by item
    /// (`takeover.rs`).
    pub resume_at_start: bool,
}

/// One account's own part of the server: its store and what resumes its operations.
pub struct AccountApp {
    pub account_id: String,
    pub store: Arc<dyn Store>,
    pub provisioner: ProjectProvisioner,
    /// What the store watcher and takeover resume.
    pub resumable: Resumable,
    /// This process's leases in the account's store (`takeover.rs`).
    pub leases: sagestack_store::Leaseholder,
    /// EventBridge's state, whose delivery counts the stats endpoint serves.
    pub events: Arc<sagestack_events::EventBridge>,
    /// Starts the account's event delivery task (dropping what it returns stops it):
    /// run by takeover on the process holding the account's `events` lease.
    pub start_delivery: crate::takeover::DeliveryStarter,
}

/// What `build_account` gives the reset (`reset.rs`), beside the [`AccountApp`].
struct AccountReset {
    provisioned: Arc<ProvisionedProducts>,
    invoker: Arc<sagestack_lambda::Invoker>,
    logs: Arc<sagestack_logs::Logs>,
}

/// What every account's services share: the embedded S3 (where templates and function
/// code are read), the credentials policy, the clock, Lambda's response table.
struct Shared<'a> {
    args: &'a ServeArgs,
    endpoint: &'a str,
    auth: &'a Auth,
    objects: Arc<dyn sagestack_store::ObjectStore>,
    clock: Arc<dyn sagestack_engine::Clock>,
    responses: Arc<sagestack_lambda::custom_resource::Responses>,
    code_urls: Arc<sagestack_lambda::CodeUrls>,
    /// This process's owner id on leases (`takeover.rs`).
    owner: String,
}

/// One account's wire APIs.
struct AccountApis {
    json: Vec<Arc<dyn Json11Service>>,
    query: Vec<Arc<dyn QueryService>>,
    rest: Vec<Arc<dyn RestJsonService>>,
    functions: Arc<sagestack_lambda::Functions>,
    /// What the web console reads and writes through for this account (the same APIs
    /// and states as above).
    console: sagestack_console::AccountView,
}

/// Opens the stores and builds every account's services over its own. Work is claimed
/// through leases held by this process's owner id (`takeover.rs`): with the embedded
/// store [`App::resume_at_start`] resumes everything a previous process left; with
/// PostgreSQL any replica takes over what a dead one held. `serve.rs` does both once the
/// server listens, because a resumed custom resource's function calls this server back.
///
/// `endpoint` is this server's base URL as its own processes reach it (Lambda functions'
/// `AWS_ENDPOINT_URL`, custom resources' `ResponseURL`): the listener is bound first.
pub async fn build(args: &ServeArgs, endpoint: &str) -> Result<App, String> {
    let store: Arc<dyn Store> = match &args.database_url {
        Some(url) => Arc::new(
            sagestack_store::PostgresStore::connect_with(url, None, &postgres_options(args))
                .await
                .map_err(|e| format!("cannot open the store: {e}"))?,
        ),
        None => Arc::new(
            sagestack_store::SqliteStore::open_with(&args.data_dir, durability(args))
                .await
                .map_err(|e| format!("cannot open the store: {e}"))?,
        ),
    };
    if args.reconcile {
        tracing::warn!(
            "--reconcile is deprecated and does nothing: every replica takes over interrupted work (leases)"
        );
    }
    let resume_at_start = args.database_url.is_none();
    let auth = auth_policy(args)?;
    let objects = store.clone() as Arc<dyn sagestack_store::ObjectStore>;
    let shared = Shared {
        args,
        endpoint,
        auth: &auth,
        objects,
        clock: Arc::new(SystemClock),
        responses: sagestack_lambda::custom_resource::Responses::new(),
        code_urls: Arc::new(sagestack_lambda::CodeUrls::new()),
        owner: crate::takeover::owner(args.database_url.is_some()),
    };

    // Each account: its own store (the server's own account uses the main one), states,
    // CloudFormation, provisioner and APIs.
    let mut accounts = Vec::new();
    let mut apis = BTreeMap::new();
    let mut resets = Vec::new();
    for account_id in served_accounts(args, &auth) {
        let account_store = if account_id == args.account_id {
            store.clone()
        } else {
            open_account_store(args, &account_id).await?
        };
        let (account, account_apis, parts) = build_account(&shared, &account_id, account_store)?;
        resets.push(crate::reset::ResetAccount {
            account_id: account_id.clone(),
            store: account.store.clone(),
            cloudformation: account.resumable.cloudformation.clone(),
            provisioner: account.provisioner.clone(),
            provisioned: parts.provisioned,
            invoker: parts.invoker,
            events: account.events.clone(),
            logs: parts.logs,
        });
        accounts.push(account);
        apis.insert(account_id, account_apis);
    }
    // `POST /_sagestack/reset` over every account's parts; refused on PostgreSQL.
    let reset = crate::reset::Reset::new(
        resets,
        auth.clone(),
        args.account_id.clone(),
        args.database_url.as_ref().map(|_| {
            "reset is not available with --database-url: the database is shared by \
             replicas whose memory this process cannot empty"
                .to_string()
        }),
    );

    // The router: each protocol entry hands a call to its caller's account's service.
    let functions = apis[&args.account_id].functions.clone();
    let mut services = Services::default();
    for entry in per_account(&apis, |a| &a.json) {
        services = services.with_json(Arc::new(entry));
    }
    for entry in per_account(&apis, |a| &a.query) {
        services = services.with_query(Arc::new(entry));
    }
    for entry in per_account(&apis, |a| &a.rest) {
        services = services.with_rest(Arc::new(entry));
    }
    let s3 = sagestack_s3::api::service(
        store.clone(),
        args.region.clone(),
        args.s3_max_object_size,
        args.s3_max_inflight_bytes,
        auth.clone(),
        &args.account_id,
    );
    // The web console, last: it holds every account's view (built above) and nothing
    // built earlier holds it.
    let console = sagestack_console::Console::new(
        sagestack_console::ConsoleConfig {
            region: args.region.clone(),
            account_id: args.account_id.clone(),
            auth: auth.clone(),
            max_object_size: args.s3_max_object_size,
        },
        apis.iter()
            .map(|(id, a)| (id.clone(), a.console.clone()))
            .collect(),
    );
    let state = AppState {
        console: Some(console),
        reset: Some(Arc::new(reset)),
        services: services.with_s3(s3),
        lambda: Some(crate::lambda::LambdaRoutes {
            functions,
            responses: shared.responses.clone(),
            code_urls: shared.code_urls.clone(),
        }),
        region: args.region.clone(),
        account_id: args.account_id.clone(),
        auth,
        store: Some(store.clone()),
        events: accounts
            .iter()
            .map(|a| (a.account_id.clone(), a.events.clone()))
            .collect(),
    };
    Ok(App {
        state,
        store,
        accounts,
        resume_at_start,
    })
}

/// The `i`-th API of every account (as `pick` lists them), as one routed entry per `i`.
fn per_account<S: ?Sized>(
    apis: &BTreeMap<String, AccountApis>,
    pick: impl Fn(&AccountApis) -> &Vec<Arc<S>>,
) -> Vec<PerAccount<S>> {
    let n = apis.values().next().map_or(0, |a| pick(a).len());
    (0..n)
        .map(|i| {
            let by_account = apis.iter().map(|(id, a)| (id.clone(), pick(a)[i].clone()));
            PerAccount::new(by_account.collect())
        })
        .collect()
}

/// The server's own account (`--account-id`), then every other account of the
/// credentials file, each once.
fn served_accounts(args: &ServeArgs, auth: &Auth) -> Vec<String> {
    let mut accounts = vec![args.account_id.clone()];
    if let Auth::Sigv4(credentials) = auth {
        for account in credentials.accounts() {
            if !accounts.contains(&account) {
                accounts.push(account);
            }
        }
    }
    accounts
}

/// Whether the embedded stores flush to disk: not with `--ephemeral` (whose data
/// directory `serve.rs` made, and removes at exit).
fn durability(args: &ServeArgs) -> sagestack_store::Durability {
    if args.ephemeral {
        sagestack_store::Durability::Ephemeral
    } else {
        sagestack_store::Durability::Durable
    }
}

/// The PostgreSQL pool settings of `--database-*`.
fn postgres_options(args: &ServeArgs) -> sagestack_store::postgres::PostgresOptions {
    sagestack_store::postgres::PostgresOptions {
        max_connections: args.database_max_connections,
        statement_timeout: Some(args.database_statement_timeout),
        acquire_timeout: args.database_acquire_timeout,
    }
}

/// Another account's store: `<data dir>/accounts/<id>` (SQLite), or the schema
/// `account_<id>` of the same PostgreSQL database (beside the URL's `search_path` schema,
/// when it names one: `<schema>_account_<id>`).
async fn open_account_store(args: &ServeArgs, account_id: &str) -> Result<Arc<dyn Store>, String> {
    let fail = |e: sagestack_store::StoreError| {
        format!("cannot open the store of account {account_id}: {e}")
    };
    match &args.database_url {
        Some(url) => {
            let schema =
                sagestack_store::PostgresStore::account_schema(url, account_id).map_err(fail)?;
            let options = postgres_options(args);
            let store = sagestack_store::PostgresStore::connect_with(url, Some(&schema), &options)
                .await
                .map_err(fail)?;
            Ok(Arc::new(store))
        }
        None => {
            let dir = args.data_dir.join("accounts").join(account_id);
            let store = sagestack_store::SqliteStore::open_with(&dir, durability(args))
                .await
                .map_err(fail)?;
            Ok(Arc::new(store))
        }
    }
}

/// One account's states, CloudFormation, provisioner and wire APIs over `store`, in
/// one straight line (see the module docs).
fn build_account(
    shared: &Shared<'_>,
    account_id: &str,
    store: Arc<dyn Store>,
) -> Result<(AccountApp, AccountApis, AccountReset), String> {
    let args = shared.args;
    let clock = shared.clock.clone();
    // Where TemplateURLs are read (projects, products and the CloudFormation API): the
    // embedded object store (this account's buckets), or an external S3 with
    // --s3-endpoint.
    let template_source: Arc<dyn TemplateSource> =
        crate::template_source::template_source(args, shared.objects.clone(), account_id)?;
    // This process's leases in this account's store: whoever drives a stack, a project,
    // a Service Catalog operation or the event delivery holds one.
    let leases =
        sagestack_store::Leaseholder::new(store.clone(), &shared.owner, crate::takeover::TTL);
    let claims: Arc<dyn sagestack_engine::claims::Claims> = Arc::new(leases.clone());

    // States: each service's rules and storage, shared by its API and its providers.
    // EventBridge first: buses, rules, targets and the outbox. Model packages and
    // CloudFormation publish their events to it (its providers below, its API last, its
    // delivery task once the targets' states exist).
    let events = Arc::new(sagestack_events::EventBridge::new(
        store.clone(),
        clock.clone(),
        sagestack_events::Scope {
            region: args.region.clone(),
            account_id: account_id.to_owned(),
        },
    ));
    let projects = Arc::new(Projects::new(store.clone(), clock.clone()));
    let groups = Arc::new(
        ModelPackageGroups::new(store.clone(), clock.clone()).with_publisher(events.clone()),
    );
    let parameters = Arc::new(Parameters::new(store.clone(), clock.clone()));
    let scope = Scope {
        region: args.region.clone(),
        account_id: account_id.to_owned(),
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
            account_id: account_id.to_owned(),
        },
    ));
    // CodePipeline and CodeBuild: definitions kept, runs recorded (never executed).
    let pipelines = Arc::new(sagestack_codepipeline::Pipelines::new(
        store.clone(),
        clock.clone(),
        sagestack_codepipeline::Scope {
            region: args.region.clone(),
            account_id: account_id.to_owned(),
        },
    ));
    let builds = Arc::new(sagestack_codebuild::Builds::new(
        store.clone(),
        clock.clone(),
        sagestack_codebuild::Scope {
            region: args.region.clone(),
            account_id: account_id.to_owned(),
        },
    ));
    // Lambda: the functions' state, and what runs them (before CloudFormation, whose
    // Lambda-backed custom resources invoke them). Code is content-addressed, so every
    // account's functions share one code directory.
    let functions = Arc::new(sagestack_lambda::Functions::new(
        store.clone(),
        shared.objects.clone(),
        clock.clone(),
        sagestack_lambda::Scope {
            region: args.region.clone(),
            account_id: account_id.to_owned(),
        },
        args.data_dir.join("lambda").join("code"),
    ));
    let invoker = Arc::new(sagestack_lambda::Invoker::new(
        functions.clone(),
        crate::lambda::executor(args, shared.auth, account_id, shared.endpoint)?,
        Arc::new(crate::lambda::FunctionLogs(logs.clone())),
    ));

    // CloudFormation, with the providers over those states and the configured extras.
    // Its stacks are claimed through leases only on a shared database: one process owns
    // the embedded store (its lock file), so nobody can race this one for a stack, the
    // engine's holds in memory are the whole claim, and a lease row would be two more
    // writes (claim and release) on every stack operation's path.
    let stack_claims: Arc<dyn sagestack_engine::claims::Claims> = if args.database_url.is_some() {
        claims.clone()
    } else {
        Arc::new(sagestack_engine::claims::Unclaimed)
    };
    let stack_store: Arc<dyn sagestack_engine::StackStore> = store.clone();
    let mut cfn_config =
        ServiceConfig::new(args.region.clone(), account_id.to_owned(), stack_store)
            .with_ssm(Arc::new(StoreSsmLookup::new(store.clone())))
            .with_template_source(template_source.clone())
            .with_event_publisher(events.clone())
            .with_claims(stack_claims);
    let native = native_providers(
        store.clone(),
        shared.objects.clone(),
        groups.clone(),
        parameters.clone(),
    );
    for (type_name, provider) in native
        .into_iter()
        .chain(sagestack_servicecatalog::provider::providers(
            catalog.clone(),
        ))
        .chain(sagestack_lambda::provider::providers(functions.clone()))
        .chain(sagestack_events::provider::providers(events.clone()))
        .chain(crate::native::pipeline_providers(
            pipelines.clone(),
            builds.clone(),
        ))
    {
        cfn_config = cfn_config.with_native_provider(type_name, provider);
    }
    let (type_name, provider) = log_group_provider(logs.clone());
    cfn_config = cfn_config.with_native_provider(type_name, provider);
    // A stack's projects reach the provisioner (built below) through this feed.
    let (project_changes, project_feed) = sagestack_sagemaker::project_changes();
    let (type_name, provider) = crate::native::project_provider(projects.clone(), project_changes);
    cfn_config = cfn_config.with_native_provider(type_name, provider);
    // Custom resources: Lambda ServiceTokens run this account's functions; configured
    // webhook prefixes go over HTTP.
    let lambda_custom = sagestack_lambda::custom_resource::LambdaCustomResources::new(
        invoker.clone(),
        shared.responses.clone(),
        shared.endpoint.to_string(),
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
    let provisioned = Arc::new(
        ProvisionedProducts::new(catalog.clone(), cloudformation.clone())
            .with_claims(claims.clone()),
    );
    let provisioner = ProjectProvisioner::new(ProvisionerParts {
        config: ProvisioningConfig {
            concurrency: args.provisioning_concurrency as usize,
            deleted_retention: std::time::Duration::from_secs(args.deleted_project_retention),
        },
        source: Some(template_source.clone()),
        service_catalog: Some(Arc::new(ProjectLauncher::new(provisioned.clone()))),
        projects: projects.clone(),
        cloudformation: cloudformation.clone(),
        changes: Some(project_feed),
        claims: Some(claims),
    });
    let resumable = Resumable {
        cloudformation: cloudformation.clone(),
        provisioned: provisioned.clone(),
        provisioner: provisioner.clone(),
    };

    // EventBridge's delivery task: matched events from the outbox (also what a previous
    // process left) to this account's functions, pipelines, build projects and buses,
    // and scheduled rules fired; started by takeover in the one process holding the
    // account's `events` lease.
    let targets: Arc<dyn sagestack_events::Targets> =
        Arc::new(crate::event_targets::AccountTargets {
            region: args.region.clone(),
            account_id: account_id.to_owned(),
            invoker: invoker.clone(),
            pipelines: pipelines.clone(),
            builds: builds.clone(),
        });
    let delivered = events.clone();
    let start_delivery: crate::takeover::DeliveryStarter =
        Box::new(move || sagestack_events::Delivery::start(delivered.clone(), targets.clone()));

    // The wire APIs, last: each over its state (SageMaker also tells the provisioner).
    let sagemaker: Arc<dyn Json11Service> = Arc::new(SageMakerService::new(
        projects.clone(),
        groups,
        Arc::new(provisioner.clone()),
    ));
    let servicecatalog: Arc<dyn Json11Service> =
        Arc::new(ServiceCatalogService::new(catalog, provisioned.clone()));
    let events_api: Arc<dyn Json11Service> =
        Arc::new(sagestack_events::EventsService::new(events.clone()));
    let console = sagestack_console::AccountView {
        sagemaker: sagemaker.clone(),
        projects,
        servicecatalog: servicecatalog.clone(),
        events: events_api.clone(),
        cloudformation: cloudformation.clone(),
        objects: shared.objects.clone(),
    };
    // STS: temporary keys go into the credentials the policy accepts (sigv4 only).
    let sessions = Arc::new(sagestack_sts::Sessions::new(
        store.clone(),
        match shared.auth {
            Auth::Sigv4(credentials) => Some(credentials.clone()),
            Auth::None { .. } => None,
        },
        clock.clone(),
        &args.region,
    ));
    let apis = AccountApis {
        json: vec![
            sagemaker,
            Arc::new(SsmService::new(parameters)),
            servicecatalog,
            Arc::new(sagestack_logs::LogsService::new(logs.clone())),
            events_api,
            Arc::new(sagestack_codepipeline::CodePipelineService::new(pipelines)),
            Arc::new(sagestack_codebuild::CodeBuildService::new(builds)),
        ],
        query: vec![
            Arc::new(CloudFormationApi::new(cloudformation).with_template_source(template_source)),
            Arc::new(sagestack_sts::StsApi::new(sessions)),
            // IAM roles: the same records the AWS::IAM::Role provider writes.
            Arc::new(sagestack_iam::IamApi::new(Arc::new(
                sagestack_iam::Roles::new(store.clone(), clock.clone(), account_id, &args.region),
            ))),
        ],
        rest: vec![Arc::new(sagestack_lambda::LambdaApi::new(
            invoker.clone(),
            shared.code_urls.clone(),
        ))],
        functions,
        console,
    };
    let account = AccountApp {
        account_id: account_id.to_owned(),
        store,
        provisioner,
        resumable,
        leases,
        events,
        start_delivery,
    };
    let reset = AccountReset {
        provisioned,
        invoker,
        logs,
    };
    Ok((account, apis, reset))
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
