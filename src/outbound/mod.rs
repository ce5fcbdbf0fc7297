//! Outbound: a court of this region submits a request or an update. The pipeline runs,
//! the message is committed with its outbox row, and only then does the court get its
//! 202 with a signed submission receipt.

use serde_json::Value;

use crate::agreement::ActiveAgreement;
use crate::api::{Accepted, Submission};
use crate::clock::unix_millis;
use crate::envelope::{Address, AgreementRef, AttachmentRef, Envelope, Priority, SchemaRef};
use crate::gateway::Gateway;
use crate::ids::{CourtId, Family, MessageId, MessageKind};
use crate::observe::journey::{self, stage};
use crate::pipeline;
use crate::problem::{Code, Problem};
use crate::receipt::{Hop, Receipt};
use crate::store::{
    BlobSource, Event, Idempotency, Outbound, OutboundOutcome, RequestRecord, Role, StateChange,
};
pub mod idempotency;
mod update;

pub use idempotency::MAX_IDEMPOTENCY_KEY;
use idempotency::{Idempotent, replay};
pub use update::{addressees_of, prepare_update, request_payload, update};

use crate::workflow::addressees::{self, Addressee};
use crate::workflow::deadlines::{self, Clocks};
use crate::workflow::{self, lifecycle};

/// What `POST /v1/requests` answers: always 202 and the first answer for a repeated key.
pub async fn submit(
    g: &Gateway,
    court: &CourtId,
    body: Submission,
    idempotency_key: String,
) -> Result<Accepted, Problem> {
    stage("idempotency");
    let key = match idempotency::check(g, court.as_str(), idempotency_key, &body).await? {
        Idempotent::Replay(first) => return Ok(first),
        Idempotent::New(key) => Some(key),
    };
    if !body.kind.is_request() {
        return Err(Problem::new(
            Code::BadRequest,
            format!(
                "{} is an update, not a request kind; post updates to /v1/requests/{{id}}/updates",
                body.kind
            ),
        ));
    }
    stage("resolve");
    let recipient = Address::of(&body.recipient_court);
    if recipient.region == g.region {
        return Err(Problem::new(
            Code::BadRequest,
            format!(
                "court {} is in this gateway's own region {}; kuayu carries work across regions",
                body.recipient_court, g.region
            ),
        ));
    }
    let agreement = pipeline::resolve_route(g, &g.region, &recipient.region, &body.kind)?;
    stage("attachments");
    g.uploads
        .disk_room(body.kind.family() == Family::Preservation)?;
    let who = BlobSource::Court(court.clone());
    pipeline::attachments(g, &agreement, &body.attachments, &who).await?;
    let id = MessageId::new();
    let envelope = build(
        g,
        &agreement,
        id,
        &body.kind,
        body.schema_version,
        court,
        recipient,
        None,
        body.payload,
        body.attachments,
    )?;
    let request = RequestRecord {
        id,
        family: body.kind.family(),
        role: Role::Requester,
        requesting_court: court.clone(),
        requested_court: body.recipient_court.clone(),
        state: workflow::SUBMITTED.to_owned(),
        agreement_id: agreement.terms().id.clone(),
        agreement_sha256: agreement.digest,
        priority: envelope.priority.rank(),
        created_at: envelope.created_at,
        updated_at: envelope.created_at,
        // The court's trace (its `traceparent`), or the one its call started.
        trace_id: Some(journey::trace_id()),
    };
    let event = Event::new("submitted", format!("court:{court}"));
    let change = StateChange::Open(request);
    commit(g, envelope, change, event, Clocks::default(), key).await
}

#[allow(clippy::too_many_arguments)]
fn prepare(
    g: &Gateway,
    record: &RequestRecord,
    addressees: &[Addressee],
    kind: &MessageKind,
    schema_version: Option<u32>,
    payload: Value,
    attachments: Vec<AttachmentRef>,
    actor: &str,
) -> Result<(Outbound, Accepted), Problem> {
    let request_id = record.id;
    let step = addressees::next(
        record.family,
        &request_id,
        &record.state,
        addressees,
        kind,
        &payload,
    )?;
    let (state, event) = (step.state, step.event);
    let (sender, recipient) = if lifecycle::from_requester(kind) {
        (&record.requesting_court, &record.requested_court)
    } else {
        (&record.requested_court, &record.requesting_court)
    };
    let recipient = Address::of(recipient);
    // Work finishes under the agreement version it was accepted with.
    let agreement = pipeline::resolve_accepted(g, &record.agreement_sha256)?;
    let envelope = build(
        g,
        &agreement,
        MessageId::new(),
        kind,
        schema_version,
        sender,
        recipient,
        Some(request_id),
        payload,
        attachments,
    )?;
    let clocks = Clocks {
        start: deadlines::on_update(agreement.terms(), &event, &envelope.payload),
        meet: deadlines::met_by(&event),
        ..Clocks::default()
    };
    let mut event = Event::new(format!("sent {kind}"), actor);
    event.detail = serde_json::json!({"kind": kind});
    let change = StateChange::Advance {
        request_id,
        from: record.state.clone(),
        state,
    };
    seal(g, envelope, change, event, clocks, trace_of(record))
}

/// The trace an update of `record` travels under: its request's (the journey adopts it),
/// or for a request stored before kuayu kept traces, the journey's.
fn trace_of(record: &RequestRecord) -> String {
    match &record.trace_id {
        Some(id) => {
            journey::adopt_trace(id);
            id.clone()
        }
        None => journey::trace_id(),
    }
}

