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

use s3s::S3Result;
use s3s::auth::{S3Auth, SecretKey};
use sagestack_protocol::auth::Auth;

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

/// Who s3s lets in: requests with verified credentials, and in `none` mode the SigV2
/// requests marked [`SignedUnverified`]. Anyone else is `403 AccessDenied`.
pub struct SignedOnly;

#[async_trait::async_trait]
impl s3s::access::S3Access for SignedOnly {
    async fn check(&self, cx: &mut s3s::access::S3AccessContext<'_>) -> S3Result<()> {
        if cx.credentials().is_some() || cx.extensions_mut().get::<SignedUnverified>().is_some() {
            Ok(())
        } else {
            Err(s3s::s3_error!(AccessDenied, "Signature is required"))
        }
    }
}
