//! `sagestack-bench`: a closed-loop load generator for AWS JSON 1.1 endpoints.
//!
//! Each of `--connections` keep-alive HTTP/1.1 connections sends one request, waits
//! for its response, and sends the next, until `--duration` has passed or
//! `--max-requests` have been sent in total. Only loopback targets are accepted.
//! Prints one JSON object: throughput, latency percentiles, error count.
//!
//! `seed` creates projects (or moto model package groups) concurrently; `provision`
//! creates projects from a template and times each until it is provisioned
//! ([`provision`]).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::{Parser, Subcommand};
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;

mod provision;

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Send one request body repeatedly and report throughput.
    Load {
        #[command(flatten)]
        request: RequestArgs,
        /// `{i}` in the body is replaced by a per-request counter modulo this.
        #[arg(long, default_value_t = 1)]
        spread: u64,
        #[arg(long, default_value_t = 16)]
        connections: usize,
        /// Seconds to run.
        #[arg(long, default_value_t = 10.0)]
        duration: f64,
        /// Stop after this many requests in total.
        #[arg(long, default_value_t = 10_000_000)]
        max_requests: u64,
        /// Seconds of warm-up not counted.
        #[arg(long, default_value_t = 1.0)]
        warmup: f64,
    },
    /// Create `count` resources concurrently using the body template (`{i}` = index).
    Seed {
        #[command(flatten)]
        request: RequestArgs,
        #[arg(long)]
        count: u64,
        #[arg(long, default_value_t = 32)]
        connections: usize,
    },
    /// Create `count` projects from a template, each timed from CreateProject until
    /// DescribeProject shows it `CreateCompleted` (or `CreateFailed`).
    Provision(provision::Args),
}

/// The request `load` and `seed` send over and over (the same flags for both).
#[derive(clap::Args)]
struct RequestArgs {
    /// Target address (loopback only), e.g. 127.0.0.1:4566.
    #[arg(long)]
    addr: SocketAddr,
    /// X-Amz-Target header, e.g. SageMaker.DescribeProject.
    #[arg(long)]
    target: String,
    /// JSON request body; `{i}` is replaced by a number, as the command says.
    #[arg(long)]
    body: String,
    /// Sign every request for real with this key (`AKID:SECRET`, SigV4 with aws-sigv4),
    /// as an SDK does; without it, requests carry a signature of the right shape only.
    #[arg(long, value_name = "AKID:SECRET")]
    sign: Option<String>,
}

impl RequestArgs {
    /// Checks the target is loopback, sets the signing key, and gives the address,
    /// target and body.
    fn prepare(self) -> (SocketAddr, String, String) {
        check_loopback(self.addr);
        use_signing_key(self.sign);
        (self.addr, self.target, self.body)
    }
}

/// The key requests are signed with (`--sign`), set once at start-up: a process-wide
/// setting of this command-line tool, like its clock.
static SIGNING_KEY: std::sync::OnceLock<(String, String)> = std::sync::OnceLock::new();

/// The SigV4 service name of an `X-Amz-Target` (`SageMaker.X` is signed for `sagemaker`).
fn signing_name(target: &str) -> &'static str {
    match target.split('.').next() {
        Some("AmazonSSM") => "ssm",
        Some("AWS242ServiceCatalogService") => "servicecatalog",
        Some("AWSEvents") => "events",
        _ => "sagemaker",
    }
}

/// Sets [`SIGNING_KEY`] from `--sign AKID:SECRET`.
fn use_signing_key(sign: Option<String>) {
    if let Some(pair) = sign {
        let (akid, secret) = pair.split_once(':').expect("--sign takes AKID:SECRET");
        let _ = SIGNING_KEY.set((akid.to_owned(), secret.to_owned()));
    }
}

/// The `authorization` and `x-amz-date` headers of a request, signed with
/// [`SIGNING_KEY`] when set, else of SigV4's shape with a fixed date.
fn signature_headers(addr: SocketAddr, target: &str, body: &[u8]) -> Vec<(String, String)> {
    let Some((akid, secret)) = SIGNING_KEY.get() else {
        // The scope names the target's service: servers that route by it (moto) need it.
        return vec![
            (
                "authorization".into(),
                format!(
                    "AWS4-HMAC-SHA256 Credential=AKIDBENCH/20250101/us-east-1/{}/aws4_request, SignedHeaders=host;x-amz-date, Signature=0",
                    signing_name(target)
                ),
            ),
            ("x-amz-date".into(), "20250101T000000Z".into()),
        ];
    };
    use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
    let identity = aws_credential_types::Credentials::new(akid, secret, None, None, "bench").into();
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name(signing_name(target))
        .time(std::time::SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .expect("signing parameters")
        .into();
    let host = addr.to_string();
    let headers = [
        ("host", host.as_str()),
        ("x-amz-target", target),
        ("content-type", "application/x-amz-json-1.1"),
    ];
    let request = SignableRequest::new(
        "POST",
        format!("http://{host}/"),
        headers.into_iter(),
        SignableBody::Bytes(body),
    )
    .expect("signable request");
    let (instructions, _) = sign(request, &params).expect("sign").into_parts();
    let (headers, _) = instructions.into_parts();
    headers
        .into_iter()
        .map(|h| (h.name().to_string(), h.value().to_string()))
        .collect()
}

type Conn = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

async fn connect(addr: SocketAddr) -> Conn {
    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream.set_nodelay(true).ok();
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::spawn(conn);
    sender
}

/// Sends one request; `Ok((status, reusable))`, where `reusable` is false when the
/// server closes the connection after the response (HTTP/1.0 servers such as
/// werkzeug's, used by moto_server), so the caller reconnects before the next one.
async fn send(
    conn: &mut Conn,
    addr: SocketAddr,
    target: &str,
    body: String,
) -> Result<(u16, bool), String> {
    send_read(conn, addr, target, body)
        .await
        .map(|(status, reusable, _)| (status, reusable))
}

/// [`send`], also returning the response body.
async fn send_read(
    conn: &mut Conn,
    addr: SocketAddr,
    target: &str,
    body: String,
) -> Result<(u16, bool, Bytes), String> {
    conn.ready().await.map_err(|e| e.to_string())?;
    let mut req = Request::post("/")
        .header("host", addr.to_string())
        .header("x-amz-target", target)
        .header("content-type", "application/x-amz-json-1.1");
    // The server refuses requests without a SigV4-shaped signature (and, under
    // `--auth sigv4`, without the right one).
    for (name, value) in signature_headers(addr, target, body.as_bytes()) {
        req = req.header(name, value);
    }
    let req = req
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| e.to_string())?;
    let resp = conn.send_request(req).await.map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    let closes = resp.version() == hyper::Version::HTTP_10
        || resp
            .headers()
            .get(hyper::header::CONNECTION)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"close"));
    let body = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    Ok((status, !closes, body))
}

