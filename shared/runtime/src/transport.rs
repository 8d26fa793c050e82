//! The connection under hyper: adds the security headers to the responses hyper writes itself.
//!
//! hyper answers some malformed requests before the router sees them: a header block over its
//! size or count limit (431), a URI too long (414), an unparsable request line or header (400).
//! Those heads are built inside hyper with no hook for extra headers, so [`SecureHeadersIo`]
//! inserts `Strict-Transport-Security` and `Cache-Control: no-store` into any final response head
//! written without them. Responses from the router already carry both and pass through untouched.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The `Strict-Transport-Security` value (two years, subdomains included), as a literal for
/// `concat!`.
macro_rules! hsts {
    () => {
        "max-age=63072000; includeSubDomains"
    };
}

/// The `Strict-Transport-Security` value of every response: the router's
/// (`server::security_headers`) and hyper's own ([`EXTRA_HEADERS`]).
pub(crate) const HSTS: &str = hsts!();

/// The header lines inserted after the status line (lower case, like hyper's own).
const EXTRA_HEADERS: &[u8] = concat!(
    "strict-transport-security: ",
    hsts!(),
    "\r\ncache-control: no-store\r\n"
)
.as_bytes();

/// A server connection that adds the security headers to response heads lacking them.
///
/// Write-vectored is reported as unsupported, so hyper flattens each response head into one
/// buffer and a head always starts a write call: a head is recognised as a buffer starting
/// with `HTTP/1.` and containing the blank line that ends it.
#[derive(Debug)]
pub(crate) struct SecureHeadersIo<T> {
    inner: T,
    /// A rewritten head being written: the bytes, how many are written, and the length of the
    /// caller's buffer to report once all are written.
    pending: Option<Pending>,
}

#[derive(Debug)]
struct Pending {
    bytes: Vec<u8>,
    written: usize,
    reported: usize,
}

impl<T> SecureHeadersIo<T> {
    /// Wraps a connection.
    pub(crate) const fn new(inner: T) -> Self {
        Self {
            inner,
            pending: None,
        }
    }
}

/// `buf` with the security headers inserted after its status line, when `buf` starts with a
/// final response head (status 200-599) that lacks them; `None` otherwise.
fn rewrite(buf: &[u8]) -> Option<Vec<u8>> {
    let rest = buf.strip_prefix(b"HTTP/1.")?;
    // "HTTP/1.1 431 ...": the status code starts after the version digit and a space.
    let status = rest.get(2..5)?;
    if status.first().is_none_or(|d| !(b'2'..=b'5').contains(d)) {
        return None;
    }
    let head_end = memchr::memmem::find(buf, b"\r\n\r\n")?;
    let head = buf.get(..head_end)?.to_ascii_lowercase();
    if memchr::memmem::find(&head, b"\r\nstrict-transport-security:").is_some() {
        return None;
    }
    let line_end = memchr::memmem::find(buf, b"\r\n")? + 2;
    let (status_line, tail) = buf.split_at(line_end);
    let mut out = Vec::with_capacity(buf.len() + EXTRA_HEADERS.len());
    out.extend_from_slice(status_line);
    out.extend_from_slice(EXTRA_HEADERS);
    out.extend_from_slice(tail);
    Some(out)
}

impl<T: AsyncRead + Unpin> AsyncRead for SecureHeadersIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for SecureHeadersIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if this.pending.is_none() {
            match rewrite(buf) {
                Some(bytes) => {
                    this.pending = Some(Pending {
                        bytes,
                        written: 0,
                        reported: buf.len(),
                    });
                }
                None => return Pin::new(&mut this.inner).poll_write(cx, buf),
            }
        }
        // hyper calls again with the same buffer after `Pending`, so the rewritten head is
        // written to the end before the caller's buffer is reported as written, all at once.
        while let Some(p) = this.pending.as_mut() {
            let Some(remaining) = p.bytes.get(p.written..).filter(|r| !r.is_empty()) else {
                let reported = p.reported;
                this.pending = None;
                return Poll::Ready(Ok(reported));
            };
            match Pin::new(&mut this.inner).poll_write(cx, remaining) {
                Poll::Ready(Ok(0)) => {
                    this.pending = None;
                    return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
                }
                Poll::Ready(Ok(n)) => p.written += n,
                Poll::Ready(Err(e)) => {
                    this.pending = None;
                    return Poll::Ready(Err(e));
                }
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Ready(Ok(0))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    const BARE_431: &[u8] =
        b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\ndate: x\r\n\r\n";

    #[test]
    fn bare_error_heads_get_the_headers() {
        let out = rewrite(BARE_431).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\nstrict-"));
        assert!(text.contains("\r\ncache-control: no-store\r\n"));
        assert!(text.ends_with("content-length: 0\r\ndate: x\r\n\r\n"));
        let bare_400 = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n";
        assert!(rewrite(bare_400).is_some());
    }

    #[test]
    fn heads_with_the_headers_informational_and_partial_writes_pass() {
        let ours = b"HTTP/1.1 204 No Content\r\nStrict-Transport-Security: max-age=1\r\n\r\n";
        assert!(rewrite(ours).is_none());
        assert!(rewrite(b"HTTP/1.1 100 Continue\r\n\r\n").is_none());
        // The tail of a partially written head, a body, an unfinished head.
        assert!(rewrite(b"ength: 0\r\n\r\n").is_none());
        assert!(rewrite(b"{\"a\":1}").is_none());
        assert!(rewrite(b"HTTP/1.1 431 Request Header Fields Too Large\r\n").is_none());
        assert!(rewrite(b"HTTP/1.").is_none());
        assert!(rewrite(b"").is_none());
    }

    #[tokio::test]
    async fn writes_the_rewritten_head_and_reports_the_callers_length() {
        // A tiny pipe forces partial writes of the rewritten head.
        let (client, mut server) = tokio::io::duplex(7);
        let mut io = SecureHeadersIo::new(client);
        let reader = tokio::spawn(async move {
            let mut out = Vec::new();
            server.read_to_end(&mut out).await.unwrap();
            out
        });
        let n = std::future::poll_fn(|cx| Pin::new(&mut io).poll_write(cx, BARE_431))
            .await
            .unwrap();
        assert_eq!(n, BARE_431.len());
        io.write_all(b"HTTP/1.1 200 OK\r\nstrict-transport-security: x\r\n\r\n")
            .await
            .unwrap();
        io.shutdown().await.unwrap();
        drop(io);
        let out = String::from_utf8(reader.await.unwrap()).unwrap();
        assert_eq!(out.matches("strict-transport-security").count(), 2);
        assert!(out.contains("cache-control: no-store"));
        assert!(out.ends_with("HTTP/1.1 200 OK\r\nstrict-transport-security: x\r\n\r\n"));
    }
}
