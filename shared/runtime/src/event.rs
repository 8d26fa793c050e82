//! The one event type a handler receives, whatever the transport.

use std::collections::BTreeMap;
use std::fmt;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;

use crate::HandlerError;

/// What a function is asked to handle.
///
/// `Debug` never shows data or attribute values, only their sizes and keys.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A Pub/Sub message, pushed directly or delivered by Eventarc as a CloudEvent.
    PubSub(PubSubEvent),
    /// A Cloud Scheduler HTTP call.
    Scheduler(SchedulerEvent),
}

/// A Pub/Sub message as received by a push endpoint.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct PubSubEvent {
    /// The decoded message data.
    pub data: Bytes,
    /// Message attributes.
    pub attributes: BTreeMap<String, String>,
    /// Server-assigned message id (identical on redelivery).
    pub message_id: Option<String>,
    /// When Pub/Sub received the message.
    pub publish_time: Option<DateTime<Utc>>,
    /// Ordering key, if the publisher set one.
    pub ordering_key: Option<String>,
    /// Full subscription name, `projects/P/subscriptions/S`.
    pub subscription: Option<String>,
    /// Delivery attempt (only sent when the subscription has a dead-letter policy).
    pub delivery_attempt: Option<u32>,
    /// The CloudEvent envelope when delivered by Eventarc.
    pub cloud_event: Option<CloudEventContext>,
}

/// CloudEvent attributes from a binary-mode request (`ce-*` headers).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CloudEventContext {
    /// `ce-id`.
    pub id: String,
    /// `ce-source`, e.g. `//pubsub.googleapis.com/projects/P/topics/T`.
    pub source: String,
    /// `ce-specversion` (always `1.0`).
    pub spec_version: String,
    /// `ce-type`, e.g. `google.cloud.pubsub.topic.v1.messagePublished`.
    pub event_type: String,
    /// `ce-time`, if sent.
    pub time: Option<DateTime<Utc>>,
}

/// A Cloud Scheduler HTTP target call.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SchedulerEvent {
    /// The JSON body configured on the job (empty if none).
    pub body: Bytes,
    /// `X-CloudScheduler-JobName`.
    pub job_name: Option<String>,
    /// `X-CloudScheduler-ScheduleTime`.
    pub schedule_time: Option<DateTime<Utc>>,
}

impl Event {
    /// The payload: the message data or the scheduler body.
    #[must_use]
    pub fn data(&self) -> &Bytes {
        match self {
            Self::PubSub(m) => &m.data,
            Self::Scheduler(s) => &s.body,
        }
    }

    /// Parses the payload as JSON.
    ///
    /// ```
    /// use bacca_runtime::{Event, SchedulerEvent};
    /// #[derive(serde::Deserialize)]
    /// struct Req { tenant: String }
    /// let e = Event::Scheduler(SchedulerEvent { body: r#"{"tenant":"t1"}"#.into(), ..Default::default() });
    /// assert_eq!(e.json::<Req>()?.tenant, "t1");
    /// # Ok::<(), bacca_runtime::HandlerError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// A permanent [`HandlerError`] of class `malformed_message`: the payload will never parse,
    /// so the message goes to the dead-letter topic.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, HandlerError> {
        serde_json::from_slice(self.data())
            .map_err(|_| HandlerError::permanent("malformed_message"))
    }

    /// The message attributes (empty for scheduler calls).
    #[must_use]
    pub fn attributes(&self) -> Option<&BTreeMap<String, String>> {
        match self {
            Self::PubSub(m) => Some(&m.attributes),
            Self::Scheduler(_) => None,
        }
    }

    /// The Pub/Sub message id or CloudEvent id, for logs and idempotency.
    #[must_use]
    pub fn message_id(&self) -> Option<&str> {
        match self {
            Self::PubSub(m) => m
                .message_id
                .as_deref()
                .or_else(|| m.cloud_event.as_ref().map(|c| c.id.as_str())),
            Self::Scheduler(_) => None,
        }
    }

    /// The delivery attempt, when Pub/Sub sent one.
    #[must_use]
    pub const fn delivery_attempt(&self) -> Option<u32> {
        match self {
            Self::PubSub(m) => m.delivery_attempt,
            Self::Scheduler(_) => None,
        }
    }

    /// `"pubsub"`, `"eventarc"` or `"scheduler"`.
    #[must_use]
    pub const fn source_kind(&self) -> &'static str {
        match self {
            Self::PubSub(PubSubEvent {
                cloud_event: Some(_),
                ..
            }) => "eventarc",
            Self::PubSub(_) => "pubsub",
            Self::Scheduler(_) => "scheduler",
        }
    }
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::PubSub(m) => f.debug_tuple("PubSub").field(m).finish(),
            Self::Scheduler(s) => f.debug_tuple("Scheduler").field(s).finish(),
        }
    }
}

impl fmt::Debug for PubSubEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PubSubEvent")
            .field("data_len", &self.data.len())
            .field(
                "attribute_keys",
                &self.attributes.keys().collect::<Vec<_>>(),
            )
            .field("message_id", &self.message_id)
            .field("publish_time", &self.publish_time)
            .field("has_ordering_key", &self.ordering_key.is_some())
            .field("subscription", &self.subscription)
            .field("delivery_attempt", &self.delivery_attempt)
            .field("cloud_event", &self.cloud_event)
            .finish()
    }
}

impl fmt::Debug for SchedulerEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SchedulerEvent")
            .field("body_len", &self.body.len())
            .field("job_name", &self.job_name)
            .field("schedule_time", &self.schedule_time)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_payload_and_attribute_values() {
        let e = Event::PubSub(PubSubEvent {
            data: Bytes::from_static(b"canary-data"),
            attributes: BTreeMap::from([("k".into(), "canary-attr".into())]),
            ordering_key: Some("canary-key".into()),
            ..Default::default()
        });
        let s = format!("{e:?}");
        assert!(!s.contains("canary"), "{s}");
        let s = format!(
            "{:?}",
            SchedulerEvent {
                body: "canary".into(),
                ..Default::default()
            }
        );
        assert!(!s.contains("canary"), "{s}");
    }

    #[test]
    fn json_failure_is_permanent_malformed_message() {
        let e = Event::PubSub(PubSubEvent {
            data: "not json".into(),
            ..Default::default()
        });
        let err = e.json::<serde_json::Value>().err();
        assert_eq!(err, Some(HandlerError::permanent("malformed_message")));
    }

    #[test]
    fn message_id_falls_back_to_cloud_event_id() {
        let e = Event::PubSub(PubSubEvent {
            cloud_event: Some(CloudEventContext {
                id: "ce-1".into(),
                ..Default::default()
            }),
            ..Default::default()
        });
        assert_eq!(e.message_id(), Some("ce-1"));
        assert_eq!(e.source_kind(), "eventarc");
    }
}
