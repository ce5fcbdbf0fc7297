//! Interoperability schemas: compiled once, looked up by id and version, pinned by hash.
//!
//! The schemas under `schemas/` are embedded in the binary at build time. An
//! agreement pins each schema by the SHA-256 of its file's exact bytes; a gateway
//! activates an agreement only if its own copy has those bytes.
//!
//! - [`fixtures`]: runs every schema's must-pass and must-fail documents.

pub mod fixtures;

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::envelope::SchemaRef;
use crate::ids::Sha256;

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/embedded_schemas.rs"));
}

/// One failing rule of a document, for `schema_violation` problems.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Violation {
    /// JSON pointer of the failing value in the document (`""` is the whole document).
    pub pointer: String,
    /// The schema keyword that failed, e.g. `required`, `pattern`.
    pub keyword: String,
    /// What is wrong, in words.
    pub message: String,
}

/// A schema that could not be used.
#[derive(Debug, thiserror::Error)]
#[error("schema {schema}: {why}")]
pub struct SchemaError {
    /// Which schema.
    pub schema: String,
    /// What is wrong with it.
    pub why: String,
}

/// A compiled schema and the hash of its source bytes.
pub struct CompiledSchema {
    /// Which schema.
    pub schema: SchemaRef,
    /// SHA-256 of the schema file's bytes: what agreements pin.
    pub sha256: Sha256,
    validator: jsonschema::Validator,
}

impl CompiledSchema {
    /// Compiles a JSON Schema 2020-12 document (formats are checked, no remote `$ref`).
    pub fn compile(schema: SchemaRef, bytes: &[u8]) -> Result<Self, SchemaError> {
        let err = |why: String| SchemaError {
            schema: schema.to_string(),
            why,
        };
        let doc: Value =
            serde_json::from_slice(bytes).map_err(|e| err(format!("not JSON: {e}")))?;
        jsonschema::meta::validate(&doc)
            .map_err(|e| err(format!("not a valid JSON Schema: {e}")))?;
        let validator = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .should_validate_formats(true)
            .build(&doc)
            .map_err(|e| err(e.to_string()))?;
        Ok(CompiledSchema {
            sha256: Sha256::digest(bytes),
            schema,
            validator,
        })
    }

    /// Checks `doc`; on failure, every violated rule with its pointer.
    pub fn validate(&self, doc: &Value) -> Result<(), Vec<Violation>> {
        let violations: Vec<Violation> = self
            .validator
            .iter_errors(doc)
            .map(|e| Violation {
                pointer: e.instance_path().as_str().to_owned(),
                keyword: e.kind().keyword().to_owned(),
                message: e.to_string(),
            })
            .collect();
        if violations.is_empty() {
            Ok(())
        } else {
            Err(violations)
        }
    }
}

/// All schemas a gateway knows, by id and version.
#[derive(Default)]
pub struct SchemaCatalog {
    schemas: BTreeMap<(String, u32), CompiledSchema>,
}

impl SchemaCatalog {
    /// The schemas embedded in this binary.
    pub fn embedded() -> Result<Self, SchemaError> {
        let mut catalog = SchemaCatalog::default();
        for (id, version, bytes) in embedded::EMBEDDED {
            catalog.add(CompiledSchema::compile(
                SchemaRef {
                    id: (*id).to_owned(),
                    version: *version,
                },
                bytes,
            )?);
        }
        Ok(catalog)
    }

    /// The schemas in a folder laid out as `schemas/` is (`<id>/v<version>/schema.json`).
    pub fn from_dir(dir: &Path) -> Result<Self, SchemaError> {
        let mut catalog = SchemaCatalog::default();
        for (schema, path) in list_dir(dir)? {
            let bytes = std::fs::read(&path).map_err(|e| SchemaError {
                schema: schema.to_string(),
                why: format!("{}: {e}", path.display()),
            })?;
            catalog.add(CompiledSchema::compile(schema, &bytes)?);
        }
        Ok(catalog)
    }

    /// Adds (or replaces) a compiled schema.
    pub fn add(&mut self, schema: CompiledSchema) {
        self.schemas
            .insert((schema.schema.id.clone(), schema.schema.version), schema);
    }

    /// The schema with this id and version.
    pub fn get(&self, schema: &SchemaRef) -> Option<&CompiledSchema> {
        self.schemas.get(&(schema.id.clone(), schema.version))
    }

    /// Every schema, in id and version order.
    pub fn iter(&self) -> impl Iterator<Item = &CompiledSchema> {
        self.schemas.values()
    }
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
    embedded::FIXTURES
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
