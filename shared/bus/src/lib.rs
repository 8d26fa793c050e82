//! Messages between the bacca functions: the [`Publisher`] trait and its backends.
//!
//! Messages carry pointers (tenant, object, generation), never content, and every consumer is
//! idempotent because delivery is at least once.
//!
//! Backends:
//! - [`InProcessBus`]: the embedded backend (demo, tests, `bacca run`). Topics, subscriptions
//!   with a handler, Pub/Sub delivery semantics: at-least-once, `delivery_attempt` counting
//!   from 1, exponential back-off between attempts, a dead-letter topic after N attempts with
//!   the attributes Pub/Sub adds, ordering keys, bounded queues and [`InProcessBus::drain`].
//! - [`MemoryPublisher`]: records what was published; for tests of code that only publishes.
//! - [`PubSubPublisher`]: Google Cloud Pub/Sub through the official `google-cloud-pubsub`
//!   client (gRPC, production); the subscriptions push to Cloud Run and `bacca-runtime`
//!   receives them.
//! - [`FilePublisher`]: appends to a JSON-lines file (local-mode dead letters).
//!
//! ```
//! # async fn demo() -> bacca_bus::Result<()> {
//! use bacca_bus::{handler_fn, InProcessBus, Message, Publisher, SubscriptionConfig};
//! let bus = InProcessBus::new();
//! bus.create_topic("raw-landed");
//! bus.subscribe("raw-landed", "anonymize", SubscriptionConfig::default(), handler_fn(|d| async move {
//!     tracing::info!(message_id = %d.message_id, attempt = d.delivery_attempt, "received");
//!     Ok(())
//! }))?;
//! bus.publish("raw-landed", Message::new(&b"{}"[..])).await?;
//! bus.drain().await;
//! # Ok(()) }
//! ```

#![forbid(unsafe_code)]

mod error;
mod file;
mod inprocess;
mod memory;
mod message;
pub mod pubsub;

pub use error::{Disposition, Error, HandlerError, Result};
pub use file::FilePublisher;
pub use inprocess::{
    handler_fn, Delivery, HandlerFn, InProcessBus, SubscriptionConfig, DEAD_LETTER_DELIVERY_COUNT,
    DEAD_LETTER_PUBLISH_TIME, DEAD_LETTER_SUBSCRIPTION, DEAD_LETTER_SUBSCRIPTION_PROJECT,
};
pub use memory::{MemoryPublisher, PublishedMessage};
pub use message::{Message, Publisher, MAX_ATTRIBUTES, MAX_MESSAGE_BYTES};
pub use pubsub::PubSubPublisher;
