//! PII and secret detectors, keyed per-tenant pseudonyms, JSON walker.

#![forbid(unsafe_code)]
