//! [`TemplateSource`] implementations: where a `TemplateURL`'s template is read.
//!
//! * [`StoreTemplateSource`]: this server's own object store (the default): the bucket
//!   and key a URL names (see [`crate::url`]) are read from the same [`ObjectStore`] the
//!   embedded S3 endpoint serves, so `aws s3 cp t.yaml s3://b/` then
//!   `--template-url https://b.s3.amazonaws.com/t.yaml` works against this server.
//! * [`ExternalTemplateSource`]: another S3 (`--s3-endpoint`, e.g. MinIO or AWS itself),
//!   reached with `object_store`'s S3 client. Credentials come from the standard AWS
//!   environment variables (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
//!   `AWS_SESSION_TOKEN`), else from the shared credentials file
//!   (`AWS_SHARED_CREDENTIALS_FILE` or `~/.aws/credentials`, profile `AWS_PROFILE` or
//!   `default`), else from `object_store`'s own chain (web identity, ECS, instance
//!   metadata) when the endpoint is AWS; a non-AWS endpoint without credentials is
//!   read anonymously. The URL policy then accepts AWS hosts and the endpoint's host
//!   only: a URL naming this server is refused, because this server's store is not the
//!   one templates are read from.
//!
//! Both check the size before reading the body where they can (the store's metadata,
//! the response's `Content-Length`) so an oversized object is refused without being
//! transferred, and both map failures to [`TemplateFetchError`] precisely (missing
//! bucket, missing key, too large, not UTF-8, store unavailable).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::{ClientOptions, ObjectStore as _, RetryConfig};
use sagestack_cloudformation::{TemplateFetchError, TemplateSource};
use sagestack_store::{ObjectStore, StoreError};

use crate::url::{PolicyError, S3Location, UrlPolicy, resolve};

fn too_large(loc: &S3Location, size: u64, limit: u64) -> TemplateFetchError {
    TemplateFetchError::TooLarge {
        bucket: loc.bucket.clone(),
        key: loc.key.clone(),
        size,
        limit,
    }
}

fn text(loc: &S3Location, body: Vec<u8>) -> Result<String, TemplateFetchError> {
    String::from_utf8(body).map_err(|_| TemplateFetchError::NotUtf8 {
        bucket: loc.bucket.clone(),
        key: loc.key.clone(),
    })
}

/// Templates from this server's own object store.
pub struct StoreTemplateSource {
    store: Arc<dyn ObjectStore>,
    policy: UrlPolicy,
    /// Reading for an account (`(account, owner of buckets without one)`): another
    /// account's bucket is `AccessDenied`, as S3 would answer that account.
    reader: Option<(String, String)>,
}

impl StoreTemplateSource {
    /// `policy` lists this server's own hosts (AWS hosts are always understood).
    pub fn new(store: Arc<dyn ObjectStore>, policy: UrlPolicy) -> Self {
        Self {
            store,
            policy,
            reader: None,
        }
    }

    /// Reads only from `account`'s buckets (`default_owner` owns buckets made before
    /// buckets had owners).
    pub fn reading_as(mut self, account: &str, default_owner: &str) -> Self {
        self.reader = Some((account.to_owned(), default_owner.to_owned()));
        self
    }

