//! Command line. Each subcommand is a variant of [`Command`] with its own argument
//! struct; add new ones next to `serve` and `template`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// A self-hosted, wire-compatible Amazon SageMaker Projects service.
#[derive(Debug, Parser)]
#[command(name = "sagestack", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server. (Boxed: the flags outweigh the other commands many times over.)
    Serve(Box<ServeArgs>),
    /// Work with CloudFormation templates offline.
    #[command(subcommand)]
    Template(TemplateCommand),
}

/// `sagestack template ...`
#[derive(Debug, Subcommand)]
pub enum TemplateCommand {
    /// Parse and validate a template; print every error as `file:line:col: CODE message`
    /// and exit non-zero when there is any.
    Validate(ValidateArgs),
}

/// `sagestack template validate` options.
#[derive(Debug, Clone, Args)]
pub struct ValidateArgs {
    /// The template file (JSON or YAML).
    pub file: PathBuf,
    /// A parameter value, `Key=Value`; repeat for several. With parameters the template is
    /// also bound (constraints, rules, conditions) as a stack create would.
    #[arg(long = "param", value_name = "KEY=VALUE", value_parser = parse_param)]
    pub params: Vec<(String, String)>,
}

fn parse_param(raw: &str) -> Result<(String, String), String> {
    match raw.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("expected KEY=VALUE, got '{raw}'")),
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Pretty,
    /// One JSON object per line.
    Json,
}

/// Who may call (`--auth`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AuthMode {
    /// Any credentials, on every protocol (S3 included): local development.
    None,
    /// Valid SigV4 signatures by the keys of --credentials-file or --credentials only.
    Sigv4,
}

