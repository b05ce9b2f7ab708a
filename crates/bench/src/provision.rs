//! `provision`: projects fully provisioned per second, and the time each one takes.
//!
//! `--concurrency` workers each loop: `CreateProject` (name `<prefix>-<i>`, one
//! `CfnTemplateProvider` with `--template-url` and `--parameters`, or
//! `ServiceCatalogProvisioningDetails` with `--product-id`), then `DescribeProject`
//! every `--poll-us` microseconds until the status is terminal. Two latencies per project:
//! * client: from sending CreateProject to the first DescribeProject that shows the
//!   terminal status (an over-estimate by up to one poll interval plus one request);
//! * server: `LastModifiedTime - CreationTime` as the server recorded them (the moment
//!   the provisioner wrote the terminal status), free of polling error.
//!
//! Throughput is projects reaching a terminal status divided by the wall time from the
//! first CreateProject to the last terminal DescribeProject.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::{Conn, check_loopback, connect, percentile, send_read};

#[derive(clap::Args)]
pub struct Args {
    /// Target address (loopback only), e.g. 127.0.0.1:4566.
    #[arg(long)]
    addr: SocketAddr,
    /// The `TemplateURL` of every project (the S3 path).
    #[arg(long, required_unless_present = "product_id")]
    template_url: Option<String>,
    /// Provision from this Service Catalog product instead (the Service Catalog path);
    /// its latest active provisioning artifact and only launch path are used.
    #[arg(long, conflicts_with = "template_url")]
    product_id: Option<String>,
    /// The `TemplateName` of every project.
    #[arg(long, default_value = "bench")]
    template_name: String,
    /// Template parameters as a JSON object of strings.
    #[arg(long, default_value = "{}")]
    parameters: String,
    #[arg(long, default_value_t = 200)]
    count: u64,
    /// Projects in flight at once.
    #[arg(long, default_value_t = 1)]
    concurrency: usize,
    /// DescribeProject poll interval.
    #[arg(long, default_value_t = 500)]
    poll_us: u64,
    /// Project name prefix (names must be new on the server).
    #[arg(long, default_value = "bench")]
    prefix: String,
    /// Give up on a project after this many seconds.
    #[arg(long, default_value_t = 60.0)]
    timeout: f64,
}

const TERMINAL: [&str; 2] = ["CreateCompleted", "CreateFailed"];

struct Outcome {
    client_us: u32,
    server_us: u32,
    completed: bool,
    message: Option<String>,
}

async fn call(conn: &mut Option<Conn>, addr: SocketAddr, op: &str, body: String) -> Value {
    let c = match conn.as_mut() {
        Some(c) => c,
        None => conn.insert(connect(addr).await),
    };
    match send_read(c, addr, &format!("SageMaker.{op}"), body).await {
        Ok((status, reusable, bytes)) => {
            if !reusable {
                *conn = None;
            }
            let v: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            if status != 200 {
                panic!("{op} answered {status}: {v}");
            }
            v
        }
        Err(e) => panic!("{op} failed: {e}"),
    }
}

async fn one(args: &Args, params: &Value, conn: &mut Option<Conn>, i: u64) -> Outcome {
    let name = format!("{}-{i}", args.prefix);
    let body = match &args.product_id {
        Some(product) => json!({
            "ProjectName": name,
            "ServiceCatalogProvisioningDetails": {
                "ProductId": product,
                "ProvisioningParameters": params,
            },
        }),
        None => json!({
            "ProjectName": name,
            "TemplateProviders": [{"CfnTemplateProvider": {
                "TemplateName": args.template_name,
                "TemplateURL": args.template_url,
                "Parameters": params,
            }}],
        }),
    }
    .to_string();
    let t0 = Instant::now();
    call(conn, args.addr, "CreateProject", body).await;
    let describe = json!({ "ProjectName": name }).to_string();
    let deadline = t0 + Duration::from_secs_f64(args.timeout);
    loop {
        let v = call(conn, args.addr, "DescribeProject", describe.clone()).await;
        let status = v["ProjectStatus"].as_str().unwrap_or_default();
        if TERMINAL.contains(&status) {
            let client_us = t0.elapsed().as_micros() as u32;
            let created = v["CreationTime"].as_f64().unwrap_or(0.0);
            let modified = v["LastModifiedTime"].as_f64().unwrap_or(created);
            let message = v["TemplateProviderDetails"][0]["CfnTemplateProviderDetail"]
                ["StackDetail"]["StatusMessage"]
                .as_str()
                .map(str::to_owned);
            return Outcome {
                client_us,
                server_us: ((modified - created).max(0.0) * 1e6) as u32,
                completed: status == "CreateCompleted",
                message,
            };
        }
        if Instant::now() > deadline {
            panic!("project {name} still {status} after {}s", args.timeout);
        }
        tokio::time::sleep(Duration::from_micros(args.poll_us)).await;
    }
}

pub async fn run(args: Args) {
    check_loopback(args.addr);
    let params: Value = serde_json::from_str::<serde_json::Map<String, Value>>(&args.parameters)
        .map(|m| {
            Value::Array(
                m.into_iter()
                    .map(|(k, v)| json!({"Key": k, "Value": v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string())}))
                    .collect(),
            )
        })
        .expect("--parameters must be a JSON object");
    let args = Arc::new(args);
    let params = Arc::new(params);
    let next = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..args.concurrency.max(1) {
        let (args, params, next) = (args.clone(), params.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut conn = None;
            let mut out = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= args.count {
                    break;
                }
                out.push(one(&args, &params, &mut conn, i).await);
            }
            out
        }));
    }
    let mut outcomes = Vec::new();
    for t in tasks {
        outcomes.extend(t.await.expect("worker"));
    }
    let wall = start.elapsed().as_secs_f64();
    let failed: Vec<&Outcome> = outcomes.iter().filter(|o| !o.completed).collect();
    let mut client: Vec<u32> = outcomes.iter().map(|o| o.client_us).collect();
    let mut server: Vec<u32> = outcomes.iter().map(|o| o.server_us).collect();
    client.sort_unstable();
    server.sort_unstable();
    let out = json!({
        "projects": outcomes.len(),
        "failed": failed.len(),
        "first_failure": failed.first().and_then(|o| o.message.clone()),
        "concurrency": args.concurrency,
        "seconds": wall,
        "projects_per_s": outcomes.len() as f64 / wall,
        "client_p50_ms": percentile(&client, 0.50),
        "client_p99_ms": percentile(&client, 0.99),
        "client_max_ms": percentile(&client, 1.0),
        "server_p50_ms": percentile(&server, 0.50),
        "server_p99_ms": percentile(&server, 0.99),
    });
    println!("{out}");
}
