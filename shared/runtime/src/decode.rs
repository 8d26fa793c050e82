//! Decoding a `POST /` request into an [`Event`]: Pub/Sub push (wrapped), Eventarc binary-mode
//! CloudEvents and Cloud Scheduler calls.
//!
//! The transport is chosen by headers: `ce-id`/`ce-type` mean a CloudEvent, `X-CloudScheduler`
//! a Scheduler call, anything else a Pub/Sub push. Only CloudEvents whose body is a Pub/Sub
//! message (`google.cloud.pubsub.topic.v1.messagePublished`) are supported; another body shape
//! is answered 400. Unknown JSON fields are ignored, as Google adds fields over time.

use std::collections::BTreeMap;

use base64::Engine as _;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use http::HeaderMap;
use serde::Deserialize;

use crate::event::{CloudEventContext, Event, PubSubEvent, SchedulerEvent};

/// Why a request body could not be decoded. Each is a permanent error answered with 400.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The body is not JSON, or not the expected JSON shape.
    #[error("malformed JSON body")]
    Json,
    /// `message.data` is not valid base64.
    #[error("malformed base64 data")]
    Base64,
    /// A timestamp field is not RFC 3339.
    #[error("malformed timestamp")]
    Timestamp,
    /// A CloudEvent header is missing or has an unsupported value.
    #[error("malformed CloudEvent headers")]
    CloudEvent,
}

impl DecodeError {
    /// The error class used in logs.
    #[must_use]
    pub const fn class(self) -> &'static str {
        match self {
            Self::Json => "malformed_json",
            Self::Base64 => "malformed_base64",
            Self::Timestamp => "malformed_timestamp",
            Self::CloudEvent => "malformed_cloudevent",
        }
    }
}

/// Whether a `Content-Type` value is `application/json` (parameters such as `charset` allowed).
#[must_use]
pub fn is_json_content_type(value: Option<&str>) -> bool {
    value.is_some_and(|v| {
        v.split(';')
            .next()
            .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
    })
}

/// Both spellings appear in real push bodies, sometimes in the same object, so each field is
/// read under both names and merged (serde aliases would reject the duplicate).
#[derive(Deserialize)]
struct WireMessage {
    data: Option<String>,
    attributes: Option<BTreeMap<String, String>>,
    #[serde(rename = "messageId")]
    message_id_camel: Option<String>,
    #[serde(rename = "message_id")]
    message_id_snake: Option<String>,
    #[serde(rename = "publishTime")]
    publish_time_camel: Option<String>,
    #[serde(rename = "publish_time")]
    publish_time_snake: Option<String>,
    #[serde(rename = "orderingKey")]
    ordering_key_camel: Option<String>,
    #[serde(rename = "ordering_key")]
    ordering_key_snake: Option<String>,
}

#[derive(Deserialize)]
struct WireBody {
    message: WireMessage,
    subscription: Option<String>,
    #[serde(rename = "deliveryAttempt")]
    delivery_attempt_camel: Option<u32>,
    #[serde(rename = "delivery_attempt")]
    delivery_attempt_snake: Option<u32>,
}

fn parse_time(value: Option<&str>) -> Result<Option<DateTime<Utc>>, DecodeError> {
    value
        .map(|t| {
            DateTime::parse_from_rfc3339(t)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| DecodeError::Timestamp)
        })
        .transpose()
}

fn decode_base64(data: &str) -> Result<Bytes, DecodeError> {
    let engine = &base64::engine::general_purpose::STANDARD;
    let unpadded = &base64::engine::general_purpose::STANDARD_NO_PAD;
    engine
        .decode(data)
        .or_else(|_| unpadded.decode(data))
        .map(Bytes::from)
        .map_err(|_| DecodeError::Base64)
}

