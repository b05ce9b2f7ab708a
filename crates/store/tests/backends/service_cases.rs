//! Backend cases for the stack engine's records and the SSM, model package group, IAM
//! and S3 object tables (run by `backend_suite!` in `backends.rs`).

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

pub async fn stack_store_conformance(h: Arc<Harness>) {
    let s = h.open().await;
    let stacks: Arc<dyn StackStore> = s.clone();
    sagestack_engine::store::conformance::run(stacks.as_ref()).await;
    s.close().await;
}

pub async fn stack_records_survive_reopen(h: Arc<Harness>) {
    use sagestack_engine::model::{ExportRecord, StackEvent};
    let event = StackEvent {
        seq: 1,
        event_id: "e1".into(),
        stack_id: "arn:s".into(),
        stack_name: "s".into(),
        logical_resource_id: "s".into(),
        physical_resource_id: Some("arn:s".into()),
        resource_type: "AWS::CloudFormation::Stack".into(),
        timestamp: 5,
        resource_status: "CREATE_IN_PROGRESS".into(),
        resource_status_reason: Some("User Initiated".into()),
        resource_properties: None,
    };
    {
        let s = h.open().await;
        s.append_events(std::slice::from_ref(&event)).await.unwrap();
        s.put_exports(
            "arn:s",
            &[ExportRecord {
                name: "x".into(),
                value: "1".into(),
                exporting_stack_id: "arn:s".into(),
            }],
        )
        .await
        .unwrap();
        s.close().await;
    }
    let s = h.open().await;
    assert_eq!(s.list_events("arn:s", None, 10).await.unwrap(), vec![event]);
    assert_eq!(s.list_exports().await.unwrap().len(), 1);
    s.close().await;
}

