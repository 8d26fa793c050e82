//! Shared by the hostile-request and load tests: spawn a function binary on loopback in local
//! mode, a raw HTTP/1.1 client (so malformed requests are sent exactly as written), and RSS
//! from /proc; the local JWKS server and signed OIDC tokens are `bacca_runtime::test_support`.
#![allow(
    dead_code,
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    missing_docs
)] // test helpers

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

#[allow(unused_imports)] // each test binary uses some
pub use bacca_runtime::test_support::{
    b64, b64url, good_claims, jwks_server, now, unb64, Jwks, Signer, AUDIENCE, EMAIL,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The three Cloud Run functions.
pub const FUNCTIONS: [&str; 3] = ["bacca-fetch", "bacca-anonymize", "bacca-expire"];

/// A function binary next to the test executable (`<target>/<profile>/bacca-fetch`).
///
/// Building it is the test runner's job: scripts/test.sh runs `cargo build --workspace --bins`
/// before the tests (nextest alone builds a package's binaries only for that package's own
/// integration tests); with `cargo test -p bacca-tests` run
/// `cargo build -p bacca-fetch -p bacca-anonymize -p bacca-expire` first.
/// `BACCA_FUNCTION_BIN_DIR` overrides the directory (e.g. `<target>/release` for load figures).
pub fn binary(name: &str) -> PathBuf {
    if let Some(dir) = std::env::var_os("BACCA_FUNCTION_BIN_DIR").filter(|d| !d.is_empty()) {
        let path = PathBuf::from(dir).join(name);
        assert!(path.is_file(), "{} not found", path.display());
        return path;
    }
    let exe = std::env::current_exe().expect("current exe");
    let mut dir = exe.parent().expect("deps dir").to_path_buf();
    if dir.ends_with("deps") {
        dir.pop();
    }
    let path = dir.join(name);
    assert!(
        path.is_file(),
        "{} not built: run `cargo build -p bacca-fetch -p bacca-anonymize -p bacca-expire` \
         (scripts/test.sh builds it)",
        path.display()
    );
    path
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// A function process in local mode, killed on drop.
pub struct Function {
    pub name: &'static str,
    pub child: tokio::process::Child,
    pub port: u16,
    pub data_dir: tempfile::TempDir,
}

impl Function {
    /// Starts `name` with `PORT`, `BACCA_DATA_DIR` and `extra` env; waits for `/healthz`.
    pub async fn spawn(name: &'static str, extra: &[(&str, String)]) -> Self {
        Self::spawn_logging(name, extra, None).await
    }

    /// Like [`Function::spawn`], with the process's stdout and stderr (its logs) appended to
    /// `log` when given.
    pub async fn spawn_logging(
        name: &'static str,
        extra: &[(&str, String)],
        log: Option<&Path>,
    ) -> Self {
        let data_dir = tempfile::tempdir().expect("tempdir");
        let (child, port) = start_process(name, data_dir.path(), extra, log).await;
        Self {
            name,
            child,
            port,
            data_dir,
        }
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }

    /// True while the process runs.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    pub fn pid(&self) -> u32 {
        self.child.id().expect("pid")
    }

    /// (current RSS, peak RSS) in KiB, from /proc/<pid>/status.
    pub fn rss_kib(&self) -> (u64, u64) {
        rss_kib(self.pid())
    }

    /// Lines in the local dead-letter file.
    pub fn dead_letters(&self) -> Vec<serde_json::Value> {
        dead_letters(self.data_dir.path())
    }

    /// Sends raw bytes on a new connection and reads one response.
    pub async fn send(&self, raw: &[u8]) -> std::io::Result<Response> {
        send_raw(&self.addr(), raw, Duration::from_secs(30)).await
    }

    /// `POST /` with a JSON body and optional bearer token.
    pub async fn post(&self, body: &[u8], token: Option<&str>) -> Response {
        self.send(&post_request(body, token, "application/json"))
            .await
            .expect("post")
    }
}

/// Starts function `name` on a free loopback port in local mode under `data_dir` (`PORT`,
/// `BACCA_DATA_DIR`, `RUST_LOG=warn`, then `extra`), its output appended to `log` or
/// discarded; returns once `/healthz` answers 200. The child is killed on drop.
pub async fn start_process(
    name: &str,
    data_dir: &Path,
    extra: &[(&str, String)],
    log: Option<&Path>,
) -> (tokio::process::Child, u16) {
    let port = free_port();
    let mut cmd = tokio::process::Command::new(binary(name));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("PORT", port.to_string())
        .env("BACCA_DATA_DIR", data_dir)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    match log {
        Some(path) => {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .expect("log file");
            cmd.stdout(file.try_clone().expect("log file")).stderr(file);
        }
        None => {
            cmd.stdout(Stdio::null()).stderr(Stdio::null());
        }
    }
    for (k, v) in extra {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn function");
    let addr = format!("127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let probe = send_raw(
            &addr,
            b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
            Duration::from_secs(30),
        )
        .await;
        if probe.is_ok_and(|r| r.status == 200) {
            break;
        }
        assert!(
            matches!(child.try_wait(), Ok(None)),
            "{name} exited during start-up"
        );
        assert!(Instant::now() < deadline, "{name} did not become healthy");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (child, port)
}

pub fn dead_letters(dir: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(bacca_runtime::env::LocalLayout::new(dir).topic_file("dead-letter"))
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("dead-letter line is JSON"))
        .collect()
}

pub fn rss_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

pub fn post_request(body: &[u8], token: Option<&str>, content_type: &str) -> Vec<u8> {
    let mut raw = format!(
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n",
        body.len()
    );
    if let Some(t) = token {
        raw.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    raw.push_str("Connection: close\r\n\r\n");
    let mut out = raw.into_bytes();
    out.extend_from_slice(body);
    out
}

/// One parsed HTTP/1.1 response.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }

    /// Panics unless HSTS and `Cache-Control: no-store` are present.
    pub fn assert_security_headers(&self, what: &str) {
        let hsts = self.header("strict-transport-security").unwrap_or("");
        assert!(
            hsts.contains("max-age=") && !hsts.contains("max-age=0"),
            "{what}: status {} without HSTS ({:?})",
            self.status,
            self.headers
        );
        assert_eq!(
            self.header("cache-control"),
            Some("no-store"),
            "{what}: status {} without Cache-Control: no-store",
            self.status
        );
    }
}

/// Parses a response from the bytes read so far; `None` until complete.
pub fn parse_response(buf: &[u8]) -> Option<Response> {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&buf[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split_whitespace().nth(1)?.parse().ok()?;
    let headers: BTreeMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let len: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let body = buf.get(end + 4..end + 4 + len)?.to_vec();
    Some(Response {
        status,
        headers,
        body,
    })
}

/// Writes `raw` (ignoring a reset once the server has answered) and reads one response.
pub async fn send_raw(addr: &str, raw: &[u8], timeout: Duration) -> std::io::Result<Response> {
    let mut stream = TcpStream::connect(addr).await?;
    let write = stream.write_all(raw).await;
    read_response(&mut stream, timeout).await.or_else(|e| {
        write?;
        Err(e)
    })
}

/// Reads one response from `stream` within `timeout`.
pub async fn read_response(stream: &mut TcpStream, timeout: Duration) -> std::io::Result<Response> {
    let mut buf = Vec::new();
    let read = async {
        let mut chunk = [0u8; 8192];
        loop {
            if let Some(r) = parse_response(&buf) {
                return Ok(r);
            }
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                return parse_response(&buf).ok_or_else(|| {
                    std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "closed before a response",
                    )
                });
            }
            buf.extend_from_slice(&chunk[..n]);
        }
    };
    tokio::time::timeout(timeout, read)
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "no response"))?
}

