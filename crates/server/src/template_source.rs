//! Which [`TemplateSource`] reads `TemplateURL`s, from the `serve` flags: the embedded
//! object store by default (URLs naming AWS S3 hosts or this server), or an external S3
//! with `--s3-endpoint` (URLs naming AWS S3 hosts or that endpoint). Wiring only: the
//! URL rules and the fetching live in `sagestack-s3`.

use std::net::IpAddr;
use std::sync::Arc;

use sagestack_cloudformation::TemplateSource;
use sagestack_s3::source::{ExternalS3Config, ExternalTemplateSource, StoreTemplateSource};
use sagestack_s3::url::UrlPolicy;
use sagestack_store::ObjectStore;

use crate::cli::ServeArgs;

/// The `host[:port]`s this server answers on, as `TemplateURL`s name it: the loopback
/// names and `--host` (unless it is a wildcard address) on `--port` (any port when
/// `--port 0`), and every `--s3-hostname`.
pub fn own_hosts(args: &ServeArgs) -> Vec<String> {
    let port = |h: &str| {
        if args.port == 0 {
            h.to_string()
        } else {
            format!("{h}:{}", args.port)
        }
    };
    let mut hosts = vec![port("localhost"), port("127.0.0.1"), port("[::1]")];
    let listen = args.host.trim_matches(['[', ']']);
    let wildcard = listen
        .parse::<IpAddr>()
        .is_ok_and(|ip| ip.is_unspecified() || ip.is_loopback());
    if !wildcard && listen != "localhost" {
        let h = if listen.contains(':') {
            format!("[{listen}]")
        } else {
            listen.to_string()
        };
        hosts.push(port(&h));
    }
    hosts.extend(args.s3_hostnames.iter().filter(|h| !h.is_empty()).cloned());
    hosts
}

/// Builds the template source the CloudFormation API (and project provisioning) of
/// `account` use: the embedded store reads only that account's buckets.
pub fn template_source(
    args: &ServeArgs,
    objects: Arc<dyn ObjectStore>,
    account: &str,
) -> Result<Arc<dyn TemplateSource>, String> {
    if let Some(endpoint) = &args.s3_endpoint {
        let source = ExternalTemplateSource::new(ExternalS3Config {
            endpoint: endpoint.clone(),
            region: args
                .s3_region
                .clone()
                .unwrap_or_else(|| args.region.clone()),
            path_style: args.s3_path_style,
        })
        .map_err(|e| format!("--s3-endpoint: {e}"))?;
        return Ok(Arc::new(source));
    }
    let mut policy = UrlPolicy::new();
    for host in own_hosts(args) {
        policy = policy
            .with_own_host(&host)
            .map_err(|e| format!("--s3-hostname: {e}"))?;
    }
    Ok(Arc::new(
        StoreTemplateSource::new(objects, policy).reading_as(account, &args.account_id),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::Parser;

    fn args(extra: &[&str]) -> ServeArgs {
        let mut argv = vec!["sagestack", "serve"];
        argv.extend_from_slice(extra);
        match Cli::parse_from(argv).command {
            Command::Serve(a) => *a,
            _ => unreachable!(),
        }
    }

    #[test]
    fn own_hosts_follow_the_listen_address_and_port() {
        assert_eq!(
            own_hosts(&args(&[])),
            ["localhost:4566", "127.0.0.1:4566", "[::1]:4566"]
        );
        assert_eq!(
            own_hosts(&args(&[
                "--host",
                "10.0.0.5",
                "--port",
                "8080",
                "--s3-hostname",
                "s3.internal:8080,sagestack"
            ])),
            [
                "localhost:8080",
                "127.0.0.1:8080",
                "[::1]:8080",
                "10.0.0.5:8080",
                "s3.internal:8080",
                "sagestack"
            ]
        );
        assert_eq!(
            own_hosts(&args(&["--host", "0.0.0.0", "--port", "0"])),
            ["localhost", "127.0.0.1", "[::1]"]
        );
    }

    const ACCOUNT: &str = "000000000000";

    #[tokio::test]
    async fn sources_are_chosen_and_checked_from_the_flags() {
        let objects: Arc<dyn ObjectStore> =
            Arc::new(sagestack_s3::memory::MemoryObjectStore::new());
        // Embedded: a URL naming this server is resolved (the bucket is then missing).
        let s = template_source(&args(&[]), objects.clone(), ACCOUNT).unwrap();
        let e = s
            .fetch("http://localhost:4566/b/k", 1024)
            .await
            .unwrap_err();
        assert!(e.to_string().contains("bucket does not exist"), "{e}");
        let e = s
            .fetch("http://localhost:4567/b/k", 1024)
            .await
            .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("TemplateURL must be a supported URL."),
            "{e}"
        );
        assert!(
            template_source(&args(&["--s3-hostname", "a b"]), objects.clone(), ACCOUNT).is_err()
        );
        assert!(
            template_source(
                &args(&["--s3-endpoint", "ftp://x", "--s3-path-style"]),
                objects.clone(),
                ACCOUNT
            )
            .is_err()
        );
        assert!(
            template_source(
                &args(&["--s3-endpoint", "http://127.0.0.1:9000", "--s3-path-style"]),
                objects,
                ACCOUNT
            )
            .is_ok()
        );
    }
}
