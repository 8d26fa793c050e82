//! cargo-fuzz target: see `bacca_fuzz::notion_pages` for the invariant.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| bacca_fuzz::notion_pages(data));
