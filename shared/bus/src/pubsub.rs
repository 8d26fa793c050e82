//! Google Cloud Pub/Sub publisher on the official `google-cloud-pubsub` crate (gRPC
//! `google.pubsub.v1.Publisher/Publish`).
//!
//! One [`PubSubPublisher`] per project holds one `BasePublisher` (one gRPC channel,
//! Application Default Credentials through `google-cloud-auth`, the same `google-cloud-gax`
//! as the KMS client) and one topic publisher per topic, created on first use. Batching is
//! off (a batch is sent as soon as it holds one message): the functions publish a handful of
//! small pointer messages per request and wait for each message id before acknowledging.
//!
//! Retries are the client library's: at most [`ATTEMPTS`] attempts within [`RETRY_WINDOW`],
//! exponential back-off from 100 ms, on `UNAVAILABLE`, `RESOURCE_EXHAUSTED`,
//! `DEADLINE_EXCEEDED`, `INTERNAL`, `ABORTED`, `UNKNOWN` and transport errors. What is left
//! is mapped to [`Error`]: `NOT_FOUND` is [`Error::UnknownTopic`] and `PERMISSION_DENIED`,
//! `UNAUTHENTICATED`, `INVALID_ARGUMENT`, `FAILED_PRECONDITION` are permanent; the transient
//! codes stay retryable, so a handler's [`crate::HandlerError`] nacks them. Errors carry a
//! static class only, never the server's message.
//!
//! Ordering keys: the client pauses a key after a failed publish so that later messages do
//! not overtake it; the caller's retry is a redelivery of the whole request, so the key is
//! resumed at once after the failure is reported.
//!
//! Tested against a local HTTP/2 fake of `Publish` (`tests/pubsub_grpc.rs`): the crate does
//! not honour `PUBSUB_EMULATOR_HOST` and no emulator can be installed here, so tests point
//! [`PubSubPublisher::unauthenticated`] at `http://127.0.0.1:PORT` (plaintext HTTP/2,
//! anonymous credentials).
//!
//! TLS to `pubsub.googleapis.com` is rustls (aws-lc) with the system's root certificates
//! (tonic `tls-native-roots`, already in the build through the KMS client's IAM dependency);
//! the distroless `cc` image ships them in `/etc/ssl/certs`.
//!
//! The client library spawns its background tasks (the gRPC channel, one dispatcher per
//! topic) on the Tokio runtime of the first publish: use a publisher within one runtime.
//!
//! ```no_run
//! # async fn demo() -> bacca_bus::Result<()> {
//! use bacca_bus::{Message, Publisher, PubSubPublisher};
//! let publisher = PubSubPublisher::new("my-project")?;
//! let id = publisher.publish("raw-landed", Message::new(&b"{}"[..])).await?;
//! # let _ = id; Ok(()) }
//! ```

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use google_cloud_auth::credentials::Credentials;
use google_cloud_gax::error::rpc::Code;
use google_cloud_gax::exponential_backoff::ExponentialBackoffBuilder;
use google_cloud_gax::retry_policy::RetryPolicyExt;
use google_cloud_gax::retry_throttler::CircuitBreaker;
use google_cloud_pubsub::client::{BasePublisher, Publisher as TopicPublisher};
use google_cloud_pubsub::error::PublishError;
use google_cloud_pubsub::retry_policy::RetryableErrors;
use tokio::sync::OnceCell;

use crate::{Error, Message, Publisher, Result};

/// The public Pub/Sub endpoint.
pub const PUBSUB_ENDPOINT: &str = "https://pubsub.googleapis.com";

/// Attempts per publish: the first plus retries of transient failures.
pub const ATTEMPTS: u32 = 4;

/// Time limit of one publish including its retries.
pub const RETRY_WINDOW: Duration = Duration::from_secs(30);

/// Publishes to Cloud Pub/Sub topics of one project. Cheap to clone; clones share the gRPC
/// channel and the topic publishers.
#[derive(Clone)]
pub struct PubSubPublisher {
    endpoint: String,
    project: String,
    creds: Credentials,
    base: Arc<OnceCell<BasePublisher>>,
    topics: Arc<Mutex<HashMap<String, TopicPublisher>>>,
}

impl std::fmt::Debug for PubSubPublisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PubSubPublisher")
            .field("endpoint", &self.endpoint)
            .field("project", &self.project)
            .finish_non_exhaustive()
    }
}

