//! SigV4's shape: who claims to be calling, whether the request carries a signature of
//! SigV4's shape at all, and the refusals ([`AuthError`]).
//!
//! What is checked here is what AWS checks before it looks at a key: that an
//! `Authorization: AWS4-HMAC-SHA256 ...` header or presigned `X-Amz-*` query parameters
//! are present and well-formed ([`check_shape`]). That alone keeps a web page from
//! driving the API: an `<img>` tag or a cross-origin form cannot set `Authorization`.
//! Whether the signature is the right one is [`crate::auth`]'s question (under
//! `--auth sigv4`).
//!
//! [`AuthError`] is the refusal; [`AuthError::for_json`] gives the JSON protocol's
//! code (`...Exception`), while the error itself carries the Query protocol's code.

use http::{StatusCode, request::Parts};

use crate::error::AwsError;

const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// The service name of the request's SigV4 credential scope
/// (`Credential=AKID/20250101/us-east-1/<service>/aws4_request`), from the
/// `Authorization` header or a presigned `X-Amz-Credential`: every AWS client sends it,
/// and it is how one port tells a Lambda request from an S3 request of the same look.
pub fn signing_name(parts: &Parts) -> Option<String> {
    let credential = match parts.headers.get(http::header::AUTHORIZATION) {
        Some(value) => {
            let value = value.to_str().ok()?;
            let start = value.find("Credential=")? + "Credential=".len();
            let rest = &value[start..];
            rest[..rest.find([',', ' ']).unwrap_or(rest.len())].to_owned()
        }
        None => form_urlencoded::parse(parts.uri.query()?.as_bytes())
            .find(|(k, _)| k == "X-Amz-Credential")
            .map(|(_, v)| v.into_owned())?,
    };
    // AKID / date / region / service / aws4_request
    let mut fields = credential.rsplit('/');
    (fields.next()? == "aws4_request").then_some(())?;
    fields.next().filter(|s| !s.is_empty()).map(str::to_owned)
}

/// Why a request is refused before any service sees it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// Neither an `Authorization` header nor presigned query parameters.
    #[error("Request is missing Authentication Token")]
    MissingAuthenticationToken,
    /// A signature is there but not of SigV4's shape; the message says what is wrong.
    #[error("{0}")]
    IncompleteSignature(String),
    /// The request is signed, but a web browser says it comes from another site.
    #[error("{0}")]
    AccessDenied(String),
    /// `--auth sigv4`: no such access key (or a temporary key without its token).
    #[error("The security token included in the request is invalid.")]
    InvalidClientTokenId,
    /// `--auth sigv4`: the signature is not the one the key's secret gives.
    #[error("{0}")]
    SignatureDoesNotMatch(String),
    /// `--auth sigv4`: the request's date is more than 15 minutes from the server's
    /// clock, or a presigned URL's validity is over.
    #[error("{0}")]
    SignatureExpired(String),
    /// `--auth sigv4`: temporary keys past their expiry.
    #[error("The security token included in the request is expired")]
    ExpiredToken,
    /// A signing method this mode cannot accept; the message says what to do instead.
    #[error("{0}")]
    NotSupported(String),
}

impl AuthError {
    /// AWS's words for a signature that does not match.
    pub fn signature_mismatch() -> Self {
        AuthError::SignatureDoesNotMatch(
            "The request signature we calculated does not match the signature you provided. \
             Check your AWS Secret Access Key and signing method. Consult the service \
             documentation for details."
                .into(),
        )
    }
}

impl AwsError for AuthError {
    /// The Query protocol's codes (CloudFormation, STS).
    fn code(&self) -> &str {
        match self {
            Self::MissingAuthenticationToken => "MissingAuthenticationToken",
            Self::IncompleteSignature(_) => "IncompleteSignature",
            Self::AccessDenied(_) => "AccessDenied",
            Self::InvalidClientTokenId => "InvalidClientTokenId",
            Self::SignatureDoesNotMatch(_) | Self::SignatureExpired(_) => "SignatureDoesNotMatch",
            Self::ExpiredToken => "ExpiredToken",
            Self::NotSupported(_) => "NotImplemented",
        }
    }
    fn status(&self) -> StatusCode {
        match self {
            Self::IncompleteSignature(_) => StatusCode::BAD_REQUEST,
            Self::NotSupported(_) => StatusCode::NOT_IMPLEMENTED,
            _ => StatusCode::FORBIDDEN,
        }
    }
}

impl AuthError {
    /// The same refusal with the JSON protocol's error code.
    pub fn for_json(self) -> JsonAuthError {
        JsonAuthError(self)
    }
}

/// An [`AuthError`] as JSON 1.0/1.1 services name it
/// (`MissingAuthenticationTokenException`, ...).
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct JsonAuthError(AuthError);

