//! The HTTP layer shared by the connectors: one rustls client (TLS 1.2 minimum), per-request
//! timeouts, pacing, bounded retries with jittered exponential back-off honouring
//! `Retry-After` / `X-RateLimit-Reset`, and one audit event per API call.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use bacca_audit::{AuditEvent, AuditSink};
use rand::Rng;
use reqwest::header::HeaderMap;
use serde::{Deserialize, Serialize};
use url::Url;

use crate::{Error, Result};

/// Timeouts, retries and pacing of one connector's HTTP calls.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Timeout of one request, body included, in milliseconds.
    pub timeout_ms: u64,
    /// Attempts per API call (first try included).
    pub max_attempts: u32,
    /// Base of the exponential back-off, in milliseconds.
    pub backoff_base_ms: u64,
    /// Cap of one back-off, in milliseconds.
    pub backoff_max_ms: u64,
    /// Longest `Retry-After` / reset wait honoured in-process, in milliseconds; a longer one
    /// returns [`Error::RateLimited`] so the caller reschedules instead of holding a request.
    pub max_wait_ms: u64,
    /// Minimum interval between two calls, in milliseconds (Slack tiers).
    pub min_interval_ms: u64,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            timeout_ms: default_timeout_ms(),
            max_attempts: 5,
            backoff_base_ms: 500,
            backoff_max_ms: 30_000,
            max_wait_ms: 120_000,
            min_interval_ms: 0,
        }
    }
}

const fn default_timeout_ms() -> u64 {
    30_000
}

impl HttpConfig {
    /// Millisecond back-offs and timeouts for tests against a local mock server.
    pub const fn fast_for_tests() -> Self {
        Self {
            timeout_ms: 500,
            max_attempts: 3,
            backoff_base_ms: 1,
            backoff_max_ms: 5,
            max_wait_ms: 3_000,
            min_interval_ms: 0,
        }
    }
}

