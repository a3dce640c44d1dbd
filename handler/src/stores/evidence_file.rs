//! The local evidence store: one canonical JSON record per line in an append-only file, for the CLI
//! and offline use. Appends re-read the head first and refuse to write when it moved since the caller
//! read it, the file-store form of the conditional append that keeps two writers from forking the chain.
//! [`FileEvidence`] is the file as an [`EvidenceStore`]. The file keeps no head apart from its
//! records, so its `head` is the last line: unlike the DynamoDB store, a file truncated at the end
//! still verifies. A store's file that does not exist yet is an empty chain; a trail the CLI is asked
//! to read must exist ([`read_existing`]), so a typo in a path never reads as an intact trail.

use crate::enforce::ports::{EvidenceStore, StoreError};
use async_trait::async_trait;
use policy_rules::evidence::{append, Draft, Record};
use std::fs::OpenOptions;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A problem with an evidence file.
#[derive(Debug, thiserror::Error)]
pub enum EvidenceFileError {
    /// The I/O error's text is in the message (it is not a `source`, so a chain says it once).
    #[error("cannot {op} `{path}`: {error}")]
    Io {
        op: &'static str,
        path: String,
        error: std::io::Error,
    },
    #[error("`{path}`:{line}: not an evidence record: {message}")]
    Record {
        path: String,
        line: usize,
        message: String,
    },
    #[error(
        "`{path}`: the head moved (expected seq {expected:?}, found {found:?}); re-read and retry"
    )]
    HeadMoved {
        path: String,
        expected: Option<u64>,
        found: Option<u64>,
    },
}

fn io_error(op: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> EvidenceFileError {
    let path = path.display().to_string();
    move |error| EvidenceFileError::Io { op, path, error }
}

/// Reads every record of a store's file (a missing file is an empty chain: nothing was written yet).
pub fn read(path: &Path) -> Result<Vec<Record>, EvidenceFileError> {
    match std::fs::File::open(path) {
        Ok(f) => read_records(path, f),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(io_error("read", path)(e)),
    }
}

/// Reads every record of a trail that must exist: a missing or unreadable file is an error.
pub fn read_existing(path: &Path) -> Result<Vec<Record>, EvidenceFileError> {
    let file = std::fs::File::open(path).map_err(io_error("read", path))?;
    read_records(path, file)
}

fn read_records(path: &Path, file: std::fs::File) -> Result<Vec<Record>, EvidenceFileError> {
    let p = || path.display().to_string();
    let mut out = Vec::new();
    for (i, line) in BufReader::new(file).lines().enumerate() {
        let line = line.map_err(io_error("read", path))?;
        if line.trim().is_empty() {
            continue;
        }
        let r: Record = serde_json::from_str(&line).map_err(|e| EvidenceFileError::Record {
            path: p(),
            line: i + 1,
            message: e.to_string(),
        })?;
        out.push(r);
    }
    Ok(out)
}

/// Appends `draft` after the record with sequence number `expected_head` (`None`: an empty file).
pub fn append_after(
    path: &Path,
    expected_head: Option<u64>,
    draft: Draft,
) -> Result<Record, EvidenceFileError> {
    let records = read(path)?;
    let head = records.last();
    if head.map(|h| h.seq) != expected_head {
        return Err(EvidenceFileError::HeadMoved {
            path: path.display().to_string(),
            expected: expected_head,
            found: head.map(|h| h.seq),
        });
    }
    let record = append(head, draft);
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(io_error("open", path))?;
    writeln!(f, "{}", record.to_line()).map_err(io_error("append to", path))?;
    f.sync_data().map_err(io_error("sync", path))?;
    Ok(record)
}

/// A JSON Lines evidence file as an [`EvidenceStore`]. Appends in one process are serialized; a
/// head moved by another process between the read and the write is retried, a few times.
#[derive(Debug, Clone)]
pub struct FileEvidence {
    pub path: PathBuf,
    lock: Arc<tokio::sync::Mutex<()>>,
}

impl FileEvidence {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            lock: Arc::default(),
        }
    }

    /// Runs blocking file work off the async threads.
    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Path) -> Result<T, EvidenceFileError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || work(&path))
            .await
            .map_err(|e| StoreError::Io(format!("`{}`: {e}", self.path.display())))?
            .map_err(StoreError::from)
    }
}

