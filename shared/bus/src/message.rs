//! The message type and the [`Publisher`] trait.

use std::collections::BTreeMap;
use std::fmt;

use async_trait::async_trait;
use bytes::Bytes;

use crate::Result;

/// A message to publish: opaque data, string attributes and an optional ordering key.
///
/// `Debug` shows the data length and attribute keys only, never the data or attribute values.
///
/// ```
/// let m = bacca_bus::Message::new(&b"{\"tenant\":\"t1\"}"[..]).attribute("source", "slack");
/// assert!(!format!("{m:?}").contains("t1"));
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Message {
    /// The payload (a pointer such as tenant, object and generation; never raw content).
    pub data: Bytes,
    /// String attributes (Pub/Sub allows up to 100).
    pub attributes: BTreeMap<String, String>,
    /// Messages with the same ordering key are delivered in publish order.
    pub ordering_key: Option<String>,
}

impl Message {
    /// A message with `data` and no attributes.
    #[must_use]
    pub fn new(data: impl Into<Bytes>) -> Self {
        Self {
            data: data.into(),
            attributes: BTreeMap::new(),
            ordering_key: None,
        }
    }

    /// Adds an attribute.
    #[must_use]
    pub fn attribute(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.attributes.insert(key.into(), value.into());
        self
    }

    /// Sets the ordering key.
    #[must_use]
    pub fn ordering_key(mut self, key: impl Into<String>) -> Self {
        self.ordering_key = Some(key.into());
        self
    }
}

/// Pub/Sub's limit on a message: data plus attribute keys and values, 10 MB.
pub const MAX_MESSAGE_BYTES: usize = 10_000_000;
/// Pub/Sub's limit on the number of attributes.
pub const MAX_ATTRIBUTES: usize = 100;

impl Message {
    /// Checks the limits Pub/Sub enforces on publish, so the embedded bus fails the same way.
    ///
    /// ```
    /// assert!(bacca_bus::Message::default().validate().is_err());
    /// assert!(bacca_bus::Message::new(&b"x"[..]).validate().is_ok());
    /// ```
    ///
    /// # Errors
    ///
    /// [`crate::Error::InvalidMessage`] or [`crate::Error::TooLarge`].
    pub fn validate(&self) -> Result<()> {
        if self.data.is_empty() && self.attributes.is_empty() {
            return Err(crate::Error::InvalidMessage("no data and no attributes"));
        }
        if self.attributes.len() > MAX_ATTRIBUTES {
            return Err(crate::Error::InvalidMessage("more than 100 attributes"));
        }
        if self.attributes.keys().any(String::is_empty) {
            return Err(crate::Error::InvalidMessage("empty attribute key"));
        }
        let size = self.data.len()
            + self
                .attributes
                .iter()
                .map(|(k, v)| k.len() + v.len())
                .sum::<usize>()
            + self.ordering_key.as_ref().map_or(0, String::len);
        if size > MAX_MESSAGE_BYTES {
            return Err(crate::Error::TooLarge {
                size,
                limit: MAX_MESSAGE_BYTES,
            });
        }
        Ok(())
    }
}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Message")
            .field("data_len", &self.data.len())
            .field(
                "attribute_keys",
                &self.attributes.keys().collect::<Vec<_>>(),
            )
            .field("has_ordering_key", &self.ordering_key.is_some())
            .finish()
    }
}

/// Publishes messages to a topic. Implemented by the in-process bus, the memory recorder and
/// (in production) Google Cloud Pub/Sub.
///
/// # Errors
///
/// [`crate::Error`]; check [`crate::Error::is_retryable`] to decide whether to retry.
#[async_trait]
pub trait Publisher: Send + Sync {
    /// Publishes `msg` to `topic` and returns the message id assigned by the backend.
    async fn publish(&self, topic: &str, msg: Message) -> Result<String>;
}
