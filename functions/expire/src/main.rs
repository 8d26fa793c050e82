//! `bacca-expire`: a thin main that serves the Cloud Run contract.
//!
//! Configuration (all optional; with only `PORT` it runs in local mode on embedded backends
//! under `BACCA_DATA_DIR` or a temporary directory): `PORT`, `BACCA_STORE`, `BACCA_TENANT`,
//! `BACCA_RETENTION_DAYS`, `BACCA_SAFETY_MARGIN_HOURS`; for erasure the anonymize function's
//! `BACCA_KMS`, `BACCA_GRAPH`, `BACCA_PSEUDONYM_KEY` (see `bacca_expire::ErasureDeps::from_env`); plus the runtime's dead-letter and
//! OIDC settings (see `bacca_runtime::RuntimeConfig::from_function_env`).

#![forbid(unsafe_code)]

/// mimalloc, not glibc's malloc: why, and why without huge pages, at its entry in the workspace
/// `Cargo.toml`.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    bacca_runtime::init_logging()?;
    let mut deps = bacca_expire::Deps::from_env()?;
    deps.erasure = bacca_expire::ErasureDeps::from_env(deps.stores.clone()).await?;
    let config = bacca_runtime::RuntimeConfig::from_function_env()?;
    bacca_runtime::run(deps, config).await?;
    Ok(())
}
