//! The `Source` trait, the checkpoint store contract, and the loop that runs a source to the
//! end.
//!
//! A source is a pure function of its checkpoint: `fetch_page(cp)` returns the records after
//! `cp` and the checkpoint after them, and has no other state that matters. So a caller that
//! writes the records and only then stores the new checkpoint never loses a record, and one
//! that fails before storing it simply fetches the same page again (downstream writes are
//! keyed by source id, so a repeated page is idempotent).

use std::collections::HashMap;
use std::io::Write;
use std::sync::Mutex;

use async_trait::async_trait;

use crate::record::{Checkpoint, Directory, Page, SourceKind};
use crate::{Error, Result};

/// One read-only data source of one tenant.
#[async_trait]
pub trait Source: Send + std::fmt::Debug {
    /// Which connector this is.
    fn kind(&self) -> SourceKind;

    /// Fetches the page after `checkpoint` (`None`: the first run, from the configured `since`).
    ///
    /// # Errors
    /// Any [`Error`]; the caller must then keep its stored checkpoint unchanged.
    async fn fetch_page(&mut self, checkpoint: Option<&Checkpoint>) -> Result<Page>;

    /// The tenant's people as this source knows them (Slack `users.list`, export
    /// `users.json`); empty for sources without a directory endpoint, whose identities travel
    /// on the records (see [`Directory::add_records`]).
    ///
    /// # Errors
    /// Any [`Error`] of the underlying calls.
    async fn directory(&mut self) -> Result<Directory> {
        Ok(Directory::default())
    }
}

/// A stored checkpoint and its generation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCheckpoint {
    /// The checkpoint.
    pub checkpoint: Checkpoint,
    /// Its generation: changes on every write.
    pub generation: u64,
}

/// Where checkpoints live, per tenant and source.
///
/// Contract: `save` succeeds only when the stored generation equals `expected_generation`
/// (`None`: nothing is stored yet) and returns the new generation; otherwise it fails with
/// [`Error::CheckpointConflict`] and changes nothing. Writers call it only after the batch
/// the checkpoint covers is durably written. Production stores it as an object with a GCS
/// generation precondition; [`MemoryCheckpointStore`] implements the same contract.
#[async_trait]
pub trait CheckpointStore: Send + Sync {
    /// The stored checkpoint, if any.
    ///
    /// # Errors
    /// Backend failures.
    async fn load(&self, tenant: &str, source: &str) -> Result<Option<StoredCheckpoint>>;

    /// Stores `checkpoint` if the current generation is `expected_generation`.
    ///
    /// # Errors
    /// [`Error::CheckpointConflict`] when the precondition fails; backend failures.
    async fn save(
        &self,
        tenant: &str,
        source: &str,
        checkpoint: &Checkpoint,
        expected_generation: Option<u64>,
    ) -> Result<u64>;
}

/// An in-memory checkpoint store (tests, the CLI).
#[derive(Debug, Default)]
pub struct MemoryCheckpointStore {
    map: Mutex<HashMap<(String, String), StoredCheckpoint>>,
}

impl MemoryCheckpointStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl CheckpointStore for MemoryCheckpointStore {
    async fn load(&self, tenant: &str, source: &str) -> Result<Option<StoredCheckpoint>> {
        let map = match self.map.lock() {
            Ok(m) => m,
            Err(p) => p.into_inner(),
        };
        Ok(map.get(&(tenant.to_owned(), source.to_owned())).cloned())
    }

    async fn save(
        &self,
        tenant: &str,
        source: &str,
        checkpoint: &Checkpoint,
        expected_generation: Option<u64>,
    ) -> Result<u64> {
        let mut map = match self.map.lock() {
            Ok(m) => m,
            Err(p) => p.into_inner(),
        };
        let key = (tenant.to_owned(), source.to_owned());
        let current = map.get(&key).map(|s| s.generation);
        if current != expected_generation {
            return Err(Error::CheckpointConflict {
                tenant: tenant.to_owned(),
                source_name: source.to_owned(),
                expected: expected_generation,
            });
        }
        let generation = current.map_or(1, |g| g + 1);
        map.insert(
            key,
            StoredCheckpoint {
                checkpoint: checkpoint.clone(),
                generation,
            },
        );
        Ok(generation)
    }
}

