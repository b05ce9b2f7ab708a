//! The little of SigV4 the server needs: who claims to be calling.
//!
//! Signature verification is deliberately not implemented: sagestack is a local
//! development server, clients sign with dummy credentials, and we only read the
//! access key id to attribute changes (`CreatedBy`, `LastModifiedBy`).

/// The access key id from an `Authorization: AWS4-HMAC-SHA256 Credential=AKID/date/...` header.
pub fn access_key_id(authorization: &str) -> Option<&str> {
    let rest = authorization.strip_prefix("AWS4-HMAC-SHA256")?;
    let start = rest.find("Credential=")? + "Credential=".len();
    let credential = &rest[start..];
    let end = credential.find(['/', ',', ' ']).unwrap_or(credential.len());
    let key = &credential[..end];
    (!key.is_empty()).then_some(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_access_key_id() {
        let header = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20250101/us-east-1/sagemaker/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc";
        assert_eq!(access_key_id(header), Some("AKIDEXAMPLE"));
    }

    #[test]
    fn rejects_other_schemes_and_empty_keys() {
        assert_eq!(access_key_id("Basic Zm9vOmJhcg=="), None);
        assert_eq!(access_key_id("AWS4-HMAC-SHA256 Credential=/2025/x"), None);
        assert_eq!(access_key_id("AWS4-HMAC-SHA256 SignedHeaders=host"), None);
    }
}
