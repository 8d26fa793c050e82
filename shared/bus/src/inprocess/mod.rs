//! The in-process bus: Pub/Sub delivery semantics inside one process.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use chrono::Utc;
use tokio::sync::{Notify, Semaphore};

use crate::{Error, HandlerError, Message, Publisher, Result};

mod config;
mod delivery;

pub use config::SubscriptionConfig;
pub use delivery::{
    handler_fn, Delivery, HandlerFn, DEAD_LETTER_DELIVERY_COUNT, DEAD_LETTER_PUBLISH_TIME,
    DEAD_LETTER_SUBSCRIPTION, DEAD_LETTER_SUBSCRIPTION_PROJECT,
};

struct Subscription {
    name: String,
    config: SubscriptionConfig,
    handler: HandlerFn,
    outstanding: AtomicUsize,
    permits: Semaphore,
    /// Ordering keys with a message in flight, and the messages waiting behind it.
    ordered: Mutex<HashMap<String, VecDeque<Delivery>>>,
}

#[derive(Default)]
struct Inner {
    project: String,
    topics: Mutex<HashMap<String, Vec<Arc<Subscription>>>>,
    subscription_names: Mutex<Vec<String>>,
    next_id: AtomicU64,
    pending: AtomicUsize,
    idle: Notify,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// An in-process message bus with Pub/Sub delivery semantics. Cheap to clone (an `Arc`).
///
/// - at-least-once: a handler error nacks, the message is redelivered with
///   `delivery_attempt + 1` after an exponential back-off;
/// - after `max_delivery_attempts` failures the message is published to the dead-letter topic
///   with the attributes Pub/Sub adds (`CloudPubSubDeadLetterSource*`) and acked;
/// - without a dead-letter topic it is retried until `message_retention` passes;
/// - messages with the same ordering key are delivered one at a time in publish order;
/// - each subscription holds at most `queue_capacity` outstanding messages.
///
/// Handlers run on the Tokio runtime that called `publish`.
#[derive(Clone, Default)]
pub struct InProcessBus {
    inner: Arc<Inner>,
}

impl fmt::Debug for InProcessBus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InProcessBus")
            .field(
                "topics",
                &lock(&self.inner.topics).keys().collect::<Vec<_>>(),
            )
            .field("pending", &self.pending())
            .finish()
    }
}

impl InProcessBus {
    /// An empty bus; dead-lettered messages name the project `local`.
    #[must_use]
    pub fn new() -> Self {
        Self::with_project("local")
    }

    /// An empty bus whose dead-letter attributes name `project`.
    #[must_use]
    pub fn with_project(project: impl Into<String>) -> Self {
        Self {
            inner: Arc::new(Inner {
                project: project.into(),
                ..Inner::default()
            }),
        }
    }

    /// Creates a topic (idempotent).
    pub fn create_topic(&self, name: &str) {
        lock(&self.inner.topics).entry(name.to_owned()).or_default();
    }

    /// Attaches a subscription named `name` with `handler` to `topic`.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownTopic`] if the topic or the dead-letter topic does not exist,
    /// [`Error::DuplicateSubscription`] if the name is taken.
    pub fn subscribe(
        &self,
        topic: &str,
        name: &str,
        config: SubscriptionConfig,
        handler: HandlerFn,
    ) -> Result<()> {
        let mut names = lock(&self.inner.subscription_names);
        if names.iter().any(|n| n == name) {
            return Err(Error::DuplicateSubscription(name.to_owned()));
        }
        let mut topics = lock(&self.inner.topics);
        if let Some(dlq) = &config.dead_letter_topic {
            if !topics.contains_key(dlq) {
                return Err(Error::UnknownTopic(dlq.clone()));
            }
        }
        let subs = topics
            .get_mut(topic)
            .ok_or_else(|| Error::UnknownTopic(topic.to_owned()))?;
        let permits = Semaphore::new(config.max_concurrency.max(1));
        subs.push(Arc::new(Subscription {
            name: name.to_owned(),
            config,
            handler,
            outstanding: AtomicUsize::new(0),
            permits,
            ordered: Mutex::new(HashMap::new()),
        }));
        names.push(name.to_owned());
        Ok(())
    }

