//! [`SsmLookup`] over the parameter store: what SSM-typed template parameters and
//! `{{resolve:ssm:...}}` / `{{resolve:ssm-secure:...}}` references read.
//!
//! The CloudFormation crate's lookup is synchronous (templates are planned inside the
//! engine's request path) while the store is async. Each lookup therefore blocks its
//! thread on the store, which needs a multi-threaded Tokio runtime (the server's):
//! `block_in_place` lets the runtime move other tasks off this worker while the store's
//! own tasks keep running. A current-thread runtime cannot do that (the store's pool
//! returns connections through tasks on that very thread, so blocking it would wait
//! forever): there the lookup answers "no such parameter" and logs why. Called outside
//! any runtime, it runs the read on a helper thread with a runtime of its own.

use std::sync::Arc;

use sagestack_cloudformation::SsmLookup;
use sagestack_store::Store;
use tokio::runtime::{Handle, RuntimeFlavor};

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
        let wanted = name.to_string();
        let name = wanted.clone();
        let version = match version.map(i64::try_from) {
            Some(Ok(v)) => Some(v),
            Some(Err(_)) => return None,
            None => None,
        };
        let read = async move { store.get_parameter(&name, version).await };
        let result = match Handle::try_current() {
            Ok(h) if h.runtime_flavor() == RuntimeFlavor::MultiThread => {
                tokio::task::block_in_place(|| h.block_on(read))
            }
            Ok(_) => {
                tracing::warn!(
                    parameter = %wanted,
                    "SSM lookup needs a multi-threaded Tokio runtime; treating the parameter as absent"
                );
                return None;
            }
            Err(_) => std::thread::spawn(move || {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| sagestack_store::StoreError::Backend(e.to_string()))?
                    .block_on(read)
            })
            .join()
            .unwrap_or_else(|_| {
                Err(sagestack_store::StoreError::Backend(
                    "SSM lookup thread panicked".into(),
                ))
            }),
        };
        match result {
            Ok(Some(record)) => serde_json::from_str(&record.document).ok(),
            Ok(None) => None,
            Err(e) => {
                tracing::warn!(error = %e, "SSM lookup failed");
                None
            }
        }
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