impl AwsError for JsonAuthError {
    fn code(&self) -> &str {
        match self.0 {
            AuthError::MissingAuthenticationToken => "MissingAuthenticationTokenException",
            AuthError::IncompleteSignature(_) => "IncompleteSignatureException",
            AuthError::AccessDenied(_) => "AccessDeniedException",
            AuthError::InvalidClientTokenId => "UnrecognizedClientException",
            AuthError::SignatureDoesNotMatch(_) | AuthError::SignatureExpired(_) => {
                "InvalidSignatureException"
            }
            AuthError::ExpiredToken => "ExpiredTokenException",
            AuthError::NotSupported(_) => "NotImplemented",
        }
    }
    /// JSON services answer a key or signature they refuse with 400, as SageMaker does.
    fn status(&self) -> StatusCode {
        match self.0 {
            AuthError::InvalidClientTokenId
            | AuthError::SignatureDoesNotMatch(_)
            | AuthError::SignatureExpired(_)
            | AuthError::ExpiredToken => StatusCode::BAD_REQUEST,
            _ => self.0.status(),
        }
    }
}

/// Whether the request carries a SigV4-shaped signature: an `Authorization` header, or
/// presigned `X-Amz-Algorithm`/`X-Amz-Credential`/... query parameters.
pub fn check_shape(parts: &Parts) -> Result<(), AuthError> {
    if let Some(value) = parts.headers.get(http::header::AUTHORIZATION) {
        let value = String::from_utf8_lossy(value.as_bytes());
        let has_date = parts.headers.contains_key("x-amz-date")
            || parts.headers.contains_key(http::header::DATE);
        return check_header(&value, has_date);
    }
    let presigned: Vec<(String, String)> = parts
        .uri
        .query()
        .map(|q| {
            form_urlencoded::parse(q.as_bytes())
                .filter(|(k, _)| k.starts_with("X-Amz-"))
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        })
        .unwrap_or_default();
    if presigned.iter().any(|(k, _)| {
        matches!(
            k.as_str(),
            "X-Amz-Algorithm" | "X-Amz-Credential" | "X-Amz-Signature"
        )
    }) {
        return check_presigned(&presigned);
    }
    Err(AuthError::MissingAuthenticationToken)
}

/// `AWS4-HMAC-SHA256 Credential=AKID/20250101/us-east-1/sagemaker/aws4_request,
/// SignedHeaders=host;x-amz-date, Signature=<hex>`, with a request date. Like AWS, every
/// missing part is named, followed by the header as received.
fn check_header(value: &str, has_date: bool) -> Result<(), AuthError> {
    let (scheme, params) = value.split_once(' ').unwrap_or((value, ""));
    let mut credential = None;
    let mut signed_headers = None;
    let mut signature = None;
    for pair in params.split(',') {
        let Some((k, v)) = pair.trim().split_once('=') else {
            continue;
        };
        match k {
            "Credential" => credential = Some(v),
            "SignedHeaders" => signed_headers = Some(v),
            "Signature" => signature = Some(v),
            _ => {}
        }
    }
    let mut problems = String::new();
    if scheme != ALGORITHM {
        problems.push_str("Unsupported Authorization Type. ");
    }
    for (name, found) in [
        ("Credential", credential),
        ("Signature", signature),
        ("SignedHeaders", signed_headers),
    ] {
        if found.is_none_or(str::is_empty) {
            problems.push_str(&format!(
                "Authorization header requires '{name}' parameter. "
            ));
        }
    }
    if !has_date {
        problems.push_str(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. ",
        );
    }
    if problems.is_empty()
        && let Some(credential) = credential
        && let Err(problem) = check_credential(credential)
    {
        problems.push_str(&problem);
        problems.push(' ');
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(AuthError::IncompleteSignature(format!(
            "{problems}Authorization={value}"
        )))
    }
}

/// Presigned parameters: all five present, the algorithm SigV4's, the credential scoped.
fn check_presigned(params: &[(String, String)]) -> Result<(), AuthError> {
    let get = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    };
    let required = [
        "X-Amz-Algorithm",
        "X-Amz-Credential",
        "X-Amz-Signature",
        "X-Amz-Date",
        "X-Amz-SignedHeaders",
    ];
    if required.iter().any(|name| get(name).is_none()) {
        return Err(AuthError::IncompleteSignature(
            "AWS query-string parameters must include 'X-Amz-Algorithm', 'X-Amz-Credential', \
             'X-Amz-Signature', 'X-Amz-Date', 'X-Amz-SignedHeaders'. Re-examine the \
             query-string parameters."
                .into(),
        ));
    }
    if get("X-Amz-Algorithm") != Some(ALGORITHM) {
        return Err(AuthError::IncompleteSignature(format!(
            "X-Amz-Algorithm only supports \"{ALGORITHM}\""
        )));
    }
    check_credential(get("X-Amz-Credential").unwrap_or_default())
        .map_err(AuthError::IncompleteSignature)
}