impl From<EvidenceFileError> for StoreError {
    fn from(e: EvidenceFileError) -> Self {
        match e {
            EvidenceFileError::Io { .. } => StoreError::Io(e.to_string()),
            EvidenceFileError::Record { .. } => StoreError::Corrupt(e.to_string()),
            EvidenceFileError::HeadMoved { .. } => StoreError::Contention,
        }
    }
}

#[async_trait]
impl EvidenceStore for FileEvidence {
    async fn append(&self, draft: Draft) -> Result<Record, StoreError> {
        let _one = self.lock.lock().await;
        for _ in 0..5 {
            let draft = draft.clone();
            let result = self
                .blocking(move |path| {
                    let records = read(path)?;
                    if let Some(stored) = records.iter().find(|r| r.id == draft.id) {
                        return Ok(stored.clone());
                    }
                    append_after(path, records.last().map(|r| r.seq), draft)
                })
                .await;
            match result {
                Err(StoreError::Contention) => continue,
                other => return other,
            }
        }
        Err(StoreError::Contention)
    }

    async fn list(&self) -> Result<Vec<Record>, StoreError> {
        self.blocking(read).await
    }

    async fn get(&self, id: &str) -> Result<Option<Record>, StoreError> {
        let id = id.to_owned();
        self.blocking(move |path| Ok(read(path)?.into_iter().find(|r| r.id == id)))
            .await
    }

    async fn head(&self) -> Result<Option<(u64, String)>, StoreError> {
        self.blocking(|path| Ok(read(path)?.pop().map(|r| (r.seq, r.hash))))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use policy_rules::evidence::{verify, RecordKind};

    #[tokio::test]
    async fn the_file_is_an_evidence_store_that_writes_an_id_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileEvidence::new(dir.path().join("evidence.jsonl"));
        assert_eq!(store.head().await.unwrap(), None);
        let d = |id: &str, time: &str| Draft {
            id: id.into(),
            time: time.into(),
            kind: Some(RecordKind::Change),
            ..Draft::default()
        };
        let a = store.append(d("a", "2026-11-22T10:00:00Z")).await.unwrap();
        let b = store.append(d("b", "2026-11-22T10:00:01Z")).await.unwrap();
        assert_eq!(
            store.append(d("a", "2026-11-22T11:00:00Z")).await.unwrap(),
            a
        );
        let all = store.list().await.unwrap();
        assert_eq!(all, vec![a, b.clone()]);
        let head = store.head().await.unwrap().unwrap();
        assert_eq!(head, (1, b.hash.clone()));
        assert_eq!(verify(&all, Some((head.0, &head.1))), Ok(()));
        assert_eq!(store.get("b").await.unwrap(), Some(b));
        assert_eq!(store.get("c").await.unwrap(), None);
        // The CLI's functions read what the store wrote.
        assert_eq!(read(&store.path).unwrap().len(), 2);
    }

    #[test]
    fn a_trail_read_for_the_cli_must_exist() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("no-such.jsonl");
        assert_eq!(read(&missing).unwrap(), vec![]);
        let e = read_existing(&missing).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "cannot read `{}`: No such file or directory (os error 2)",
                missing.display()
            )
        );
        // Its text is said once: the I/O error is not also its source.
        assert!(std::error::Error::source(&e).is_none());
        assert!(read_existing(dir.path()).is_err());
        let empty = dir.path().join("empty.jsonl");
        std::fs::write(&empty, "").unwrap();
        assert_eq!(read_existing(&empty).unwrap(), vec![]);
    }

    #[test]
    fn appends_chain_and_refuse_a_moved_head() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("evidence.jsonl");
        let d = |id: &str| Draft {
            id: id.into(),
            time: "2026-11-22T10:00:00Z".into(),
            kind: Some(RecordKind::Decision),
            ..Draft::default()
        };
        let a = append_after(&path, None, d("a")).unwrap();
        let b = append_after(&path, Some(a.seq), d("b")).unwrap();
        assert!(matches!(
            append_after(&path, Some(a.seq), d("c")),
            Err(EvidenceFileError::HeadMoved { .. })
        ));
        let all = read(&path).unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(verify(&all, Some((b.seq, &b.hash))), Ok(()));
    }
}
