//! validate: payloads against the schema the agreement pins for their kind and version.

use time::OffsetDateTime;

use crate::agreement::ActiveAgreement;
use crate::envelope::Envelope;
use crate::ids::MessageKind;
use crate::problem::{Code, Problem};
use crate::schema::SchemaCatalog;

/// validate: the envelope names the schema the agreement pins for its kind and version,
/// and the payload satisfies it.
pub fn validate(
    schemas: &SchemaCatalog,
    agreement: &ActiveAgreement,
    e: &Envelope,
    at: OffsetDateTime,
) -> Result<(), Problem> {
    let terms = agreement.terms();
    let expected = terms.schema_for(&e.kind, e.schema.version, at).ok_or_else(|| {
        let accepted: Vec<String> = terms
            .kinds
            .get(&e.kind)
            .map(|r| r.versions.iter().filter(|w| w.admits(at)).map(|w| w.version.to_string()).collect())
            .unwrap_or_default();
        let accepted = if accepted.is_empty() { "none".to_owned() } else { accepted.join(", ") };
        Problem::new(
            Code::SchemaViolation,
            format!(
                "agreement {} v{} does not accept schema version {} for {} (accepted versions: {accepted})",
                terms.id, terms.version, e.schema.version, e.kind
            ),
        )
    })?;
    if expected != e.schema {
        return Err(Problem::new(
            Code::SchemaViolation,
            format!(
                "{} must satisfy schema {expected}, but the envelope names {}",
                e.kind, e.schema
            ),
        ));
    }
    compiled(schemas, &expected)?
        .validate(&e.payload)
        .map_err(|errors| Problem::schema_violation(&expected.to_string(), errors))
}

/// validate, for a payload that travels in no envelope (a print centre's report): against
/// the schema version the agreement currently takes for `kind`.
pub fn validate_payload(
    schemas: &SchemaCatalog,
    agreement: &ActiveAgreement,
    kind: &MessageKind,
    payload: &serde_json::Value,
    at: OffsetDateTime,
) -> Result<(), Problem> {
    let terms = agreement.terms();
    let expected = terms
        .current_version(kind, at)
        .and_then(|v| terms.schema_for(kind, v, at))
        .ok_or_else(|| {
            Problem::new(
                Code::KindNotPermitted,
                format!("agreement {} takes no {kind}", terms.id),
            )
        })?;
    compiled(schemas, &expected)?
        .validate(payload)
        .map_err(|errors| Problem::schema_violation(&expected.to_string(), errors))
}

fn compiled<'s>(
    schemas: &'s SchemaCatalog,
    expected: &crate::envelope::SchemaRef,
) -> Result<&'s crate::schema::CompiledSchema, Problem> {
    schemas.get(expected).ok_or_else(|| {
        Problem::internal(format!(
            "schema {expected} pinned by an active agreement is not compiled"
        ))
    })
}
