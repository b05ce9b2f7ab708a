//! The credentials the embedded S3 endpoint accepts.
//!
//! s3s verifies SigV4 (and SigV2, and presigned URLs) itself; all it needs from us is
//! the secret of the access key a request names ([`s3s::auth::S3Auth`]). The server is
//! configured with a fixed set of `AKID:SECRET` pairs (`--credentials`, env
//! `SAGESTACK_CREDENTIALS`, default `test:test`):
//!
//! * an access key that is not in the set: `403 InvalidAccessKeyId`;
//! * a known key with a signature made with another secret: `403 SignatureDoesNotMatch`
//!   (s3s computes the expected signature from the secret we hand back);
//! * an anonymous (unsigned) request: `403 AccessDenied`. Every bucket here is private,
//!   as a new AWS bucket is, and there are no bucket policies to make one public; s3s's
//!   default access check refuses requests without credentials, which is exactly AWS's
//!   answer for a private bucket.
//!
//! The JSON and Query services of the same port do not check signatures (they record
//! the access key only); S3 does, because its clients (CLI, SDKs, presigned URLs) always
//! sign and a wrong secret is an error users expect to see.

use std::collections::HashMap;

use s3s::S3Result;
use s3s::auth::{S3Auth, SecretKey};

/// The value used when `--credentials` is not given.
pub const DEFAULT_CREDENTIALS: &str = "test:test";

/// Why a `--credentials` value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialsError {
    #[error("credentials must be AKID:SECRET[,AKID:SECRET...], got an entry without ':' ({0})")]
    MissingSeparator(String),
    #[error("an access key id or secret is empty in credentials entry {0}")]
    Empty(String),
    #[error("access key id {0} is given twice with different secrets")]
    Duplicate(String),
    #[error("no credentials given")]
    None,
}

/// A fixed set of access keys and their secrets.
#[derive(Clone)]
pub struct StaticCredentials {
    secrets: HashMap<String, String>,
}

impl std::fmt::Debug for StaticCredentials {
    /// Lists the access key ids only: secrets never reach logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut keys: Vec<&str> = self.secrets.keys().map(String::as_str).collect();
        keys.sort_unstable();
        f.debug_struct("StaticCredentials")
            .field("access_key_ids", &keys)
            .finish_non_exhaustive()
    }
}

impl StaticCredentials {
    /// Parses `AKID:SECRET[,AKID:SECRET...]`. The secret is everything after the first
    /// `:` (AWS secrets may contain neither `,` nor `:` in practice, but `/` and `+`
    /// appear and are kept). Surrounding whitespace of an entry is ignored.
    pub fn parse(raw: &str) -> Result<Self, CredentialsError> {
        let mut secrets = HashMap::new();
        for entry in raw.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (akid, secret) = entry
                .split_once(':')
                .ok_or_else(|| CredentialsError::MissingSeparator(redact(entry)))?;
            if akid.is_empty() || secret.is_empty() {
                return Err(CredentialsError::Empty(redact(entry)));
            }
            if let Some(previous) = secrets.insert(akid.to_owned(), secret.to_owned())
                && previous != secret
            {
                return Err(CredentialsError::Duplicate(akid.to_owned()));
            }
        }
        if secrets.is_empty() {
            return Err(CredentialsError::None);
        }
        Ok(StaticCredentials { secrets })
    }

    /// The secret of `access_key_id`, if it is accepted.
    pub fn secret(&self, access_key_id: &str) -> Option<&str> {
        self.secrets.get(access_key_id).map(String::as_str)
    }
}

/// An entry shown in an error: the part before the first `:` only, so that a typo in
/// the flag does not print a secret.
fn redact(entry: &str) -> String {
    match entry.split_once(':') {
        Some((akid, _)) => format!("{akid}:***"),
        None if entry.len() > 4 => format!("{}***", &entry[..entry.floor_char_boundary(4)]),
        None => "***".to_owned(),
    }
}

#[async_trait::async_trait]
impl S3Auth for StaticCredentials {
    async fn get_secret_key(&self, access_key: &str) -> S3Result<SecretKey> {
        match self.secret(access_key) {
            Some(secret) => Ok(SecretKey::from(secret)),
            None => Err(s3s::s3_error!(
                InvalidAccessKeyId,
                "The AWS Access Key Id you provided does not exist in our records."
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_pairs_and_keeps_colons_in_secrets() {
        let c = StaticCredentials::parse(" AKID1:s/e+c , AKID2:a:b ").unwrap();
        assert_eq!(c.secret("AKID1"), Some("s/e+c"));
        assert_eq!(c.secret("AKID2"), Some("a:b"));
        assert_eq!(c.secret("akid1"), None);
        let d = StaticCredentials::parse(DEFAULT_CREDENTIALS).unwrap();
        assert_eq!(d.secret("test"), Some("test"));
    }

    #[test]
    fn refuses_malformed_values_without_printing_secrets() {
        let e = StaticCredentials::parse("AKIDONLYNOSECRET").unwrap_err();
        assert_eq!(e, CredentialsError::MissingSeparator("AKID***".into()));
        assert_eq!(
            StaticCredentials::parse("A:").unwrap_err(),
            CredentialsError::Empty("A:***".into())
        );
        assert_eq!(
            StaticCredentials::parse(":x").unwrap_err(),
            CredentialsError::Empty(":***".into())
        );
        assert_eq!(
            StaticCredentials::parse("A:x,A:y").unwrap_err(),
            CredentialsError::Duplicate("A".into())
        );
        assert!(StaticCredentials::parse("A:x,A:x").is_ok());
        assert_eq!(
            StaticCredentials::parse(" , ").unwrap_err(),
            CredentialsError::None
        );
        let shown = format!("{:?}", StaticCredentials::parse("K:topsecret").unwrap());
        assert!(
            shown.contains('K') && !shown.contains("topsecret"),
            "{shown}"
        );
    }

    #[tokio::test]
    async fn unknown_keys_are_invalid_access_key_ids() {
        let c = StaticCredentials::parse("K:S").unwrap();
        assert_eq!(c.get_secret_key("K").await.unwrap().expose(), "S");
        let err = c.get_secret_key("X").await.unwrap_err();
        assert_eq!(*err.code(), s3s::S3ErrorCode::InvalidAccessKeyId);
    }
}
