//! Backend cases for the Service Catalog documents and portfolio-product associations
//! (run by `backend_suite!` in `backends.rs`).

use super::*;
use sagestack_store::{CatalogCursor, CatalogKind, CatalogRecord, Modified, catalog_modify};

fn doc(id: &str, name: Option<&str>, micros: i64) -> CatalogRecord {
    CatalogRecord {
        id: id.into(),
        name: name.map(str::to_string),
        version: 1,
        created_micros: micros,
        document: Arc::from(format!(r#"{{"Id":"{id}"}}"#)),
    }
}

/// Inserts an unnamed `kind` document of each of `ids`, created at `micros`: set-up that
/// must succeed.
async fn insert_all(s: &Arc<dyn Store>, kind: CatalogKind, ids: &[&str], micros: i64) {
    for id in ids {
        s.catalog_insert(kind, &doc(id, None, micros))
            .await
            .unwrap();
    }
}

/// Whether the `kind` document `id` is stored.
async fn stored(s: &Arc<dyn Store>, kind: CatalogKind, id: &str) -> bool {
    s.catalog_get(kind, id).await.unwrap().is_some()
}

pub async fn servicecatalog_documents_versions_and_names(h: Arc<Harness>) {
    let s = h.open().await;
    let kind = CatalogKind::ProvisionedProduct;
    s.catalog_insert(kind, &doc("pp-1", Some("web"), 1))
        .await
        .unwrap();
    assert_eq!(
        s.catalog_insert(kind, &doc("pp-1", Some("other"), 2)).await,
        Err(StoreError::AlreadyExists)
    );
    assert_eq!(
        s.catalog_insert(kind, &doc("pp-2", Some("web"), 2)).await,
        Err(StoreError::AlreadyExists)
    );
    // Unnamed documents never collide on the name, and ids are per kind.
    insert_all(&s, CatalogKind::Product, &["pp-1", "prod-2"], 1).await;
    assert_eq!(
        s.catalog_get_by_name(kind, "web")
            .await
            .unwrap()
            .map(|r| r.id),
        Some("pp-1".to_string())
    );
    let mut next = doc("pp-1", Some("web"), 1);
    next.version = 2;
    next.document = Arc::from(r#"{"Id":"pp-1","Status":"AVAILABLE"}"#);
    s.catalog_update(kind, &next, 1).await.unwrap();
    assert_eq!(
        s.catalog_get(kind, "pp-1").await.unwrap(),
        Some(next.clone())
    );
    assert_eq!(
        s.catalog_update(kind, &next, 1).await,
        Err(StoreError::Conflict)
    );
    assert_eq!(
        s.catalog_update(kind, &doc("pp-9", None, 1), 0).await,
        Err(StoreError::NotFound)
    );
    // Settings are upserts.
    s.catalog_put(CatalogKind::Setting, &doc("flag", None, 1))
        .await
        .unwrap();
    let mut flag = doc("flag", None, 1);
    flag.document = Arc::from("{\"on\":true}");
    s.catalog_put(CatalogKind::Setting, &flag).await.unwrap();
    let read = s
        .catalog_get(CatalogKind::Setting, "flag")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&*read.document, "{\"on\":true}");
    assert_eq!(read.version, 2);
    let gone = s.catalog_delete(kind, "pp-1").await.unwrap();
    assert_eq!(gone.map(|r| r.version), Some(2));
    assert_eq!(s.catalog_delete(kind, "pp-1").await.unwrap(), None);
    assert!(stored(&s, CatalogKind::Product, "pp-1").await);
    s.close().await;
}

pub async fn servicecatalog_list_pages_by_creation(h: Arc<Harness>) {
    let s = h.open().await;
    let kind = CatalogKind::Portfolio;
    for (id, micros) in [("port-c", 5), ("port-a", 5), ("port-b", 1), ("port-d", 9)] {
        s.catalog_insert(kind, &doc(id, None, micros))
            .await
            .unwrap();
    }
    insert_all(&s, CatalogKind::Product, &["prod-x"], 0).await;
    let mut seen = Vec::new();
    let mut after: Option<CatalogCursor> = None;
    loop {
        let page = s.catalog_list(kind, after.as_ref(), 2).await.unwrap();
        if page.is_empty() {
            break;
        }
        let last = page.last().unwrap();
        after = Some(CatalogCursor {
            created_micros: last.created_micros,
            id: last.id.clone(),
        });
        seen.extend(page.into_iter().map(|r| r.id));
    }
    assert_eq!(seen, ["port-b", "port-a", "port-c", "port-d"]);
    s.close().await;
}

pub async fn servicecatalog_associations_guard_deletes(h: Arc<Harness>) {
    let s = h.open().await;
    insert_all(&s, CatalogKind::Portfolio, &["port-1", "port-2"], 1).await;
    insert_all(&s, CatalogKind::Product, &["prod-1"], 1).await;
    assert!(s.catalog_associate("port-1", "prod-1", 10).await.unwrap());
    assert!(!s.catalog_associate("port-1", "prod-1", 11).await.unwrap());
    assert!(s.catalog_associate("port-2", "prod-1", 12).await.unwrap());
    assert_eq!(
        s.catalog_associate("port-3", "prod-1", 13).await,
        Err(StoreError::NotFound)
    );
    assert_eq!(
        s.catalog_associate("port-1", "prod-9", 13).await,
        Err(StoreError::NotFound)
    );
    assert_eq!(
        s.catalog_portfolios_of("prod-1").await.unwrap(),
        ["port-1", "port-2"]
    );
    assert_eq!(s.catalog_products_of("port-2").await.unwrap(), ["prod-1"]);
    assert_eq!(
        s.catalog_delete(CatalogKind::Product, "prod-1").await,
        Err(StoreError::Conflict)
    );
    assert_eq!(
        s.catalog_delete(CatalogKind::Portfolio, "port-1").await,
        Err(StoreError::Conflict)
    );
    assert!(s.catalog_disassociate("port-1", "prod-1").await.unwrap());
    assert!(!s.catalog_disassociate("port-1", "prod-1").await.unwrap());
    assert!(
        s.catalog_delete(CatalogKind::Portfolio, "port-1")
            .await
            .unwrap()
            .is_some()
    );
    assert!(s.catalog_disassociate("port-2", "prod-1").await.unwrap());
    assert!(
        s.catalog_delete(CatalogKind::Product, "prod-1")
            .await
            .unwrap()
            .is_some()
    );
    assert!(s.catalog_portfolios_of("prod-1").await.unwrap().is_empty());
    s.close().await;
}

pub async fn servicecatalog_state_survives_reopen(h: Arc<Harness>) {
    {
        let s = h.open().await;
        insert_all(&s, CatalogKind::Portfolio, &["port-k"], 1).await;
        insert_all(&s, CatalogKind::Product, &["prod-k"], 1).await;
        s.catalog_associate("port-k", "prod-k", 2).await.unwrap();
        s.close().await;
    }
    let s = h.open().await;
    assert!(stored(&s, CatalogKind::Portfolio, "port-k").await);
    assert_eq!(s.catalog_products_of("port-k").await.unwrap(), ["prod-k"]);
    s.close().await;
}

/// `catalog_modify` on document `id`: its count one more.
async fn count_up(s: &Arc<dyn Store>, id: &str, attempts: usize) -> Modified<i64> {
    let bump = |r: &CatalogRecord| {
        let n = serde_json::from_str::<serde_json::Value>(&r.document).unwrap()["n"]
            .as_i64()
            .unwrap_or(0);
        Ok::<_, StoreError>((n + 1, Arc::from(format!(r#"{{"n":{}}}"#, n + 1))))
    };
    catalog_modify(&**s, CatalogKind::Setting, id, attempts, bump)
        .await
        .unwrap()
}

pub async fn servicecatalog_modify_writes_next_versions_and_loses_no_update(h: Arc<Harness>) {
    let s = h.open().await;
    assert_eq!(count_up(&s, "counter", 8).await, Modified::Gone);
    insert_all(&s, CatalogKind::Setting, &["counter"], 5).await;
    assert_eq!(count_up(&s, "counter", 8).await, Modified::Written(1, 2));
    assert_eq!(count_up(&s, "counter", 0).await, Modified::Contended);
    // A refusal of `change` ends it unwritten.
    let refused = catalog_modify(&*s, CatalogKind::Setting, "counter", 8, |_| {
        Err::<((), Arc<str>), _>(StoreError::Conflict)
    })
    .await;
    assert_eq!(refused, Err(StoreError::Conflict));
    // Writers racing on one document: every increment lands once.
    let writers: Vec<_> = (0..4)
        .map(|_| {
            let s = s.clone();
            tokio::spawn(async move {
                for _ in 0..10 {
                    let done = count_up(&s, "counter", 1000).await;
                    assert!(matches!(done, Modified::Written(..)), "{done:?}");
                }
            })
        })
        .collect();
    for w in writers {
        w.await.unwrap();
    }
    let last = s
        .catalog_get(CatalogKind::Setting, "counter")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((&*last.document, last.version), (r#"{"n":41}"#, 42));
    assert_eq!(last.created_micros, 5, "the creation time is kept");
}

/// The change feed: on PostgreSQL a write to a watched kind on one store (replica)
/// reaches a subscriber of another, once committed, and other kinds are not announced;
/// the embedded store has none.
pub async fn document_changes_reach_other_replicas(h: Arc<Harness>) {
    use sagestack_store::CatalogChange;
    let a = h.open().await;
    let Some(mut changes) = a.catalog_changes() else {
        assert!(matches!(h.kind, Kind::Sqlite(_)));
        a.close().await;
        return;
    };
    let next = async |changes: &mut tokio::sync::broadcast::Receiver<CatalogChange>| {
        tokio::time::timeout(std::time::Duration::from_secs(10), changes.recv())
            .await
            .expect("a change within 10 s")
            .unwrap()
    };
    // The feed starts by saying that whatever happened before it listened went unseen.
    assert_eq!(next(&mut changes).await, CatalogChange::Missed);
    let b = h.open().await;
    b.catalog_insert(CatalogKind::Portfolio, &doc("unwatched", None, 1))
        .await
        .unwrap();
    b.catalog_insert(CatalogKind::EventRule, &doc("default/r", None, 1))
        .await
        .unwrap();
    let changed = |id: &str| CatalogChange::Changed {
        kind: "events-rule".into(),
        id: id.into(),
    };
    assert_eq!(next(&mut changes).await, changed("default/r"));
    b.catalog_delete(CatalogKind::EventRule, "default/r")
        .await
        .unwrap();
    assert_eq!(next(&mut changes).await, changed("default/r"));
    a.close().await;
    b.close().await;
}
