//! Verification against signatures botocore made (the vectors below were computed by
//! botocore's `SigV4Auth` / `S3SigV4QueryAuth` with the key AKIDEXAMPLE and the time
//! 2025-01-02T03:04:05Z), and refusals of every kind.

use std::time::{Duration, UNIX_EPOCH};

use proptest::prelude::*;

use super::*;

const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const BODY: &[u8] = br#"{"ProjectName":"p"}"#;

fn at(secs_after_signing: i64) -> SystemTime {
    let signed = signature::parse_amz_date("20250102T030405Z").unwrap();
    UNIX_EPOCH + Duration::from_secs(signed.checked_add_signed(secs_after_signing).unwrap())
}

fn sigv4() -> Auth {
    let raw = format!("AKIDEXAMPLE:{SECRET}");
    Auth::Sigv4(Arc::new(
        Credentials::load(KeySource::Inline(raw), "123456789012").unwrap(),
    ))
}

fn json_parts(signature: &str, target: &str) -> Parts {
    http::Request::builder()
        .method("POST")
        .uri("/")
        .header("host", "localhost:4566")
        .header("x-amz-target", target)
        .header("content-type", "application/x-amz-json-1.1")
        .header("x-amz-date", "20250102T030405Z")
        .header(
            "authorization",
            format!(
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20250102/us-east-1/sagemaker/aws4_request, \
                 SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature={signature}"
            ),
        )
        .body(())
        .unwrap()
        .into_parts()
        .0
}

const JSON_SIGNATURE: &str = "e8e57197278be590dd6243d04737d6ee66d13c09fd3138c19933b92528f970d5";

#[test]
fn a_botocore_json_signature_verifies() {
    let parts = json_parts(JSON_SIGNATURE, "SageMaker.DescribeProject");
    let caller = sigv4().authenticate(&parts, BODY, at(60)).unwrap();
    assert_eq!(caller.account_id, "123456789012");
    assert_eq!(caller.arn, "arn:aws:iam::123456789012:root");
    assert_eq!(caller.access_key_id, "AKIDEXAMPLE");
}

