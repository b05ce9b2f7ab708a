//! The secrets s3s checks S3 signatures against: those of the server's credentials
//! policy ([`Auth`]). s3s verifies SigV4 (headers, presigned URLs, streaming chunks)
//! itself; all it needs from us is the secret of the access key a request names.
//!
//! * `--auth sigv4`: an access key that is not known is `403 InvalidAccessKeyId`; a
//!   signature made with another secret `403 SignatureDoesNotMatch`.
//! * `--auth none`: the server re-signs each signed request before s3s sees it
//!   ([`Auth::resign_for_s3`]), so any key and secret are accepted.
//! * Either way an anonymous (unsigned) request is `403 AccessDenied`: every bucket here
//!   is private, as a new AWS bucket is, and s3s's default access check refuses
//!   requests without credentials, which is AWS's answer for a private bucket.

use std::sync::Arc;

use s3s::S3Result;
use s3s::auth::{S3Auth, SecretKey};
use sagestack_protocol::auth::Auth;
use sagestack_store::{BucketRecord, ObjectStore};

/// The server's [`Auth`], as s3s asks for secrets.
pub struct S3Keys(pub Auth);

#[async_trait::async_trait]
impl S3Auth for S3Keys {
    async fn get_secret_key(&self, access_key: &str) -> S3Result<SecretKey> {
        match self.0.s3_secret(access_key) {
            Some(secret) => Ok(SecretKey::from(secret)),
            None => Err(s3s::s3_error!(
                InvalidAccessKeyId,
                "The AWS Access Key Id you provided does not exist in our records."
            )),
        }
    }
}

/// Set on a request (by the server, in `--auth none` mode) whose SigV2 signature was
/// removed: signed, so not anonymous, though s3s sees no credentials.
#[derive(Debug, Clone, Copy)]
pub struct SignedUnverified;

/// The account an S3 request acts for, set by [`BucketAccess`] for the operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallerAccount(pub String);

/// The account owning `bucket`: its document's `Owner`, or `default` for a bucket made
/// before buckets had owners.
pub fn bucket_owner(bucket: &BucketRecord, default: &str) -> String {
    serde_json::from_str::<serde_json::Value>(&bucket.document)
        .ok()
        .and_then(|d| d.get("Owner").and_then(|o| o.as_str()).map(str::to_owned))
        .unwrap_or_else(|| default.to_owned())
}

/// Who s3s lets in, and to which buckets. Signed requests only: verified credentials,
/// or in `none` mode the SigV2 requests marked [`SignedUnverified`]; anyone else is
/// `403 AccessDenied`, as for a private AWS bucket. Bucket names are one namespace, but
/// a bucket belongs to the account that made it: another account's request on it (or
/// copying from it) is `403 AccessDenied`.
pub struct BucketAccess {
    auth: Auth,
    store: Arc<dyn ObjectStore>,
    /// The owner of buckets made before buckets had owners: the server's account.
    default_owner: String,
}

impl BucketAccess {
    pub fn new(auth: Auth, store: Arc<dyn ObjectStore>, default_owner: &str) -> Self {
        BucketAccess {
            auth,
            store,
            default_owner: default_owner.to_owned(),
        }
    }

    async fn check_owner(&self, bucket: &str, account: &str) -> S3Result<()> {
        let record = self.store.get_bucket(bucket).await.map_err(|e| {
            tracing::error!(error = %e, "s3: store failure");
            s3s::s3_error!(
                InternalError,
                "We encountered an internal error. Please try again."
            )
        })?;
        match record {
            Some(b) if bucket_owner(&b, &self.default_owner) != account => {
                Err(s3s::s3_error!(AccessDenied, "Access Denied"))
            }
            _ => Ok(()), // absent: the operation answers NoSuchBucket
        }
    }
}

#[async_trait::async_trait]
impl s3s::access::S3Access for BucketAccess {
    async fn check(&self, cx: &mut s3s::access::S3AccessContext<'_>) -> S3Result<()> {
        let signed =
            cx.credentials().is_some() || cx.extensions_mut().get::<SignedUnverified>().is_some();
        if !signed {
            return Err(s3s::s3_error!(AccessDenied, "Signature is required"));
        }
        let key = cx.credentials().map(|c| c.access_key.clone());
        let account = self
            .auth
            .account_of(key.as_deref())
            .ok_or_else(|| s3s::s3_error!(AccessDenied, "Access Denied"))?;
        let bucket = match cx.s3_path() {
            s3s::path::S3Path::Root => None,
            s3s::path::S3Path::Bucket { bucket } | s3s::path::S3Path::Object { bucket, .. } => {
                Some(bucket.to_string())
            }
        };
        if let Some(bucket) = bucket
            && cx.s3_op().name() != "CreateBucket"
        {
            self.check_owner(&bucket, &account).await?;
        }
        let source = cx
            .headers()
            .get("x-amz-copy-source")
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                v.trim_start_matches('/')
                    .split('/')
                    .next()
                    .unwrap_or("")
                    .to_owned()
            });
        if let Some(source) = source.filter(|s| !s.is_empty()) {
            let source = percent_decode(&source);
            self.check_owner(&source, &account).await?;
        }
        cx.extensions_mut().insert(CallerAccount(account));
        Ok(())
    }
}

fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}
