//! The state's rules, over a real SQLite store and a fake clock.

use super::*;
use crate::streams::MAX_PAGE_BYTES;
use sagestack_engine::FakeClock;
use sagestack_store::SqliteStore;

const NOW: i64 = 1_700_000_000_000;

fn scope() -> Scope {
    Scope {
        region: "us-east-1".into(),
        account_id: "123456789012".into(),
    }
}

async fn logs(dir: &std::path::Path) -> (Logs, Arc<SqliteStore>, FakeClock) {
    let store = Arc::new(SqliteStore::open(dir).await.unwrap());
    let clock = FakeClock::new(NOW);
    let logs = Logs::new(store.clone(), Arc::new(clock.clone()), scope());
    (logs, store, clock)
}

fn ev(ts: i64, m: &str) -> LogEvent {
    LogEvent {
        timestamp_ms: ts,
        message: m.into(),
    }
}

fn group(name: &str) -> NewGroup {
    NewGroup {
        name: name.into(),
        ..NewGroup::default()
    }
}

fn messages(events: &[OutputEvent]) -> Vec<&str> {
    events.iter().map(|e| e.message.as_str()).collect()
}

/// The next page of two after `token`.
fn after(token: &str) -> EventsQuery {
    EventsQuery {
        next_token: Some(token.to_string()),
        limit: Some(2),
        ..EventsQuery::default()
    }
}

/// Appends `events` (timestamp, message) to `group`/`stream`, which must succeed.
async fn appended(logs: &Logs, group: &str, stream: &str, events: &[(i64, &str)]) {
    let events = events.iter().map(|&(ts, m)| ev(ts, m)).collect();
    logs.append(group, stream, events).await.unwrap();
}

/// The page of stream `g`/`s` that `q` reads, which must succeed.
async fn read(logs: &Logs, q: EventsQuery) -> EventsPage {
    logs.get_events("g", "s", q).await.unwrap()
}

/// Reads stream `g`/`s` from `first` on, each page after the token `next` takes from
/// the one before, and asserts that the pages hold `expected`; then that the read after
/// the last finds nothing and gives that page's token back unchanged (AWS's end).
async fn follow(
    logs: &Logs,
    first: EventsQuery,
    next: fn(&EventsPage) -> &String,
    expected: &[&[&str]],
) {
    let mut page = read(logs, first).await;
    for (i, want) in expected.iter().enumerate() {
        if i > 0 {
            page = read(logs, after(next(&page))).await;
        }
        assert_eq!(messages(&page.events), *want, "page {i}");
    }
    let end = read(logs, after(next(&page))).await;
    assert!(end.events.is_empty());
    assert_eq!(next(&end), next(&page));
}

#[tokio::test]
async fn append_creates_the_group_durably_once_and_tail_reads_it() {
    let dir = tempfile::tempdir().unwrap();
    let (logs, store, _) = logs(dir.path()).await;
    appended(
        &logs,
        "/aws/lambda/f",
        "s1",
        &[(NOW, "START\n"), (NOW, "hi\n")],
    )
    .await;
    let g = logs.group("/aws/lambda/f").await.unwrap().unwrap();
    assert_eq!(g.creation_time, NOW);
    assert_eq!(
        g.arn,
        "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/f:*"
    );
    assert_eq!(logs.tail("/aws/lambda/f", "s1", 1024), "START\nhi\n");
    assert_eq!(logs.tail("/aws/lambda/f", "s1", 3), "hi\n");
    assert_eq!(logs.tail("/aws/lambda/f", "nope", 3), "");
    assert_eq!(logs.tail("nope", "s1", 3), "");

    // A known group is not read or written again: with its document removed behind the
    // state's back, appends still go to memory and do not bring the document back.
    store
        .catalog_delete(CatalogKind::LogGroup, "/aws/lambda/f")
        .await
        .unwrap();
    appended(&logs, "/aws/lambda/f", "s2", &[(NOW, "x")]).await;
    assert!(logs.group("/aws/lambda/f").await.unwrap().is_none());
    assert_eq!(logs.tail("/aws/lambda/f", "s2", 10), "x");

    let e = logs.append("bad name", "s", vec![]).await.unwrap_err();
    assert!(matches!(e, LogsError::InvalidParameter(_)));
}

