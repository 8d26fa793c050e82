//! cargo-fuzz target: see `bacca_fuzz::push_decode` for the invariant.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| bacca_fuzz::push_decode(data));
