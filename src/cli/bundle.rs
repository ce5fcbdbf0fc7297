//! `kuayu bundle …`: export a request's proof bundle from a gateway's database, and
//! verify a bundle offline with nothing but the file and the parties' root keys.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;

use crate::agreement::PartyRoots;
use crate::clock::{Clock, SystemClock};
use crate::config::GatewayConfig;
use crate::crypto::PublicKey;
use crate::ids::{MessageId, RegionId};
use crate::store::Store;
use crate::store::sql::{Location, SqlStore};

/// The bundle subcommands.
#[derive(Debug, Subcommand)]
pub enum BundleCommand {
    /// Write a request's proof bundle, read from a gateway's database (opened read-only;
    /// the gateway may keep running) and signed with its message key.
    Export {
        /// The request id.
        request: MessageId,
        /// The gateway's configuration: its database, region and signing key.
        #[arg(long, short)]
        config: PathBuf,
        /// Where to write the bundle (default: standard output).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Check a bundle offline: agreement signatures and hash, every envelope seal, every
    /// receipt, the order, the attachment digests, the audit entries and the exporter's
    /// signature. Names each mismatch; exits non-zero if there is one.
    Verify {
        /// The bundle file.
        file: PathBuf,
        /// Party root keys (repeatable): `SC=<base64>`, `SC=<file holding it>`, several
        /// comma-separated, or a folder with `<REGION>/root-key.pub` (a dev PKI).
        #[arg(long = "roots", alias = "root", required = true)]
        roots: Vec<String>,
    },
}

/// Runs a bundle subcommand.
pub fn run(command: BundleCommand) -> anyhow::Result<ExitCode> {
    match command {
        BundleCommand::Export {
            request,
            config,
            out,
        } => {
            let config = GatewayConfig::load(&config)?;
            let key = crate::gateway::signing_key(&config).map_err(|e| anyhow::anyhow!(e.0))?;
            let json = super::agreement::runtime()?.block_on(async {
                let store = match &config.database {
                    Location::Postgres(url) => SqlStore::open_postgres_read_only(url).await?,
                    Location::Sqlite(path) => SqlStore::open_read_only(path).await?,
                };
                let bundle = async {
                    let view = store.request_view(&request).await?.ok_or_else(|| {
                        anyhow::anyhow!("the {} gateway has no request {request}", config.region)
                    })?;
                    let json = crate::bundle::export(
                        &store,
                        &view,
                        &config.region,
                        &key,
                        SystemClock.now(),
                    )
                    .await?;
                    anyhow::Ok(json)
                }
                .await;
                store.close().await;
                bundle
            })?;
            let mut text = serde_json::to_string_pretty(&json)?;
            text.push('\n');
            match out {
                Some(path) => {
                    std::fs::write(&path, text)
                        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
                    eprintln!("bundle of request {request} written to {}", path.display());
                }
                None => print!("{text}"),
            }
            Ok(ExitCode::SUCCESS)
        }
        BundleCommand::Verify { file, roots } => {
            let bytes = std::fs::read(&file)
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
            let roots = party_roots(&roots)?;
            let report = crate::bundle::verify::verify(&bytes, &roots);
            println!("{}:\n{report}", file.display());
            Ok(if report.ok() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
    }
}

/// Root keys from `--roots` arguments.
fn party_roots(args: &[String]) -> anyhow::Result<PartyRoots> {
    let mut roots = PartyRoots::new();
    for arg in args {
        let dir = Path::new(arg);
        if dir.is_dir() {
            for entry in std::fs::read_dir(dir)? {
                let path = entry?.path().join("root-key.pub");
                let Some(region) = path
                    .parent()
                    .and_then(Path::file_name)
                    .and_then(|n| RegionId::parse(&n.to_string_lossy()).ok())
                else {
                    continue;
                };
                if path.is_file() {
                    roots.insert(region, PublicKey::parse(&std::fs::read_to_string(&path)?)?);
                }
            }
            continue;
        }
        for one in arg.split(',').filter(|s| !s.is_empty()) {
            let (region, value) = one.split_once('=').ok_or_else(|| {
                anyhow::anyhow!("--roots takes REGION=KEY (or a dev PKI folder), got {one:?}")
            })?;
            let text = if Path::new(value).is_file() {
                std::fs::read_to_string(value)?
            } else {
                value.to_owned()
            };
            roots.insert(
                RegionId::parse(region)?,
                PublicKey::parse(text.trim())
                    .map_err(|e| anyhow::anyhow!("--roots {region}: {e}"))?,
            );
        }
    }
    if roots.is_empty() {
        anyhow::bail!("no root key found in --roots {args:?}");
    }
    Ok(roots)
}
