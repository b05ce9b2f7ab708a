//! Unit tests of the S3 API over a real SQLite store.

use super::*;
use s3s::S3ErrorCode;
use s3s::host::S3Host as _;

pub(super) fn req<T>(input: T) -> S3Request<T> {
    S3Request {
        input,
        method: http::Method::GET,
        uri: http::Uri::from_static("/"),
        headers: http::HeaderMap::new(),
        extensions: http::Extensions::new(),
        credentials: None,
        region: None,
        service: None,
        trailing_headers: None,
    }
}

pub(super) async fn api() -> (S3Api, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = sagestack_store::SqliteStore::open(dir.path())
        .await
        .unwrap();
    (S3Api::new(Arc::new(store), "us-east-1"), dir)
}

/// CreateBucket `name` (no configuration: the API's region).
async fn create_bucket(api: &S3Api, name: &str) -> S3Result<S3Response<CreateBucketOutput>> {
    api.create_bucket(req(CreateBucketInput {
        bucket: name.into(),
        ..Default::default()
    }))
    .await
}

/// [`create_bucket`], which must succeed.
pub(super) async fn mb(api: &S3Api, name: &str) {
    create_bucket(api, name).await.unwrap();
}

/// PutObject `body` at `bucket`/`key`.
async fn put_result(
    api: &S3Api,
    bucket: &str,
    key: &str,
    body: &'static [u8],
) -> S3Result<S3Response<PutObjectOutput>> {
    api.put_object(req(PutObjectInput {
        bucket: bucket.into(),
        key: key.into(),
        body: Some(StreamingBlob::from(s3s::Body::from(Bytes::from_static(
            body,
        )))),
        ..Default::default()
    }))
    .await
}

/// [`put_result`], which must succeed.
async fn put(api: &S3Api, bucket: &str, key: &str, body: &'static [u8]) -> PutObjectOutput {
    put_result(api, bucket, key, body).await.unwrap().output
}

/// Bucket `bkt` listed (v2) with delimiter `/`, under `prefix` and after `start_after`:
/// its keys and its rolled-up prefixes.
async fn delimited(
    api: &S3Api,
    prefix: Option<&str>,
    start_after: Option<&str>,
) -> (Vec<String>, Vec<String>) {
    let out = api
        .list_objects_v2(req(ListObjectsV2Input {
            bucket: "bkt".into(),
            prefix: prefix.map(Into::into),
            delimiter: Some("/".into()),
            start_after: start_after.map(Into::into),
            ..Default::default()
        }))
        .await
        .unwrap()
        .output;
    (keys(out.contents), prefixes(out.common_prefixes))
}

/// The name (`name` of each, which must be set) of every entry of a listing's list
/// (absent: none).
fn names<T>(list: Option<Vec<T>>, name: fn(T) -> Option<String>) -> Vec<String> {
    list.unwrap_or_default()
        .into_iter()
        .map(|item| name(item).unwrap())
        .collect()
}

/// The keys of a listing's `Contents`.
fn keys(contents: Option<Vec<Object>>) -> Vec<String> {
    names(contents, |o| o.key)
}

/// The prefixes of a listing's `CommonPrefixes`.
fn prefixes(common: Option<Vec<CommonPrefix>>) -> Vec<String> {
    names(common, |p| p.prefix)
}

fn code<T: std::fmt::Debug>(r: S3Result<T>) -> S3ErrorCode {
    r.unwrap_err().code().clone()
}

#[test]
fn bucket_names_follow_aws_rules() {
    for ok in ["abc", "my.bucket-1", "a1b", &"a".repeat(63)] {
        assert!(validate_bucket_name(ok).is_ok(), "{ok}");
    }
    for bad in [
        "ab",
        &"a".repeat(64),
        "Upper",
        "under_score",
        "-start",
        "end-",
        "a..b",
        "a.-b",
        "192.168.1.1",
        "xn--abc",
        "sthree-x",
        "name-s3alias",
        "name--ol-s3",
    ] {
        assert!(validate_bucket_name(bad).is_err(), "{bad}");
    }
}

