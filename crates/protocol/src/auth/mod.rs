//! Who is calling: one credentials policy for every protocol (`--auth none|sigv4`).
//!
//! * [`Auth::None`] (the default, for local development): a request must carry a
//!   SigV4-shaped signature (that alone keeps web pages out, see the guard), but its
//!   value is not checked; the caller is the server's account (`--account-id`) and the
//!   access key id names them.
//! * [`Auth::Sigv4`]: every request must carry a valid signature by a key of
//!   [`Credentials`]; the caller is that key's principal and account. JSON 1.1, Query and
//!   REST-JSON requests are verified here ([`Auth::authenticate`], with the body the
//!   framing read); S3 requests by s3s against the same keys (`s3s` verifies streaming
//!   chunk signatures, which need the body as it streams).
//!
//! For S3 in `none` mode, s3s still wants a secret to check a signature against:
//! [`Auth::resign_for_s3`] re-signs the request with [`NONE_MODE_SECRET`] (the value of
//! the signature is not checked in this mode anyway), and s3s is given that secret for
//! every key. Uploads whose chunks are signed one by one
//! (`STREAMING-AWS4-HMAC-SHA256-PAYLOAD`) cannot be re-signed without rewriting the
//! body; they are refused in `none` mode with a message saying so.

pub mod credentials;
pub mod signature;

use std::sync::Arc;
use std::time::SystemTime;

use http::request::Parts;

pub use credentials::{Credentials, CredentialsError, KeySource, Principal, Session};
use signature::{Claim, canonical_request, check_time, same_signature, sha256_hex};

use crate::sigv4::{self, AuthError};

/// The secret s3s checks re-signed `none`-mode S3 requests against. Not a secret: in
/// `none` mode any key is accepted.
pub const NONE_MODE_SECRET: &str = "sagestack-none-mode";

/// The verified (or, in `none` mode, claimed) caller of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub access_key_id: String,
    pub account_id: String,
    /// `arn:aws:iam::<account>:root`, a user's or an assumed role's ARN.
    pub arn: String,
    /// What `GetCallerIdentity` says as `UserId`.
    pub user_id: String,
}

impl Caller {
    /// The root of `account_id`, named by `access_key_id`: every caller in `none` mode.
    pub fn root(access_key_id: &str, account_id: &str) -> Self {
        Caller {
            access_key_id: access_key_id.to_owned(),
            account_id: account_id.to_owned(),
            arn: format!("arn:aws:iam::{account_id}:root"),
            user_id: access_key_id.to_owned(),
        }
    }
}

/// The policy every protocol applies.
#[derive(Debug, Clone)]
pub enum Auth {
    /// Any credentials; the caller is of `account_id`.
    None { account_id: String },
    /// Valid signatures by these keys only.
    Sigv4(Arc<Credentials>),
}

