//! Test-only helper for tests that need an external service (PostgreSQL, fake-gcs-server, a
//! Python with `tink`, the presidio scorer): such a test must never pass without having run.
//!
//! [`service_env`] returns the variable's value when it is set. When it is not, the test
//! fails in CI ([`in_ci`]: `CI` set to anything but empty, `0` or `false`; `.ci/run` sets
//! `CI=true`) and elsewhere prints `SKIPPED: set <var> to run (<provider>)` to stderr, so a
//! bare `cargo nextest run` on a laptop shows what it did not cover instead of a silent pass.
//! `scripts/test.sh` sets every such variable.
//!
//! This crate is a dev-dependency only; no binary links it.

#![forbid(unsafe_code)]

/// Whether the tests run in CI: `CI` is set to anything but empty, `0` or `false`.
#[must_use]
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !matches!(v.trim(), "" | "0" | "false"))
}

/// The value of `var`, the environment variable that points a test at an external service
/// (`provider` says what provides it, e.g. "scripts/test.sh starts PostgreSQL").
///
/// # Panics
///
/// When `var` is unset or empty and [`in_ci`] holds: a test must not pass without having
/// run. Elsewhere it prints `SKIPPED: set <var> to run (<provider>)` to stderr and returns
/// `None`, and the caller returns early.
#[must_use]
pub fn service_env(var: &str, provider: &str) -> Option<String> {
    let value = std::env::var(var).ok().filter(|v| !v.trim().is_empty());
    if value.is_none() {
        assert!(
            !in_ci(),
            "{var} is not set but CI is: this test needs it ({provider})"
        );
        eprintln!("SKIPPED: set {var} to run ({provider})");
    }
    value
}