/// `sagestack serve` options; each has a `SAGESTACK_*` environment equivalent.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "SAGESTACK_HOST", default_value = "127.0.0.1")]
    pub host: String,
    /// Port to listen on (0 picks a free port).
    #[arg(long, env = "SAGESTACK_PORT", default_value_t = 4566)]
    pub port: u16,
    /// Directory of the embedded (SQLite) store.
    #[arg(long, env = "SAGESTACK_DATA_DIR", default_value = "./.sagestack")]
    pub data_dir: PathBuf,
    /// For tests and CI: NOT DURABLE. The embedded store in a fresh temporary
    /// directory, removed at exit (SIGTERM/SIGINT included), that never flushes to disk
    /// (SQLite synchronous=OFF, no fsync); everything else as in the durable mode.
    #[arg(long, env = "SAGESTACK_EPHEMERAL", conflicts_with_all = ["data_dir", "database_url"])]
    pub ephemeral: bool,
    /// Use PostgreSQL (postgres://...) instead of the embedded store.
    #[arg(long, env = "SAGESTACK_DATABASE_URL")]
    pub database_url: Option<String>,
    /// With PostgreSQL: connections in each account's pool (one more per account is
    /// held by the change feed of EventBridge's rules).
    #[arg(long, env = "SAGESTACK_DATABASE_MAX_CONNECTIONS", default_value_t = 16,
          value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub database_max_connections: u32,
    /// With PostgreSQL: seconds a statement may run before the server cancels it (the
    /// call fails instead of hanging); migrations at start-up are exempt.
    #[arg(long, env = "SAGESTACK_DATABASE_STATEMENT_TIMEOUT", default_value = "60", value_parser = parse_seconds)]
    pub database_statement_timeout: Duration,
    /// With PostgreSQL: seconds a call waits for a database connection; while the
    /// database is unreachable every call fails after this (503 ServiceUnavailable)
    /// rather than waiting for it to return.
    #[arg(long, env = "SAGESTACK_DATABASE_ACQUIRE_TIMEOUT", default_value = "5", value_parser = parse_seconds)]
    pub database_acquire_timeout: Duration,
    /// The region this server answers for.
    #[arg(long, env = "SAGESTACK_REGION", default_value = "us-east-1")]
    pub region: String,
    /// The account id this server answers for.
    #[arg(long, env = "SAGESTACK_ACCOUNT_ID", default_value = "000000000000")]
    pub account_id: String,
    /// How many project operations (create, update, delete) run at once.
    #[arg(long, env = "SAGESTACK_PROVISIONING_CONCURRENCY", default_value_t = 32,
          value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub provisioning_concurrency: u32,
    /// Seconds a `DeleteCompleted` project stays visible to DescribeProject and
    /// ListProjects before it is removed.
    #[arg(
        long,
        env = "SAGESTACK_DELETED_PROJECT_RETENTION",
        default_value_t = 60
    )]
    pub deleted_project_retention: u64,
    /// Deprecated, does nothing (accepted so existing deployments start; warns once):
    /// every replica now takes over interrupted work through leases in the store.
    #[arg(long, env = "SAGESTACK_RECONCILE")]
    pub reconcile: bool,
    /// Log format (the level is set with RUST_LOG, default `info`).
    #[arg(long, env = "SAGESTACK_LOG_FORMAT", value_enum, default_value_t = LogFormat::Pretty)]
    pub log_format: LogFormat,
    /// Read `TemplateURL`s from this external S3 (e.g. `http://minio:9000` or
    /// `https://s3.eu-west-1.amazonaws.com`) instead of the embedded store. Credentials
    /// come from the standard AWS environment variables or shared credentials profile.
    #[arg(long, env = "SAGESTACK_S3_ENDPOINT", value_name = "URL")]
    pub s3_endpoint: Option<String>,
    /// The region requests to `--s3-endpoint` are signed for (default: `--region`).
    #[arg(long, env = "SAGESTACK_S3_REGION")]
    pub s3_region: Option<String>,
    /// Path-style requests to `--s3-endpoint` (`endpoint/bucket/key`, as MinIO expects)
    /// rather than virtual-hosted ones (`bucket.endpoint/key`).
    #[arg(long, env = "SAGESTACK_S3_PATH_STYLE")]
    pub s3_path_style: bool,
    /// More `host[:port]` names this server is reached at (comma-separated), accepted in
    /// `TemplateURL`s besides `localhost`, `127.0.0.1`, `[::1]` and `--host` on `--port`.
    #[arg(
        long = "s3-hostname",
        env = "SAGESTACK_S3_HOSTNAMES",
        value_delimiter = ','
    )]
    pub s3_hostnames: Vec<String>,
    /// Who may call. `none`: any credentials on every protocol (a request must still
    /// be signed, so that web pages cannot drive the server). `sigv4`: every request
    /// must carry a valid SigV4 signature by a key of --credentials-file or
    /// --credentials, and acts as that key's principal.
    #[arg(long, env = "SAGESTACK_AUTH", value_enum, default_value_t = AuthMode::None)]
    pub auth: AuthMode,
    /// With --auth sigv4: a TOML file of `[[credentials]]` (access_key_id,
    /// secret_access_key, account_id, optional arn and user_id), re-read on SIGHUP.
    #[arg(long, env = "SAGESTACK_CREDENTIALS_FILE", value_name = "PATH")]
    pub credentials_file: Option<std::path::PathBuf>,
    /// With --auth sigv4: keys of the root of --account-id, `AKID:SECRET[,...]` (a
    /// shorthand for a one-account --credentials-file). Lambda functions call the
    /// server back with the first key (by access key id); under `none`, with
    /// `test`/`test`.
    #[arg(long, env = "SAGESTACK_CREDENTIALS")]
    pub credentials: Option<String>,
    /// Largest S3 object (and multipart part) accepted, in bytes; larger uploads are
    /// refused with EntityTooLarge.
    #[arg(long, env = "SAGESTACK_S3_MAX_OBJECT_SIZE", default_value_t = sagestack_s3::api::DEFAULT_MAX_OBJECT_SIZE)]
    pub s3_max_object_size: u64,
    /// Memory S3 object bodies in flight may take at once, in bytes: each request holding
    /// a body (PutObject, UploadPart, CompleteMultipartUpload, CopyObject, GetObject)
    /// reserves three times its size (the body and the store's copies) and waits while
    /// others hold the budget. An object too large for the whole budget is EntityTooLarge.
    #[arg(long, env = "SAGESTACK_S3_MAX_INFLIGHT_BYTES", default_value_t = sagestack_s3::api::DEFAULT_MAX_INFLIGHT_BYTES)]
    pub s3_max_inflight_bytes: u64,
    /// More names requests may carry in `Host` (comma-separated, `name` or
    /// `*.suffix`), e.g. the name a load balancer forwards; besides loopback names,
    /// `--host` and each `--s3-hostname`. Other hosts are refused (421).
    #[arg(
        long = "allowed-host",
        env = "SAGESTACK_ALLOWED_HOSTS",
        value_delimiter = ','
    )]
    pub allowed_hosts: Vec<String>,
    /// Connections served at once; further clients wait until one closes.
    #[arg(long, env = "SAGESTACK_MAX_CONNECTIONS", default_value_t = 4096,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,
    /// Seconds a client has to send a whole request head once it starts one.
    #[arg(long, env = "SAGESTACK_HEADER_READ_TIMEOUT", default_value = "10", value_parser = parse_seconds)]
    pub header_read_timeout: Duration,
    /// Seconds a request body may go without delivering any bytes.
    #[arg(long, env = "SAGESTACK_BODY_READ_TIMEOUT", default_value = "30", value_parser = parse_seconds)]
    pub body_read_timeout: Duration,
    /// Seconds a connection may stay open with no request (before its first one and
    /// between keep-alive requests). Longer than the SDKs' waiter delays (CloudFormation's
    /// are 30 s): a client that sleeps 30 s and then reuses its pooled connection would
    /// otherwise meet the server closing it at that very moment.
    #[arg(long, env = "SAGESTACK_IDLE_TIMEOUT", default_value = "75", value_parser = parse_seconds)]
    pub idle_timeout: Duration,
    /// Seconds shutdown waits for requests in flight before closing the connections
    /// left open.
    #[arg(long, env = "SAGESTACK_SHUTDOWN_TIMEOUT", default_value = "10", value_parser = parse_seconds)]
    pub shutdown_timeout: Duration,
    /// Sends custom resources (`Custom::*`, `AWS::CloudFormation::CustomResource`) whose
    /// `ServiceToken` starts with TOKEN_PREFIX to the plain-HTTP endpoint URL, which
    /// answers the request document with the response document (repeatable or
    /// comma-separated; the longest matching prefix wins). Without a match, a token that
    /// is the ARN of a Lambda function of this server invokes it; any other custom
    /// resource fails, saying that no handler is configured.
    #[arg(
        long = "custom-resource-webhook",
        env = "SAGESTACK_CUSTOM_RESOURCE_WEBHOOKS",
        value_delimiter = ',',
        value_name = "TOKEN_PREFIX=URL",
        value_parser = parse_webhook
    )]
    pub custom_resource_webhooks: Vec<(String, String)>,
    /// Seconds a custom-resource webhook has to answer.
    #[arg(long, env = "SAGESTACK_CUSTOM_RESOURCE_TIMEOUT", default_value = "300", value_parser = parse_seconds)]
    pub custom_resource_timeout: Duration,
    /// Resource types with no bundled schema that stacks may still declare, kept as
    /// inert records with a generated physical id and no attributes (comma-separated:
    /// exact names, `Vendor::Service::*` prefixes, or `*` for every type). Off by
    /// default: an unknown type fails the template's validation.
    #[arg(
        long = "accept-unknown-types",
        env = "SAGESTACK_ACCEPT_UNKNOWN_TYPES",
        value_delimiter = ',',
        value_name = "TYPE_GLOB",
        value_parser = parse_type_glob
    )]
    pub accept_unknown_types: Vec<String>,
    /// The Python interpreter that runs `python3.*` Lambda functions (its packages, e.g.
    /// boto3, are what functions can import). Default: `python3.N` of the function's
    /// runtime on PATH, else `python3`.
    #[arg(long, env = "SAGESTACK_LAMBDA_PYTHON", value_name = "PATH")]
    pub lambda_python: Option<PathBuf>,
    /// The `node` that runs `nodejs*` Lambda functions. Default: `node` on PATH.
    #[arg(long, env = "SAGESTACK_LAMBDA_NODE", value_name = "PATH")]
    pub lambda_node: Option<PathBuf>,
    /// Lambda worker processes of all functions at once (invocations beyond it wait).
    #[arg(long, env = "SAGESTACK_LAMBDA_MAX_WORKERS", default_value = "32", value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub lambda_max_workers: u32,
    /// Lambda worker processes of one function at once.
    #[arg(long, env = "SAGESTACK_LAMBDA_WORKERS_PER_FUNCTION", default_value = "8", value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub lambda_workers_per_function: u32,
    /// Seconds an idle Lambda worker is kept warm before it is stopped.
    #[arg(long, env = "SAGESTACK_LAMBDA_IDLE_TIMEOUT", default_value = "300", value_parser = parse_seconds)]
    pub lambda_idle_timeout: Duration,
}

