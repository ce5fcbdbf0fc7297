//! The blob store: each attachment's bytes in one file named by their SHA-256, under
//! `<database folder>/blobs/<first 2 hex>/<sha256 hex>`, with uploads in progress in
//! `blobs/tmp/` (cleared at start: an upload cut off by a crash was never acknowledged).

use std::io;
use std::path::{Path, PathBuf};

use tokio::fs::File;

use crate::ids::Sha256;

/// The folder of blobs of one gateway.
#[derive(Debug, Clone)]
pub struct BlobStore {
    root: PathBuf,
}

impl BlobStore {
    /// The blob store beside the database file `database` (`<its folder>/blobs`), created
    /// if missing; leftover temporary files of interrupted uploads are removed.
    pub fn beside(database: &Path) -> io::Result<Self> {
        let folder = database
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        Self::open(folder.join("blobs"))
    }

    /// The blob store at `root`, created if missing, its temporary folder emptied.
    pub fn open(root: PathBuf) -> io::Result<Self> {
        let store = BlobStore { root };
        std::fs::create_dir_all(store.tmp_dir())?;
        for entry in std::fs::read_dir(store.tmp_dir())? {
            let path = entry?.path();
            if path.is_file() {
                std::fs::remove_file(&path)?;
            }
        }
        Ok(store)
    }

    /// The blob store at `root` as it is, nothing created or cleared: for a tool working
    /// beside a running gateway (whose uploads in progress are in `tmp/`).
    pub fn existing(root: PathBuf) -> Self {
        BlobStore { root }
    }

    /// The folder itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where uploads are written until they are verified.
    pub fn tmp_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }

    /// Where the blob named `sha256` lives.
    pub fn path_of(&self, sha256: &Sha256) -> PathBuf {
        let hex = sha256.to_string();
        self.root.join(&hex[..2]).join(hex)
    }

    /// The blob named `sha256`, opened for reading, with its size; `None` if it is not here.
    pub async fn open_blob(&self, sha256: &Sha256) -> io::Result<Option<(File, u64)>> {
        match File::open(self.path_of(sha256)).await {
            Ok(file) => {
                let bytes = file.metadata().await?.len();
                Ok(Some((file, bytes)))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Whether the file of blob `sha256` is present.
    pub async fn has(&self, sha256: &Sha256) -> io::Result<bool> {
        tokio::fs::try_exists(self.path_of(sha256)).await
    }
}

/// Makes a folder's entries durable (a renamed or created file survives power loss).
pub(super) async fn sync_dir(dir: &Path) -> io::Result<()> {
    let dir = dir.to_path_buf();
    tokio::task::spawn_blocking(move || std::fs::File::open(dir)?.sync_all())
        .await
        .map_err(io::Error::other)?
}
