//! The command line: `serve`, `check-config`, `demo`, `pki`, `agreement`, `bundle`,
//! `schemas`, `validate`.
//!
//! Each subcommand parses its arguments and calls into the library.
//!
//! - [`agreement`]: offline and online agreement commands.
//! - [`bundle`]: proof bundles, exported from a gateway's database and verified offline.

pub mod agreement;
pub mod bundle;
mod ops;
mod validate;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};

use crate::agreement::Agreement;
use crate::clock::{Clock, SystemClock};
use crate::config::{GatewayConfig, LogFormat};
use crate::ids::{CourtId, MessageKind, RegionId};
use crate::pki::{self, RegionSpec};
use crate::schema::{SchemaCatalog, fixtures};
use agreement::AgreementCommand;
use bundle::BundleCommand;

/// kuayu (跨域): a federation gateway between provincial court networks.
#[derive(Debug, Parser)]
#[command(name = "kuayu", version, about, long_about = None)]
pub struct Cli {
    /// How log lines are written to standard error: `text`, or `json` (one object a line,
    /// for a log pipeline). For `serve`, the default is the configuration's `log_format`.
    #[arg(long, global = true, value_enum)]
    log_format: Option<LogFormat>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run one gateway for real deployments.
    Serve {
        /// The gateway configuration (TOML).
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Check a gateway configuration as `serve` would before binding (files, key modes,
    /// certificates, revocation lists, agreements, the database), without binding a port
    /// or changing anything; one line per check. Exits 0 only if `serve` would start.
    CheckConfig {
        /// The gateway configuration (TOML).
        file: PathBuf,
    },
    /// Start Sichuan and Chongqing gateways with court systems on loopback, send one
    /// request of each kind, print each journey; exit 0 only if all completed and verified.
    Demo {
        /// Folder for the demo's PKI, configuration and databases (emptied first).
        #[arg(long, default_value = "state/demo")]
        state: PathBuf,
    },
    /// A consistent copy of a running gateway's SQLite store and attachments, as one tar
    /// file, taken without stopping it (restore: unpack into an empty folder and point
    /// `database` at its `kuayu.db`).
    Backup {
        /// The gateway configuration.
        #[arg(long)]
        config: PathBuf,
        /// The backup file to write.
        #[arg(long)]
        to: PathBuf,
    },
    /// Remove the payloads and attachments of finished requests kept longer than their
    /// agreement's `retention.payloadDays`, keeping digests, receipts, history and audit
    /// entries (one audit entry per agreement purged). Safe beside a running gateway.
    Purge(ops::PurgeArgs),
    /// The audit log and receipts of a store.
    Audit {
        #[command(subcommand)]
        command: ops::AuditCommand,
    },
    /// Development PKI.
    Pki {
        #[command(subcommand)]
        command: PkiCommand,
    },
    /// Agreement files: pin schemas, sign, verify, show.
    Agreement {
        #[command(subcommand)]
        command: AgreementCommand,
    },
    /// Proof bundles: export a request's, verify one offline.
    Bundle {
        #[command(subcommand)]
        command: BundleCommand,
    },
    /// The gateway's TLS files.
    Tls {
        #[command(subcommand)]
        command: TlsCommand,
    },
    /// Interoperability schemas and their fixtures.
    Schemas {
        #[command(subcommand)]
        command: SchemasCommand,
    },
    /// Send every fixture of an agreement's schemas to a partner gateway (test mode: never
    /// delivered to a court) and report which it treats as the agreement says.
    Conformance {
        /// The partner's federation API, e.g. https://gw.cq.example:7443.
        #[arg(long)]
        peer: String,
        /// The agreement, as both sides loaded it.
        #[arg(long)]
        agreement: PathBuf,
        /// The region the kit speaks for.
        #[arg(long)]
        region: RegionId,
        /// That region's federation certificate (PEM).
        #[arg(long)]
        cert: PathBuf,
        /// Its private key.
        #[arg(long)]
        key: PathBuf,
        /// That region's gateway message key (PKCS#8 PEM).
        #[arg(long)]
        signing_key: PathBuf,
        /// Sending court (default: the first the agreement lists for the region).
        #[arg(long)]
        from_court: Option<CourtId>,
        /// Receiving court (default: the first the agreement lists for the partner).
        #[arg(long)]
        to_court: Option<CourtId>,
    },
    /// Check documents against the schema of a message kind (the version an agreement
    /// gives a submission of that kind without `schemaVersion` today) or a named schema.
    Validate {
        /// A message kind, e.g. `service.request`: checked against the newest schema
        /// version the agreement (`--agreement`, default the built-in sample) accepts for
        /// that kind now, which is what a gateway checks a submission against when it
        /// names no `schemaVersion`. The version used is printed.
        #[arg(long, conflicts_with = "schema", required_unless_present = "schema")]
        kind: Option<MessageKind>,
        /// A schema and version, e.g. `service-request@1`.
        #[arg(long)]
        schema: Option<String>,
        /// With `--kind`: the agreement file that maps kinds to schema versions (default:
        /// the sample agreement built into this binary, agreements/sc-cq.json).
        #[arg(long, requires = "kind")]
        agreement: Option<PathBuf>,
        /// JSON documents to check.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum TlsCommand {
    /// Make a running gateway read its certificates, keys, CA files and revocation lists
    /// again (as SIGHUP does); the next handshake uses them. Audited with your identity.
    Reload {
        #[command(flatten)]
        admin: agreement::AdminArgs,
    },
}

#[derive(Debug, Subcommand)]
enum PkiCommand {
    /// Make a fresh TEST-ONLY PKI: CAs, gateway and court certificates, root and message keys.
    Dev {
        /// Output folder.
        #[arg(long)]
        out: PathBuf,
        /// Regions and their courts, as `SC=SC01,SC0104` (repeatable); a dev region alone
        /// (`SC`, `CQ`, `GZ`) takes its two dev courts, so `--region SC --region CQ
        /// --region GZ` makes three. Default: Sichuan and Chongqing.
        #[arg(long = "region")]
        regions: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
enum SchemasCommand {
    /// Run every schema's fixtures; exit non-zero on any surprise.
    Check {
        /// The schemas folder.
        #[arg(long, default_value = "schemas")]
        dir: PathBuf,
    },
    /// List the schemas built into this binary with the hashes agreements pin.
    List,
}

/// Parses the command line and runs it.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let quiet = matches!(cli.command, Command::Demo { .. });
    let format = cli.log_format.unwrap_or_else(|| match &cli.command {
        // (A configuration that cannot be read is reported by `serve` itself.)
        Command::Serve { config } => GatewayConfig::load(config)
            .map(|c| c.log_format)
            .unwrap_or_default(),
        _ => LogFormat::Text,
    });
    crate::observe::logs::init(format, if quiet { "warn" } else { "info" });
    match run(cli.command) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Serve { config } => {
            let config = GatewayConfig::load(&config)?;
            runtime()?.block_on(crate::server::run(config, Arc::new(SystemClock)))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Backup { config, to } => runtime()?.block_on(ops::backup(&config, &to)),
        Command::Purge(args) => runtime()?.block_on(ops::purge(args)),
        Command::Audit { command } => runtime()?.block_on(ops::audit(command)),
        Command::CheckConfig { file } => {
            let report =
                runtime()?.block_on(crate::gateway::check::check(&file, Arc::new(SystemClock)));
            println!("{report}");
            Ok(if report.passed() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::Demo { state } => runtime()?.block_on(crate::demo::run(&state)),
        Command::Pki {
            command: PkiCommand::Dev { out, regions },
        } => {
            let specs = if regions.is_empty() {
                default_regions()
            } else {
                parse_regions(&regions)?
            };
            pki::generate(&out, &specs)?;
            println!(
                "TEST-ONLY PKI written to {} for {}",
                out.display(),
                specs
                    .iter()
                    .map(|s| s.region.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Agreement { command } => agreement::run(command),
        Command::Bundle { command } => bundle::run(command),
        Command::Tls {
            command: TlsCommand::Reload { admin },
        } => {
            let client = admin.client(&admin.admin)?;
            let report = runtime()?.block_on(client.reload_tls())?;
            println!("{}", serde_json::to_string_pretty(&report)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Schemas {
            command: SchemasCommand::Check { dir },
        } => {
            let report = fixtures::check_dir(&dir)?;
            println!("{report}");
            Ok(if report.passed() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::Schemas {
            command: SchemasCommand::List,
        } => {
            for s in SchemaCatalog::embedded()?.iter() {
                println!("{:<28} {}", s.schema.to_string(), s.sha256);
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Validate {
            kind,
            schema,
            agreement,
            files,
        } => validate::validate(kind, schema, agreement, &files),
        Command::Conformance {
            peer,
            agreement,
            region,
            cert,
            key,
            signing_key,
            from_court,
            to_court,
        } => {
            let kit = crate::conformance::Kit {
                agreement: Agreement::from_json(&std::fs::read_to_string(&agreement)?)?,
                region,
                identity: crate::tls::Identity::load(&cert, &key)?,
                key: crate::crypto::SigningKey::from_pem(&std::fs::read_to_string(&signing_key)?)?,
                peer_url: peer,
                from: from_court,
                to: to_court,
            };
            let report = runtime()?
                .block_on(crate::conformance::run(&kit, SystemClock.now()))
                .map_err(|e| anyhow::anyhow!(e))?;
            println!("{report}");
            Ok(if report.failures().count() == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
    }
}

/// Sichuan and Chongqing with two courts each.
pub fn default_regions() -> Vec<RegionSpec> {
    ["SC", "CQ"]
        .into_iter()
        .filter_map(crate::devnet::dev_region)
        .collect()
}

fn parse_regions(args: &[String]) -> anyhow::Result<Vec<RegionSpec>> {
    args.iter()
        .map(|a| {
            let Some((region, courts)) = a.split_once('=') else {
                return crate::devnet::dev_region(a).ok_or_else(|| {
                    anyhow::anyhow!(
                        "--region takes REGION=COURT,COURT, or a dev region alone (SC, CQ, GZ); got {a:?}"
                    )
                });
            };
            Ok(RegionSpec {
                region: RegionId::parse(region)?,
                courts: courts
                    .split(',')
                    .filter(|c| !c.is_empty())
                    .map(CourtId::parse)
                    .collect::<Result<_, _>>()?,
            })
        })
        .collect()
}
