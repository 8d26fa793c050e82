//! Configuration types: units in names, defaults in `const fn`, unknown fields refused.

use serde::{Deserialize, Serialize};

const fn default_retention_days() -> u32 {
    30
}
const fn default_safety_margin_hours() -> u32 {
    2
}
const fn default_request_timeout_secs() -> u64 {
    60
}
const fn default_connect_timeout_secs() -> u64 {
    10
}
const fn default_max_attempts() -> u32 {
    5
}
const fn default_initial_backoff_ms() -> u64 {
    200
}
const fn default_max_backoff_ms() -> u64 {
    10_000
}
const fn default_list_page_size() -> u32 {
    1000
}

/// How long raw objects may live.
///
/// The sweep deletes objects whose Custom-Time is at or before
/// `now - (retention_days - safety_margin_hours)`; with the defaults an object lives at most
/// 29 days 23 hours when the sweep runs hourly, inside the 30-day promise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionPolicy {
    /// The promised maximum age of raw data, counted from the occurrence time.
    #[serde(default = "default_retention_days")]
    pub retention_days: u32,
    /// How much earlier than the promise the sweep deletes, to absorb sweep interval and lag.
    #[serde(default = "default_safety_margin_hours")]
    pub safety_margin_hours: u32,
}

impl RetentionPolicy {
    /// The defaults: 30 days, 2 hours of margin.
    pub const fn new() -> Self {
        Self {
            retention_days: default_retention_days(),
            safety_margin_hours: default_safety_margin_hours(),
        }
    }

    /// Checks the policy is sane before anything is deleted: 1..=3650 retention days, and a
    /// margin shorter than half the retention (a typo must not turn the sweep into "delete
    /// everything").
    ///
    /// # Errors
    /// [`crate::Error::InvalidConfig`].
    pub fn validate(&self) -> crate::Result<()> {
        if !(1..=3650).contains(&self.retention_days) {
            return Err(crate::Error::InvalidConfig {
                reason: "retention_days must be 1..=3650",
            });
        }
        if u64::from(self.safety_margin_hours) * 2 >= u64::from(self.retention_days) * 24 {
            return Err(crate::Error::InvalidConfig {
                reason: "safety_margin_hours must be less than half of retention_days",
            });
        }
        Ok(())
    }

    /// The age at which an object is deleted: retention minus margin (never negative).
    pub fn delete_age(&self) -> chrono::Duration {
        let d = chrono::Duration::days(i64::from(self.retention_days))
            - chrono::Duration::hours(i64::from(self.safety_margin_hours));
        d.max(chrono::Duration::zero())
    }

    /// Objects with Custom-Time at or before this instant are expired at `now`.
    pub fn cutoff(&self, now: chrono::DateTime<chrono::Utc>) -> chrono::DateTime<chrono::Utc> {
        now - self.delete_age()
    }
}

impl Default for RetentionPolicy {
    fn default() -> Self {
        Self::new()
    }
}

/// Tuning of the GCS JSON-API client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GcsConfig {
    /// Whole-request timeout, per attempt.
    #[serde(default = "default_request_timeout_secs")]
    pub request_timeout_secs: u64,
    /// TCP + TLS connect timeout.
    #[serde(default = "default_connect_timeout_secs")]
    pub connect_timeout_secs: u64,
    /// Attempts per call, including the first (retries on 429, 5xx, timeouts).
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    /// First back-off before jitter; doubles per retry.
    #[serde(default = "default_initial_backoff_ms")]
    pub initial_backoff_ms: u64,
    /// Back-off ceiling.
    #[serde(default = "default_max_backoff_ms")]
    pub max_backoff_ms: u64,
    /// Objects per list page (`maxResults`, at most 1000); pages are followed inside `list`.
    #[serde(default = "default_list_page_size")]
    pub list_page_size: u32,
    /// Endpoint override, e.g. `http://127.0.0.1:4443`; when set, no credentials are used.
    /// `STORAGE_EMULATOR_HOST` (host:port or URL) has the same effect.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// Project used when creating buckets (development and emulators only).
    #[serde(default)]
    pub project: Option<String>,
}

impl GcsConfig {
    /// The defaults: 60 s per request, 10 s connect, 5 attempts, 200 ms..10 s back-off.
    pub const fn new() -> Self {
        Self {
            request_timeout_secs: default_request_timeout_secs(),
            connect_timeout_secs: default_connect_timeout_secs(),
            max_attempts: default_max_attempts(),
            initial_backoff_ms: default_initial_backoff_ms(),
            max_backoff_ms: default_max_backoff_ms(),
            list_page_size: default_list_page_size(),
            endpoint: None,
            project: None,
        }
    }
}

impl Default for GcsConfig {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_unknown_fields() -> Result<(), serde_json::Error> {
        let p: RetentionPolicy = serde_json::from_str("{}")?;
        assert_eq!(p, RetentionPolicy::new());
        assert_eq!(p.delete_age(), chrono::Duration::hours(30 * 24 - 2));
        assert!(serde_json::from_str::<RetentionPolicy>(r#"{"retention":30}"#).is_err());
        assert!(serde_json::from_str::<GcsConfig>(r#"{"timeout":1}"#).is_err());
        assert!(p.validate().is_ok());
        let zero = RetentionPolicy {
            retention_days: 0,
            ..p
        };
        assert!(zero.validate().is_err());
        let wide = RetentionPolicy {
            retention_days: 1,
            safety_margin_hours: 12,
        };
        assert!(wide.validate().is_err());
        let g: GcsConfig = serde_json::from_str(r#"{"max_attempts":2}"#)?;
        assert_eq!(g.max_attempts, 2);
        assert_eq!(g.request_timeout_secs, 60);
        Ok(())
    }
}
