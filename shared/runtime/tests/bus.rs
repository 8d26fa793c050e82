//! The same handler on the in-process bus (`bacca run`, the demo): retryable errors are
//! redelivered, permanent ones dead-lettered once with their error class.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)] // test code

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bacca_bus::{InProcessBus, Message, Publisher, SubscriptionConfig};
use bacca_runtime::{bus_handler, handler_fn, Event, HandlerError, Outcome};

#[tokio::test]
async fn bus_handler_maps_outcomes_like_the_http_server() {
    let bus = InProcessBus::new();
    for t in ["raw-landed", "dead-letters"] {
        bus.create_topic(t);
    }
    let attempts = Arc::new(Mutex::new(Vec::<(String, u32)>::new()));
    let seen = Arc::clone(&attempts);
    let handler = Arc::new(handler_fn(move |event: Event| {
        let seen = Arc::clone(&seen);
        async move {
            let body = String::from_utf8_lossy(event.data()).into_owned();
            seen.lock()
                .unwrap()
                .push((body.clone(), event.delivery_attempt().unwrap_or(0)));
            match (body.as_str(), event.delivery_attempt()) {
                ("flaky", Some(1 | 2)) => Err(HandlerError::retryable("kms_unavailable")),
                ("poison", _) => Err(HandlerError::permanent("malformed_message")),
                _ => Ok(Outcome::Done),
            }
        }
    }));
    let dlq: Arc<dyn Publisher> = Arc::new(bus.clone());
    let config =
        SubscriptionConfig::new().backoff(Duration::from_millis(5), Duration::from_millis(20));
    bus.subscribe(
        "raw-landed",
        "anonymize",
        config.clone(),
        bus_handler(handler, Some(("dead-letters".into(), dlq))),
    )
    .unwrap();
    let dead = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&dead);
    bus.subscribe(
        "dead-letters",
        "dead-letter-reader",
        config,
        bacca_bus::handler_fn(move |d| {
            let sink = Arc::clone(&sink);
            async move {
                sink.lock().unwrap().push(d.message);
                Ok(())
            }
        }),
    )
    .unwrap();
    for body in ["ok", "flaky", "poison"] {
        bus.publish("raw-landed", Message::new(body)).await.unwrap();
    }
    tokio::time::timeout(Duration::from_secs(10), bus.drain())
        .await
        .unwrap();

    let mut attempts = attempts.lock().unwrap().clone();
    attempts.sort();
    let expected: Vec<(String, u32)> = vec![
        ("flaky".into(), 1),
        ("flaky".into(), 2),
        ("flaky".into(), 3),
        ("ok".into(), 1),
        ("poison".into(), 1),
    ];
    assert_eq!(attempts, expected, "poison is not retried, flaky is");
    let dead = dead.lock().unwrap().clone();
    assert_eq!(dead.len(), 1);
    assert_eq!(&dead[0].data[..], b"poison");
    assert_eq!(dead[0].attributes["error_class"], "malformed_message");
    assert_eq!(dead[0].attributes["subscription"], "anonymize");
    assert_eq!(dead[0].attributes["delivery_attempt"], "1");
}