/// `TOKEN_PREFIX=URL`, split at the first `=` (ARNs have none; a URL's query may).
fn parse_webhook(raw: &str) -> Result<(String, String), String> {
    let Some((prefix, url)) = raw.split_once('=') else {
        return Err(format!("expected TOKEN_PREFIX=URL, got '{raw}'"));
    };
    if prefix.is_empty() {
        return Err(format!("the token prefix is empty in '{raw}'"));
    }
    if !url.starts_with("http://") {
        return Err(format!(
            "'{url}' is not an http:// URL (the webhook transport speaks plain HTTP; put a TLS-terminating proxy in front of an https endpoint)"
        ));
    }
    Ok((prefix.to_string(), url.to_string()))
}

/// `*`, an exact type name `A::B::C`, or a prefix `A::B::*` / `A::*`.
fn parse_type_glob(raw: &str) -> Result<String, String> {
    let name = raw.strip_suffix('*').unwrap_or(raw);
    let ok = raw == "*"
        || (raw.ends_with("::*") && name.len() > 2)
        || (!raw.contains('*')
            && raw.split("::").count() == 3
            && raw.split("::").all(|p| !p.is_empty()));
    if ok {
        Ok(raw.to_string())
    } else {
        Err(format!(
            "'{raw}' is not a resource type (Vendor::Service::Type), a prefix (Vendor::Service::*) or *"
        ))
    }
}