/// Decodes a Pub/Sub push body (`{"message":{...},"subscription":..,"deliveryAttempt":N}`).
///
/// # Errors
///
/// [`DecodeError`] for bad JSON, bad base64 or a bad `publishTime`.
pub fn decode_push(body: &[u8]) -> Result<PubSubEvent, DecodeError> {
    let wire: WireBody = serde_json::from_slice(body).map_err(|_| DecodeError::Json)?;
    let m = wire.message;
    let data = m
        .data
        .as_deref()
        .map(decode_base64)
        .transpose()?
        .unwrap_or_default();
    let publish_time = parse_time(m.publish_time_camel.or(m.publish_time_snake).as_deref())?;
    Ok(PubSubEvent {
        data,
        attributes: m.attributes.unwrap_or_default(),
        message_id: m.message_id_camel.or(m.message_id_snake),
        publish_time,
        ordering_key: m
            .ordering_key_camel
            .or(m.ordering_key_snake)
            .filter(|k| !k.is_empty()),
        subscription: wire.subscription,
        delivery_attempt: wire.delivery_attempt_camel.or(wire.delivery_attempt_snake),
        cloud_event: None,
    })
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The transport a request came by, judged from its headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// Pub/Sub push (no `ce-*` or scheduler headers).
    PubSubPush,
    /// Eventarc binary-mode CloudEvent (`ce-id` or `ce-type` present).
    CloudEvent,
    /// Cloud Scheduler HTTP target (`X-CloudScheduler` present).
    Scheduler,
}

/// Picks the transport from the headers.
#[must_use]
pub fn transport(headers: &HeaderMap) -> Transport {
    if headers.contains_key("ce-id") || headers.contains_key("ce-type") {
        Transport::CloudEvent
    } else if headers.contains_key("x-cloudscheduler") {
        Transport::Scheduler
    } else {
        Transport::PubSubPush
    }
}

