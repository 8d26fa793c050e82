//! Log signatures: an online template miner and the `bacca signatures` line labeller.
//!
//! Lines are masked by generic rules (see [`mask`]) into token shapes; shapes that differ in a
//! single word position are grouped once that position has shown several distinct values,
//! provided enough of the template stays constant. See [`SignatureMiner`].

pub(crate) mod hash;
pub mod mask;
mod miner;

use std::io::{BufRead, Write};

pub use miner::{MinerConfig, Signature, SignatureId, SignatureMiner};

use crate::{Error, Result};

/// What `bacca signatures` writes for each input line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LabelFormat {
    /// The signature id (16 hex digits).
    #[default]
    Id,
    /// The template, `<*>` for variable parts.
    Template,
}

/// When labels are decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LabelMode {
    /// One label per line as soon as the line is read (true streaming; an early line keeps the
    /// id it got even if its signature is later merged).
    #[default]
    Streaming,
    /// Read all input, then write each line's final signature (ids resolved after merges).
    Final,
}

/// Counts returned by [`label_lines`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LabelStats {
    /// Lines read.
    pub lines: u64,
    /// Signatures at the end.
    pub signatures: usize,
}

/// Reads raw log lines from `input` and writes one label per line to `output`: the function
/// behind `bacca signatures`.
///
/// Invalid UTF-8 is replaced, not rejected; a line longer than
/// [`MinerConfig::max_line_bytes`] is cut before masking.
///
/// # Errors
///
/// [`Error::Io`] when reading or writing fails.
pub fn label_lines<R: BufRead, W: Write>(
    miner: &mut SignatureMiner,
    mut input: R,
    mut output: W,
    format: LabelFormat,
    mode: LabelMode,
) -> Result<LabelStats> {
    let mut raw = Vec::with_capacity(512);
    let mut held: Vec<SignatureId> = Vec::new();
    let mut lines = 0u64;
    loop {
        raw.clear();
        let n = input.read_until(b'\n', &mut raw).map_err(Error::Io)?;
        if n == 0 {
            break;
        }
        while matches!(raw.last(), Some(b'\n' | b'\r')) {
            raw.pop();
        }
        let line = String::from_utf8_lossy(&raw);
        let id = miner.observe(&line);
        lines += 1;
        match mode {
            LabelMode::Streaming => write_label(miner, &mut output, id, format)?,
            LabelMode::Final => held.push(id),
        }
    }
    for id in held {
        let id = miner.resolve(id).unwrap_or(id);
        write_label(miner, &mut output, id, format)?;
    }
    output.flush().map_err(Error::Io)?;
    Ok(LabelStats {
        lines,
        signatures: miner.len(),
    })
}

fn write_label<W: Write>(
    miner: &SignatureMiner,
    out: &mut W,
    id: SignatureId,
    format: LabelFormat,
) -> Result<()> {
    match format {
        LabelFormat::Id => writeln!(out, "{id}"),
        LabelFormat::Template => writeln!(out, "{}", miner.template(id).unwrap_or_default()),
    }
    .map_err(Error::Io)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn miner() -> SignatureMiner {
        SignatureMiner::new(MinerConfig::default())
    }

    #[test]
    fn two_word_values_stay_apart_three_merge() {
        let mut m = miner();
        let a = m.observe("session opened for user root");
        let b = m.observe("session closed for user root");
        assert_ne!(a, b);
        let x = m.observe("removing chargen service now");
        let y = m.observe("removing daytime service now");
        assert_ne!(m.resolve(x), m.resolve(y));
        let z = m.observe("removing echo service now");
        assert_eq!(m.resolve(x), m.resolve(z));
        assert_eq!(m.resolve(y), m.resolve(z));
        assert_eq!(m.template(z), Some("removing <*> service now"));
        // ids are stable: the first id survives the merge.
        assert_eq!(m.resolve(z), Some(x));
    }

    #[test]
    fn short_messages_never_collapse_to_a_bare_wildcard() {
        let mut m = miner();
        let ids: Vec<_> = ["normal", "warning", "running", "critical"]
            .iter()
            .map(|l| m.observe(l))
            .collect();
        for (i, a) in ids.iter().enumerate() {
            for b in &ids[i + 1..] {
                assert_ne!(m.resolve(*a), m.resolve(*b));
            }
        }
    }

    #[test]
    fn ids_are_deterministic_across_miners() {
        let mut a = miner();
        let mut b = miner();
        assert_eq!(a.observe("job 1 done"), b.observe("job 99 done"));
    }

    #[test]
    fn label_lines_streams_and_finalises() {
        const STARTED: &str = "start job <*> now <*>";
        let input = "start job x now 1\nstart job y now 2\nstart job z now 3\nb\n";
        let mut out = Vec::new();
        let stats = label_lines(
            &mut miner(),
            input.as_bytes(),
            &mut out,
            LabelFormat::Template,
            LabelMode::Final,
        )
        .unwrap();
        assert_eq!(stats.lines, 4);
        let text = String::from_utf8(out).unwrap();
        let labels: Vec<_> = text.lines().collect();
        assert_eq!(labels, [STARTED, STARTED, STARTED, "b"]);
    }

    #[test]
    fn huge_and_binary_lines_do_not_panic() {
        let mut m = miner();
        let big = "x".repeat(10 * 1024 * 1024);
        let id = m.observe(&big);
        assert!(m.template(id).is_some());
        let mut out = Vec::new();
        label_lines(
            &mut m,
            &[0xff, 0xfe, b'\n', b'\n'][..],
            &mut out,
            LabelFormat::Id,
            LabelMode::Streaming,
        )
        .unwrap();
        assert_eq!(out.iter().filter(|b| **b == b'\n').count(), 2);
    }
}