#[tokio::test]
async fn groups_survive_a_restart_and_events_do_not() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (logs, _, _) = logs(dir.path()).await;
        let mut new = group("kept");
        new.retention_in_days = Some(7);
        new.tags.insert("team".into(), "ml".into());
        logs.create_group(new).await.unwrap();
        appended(&logs, "kept", "s", &[(NOW, "gone after restart")]).await;
    }
    let (logs, _, _) = logs(dir.path()).await;
    let g = logs.group("kept").await.unwrap().unwrap();
    assert_eq!(g.retention_in_days, Some(7));
    assert_eq!(g.tags["team"], "ml");
    assert_eq!(logs.tail("kept", "s", 100), "");
    // Streams start afresh; the group is found in the store.
    logs.create_stream("kept", "s").await.unwrap();
    appended(&logs, "kept", "s", &[(NOW, "new")]).await;
    assert_eq!(logs.tail("kept", "s", 100), "new");
}

#[tokio::test]
async fn create_delete_and_not_found() {
    let dir = tempfile::tempdir().unwrap();
    let (logs, _, _) = logs(dir.path()).await;
    logs.create_group(group("g")).await.unwrap();
    assert_eq!(
        logs.create_group(group("g")).await.unwrap_err(),
        LogsError::GroupAlreadyExists
    );
    logs.create_stream("g", "s").await.unwrap();
    assert_eq!(
        logs.create_stream("g", "s").await.unwrap_err(),
        LogsError::StreamAlreadyExists
    );
    assert_eq!(
        logs.create_stream("missing", "s").await.unwrap_err(),
        LogsError::GroupNotFound
    );
    assert_eq!(
        logs.put_events("g", "nope", vec![ev(NOW, "m")])
            .await
            .unwrap_err(),
        LogsError::StreamNotFound
    );
    logs.delete_stream("g", "s").await.unwrap();
    assert_eq!(
        logs.delete_stream("g", "s").await.unwrap_err(),
        LogsError::StreamNotFound
    );
    logs.delete_group("g").await.unwrap();
    assert_eq!(
        logs.delete_group("g").await.unwrap_err(),
        LogsError::GroupNotFound
    );
    assert_eq!(
        logs.get_events("g", "s", EventsQuery::default())
            .await
            .unwrap_err(),
        LogsError::GroupNotFound
    );
    let mut bad = group("g2");
    bad.retention_in_days = Some(2);
    assert!(matches!(
        logs.create_group(bad).await.unwrap_err(),
        LogsError::InvalidParameter(_)
    ));
}

#[tokio::test]
async fn describe_groups_sorts_filters_and_pages() {
    let dir = tempfile::tempdir().unwrap();
    let (logs, _, clock) = logs(dir.path()).await;
    for name in ["/b", "/a/2", "/a/1", "other", "/a/3"] {
        clock.advance(1);
        logs.create_group(group(name)).await.unwrap();
    }
    let names = |p: &Page<(LogGroup, usize)>| -> Vec<String> {
        p.items
            .iter()
            .map(|(g, _)| g.log_group_name.clone())
            .collect()
    };
    let all = GroupFilter::default();
    let page = logs.describe_groups(&all, 50, None).await.unwrap();
    assert_eq!(names(&page), ["/a/1", "/a/2", "/a/3", "/b", "other"]);
    assert!(page.next_token.is_none());

    let prefix = GroupFilter {
        prefix: Some("/a/".into()),
        ..GroupFilter::default()
    };
    let first = logs.describe_groups(&prefix, 2, None).await.unwrap();
    assert_eq!(names(&first), ["/a/1", "/a/2"]);
    let token = first.next_token.unwrap();
    let second = logs
        .describe_groups(&prefix, 2, Some(&token))
        .await
        .unwrap();
    assert_eq!(names(&second), ["/a/3"]);
    assert!(second.next_token.is_none());

    let pattern = GroupFilter {
        pattern: Some("the".into()),
        ..GroupFilter::default()
    };
    let page = logs.describe_groups(&pattern, 50, None).await.unwrap();
    assert_eq!(names(&page), ["other"]);
    let both = GroupFilter {
        prefix: Some("/".into()),
        pattern: Some("a".into()),
        ..GroupFilter::default()
    };
    assert!(logs.describe_groups(&both, 50, None).await.is_err());
    let e = logs
        .describe_groups(&all, 50, Some("junk"))
        .await
        .unwrap_err();
    assert_eq!(e.to_string(), token::INVALID_TOKEN);
}