/// A positive number of seconds, fractions allowed (`0.5`).
fn parse_seconds(raw: &str) -> Result<Duration, String> {
    let seconds: f64 = raw
        .parse()
        .map_err(|_| format!("expected a number of seconds, got '{raw}'"))?;
    if !(seconds > 0.0 && seconds <= 86_400.0) {
        return Err(format!("expected seconds between 0 and 86400, got '{raw}'"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

impl Cli {
    pub fn run(self) -> ExitCode {
        match self.command {
            Command::Serve(args) => crate::serve::run(*args),
            Command::Template(TemplateCommand::Validate(args)) => {
                let mut out = std::io::stdout().lock();
                let code =
                    crate::template_cli::validate_command(&args.file, &args.params, &mut out);
                ExitCode::from(u8::try_from(code).unwrap_or(1))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhooks_split_at_the_first_equals_and_need_http() {
        assert_eq!(
            parse_webhook("arn:aws:lambda:us-east-1:1:function:=http://h:9/a?b=c").unwrap(),
            (
                "arn:aws:lambda:us-east-1:1:function:".to_string(),
                "http://h:9/a?b=c".to_string()
            )
        );
        assert!(parse_webhook("no-equals").is_err());
        assert!(parse_webhook("=http://h/").is_err());
        assert!(
            parse_webhook("t=https://h/")
                .unwrap_err()
                .contains("plain HTTP")
        );
    }

    #[test]
    fn type_globs_are_names_prefixes_or_everything() {
        for ok in ["*", "MyOrg::Widgets::Gear", "MyOrg::Widgets::*", "MyOrg::*"] {
            assert_eq!(parse_type_glob(ok).unwrap(), ok);
        }
        for bad in ["", "MyOrg", "MyOrg::Widgets", "My*::X::Y", "::*", "A::::B"] {
            assert!(parse_type_glob(bad).is_err(), "{bad}");
        }
    }
}
