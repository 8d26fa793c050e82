//! The HTTP server: routes, request checks, status mapping, graceful shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use futures::FutureExt;
use http::header::{HeaderValue, AUTHORIZATION, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderName, StatusCode};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tracing::field::Empty;
use tracing::Instrument;

use crate::decode::{decode, is_json_content_type};
use crate::handler::{settle, DeadLetter, Settlement};
use crate::logging::{trace_id, trace_resource};
use crate::oidc::{AuthError, OidcVerifier};
use crate::transport::SecureHeadersIo;
use crate::{Error, Handler, Result, RuntimeConfig};

const HSTS: HeaderValue = HeaderValue::from_static(crate::transport::HSTS);
const NO_STORE: HeaderValue = HeaderValue::from_static("no-store");

struct App<H> {
    handler: H,
    dead_letter: Option<DeadLetter>,
    verifier: Option<OidcVerifier>,
    max_body_bytes: usize,
    request_timeout: Duration,
    project_id: Option<String>,
}

/// The status of one request and the error class behind it, if any.
struct Reply {
    status: StatusCode,
    class: Option<&'static str>,
}

impl Reply {
    const fn new(status: StatusCode, class: &'static str) -> Self {
        Self {
            status,
            class: Some(class),
        }
    }
}

/// Builds the service's router: `POST /` for events, `GET /healthz`, generic 404/405, and the
/// security headers on every response. [`serve`] uses it; exposed for embedding and tests.
pub fn router<H: Handler>(handler: H, config: &RuntimeConfig) -> Router {
    let dead_letter = match (&config.dead_letter_topic, &config.publisher) {
        (Some(topic), Some(publisher)) => Some(DeadLetter {
            topic: topic.clone(),
            publisher: Arc::clone(publisher),
        }),
        _ => None,
    };
    let app = Arc::new(App {
        handler,
        dead_letter,
        verifier: config.oidc.clone().map(OidcVerifier::new),
        max_body_bytes: config.max_body_bytes,
        request_timeout: config.request_timeout,
        project_id: config.project_id.clone(),
    });
    Router::new()
        .route("/", post(move |req: Request| Arc::clone(&app).handle(req)))
        .route("/healthz", get(|| async { StatusCode::OK }))
        .fallback(|| async { StatusCode::NOT_FOUND })
        .layer(axum::middleware::map_response(security_headers))
}

async fn security_headers(mut res: Response) -> Response {
    let headers = res.headers_mut();
    headers.insert(HeaderName::from_static("strict-transport-security"), HSTS);
    headers.insert(CACHE_CONTROL, NO_STORE);
    res
}

impl<H: Handler> App<H> {
    async fn handle(self: Arc<Self>, req: Request) -> Response {
        let started = Instant::now();
        let span = tracing::info_span!(
            "request",
            cloud_trace = Empty,
            source = Empty,
            message_id = Empty,
            attempt = Empty,
        );
        if let (Some(project), Some(trace)) = (&self.project_id, trace_id(req.headers())) {
            span.record("cloud_trace", trace_resource(project, &trace));
        }
        let timeout = self.request_timeout;
        let reply = match tokio::time::timeout(timeout, self.process(req, &span))
            .instrument(span.clone())
            .await
        {
            Ok(reply) => reply,
            Err(_) => Reply::new(StatusCode::SERVICE_UNAVAILABLE, "request_timeout"),
        };
        let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        span.in_scope(|| {
            tracing::info!(
                status = reply.status.as_u16(),
                error_class = reply.class,
                duration_ms,
                "request handled"
            );
        });
        reply.status.into_response()
    }

    async fn process(&self, req: Request, span: &tracing::Span) -> Reply {
        let (parts, body) = req.into_parts();
        let headers = &parts.headers;
        if let Some(verifier) = &self.verifier {
            let auth = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok());
            if let Err(e) = verifier.verify(auth).await {
                tracing::warn!(error_class = e.class(), "push authentication failed");
                let status = if e == AuthError::JwksUnavailable {
                    StatusCode::SERVICE_UNAVAILABLE
                } else {
                    StatusCode::UNAUTHORIZED
                };
                return Reply::new(status, e.class());
            }
        }
        if !is_json_content_type(headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok())) {
            return Reply::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
        }
        let declared = headers
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > self.max_body_bytes as u64) {
            return Reply::new(StatusCode::PAYLOAD_TOO_LARGE, "body_too_large");
        }
        let bytes = match Limited::new(body, self.max_body_bytes).collect().await {
            Ok(b) => b.to_bytes(),
            Err(e) if e.is::<LengthLimitError>() => {
                return Reply::new(StatusCode::PAYLOAD_TOO_LARGE, "body_too_large");
            }
            Err(_) => return Reply::new(StatusCode::BAD_REQUEST, "body_read_failed"),
        };
        let event = match decode(headers, &bytes) {
            Ok(event) => event,
            Err(e) => {
                // Not dead-lettered here: without a parsed envelope there is no reliable message
                // to copy. The 400 nacks; the subscription's dead-letter policy moves the
                // original message after max_delivery_attempts, so nothing is lost.
                tracing::warn!(error_class = e.class(), "malformed request body");
                return Reply::new(StatusCode::BAD_REQUEST, e.class());
            }
        };
        drop(bytes);
        span.record("source", event.source_kind());
        if let Some(id) = event.message_id() {
            span.record("message_id", id);
        }
        if let Some(attempt) = event.delivery_attempt() {
            span.record("attempt", attempt);
        }
        let result = AssertUnwindSafe(self.handler.handle(event.clone()))
            .catch_unwind()
            .await
            .unwrap_or_else(|_| {
                tracing::error!("handler panicked");
                Err(crate::HandlerError::retryable("handler_panicked"))
            });
        let (ack, class) = settle(&event, result, self.dead_letter.as_ref()).await;
        let status = match ack {
            Settlement::Ack => StatusCode::NO_CONTENT,
            Settlement::Retry => StatusCode::SERVICE_UNAVAILABLE,
            Settlement::Throttled => StatusCode::TOO_MANY_REQUESTS,
            Settlement::Unhandled => StatusCode::INTERNAL_SERVER_ERROR,
        };
        Reply { status, class }
    }
}