#[test]
fn tampering_with_body_header_or_signature_is_refused() {
    let auth = sigv4();
    let parts = json_parts(JSON_SIGNATURE, "SageMaker.DescribeProject");
    let tampered_body = auth.authenticate(&parts, br#"{"ProjectName":"q"}"#, at(0));
    assert_eq!(tampered_body, Err(AuthError::signature_mismatch()));
    let tampered_header = json_parts(JSON_SIGNATURE, "SageMaker.DeleteProject");
    assert_eq!(
        auth.authenticate(&tampered_header, BODY, at(0)),
        Err(AuthError::signature_mismatch())
    );
    let other = json_parts(
        &JSON_SIGNATURE.replace('e', "f"),
        "SageMaker.DescribeProject",
    );
    assert_eq!(
        auth.authenticate(&other, BODY, at(0)),
        Err(AuthError::signature_mismatch())
    );
    // The message says nothing of the expected signature.
    let Err(AuthError::SignatureDoesNotMatch(m)) = auth.authenticate(&other, BODY, at(0)) else {
        panic!()
    };
    assert!(!m.contains(JSON_SIGNATURE));
}

#[test]
fn unknown_keys_and_wrong_secrets_are_refused() {
    let parts = json_parts(JSON_SIGNATURE, "SageMaker.DescribeProject");
    let other_key = Auth::Sigv4(Arc::new(
        Credentials::load(KeySource::Inline("AKIDOTHER:x".into()), "123456789012").unwrap(),
    ));
    assert_eq!(
        other_key.authenticate(&parts, BODY, at(0)),
        Err(AuthError::InvalidClientTokenId)
    );
    let wrong_secret = Auth::Sigv4(Arc::new(
        Credentials::load(KeySource::Inline("AKIDEXAMPLE:nope".into()), "123456789012").unwrap(),
    ));
    assert_eq!(
        wrong_secret.authenticate(&parts, BODY, at(0)),
        Err(AuthError::signature_mismatch())
    );
}

#[test]
fn a_clock_more_than_15_minutes_off_is_refused() {
    let auth = sigv4();
    let parts = json_parts(JSON_SIGNATURE, "SageMaker.DescribeProject");
    assert!(auth.authenticate(&parts, BODY, at(14 * 60)).is_ok());
    assert!(auth.authenticate(&parts, BODY, at(-14 * 60)).is_ok());
    for off in [16 * 60, -16 * 60] {
        let r = auth.authenticate(&parts, BODY, at(off));
        assert!(
            matches!(&r, Err(AuthError::SignatureExpired(m)) if m.contains("20250102T030405Z")),
            "{r:?}"
        );
    }
}

#[test]
fn none_mode_takes_any_signature_but_not_none() {
    let auth = Auth::None {
        account_id: "000000000000".into(),
    };
    let parts = json_parts("whatever", "SageMaker.DescribeProject");
    let caller = auth.authenticate(&parts, b"{}", at(10_000_000)).unwrap();
    assert_eq!(caller.account_id, "000000000000");
    assert_eq!(caller.user_id, "AKIDEXAMPLE");
    let unsigned = http::Request::builder()
        .uri("/")
        .body(())
        .unwrap()
        .into_parts()
        .0;
    assert_eq!(
        auth.authenticate(&unsigned, b"", at(0)),
        Err(AuthError::MissingAuthenticationToken)
    );
}

#[test]
fn rest_paths_are_encoded_twice_and_queries_sorted() {
    let parts = http::Request::builder()
        .method("GET")
        .uri("/2015-03-31/functions/f%3Aalias/configuration?Qualifier=a%20b&x=1")
        .header("host", "localhost:4566")
        .header("x-amz-date", "20250102T030405Z")
        .header(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20250102/us-east-1/lambda/aws4_request, \
             SignedHeaders=host;x-amz-date, \
             Signature=d6b1a13e1daac814dd93b064e5f65c7f49cf125ad0daab02f6310f47270a1195",
        )
        .body(())
        .unwrap()
        .into_parts()
        .0;
    assert!(sigv4().authenticate(&parts, b"", at(0)).is_ok());
}

fn presigned(expires: u64, signature: &str) -> Parts {
    let uri = format!(
        "/bucket/key%20one.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20250102%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20250102T030405Z&X-Amz-Expires={expires}&X-Amz-SignedHeaders=host&X-Amz-Signature={signature}"
    );
    http::Request::builder()
        .uri(uri)
        .header("host", "localhost:4566")
        .body(())
        .unwrap()
        .into_parts()
        .0
}

const PRESIGNED: &str = "b2fc6d63dadc29ea014ffbed6455cfc0290a57c2fa4764069f56897567d807e5";

#[test]
fn a_presigned_s3_url_canonicalizes_as_botocore_signed_it() {
    let parts = presigned(300, PRESIGNED);
    let claim = signature::claim(&parts).unwrap();
    let canonical = canonical_request(&parts, &claim, "UNSIGNED-PAYLOAD");
    assert_eq!(signature::signature(SECRET, &claim, &canonical), PRESIGNED);
    assert!(check_time(&claim, at(299)).is_ok());
    let expired = check_time(&claim, at(301));
    assert!(
        matches!(expired, Err(AuthError::SignatureExpired(_))),
        "{expired:?}"
    );
    assert!(signature::claim(&presigned(604_801, PRESIGNED)).is_err());
}

#[test]
fn none_mode_resigns_s3_requests_with_its_own_secret() {
    let auth = Auth::None {
        account_id: "000000000000".into(),
    };
    let mut parts = presigned(300, PRESIGNED);
    assert!(!auth.resign_for_s3(&mut parts).unwrap());
    let claim = signature::claim(&parts).unwrap();
    let canonical = canonical_request(&parts, &claim, "UNSIGNED-PAYLOAD");
    assert_eq!(
        claim.signature,
        signature::signature(NONE_MODE_SECRET, &claim, &canonical)
    );
    assert_eq!(parts.uri.path(), "/bucket/key%20one.txt");
    let mut chunked = http::Request::builder()
        .method("PUT")
        .uri("/bucket/k")
        .header("x-amz-date", "20250102T030405Z")
        .header("x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD")
        .header("authorization", "AWS4-HMAC-SHA256 Credential=A/20250102/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00")
        .body(())
        .unwrap()
        .into_parts()
        .0;
    assert!(matches!(
        auth.resign_for_s3(&mut chunked),
        Err(AuthError::NotSupported(_))
    ));
}

#[test]
fn temporary_keys_need_their_token_and_expire() {
    let credentials =
        Arc::new(Credentials::load(KeySource::Inline("root:x".into()), "123456789012").unwrap());
    let mut p = Principal::root("AKIDEXAMPLE", SECRET, "123456789012");
    let expires = signature::parse_amz_date("20250102T030405Z").unwrap() + 100;
    p.session = Some(Session {
        token: "tok".into(),
        expires_epoch_seconds: expires,
    });
    credentials.add_session(p, 0);
    let auth = Auth::Sigv4(credentials);
    let parts = json_parts(JSON_SIGNATURE, "SageMaker.DescribeProject");
    assert_eq!(
        auth.authenticate(&parts, BODY, at(0)),
        Err(AuthError::InvalidClientTokenId)
    );
    let mut with_token = parts.clone();
    with_token
        .headers
        .insert("x-amz-security-token", "tok".parse().unwrap());
    // The token is not among the signed headers here, so the signature still holds.
    assert!(auth.authenticate(&with_token, BODY, at(0)).is_ok());
    assert_eq!(
        auth.authenticate(&with_token, BODY, at(200)),
        Err(AuthError::ExpiredToken)
    );
}

#[test]
fn dates_round_trip() {
    for s in [
        "19700101T000000Z",
        "20250102T030405Z",
        "20240229T235959Z",
        "21000301T120000Z",
    ] {
        let secs = signature::parse_amz_date(s).unwrap();
        let back = signature::claim(&json_parts("x", "S.O")).map(|_| ());
        assert!(back.is_ok());
        let t = UNIX_EPOCH + Duration::from_secs(secs);
        let parts = http::Request::builder()
            .uri("/")
            .header("date", httpdate::fmt_http_date(t))
            .header("authorization", "AWS4-HMAC-SHA256 Credential=A/20250102/us-east-1/s/aws4_request, SignedHeaders=date, Signature=0")
            .body(())
            .unwrap()
            .into_parts()
            .0;
        assert_eq!(signature::claim(&parts).unwrap().amz_date, s);
    }
    for bad in [
        "",
        "2025010T030405Z",
        "20251302T030405Z",
        "20250102T250405Z",
        "2025-1-02T03040Z",
    ] {
        assert_eq!(signature::parse_amz_date(bad), None, "{bad}");
    }
}

proptest! {
    /// Whatever the Authorization header or query says, verification answers (accept
    /// or refuse) without panicking.
    #[test]
    fn malformed_signatures_never_panic(header in ".{0,300}", query in "[ -~]{0,300}") {
        let auth = sigv4();
        let mut b = http::Request::builder().uri("/").header("x-amz-date", "20250102T030405Z");
        if let Ok(v) = http::HeaderValue::from_str(&header) {
            b = b.header("authorization", v);
        }
        if let Ok(parts) = b.body(()).map(|r| r.into_parts().0) {
            let _ = auth.authenticate(&parts, b"", at(0));
        }
        let uri = format!("/?{}", query.replace(' ', "%20").replace('#', "%23"));
        if let Ok(r) = http::Request::builder().uri(uri).body(()) {
            let (mut parts, _) = r.into_parts();
            let _ = auth.authenticate(&parts, b"", at(0));
            let none = Auth::None { account_id: "000000000000".into() };
            let _ = none.resign_for_s3(&mut parts);
        }
    }

    /// Credential scopes and signed-header lists of any shape.
    #[test]
    fn odd_credentials_never_panic(cred in "[A-Za-z0-9/_=-]{0,80}", signed in "[a-z;-]{0,40}") {
        let h = format!("AWS4-HMAC-SHA256 Credential={cred}, SignedHeaders={signed}, Signature=00");
        let parts = http::Request::builder()
            .uri("/")
            .header("x-amz-date", "20250102T030405Z")
            .header("authorization", h)
            .body(())
            .unwrap()
            .into_parts()
            .0;
        let _ = sigv4().authenticate(&parts, b"", at(0));
    }
}

#[test]
#[ignore = "timing probe"]
fn verification_cost_probe() {
    let auth = sigv4();
    let parts = json_parts(JSON_SIGNATURE, "SageMaker.DescribeProject");
    let now = at(0);
    let n = 200_000;
    let t = std::time::Instant::now();
    for _ in 0..n {
        assert!(auth.authenticate(&parts, BODY, now).is_ok());
    }
    let per = t.elapsed() / n;
    let none = Auth::None {
        account_id: "000000000000".into(),
    };
    let t = std::time::Instant::now();
    for _ in 0..n {
        assert!(none.authenticate(&parts, BODY, now).is_ok());
    }
    eprintln!("sigv4 {per:?} per request, none {:?}", t.elapsed() / n);
}
