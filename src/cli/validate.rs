//! `kuayu validate`: checks documents against a schema this build carries, named
//! (`--schema ID@VERSION`) or found through an agreement (`--kind`, the newest version the
//! agreement accepts now; the sample agreement unless `--agreement` names one), for
//! developers of court systems.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::agreement::Agreement;
use crate::clock::{Clock, SystemClock};
use crate::envelope::SchemaRef;
use crate::ids::MessageKind;
use crate::schema::SchemaCatalog;

/// Validates each of `files` against the schema given by `schema`, or found for `kind`.
pub(super) fn validate(
    kind: Option<MessageKind>,
    schema: Option<String>,
    agreement: Option<PathBuf>,
    files: &[PathBuf],
) -> anyhow::Result<ExitCode> {
    let catalog = SchemaCatalog::embedded()?;
    let schema = match (kind, schema) {
        (_, Some(s)) => {
            let (id, version) = s.split_once('@').ok_or_else(|| {
                anyhow::anyhow!("--schema takes ID@VERSION, e.g. service-request@1")
            })?;
            SchemaRef {
                id: id.to_owned(),
                version: version.parse()?,
            }
        }
        (Some(kind), None) => {
            let (name, text) = match &agreement {
                Some(path) => (
                    path.display().to_string(),
                    std::fs::read_to_string(path)
                        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?,
                ),
                None => (
                    "the sample agreement".to_owned(),
                    crate::devnet::SAMPLE_AGREEMENT.to_owned(),
                ),
            };
            let document = Agreement::from_json(&text)
                .map_err(|e| anyhow::anyhow!("{name} is not an agreement: {e}"))?;
            let now = SystemClock.now();
            let terms = &document.terms;
            let version = terms
                .current_version(&kind, now)
                .ok_or_else(|| anyhow::anyhow!("{name} accepts no schema for {kind} now"))?;
            let schema = terms
                .schema_for(&kind, version, now)
                .ok_or_else(|| anyhow::anyhow!("no schema for {kind}"))?;
            println!(
                "using {schema}: the newest version {name} ({} v{}) accepts for {kind} on {}",
                terms.id,
                terms.version,
                crate::clock::rfc3339(now).get(..10).unwrap_or_default()
            );
            schema
        }
        (None, None) => anyhow::bail!("give --kind or --schema"),
    };
    let compiled = catalog
        .get(&schema)
        .ok_or_else(|| anyhow::anyhow!("this build has no schema {schema}"))?;
    let mut all_ok = true;
    for file in files {
        let text = std::fs::read_to_string(file)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
        let outcome = serde_json::from_str::<serde_json::Value>(&text)
            .map_err(|e| vec![format!("not JSON: {e}")])
            .and_then(|doc| {
                compiled.validate(&doc).map_err(|v| {
                    v.iter()
                        .map(|v| format!("{} at {:?}: {}", v.keyword, v.pointer, v.message))
                        .collect()
                })
            });
        match outcome {
            Ok(()) => println!("ok    {} satisfies {schema}", file.display()),
            Err(errors) => {
                all_ok = false;
                println!("FAIL  {} does not satisfy {schema}:", file.display());
                errors.iter().for_each(|e| println!("        {e}"));
            }
        }
    }
    Ok(if all_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
