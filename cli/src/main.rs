//! `bacca`: the command line of the bacca pipeline.
//!
//! `bacca demo` runs the whole job on embedded backends; the other commands run one piece
//! (a connector, the anonymizer, the signature miner, the envelope format, the retention
//! sweep, the knowledge graph) from the shell, for development, checks and operations.

#![forbid(unsafe_code)]

mod bench;
mod commands;

use std::path::PathBuf;

use anyhow::Result;
use clap::{Parser, Subcommand};

/// mimalloc, not glibc's malloc: why, and why without huge pages, at its entry in the workspace
/// `Cargo.toml`.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// bacca: anonymized, per-customer incident knowledge from operational data.
///
/// Backends are chosen by URI: `local-kms://<keyring file>` or `gcp-kms://projects/...`
/// for keys, `file://<dir>` or `gs://<bucket>` for objects, `sqlite://<file>` or
/// `postgres://...` for the knowledge graph.
#[derive(Debug, Parser)]
#[command(name = "bacca", version, about, long_about = None, arg_required_else_help = true)]
struct Cli {
    /// Log filter (tracing `RUST_LOG` syntax); logs go to stderr and never carry content.
    #[arg(long, global = true, env = "RUST_LOG", default_value = "warn")]
    log: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the whole pipeline for two tenants on embedded backends, with a simulated clock.
    Demo(commands::demo::Args),
    /// Encrypt or decrypt stdin to stdout in Tink's envelope (or streaming) format.
    #[command(subcommand)]
    Envelope(commands::envelope::Cmd),
    /// Manage the per-tenant keys of a local keyring (development only).
    #[command(subcommand)]
    Keys(commands::keys::Cmd),
    /// Delete raw objects past the retention window (30 days minus a 2-hour margin).
    Sweep(commands::sweep::Args),
    /// Erase one person (data-subject request) from a local layout's graph and raw batches.
    Erase(commands::erase::Args),
    /// Find PII and secrets in text or JSON and replace them with keyed pseudonyms.
    Anonymize(commands::anonymize::Args),
    /// Read raw log lines on stdin, write one signature (template) label per line.
    Signatures(commands::signatures::Args),
    /// Run one connector and write its normalized records as JSON lines.
    Fetch(commands::fetch::Args),
    /// Query the knowledge graph.
    #[command(subcommand)]
    Kg(commands::kg::Cmd),
    /// Read a tenant's audit trail back.
    Audit(commands::audit::Args),
    /// Serve the three functions locally over HTTP, wired to the in-process bus.
    Run(commands::run::Args),
    /// Whole-process measurements: function cold start, idle memory, binary sizes.
    #[command(subcommand)]
    Bench(BenchCmd),
}

#[derive(Debug, Subcommand)]
enum BenchCmd {
    /// Exec to first 200 from /healthz, idle RSS and size of each function binary.
    ColdStart {
        /// Function binaries to measure (default: the three release binaries beside `bacca`).
        #[arg(long = "bin")]
        bins: Vec<PathBuf>,
        /// Starts per binary.
        #[arg(long, default_value_t = 20)]
        runs: usize,
    },
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_new(&cli.log)?;
    if let Command::Demo(args) = &cli.command {
        // The demo's logs go to a file under its directory (JSON, info level), so the final
        // scan can prove they hold none of the planted PII.
        commands::demo::prepare_dir(&args.dir)?;
        let log = std::fs::File::create(commands::demo::log_path(&args.dir))?;
        tracing_subscriber::fmt()
            .json()
            .with_writer(std::sync::Mutex::new(log))
            .with_env_filter(tracing_subscriber::EnvFilter::try_new("info")?)
            .init();
    } else {
        tracing_subscriber::fmt()
            .with_writer(std::io::stderr)
            .with_env_filter(filter)
            .init();
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match cli.command {
        Command::Demo(args) => rt.block_on(commands::demo::run(args)),
        Command::Envelope(cmd) => rt.block_on(commands::envelope::run(cmd)),
        Command::Keys(cmd) => rt.block_on(commands::keys::run(cmd)),
        Command::Sweep(args) => rt.block_on(commands::sweep::run(args)),
        Command::Erase(args) => rt.block_on(commands::erase::run(args)),
        Command::Anonymize(args) => commands::anonymize::run(args),
        Command::Signatures(args) => commands::signatures::run(args),
        Command::Fetch(args) => rt.block_on(commands::fetch::run(args)),
        Command::Kg(cmd) => rt.block_on(commands::kg::run(cmd)),
        Command::Audit(args) => commands::audit::run(args),
        Command::Run(args) => rt.block_on(commands::run::run(args)),
        Command::Bench(BenchCmd::ColdStart { bins, runs }) => {
            let bins = if bins.is_empty() {
                let dir = std::env::current_exe()?
                    .parent()
                    .map(PathBuf::from)
                    .unwrap_or_default();
                ["bacca-fetch", "bacca-anonymize", "bacca-expire"]
                    .iter()
                    .map(|b| dir.join(b))
                    .collect()
            } else {
                bins
            };
            let report = bench::cold_start_report(&bins, runs)?;
            commands::print(&report)
        }
    }
}
