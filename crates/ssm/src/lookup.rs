//! [`SsmLookup`] over the parameter store: what SSM-typed template parameters and
//! `{{resolve:ssm:...}}` / `{{resolve:ssm-secure:...}}` references read.
//!
//! The CloudFormation crate's lookup is synchronous (templates are planned inside the
//! engine's request path) while the store is async. Each lookup therefore blocks its
//! thread on the store: on a multi-threaded Tokio runtime (the server's) through
//! `block_in_place`, which lets the runtime move other tasks off this worker; elsewhere
//! (no runtime, or a current-thread runtime that must not be blocked on itself) on a
//! helper thread with its own small runtime. The helper-thread path suits the SQLite
//! backend, whose connections run on their own threads; a PostgreSQL store needs the
//! multi-threaded runtime it was opened on.

use std::sync::Arc;

use sagestack_cloudformation::SsmLookup;
use sagestack_store::Store;
use tokio::runtime::{Handle, RuntimeFlavor};

use crate::service::StoredParameter;

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
        let result = match Handle::try_current() {
            Ok(h) if h.runtime_flavor() == RuntimeFlavor::MultiThread => {
                tokio::task::block_in_place(|| h.block_on(read))
            }
            _ => std::thread::spawn(move || {
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
