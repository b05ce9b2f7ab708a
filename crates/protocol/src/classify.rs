//! Which wire protocol a request speaks, decided from its shape alone.
//!
//! AWS services that share an endpoint are told apart like this:
//! * AWS JSON 1.0/1.1: `POST` with an `X-Amz-Target: <Prefix>.<Operation>` header;
//!   the prefix names the service (`SageMaker`, `AmazonSSM`,
//!   `AWS242ServiceCatalogService`). A `POST` with an `application/x-amz-json-*`
//!   content type but no target is still JSON ([`RequestShape::MissingTarget`]): its
//!   error must be JSON, not S3's XML.
//! * AWS Query (CloudFormation): `POST /` with a form-encoded body carrying
//!   `Action=...` (or a `GET` with `Action` in the query string).
//! * S3 REST: anything else (bucket and key in the path, verb is the operation).
//!
//! The router calls [`classify`] on the request head (never the body), then hands the
//! request to the service registered for that shape.

use http::{Method, header::CONTENT_TYPE, request::Parts};

/// The wire protocol of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestShape {
    /// AWS JSON 1.0/1.1, with the parsed `X-Amz-Target`.
    Json { prefix: String, operation: String },
    /// An `X-Amz-Target` header that is not `<Prefix>.<Operation>`.
    MalformedTarget,
    /// A JSON 1.0/1.1 body (`application/x-amz-json-*`) without `X-Amz-Target`.
    MissingTarget,
    /// AWS Query protocol (form-encoded `Action=`).
    Query,
    /// Anything else: S3 REST style.
    Rest,
}

/// Classifies a request from its head.
pub fn classify(parts: &Parts) -> RequestShape {
    if let Some(target) = parts.headers.get("x-amz-target") {
        let Ok(target) = target.to_str() else {
            return RequestShape::MalformedTarget;
        };
        return match target.split_once('.') {
            Some((prefix, operation)) if !prefix.is_empty() && !operation.is_empty() => {
                RequestShape::Json {
                    prefix: prefix.to_owned(),
                    operation: operation.to_owned(),
                }
            }
            _ => RequestShape::MalformedTarget,
        };
    }
    let content_type = parts
        .headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    // Only AWS's own JSON media types: S3 objects are often uploaded as
    // `application/json`, and those are S3 requests.
    if parts.method == Method::POST && content_type.starts_with("application/x-amz-json-") {
        return RequestShape::MissingTarget;
    }
    let form = content_type.starts_with("application/x-www-form-urlencoded");
    let query_action = parts
        .uri
        .query()
        .is_some_and(|q| q.split('&').any(|kv| kv.starts_with("Action=")));
    if parts.uri.path() == "/"
        && !names_s3_subresource(parts.uri.query())
        && ((parts.method == Method::POST && form) || (parts.method == Method::GET && query_action))
    {
        return RequestShape::Query;
    }
    RequestShape::Rest
}

/// S3 `POST`s to `/` (virtual-hosted style: `POST /?delete` on `<bucket>.localhost`)
/// carry one of these in the query string; a client that labels such a body as a form
/// must still reach S3, never the Query protocol.
fn names_s3_subresource(query: Option<&str>) -> bool {
    query.is_some_and(|q| {
        q.split('&').any(|kv| {
            let name = kv.split_once('=').map_or(kv, |(k, _)| k);
            matches!(
                name,
                "delete" | "uploads" | "uploadId" | "restore" | "select"
            )
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(method: &str, uri: &str, headers: &[(&str, &str)]) -> Parts {
        let mut b = http::Request::builder().method(method).uri(uri);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(()).unwrap().into_parts().0
    }

    #[test]
    fn json_targets_split_on_the_first_dot() {
        let p = parts("POST", "/", &[("x-amz-target", "SageMaker.CreateProject")]);
        assert_eq!(
            classify(&p),
            RequestShape::Json {
                prefix: "SageMaker".into(),
                operation: "CreateProject".into()
            }
        );
        let p = parts("POST", "/", &[("X-Amz-Target", "AmazonSSM.GetParameter")]);
        assert!(matches!(classify(&p), RequestShape::Json { prefix, .. } if prefix == "AmazonSSM"));
        let p = parts("POST", "/", &[("x-amz-target", "NoDot")]);
        assert_eq!(classify(&p), RequestShape::MalformedTarget);
    }

    #[test]
    fn json_content_without_a_target_is_json() {
        for ct in ["application/x-amz-json-1.1", "application/x-amz-json-1.0"] {
            let p = parts("POST", "/", &[("content-type", ct)]);
            assert_eq!(classify(&p), RequestShape::MissingTarget, "{ct}");
        }
        // An S3 upload of a JSON document stays S3.
        let p = parts("PUT", "/b/k.json", &[("content-type", "application/json")]);
        assert_eq!(classify(&p), RequestShape::Rest);
        let p = parts(
            "POST",
            "/b/k?uploads",
            &[("content-type", "application/json")],
        );
        assert_eq!(classify(&p), RequestShape::Rest);
    }

    #[test]
    fn query_and_rest() {
        let p = parts(
            "POST",
            "/",
            &[(
                "content-type",
                "application/x-www-form-urlencoded; charset=utf-8",
            )],
        );
        assert_eq!(classify(&p), RequestShape::Query);
        let p = parts("GET", "/?Action=ListStacks&Version=2010-05-15", &[]);
        assert_eq!(classify(&p), RequestShape::Query);
        let p = parts("PUT", "/bucket/key", &[]);
        assert_eq!(classify(&p), RequestShape::Rest);
        let p = parts("GET", "/", &[]);
        assert_eq!(classify(&p), RequestShape::Rest);
    }

    #[test]
    fn s3_posts_are_rest_even_with_a_form_content_type() {
        let form = [("content-type", "application/x-www-form-urlencoded")];
        for uri in [
            "/?delete",
            "/?uploads",
            "/?uploadId=abc",
            "/?delete=",
            "/k?uploads",
        ] {
            assert_eq!(
                classify(&parts("POST", uri, &form)),
                RequestShape::Rest,
                "{uri}"
            );
        }
        for uri in [
            "/bucket?delete",
            "/bucket/key?uploadId=u",
            "/bucket/key?uploads",
        ] {
            assert_eq!(
                classify(&parts("POST", uri, &[])),
                RequestShape::Rest,
                "{uri}"
            );
        }
        // A Query request whose parameters merely contain those words stays Query.
        let p = parts("POST", "/?x=deleted", &form);
        assert_eq!(classify(&p), RequestShape::Query);
    }
}
