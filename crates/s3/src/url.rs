//! `TemplateURL` resolution: which bucket and key of the configured object store a URL
//! names, or why it names none.
//!
//! CloudFormation takes templates only from S3, so a `TemplateURL` is an S3 object URL in
//! one of the forms S3 has used over the years. [`resolve`] understands all of them, for
//! the `aws` (`amazonaws.com`), `aws-us-gov` and `aws-cn` (`amazonaws.com.cn`)
//! partitions:
//!
//! | form | example |
//! |---|---|
//! | virtual-hosted, legacy global | `https://bucket.s3.amazonaws.com/key` |
//! | virtual-hosted, regional (dot) | `https://bucket.s3.eu-west-1.amazonaws.com/key` |
//! | virtual-hosted, regional (dash) | `https://bucket.s3-eu-west-1.amazonaws.com/key` |
//! | virtual-hosted, dualstack / FIPS | `https://bucket.s3.dualstack.eu-west-1.amazonaws.com/key` |
//! | path-style, any of the above | `https://s3.eu-west-1.amazonaws.com/bucket/key` |
//! | legacy `s3-external-1` | `https://s3-external-1.amazonaws.com/bucket/key` |
//!
//! and, besides the AWS hosts, this server's own `host[:port]`s (path-style
//! `http://localhost:4566/bucket/key`, virtual-hosted `http://bucket.localhost:4566/key`)
//! and the external S3 endpoint when one is configured (`--s3-endpoint`), in the same two
//! styles. Whatever AWS host a URL names, the object is read from the configured store:
//! a template written for AWS (`https://my-bucket.s3.amazonaws.com/t.yaml`) works
//! unchanged once `t.yaml` is uploaded to `my-bucket` here.
//!
//! Rules a demanding user can rely on:
//! * AWS hosts require `https` (the CloudFormation model's documented form); this
//!   server's hosts and an `http://` external endpoint accept `http` as well.
//! * The key is the URL path after the bucket, percent-decoded (`%20` is a space, `+`
//!   stays a `+`: S3 paths are not form-encoded); the query string and fragment are
//!   ignored (a presigned URL's signature is not needed here). Dot segments (`/a/../b`)
//!   are normalised as every HTTP client normalises them before sending.
//! * Bucket names are not judged here (legacy buckets predate today's naming rules): a
//!   name no bucket has is reported by the fetch as a missing bucket.
//! * Anything else (another host, another scheme, website or access-point endpoints,
//!   user info, an explicit non-default port on an AWS host, a URL without a bucket or
//!   key) is refused with [`TemplateFetchError::InvalidUrl`]: the server never sends a
//!   request to a host the operator did not configure.

use percent_encoding::percent_decode_str;
use sagestack_cloudformation::TemplateFetchError;
use url::{Host, Url};

/// The object a `TemplateURL` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Location {
    pub bucket: String,
    pub key: String,
}

/// A `host[:port]` the policy accepts besides the AWS S3 hosts.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Endpoint {
    /// Lowercase host name or IP literal (IPv6 without brackets).
    host: String,
    /// `None`: any port.
    port: Option<u16>,
    /// `http` accepted (this server, or an `http://` external endpoint).
    allow_http: bool,
}

/// Which hosts [`resolve`] accepts besides the AWS S3 hosts: this server's own, and the
/// external S3 endpoint when configured.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UrlPolicy {
    endpoints: Vec<Endpoint>,
}

/// Why a `host[:port]` or endpoint given to [`UrlPolicy`] is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid S3 host {value:?}: {reason}")]
pub struct PolicyError {
    pub value: String,
    pub reason: String,
}

impl UrlPolicy {
    /// Only the AWS S3 hosts.
    pub fn new() -> Self {
        Self::default()
    }

    /// Accepts `host[:port]` (e.g. `127.0.0.1:4566`, `localhost:4566`, `[::1]:4566`,
    /// `sagestack.internal`) as this server: path-style and, for host names,
    /// `bucket.host` virtual-hosted URLs, over http or https. Without a port any port
    /// matches.
    pub fn with_own_host(mut self, host_port: &str) -> Result<Self, PolicyError> {
        let parsed = Url::parse(&format!("http://{host_port}/")).map_err(|e| PolicyError {
            value: host_port.to_string(),
            reason: e.to_string(),
        })?;
        let host = host_text(&parsed).ok_or_else(|| PolicyError {
            value: host_port.to_string(),
            reason: "no host".into(),
        })?;
        if parsed.path() != "/" || !parsed.username().is_empty() {
            return Err(PolicyError {
                value: host_port.to_string(),
                reason: "expected host[:port] only".into(),
            });
        }
        // `Url` drops the scheme's default port, so ask whether one was written.
        let port = parsed.port().or_else(|| {
            host_port
                .rsplit_once(':')
                .filter(|(h, _)| !h.ends_with(':'))
                .and_then(|(_, p)| p.parse().ok())
        });
        self.endpoints.push(Endpoint {
            host,
            port,
            allow_http: true,
        });
        Ok(self)
    }

