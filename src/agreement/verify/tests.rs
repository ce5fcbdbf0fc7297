//! Tests of checking an agreement before a gateway uses it (signatures, validity, terms that hang together).

use super::*;
use crate::agreement::VersionWindow;
use crate::crypto;
use crate::ids::MessageKind;

/// Signs `terms` (JSON as another implementation wrote it) the way the docs say: Ed25519
/// over the RFC 8785 form of the terms exactly as written.
fn signed_elsewhere(terms: &serde_json::Value, keys: &[(&str, &SigningKey)]) -> String {
    let bytes = crypto::canonical(terms).unwrap();
    let signatures: Vec<serde_json::Value> = keys
        .iter()
        .map(|(r, k)| serde_json::json!({"region": r, "signature": k.sign(&bytes).to_string()}))
        .collect();
    serde_json::json!({"terms": terms, "signatures": signatures}).to_string()
}

#[test]
fn terms_are_signed_and_hashed_as_written_whatever_the_time_offset() {
    let (sc_key, cq_key) = (SigningKey::generate(), SigningKey::generate());
    let roots: PartyRoots = [("SC", &sc_key), ("CQ", &cq_key)]
        .into_iter()
        .map(|(r, k)| (RegionId::parse(r).unwrap(), k.public()))
        .collect();
    let sample: serde_json::Value = serde_json::from_str(crate::devnet::SAMPLE_AGREEMENT).unwrap();
    let mut terms = sample["terms"].clone();
    terms["validFrom"] = serde_json::json!("2026-01-01T08:00:00+08:00");
    let text = signed_elsewhere(&terms, &[("SC", &sc_key), ("CQ", &cq_key)]);
    let agreement = Agreement::from_json(&text).unwrap();
    check_signatures(&agreement, &roots).unwrap();
    assert_eq!(
        agreement.terms.digest().unwrap(),
        crate::ids::Sha256::digest(&crypto::canonical(&terms).unwrap()),
        "the agreement hash is over the terms as written"
    );
    assert_eq!(
        agreement.terms.valid_from,
        time::macros::datetime!(2026-01-01 00:00 UTC)
    );
    // Written, stored and served as received.
    let again: serde_json::Value = serde_json::to_value(&agreement).unwrap();
    assert_eq!(again["terms"], terms);
    // The same instant written in UTC is other terms: the signatures do not cover it.
    let mut utc: serde_json::Value = serde_json::from_str(&text).unwrap();
    utc["terms"]["validFrom"] = serde_json::json!("2026-01-01T00:00:00.000Z");
    let utc = Agreement::from_json(&utc.to_string()).unwrap();
    assert!(matches!(
        check_signatures(&utc, &roots),
        Err(AgreementError::Tampered { .. })
    ));
}

#[test]
fn the_sample_agreement_verifies_with_the_test_only_root_keys() {
    let agreement = Agreement::from_json(crate::devnet::SAMPLE_AGREEMENT).unwrap();
    let roots: PartyRoots = [
        (
            "SC",
            include_str!("../../../agreements/test-only/SC/root-key.pub"),
        ),
        (
            "CQ",
            include_str!("../../../agreements/test-only/CQ/root-key.pub"),
        ),
    ]
    .into_iter()
    .map(|(r, k)| (RegionId::parse(r).unwrap(), PublicKey::parse(k).unwrap()))
    .collect();
    check_signatures(&agreement, &roots).unwrap();
    assert_eq!(
        agreement.terms.received().unwrap()["validFrom"],
        "2026-01-01T00:00:00+08:00",
        "written with the offset of the parties"
    );
}

#[test]
fn a_schema_is_pinned_only_with_the_shared_definitions_it_refers_to() {
    let catalog = SchemaCatalog::embedded().unwrap();
    let mut agreement = Agreement::from_json(crate::devnet::SAMPLE_AGREEMENT).unwrap();
    let sc = RegionId::parse("SC").unwrap();
    let kind = MessageKind::parse("printing.request").unwrap();
    agreement
        .terms
        .kinds
        .get_mut(&kind)
        .unwrap()
        .versions
        .push(VersionWindow {
            version: 2,
            from: None,
            until: None,
        });
    // Pinning adds printing-request@2 and the common@1 it refers to.
    super::super::admin::pin(&mut agreement, &catalog).unwrap();
    check_terms(&agreement.terms, &sc, &catalog).unwrap();
    // Without common@1 the pins are not the whole rule set.
    agreement.terms.schemas.retain(|p| p.id != "common");
    let err = check_terms(&agreement.terms, &sc, &catalog).unwrap_err();
    assert!(
        err.to_string()
            .contains("refers to schema common@1, which is not pinned"),
        "{err}"
    );
}
