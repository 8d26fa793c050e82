//! cargo-fuzz target: see `bacca_fuzz::slack_export` for the invariant.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| bacca_fuzz::slack_export(data));