/// Builds the shared HTTP client: rustls, TLS 1.2 minimum, at most 3 redirects.
///
/// Build it once and pass clones to every connector (it holds a connection pool).
///
/// # Errors
/// [`Error::Config`] when the TLS backend cannot be initialised.
pub fn http_client() -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .min_tls_version(reqwest::tls::Version::TLS_1_2)
        .connect_timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::limited(3))
        .user_agent(concat!("bacca-connectors/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|_| Error::Config("the HTTP client cannot be built".into()))
}

/// Checks a base URL: `https`, or `http` to a loopback host (tests and the local demo).
///
/// # Errors
/// [`Error::Config`] for anything else.
pub fn check_base_url(raw: &str) -> Result<Url> {
    let url = Url::parse(raw).map_err(|_| Error::Config("the base URL does not parse".into()))?;
    let loopback = matches!(
        url.host_str(),
        Some("localhost" | "127.0.0.1" | "[::1]" | "::1")
    );
    match url.scheme() {
        "https" => Ok(url),
        "http" if loopback => Ok(url),
        _ => Err(Error::Config(
            "the base URL must be https (http only to a loopback host)".into(),
        )),
    }
}

/// A connector's view of the HTTP layer: base URL, tenant, audit sink and retry policy.
#[derive(Debug)]
pub struct Api {
    client: reqwest::Client,
    base: String,
    tenant: String,
    source: &'static str,
    audit: AuditSink,
    config: HttpConfig,
    last_call: Mutex<Option<Instant>>,
}

/// Context shared by every connector constructor.
#[derive(Debug, Clone)]
pub struct ConnectorContext {
    /// The shared HTTP client from [`http_client`].
    pub client: reqwest::Client,
    /// The tenant the calls are made for (audit events).
    pub tenant: String,
    /// Where audit events go.
    pub audit: AuditSink,
    /// Timeouts, retries and pacing.
    pub http: HttpConfig,
}

impl ConnectorContext {
    /// A context with the default HTTP configuration.
    ///
    /// # Errors
    /// [`Error::Config`] when the HTTP client cannot be built.
    pub fn new(tenant: &str, audit: AuditSink) -> Result<Self> {
        Ok(Self {
            client: http_client()?,
            tenant: tenant.to_owned(),
            audit,
            http: HttpConfig::default(),
        })
    }
}

impl Api {
    /// An API rooted at `base` (checked by [`check_base_url`]).
    ///
    /// # Errors
    /// [`Error::Config`] for a base URL that is not https (or http to loopback).
    pub fn new(ctx: &ConnectorContext, source: &'static str, base: &str) -> Result<Self> {
        let url = check_base_url(base)?;
        Ok(Self {
            client: ctx.client.clone(),
            base: url.as_str().trim_end_matches('/').to_owned(),
            tenant: ctx.tenant.clone(),
            source,
            audit: ctx.audit.clone(),
            config: ctx.http.clone(),
            last_call: Mutex::new(None),
        })
    }

    /// The connector name used in errors and audit events.
    pub const fn source_name(&self) -> &'static str {
        self.source
    }

    /// `base` + `path` (`path` starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The underlying client.
    pub const fn client(&self) -> &reqwest::Client {
        &self.client
    }

    async fn pace(&self) {
        if self.config.min_interval_ms == 0 {
            return;
        }
        let interval = Duration::from_millis(self.config.min_interval_ms);
        let wait = {
            let mut last = match self.last_call.lock() {
                Ok(l) => l,
                Err(p) => p.into_inner(),
            };
            let now = Instant::now();
            let next = last.map_or(now, |l| (l + interval).max(now));
            *last = Some(next);
            next.saturating_duration_since(now)
        };
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .config
            .backoff_base_ms
            .saturating_mul(1u64 << attempt.saturating_sub(1).min(20));
        let cap = exp.min(self.config.backoff_max_ms).max(1);
        Duration::from_millis(rand::rng().random_range(cap / 2..=cap))
    }

    fn audit(&self, endpoint: &str, status: u16, records: usize, start: Instant, outcome: &str) {
        let ms = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.audit.emit(
            AuditEvent::new("source_api_call", &self.tenant)
                .field("source", self.source)
                .field("endpoint", endpoint)
                .field("status", status)
                .field("records", records)
                .field("duration_ms", ms)
                .field("outcome", outcome),
        );
    }

    /// Sends the request built by `build` (retrying as configured), then parses the body with
    /// `parse`, which returns the value and the number of records it holds (for the audit
    /// event). `endpoint` is the path template (`/api/v2/incidents`), never a URL with a query.
    ///
    /// # Errors
    /// [`Error::Auth`] on 401/403, [`Error::RateLimited`] or [`Error::Transient`] once the
    /// retries are exhausted, [`Error::Http`] for other statuses, and whatever `parse` returns.
    pub async fn call<T, B, P>(&self, endpoint: &str, build: B, parse: P) -> Result<T>
    where
        B: Fn(&reqwest::Client) -> reqwest::RequestBuilder + Send + Sync,
        P: Fn(&[u8], &HeaderMap) -> Result<(T, usize)> + Send + Sync,
        T: Send,
    {
        let max = self.config.max_attempts.max(1);
        let timeout = Duration::from_millis(self.config.timeout_ms);
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.pace().await;
            let start = Instant::now();
            let sent = build(&self.client).timeout(timeout).send().await;
            let (status, headers, body) = match sent {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let headers = resp.headers().clone();
                    match resp.bytes().await {
                        Ok(b) => (status, headers, b),
                        Err(e) => {
                            let class = if e.is_timeout() { "timeout" } else { "body" };
                            self.audit(endpoint, status, 0, start, class);
                            self.retry_or_fail(endpoint, attempt, max, class, None)
                                .await?;
                            continue;
                        }
                    }
                }
                Err(e) => {
                    let class = if e.is_timeout() {
                        "timeout"
                    } else if e.is_connect() {
                        "connect"
                    } else {
                        "request"
                    };
                    self.audit(endpoint, 0, 0, start, class);
                    self.retry_or_fail(endpoint, attempt, max, class, None)
                        .await?;
                    continue;
                }
            };
            match status {
                200..=299 => match parse(&body, &headers) {
                    Ok((value, n)) => {
                        self.audit(endpoint, status, n, start, "ok");
                        return Ok(value);
                    }
                    Err(e) => {
                        self.audit(endpoint, status, 0, start, error_class(&e));
                        return Err(e);
                    }
                },
                429 => {
                    self.audit(endpoint, status, 0, start, "rate_limited");
                    let wait = rate_limit_wait(&headers);
                    let too_long =
                        wait.is_some_and(|w| w > Duration::from_millis(self.config.max_wait_ms));
                    if attempt >= max || too_long {
                        return Err(Error::RateLimited {
                            source_name: self.source,
                            endpoint: endpoint.to_owned(),
                            retry_after: wait,
                        });
                    }
                    tracing::warn!(source = self.source, endpoint, attempt, wait_ms = ?wait.map(|w| w.as_millis()), "rate limited; waiting");
                    tokio::time::sleep(wait.unwrap_or_else(|| self.backoff(attempt))).await;
                }
                403 if contains(&body, b"ateLimitExceeded") => {
                    // Google APIs signal quota exhaustion with 403 rateLimitExceeded /
                    // userRateLimitExceeded: back off like a 429.
                    self.audit(endpoint, status, 0, start, "rate_limited");
                    self.retry_or_fail(endpoint, attempt, max, "rate_limited", None)
                        .await?;
                }
                403 if contains(&body, b"exportSizeLimitExceeded") => {
                    self.audit(endpoint, status, 0, start, "export_too_large");
                    return Err(Error::Http {
                        source_name: self.source,
                        endpoint: endpoint.to_owned(),
                        class: "export_too_large".into(),
                    });
                }
                401 | 403 => {
                    self.audit(endpoint, status, 0, start, "auth");
                    return Err(Error::Auth {
                        source_name: self.source,
                        endpoint: endpoint.to_owned(),
                        status,
                    });
                }
                500..=599 | 408 => {
                    let class = format!("status_{status}");
                    self.audit(endpoint, status, 0, start, &class);
                    let wait = rate_limit_wait(&headers)
                        .filter(|w| *w <= Duration::from_millis(self.config.max_wait_ms));
                    self.retry_or_fail(endpoint, attempt, max, &class, wait)
                        .await?;
                }
                _ => {
                    let class = format!("status_{status}");
                    self.audit(endpoint, status, 0, start, &class);
                    return Err(Error::Http {
                        source_name: self.source,
                        endpoint: endpoint.to_owned(),
                        class,
                    });
                }
            }
        }
    }

    async fn retry_or_fail(
        &self,
        endpoint: &str,
        attempt: u32,
        max: u32,
        class: &str,
        wait: Option<Duration>,
    ) -> Result<()> {
        if attempt >= max {
            return Err(Error::Transient {
                source_name: self.source,
                endpoint: endpoint.to_owned(),
                attempts: attempt,
                class: class.to_owned(),
            });
        }
        tracing::warn!(
            source = self.source,
            endpoint,
            attempt,
            class,
            "transient failure; backing off"
        );
        tokio::time::sleep(wait.unwrap_or_else(|| self.backoff(attempt))).await;
        Ok(())
    }
}

