//! Target `court_body`: what a court posts, through the pipeline's checks.
//!
//! Each case takes a real fixture of some message kind, changes its payload (and
//! sometimes the submission around it, the sending court or the creation time), parses
//! it as the court API does, builds the envelope as the sending gateway does and runs
//! [`pipeline::check_terms`] (authorize, limits, validate against the pinned schema,
//! rules, Cedar policy). A body that passes goes on to what the gateway computes from
//! it: the lifecycle event, the deadlines it starts and meets, the freeze queue, the
//! policy facts. A refusal must be the court's fault (4xx), never a 5xx.

use kuayu::api::{Submission, UpdateSubmission};
use kuayu::envelope::{Address, AttachmentRef, Envelope};
use kuayu::ids::{Family, MessageId};
use kuayu::pipeline;
use kuayu::policy;
use kuayu::workflow::{deadlines, lifecycle, queue};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::input::Input;
use super::json::mutate;
use super::world::{Body, World, world};

/// One case.
pub fn run(data: &[u8]) {
    let w = world();
    let mut input = Input::new(data);
    let body = input.pick(&w.bodies);
    let flags = input.byte();
    let mut payload = body.payload.clone();
    for _ in 0..(flags & 3) {
        mutate(&mut payload, &mut input, &w.dict);
    }
    let Some(e) = submitted(w, body, payload, flags, &mut input) else {
        return;
    };
    let at = e.created_at;
    match pipeline::check_terms(&w.schemas, &w.active, &e, at) {
        Ok(()) => passed(w, &e, &mut input),
        Err(p) => assert!(p.status < 500, "a court body got {p:?}"),
    }
}

/// The body as the court posts it and the gateway parses it, in its envelope.
fn submitted(
    w: &World,
    body: &Body,
    payload: Value,
    flags: u8,
    input: &mut Input,
) -> Option<Envelope> {
    let mut e = w.envelope(body, payload, w.now);
    let attachments = attachments(input.below(24));
    let mut wrapper = if body.kind.is_request() {
        json!({
            "kind": body.kind,
            "recipientCourt": e.recipient.court,
            "schemaVersion": body.schema.version,
            "payload": e.payload,
            "attachments": attachments,
        })
    } else {
        json!({
            "kind": body.kind,
            "schemaVersion": body.schema.version,
            "payload": e.payload,
            "attachments": attachments,
        })
    };
    if flags & 4 != 0 {
        mutate(&mut wrapper, input, &w.dict);
    }
    let (kind, version, payload, attachments) = if body.kind.is_request() {
        let s: Submission = serde_json::from_value(wrapper).ok()?;
        e.recipient = Address::of(&s.recipient_court);
        (s.kind, s.schema_version, s.payload, s.attachments)
    } else {
        let s: UpdateSubmission = serde_json::from_value(wrapper).ok()?;
        (s.kind, s.schema_version, s.payload, s.attachments)
    };
    let terms = w.active.terms();
    let version = version
        .or_else(|| terms.current_version(&kind, w.now))
        .unwrap_or(1);
    e.schema = terms
        .schema_for(&kind, version, w.now)
        .unwrap_or(e.schema.clone());
    e.schema.version = version;
    e.kind = kind;
    e.payload = payload;
    e.attachments = attachments;
    if flags & 8 != 0 {
        e.sender = Address::of(input.pick(&w.courts));
    }
    if flags & 16 != 0 {
        e.created_at = time(input).unwrap_or(e.created_at);
    }
    e.test = flags & 32 != 0;
    Some(e)
}

/// `n` well-formed attachment references.
fn attachments(n: usize) -> Vec<AttachmentRef> {
    (0..n)
        .map(|i| AttachmentRef {
            doc_id: format!("doc-{i}"),
            title: "judgment".into(),
            doc_type: "judgment".into(),
            sha256: kuayu::ids::Sha256::digest(&[i as u8]),
            bytes: 1024,
            pages: Some(2),
            media_type: "application/pdf".into(),
        })
        .collect()
}

/// A creation time a peer could claim: RFC 3339 text from the dictionary or any second.
fn time(input: &mut Input) -> Option<OffsetDateTime> {
    if input.bool() {
        let text = input.pick(super::json::STRINGS);
        OffsetDateTime::parse(text, &Rfc3339).ok()
    } else {
        OffsetDateTime::from_unix_timestamp(input.i64() % 253_402_300_800).ok()
    }
}

/// What the gateway computes from a body that passed the checks.
fn passed(w: &World, e: &Envelope, input: &mut Input) {
    let terms = w.active.terms();
    let family = e.kind.family();
    let _ = policy::facts(e, e.created_at);
    let event = lifecycle::event_of(&e.kind, &e.payload);
    for state in [
        "submitted",
        "relayed",
        "received",
        "retrieved",
        "in_progress",
    ] {
        let _ = lifecycle::transition(family, state, &event);
    }
    let _ = deadlines::met_by(&event);
    let _ = deadlines::on_update(terms, &event, &e.payload);
    let _ = deadlines::on_result(terms, &e.kind, &e.payload);
    if e.kind.is_request() {
        for due in deadlines::on_receipt(terms, &e.kind, &e.payload, w.now) {
            // Deadlines from the agreement's periods never fall before the receipt; a
            // date the court set (respondBy, a print job's deadline) may.
            assert!(
                due.due_at >= w.now
                    || ["evidence.complete_or_explain", "printing.post"]
                        .contains(&due.name.as_str()),
                "{} is due before the request arrived: {due:?}",
                due.name
            );
        }
    }
    if family == Family::Preservation && e.kind.document() == "result" {
        let request = w
            .bodies
            .iter()
            .find(|b| b.kind.as_str() == "preservation.request")
            .map(|b| &b.payload);
        let holds = queue::holds_of(request.unwrap_or(&Value::Null), &e.payload);
        let ahead: Vec<_> = holds
            .freeze
            .into_iter()
            .map(|mut h| {
                h.ahead = input.below(3);
                let first = MessageId::parse("0190c2a4-6f1e-7d2a-8b3c-4d5e6f708192")
                    .ok()
                    .filter(|_| h.ahead > 0)
                    .map(|id| (id, "ruling".to_owned()));
                (h, first)
            })
            .collect();
        if let Err(p) = queue::check_positions(&e.payload, &ahead) {
            assert!(p.status < 500, "a queue check failed with {p:?}");
        }
        if let Some(assets) = e.payload.get("assets").and_then(Value::as_array) {
            for a in assets {
                let _ = queue::asset_key(a);
            }
        }
    }
}