#[tokio::test]
async fn put_events_rules() {
    let dir = tempfile::tempdir().unwrap();
    let (logs, _, _) = logs(dir.path()).await;
    logs.create_group(group("g")).await.unwrap();
    logs.create_stream("g", "s").await.unwrap();
    let e = logs
        .put_events("g", "s", vec![ev(NOW, "b"), ev(NOW - 1, "a")])
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "Log events in a single PutLogEvents request must be in chronological order."
    );
    let day = 24 * 3600 * 1000;
    let e = logs
        .put_events("g", "s", vec![ev(NOW - 2 * day, "a"), ev(NOW, "b")])
        .await
        .unwrap_err();
    assert!(
        e.to_string().contains("cannot span more than 24 hours"),
        "{e}"
    );
    let rejected = logs
        .put_events(
            "g",
            "s",
            vec![
                ev(NOW - 15 * day, "old"),
                ev(NOW - 1000, "ok1"),
                ev(NOW, "ok2"),
                ev(NOW + 3 * 3600 * 1000, "new"),
            ],
        )
        .await
        .unwrap();
    assert_eq!(
        rejected,
        RejectedInfo {
            too_new_log_event_start_index: Some(3),
            too_old_log_event_end_index: Some(1),
            expired_log_event_end_index: None,
        }
    );
    let page = read(&logs, EventsQuery::default()).await;
    assert_eq!(messages(&page.events), ["ok1", "ok2"]);
    assert_eq!(page.events[0].ingestion_time, NOW);

    logs.set_retention("g", Some(1)).await.unwrap();
    let rejected = logs
        .put_events(
            "g",
            "s",
            vec![ev(NOW - 2 * day, "expired"), ev(NOW - day + 10, "kept")],
        )
        .await
        .unwrap();
    assert_eq!(rejected.expired_log_event_end_index, Some(1));
    let big = "x".repeat(MAX_PAGE_BYTES);
    let e = logs
        .put_events("g", "s", vec![ev(NOW, &big)])
        .await
        .unwrap_err();
    assert!(e.to_string().starts_with("Upload too large"), "{e}");
}

#[tokio::test]
async fn get_events_tokens_follow_aws() {
    let dir = tempfile::tempdir().unwrap();
    let (logs, _, _) = logs(dir.path()).await;
    logs.create_group(group("g")).await.unwrap();
    logs.create_stream("g", "s").await.unwrap();
    // Empty stream: both tokens say where the stream starts; reading forward from there
    // later finds what was appended meanwhile.
    let empty = read(&logs, EventsQuery::default()).await;
    assert!(empty.events.is_empty());
    let events: Vec<LogEvent> = (0..5).map(|i| ev(NOW + i, &format!("e{i}"))).collect();
    logs.put_events("g", "s", events).await.unwrap();
    let later = read(&logs, after(&empty.next_forward_token)).await;
    assert_eq!(messages(&later.events), ["e0", "e1"]);

    // From the head, forward, to the end: the last forward token comes back unchanged.
    let head = EventsQuery {
        start_from_head: true,
        limit: Some(2),
        ..EventsQuery::default()
    };
    let forward = [&["e0", "e1"][..], &["e2", "e3"], &["e4"]];
    follow(&logs, head, |p| &p.next_forward_token, &forward).await;

    // The default reads the newest events; backward tokens page towards the head.
    let tail = EventsQuery {
        limit: Some(2),
        ..EventsQuery::default()
    };
    let backward = [&["e3", "e4"][..], &["e1", "e2"], &["e0"]];
    follow(&logs, tail, |p| &p.next_backward_token, &backward).await;

    // Time range: start inclusive, end exclusive.
    let range = EventsQuery {
        start_time: Some(NOW + 1),
        end_time: Some(NOW + 3),
        start_from_head: true,
        ..EventsQuery::default()
    };
    let r = read(&logs, range).await;
    assert_eq!(messages(&r.events), ["e1", "e2"]);
    let e = logs.get_events("g", "s", after("f/123")).await.unwrap_err();
    assert_eq!(e.to_string(), token::INVALID_TOKEN);
}

