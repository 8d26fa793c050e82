//! `bacca keys create|rotate|destroy|list`: per-tenant KEKs in a local keyring file
//! (development only; production keys live in Cloud KMS, managed by Terraform).

use anyhow::{bail, Context, Result};
use bacca_audit::AuditSink;
use bacca_crypto::Keyring;

/// Keyring and tenant shared by every subcommand.
#[derive(Debug, clap::Args)]
pub struct Target {
    /// The keyring: `local-kms://<path>`.
    #[arg(long)]
    kms: String,
    /// Tenant id.
    #[arg(long)]
    tenant: String,
    /// Append one audit event per key operation to this JSON-lines file.
    #[arg(long, env = "BACCA_AUDIT_FILE")]
    audit_file: Option<std::path::PathBuf>,
}

/// `bacca keys` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Cmd {
    /// Create the tenant's KEK (version 1).
    Create(Target),
    /// Add a new primary version; older versions still decrypt.
    Rotate(Target),
    /// Destroy one version (crypto-shredding: what it wrapped can no longer be decrypted),
    /// or, with `--all`, the tenant's whole key.
    Destroy {
        #[command(flatten)]
        target: Target,
        /// The version to destroy.
        #[arg(long, required_unless_present = "all")]
        version: Option<u32>,
        /// Destroy every version of the tenant's key.
        #[arg(long, conflicts_with = "version")]
        all: bool,
    },
    /// List the tenant's key versions (never key material).
    List(Target),
}

fn keyring(t: &Target) -> Result<Keyring> {
    if !t.kms.starts_with("local-kms://") {
        bail!("bacca keys manages local keyrings only (local-kms://<path>); Cloud KMS keys are managed by Terraform");
    }
    let audit = match &t.audit_file {
        Some(p) => AuditSink::file(p)?,
        None => AuditSink::Tracing,
    };
    Keyring::from_uri(&t.kms, audit).context("opening the keyring")
}

/// Runs the subcommand and prints the result as JSON.
pub async fn run(cmd: Cmd) -> Result<()> {
    let out = match cmd {
        Cmd::Create(t) => serde_json::to_value(keyring(&t)?.create(&t.tenant)?)?,
        Cmd::Rotate(t) => serde_json::to_value(keyring(&t)?.rotate(&t.tenant)?)?,
        Cmd::Destroy {
            target,
            version,
            all,
        } => {
            let ring = keyring(&target)?;
            match (version, all) {
                (_, true) => {
                    ring.destroy_tenant(&target.tenant)?;
                    serde_json::json!({"tenant": target.tenant, "destroyed": "all"})
                }
                (Some(v), false) => serde_json::to_value(ring.destroy_version(&target.tenant, v)?)?,
                (None, false) => bail!("give --version N or --all"),
            }
        }
        Cmd::List(t) => serde_json::to_value(keyring(&t)?.versions(&t.tenant)?)?,
    };
    super::print(&format!("{}\n", serde_json::to_string_pretty(&out)?))
}
