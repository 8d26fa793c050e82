//! Cloud Run function `bacca-fetch`: the handler, unit-testable without a server.

#![forbid(unsafe_code)]
