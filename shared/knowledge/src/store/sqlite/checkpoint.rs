//! WAL checkpoints of a tenant file off the write path.
//!
//! A checkpoint copies the WAL's pages into the database file and syncs it (WAL with
//! synchronous=NORMAL: the WAL is synced before, the file after). Run by the committing writer
//! (SQLite's auto-checkpoint), it stalled the batch that crossed the threshold for the whole
//! copy and both syncs: about half a second per ~64 MiB of WAL on the bench machine, a third
//! of the time of a stream of batches. Here a second connection checkpoints on a blocking
//! thread after a commit while the writer goes on (a PASSIVE checkpoint copies what is
//! committed and waits for no one), at most one at a time, and once [`MIN_ROWS`] rows were
//! committed since the last one started or [`MIN_INTERVAL`] has passed (two syncs each: a
//! stream of small commits does not turn into a stream of syncs). The writer's
//! own auto-checkpoint stays as a backstop, at a threshold the background checkpoints keep
//! the WAL under. Durability is unchanged: commits still go to the WAL, synced at each
//! checkpoint as before.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::{open_writer, write_err};
use crate::Result;

/// Rows committed (nodes, edges, term rows) that start a checkpoint as soon as none runs.
const MIN_ROWS: usize = 4096;
/// Time after which fewer rows start one.
const MIN_INTERVAL: Duration = Duration::from_millis(250);

/// One tenant file's background checkpointer.
#[derive(Debug)]
pub(super) struct Checkpointer {
    path: PathBuf,
    /// Its own connection, opened at the first checkpoint.
    conn: Mutex<Option<rusqlite::Connection>>,
    /// A checkpoint is queued or running: commits meanwhile start none.
    busy: AtomicBool,
    /// When the last checkpoint started.
    started: Mutex<Option<Instant>>,
    /// Rows committed since then.
    pending: AtomicUsize,
}

impl Checkpointer {
    pub(super) fn new(path: PathBuf) -> Self {
        Self {
            path,
            conn: Mutex::new(None),
            busy: AtomicBool::new(false),
            started: Mutex::new(None),
            pending: AtomicUsize::new(0),
        }
    }

    /// After a commit of `rows` rows: starts a checkpoint on a blocking thread unless one is
    /// queued or running, or fewer than [`MIN_ROWS`] rows were committed since the last one
    /// started less than [`MIN_INTERVAL`] ago (a later commit starts the next one). Outside a
    /// tokio runtime it does nothing (the writer's auto-checkpoint remains).
    pub(super) fn kick(self: &Arc<Self>, rows: usize) {
        let pending = self.pending.fetch_add(rows, Ordering::AcqRel) + rows;
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        if self.busy.swap(true, Ordering::AcqRel) {
            return;
        }
        {
            let mut started = self.started.lock().unwrap_or_else(PoisonError::into_inner);
            let now = Instant::now();
            if pending < MIN_ROWS && started.is_some_and(|t| now.duration_since(t) < MIN_INTERVAL) {
                self.busy.store(false, Ordering::Release);
                return;
            }
            *started = Some(now);
            self.pending.store(0, Ordering::Release);
        }
        let me = Arc::clone(self);
        runtime.spawn_blocking(move || {
            if let Err(e) = me.run() {
                tracing::warn!(error = %e, "background WAL checkpoint failed");
            }
            me.busy.store(false, Ordering::Release);
        });
    }

    fn run(&self) -> Result<()> {
        let mut conn = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        let conn = match &mut *conn {
            Some(c) => c,
            empty => empty.insert(open_writer(&self.path)?),
        };
        // (busy, WAL frames, frames checkpointed): nothing to act on either way.
        conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
            .map_err(write_err)
    }
}