    /// Accepts the external S3 endpoint (`--s3-endpoint`, e.g. `http://minio:9000`):
    /// its host and port exactly, `http` only when the endpoint itself is `http`.
    pub fn with_endpoint(mut self, endpoint: &str) -> Result<Self, PolicyError> {
        let url = Url::parse(endpoint).map_err(|e| PolicyError {
            value: endpoint.to_string(),
            reason: e.to_string(),
        })?;
        if url.scheme() != "http" && url.scheme() != "https" {
            return Err(PolicyError {
                value: endpoint.to_string(),
                reason: "the endpoint must be an http or https URL".into(),
            });
        }
        let host = host_text(&url).ok_or_else(|| PolicyError {
            value: endpoint.to_string(),
            reason: "no host".into(),
        })?;
        // AWS's own hosts are understood anyway; listing one again changes nothing.
        if aws_parts(&host).is_none() {
            self.endpoints.push(Endpoint {
                host,
                port: url.port_or_known_default(),
                allow_http: url.scheme() == "http",
            });
        }
        Ok(self)
    }
}

/// The host as text: lowercase name, dotted IPv4, or IPv6 without brackets.
fn host_text(url: &Url) -> Option<String> {
    Some(match url.host()? {
        Host::Domain(d) => d.trim_end_matches('.').to_ascii_lowercase(),
        Host::Ipv4(a) => a.to_string(),
        Host::Ipv6(a) => a.to_string(),
    })
}

/// The message CloudFormation gives for a URL it will not read, with the reason.
fn unsupported(reason: impl std::fmt::Display) -> TemplateFetchError {
    TemplateFetchError::InvalidUrl(format!("TemplateURL must be a supported URL. ({reason})"))
}

/// Resolves `url` to the bucket and key it names, or refuses it (see the module docs).
pub fn resolve(url: &str, policy: &UrlPolicy) -> Result<S3Location, TemplateFetchError> {
    let parsed = Url::parse(url.trim()).map_err(|e| unsupported(format!("not a URL: {e}")))?;
    let scheme = parsed.scheme();
    if scheme != "https" && scheme != "http" {
        return Err(unsupported(format!(
            "scheme {scheme} is not https; templates are read from S3 URLs only"
        )));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(unsupported(
            "user information is not allowed in a TemplateURL",
        ));
    }
    let host = host_text(&parsed).ok_or_else(|| unsupported("the URL has no host"))?;

    if let Some(aws) = aws_parts(&host) {
        if scheme != "https" {
            return Err(unsupported(format!(
                "S3 URLs must use https (got {scheme}://{host})"
            )));
        }
        if parsed.port_or_known_default() != Some(443) {
            return Err(unsupported(format!("{host} is served on port 443 only")));
        }
        return locate(&parsed, aws.bucket.as_deref());
    }

    let port = parsed.port_or_known_default();
    for e in &policy.endpoints {
        if e.port.is_some_and(|p| Some(p) != port) {
            continue;
        }
        let virtual_bucket = if host == e.host {
            None
        } else if let Some(b) = host
            .strip_suffix(e.host.as_str())
            .and_then(|b| b.strip_suffix('.'))
            && !is_ip(&e.host)
            && !b.is_empty()
        {
            Some(b)
        } else {
            continue;
        };
        if scheme == "http" && !e.allow_http {
            return Err(unsupported(format!(
                "{host} is configured as an https endpoint"
            )));
        }
        return locate(&parsed, virtual_bucket);
    }
    Err(unsupported(format!(
        "{host} is not an Amazon S3 endpoint or an S3 endpoint of this server; \
         the server reads templates only from its configured object store"
    )))
}

fn is_ip(host: &str) -> bool {
    host.parse::<std::net::IpAddr>().is_ok()
}

