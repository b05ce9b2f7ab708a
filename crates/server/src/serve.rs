//! `sagestack serve`: open the store, build the services, listen, shut down cleanly.
//!
//! Shutdown: on SIGINT or SIGTERM the listener stops accepting, in-flight requests
//! run to completion, connections still open after `--shutdown-timeout` are dropped
//! (`crate::listener`), and only then is the store closed, so every acknowledged write
//! is committed and the SQLite WAL is checkpointed.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use sagestack_cloudformation::api::CloudFormationApi;
use sagestack_cloudformation::{CloudFormationService, ServiceConfig, TemplateSource};
use sagestack_provisioning::{LauncherSlot, ProjectProvisioner, ProvisioningConfig};
use sagestack_sagemaker::{SageMakerService, SystemClock};
use sagestack_servicecatalog::{Catalog, ProvisionedProducts, ServiceCatalogService};
use sagestack_ssm::{SsmService, StoreSsmLookup};
use tracing_subscriber::EnvFilter;

use crate::cli::{LogFormat, ServeArgs};
use crate::guard::guard;
use crate::hosts::AllowedHosts;
use crate::listener::Limits;
use crate::native::native_providers;
use crate::router::{AppState, Services, router};

/// Runs the server until a shutdown signal; the process exit code.
pub fn run(args: ServeArgs) -> ExitCode {
    init_tracing(args.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!("cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing(format: LogFormat) {
    // s3s logs every refused request at ERROR with the whole error, which can carry a
    // request's body (one multi-megabyte line); the router logs a bounded summary of
    // those instead. s3s's own lines stay available by naming it in RUST_LOG.
    let directives = std::env::var(EnvFilter::DEFAULT_ENV).unwrap_or_else(|_| "info".into());
    let directives = if directives.contains("s3s") {
        directives
    } else {
        format!("{directives},s3s=off")
    };
    let filter = EnvFilter::try_new(&directives).unwrap_or_else(|_| EnvFilter::new("info,s3s=off"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Pretty => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

async fn serve(args: ServeArgs) -> Result<(), String> {
    let started = Instant::now();
    let store = sagestack_store::open(args.database_url.as_deref(), &args.data_dir)
        .await
        .map_err(|e| format!("cannot open the store: {e}"))?;
    // Where TemplateURLs are read (projects and the CloudFormation API): the embedded
    // object store, or an external S3 with --s3-endpoint.
    let template_source: Arc<dyn TemplateSource> = crate::template_source::template_source(
        &args,
        store.clone() as Arc<dyn sagestack_store::ObjectStore>,
    )?;
    // Service Catalog, in one direction: the catalog now (its portfolio/product/
    // association providers go into the CloudFormation service), the provisioned products
    // once CloudFormation exists, the API with the router's services. The provisioner's
    // Service Catalog backend (projects created with ServiceCatalogProvisioningDetails) is
    // bound to the provisioned products once they exist, before `start`.
    let catalog = Arc::new(
        Catalog::with_system_clock(store.clone(), &args.region, &args.account_id)
            .with_template_source(template_source.clone()),
    );
    let launcher = LauncherSlot::new();
    // Project provisioning: built unbound (the SageMaker service needs it now, and it
    // needs the SageMaker and CloudFormation services), bound by `start` below.
    let provisioner = ProjectProvisioner::new(
        ProvisioningConfig {
            concurrency: args.provisioning_concurrency as usize,
            deleted_retention: std::time::Duration::from_secs(args.deleted_project_retention),
        },
        Some(template_source.clone()),
    )
    .with_service_catalog(Arc::new(launcher.clone()));
    let sagemaker = Arc::new(SageMakerService::new(
        store.clone(),
        Arc::new(provisioner.clone()),
        Arc::new(SystemClock),
    ));
    // CloudFormation: stacks persist in the same store. Stack and project operations a
    // previous process left in progress are resumed or rolled back before serving: always
    // with the embedded store, which one process owns; with PostgreSQL only on the
    // replica started with --reconcile, since replicas would otherwise each take over
    // the operations the others are running.
    let reconcile = args.database_url.is_none() || args.reconcile;
    let stack_store: Arc<dyn sagestack_engine::StackStore> = store.clone();
    // SSM: its API, the SSM values templates read, and (with SageMaker and IAM) the
    // resource types whose stack resources are real objects of this server.
    let ssm = Arc::new(SsmService::with_system_clock(store.clone()));
    let mut cfn_config =
        ServiceConfig::new(args.region.clone(), args.account_id.clone(), stack_store)
            .with_ssm(Arc::new(StoreSsmLookup::new(store.clone())));
    for (type_name, provider) in native_providers(store.clone(), sagemaker.clone(), ssm.clone()) {
        cfn_config = cfn_config.with_native_provider(type_name, provider);
    }
    for (type_name, provider) in sagestack_servicecatalog::provider::providers(catalog.clone()) {
        cfn_config = cfn_config.with_native_provider(type_name, provider);
    }
    let cloudformation = Arc::new(
        CloudFormationService::new(cfn_config)
            .map_err(|e| format!("cannot assemble CloudFormation: {e}"))?,
    );
    let provisioned = Arc::new(ProvisionedProducts::new(
        catalog.clone(),
        cloudformation.clone(),
    ));
    launcher.bind(&provisioned);
    if reconcile {
        let recovered = cloudformation
            .recover()
            .await
            .map_err(|e| format!("cannot recover CloudFormation stacks: {e}"))?;
        if !recovered.is_empty() {
            tracing::info!(
                stacks = recovered.len(),
                "resuming interrupted stack operations"
            );
        }
        // Service Catalog operations whose settling died with the previous process are
        // judged by where their (now resumed) stacks end up; before the provisioner
        // resumes projects, which wait for those operations.
        let settling = provisioned
            .recover()
            .await
            .map_err(|e| format!("cannot recover Service Catalog operations: {e}"))?;
        if settling > 0 {
            tracing::info!(
                provisioned_products = settling,
                "settling interrupted Service Catalog operations"
            );
        }
    }
    let reconciled = provisioner
        .start(&sagemaker, cloudformation.clone(), reconcile)
        .await
        .map_err(|e| format!("cannot start project provisioning: {e}"))?;
    if !reconciled.resumed.is_empty() {
        tracing::info!(
            projects = reconciled.resumed.len(),
            "resuming interrupted project operations"
        );
    }
    if reconcile {
        crate::store_watch::spawn(
            store.clone(),
            crate::store_watch::Resumable {
                cloudformation: cloudformation.clone(),
                provisioned: provisioned.clone(),
                sagemaker: sagemaker.clone(),
                provisioner: provisioner.clone(),
            },
        );
    }
    let cloudformation = Arc::new(
        CloudFormationApi::new(cloudformation).with_template_source(template_source.clone()),
    );
    // S3: buckets and objects in the same store (shared by replicas on PostgreSQL).
    let s3_credentials = sagestack_s3::auth::StaticCredentials::parse(&args.credentials)
        .map_err(|e| format!("invalid --credentials: {e}"))?;
    let s3 = sagestack_s3::api::service(
        store.clone(),
        args.region.clone(),
        args.s3_max_object_size,
        args.s3_max_inflight_bytes,
        s3_credentials,
    );
    let state = AppState {
        services: Services::default()
            .with_json(sagemaker)
            .with_json(ssm)
            .with_json(Arc::new(ServiceCatalogService::new(catalog, provisioned)))
            .with_query(cloudformation)
            .with_s3(s3),
        region: args.region.clone(),
        account_id: args.account_id.clone(),
        store: Some(store.clone()),
    };
    let listener = tokio::net::TcpListener::bind((args.host.as_str(), args.port))
        .await
        .map_err(|e| format!("cannot listen on {}:{}: {e}", args.host, args.port))?;
    let addr: SocketAddr = listener.local_addr().map_err(|e| e.to_string())?;
    tracing::info!(
        %addr,
        backend = if args.database_url.is_some() { "postgres" } else { "sqlite" },
        data_dir = %args.data_dir.display(),
        region = %args.region,
        startup_ms = started.elapsed().as_millis() as u64,
        "sagestack listening on http://{addr}"
    );
    let hosts = AllowedHosts::new(&args.host, &args.s3_hostnames, &args.allowed_hosts);
    let limits = Limits {
        max_connections: args.max_connections as usize,
        header_read: args.header_read_timeout,
        body_read: args.body_read_timeout,
        idle: args.idle_timeout,
        shutdown: args.shutdown_timeout,
    };
    crate::listener::serve(
        listener,
        guard(router(state), hosts),
        limits,
        shutdown_signal(),
    )
    .await;
    // Let running project operations record their outcome (bounded: whatever is still
    // running is resumed by the next start-up).
    if tokio::time::timeout(std::time::Duration::from_secs(10), provisioner.wait_idle())
        .await
        .is_err()
    {
        tracing::warn!("project operations still running at shutdown; the next start resumes them");
    }
    tracing::info!("draining done; closing the store");
    store.close().await;
    Ok(())
}

/// Resolves on the first SIGINT (Ctrl-C) or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutdown signal received; finishing in-flight requests");
}
