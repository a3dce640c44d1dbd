//! The local account model for the CLI: one JSON file holding every entry with its revision
//! (`{"entries": {"user/alice": {"version": 3, "entry": {…}}, …}}`), written whole to a file beside
//! it and renamed into place, so a crash never leaves half a model. A file that does not exist yet
//! is an empty model. Conditional writes compare the revision in the file as read at the moment of
//! writing, as the DynamoDB store's conditions do; one process at a time is the expected use.

use crate::enforce::ports::{AccountModel, StoreError};
use async_trait::async_trait;
use policy_rules::model::{Entry, EntryKey};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

#[derive(Debug, Serialize, Deserialize)]
struct Stored {
    version: u64,
    entry: Entry,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct ModelFile {
    entries: BTreeMap<EntryKey, Stored>,
}

/// The account model in a local file.
#[derive(Debug)]
pub struct FileModel {
    path: PathBuf,
    /// Writes in this process one at a time.
    lock: Mutex<()>,
}

impl FileModel {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            lock: Mutex::new(()),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn load(&self) -> Result<ModelFile, StoreError> {
        match std::fs::read(&self.path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                StoreError::Corrupt(format!(
                    "`{}` is not a Warden account model: {e}",
                    self.path.display()
                ))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(ModelFile::default()),
            Err(e) => Err(StoreError::Io(format!(
                "cannot read `{}`: {e}",
                self.path.display()
            ))),
        }
    }

    fn save(&self, model: &ModelFile) -> Result<(), StoreError> {
        let text =
            serde_json::to_vec_pretty(model).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let staging = self
            .path
            .with_extension(format!("staging-{}", std::process::id()));
        std::fs::write(&staging, text)
            .and_then(|()| std::fs::rename(&staging, &self.path))
            .map_err(|e| StoreError::Io(format!("cannot write `{}`: {e}", self.path.display())))
    }

    /// Every entry the file holds.
    pub fn all(&self) -> Result<Vec<Entry>, StoreError> {
        Ok(self
            .load()?
            .entries
            .into_values()
            .map(|s| s.entry)
            .collect())
    }
}

#[async_trait]
impl AccountModel for FileModel {
    async fn get(&self, keys: &[EntryKey]) -> Result<Vec<(Entry, u64)>, StoreError> {
        let model = self.load()?;
        Ok(keys
            .iter()
            .filter_map(|k| model.entries.get(k))
            .map(|s| (s.entry.clone(), s.version))
            .collect())
    }

    async fn put(&self, entries: &[(Entry, u64)]) -> Result<(), StoreError> {
        let _one = self
            .lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut model = self.load()?;
        for (entry, version) in entries {
            let stored = model.entries.get(&entry.key).map_or(0, |s| s.version);
            if stored != *version {
                return Err(StoreError::Contention);
            }
        }
        for (entry, version) in entries {
            model.entries.insert(
                entry.key.clone(),
                Stored {
                    version: version + 1,
                    entry: entry.clone(),
                },
            );
        }
        self.save(&model)
    }

    async fn put_many(&self, entries: &[Entry]) -> Result<usize, StoreError> {
        let _one = self
            .lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut model = self.load()?;
        for entry in entries {
            let version = model.entries.get(&entry.key).map_or(0, |s| s.version);
            model.entries.insert(
                entry.key.clone(),
                Stored {
                    version: version + 1,
                    entry: entry.clone(),
                },
            );
        }
        self.save(&model)?;
        Ok(1)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use policy_rules::model::{Source, State};

    fn entry(name: &str) -> Entry {
        Entry::read(
            EntryKey::group(name),
            State::Group {
                arn: format!("arn:aws:iam::111122223333:group/{name}"),
                inline: BTreeMap::new(),
                attached: Default::default(),
            },
            100,
            Source::Sweep,
        )
    }

    #[tokio::test]
    async fn writes_are_conditional_on_the_revision_and_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model.json");
        let model = FileModel::new(&path);
        assert!(model.get(&[EntryKey::group("a")]).await.unwrap().is_empty());
        model.put(&[(entry("a"), 0)]).await.unwrap();
        assert!(matches!(
            model.put(&[(entry("a"), 0)]).await,
            Err(StoreError::Contention)
        ));
        model.put_many(&[entry("b")]).await.unwrap();
        let reopened = FileModel::new(&path);
        let got = reopened
            .get(&[EntryKey::group("a"), EntryKey::group("b")])
            .await
            .unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].1, 1);
        std::fs::write(&path, "not json").unwrap();
        let err = reopened.get(&[EntryKey::group("a")]).await.unwrap_err();
        assert!(err.to_string().contains("model.json"), "{err}");
    }
}
