//! What a subscription handler receives, and the handler type.

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use futures::FutureExt;

use crate::{HandlerError, Message};

/// Attribute Pub/Sub adds to a dead-lettered message: how many delivery attempts were made.
pub const DEAD_LETTER_DELIVERY_COUNT: &str = "CloudPubSubDeadLetterSourceDeliveryCount";
/// Attribute Pub/Sub adds to a dead-lettered message: the source subscription name.
pub const DEAD_LETTER_SUBSCRIPTION: &str = "CloudPubSubDeadLetterSourceSubscription";
/// Attribute Pub/Sub adds to a dead-lettered message: the source subscription's project.
pub const DEAD_LETTER_SUBSCRIPTION_PROJECT: &str = "CloudPubSubDeadLetterSourceSubscriptionProject";
/// Attribute Pub/Sub adds to a dead-lettered message: the original publish time (RFC 3339).
pub const DEAD_LETTER_PUBLISH_TIME: &str = "CloudPubSubDeadLetterSourceTopicPublishTime";

/// One delivery of a message to a subscription's handler.
#[derive(Clone)]
pub struct Delivery {
    /// The message as published.
    pub message: Message,
    /// The id assigned at publish time (the same on every redelivery).
    pub message_id: String,
    /// When the message was published.
    pub publish_time: DateTime<Utc>,
    /// 1 on the first delivery, incremented on each redelivery.
    pub delivery_attempt: u32,
    /// The subscription delivering it.
    pub subscription: String,
}

impl fmt::Debug for Delivery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Delivery")
            .field("message", &self.message)
            .field("message_id", &self.message_id)
            .field("publish_time", &self.publish_time)
            .field("delivery_attempt", &self.delivery_attempt)
            .field("subscription", &self.subscription)
            .finish()
    }
}

/// A subscription's handler: `Ok(())` acks, `Err` nacks (the message is redelivered after
/// back-off, then dead-lettered after `max_delivery_attempts`).
pub type HandlerFn = Arc<
    dyn Fn(Delivery) -> BoxFuture<'static, std::result::Result<(), HandlerError>> + Send + Sync,
>;

/// Wraps an async closure as a [`HandlerFn`].
///
/// ```
/// let h = bacca_bus::handler_fn(|_delivery| async { Ok(()) });
/// # let _ = h;
/// ```
pub fn handler_fn<F, Fut>(f: F) -> HandlerFn
where
    F: Fn(Delivery) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = std::result::Result<(), HandlerError>> + Send + 'static,
{
    Arc::new(move |d| f(d).boxed())
}
