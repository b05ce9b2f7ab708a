//! One behavioural test suite for every [`StackStore`] backend. A backend's tests call
//! [`run`] on an empty store; it panics with a message naming the broken rule. The
//! in-memory store runs it in this crate's tests; SQL backends run the same function.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::json;

use super::StackStore;
use crate::model::*;
use crate::plan::{Policy, ResolvedOutput};

fn stack(id: &str, name: &str) -> StackRecord {
    StackRecord {
        status_reason: Some("User Initiated".into()),
        description: Some("d".into()),
        template: TemplateSource {
            body: "{}".into(),
            parameters: BTreeMap::from([("P".into(), "v".into())]),
        },
        displayed_parameters: BTreeMap::from([("P".into(), "****".into())]),
        resolved_parameters: BTreeMap::from([("Ami".into(), "ami-1".into())]),
        capabilities: vec!["CAPABILITY_IAM".into()],
        tags: vec![("k".into(), "v".into())],
        previous_tags: Some(vec![("k".into(), "old".into())]),
        role_arn: Some("arn:aws:iam::123456789012:role/r".into()),
        outputs: vec![ResolvedOutput {
            key: "O".into(),
            value: "x".into(),
            description: None,
            export_name: Some("E".into()),
        }],
        imports: vec!["I".into()],
        ..StackRecord::new(id.into(), name.into(), StackStatus::CreateInProgress, 1)
    }
}

fn resource(stack_id: &str, id: &str) -> ResourceRecord {
    ResourceRecord {
        stack_id: stack_id.into(),
        logical_id: id.into(),
        resource_type: "T::T::T".into(),
        status: ResourceStatus::UpdateComplete,
        status_reason: None,
        last_updated: 2,
        physical_id: Some(format!("{id}-p")),
        attributes: Arc::new(json!({"Arn": "a"}).as_object().cloned().unwrap()),
        properties: Arc::new(json!({"Name": "n", "Nested": [1, {"x": null}]})),
        deletion_policy: Policy::Retain,
        update_replace_policy: Policy::Snapshot,
        prior: Some(Prior::Existing(PhysicalSnapshot {
            physical_id: "old".into(),
            attributes: Default::default(),
            properties: Arc::new(json!({})),
            deletion_policy: Policy::Delete,
            update_replace_policy: Policy::RetainExceptOnCreate,
        })),
        cleanup: vec![],
    }
}

fn event(stack_id: &str, seq: u64) -> StackEvent {
    StackEvent {
        seq,
        event_id: format!("e{seq}"),
        stack_id: stack_id.into(),
        stack_name: "s".into(),
        logical_resource_id: "A".into(),
        physical_resource_id: None,
        resource_type: "T".into(),
        timestamp: seq as i64,
        resource_status: "CREATE_IN_PROGRESS".into(),
        resource_status_reason: None,
        resource_properties: Some("{}".into()),
    }
}

/// A change set `id` of `stack_id`, available, with one change (what the cases here put;
/// backends' own tests use it too).
pub fn change_set(id: &str, stack_id: &str) -> ChangeSetRecord {
    ChangeSetRecord {
        change_set_id: id.into(),
        change_set_name: format!("name-{id}"),
        stack_id: stack_id.into(),
        stack_name: "s".into(),
        change_set_type: ChangeSetType::Update,
        status: ChangeSetStatus::CreateComplete,
        status_reason: None,
        execution_status: ExecutionStatus::Available,
        creation_time: 3,
        description: None,
        template: TemplateSource::default(),
        displayed_parameters: BTreeMap::new(),
        resolved_parameters: BTreeMap::new(),
        capabilities: vec![],
        tags: vec![],
        role_arn: None,
        notification_arns: vec![],
        changes: vec![ResourceChange {
            action: ChangeAction::Modify,
            logical_resource_id: "A".into(),
            physical_resource_id: Some("p".into()),
            resource_type: "T".into(),
            replacement: Some(Replacement::Conditional),
            scope: vec!["Properties".into()],
            details: vec![ResourceChangeDetail {
                target: ChangeTarget {
                    attribute: "Properties".into(),
                    name: Some("Name".into()),
                    requires_recreation: RequiresRecreation::Always,
                },
                evaluation: Evaluation::Dynamic,
                change_source: ChangeSource::ResourceReference,
                causing_entity: Some("B.Arn".into()),
            }],
            values: Some(ChangeValues {
                before: Some(json!({"Name": "old"})),
                after: Some(json!({"Name": KNOWN_AFTER_APPLY})),
            }),
        }],
    }
}

