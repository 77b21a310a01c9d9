//! Where document files live. Everything goes through [`Store`], so that an S3-compatible
//! store can stand beside the local one; [`LocalStore`] keeps one directory per clinic under
//! `<data_dir>/documents/<slug>/` (which backups carry), files 0600 in directories 0700.
//!
//! An upload is first written to an [`Incoming`] file (outside the documents directory, on the
//! same filesystem) while it is counted and hashed; it is removed when dropped unless the store
//! took it, so a refused or interrupted upload leaves nothing behind.

use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

/// One clinic's documents.
#[async_trait]
pub trait Store: Send + Sync {
    /// Takes the finished upload and keeps it under `key`.
    async fn put(&self, key: &str, file: Incoming) -> io::Result<()>;
    /// Keeps `bytes` under `key` (thumbnails).
    async fn put_bytes(&self, key: &str, bytes: &[u8]) -> io::Result<()>;
    async fn get(&self, key: &str) -> io::Result<Vec<u8>>;
    /// Removes `key` (a missing one is not an error).
    async fn remove(&self, key: &str) -> io::Result<()>;
    /// Where uploads in progress are written.
    fn incoming_dir(&self) -> &Path;
}

/// Files in a directory of this machine.
#[derive(Clone, Debug)]
pub struct LocalStore {
    root: PathBuf,
    incoming: PathBuf,
}

impl LocalStore {
    /// The store of clinic `slug`: `<documents>/<slug>/`, uploads in progress in `incoming`.
    pub fn new(documents: &Path, incoming: &Path, slug: &str) -> Self {
        Self {
            root: documents.join(slug),
            incoming: incoming.to_owned(),
        }
    }

    /// `<root>/<first two characters>/<key>`: no directory grows past a few thousand files.
    fn path(&self, key: &str) -> io::Result<PathBuf> {
        let ok = !key.is_empty()
            && key.len() <= 80
            && key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
            && !key.starts_with('.');
        if !ok {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a document key",
            ));
        }
        Ok(self.root.join(&key[..2]).join(key))
    }
}

fn private_dir(dir: &Path) -> io::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[async_trait]
impl Store for LocalStore {
    async fn put(&self, key: &str, mut file: Incoming) -> io::Result<()> {
        let to = self.path(key)?;
        let dir = to.parent().map(Path::to_owned).unwrap_or_default();
        tokio::task::spawn_blocking(move || -> io::Result<()> {
            private_dir(&dir)?;
            std::fs::rename(&file.path, &to)?;
            file.keep();
            // The rename is durable only once the directory is.
            std::fs::File::open(&dir)?.sync_all()
        })
        .await
        .map_err(io::Error::other)?
    }

    async fn put_bytes(&self, key: &str, bytes: &[u8]) -> io::Result<()> {
        let to = self.path(key)?;
        let bytes = bytes.to_vec();
        tokio::task::spawn_blocking(move || -> io::Result<()> {
            let dir = to.parent().map(Path::to_owned).unwrap_or_default();
            private_dir(&dir)?;
            let tmp = to.with_extension("part");
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&tmp)?;
            std::io::Write::write_all(&mut f, &bytes)?;
            f.sync_all()?;
            std::fs::rename(&tmp, &to)
        })
        .await
        .map_err(io::Error::other)?
    }

    async fn get(&self, key: &str) -> io::Result<Vec<u8>> {
        tokio::fs::read(self.path(key)?).await
    }

    async fn remove(&self, key: &str) -> io::Result<()> {
        match tokio::fs::remove_file(self.path(key)?).await {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            r => r,
        }
    }

    fn incoming_dir(&self) -> &Path {
        &self.incoming
    }
}

/// Why an upload was not taken.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("the file is larger than the limit")]
    TooLarge,
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// An upload being received: counted, hashed, its first bytes kept for sniffing. Removed on
/// drop unless a store took it.
#[derive(Debug)]
pub struct Incoming {
    path: PathBuf,
    file: Option<tokio::fs::File>,
    size: u64,
    limit: u64,
    hasher: Sha256,
    head: Vec<u8>,
    kept: bool,
}

/// How many leading bytes are kept to tell the type.
const HEAD: usize = 16;

impl Incoming {
    /// A new empty upload in `dir` that refuses to grow past `limit` bytes.
    pub async fn create(dir: &Path, limit: u64) -> io::Result<Self> {
        let d = dir.to_owned();
        tokio::task::spawn_blocking(move || private_dir(&d))
            .await
            .map_err(io::Error::other)??;
        let path = dir.join(format!("{}.upload", uuid::Uuid::new_v4()));
        let file = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .await?;
        Ok(Self {
            path,
            file: Some(file),
            size: 0,
            limit,
            hasher: Sha256::new(),
            head: Vec::with_capacity(HEAD),
            kept: false,
        })
    }

    pub async fn write(&mut self, chunk: &[u8]) -> Result<(), WriteError> {
        self.size += chunk.len() as u64;
        if self.size > self.limit {
            // Nothing more is written; the file goes when this is dropped.
            self.file = None;
            return Err(WriteError::TooLarge);
        }
        let room = HEAD.saturating_sub(self.head.len());
        self.head.extend_from_slice(&chunk[..room.min(chunk.len())]);
        self.hasher.update(chunk);
        match self.file.as_mut() {
            Some(f) => Ok(f.write_all(chunk).await?),
            None => Err(WriteError::Io(io::Error::other("upload already closed"))),
        }
    }

    /// Flushes the file to disk; returns its SHA-256 (hex).
    pub async fn finish(&mut self) -> io::Result<String> {
        if let Some(mut f) = self.file.take() {
            f.flush().await?;
            f.sync_all().await?;
        }
        Ok(hex::encode(self.hasher.clone().finalize()))
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    pub fn head(&self) -> &[u8] {
        &self.head
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The store has taken the file: dropping no longer removes it.
    fn keep(&mut self) {
        self.kept = true;
        self.file = None;
    }
}

impl Drop for Incoming {
    fn drop(&mut self) {
        if !self.kept {
            self.file = None;
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_refused_upload_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let incoming = dir.path().join("incoming");
        let mut f = Incoming::create(&incoming, 10).await.unwrap();
        f.write(b"%PDF-1.7\n").await.unwrap();
        assert!(matches!(
            f.write(b"more than ten").await,
            Err(WriteError::TooLarge)
        ));
        drop(f);
        assert_eq!(std::fs::read_dir(&incoming).unwrap().count(), 0);
    }

    #[tokio::test]
    async fn a_kept_upload_moves_into_the_clinic_directory() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(
            &dir.path().join("documents"),
            &dir.path().join("in"),
            "alpha",
        );
        let mut f = Incoming::create(store.incoming_dir(), 100).await.unwrap();
        f.write(b"\x89PNG\r\n\x1a\nrest").await.unwrap();
        let sum = f.finish().await.unwrap();
        assert_eq!(sum.len(), 64);
        assert_eq!(f.head(), b"\x89PNG\r\n\x1a\nrest");
        let key = "0b1c2d3e-0000-4000-8000-000000000000";
        store.put(key, f).await.unwrap();
        assert_eq!(store.get(key).await.unwrap(), b"\x89PNG\r\n\x1a\nrest");
        assert!(dir.path().join("documents/alpha/0b").join(key).exists());
        assert_eq!(std::fs::read_dir(dir.path().join("in")).unwrap().count(), 0);
        assert!(store.get("../../etc/passwd").await.is_err());
        store.remove(key).await.unwrap();
        store.remove(key).await.unwrap();
    }
}
