//! Google Cloud Pub/Sub publisher over the REST API (`POST /v1/{topic}:publish`).
//!
//! Why REST and not the gRPC client crates: Pub/Sub push already delivers to the functions
//! over HTTP, the functions publish a handful of small pointer messages per request, and the
//! REST call can be tested exactly (topic, base64 data, attributes, ordering key) against a
//! local fake, which no Pub/Sub emulator can be installed to do here. Authentication is
//! Application Default Credentials through the official `google-cloud-auth` crate; transport
//! is rustls with TLS 1.2 as the minimum.
//!
//! ```no_run
//! # async fn demo() -> bacca_bus::Result<()> {
//! use bacca_bus::{Message, Publisher, PubSubPublisher};
//! let publisher = PubSubPublisher::new("my-project")?;
//! let id = publisher.publish("raw-landed", Message::new(&b"{}"[..])).await?;
//! # let _ = id; Ok(()) }
//! ```

use std::time::Duration;

use async_trait::async_trait;
use base64::Engine;
use google_cloud_auth::credentials::{CacheableResource, Credentials};
use serde::{Deserialize, Serialize};

use crate::{Error, Message, Publisher, Result};

/// The public Pub/Sub REST endpoint.
pub const PUBSUB_ENDPOINT: &str = "https://pubsub.googleapis.com";

/// Attempts per publish (the first plus retries on 429/5xx/timeouts).
const ATTEMPTS: u32 = 4;

/// Publishes to Cloud Pub/Sub topics of one project. Cheap to clone; clones share the client.
#[derive(Clone)]
pub struct PubSubPublisher {
    http: reqwest::Client,
    endpoint: String,
    project: String,
    creds: Option<Credentials>,
}

impl std::fmt::Debug for PubSubPublisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PubSubPublisher")
            .field("endpoint", &self.endpoint)
            .field("project", &self.project)
            .finish_non_exhaustive()
    }
}

