//! Privacy of the logs: a canary planted in bodies, data, attributes, ordering keys and tokens
//! never appears in any log line (JSON or human format), while ids, attempts, statuses, error
//! classes and the Cloud Trace correlation do.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)] // test code

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use bacca_bus::MemoryPublisher;
use bacca_runtime::logging::cloud_logging_layer;
use bacca_runtime::{handler_fn, Event, HandlerError, OidcConfig, Outcome, RuntimeConfig};
use common::{b64, client, good_claims, jwks_server, spawn_app, Signer, AUDIENCE, EMAIL};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;

const CANARY: &str = "CANARY-7f3e9a2b";

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Capture {
    type Writer = Self;
    fn make_writer(&'a self) -> Self {
        self.clone()
    }
}

#[tokio::test]
async fn canary_never_reaches_the_logs() {
    let json = Capture::default();
    let human = Capture::default();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_subscriber::EnvFilter::new("trace"))
        .with(cloud_logging_layer(json.clone()))
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(human.clone())
                .with_ansi(false),
        );
    tracing::subscriber::set_global_default(subscriber).unwrap();
    bacca_runtime::logging::install_panic_hook();

    let signer = Signer::new("k1");
    let jwks = jwks_server(vec![signer.jwk()]).await;
    let dlq = MemoryPublisher::new();
    let mut config = RuntimeConfig::default()
        .dead_letter("dead-letters", Arc::new(dlq.clone()))
        .oidc(OidcConfig::new(AUDIENCE, EMAIL).jwks_url(&jwks.url));
    config.project_id = Some("test-proj".into());
    let handler = handler_fn(|event: Event| async move {
        tracing::info!(data_len = event.data().len(), "handler working");
        tracing::debug!(event = ?event, "event debug output");
        if event.data().starts_with(b"poison") {
            return Err(HandlerError::permanent("malformed_message"));
        }
        if event.data().starts_with(b"panic") {
            panic!(
                "bug while handling {}",
                String::from_utf8_lossy(event.data())
            );
        }
        if event.data().starts_with(b"retry") {
            return Err(HandlerError::retryable("kms_unavailable"));
        }
        Ok(Outcome::Done)
    });
    let app = spawn_app(handler, config).await;
    let mut claims = good_claims();
    claims["sub"] = CANARY.into();
    let token = signer.sign(&claims);
    let c = client();
    let body = |data: &str, id: &str| {
        serde_json::json!({
            "message": {
                "data": b64(data.as_bytes()),
                "attributes": {"tenant": CANARY, "note": format!("x {CANARY} y")},
                "messageId": id,
                "orderingKey": CANARY,
            },
            "subscription": "projects/p/subscriptions/s",
            "deliveryAttempt": 2
        })
        .to_string()
    };
    let trace = "105445aa7843bc8bf206b12000100000";
    let cases = [
        (body(&format!("ok {CANARY}"), "msg-ok"), 204),
        (body(&format!("poison {CANARY}"), "msg-poison"), 204),
        (body(&format!("retry {CANARY}"), "msg-retry"), 503),
        (body(&format!("panic {CANARY}"), "msg-panic"), 503),
        (format!(r#"{{"message":{{"data":"{CANARY}!!"}}}}"#), 400),
        (format!(r#"{{"message":{CANARY}"#), 400),
    ];
    for (b, status) in cases {
        let res = c
            .post(format!("{}/", app.url))
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {token}"))
            .header("x-cloud-trace-context", format!("{trace}/1;o=1"))
            .header("x-custom", CANARY)
            .body(b)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), status);
    }
    // A bad token with the canary inside.
    let res = c
        .post(format!("{}/", app.url))
        .header("content-type", "application/json")
        .header(
            "authorization",
            format!("Bearer {CANARY}.{CANARY}.{CANARY}"),
        )
        .body(body("x", "msg-unauth"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 401);
    // Scheduler body.
    let res = c
        .post(format!("{}/", app.url))
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {token}"))
        .header("x-cloudscheduler", "true")
        .body(format!(r#"{{"tenant":"{CANARY}"}}"#))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 204);
    app.stop().await.unwrap();
    assert_eq!(
        dlq.messages().len(),
        1,
        "the poison message was dead-lettered"
    );

    let json = String::from_utf8(json.0.lock().unwrap().clone()).unwrap();
    let human = String::from_utf8(human.0.lock().unwrap().clone()).unwrap();
    assert!(json.lines().count() >= 10, "{json}");
    assert!(!json.contains(CANARY), "canary in JSON logs:\n{json}");
    assert!(!human.contains(CANARY), "canary in human logs:\n{human}");
    assert!(!json.contains(&token) && !human.contains(&token));

    // What is logged: ids, attempts, statuses, classes, duration, and the trace on every
    // request line, hoisted to the top-level key Cloud Logging reads.
    let lines: Vec<serde_json::Value> = json
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect();
    let handled: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|l| l["message"] == "request handled")
        .collect();
    assert_eq!(handled.len(), 8);
    assert!(lines
        .iter()
        .any(|l| l["message"] == "panic (message withheld)"));
    let expected_trace = format!("projects/test-proj/traces/{trace}");
    let poison = handled
        .iter()
        .find(|l| l["span"]["message_id"] == "msg-poison")
        .expect("poison request line");
    assert_eq!(poison["status"], 204);
    assert_eq!(poison["errorClass"], "malformed_message");
    assert_eq!(poison["span"]["attempt"], 2);
    assert!(poison["durationMs"].is_u64());
    assert_eq!(
        poison["logging.googleapis.com/trace"],
        expected_trace.as_str()
    );
    let handler_line = lines
        .iter()
        .find(|l| l["message"] == "handler working")
        .unwrap();
    assert_eq!(
        handler_line["logging.googleapis.com/trace"],
        expected_trace.as_str()
    );
    assert!(handled
        .iter()
        .any(|l| l["errorClass"] == "malformed_base64" && l["status"] == 400));
    assert!(handled
        .iter()
        .any(|l| l["errorClass"] == "bad_signature" || l["errorClass"] == "token_malformed"));
    assert_eq!(
        lines
            .iter()
            .filter(|l| l["severity"] == "WARNING" && l["message"] == "dead-lettered")
            .count(),
        1
    );
}
