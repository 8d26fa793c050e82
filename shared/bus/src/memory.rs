//! A publisher that records messages, for tests of code that only publishes.

use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;

use crate::{Error, Message, Publisher, Result};

/// A message recorded by [`MemoryPublisher`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedMessage {
    /// The topic it was published to.
    pub topic: String,
    /// The id returned to the publisher.
    pub message_id: String,
    /// The message.
    pub message: Message,
}

#[derive(Debug, Default)]
struct State {
    messages: Vec<PublishedMessage>,
    failure: Option<Error>,
}

/// Records published messages in memory; can be told to fail, to test error paths.
///
/// ```
/// # async fn demo() -> bacca_bus::Result<()> {
/// use bacca_bus::{MemoryPublisher, Message, Publisher};
/// let p = MemoryPublisher::new();
/// p.publish("dlq", Message::new(&b"x"[..])).await?;
/// assert_eq!(p.messages()[0].topic, "dlq");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default)]
pub struct MemoryPublisher {
    state: Arc<Mutex<State>>,
}

impl MemoryPublisher {
    /// An empty recorder.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Everything published so far, in order.
    #[must_use]
    pub fn messages(&self) -> Vec<PublishedMessage> {
        self.lock().messages.clone()
    }

    /// Makes every later publish fail with `error` (or succeed again with `None`).
    pub fn fail_with(&self, error: Option<Error>) {
        self.lock().failure = error;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl Publisher for MemoryPublisher {
    async fn publish(&self, topic: &str, msg: Message) -> Result<String> {
        let mut state = self.lock();
        if let Some(e) = &state.failure {
            return Err(e.clone());
        }
        let message_id = (state.messages.len() + 1).to_string();
        state.messages.push(PublishedMessage {
            topic: topic.to_owned(),
            message_id: message_id.clone(),
            message: msg,
        });
        Ok(message_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn records_and_fails_on_demand() {
        let p = MemoryPublisher::new();
        assert_eq!(
            p.publish("t", Message::new(&b"a"[..])).await.ok(),
            Some("1".to_owned())
        );
        p.fail_with(Some(Error::Backend {
            class: "unavailable",
            retryable: true,
        }));
        let e = p.publish("t", Message::new(&b"b"[..])).await.err();
        assert!(e.is_some_and(|e| e.is_retryable()));
        p.fail_with(None);
        assert_eq!(
            p.publish("t", Message::new(&b"c"[..])).await.ok(),
            Some("2".to_owned())
        );
        assert_eq!(p.messages().len(), 2);
    }
}
