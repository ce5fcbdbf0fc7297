//! Interoperability schemas: compiled once, looked up by id and version, pinned by hash.
//!
//! The schemas under `schemas/` are embedded in the binary at build time. An
//! agreement pins each schema by the SHA-256 of its file's exact bytes; a gateway
//! activates an agreement only if its own copy has those bytes.
//!
//! - [`fixtures`]: runs every schema's must-pass and must-fail documents.
//! - `sources`: the fixtures embedded in the binary, and schema folders on disk.

pub mod fixtures;
mod sources;

pub use sources::{EmbeddedFixture, embedded_fixtures, library_of_dir, list_dir};

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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
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

/// The `$id` prefix of kuayu's schemas: `urn:kuayu:schema:<id>:v<version>`.
pub const URN_PREFIX: &str = "urn:kuayu:schema:";

/// The `$id` a schema is known by, e.g. `urn:kuayu:schema:common:v1`.
pub fn urn(schema: &SchemaRef) -> String {
    format!("{URN_PREFIX}{}:v{}", schema.id, schema.version)
}

/// The schema a `$ref` such as `urn:kuayu:schema:common:v1#/$defs/caseNumber` points into.
fn schema_of_ref(reference: &str) -> Option<SchemaRef> {
    let rest = reference.strip_prefix(URN_PREFIX)?;
    let base = rest.split('#').next()?;
    let (id, version) = base.rsplit_once(":v")?;
    Some(SchemaRef {
        id: id.to_owned(),
        version: version.parse().ok()?,
    })
}

