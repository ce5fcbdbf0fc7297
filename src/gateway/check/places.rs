//! The places a gateway uses beside its files: the database (opened read-only, never
//! created or migrated here), the attachments folder, the listen addresses (not bound)
//! and the admin socket's folder.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::Path;

use super::{Outcome, Report};
use crate::config::GatewayConfig;
use crate::store::Store as _;
use crate::store::sql::SqlStore;

/// The database: an existing file opened read-only (never created or migrated here); the
/// agreement versions stored in it.
pub(super) async fn database(
    report: &mut Report,
    config: &GatewayConfig,
) -> Vec<crate::store::StoredAgreement> {
    let path = match &config.database {
        crate::store::sql::Location::Sqlite(path) => path,
        crate::store::sql::Location::Postgres(url) => {
            let shown = config.database.display();
            return match SqlStore::open_postgres_read_only(url).await {
                Ok(store) => {
                    let stored = store.stored_agreements().await;
                    store.close().await;
                    report_stored(report, &shown, stored, "connected read-only")
                }
                Err(e) => {
                    report.push(
                        Outcome::Fail,
                        format!("database {shown}: cannot connect: {e}"),
                    );
                    Vec::new()
                }
            };
        }
    };
    let folder = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !path.exists() {
        match writable_folder(folder) {
            Ok(true) => report.push(
                Outcome::Info,
                format!(
                    "database {} does not exist yet: serve will create it",
                    path.display()
                ),
            ),
            Ok(false) => report.push(
                Outcome::Info,
                format!(
                    "database {} does not exist yet: serve will create it and its folder {}",
                    path.display(),
                    folder.display()
                ),
            ),
            Err(e) => report.push(Outcome::Fail, format!("database {}: {e}", path.display())),
        }
        return Vec::new();
    }
    if let Err(e) = writable_file(path) {
        report.push(Outcome::Fail, format!("database {}: {e}", path.display()));
    }
    let store = match SqlStore::open_read_only(path).await {
        Ok(store) => store,
        Err(e) => {
            report.push(
                Outcome::Fail,
                format!("database {}: cannot open it: {e}", path.display()),
            );
            return Vec::new();
        }
    };
    let stored = store.stored_agreements().await;
    store.close().await;
    report_stored(
        report,
        &path.display().to_string(),
        stored,
        "reachable (opened read-only)",
    )
}

/// Reports what reading the stored agreements found.
fn report_stored(
    report: &mut Report,
    shown: &str,
    stored: Result<Vec<crate::store::StoredAgreement>, crate::store::StoreError>,
    how: &str,
) -> Vec<crate::store::StoredAgreement> {
    match stored {
        Ok(stored) => {
            report.push(
                Outcome::Ok,
                format!(
                    "database {shown}: {how}, {} agreement version(s) stored",
                    stored.len()
                ),
            );
            stored
        }
        Err(e) => {
            report.push(
                Outcome::Fail,
                format!("database {shown}: not a kuayu database, or unreadable: {e}"),
            );
            Vec::new()
        }
    }
}

/// The attachment folder (`blobs`, or beside the SQLite file).
pub(super) fn blobs(report: &mut Report, config: &GatewayConfig) {
    let blobs = match config.blobs_folder() {
        Ok(folder) => folder,
        Err(e) => {
            report.push(Outcome::Fail, e);
            return;
        }
    };
    if !blobs.exists() {
        return; // made with the database's folder, which the database line covers
    }
    match writable_folder(&blobs) {
        Ok(_) => report.push(
            Outcome::Ok,
            format!("attachments folder {}: writable", blobs.display()),
        ),
        Err(e) => report.push(
            Outcome::Fail,
            format!("attachments folder {}: {e}", blobs.display()),
        ),
    }
}

/// Whether `folder` exists (true) or would be made (false); an error if it is in the way
/// or this user cannot write in it.
fn writable_folder(folder: &Path) -> Result<bool, String> {
    if !folder.exists() {
        return match folder.parent() {
            Some(parent) if parent.as_os_str().is_empty() => Ok(false),
            Some(parent) => writable_folder(parent).map(|_| false),
            None => Ok(false),
        };
    }
    if !folder.is_dir() {
        return Err(format!("{} is not a folder", folder.display()));
    }
    rustix::fs::access(
        folder,
        rustix::fs::Access::WRITE_OK | rustix::fs::Access::EXEC_OK,
    )
    .map(|()| true)
    .map_err(|e| format!("this user cannot write in {}: {e}", folder.display()))
}

fn writable_file(path: &Path) -> Result<(), String> {
    if !path.is_file() {
        return Err("not a file".into());
    }
    rustix::fs::access(
        path,
        rustix::fs::Access::READ_OK | rustix::fs::Access::WRITE_OK,
    )
    .map_err(|e| format!("this user cannot read and write it: {e}"))
}

/// The addresses `serve` would bind (not bound here) and the admin socket's place.
pub(super) fn listeners(report: &mut Report, config: &GatewayConfig) {
    let mut addresses: Vec<(&str, SocketAddr)> = vec![
        ("federation", config.federation.listen),
        ("court API", config.court_api.listen),
    ];
    if let Some(addr) = config.admin.as_ref().and_then(|a| a.listen) {
        addresses.push(("admin API", addr));
    }
    if let Some(health) = &config.health {
        addresses.push(("health", health.listen));
    }
    let mut seen = BTreeSet::new();
    for (what, addr) in &addresses {
        if !seen.insert(*addr) {
            report.push(
                Outcome::Fail,
                format!(
                    "{what} listens on {addr}, which another listener of this configuration takes"
                ),
            );
        }
    }
    let list: Vec<String> = addresses.iter().map(|(w, a)| format!("{w} {a}")).collect();
    report.push(
        Outcome::Info,
        format!(
            "would listen on {} (not bound by this check)",
            list.join(", ")
        ),
    );
    if let Some(socket) = config.admin.as_ref().and_then(|a| a.socket.as_ref()) {
        use std::os::unix::fs::FileTypeExt as _;
        match std::fs::symlink_metadata(socket) {
            Ok(meta) if !meta.file_type().is_socket() => report.push(
                Outcome::Fail,
                format!(
                    "admin socket {}: a file that is not a socket is in the way",
                    socket.display()
                ),
            ),
            _ => match socket.parent().map(writable_folder) {
                Some(Err(e)) => report.push(
                    Outcome::Fail,
                    format!("admin socket {}: {e}", socket.display()),
                ),
                Some(Ok(false)) => report.push(
                    Outcome::Fail,
                    format!(
                        "admin socket {}: its folder does not exist",
                        socket.display()
                    ),
                ),
                _ => report.push(
                    Outcome::Ok,
                    format!("admin socket {}: its folder is writable", socket.display()),
                ),
            },
        }
    }
}