#[test]
fn url_encoding_keeps_slashes_and_unreserved() {
    assert_eq!(url_encode("a b/c+d~e_é"), "a%20b/c%2Bd~e_%C3%A9");
}

#[test]
fn multipart_etag_is_md5_of_binary_part_md5s() {
    let a = etag_of(b"hello");
    let b = etag_of(b"world");
    let mut both = md5(b"hello").to_vec();
    both.extend_from_slice(&md5(b"world"));
    assert_eq!(
        multipart_etag(&[&a, &b]).unwrap(),
        format!("\"{}-2\"", hex::encode(md5(&both)))
    );
    assert_eq!(etag_of(b""), "\"d41d8cd98f00b204e9800998ecf8427e\"");
}

#[test]
fn content_md5_is_checked() {
    let good = base64::engine::general_purpose::STANDARD.encode(md5(b"x"));
    assert!(check_content_md5(Some(&good), b"x").is_ok());
    assert_eq!(
        code(check_content_md5(Some(&good), b"y")),
        S3ErrorCode::BadDigest
    );
    assert_eq!(
        code(check_content_md5(Some("not-base64!"), b"x")),
        S3ErrorCode::InvalidDigest
    );
}

#[test]
fn bucket_tags_keep_the_rest_of_the_document() {
    let doc = r#"{"Versioning":"Enabled","Tags":[{"Key":"a","Value":"1"}]}"#;
    assert_eq!(
        bucket_tags(doc),
        vec![StoredTag {
            key: "a".into(),
            value: "1".into()
        }]
    );
    let new = with_tags(
        doc,
        Some(&[StoredTag {
            key: "b".into(),
            value: "2".into(),
        }]),
    );
    let v: serde_json::Value = serde_json::from_str(&new).unwrap();
    assert_eq!(v["Versioning"], "Enabled");
    assert_eq!(v["Tags"], serde_json::json!([{"Key":"b","Value":"2"}]));
    let gone: serde_json::Value = serde_json::from_str(&with_tags(&new, None)).unwrap();
    assert_eq!(gone, serde_json::json!({"Versioning":"Enabled"}));
    assert!(bucket_tags("not json").is_empty());
}

#[test]
fn tags_are_validated() {
    let tag = |k: &str, v: &str| Tag {
        key: Some(k.into()),
        value: Some(v.into()),
    };
    assert!(validate_tags(&[tag("a", ""), tag("b", "x")]).is_ok());
    for bad in [
        vec![tag("a", "1"), tag("a", "2")],
        vec![tag("", "1")],
        vec![tag("aws:x", "1")],
        vec![tag(&"k".repeat(129), "1")],
        vec![tag("k", &"v".repeat(257))],
        (0..51).map(|i| tag(&format!("k{i}"), "v")).collect(),
    ] {
        assert_eq!(code(validate_tags(&bad)), S3ErrorCode::InvalidTag);
    }
}

#[test]
fn localhost_subdomains_are_virtual_hosts() {
    let h = LocalhostVirtualHosts;
    let vh = h.parse_host_header("my-bucket.localhost:4566").unwrap();
    assert_eq!(vh.bucket(), Some("my-bucket"));
    let vh = h.parse_host_header("my.bucket.localhost").unwrap();
    assert_eq!(vh.bucket(), Some("my.bucket"));
    assert_eq!(
        h.parse_host_header("localhost:4566").unwrap().bucket(),
        None
    );
    assert_eq!(h.parse_host_header("example.com").unwrap().bucket(), None);
}

