//! Runtime configuration.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bacca_bus::Publisher;

use crate::{Error, Result};

/// Google's JWKS endpoint for OIDC ID tokens.
pub const GOOGLE_JWKS_URL: &str = "https://www.googleapis.com/oauth2/v3/certs";
/// Largest accepted request body: Pub/Sub messages are at most 10 MB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 10 * 1024 * 1024;

/// Default of [`RuntimeConfig::header_read_timeout`], in seconds.
pub const DEFAULT_HEADER_READ_TIMEOUT_SECS: u64 = 30;

/// How the runtime serves a function.
///
/// ```
/// use std::sync::Arc;
/// let dlq = Arc::new(bacca_bus::MemoryPublisher::new());
/// let config = bacca_runtime::RuntimeConfig::default()
///     .dead_letter("dead-letters", dlq)
///     .oidc(bacca_runtime::OidcConfig::new("https://fetch-xyz.a.run.app/", "push@p.iam.gserviceaccount.com"));
/// assert_eq!(config.port, 8080);
/// ```
#[derive(Clone)]
pub struct RuntimeConfig {
    /// TCP port for [`crate::run`] (Cloud Run sets `PORT`; default 8080).
    pub port: u16,
    /// Topic that receives messages failing with a permanent error.
    pub dead_letter_topic: Option<String>,
    /// Publisher used for the dead-letter topic.
    pub publisher: Option<Arc<dyn Publisher>>,
    /// Push authentication; `None` accepts unauthenticated requests (local mode).
    pub oidc: Option<OidcConfig>,
    /// Largest request body in bytes; larger gets 413.
    pub max_body_bytes: usize,
    /// Time a request may take, handler included; then 503 (Cloud Run default 300 s).
    pub request_timeout: Duration,
    /// After SIGTERM, how long in-flight requests may still run (Cloud Run kills after 10 s).
    pub shutdown_grace: Duration,
    /// Time a client has to send a request's whole header block, counted from when the server
    /// starts reading it (so it also closes idle keep-alive connections); then the connection
    /// is closed without a response. Bounds slow-header (slowloris) clients. Default 30 s
    /// (hyper's), `BACCA_HEADER_READ_TIMEOUT_SECS`.
    pub header_read_timeout: Duration,
    /// Project for trace correlation (`GOOGLE_CLOUD_PROJECT`).
    pub project_id: Option<String>,
}

impl fmt::Debug for RuntimeConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RuntimeConfig")
            .field("port", &self.port)
            .field("dead_letter_topic", &self.dead_letter_topic)
            .field("has_publisher", &self.publisher.is_some())
            .field("oidc", &self.oidc)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("request_timeout", &self.request_timeout)
            .field("shutdown_grace", &self.shutdown_grace)
            .field("header_read_timeout", &self.header_read_timeout)
            .field("project_id", &self.project_id)
            .finish()
    }
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        Self {
            port: 8080,
            dead_letter_topic: None,
            publisher: None,
            oidc: None,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            request_timeout: Duration::from_secs(300),
            shutdown_grace: Duration::from_secs(10),
            header_read_timeout: Duration::from_secs(DEFAULT_HEADER_READ_TIMEOUT_SECS),
            project_id: None,
        }
    }
}

impl RuntimeConfig {
    /// Defaults plus `PORT`, `GOOGLE_CLOUD_PROJECT` and `BACCA_HEADER_READ_TIMEOUT_SECS` from
    /// the environment.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidEnv`] if `PORT` is set but not a port number, or
    /// `BACCA_HEADER_READ_TIMEOUT_SECS` is not a whole number of seconds from 1 to 3600.
    pub fn from_env() -> Result<Self> {
        let mut config = Self::default();
        if let Ok(port) = std::env::var("PORT") {
            config.port = port.trim().parse().map_err(|_| Error::InvalidEnv("PORT"))?;
        }
        if let Some(secs) = crate::env::env_var("BACCA_HEADER_READ_TIMEOUT_SECS") {
            let secs: u64 = secs
                .trim()
                .parse()
                .ok()
                .filter(|s| (1..=3600).contains(s))
                .ok_or(Error::InvalidEnv("BACCA_HEADER_READ_TIMEOUT_SECS"))?;
            config.header_read_timeout = Duration::from_secs(secs);
        }
        config.project_id = std::env::var("GOOGLE_CLOUD_PROJECT")
            .ok()
            .filter(|p| !p.is_empty());
        Ok(config)
    }

    /// Sends permanently failing messages to `topic` through `publisher`.
    #[must_use]
    pub fn dead_letter(mut self, topic: impl Into<String>, publisher: Arc<dyn Publisher>) -> Self {
        self.dead_letter_topic = Some(topic.into());
        self.publisher = Some(publisher);
        self
    }

    /// Requires an OIDC bearer token on `POST /`.
    #[must_use]
    pub fn oidc(mut self, oidc: OidcConfig) -> Self {
        self.oidc = Some(oidc);
        self
    }
}

/// OIDC push authentication: which Google-signed ID tokens are accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcConfig {
    /// Expected `aud` (the push endpoint URL unless the subscription sets another).
    pub audience: String,
    /// Expected `email` (the push subscription's service account); `email_verified` must be true.
    pub service_account_email: String,
    /// Accepted `iss` values.
    pub issuers: Vec<String>,
    /// Where the signing keys are fetched (lazily, on the first request).
    pub jwks_url: String,
    /// How long fetched keys are trusted before refetching.
    pub jwks_ttl: Duration,
    /// A token with an unknown `kid` triggers a refetch at most this often.
    pub jwks_min_refresh: Duration,
    /// Clock skew tolerated on `exp`.
    pub leeway: Duration,
}

impl OidcConfig {
    /// Google's issuers and JWKS, 1 h key cache, 10 s refetch interval, 10 s leeway.
    #[must_use]
    pub fn new(audience: impl Into<String>, service_account_email: impl Into<String>) -> Self {
        Self {
            audience: audience.into(),
            service_account_email: service_account_email.into(),
            issuers: vec![
                "accounts.google.com".into(),
                "https://accounts.google.com".into(),
            ],
            jwks_url: GOOGLE_JWKS_URL.into(),
            jwks_ttl: Duration::from_secs(3600),
            jwks_min_refresh: Duration::from_secs(10),
            leeway: Duration::from_secs(10),
        }
    }

    /// Fetches keys from `url` instead of Google's endpoint.
    #[must_use]
    pub fn jwks_url(mut self, url: impl Into<String>) -> Self {
        self.jwks_url = url.into();
        self
    }
}
