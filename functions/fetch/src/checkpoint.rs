//! Checkpoints as objects in the tenant's bucket: `checkpoints/<source>`, advanced with a
//! generation precondition so two concurrent fetches cannot both move it.
//!
//! The object holds the connector's opaque cursor (vendor cursors, timestamps, ids), never
//! record content.

use bacca_connectors::{Checkpoint, StoredCheckpoint};
use bacca_storage::{ObjectStore, PutOptions};
use serde::{Deserialize, Serialize};

use crate::Error;

/// Where checkpoints live in a tenant's bucket.
pub const CHECKPOINT_PREFIX: &str = "checkpoints/";

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckpointObject {
    checkpoint: Checkpoint,
}

fn name(source: &str) -> String {
    format!("{CHECKPOINT_PREFIX}{source}")
}

/// The stored checkpoint of `source`, if any, with its generation.
///
/// # Errors
/// Store failures; [`Error::Config`] when the object is not a checkpoint.
pub async fn load_checkpoint(
    store: &dyn ObjectStore,
    source: &str,
) -> Result<Option<StoredCheckpoint>, Error> {
    match store.get(&name(source)).await {
        Ok((bytes, meta)) => {
            let obj: CheckpointObject =
                serde_json::from_slice(&bytes).map_err(|_| Error::Config("checkpoint object"))?;
            Ok(Some(StoredCheckpoint {
                checkpoint: obj.checkpoint,
                generation: u64::try_from(meta.generation).unwrap_or(0),
            }))
        }
        Err(bacca_storage::Error::NotFound { .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Stores `checkpoint` for `source` if the stored generation is still `expected` (`None`:
/// nothing stored yet).
///
/// # Errors
/// [`Error::CheckpointConflict`] when another writer moved it; store failures.
pub async fn save_checkpoint(
    store: &dyn ObjectStore,
    source: &str,
    checkpoint: &Checkpoint,
    expected: Option<u64>,
) -> Result<StoredCheckpoint, Error> {
    let body = serde_json::to_vec(&CheckpointObject {
        checkpoint: checkpoint.clone(),
    })
    .map_err(|_| Error::Serialize)?;
    let opts = PutOptions {
        if_generation_match: Some(expected.map_or(0, |g| i64::try_from(g).unwrap_or(i64::MAX))),
        content_type: Some("application/json".into()),
        ..PutOptions::default()
    };
    match store.put(&name(source), body.into(), opts).await {
        Ok(meta) => Ok(StoredCheckpoint {
            checkpoint: checkpoint.clone(),
            generation: u64::try_from(meta.generation).unwrap_or(0),
        }),
        Err(bacca_storage::Error::PreconditionFailed { .. }) => Err(Error::CheckpointConflict),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn generations_guard_the_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        let store = bacca_storage::LocalStore::new(dir.path().join("b"));
        store.create_bucket().await.unwrap();
        assert!(load_checkpoint(&store, "slack").await.unwrap().is_none());
        let a = save_checkpoint(&store, "slack", &Checkpoint("a".into()), None)
            .await
            .unwrap();
        assert!(matches!(
            save_checkpoint(&store, "slack", &Checkpoint("x".into()), None).await,
            Err(Error::CheckpointConflict)
        ));
        let b = save_checkpoint(&store, "slack", &Checkpoint("b".into()), Some(a.generation))
            .await
            .unwrap();
        assert!(matches!(
            save_checkpoint(&store, "slack", &Checkpoint("c".into()), Some(a.generation)).await,
            Err(Error::CheckpointConflict)
        ));
        let loaded = load_checkpoint(&store, "slack").await.unwrap().unwrap();
        assert_eq!(loaded.checkpoint.0, "b");
        assert_eq!(loaded.generation, b.generation);
    }
}