/// Serves `handler` on `listener` until `shutdown` completes, then stops accepting and lets
/// in-flight requests finish for at most `config.shutdown_grace`.
///
/// HTTP/1.1 with keep-alive (Cloud Run speaks HTTP/1.1 to the container). A connection whose
/// header block is not complete within `config.header_read_timeout` is closed; hyper's own
/// answers to malformed header blocks (400, 414, 431) carry the security headers too.
///
/// ```no_run
/// # async fn demo() -> bacca_runtime::Result<()> {
/// use bacca_runtime::{handler_fn, serve, Outcome, RuntimeConfig};
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(bacca_runtime::Error::Bind)?;
/// let (tx, rx) = tokio::sync::oneshot::channel::<()>();
/// let server = tokio::spawn(serve(listener, handler_fn(|_e| async { Ok(Outcome::Done) }),
///     RuntimeConfig::default(), async { let _ = rx.await; }));
/// let _ = tx.send(());
/// # let _ = server.await;
/// # Ok(()) }
/// ```
///
/// # Errors
///
/// None at present: failed accepts are logged and retried, failed connections closed. The
/// `Result` is kept so a future failure mode does not change the signature.
pub async fn serve<H, S>(
    listener: TcpListener,
    handler: H,
    config: RuntimeConfig,
    shutdown: S,
) -> Result<()>
where
    H: Handler,
    S: Future<Output = ()> + Send + 'static,
{
    let grace = config.shutdown_grace;
    let app = router(handler, &config);
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .keep_alive(true)
        .header_read_timeout(config.header_read_timeout);
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => stream,
                Err(e) => {
                    accept_failed(&e).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Small responses: send them at once rather than waiting for Nagle's delayed ACK.
        let _ = stream.set_nodelay(true);
        let io = TokioIo::new(SecureHeadersIo::new(stream));
        let conn = graceful.watch(http.serve_connection(io, TowerToHyperService::new(app.clone())));
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                // hyper's error says what went wrong with the connection (header timeout,
                // parse error, reset), never request content.
                tracing::debug!(header_timeout = e.is_timeout(), "connection closed: {e}");
            }
        });
    }
    drop(listener);
    tracing::info!("shutdown requested; no longer accepting connections");
    tokio::select! {
        () = graceful.shutdown() => Ok(()),
        () = tokio::time::sleep(grace) => {
            tracing::warn!(grace_ms = u64::try_from(grace.as_millis()).unwrap_or(u64::MAX),
                "shutdown grace expired with requests in flight");
            Ok(())
        }
    }
}

/// Backs off after a failed `accept`: per-connection errors are retried at once; others (such
/// as running out of file descriptors) after a pause, so the loop does not spin.
async fn accept_failed(e: &std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        e.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        return;
    }
    tracing::warn!(error = %e, "accept failed; retrying in 1 s");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

/// Serves `handler` on `0.0.0.0:config.port` until SIGTERM or SIGINT, like
/// `lambda_http::run(service_fn(handler))`.
///
/// ```no_run
/// # async fn demo() -> bacca_runtime::Result<()> {
/// use bacca_runtime::{handler_fn, run, Event, Outcome, RuntimeConfig};
/// bacca_runtime::init_logging()?;
/// run(handler_fn(|_e: Event| async { Ok(Outcome::Done) }), RuntimeConfig::from_env()?).await
/// # }
/// ```
///
/// # Errors
///
/// [`Error::Bind`] if the port cannot be bound.
pub async fn run<H: Handler>(handler: H, config: RuntimeConfig) -> Result<()> {
    let addr = SocketAddr::from(([0, 0, 0, 0], config.port));
    let listener = TcpListener::bind(addr).await.map_err(Error::Bind)?;
    tracing::info!(
        port = config.port,
        service = std::env::var("K_SERVICE").ok(),
        revision = std::env::var("K_REVISION").ok(),
        oidc = config.oidc.is_some(),
        dead_letter = config.dead_letter_topic.is_some(),
        "listening"
    );
    if config.oidc.is_none() && std::env::var_os("K_SERVICE").is_some() {
        tracing::warn!("running on Cloud Run without OIDC push authentication; rely on IAM only");
    }
    if config.dead_letter_topic.is_none() || config.publisher.is_none() {
        tracing::warn!("no dead-letter topic: permanent failures answer 500 and are redelivered");
    }
    serve(listener, handler, config, shutdown_signal()).await
}

/// Completes on SIGTERM (Cloud Run's stop signal) or SIGINT (Ctrl-C).
pub async fn shutdown_signal() {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
}
