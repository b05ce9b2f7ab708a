//! Test support for the end-to-end tests in `tests/`: `tests/sdk.rs` (aws-sdk-sagemaker)
//! and `tests/cloudformation.rs` (aws-sdk-cloudformation) drive a real `sagestack serve`
//! process started by [`start`].
//!
//! The binary is taken from `SAGESTACK_BIN`, or looked up next to the running test's own
//! executable (`<target>/debug/deps/<test>-* -> <target>/debug/sagestack`) and built with
//! `cargo build -p sagestack` when missing.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The `sagestack` binary to run.
pub fn binary() -> PathBuf {
    if let Ok(p) = std::env::var("SAGESTACK_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().unwrap().parent().unwrap();
    let bin = profile_dir.join("sagestack");
    if !bin.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "-p", "sagestack", "--bin", "sagestack"])
            .env("CARGO_TARGET_DIR", profile_dir.parent().unwrap())
            .status()
            .unwrap();
        assert!(status.success(), "building the sagestack binary failed");
    }
    bin
}

/// A running server on a free loopback port with a fresh data directory; killed on drop.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:<port>`, for the SDK's `endpoint_url`.
    pub url: String,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `sagestack serve` on the embedded store and waits until it accepts connections.
pub fn start() -> Server {
    start_with(&[])
}

/// [`start`] with more `serve` flags (e.g. `--auth sigv4`).
pub fn start_with(flags: &[&str]) -> Server {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let child = Command::new(binary())
        .args(["serve", "--port", &port.to_string(), "--data-dir"])
        .arg(dir.path())
        .args(flags)
        .env_remove("SAGESTACK_DATABASE_URL")
        // Deleted projects disappear as soon as their deletion completes.
        .env("SAGESTACK_DELETED_PROJECT_RETENTION", "0")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "server did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    Server {
        child,
        url: format!("http://127.0.0.1:{port}"),
        _dir: dir,
    }
}

/// Credentials every SDK client here signs with; SageMaker reports the key id as the
/// caller's principal.
pub const ACCESS_KEY: &str = "AKIDSDKTEST";

/// A client of the AWS SDK crate `$sdk` (e.g. `aws_sdk_sagemaker`) for the server at
/// `$url`: plain HTTP, us-east-1, the test credentials (or `$key`/`$secret`).
#[macro_export]
macro_rules! sdk_client {
    ($sdk:ident, $url:expr) => {
        $crate::sdk_client!($sdk, $url, $crate::ACCESS_KEY, "secret")
    };
    ($sdk:ident, $url:expr, $key:expr, $secret:expr) => {{
        let http = aws_smithy_http_client::Builder::new().build_http();
        let config = $sdk::Config::builder()
            .behavior_version($sdk::config::BehaviorVersion::latest())
            .endpoint_url($url)
            .region($sdk::config::Region::new("us-east-1"))
            .credentials_provider($sdk::config::Credentials::new(
                $key, $secret, None, None, "test",
            ))
            .http_client(http)
            .build();
        $sdk::Client::from_conf(config)
    }};
}
