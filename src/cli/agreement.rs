//! `kuayu agreement …`: offline work on agreement files (pin, sign, verify, show) and
//! online work against a running gateway's admin API (load, list, show, revoke, simulate).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand};

use crate::admin::client::AdminClient;
use crate::admin::simulate;
use crate::agreement::{self, Agreement, PartyRoots, admin};
use crate::clock::{Clock, SystemClock};
use crate::crypto::{PublicKey, SigningKey};
use crate::ids::RegionId;
use crate::schema::SchemaCatalog;
use crate::store::sql::SqlStore;
use crate::tls::Identity;

/// The agreement subcommands.
#[derive(Debug, Subcommand)]
pub enum AgreementCommand {
    /// Pin every schema the agreement uses to this build's copy (drops signatures if anything changed).
    Pin {
        /// The agreement file (rewritten in place unless --out is given).
        file: PathBuf,
        /// Where to write the result.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Add a party's signature, made with its root key.
    Sign {
        /// The agreement file (rewritten in place unless --out is given).
        file: PathBuf,
        /// The signing party.
        #[arg(long)]
        region: RegionId,
        /// The party's root private key (PKCS#8 PEM).
        #[arg(long)]
        key: PathBuf,
        /// Where to write the result.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Check signatures against root keys, the validity window and the terms (offline).
    Verify {
        /// The agreement file.
        file: PathBuf,
        /// A party root key: `SC=<base64>` or `SC=<file holding it>` (repeatable).
        #[arg(long = "root")]
        roots: Vec<String>,
        /// Take every party's root key from a dev PKI folder (`<dir>/<region>/root-key.pub`).
        #[arg(long)]
        pki: Option<PathBuf>,
        /// Check the terms as this region's gateway would (default: the first party).
        #[arg(long)]
        region: Option<RegionId>,
    },
    /// Show an agreement: a FILE offline, or an agreement ID loaded at a gateway (--admin).
    Show {
        /// An agreement file, or the id of an agreement loaded at the gateway.
        target: String,
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// Load a signed (or partly signed) agreement into a running gateway, no restart.
    Load {
        /// The agreement file.
        file: PathBuf,
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// List the agreements a running gateway has loaded, with their status.
    List {
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// Revoke an agreement at a running gateway: traffic stops on both sides, open work is
    /// returned to its courts with the reason.
    Revoke {
        /// The agreement id.
        id: String,
        /// Why; the courts whose work is returned read it.
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// Dry run: replay the last days of stored traffic through a new agreement and report
    /// what it would refuse, by reason.
    Simulate {
        /// The candidate agreement file (signatures not needed).
        file: PathBuf,
        /// A gateway's SQLite file, or its admin API (unix:/…/admin.sock or https://…).
        #[arg(long)]
        against: String,
        /// How many days of traffic.
        #[arg(long, default_value_t = 30)]
        days: u32,
        #[command(flatten)]
        admin: AdminArgs,
    },
}

/// How to reach a gateway's admin API.
#[derive(Debug, Args)]
pub struct AdminArgs {
    /// The admin API: its Unix domain socket (`unix:/run/kuayu/admin.sock`, or just the
    /// path), or its TLS listener (`https://gw:9443`, with --ca, --cert and --key).
    #[arg(
        long,
        env = "KUAYU_ADMIN",
        default_value = "unix:/run/kuayu/admin.sock"
    )]
    pub admin: String,
    /// For https: the CA that issued the gateway's admin certificate.
    #[arg(long)]
    ca: Option<PathBuf>,
    /// For https: your administrator certificate (naming `urn:kuayu:admin:<name>`).
    #[arg(long)]
    cert: Option<PathBuf>,
    /// For https: its private key.
    #[arg(long)]
    key: Option<PathBuf>,
}

impl AdminArgs {
    /// Whether `target` names an admin API (rather than, say, a database file).
    pub fn is_admin_api(target: &str) -> bool {
        target.starts_with("https://") || target.starts_with("unix:") || target.ends_with(".sock")
    }

    /// A client of the admin API at `target`.
    pub fn client(&self, target: &str) -> anyhow::Result<AdminClient> {
        if target.starts_with("https://") {
            let (Some(ca), Some(cert), Some(key)) = (&self.ca, &self.cert, &self.key) else {
                anyhow::bail!("an https admin API needs --ca, --cert and --key");
            };
            return Ok(AdminClient::tls(
                target,
                &std::fs::read_to_string(ca)?,
                &Identity::load(cert, key)?,
            )?);
        }
        if target.starts_with("http://") {
            anyhow::bail!(
                "the admin API is never plain HTTP over TCP: give its socket (unix:/path/admin.sock) \
                 or its TLS address (https://…, with --ca, --cert and --key)"
            );
        }
        let path = target.strip_prefix("unix:").unwrap_or(target);
        Ok(AdminClient::unix(Path::new(path))?)
    }
}

fn read_agreement(file: &Path) -> anyhow::Result<Agreement> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
    Agreement::from_json(&text)
        .map_err(|e| anyhow::anyhow!("{} is not an agreement: {e}", file.display()))
}

fn write_agreement(agreement: &Agreement, file: &Path) -> anyhow::Result<()> {
    let mut text = serde_json::to_string_pretty(agreement)?;
    text.push('\n');
    std::fs::write(file, text).map_err(|e| anyhow::anyhow!("cannot write {}: {e}", file.display()))
}

pub(super) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

/// Runs an agreement subcommand.
pub fn run(command: AgreementCommand) -> anyhow::Result<ExitCode> {
    match command {
        AgreementCommand::Pin { file, out } => {
            let mut a = read_agreement(&file)?;
            let changes = admin::pin(&mut a, &SchemaCatalog::embedded()?)?;
            write_agreement(&a, out.as_deref().unwrap_or(&file))?;
            if changes.is_empty() {
                println!("pins already current; signatures kept");
            } else {
                changes.iter().for_each(|c| println!("pinned {c}"));
                println!("signatures removed: every party must sign again");
            }
        }
        AgreementCommand::Sign {
            file,
            region,
            key,
            out,
        } => {
            let pem = std::fs::read_to_string(&key)
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", key.display()))?;
            let a = agreement::sign(
                read_agreement(&file)?,
                &region,
                &SigningKey::from_pem(&pem)?,
            )?;
            write_agreement(&a, out.as_deref().unwrap_or(&file))?;
            println!("signed by {region}; hash {}", a.terms.digest()?);
        }
        AgreementCommand::Verify {
            file,
            roots,
            pki,
            region,
        } => {
            let a = read_agreement(&file)?;
            let roots = party_roots(&a, &roots, pki.as_deref())?;
            let catalog = SchemaCatalog::embedded()?;
            let (ok, report) =
                admin::verify_report(&a, &roots, &catalog, region.as_ref(), SystemClock.now());
            println!(
                "{} v{} ({}):\n{report}",
                a.terms.id,
                a.terms.version,
                file.display()
            );
            return Ok(if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            });
        }
        AgreementCommand::Show {
            target,
            admin: args,
        } => {
            if Path::new(&target).is_file() {
                print!("{}", admin::summary(&read_agreement(Path::new(&target))?));
            } else {
                let shown = runtime()?.block_on(async {
                    args.client(&args.admin)?
                        .show(&target)
                        .await
                        .map_err(anyhow::Error::from)
                })?;
                println!("{}", serde_json::to_string_pretty(&shown)?);
            }
        }
        AgreementCommand::Load { file, admin: args } => {
            let a = read_agreement(&file)?;
            let s = runtime()?.block_on(async {
                args.client(&args.admin)?
                    .load(&a)
                    .await
                    .map_err(anyhow::Error::from)
            })?;
            println!(
                "{} v{} {} ({}); signed by {:?}, missing {:?}",
                s.id, s.version, s.status, s.sha256, s.signed_by, s.missing_signatures
            );
        }
        AgreementCommand::List { admin: args } => {
            let list = runtime()?.block_on(async {
                args.client(&args.admin)?
                    .list()
                    .await
                    .map_err(anyhow::Error::from)
            })?;
            println!(
                "{:<14} {:>3} {:<19} {:<26} sha256",
                "agreement", "v", "status", "effective from"
            );
            for s in list {
                println!(
                    "{:<14} {:>3} {:<19} {:<26} {}",
                    s.id.as_str(),
                    s.version,
                    s.status,
                    crate::clock::rfc3339(s.effective_from),
                    s.sha256
                );
            }
        }
        AgreementCommand::Revoke {
            id,
            reason,
            admin: args,
        } => {
            let r = runtime()?.block_on(async {
                args.client(&args.admin)?
                    .revoke(&id, &reason)
                    .await
                    .map_err(anyhow::Error::from)
            })?;
            println!(
                "revoked {}; {} open request(s) returned to their courts",
                r.agreement_id, r.returned
            );
            for p in r.peers {
                println!(
                    "  peer {}: {} {}",
                    p.region,
                    if p.told { "told" } else { "NOT reached" },
                    p.detail
                );
            }
        }
        AgreementCommand::Simulate {
            file,
            against,
            days,
            admin: args,
        } => {
            let candidate = read_agreement(&file)?;
            let report = runtime()?.block_on(async {
                if AdminArgs::is_admin_api(&against) {
                    return args
                        .client(&against)?
                        .simulate(&candidate, days)
                        .await
                        .map_err(anyhow::Error::from);
                }
                let store = match crate::store::sql::Location::from(against.clone()) {
                    crate::store::sql::Location::Postgres(url) => {
                        SqlStore::open_postgres_read_only(&url).await?
                    }
                    crate::store::sql::Location::Sqlite(path) => {
                        SqlStore::open_read_only(&path).await?
                    }
                };
                let catalog = SchemaCatalog::embedded()?;
                let report =
                    simulate::against_store(&candidate, &catalog, &store, days, SystemClock.now())
                        .await;
                store.close().await;
                report.map_err(|e| anyhow::anyhow!(e))
            })?;
            print!("{report}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn party_roots(a: &Agreement, args: &[String], pki: Option<&Path>) -> anyhow::Result<PartyRoots> {
    let mut roots = PartyRoots::new();
    if let Some(dir) = pki {
        for p in &a.terms.parties {
            let path = dir.join(p.region.as_str()).join("root-key.pub");
            let text = std::fs::read_to_string(&path)
                .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
            roots.insert(p.region.clone(), PublicKey::parse(&text)?);
        }
    }
    for arg in args {
        let (region, value) = arg
            .split_once('=')
            .ok_or_else(|| anyhow::anyhow!("--root takes REGION=KEY, got {arg:?}"))?;
        let text = if Path::new(value).is_file() {
            std::fs::read_to_string(value)?
        } else {
            value.to_owned()
        };
        roots.insert(RegionId::parse(region)?, PublicKey::parse(&text)?);
    }
    Ok(roots)
}