/// Runs every check against `store`, which must start empty.
pub async fn run(store: &dyn StackStore) {
    stacks(store).await;
    compare_and_set(store).await;
    resources(store).await;
    events(store).await;
    change_sets(store).await;
    exports(store).await;
}

async fn stacks(store: &dyn StackStore) {
    assert_eq!(
        store.get_stack("s1").await.unwrap(),
        None,
        "unknown stack is None"
    );
    let mut a = stack("s1", "alpha");
    store.put_stack(&a, &[]).await.unwrap();
    store.put_stack(&stack("s2", "beta"), &[]).await.unwrap();
    assert_eq!(
        store.get_stack("s1").await.unwrap(),
        Some(a.clone()),
        "stack round-trips"
    );
    a.status = StackStatus::CreateComplete;
    a.previous_template = Some(TemplateSource::default());
    store.put_stack(&a, &[]).await.unwrap();
    assert_eq!(
        store.get_stack("s1").await.unwrap(),
        Some(a.clone()),
        "put replaces"
    );
    let ids: Vec<String> = store
        .list_stacks()
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.stack_id)
        .collect();
    assert_eq!(
        ids,
        vec!["s1", "s2"],
        "list_stacks in creation order, no duplicates"
    );

    // By name: only a live stack, the newest one; a deleted one is found by id only.
    assert_eq!(
        store.find_live_stack("alpha").await.unwrap(),
        Some(a.clone())
    );
    assert_eq!(store.find_live_stack("gamma").await.unwrap(), None);
    a.status = StackStatus::DeleteComplete;
    store.put_stack(&a, &[]).await.unwrap();
    assert_eq!(
        store.find_live_stack("alpha").await.unwrap(),
        None,
        "a DELETE_COMPLETE stack is not live"
    );
    let again = stack("s3", "alpha");
    store.put_stack(&again, &[]).await.unwrap();
    assert_eq!(
        store.find_live_stack("alpha").await.unwrap(),
        Some(again),
        "a name is reusable once its stack is deleted"
    );
    assert_eq!(store.get_stack("s1").await.unwrap(), Some(a));
}