    /// The object at `loc`, at most `limit` bytes.
    pub async fn read(&self, loc: &S3Location, limit: u64) -> Result<String, TemplateFetchError> {
        let no_bucket = || TemplateFetchError::NoSuchBucket {
            bucket: loc.bucket.clone(),
        };
        let no_key = || TemplateFetchError::NoSuchKey {
            bucket: loc.bucket.clone(),
            key: loc.key.clone(),
        };
        let unavailable = |e: StoreError| TemplateFetchError::Unavailable(e.to_string());
        if let Some((account, default_owner)) = &self.reader {
            let bucket = self
                .store
                .get_bucket(&loc.bucket)
                .await
                .map_err(unavailable)?;
            if bucket.is_some_and(|b| &crate::auth::bucket_owner(&b, default_owner) != account) {
                return Err(TemplateFetchError::AccessDenied {
                    bucket: loc.bucket.clone(),
                });
            }
        }
        // Metadata first: an oversized object is refused without loading its body.
        let meta = match self.store.head_object(&loc.bucket, &loc.key).await {
            Ok(Some(m)) => m,
            Ok(None) => return Err(no_key()),
            Err(StoreError::NotFound) => return Err(no_bucket()),
            Err(e) => return Err(unavailable(e)),
        };
        let size = u64::try_from(meta.size).unwrap_or(0);
        if size > limit {
            return Err(too_large(loc, size, limit));
        }
        let object = match self.store.get_object(&loc.bucket, &loc.key).await {
            Ok(Some(o)) => o,
            // Deleted between the two reads: report what the caller would see now.
            Ok(None) => return Err(no_key()),
            Err(StoreError::NotFound) => return Err(no_bucket()),
            Err(e) => return Err(unavailable(e)),
        };
        if object.body.len() as u64 > limit {
            return Err(too_large(loc, object.body.len() as u64, limit));
        }
        text(loc, object.body.to_vec())
    }
}

#[async_trait]
impl TemplateSource for StoreTemplateSource {
    async fn fetch(&self, url: &str, limit: u64) -> Result<String, TemplateFetchError> {
        let loc = resolve(url, &self.policy)?;
        self.read(&loc, limit).await
    }
}

/// How to reach an external S3.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalS3Config {
    /// `http(s)://host[:port]`, e.g. `http://127.0.0.1:9000` or
    /// `https://s3.eu-west-1.amazonaws.com`.
    pub endpoint: String,
    /// The region requests are signed for.
    pub region: String,
    /// Path-style requests (`endpoint/bucket/key`, what MinIO and most S3 clones expect)
    /// rather than virtual-hosted (`bucket.endpoint/key`).
    pub path_style: bool,
}