    /// Messages published but not yet acked or dead-lettered, over all subscriptions.
    #[must_use]
    pub fn pending(&self) -> usize {
        self.inner.pending.load(Ordering::SeqCst)
    }

    /// Waits until every subscription's queue is empty: each message acked, dead-lettered or
    /// expired, including messages published by handlers meanwhile.
    pub async fn drain(&self) {
        loop {
            let notified = self.inner.idle.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.pending() == 0 {
                return;
            }
            notified.await;
        }
    }

    fn publish_now(&self, topic: &str, msg: Message) -> Result<String> {
        msg.validate()?;
        let subs = lock(&self.inner.topics)
            .get(topic)
            .cloned()
            .ok_or_else(|| Error::UnknownTopic(topic.to_owned()))?;
        if let Some(full) = subs
            .iter()
            .find(|s| s.outstanding.load(Ordering::SeqCst) >= s.config.queue_capacity)
        {
            return Err(Error::QueueFull(full.name.clone()));
        }
        let message_id = (self.inner.next_id.fetch_add(1, Ordering::SeqCst) + 1).to_string();
        let publish_time = Utc::now();
        for sub in subs {
            sub.outstanding.fetch_add(1, Ordering::SeqCst);
            self.inner.pending.fetch_add(1, Ordering::SeqCst);
            let delivery = Delivery {
                message: msg.clone(),
                message_id: message_id.clone(),
                publish_time,
                delivery_attempt: 1,
                subscription: sub.name.clone(),
            };
            self.dispatch(sub, delivery);
        }
        tracing::debug!(topic, message_id, "published");
        Ok(message_id)
    }

    fn dispatch(&self, sub: Arc<Subscription>, delivery: Delivery) {
        if let Some(key) = delivery.message.ordering_key.clone() {
            let mut ordered = lock(&sub.ordered);
            if let Some(queue) = ordered.get_mut(&key) {
                queue.push_back(delivery);
                return;
            }
            ordered.insert(key.clone(), VecDeque::new());
            drop(ordered);
            let bus = self.clone();
            tokio::spawn(async move {
                let mut next = Some(delivery);
                while let Some(d) = next {
                    bus.deliver(&sub, d).await;
                    let mut ordered = lock(&sub.ordered);
                    next = ordered.get_mut(&key).and_then(VecDeque::pop_front);
                    if next.is_none() {
                        ordered.remove(&key);
                    }
                }
            });
        } else {
            let bus = self.clone();
            tokio::spawn(async move { bus.deliver(&sub, delivery).await });
        }
    }