/// Decodes a request of any supported transport into an [`Event`].
///
/// # Errors
///
/// [`DecodeError`] when the body or the headers are malformed.
pub fn decode(headers: &HeaderMap, body: &[u8]) -> Result<Event, DecodeError> {
    match transport(headers) {
        Transport::PubSubPush => decode_push(body).map(Event::PubSub),
        Transport::CloudEvent => {
            let required = |name| {
                header(headers, name)
                    .filter(|v| !v.is_empty())
                    .map(str::to_owned)
                    .ok_or(DecodeError::CloudEvent)
            };
            let context = CloudEventContext {
                id: required("ce-id")?,
                source: required("ce-source")?,
                spec_version: required("ce-specversion")?,
                event_type: required("ce-type")?,
                time: parse_time(header(headers, "ce-time"))?,
            };
            if context.spec_version != "1.0" {
                return Err(DecodeError::CloudEvent);
            }
            let mut event = decode_push(body)?;
            event.cloud_event = Some(context);
            Ok(Event::PubSub(event))
        }
        Transport::Scheduler => {
            if !body.iter().all(u8::is_ascii_whitespace) {
                serde_json::from_slice::<serde::de::IgnoredAny>(body)
                    .map_err(|_| DecodeError::Json)?;
            }
            Ok(Event::Scheduler(SchedulerEvent {
                body: Bytes::copy_from_slice(body),
                job_name: header(headers, "x-cloudscheduler-jobname").map(str::to_owned),
                schedule_time: parse_time(header(headers, "x-cloudscheduler-scheduletime"))?,
            }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    const CAMEL: &str = include_str!("../testdata/push_camel.json");
    const SNAKE: &str = include_str!("../testdata/push_snake.json");
    const BOTH: &str = include_str!("../testdata/push_both.json");

    fn pubsub(e: Event) -> PubSubEvent {
        match e {
            Event::PubSub(m) => m,
            Event::Scheduler(_) => PubSubEvent::default(),
        }
    }

    #[test]
    fn camel_snake_and_both_spellings_decode_the_same() {
        for body in [CAMEL, SNAKE, BOTH] {
            let m = decode_push(body.as_bytes()).expect("decodes");
            assert_eq!(
                &m.data[..],
                br#"{"tenant":"acme","object":"raw/slack/2026-11-20/b1"}"#
            );
            assert_eq!(
                m.attributes.get("source").map(String::as_str),
                Some("slack")
            );
            assert_eq!(m.message_id.as_deref(), Some("2070443601311540"));
            assert_eq!(
                m.publish_time.map(|t| t.to_rfc3339()),
                Some("2026-11-20T10:15:30.123+00:00".into())
            );
            assert_eq!(m.ordering_key.as_deref(), Some("acme"));
            assert_eq!(
                m.subscription.as_deref(),
                Some("projects/p/subscriptions/anonymize")
            );
            assert_eq!(m.delivery_attempt, Some(3));
        }
    }

    #[test]
    fn only_data_is_needed_and_even_it_may_be_absent() {
        let m = decode_push(br#"{"message":{"data":"aGk="}}"#).expect("decodes");
        assert_eq!(&m.data[..], b"hi");
        assert!(m.message_id.is_none() && m.delivery_attempt.is_none());
        let m = decode_push(br#"{"message":{"attributes":{"a":"b"}}}"#).expect("decodes");
        assert!(m.data.is_empty());
        // Unpadded base64 is accepted too.
        assert_eq!(
            &decode_push(br#"{"message":{"data":"aGk"}}"#)
                .expect("ok")
                .data[..],
            b"hi"
        );
    }

    #[test]
    fn malformed_bodies_are_classified() {
        let cases: [(&[u8], DecodeError); 8] = [
            (b"", DecodeError::Json),
            (b"{", DecodeError::Json),
            (b"[]", DecodeError::Json),
            (br#"{"subscription":"s"}"#, DecodeError::Json),
            (br#"{"message":{"data":5}}"#, DecodeError::Json),
            (
                br#"{"message":{"data":"a","attributes":{"k":1}}}"#,
                DecodeError::Json,
            ),
            (
                br#"{"message":{"data":"!!!not base64"}}"#,
                DecodeError::Base64,
            ),
            (
                br#"{"message":{"data":"","publishTime":"yesterday"}}"#,
                DecodeError::Timestamp,
            ),
        ];
        for (body, expected) in cases {
            assert_eq!(
                decode_push(body).err(),
                Some(expected),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }

    fn ce_headers() -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("ce-id", HeaderValue::from_static("ce-42"));
        h.insert(
            "ce-source",
            HeaderValue::from_static("//pubsub.googleapis.com/projects/p/topics/t"),
        );
        h.insert("ce-specversion", HeaderValue::from_static("1.0"));
        h.insert(
            "ce-type",
            HeaderValue::from_static("google.cloud.pubsub.topic.v1.messagePublished"),
        );
        h.insert("ce-time", HeaderValue::from_static("2026-11-20T10:15:31Z"));
        h
    }

    #[test]
    fn cloud_event_binary_mode() {
        let m = pubsub(decode(&ce_headers(), CAMEL.as_bytes()).expect("decodes"));
        let ce = m.cloud_event.expect("context");
        assert_eq!(ce.id, "ce-42");
        assert_eq!(
            ce.event_type,
            "google.cloud.pubsub.topic.v1.messagePublished"
        );
        assert!(ce.time.is_some());
        assert_eq!(
            m.attributes.get("source").map(String::as_str),
            Some("slack")
        );

        for missing in ["ce-source", "ce-specversion"] {
            let mut h = ce_headers();
            h.remove(missing);
            assert_eq!(
                decode(&h, CAMEL.as_bytes()).err(),
                Some(DecodeError::CloudEvent)
            );
        }
        let mut h = ce_headers();
        h.insert("ce-specversion", HeaderValue::from_static("0.3"));
        assert_eq!(
            decode(&h, CAMEL.as_bytes()).err(),
            Some(DecodeError::CloudEvent)
        );
    }

    #[test]
    fn scheduler_call() {
        let mut h = HeaderMap::new();
        h.insert("x-cloudscheduler", HeaderValue::from_static("true"));
        h.insert(
            "x-cloudscheduler-jobname",
            HeaderValue::from_static("fetch-acme-slack"),
        );
        h.insert(
            "x-cloudscheduler-scheduletime",
            HeaderValue::from_static("2026-11-20T10:00:00Z"),
        );
        let body = br#"{"tenant":"acme","source":"slack"}"#;
        match decode(&h, body).expect("decodes") {
            Event::Scheduler(s) => {
                assert_eq!(&s.body[..], body);
                assert_eq!(s.job_name.as_deref(), Some("fetch-acme-slack"));
                assert!(s.schedule_time.is_some());
            }
            Event::PubSub(_) => unreachable!("scheduler headers decide the transport"),
        }
        assert!(decode(&h, b"").is_ok(), "a job without a body is fine");
        assert_eq!(decode(&h, b"{oops").err(), Some(DecodeError::Json));
    }

    #[test]
    fn content_type() {
        assert!(is_json_content_type(Some("application/json")));
        assert!(is_json_content_type(Some(
            "Application/JSON; charset=utf-8"
        )));
        assert!(!is_json_content_type(Some("text/plain")));
        assert!(!is_json_content_type(Some("application/jsonx")));
        assert!(!is_json_content_type(None));
    }
}
