//! Exports and imports across stacks.

mod common;

use common::*;
use sagestack_engine::*;
use serde_json::json;

fn exporter(name: &str) -> serde_json::Value {
    json!({"Resources": {"A": {"Type": "Test::R", "Properties": {"Name": name}}},
           "Outputs": {"Out": {"Value": "{{Ref:A}}", "Export": "X"}}})
}

fn importer() -> serde_json::Value {
    json!({"Resources": {"I": {"Type": "Test::R", "Properties": {"From": "{{Import:X}}"}}}})
}

#[tokio::test]
async fn exports_are_published_imported_and_protected() {
    let h = Harness::new();
    let p = h.create("p", &exporter("one")).await;
    assert_eq!(p.status, StackStatus::CreateComplete);
    let a = h.resource(&p.stack_id, "A").await.physical_id.unwrap();
    assert_eq!(
        h.engine.list_exports().await.unwrap(),
        vec![ExportRecord {
            name: "X".into(),
            value: a.clone(),
            exporting_stack_id: p.stack_id.clone()
        }]
    );
    assert_eq!(p.outputs[0].export_name.as_deref(), Some("X"));

    let q = h.create("q", &importer()).await;
    assert_eq!(q.status, StackStatus::CreateComplete);
    assert_eq!(q.imports, vec!["X"]);
    assert_eq!(
        h.resource(&q.stack_id, "I").await.properties["From"],
        json!(a)
    );
    assert_eq!(h.engine.list_imports("X").await.unwrap(), vec!["q"]);

    // The exporting stack cannot be deleted while q imports.
    let n = h.events(&p.stack_id).await.len();
    let failed = h.delete("p").await;
    assert_eq!(failed.status, StackStatus::DeleteFailed);
    assert_eq!(
        failed.status_reason.as_deref(),
        Some("Export X cannot be deleted as it is in use by q")
    );
    assert_eq!(
        h.events_since(&p.stack_id, n).await,
        lines(&[
            "p DELETE_IN_PROGRESS (User Initiated)",
            "p DELETE_FAILED (Export X cannot be deleted as it is in use by q)",
        ])
    );
    assert!(h.provider.live().contains_key(&a));

    // An update may neither remove the export nor change its value.
    let no_export = json!({"Resources": {"A": {"Type": "Test::R", "Properties": {"Name": "one"}}},
        "Outputs": {"Out": {"Value": "{{Ref:A}}"}}});
    // `p` is DELETE_FAILED now, which cannot be updated: start over with a fresh pair.
    let h = Harness::new();
    let p = h.create("p", &exporter("one")).await;
    h.create("q", &importer()).await;
    let done = h.update("p", &no_export).await.unwrap();
    assert_eq!(done.status, StackStatus::UpdateRollbackComplete);
    h.assert_event(
        &p.stack_id,
        "p UPDATE_ROLLBACK_IN_PROGRESS (Export X cannot be deleted as it is in use by q)",
    )
    .await;
    let changed = h.update("p", &exporter("two")).await.unwrap();
    assert_eq!(changed.status, StackStatus::UpdateRollbackComplete);
    assert_eq!(
        h.engine.describe_stack("p").await.unwrap().outputs,
        p.outputs,
        "outputs unchanged after rollback"
    );
    h.assert_event(
        &p.stack_id,
        "p UPDATE_ROLLBACK_IN_PROGRESS (Export X cannot be updated as it is in use by q)",
    )
    .await;
    assert_eq!(
        h.engine.list_exports().await.unwrap()[0].value,
        p.outputs[0].value
    );
    // Only one A remains at the provider: the replacement was cleaned up.
    assert_eq!(h.provider.live().values().filter(|l| *l == "A").count(), 1);

    // Once the importer is gone, the exporter can go too.
    assert_eq!(h.delete("q").await.status, StackStatus::DeleteComplete);
    assert!(h.engine.list_imports("X").await.unwrap().is_empty());
    assert_eq!(h.delete("p").await.status, StackStatus::DeleteComplete);
    assert!(h.engine.list_exports().await.unwrap().is_empty());
}

#[tokio::test]
async fn duplicate_export_names_and_missing_imports_fail_the_stack() {
    let h = Harness::new();
    h.create("p", &exporter("one")).await;
    let dup = h.create("r", &exporter("other")).await;
    assert_eq!(dup.status, StackStatus::RollbackComplete);
    assert_eq!(
        h.events(&dup.stack_id).await[3..5],
        lines(&[
            "A CREATE_COMPLETE",
            "r ROLLBACK_IN_PROGRESS (Export with name X is already exported by stack p. Rollback requested by user.)",
        ])
    );
    assert_eq!(h.engine.list_exports().await.unwrap().len(), 1);

    let missing =
        json!({"Resources": {"I": {"Type": "Test::R", "Properties": {"From": "{{Import:Nope}}"}}}});
    let m = h.create("m", &missing).await;
    assert_eq!(m.status, StackStatus::RollbackComplete);
    assert_eq!(
        h.events(&m.stack_id).await,
        lines(&[
            "m CREATE_IN_PROGRESS (User Initiated)",
            "m ROLLBACK_IN_PROGRESS (No export named Nope found. Rollback requested by user.)",
            "m ROLLBACK_COMPLETE",
        ])
    );
}