#[tokio::test]
async fn retention_hides_expired_events() {
    let dir = tempfile::tempdir().unwrap();
    let (logs, _, clock) = logs(dir.path()).await;
    appended(&logs, "g", "s", &[(NOW, "old")]).await;
    logs.set_retention("g", Some(1)).await.unwrap();
    clock.advance(2 * 24 * 3600 * 1000);
    appended(&logs, "g", "s", &[(clock.now(), "fresh")]).await;
    let page = read(&logs, EventsQuery::default()).await;
    assert_eq!(messages(&page.events), ["fresh"]);
    logs.set_retention("g", None).await.unwrap();
    let page = read(&logs, EventsQuery::default()).await;
    assert_eq!(messages(&page.events), ["old", "fresh"]);
}

#[tokio::test]
async fn filter_events_across_streams() {
    let dir = tempfile::tempdir().unwrap();
    let (logs, _, _) = logs(dir.path()).await;
    appended(
        &logs,
        "g",
        "app-1",
        &[(NOW, "ERROR a"), (NOW + 2, "INFO b")],
    )
    .await;
    appended(
        &logs,
        "g",
        "app-2",
        &[(NOW + 1, "ERROR c"), (NOW + 3, "ERROR d")],
    )
    .await;
    appended(&logs, "g", "web", &[(NOW + 1, "ERROR web")]).await;
    let msgs = |p: &FilterPage| -> Vec<String> {
        p.events
            .iter()
            .map(|e| format!("{}:{}", e.log_stream_name, e.message))
            .collect()
    };
    let page = logs
        .filter_events(
            "g",
            FilterQuery {
                stream_prefix: Some("app".into()),
                pattern: Some("ERROR".into()),
                ..FilterQuery::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        msgs(&page),
        ["app-1:ERROR a", "app-2:ERROR c", "app-2:ERROR d"]
    );
    assert_eq!(page.searched, ["app-1", "app-2"]);
    assert!(page.next_token.is_none());
    assert_eq!(page.events[0].event_id.len(), 56);

    // Pages of two, by token; the time window is inclusive at both ends.
    let mut seen = Vec::new();
    let mut token = None;
    loop {
        let q = FilterQuery {
            start_time: Some(NOW + 1),
            end_time: Some(NOW + 3),
            limit: Some(2),
            next_token: token.clone(),
            ..FilterQuery::default()
        };
        let page = logs.filter_events("g", q).await.unwrap();
        seen.extend(msgs(&page));
        match page.next_token {
            Some(t) => token = Some(t),
            None => break,
        }
    }
    assert_eq!(
        seen,
        [
            "app-2:ERROR c",
            "web:ERROR web",
            "app-1:INFO b",
            "app-2:ERROR d"
        ]
    );
    let named = FilterQuery {
        stream_names: Some(vec!["web".into(), "missing".into()]),
        ..FilterQuery::default()
    };
    let page = logs.filter_events("g", named).await.unwrap();
    assert_eq!(msgs(&page), ["web:ERROR web"]);
    let both = FilterQuery {
        stream_names: Some(vec!["web".into()]),
        stream_prefix: Some("a".into()),
        ..FilterQuery::default()
    };
    assert!(logs.filter_events("g", both).await.is_err());
    let structured = FilterQuery {
        pattern: Some("{ $.level = \"x\" }".into()),
        ..FilterQuery::default()
    };
    assert!(logs.filter_events("g", structured).await.is_err());
}

#[tokio::test]
async fn describe_streams_orders_and_pages() {
    let dir = tempfile::tempdir().unwrap();
    let (logs, _, _) = logs(dir.path()).await;
    appended(&logs, "g", "b", &[(NOW + 5, "x")]).await;
    appended(&logs, "g", "a", &[(NOW + 9, "x")]).await;
    appended(&logs, "g", "c", &[(NOW + 1, "x")]).await;
    let list = |p: &Page<StreamInfo>| -> Vec<String> {
        p.items.iter().map(|s| s.log_stream_name.clone()).collect()
    };
    let by_name = logs
        .describe_streams("g", None, StreamOrder::Name, false, 50, None)
        .await
        .unwrap();
    assert_eq!(list(&by_name), ["a", "b", "c"]);
    let s = &by_name.items[0];
    assert_eq!(s.first_event_timestamp, Some(NOW + 9));
    assert_eq!(s.last_ingestion_time, Some(NOW));
    assert_eq!(
        s.arn,
        "arn:aws:logs:us-east-1:123456789012:log-group:g:log-stream:a"
    );

    let p1 = logs
        .describe_streams("g", None, StreamOrder::LastEventTime, true, 2, None)
        .await
        .unwrap();
    assert_eq!(list(&p1), ["a", "b"]);
    let p2 = logs
        .describe_streams(
            "g",
            None,
            StreamOrder::LastEventTime,
            true,
            2,
            p1.next_token.as_deref(),
        )
        .await
        .unwrap();
    assert_eq!(list(&p2), ["c"]);
    assert!(p2.next_token.is_none());

    let prefixed = logs
        .describe_streams("g", Some("b"), StreamOrder::Name, false, 50, None)
        .await
        .unwrap();
    assert_eq!(list(&prefixed), ["b"]);
    let e = logs
        .describe_streams("g", Some("b"), StreamOrder::LastEventTime, false, 50, None)
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "Cannot order by LastEventTime with a logStreamNamePrefix."
    );
}