/// `put_stack_if` writes only over the revision it names, atomically, also when racing.
async fn compare_and_set(store: &dyn StackStore) {
    let mut c = stack("cas", "cas");
    assert!(
        !store.put_stack_if(&c, &[], 0).await.unwrap(),
        "no record to compare with: nothing written"
    );
    assert_eq!(store.get_stack("cas").await.unwrap(), None);
    store.put_stack(&c, &[]).await.unwrap();
    c.revision = 1;
    c.status = StackStatus::UpdateInProgress;
    assert!(
        !store
            .put_stack_if(&c, &[event("cas", 1), event("cas", 2)], 5)
            .await
            .unwrap(),
        "a stale revision writes nothing"
    );
    assert_eq!(store.get_stack("cas").await.unwrap().unwrap().revision, 0);
    assert!(
        store.list_events("cas", None, 10).await.unwrap().is_empty(),
        "nor its events"
    );
    assert!(
        store
            .put_stack_if(&c, &[event("cas", 1), event("cas", 2)], 0)
            .await
            .unwrap()
    );
    assert_eq!(store.get_stack("cas").await.unwrap(), Some(c.clone()));
    assert_eq!(
        store.list_events("cas", None, 10).await.unwrap().len(),
        2,
        "every event of a write that won"
    );

    // Eight writers that read revision 1 race: exactly one wins, its record and event stay.
    let attempt = |n: u64| {
        let mut mine = c.clone();
        mine.revision = 2;
        mine.status_reason = Some(format!("writer {n}"));
        async move {
            let won = store
                .put_stack_if(&mine, &[event("cas", 10 + n)], 1)
                .await
                .unwrap();
            (n, won)
        }
    };
    let (a, b, c2, d) = tokio::join!(attempt(0), attempt(1), attempt(2), attempt(3));
    let (e, f, g, h) = tokio::join!(attempt(4), attempt(5), attempt(6), attempt(7));
    let winners: Vec<u64> = [a, b, c2, d, e, f, g, h]
        .into_iter()
        .filter(|(_, won)| *won)
        .map(|(n, _)| n)
        .collect();
    assert_eq!(
        winners.len(),
        1,
        "exactly one racing writer wins: {winners:?}"
    );
    let stored = store.get_stack("cas").await.unwrap().unwrap();
    assert_eq!(stored.status_reason, Some(format!("writer {}", winners[0])));
    let events = store.list_events("cas", None, 20).await.unwrap();
    assert_eq!(events.len(), 3, "the losers' events are not written");
    assert_eq!(events[0].seq, 10 + winners[0]);
}

async fn resources(store: &dyn StackStore) {
    store.put_resource(&resource("s1", "B"), &[]).await.unwrap();
    store.put_resource(&resource("s1", "A"), &[]).await.unwrap();
    store.put_resource(&resource("s2", "A"), &[]).await.unwrap();
    let mut b = resource("s1", "B");
    b.status = ResourceStatus::DeleteFailed;
    b.prior = Some(Prior::Added);
    b.cleanup = vec![PhysicalSnapshot {
        physical_id: "c".into(),
        attributes: Default::default(),
        properties: Arc::new(json!(null)),
        deletion_policy: Policy::Delete,
        update_replace_policy: Policy::Delete,
    }];
    store.put_resource(&b, &[]).await.unwrap();
    let list = store.list_resources("s1").await.unwrap();
    assert_eq!(
        list,
        vec![resource("s1", "A"), b],
        "ordered by logical id, put replaces"
    );
    store.delete_resource("s1", "A").await.unwrap();
    store.delete_resource("s1", "nope").await.unwrap();
    let ids: Vec<String> = store
        .list_resources("s1")
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.logical_id)
        .collect();
    assert_eq!(ids, vec!["B"], "delete removes one resource of one stack");
    assert_eq!(
        store.list_resources("s2").await.unwrap().len(),
        1,
        "stacks are isolated"
    );
    assert!(store.list_resources("none").await.unwrap().is_empty());
}

