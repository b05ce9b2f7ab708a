//! Backend cases for the S3 object tables: buckets, objects, listings and multipart
//! uploads (run by `backend_suite!` in `backends.rs`).

use super::*;

/// Keys of bucket `b` to list.
fn in_b<'a>(prefix: &'a str, after: Option<&'a str>, limit: usize) -> KeyRange<'a> {
    KeyRange {
        bucket: "b",
        prefix,
        after,
        limit,
    }
}

pub(crate) fn bucket(name: &str, micros: i64) -> sagestack_store::BucketRecord {
    sagestack_store::BucketRecord {
        name: name.into(),
        region: "eu-west-1".into(),
        creation_micros: micros,
        document: Arc::from("{}"),
    }
}

pub(crate) fn object(bucket: &str, key: &str, body: &[u8]) -> sagestack_store::ObjectMeta {
    sagestack_store::ObjectMeta {
        bucket: bucket.into(),
        key: key.into(),
        size: body.len() as i64,
        etag: format!("\"{}\"", body.len()),
        last_modified_micros: 7,
        document: Arc::from(r#"{"ContentType":"text/plain"}"#),
    }
}

fn upload(id: &str, bucket: &str, key: &str, micros: i64) -> sagestack_store::UploadRecord {
    sagestack_store::UploadRecord {
        upload_id: id.into(),
        bucket: bucket.into(),
        key: key.into(),
        initiated_micros: micros,
        document: Arc::from("{}"),
    }
}

fn part(n: i32, size: i64) -> sagestack_store::PartRecord {
    sagestack_store::PartRecord {
        part_number: n,
        size,
        etag: format!("\"p{n}\""),
        last_modified_micros: 9,
    }
}

pub async fn objects_buckets_create_list_update_delete(h: Arc<Harness>) {
    let s = h.open().await;
    s.create_bucket(&bucket("zeta", 2)).await.unwrap();
    s.create_bucket(&bucket("alpha", 1)).await.unwrap();
    assert_eq!(
        s.create_bucket(&bucket("alpha", 3)).await,
        Err(StoreError::AlreadyExists)
    );
    let names: Vec<String> = s
        .list_buckets()
        .await
        .unwrap()
        .into_iter()
        .map(|b| b.name)
        .collect();
    assert_eq!(names, ["alpha", "zeta"]);
    let tags = r#"{"Tags":[{"Key":"k","Value":"v"}]}"#;
    s.update_bucket("alpha", tags).await.unwrap();
    let got = s.get_bucket("alpha").await.unwrap().unwrap();
    assert_eq!(&*got.document, tags);
    assert_eq!(got.region, "eu-west-1");
    assert_eq!(got.creation_micros, 1);
    assert_eq!(
        s.update_bucket("nope", "{}").await,
        Err(StoreError::NotFound)
    );
    assert_eq!(s.get_bucket("nope").await.unwrap(), None);
    // A bucket holding an object or an upload cannot go.
    s.put_object(&object("alpha", "k", b"x"), bytes::Bytes::from_static(b"x"))
        .await
        .unwrap();
    assert_eq!(s.delete_bucket("alpha").await, Err(StoreError::Conflict));
    assert!(s.delete_object("alpha", "k").await.unwrap());
    s.create_upload(&upload("u1", "alpha", "k", 1))
        .await
        .unwrap();
    assert_eq!(s.delete_bucket("alpha").await, Err(StoreError::Conflict));
    assert!(s.abort_upload("u1").await.unwrap());
    s.delete_bucket("alpha").await.unwrap();
    assert_eq!(s.delete_bucket("alpha").await, Err(StoreError::NotFound));
    assert_eq!(s.list_buckets().await.unwrap().len(), 1);
    s.close().await;
}

pub async fn objects_put_get_head_delete(h: Arc<Harness>) {
    let s = h.open().await;
    let body = bytes::Bytes::from(vec![0u8, 1, 2, 255, 0]);
    assert_eq!(
        s.put_object(&object("b", "k", &body), body.clone()).await,
        Err(StoreError::NotFound)
    );
    assert_eq!(s.get_object("b", "k").await, Err(StoreError::NotFound));
    assert_eq!(s.head_object("b", "k").await, Err(StoreError::NotFound));
    assert_eq!(s.delete_object("b", "k").await, Err(StoreError::NotFound));
    s.create_bucket(&bucket("b", 1)).await.unwrap();
    assert_eq!(s.get_object("b", "k").await.unwrap(), None);
    assert_eq!(s.head_object("b", "k").await.unwrap(), None);
    let meta = object("b", "k", &body);
    s.put_object(&meta, body.clone()).await.unwrap();
    let got = s.get_object("b", "k").await.unwrap().unwrap();
    assert_eq!(got.meta, meta);
    assert_eq!(got.body, body);
    assert_eq!(s.head_object("b", "k").await.unwrap(), Some(meta));
    // Replace.
    let mut meta2 = object("b", "k", b"new");
    meta2.document = Arc::from("{}");
    s.put_object(&meta2, bytes::Bytes::from_static(b"new"))
        .await
        .unwrap();
    let got = s.get_object("b", "k").await.unwrap().unwrap();
    assert_eq!(got.meta, meta2);
    assert_eq!(&got.body[..], b"new");
    // An empty body is an object too.
    s.put_object(&object("b", "empty", b""), bytes::Bytes::new())
        .await
        .unwrap();
    assert_eq!(
        s.get_object("b", "empty")
            .await
            .unwrap()
            .unwrap()
            .body
            .len(),
        0
    );
    assert!(s.delete_object("b", "k").await.unwrap());
    assert!(!s.delete_object("b", "k").await.unwrap());
    assert_eq!(s.get_object("b", "k").await.unwrap(), None);
    s.close().await;
}

pub async fn objects_list_by_prefix_pages_bytewise(h: Arc<Harness>) {
    let s = h.open().await;
    assert_eq!(
        s.list_objects(in_b("", None, 10)).await,
        Err(StoreError::NotFound)
    );
    s.create_bucket(&bucket("b", 1)).await.unwrap();
    s.create_bucket(&bucket("other", 1)).await.unwrap();
    // Bytewise order: 'B' < '_' < 'a' < 'é' (0xC3...); case matters.
    let keys = ["a/é", "a/B", "a/_", "a/a", "a/a/deep", "b", "a%", "A"];
    for k in keys {
        s.put_object(&object("b", k, b"1"), bytes::Bytes::from_static(b"1"))
            .await
            .unwrap();
    }
    s.put_object(
        &object("other", "a/x", b"1"),
        bytes::Bytes::from_static(b"1"),
    )
    .await
    .unwrap();
    let all = s.list_objects(in_b("", None, 100)).await.unwrap();
    let got: Vec<&str> = all.objects.iter().map(|o| o.key.as_str()).collect();
    assert_eq!(
        got,
        ["A", "a%", "a/B", "a/_", "a/a", "a/a/deep", "a/é", "b"]
    );
    assert!(!all.truncated);
    // Prefix (a LIKE wildcard is a plain character here), pages of two.
    let mut after: Option<String> = None;
    let mut seen = Vec::new();
    loop {
        let page = s
            .list_objects(in_b("a/", after.as_deref(), 2))
            .await
            .unwrap();
        assert!(page.objects.len() <= 2);
        seen.extend(page.objects.iter().map(|o| o.key.clone()));
        after = page.objects.last().map(|o| o.key.clone());
        if !page.truncated {
            break;
        }
    }
    assert_eq!(seen, ["a/B", "a/_", "a/a", "a/a/deep", "a/é"]);
    let exact = s.list_objects(in_b("a/a", None, 2)).await.unwrap();
    assert_eq!(exact.objects.len(), 2);
    assert!(!exact.truncated);
    let pct = s.list_objects(in_b("a%", None, 10)).await.unwrap();
    assert_eq!(pct.objects.len(), 1);
    assert_eq!(
        s.list_objects(in_b("", Some("b"), 10)).await.unwrap(),
        sagestack_store::ObjectPage::default()
    );
    s.close().await;
}

pub async fn objects_multipart_complete_is_atomic(h: Arc<Harness>) {
    let s = h.open().await;
    assert_eq!(
        s.create_upload(&upload("u1", "b", "k", 1)).await,
        Err(StoreError::NotFound)
    );
    s.create_bucket(&bucket("b", 1)).await.unwrap();
    s.create_upload(&upload("u2", "b", "z", 5)).await.unwrap();
    s.create_upload(&upload("u1", "b", "k", 9)).await.unwrap();
    s.create_upload(&upload("u0", "b", "k", 3)).await.unwrap();
    assert_eq!(
        s.create_upload(&upload("u1", "b", "k", 9)).await,
        Err(StoreError::AlreadyExists)
    );
    let ids: Vec<String> = s
        .list_uploads("b")
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.upload_id)
        .collect();
    assert_eq!(ids, ["u0", "u1", "u2"]);
    assert_eq!(
        s.get_upload("u1").await.unwrap(),
        Some(upload("u1", "b", "k", 9))
    );
    s.put_part("u1", &part(2, 2), bytes::Bytes::from_static(b"cd"))
        .await
        .unwrap();
    s.put_part("u1", &part(1, 3), bytes::Bytes::from_static(b"xxx"))
        .await
        .unwrap();
    // Re-uploading a part replaces it.
    s.put_part("u1", &part(1, 2), bytes::Bytes::from_static(b"ab"))
        .await
        .unwrap();
    assert_eq!(
        s.list_parts("u1").await.unwrap(),
        vec![part(1, 2), part(2, 2)]
    );
    let bodies = s.get_parts("u1", &[2, 7, 1]).await.unwrap();
    assert_eq!(
        bodies,
        vec![
            Some(bytes::Bytes::from_static(b"cd")),
            None,
            Some(bytes::Bytes::from_static(b"ab"))
        ]
    );
    let meta = object("b", "k", b"abcd");
    s.complete_upload("u1", &meta, bytes::Bytes::from_static(b"abcd"))
        .await
        .unwrap();
    let got = s.get_object("b", "k").await.unwrap().unwrap();
    assert_eq!(got.meta, meta);
    assert_eq!(&got.body[..], b"abcd");
    // The upload and its parts are gone with the completion.
    assert_eq!(s.get_upload("u1").await.unwrap(), None);
    assert_eq!(s.list_parts("u1").await, Err(StoreError::NotFound));
    assert_eq!(
        s.complete_upload("u1", &meta, bytes::Bytes::new()).await,
        Err(StoreError::NotFound)
    );
    assert_eq!(
        s.put_part("u1", &part(3, 1), bytes::Bytes::from_static(b"e"))
            .await,
        Err(StoreError::NotFound)
    );
    // The other uploads are untouched.
    assert_eq!(s.list_uploads("b").await.unwrap().len(), 2);
    s.close().await;
}

