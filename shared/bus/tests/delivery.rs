//! Black-box tests of the in-process bus's Pub/Sub semantics.
#![allow(clippy::expect_used, clippy::panic)] // test code: failing loudly is the point

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bacca_bus::{
    handler_fn, Delivery, Error, HandlerError, InProcessBus, Message, Publisher, SubscriptionConfig,
};

fn fast() -> SubscriptionConfig {
    SubscriptionConfig::new().backoff(Duration::from_millis(5), Duration::from_millis(40))
}

type Log = Arc<Mutex<Vec<(String, u32, Instant)>>>;

fn recorder(log: &Log, fail_until: u32) -> bacca_bus::HandlerFn {
    let log = Arc::clone(log);
    handler_fn(move |d: Delivery| {
        let log = Arc::clone(&log);
        async move {
            log.lock()
                .map_err(|_| HandlerError::retryable("poisoned"))?
                .push((d.message_id.clone(), d.delivery_attempt, Instant::now()));
            if d.delivery_attempt < fail_until {
                Err(HandlerError::retryable("flaky"))
            } else {
                Ok(())
            }
        }
    })
}

async fn drained(bus: &InProcessBus) {
    tokio::time::timeout(Duration::from_secs(10), bus.drain())
        .await
        .expect("drain timed out");
}

#[tokio::test]
async fn redelivers_with_increasing_attempts_and_backoff() {
    let bus = InProcessBus::new();
    bus.create_topic("t");
    let log: Log = Arc::default();
    bus.subscribe("t", "s", fast(), recorder(&log, 3))
        .expect("subscribe");
    let id = bus
        .publish("t", Message::new(&b"x"[..]))
        .await
        .expect("publish");
    drained(&bus).await;
    let log = log.lock().expect("lock").clone();
    let attempts: Vec<u32> = log.iter().map(|(_, a, _)| *a).collect();
    assert_eq!(attempts, vec![1, 2, 3]);
    assert!(
        log.iter().all(|(m, _, _)| *m == id),
        "same message id on every redelivery"
    );
    let gap1 = log[1].2 - log[0].2;
    let gap2 = log[2].2 - log[1].2;
    assert!(gap1 >= Duration::from_millis(5), "{gap1:?}");
    assert!(gap2 >= Duration::from_millis(10), "{gap2:?}");
    assert_eq!(bus.pending(), 0);
}

#[tokio::test]
async fn dead_letters_after_max_attempts_with_pubsub_attributes() {
    let bus = InProcessBus::with_project("proj");
    bus.create_topic("t");
    bus.create_topic("dlq");
    let log: Log = Arc::default();
    bus.subscribe(
        "t",
        "s",
        fast().dead_letter("dlq", 4),
        recorder(&log, u32::MAX),
    )
    .expect("subscribe");
    let dead: Arc<Mutex<Vec<Delivery>>> = Arc::default();
    let sink = Arc::clone(&dead);
    bus.subscribe(
        "dlq",
        "dlq-sub",
        fast(),
        handler_fn(move |d| {
            let sink = Arc::clone(&sink);
            async move {
                sink.lock()
                    .map_err(|_| HandlerError::retryable("poisoned"))?
                    .push(d);
                Ok(())
            }
        }),
    )
    .expect("subscribe dlq");
    bus.publish("t", Message::new(&b"poison"[..]).attribute("tenant", "t1"))
        .await
        .expect("publish");
    drained(&bus).await;
    assert_eq!(
        log.lock().expect("lock").len(),
        4,
        "exactly max_delivery_attempts deliveries"
    );
    let dead = dead.lock().expect("lock");
    assert_eq!(dead.len(), 1);
    let m = &dead[0].message;
    assert_eq!(&m.data[..], b"poison");
    assert_eq!(m.attributes["tenant"], "t1");
    assert_eq!(
        m.attributes["CloudPubSubDeadLetterSourceDeliveryCount"],
        "4"
    );
    assert_eq!(m.attributes["CloudPubSubDeadLetterSourceSubscription"], "s");
    assert_eq!(
        m.attributes["CloudPubSubDeadLetterSourceSubscriptionProject"],
        "proj"
    );
    assert!(m
        .attributes
        .contains_key("CloudPubSubDeadLetterSourceTopicPublishTime"));
}

#[tokio::test]
async fn every_subscription_gets_every_message() {
    let bus = InProcessBus::new();
    bus.create_topic("t");
    let a: Log = Arc::default();
    let b: Log = Arc::default();
    bus.subscribe("t", "a", fast(), recorder(&a, 0)).expect("a");
    bus.subscribe("t", "b", fast(), recorder(&b, 2)).expect("b");
    for _ in 0..10 {
        bus.publish("t", Message::new(&b"x"[..]))
            .await
            .expect("publish");
    }
    drained(&bus).await;
    assert_eq!(a.lock().expect("lock").len(), 10);
    assert_eq!(b.lock().expect("lock").len(), 20);
}