fn check_loopback(addr: SocketAddr) {
    let ok = match addr.ip() {
        IpAddr::V4(ip) => ip.is_loopback(),
        IpAddr::V6(ip) => ip.is_loopback(),
    };
    if !ok {
        eprintln!("refusing to load a non-loopback address: {addr}");
        std::process::exit(2);
    }
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i] as f64 / 1000.0
}

#[tokio::main]
async fn main() {
    match Cli::parse().command {
        Command::Load {
            request,
            spread,
            connections,
            duration,
            max_requests,
            warmup,
        } => {
            let (addr, target, body) = request.prepare();
            let sent = Arc::new(AtomicU64::new(0));
            let start = Instant::now();
            let measure_from = start + Duration::from_secs_f64(warmup);
            let end = measure_from + Duration::from_secs_f64(duration);
            let target = Arc::new(target);
            let body = Arc::new(body);
            let mut tasks = Vec::new();
            for _ in 0..connections {
                let (sent, target, body) = (sent.clone(), target.clone(), body.clone());
                tasks.push(tokio::spawn(async move {
                    let mut conn: Option<Conn> = None;
                    let mut latencies_us: Vec<u32> = Vec::new();
                    let mut errors = 0u64;
                    loop {
                        let n = sent.fetch_add(1, Ordering::Relaxed);
                        let now = Instant::now();
                        if n >= max_requests || now >= end {
                            break;
                        }
                        let b = body.replace("{i}", &(n % spread).to_string());
                        // A reconnect (after the server closed the connection) counts
                        // toward the request's time.
                        let t0 = Instant::now();
                        let c = match conn.as_mut() {
                            Some(c) => c,
                            None => conn.insert(connect(addr).await),
                        };
                        let r = send(c, addr, &target, b).await;
                        let counted = t0 >= measure_from;
                        let reusable = match r {
                            Ok((200, reusable)) => {
                                if counted {
                                    latencies_us.push(t0.elapsed().as_micros() as u32);
                                }
                                reusable
                            }
                            Ok((_, reusable)) => {
                                errors += counted as u64;
                                reusable
                            }
                            Err(_) => {
                                errors += counted as u64;
                                false
                            }
                        };
                        if !reusable {
                            conn = None;
                        }
                    }
                    (latencies_us, errors)
                }));
            }
            let mut all = Vec::new();
            let mut errors = 0;
            for t in tasks {
                let (l, e) = t.await.unwrap();
                all.extend(l);
                errors += e;
            }
            let measured = (Instant::now().min(end) - measure_from).as_secs_f64();
            all.sort_unstable();
            let out = serde_json::json!({
                "target": *target,
                "connections": connections,
                "requests": all.len(),
                "errors": errors,
                "seconds": measured,
                "rps": all.len() as f64 / measured,
                "p50_ms": percentile(&all, 0.50),
                "p99_ms": percentile(&all, 0.99),
            });
            println!("{out}");
        }
        Command::Provision(args) => provision::run(args).await,
        Command::Seed {
            request,
            count,
            connections,
        } => {
            let (addr, target, body) = request.prepare();
            let next = Arc::new(AtomicU64::new(0));
            let failures = Arc::new(AtomicU64::new(0));
            let start = Instant::now();
            let target = Arc::new(target);
            let body = Arc::new(body);
            let mut tasks = Vec::new();
            for _ in 0..connections {
                let (next, failures, target, body) =
                    (next.clone(), failures.clone(), target.clone(), body.clone());
                tasks.push(tokio::spawn(async move {
                    let mut conn: Option<Conn> = None;
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= count {
                            break;
                        }
                        let b = body.replace("{i}", &i.to_string());
                        let c = match conn.as_mut() {
                            Some(c) => c,
                            None => conn.insert(connect(addr).await),
                        };
                        match send(c, addr, &target, b).await {
                            Ok((status, reusable)) => {
                                if status != 200 {
                                    failures.fetch_add(1, Ordering::Relaxed);
                                }
                                if !reusable {
                                    conn = None;
                                }
                            }
                            Err(_) => {
                                failures.fetch_add(1, Ordering::Relaxed);
                                conn = None;
                            }
                        }
                    }
                }));
            }
            for t in tasks {
                t.await.unwrap();
            }
            let secs = start.elapsed().as_secs_f64();
            println!(
                "{}",
                serde_json::json!({"seeded": count, "failures": failures.load(Ordering::Relaxed),
                                   "seconds": secs, "per_second": count as f64 / secs})
            );
        }
    }
}
