//! `GetFunction`'s `Code.Location`: a URL to download the deployment package that works
//! without signing, for 10 minutes, as AWS's presigned S3 URL does. The server signs
//! `<sha256>/<expiry>` with a key of its own (random per process); the code route
//! checks the signature and the expiry, so holding the package's hash is not enough to
//! read it.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How long a code location works (AWS's presigned URL lasts 10 minutes).
pub const VALIDITY: Duration = Duration::from_secs(600);

/// Signs and checks code locations. One per server, shared by every account's API and
/// the code route.
pub struct CodeUrls {
    key: String,
}

impl std::fmt::Debug for CodeUrls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CodeUrls").finish_non_exhaustive()
    }
}

impl Default for CodeUrls {
    fn default() -> Self {
        Self::new()
    }
}

impl CodeUrls {
    /// A fresh random key: locations handed out by an earlier process stop working.
    pub fn new() -> Self {
        let key = sagestack_engine::random_chars(sagestack_engine::MIXED_ALNUM, 43);
        CodeUrls { key }
    }

    fn signature(&self, hex: &str, expires: u64) -> String {
        sagestack_protocol::auth::signature::hmac_sha256_hex(
            self.key.as_bytes(),
            format!("{hex}/{expires}").as_bytes(),
        )
    }

    /// The location of package `hex` on the server at `endpoint`, valid from `now`.
    pub fn location(&self, endpoint: &str, hex: &str, now: SystemTime) -> String {
        let expires = (now + VALIDITY)
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let signature = self.signature(hex, expires);
        format!("{endpoint}/_sagestack/lambda/code/{hex}?Expires={expires}&Signature={signature}")
    }

    /// Whether `expires`/`signature` (the location's query) let `hex` be read at `now`.
    pub fn allows(&self, hex: &str, expires: u64, signature: &str, now: SystemTime) -> bool {
        let now = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        now <= expires
            && sagestack_protocol::auth::signature::same_signature(
                signature,
                &self.signature(hex, expires),
            )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_are_signed_and_expire() {
        let urls = CodeUrls::new();
        let now = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let hex = "ab".repeat(32);
        let location = urls.location("http://h", &hex, now);
        let query = location.split_once('?').unwrap().1;
        let expires: u64 = query.split('&').next().unwrap()[8..].parse().unwrap();
        let signature = query.split_once("Signature=").unwrap().1;
        assert_eq!(expires, 1_000_600);
        assert!(urls.allows(&hex, expires, signature, now));
        assert!(!urls.allows(&hex, expires, signature, now + Duration::from_secs(601)));
        assert!(!urls.allows(&hex, expires + 1, signature, now));
        assert!(!urls.allows(&"cd".repeat(32), expires, signature, now));
        assert!(
            !CodeUrls::new().allows(&hex, expires, signature, now),
            "another process"
        );
    }
}
