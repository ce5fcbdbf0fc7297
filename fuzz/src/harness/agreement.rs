//! Target `agreement`: parse and verify agreement documents, then use what activates.
//!
//! Three kinds of case, by the first byte: arbitrary bytes as an agreement file; the
//! sample changed after signing (nothing may activate whose signed terms changed); the
//! sample's terms changed and signed again by some or all parties with the TEST-ONLY
//! root keys (so the consistency checks, certificates and Cedar policies are reached).

use kuayu::agreement::{self, ActiveAgreement, Agreement, Terms};
use kuayu::crypto;
use kuayu::ids::RegionId;
use kuayu::pipeline;

use super::input::Input;
use super::json::mutate;
use super::world::{World, world};

/// One case.
pub fn run(data: &[u8]) {
    let w = world();
    let mut input = Input::new(data);
    match input.byte() % 3 {
        0 => {
            let text = String::from_utf8_lossy(input.rest());
            if let Ok(a) = Agreement::from_json(&text) {
                check(w, a, true, &mut input);
            }
        }
        1 => {
            let mut json = w.sample_json.clone();
            mutate(&mut json, &mut input, &w.agreement_dict);
            let Ok(text) = serde_json::to_string(&json) else {
                return;
            };
            let Ok(a) = Agreement::from_json(&text) else {
                return;
            };
            let same = crypto::canonical(&a.terms).ok().as_deref() == Some(&w.sample_terms[..]);
            // The CLI's report checks the terms (Cedar and all) even when a signature
            // fails; that is slow, so one case in four.
            let report = input.byte().is_multiple_of(4);
            let usable = check(w, a, report, &mut input);
            assert!(
                same || !usable,
                "terms changed after signing were accepted: {text}"
            );
        }
        _ => {
            let Ok(mut json) = serde_json::to_value(&w.sample.terms) else {
                return;
            };
            mutate(&mut json, &mut input, &w.agreement_dict);
            let Ok(terms) = serde_json::from_value::<Terms>(json) else {
                return;
            };
            let mut a = Agreement {
                terms,
                signatures: Vec::new(),
            };
            let mut signers = Vec::new();
            for (region, key) in &w.root_keys {
                if !input.byte().is_multiple_of(4) {
                    let Ok(signed) = agreement::sign(a.clone(), region, key) else {
                        return;
                    };
                    a = signed;
                    signers.push(region.clone());
                }
            }
            let mut parties: Vec<&RegionId> = a.terms.parties.iter().map(|p| &p.region).collect();
            parties.sort();
            let every_party_signed = parties.len() == signers.len()
                && parties.iter().zip(&signers).all(|(p, s)| *p == s)
                && !signers.is_empty();
            let signatures = agreement::verify::check_signatures(&a, &w.roots);
            assert!(
                !every_party_signed || signatures.is_ok(),
                "signatures just made do not verify: {signatures:?}"
            );
            check(w, a, false, &mut input);
        }
    }
}

/// Every way a gateway checks an agreement; true if every party's signature verified
/// and the terms passed (whatever the validity window says). `report` also runs the
/// CLI's report, which checks the terms even when the signatures fail.
fn check(w: &World, a: Agreement, report: bool, input: &mut Input) -> bool {
    let _ = a.terms.digest();
    let _ = agreement::admin::summary(&a);
    if report {
        let _ = agreement::admin::verify_report(&a, &w.roots, &w.schemas, Some(&w.own), w.now);
    }
    let Ok(loaded) = agreement::admit(a.clone(), &w.own, &w.roots, &w.schemas) else {
        return false;
    };
    let Some(active) = loaded.active else {
        return false;
    };
    // What `activate` adds to `admit`: every party signed, and the window is not past.
    let signed = agreement::verify::check_signatures(&a, &w.roots);
    assert!(signed.is_ok(), "admitted as active but {signed:?}");
    let _ = agreement::check_not_expired(&a.terms, w.now);
    use_it(w, &active, input);
    true
}

/// What a gateway asks of an active agreement: routes, versions, levels, deadlines, and
/// the pipeline's checks on a real body.
fn use_it(w: &World, active: &ActiveAgreement, input: &mut Input) {
    let terms = active.terms();
    for kind in terms.kinds.keys() {
        let _ = terms.current_version(kind, w.now);
        let _ = terms.schema_for(kind, 1, w.now);
        for d in &terms.directions {
            let _ = terms.permits(&d.from, &d.to, kind);
        }
    }
    for court in &w.courts {
        let _ = terms.court_level(court);
    }
    let calendar = terms.calendar();
    let day = calendar.local_date(w.now);
    for period in terms.deadlines.values() {
        let _ = calendar.due(w.now, *period);
        let _ = calendar.before(day, *period);
    }
    let body = input.pick(&w.bodies);
    let e = w.envelope(body, body.payload.clone(), w.now);
    if let Err(p) = pipeline::check_terms(&w.schemas, active, &e, w.now) {
        assert!(
            p.status < 500,
            "an active agreement's checks failed with {p:?}"
        );
    }
}