/// Static credentials, when found in the environment or the shared credentials file.
#[derive(Clone, PartialEq, Eq)]
struct Credentials {
    access_key_id: String,
    secret_access_key: String,
    session_token: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print secrets.
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`/`AWS_SESSION_TOKEN`, else the profile.
fn find_credentials() -> Option<Credentials> {
    if let (Some(access_key_id), Some(secret_access_key)) =
        (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY"))
    {
        return Some(Credentials {
            access_key_id,
            secret_access_key,
            session_token: env("AWS_SESSION_TOKEN"),
        });
    }
    let path = env("AWS_SHARED_CREDENTIALS_FILE")
        .map(std::path::PathBuf::from)
        .or_else(|| env("HOME").map(|h| std::path::Path::new(&h).join(".aws/credentials")))?;
    let text = std::fs::read_to_string(path).ok()?;
    profile_credentials(
        &text,
        &env("AWS_PROFILE").unwrap_or_else(|| "default".into()),
    )
}

/// The static keys of `profile` in a shared credentials file (INI).
fn profile_credentials(ini: &str, profile: &str) -> Option<Credentials> {
    let mut in_profile = false;
    let mut values: HashMap<String, String> = HashMap::new();
    for line in ini.lines() {
        let line = line.trim();
        if line.starts_with('#') || line.starts_with(';') || line.is_empty() {
            continue;
        }
        if let Some(section) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            in_profile = section.trim() == profile;
            continue;
        }
        if in_profile && let Some((k, v)) = line.split_once('=') {
            values.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    Some(Credentials {
        access_key_id: values.remove("aws_access_key_id")?,
        secret_access_key: values.remove("aws_secret_access_key")?,
        session_token: values.remove("aws_session_token"),
    })
}

/// Templates from an external S3; one client per bucket, cached.
pub struct ExternalTemplateSource {
    config: ExternalS3Config,
    policy: UrlPolicy,
    credentials: Option<Credentials>,
    /// The endpoint is one of AWS's own (then object_store's credential chain applies).
    aws_endpoint: bool,
    clients: Mutex<HashMap<String, Arc<AmazonS3>>>,
}

impl ExternalTemplateSource {
    /// Checks the endpoint and captures credentials once (see the module docs).
    pub fn new(config: ExternalS3Config) -> Result<Self, PolicyError> {
        let policy = UrlPolicy::new().with_endpoint(&config.endpoint)?;
        let aws_endpoint = url::Url::parse(&config.endpoint)
            .ok()
            .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
            .is_some_and(|h| h.ends_with(".amazonaws.com") || h.ends_with(".amazonaws.com.cn"));
        Ok(Self {
            config,
            policy,
            credentials: find_credentials(),
            aws_endpoint,
            clients: Mutex::new(HashMap::new()),
        })
    }

    fn client(&self, bucket: &str) -> Result<Arc<AmazonS3>, TemplateFetchError> {
        let mut clients = self.clients.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = clients.get(bucket) {
            return Ok(c.clone());
        }
        let endpoint = self.config.endpoint.trim_end_matches('/');
        // From the environment first, so object_store's own credential chain (web
        // identity, ECS container credentials) sees its variables; everything that
        // decides where requests go is then set explicitly.
        let mut builder = AmazonS3Builder::from_env()
            .with_bucket_name(bucket)
            .with_region(&self.config.region)
            .with_retry(RetryConfig {
                max_retries: 2,
                retry_timeout: Duration::from_secs(15),
                ..RetryConfig::default()
            })
            // `allow_http` lives in the client options: set it there, not before them.
            .with_client_options(
                ClientOptions::new()
                    .with_allow_http(endpoint.starts_with("http://"))
                    .with_connect_timeout(Duration::from_secs(5))
                    .with_timeout(Duration::from_secs(30)),
            );
        builder = if self.config.path_style {
            builder
                .with_endpoint(endpoint)
                .with_virtual_hosted_style_request(false)
        } else {
            // object_store takes a virtual-hosted endpoint with the bucket already in it.
            let (scheme, rest) = endpoint.split_once("://").unwrap_or(("https", endpoint));
            builder
                .with_endpoint(format!("{scheme}://{bucket}.{rest}"))
                .with_virtual_hosted_style_request(true)
        };
        match &self.credentials {
            Some(c) => {
                builder = builder
                    .with_access_key_id(&c.access_key_id)
                    .with_secret_access_key(&c.secret_access_key);
                if let Some(t) = &c.session_token {
                    builder = builder.with_token(t);
                }
            }
            None if !self.aws_endpoint => builder = builder.with_skip_signature(true),
            None => {}
        }
        let client = Arc::new(
            builder
                .build()
                .map_err(|e| TemplateFetchError::Unavailable(e.to_string()))?,
        );
        clients.insert(bucket.to_string(), client.clone());
        Ok(client)
    }

    /// The object at `loc`, at most `limit` bytes.
    pub async fn read(&self, loc: &S3Location, limit: u64) -> Result<String, TemplateFetchError> {
        let client = self.client(&loc.bucket)?;
        let path = object_store::path::Path::from(loc.key.as_str());
        let result = match client.get(&path).await {
            Ok(r) => r,
            Err(e) => return Err(map_error(loc, e)),
        };
        // The size is known from the response headers before the body is read.
        if result.meta.size > limit {
            return Err(too_large(loc, result.meta.size, limit));
        }
        let body = result.bytes().await.map_err(|e| map_error(loc, e))?;
        if body.len() as u64 > limit {
            return Err(too_large(loc, body.len() as u64, limit));
        }
        text(loc, body.to_vec())
    }
}

/// Everything an error says, its sources included (S3's error code is in the body).
fn full_text(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

fn map_error(loc: &S3Location, e: object_store::Error) -> TemplateFetchError {
    let text = full_text(&e);
    match e {
        object_store::Error::NotFound { .. } if text.contains("NoSuchBucket") => {
            TemplateFetchError::NoSuchBucket {
                bucket: loc.bucket.clone(),
            }
        }
        object_store::Error::NotFound { .. } => TemplateFetchError::NoSuchKey {
            bucket: loc.bucket.clone(),
            key: loc.key.clone(),
        },
        _ if text.contains("AccessDenied") || text.contains("403 Forbidden") => {
            TemplateFetchError::Unavailable("Access Denied".into())
        }
        other => TemplateFetchError::Unavailable(other.to_string()),
    }
}

#[async_trait]
impl TemplateSource for ExternalTemplateSource {
    async fn fetch(&self, url: &str, limit: u64) -> Result<String, TemplateFetchError> {
        let loc = resolve(url, &self.policy)?;
        self.read(&loc, limit).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::{MemoryObjectStore, object_meta};
    use bytes::Bytes;
    use sagestack_store::BucketRecord;

    async fn store_with(objects: &[(&str, &[u8])]) -> Arc<MemoryObjectStore> {
        let store = Arc::new(MemoryObjectStore::new());
        store
            .create_bucket(&BucketRecord {
                name: "templates".into(),
                region: "us-east-1".into(),
                creation_micros: 0,
                document: "{}".into(),
            })
            .await
            .unwrap();
        for (key, body) in objects {
            store
                .put_object(
                    &object_meta("templates", key, body),
                    Bytes::copy_from_slice(body),
                )
                .await
                .unwrap();
        }
        store
    }

    fn source(store: Arc<MemoryObjectStore>) -> StoreTemplateSource {
        StoreTemplateSource::new(
            store,
            UrlPolicy::new().with_own_host("localhost:4566").unwrap(),
        )
    }

    #[tokio::test]
    async fn store_source_reads_and_maps_every_failure() {
        let big = vec![b'x'; 2048];
        let s = source(
            store_with(&[
                ("dir/a b.yaml", b"Resources: {}"),
                ("big.yaml", &big),
                ("bin", &[0xff, 0xfe]),
            ])
            .await,
        );
        assert_eq!(
            s.fetch("https://templates.s3.amazonaws.com/dir/a%20b.yaml", 1024)
                .await,
            Ok("Resources: {}".into())
        );
        assert_eq!(
            s.fetch("http://localhost:4566/templates/dir/a%20b.yaml", 1024)
                .await,
            Ok("Resources: {}".into())
        );
        let e = s
            .fetch("https://s3.amazonaws.com/missing/k", 1024)
            .await
            .unwrap_err();
        assert_eq!(
            e,
            TemplateFetchError::NoSuchBucket {
                bucket: "missing".into()
            }
        );
        let e = s
            .fetch("https://s3.amazonaws.com/templates/nope.yaml", 1024)
            .await
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "S3 error: The specified key does not exist. (bucket: templates, key: nope.yaml)"
        );
        let e = s
            .fetch("https://s3.amazonaws.com/templates/big.yaml", 1024)
            .await
            .unwrap_err();
        assert!(
            matches!(
                e,
                TemplateFetchError::TooLarge {
                    size: 2048,
                    limit: 1024,
                    ..
                }
            ),
            "{e:?}"
        );
        assert_eq!(
            s.fetch("https://s3.amazonaws.com/templates/big.yaml", 2048)
                .await
                .map(|b| b.len()),
            Ok(2048)
        );
        let e = s
            .fetch("https://s3.amazonaws.com/templates/bin", 1024)
            .await
            .unwrap_err();
        assert!(matches!(e, TemplateFetchError::NotUtf8 { .. }), "{e:?}");
        let e = s
            .fetch("https://example.com/templates/x", 1024)
            .await
            .unwrap_err();
        assert!(matches!(e, TemplateFetchError::InvalidUrl(_)), "{e:?}");
    }

    /// A store whose every call fails, to check that backend failures surface as such.
    struct Broken;

    /// Implements `ObjectStore` for [`Broken`]: each method listed (its parameter types,
    /// its result's `Ok` type) fails as a backend that is down.
    macro_rules! broken {
        ($($name:ident($($arg:ty),*) -> $ok:ty;)*) => {
            #[async_trait]
            impl ObjectStore for Broken {
                $(async fn $name(&self, $(_: $arg),*) -> Result<$ok, StoreError> {
                    Err(StoreError::Backend("down".into()))
                })*
            }
        };
    }

    broken! {
        create_bucket(&BucketRecord) -> ();
        get_bucket(&str) -> Option<BucketRecord>;
        update_bucket(&str, &str) -> ();
        list_buckets() -> Vec<BucketRecord>;
        delete_bucket(&str) -> ();
        put_object(&sagestack_store::ObjectMeta, Bytes) -> ();
        get_object(&str, &str) -> Option<sagestack_store::ObjectRecord>;
        head_object(&str, &str) -> Option<sagestack_store::ObjectMeta>;
        delete_object(&str, &str) -> bool;
        list_objects(sagestack_store::KeyRange<'_>) -> sagestack_store::ObjectPage;
        create_upload(&sagestack_store::UploadRecord) -> ();
        get_upload(&str) -> Option<sagestack_store::UploadRecord>;
        list_uploads(&str) -> Vec<sagestack_store::UploadRecord>;
        put_part(&str, &sagestack_store::PartRecord, Bytes) -> ();
        list_parts(&str) -> Vec<sagestack_store::PartRecord>;
        get_parts(&str, &[i32]) -> Vec<Option<Bytes>>;
        complete_upload(&str, &sagestack_store::ObjectMeta, Bytes) -> ();
        abort_upload(&str) -> bool;
    }

    #[tokio::test]
    async fn a_failing_store_is_unavailable() {
        let s = StoreTemplateSource::new(Arc::new(Broken), UrlPolicy::new());
        let e = s
            .fetch("https://s3.amazonaws.com/b/k", 1024)
            .await
            .unwrap_err();
        assert_eq!(
            e,
            TemplateFetchError::Unavailable("storage backend: down".into())
        );
    }

    #[test]
    fn profiles_are_read_from_the_shared_credentials_file() {
        let ini = "[default]\naws_access_key_id = AKIADEFAULT\naws_secret_access_key=s1\n\
                   # comment\n[dev]\nAWS_ACCESS_KEY_ID=AKIADEV\naws_secret_access_key = s2\n\
                   aws_session_token = tok\n[empty]\n";
        let d = profile_credentials(ini, "default").unwrap();
        assert_eq!(
            (d.access_key_id.as_str(), d.session_token),
            ("AKIADEFAULT", None)
        );
        let dev = profile_credentials(ini, "dev").unwrap();
        assert_eq!(dev.secret_access_key, "s2");
        assert_eq!(dev.session_token.as_deref(), Some("tok"));
        assert!(profile_credentials(ini, "empty").is_none());
        assert!(profile_credentials(ini, "absent").is_none());
        assert!(!format!("{dev:?}").contains("s2"));
    }

    #[tokio::test]
    async fn external_source_refuses_other_hosts_and_reports_unreachable_endpoints() {
        let s = ExternalTemplateSource::new(ExternalS3Config {
            // A port nothing listens on: connection refused, quickly.
            endpoint: "http://127.0.0.1:9".into(),
            region: "us-east-1".into(),
            path_style: true,
        })
        .unwrap();
        let e = s
            .fetch("http://localhost:4566/b/k", 1024)
            .await
            .unwrap_err();
        assert!(matches!(e, TemplateFetchError::InvalidUrl(_)), "{e:?}");
        let e = s.fetch("http://127.0.0.1:9/b/k", 1024).await.unwrap_err();
        assert!(matches!(e, TemplateFetchError::Unavailable(_)), "{e:?}");
        assert!(
            ExternalTemplateSource::new(ExternalS3Config {
                endpoint: "ftp://x".into(),
                region: "us-east-1".into(),
                path_style: true,
            })
            .is_err()
        );
    }

    /// A one-route-per-path S3 stand-in on loopback: enough HTTP/1.1 for object_store's
    /// GET. `/b/big` announces 5,000 bytes and sends none, so a TooLarge answer proves
    /// the size was judged from the headers, before any body was read.
    async fn fake_s3() -> (String, tokio::task::JoinHandle<()>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut sock, _)) = listener.accept().await else {
                    return;
                };
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                        match sock.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let head = String::from_utf8_lossy(&buf).to_string();
                    let path = head.split(' ').nth(1).unwrap_or("").to_string();
                    let error = |status: &str, code: &str| {
                        let body = format!(
                            "<?xml version=\"1.0\"?><Error><Code>{code}</Code><Message>m</Message></Error>"
                        );
                        format!(
                            "HTTP/1.1 {status}\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                            body.len()
                        )
                        .into_bytes()
                    };
                    let ok = |body: &[u8], announced: usize| {
                        let mut r = format!(
                            "HTTP/1.1 200 OK\r\nContent-Length: {announced}\r\nETag: \"e\"\r\nLast-Modified: Tue, 24 Nov 2026 10:00:00 GMT\r\nConnection: close\r\n\r\n"
                        )
                        .into_bytes();
                        r.extend_from_slice(body);
                        r
                    };
                    let response = match path.as_str() {
                        "/b/dir/t%20one.yaml" => ok(b"Resources: {}", 13),
                        "/b/bin" => ok(&[0xff, 0xfe], 2),
                        "/b/big" => ok(b"", 5000),
                        "/b/denied" => error("403 Forbidden", "AccessDenied"),
                        p if p.starts_with("/b/") => error("404 Not Found", "NoSuchKey"),
                        _ => error("404 Not Found", "NoSuchBucket"),
                    };
                    let _ = sock.write_all(&response).await;
                    let _ = sock.shutdown().await;
                });
            }
        });
        (url, task)
    }

    #[tokio::test]
    async fn external_source_reads_over_http_and_maps_s3_errors() {
        let (url, server) = fake_s3().await;
        let s = ExternalTemplateSource::new(ExternalS3Config {
            endpoint: url.clone(),
            region: "us-east-1".into(),
            path_style: true,
        })
        .unwrap();
        // The endpoint's own URL and AWS-form URLs both read from the endpoint.
        for u in [
            format!("{url}/b/dir/t%20one.yaml"),
            "https://b.s3.amazonaws.com/dir/t%20one.yaml".to_string(),
        ] {
            assert_eq!(s.fetch(&u, 1024).await, Ok("Resources: {}".into()), "{u}");
        }
        assert_eq!(
            s.fetch(&format!("{url}/b/missing.yaml"), 1024).await,
            Err(TemplateFetchError::NoSuchKey {
                bucket: "b".into(),
                key: "missing.yaml".into()
            })
        );
        assert_eq!(
            s.fetch(&format!("{url}/other/t.yaml"), 1024).await,
            Err(TemplateFetchError::NoSuchBucket {
                bucket: "other".into()
            })
        );
        assert_eq!(
            s.fetch(&format!("{url}/b/big"), 1024).await,
            Err(TemplateFetchError::TooLarge {
                bucket: "b".into(),
                key: "big".into(),
                size: 5000,
                limit: 1024
            })
        );
        assert!(matches!(
            s.fetch(&format!("{url}/b/bin"), 1024).await,
            Err(TemplateFetchError::NotUtf8 { .. })
        ));
        assert_eq!(
            s.fetch(&format!("{url}/b/denied"), 1024).await,
            Err(TemplateFetchError::Unavailable("Access Denied".into()))
        );
        // One client per bucket, reused.
        assert_eq!(s.clients.lock().unwrap().len(), 2);
        server.abort();
    }
}
