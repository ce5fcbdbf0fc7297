//! Fixture checks: every schema's documents that must pass, and those that must fail
//! for the reason they name. `kuayu schemas check` runs these.
//!
//! Layout: `<id>/v<version>/valid/*.json` are plain documents;
//! `<id>/v<version>/invalid/*.json` are `{"rule", "error": {"instancePath", "keyword"}, "document"}`.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use super::{CompiledSchema, Library, SchemaError, list_dir};
use crate::envelope::SchemaRef;

/// The fewest must-pass documents a schema needs.
pub const MIN_VALID: usize = 5;
/// The fewest must-fail documents a schema needs.
pub const MIN_INVALID: usize = 10;

/// A must-fail fixture: the document and the rule it breaks.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InvalidFixture {
    /// The rule the document breaks, in words.
    pub rule: String,
    /// Where and how the validator must report it.
    pub error: ExpectedError,
    /// The document.
    pub document: Value,
}

/// The error a must-fail fixture expects.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ExpectedError {
    /// JSON pointer of the failing value.
    pub instance_path: String,
    /// The failing keyword.
    pub keyword: String,
}

/// One fixture that did not behave as it says.
#[derive(Debug, Clone)]
pub struct Surprise {
    /// The fixture file (or the schema's folder).
    pub path: PathBuf,
    /// What happened instead.
    pub what: String,
}

/// The outcome for one schema.
#[derive(Debug)]
pub struct SchemaReport {
    /// Which schema.
    pub schema: SchemaRef,
    /// Must-pass documents checked.
    pub valid: usize,
    /// Must-fail documents checked.
    pub invalid: usize,
    /// Everything that went against expectation.
    pub surprises: Vec<Surprise>,
}

/// The outcome for a whole schemas folder.
#[derive(Debug, Default)]
pub struct Report {
    /// One entry per schema.
    pub schemas: Vec<SchemaReport>,
}

impl Report {
    /// Whether every fixture behaved as it says.
    pub fn passed(&self) -> bool {
        self.schemas.iter().all(|s| s.surprises.is_empty())
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{:<26} {:>5} {:>7}  result", "schema", "pass", "fail")?;
        for s in &self.schemas {
            let verdict = if s.surprises.is_empty() {
                "ok".to_owned()
            } else {
                format!("{} SURPRISES", s.surprises.len())
            };
            writeln!(
                f,
                "{:<26} {:>5} {:>7}  {verdict}",
                s.schema.to_string(),
                s.valid,
                s.invalid
            )?;
            for x in &s.surprises {
                writeln!(f, "  ✗ {}: {}", x.path.display(), x.what)?;
            }
        }
        let total: usize = self.schemas.iter().map(|s| s.valid + s.invalid).sum();
        let surprises: usize = self.schemas.iter().map(|s| s.surprises.len()).sum();
        write!(
            f,
            "{} schemas, {total} fixtures, {surprises} surprises",
            self.schemas.len()
        )
    }
}

/// Checks every schema under `dir` against its fixtures. A schema may refer to the
/// others of the same folder (`$ref` to `urn:kuayu:schema:<id>:v<N>`).
pub fn check_dir(dir: &Path) -> Result<Report, SchemaError> {
    let mut report = Report::default();
    let listed = list_dir(dir)?;
    let mut library = Library::default();
    let mut unreadable = Vec::new();
    for (schema, file) in &listed {
        let added = std::fs::read(file)
            .map_err(|e| SchemaError {
                schema: schema.to_string(),
                why: e.to_string(),
            })
            .and_then(|bytes| library.add(schema, &bytes));
        if let Err(e) = added {
            unreadable.push((schema.clone(), e));
        }
    }
    for (schema, file) in listed {
        let folder = file.parent().map(Path::to_path_buf).unwrap_or_default();
        let compiled = match unreadable.iter().find(|(s, _)| s == &schema) {
            Some((_, e)) => Err(SchemaError {
                schema: e.schema.clone(),
                why: e.why.clone(),
            }),
            None => library.compile(&schema),
        };
        report
            .schemas
            .push(check_schema(schema, compiled, &file, &folder));
    }
    if report.schemas.is_empty() {
        return Err(SchemaError {
            schema: dir.display().to_string(),
            why: "no schemas found".into(),
        });
    }
    Ok(report)
}

fn check_schema(
    schema: SchemaRef,
    compiled: Result<CompiledSchema, SchemaError>,
    file: &Path,
    folder: &Path,
) -> SchemaReport {
    let mut report = SchemaReport {
        schema,
        valid: 0,
        invalid: 0,
        surprises: Vec::new(),
    };
    let surprise = |path: &Path, what: String| Surprise {
        path: path.to_path_buf(),
        what,
    };
    let compiled = match compiled {
        Ok(c) => c,
        Err(e) => {
            report.surprises.push(surprise(file, e.to_string()));
            return report;
        }
    };
    for path in json_files(&folder.join("valid")) {
        report.valid += 1;
        let outcome = read_json(&path).and_then(|doc| match compiled.validate(&doc) {
            Ok(()) => Ok(()),
            Err(v) => Err(format!("must pass but fails: {}", describe(&v))),
        });
        if let Err(what) = outcome {
            report.surprises.push(surprise(&path, what));
        }
    }
    for path in json_files(&folder.join("invalid")) {
        report.invalid += 1;
        if let Err(what) = check_invalid(&compiled, &path) {
            report.surprises.push(surprise(&path, what));
        }
    }
    if report.valid < MIN_VALID {
        report.surprises.push(surprise(
            folder,
            format!(
                "{} must-pass fixtures; at least {MIN_VALID} are needed",
                report.valid
            ),
        ));
    }
    if report.invalid < MIN_INVALID {
        report.surprises.push(surprise(
            folder,
            format!(
                "{} must-fail fixtures; at least {MIN_INVALID} are needed",
                report.invalid
            ),
        ));
    }
    report
}

fn check_invalid(compiled: &CompiledSchema, path: &Path) -> Result<(), String> {
    let fixture: InvalidFixture = serde_json::from_value(read_json(path)?)
        .map_err(|e| format!("not a must-fail fixture ({{rule, error, document}}): {e}"))?;
    if fixture.rule.trim().is_empty() {
        return Err("names no rule".into());
    }
    let want = &fixture.error;
    match compiled.validate(&fixture.document) {
        Ok(()) => Err(format!("must fail ({}) but passes", fixture.rule)),
        Err(v)
            if v.iter()
                .any(|x| x.pointer == want.instance_path && x.keyword == want.keyword) =>
        {
            Ok(())
        }
        Err(v) => Err(format!(
            "must fail with {} at {:?} ({}), but fails with: {}",
            want.keyword,
            want.instance_path,
            fixture.rule,
            describe(&v)
        )),
    }
}

fn describe(violations: &[super::Violation]) -> String {
    violations
        .iter()
        .map(|v| format!("{} at {:?}", v.keyword, v.pointer))
        .collect::<Vec<_>>()
        .join("; ")
}

fn read_json(path: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read: {e}"))?;
    serde_json::from_str(&text).map_err(|e| format!("not JSON: {e}"))
}

/// The `.json` files in `dir`, sorted; none if it does not exist.
pub fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "json"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}
