//! `bacca anonymize`: find PII and secrets in text or JSON and replace them with keyed
//! per-tenant pseudonyms. Input on stdin, output on stdout, one record per line; a bad line
//! is reported (line number and error kind, never content) and the stream goes on.
//!
//! Contract used by the evaluation (keep it exactly): `--spans` reads JSON lines
//! `{"text": "..."}` and writes, per input line in order,
//! `{"spans":[{"start":S,"end":E,"entity_type":"T"}]}` with code-point offsets, end exclusive.

use std::io::{BufReader, BufWriter};
use std::path::PathBuf;

use anyhow::{Context, Result};
use bacca_anonymizer::{cli, Anonymizer, Directory, Policy};
use zeroize::Zeroizing;

/// Arguments of `bacca anonymize`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Write detected spans (JSON lines) instead of anonymized text.
    #[arg(long, conflicts_with = "json")]
    spans: bool,
    /// Input lines are JSON documents: anonymize spans inside string values and whole
    /// values of identity fields (`usr.email`, `reporter.emailAddress`...), keys untouched.
    #[arg(long)]
    json: bool,
    /// The pseudonym key: a file holding 32 raw bytes or 64 hex characters
    /// (`file://<path>` or a plain path). Default: a fixed development key, printed as a
    /// warning; never use it for real data.
    #[arg(long)]
    tenant_key: Option<String>,
    /// A JSON anonymization policy (operators per entity type, identity fields).
    #[arg(long)]
    policy: Option<PathBuf>,
    /// The tenant directory (JSON `{"people":[{"names":[],"handles":[],"emails":[],"ids":[]}]}`).
    #[arg(long)]
    directory: Option<PathBuf>,
}

fn load_key(arg: Option<&str>) -> Result<Zeroizing<[u8; 32]>> {
    let Some(uri) = arg else {
        eprintln!("warning: no --tenant-key given; using the fixed development key");
        return Ok(Zeroizing::new(*b"bacca-development-key-not-secret"));
    };
    let path = uri.strip_prefix("file://").unwrap_or(uri);
    let raw = Zeroizing::new(std::fs::read(path).with_context(|| format!("reading key {path}"))?);
    let mut key = Zeroizing::new([0u8; 32]);
    if raw.len() == 32 {
        key.copy_from_slice(&raw);
        return Ok(key);
    }
    let text = std::str::from_utf8(&raw).unwrap_or("").trim();
    let bytes = Zeroizing::new(
        hex::decode(text).context("the key file must hold 32 bytes or 64 hex characters")?,
    );
    anyhow::ensure!(bytes.len() == 32, "the key must be 32 bytes");
    key.copy_from_slice(&bytes);
    Ok(key)
}

/// Runs the anonymizer over stdin.
pub fn run(args: Args) -> Result<()> {
    let key = load_key(args.tenant_key.as_deref())?;
    let policy: Policy = match &args.policy {
        Some(p) => serde_json::from_str(&std::fs::read_to_string(p)?)
            .with_context(|| format!("parsing policy {}", p.display()))?,
        None => Policy::default(),
    };
    let directory: Directory = match &args.directory {
        Some(p) => serde_json::from_str(&std::fs::read_to_string(p)?)
            .with_context(|| format!("parsing directory {}", p.display()))?,
        None => Directory::default(),
    };
    let anon = Anonymizer::new(&key, &policy, &directory).context("invalid policy")?;
    let input = BufReader::with_capacity(1 << 20, std::io::stdin().lock());
    let output = BufWriter::with_capacity(1 << 20, std::io::stdout().lock());
    let summary = if args.spans {
        cli::run_spans(input, output, &anon)?
    } else if args.json {
        cli::run_json(input, output, &anon)?
    } else {
        cli::run_text(input, output, &anon)?
    };
    for e in &summary.errors {
        eprintln!("line {}: {}", e.line, e.kind);
    }
    eprintln!(
        "{} lines, {} findings, {} bad lines",
        summary.lines,
        summary.report.total(),
        summary.errors.len()
    );
    Ok(())
}