#[tokio::test]
async fn tags_and_reconfigure() {
    let dir = tempfile::tempdir().unwrap();
    let (logs, _, _) = logs(dir.path()).await;
    logs.create_group(group("g")).await.unwrap();
    let arn = logs.scope().group_arn_bare("g");
    let name = logs.group_of_arn(&arn).unwrap();
    logs.tag(
        &name,
        BTreeMap::from([("a".into(), "1".into()), ("b".into(), "2".into())]),
    )
    .await
    .unwrap();
    logs.untag(&name, &["a".into(), "zz".into()]).await.unwrap();
    assert_eq!(
        logs.tags("g").await.unwrap(),
        BTreeMap::from([("b".to_string(), "2".to_string())])
    );
    let g = logs
        .reconfigure("g", Some(30), BTreeMap::from([("c".into(), "3".into())]))
        .await
        .unwrap();
    assert_eq!(g.retention_in_days, Some(30));
    assert_eq!(g.tags.keys().collect::<Vec<_>>(), ["c"]);
    assert_eq!(
        logs.tags("missing").await.unwrap_err(),
        LogsError::GroupNotFound
    );
    assert_eq!(
        logs.set_retention("missing", Some(1)).await.unwrap_err(),
        LogsError::GroupNotFound
    );
    assert!(logs.group_of_arn("g").is_err());
}

#[tokio::test]
async fn the_state_is_shared_across_tasks() {
    fn shareable<T: Send + Sync>() {}
    shareable::<Logs>();
    let dir = tempfile::tempdir().unwrap();
    let (logs, _, _) = logs(dir.path()).await;
    let logs = Arc::new(logs);
    // Lambda appends from its invocation tasks: the future must be `Send`.
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let logs = logs.clone();
            tokio::spawn(async move {
                logs.append("/aws/lambda/f", "s", vec![ev(NOW + i, &format!("{i}\n"))])
                    .await
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(
        logs.tail("/aws/lambda/f", "s", 1024),
        "0\n1\n2\n3\n4\n5\n6\n7\n"
    );
    let page = logs
        .describe_groups(&GroupFilter::default(), 50, None)
        .await
        .unwrap();
    assert_eq!(page.items.len(), 1, "one group, however many appends raced");
    assert_eq!(page.items[0].1, 16, "storedBytes counts the messages held");
}
