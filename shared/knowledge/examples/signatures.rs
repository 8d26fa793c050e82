//! `cargo run --release -p bacca-knowledge --example signatures [--template] [--final] < log`:
//! the same labeller `bacca signatures` wires in, for evaluation without the CLI.

use std::io::{stdin, stdout, BufWriter};

use bacca_knowledge::signature::{
    label_lines, LabelFormat, LabelMode, MinerConfig, SignatureMiner,
};

// The production binaries' allocator, so that the figures measure what they run.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let format = if args.iter().any(|a| a == "--template") {
        LabelFormat::Template
    } else {
        LabelFormat::Id
    };
    let mode = if args.iter().any(|a| a == "--final") {
        LabelMode::Final
    } else {
        LabelMode::Streaming
    };
    let mut miner = SignatureMiner::new(MinerConfig::default());
    let start = std::time::Instant::now();
    let stats = label_lines(
        &mut miner,
        stdin().lock(),
        BufWriter::new(stdout().lock()),
        format,
        mode,
    )?;
    let secs = start.elapsed().as_secs_f64();
    eprintln!(
        "{} lines, {} signatures, {:.3}s, {:.0} lines/s",
        stats.lines,
        stats.signatures,
        secs,
        stats.lines as f64 / secs
    );
    Ok(())
}
