//! `sagestack serve`: build the server (`crate::app`), listen, shut down cleanly.
//!
//! Shutdown: on SIGINT or SIGTERM the listener stops accepting, in-flight requests
//! run to completion, connections still open after `--shutdown-timeout` are dropped
//! (`crate::listener`), and only then is the store closed, so every acknowledged write
//! is committed and the SQLite WAL is checkpointed.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use tracing_subscriber::EnvFilter;

use crate::app::App;
use crate::cli::{LogFormat, ServeArgs};
use crate::guard::guard;
use crate::hosts::AllowedHosts;
use crate::listener::Limits;
use crate::router::router;

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

async fn serve(mut args: ServeArgs) -> Result<(), String> {
    let started = Instant::now();
    // --ephemeral: a fresh data directory, removed when this returns (declared first,
    // so dropped last: after the store is closed, on every path out).
    let ephemeral = if args.ephemeral {
        let dir = crate::ephemeral::data_dir()?;
        args.data_dir = dir.path().to_path_buf();
        Some(dir)
    } else {
        None
    };
    // Bound first: what the build starts (Lambda functions, custom resources resumed
    // at start-up) must know, and may call, this server's address.
    let listener = tokio::net::TcpListener::bind((args.host.as_str(), args.port))
        .await
        .map_err(|e| format!("cannot listen on {}:{}: {e}", args.host, args.port))?;
    let addr: SocketAddr = listener.local_addr().map_err(|e| e.to_string())?;
    let app = crate::app::build(&args, &crate::lambda::endpoint_url(addr)).await?;
    let App {
        state,
        store,
        accounts,
        resume_at_start,
    } = app;
    tracing::info!(
        %addr,
        backend = match (&args.database_url, &ephemeral) {
            (Some(_), _) => "postgres",
            (None, Some(_)) => "sqlite (ephemeral: not durable, removed at exit)",
            (None, None) => "sqlite",
        },
        data_dir = %args.data_dir.display(),
        region = %args.region,
        auth = state.auth.name(),
        startup_ms = started.elapsed().as_millis() as u64,
        "sagestack listening on http://{addr}"
    );
    tracing::info!(
        "web console: http://{addr}{}/ (auth: {})",
        sagestack_console::PREFIX,
        state.auth.name()
    );
    let reloader = reload_credentials_on_sighup(&state.auth);
    let hosts = AllowedHosts::new(&args.host, &args.s3_hostnames, &args.allowed_hosts);
    let limits = Limits {
        max_connections: args.max_connections as usize,
        header_read: args.header_read_timeout,
        body_read: args.body_read_timeout,
        idle: args.idle_timeout,
        shutdown: args.shutdown_timeout,
    };
    let serving = tokio::spawn(crate::listener::serve(
        listener,
        guard(router(state), hosts),
        limits,
        shutdown_signal(),
    ));
    // Interrupted operations are resumed while the server answers: a custom resource
    // re-sent at start-up runs a function that calls this server (its ResponseURL, the
    // APIs it uses). Until an operation is resumed its stack or project reads as still
    // in progress, which it is.
    if resume_at_start {
        for account in &accounts {
            if let Err(e) = crate::store_watch::resume_at_start(&account.resumable).await {
                serving.abort();
                return Err(format!("account {}: {e}", account.account_id));
            }
        }
    }
    // Each account's store is watched (resuming after a store failure); takeover renews
    // this process's leases, takes over what a dead replica held, and runs event delivery
    // where this process holds an account's lease (`takeover.rs`).
    let mut watchers = Vec::new();
    let mut stores = Vec::new();
    let mut provisioners = Vec::new();
    let mut work = Vec::new();
    for account in accounts {
        watchers.push(crate::store_watch::spawn(
            account.store.clone(),
            account.resumable.clone(),
            !resume_at_start,
        ));
        stores.push(account.store.clone());
        provisioners.push(account.provisioner);
        work.push(crate::takeover::AccountWork {
            account_id: account.account_id,
            store: account.store,
            leases: account.leases,
            resumable: account.resumable,
            start_delivery: account.start_delivery,
        });
    }
    let takeover = crate::takeover::Takeover::start(work);
    let _ = serving.await;
    // Let running project operations record their outcome (bounded: whatever is still
    // running is resumed by the next start-up).
    let idle = futures::future::join_all(provisioners.iter().map(|p| p.wait_idle()));
    if tokio::time::timeout(std::time::Duration::from_secs(10), idle)
        .await
        .is_err()
    {
        tracing::warn!("project operations still running at shutdown; the next start resumes them");
    }
    for watcher in watchers {
        watcher.abort();
    }
    // Stops delivery and gives every lease back, so other replicas take over at once
    // what this one leaves unfinished.
    takeover.stop().await;
    if let Some(reloader) = reloader {
        reloader.abort();
    }
    tracing::info!("draining done; closing the store");
    // Dropping the last owner would close it too; closing here waits for the WAL
    // checkpoint and reports its failure. (The server's own account's store is `store`.)
    drop(provisioners);
    for account_store in stores {
        if !Arc::ptr_eq(&account_store, &store) {
            account_store.close().await;
        }
    }
    store.close().await;
    if let Some(dir) = ephemeral {
        let path = dir.path().to_path_buf();
        if let Err(e) = dir.close() {
            tracing::warn!(dir = %path.display(), "cannot remove the ephemeral data directory: {e}");
        }
    }
    Ok(())
}

/// Resolves on the first SIGINT (Ctrl-C) or SIGTERM.
/// Under `--auth sigv4`, re-reads the credentials on each SIGHUP (a bad file keeps the
/// keys in use, and says why).
fn reload_credentials_on_sighup(
    auth: &sagestack_protocol::auth::Auth,
) -> Option<tokio::task::JoinHandle<()>> {
    let sagestack_protocol::auth::Auth::Sigv4(credentials) = auth else {
        return None;
    };
    let credentials = credentials.clone();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut hangups = match signal(SignalKind::hangup()) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!("cannot listen for SIGHUP; credentials will not reload: {e}");
                return None;
            }
        };
        Some(tokio::spawn(async move {
            while hangups.recv().await.is_some() {
                match credentials.reload() {
                    Ok(keys) => tracing::info!(keys, "credentials reloaded"),
                    Err(e) => tracing::error!("credentials not reloaded, the old ones stay: {e}"),
                }
            }
        }))
    }
    #[cfg(not(unix))]
    {
        let _ = credentials;
        None
    }
}

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
