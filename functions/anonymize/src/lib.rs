//! Cloud Run function `bacca-anonymize`: the handler, unit-testable without a server.

#![forbid(unsafe_code)]
