//! One execution environment: a child process running the function's runtime, its
//! Runtime API on a loopback port, and its output captured line by line.
//!
//! The process's stdout and stderr share one pipe, so its lines stay in the order it
//! wrote them. Our bootstraps print a marker line (`\x1eSAGESTACK-END <request id>`)
//! after each invocation, once the function's own output is flushed: the invoker waits
//! for it so that an invocation's log is complete when the invocation is answered. A
//! `provided` runtime prints no marker; its log is what arrived by the time it answered.
//!
//! Dropping a worker kills its process and stops its Runtime API.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::{Mutex, Notify, mpsc, oneshot};
use tokio::task::JoinHandle;

use super::api::{Invocation, Job, Reply, RuntimeApi};

/// The marker our bootstraps print after each invocation's output.
pub const END_MARKER: &str = "\u{1e}SAGESTACK-END ";
/// How long to wait for the end marker once the runtime has answered.
const MARKER_WAIT: Duration = Duration::from_millis(500);
/// Lines kept from a worker's output between invocations (init output, stray lines).
const MAX_PENDING_LINES: usize = 10_000;
/// Longest line kept (CloudWatch Logs' event size limit, 256 KB); the rest is dropped.
const MAX_LINE_BYTES: usize = 256 * 1024;
/// Output kept between invocations' reads, in bytes: a chatty function loses its oldest
/// lines rather than growing the server.
const MAX_PENDING_BYTES: usize = 4 * 1024 * 1024;

/// How to start a worker.
pub struct Launch {
    pub program: PathBuf,
    pub args: Vec<String>,
    pub env: BTreeMap<String, String>,
    pub cwd: PathBuf,
}

/// Output lines and the end markers seen.
#[derive(Default)]
struct Output {
    lines: std::collections::VecDeque<String>,
    /// Bytes in `lines`, kept under [`MAX_PENDING_BYTES`] (oldest lines dropped).
    bytes: usize,
    ended: Option<String>,
}

pub struct Worker {
    child: Child,
    jobs: mpsc::Sender<Job>,
    api: Arc<RuntimeApi>,
    server: JoinHandle<()>,
    reader: JoinHandle<()>,
    output: Arc<(Mutex<Output>, Notify)>,
    pub log_stream: String,
    pub started: Instant,
    pub last_used: Instant,
    /// Invocations run; 0 until the first one (a cold start).
    pub uses: u64,
}

/// How an invocation ended, as the worker saw it.
pub enum Ended {
    Reply(Reply),
    /// No answer within the timeout; the worker must be discarded.
    TimedOut,
    /// The process exited before answering (its exit status).
    Exited(String),
}