/// Bucket (from the host, or the first path segment) and key (the rest), decoded.
fn locate(url: &Url, virtual_bucket: Option<&str>) -> Result<S3Location, TemplateFetchError> {
    let path = url.path().strip_prefix('/').unwrap_or(url.path());
    let (bucket, raw_key) = match virtual_bucket {
        Some(b) => (b.to_string(), path),
        None => {
            let (b, k) = path.split_once('/').unwrap_or((path, ""));
            (decode(b)?, k)
        }
    };
    if bucket.is_empty() {
        return Err(unsupported("the URL names no bucket"));
    }
    let key = decode(raw_key)?;
    if key.is_empty() {
        return Err(unsupported(format!(
            "the URL names bucket {bucket} but no object key"
        )));
    }
    Ok(S3Location { bucket, key })
}

fn decode(s: &str) -> Result<String, TemplateFetchError> {
    percent_decode_str(s)
        .decode_utf8()
        .map(|c| c.into_owned())
        .map_err(|_| unsupported("the object key is not UTF-8 once percent-decoded"))
}

/// What an AWS S3 host says about the bucket (virtual-hosted) or `None` bucket
/// (path-style); `None` when the host is not an AWS S3 REST endpoint.
#[derive(Debug, PartialEq, Eq)]
struct AwsHost {
    bucket: Option<String>,
}

fn aws_parts(host: &str) -> Option<AwsHost> {
    let (rest, china) = if let Some(r) = host.strip_suffix(".amazonaws.com.cn") {
        (r, true)
    } else {
        (host.strip_suffix(".amazonaws.com")?, false)
    };
    let labels: Vec<&str> = rest.split('.').collect();
    // The service label sits at most three labels from the end (`s3.dualstack.region`);
    // the rightmost reading that parses wins, so a bucket named `s3.x` still works.
    for i in (labels.len().saturating_sub(3)..labels.len()).rev() {
        if service_tail(labels[i], &labels[i + 1..], china) {
            let bucket = labels[..i].join(".");
            return Some(AwsHost {
                bucket: (!bucket.is_empty()).then_some(bucket),
            });
        }
    }
    None
}

/// Whether `service` followed by `tail` is an S3 REST endpoint name (before the domain).
fn service_tail(service: &str, tail: &[&str], china: bool) -> bool {
    let region_ok = |r: &str| is_region(r) && (r.starts_with("cn-") == china);
    match service {
        // `s3.amazonaws.com`, `s3.region`, `s3.dualstack.region`, and the FIPS twins.
        "s3" | "s3-fips" => match tail {
            [] => service == "s3",
            [r] => region_ok(r),
            ["dualstack", r] => region_ok(r),
            _ => false,
        },
        "s3-external-1" => tail.is_empty() && !china,
        _ => {
            // Legacy dash-region form: `s3-eu-west-1` (no dualstack in this form).
            service
                .strip_prefix("s3-")
                .is_some_and(|r| tail.is_empty() && region_ok(r))
        }
    }
}

