//! Logging: JSON for Cloud Logging (via `tracing-stackdriver`) on Cloud Run, human-readable
//! locally, and trace correlation from `X-Cloud-Trace-Context` / `traceparent`.
//!
//! Cloud Logging correlates a line with a trace through the top-level JSON key
//! `logging.googleapis.com/trace`. `tracing-stackdriver` nests span fields under `spans`, so
//! [`TraceHoisting`] copies the request span's `cloud_trace` field to that top-level key.

use std::io::{self, Write};

use http::HeaderMap;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::{Error, Result};

/// The span field holding `projects/<project>/traces/<trace id>`.
pub const TRACE_FIELD: &str = "cloud_trace";
/// Cloud Logging's special key for trace correlation.
pub const CLOUD_LOGGING_TRACE_KEY: &str = "logging.googleapis.com/trace";

/// Whether to log JSON: on Cloud Run (`K_SERVICE` set) or when `LOG_FORMAT=json`.
#[must_use]
pub fn json_wanted() -> bool {
    std::env::var_os("K_SERVICE").is_some()
        || std::env::var("LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"))
}

/// Installs the global subscriber: JSON (Cloud Logging) or human-readable per
/// [`json_wanted`], filtered by `RUST_LOG` (default `info`), and the content-free
/// [`install_panic_hook`].
///
/// # Errors
///
/// [`Error::LoggingAlreadyInitialised`] if a global subscriber exists.
pub fn init_logging() -> Result<()> {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let registry = tracing_subscriber::registry().with(filter);
    if json_wanted() {
        registry.with(cloud_logging_layer(io::stdout)).try_init()
    } else {
        registry.with(tracing_subscriber::fmt::layer()).try_init()
    }
    .map_err(|_| Error::LoggingAlreadyInitialised)?;
    install_panic_hook();
    Ok(())
}

/// Replaces the panic hook with one that logs only the panic's source location through
/// `tracing`: the default hook prints the panic message to stderr, and a message built from
/// an `unwrap` on a parse error or a formatted value can carry payload content.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let location = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()));
        tracing::error!(location, "panic (message withheld)");
    }));
}

/// The Cloud Logging JSON layer writing to `writer`, with trace hoisting.
pub fn cloud_logging_layer<S, W>(writer: W) -> impl Layer<S>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    tracing_stackdriver::layer().with_writer(TraceHoisting(writer))
}

/// Extracts the trace id from `X-Cloud-Trace-Context: TRACE/SPAN;o=1`, else from W3C
/// `traceparent: 00-TRACE-SPAN-FLAGS`. Returns 32 lowercase hex digits.
#[must_use]
pub fn trace_id(headers: &HeaderMap) -> Option<String> {
    let valid = |t: &str| {
        t.len() == 32 && t.bytes().all(|b| b.is_ascii_hexdigit()) && t.bytes().any(|b| b != b'0')
    };
    let from_cloud = headers
        .get("x-cloud-trace-context")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(['/', ';']).next())
        .filter(|t| valid(t));
    let from_w3c = || {
        headers
            .get("traceparent")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                let mut parts = v.trim().split('-');
                let version = parts.next()?;
                let trace = parts.next()?;
                (version.len() == 2 && version != "ff").then_some(trace)
            })
            .filter(|t| valid(t))
    };
    from_cloud.or_else(from_w3c).map(str::to_ascii_lowercase)
}

/// The value Cloud Logging expects: `projects/<project>/traces/<trace id>`.
#[must_use]
pub fn trace_resource(project: &str, trace_id: &str) -> String {
    format!("projects/{project}/traces/{trace_id}")
}

/// A [`MakeWriter`] that copies the request span's `cloud_trace` field to the top-level
/// `logging.googleapis.com/trace` key of each JSON line.
#[derive(Debug, Clone)]
pub struct TraceHoisting<M>(pub M);

impl<'a, M: MakeWriter<'a>> MakeWriter<'a> for TraceHoisting<M> {
    type Writer = HoistingWriter<M::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        HoistingWriter {
            inner: self.0.make_writer(),
            buf: Vec::new(),
        }
    }
}

/// Buffers one formatted event and writes it, rewritten, when dropped.
#[derive(Debug)]
pub struct HoistingWriter<W: Write> {
    inner: W,
    buf: Vec<u8>,
}

impl<W: Write> Write for HoistingWriter<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn hoist(line: &[u8]) -> Option<Vec<u8>> {
    let mut value: serde_json::Value = serde_json::from_slice(line).ok()?;
    let trace = value.get("spans")?.as_array()?.iter().rev().find_map(|s| {
        s.get(TRACE_FIELD)
            .and_then(|t| t.as_str())
            .map(str::to_owned)
    })?;
    value
        .as_object_mut()?
        .insert(CLOUD_LOGGING_TRACE_KEY.into(), trace.into());
    let mut out = serde_json::to_vec(&value).ok()?;
    out.push(b'\n');
    Some(out)
}

impl<W: Write> Drop for HoistingWriter<W> {
    fn drop(&mut self) {
        if self.buf.is_empty() {
            return;
        }
        let out = hoist(&self.buf).unwrap_or_else(|| std::mem::take(&mut self.buf));
        // A log line that cannot be written has nowhere to be reported.
        let _ = self.inner.write_all(&out);
        let _ = self.inner.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(name: &'static str, value: &'static str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(name, HeaderValue::from_static(value));
        h
    }

    #[test]
    fn parses_cloud_trace_context_and_traceparent() {
        let t = "105445aa7843bc8bf206b12000100000";
        assert_eq!(
            trace_id(&headers(
                "x-cloud-trace-context",
                "105445aa7843bc8bf206b12000100000/1;o=1"
            )),
            Some(t.into())
        );
        assert_eq!(
            trace_id(&headers(
                "x-cloud-trace-context",
                "105445AA7843BC8BF206B12000100000"
            )),
            Some(t.into())
        );
        assert_eq!(
            trace_id(&headers(
                "traceparent",
                "00-105445aa7843bc8bf206b12000100000-00f067aa0ba902b7-01"
            )),
            Some(t.into())
        );
        for (name, bad) in [
            ("x-cloud-trace-context", "nothex/1;o=1"),
            (
                "x-cloud-trace-context",
                "00000000000000000000000000000000/1",
            ),
            (
                "traceparent",
                "ff-105445aa7843bc8bf206b12000100000-00f067aa0ba902b7-01",
            ),
            ("traceparent", "00-1054-00f067aa0ba902b7-01"),
            ("traceparent", "garbage"),
        ] {
            assert_eq!(trace_id(&headers(name, bad)), None, "{bad}");
        }
    }

    #[test]
    fn hoists_span_trace_to_top_level() {
        let line = br#"{"time":"t","spans":[{"cloud_trace":"projects/p/traces/abc","name":"request"}],"message":"m"}"#;
        let out = hoist(line).expect("hoisted");
        let v: serde_json::Value = serde_json::from_slice(&out).expect("json");
        assert_eq!(v[CLOUD_LOGGING_TRACE_KEY], "projects/p/traces/abc");
        assert!(hoist(br#"{"message":"no span"}"#).is_none());
    }
}
