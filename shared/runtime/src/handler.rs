//! The [`Handler`] trait, outcomes, and the one place that maps a failure to ack, nack or
//! dead-letter.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use async_trait::async_trait;
use bacca_bus::{Delivery, Disposition, HandlerFn, Message, Publisher};

use crate::event::{Event, PubSubEvent};
use crate::HandlerError;

/// What a handler did with an event. Both variants ack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The event was processed.
    Done,
    /// Nothing to do (e.g. a redelivered message already processed); the reason is a static
    /// class for the logs.
    Skipped(&'static str),
}

/// A function's logic: one event in, an [`Outcome`] or a classified error out.
///
/// # Errors
///
/// [`HandlerError::retryable`] / [`HandlerError::throttled`] to have the event redelivered,
/// [`HandlerError::permanent`] to have it dead-lettered and acked.
#[async_trait]
pub trait Handler: Send + Sync + 'static {
    /// Handles one event. Must be idempotent: delivery is at least once.
    async fn handle(&self, event: Event) -> Result<Outcome, HandlerError>;
}

#[async_trait]
impl<H: Handler + ?Sized> Handler for Arc<H> {
    async fn handle(&self, event: Event) -> Result<Outcome, HandlerError> {
        (**self).handle(event).await
    }
}

/// A [`Handler`] made from an async closure; see [`handler_fn`].
#[derive(Debug, Clone, Copy)]
pub struct HandlerFnWrapper<F>(F);

/// Wraps an async closure as a [`Handler`], like `lambda_runtime::service_fn`.
///
/// ```
/// use bacca_runtime::{handler_fn, Event, HandlerError, Outcome};
/// let h = handler_fn(|event: Event| async move {
///     let _req: serde_json::Value = event.json()?;
///     Ok::<_, HandlerError>(Outcome::Done)
/// });
/// # let _ = h;
/// ```
pub const fn handler_fn<F, Fut>(f: F) -> HandlerFnWrapper<F>
where
    F: Fn(Event) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Outcome, HandlerError>> + Send,
{
    HandlerFnWrapper(f)
}

#[async_trait]
impl<F, Fut> Handler for HandlerFnWrapper<F>
where
    F: Fn(Event) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Outcome, HandlerError>> + Send,
{
    async fn handle(&self, event: Event) -> Result<Outcome, HandlerError> {
        (self.0)(event).await
    }
}

/// Where permanently failing events go.
#[derive(Clone)]
pub(crate) struct DeadLetter {
    pub(crate) topic: String,
    pub(crate) publisher: Arc<dyn Publisher>,
}

/// What the transport must do with the event after the handler ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Settlement {
    /// Processed or dead-lettered: acknowledge (204).
    Ack,
    /// Redeliver later (503).
    Retry,
    /// Redeliver later because of throttling (429).
    Throttled,
    /// A permanent failure with no dead-letter topic configured: nack (500) so that the
    /// subscription's own dead-letter policy takes the message.
    Unhandled,
}

/// Attribute keys added to a dead-lettered message.
pub mod dead_letter_attributes {
    /// The handler's error class.
    pub const ERROR_CLASS: &str = "error_class";
    /// The id of the message that failed.
    pub const ORIGINAL_MESSAGE_ID: &str = "original_message_id";
    /// The subscription (or scheduler job) it came from.
    pub const SUBSCRIPTION: &str = "subscription";
    /// The delivery attempt that failed permanently.
    pub const DELIVERY_ATTEMPT: &str = "delivery_attempt";
    /// `pubsub`, `eventarc` or `scheduler`.
    pub const SOURCE: &str = "source";
}

/// The dead-letter copy of an event: original data and attributes plus the failure context.
pub(crate) fn dead_letter_message(event: &Event, class: &'static str) -> Message {
    use dead_letter_attributes as a;
    let mut attributes: BTreeMap<String, String> = event.attributes().cloned().unwrap_or_default();
    attributes.insert(a::ERROR_CLASS.into(), class.into());
    attributes.insert(a::SOURCE.into(), event.source_kind().into());
    if let Some(id) = event.message_id() {
        attributes.insert(a::ORIGINAL_MESSAGE_ID.into(), id.into());
    }
    let origin = match event {
        Event::PubSub(m) => m.subscription.clone(),
        Event::Scheduler(s) => s.job_name.clone(),
    };
    if let Some(origin) = origin {
        attributes.insert(a::SUBSCRIPTION.into(), origin);
    }
    if let Some(attempt) = event.delivery_attempt() {
        attributes.insert(a::DELIVERY_ATTEMPT.into(), attempt.to_string());
    }
    Message {
        data: event.data().clone(),
        attributes,
        ordering_key: None,
    }
}

/// The one place a handler result becomes ack, nack or dead-letter-then-ack.
pub(crate) async fn settle(
    event: &Event,
    result: Result<Outcome, HandlerError>,
    dead_letter: Option<&DeadLetter>,
) -> (Settlement, Option<&'static str>) {
    let err = match result {
        Ok(_) => return (Settlement::Ack, None),
        Err(e) => e,
    };
    let class = Some(err.class());
    match err.disposition() {
        Disposition::Retryable => (Settlement::Retry, class),
        Disposition::Throttled => (Settlement::Throttled, class),
        Disposition::Permanent => {
            let Some(dl) = dead_letter else {
                tracing::error!(
                    error_class = err.class(),
                    message_id = event.message_id(),
                    "permanent failure and no dead-letter topic configured; nacking"
                );
                return (Settlement::Unhandled, class);
            };
            match dl
                .publisher
                .publish(&dl.topic, dead_letter_message(event, err.class()))
                .await
            {
                Ok(dead_letter_id) => {
                    tracing::warn!(
                        error_class = err.class(),
                        message_id = event.message_id(),
                        dead_letter_id,
                        "dead-lettered"
                    );
                    (Settlement::Ack, class)
                }
                Err(e) => {
                    tracing::error!(
                        error_class = err.class(),
                        message_id = event.message_id(),
                        publish_error = e.class(),
                        "dead-letter publish failed; nacking"
                    );
                    (Settlement::Retry, class)
                }
            }
        }
    }
}

