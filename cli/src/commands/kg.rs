//! `bacca kg similar|stats|export`: query a tenant's knowledge graph.

use std::path::PathBuf;

use anyhow::{Context, Result};

/// Where the graph and the tenant's keys are.
#[derive(Debug, clap::Args)]
pub struct Target {
    /// The graph store: `sqlite://<dir>` or `postgres://...`.
    #[arg(long, default_value = "sqlite://.bacca-demo/graph")]
    store: String,
    /// Tenant id.
    #[arg(long)]
    tenant: String,
    /// The data directory holding the tenant's keyring and wrapped key root (local mode).
    #[arg(long, default_value = ".bacca-demo")]
    data_dir: PathBuf,
    /// Base key URI (default: the data directory's local keyring).
    #[arg(long, env = "BACCA_KMS")]
    kms: Option<String>,
}

/// `bacca kg` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Cmd {
    /// Past incidents like an alert or log line, with what resolved them.
    Similar {
        #[command(flatten)]
        target: Target,
        /// The alert text or log line.
        #[arg(long)]
        text: String,
        /// How many incidents.
        #[arg(long, default_value_t = 5)]
        limit: usize,
    },
    /// Node and edge counts.
    Stats(Target),
    /// The whole graph (decrypted) as JSON.
    Export {
        #[command(flatten)]
        target: Target,
        /// Output format.
        #[arg(long, default_value = "json", value_parser = ["json"])]
        format: String,
    },
}

async fn graph(t: &Target) -> Result<bacca_knowledge::graph::KnowledgeGraph> {
    let mut pipeline = bacca_anonymize::Pipeline::local(&t.data_dir)
        .await
        .context("opening the data directory")?;
    pipeline.graph = bacca_knowledge::store::open_store(&t.store, Default::default())
        .await
        .context("opening the graph store")?;
    if let Some(kms) = &t.kms {
        pipeline.keys = bacca_crypto::TenantKeys::new(kms.clone());
    }
    Ok(pipeline.graph_of(&t.tenant).await?)
}

/// Runs the query and prints JSON.
pub async fn run(cmd: Cmd) -> Result<()> {
    let out = match cmd {
        Cmd::Similar {
            target,
            text,
            limit,
        } => serde_json::to_string_pretty(&graph(&target).await?.similar(&text, limit).await?)?,
        Cmd::Stats(target) => serde_json::to_string_pretty(&graph(&target).await?.stats().await?)?,
        Cmd::Export { target, .. } => {
            serde_json::to_string_pretty(&graph(&target).await?.export().await?)?
        }
    };
    super::print(&format!("{out}\n"))
}
