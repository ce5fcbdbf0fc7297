//! `kuayu backup`, `kuayu purge` and `kuayu audit verify`: operations on a gateway's store
//! from outside the running gateway ([`crate::ops`]).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand};
use time::OffsetDateTime;

use crate::clock::{Clock, SystemClock};
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

/// `kuayu purge`.
#[derive(Debug, Args)]
pub(super) struct PurgeArgs {
    /// The gateway configuration whose store to purge.
    #[arg(long)]
    config: PathBuf,
    /// List what would go (counts and request ids), change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Count retention back from this time (RFC 3339) instead of now: with --dry-run, what
    /// will have gone by then; without, only a time already past (a purge is never ahead of
    /// the clock).
    #[arg(long, value_parser = parse_time)]
    at: Option<OffsetDateTime>,
}

fn parse_time(s: &str) -> Result<OffsetDateTime, String> {
    OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .map_err(|e| format!("not an RFC 3339 time ({e}), e.g. 2027-01-01T00:00:00+08:00"))
}

/// `kuayu purge --config FILE [--dry-run] [--at TIME]`.
pub(super) async fn purge(args: PurgeArgs) -> anyhow::Result<ExitCode> {
    let now = SystemClock.now();
    let at = args.at.unwrap_or(now);
    if at > now && !args.dry_run {
        anyhow::bail!(
            "--at {} is later than now: a purge is never ahead of the clock (add --dry-run to see what will go by then)",
            crate::clock::rfc3339(at)
        );
    }
    let config = GatewayConfig::load(&args.config)?;
    let blobs = crate::attachments::BlobStore::existing(
        config.blobs_folder().map_err(|e| anyhow::anyhow!(e))?,
    );
    let store = if args.dry_run {
        match &config.database {
            Location::Sqlite(path) => SqlStore::open_read_only(path).await?,
            Location::Postgres(url) => SqlStore::open_postgres_read_only(url).await?,
        }
    } else {
        SqlStore::open_location(&config.database).await?
    };
    let report =
        crate::ops::purge::purge(&store, &blobs, at, args.dry_run, "operator:kuayu-purge").await;
    store.close().await;
    print!("{}", report?);
    Ok(ExitCode::SUCCESS)
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
