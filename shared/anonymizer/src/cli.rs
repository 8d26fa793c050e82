//! Streaming entry points behind `bacca anonymize`: one record per input line, processed in
//! order with bounded memory (a line longer than [`MAX_LINE_BYTES`] is rejected and skipped
//! without being buffered). A bad record yields an error record naming its line number and
//! the stream goes on.
//!
//! - [`run_spans`]: JSON lines `{"text": "..."}` in, `{"spans":[{"start":S,"end":E,"entity_type":"T"}]}`
//!   out (Unicode code-point offsets, end exclusive), one output line per input line.
//! - [`run_text`]: plain text lines in, anonymized lines out.
//! - [`run_json`]: JSON documents (one per line) in, anonymized documents out.

use std::io::{BufRead, Write};

use serde::Serialize;

use crate::error::{Error, Result};
use crate::report::Report;
use crate::span::to_char_offsets;
use crate::Anonymizer;

/// Longest accepted record, in bytes.
pub const MAX_LINE_BYTES: usize = 10 * 1024 * 1024;

/// One rejected record: its 1-based line number and the error class (never its content).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LineError {
    /// 1-based input line number.
    pub line: u64,
    /// Error class (`invalid_utf8`, `too_long`, `invalid_json`, ...).
    pub kind: &'static str,
}

/// What a run processed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RunSummary {
    /// Input lines read.
    pub lines: u64,
    /// Bytes of accepted records.
    pub bytes: u64,
    /// Findings per entity type over the whole stream.
    pub report: Report,
    /// Rejected records.
    pub errors: Vec<LineError>,
}

enum Line {
    Eof,
    Ok,
    TooLong,
}

/// Read one line into `buf` (without the newline), refusing to buffer more than the limit.
fn read_line(r: &mut impl BufRead, buf: &mut Vec<u8>) -> Result<Line> {
    buf.clear();
    let mut too_long = false;
    let mut any = false;
    loop {
        let chunk = r.fill_buf()?;
        if chunk.is_empty() {
            break;
        }
        any = true;
        let (take, done) = match memchr::memchr(b'\n', chunk) {
            Some(k) => (k, true),
            None => (chunk.len(), false),
        };
        if !too_long {
            if buf.len() + take > MAX_LINE_BYTES {
                too_long = true;
                buf.clear();
            } else {
                buf.extend_from_slice(&chunk[..take]);
            }
        }
        r.consume(if done { take + 1 } else { take });
        if done {
            break;
        }
    }
    if !any {
        return Ok(Line::Eof);
    }
    if buf.last() == Some(&b'\r') {
        buf.pop();
    }
    Ok(if too_long { Line::TooLong } else { Line::Ok })
}

fn drive(
    mut reader: impl BufRead,
    mut writer: impl Write,
    mut each: impl FnMut(&str, &mut RunSummary, &mut dyn Write) -> Result<()>,
    mut on_error: impl FnMut(u64, &Error, &mut dyn Write) -> Result<()>,
) -> Result<RunSummary> {
    let mut summary = RunSummary::default();
    let mut buf = Vec::new();
    loop {
        let state = read_line(&mut reader, &mut buf)?;
        let res = match state {
            Line::Eof => break,
            Line::TooLong => Err(Error::TooLong {
                limit: MAX_LINE_BYTES,
            }),
            Line::Ok => match std::str::from_utf8(&buf) {
                Ok(s) => {
                    summary.bytes += s.len() as u64;
                    each(s, &mut summary, &mut writer)
                }
                Err(_) => Err(Error::InvalidUtf8),
            },
        };
        summary.lines += 1;
        if let Err(e) = res {
            if matches!(e, Error::Io(_)) {
                return Err(e);
            }
            summary.errors.push(LineError {
                line: summary.lines,
                kind: e.kind(),
            });
            on_error(summary.lines, &e, &mut writer)?;
        }
    }
    writer.flush()?;
    Ok(summary)
}

