//! `bacca-anonymize`: a thin main that serves the Cloud Run contract.
//!
//! Configuration (all optional; with only `PORT` it runs in local mode on embedded backends
//! under `BACCA_DATA_DIR` or a temporary directory): see `bacca_anonymize::Deps` for the store,
//! key, graph, policy and topic settings and `bacca_runtime::RuntimeConfig::from_function_env`
//! for the dead-letter and OIDC settings.

#![forbid(unsafe_code)]

/// mimalloc, not glibc's malloc: why, and why without huge pages, at its entry in the workspace
/// `Cargo.toml`.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    bacca_runtime::init_logging()?;
    let deps = bacca_anonymize::Deps::from_env().await?;
    let config = bacca_runtime::RuntimeConfig::from_function_env()?;
    bacca_runtime::run(deps, config).await?;
    Ok(())
}
