//! `sigv4::signing_name`: the credential scope's service, from a header or a presigned
//! query, and nothing from what is not a SigV4 credential.

use http::Request;
use sagestack_protocol::sigv4::signing_name;

fn parts(uri: &str, authorization: Option<&str>) -> http::request::Parts {
    let mut builder = Request::get(uri);
    if let Some(a) = authorization {
        builder = builder.header("authorization", a);
    }
    builder.body(()).unwrap().into_parts().0
}

#[test]
fn the_scopes_service_names_the_protocol() {
    let header = "AWS4-HMAC-SHA256 Credential=AKID/20261206/us-east-1/lambda/aws4_request, \
                  SignedHeaders=host;x-amz-date, Signature=abc";
    assert_eq!(
        signing_name(&parts("/2015-03-31/functions", Some(header))).as_deref(),
        Some("lambda")
    );
    let presigned = "/bucket/key?X-Amz-Algorithm=AWS4-HMAC-SHA256\
                     &X-Amz-Credential=AKID%2F20261206%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Signature=x";
    assert_eq!(signing_name(&parts(presigned, None)).as_deref(), Some("s3"));
}

#[test]
fn anything_else_names_nothing() {
    for auth in [
        None,
        Some("AWS4-HMAC-SHA256 Credential=AKID/20261206/us-east-1/lambda/other"),
        Some("AWS4-HMAC-SHA256 Credential=AKID/20261206/us-east-1//aws4_request"),
        Some("Basic dXNlcjpwYXNz"),
        Some("AWS4-HMAC-SHA256 Credential="),
    ] {
        assert_eq!(signing_name(&parts("/x", auth)), None, "{auth:?}");
    }
}
