//! Running functions: warm workers per function configuration, started as local
//! processes (no containers), bounded in number, reaped when idle.
//!
//! A worker serves one configuration of one function (its code and settings: the pool
//! key changes when either does, so an update never runs old code). An invocation takes
//! an idle worker of its pool, or starts one (a cold start), after waiting for a slot:
//! at most `per_function` workers run one function's configuration and at most
//! `max_workers` run in total; beyond that an invocation queues (Lambda would throttle
//! with `TooManyRequestsException`; locally a queue is kinder to tests that fan out).
//! A worker whose invocation timed out or whose process died is discarded.
//!
//! Runtimes: `python3.*` run [our bootstrap](../../runtime/python/bootstrap.py) on a local
//! interpreter (`--lambda-python`, else `python3.N` on `PATH`, else `python3`, with a log
//! line saying which); `nodejs*` run ours on `node` (`--lambda-node`, else `PATH`);
//! `provided.*` run the package's own `bootstrap`. The bootstrap files are written under
//! the data directory when the executor is built.

mod api;
mod worker;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::{Mutex, Semaphore};
use tokio::task::JoinHandle;

pub use api::{MAX_RESPONSE_BYTES, Reply};
use worker::{Ended, Launch, Worker};

const PYTHON_BOOTSTRAP: &str = include_str!("../../runtime/python/bootstrap.py");
const PYTHON_CFNRESPONSE: &str = include_str!("../../runtime/python/cfnresponse.py");
const NODE_BOOTSTRAP: &str = include_str!("../../runtime/node/bootstrap.js");
const NODE_CFN_RESPONSE: &str = include_str!("../../runtime/node/cfn-response/index.js");

/// How functions are run on this server.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// The interpreter for `python3.*` runtimes; `None`: `python3.N` or `python3` on PATH.
    pub python: Option<PathBuf>,
    /// `node` for `nodejs*` runtimes; `None`: `node` on PATH.
    pub node: Option<PathBuf>,
    /// `AWS_ENDPOINT_URL` inside functions: this server, so SDKs in a function call it.
    pub endpoint_url: String,
    pub region: String,
    /// The credentials functions get (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`).
    pub credentials: (String, String),
    /// Workers of all functions at once.
    pub max_workers: usize,
    /// Workers of one function configuration at once.
    pub per_function: usize,
    /// An idle worker is stopped after this long.
    pub idle_timeout: Duration,
    /// Where the bootstrap files are written (`<data dir>/lambda/runtime`).
    pub runtime_dir: PathBuf,
}

/// What one invocation runs: a function configuration with its unpacked code.
#[derive(Debug, Clone)]
pub struct FunctionSpec {
    pub name: String,
    /// The ARN the function was invoked by (qualified when it was).
    pub invoked_arn: String,
    pub version: String,
    pub runtime: String,
    pub handler: String,
    pub timeout: Duration,
    pub memory_mb: i64,
    pub environment: BTreeMap<String, String>,
    pub code_dir: PathBuf,
    /// The log group the function writes to (`LoggingConfig.LogGroup`).
    pub log_group: String,
    /// Changes whenever the code or configuration does: the worker pool's key.
    pub pool_key: String,
}

/// How an invocation ended.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The function's result, or its error document.
    pub payload: Bytes,
    /// `Some("Unhandled")` when `payload` is an error document.
    pub function_error: Option<String>,
    /// This invocation's log lines (`START` … `REPORT`), in order.
    pub log_lines: Vec<String>,
    pub log_stream: String,
}

struct Pool {
    idle: Vec<Worker>,
    slots: Arc<Semaphore>,
}

struct Inner {
    config: RuntimeConfig,
    pools: Mutex<HashMap<String, Pool>>,
    total: Arc<Semaphore>,
    /// Interpreters found per runtime, so PATH is searched (and logged) once.
    interpreters: Mutex<HashMap<String, Result<PathBuf, String>>>,
}

/// Runs functions. Dropping it stops the reaper and, with the last invocation, every
/// worker process.
pub struct Executor {
    inner: Arc<Inner>,
    reaper: JoinHandle<()>,
}

impl Drop for Executor {
    fn drop(&mut self) {
        self.reaper.abort();
    }
}

impl Executor {
    /// Writes the bootstrap files and starts the idle-worker reaper (needs a runtime).
    pub fn new(config: RuntimeConfig) -> std::io::Result<Executor> {
        write_runtime_files(&config.runtime_dir)?;
        let inner = Arc::new(Inner {
            total: Arc::new(Semaphore::new(config.max_workers.max(1))),
            pools: Mutex::new(HashMap::new()),
            interpreters: Mutex::new(HashMap::new()),
            config,
        });
        let reaper = tokio::spawn(reap(inner.clone()));
        Ok(Executor { inner, reaper })
    }

