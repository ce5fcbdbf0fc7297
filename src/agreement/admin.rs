//! Offline administration of agreement files: pin schemas, sign, verify, summarise.

use std::fmt::Write as _;

use time::OffsetDateTime;

use super::model::{Agreement, SchemaPin};
use super::verify::{AgreementError, PartyRoots, check_signatures, check_terms, check_validity};
use crate::ids::RegionId;
use crate::schema::SchemaCatalog;

/// Re-pins every schema the terms use to this build's copy, and drops the signatures
/// (the terms changed, so every party must sign again). Returns what changed.
pub fn pin(
    agreement: &mut Agreement,
    catalog: &SchemaCatalog,
) -> Result<Vec<String>, AgreementError> {
    let mut wanted: Vec<(String, u32)> = Vec::new();
    for rule in agreement.terms.kinds.values() {
        for v in rule.versions.iter().map(|w| w.version) {
            if !wanted.contains(&(rule.schema.clone(), v)) {
                wanted.push((rule.schema.clone(), v));
            }
        }
    }
    // And every schema those refer to (the shared definitions), so the pins cover the
    // whole rule set.
    let mut i = 0;
    while i < wanted.len() {
        let schema = crate::envelope::SchemaRef {
            id: wanted[i].0.clone(),
            version: wanted[i].1,
        };
        for r in catalog
            .get(&schema)
            .map(|c| c.refs.clone())
            .unwrap_or_default()
        {
            if !wanted.contains(&(r.id.clone(), r.version)) {
                wanted.push((r.id, r.version));
            }
        }
        i += 1;
    }
    wanted.sort();
    let mut pins = Vec::new();
    let mut changes = Vec::new();
    for (id, version) in wanted {
        let schema = crate::envelope::SchemaRef {
            id: id.clone(),
            version,
        };
        let compiled = catalog
            .get(&schema)
            .ok_or_else(|| AgreementError::SchemaPin {
                id: agreement.terms.id.to_string(),
                version: agreement.terms.version,
                schema: schema.to_string(),
                pinned: "-".into(),
                found: "this build has no such schema".into(),
            })?;
        let old = agreement.terms.pin(&schema).map(|p| p.sha256);
        if old != Some(compiled.sha256) {
            changes.push(format!(
                "{schema}: {} -> {}",
                old.map(|h| h.to_string()).unwrap_or_else(|| "none".into()),
                compiled.sha256
            ));
        }
        pins.push(SchemaPin {
            id,
            version,
            sha256: compiled.sha256,
        });
    }
    if agreement.terms.schemas.len() != pins.len() {
        changes.push(format!(
            "{} pins -> {}",
            agreement.terms.schemas.len(),
            pins.len()
        ));
    }
    // Unchanged terms stay exactly as written (and signed); changed ones are kuayu's own.
    if !changes.is_empty() {
        agreement.terms.schemas = pins;
        agreement.signatures.clear();
    }
    Ok(changes)
}

/// One line per check, for `kuayu agreement verify`: signatures, validity at `now`, and
/// (when `own` is given) the terms as that region's gateway would check them.
pub fn verify_report(
    agreement: &Agreement,
    roots: &PartyRoots,
    catalog: &SchemaCatalog,
    own: Option<&RegionId>,
    now: OffsetDateTime,
) -> (bool, String) {
    let mut out = String::new();
    let mut ok = true;
    let mut line = |label: &str, r: Result<(), AgreementError>| {
        match r {
            Ok(()) => writeln!(out, "  ok    {label}"),
            Err(e) => {
                ok = false;
                writeln!(out, "  FAIL  {label}: {e}")
            }
        }
        .ok();
    };
    line(
        "signatures of every party",
        check_signatures(agreement, roots),
    );
    line("validity window", check_validity(&agreement.terms, now));
    let region = own
        .cloned()
        .or_else(|| agreement.terms.parties.first().map(|p| p.region.clone()));
    if let Some(region) = region {
        line(
            &format!("terms (as the {region} gateway checks them)"),
            check_terms(&agreement.terms, &region, catalog),
        );
    }
    (ok, out)
}

/// A human summary of an agreement.
pub fn summary(agreement: &Agreement) -> String {
    let t = &agreement.terms;
    let mut out = String::new();
    let hash = t
        .digest()
        .map(|d| d.to_string())
        .unwrap_or_else(|e| format!("(cannot hash: {e})"));
    writeln!(out, "{} v{}: {}", t.id, t.version, t.title).ok();
    writeln!(out, "  hash      {hash}").ok();
    writeln!(
        out,
        "  valid     {} .. {}",
        crate::clock::rfc3339(t.valid_from),
        crate::clock::rfc3339(t.valid_until)
    )
    .ok();
    for p in &t.parties {
        let signed = agreement.signatures.iter().any(|s| s.region == p.region);
        writeln!(
            out,
            "  party     {} {} at {} ({})",
            p.region,
            p.name,
            p.federation_endpoint,
            if signed { "signed" } else { "NOT signed" }
        )
        .ok();
    }
    for d in &t.directions {
        let kinds: Vec<&str> = d.kinds.iter().map(|k| k.as_str()).collect();
        writeln!(out, "  {}→{}     {}", d.from, d.to, kinds.join(", ")).ok();
    }
    for pin in &t.schemas {
        writeln!(out, "  schema    {}@{} {}", pin.id, pin.version, pin.sha256).ok();
    }
    writeln!(
        out,
        "  limits    payload {} bytes, {} attachments of at most {} bytes each, ttl {} h",
        t.limits.max_payload_bytes,
        t.limits.max_attachments,
        crate::attachments::max_bytes(&t.limits),
        t.limits.message_ttl_hours
    )
    .ok();
    match t.retention {
        Some(r) => writeln!(
            out,
            "  retention payloads and attachments of finished requests kept {} days (then `kuayu purge`)",
            r.payload_days
        ),
        None => writeln!(out, "  retention payloads and attachments kept for ever"),
    }
    .ok();
    let c = t.calendar();
    let years: std::collections::BTreeSet<i32> = c.holidays.iter().map(|d| d.year()).collect();
    let listed: Vec<String> = years.iter().map(i32::to_string).collect();
    writeln!(
        out,
        "  calendar  UTC{:+}, {} holidays and {} adjusted working days ({})",
        c.utc_offset_hours,
        c.holidays.len(),
        c.working_weekend_days.len(),
        if listed.is_empty() {
            "no holidays listed".to_owned()
        } else {
            format!("years {}", listed.join(", "))
        }
    )
    .ok();
    let uncovered: Vec<String> = (c.local_date(t.valid_from).year()
        ..=c.local_date(t.valid_until).year())
        .filter(|y| !years.contains(y))
        .map(|y| y.to_string())
        .collect();
    if !uncovered.is_empty() {
        writeln!(
            out,
            "  warning   the calendar lists no holidays for {}: deadlines there count weekends only (add them by amendment)",
            uncovered.join(", ")
        )
        .ok();
    }
    for (name, period) in &t.deadlines {
        writeln!(
            out,
            "  deadline  {name}: {}",
            crate::workflow::deadlines::describe(*period)
        )
        .ok();
    }
    out
}
