//! Backend cases for leases on work (run by `backend_suite!` in `backends.rs`).

use super::*;

/// A free lease is claimed; another owner is refused until it lapses; its holder
/// re-claims and renews it; a lapsed one goes to whoever claims first.
pub async fn leases_claim_renew_and_lapse(h: Arc<Harness>) {
    let s = h.open().await;
    assert!(s.claim("stack", "s1", "a", 1_000, 100).await.unwrap());
    assert!(!s.claim("stack", "s1", "b", 1_050, 100).await.unwrap());
    // Ours already: re-claiming extends it.
    assert!(s.claim("stack", "s1", "a", 1_090, 100).await.unwrap());
    assert!(!s.claim("stack", "s1", "b", 1_150, 100).await.unwrap());
    // The heartbeat extends every lease of the owner, and only its.
    assert!(s.claim("project", "p1", "a", 1_150, 100).await.unwrap());
    assert!(s.claim("project", "p2", "b", 1_150, 100).await.unwrap());
    assert_eq!(s.renew("a", 1_200, 100).await.unwrap(), 2);
    assert!(!s.claim("stack", "s1", "b", 1_250, 100).await.unwrap());
    let lease = s.lease("stack", "s1").await.unwrap().unwrap();
    assert_eq!((lease.owner.as_str(), lease.expires_at_ms), ("a", 1_300));
    // Lapsed: listed as expired, and claimed by another owner.
    let expired = s.expired("project", 1_400).await.unwrap();
    let ids: Vec<&str> = expired.iter().map(|l| l.id.as_str()).collect();
    // p2 (not renewed) lapsed first.
    assert_eq!(ids, ["p2", "p1"]);
    assert!(s.expired("stack", 1_299).await.unwrap().is_empty());
    assert!(s.claim("stack", "s1", "b", 1_301, 100).await.unwrap());
    assert!(!s.claim("stack", "s1", "a", 1_302, 100).await.unwrap());
    assert_eq!(s.lease("stack", "s1").await.unwrap().unwrap().owner, "b");
    s.close().await;
}

/// Release gives back only the releaser's lease; release_all every one of an owner's.
pub async fn leases_release(h: Arc<Harness>) {
    let s = h.open().await;
    assert!(s.claim("stack", "s1", "a", 0, 1_000).await.unwrap());
    s.release("stack", "s1", "b").await.unwrap();
    assert!(s.lease("stack", "s1").await.unwrap().is_some());
    s.release("stack", "s1", "a").await.unwrap();
    assert!(s.lease("stack", "s1").await.unwrap().is_none());
    assert!(s.claim("stack", "s1", "b", 10, 1_000).await.unwrap());
    for id in ["p1", "p2", "p3"] {
        assert!(s.claim("project", id, "a", 10, 1_000).await.unwrap());
    }
    assert_eq!(s.release_all("a").await.unwrap(), 3);
    assert_eq!(s.release_all("a").await.unwrap(), 0);
    assert!(s.claim("project", "p1", "c", 20, 1_000).await.unwrap());
    assert_eq!(s.lease("stack", "s1").await.unwrap().unwrap().owner, "b");
    s.close().await;
}

/// Owners racing for one lease, through stores of their own over the same database
/// (replicas): exactly one wins each round, free or lapsed.
pub async fn leases_racing_owners_one_winner(h: Arc<Harness>) {
    let first = h.open().await;
    let mut stores = vec![first.clone()];
    for _ in 0..3 {
        // One process owns an embedded store: there its owners race through one handle.
        stores.push(match h.shares_a_database() {
            true => h.open().await,
            false => first.clone(),
        });
    }
    for round in 0..20i64 {
        // Each round starts after the previous winner's lease has lapsed.
        let now = round * 1_000;
        let claims: Vec<_> = stores
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let s = s.clone();
                tokio::spawn(async move {
                    s.claim("events", "acct", &format!("owner-{i}"), now, 500)
                        .await
                        .unwrap()
                })
            })
            .collect();
        let mut won = Vec::new();
        for claim in claims {
            won.push(claim.await.unwrap());
        }
        assert_eq!(
            won.iter().filter(|w| **w).count(),
            1,
            "round {round}: {won:?}"
        );
    }
    for s in stores.iter().skip(1).filter(|s| !Arc::ptr_eq(s, &first)) {
        s.close().await;
    }
    first.close().await;
}
