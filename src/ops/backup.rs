//! `kuayu backup`: a consistent copy of a running gateway's SQLite store and its
//! attachments, taken without stopping it, as one tar file:
//!
//! - `MANIFEST.json`: when, which region, what is inside (the audit chain head, the
//!   number and bytes of blobs);
//! - `kuayu.db`: the database as of one read transaction (`VACUUM INTO` through a
//!   read-only connection: the gateway goes on writing meanwhile, and nothing it commits
//!   after that moment is in the copy);
//! - `blobs/<first two hex>/<sha256>`: every attachment that copy lists, each hashed
//!   while it is copied (a blob that does not hash to its name fails the backup).
//!
//! Restore: unpack it into an empty folder and point `database` at `kuayu.db` there (the
//! blobs are then beside it). PostgreSQL is backed up with its own tools.

use std::io::{self, Read};
use std::path::{Path, PathBuf};

use sha2::Digest as _;

use crate::clock::rfc3339;
use crate::config::GatewayConfig;
use crate::ids::Sha256;
use crate::store::sql::SqlStore;

/// What a backup holds.
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    /// The format.
    pub format: &'static str,
    /// The region whose store it is.
    pub region: String,
    /// When the copy was taken (the snapshot's moment is just before).
    pub taken_at: String,
    /// The last audit entry in the copy: sequence number and hash.
    pub audit_head: Option<(i64, String)>,
    /// Attachments copied, and their bytes.
    pub blobs: u64,
    /// Their bytes.
    pub blob_bytes: u64,
}

/// Takes a backup of the gateway `config` describes into the file `to` (written beside
/// it under a temporary name, then renamed: a half-written backup never has the name).
pub async fn backup(config: &GatewayConfig, to: &Path) -> Result<Manifest, String> {
    let db = config.database.sqlite_path().ok_or(
        "this gateway's database is PostgreSQL: back it up with PostgreSQL's own tools (pg_dump, or pg_basebackup with WAL archiving; see the README), and the blobs folder with it",
    )?;
    let blobs_root = config.blobs_folder()?;
    let folder = to
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let work = tempfile_in(folder)?;
    let snapshot = work.join("kuayu.db");
    let live = SqlStore::open_read_only(db)
        .await
        .map_err(|e| format!("database {}: {e}", db.display()))?;
    let taken = live.snapshot_into(&snapshot).await;
    live.close().await;
    taken.map_err(|e| format!("snapshot of {}: {e}", db.display()))?;
    let copy = SqlStore::open_read_only(&snapshot)
        .await
        .map_err(|e| format!("the snapshot: {e}"))?;
    let blobs = copy.attachment_list().await.map_err(|e| e.to_string())?;
    let audit_head = copy.audit_head().await.map_err(|e| e.to_string())?;
    copy.close().await;
    let manifest = Manifest {
        format: "kuayu-backup/1",
        region: config.region.to_string(),
        taken_at: rfc3339(time::OffsetDateTime::now_utc()),
        audit_head,
        blobs: u64::try_from(blobs.len()).unwrap_or_default(),
        blob_bytes: blobs.iter().map(|(_, b)| *b).sum(),
    };
    let partial = folder.join(format!(
        ".{}.partial",
        to.file_name().and_then(|n| n.to_str()).unwrap_or("backup")
    ));
    let written = write_tar(&partial, &manifest, &snapshot, &blobs_root, &blobs);
    let _ = std::fs::remove_dir_all(&work);
    written.map_err(|e| format!("writing {}: {e}", partial.display()))?;
    std::fs::rename(&partial, to).map_err(|e| format!("renaming to {}: {e}", to.display()))?;
    Ok(manifest)
}

/// A fresh folder inside `folder` for the snapshot.
fn tempfile_in(folder: &Path) -> Result<PathBuf, String> {
    let dir = folder.join(format!(".kuayu-backup-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir)
        .map_err(|e| format!("cannot write in {}: {e}", folder.display()))?;
    Ok(dir)
}

fn write_tar(
    to: &Path,
    manifest: &Manifest,
    snapshot: &Path,
    blobs_root: &Path,
    blobs: &[(Sha256, u64)],
) -> io::Result<()> {
    let file = std::fs::File::create(to)?;
    let mut tar = tar::Builder::new(io::BufWriter::new(file));
    let json = serde_json::to_vec_pretty(manifest).map_err(io::Error::other)?;
    append(&mut tar, "MANIFEST.json", json.len() as u64, &json[..])?;
    tar.append_path_with_name(snapshot, "kuayu.db")?;
    for (sha256, bytes) in blobs {
        let hex = sha256.to_string();
        let path = blobs_root.join(&hex[..2]).join(&hex);
        let file = std::fs::File::open(&path)
            .map_err(|e| io::Error::other(format!("attachment {}: {e}", path.display())))?;
        let mut reader = Hashing::new(file);
        append(
            &mut tar,
            &format!("blobs/{}/{hex}", &hex[..2]),
            *bytes,
            &mut reader,
        )?;
        if reader.digest() != *sha256 {
            return Err(io::Error::other(format!(
                "attachment {} does not hash to its name: the blob store is damaged",
                path.display()
            )));
        }
    }
    let out = tar.into_inner()?;
    let file = out.into_inner().map_err(io::IntoInnerError::into_error)?;
    file.sync_all()
}

fn append<W: io::Write>(
    tar: &mut tar::Builder<W>,
    name: &str,
    size: u64,
    data: impl Read,
) -> io::Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_size(size);
    header.set_mode(0o600);
    header.set_cksum();
    tar.append_data(&mut header, name, data)
}

/// A reader that hashes what passes through it.
struct Hashing<R> {
    inner: R,
    hash: sha2::Sha256,
}

impl<R> Hashing<R> {
    fn new(inner: R) -> Self {
        Hashing {
            inner,
            hash: sha2::Sha256::new(),
        }
    }

    fn digest(&self) -> Sha256 {
        Sha256::from_bytes(self.hash.clone().finalize().into())
    }
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hash.update(&buf[..n]);
        Ok(n)
    }
}