    pub fn config(&self) -> &RuntimeConfig {
        &self.inner.config
    }

    /// Drops every idle worker (each process is killed as its `Worker` drops); busy
    /// workers are left to finish.
    pub async fn stop_idle(&self) {
        let idle: Vec<Worker> = {
            let mut pools = self.inner.pools.lock().await;
            pools.values_mut().flat_map(|p| p.idle.drain(..)).collect()
        };
        drop(idle);
    }

    /// Runs one invocation of `spec` with `payload`.
    pub async fn invoke(
        &self,
        spec: &FunctionSpec,
        request_id: &str,
        payload: Bytes,
        client_context: Option<String>,
        now_ms: i64,
    ) -> Outcome {
        let inner = &self.inner;
        let slots = {
            let mut pools = inner.pools.lock().await;
            pools
                .entry(spec.pool_key.clone())
                .or_insert_with(|| Pool {
                    idle: Vec::new(),
                    slots: Arc::new(Semaphore::new(inner.config.per_function.max(1))),
                })
                .slots
                .clone()
        };
        let (_slot, _total) = match (
            slots.acquire_owned().await,
            inner.total.clone().acquire_owned().await,
        ) {
            (Ok(s), Ok(t)) => (s, t),
            _ => {
                return failure(
                    spec,
                    request_id,
                    "Runtime.Unavailable",
                    "the executor is shutting down".into(),
                    Vec::new(),
                    String::new(),
                );
            }
        };
        let idle = {
            let mut pools = inner.pools.lock().await;
            let pool = pools.get_mut(&spec.pool_key);
            let mut found = None;
            if let Some(pool) = pool {
                while let Some(mut w) = pool.idle.pop() {
                    if w.alive() {
                        found = Some(w);
                        break;
                    }
                }
            }
            found
        };
        let started = Instant::now();
        let mut worker = match idle {
            Some(w) => w,
            None => match self.start_worker(spec, now_ms).await {
                Ok(w) => w,
                Err(message) => {
                    tracing::warn!(function = %spec.name, "{message}");
                    return failure(
                        spec,
                        request_id,
                        "Runtime.Unavailable",
                        message,
                        Vec::new(),
                        String::new(),
                    );
                }
            },
        };
        let cold = worker.uses == 0;
        let init_lines = worker.take_lines().await;
        let invocation = api::Invocation {
            request_id: request_id.to_string(),
            deadline_ms: now_ms + spec.timeout.as_millis() as i64,
            function_arn: spec.invoked_arn.clone(),
            payload,
            client_context,
        };
        let waits_for_marker = !spec.runtime.starts_with("provided");
        let ended = worker.run(invocation, spec.timeout, waits_for_marker).await;
        let finished = Instant::now();
        // Duration counts from when the runtime took the invocation; a cold start's init
        // is the time from the process's start until then.
        let taken = worker
            .taken_at()
            .filter(|t| *t >= started)
            .unwrap_or(started);
        let elapsed = finished - taken;
        let mut lines = init_lines;
        lines.push(format!(
            "START RequestId: {request_id} Version: {}",
            spec.version
        ));
        lines.extend(worker.take_lines().await);
        let (payload, function_error, keep) = match ended {
            Ended::Reply(Reply::Response(body)) => (body, None, true),
            Ended::Reply(Reply::Error(body)) => (body, Some("Unhandled".to_string()), true),
            Ended::Reply(Reply::InitError(body)) => (body, Some("Unhandled".to_string()), false),
            Ended::TimedOut => {
                let secs = spec.timeout.as_secs_f64();
                lines.push(format!(
                    "{} {request_id} Task timed out after {secs:.2} seconds",
                    crate::model::lambda_timestamp(now_ms + elapsed.as_millis() as i64)
                ));
                (
                    error_payload(
                        "Sandbox.Timedout",
                        &format!(
                            "RequestId: {request_id} Error: Task timed out after {secs:.2} seconds"
                        ),
                    ),
                    Some("Unhandled".to_string()),
                    false,
                )
            }
            Ended::Exited(status) => {
                let message =
                    format!("RequestId: {request_id} Error: Runtime exited with error: {status}");
                lines.push(message.clone());
                (
                    error_payload("Runtime.ExitError", &message),
                    Some("Unhandled".to_string()),
                    false,
                )
            }
        };
        let ms = elapsed.as_secs_f64() * 1000.0;
        lines.push(format!("END RequestId: {request_id}"));
        let mut report = format!(
            "REPORT RequestId: {request_id}\tDuration: {ms:.2} ms\tBilled Duration: {} ms\tMemory Size: {} MB",
            ms.ceil() as u64,
            spec.memory_mb
        );
        if let Some(mb) = worker.max_memory_mb() {
            report.push_str(&format!("\tMax Memory Used: {mb} MB"));
        }
        if cold {
            let init = (taken - worker.started).as_secs_f64() * 1000.0;
            report.push_str(&format!("\tInit Duration: {init:.2} ms"));
        }
        lines.push(report);
        let log_stream = worker.log_stream.clone();
        if keep && worker.alive() {
            let mut pools = inner.pools.lock().await;
            if let Some(pool) = pools.get_mut(&spec.pool_key) {
                pool.idle.push(worker);
            }
        }
        Outcome {
            payload,
            function_error,
            log_lines: lines,
            log_stream,
        }
    }

