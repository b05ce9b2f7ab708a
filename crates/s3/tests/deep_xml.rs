//! Deep and wide XML request bodies for every XML-bodied operation the endpoint serves
//! (DeleteObjects, CompleteMultipartUpload, PutBucketTagging, CreateBucket with a
//! CreateBucketConfiguration), through s3s's own deserializer: each must be answered
//! with an S3 error (or success) without overflowing the 2 MiB stack of a test thread
//! (a tokio worker has the same), within a time bound. s3s skips unknown elements with
//! a depth counter and reads known ones by a fixed schema, so no pre-scan is needed in
//! front of it; these tests keep that true across s3s upgrades.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use proptest::prelude::*;
use sagestack_s3::api::S3Api;
use sagestack_s3::memory::MemoryObjectStore;

const TIME_BOUND: Duration = Duration::from_secs(5);

/// About the 1 MB the issue asks for.
const DEPTH: usize = 100_000;

fn service() -> s3s::service::S3Service {
    let store = Arc::new(MemoryObjectStore::new());
    s3s::service::S3ServiceBuilder::new(S3Api::new(store, "us-east-1")).build()
}

async fn send(
    s3: &s3s::service::S3Service,
    method: &str,
    uri: &str,
    body: String,
) -> (u16, String) {
    let req = http::Request::builder()
        .method(method)
        .uri(uri)
        .header("host", "127.0.0.1:4566")
        .header("content-length", body.len())
        .body(s3s::Body::from(Bytes::from(body)))
        .unwrap();
    let started = Instant::now();
    let (status, text) = match s3.call(req).await {
        Ok(resp) => {
            let status = resp.status().as_u16();
            let body = resp
                .into_body()
                .store_all_limited(1 << 20)
                .await
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default();
            (status, body)
        }
        Err(e) => (500, format!("{e:?}")),
    };
    assert!(
        started.elapsed() < TIME_BOUND,
        "{uri} took {:?}",
        started.elapsed()
    );
    (status, text)
}

/// `<outer>` + `inner` nested `depth` times + `</outer>`.
fn nested(prefix: &str, element: &str, depth: usize, suffix: &str) -> String {
    let mut s = String::with_capacity(depth * (2 * element.len() + 5) + 64);
    s.push_str(prefix);
    for _ in 0..depth {
        s.push('<');
        s.push_str(element);
        s.push('>');
    }
    for _ in 0..depth {
        s.push_str("</");
        s.push_str(element);
        s.push('>');
    }
    s.push_str(suffix);
    s
}

/// Every XML-bodied operation with `body`, on an existing bucket and upload.
async fn every_operation(body: &str) -> Vec<(&'static str, u16, String)> {
    let s3 = service();
    let (status, _) = send(&s3, "PUT", "/bkt", String::new()).await;
    assert_eq!(status, 200);
    let (status, created) = send(&s3, "POST", "/bkt/k?uploads", String::new()).await;
    assert_eq!(status, 200, "{created}");
    let upload_id = created
        .split("<UploadId>")
        .nth(1)
        .and_then(|s| s.split('<').next())
        .unwrap()
        .to_owned();
    let mut out = Vec::new();
    for (name, method, uri) in [
        ("DeleteObjects", "POST", "/bkt?delete".to_owned()),
        (
            "CompleteMultipartUpload",
            "POST",
            format!("/bkt/k?uploadId={upload_id}"),
        ),
        ("PutBucketTagging", "PUT", "/bkt?tagging".to_owned()),
        ("CreateBucket", "PUT", "/other-bucket".to_owned()),
    ] {
        let (status, text) = send(&s3, method, &uri, body.to_owned()).await;
        out.push((name, status, text));
    }
    // The service still answers afterwards.
    let (status, _) = send(&s3, "GET", "/bkt?list-type=2", String::new()).await;
    assert_eq!(status, 200);
    out
}

#[tokio::test]
async fn a_megabyte_of_nesting_is_refused_without_recursion() {
    let bodies = [
        // Unknown elements at the root of each document.
        nested("", "a", DEPTH, ""),
        nested("<Delete>", "a", DEPTH, "</Delete>"),
        nested(
            "<CompleteMultipartUpload><Part>",
            "x",
            DEPTH,
            "</Part></CompleteMultipartUpload>",
        ),
        nested(
            "<Tagging><TagSet><Tag>",
            "Tag",
            DEPTH,
            "</Tag></TagSet></Tagging>",
        ),
        nested(
            "<CreateBucketConfiguration>",
            "LocationConstraint",
            DEPTH,
            "</CreateBucketConfiguration>",
        ),
        // Unclosed: the document ends inside the nesting.
        "<Delete>".to_owned() + &"<Object>".repeat(DEPTH),
    ];
    for body in &bodies {
        assert!(body.len() > 500_000);
        for (name, status, text) in every_operation(body).await {
            assert!(
                (400..500).contains(&status),
                "{name}: {status} {}",
                &text[..text.len().min(300)]
            );
            assert!(text.contains("<Code>MalformedXML</Code>"), "{name}: {text}");
        }
    }
}

fn element() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "Delete",
        "Object",
        "Key",
        "Quiet",
        "CompleteMultipartUpload",
        "Part",
        "PartNumber",
        "ETag",
        "Tagging",
        "TagSet",
        "Tag",
        "Value",
        "CreateBucketConfiguration",
        "LocationConstraint",
        "a",
    ])
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Random nestings of the schema's own element names, deep or wide: an answer, never
    /// a crash, in bounded time.
    #[test]
    fn random_nestings_are_answered(
        path in prop::collection::vec(element(), 1..6),
        depth in prop_oneof![1usize..10, 1usize..20_000],
        width in 1usize..2_000,
    ) {
        let inner = nested("", path.last().unwrap(), depth, "");
        let mut body = String::new();
        for e in &path {
            body.push_str(&format!("<{e}>"));
        }
        for _ in 0..width.min(1 + 200_000 / inner.len().max(1)) {
            body.push_str(&inner);
        }
        for e in path.iter().rev() {
            body.push_str(&format!("</{e}>"));
        }
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        for (name, status, _) in rt.block_on(every_operation(&body)) {
            prop_assert!(status < 500, "{} answered {}", name, status);
        }
    }
}
