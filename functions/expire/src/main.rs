//! `bacca-expire`: a thin main that serves the Cloud Run contract.

#![forbid(unsafe_code)]

fn main() {}