/// Adapts a [`Handler`] to an [`bacca_bus::InProcessBus`] subscription with the same outcome
/// mapping as the HTTP server: success acks, retryable errors nack, permanent errors are
/// published to `dead_letter_topic` (then acked) when one is given.
///
/// ```
/// # use std::sync::Arc;
/// use bacca_bus::{InProcessBus, SubscriptionConfig};
/// use bacca_runtime::{bus_handler, handler_fn, Outcome};
/// let bus = InProcessBus::new();
/// bus.create_topic("raw-landed");
/// bus.create_topic("dead-letters");
/// let h = Arc::new(handler_fn(|_e| async { Ok(Outcome::Done) }));
/// let dlq = Some(("dead-letters".to_owned(), Arc::new(bus.clone()) as Arc<dyn bacca_bus::Publisher>));
/// bus.subscribe("raw-landed", "anonymize", SubscriptionConfig::default(), bus_handler(h, dlq))?;
/// # Ok::<(), bacca_bus::Error>(())
/// ```
pub fn bus_handler<H: Handler>(
    handler: Arc<H>,
    dead_letter_topic: Option<(String, Arc<dyn Publisher>)>,
) -> HandlerFn {
    let dead_letter =
        dead_letter_topic.map(|(topic, publisher)| Arc::new(DeadLetter { topic, publisher }));
    bacca_bus::handler_fn(move |d: Delivery| {
        let handler = Arc::clone(&handler);
        let dead_letter = dead_letter.clone();
        async move {
            let event = Event::PubSub(PubSubEvent {
                data: d.message.data,
                attributes: d.message.attributes,
                message_id: Some(d.message_id),
                publish_time: Some(d.publish_time),
                ordering_key: d.message.ordering_key,
                subscription: Some(d.subscription),
                delivery_attempt: Some(d.delivery_attempt),
                cloud_event: None,
            });
            let result = handler.handle(event.clone()).await;
            match settle(&event, result, dead_letter.as_deref()).await {
                (Settlement::Ack, _) => Ok(()),
                (Settlement::Throttled, class) => {
                    Err(HandlerError::throttled(class.unwrap_or("throttled")))
                }
                (Settlement::Retry | Settlement::Unhandled, class) => {
                    Err(HandlerError::retryable(class.unwrap_or("retry")))
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use bacca_bus::MemoryPublisher;
    use bytes::Bytes;

    fn event() -> Event {
        Event::PubSub(PubSubEvent {
            data: Bytes::from_static(b"payload"),
            attributes: BTreeMap::from([("tenant".into(), "acme".into())]),
            message_id: Some("m1".into()),
            subscription: Some("projects/p/subscriptions/s".into()),
            delivery_attempt: Some(2),
            ..Default::default()
        })
    }

    #[tokio::test]
    async fn mapping() {
        let p = MemoryPublisher::new();
        let dl = DeadLetter {
            topic: "dlq".into(),
            publisher: Arc::new(p.clone()),
        };
        let e = event();
        assert_eq!(
            settle(&e, Ok(Outcome::Done), Some(&dl)).await.0,
            Settlement::Ack
        );
        assert_eq!(
            settle(&e, Ok(Outcome::Skipped("dup")), None).await.0,
            Settlement::Ack
        );
        let r = settle(
            &e,
            Err(HandlerError::retryable("kms_unavailable")),
            Some(&dl),
        )
        .await;
        assert_eq!(r, (Settlement::Retry, Some("kms_unavailable")));
        let r = settle(&e, Err(HandlerError::throttled("quota")), Some(&dl)).await;
        assert_eq!(r.0, Settlement::Throttled);
        assert!(
            p.messages().is_empty(),
            "nothing dead-lettered for transient errors"
        );
        let r = settle(&e, Err(HandlerError::permanent("auth_failed")), None).await;
        assert_eq!(r.0, Settlement::Unhandled);
        let r = settle(&e, Err(HandlerError::permanent("auth_failed")), Some(&dl)).await;
        assert_eq!(r.0, Settlement::Ack);
        let m = &p.messages()[0];
        assert_eq!(m.topic, "dlq");
        assert_eq!(&m.message.data[..], b"payload");
        let attrs = &m.message.attributes;
        assert_eq!(attrs["tenant"], "acme");
        assert_eq!(attrs["error_class"], "auth_failed");
        assert_eq!(attrs["original_message_id"], "m1");
        assert_eq!(attrs["subscription"], "projects/p/subscriptions/s");
        assert_eq!(attrs["delivery_attempt"], "2");
        p.fail_with(Some(bacca_bus::Error::Backend {
            class: "unavailable",
            retryable: true,
        }));
        let r = settle(&e, Err(HandlerError::permanent("auth_failed")), Some(&dl)).await;
        assert_eq!(
            r.0,
            Settlement::Retry,
            "a failed dead-letter publish must nack"
        );
    }
}