    /// Delivers until acked, dead-lettered or expired, then releases the queue slot.
    async fn deliver(&self, sub: &Subscription, mut d: Delivery) {
        let config = &sub.config;
        let max_attempts = config.max_delivery_attempts.clamp(1, 100);
        loop {
            let result = match sub.permits.acquire().await {
                Ok(_permit) => {
                    // A panicking handler is a nack, as a crashed push endpoint would be.
                    match tokio::spawn((sub.handler)(d.clone())).await {
                        Ok(r) => r,
                        Err(_) => Err(HandlerError::retryable("handler_panicked")),
                    }
                }
                Err(_) => Err(HandlerError::retryable("subscription_closed")),
            };
            match result {
                Ok(()) => {
                    tracing::debug!(subscription = %sub.name, message_id = %d.message_id,
                        attempt = d.delivery_attempt, "acked");
                    break;
                }
                Err(e) => {
                    tracing::info!(subscription = %sub.name, message_id = %d.message_id,
                        attempt = d.delivery_attempt, error_class = e.class(), "nacked");
                }
            }
            if let Some(dlq) = &config.dead_letter_topic {
                if d.delivery_attempt >= max_attempts {
                    match self.publish_now(dlq, self.dead_letter_message(sub, &d)) {
                        Ok(_) => {
                            tracing::warn!(subscription = %sub.name, message_id = %d.message_id,
                                attempts = d.delivery_attempt, "dead-lettered");
                            break;
                        }
                        Err(e) => {
                            tracing::error!(subscription = %sub.name, message_id = %d.message_id,
                                error_class = e.class(), "dead-letter publish failed; will retry");
                        }
                    }
                }
            }
            let age = Utc::now()
                .signed_duration_since(d.publish_time)
                .to_std()
                .unwrap_or_default();
            if age >= config.message_retention {
                tracing::error!(subscription = %sub.name, message_id = %d.message_id,
                    attempts = d.delivery_attempt, "message retention expired; message dropped");
                break;
            }
            tokio::time::sleep(config.backoff_after(d.delivery_attempt)).await;
            d.delivery_attempt = d.delivery_attempt.saturating_add(1);
        }
        sub.outstanding.fetch_sub(1, Ordering::SeqCst);
        if self.inner.pending.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.inner.idle.notify_waiters();
        }
    }

    fn dead_letter_message(&self, sub: &Subscription, d: &Delivery) -> Message {
        let mut attributes: BTreeMap<String, String> = d.message.attributes.clone();
        attributes.insert(
            DEAD_LETTER_DELIVERY_COUNT.to_owned(),
            d.delivery_attempt.to_string(),
        );
        attributes.insert(DEAD_LETTER_SUBSCRIPTION.to_owned(), sub.name.clone());
        attributes.insert(
            DEAD_LETTER_SUBSCRIPTION_PROJECT.to_owned(),
            self.inner.project.clone(),
        );
        attributes.insert(
            DEAD_LETTER_PUBLISH_TIME.to_owned(),
            d.publish_time
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        );
        Message {
            data: d.message.data.clone(),
            attributes,
            ordering_key: None,
        }
    }
}

#[async_trait]
impl Publisher for InProcessBus {
    async fn publish(&self, topic: &str, msg: Message) -> Result<String> {
        self.publish_now(topic, msg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use std::time::Duration;

    #[test]
    fn backoff_doubles_and_caps() {
        let c =
            SubscriptionConfig::new().backoff(Duration::from_millis(10), Duration::from_millis(50));
        let got: Vec<_> = (1..=5).map(|a| c.backoff_after(a).as_millis()).collect();
        assert_eq!(got, vec![10, 20, 40, 50, 50]);
        assert_eq!(
            SubscriptionConfig::new().backoff_after(100),
            Duration::from_secs(600)
        );
    }

    #[test]
    fn delivery_debug_hides_content() {
        let d = Delivery {
            message: Message::new(&b"canary-data"[..]).attribute("k", "canary-attr"),
            message_id: "1".into(),
            publish_time: Utc::now(),
            delivery_attempt: 1,
            subscription: "s".into(),
        };
        let s = format!("{d:?}");
        assert!(!s.contains("canary"), "{s}");
        assert!(s.contains("data_len: 11"));
    }

    #[tokio::test]
    async fn subscribe_checks_topics_and_names() {
        let bus = InProcessBus::new();
        bus.create_topic("t");
        let h = handler_fn(|_| async { Ok(()) });
        assert!(matches!(
            bus.subscribe("nope", "s", SubscriptionConfig::new(), h.clone()),
            Err(Error::UnknownTopic(_))
        ));
        assert!(matches!(
            bus.subscribe(
                "t",
                "s",
                SubscriptionConfig::new().dead_letter("dlq", 5),
                h.clone()
            ),
            Err(Error::UnknownTopic(_))
        ));
        assert!(bus
            .subscribe("t", "s", SubscriptionConfig::new(), h.clone())
            .is_ok());
        assert!(matches!(
            bus.subscribe("t", "s", SubscriptionConfig::new(), h),
            Err(Error::DuplicateSubscription(_))
        ));
        assert!(matches!(
            bus.publish("nope", Message::new(&b"x"[..])).await,
            Err(Error::UnknownTopic(_))
        ));
    }
}