pub async fn objects_abort_and_missing_uploads(h: Arc<Harness>) {
    let s = h.open().await;
    assert_eq!(s.list_uploads("b").await, Err(StoreError::NotFound));
    s.create_bucket(&bucket("b", 1)).await.unwrap();
    assert!(!s.abort_upload("nope").await.unwrap());
    assert_eq!(s.get_upload("nope").await.unwrap(), None);
    assert_eq!(s.get_parts("nope", &[1]).await, Err(StoreError::NotFound));
    s.create_upload(&upload("u", "b", "k", 1)).await.unwrap();
    s.put_part("u", &part(1, 1), bytes::Bytes::from_static(b"a"))
        .await
        .unwrap();
    assert!(s.abort_upload("u").await.unwrap());
    assert!(!s.abort_upload("u").await.unwrap());
    assert_eq!(s.list_uploads("b").await.unwrap(), vec![]);
    assert_eq!(s.get_object("b", "k").await.unwrap(), None);
    s.delete_bucket("b").await.unwrap();
    s.close().await;
}

pub async fn objects_survive_reopen(h: Arc<Harness>) {
    {
        let s = h.open().await;
        s.create_bucket(&bucket("keep", 1)).await.unwrap();
        s.put_object(
            &object("keep", "k", b"body"),
            bytes::Bytes::from_static(b"body"),
        )
        .await
        .unwrap();
        s.create_upload(&upload("u", "keep", "m", 1)).await.unwrap();
        s.put_part("u", &part(1, 1), bytes::Bytes::from_static(b"p"))
            .await
            .unwrap();
        s.close().await;
    }
    let s = h.open().await;
    assert!(s.get_bucket("keep").await.unwrap().is_some());
    assert_eq!(
        &s.get_object("keep", "k").await.unwrap().unwrap().body[..],
        b"body"
    );
    assert_eq!(s.list_parts("u").await.unwrap(), vec![part(1, 1)]);
    s.close().await;
}
