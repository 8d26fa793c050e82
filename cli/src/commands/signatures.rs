//! `bacca signatures`: raw log lines on stdin, one signature label per line on stdout.

use std::io::{BufReader, BufWriter};

use anyhow::Result;
use bacca_knowledge::signature::{
    label_lines, LabelFormat, LabelMode, MinerConfig, SignatureMiner,
};

/// Arguments of `bacca signatures`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Write the template (`<*>` for variable parts) instead of the 16-hex-digit id.
    #[arg(long)]
    template: bool,
    /// Label each line when it is read (true streaming) instead of after all input, when
    /// later merges are known.
    #[arg(long)]
    streaming: bool,
}

/// Labels stdin.
pub fn run(args: Args) -> Result<()> {
    let mut miner = SignatureMiner::new(MinerConfig::default());
    let input = BufReader::with_capacity(1 << 20, std::io::stdin().lock());
    let output = BufWriter::with_capacity(1 << 20, std::io::stdout().lock());
    let format = if args.template {
        LabelFormat::Template
    } else {
        LabelFormat::Id
    };
    let mode = if args.streaming {
        LabelMode::Streaming
    } else {
        LabelMode::Final
    };
    let stats = label_lines(&mut miner, input, output, format, mode)?;
    eprintln!("{} lines, {} signatures", stats.lines, stats.signatures);
    Ok(())
}
