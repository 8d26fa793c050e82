//! `bacca sweep`: the retention sweep from the command line, with a progress bar.

use anyhow::{Context, Result};
use bacca_audit::AuditSink;
use bacca_storage::{RetentionPolicy, SweepPhase, SweepProgress};
use chrono::{DateTime, Utc};
use indicatif::{ProgressBar, ProgressStyle};

/// Arguments of `bacca sweep`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The tenant's raw store: `file://<dir>` or `gs://<bucket>` (honours STORAGE_EMULATOR_HOST).
    #[arg(long)]
    store: String,
    /// Tenant id (DNS-safe).
    #[arg(long)]
    tenant: String,
    /// The clock to sweep at (RFC 3339); default: now.
    #[arg(long)]
    now: Option<DateTime<Utc>>,
    /// Report what would be deleted, delete nothing.
    #[arg(long)]
    dry_run: bool,
    /// Retention window in days.
    #[arg(long, default_value_t = RetentionPolicy::new().retention_days)]
    retention_days: u32,
    /// Safety margin in hours: objects are deleted this long before the window ends.
    #[arg(long, default_value_t = RetentionPolicy::new().safety_margin_hours)]
    safety_margin_hours: u32,
    /// Append the sweep's audit event to this JSON-lines file (default: the `audit` log target).
    #[arg(long, env = "BACCA_AUDIT_FILE")]
    audit_file: Option<std::path::PathBuf>,
}

/// Runs the sweep and prints its report as JSON.
pub async fn run(args: Args) -> Result<()> {
    let store = bacca_storage::open(&args.store).context("opening the store")?;
    let policy = RetentionPolicy {
        retention_days: args.retention_days,
        safety_margin_hours: args.safety_margin_hours,
    };
    let audit = match &args.audit_file {
        Some(path) => AuditSink::file(path)?,
        None => AuditSink::Tracing,
    };
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} [{elapsed}]")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    let progress = |p: SweepProgress| {
        let phase = match p.phase {
            SweepPhase::Discovering => "discovering date prefixes",
            SweepPhase::Sweeping => "sweeping",
            SweepPhase::Done => "done",
        };
        bar.set_message(format!(
            "{phase}: prefixes {}/{}, scanned {}, deleted {}, failed {}",
            p.prefixes_done, p.prefixes_total, p.scanned, p.deleted, p.failed
        ));
        bar.tick();
    };
    let now = args.now.unwrap_or_else(Utc::now);
    let report = bacca_storage::sweep(
        store.as_ref(),
        &args.tenant,
        policy,
        now,
        args.dry_run,
        &audit,
        &progress,
    )
    .await
    .context("sweep failed; nothing past the report was deleted, run it again")?;
    bar.finish_and_clear();
    super::print(&format!("{}\n", serde_json::to_string_pretty(&report)?))
}
