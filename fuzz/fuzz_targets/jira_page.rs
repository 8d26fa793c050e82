//! cargo-fuzz target: see `bacca_fuzz::jira_page` for the invariant.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| bacca_fuzz::jira_page(data));
