//! Named fault points, so the killed-process tests can stop a function binary exactly between
//! two steps of its handler. Debug builds only: in a release build [`point`] does nothing.
//!
//! In a debug build, `fault::point("fetch.raw_written").await` checks `BACCA_FAULT_POINT`; when
//! it names this point, it creates the marker file `<BACCA_DATA_DIR>/fault-<name>` and never
//! returns, so the test can SIGKILL the process while it is parked there: nothing after the
//! point runs, as if the process had died at that instant.

/// The environment variable naming the point at which a debug build parks.
pub const FAULT_POINT_VAR: &str = "BACCA_FAULT_POINT";

/// A fault point named `name` (see the [module docs](self)); a no-op in release builds.
pub async fn point(name: &str) {
    #[cfg(debug_assertions)]
    if std::env::var(FAULT_POINT_VAR).is_ok_and(|p| p == name) {
        if let Ok(dir) = crate::env::local_data_dir() {
            let _ = std::fs::write(dir.join(format!("fault-{name}")), b"");
        }
        tracing::warn!(point = name, "fault point reached; parked until killed");
        std::future::pending::<()>().await;
    }
    #[cfg(not(debug_assertions))]
    let _ = name;
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn other_points_pass_through() {
        // BACCA_FAULT_POINT is not set in unit tests, so every point returns at once.
        super::point("unit.test").await;
    }
}
