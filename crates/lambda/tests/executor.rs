//! The executor's promises, with real Python processes and no server: warm workers are
//! reused, concurrency is bounded per function (invocations beyond it wait), idle workers
//! are stopped, and a new code version never runs on an old worker.

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use bytes::Bytes;
use sagestack_engine::SystemClock;
use sagestack_lambda::functions::{CodeInput, CreateFunctionInput};
use sagestack_lambda::{Executor, Functions, Invoker, NoLogs, RuntimeConfig, Scope};

const CODE: &str = "import os, time\n\
def handler(event, context):\n    time.sleep(event.get('sleep', 0))\n    return {'pid': os.getpid(), 'v': VERSION}\n";

fn package(version: u32) -> String {
    let mut out = std::io::Cursor::new(Vec::new());
    let mut zip = zip::ZipWriter::new(&mut out);
    zip.start_file("app.py", zip::write::SimpleFileOptions::default())
        .unwrap();
    zip.write_all(format!("VERSION = {version}\n{CODE}").as_bytes())
        .unwrap();
    zip.finish().unwrap();
    base64::engine::general_purpose::STANDARD.encode(out.into_inner())
}

async fn invoker(dir: &std::path::Path, per_function: usize, idle: Duration) -> Invoker {
    let store: Arc<dyn sagestack_store::Store> = Arc::new(
        sagestack_store::SqliteStore::open(&dir.join("db"))
            .await
            .unwrap(),
    );
    let scope = Scope {
        region: "us-east-1".into(),
        account_id: "123456789012".into(),
    };
    let functions = Arc::new(Functions::new(
        store.clone(),
        store,
        Arc::new(SystemClock),
        scope,
        dir.join("code"),
    ));
    let executor = Executor::new(RuntimeConfig {
        python: None,
        node: None,
        endpoint_url: "http://127.0.0.1:9".into(),
        region: "us-east-1".into(),
        credentials: ("k".into(), "s".into()),
        max_workers: 16,
        per_function,
        idle_timeout: idle,
        runtime_dir: dir.join("runtime"),
    })
    .unwrap();
    Invoker::new(functions, executor, Arc::new(NoLogs))
}

async fn create(invoker: &Invoker, name: &str) {
    invoker
        .functions()
        .create(CreateFunctionInput {
            function_name: name.into(),
            runtime: Some("python3.12".into()),
            role: "arn:aws:iam::123456789012:role/r".into(),
            handler: Some("app.handler".into()),
            code: CodeInput {
                zip_file: Some(package(1)),
                ..CodeInput::default()
            },
            description: None,
            timeout: Some(10),
            memory_size: None,
            publish: false,
            environment: None,
            package_type: None,
            tags: Default::default(),
            architectures: None,
            ephemeral_storage: None,
            tracing_config: None,
            layers: Vec::new(),
            logging_config: None,
            other: Default::default(),
        })
        .await
        .unwrap();
}

async fn call(invoker: &Invoker, name: &str, sleep: f64) -> serde_json::Value {
    let spec = invoker.spec(name, None).await.unwrap();
    let id = uuid::Uuid::new_v4().to_string();
    let payload = Bytes::from(serde_json::json!({ "sleep": sleep }).to_string());
    let done = invoker.run(&spec, &id, payload, None).await;
    assert!(
        done.function_error.is_none(),
        "{}",
        String::from_utf8_lossy(&done.payload)
    );
    serde_json::from_slice(&done.payload).unwrap()
}

fn alive(pid: u64) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| !s.contains(") Z "))
        .unwrap_or(false)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn warm_reuse_bounded_concurrency_idle_reaping_and_new_code() {
    let dir = tempfile::tempdir().unwrap();
    let invoker = Arc::new(invoker(dir.path(), 2, Duration::from_millis(400)).await);
    create(&invoker, "f").await;

    // Warm: the second invocation runs in the first one's process.
    let first = call(&invoker, "f", 0.0).await;
    let second = call(&invoker, "f", 0.0).await;
    assert_eq!(first["pid"], second["pid"]);

    // Four at once with two workers allowed: two waves, two distinct processes.
    let started = Instant::now();
    let calls: Vec<_> = (0..4)
        .map(|_| {
            let invoker = invoker.clone();
            tokio::spawn(async move { call(&invoker, "f", 0.4).await })
        })
        .collect();
    let mut pids = std::collections::BTreeSet::new();
    for c in calls {
        pids.insert(c.await.unwrap()["pid"].as_u64().unwrap());
    }
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(800),
        "{took:?}: more than 2 ran at once"
    );
    assert_eq!(pids.len(), 2, "{pids:?}");

    // New code: the next invocation runs it, in a new process.
    invoker
        .functions()
        .update_code(
            "f",
            &CodeInput {
                zip_file: Some(package(2)),
                ..CodeInput::default()
            },
            None,
            false,
            None,
        )
        .await
        .unwrap();
    let updated = call(&invoker, "f", 0.0).await;
    assert_eq!(updated["v"], 2);
    assert!(!pids.contains(&updated["pid"].as_u64().unwrap()));

    // Idle workers are stopped after the idle timeout.
    let pid = updated["pid"].as_u64().unwrap();
    assert!(alive(pid));
    let deadline = Instant::now() + Duration::from_secs(5);
    while alive(pid) {
        assert!(Instant::now() < deadline, "idle worker {pid} still runs");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
