//! Where schemas and fixtures come from besides the catalog: the fixtures embedded in
//! this binary at build time, and folders laid out as `schemas/`
//! (`<id>/v<version>/schema.json`).

use std::path::Path;

use serde_json::Value;

use super::{Library, SchemaError};
use crate::envelope::SchemaRef;

/// Reads every schema of a folder laid out as `schemas/` is.
pub fn library_of_dir(dir: &Path) -> Result<Library, SchemaError> {
    let mut library = Library::default();
    for (schema, path) in list_dir(dir)? {
        let bytes = std::fs::read(&path).map_err(|e| SchemaError {
            schema: schema.to_string(),
            why: format!("{}: {e}", path.display()),
        })?;
        library.add(&schema, &bytes)?;
    }
    Ok(library)
}

/// A fixture built into this binary.
#[derive(Debug, Clone, Copy)]
pub struct EmbeddedFixture {
    /// Schema id.
    pub schema: &'static str,
    /// Schema version.
    pub version: u32,
    /// Whether it must pass.
    pub valid: bool,
    /// File name, e.g. `01-in-suit-bank-freeze.json`.
    pub name: &'static str,
    /// The file's text (a document, or for must-fail fixtures the `{rule, error, document}` wrapper).
    pub text: &'static str,
}

impl EmbeddedFixture {
    /// The document to validate: the file itself for must-pass fixtures, its `document`
    /// member for must-fail ones.
    pub fn document(&self) -> Result<Value, serde_json::Error> {
        let v: Value = serde_json::from_str(self.text)?;
        Ok(if self.valid {
            v
        } else {
            v.get("document").cloned().unwrap_or(Value::Null)
        })
    }
}

/// Every fixture built into this binary.
pub fn embedded_fixtures() -> impl Iterator<Item = EmbeddedFixture> {
    super::embedded::FIXTURES
        .iter()
        .map(|(schema, version, expect, name, text)| EmbeddedFixture {
            schema,
            version: *version,
            valid: *expect == "valid",
            name,
            text,
        })
}

/// Lists `<dir>/<id>/v<version>/schema.json`, sorted.
pub fn list_dir(dir: &Path) -> Result<Vec<(SchemaRef, std::path::PathBuf)>, SchemaError> {
    let err = |why: String| SchemaError {
        schema: dir.display().to_string(),
        why,
    };
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)
        .map_err(|e| err(e.to_string()))?
        .flatten()
    {
        if !entry.path().is_dir() {
            continue;
        }
        let id = entry.file_name().to_string_lossy().into_owned();
        for v in std::fs::read_dir(entry.path())
            .map_err(|e| err(e.to_string()))?
            .flatten()
        {
            let name = v.file_name().to_string_lossy().into_owned();
            let Some(Ok(version)) = name.strip_prefix('v').map(str::parse::<u32>) else {
                continue;
            };
            let file = v.path().join("schema.json");
            if file.is_file() {
                out.push((
                    SchemaRef {
                        id: id.clone(),
                        version,
                    },
                    file,
                ));
            }
        }
    }
    out.sort_by(|a, b| (&a.0.id, a.0.version).cmp(&(&b.0.id, b.0.version)));
    Ok(out)
}
