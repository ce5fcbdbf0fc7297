//! Tests of the envelope (sealing, verifying over the received JSON, strict parsing).

use serde_json::json;
use time::macros::datetime;

use super::*;

/// An unsealed service request from SC0104 to CQ0103 (also for other modules' tests).
pub(crate) fn sample() -> Envelope {
    Envelope {
        id: MessageId::new(),
        kind: MessageKind::parse("service.request").unwrap(),
        schema: SchemaRef {
            id: "service-request".into(),
            version: 1,
        },
        agreement: AgreementRef {
            id: AgreementId::parse("SC-CQ-2026").unwrap(),
            version: 1,
            sha256: Sha256::digest(b"terms"),
        },
        sender: Address::of(&CourtId::parse("SC0104").unwrap()),
        recipient: Address::of(&CourtId::parse("CQ0103").unwrap()),
        in_reply_to: None,
        created_at: datetime!(2026-11-25 08:00 UTC),
        expires_at: datetime!(2026-12-02 08:00 UTC),
        priority: Priority::Normal,
        test: false,
        payload: json!({"case": {"number": "(2024)川0104民初1234号"}}),
        attachments: vec![],
        signature: None,
    }
}

/// [`sample`] sealed by Sichuan with `key`.
fn sealed_sample(key: &SigningKey) -> Sealed {
    sample().seal(&RegionId::parse("SC").unwrap(), key).unwrap()
}

#[test]
fn a_sealed_envelope_verifies_after_a_round_trip_through_text() {
    let key = SigningKey::generate();
    let sc = RegionId::parse("SC").unwrap();
    let sealed = sample().seal(&sc, &key).unwrap();
    let text = serde_json::to_string_pretty(&sealed.json).unwrap();
    let received = Sealed::parse(serde_json::from_str(&text).unwrap()).unwrap();
    let verified = received.verify(&key.public()).unwrap();
    assert_eq!(verified.digest, sealed.digest);
    assert_eq!(verified.envelope, sealed.envelope);
}

#[test]
fn a_sealed_envelopes_text_is_its_json_serialised_once() {
    let sealed = sealed_sample(&SigningKey::generate());
    let first = sealed.text().unwrap();
    assert_eq!(first, serde_json::to_string(&sealed.json).unwrap());
    assert!(
        std::ptr::eq(first, sealed.text().unwrap()),
        "the second call gives the text kept, not a new one"
    );
}

#[test]
fn a_sealed_envelopes_json_is_the_whole_envelope_serialised() {
    let key = SigningKey::generate();
    let sealed = sealed_sample(&key);
    assert_eq!(
        serde_json::to_string(&sealed.json).unwrap(),
        serde_json::to_string(&sealed.envelope).unwrap()
    );
}

#[test]
fn a_parsed_envelope_keeps_its_members_where_they_came() {
    let key = SigningKey::generate();
    let sealed = sealed_sample(&key);
    // The seal first, the payload last: not the order kuayu writes.
    let mut members: Vec<(String, Value)> = sealed
        .json
        .as_object()
        .unwrap()
        .clone()
        .into_iter()
        .collect();
    members.sort_by_key(|(k, _)| (k != "signature", k == "payload"));
    let text = serde_json::to_string(&Value::Object(members.into_iter().collect())).unwrap();
    assert!(text.starts_with("{\"signature\""), "{text}");
    let verified = Sealed::parse(serde_json::from_str(&text).unwrap())
        .unwrap()
        .verify(&key.public())
        .unwrap();
    assert_eq!(serde_json::to_string(&verified.json).unwrap(), text);
    assert_eq!(verified.digest, sealed.digest);
}

#[test]
fn any_changed_byte_breaks_the_seal() {
    let key = SigningKey::generate();
    let sealed = sealed_sample(&key);
    let mut json = sealed.json.clone();
    json["payload"]["case"]["number"] = json!("(2024)川0104民初1235号");
    let err = Sealed::parse(json)
        .unwrap()
        .verify(&key.public())
        .unwrap_err();
    assert!(matches!(err, EnvelopeError::BadSignature(_)), "{err}");
}

#[test]
fn unknown_fields_and_missing_signatures_are_refused() {
    let key = SigningKey::generate();
    let sealed = sealed_sample(&key);
    let mut json = sealed.json.clone();
    json["smuggled"] = json!(true);
    assert!(matches!(
        Sealed::parse(json).unwrap_err(),
        EnvelopeError::Malformed(_)
    ));
    let mut json = sealed.json.clone();
    json.as_object_mut().unwrap().remove("signature");
    assert!(matches!(
        Sealed::parse(json).unwrap_err(),
        EnvelopeError::Unsigned
    ));
}
