//! A publisher that appends messages to a local JSON-lines file: the dead-letter "topic" of a
//! function running in local mode, where there is no Pub/Sub to publish to.
//!
//! Messages carry pointers, never content, so the file holds ids, attributes and the base64
//! pointer payload. The file is created with mode 0600.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use async_trait::async_trait;
use base64::Engine;

use crate::{Error, Message, Publisher, Result};

/// Appends published messages to a JSON-lines file.
#[derive(Debug)]
pub struct FilePublisher {
    path: PathBuf,
    lock: Mutex<()>,
}

impl FilePublisher {
    /// A publisher appending to `path` (its directory is created on first publish).
    pub fn new(path: impl AsRef<Path>) -> Self {
        Self {
            path: path.as_ref().to_path_buf(),
            lock: Mutex::new(()),
        }
    }

    /// The file written to.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[async_trait]
impl Publisher for FilePublisher {
    async fn publish(&self, topic: &str, msg: Message) -> Result<String> {
        msg.validate()?;
        let id = uuid::Uuid::new_v4().to_string();
        let line = serde_json::json!({
            "topic": topic,
            "message_id": id,
            "publish_time": chrono::Utc::now(),
            "data": base64::engine::general_purpose::STANDARD.encode(&msg.data),
            "attributes": msg.attributes,
            "ordering_key": msg.ordering_key,
        });
        let io_err = |_| Error::Backend {
            class: "file_unwritable",
            retryable: true,
        };
        let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(io_err)?;
        }
        let mut opts = OpenOptions::new();
        opts.create(true).append(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut file = opts.open(&self.path).map_err(io_err)?;
        writeln!(file, "{line}").map_err(io_err)?;
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn appends_one_line_per_message() {
        let dir = tempfile::tempdir().unwrap();
        let p = FilePublisher::new(dir.path().join("dlq/dead-letter.jsonl"));
        let mut m = Message::new(&b"ptr"[..]);
        m.attributes
            .insert("error_class".into(), "malformed_message".into());
        p.publish("dead-letter", m.clone()).await.unwrap();
        p.publish("dead-letter", m).await.unwrap();
        let text = std::fs::read_to_string(p.path()).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["attributes"]["error_class"], "malformed_message");
        assert_eq!(lines[0]["data"], "cHRy");
        assert!(p.publish("x", Message::new(&b""[..])).await.is_err());
    }
}
