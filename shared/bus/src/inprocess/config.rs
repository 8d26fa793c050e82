//! Per-subscription delivery settings.

use std::time::Duration;

/// Delivery settings of one subscription (Pub/Sub's retry and dead-letter policies).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionConfig {
    /// Dead-letter topic; without one a failing message is retried until retention expires.
    pub dead_letter_topic: Option<String>,
    /// Attempts before dead-lettering (Pub/Sub: 5..=100, default 5). Clamped to 1..=100.
    pub max_delivery_attempts: u32,
    /// Back-off after the first failed attempt; doubles on each further failure.
    pub min_backoff: Duration,
    /// Upper bound of the back-off.
    pub max_backoff: Duration,
    /// How long an unacknowledged message is kept (Pub/Sub default 7 days).
    pub message_retention: Duration,
    /// Maximum outstanding (unacked) messages; publishing beyond it fails with
    /// [`Error::QueueFull`].
    pub queue_capacity: usize,
    /// Maximum handler calls running at once.
    pub max_concurrency: usize,
}

impl SubscriptionConfig {
    /// Pub/Sub's defaults: 5 attempts, back-off 10 s to 600 s, 7 days retention.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            dead_letter_topic: None,
            max_delivery_attempts: 5,
            min_backoff: Duration::from_secs(10),
            max_backoff: Duration::from_secs(600),
            message_retention: Duration::from_secs(7 * 24 * 3600),
            queue_capacity: 10_000,
            max_concurrency: 16,
        }
    }

    /// Sets the dead-letter topic.
    #[must_use]
    pub fn dead_letter(mut self, topic: impl Into<String>, max_delivery_attempts: u32) -> Self {
        self.dead_letter_topic = Some(topic.into());
        self.max_delivery_attempts = max_delivery_attempts;
        self
    }

    /// Sets the back-off bounds.
    #[must_use]
    pub const fn backoff(mut self, min: Duration, max: Duration) -> Self {
        self.min_backoff = min;
        self.max_backoff = max;
        self
    }

    /// The back-off after failed attempt number `attempt` (1-based).
    #[must_use]
    pub fn backoff_after(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1));
        self.min_backoff
            .saturating_mul(factor)
            .min(self.max_backoff)
    }
}

impl Default for SubscriptionConfig {
    fn default() -> Self {
        Self::new()
    }
}
