//! `kuayu backup` and `kuayu audit verify`: operations on a gateway's store from outside
//! the running gateway ([`crate::ops`]).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;

use crate::config::GatewayConfig;
use crate::store::sql::{Location, SqlStore};

#[derive(Debug, Subcommand)]
pub(super) enum AuditCommand {
    /// Check a store offline: the audit chain from its first entry to its last, and every
    /// receipt against its envelope and its issuer's key. Exits 0 only if all holds.
    Verify {
        /// The gateway configuration whose database to check.
        #[arg(
            long,
            conflicts_with = "database",
            required_unless_present = "database"
        )]
        config: Option<PathBuf>,
        /// Or the database itself: a SQLite file (a restored backup's `kuayu.db`) or a
        /// PostgreSQL URL.
        #[arg(long)]
        database: Option<String>,
    },
}

/// `kuayu backup --config FILE --to FILE`.
pub(super) async fn backup(config: &Path, to: &Path) -> anyhow::Result<ExitCode> {
    let config = GatewayConfig::load(config)?;
    let manifest = crate::ops::backup::backup(&config, to)
        .await
        .map_err(|e| anyhow::anyhow!(e))?;
    println!(
        "backup of {} written to {}: {} attachment(s), {} bytes; audit chain head {}",
        manifest.region,
        to.display(),
        manifest.blobs,
        manifest.blob_bytes,
        manifest
            .audit_head
            .as_ref()
            .map_or("(empty)".to_owned(), |(seq, hash)| format!("#{seq} {hash}"))
    );
    Ok(ExitCode::SUCCESS)
}

/// `kuayu audit …`.
pub(super) async fn audit(command: AuditCommand) -> anyhow::Result<ExitCode> {
    match command {
        AuditCommand::Verify { config, database } => {
            let location = match (config, database) {
                (Some(config), _) => GatewayConfig::load(&config)?.database,
                (None, Some(database)) => Location::from(database),
                (None, None) => anyhow::bail!("give --config or --database"),
            };
            let store = match &location {
                Location::Sqlite(path) => SqlStore::open_read_only(path).await?,
                Location::Postgres(url) => SqlStore::open_postgres_read_only(url).await?,
            };
            let verified = crate::ops::verify::verify(&store).await;
            store.close().await;
            let verified = verified?;
            print!("{verified}");
            Ok(if verified.ok() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
    }
}
