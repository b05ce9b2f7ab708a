//! Synchronous reads of async stores, for what templates read while they are planned.
//!
//! Template lookups (SSM parameters, other stacks' outputs) are synchronous: templates
//! are planned inside the engine's request path, often on a blocking thread. The stores
//! are async. Each lookup therefore blocks its thread on the store, which needs a
//! multi-threaded Tokio runtime (the server's): `block_in_place` lets the runtime move
//! other tasks off this worker while the store's own tasks keep running. A
//! current-thread runtime cannot do that (a store's pool returns connections through
//! tasks on that very thread, so blocking it would wait forever): there the lookup
//! answers "absent" and logs why. Called outside any runtime, the read runs on a helper
//! thread with a runtime of its own.

use std::future::Future;

use tokio::runtime::{Handle, RuntimeFlavor};

/// The value `read` produces, `None` when it fails (logged with `what`) or cannot run.
pub fn read<T, E>(
    what: &str,
    read: impl Future<Output = Result<T, E>> + Send + 'static,
) -> Option<T>
where
    T: Send + 'static,
    E: std::fmt::Display + Send + 'static,
{
    let result = match Handle::try_current() {
        Ok(h) if h.runtime_flavor() == RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(|| h.block_on(read)).map_err(|e| e.to_string())
        }
        Ok(_) => {
            tracing::warn!("{what} needs a multi-threaded Tokio runtime; treating it as absent");
            return None;
        }
        Err(_) => std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?
                .block_on(read)
                .map_err(|e| e.to_string())
        })
        .join()
        .unwrap_or_else(|_| Err("the lookup thread panicked".to_owned())),
    };
    result
        .map_err(|e| tracing::warn!(error = %e, "{what} failed"))
        .ok()
}