#[derive(Serialize)]
struct PublishRequest<'a> {
    messages: [WireMessage<'a>; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WireMessage<'a> {
    data: String,
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    attributes: &'a std::collections::BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ordering_key: Option<&'a str>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PublishResponse {
    message_ids: Vec<String>,
}

impl PubSubPublisher {
    /// A publisher for `project` with Application Default Credentials.
    ///
    /// # Errors
    /// A permanent backend error when ADC or the HTTP client cannot be set up.
    pub fn new(project: &str) -> Result<Self> {
        let creds = google_cloud_auth::credentials::Builder::default()
            .build()
            .map_err(|_| Error::Backend {
                class: "credentials_unavailable",
                retryable: false,
            })?;
        Self::build(PUBSUB_ENDPOINT, project, Some(creds))
    }

    /// A publisher for `project` at `endpoint` without credentials (tests, local fakes).
    ///
    /// # Errors
    /// A permanent backend error when the HTTP client cannot be set up.
    pub fn unauthenticated(endpoint: &str, project: &str) -> Result<Self> {
        Self::build(endpoint, project, None)
    }

    fn build(endpoint: &str, project: &str, creds: Option<Credentials>) -> Result<Self> {
        let http = reqwest::Client::builder()
            .min_tls_version(reqwest::tls::Version::TLS_1_2)
            .https_only(endpoint.starts_with("https://"))
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|_| Error::Backend {
                class: "http_client",
                retryable: false,
            })?;
        Ok(Self {
            http,
            endpoint: endpoint.trim_end_matches('/').to_owned(),
            project: project.to_owned(),
            creds,
        })
    }

    /// The full topic name: `topic` as given when it starts with `projects/`, else
    /// `projects/<project>/topics/<topic>`.
    pub fn topic_path(&self, topic: &str) -> String {
        if topic.starts_with("projects/") {
            topic.to_owned()
        } else {
            format!("projects/{}/topics/{topic}", self.project)
        }
    }

    async fn auth_headers(&self) -> Result<Option<http::HeaderMap>> {
        let Some(creds) = &self.creds else {
            return Ok(None);
        };
        match creds.headers(http::Extensions::new()).await {
            Ok(CacheableResource::New { data, .. }) => Ok(Some(data)),
            Ok(CacheableResource::NotModified) | Err(_) => Err(Error::Backend {
                class: "credentials_unavailable",
                retryable: true,
            }),
        }
    }
}

#[async_trait]
impl Publisher for PubSubPublisher {
    async fn publish(&self, topic: &str, msg: Message) -> Result<String> {
        msg.validate()?;
        let url = format!("{}/v1/{}:publish", self.endpoint, self.topic_path(topic));
        let body = PublishRequest {
            messages: [WireMessage {
                data: base64::engine::general_purpose::STANDARD.encode(&msg.data),
                attributes: &msg.attributes,
                ordering_key: msg.ordering_key.as_deref(),
            }],
        };
        let mut last = Error::Backend {
            class: "unavailable",
            retryable: true,
        };
        for attempt in 0..ATTEMPTS {
            if attempt > 0 {
                let base = 100u64 << attempt.min(6);
                let jitter = rand::random::<u64>() % base;
                tokio::time::sleep(Duration::from_millis(base + jitter)).await;
            }
            let mut req = self.http.post(&url).json(&body);
            if let Some(h) = self.auth_headers().await? {
                req = req.headers(h);
            }
            let resp = match req.send().await {
                Ok(r) => r,
                Err(e) => {
                    last = Error::Backend {
                        class: if e.is_timeout() {
                            "timeout"
                        } else {
                            "unavailable"
                        },
                        retryable: true,
                    };
                    continue;
                }
            };
            let status = resp.status();
            if status.is_success() {
                let parsed: PublishResponse = resp.json().await.map_err(|_| Error::Backend {
                    class: "malformed_response",
                    retryable: true,
                })?;
                return parsed.message_ids.into_iter().next().ok_or(Error::Backend {
                    class: "malformed_response",
                    retryable: true,
                });
            }
            last = match status.as_u16() {
                429 => Error::Backend {
                    class: "throttled",
                    retryable: true,
                },
                404 => return Err(Error::UnknownTopic(topic.to_owned())),
                401 | 403 => {
                    return Err(Error::Backend {
                        class: "permission_denied",
                        retryable: false,
                    })
                }
                400 => {
                    return Err(Error::Backend {
                        class: "invalid_request",
                        retryable: false,
                    })
                }
                _ => Error::Backend {
                    class: "unavailable",
                    retryable: true,
                },
            };
            if !last.is_retryable() {
                break;
            }
        }
        Err(last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    use axum::{extract::Path, http::StatusCode, routing::post, Json, Router};

    #[derive(Default)]
    struct Seen {
        calls: Vec<(String, serde_json::Value)>,
        fail_first: u32,
    }

    async fn fake(seen: Arc<Mutex<Seen>>) -> String {
        let app = Router::new().route(
            "/v1/{*rest}",
            post(
                move |Path(rest): Path<String>, Json(body): Json<serde_json::Value>| {
                    let seen = seen.clone();
                    async move {
                        let mut s = seen.lock().unwrap();
                        s.calls.push((rest, body));
                        if s.fail_first > 0 {
                            s.fail_first -= 1;
                            return Err(StatusCode::TOO_MANY_REQUESTS);
                        }
                        Ok(Json(serde_json::json!({"messageIds": ["42"]})))
                    }
                },
            ),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        format!("http://{addr}")
    }

    #[tokio::test]
    async fn publishes_exact_rest_request_and_retries_429() {
        let seen = Arc::new(Mutex::new(Seen {
            fail_first: 1,
            ..Default::default()
        }));
        let endpoint = fake(seen.clone()).await;
        let p = PubSubPublisher::unauthenticated(&endpoint, "proj").unwrap();
        let mut msg = Message::new(&b"{\"tenant\":\"acme\"}"[..]);
        msg.attributes.insert("tenant".into(), "acme".into());
        msg.ordering_key = Some("acme".into());
        let id = p.publish("raw-landed", msg).await.unwrap();
        assert_eq!(id, "42");
        let s = seen.lock().unwrap();
        assert_eq!(s.calls.len(), 2, "one 429 then success");
        let (path, body) = &s.calls[1];
        assert_eq!(path, "projects/proj/topics/raw-landed:publish");
        let m = &body["messages"][0];
        assert_eq!(m["data"], "eyJ0ZW5hbnQiOiJhY21lIn0=");
        assert_eq!(m["attributes"]["tenant"], "acme");
        assert_eq!(m["orderingKey"], "acme");
    }

    #[tokio::test]
    async fn full_topic_names_are_kept_and_errors_are_classified() {
        let seen = Arc::new(Mutex::new(Seen {
            fail_first: 100,
            ..Default::default()
        }));
        let endpoint = fake(seen.clone()).await;
        let p = PubSubPublisher::unauthenticated(&endpoint, "proj").unwrap();
        assert_eq!(p.topic_path("projects/x/topics/y"), "projects/x/topics/y");
        let e = p
            .publish("projects/x/topics/y", Message::new(&b"x"[..]))
            .await
            .unwrap_err();
        assert!(e.is_retryable());
        assert_eq!(e.class(), "throttled");
        assert_eq!(seen.lock().unwrap().calls.len(), ATTEMPTS as usize);
        let e = p.publish("t", Message::new(&b""[..])).await.unwrap_err();
        assert_eq!(e.class(), "invalid_message");
    }

    #[tokio::test]
    async fn unreachable_endpoint_is_retryable() {
        let p = PubSubPublisher::unauthenticated("http://127.0.0.1:9", "proj").unwrap();
        let e = p.publish("t", Message::new(&b"x"[..])).await.unwrap_err();
        assert!(e.is_retryable());
    }
}
