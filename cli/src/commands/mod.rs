//! One module per subcommand: clap arguments plus a thin call into the library crates.

pub mod anonymize;
pub mod audit;
pub mod demo;
pub mod envelope;
pub mod erase;
pub mod fetch;
pub mod keys;
pub mod kg;
pub mod run;
pub mod signatures;
pub mod sweep;

use std::io::Write;

/// Writes `text` to stdout (the commands' only output channel for results).
pub fn print(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
}