/// `AKID/yyyymmdd/region/service/aws4_request`.
fn check_credential(credential: &str) -> Result<(), String> {
    let scope: Vec<&str> = credential.split('/').collect();
    if scope.len() != 5 || scope.iter().any(|s| s.is_empty()) {
        return Err(format!(
            "Credential must have exactly 5 slash-delimited elements, e.g. \
             keyid/date/region/service/term, got '{credential}'"
        ));
    }
    let date = scope[1];
    if date.len() != 8 || !date.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "Credential should be scoped to a valid date in yyyyMMdd format, not '{date}'."
        ));
    }
    if scope[4] != "aws4_request" {
        return Err(format!(
            "Credential should be scoped with a valid terminator: 'aws4_request', not '{}'.",
            scope[4]
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20250101/us-east-1/sagemaker/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc";

    fn parts(uri: &str, headers: &[(&str, &str)]) -> Parts {
        let mut b = http::Request::builder().method("GET").uri(uri);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(()).unwrap().into_parts().0
    }

    #[test]
    fn a_signed_header_with_a_date_passes() {
        let p = parts(
            "/",
            &[("authorization", GOOD), ("x-amz-date", "20250101T000000Z")],
        );
        assert_eq!(check_shape(&p), Ok(()));
        let p = parts(
            "/",
            &[("authorization", GOOD), ("date", "Wed, 01 Jan 2025")],
        );
        assert_eq!(check_shape(&p), Ok(()));
    }

    #[test]
    fn nothing_signed_is_a_missing_token() {
        let p = parts("/?Action=CreateStack&StackName=x", &[]);
        assert_eq!(check_shape(&p), Err(AuthError::MissingAuthenticationToken));
        let err = AuthError::MissingAuthenticationToken;
        assert_eq!(err.status(), 403);
        assert_eq!(err.code(), "MissingAuthenticationToken");
        assert_eq!(err.message(), "Request is missing Authentication Token");
        let json = err.for_json();
        assert_eq!(json.code(), "MissingAuthenticationTokenException");
        assert_eq!(json.status(), 403);
    }

    #[test]
    fn every_missing_part_of_the_header_is_named() {
        let date = ("x-amz-date", "20250101T000000Z");
        let Err(AuthError::IncompleteSignature(m)) = check_shape(&parts(
            "/",
            &[("authorization", "AWS4-HMAC-SHA256 Foo=bar"), date],
        )) else {
            panic!("accepted")
        };
        assert_eq!(
            m,
            "Authorization header requires 'Credential' parameter. Authorization header \
             requires 'Signature' parameter. Authorization header requires 'SignedHeaders' \
             parameter. Authorization=AWS4-HMAC-SHA256 Foo=bar"
        );
        let Err(AuthError::IncompleteSignature(m)) =
            check_shape(&parts("/", &[("authorization", GOOD)]))
        else {
            panic!("accepted without a date")
        };
        assert!(m.starts_with("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."), "{m}");
        let Err(AuthError::IncompleteSignature(m)) = check_shape(&parts(
            "/",
            &[("authorization", "Basic Zm9vOmJhcg=="), date],
        )) else {
            panic!("accepted Basic")
        };
        assert!(m.starts_with("Unsupported Authorization Type."), "{m}");
        assert_eq!(
            AuthError::IncompleteSignature(m).for_json().code(),
            "IncompleteSignatureException"
        );
    }

    #[test]
    fn the_credential_scope_is_checked() {
        let date = ("x-amz-date", "20250101T000000Z");
        for (credential, expected) in [
            (
                "AKID/20250101/us-east-1/sagemaker",
                "exactly 5 slash-delimited",
            ),
            (
                "AKID//us-east-1/sagemaker/aws4_request",
                "exactly 5 slash-delimited",
            ),
            (
                "AKID/2025-01-01/us-east-1/sagemaker/aws4_request",
                "valid date",
            ),
            ("AKID/20250101/us-east-1/sagemaker/aws5", "valid terminator"),
        ] {
            let header = format!(
                "AWS4-HMAC-SHA256 Credential={credential}, SignedHeaders=host, Signature=0"
            );
            let result = check_shape(&parts("/", &[("authorization", &header), date]));
            assert!(
                matches!(&result, Err(AuthError::IncompleteSignature(m)) if m.contains(expected)),
                "{credential}: {result:?}"
            );
        }
    }

    #[test]
    fn presigned_queries() {
        let good = "/?Action=ListStacks&X-Amz-Algorithm=AWS4-HMAC-SHA256\
            &X-Amz-Credential=AKID%2F20250101%2Fus-east-1%2Fcloudformation%2Faws4_request\
            &X-Amz-Date=20250101T000000Z&X-Amz-SignedHeaders=host&X-Amz-Signature=ab12";
        assert_eq!(check_shape(&parts(good, &[])), Ok(()));
        let partial = "/?Action=ListStacks&X-Amz-Signature=ab12";
        assert!(matches!(
            check_shape(&parts(partial, &[])),
            Err(AuthError::IncompleteSignature(m)) if m.starts_with("AWS query-string parameters must include")
        ));
        let other = good.replace("AWS4-HMAC-SHA256", "AWS4-ECDSA-P256-SHA256");
        assert!(matches!(
            check_shape(&parts(&other, &[])),
            Err(AuthError::IncompleteSignature(m)) if m.contains("X-Amz-Algorithm")
        ));
        let bad_scope = good.replace("%2Faws4_request", "");
        assert!(matches!(
            check_shape(&parts(&bad_scope, &[])),
            Err(AuthError::IncompleteSignature(m)) if m.contains("5 slash-delimited")
        ));
    }
}
