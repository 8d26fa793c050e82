//! Cloud Run function `bacca-expire`: the handler, unit-testable without a server.

#![forbid(unsafe_code)]
