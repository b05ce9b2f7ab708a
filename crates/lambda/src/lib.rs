//! sagestack-lambda: Lambda functions that really run, as local processes.
//!
//! The service module shape:
//! * state: [`Functions`] (`functions.rs`, `versions.rs`): functions, their packages,
//!   versions, aliases, policy and tags, over the store's document table;
//! * running: [`runtime::Executor`] (warm workers, the Runtime API, our Python and Node.js
//!   bootstraps, `provided` runtimes) and [`Invoker`] (name → configuration → run → log);
//! * API: [`LambdaApi`] (REST-JSON, validated against the embedded botocore model);
//! * providers: `AWS::Lambda::Function`, `Permission`, `Version`, `Alias`
//!   ([`provider`]), and the custom-resource transport for Lambda `ServiceToken`s
//!   ([`custom_resource`]).
//!
//! Invariant: errors are typed ([`LambdaError`]); no SQL; HTTP only where Lambda itself
//! speaks it (the Runtime API of each worker, the `ResponseURL` of custom resources).

pub mod api;
pub mod code;
pub mod code_urls;
pub mod concurrency;
pub mod custom_resource;
pub mod error;
pub mod functions;
pub mod invoke;
mod logging;
pub mod model;
pub mod provider;
pub mod runtime;
pub mod settings;
pub mod versions;

pub use api::LambdaApi;
pub use code_urls::CodeUrls;
pub use error::LambdaError;
pub use functions::Functions;
pub use invoke::{Invoker, LogSink, NoLogs};
pub use model::Scope;
pub use runtime::{Executor, RuntimeConfig};