async fn events(store: &dyn StackStore) {
    let batch: Vec<StackEvent> = (1..=5).map(|i| event("s1", i)).collect();
    store.append_events(&batch[..2]).await.unwrap();
    store.append_events(&batch[2..]).await.unwrap();
    store.append_events(&[event("s2", 1)]).await.unwrap();
    // Records carry their events: both land.
    store
        .put_stack(&stack("s2", "beta"), &[event("s2", 2)])
        .await
        .unwrap();
    store
        .put_resource(&resource("s2", "Z"), &[event("s2", 3)])
        .await
        .unwrap();
    let all = store.list_events("s1", None, 100).await.unwrap();
    let seqs: Vec<u64> = all.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, vec![5, 4, 3, 2, 1], "newest first");
    assert_eq!(all[4], batch[0], "event round-trips");
    let page = store.list_events("s1", Some(4), 2).await.unwrap();
    let seqs: Vec<u64> = page.iter().map(|e| e.seq).collect();
    assert_eq!(
        seqs,
        vec![3, 2],
        "before_seq is exclusive and limit applies"
    );
    let s2: Vec<u64> = store
        .list_events("s2", None, 10)
        .await
        .unwrap()
        .iter()
        .map(|e| e.seq)
        .collect();
    assert_eq!(
        s2,
        vec![3, 2, 1],
        "put_stack/put_resource append their events"
    );
    store.delete_resource("s2", "Z").await.unwrap();
    assert!(
        store
            .list_events("none", None, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn change_sets(store: &dyn StackStore) {
    let mut c1 = change_set("c1", "s1");
    store.put_change_set(&c1).await.unwrap();
    store.put_change_set(&change_set("c2", "s1")).await.unwrap();
    store.put_change_set(&change_set("c3", "s2")).await.unwrap();
    assert_eq!(store.get_change_set("c1").await.unwrap(), Some(c1.clone()));
    c1.execution_status = ExecutionStatus::Obsolete;
    store.put_change_set(&c1).await.unwrap();
    let list = store.list_change_sets("s1").await.unwrap();
    assert_eq!(list.len(), 2, "put replaces");
    assert_eq!(list[0], c1, "creation order");
    store.delete_change_set("c1").await.unwrap();
    assert_eq!(store.get_change_set("c1").await.unwrap(), None);
    assert_eq!(store.list_change_sets("s1").await.unwrap().len(), 1);
    assert_eq!(store.list_change_sets("s2").await.unwrap().len(), 1);
    store.put_change_set(&change_set("c4", "s1")).await.unwrap();
    store.delete_change_sets("s1").await.unwrap();
    assert!(store.list_change_sets("s1").await.unwrap().is_empty());
    assert_eq!(store.get_change_set("c2").await.unwrap(), None);
    assert_eq!(
        store.list_change_sets("s2").await.unwrap().len(),
        1,
        "another stack's change sets stay"
    );
    store.put_change_set(&change_set("c5", "s1")).await.unwrap();
    assert_eq!(
        store.list_change_sets("s1").await.unwrap().len(),
        1,
        "a change set put after its stack's were deleted is listed"
    );
    assert!(store.list_change_sets("s3").await.unwrap().is_empty());
    // Unfinished creations, of every stack, and nothing else.
    assert!(store.unfinished_change_sets().await.unwrap().is_empty());
    let mut pending = change_set("c6", "s1");
    pending.status = ChangeSetStatus::CreatePending;
    let mut running = change_set("c7", "s2");
    running.status = ChangeSetStatus::CreateInProgress;
    store.put_change_set(&pending).await.unwrap();
    store.put_change_set(&running).await.unwrap();
    let mut unfinished = store.unfinished_change_sets().await.unwrap();
    unfinished.sort_by(|a, b| a.change_set_id.cmp(&b.change_set_id));
    assert_eq!(unfinished, vec![pending, running], "unfinished change sets");
}

async fn exports(store: &dyn StackStore) {
    let e = |n: &str, v: &str, s: &str| ExportRecord {
        name: n.into(),
        value: v.into(),
        exporting_stack_id: s.into(),
    };
    store
        .put_exports("s1", &[e("b", "1", "s1"), e("a", "2", "s1")])
        .await
        .unwrap();
    store.put_exports("s2", &[e("c", "3", "s2")]).await.unwrap();
    assert_eq!(
        store.list_exports().await.unwrap(),
        vec![e("a", "2", "s1"), e("b", "1", "s1"), e("c", "3", "s2")],
        "ordered by name"
    );
    store.put_exports("s1", &[e("b", "9", "s1")]).await.unwrap();
    assert_eq!(
        store.list_exports().await.unwrap(),
        vec![e("b", "9", "s1"), e("c", "3", "s2")],
        "put_exports replaces only that stack's exports"
    );
    store.put_exports("s1", &[]).await.unwrap();
    assert_eq!(store.list_exports().await.unwrap(), vec![e("c", "3", "s2")]);
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn memory_store_passes_the_conformance_suite() {
        super::run(&super::super::MemoryStore::new()).await;
    }
}