pub async fn parameters_versions_and_overwrite(h: Arc<Harness>) {
    let s = h.open().await;
    assert_eq!(s.put_parameter("/a", r#"{"v":1}"#, false, 100).await, Ok(1));
    assert_eq!(
        s.put_parameter("/a", r#"{"v":2}"#, false, 100).await,
        Err(StoreError::AlreadyExists)
    );
    assert_eq!(s.put_parameter("/a", r#"{"v":2}"#, true, 100).await, Ok(2));
    assert_eq!(s.put_parameter("/a", r#"{"v":3}"#, true, 2).await, Ok(3));
    let latest = s.get_parameter("/a", None).await.unwrap().unwrap();
    assert_eq!((latest.version, &*latest.document), (3, r#"{"v":3}"#));
    let v2 = s.get_parameter("/a", Some(2)).await.unwrap().unwrap();
    assert_eq!(&*v2.document, r#"{"v":2}"#);
    assert_eq!(
        s.get_parameter("/a", Some(1)).await.unwrap(),
        None,
        "only the newest max_versions versions are kept"
    );
    assert_eq!(s.get_parameter("/a", Some(9)).await.unwrap(), None);
    assert!(s.delete_parameter("/a").await.unwrap());
    assert!(!s.delete_parameter("/a").await.unwrap());
    assert_eq!(s.get_parameter("/a", Some(2)).await.unwrap(), None);
    assert_eq!(
        s.put_parameter("/a", "{}", false, 100).await,
        Ok(1),
        "a deleted parameter starts again at version 1"
    );
    s.close().await;
}

pub async fn parameter_document_replaced_in_place(h: Arc<Harness>) {
    let s = h.open().await;
    assert!(!s.replace_parameter_document("/t", 1, "{}").await.unwrap());
    s.put_parameter("/t", r#"{"v":1}"#, false, 100)
        .await
        .unwrap();
    s.put_parameter("/t", r#"{"v":2}"#, true, 100)
        .await
        .unwrap();
    assert!(
        !s.replace_parameter_document("/t", 1, r#"{"old":1}"#)
            .await
            .unwrap(),
        "only the latest version is replaced"
    );
    assert!(
        s.replace_parameter_document("/t", 2, r#"{"tagged":2}"#)
            .await
            .unwrap()
    );
    let latest = s.get_parameter("/t", None).await.unwrap().unwrap();
    assert_eq!((latest.version, &*latest.document), (2, r#"{"tagged":2}"#));
    let v2 = s.get_parameter("/t", Some(2)).await.unwrap().unwrap();
    assert_eq!(&*v2.document, r#"{"tagged":2}"#);
    let v1 = s.get_parameter("/t", Some(1)).await.unwrap().unwrap();
    assert_eq!(&*v1.document, r#"{"v":1}"#);
    let listed = s.list_parameters("/", None, 10).await.unwrap();
    assert_eq!(&*listed[0].document, r#"{"tagged":2}"#);
    assert_eq!(
        s.put_parameter("/t", r#"{"v":3}"#, true, 100).await,
        Ok(3),
        "a replacement makes no version"
    );
    s.delete_parameter("/t").await.unwrap();
    assert!(!s.replace_parameter_document("/t", 3, "{}").await.unwrap());
    s.close().await;
}

pub async fn parameters_by_prefix_pages(h: Arc<Harness>) {
    let s = h.open().await;
    for n in ["/app/b", "/app/a", "/app/x/y", "/apple", "/other", "/app_z"] {
        s.put_parameter(n, "{}", false, 100).await.unwrap();
    }
    let names = |v: Vec<sagestack_store::ParameterRecord>| {
        v.into_iter().map(|r| r.name).collect::<Vec<_>>()
    };
    assert_eq!(
        names(s.list_parameters("/app/", None, 10).await.unwrap()),
        ["/app/a", "/app/b", "/app/x/y"]
    );
    assert_eq!(
        names(s.list_parameters("/app/", Some("/app/a"), 1).await.unwrap()),
        ["/app/b"]
    );
    assert_eq!(
        names(s.list_parameters("/app_", None, 10).await.unwrap()),
        ["/app_z"],
        "_ in a prefix is literal"
    );
    assert_eq!(s.list_parameters("/", None, 100).await.unwrap().len(), 6);
    s.close().await;
}

pub async fn concurrent_first_puts_of_one_parameter(h: Arc<Harness>) {
    let s = h.open().await;
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let s = s.clone();
            tokio::spawn(async move {
                s.put_parameter("/race", &format!("{{\"i\":{i}}}"), true, 100)
                    .await
            })
        })
        .collect();
    let mut versions = Vec::new();
    for t in tasks {
        versions.push(t.await.unwrap().unwrap());
    }
    versions.sort();
    assert_eq!(versions, (1..=8).collect::<Vec<i64>>());
    s.close().await;
}

fn group(name: &str, creation_micros: i64) -> ModelPackageGroupRecord {
    ModelPackageGroupRecord {
        name: name.into(),
        arn: format!("arn:aws:sagemaker:us-east-1:0:model-package-group/{name}"),
        creation_micros,
        document: Arc::from(format!(r#"{{"ModelPackageGroupName":"{name}"}}"#)),
        tags: vec![Tag::new("k", "v")],
    }
}

pub async fn model_package_groups_create_list_delete(h: Arc<Harness>) {
    let s = h.open().await;
    for (n, t) in [("b-grp", 2), ("a-grp", 2), ("c-other", 1)] {
        s.create_model_package_group(&group(n, t)).await.unwrap();
    }
    assert_eq!(
        s.create_model_package_group(&group("a-grp", 9)).await,
        Err(StoreError::AlreadyExists)
    );
    assert_eq!(
        s.get_model_package_group("a-grp").await.unwrap(),
        Some(group("a-grp", 2))
    );
    assert_eq!(
        s.get_model_package_group(&group("b-grp", 0).arn)
            .await
            .unwrap()
            .map(|g| g.name),
        Some("b-grp".to_string()),
        "found by ARN too"
    );
    let by_time = ProjectQuery::new(ProjectSort::CreationTime, false, 10);
    let list = s.list_model_package_groups(&by_time).await.unwrap();
    let names: Vec<&str> = list.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(names, ["c-other", "a-grp", "b-grp"], "ties broken by name");
    let mut page = ProjectQuery::new(ProjectSort::CreationTime, true, 1);
    page.after = Some(ProjectCursor {
        creation_micros: 2,
        name: "b-grp".into(),
    });
    let list = s.list_model_package_groups(&page).await.unwrap();
    assert_eq!(list[0].name, "a-grp");
    let mut q = ProjectQuery::new(ProjectSort::Name, true, 10);
    q.name_contains = Some("GRP".into());
    let list = s.list_model_package_groups(&q).await.unwrap();
    let names: Vec<&str> = list.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(names, ["b-grp", "a-grp"]);
    let arn = group("a-grp", 0).arn;
    let tags = s
        .update_model_package_group_tags(&arn, &[Tag::new("k", "v2"), Tag::new("n", "1")], &[], 2)
        .await
        .unwrap();
    assert_eq!(tags, [Tag::new("k", "v2"), Tag::new("n", "1")]);
    assert_eq!(
        s.update_model_package_group_tags(&arn, &[Tag::new("o", "2")], &[], 2)
            .await,
        Err(StoreError::TooManyTags { limit: 2 })
    );
    let tags = s
        .update_model_package_group_tags(&arn, &[], &["k".to_string()], 2)
        .await
        .unwrap();
    assert_eq!(tags, [Tag::new("n", "1")]);
    assert_eq!(
        s.get_model_package_group(&arn).await.unwrap().unwrap().tags,
        [Tag::new("n", "1")]
    );
    assert_eq!(
        s.update_model_package_group_tags("arn:none", &[], &[], 2)
            .await,
        Err(StoreError::NotFound)
    );
    let gone = s.delete_model_package_group("a-grp").await.unwrap();
    assert_eq!(gone.map(|g| g.name), Some("a-grp".to_string()));
    assert_eq!(s.delete_model_package_group("a-grp").await.unwrap(), None);
    s.close().await;
}

fn role(name: &str, id: &str) -> RoleRecord {
    RoleRecord {
        name: name.into(),
        role_id: id.into(),
        arn: format!("arn:aws:iam::0:role/{name}"),
        creation_micros: 1,
        document: Arc::from("{}"),
    }
}

pub async fn roles_unique_ignoring_case(h: Arc<Harness>) {
    let s = h.open().await;
    s.create_role(&role("Builder", "AROA1")).await.unwrap();
    assert_eq!(
        s.create_role(&role("builder", "AROA2")).await,
        Err(StoreError::AlreadyExists)
    );
    assert_eq!(
        s.get_role("BUILDER").await.unwrap().unwrap().name,
        "Builder"
    );
    let mut r = role("Builder", "AROA1");
    r.document = Arc::from(r#"{"Description":"d"}"#);
    s.replace_role(&r).await.unwrap();
    assert_eq!(s.get_role("builder").await.unwrap(), Some(r));
    assert_eq!(
        s.replace_role(&role("nobody", "AROA3")).await,
        Err(StoreError::NotFound)
    );
    assert!(s.delete_role("builder").await.unwrap());
    assert!(!s.delete_role("Builder").await.unwrap());
    s.close().await;
}

/// Roles list by lowercased name, bytewise, in pages after a cursor; a document changes
/// only from the version it was read at (compare-and-swap), and so is deleted.
pub async fn roles_list_pages_and_compare_and_swap(h: Arc<Harness>) {
    let s = h.open().await;
    for (name, id) in [
        ("beta", "AROA1"),
        ("Alpha", "AROA2"),
        ("a_b", "AROA3"),
        ("a-c", "AROA4"),
    ] {
        s.create_role(&role(name, id)).await.unwrap();
    }
    let names = |rs: Vec<RoleRecord>| rs.into_iter().map(|r| r.name).collect::<Vec<_>>();
    // Bytewise on the lowercased names: '-' (0x2d) < '_' (0x5f) < 'l' (0x6c).
    assert_eq!(
        names(s.list_roles(None, 10).await.unwrap()),
        ["a-c", "a_b", "Alpha", "beta"]
    );
    assert_eq!(names(s.list_roles(None, 2).await.unwrap()), ["a-c", "a_b"]);
    assert_eq!(
        names(s.list_roles(Some("A_B"), 10).await.unwrap()),
        ["Alpha", "beta"]
    );
    assert!(s.list_roles(Some("beta"), 10).await.unwrap().is_empty());

    let mut r = role("Alpha", "AROA2");
    r.document = Arc::from(r#"{"v":1}"#);
    assert_eq!(s.replace_role_if(&r, "{}").await, Ok(true));
    let mut stale = r.clone();
    stale.document = Arc::from(r#"{"v":"stale"}"#);
    assert_eq!(s.replace_role_if(&stale, "{}").await, Ok(false));
    assert_eq!(s.get_role("alpha").await.unwrap(), Some(r.clone()));
    assert_eq!(
        s.replace_role_if(&role("nobody", "AROA9"), "{}").await,
        Err(StoreError::NotFound)
    );
    assert_eq!(s.delete_role_if("ALPHA", "{}").await, Ok(false));
    assert!(s.get_role("alpha").await.unwrap().is_some());
    assert_eq!(s.delete_role_if("ALPHA", r#"{"v":1}"#).await, Ok(true));
    assert_eq!(
        s.delete_role_if("alpha", r#"{"v":1}"#).await,
        Err(StoreError::NotFound)
    );
    // The name is free again (the in-memory names of the embedded store agree).
    s.create_role(&role("alpha", "AROA5")).await.unwrap();
    s.close().await;
}

/// Inside a deferred scope (a stack operation's steps) the SQLite store queues these
/// writes behind instead of committing each before it returns: the answers (exists,
/// not found, not empty, versions) and what reads see must not change, and after a
/// flush and a reopen everything is there.
pub async fn deferred_native_writes_are_checked_read_back_and_kept(h: Arc<Harness>) {
    let s = h.open().await;
    let store = s.clone();
    sagestack_engine::durability::deferred(async move {
        let s = store;
        s.create_role(&role("Deferred", "AROAD1")).await.unwrap();
        assert_eq!(
            s.create_role(&role("DEFERRED", "AROAD2")).await,
            Err(StoreError::AlreadyExists)
        );
        assert!(s.get_role("deferred").await.unwrap().is_some());
        s.create_role(&role("Gone", "AROAD3")).await.unwrap();
        assert!(s.delete_role("gone").await.unwrap());
        assert!(!s.delete_role("gone").await.unwrap());
        assert!(s.get_role("gone").await.unwrap().is_none());

        assert_eq!(s.put_parameter("/d", "{}", false, 100).await, Ok(1));
        assert_eq!(
            s.put_parameter("/d", "{}", false, 100).await,
            Err(StoreError::AlreadyExists)
        );
        assert_eq!(s.put_parameter("/d", r#"{"v":2}"#, true, 100).await, Ok(2));
        let latest = s.get_parameter("/d", None).await.unwrap().unwrap();
        assert_eq!((latest.version, &*latest.document), (2, r#"{"v":2}"#));
        assert_eq!(s.put_parameter("/gone", "{}", false, 100).await, Ok(1));
        assert!(s.delete_parameter("/gone").await.unwrap());
        assert!(!s.delete_parameter("/gone").await.unwrap());
        assert_eq!(s.put_parameter("/gone", "{}", false, 100).await, Ok(1));

        s.create_bucket(&bucket("deferred", 1)).await.unwrap();
        assert_eq!(
            s.create_bucket(&bucket("deferred", 2)).await,
            Err(StoreError::AlreadyExists)
        );
        s.put_object(
            &object("deferred", "k", b"x"),
            bytes::Bytes::from_static(b"x"),
        )
        .await
        .unwrap();
        assert_eq!(s.delete_bucket("deferred").await, Err(StoreError::Conflict));
        assert!(s.delete_object("deferred", "k").await.unwrap());
        s.delete_bucket("deferred").await.unwrap();
        assert_eq!(s.delete_bucket("deferred").await, Err(StoreError::NotFound));
        assert!(s.get_bucket("deferred").await.unwrap().is_none());
        s.create_bucket(&bucket("kept", 3)).await.unwrap();
        sagestack_engine::store::StackStore::sync(&*s)
            .await
            .unwrap();
    })
    .await;
    s.close().await;
    drop(s);
    let s = h.open().await;
    assert!(s.get_role("Deferred").await.unwrap().is_some());
    assert!(s.get_role("Gone").await.unwrap().is_none());
    assert_eq!(
        s.get_parameter("/d", None).await.unwrap().unwrap().version,
        2
    );
    assert_eq!(
        s.get_parameter("/gone", None)
            .await
            .unwrap()
            .unwrap()
            .version,
        1
    );
    assert!(s.get_bucket("kept").await.unwrap().is_some());
    assert!(s.get_bucket("deferred").await.unwrap().is_none());
    // The names in memory were rebuilt from the tables.
    assert_eq!(
        s.create_role(&role("deferred", "AROAD4")).await,
        Err(StoreError::AlreadyExists)
    );
    assert_eq!(
        s.create_bucket(&bucket("kept", 4)).await,
        Err(StoreError::AlreadyExists)
    );
    assert_eq!(s.put_parameter("/d", "{}", true, 100).await, Ok(3));
    s.close().await;
}

pub async fn service_state_survives_reopen(h: Arc<Harness>) {
    {
        let s = h.open().await;
        s.put_parameter("/keep", "{}", false, 100).await.unwrap();
        s.create_model_package_group(&group("keep", 1))
            .await
            .unwrap();
        s.create_role(&role("keep", "AROAK")).await.unwrap();
        s.close().await;
    }
    let s = h.open().await;
    assert!(s.get_parameter("/keep", None).await.unwrap().is_some());
    assert!(s.get_model_package_group("keep").await.unwrap().is_some());
    assert!(s.get_role("keep").await.unwrap().is_some());
    s.close().await;
}

fn bucket(name: &str, micros: i64) -> sagestack_store::BucketRecord {
    sagestack_store::BucketRecord {
        name: name.into(),
        region: "eu-west-1".into(),
        creation_micros: micros,
        document: Arc::from("{}"),
    }
}

fn object(bucket: &str, key: &str, body: &[u8]) -> sagestack_store::ObjectMeta {
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
