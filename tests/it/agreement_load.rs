//! A gateway activates an agreement only when every party's signature verifies against
//! the root keys of its own configuration, and only within the validity window.

use std::sync::Arc;

use kuayu::agreement::{self, Agreement, PartyRoots};
use kuayu::clock::ManualClock;
use kuayu::config::GatewayConfig;
use kuayu::crypto::{PublicKey, SigningKey};
use kuayu::gateway::Gateway;
use kuayu::ids::RegionId;
use kuayu::schema::SchemaCatalog;
use time::macros::datetime;

use crate::support::*;

/// Tries to start Chongqing's gateway with `agreement` instead of the one it has.
async fn load(t: &TestFed, agreement: &Agreement, clock: Arc<ManualClock>) -> Result<(), String> {
    let cq = RegionId::parse("CQ").unwrap();
    let mut config = GatewayConfig::load(&t.fed.configs[&cq]).unwrap();
    let file = t.fed.dir.join("candidate.json");
    std::fs::write(&file, serde_json::to_string(agreement).unwrap()).unwrap();
    config.agreements = vec![file];
    config.database = t.fed.dir.join("candidate.db").into();
    match Gateway::prepare(&config, clock).await {
        Ok(g) => {
            g.close().await;
            Ok(())
        }
        Err(e) => Err(e.to_string()),
    }
}

fn now() -> Arc<ManualClock> {
    ManualClock::new(datetime!(2026-11-25 08:00 UTC))
}

#[tokio::test]
async fn a_tampered_agreement_is_refused_at_load() {
    let t = TestFed::start().await;
    assert_eq!(
        load(&t, &t.fed.agreement, now()).await,
        Ok(()),
        "the signed original loads"
    );
    let mut tampered = t.fed.agreement.clone();
    tampered.terms.limits.max_payload_bytes *= 10;
    let err = load(&t, &tampered, now()).await.unwrap_err();
    assert!(
        err.contains("tampered") && err.contains("does not verify"),
        "{err}"
    );
    t.shutdown().await;
}

#[tokio::test]
async fn an_unsigned_or_partly_signed_agreement_is_refused_saying_which() {
    let t = TestFed::start().await;
    let mut unsigned = t.fed.agreement.clone();
    unsigned.signatures.clear();
    let err = load(&t, &unsigned, now()).await.unwrap_err();
    assert!(err.contains("unsigned"), "{err}");
    let mut partly = t.fed.agreement.clone();
    partly.signatures.retain(|s| s.region.as_str() == "SC");
    let err = load(&t, &partly, now()).await.unwrap_err();
    assert!(
        err.contains("partly signed") && err.contains("missing the signature of CQ"),
        "{err}"
    );
    t.shutdown().await;
}

#[tokio::test]
async fn an_agreement_signed_with_a_key_other_than_the_configured_root_is_refused() {
    let t = TestFed::start().await;
    let sc = RegionId::parse("SC").unwrap();
    let forged = agreement::sign(t.fed.agreement.clone(), &sc, &SigningKey::generate()).unwrap();
    let err = load(&t, &forged, now()).await.unwrap_err();
    assert!(err.contains("signature of SC does not verify"), "{err}");
    t.shutdown().await;
}

#[tokio::test]
async fn an_expired_agreement_is_refused_at_load() {
    let t = TestFed::start().await;
    let err = load(
        &t,
        &t.fed.agreement,
        ManualClock::new(datetime!(2029-01-01 00:00 UTC)),
    )
    .await
    .unwrap_err();
    assert!(err.contains("expired at 2028-12-31T15:59:59.000Z"), "{err}");
    t.shutdown().await;
}

#[test]
fn the_committed_sample_agreements_verify_with_the_committed_test_roots_and_pin_this_builds_schemas()
 {
    use kuayu::devnet::Sample;
    let mut roots = PartyRoots::new();
    for region in ["SC", "CQ", "GZ"] {
        let path = format!(
            "{}/agreements/test-only/{region}/root-key.pub",
            env!("CARGO_MANIFEST_DIR")
        );
        roots.insert(
            RegionId::parse(region).unwrap(),
            PublicKey::parse(&std::fs::read_to_string(path).unwrap()).unwrap(),
        );
    }
    let catalog = SchemaCatalog::embedded().unwrap();
    for (sample, partner) in [(Sample::ScCq, "CQ"), (Sample::ScGz, "GZ")] {
        let file = sample.file_name();
        for here in ["SC", partner] {
            let r = agreement::activate(
                sample.agreement().unwrap(),
                &RegionId::parse(here).unwrap(),
                &roots,
                &catalog,
                datetime!(2026-11-25 08:00 UTC),
            );
            assert!(
                r.is_ok(),
                "{file} at {here}: {:?}\nAfter changing a schema, re-pin and re-sign: kuayu agreement pin agreements/{file}, then \
                 kuayu agreement sign agreements/{file} --region SC --key agreements/test-only/SC/root-key.pem (and {partner})",
                r.err()
            );
        }
    }
}
