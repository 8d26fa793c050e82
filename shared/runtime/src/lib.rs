//! The Cloud Run function contract, in the style of `lambda_http::run(service_fn(handler))`.
//!
//! A function implements [`Handler`] (or wraps a closure with [`handler_fn`]) and hands it to
//! [`run`], which:
//!
//! - serves on `0.0.0.0:$PORT` (default 8080), `GET /healthz` answers 200;
//! - decodes `POST /` into one [`Event`]: a Pub/Sub push body (wrapped format, camelCase and
//!   snake_case fields, base64 `data`), an Eventarc CloudEvent in binary mode (`ce-*` headers),
//!   or a Cloud Scheduler call (`X-CloudScheduler*` headers);
//! - verifies the push OIDC token when [`RuntimeConfig::oidc`] is set (401 otherwise);
//! - maps the outcome: success 204 (ack); retryable 503, throttled 429 (nack, Pub/Sub
//!   redelivers); permanent: the message is first published to the dead-letter topic with
//!   `error_class`, `original_message_id`, `subscription`, `delivery_attempt`, then 204; if
//!   that publish fails, 503. Without a dead-letter topic a permanent failure answers 500, so the
//!   subscription's own dead-letter policy takes it. Nothing is dropped silently;
//! - rejects bad requests with empty bodies: > 10 MiB 413, not `application/json` 415,
//!   malformed JSON/base64/timestamps/CloudEvent headers 400, wrong method 405, unknown path
//!   404. A malformed push body is *not* copied to the dead-letter topic by the runtime: with no
//!   trustworthy envelope there is nothing reliable to copy, and a 400 is a nack, so Pub/Sub
//!   redelivers the original message and its dead-letter policy (`max_delivery_attempts`)
//!   moves it, intact, to the dead-letter topic;
//! - adds `Strict-Transport-Security` and `Cache-Control: no-store` to every response, hyper's
//!   own 400/414/431 answers to unparsable or oversized header blocks included;
//! - closes a connection whose header block is not complete within
//!   [`RuntimeConfig::header_read_timeout`] (30 s; slow-header clients);
//! - enforces a request timeout (503), and on SIGTERM stops accepting and lets in-flight
//!   requests finish within [`RuntimeConfig::shutdown_grace`] (10 s);
//! - logs one line per request with message id, attempt, status, error class and duration,
//!   correlated with Cloud Trace; never a body, data, attribute value or token.
//!
//! ```no_run
//! use bacca_runtime::{handler_fn, Event, HandlerError, Outcome, RuntimeConfig};
//!
//! #[derive(serde::Deserialize)]
//! struct FetchRequest { tenant: String }
//!
//! #[tokio::main]
//! async fn main() -> anyhow::Result<()> {
//!     bacca_runtime::init_logging()?;
//!     let handler = handler_fn(|event: Event| async move {
//!         let req: FetchRequest = event.json()?;
//!         tracing::info!(tenant_len = req.tenant.len(), "fetching");
//!         Ok::<_, HandlerError>(Outcome::Done)
//!     });
//!     bacca_runtime::run(handler, RuntimeConfig::from_env()?).await?;
//!     Ok(())
//! }
//! ```

#![forbid(unsafe_code)]
// No unchecked indexing: every byte offset here comes from untrusted input (push/CloudEvent decoding, OIDC tokens, log lines, response heads), so a bad
// length is an error, never a panic. Tests index freely.
#![deny(clippy::indexing_slicing)]
#![cfg_attr(test, allow(clippy::indexing_slicing))]

mod config;
pub mod decode;
pub mod env;
mod error;
mod event;
pub mod fault;
mod handler;
pub mod logging;
pub mod oidc;
mod server;
#[cfg(feature = "test-support")]
pub mod test_support;
mod transport;

pub use bacca_bus::{Disposition, HandlerError};
pub use config::{
    OidcConfig, RuntimeConfig, DEFAULT_HEADER_READ_TIMEOUT_SECS, DEFAULT_MAX_BODY_BYTES,
    GOOGLE_JWKS_URL,
};
pub use env::local_data_dir;
pub use error::{Error, Result};
pub use event::{CloudEventContext, Event, PubSubEvent, SchedulerEvent};
pub use handler::{
    bus_handler, dead_letter_attributes, handler_fn, Handler, HandlerFnWrapper, Outcome,
};
pub use logging::init_logging;
pub use server::{router, run, serve, shutdown_signal};