    async fn start_worker(&self, spec: &FunctionSpec, now_ms: i64) -> Result<Worker, String> {
        let config = &self.inner.config;
        let (program, args) = self.command_for(spec).await?;
        // `2026/12/06/[$LATEST]<32 hex>`, as Lambda names a process's stream.
        let day = sagestack_engine::iso8601_millis(now_ms)[..10].replace('-', "/");
        let log_stream = format!("{day}/[{}]{}", spec.version, uuid::Uuid::new_v4().simple());
        let mut env: BTreeMap<String, String> = BTreeMap::new();
        for key in ["PATH", "HOME", "LANG", "SYSTEMROOT"] {
            if let Ok(v) = std::env::var(key) {
                env.insert(key.into(), v);
            }
        }
        env.extend(spec.environment.clone());
        let task_root = spec.code_dir.display().to_string();
        let fixed = [
            ("_HANDLER", spec.handler.clone()),
            ("LAMBDA_TASK_ROOT", task_root.clone()),
            (
                "LAMBDA_RUNTIME_DIR",
                config.runtime_dir.display().to_string(),
            ),
            ("AWS_REGION", config.region.clone()),
            ("AWS_DEFAULT_REGION", config.region.clone()),
            ("AWS_EXECUTION_ENV", format!("AWS_Lambda_{}", spec.runtime)),
            ("AWS_LAMBDA_FUNCTION_NAME", spec.name.clone()),
            ("AWS_LAMBDA_FUNCTION_VERSION", spec.version.clone()),
            (
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
                spec.memory_mb.to_string(),
            ),
            ("AWS_LAMBDA_LOG_GROUP_NAME", spec.log_group.clone()),
            ("AWS_LAMBDA_LOG_STREAM_NAME", log_stream.clone()),
            ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".into()),
            ("AWS_ACCESS_KEY_ID", config.credentials.0.clone()),
            ("AWS_SECRET_ACCESS_KEY", config.credentials.1.clone()),
            ("AWS_SESSION_TOKEN", "sagestack".into()),
            ("AWS_ENDPOINT_URL", config.endpoint_url.clone()),
            ("TZ", ":UTC".into()),
            ("PYTHONUNBUFFERED", "1".into()),
            (
                "NODE_PATH",
                config.runtime_dir.join("node").display().to_string(),
            ),
        ];
        for (k, v) in fixed {
            env.insert(k.to_string(), v);
        }
        let launch = Launch {
            program: program.clone(),
            args,
            env,
            cwd: spec.code_dir.clone(),
        };
        Worker::start(launch, log_stream).await.map_err(|e| {
            format!(
                "cannot start {} for runtime {}: {e}",
                program.display(),
                spec.runtime
            )
        })
    }

    /// The program and arguments that run `spec`'s runtime.
    async fn command_for(&self, spec: &FunctionSpec) -> Result<(PathBuf, Vec<String>), String> {
        let dir = &self.inner.config.runtime_dir;
        let runtime = spec.runtime.as_str();
        if runtime.starts_with("python3") {
            let python = self.interpreter(runtime).await?;
            let script = dir.join("python").join("bootstrap.py");
            Ok((python, vec![script.display().to_string()]))
        } else if runtime.starts_with("nodejs") {
            let node = self.interpreter(runtime).await?;
            let script = dir.join("node").join("bootstrap.js");
            Ok((node, vec![script.display().to_string()]))
        } else if runtime.starts_with("provided") {
            let bootstrap = spec.code_dir.join("bootstrap");
            if !bootstrap.is_file() {
                return Err(format!(
                    "Couldn't find valid bootstrap(s): [{}]: a {runtime} function's package must hold an executable named bootstrap",
                    bootstrap.display()
                ));
            }
            Ok((bootstrap, Vec::new()))
        } else {
            Err(format!(
                "sagestack cannot run the runtime {runtime} locally: it runs python3.*, nodejs* and provided.* functions"
            ))
        }
    }