impl Worker {
    /// Starts the process and its Runtime API. The runtime initializes on its own and
    /// then asks for the first invocation.
    pub async fn start(launch: Launch, log_stream: String) -> std::io::Result<Worker> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let (jobs, receiver) = mpsc::channel(1);
        let api = RuntimeApi::new(receiver);
        let router = api.clone().router();
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        let (read_end, write_end) = std::io::pipe()?;
        let mut command = Command::new(&launch.program);
        command
            .args(&launch.args)
            .env_clear()
            .envs(&launch.env)
            .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
            .current_dir(&launch.cwd)
            .stdin(Stdio::null())
            .stdout(Stdio::from(write_end.try_clone()?))
            .stderr(Stdio::from(write_end))
            .kill_on_drop(true);
        let child = match command.spawn() {
            Ok(child) => child,
            Err(e) => {
                server.abort();
                return Err(e);
            }
        };
        // The parent's copies of the write end are gone with `command`, so the pipe ends
        // when the process (and any children it left holding it) exits.
        drop(command);
        let output: Arc<(Mutex<Output>, Notify)> = Arc::default();
        let reader = tokio::spawn(read_lines(read_end, output.clone()));
        let now = Instant::now();
        Ok(Worker {
            child,
            jobs,
            api,
            server,
            reader,
            output,
            log_stream,
            started: now,
            last_used: now,
            uses: 0,
        })
    }

    /// When the runtime took the last invocation (see [`RuntimeApi::taken_at`]).
    pub fn taken_at(&self) -> Option<Instant> {
        *self.api.taken_at.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether the process is still running.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// The lines written since the last call (init output, or an invocation's).
    pub async fn take_lines(&self) -> Vec<String> {
        let mut out = self.output.0.lock().await;
        out.bytes = 0;
        std::mem::take(&mut out.lines).into()
    }

    /// The process's peak resident memory in MB, where the OS says (Linux).
    pub fn max_memory_mb(&self) -> Option<u64> {
        let pid = self.child.id()?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
        let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kb.div_ceil(1024))
    }

    /// Runs one invocation: hands the job to the runtime and waits for its answer, the
    /// process's exit, or `timeout`, whichever comes first.
    pub async fn run(
        &mut self,
        invocation: Invocation,
        timeout: Duration,
        waits_for_marker: bool,
    ) -> Ended {
        let (reply, reply_rx) = oneshot::channel();
        let request_id = invocation.request_id.clone();
        self.uses += 1;
        if self.jobs.send(Job { invocation, reply }).await.is_err() {
            return Ended::Exited("the runtime API stopped".into());
        }
        let ended = tokio::select! {
            reply = reply_rx => match reply {
                Ok(reply) => Ended::Reply(reply),
                Err(_) => Ended::Exited("the runtime API stopped".into()),
            },
            status = self.child.wait() => {
                let status = status.map(|s| describe_exit(&s)).unwrap_or_else(|e| e.to_string());
                // A runtime that reported an init error and exited: that error is the answer.
                match self.api.init_error.lock().await.take() {
                    Some(body) => Ended::Reply(Reply::InitError(body)),
                    None => Ended::Exited(status),
                }
            }
            _ = tokio::time::sleep(timeout) => Ended::TimedOut,
        };
        self.last_used = Instant::now();
        match &ended {
            Ended::Reply(_) if waits_for_marker => self.wait_for_marker(&request_id).await,
            // Let the reader drain what the process wrote before it stopped.
            _ => tokio::time::sleep(Duration::from_millis(5)).await,
        }
        ended
    }

    async fn wait_for_marker(&self, request_id: &str) {
        let deadline = tokio::time::Instant::now() + MARKER_WAIT;
        loop {
            let notified = self.output.1.notified();
            if self.output.0.lock().await.ended.as_deref() == Some(request_id) {
                return;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return;
            }
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        self.server.abort();
        self.reader.abort();
    }
}

fn describe_exit(status: &std::process::ExitStatus) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            return format!("signal: {signal}");
        }
    }
    match status.code() {
        Some(code) => format!("exit status {code}"),
        None => "exited".into(),
    }
}

async fn read_lines(read_end: std::io::PipeReader, output: Arc<(Mutex<Output>, Notify)>) {
    let fd: std::os::fd::OwnedFd = read_end.into();
    let Ok(pipe) = tokio::net::unix::pipe::Receiver::from_owned_fd(fd) else {
        return;
    };
    let mut reader = BufReader::new(pipe);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        if read_line(&mut reader, &mut buf).await.is_none() {
            return;
        }
        // Functions may print anything; invalid UTF-8 is kept, replaced.
        let text = String::from_utf8_lossy(&buf);
        let line = text.trim_end_matches(['\n', '\r']).to_string();
        let mut out = output.0.lock().await;
        if let Some(id) = line.strip_prefix(END_MARKER) {
            out.ended = Some(id.trim().to_string());
        } else {
            out.bytes += line.len();
            out.lines.push_back(line);
            while out.lines.len() > MAX_PENDING_LINES || out.bytes > MAX_PENDING_BYTES {
                let Some(old) = out.lines.pop_front() else {
                    break;
                };
                out.bytes -= old.len();
            }
        }
        drop(out);
        output.1.notify_waiters();
    }
}

/// Reads one line into `buf` (without its end), keeping at most [`MAX_LINE_BYTES`] of it
/// and discarding the rest, so a function that prints without newlines cannot grow the
/// server's memory. `None` at the end of the output.
async fn read_line<R: tokio::io::AsyncBufRead + Unpin>(
    reader: &mut R,
    buf: &mut Vec<u8>,
) -> Option<()> {
    let mut any = false;
    loop {
        let chunk = reader.fill_buf().await.ok()?;
        if chunk.is_empty() {
            return any.then_some(());
        }
        any = true;
        let (take, done) = match chunk.iter().position(|b| *b == b'\n') {
            Some(i) => (i + 1, true),
            None => (chunk.len(), false),
        };
        let room = MAX_LINE_BYTES.saturating_sub(buf.len());
        buf.extend_from_slice(&chunk[..take.min(room)]);
        reader.consume(take);
        if done {
            return Some(());
        }
    }
}
