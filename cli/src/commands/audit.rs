//! `bacca audit`: read a tenant's audit trail back from the local JSON-lines audit file.

use std::path::PathBuf;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};

/// Arguments of `bacca audit`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Tenant whose events to show.
    #[arg(long)]
    tenant: String,
    /// Only events at or after this time (RFC 3339).
    #[arg(long)]
    since: Option<DateTime<Utc>>,
    /// The audit file (JSON lines); in Cloud Run the audit stream is the `bacca-audit` log.
    #[arg(
        long,
        env = "BACCA_AUDIT_FILE",
        default_value = ".bacca-demo/audit.jsonl"
    )]
    file: PathBuf,
}

/// Prints the matching events, one JSON object per line.
pub fn run(args: Args) -> Result<()> {
    let events = bacca_audit::read_file(&args.file, Some(&args.tenant), args.since)
        .with_context(|| format!("reading audit file {}", args.file.display()))?;
    let mut out = String::new();
    for e in &events {
        out.push_str(&serde_json::to_string(e)?);
        out.push('\n');
    }
    super::print(&out)
}
