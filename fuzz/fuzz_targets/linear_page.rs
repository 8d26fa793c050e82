//! cargo-fuzz target: see `bacca_fuzz::linear_page` for the invariant.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| bacca_fuzz::linear_page(data));
