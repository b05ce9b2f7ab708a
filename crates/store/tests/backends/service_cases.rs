//! Backend cases for the stack engine's records and the SSM, model package group and IAM
//! tables (run by `backend_suite!` in `backends.rs`; the S3 object tables' are in
//! `object_cases.rs`).

use super::object_cases::{bucket, object};
use super::*;

pub async fn stack_store_conformance(h: Arc<Harness>) {
    let s = h.open().await;
    let stacks: Arc<dyn StackStore> = s.clone();
    sagestack_engine::store::conformance::run(stacks.as_ref()).await;
    s.close().await;
}

pub async fn stack_records_survive_reopen(h: Arc<Harness>) {
    use sagestack_engine::model::{ExportRecord, StackEvent};
    use sagestack_engine::store::conformance::change_set;
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
        s.put_change_set(&change_set("c1", "arn:s")).await.unwrap();
        s.close().await;
    }
    let s = h.open().await;
    assert_eq!(s.list_events("arn:s", None, 10).await.unwrap(), vec![event]);
    assert_eq!(s.list_exports().await.unwrap().len(), 1);
    // SQLite knows from memory which stacks have change sets: loaded at open.
    assert_eq!(
        s.list_change_sets("arn:s").await.unwrap(),
        vec![change_set("c1", "arn:s")]
    );
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