fn contains(body: &[u8], needle: &[u8]) -> bool {
    body.windows(needle.len()).any(|w| w == needle)
}

fn error_class(e: &Error) -> &'static str {
    match e {
        Error::Auth { .. } => "auth",
        Error::RateLimited { .. } => "rate_limited",
        Error::Malformed { .. } => "malformed",
        Error::CursorLoop { .. } => "cursor_loop",
        _ => "error",
    }
}

/// How long the vendor asked to wait: `Retry-After` (seconds), else `X-RateLimit-Reset`
/// (Datadog: seconds until reset; Atlassian: an RFC 3339 time; epoch seconds or
/// milliseconds elsewhere), else Linear's `X-RateLimit-Requests-Reset` (epoch ms).
pub fn rate_limit_wait(headers: &HeaderMap) -> Option<Duration> {
    let get = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    if let Some(secs) = get("retry-after").and_then(|v| v.parse::<f64>().ok()) {
        return secs_to_duration(secs);
    }
    let now_ms = chrono::Utc::now().timestamp_millis();
    for name in ["x-ratelimit-reset", "x-ratelimit-requests-reset"] {
        let Some(v) = get(name) else { continue };
        if let Ok(n) = v.parse::<f64>() {
            // Epoch milliseconds, epoch seconds, or seconds until reset.
            #[allow(clippy::cast_precision_loss)]
            let secs = if n > 1e12 {
                (n - now_ms as f64) / 1000.0
            } else if n > 1e9 {
                n - (now_ms as f64 / 1000.0)
            } else {
                n
            };
            return secs_to_duration(secs.max(0.0));
        }
        if let Some(t) = crate::record::parse_time(v) {
            let ms = (t.timestamp_millis() - now_ms).max(0);
            return Some(Duration::from_millis(u64::try_from(ms).unwrap_or(0)));
        }
    }
    None
}

fn secs_to_duration(secs: f64) -> Option<Duration> {
    if (0.0..86_400.0).contains(&secs) {
        Some(Duration::from_secs_f64(secs))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;

    #[test]
    fn base_urls_must_be_https_except_loopback() {
        assert!(check_base_url("https://slack.com/api").is_ok());
        assert!(check_base_url("http://127.0.0.1:8080").is_ok());
        assert!(check_base_url("http://localhost:1").is_ok());
        assert!(check_base_url("http://example.com").is_err());
        assert!(check_base_url("ftp://127.0.0.1").is_err());
        assert!(check_base_url("not a url").is_err());
    }

    #[test]
    fn waits_from_headers() {
        let mut h = HeaderMap::new();
        assert_eq!(rate_limit_wait(&h), None);
        h.insert("x-ratelimit-reset", HeaderValue::from_static("7"));
        assert_eq!(rate_limit_wait(&h), Some(Duration::from_secs(7)));
        h.insert("retry-after", HeaderValue::from_static("2"));
        assert_eq!(rate_limit_wait(&h), Some(Duration::from_secs(2)));
        let mut h = HeaderMap::new();
        let future = (chrono::Utc::now() + chrono::Duration::seconds(30)).timestamp_millis();
        h.insert(
            "x-ratelimit-requests-reset",
            HeaderValue::from_str(&future.to_string()).unwrap(),
        );
        let w = rate_limit_wait(&h).unwrap();
        assert!(w > Duration::from_secs(25) && w <= Duration::from_secs(30));
        let mut h = HeaderMap::new();
        h.insert("retry-after", HeaderValue::from_static("-1"));
        assert_eq!(rate_limit_wait(&h), None);
    }
}