/// Every other schema `doc` refers to by `$ref`, sorted, each once.
fn references(doc: &Value, own: &SchemaRef) -> Vec<SchemaRef> {
    fn walk(v: &Value, out: &mut Vec<SchemaRef>) {
        match v {
            Value::Object(map) => {
                for (k, v) in map {
                    match (k.as_str(), v) {
                        ("$ref", Value::String(r)) => out.extend(schema_of_ref(r)),
                        _ => walk(v, out),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(doc, &mut out);
    out.retain(|r| r != own);
    out.sort_by(|a, b| (&a.id, a.version).cmp(&(&b.id, b.version)));
    out.dedup();
    out
}

/// Schema documents by id and version, parsed but not compiled: what a schema's `$ref`
/// to another schema (`urn:kuayu:schema:common:v1#/$defs/caseNumber`) resolves against.
/// Nothing is ever fetched: a reference to a schema not here is an error.
#[derive(Default)]
pub struct Library {
    docs: BTreeMap<(String, u32), (Vec<u8>, Value)>,
}

impl Library {
    /// Adds a schema file's bytes (they must be JSON).
    pub fn add(&mut self, schema: &SchemaRef, bytes: &[u8]) -> Result<(), SchemaError> {
        let doc: Value = serde_json::from_slice(bytes).map_err(|e| SchemaError {
            schema: schema.to_string(),
            why: format!("not JSON: {e}"),
        })?;
        self.docs
            .insert((schema.id.clone(), schema.version), (bytes.to_vec(), doc));
        Ok(())
    }

    /// Compiles every schema of the library.
    pub fn compile_all(&self) -> Result<SchemaCatalog, SchemaError> {
        let mut catalog = SchemaCatalog::default();
        for (id, version) in self.docs.keys() {
            catalog.add(self.compile(&SchemaRef {
                id: id.clone(),
                version: *version,
            })?);
        }
        Ok(catalog)
    }

    /// Compiles one schema of the library, its references resolved inside the library.
    pub fn compile(&self, schema: &SchemaRef) -> Result<CompiledSchema, SchemaError> {
        let err = |why: String| SchemaError {
            schema: schema.to_string(),
            why,
        };
        let (bytes, doc) = self
            .docs
            .get(&(schema.id.clone(), schema.version))
            .ok_or_else(|| err("no such schema".into()))?;
        let refs = references(doc, schema);
        let mut resources = Vec::new();
        for r in &refs {
            let (_, other) = self
                .docs
                .get(&(r.id.clone(), r.version))
                .ok_or_else(|| err(format!("refers to schema {r}, which is not here")))?;
            resources.push((urn(r), other));
        }
        CompiledSchema::build(schema.clone(), bytes, doc, refs, &resources)
    }
}

/// A compiled schema and the hash of its source bytes.
pub struct CompiledSchema {
    /// Which schema.
    pub schema: SchemaRef,
    /// SHA-256 of the schema file's bytes: what agreements pin.
    pub sha256: Sha256,
    /// The other schemas it refers to by `$ref` (an agreement pinning it must pin them too).
    pub refs: Vec<SchemaRef>,
    validator: jsonschema::Validator,
}

impl CompiledSchema {
    /// Compiles a self-contained JSON Schema 2020-12 document (formats are checked, no
    /// `$ref` outside it). Schemas that refer to others compile through a [`Library`].
    pub fn compile(schema: SchemaRef, bytes: &[u8]) -> Result<Self, SchemaError> {
        let mut library = Library::default();
        library.add(&schema, bytes)?;
        library.compile(&schema)
    }

    fn build(
        schema: SchemaRef,
        bytes: &[u8],
        doc: &Value,
        refs: Vec<SchemaRef>,
        resources: &[(String, &Value)],
    ) -> Result<Self, SchemaError> {
        let err = |why: String| SchemaError {
            schema: schema.to_string(),
            why,
        };
        jsonschema::meta::validate(doc)
            .map_err(|e| err(format!("not a valid JSON Schema: {e}")))?;
        let registry = jsonschema::Registry::new()
            .extend(resources.iter().map(|(uri, doc)| (uri.as_str(), *doc)))
            .and_then(|b| b.prepare())
            .map_err(|e| err(format!("its references: {e}")))?;
        let validator = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .should_validate_formats(true)
            .with_registry(&registry)
            .offline()
            .build(doc)
            .map_err(|e| err(e.to_string()))?;
        Ok(CompiledSchema {
            sha256: Sha256::digest(bytes),
            schema,
            refs,
            validator,
        })
    }

    /// Checks `doc`; on failure, every violated rule with its pointer.
    pub fn validate(&self, doc: &Value) -> Result<(), Vec<Violation>> {
        // Most documents are valid: the yes-or-no check stops at nothing and builds no
        // error, which makes it several times cheaper than walking every error.
        if self.validator.is_valid(doc) {
            return Ok(());
        }
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
        let mut library = Library::default();
        for (id, version, bytes) in embedded::EMBEDDED {
            library.add(
                &SchemaRef {
                    id: (*id).to_owned(),
                    version: *version,
                },
                bytes,
            )?;
        }
        library.compile_all()
    }

    /// The schemas in a folder laid out as `schemas/` is (`<id>/v<version>/schema.json`).
    pub fn from_dir(dir: &Path) -> Result<Self, SchemaError> {
        library_of_dir(dir)?.compile_all()
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn schema(id: &str, version: u32) -> SchemaRef {
        SchemaRef {
            id: id.into(),
            version,
        }
    }

    #[test]
    fn a_reference_to_the_shared_definitions_resolves_inside_the_build() {
        let catalog = SchemaCatalog::embedded().unwrap();
        let v3 = catalog.get(&schema("service-request", 3)).unwrap();
        assert_eq!(v3.refs, [schema("common", 1)]);
        let common = catalog.get(&schema("common", 1)).unwrap();
        assert!(common.refs.is_empty());
        for (number, passes) in [
            ("（2026）川0104民初1234号", true),
            ("(2026)川民终88号", true),
            ("（2026）川71刑初3号之二", true),
            ("（2026)川0104民初1234号", false),
            ("（2026）川00民终88号", false),
        ] {
            assert_eq!(
                common.validate(&json!({ "caseNumber": number })).is_ok(),
                passes,
                "{number}"
            );
        }
    }

    #[test]
    fn a_reference_to_a_schema_that_is_not_there_is_an_error_not_a_fetch() {
        let doc = br##"{"$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": "urn:kuayu:schema:lonely:v1",
            "properties": {"n": {"$ref": "urn:kuayu:schema:common:v9#/$defs/caseNumber"}}}"##;
        let err = CompiledSchema::compile(schema("lonely", 1), doc)
            .err()
            .expect("an unknown reference fails");
        assert!(err.why.contains("common@9"), "{err}");
        let remote = br##"{"$schema": "https://json-schema.org/draft/2020-12/schema",
            "properties": {"n": {"$ref": "https://example.com/schema.json"}}}"##;
        assert!(CompiledSchema::compile(schema("remote", 1), remote).is_err());
    }
}
