//! `bacca envelope encrypt|decrypt`: Tink's envelope (or streaming) format from the shell,
//! stdin to stdout, so the format can be checked from outside (e.g. with Python tink).

use std::io::{BufReader, BufWriter};

use anyhow::{Context, Result};
use bacca_crypto::{envelope_decrypt, envelope_encrypt, open_kms, tenant_key_uri};

/// Key and associated data shared by both directions.
#[derive(Debug, clap::Args)]
pub struct KeyArgs {
    /// The tenant's key: `local-kms://<keyring>?tenant=<id>` or
    /// `gcp-kms://projects/P/locations/L/keyRings/R/cryptoKeys/K`; with `--tenant`, a base
    /// URI (`local-kms://<keyring>`, or a `gcp-kms://` URI containing `{tenant}`).
    #[arg(long)]
    kms: String,
    /// Tenant id, when `--kms` is a base URI.
    #[arg(long)]
    tenant: Option<String>,
    /// Associated data (UTF-8), repeated exactly at decryption.
    #[arg(long, default_value = "")]
    aad: String,
}

/// `bacca envelope` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Cmd {
    /// Encrypt stdin to stdout.
    Encrypt {
        #[command(flatten)]
        key: KeyArgs,
        /// Streaming format (AES-GCM-HKDF, 1 MiB segments): bounded memory for any size.
        #[arg(long)]
        streaming: bool,
    },
    /// Decrypt stdin to stdout (either format is recognised). On failure nothing is
    /// trustworthy: discard any output.
    Decrypt {
        #[command(flatten)]
        key: KeyArgs,
    },
}

/// Runs the subcommand.
pub async fn run(cmd: Cmd) -> Result<()> {
    let (key, streaming, encrypt) = match cmd {
        Cmd::Encrypt { key, streaming } => (key, streaming, true),
        Cmd::Decrypt { key } => (key, false, false),
    };
    let uri = match &key.tenant {
        Some(t) => tenant_key_uri(&key.kms, t)?,
        None => key.kms.clone(),
    };
    let kms = open_kms(&uri).await.context("opening the key")?;
    let stdin = BufReader::with_capacity(1 << 20, std::io::stdin().lock());
    let stdout = BufWriter::with_capacity(1 << 20, std::io::stdout().lock());
    if encrypt {
        envelope_encrypt(kms, key.aad.as_bytes(), stdin, stdout, streaming)
            .await
            .context("encryption failed")?;
    } else {
        envelope_decrypt(kms, key.aad.as_bytes(), stdin, stdout)
            .await
            .context("decryption failed")?;
    }
    Ok(())
}