    async fn interpreter(&self, runtime: &str) -> Result<PathBuf, String> {
        let mut known = self.inner.interpreters.lock().await;
        if let Some(found) = known.get(runtime) {
            return found.clone();
        }
        let config = &self.inner.config;
        let found = if runtime.starts_with("python3") {
            let version = runtime.trim_start_matches("python");
            find_python(config.python.as_deref(), version, runtime).await
        } else {
            match config.node.clone().or_else(|| which("node")) {
                Some(p) if answers(&p, &["--version"]).await.is_some() => Ok(p),
                Some(p) => Err(format!(
                    "sagestack cannot run {runtime} functions here: {} does not run (set --lambda-node)",
                    p.display()
                )),
                None => Err(format!(
                    "sagestack cannot run {runtime} functions here: no node on PATH (set --lambda-node)"
                )),
            }
        };
        known.insert(runtime.to_string(), found.clone());
        found
    }
}

/// The interpreter for `python{version}`: the configured one, else `python{version}`
/// on PATH, else `python3`; each must actually run (a pyenv shim of a version that is
/// not installed is on PATH but exits 127).
async fn find_python(
    configured: Option<&Path>,
    version: &str,
    runtime: &str,
) -> Result<PathBuf, String> {
    // The version, and the interpreter itself: a shim (pyenv, asdf) on PATH is a script
    // that costs a few hundred milliseconds per start, which every cold start would pay.
    const PROBE: &[&str] = &[
        "-c",
        "import sys; print('%d.%d' % sys.version_info[:2], sys.executable)",
    ];
    let probe = |p: &Path| {
        let p = p.to_path_buf();
        async move {
            let out = answers(&p, PROBE).await?;
            let (found, exe) = out.split_once(' ')?;
            let exe = if exe.is_empty() {
                p
            } else {
                PathBuf::from(exe)
            };
            Some((found.to_string(), exe))
        }
    };
    if let Some(p) = configured {
        return match probe(p).await {
            Some((found, exe)) => {
                if found != version {
                    tracing::info!(%runtime, interpreter = %exe.display(), "running {runtime} functions on Python {found} (--lambda-python)");
                }
                Ok(exe)
            }
            None => Err(format!(
                "sagestack cannot run {runtime} functions here: the interpreter {} (--lambda-python) does not run",
                p.display()
            )),
        };
    }
    for name in [format!("python{version}"), "python3".to_string()] {
        let Some(p) = which(&name) else { continue };
        if let Some((found, exe)) = probe(&p).await {
            if found != version {
                tracing::info!(%runtime, interpreter = %exe.display(), "python{version} is not available; running {runtime} functions on Python {found}, the nearest found (set --lambda-python to choose)");
            }
            return Ok(exe);
        }
    }
    Err(format!(
        "sagestack cannot run {runtime} functions here: neither python{version} nor python3 runs from PATH (set --lambda-python)"
    ))
}

/// What `program args` prints (trimmed) when it exits successfully within 10 s.
async fn answers(program: &Path, args: &[&str]) -> Option<String> {
    let run = tokio::process::Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(10), run)
        .await
        .ok()?
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The first executable named `name` on PATH.
fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

fn error_payload(error_type: &str, message: &str) -> Bytes {
    Bytes::from(serde_json::json!({"errorType": error_type, "errorMessage": message}).to_string())
}

fn failure(
    spec: &FunctionSpec,
    request_id: &str,
    error_type: &str,
    message: String,
    mut log_lines: Vec<String>,
    log_stream: String,
) -> Outcome {
    log_lines.push(format!(
        "START RequestId: {request_id} Version: {}",
        spec.version
    ));
    log_lines.push(format!("[ERROR] {error_type}: {message}"));
    log_lines.push(format!("END RequestId: {request_id}"));
    Outcome {
        payload: error_payload(error_type, &message),
        function_error: Some("Unhandled".into()),
        log_lines,
        log_stream,
    }
}

fn write_runtime_files(dir: &Path) -> std::io::Result<()> {
    let files = [
        ("python/bootstrap.py", PYTHON_BOOTSTRAP),
        ("python/cfnresponse.py", PYTHON_CFNRESPONSE),
        ("node/bootstrap.js", NODE_BOOTSTRAP),
        ("node/cfn-response/index.js", NODE_CFN_RESPONSE),
    ];
    for (relative, text) in files {
        let path = dir.join(relative);
        if std::fs::read_to_string(&path).is_ok_and(|t| t == text) {
            continue;
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, text)?;
    }
    Ok(())
}

/// Stops idle workers older than the idle timeout, every few seconds.
async fn reap(inner: Arc<Inner>) {
    let every =
        (inner.config.idle_timeout / 4).clamp(Duration::from_millis(100), Duration::from_secs(30));
    loop {
        tokio::time::sleep(every).await;
        let mut pools = inner.pools.lock().await;
        for pool in pools.values_mut() {
            pool.idle
                .retain(|w| w.last_used.elapsed() < inner.config.idle_timeout);
        }
        // Forget pools nobody uses (an old configuration after an update).
        pools.retain(|_, p| {
            !p.idle.is_empty() || p.slots.available_permits() < inner.config.per_function.max(1)
        });
    }
}