#[tokio::test]
async fn listing_rolls_up_prefixes_and_pages() {
    let (api, _dir) = api().await;
    mb(&api, "bkt").await;
    for k in ["a/1", "a/2", "b/1", "c", "d/x/1", "d/y", "e"] {
        put(&api, "bkt", k, b"x").await;
    }
    let list = |token: Option<String>, max: i32| {
        api.list_objects_v2(req(ListObjectsV2Input {
            bucket: "bkt".into(),
            delimiter: Some("/".into()),
            max_keys: Some(max),
            continuation_token: token,
            ..Default::default()
        }))
    };
    let all = list(None, 1000).await.unwrap().output;
    assert_eq!(keys(all.contents), ["c", "e"]);
    assert_eq!(prefixes(all.common_prefixes), ["a/", "b/", "d/"]);
    assert_eq!(all.key_count, Some(5));
    // Two entries a page: a/ b/ | c d/ | e, no entry repeated.
    let mut token = None;
    let mut pages = Vec::new();
    loop {
        let page = list(token, 2).await.unwrap().output;
        let mut entries = keys(page.contents);
        entries.extend(prefixes(page.common_prefixes));
        entries.sort();
        assert_eq!(page.key_count, Some(entries.len() as i32));
        pages.push(entries);
        token = page.next_continuation_token;
        assert_eq!(page.is_truncated, Some(token.is_some()));
        if token.is_none() {
            break;
        }
    }
    assert_eq!(pages, [vec!["a/", "b/"], vec!["c", "d/"], vec!["e"]]);
    // Prefix + delimiter one level down.
    let (sub_keys, sub_prefixes) = delimited(&api, Some("d/"), None).await;
    assert_eq!(sub_keys, ["d/y"]);
    assert_eq!(sub_prefixes, ["d/x/"]);
    assert_eq!(
        code(list(Some("%%%".into()), 1).await),
        S3ErrorCode::InvalidArgument
    );
}

#[tokio::test]
async fn start_after_inside_a_prefix_still_rolls_up_the_rest() {
    let (api, _dir) = api().await;
    mb(&api, "bkt").await;
    for k in ["a/1", "a/2", "b"] {
        put(&api, "bkt", k, b"x").await;
    }
    let (after_keys, after_prefixes) = delimited(&api, None, Some("a/1")).await;
    assert_eq!(after_prefixes, ["a/"]);
    assert_eq!(after_keys, ["b"]);
    // Resuming after the prefix itself (a v1 NextMarker) does not repeat it.
    let out = api
        .list_objects(req(ListObjectsInput {
            bucket: "bkt".into(),
            delimiter: Some("/".into()),
            marker: Some("a/".into()),
            ..Default::default()
        }))
        .await
        .unwrap()
        .output;
    assert!(out.common_prefixes.is_none());
    assert_eq!(keys(out.contents), ["b"]);
}

#[tokio::test]
async fn objects_round_trip_with_ranges_and_conditions() {
    let (api, _dir) = api().await;
    mb(&api, "bkt").await;
    let out = put(&api, "bkt", "k", b"0123456789").await;
    let etag_value = out.e_tag.unwrap();
    let get = |range: Option<Range>, if_match: Option<ETagCondition>| {
        api.get_object(req(GetObjectInput {
            bucket: "bkt".into(),
            key: "k".into(),
            range,
            if_match,
            ..Default::default()
        }))
    };
    let got = get(
        Some(Range::Int {
            first: 2,
            last: Some(4),
        }),
        None,
    )
    .await
    .unwrap()
    .output;
    assert_eq!(got.content_range.as_deref(), Some("bytes 2-4/10"));
    assert_eq!(got.content_length, Some(3));
    assert_eq!(
        code(
            get(
                Some(Range::Int {
                    first: 10,
                    last: None
                }),
                None
            )
            .await
        ),
        S3ErrorCode::InvalidRange
    );
    assert!(
        get(None, Some(ETagCondition::ETag(etag_value.clone())))
            .await
            .is_ok()
    );
    assert_eq!(
        code(get(None, Some(ETagCondition::ETag(ETag::Strong("x".into())))).await),
        S3ErrorCode::PreconditionFailed
    );
    let get_missing = |bucket: &str, key: &str| {
        api.get_object(req(GetObjectInput {
            bucket: bucket.into(),
            key: key.into(),
            ..Default::default()
        }))
    };
    let missing = get_missing("bkt", "nope").await.unwrap_err();
    assert_eq!(*missing.code(), S3ErrorCode::NoSuchKey);
    assert!(missing.message().unwrap().contains("nope"));
    let no_bucket = get_missing("zzz", "k").await.unwrap_err();
    assert_eq!(*no_bucket.code(), S3ErrorCode::NoSuchBucket);
}

