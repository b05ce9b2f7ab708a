//! [`SsmLookup`] over the parameter store: what SSM-typed template parameters and
//! `{{resolve:ssm:...}}` / `{{resolve:ssm-secure:...}}` references read.
//!
//! The lookup is synchronous while the store is async: each read blocks its thread on
//! the store through `sagestack_cloudformation::blocking::read` (see there for when it
//! can and cannot).

use std::sync::Arc;

use sagestack_cloudformation::SsmLookup;
use sagestack_store::Store;

use crate::parameters::StoredParameter;

/// Reads parameters straight from the store (no cache: several replicas may share it).
#[derive(Clone)]
pub struct StoreSsmLookup {
    store: Arc<dyn Store>,
}

impl StoreSsmLookup {
    pub fn new(store: Arc<dyn Store>) -> Self {
        StoreSsmLookup { store }
    }

    /// The stored version of `name` (latest when `version` is `None`).
    fn fetch(&self, name: &str, version: Option<u64>) -> Option<StoredParameter> {
        let store = self.store.clone();
        let name = name.to_string();
        let version = match version.map(i64::try_from) {
            Some(Ok(v)) => Some(v),
            Some(Err(_)) => return None,
            None => None,
        };
        let read = async move { store.get_parameter(&name, version).await };
        let record = sagestack_cloudformation::blocking::read("SSM lookup", read)??;
        serde_json::from_str(&record.document).ok()
    }
}

impl SsmLookup for StoreSsmLookup {
    fn parameter(&self, name: &str, version: Option<u64>) -> Option<String> {
        self.fetch(name, version)
            .filter(|p| p.kind != "SecureString")
            .map(|p| p.value)
    }

    fn secure_parameter(&self, name: &str, version: Option<u64>) -> Option<String> {
        self.fetch(name, version)
            .filter(|p| p.kind == "SecureString")
            .map(|p| p.value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sagestack_store::SqliteStore;

    fn doc(kind: &str, value: &str) -> String {
        serde_json::to_string(&StoredParameter {
            name: "n".into(),
            kind: kind.into(),
            value: value.into(),
            data_type: "text".into(),
            tier: "Standard".into(),
            last_modified_date: 0.0,
            description: None,
            allowed_pattern: None,
            key_id: None,
            policies: None,
            tags: vec![],
            last_modified_user: None,
        })
        .unwrap()
    }

    async fn seeded(dir: &std::path::Path) -> StoreSsmLookup {
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(dir).await.unwrap());
        store
            .put_parameter("/p", &doc("String", "one"), false, 100)
            .await
            .unwrap();
        store
            .put_parameter("/p", &doc("String", "two"), true, 100)
            .await
            .unwrap();
        store
            .put_parameter("/s", &doc("SecureString", "secret"), false, 100)
            .await
            .unwrap();
        StoreSsmLookup::new(store)
    }

    fn check(l: &StoreSsmLookup) {
        assert_eq!(l.parameter("/p", None).as_deref(), Some("two"));
        assert_eq!(l.parameter("/p", Some(1)).as_deref(), Some("one"));
        assert_eq!(l.parameter("/p", Some(3)), None);
        assert_eq!(l.parameter("/nope", None), None);
        assert_eq!(
            l.parameter("/s", None),
            None,
            "secure values only via ssm-secure"
        );
        assert_eq!(l.secure_parameter("/s", None).as_deref(), Some("secret"));
        assert_eq!(l.secure_parameter("/p", None), None);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn reads_on_a_multi_threaded_runtime() {
        let dir = tempfile::tempdir().unwrap();
        check(&seeded(dir.path()).await);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_current_thread_runtime_gets_no_value_and_does_not_hang() {
        let dir = tempfile::tempdir().unwrap();
        let lookup = seeded(dir.path()).await;
        let started = std::time::Instant::now();
        assert_eq!(lookup.parameter("/p", None), None);
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
    }

    #[test]
    fn reads_outside_any_runtime() {
        let dir = tempfile::tempdir().unwrap();
        let rt = tokio::runtime::Runtime::new().unwrap();
        let lookup = rt.block_on(seeded(dir.path()));
        check(&lookup);
    }
}