/// `us-east-1`, `eu-central-2`, `us-gov-west-1`, `cn-north-1`, `us-isob-east-1`...
fn is_region(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    if parts.len() < 3 || parts.len() > 4 {
        return false;
    }
    let alpha = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase());
    let Some((number, words)) = parts.split_last() else {
        return false;
    };
    !number.is_empty()
        && number.len() <= 2
        && number.bytes().all(|b| b.is_ascii_digit())
        && words[0].len() == 2
        && words.iter().all(|w| alpha(w))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> UrlPolicy {
        UrlPolicy::new()
            .with_own_host("127.0.0.1:4566")
            .unwrap()
            .with_own_host("localhost:4566")
            .unwrap()
            .with_own_host("[::1]:4566")
            .unwrap()
            .with_endpoint("http://minio.internal:9000")
            .unwrap()
            .with_endpoint("https://store.example.net")
            .unwrap()
    }

    fn loc(bucket: &str, key: &str) -> S3Location {
        S3Location {
            bucket: bucket.into(),
            key: key.into(),
        }
    }

    #[test]
    fn every_s3_url_form_resolves() {
        let cases = [
            // Virtual-hosted.
            ("https://b.s3.amazonaws.com/t.yaml", "b", "t.yaml"),
            (
                "https://my-bucket.s3.us-east-1.amazonaws.com/dir/t.yaml",
                "my-bucket",
                "dir/t.yaml",
            ),
            (
                "https://my-bucket.s3-eu-west-1.amazonaws.com/t.json",
                "my-bucket",
                "t.json",
            ),
            (
                "https://b.s3.dualstack.ap-south-1.amazonaws.com/k",
                "b",
                "k",
            ),
            ("https://b.s3-fips.us-gov-west-1.amazonaws.com/k", "b", "k"),
            (
                "https://b.s3-fips.dualstack.us-east-2.amazonaws.com/k",
                "b",
                "k",
            ),
            ("https://b.s3-external-1.amazonaws.com/k", "b", "k"),
            ("https://b.s3.cn-north-1.amazonaws.com.cn/k", "b", "k"),
            (
                "https://b.s3.dualstack.cn-northwest-1.amazonaws.com.cn/k",
                "b",
                "k",
            ),
            (
                "https://dotted.bucket.name.s3.us-west-2.amazonaws.com/k",
                "dotted.bucket.name",
                "k",
            ),
            ("https://s3.x.s3.amazonaws.com/k", "s3.x", "k"),
            ("https://B.S3.AmazonAWS.com/k", "b", "k"),
            ("https://b.s3.amazonaws.com:443/k", "b", "k"),
            ("HTTPS://b.s3.amazonaws.com./k", "b", "k"),
            ("  https://b.s3.amazonaws.com/k  ", "b", "k"),
            ("https://b.s3.us-isob-east-1.amazonaws.com/k", "b", "k"),
            // Path-style.
            ("https://s3.amazonaws.com/b/t.yaml", "b", "t.yaml"),
            (
                "https://s3.us-east-1.amazonaws.com/b/a/b/c.yaml",
                "b",
                "a/b/c.yaml",
            ),
            ("https://s3-us-west-2.amazonaws.com/b/k", "b", "k"),
            (
                "https://s3.dualstack.eu-central-1.amazonaws.com/b/k",
                "b",
                "k",
            ),
            ("https://s3-external-1.amazonaws.com/b/k", "b", "k"),
            ("https://s3.cn-north-1.amazonaws.com.cn/b/k", "b", "k"),
            ("https://b.s3.amazonaws.com.cn/k", "b", "k"),
            (
                "https://s3.amazonaws.com/dotted.bucket/k",
                "dotted.bucket",
                "k",
            ),
            // Decoding: %XX decoded, `+` kept, query and fragment ignored.
            (
                "https://b.s3.amazonaws.com/dir%20one/t%2Bx+y.yaml",
                "b",
                "dir one/t+x+y.yaml",
            ),
            ("https://b.s3.amazonaws.com/%E2%82%AC.yaml", "b", "€.yaml"),
            (
                "https://b.s3.amazonaws.com/k?versionId=3&X-Amz-Signature=ab#frag",
                "b",
                "k",
            ),
            (
                "https://s3.amazonaws.com/b/k%3Fnot-a-query",
                "b",
                "k?not-a-query",
            ),
            ("https://b.s3.amazonaws.com/a//b", "b", "a//b"),
            // This server: path-style and virtual-hosted, http allowed.
            ("http://127.0.0.1:4566/b/t.yaml", "b", "t.yaml"),
            ("http://localhost:4566/b/dir/t.yaml", "b", "dir/t.yaml"),
            ("http://b.localhost:4566/t.yaml", "b", "t.yaml"),
            ("https://b.localhost:4566/t.yaml", "b", "t.yaml"),
            ("http://[::1]:4566/b/k", "b", "k"),
            // External endpoints.
            ("http://minio.internal:9000/b/k", "b", "k"),
            ("http://b.minio.internal:9000/k", "b", "k"),
            ("https://store.example.net/b/k", "b", "k"),
            ("https://b.store.example.net:443/k", "b", "k"),
        ];
        for (url, bucket, key) in cases {
            assert_eq!(resolve(url, &policy()), Ok(loc(bucket, key)), "{url}");
        }
    }

    #[test]
    fn everything_else_is_refused() {
        let cases = [
            ("not a url", "not a URL"),
            ("ftp://b.s3.amazonaws.com/k", "scheme ftp"),
            ("file:///etc/passwd", "scheme file"),
            ("s3://b/k", "scheme s3"),
            ("http://b.s3.amazonaws.com/k", "must use https"),
            ("https://b.s3.amazonaws.com:8443/k", "port 443 only"),
            ("https://user:pw@b.s3.amazonaws.com/k", "user information"),
            ("https://example.com/t.yaml", "example.com is not"),
            (
                "https://169.254.169.254/latest/meta-data",
                "169.254.169.254 is not",
            ),
            (
                "https://s3.amazonaws.com.evil.com/b/k",
                "is not an Amazon S3",
            ),
            (
                "https://b.s3-website-us-east-1.amazonaws.com/k",
                "is not an Amazon S3",
            ),
            (
                "https://b.s3-website.us-east-1.amazonaws.com/k",
                "is not an Amazon S3",
            ),
            (
                "https://ap-123.s3-accesspoint.us-east-1.amazonaws.com/k",
                "is not an Amazon S3",
            ),
            (
                "https://ec2.us-east-1.amazonaws.com/b/k",
                "is not an Amazon S3",
            ),
            (
                "https://b.s3.cn-north-1.amazonaws.com/k",
                "is not an Amazon S3",
            ),
            (
                "https://b.s3.us-east-1.amazonaws.com.cn/k",
                "is not an Amazon S3",
            ),
            (
                "https://b.s3.notaregion.amazonaws.com/k",
                "is not an Amazon S3",
            ),
            (
                "https://b.s3.us-east-1.extra.amazonaws.com/k",
                "is not an Amazon S3",
            ),
            ("https://amazonaws.com/b/k", "is not an Amazon S3"),
            ("https://b.s3.amazonaws.com/", "no object key"),
            ("https://b.s3.amazonaws.com", "no object key"),
            ("https://s3.amazonaws.com/b", "no object key"),
            ("https://s3.amazonaws.com/b/", "no object key"),
            ("https://s3.amazonaws.com/", "names no bucket"),
            ("https://b.s3.amazonaws.com/%FF.yaml", "not UTF-8"),
            // Own hosts: the configured port only, and IPs have no virtual-hosted form.
            ("http://127.0.0.1:4567/b/k", "127.0.0.1 is not"),
            ("http://localhost/b/k", "localhost is not"),
            ("http://b.127.0.0.1:4566/k", "TemplateURL"),
            ("http://evil-localhost:4566/b/k", "evil-localhost is not"),
            // External endpoints: exact port; http only when the endpoint is http.
            ("http://minio.internal:9001/b/k", "minio.internal is not"),
            ("http://store.example.net/b/k", "store.example.net is not"),
            (
                "http://store.example.net:443/b/k",
                "configured as an https endpoint",
            ),
        ];
        for (url, needle) in cases {
            match resolve(url, &policy()) {
                Err(TemplateFetchError::InvalidUrl(m)) => {
                    assert!(
                        m.starts_with("TemplateURL must be a supported URL."),
                        "{url}: {m}"
                    );
                    assert!(m.contains(needle), "{url}: {m:?} lacks {needle:?}");
                }
                other => panic!("{url}: expected InvalidUrl, got {other:?}"),
            }
        }
    }

    #[test]
    fn the_default_policy_knows_only_aws() {
        let p = UrlPolicy::new();
        assert_eq!(
            resolve("https://s3.amazonaws.com/b/k", &p),
            Ok(loc("b", "k"))
        );
        assert!(resolve("http://localhost:4566/b/k", &p).is_err());
    }

    #[test]
    fn own_hosts_without_port_match_any_port_and_bad_hosts_are_refused() {
        let p = UrlPolicy::new()
            .with_own_host("sagestack.internal")
            .unwrap();
        assert_eq!(
            resolve("http://sagestack.internal:8080/b/k", &p),
            Ok(loc("b", "k"))
        );
        assert_eq!(
            resolve("http://b.sagestack.internal/k", &p),
            Ok(loc("b", "k"))
        );
        assert!(UrlPolicy::new().with_own_host("a b").is_err());
        assert!(UrlPolicy::new().with_own_host("host/path").is_err());
        assert!(UrlPolicy::new().with_endpoint("ftp://x").is_err());
        assert!(UrlPolicy::new().with_endpoint("not a url").is_err());
        // An explicit default port is still a port restriction.
        let p = UrlPolicy::new().with_own_host("localhost:80").unwrap();
        assert!(resolve("http://localhost:81/b/k", &p).is_err());
        assert!(resolve("http://localhost/b/k", &p).is_ok());
    }

    #[test]
    fn regions_are_recognised_by_shape() {
        for r in [
            "us-east-1",
            "eu-central-2",
            "us-gov-west-1",
            "cn-north-1",
            "us-isob-east-1",
            "ap-southeast-12",
        ] {
            assert!(is_region(r), "{r}");
        }
        for r in [
            "us-east",
            "useast-1",
            "US-EAST-1",
            "us-east-123",
            "u-east-1",
            "us--1",
            "dualstack",
        ] {
            assert!(!is_region(r), "{r}");
        }
    }
}