impl Auth {
    /// `--auth` as logged at start-up.
    pub fn name(&self) -> &'static str {
        match self {
            Auth::None { .. } => "none",
            Auth::Sigv4(_) => "sigv4",
        }
    }

    /// The caller of a JSON 1.1, Query or REST-JSON request whose body is `body`, or why
    /// it is refused. `now` is the server's clock.
    pub fn authenticate(
        &self,
        parts: &Parts,
        body: &[u8],
        now: SystemTime,
    ) -> Result<Caller, AuthError> {
        sigv4::check_shape(parts)?;
        let claim = signature::claim(parts)?;
        match self {
            Auth::None { account_id } => Ok(claimed(claim, account_id)),
            Auth::Sigv4(credentials) => {
                let principal = known_key(credentials, &claim, now)?;
                check_time(&claim, now)?;
                let payload = sha256_hex(body);
                if let Some(sent) = parts.headers.get("x-amz-content-sha256")
                    && sent.as_bytes() != payload.as_bytes()
                {
                    return Err(AuthError::SignatureDoesNotMatch(
                        "The provided 'x-amz-content-sha256' header does not match what was \
                         computed."
                            .into(),
                    ));
                }
                let canonical = canonical_request(parts, &claim, &payload);
                let key = credentials.signing_key(&principal, &claim);
                let expected = signature::signature_with_key(&key, &claim, &canonical);
                if !same_signature(&claim.signature, &expected) {
                    return Err(AuthError::signature_mismatch());
                }
                Ok(caller(&principal))
            }
        }
    }

    /// In `sigv4` mode, what s3s cannot check of an S3 request signed by a temporary
    /// key: its session token and expiry (s3s checks the signature with the key's
    /// secret, and answers unknown keys itself).
    pub fn check_s3_session(&self, parts: &Parts, now: SystemTime) -> Result<(), AuthError> {
        let Auth::Sigv4(credentials) = self else {
            return Ok(());
        };
        if sigv4::check_shape(parts).is_err() {
            return Ok(()); // anonymous: s3s refuses it as AWS does for a private bucket
        }
        let claim = signature::claim(parts)?;
        match credentials.get(&claim.access_key_id) {
            Some(p) if p.session.is_some() => known_key(credentials, &claim, now).map(|_| ()),
            _ => Ok(()),
        }
    }

    /// The account an S3 request acts for, by the access key s3s verified (`None`
    /// for none, e.g. a SigV2 request `none` mode let in): the key's account under
    /// `sigv4`, the server's under `none`.
    pub fn account_of(&self, access_key_id: Option<&str>) -> Option<String> {
        match self {
            Auth::None { account_id } => Some(account_id.clone()),
            Auth::Sigv4(credentials) => access_key_id
                .and_then(|k| credentials.get(k))
                .map(|p| p.account_id.clone()),
        }
    }

    /// The secret s3s checks an S3 signature by `access_key_id` against: the key's own
    /// under `sigv4`, [`NONE_MODE_SECRET`] under `none` (see [`Auth::resign_for_s3`]).
    pub fn s3_secret(&self, access_key_id: &str) -> Option<String> {
        match self {
            Auth::None { .. } => Some(NONE_MODE_SECRET.to_owned()),
            Auth::Sigv4(credentials) => credentials
                .get(access_key_id)
                .map(|p| p.secret_access_key.clone()),
        }
    }

    /// In `none` mode, replaces the signature of a SigV4-signed S3 request by the one
    /// [`NONE_MODE_SECRET`] gives it, so that s3s (which checks signatures itself)
    /// accepts whatever secret the client used. A SigV2 signature (botocore still
    /// presigns S3 URLs of `us-east-1` that way) is removed instead, and the answer is
    /// `true`: the request is signed, and s3s must let it in without credentials.
    /// Unsigned requests and `sigv4` mode are left as they are.
    pub fn resign_for_s3(&self, parts: &mut Parts) -> Result<bool, AuthError> {
        if matches!(self, Auth::Sigv4(_)) {
            return Ok(false);
        }
        if strip_sigv2(parts) {
            return Ok(true);
        }
        if sigv4::check_shape(parts).is_err() {
            return Ok(false);
        }
        let claim = signature::claim(parts)?;
        let payload = match parts.headers.get("x-amz-content-sha256") {
            _ if claim.presigned() => "UNSIGNED-PAYLOAD".to_owned(),
            Some(v) => {
                let v = v.to_str().unwrap_or_default();
                if v.starts_with("STREAMING-AWS4-HMAC-SHA256-PAYLOAD") {
                    return Err(AuthError::NotSupported(
                        "Uploads that sign each chunk (STREAMING-AWS4-HMAC-SHA256-PAYLOAD) \
                         need the client's own secret: start the server with --auth sigv4 \
                         and the client's credentials, or have the client send \
                         UNSIGNED-PAYLOAD"
                            .into(),
                    ));
                }
                v.to_owned()
            }
            None => return Ok(false), // s3s refuses it: x-amz-content-sha256 is required
        };
        let canonical = canonical_request(parts, &claim, &payload);
        let ours = signature::signature(NONE_MODE_SECRET, &claim, &canonical);
        replace_signature(parts, &claim, &ours);
        Ok(false)
    }
}

