//! `bacca fetch`: run one connector and write its normalized records as JSON lines.
//!
//! For development and checks; the fetch function writes envelope-encrypted raw batches
//! instead. Records are NOT anonymized here: the output file holds the source's raw text, so
//! it is created with mode 0600 and belongs on an encrypted disk.

use std::io::BufWriter;
use std::path::PathBuf;

use anyhow::{Context, Result};
use bacca_audit::AuditSink;
use bacca_connectors::{
    connector_from_args, run_to_end, ConnectorArgs, MemoryCheckpointStore, ProcessEnv, SourceKind,
};
use chrono::{DateTime, Utc};

/// Arguments of `bacca fetch`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Tenant id.
    #[arg(long)]
    tenant: String,
    /// Connector: slack, slack-export, datadog, jira, linear, confluence, notion, gdrive.
    #[arg(long)]
    source: SourceKind,
    /// The vendor API root (tests, local replays); default: the vendor's public API.
    #[arg(long)]
    base_url: Option<String>,
    /// Fetch records from this time on (RFC 3339).
    #[arg(long)]
    since: Option<DateTime<Utc>>,
    /// Slack channel allowlist (comma-separated ids; names for exports). Nothing else is read.
    #[arg(long, value_delimiter = ',')]
    channels: Vec<String>,
    /// Datadog logs query, or the JQL for Jira.
    #[arg(long)]
    query: Option<String>,
    /// The Slack export ZIP (for `--source slack-export`).
    #[arg(long)]
    input: Option<PathBuf>,
    /// Output directory; one `<tenant>-<source>-<time>.jsonl` file per run.
    #[arg(long)]
    out: PathBuf,
    /// Stop after this many pages.
    #[arg(long, default_value_t = 100_000)]
    max_pages: u64,
    /// Append one audit event per API call to this JSON-lines file.
    #[arg(long, env = "BACCA_AUDIT_FILE")]
    audit_file: Option<PathBuf>,
}

/// Runs the connector to the end and reports the counts on stderr.
pub async fn run(args: Args) -> Result<()> {
    let mut cargs = ConnectorArgs::new(args.source, &args.tenant);
    cargs.base_url = args.base_url;
    cargs.since = args.since;
    cargs.channels = args.channels;
    cargs.query = args.query;
    cargs.input = args.input;
    let audit = match &args.audit_file {
        Some(p) => AuditSink::file(p)?,
        None => AuditSink::Tracing,
    };
    let mut source = connector_from_args(&cargs, &ProcessEnv, audit)?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let path = args.out.join(format!(
        "{}-{}-{}.jsonl",
        args.tenant,
        args.source.as_str(),
        Utc::now().format("%Y%m%dT%H%M%SZ")
    ));
    let file = private_file(&path)?;
    let mut out = BufWriter::new(file);
    let checkpoints = MemoryCheckpointStore::new();
    let stats = run_to_end(
        source.as_mut(),
        &checkpoints,
        &args.tenant,
        &mut out,
        args.max_pages,
    )
    .await
    .with_context(|| format!("{} connector failed", args.source.as_str()))?;
    eprintln!(
        "{} records in {} pages written to {}",
        stats.records,
        stats.pages,
        path.display()
    );
    Ok(())
}

/// Creates `path` readable by its owner only (it holds raw, not yet anonymized records).
fn private_file(path: &std::path::Path) -> Result<std::fs::File> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path)
        .with_context(|| format!("creating {}", path.display()))
}