impl PubSubPublisher {
    /// A publisher for `project` with Application Default Credentials. The gRPC channel is
    /// opened by the first publish.
    ///
    /// # Errors
    /// A permanent backend error (`credentials_unavailable`) when ADC cannot be set up.
    pub fn new(project: &str) -> Result<Self> {
        let creds = google_cloud_auth::credentials::Builder::default()
            .build()
            .map_err(|_| Error::Backend {
                class: "credentials_unavailable",
                retryable: false,
            })?;
        Ok(Self::build(PUBSUB_ENDPOINT, project, creds))
    }

    /// A publisher for `project` at `endpoint` with anonymous credentials (tests, local
    /// fakes); an `http://` endpoint is plaintext HTTP/2.
    ///
    /// # Errors
    /// None today; kept fallible like [`PubSubPublisher::new`].
    pub fn unauthenticated(endpoint: &str, project: &str) -> Result<Self> {
        let creds = google_cloud_auth::credentials::anonymous::Builder::new().build();
        Ok(Self::build(endpoint, project, creds))
    }

    fn build(endpoint: &str, project: &str, creds: Credentials) -> Self {
        Self {
            endpoint: endpoint.trim_end_matches('/').to_owned(),
            project: project.to_owned(),
            creds,
            base: Arc::new(OnceCell::new()),
            topics: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// The full topic name: `topic` as given when it starts with `projects/`, else
    /// `projects/<project>/topics/<topic>`.
    ///
    /// ```
    /// let p = bacca_bus::PubSubPublisher::unauthenticated("http://127.0.0.1:1", "proj")?;
    /// assert_eq!(p.topic_path("raw-landed"), "projects/proj/topics/raw-landed");
    /// assert_eq!(p.topic_path("projects/x/topics/y"), "projects/x/topics/y");
    /// # Ok::<(), bacca_bus::Error>(())
    /// ```
    pub fn topic_path(&self, topic: &str) -> String {
        if topic.starts_with("projects/") {
            topic.to_owned()
        } else {
            format!("projects/{}/topics/{topic}", self.project)
        }
    }

    async fn base(&self) -> Result<&BasePublisher> {
        self.base
            .get_or_try_init(|| async {
                let backoff = ExponentialBackoffBuilder::new()
                    .with_initial_delay(Duration::from_millis(100))
                    .with_maximum_delay(Duration::from_secs(5))
                    .with_scaling(4.0)
                    .clamp();
                BasePublisher::builder()
                    .with_endpoint(self.endpoint.clone())
                    .with_credentials(self.creds.clone())
                    .with_retry_policy(
                        RetryableErrors
                            .with_attempt_limit(ATTEMPTS)
                            .with_time_limit(RETRY_WINDOW),
                    )
                    .with_backoff_policy(backoff)
                    // Never throttles: a throttled retry does not count as an attempt, so
                    // a throttler (the default adaptive one, or a default circuit breaker
                    // after 5 errors) stalls a publish until RETRY_WINDOW; the outer
                    // back-off is Pub/Sub's redelivery of the request.
                    .with_retry_throttler(CircuitBreaker::clamp(1, 0, 0))
                    .build()
                    .await
                    .map_err(|_| Error::Backend {
                        class: "client_config",
                        retryable: false,
                    })
            })
            .await
    }

    async fn topic_publisher(&self, topic_path: &str) -> Result<TopicPublisher> {
        let base = self.base().await?;
        let mut topics = self.topics.lock().unwrap_or_else(PoisonError::into_inner);
        let publisher = topics.entry(topic_path.to_owned()).or_insert_with(|| {
            base.publisher(topic_path)
                .set_message_count_threshold(1)
                .set_delay_threshold(Duration::ZERO)
                .build()
        });
        Ok(publisher.clone())
    }

    fn forget_topic(&self, topic_path: &str) {
        self.topics
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(topic_path);
    }
}

/// Maps a publish failure to a static class and whether a retry can help.
fn classify(topic: &str, e: &PublishError) -> Error {
    let backend = |class, retryable| Error::Backend { class, retryable };
    match e {
        PublishError::Rpc(rpc) => classify_rpc(topic, rpc),
        PublishError::OrderingKeyPaused => backend("ordering_key_paused", true),
        _ => backend("unavailable", true),
    }
}

fn classify_rpc(topic: &str, e: &google_cloud_gax::error::Error) -> Error {
    let backend = |class, retryable| Error::Backend { class, retryable };
    // A time limit reached between attempts wraps the last error.
    if e.is_exhausted() {
        let inner = std::error::Error::source(e)
            .and_then(|s| s.downcast_ref::<google_cloud_gax::error::Error>());
        return inner.map_or(backend("timeout", true), |i| classify_rpc(topic, i));
    }
    if let Some(status) = e.status() {
        return match status.code {
            Code::NotFound => Error::UnknownTopic(topic.to_owned()),
            Code::PermissionDenied | Code::Unauthenticated => backend("permission_denied", false),
            Code::InvalidArgument | Code::FailedPrecondition | Code::OutOfRange => {
                backend("invalid_request", false)
            }
            Code::ResourceExhausted => backend("throttled", true),
            Code::DeadlineExceeded => backend("timeout", true),
            _ => backend("unavailable", true),
        };
    }
    match e.http_status_code() {
        Some(404) => Error::UnknownTopic(topic.to_owned()),
        Some(401 | 403) => backend("permission_denied", false),
        Some(400) => backend("invalid_request", false),
        Some(429) => backend("throttled", true),
        _ if e.is_timeout() => backend("timeout", true),
        _ if e.is_authentication() => backend("credentials_unavailable", true),
        _ => backend("unavailable", true),
    }
}

#[async_trait]
impl Publisher for PubSubPublisher {
    async fn publish(&self, topic: &str, msg: Message) -> Result<String> {
        msg.validate()?;
        let path = self.topic_path(topic);
        let publisher = self.topic_publisher(&path).await?;
        let ordering_key = msg.ordering_key.clone();
        let mut wire = google_cloud_pubsub::model::Message::new()
            .set_data(msg.data)
            .set_attributes(msg.attributes);
        if let Some(key) = &ordering_key {
            wire = wire.set_ordering_key(key.clone());
        }
        match publisher.publish(wire).await {
            Ok(id) => Ok(id),
            Err(e) => {
                if let Some(key) = ordering_key {
                    publisher.resume_publish(key);
                }
                if matches!(e, PublishError::Shutdown) {
                    // The dispatcher task is gone (its runtime ended): build a new one next time.
                    self.forget_topic(&path);
                }
                let err = classify(topic, &e);
                tracing::warn!(
                    topic = %path,
                    error_class = err.class(),
                    retryable = err.is_retryable(),
                    "pubsub publish failed"
                );
                Err(err)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use google_cloud_gax::error::rpc::Status;

    fn status(code: Code) -> PublishError {
        PublishError::Rpc(Arc::new(google_cloud_gax::error::Error::service(
            Status::default().set_code(code).set_message("server text"),
        )))
    }

    #[test]
    fn status_codes_map_to_retry_classes() {
        let cases = [
            (Code::Unavailable, "unavailable", true),
            (Code::ResourceExhausted, "throttled", true),
            (Code::DeadlineExceeded, "timeout", true),
            (Code::Internal, "unavailable", true),
            (Code::NotFound, "unknown_topic", false),
            (Code::PermissionDenied, "permission_denied", false),
            (Code::Unauthenticated, "permission_denied", false),
            (Code::InvalidArgument, "invalid_request", false),
        ];
        for (code, class, retryable) in cases {
            let e = classify("t", &status(code));
            assert_eq!(e.class(), class, "{code:?}");
            assert_eq!(e.is_retryable(), retryable, "{code:?}");
            assert!(!e.to_string().contains("server text"));
        }
    }

    #[test]
    fn exhausted_retries_keep_the_last_status_class() {
        let last = google_cloud_gax::error::Error::service(
            Status::default().set_code(Code::ResourceExhausted),
        );
        let e = PublishError::Rpc(Arc::new(google_cloud_gax::error::Error::exhausted(last)));
        assert_eq!(classify("t", &e).class(), "throttled");
        let e = classify("t", &PublishError::OrderingKeyPaused);
        assert!(e.is_retryable());
        assert!(classify("t", &PublishError::Shutdown).is_retryable());
    }

    #[test]
    fn debug_shows_no_credentials() {
        let p = PubSubPublisher::unauthenticated("http://127.0.0.1:1/", "proj").unwrap();
        let s = format!("{p:?}");
        assert!(s.contains("http://127.0.0.1:1\""), "{s}");
        assert!(!s.contains("creds"), "{s}");
    }
}