/// Builds the envelope and runs the checks on it.
#[allow(clippy::too_many_arguments)]
fn build(
    g: &Gateway,
    agreement: &ActiveAgreement,
    id: MessageId,
    kind: &MessageKind,
    schema_version: Option<u32>,
    court: &CourtId,
    recipient: Address,
    in_reply_to: Option<MessageId>,
    payload: Value,
    attachments: Vec<AttachmentRef>,
) -> Result<Envelope, Problem> {
    let terms = agreement.terms();
    let now = g.clock.now();
    let version = schema_version
        .or_else(|| terms.current_version(kind, now))
        .unwrap_or(1);
    let schema = terms.schema_for(kind, version, now).unwrap_or(SchemaRef {
        id: String::new(),
        version,
    });
    let envelope = Envelope {
        id,
        kind: kind.clone(),
        schema,
        agreement: AgreementRef {
            id: terms.id.clone(),
            version: terms.version,
            sha256: agreement.digest,
        },
        sender: Address::of(court),
        recipient,
        in_reply_to,
        created_at: now,
        expires_at: now + time::Duration::hours(i64::from(terms.limits.message_ttl_hours)),
        priority: if kind.family() == Family::Preservation {
            Priority::High
        } else {
            Priority::Normal
        },
        test: false,
        payload,
        attachments,
        signature: None,
    };
    journey::describe(&envelope);
    pipeline::check(g, agreement, &envelope)?;
    Ok(envelope)
}

/// seal + commit, then wake the relay.
async fn commit(
    g: &Gateway,
    envelope: Envelope,
    change: StateChange,
    event: Event,
    clocks: Clocks,
    idem: Option<Idempotency>,
) -> Result<Accepted, Problem> {
    let request_hash = idem.as_ref().map(|i| i.request_hash);
    let trace_id = match &change {
        StateChange::Open(r) => r.trace_id.clone(),
        _ => None,
    };
    let trace_id = trace_id.unwrap_or_else(journey::trace_id);
    let (mut out, accepted) = seal(g, envelope, change, event, clocks, trace_id)?;
    out.idempotency = idem.map(|i| idempotency::with_answer(i, &accepted));
    match store(g, out).await? {
        OutboundOutcome::Committed { .. } => Ok(accepted),
        // A concurrent submission with the same key committed first: its answer, if it
        // was the same request.
        OutboundOutcome::Replay(first) => match request_hash {
            Some(hash) => replay(first, hash),
            None => Err(Problem::internal(
                "a replayed answer for a submission without a key",
            )),
        },
    }
}

/// seal: signs the envelope and issues the submission receipt; the message as it will be
/// committed (travelling under W3C trace `trace_id`), and the answer the court gets once
/// it is.
pub fn seal(
    g: &Gateway,
    envelope: Envelope,
    change: StateChange,
    event: Event,
    clocks: Clocks,
    trace_id: String,
) -> Result<(Outbound, Accepted), Problem> {
    stage("seal");
    let now = envelope.created_at;
    let sealed = envelope
        .seal(&g.region, &g.key)
        .map_err(Problem::internal)?;
    let e = &sealed.envelope;
    let receipt = Receipt::issue(
        Hop::Submission,
        e.id,
        sealed.digest,
        g.region.clone(),
        Some(e.sender.court.clone()),
        now,
        &g.key,
    );
    let state = match &change {
        StateChange::Open(r) => r.state.clone(),
        StateChange::Advance { state, .. } | StateChange::AdvanceFrom { state, .. } => {
            state.clone()
        }
        StateChange::Note { .. } => String::new(),
    };
    let accepted = Accepted {
        request_id: change.request_id(),
        message_id: e.id,
        state,
        envelope_sha256: sealed.digest,
        receipt: receipt.clone(),
        trace_id: Some(trace_id.clone()),
    };
    let peer = e.recipient.region.clone();
    let out = Outbound {
        sealed,
        receipt,
        peer,
        change,
        event,
        idempotency: None,
        clocks,
        jobs: Vec::new(),
        holds: Default::default(),
        followups: Vec::new(),
        trace_id,
        now,
    };
    Ok((out, accepted))
}

/// commit: stores the message (and what rides with it) in one transaction, then wakes the
/// relay. Preservation does not wait behind ordinary submissions ([`crate::admission`]).
pub async fn store(g: &Gateway, out: Outbound) -> Result<OutboundOutcome, Problem> {
    stage("admission");
    let turn = g.admission.enter(out.sealed.envelope.priority).await;
    stage("commit");
    let (message, request) = (out.sealed.envelope.id, out.change.request_id());
    let at = unix_millis(out.now);
    // Its outbox item (the position once committed), for the relay to start without
    // reading the outbox if it may.
    let mut item = crate::store::OutboxItem {
        seq: 0,
        message_id: message,
        request_id: request,
        peer: out.peer.clone(),
        priority: out.sealed.envelope.priority.rank(),
        digest: out.sealed.digest,
        attempts: 0,
        trace_id: Some(out.trace_id.clone()),
    };
    // Handed to the relay before the commit, so no delivery can start without it, and taken
    // back if the message is not committed.
    if let Ok(text) = out.sealed.text().map(str::to_owned) {
        let envelope = std::sync::Arc::clone(&out.sealed.envelope);
        g.relay_fresh
            .put(message, crate::relay::fresh::Held { text, envelope });
    }
    let started = std::time::Instant::now();
    let outcome = g.store.commit_outbound(out).await;
    g.observer.metrics.commit("outbound", started.elapsed());
    drop(turn);
    if let Ok(OutboundOutcome::Committed { outbox }) = outcome {
        match outbox {
            Some(seq) => {
                item.seq = seq;
                g.relay_wake.item_committed(item);
            }
            None => g.relay_wake.outbox_changed(),
        }
        tracing::info!(message_id = %message, request_id = %request, at, "committed");
    } else {
        g.relay_fresh.take(&message);
    }
    outcome.map_err(crate::store::StoreError::into_problem)
}
