//! Errors of the bus, and the error a subscriber returns to nack a message.

use std::fmt;

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, Error>;

/// A publish or subscription failure. Carries names and classes, never message content.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The topic does not exist (permanent: a configuration error).
    #[error("unknown topic {0}")]
    UnknownTopic(String),
    /// A subscription with this name already exists (permanent).
    #[error("subscription {0} already exists")]
    DuplicateSubscription(String),
    /// A subscription's queue is full (retryable: try again after back-off).
    #[error("queue of subscription {0} is full")]
    QueueFull(String),
    /// The message is larger than the backend accepts (permanent).
    #[error("message of {size} bytes exceeds the limit of {limit} bytes")]
    TooLarge {
        /// Size of the message data in bytes.
        size: usize,
        /// The limit in bytes.
        limit: usize,
    },
    /// The message breaks a Pub/Sub limit: no data and no attributes, more than 100
    /// attributes, or an empty attribute key (permanent).
    #[error("invalid message: {0}")]
    InvalidMessage(&'static str),
    /// The backend failed; `retryable` says whether trying again can help.
    #[error("publisher backend failed: {class}")]
    Backend {
        /// Short static error class, e.g. `"unavailable"`.
        class: &'static str,
        /// Whether a retry can succeed.
        retryable: bool,
    },
}

impl Error {
    /// Whether retrying the same operation later can succeed.
    ///
    /// ```
    /// assert!(bacca_bus::Error::QueueFull("s".into()).is_retryable());
    /// ```
    #[must_use]
    pub const fn is_retryable(&self) -> bool {
        match self {
            Self::QueueFull(_) => true,
            Self::Backend { retryable, .. } => *retryable,
            Self::UnknownTopic(_)
            | Self::DuplicateSubscription(_)
            | Self::TooLarge { .. }
            | Self::InvalidMessage(_) => false,
        }
    }

    /// A short static class for logs and metrics.
    #[must_use]
    pub const fn class(&self) -> &'static str {
        match self {
            Self::UnknownTopic(_) => "unknown_topic",
            Self::DuplicateSubscription(_) => "duplicate_subscription",
            Self::QueueFull(_) => "queue_full",
            Self::TooLarge { .. } => "message_too_large",
            Self::InvalidMessage(_) => "invalid_message",
            Self::Backend { class, .. } => class,
        }
    }
}

/// How a failed message should be treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Transient: nack so that the message is redelivered (HTTP 503).
    Retryable,
    /// Transient because of a quota or rate limit: nack (HTTP 429).
    Throttled,
    /// Will never succeed: copy to the dead-letter topic, then ack.
    Permanent,
}

/// The error a message handler returns: a short static error class and a [`Disposition`].
///
/// The class is a fixed vocabulary (`"malformed_message"`, `"auth_failed"`,
/// `"kms_unavailable"`...) so it can be logged and attached to dead-lettered messages
/// without ever carrying content.
///
/// ```
/// use bacca_bus::{Disposition, HandlerError};
/// let e = HandlerError::permanent("malformed_message");
/// assert_eq!(e.disposition(), Disposition::Permanent);
/// assert_eq!(e.to_string(), "permanent error: malformed_message");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HandlerError {
    class: &'static str,
    disposition: Disposition,
}

impl HandlerError {
    /// A transient failure: the message is redelivered.
    #[must_use]
    pub const fn retryable(class: &'static str) -> Self {
        Self {
            class,
            disposition: Disposition::Retryable,
        }
    }

    /// A quota or rate-limit failure: the message is redelivered (429 over HTTP).
    #[must_use]
    pub const fn throttled(class: &'static str) -> Self {
        Self {
            class,
            disposition: Disposition::Throttled,
        }
    }

    /// A failure that no retry can fix: the message goes to the dead-letter topic.
    #[must_use]
    pub const fn permanent(class: &'static str) -> Self {
        Self {
            class,
            disposition: Disposition::Permanent,
        }
    }

    /// Retryable or permanent as a backend error says (`is_retryable()`), with its class.
    ///
    /// ```
    /// use bacca_bus::{Disposition, HandlerError};
    /// assert_eq!(HandlerError::classified(true, "kms_unavailable").disposition(), Disposition::Retryable);
    /// assert_eq!(HandlerError::classified(false, "tampered").disposition(), Disposition::Permanent);
    /// ```
    #[must_use]
    pub const fn classified(retryable: bool, class: &'static str) -> Self {
        if retryable {
            Self::retryable(class)
        } else {
            Self::permanent(class)
        }
    }

    /// The error class.
    #[must_use]
    pub const fn class(&self) -> &'static str {
        self.class
    }

    /// How the message is treated.
    #[must_use]
    pub const fn disposition(&self) -> Disposition {
        self.disposition
    }

    /// Whether redelivery can help (retryable or throttled).
    #[must_use]
    pub const fn is_retryable(&self) -> bool {
        !matches!(self.disposition, Disposition::Permanent)
    }
}

impl fmt::Display for HandlerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.disposition {
            Disposition::Retryable => "retryable",
            Disposition::Throttled => "throttled",
            Disposition::Permanent => "permanent",
        };
        write!(f, "{kind} error: {}", self.class)
    }
}

impl std::error::Error for HandlerError {}

impl From<Error> for HandlerError {
    fn from(e: Error) -> Self {
        if e.is_retryable() {
            Self::retryable(e.class())
        } else {
            Self::permanent(e.class())
        }
    }
}
