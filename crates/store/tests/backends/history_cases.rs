//! Backend cases for projects' statuses: their histories and the by-status lookup (run
//! by `backend_suite!` in `backends.rs`).

use super::*;

fn change(status: &str, at_micros: i64) -> StatusChange {
    StatusChange {
        status: status.into(),
        at_micros,
    }
}

/// Every update that carries a status change adds one row, in the update's
/// transaction: a refused update adds none; the history is read oldest first, cut to
/// the newest rows; it goes with the project, and a re-created name starts afresh.
pub async fn project_history_follows_the_updates(h: Arc<Harness>) {
    let s = h.open().await;
    let p = project("h", 10);
    s.create_project(&p, &[]).await.unwrap();
    assert!(s.project_history(&p.id, 10).await.unwrap().is_empty());
    let statuses = ["CreateInProgress", "CreateCompleted", "UpdateInProgress"];
    let mut current = p.clone();
    for (i, status) in statuses.iter().enumerate() {
        let mut next = current.clone();
        next.version += 1;
        let c = change(status, 100 + i as i64);
        let mut u = update(&next, current.version, &[], 50);
        u.status_change = Some(&c);
        s.update_project(u).await.unwrap();
        current = next;
    }
    // An update without a change (tags, say) adds nothing.
    let mut next = current.clone();
    next.version += 1;
    s.update_project(update(&next, current.version, &[Tag::new("a", "1")], 50))
        .await
        .unwrap();
    current = next;
    // A refused update (stale version) records nothing.
    let stale = change("UpdateFailed", 999);
    let mut u = update(&current, 1, &[], 50);
    u.status_change = Some(&stale);
    assert_eq!(s.update_project(u).await, Err(StoreError::Conflict));

    let all = s.project_history(&p.id, 10).await.unwrap();
    let seen: Vec<(i64, &str, i64)> = all
        .iter()
        .map(|e| (e.version, e.change.status.as_str(), e.change.at_micros))
        .collect();
    assert_eq!(
        seen,
        [
            (2, "CreateInProgress", 100),
            (3, "CreateCompleted", 101),
            (4, "UpdateInProgress", 102)
        ]
    );
    let newest = s.project_history(&p.id, 2).await.unwrap();
    assert_eq!(newest, all[1..]);

    // Deleted with its project; a project re-created under the name has its own.
    assert!(s.delete_project_if(&current).await.unwrap());
    assert!(s.project_history(&p.id, 10).await.unwrap().is_empty());
    s.create_project(&p, &[]).await.unwrap();
    assert!(s.project_history(&p.id, 10).await.unwrap().is_empty());
    let mut next = p.clone();
    next.version = 2;
    let c = change("CreateFailed", 5);
    let mut u = update(&next, 1, &[], 50);
    u.status_change = Some(&c);
    s.update_project(u).await.unwrap();
    let mut replacement = project("h", 20);
    replacement.id = "p-h2".into();
    s.replace_project(&next, &replacement, &[]).await.unwrap();
    assert!(s.project_history(&p.id, 10).await.unwrap().is_empty());
    let mut last = replacement.clone();
    last.version = 2;
    let c = change("DeleteInProgress", 6);
    let mut u = update(&last, 1, &[], 50);
    u.status_change = Some(&c);
    s.update_project(u).await.unwrap();
    assert_eq!(s.project_history("p-h2", 10).await.unwrap().len(), 1);
    assert!(s.delete_project("h").await.unwrap().is_some());
    assert!(s.project_history("p-h2", 10).await.unwrap().is_empty());
    s.close().await;
}

fn with_status(name: &str, status: &str, version: i64) -> ProjectRecord {
    let mut p = project(name, version);
    p.version = version;
    p.document = Arc::from(format!(
        r#"{{"ProjectName":"{name}","ProjectStatus":"{status}"}}"#
    ));
    p
}

/// `projects_with_status` finds the projects by their document's status, by name,
/// following updates, replacements and deletes.
pub async fn projects_by_status(h: Arc<Harness>) {
    let s = h.open().await;
    for (name, status) in [("b", "Pending"), ("a", "CreateCompleted"), ("c", "Pending")] {
        s.create_project(&with_status(name, status, 1), &[])
            .await
            .unwrap();
    }
    let names = |v: Vec<ProjectRecord>| v.into_iter().map(|p| p.name).collect::<Vec<_>>();
    let busy = ["Pending", "CreateInProgress"];
    assert_eq!(
        names(s.projects_with_status(&busy).await.unwrap()),
        ["b", "c"]
    );
    let next = with_status("b", "CreateInProgress", 2);
    s.update_project(update(&next, 1, &[], 50)).await.unwrap();
    let done = with_status("c", "CreateFailed", 2);
    s.update_project(update(&done, 1, &[], 50)).await.unwrap();
    let found = s.projects_with_status(&busy).await.unwrap();
    assert_eq!(found, std::slice::from_ref(&next));
    let mut again = with_status("a", "Pending", 1);
    again.id = "p-a2".into();
    s.replace_project(&with_status("a", "CreateCompleted", 1), &again, &[])
        .await
        .unwrap();
    assert_eq!(
        names(s.projects_with_status(&busy).await.unwrap()),
        ["a", "b"]
    );
    assert!(s.delete_project("b").await.unwrap().is_some());
    assert_eq!(names(s.projects_with_status(&busy).await.unwrap()), ["a"]);
    assert_eq!(
        names(s.projects_with_status(&["CreateFailed"]).await.unwrap()),
        ["c"]
    );
    assert!(s.projects_with_status(&[]).await.unwrap().is_empty());
    s.close().await;
}