/// The principal of the claimed key: unknown keys, wrong or missing session tokens and
/// expired temporary keys are refused.
fn known_key(
    credentials: &Credentials,
    claim: &Claim,
    now: SystemTime,
) -> Result<Arc<Principal>, AuthError> {
    let principal = credentials
        .get(&claim.access_key_id)
        .ok_or(AuthError::InvalidClientTokenId)?;
    if let Some(session) = &principal.session {
        let token_ok = claim
            .session_token
            .as_deref()
            .is_some_and(|t| same_signature(t, &session.token));
        if !token_ok {
            return Err(AuthError::InvalidClientTokenId);
        }
        let now = now
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        if now >= session.expires_epoch_seconds {
            return Err(AuthError::ExpiredToken);
        }
    }
    Ok(principal)
}

/// In `none` mode: the root of the server's account, named by the key it claims.
fn claimed(claim: Claim, account_id: &str) -> Caller {
    Caller::root(&claim.access_key_id, account_id)
}

fn caller(p: &Principal) -> Caller {
    Caller {
        access_key_id: p.access_key_id.clone(),
        account_id: p.account_id.clone(),
        arn: p.arn.clone(),
        user_id: p.user_id.clone(),
    }
}

/// Removes a SigV2 signature (`Authorization: AWS AKID:sig`, or presigned
/// `AWSAccessKeyId`/`Signature`/`Expires` query parameters); whether there was one.
fn strip_sigv2(parts: &mut Parts) -> bool {
    let header = parts
        .headers
        .get(http::header::AUTHORIZATION)
        .is_some_and(|v| v.as_bytes().starts_with(b"AWS ") && v.as_bytes().contains(&b':'));
    if header {
        parts.headers.remove(http::header::AUTHORIZATION);
        return true;
    }
    let query = parts.uri.query().unwrap_or_default();
    let is_v2 = |k: &str| matches!(k, "AWSAccessKeyId" | "Signature" | "Expires");
    let names: Vec<&str> = query
        .split('&')
        .map(|p| p.split('=').next().unwrap_or(p))
        .collect();
    if !(names.contains(&"AWSAccessKeyId") && names.contains(&"Signature")) {
        return false;
    }
    let kept: Vec<&str> = query
        .split('&')
        .filter(|p| !is_v2(p.split('=').next().unwrap_or(p)))
        .collect();
    let path_and_query = if kept.is_empty() {
        parts.uri.path().to_owned()
    } else {
        format!("{}?{}", parts.uri.path(), kept.join("&"))
    };
    set_path_and_query(parts, &path_and_query);
    true
}

fn set_path_and_query(parts: &mut Parts, path_and_query: &str) {
    let mut uri = http::uri::Parts::from(parts.uri.clone());
    if let Ok(pq) = path_and_query.parse() {
        uri.path_and_query = Some(pq);
        if let Ok(u) = http::Uri::from_parts(uri) {
            parts.uri = u;
        }
    }
}

fn replace_signature(parts: &mut Parts, claim: &Claim, ours: &str) {
    if claim.presigned() {
        let query = parts.uri.query().unwrap_or_default();
        let rebuilt: Vec<String> = query
            .split('&')
            .map(|p| match p.split_once('=') {
                Some(("X-Amz-Signature", _)) => format!("X-Amz-Signature={ours}"),
                _ => p.to_owned(),
            })
            .collect();
        let path_and_query = format!("{}?{}", parts.uri.path(), rebuilt.join("&"));
        set_path_and_query(parts, &path_and_query);
    } else if let Some(value) = parts.headers.get(http::header::AUTHORIZATION)
        && let Ok(value) = value.to_str()
        && let Some(at) = value.find("Signature=")
    {
        let end = value[at..].find(',').map_or(value.len(), |e| at + e);
        let replaced = format!("{}Signature={ours}{}", &value[..at], &value[end..]);
        if let Ok(v) = http::HeaderValue::from_str(&replaced) {
            parts.headers.insert(http::header::AUTHORIZATION, v);
        }
    }
}

#[cfg(test)]
mod tests;