#[derive(Serialize)]
struct OutSpan {
    start: usize,
    end: usize,
    entity_type: &'static str,
}

#[derive(Serialize)]
struct SpansLine {
    spans: Vec<OutSpan>,
}

#[derive(Serialize)]
struct ErrorBody {
    line: u64,
    kind: &'static str,
    message: String,
}

#[derive(Serialize)]
struct SpansError {
    spans: [u8; 0],
    error: ErrorBody,
}

#[derive(Serialize)]
struct ErrorRecord {
    error: ErrorBody,
}

fn error_body(line: u64, e: &Error) -> ErrorBody {
    ErrorBody {
        line,
        kind: e.kind(),
        message: format!("line {line}: {e}"),
    }
}

fn write_json(w: &mut dyn Write, v: &impl Serialize) -> Result<()> {
    serde_json::to_writer(&mut *w, v)
        .map_err(|e| Error::Io(std::io::Error::other(e.to_string())))?;
    w.write_all(b"\n")?;
    Ok(())
}

/// `bacca anonymize --spans`: `{"text": ...}` lines in, one `{"spans": [...]}` line out per
/// input line, in order; a bad line gives `{"spans":[],"error":{"line":N,...}}`.
///
/// # Errors
/// Only i/o errors on the reader or writer end the stream.
pub fn run_spans(
    reader: impl BufRead,
    writer: impl Write,
    anon: &Anonymizer,
) -> Result<RunSummary> {
    drive(
        reader,
        writer,
        |line, summary, w| {
            #[derive(serde::Deserialize)]
            struct In {
                text: Option<String>,
            }
            let input: In = serde_json::from_str(line).map_err(|e| Error::json(&e))?;
            let text = input.text.ok_or(Error::MissingText)?;
            let spans = anon.spans(&text);
            summary.report.add_spans(&spans);
            let out = SpansLine {
                spans: to_char_offsets(&text, &spans)
                    .into_iter()
                    .map(|(start, end, t)| OutSpan {
                        start,
                        end,
                        entity_type: t.name(),
                    })
                    .collect(),
            };
            write_json(w, &out)
        },
        |line, e, w| {
            write_json(
                w,
                &SpansError {
                    spans: [],
                    error: error_body(line, e),
                },
            )
        },
    )
}

/// `bacca anonymize`: plain text lines in, anonymized lines out; a rejected line is written
/// as an empty line (so line numbers still match) and listed in the summary.
///
/// # Errors
/// Only i/o errors on the reader or writer end the stream.
pub fn run_text(reader: impl BufRead, writer: impl Write, anon: &Anonymizer) -> Result<RunSummary> {
    drive(
        reader,
        writer,
        |line, summary, w| {
            let (out, report) = anon.anonymize_text(line);
            summary.report.merge(&report);
            w.write_all(out.as_bytes())?;
            w.write_all(b"\n")?;
            Ok(())
        },
        |_, _, w| Ok(w.write_all(b"\n")?),
    )
}

/// `bacca anonymize --json`: one JSON document per line in, anonymized documents out; a bad
/// line gives `{"error":{"line":N,"kind":...,"message":...}}`.
///
/// # Errors
/// Only i/o errors on the reader or writer end the stream.
pub fn run_json(reader: impl BufRead, writer: impl Write, anon: &Anonymizer) -> Result<RunSummary> {
    drive(
        reader,
        writer,
        |line, summary, w| {
            if line.trim().is_empty() {
                return Ok(w.write_all(b"\n")?);
            }
            let mut v: serde_json::Value =
                serde_json::from_str(line).map_err(|e| Error::json(&e))?;
            let report = anon.anonymize_json(&mut v)?;
            summary.report.merge(&report);
            write_json(w, &v)
        },
        |line, e, w| {
            write_json(
                w,
                &ErrorRecord {
                    error: error_body(line, e),
                },
            )
        },
    )
}