#[tokio::test]
async fn oversized_bodies_are_refused() {
    let (api, _dir) = api().await;
    let api = api.with_max_object_size(4);
    mb(&api, "bkt").await;
    let r = put_result(&api, "bkt", "k", b"12345").await;
    assert_eq!(code(r), S3ErrorCode::EntityTooLarge);
}

#[tokio::test]
async fn buckets_already_owned_and_not_empty() {
    let (api, _dir) = api().await;
    mb(&api, "bkt").await;
    // Legacy us-east-1: re-creating one's own bucket succeeds.
    mb(&api, "bkt").await;
    let eu = || {
        api.create_bucket(req(CreateBucketInput {
            bucket: "eu-bucket".into(),
            create_bucket_configuration: Some(CreateBucketConfiguration {
                location_constraint: Some(BucketLocationConstraint::from("eu-west-1".to_owned())),
                ..Default::default()
            }),
            ..Default::default()
        }))
    };
    eu().await.unwrap();
    assert_eq!(code(eu().await), S3ErrorCode::BucketAlreadyOwnedByYou);
    let loc = api
        .get_bucket_location(req(GetBucketLocationInput {
            bucket: "eu-bucket".into(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .output;
    assert_eq!(
        loc.location_constraint.as_ref().map(|c| c.as_str()),
        Some("eu-west-1")
    );
    put(&api, "bkt", "k", b"x").await;
    let del = api
        .delete_bucket(req(DeleteBucketInput {
            bucket: "bkt".into(),
            ..Default::default()
        }))
        .await;
    assert_eq!(code(del), S3ErrorCode::BucketNotEmpty);
    let bad = create_bucket(&api, "Bad_Name").await;
    assert_eq!(code(bad), S3ErrorCode::InvalidBucketName);
}

#[tokio::test]
async fn every_object_is_its_one_null_version() {
    let (api, _dir) = api().await;
    mb(&api, "versions").await;
    for key in ["a", "b/1", "b/2", "c"] {
        put(&api, "versions", key, b"x").await;
    }
    let list = |marker: Option<&str>, max: i32, delimiter: Option<&str>| {
        api.list_object_versions(req(ListObjectVersionsInput {
            bucket: "versions".into(),
            key_marker: marker.map(Into::into),
            max_keys: Some(max),
            delimiter: delimiter.map(Into::into),
            ..Default::default()
        }))
    };
    let page = list(None, 2, None).await.unwrap().output;
    let versions = page.versions.unwrap();
    let described: Vec<_> = versions
        .iter()
        .map(|v| (v.key.clone().unwrap(), v.version_id.clone(), v.is_latest))
        .collect();
    assert_eq!(
        described,
        [
            ("a".to_owned(), Some("null".to_owned()), Some(true)),
            ("b/1".to_owned(), Some("null".to_owned()), Some(true)),
        ]
    );
    assert_eq!(page.is_truncated, Some(true));
    assert_eq!(page.next_key_marker.as_deref(), Some("b/1"));
    assert_eq!(page.next_version_id_marker.as_deref(), Some("null"));
    assert!(page.delete_markers.is_none());
    let rest = list(Some("b/1"), 10, None).await.unwrap().output;
    assert_eq!(names(rest.versions, |v| v.key), ["b/2", "c"]);
    assert_eq!(rest.is_truncated, Some(false));
    assert_eq!(rest.next_key_marker, None);
    let folded = list(None, 10, Some("/")).await.unwrap().output;
    assert_eq!(names(folded.versions, |v| v.key), ["a", "c"]);
    assert_eq!(prefixes(folded.common_prefixes), ["b/"]);
    let absent = api
        .list_object_versions(req(ListObjectVersionsInput {
            bucket: "absent".into(),
            ..Default::default()
        }))
        .await;
    assert_eq!(
        code(absent.map(|r| r.output.name)),
        S3ErrorCode::NoSuchBucket
    );
}