/// A Pub/Sub push body (wrapped format) carrying `data`, with attribute `tenant=acme`.
pub fn push_body(data: &serde_json::Value, message_id: &str, attempt: u32) -> Vec<u8> {
    push_body_b64(
        &b64(data.to_string().as_bytes()),
        serde_json::json!({"tenant": "acme"}),
        message_id,
        attempt,
    )
}

/// A Pub/Sub push body (wrapped format) carrying `data`, already base64 (as in a topic file),
/// and `attributes`.
pub fn push_body_b64(
    data: &str,
    attributes: serde_json::Value,
    message_id: &str,
    attempt: u32,
) -> Vec<u8> {
    serde_json::json!({
        "message": {
            "data": data,
            "attributes": attributes,
            "messageId": message_id,
            "publishTime": "2026-11-20T10:15:30Z"
        },
        "subscription": "projects/p/subscriptions/s",
        "deliveryAttempt": attempt
    })
    .to_string()
    .into_bytes()
}

/// The env that turns on push OIDC verification against `jwks`.
pub fn oidc_env(jwks: &Jwks) -> Vec<(&'static str, String)> {
    vec![
        ("BACCA_OIDC_AUDIENCE", AUDIENCE.to_owned()),
        ("BACCA_OIDC_SERVICE_ACCOUNT", EMAIL.to_owned()),
        ("BACCA_OIDC_JWKS_URL", jwks.url.clone()),
    ]
}

/// A valid message for each function: one that its handler settles (ack or dead-letter).
pub fn valid_message(function: &str) -> serde_json::Value {
    match function {
        "bacca-fetch" => serde_json::json!({"tenant": "acme", "source": "no-such-source"}),
        "bacca-anonymize" => serde_json::json!({
            "tenant": "acme", "source": "slack",
            "object": "raw/slack/2026-11-20/missing.jsonl.enc", "generation": 1
        }),
        _ => serde_json::json!({"tenant": "acme"}),
    }
}
