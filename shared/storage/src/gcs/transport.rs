//! Request execution for the GCS JSON API: credentials, per-attempt timeouts, retries with
//! jittered exponential back-off on 429, 5xx and transport failures.

use std::time::Duration;

use bytes::Bytes;
use google_cloud_auth::credentials::{CacheableResource, Credentials};
use rand::Rng;
use reqwest::{Method, Response, StatusCode};

use crate::config::GcsConfig;
use crate::error::{Error, Result};

/// A failed call: either a final HTTP status for the caller to interpret, or an error.
#[derive(Debug)]
pub(crate) enum Fail {
    /// A non-success status that is not retried (or no longer retried).
    Status(StatusCode),
    /// Transport or credential failure.
    Err(Error),
}

impl From<Error> for Fail {
    fn from(e: Error) -> Self {
        Self::Err(e)
    }
}

/// One request to send, rebuilt for every attempt.
pub(crate) struct Req<'a> {
    pub method: Method,
    pub url: String,
    pub query: Vec<(&'a str, String)>,
    pub body: Option<(String, Bytes)>,
    /// Extra headers (e.g. `Content-Range`).
    pub headers: Vec<(&'static str, String)>,
    /// Whether a retry can never duplicate an effect (reads, writes with preconditions).
    pub idempotent: bool,
}

/// The shared HTTP side of a GCS client. Debug shows whether credentials are present, never
/// what they are.
pub(crate) struct Http {
    pub client: reqwest::Client,
    pub creds: Option<Credentials>,
    pub cfg: GcsConfig,
}

impl std::fmt::Debug for Http {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Http")
            .field("credentials", &self.creds.as_ref().map(|_| "adc"))
            .field("cfg", &self.cfg)
            .finish_non_exhaustive()
    }
}

impl Http {
    pub(crate) fn new(cfg: GcsConfig, creds: Option<Credentials>) -> Result<Self> {
        let client = reqwest::Client::builder()
            .min_tls_version(reqwest::tls::Version::TLS_1_2)
            .timeout(Duration::from_secs(cfg.request_timeout_secs))
            .connect_timeout(Duration::from_secs(cfg.connect_timeout_secs))
            .user_agent(concat!("bacca-storage/", env!("CARGO_PKG_VERSION")))
            // The JSON API never redirects; resumable uploads answer 308 without Location.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|_| Error::Protocol {
                what: "http client construction".into(),
            })?;
        Ok(Self { client, creds, cfg })
    }

    async fn auth_headers(&self) -> Result<Option<http::HeaderMap>> {
        let Some(creds) = &self.creds else {
            return Ok(None);
        };
        match creds.headers(http::Extensions::new()).await {
            Ok(CacheableResource::New { data, .. }) => Ok(Some(data)),
            Ok(CacheableResource::NotModified) => Err(Error::Auth {
                what: "credentials returned no headers".into(),
                transient: true,
            }),
            Err(e) => Err(Error::Auth {
                what: "credentials unavailable".into(),
                transient: e.is_transient(),
            }),
        }
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let cap = self
            .cfg
            .initial_backoff_ms
            .saturating_mul(1u64 << attempt.min(20))
            .min(self.cfg.max_backoff_ms);
        // Full jitter: uniformly in [cap/2, cap], so concurrent clients spread out.
        let ms = rand::rng().random_range(cap / 2..=cap.max(1));
        Duration::from_millis(ms)
    }

    /// Sends `req`, retrying retryable failures; returns a success response or a failure.
    pub(crate) async fn send(&self, req: &Req<'_>) -> Result<Response, Fail> {
        let max = if req.idempotent {
            self.cfg.max_attempts.max(1)
        } else {
            1
        };
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut rb = self
                .client
                .request(req.method.clone(), &req.url)
                .query(&req.query);
            if let Some(h) = self.auth_headers().await? {
                rb = rb.headers(h);
            }
            for (k, v) in &req.headers {
                rb = rb.header(*k, v.as_str());
            }
            if let Some((ct, data)) = &req.body {
                rb = rb
                    .header(reqwest::header::CONTENT_TYPE, ct.as_str())
                    .body(data.clone());
            } else if req.method == Method::POST {
                rb = rb.header(reqwest::header::CONTENT_LENGTH, "0");
            }
            let what = match rb.send().await {
                Ok(resp)
                    if resp.status().is_success()
                        || resp.status() == StatusCode::PERMANENT_REDIRECT =>
                {
                    return Ok(resp)
                }
                Ok(resp) if !is_retryable_status(resp.status()) => {
                    return Err(status_fail(resp.status()));
                }
                Ok(resp) => format!("http {}", resp.status().as_u16()),
                Err(e) => transport_class(&e).to_owned(),
            };
            if attempt >= max {
                return Err(Fail::Err(Error::Unavailable { what }));
            }
            tracing::debug!(attempt, class = %what, "gcs request failed, retrying");
            tokio::time::sleep(self.backoff(attempt - 1)).await;
        }
    }

    /// Sends and parses a JSON success body.
    pub(crate) async fn json<T: serde::de::DeserializeOwned>(
        &self,
        req: &Req<'_>,
    ) -> Result<T, Fail> {
        let resp = self.send(req).await?;
        let body = resp.bytes().await.map_err(|e| Error::Unavailable {
            what: transport_class(&e).to_owned(),
        })?;
        serde_json::from_slice(&body).map_err(|_| {
            Fail::Err(Error::Protocol {
                what: "malformed json response".into(),
            })
        })
    }
}

fn is_retryable_status(s: StatusCode) -> bool {
    s == StatusCode::TOO_MANY_REQUESTS || s == StatusCode::REQUEST_TIMEOUT || s.is_server_error()
}

fn status_fail(s: StatusCode) -> Fail {
    match s {
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => Fail::Err(Error::Auth {
            what: format!("http {}", s.as_u16()),
            transient: false,
        }),
        _ => Fail::Status(s),
    }
}

fn transport_class(e: &reqwest::Error) -> &'static str {
    if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connect"
    } else if e.is_body() || e.is_decode() {
        "body"
    } else {
        "transport"
    }
}

/// Percent-encodes an object name for a URL path segment (everything but RFC 3986
/// unreserved characters).
pub(crate) fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding() {
        assert_eq!(encode_segment("raw/a b/ü"), "raw%2Fa%20b%2F%C3%BC");
        assert_eq!(encode_segment("a-z_0.9~"), "a-z_0.9~");
    }

    #[test]
    fn backoff_bounded() -> Result<()> {
        let h = Http::new(GcsConfig::new(), None)?;
        for a in 0..40 {
            let d = h.backoff(a);
            assert!(d <= Duration::from_millis(10_000));
        }
        assert!(h.backoff(0) <= Duration::from_millis(200));
        Ok(())
    }
}
