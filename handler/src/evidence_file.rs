//! The local evidence store: one canonical JSON record per line in an append-only file, for the CLI
//! and offline use. Appends re-read the head first and refuse to write when it moved since the caller
//! read it, the file-store form of the conditional append that keeps two writers from forking the chain.

use policy_rules::evidence::{append, Draft, Record};
use std::fs::OpenOptions;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;

/// A problem with an evidence file.
#[derive(Debug, thiserror::Error)]
pub enum EvidenceFileError {
    #[error("`{path}`: {source}")]
    Io {
        path: String,
        source: std::io::Error,
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

/// Reads every record of a file (a missing file is an empty chain).
pub fn read(path: &Path) -> Result<Vec<Record>, EvidenceFileError> {
    let p = || path.display().to_string();
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(EvidenceFileError::Io { path: p(), source }),
    };
    let mut out = Vec::new();
    for (i, line) in BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|source| EvidenceFileError::Io { path: p(), source })?;
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
        .map_err(|source| EvidenceFileError::Io {
            path: path.display().to_string(),
            source,
        })?;
    writeln!(f, "{}", record.to_line()).map_err(|source| EvidenceFileError::Io {
        path: path.display().to_string(),
        source,
    })?;
    f.sync_data().map_err(|source| EvidenceFileError::Io {
        path: path.display().to_string(),
        source,
    })?;
    Ok(record)
}

#[cfg(test)]
mod tests {
    use super::*;
    use policy_rules::evidence::{verify, RecordKind};

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