/// What a run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunStats {
    /// Pages fetched and written.
    pub pages: u64,
    /// Records written.
    pub records: u64,
}

/// Runs `source` for `tenant` until it is done: for each page, writes the records as JSON
/// lines to `out`, flushes, and only then stores the next checkpoint in `store`.
///
/// # Errors
/// The source's errors (the stored checkpoint is then the one after the last written page),
/// [`Error::Io`] when writing fails (the checkpoint is not advanced), [`Error::CursorLoop`]
/// when a page returns its own checkpoint without being done, [`Error::PageLimit`] after
/// `max_pages` pages, and checkpoint conflicts.
pub async fn run_to_end(
    source: &mut dyn Source,
    store: &dyn CheckpointStore,
    tenant: &str,
    out: &mut (dyn Write + Send),
    max_pages: u64,
) -> Result<RunStats> {
    let name = source.kind().as_str();
    let stored = store.load(tenant, name).await?;
    let (mut checkpoint, mut generation) = match stored {
        Some(s) => (Some(s.checkpoint), Some(s.generation)),
        None => (None, None),
    };
    let mut stats = RunStats::default();
    loop {
        if stats.pages >= max_pages {
            return Err(Error::PageLimit { pages: stats.pages });
        }
        let page = source.fetch_page(checkpoint.as_ref()).await?;
        for r in &page.records {
            r.write_json_line(out)?;
        }
        out.flush()?;
        stats.pages += 1;
        stats.records += page.records.len() as u64;
        if !page.done && checkpoint.as_ref() == Some(&page.next_checkpoint) {
            return Err(Error::CursorLoop {
                source_name: name,
                endpoint: "checkpoint".into(),
            });
        }
        generation = Some(
            store
                .save(tenant, name, &page.next_checkpoint, generation)
                .await?,
        );
        tracing::debug!(
            source = name,
            records = page.records.len(),
            "page written; checkpoint advanced"
        );
        checkpoint = Some(page.next_checkpoint);
        if page.done {
            return Ok(stats);
        }
    }
}

/// Encodes a connector state as a checkpoint.
pub(crate) fn encode<S: serde::Serialize>(state: &S) -> Checkpoint {
    Checkpoint(serde_json::to_string(state).unwrap_or_default())
}

/// Decodes a connector state from a checkpoint (`None`: the default state).
pub(crate) fn decode<S: serde::de::DeserializeOwned + Default>(
    source_name: &'static str,
    cp: Option<&Checkpoint>,
) -> Result<S> {
    match cp {
        None => Ok(S::default()),
        Some(c) => serde_json::from_str(&c.0).map_err(|_| {
            Error::Config(format!(
                "the stored {source_name} checkpoint is not one of this connector"
            ))
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn memory_store_enforces_generations() {
        let s = MemoryCheckpointStore::new();
        let cp = Checkpoint("a".into());
        assert!(s.load("t", "slack").await.unwrap().is_none());
        let g1 = s.save("t", "slack", &cp, None).await.unwrap();
        assert!(matches!(
            s.save("t", "slack", &cp, None).await,
            Err(Error::CheckpointConflict { .. })
        ));
        let g2 = s.save("t", "slack", &cp, Some(g1)).await.unwrap();
        assert!(g2 > g1);
        assert!(s.save("t", "slack", &cp, Some(g1)).await.is_err());
        assert_eq!(s.load("t", "slack").await.unwrap().unwrap().generation, g2);
        assert!(s.load("u", "slack").await.unwrap().is_none());
    }
}
