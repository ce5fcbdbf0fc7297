//! Target `envelope`: parse, canonicalise and verify what a peer sends.
//!
//! Four kinds of case, by the first byte: arbitrary bytes as an envelope body; a real
//! sealed envelope changed after sealing (it must not verify unless its canonical form is
//! unchanged); a changed envelope sealed afresh (it must verify after a trip through
//! text); any JSON through the RFC 8785 canonical form (a fixed point).

use kuayu::clock::{rfc3339, unix_millis};
use kuayu::crypto;
use kuayu::envelope::{Envelope, Sealed};
use kuayu::pipeline;
use serde_json::Value;

use super::input::Input;
use super::json::mutate;
use super::world::{World, world};

/// One case.
pub fn run(data: &[u8]) {
    let w = world();
    let mut input = Input::new(data);
    match input.byte() % 4 {
        0 => {
            if let Ok(json) = serde_json::from_slice::<Value>(input.rest()) {
                receive(w, json, None);
            }
        }
        1 => {
            let original = sealed(w, &mut input);
            let mut json = original.json.clone();
            mutate(&mut json, &mut input, &w.dict);
            receive(w, json, Some(&original));
        }
        2 => reseal(w, &mut input),
        _ => {
            let json = if input.bool() {
                let mut json = sealed(w, &mut input).json;
                mutate(&mut json, &mut input, &w.dict);
                json
            } else {
                match serde_json::from_slice::<Value>(input.rest()) {
                    Ok(json) => json,
                    Err(_) => return,
                }
            };
            canonical_is_a_fixed_point(&json);
        }
    }
}

/// A real envelope of one of the fixtures, sealed by its sender's gateway.
fn sealed(w: &World, input: &mut Input) -> Sealed {
    let body = input.pick(&w.bodies);
    let e = w.envelope(body, body.payload.clone(), w.now);
    let region = e.sender.region.clone();
    e.seal(&region, w.message_key(&region))
        .expect("a fixture envelope seals")
}

/// What a receiving gateway does with a body, up to the checks that need no store.
fn receive(w: &World, json: Value, original: Option<&Sealed>) {
    let _ = crypto::canonical(&json);
    let Ok(unverified) = pipeline::parse(json) else {
        return;
    };
    let claimed = &unverified.envelope;
    let opens = claimed.kind.is_request();
    let _ = w.registry.named(&claimed.agreement, opens, w.now);
    match pipeline::verify(&w.active, unverified) {
        Ok(sealed) => {
            if let Some(original) = original {
                assert_eq!(
                    sealed.digest, original.digest,
                    "an envelope changed after sealing verified: {}",
                    sealed.json
                );
            }
            let e = &sealed.envelope;
            let _ = (rfc3339(e.created_at), rfc3339(e.expires_at));
            let _ = (unix_millis(e.created_at), unix_millis(e.expires_at));
            if let Err(p) = pipeline::check_terms(&w.schemas, &w.active, e, w.now) {
                assert!(p.status < 500, "a verified envelope got {p:?}");
            }
        }
        Err(p) => assert!(
            matches!(
                p.code.as_str(),
                "bad_signature" | "identity_mismatch" | "bad_request"
            ),
            "verification refused with {p:?}"
        ),
    }
}

/// A changed envelope, sealed afresh, verifies after a trip through text with the
/// same digest.
fn reseal(w: &World, input: &mut Input) {
    let body = input.pick(&w.bodies);
    let e = w.envelope(body, body.payload.clone(), w.now);
    let Ok(mut json) = serde_json::to_value(&e) else {
        return;
    };
    mutate(&mut json, input, &w.dict);
    let Ok(e) = serde_json::from_value::<Envelope>(json) else {
        return;
    };
    let region = e.sender.region.clone();
    let key = w.message_key(&region);
    let Ok(sealed) = e.seal(&region, key) else {
        return;
    };
    let text = serde_json::to_string(&sealed.json).expect("a sealed envelope serialises");
    let back: Value = serde_json::from_str(&text).expect("a sealed envelope is JSON");
    let unverified = pipeline::parse(back)
        .unwrap_or_else(|p| panic!("a freshly sealed envelope does not parse: {p:?}\n{text}"));
    let verified = unverified
        .verify(&key.public())
        .unwrap_or_else(|e| panic!("a freshly sealed envelope does not verify: {e}\n{text}"));
    assert_eq!(verified.digest, sealed.digest);
    assert_eq!(verified.envelope, sealed.envelope);
}

/// canonical(parse(canonical(x))) == canonical(x).
fn canonical_is_a_fixed_point(json: &Value) {
    let Ok(bytes) = crypto::canonical(json) else {
        return;
    };
    let again: Value = serde_json::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("canonical JSON does not parse: {e}"));
    let twice = crypto::canonical(&again).expect("parsed canonical JSON canonicalises");
    assert_eq!(
        String::from_utf8_lossy(&twice),
        String::from_utf8_lossy(&bytes),
        "the canonical form is not a fixed point"
    );
}
