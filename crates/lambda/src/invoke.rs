//! Invoking a function: resolve the name and qualifier to a configuration and its code,
//! run it on the [`Executor`], and write its log to its log group (`/aws/lambda/<name>`
//! unless `LoggingConfig.LogGroup` says otherwise) through the
//! [`LogSink`] the server gives (CloudWatch Logs).
//!
//! Used by the API's `Invoke` and by Lambda-backed custom resources alike.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;

use crate::error::{LambdaError, Result};
use crate::functions::Functions;
use crate::model::parse_function_name;
use crate::runtime::{Executor, FunctionSpec, Outcome};

/// Largest synchronous (`RequestResponse`) request payload: 6 MB.
pub const MAX_SYNC_PAYLOAD: usize = 6 * 1024 * 1024;
/// Largest asynchronous (`Event`) request payload: 1 MB, Lambda's limit since 2025.
pub const MAX_ASYNC_PAYLOAD: usize = 1024 * 1024;

/// Where function logs go: the server wires CloudWatch Logs here.
#[async_trait]
pub trait LogSink: Send + Sync {
    /// Appends `lines` (each one log event, all at `timestamp_ms`) to `group`/`stream`.
    async fn append(&self, group: &str, stream: &str, timestamp_ms: i64, lines: Vec<String>);
}

/// A sink that drops everything (tests, embedding without logs).
pub struct NoLogs;

#[async_trait]
impl LogSink for NoLogs {
    async fn append(&self, _: &str, _: &str, _: i64, _: Vec<String>) {}
}

/// Functions and the executor, together: what runs an invocation.
pub struct Invoker {
    functions: Arc<Functions>,
    executor: Executor,
    logs: Arc<dyn LogSink>,
    /// Invocations between the start of [`Invoker::run`] and its end (queued for a
    /// worker, running, writing their log).
    running: std::sync::atomic::AtomicUsize,
}

/// Counts one invocation in [`Invoker::running`] while it lives.
struct Running<'a>(&'a std::sync::atomic::AtomicUsize);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Invoker {
    pub fn new(functions: Arc<Functions>, executor: Executor, logs: Arc<dyn LogSink>) -> Invoker {
        Invoker {
            functions,
            executor,
            logs,
            running: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    /// How many invocations are under way (synchronous, asynchronous, custom resources
    /// and EventBridge deliveries alike).
    pub fn running(&self) -> usize {
        self.running.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Stops every idle (warm) worker process (`POST /_sagestack/reset`): a function
    /// created again with the same code and configuration then starts cold, with none of
    /// the old process's memory.
    pub async fn stop_idle_workers(&self) {
        self.executor.stop_idle().await;
    }

    pub fn functions(&self) -> &Arc<Functions> {
        &self.functions
    }

    pub fn executor_config(&self) -> &crate::runtime::RuntimeConfig {
        self.executor.config()
    }

    /// The configuration `function_name` (+ `qualifier`) names, as a runnable spec.
    pub async fn spec(&self, function_name: &str, qualifier: Option<&str>) -> Result<FunctionSpec> {
        let (name, from_name) = parse_function_name(self.functions.scope(), function_name)?;
        let qualifier = match (from_name.as_deref(), qualifier) {
            (Some(a), Some(b)) if a != b => {
                return Err(LambdaError::InvalidParameterValue(
                    "The derived qualifier from the function name does not match the specified qualifier."
                        .into(),
                ));
            }
            (a, b) => a.or(b).map(str::to_string),
        };
        let record = self.functions.get(&name).await?;
        let (config, code_hex) = record.resolve(qualifier.as_deref())?;
        let code_dir = self.functions.code_dir(code_hex).await?;
        let invoked_arn = match &qualifier {
            Some(q) => format!("{}:{q}", record.config.function_arn),
            None => record.config.function_arn.clone(),
        };
        let environment: BTreeMap<String, String> = config
            .environment
            .as_ref()
            .map(|e| e.variables.clone())
            .unwrap_or_default();
        Ok(FunctionSpec {
            name: name.clone(),
            invoked_arn,
            version: config.version.clone(),
            runtime: config.runtime.clone().unwrap_or_default(),
            handler: config.handler.clone().unwrap_or_default(),
            timeout: Duration::from_secs(config.timeout.max(1) as u64),
            memory_mb: config.memory_size,
            environment,
            code_dir,
            log_group: config.log_group(),
            pool_key: format!(
                "{name}\0{}\0{}\0{code_hex}",
                config.version, config.revision_id
            ),
        })
    }

    /// Starts an asynchronous (`Event`) invocation of `spec` and returns at once, as
    /// Lambda does once it has queued the event: the function runs in the background and
    /// a function error is logged, not returned (EventBridge targets, `InvocationType:
    /// Event`). Refuses a payload over [`MAX_ASYNC_PAYLOAD`].
    pub fn start_event(
        self: &Arc<Self>,
        spec: FunctionSpec,
        request_id: String,
        payload: Bytes,
        client_context: Option<String>,
    ) -> Result<()> {
        if payload.len() > MAX_ASYNC_PAYLOAD {
            return Err(LambdaError::RequestTooLarge(format!(
                "Request must be smaller than {MAX_ASYNC_PAYLOAD} bytes for the InvokeAsync operation"
            )));
        }
        let invoker = Arc::clone(self);
        tokio::spawn(async move {
            let done = invoker
                .run(&spec, &request_id, payload, client_context)
                .await;
            if done.function_error.is_some() {
                tracing::info!(function = %spec.name, %request_id, "asynchronous invocation failed: {}", String::from_utf8_lossy(&done.payload));
            }
        });
        Ok(())
    }

    /// Runs `spec` once and writes its log.
    pub async fn run(
        &self,
        spec: &FunctionSpec,
        request_id: &str,
        payload: Bytes,
        client_context: Option<String>,
    ) -> Outcome {
        self.running
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let _running = Running(&self.running);
        let now = self.functions.now();
        let outcome = self
            .executor
            .invoke(spec, request_id, payload, client_context, now)
            .await;
        if !outcome.log_lines.is_empty() {
            let stream = if outcome.log_stream.is_empty() {
                format!("sagestack/[{}]unstarted", spec.version)
            } else {
                outcome.log_stream.clone()
            };
            self.logs
                .append(&spec.log_group, &stream, now, outcome.log_lines.clone())
                .await;
        }
        outcome
    }
}
