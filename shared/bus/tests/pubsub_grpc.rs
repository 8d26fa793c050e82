//! Black-box tests of `PubSubPublisher` (official `google-cloud-pubsub` client) against a local
//! gRPC fake of `google.pubsub.v1.Publisher/Publish` that records the exact request.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use bacca_bus::pubsub::ATTEMPTS;
use bacca_bus::{Disposition, Error, HandlerError, Message, PubSubPublisher, Publisher};
use support::grpc_fake::{
    FakePublisher, NOT_FOUND, PERMISSION_DENIED, RESOURCE_EXHAUSTED, UNAVAILABLE,
};

async fn setup() -> (FakePublisher, PubSubPublisher) {
    let fake = FakePublisher::start().await;
    let publisher = PubSubPublisher::unauthenticated(&fake.endpoint, "proj").unwrap();
    (fake, publisher)
}

fn pointer() -> Message {
    Message::new(&b"{\"tenant\":\"acme\",\"generation\":7}"[..])
        .attribute("tenant", "acme")
        .attribute("source", "slack")
        .ordering_key("acme")
}

#[tokio::test]
async fn publishes_the_exact_grpc_request() {
    let (fake, p) = setup().await;
    let id = p.publish("raw-landed", pointer()).await.unwrap();
    assert_eq!(id, "1");

    let calls = fake.calls();
    assert_eq!(calls.len(), 1);
    let call = &calls[0];
    assert_eq!(call.path, "/google.pubsub.v1.Publisher/Publish");
    assert!(
        call.content_type.starts_with("application/grpc"),
        "{}",
        call.content_type
    );
    assert_eq!(call.compressed, 0);
    assert!(
        !call.has_authorization,
        "anonymous credentials send no token"
    );
    assert_eq!(call.request.topic, "projects/proj/topics/raw-landed");
    assert_eq!(call.request.messages.len(), 1, "batching is off");
    let m = &call.request.messages[0];
    assert_eq!(&m.data[..], b"{\"tenant\":\"acme\",\"generation\":7}");
    assert_eq!(m.attributes.len(), 2);
    assert_eq!(m.attributes["tenant"], "acme");
    assert_eq!(m.attributes["source"], "slack");
    assert_eq!(m.ordering_key, "acme");
    assert_eq!(m.message_id, "");
}

#[tokio::test]
async fn full_topic_names_and_messages_without_ordering_key() {
    let (fake, p) = setup().await;
    let a = p
        .publish("projects/other/topics/dead-letter", Message::new(&b"x"[..]))
        .await
        .unwrap();
    let b = p
        .publish("knowledge-updated", Message::new(&b"y"[..]))
        .await
        .unwrap();
    assert_ne!(a, b);
    let calls = fake.calls();
    assert_eq!(calls[0].request.topic, "projects/other/topics/dead-letter");
    assert_eq!(calls[0].request.messages[0].ordering_key, "");
    assert!(calls[0].request.messages[0].attributes.is_empty());
    assert_eq!(
        calls[1].request.topic,
        "projects/proj/topics/knowledge-updated"
    );
    assert_eq!(&calls[1].request.messages[0].data[..], b"y");
}

#[tokio::test]
async fn unavailable_then_ok_is_retried_with_the_same_request() {
    let (fake, p) = setup().await;
    fake.script(&[(UNAVAILABLE, "try again")]);
    let id = p.publish("raw-landed", pointer()).await.unwrap();
    assert_eq!(id, "1");
    let calls = fake.calls();
    assert_eq!(calls.len(), 2, "one UNAVAILABLE, then OK");
    assert_eq!(calls[0].request, calls[1].request);
}

#[tokio::test]
async fn not_found_is_permanent_and_not_retried() {
    let (fake, p) = setup().await;
    fake.script(&[(NOT_FOUND, "Resource not found (resource=raw-landed).")]);
    let e = p.publish("raw-landed", pointer()).await.unwrap_err();
    assert_eq!(e, Error::UnknownTopic("raw-landed".into()));
    assert_eq!(HandlerError::from(e).disposition(), Disposition::Permanent);
    assert_eq!(fake.calls().len(), 1);

    // The ordering key paused by the failure is resumed: the redelivery publishes.
    assert_eq!(p.publish("raw-landed", pointer()).await.unwrap(), "1");
    assert_eq!(fake.calls().len(), 2);
}

#[tokio::test]
async fn permission_denied_is_permanent_and_carries_no_server_text() {
    let (fake, p) = setup().await;
    fake.script(&[(PERMISSION_DENIED, "User not authorized secret-detail")]);
    let e = p.publish("raw-landed", pointer()).await.unwrap_err();
    assert_eq!(e.class(), "permission_denied");
    assert!(!e.is_retryable());
    assert!(!e.to_string().contains("secret-detail"));
    assert_eq!(fake.calls().len(), 1);
}

#[tokio::test]
async fn persistent_transient_errors_stay_retryable_after_the_attempt_limit() {
    let (fake, p) = setup().await;
    let n = ATTEMPTS as usize;
    fake.script(&vec![(RESOURCE_EXHAUSTED, "quota"); n]);
    let e = p
        .publish("raw-landed", Message::new(&b"x"[..]))
        .await
        .unwrap_err();
    assert_eq!(e.class(), "throttled");
    assert!(e.is_retryable());
    assert_eq!(HandlerError::from(e).disposition(), Disposition::Retryable);
    assert_eq!(fake.calls().len(), n);

    fake.script(&vec![(UNAVAILABLE, "down"); n]);
    let e = p.publish("raw-landed", pointer()).await.unwrap_err();
    assert_eq!(e.class(), "unavailable");
    assert!(e.is_retryable());
    assert_eq!(fake.calls().len(), 2 * n);
}

#[tokio::test]
async fn invalid_messages_are_rejected_before_any_call() {
    let (fake, p) = setup().await;
    let e = p.publish("t", Message::new(&b""[..])).await.unwrap_err();
    assert_eq!(e.class(), "invalid_message");
    assert!(fake.calls().is_empty());
}

#[tokio::test]
async fn unreachable_endpoint_is_retryable() {
    let p = PubSubPublisher::unauthenticated("http://127.0.0.1:9", "proj").unwrap();
    let e = p.publish("t", Message::new(&b"x"[..])).await.unwrap_err();
    assert!(e.is_retryable(), "{e:?}");
}

#[tokio::test]
async fn clones_share_the_client() {
    let (fake, p) = setup().await;
    let q = p.clone();
    p.publish("raw-landed", Message::new(&b"1"[..]))
        .await
        .unwrap();
    q.publish("raw-landed", Message::new(&b"2"[..]))
        .await
        .unwrap();
    assert_eq!(fake.calls().len(), 2);
}