#[tokio::test]
async fn ordering_key_delivers_in_order_even_across_retries() {
    let bus = InProcessBus::new();
    bus.create_topic("t");
    let seen: Arc<Mutex<Vec<(String, u32)>>> = Arc::default();
    let sink = Arc::clone(&seen);
    bus.subscribe(
        "t",
        "s",
        fast(),
        handler_fn(move |d| {
            let sink = Arc::clone(&sink);
            async move {
                let body = String::from_utf8_lossy(&d.message.data).into_owned();
                sink.lock()
                    .map_err(|_| HandlerError::retryable("poisoned"))?
                    .push((body.clone(), d.delivery_attempt));
                // The first message fails twice: the others must wait behind it.
                if body == "0" && d.delivery_attempt < 3 {
                    return Err(HandlerError::retryable("flaky"));
                }
                Ok(())
            }
        }),
    )
    .expect("subscribe");
    for i in 0..5 {
        bus.publish("t", Message::new(i.to_string()).ordering_key("k"))
            .await
            .expect("publish");
    }
    drained(&bus).await;
    let seen = seen.lock().expect("lock").clone();
    let expected: Vec<(String, u32)> = vec![
        ("0".into(), 1),
        ("0".into(), 2),
        ("0".into(), 3),
        ("1".into(), 1),
        ("2".into(), 1),
        ("3".into(), 1),
        ("4".into(), 1),
    ];
    assert_eq!(seen, expected);
}

#[tokio::test]
async fn bounded_queue_rejects_with_retryable_error() {
    let bus = InProcessBus::new();
    bus.create_topic("t");
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let g = Arc::clone(&gate);
    let mut config = fast();
    config.queue_capacity = 2;
    bus.subscribe(
        "t",
        "s",
        config,
        handler_fn(move |_| {
            let g = Arc::clone(&g);
            async move {
                let _permit = g
                    .acquire()
                    .await
                    .map_err(|_| HandlerError::retryable("closed"))?;
                Ok(())
            }
        }),
    )
    .expect("subscribe");
    bus.publish("t", Message::new(&b"1"[..])).await.expect("1");
    bus.publish("t", Message::new(&b"2"[..])).await.expect("2");
    let err = bus
        .publish("t", Message::new(&b"3"[..]))
        .await
        .expect_err("queue is full");
    assert!(matches!(err, Error::QueueFull(_)));
    assert!(err.is_retryable());
    gate.add_permits(10);
    drained(&bus).await;
    bus.publish("t", Message::new(&b"4"[..]))
        .await
        .expect("room again after drain");
    drained(&bus).await;
}

#[tokio::test]
async fn panicking_handler_is_a_nack() {
    let bus = InProcessBus::new();
    bus.create_topic("t");
    bus.create_topic("dlq");
    let h = handler_fn(|d: Delivery| async move {
        if d.delivery_attempt == 1 {
            panic!("handler bug");
        }
        Ok(())
    });
    bus.subscribe("t", "s", fast().dead_letter("dlq", 5), h)
        .expect("subscribe");
    bus.publish("t", Message::new(&b"x"[..]))
        .await
        .expect("publish");
    drained(&bus).await;
}

#[tokio::test]
async fn without_dead_letter_topic_retries_until_retention() {
    let bus = InProcessBus::new();
    bus.create_topic("t");
    let log: Log = Arc::default();
    let mut config = fast();
    config.message_retention = Duration::from_millis(60);
    bus.subscribe("t", "s", config, recorder(&log, u32::MAX))
        .expect("subscribe");
    bus.publish("t", Message::new(&b"x"[..]))
        .await
        .expect("publish");
    drained(&bus).await;
    // More than the default 5 attempts: without a dead-letter policy Pub/Sub keeps retrying.
    assert!(log.lock().expect("lock").len() >= 3);
}

#[tokio::test]
async fn publish_enforces_pubsub_limits() {
    let bus = InProcessBus::new();
    bus.create_topic("t");
    let empty = bus
        .publish("t", Message::default())
        .await
        .expect_err("empty message");
    assert!(matches!(empty, Error::InvalidMessage(_)) && !empty.is_retryable());
    let mut many = Message::new(&b"x"[..]);
    for i in 0..=bacca_bus::MAX_ATTRIBUTES {
        many = many.attribute(format!("k{i}"), "v");
    }
    assert!(matches!(
        bus.publish("t", many).await,
        Err(Error::InvalidMessage(_))
    ));
    let big = Message::new(vec![0u8; bacca_bus::MAX_MESSAGE_BYTES + 1]);
    assert!(matches!(
        bus.publish("t", big).await,
        Err(Error::TooLarge { .. })
    ));
    let attrs_only = Message::default().attribute("tenant", "t1");
    assert!(
        bus.publish("t", attrs_only).await.is_ok(),
        "attributes alone are a valid message"
    );
}
