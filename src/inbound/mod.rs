//! Inbound: a peer gateway relays a message. Every check is repeated here with this
//! gateway's own copy of the agreement; only after the commit does the peer get its
//! signed relay receipt. A peer may relay several messages in one request
//! ([`receive_batch`]).

mod batch;

pub use batch::{BATCH_MAX, receive_batch};

use rustls_pki_types::CertificateDer;
use serde_json::Value;

use crate::api::RelayAnswer;
use crate::envelope::Unverified;
use crate::gateway::Gateway;
use crate::observe::journey::{self, stage};
use crate::pipeline;
use crate::problem::{Code, Problem};
use crate::receipt::{Hop, Receipt};
use crate::store::{Event, Inbound, InboundOutcome, RequestRecord, Role, StateChange};
use crate::workflow::deadlines::{self, Clocks};
use crate::workflow::{self, addressees, lifecycle};

/// Times a message is checked again when its request moved on between the checks and the
/// commit (say, the relay receipt of the request itself landed in between).
const CHECKS: usize = 3;

/// Handles `POST /federation/v1/messages`: parses the envelope, then checks and commits it.
pub async fn receive(
    g: &Gateway,
    chain: &[CertificateDer<'static>],
    body: Value,
) -> Result<RelayAnswer, Problem> {
    stage("parse");
    let unverified = pipeline::parse(body)?;
    receive_parsed(g, chain, unverified, None).await
}

/// Checks and commits a parsed envelope: the first time in its batch's commit if it has a
/// `seat` there ([`batch`]). An update whose request another step moved on after it was
/// checked is checked again against the request as it is now (nothing of it was stored),
/// up to `CHECKS` times, committed alone; then it is refused as a conflict. A new request
/// or a test message cannot race so, and has one pass.
async fn receive_parsed(
    g: &Gateway,
    chain: &[CertificateDer<'static>],
    unverified: Unverified,
    mut seat: Option<batch::Seat<'_>>,
) -> Result<RelayAnswer, Problem> {
    // Only an update can race (a step moves its request on first): a new request or a
    // test message changes no state another step could change, so it has one pass and
    // no copy of it is kept for another.
    let may_race = !unverified.envelope.test && !unverified.envelope.kind.is_request();
    let mut unverified = unverified;
    let mut checks = 1;
    loop {
        let (pass, again) = if may_race && checks < CHECKS {
            (unverified.clone(), Some(unverified))
        } else {
            (unverified, None)
        };
        match checked(g, chain, pass, seat.take()).await {
            Ok(answer) => return Ok(answer),
            Err(Refused::Problem(p)) => return Err(p),
            Err(Refused::Raced(why)) => match again {
                Some(kept) => {
                    unverified = kept;
                    checks += 1;
                }
                None => return Err(crate::store::StoreError::Raced(why).into_problem()),
            },
        }
    }
}

/// Why one pass of the pipeline did not answer.
enum Refused {
    /// A refusal for the peer.
    Problem(Problem),
    /// The request changed between the checks and the commit: check again.
    Raced(String),
}

impl From<Problem> for Refused {
    fn from(p: Problem) -> Self {
        Refused::Problem(p)
    }
}

/// One pass: checks and commits (in its batch's commit with a `seat`; one that is
/// refused first gives its seat up).
async fn checked(
    g: &Gateway,
    chain: &[CertificateDer<'static>],
    unverified: Unverified,
    seat: Option<batch::Seat<'_>>,
) -> Result<RelayAnswer, Refused> {
    // Its claims, read only to find the agreement and the key to check it with.
    let claimed = &unverified.envelope;
    journey::describe(claimed);
    stage("resolve");
    let agreement = pipeline::resolve_named(g, claimed)?;
    stage("authenticate");
    pipeline::authenticate_peer(&agreement, &claimed.sender.region, chain)?;
    stage("verify");
    let sealed = pipeline::verify(&agreement, unverified)?;
    let e = &sealed.envelope;
    stage("dedupe");

    // The same message again: the first answer, never a second copy.
    if let Some((digest, receipt)) = g
        .store
        .inbound_receipt(&e.id)
        .await
        .map_err(Problem::internal)?
    {
        return if digest == sealed.digest {
            journey::duplicate();
            Ok(RelayAnswer { receipt })
        } else {
            Err(Problem::new(
                Code::Conflict,
                format!(
                    "message {} was already received with different content",
                    e.id
                ),
            )
            .into())
        };
    }
    // A partner reaches only the regions (and so the courts) its agreement names: an
    // envelope for a court of a region outside it is refused as the direction it is.
    pipeline::authorize(&agreement, e)?;
    if e.recipient.region != g.region {
        return Err(Problem::new(
            Code::BadRequest,
            format!(
                "the envelope is addressed to region {}, but this is the {} gateway",
                e.recipient.region, g.region
            ),
        )
        .into());
    }
    let now = g.clock.now();
    stage("timely");
    pipeline::timely(&agreement, e, now, g.max_clock_skew)?;
    pipeline::check(g, &agreement, e)?;
    stage("attachments");
    // The sending gateway transfers each blob before the envelope; retryable if not yet.
    g.uploads
        .disk_room(e.kind.family() == crate::ids::Family::Preservation)?;
    let who = crate::store::BlobSource::Gateway(e.sender.region.clone());
    pipeline::attachments(g, &agreement, &e.attachments, &who).await?;
    if !g.courts.contains_key(&e.recipient.court) {
        return Err(Problem::new(
            Code::UnknownRecipient,
            format!(
                "court {} is not a court served by the {} gateway",
                e.recipient.court, g.region
            ),
        )
        .into());
    }

    stage("lifecycle");
    let actor = format!("gateway:{}", e.sender.region);
    let terms = agreement.terms();
    let (change, event, clocks) = if e.test {
        (None, Event::new("test_received", actor), Clocks::default())
    } else if e.kind.is_request() {
        let record = RequestRecord {
            id: e.id,
            family: e.kind.family(),
            role: Role::Executor,
            requesting_court: e.sender.court.clone(),
            requested_court: e.recipient.court.clone(),
            state: workflow::RECEIVED.to_owned(),
            agreement_id: agreement.terms().id.clone(),
            agreement_sha256: agreement.digest,
            priority: e.priority.rank(),
            created_at: now,
            updated_at: now,
            // The trace the sending gateway's `traceparent` named (or a new one).
            trace_id: Some(journey::trace_id()),
        };
        let clocks = Clocks {
            start: deadlines::on_receipt(terms, &e.kind, &e.payload, now),
            ..Clocks::default()
        };
        (
            Some(StateChange::Open(record)),
            Event::new("received", actor),
            clocks,
        )
    } else {
        let request_id = e.in_reply_to.ok_or_else(|| {
            Problem::new(
                Code::BadRequest,
                format!("{} is an update but names no request (inReplyTo)", e.kind),
            )
        })?;
        let record = g
            .store
            .request(&request_id)
            .await
            .map_err(Problem::internal)?;
        // Updates come from the executing court, but for the few the requesting court
        // sends (a filing's corrections).
        let from_requester = lifecycle::from_requester(&e.kind);
        let known = record.filter(|r| {
            let (role, ours, theirs) = if from_requester {
                (Role::Executor, &r.requested_court, &r.requesting_court)
            } else {
                (Role::Requester, &r.requesting_court, &r.requested_court)
            };
            r.role == role && ours == &e.recipient.court && theirs == &e.sender.court
        });
        let Some(record) = known else {
            return Err(Problem::new(
                Code::NotFound,
                format!(
                    "court {} has no request {request_id} {} court {}",
                    e.recipient.court,
                    if from_requester { "from" } else { "sent to" },
                    e.sender.court
                ),
            )
            .into());
        };
        // Every message about a request travels under the request's trace.
        if let Some(trace) = &record.trace_id {
            journey::adopt_trace(trace);
        }
        if record.agreement_sha256 != e.agreement.sha256 {
            return Err(Problem::new(
                Code::AgreementMismatch,
                format!(
                    "request {request_id} was accepted under agreement hash {}; its updates must travel under the same version",
                    record.agreement_sha256
                ),
            ).into());
        }
        if record.family != e.kind.family() {
            return Err(Problem::new(
                Code::BadRequest,
                format!("{} cannot update a {} request", e.kind, record.family),
            )
            .into());
        }

        let addressees = crate::outbound::addressees_of(g, &record).await?;
        let step = addressees::next(
            record.family,
            &request_id,
            &record.state,
            &addressees,
            &e.kind,
            &e.payload,
        )?;
        let (state, event) = (step.state, step.event);
        let mut start = deadlines::on_result(terms, &e.kind, &e.payload);
        start.extend(deadlines::on_update(terms, &event, &e.payload));
        let mut clocks = Clocks {
            start,
            meet: deadlines::met_by(&event),
            close: Vec::new(),
            restart: deadlines::restarted_by(terms, &e.kind, now),
        };
        // A lift releases the freeze it lifts: no more warning before that one expires.
        if e.kind.as_str() == "preservation.result" && e.payload["status"] == "lifted" {
            let lift = crate::outbound::request_payload(g, &request_id).await?;
            if let Some(ruling) = lift["originalRuling"].as_str() {
                let ruling = crate::workflow::queue::case_number(ruling);
                let freezes = g
                    .store
                    .freezes_under(&ruling)
                    .await
                    .map_err(Problem::internal)?;
                clocks.close = freezes
                    .into_iter()
                    .map(|id| (id, "freeze.expiry_warning"))
                    .collect();
            }
        }
        let mut event = Event::new(format!("received {}", e.kind), actor);
        event.detail = serde_json::json!({"kind": e.kind});
        (
            Some(StateChange::Advance {
                request_id,
                from: record.state.clone(),
                state,
            }),
            event,
            clocks,
        )
    };
    let digest = sealed.digest;
    let receipt = Receipt::issue(
        Hop::Relay,
        e.id,
        digest,
        g.region.clone(),
        None,
        now,
        &g.key,
    );
    let inbox = (!e.test).then(|| e.recipient.court.clone());
    let to_inbox = inbox.is_some();
    let urgent = e.priority == crate::envelope::Priority::High;
    stage("commit");
    let started = std::time::Instant::now();
    let inbound = Inbound {
        sealed,
        receipt: receipt.clone(),
        change,
        event,
        inbox,
        clocks,
        trace_id: journey::trace_id(),
        now,
    };
    let committed = match seat {
        // With the rest of its batch.
        Some(seat) => seat.commit(inbound).await,
        None => g.store.commit_inbound(inbound).await,
    };
    let outcome = committed.map_err(|e| match e {
        crate::store::StoreError::Raced(why) => Refused::Raced(why),
        other => Refused::Problem(other.into_problem()),
    })?;
    g.observer.metrics.commit("inbound", started.elapsed());
    match outcome {
        InboundOutcome::Committed => {
            if to_inbox {
                g.inbox_wake.send_modify(|n| *n = n.wrapping_add(1));
                if urgent {
                    g.urgent_inbox_wake.send_modify(|n| *n = n.wrapping_add(1));
                }
            }
            Ok(RelayAnswer { receipt })
        }
        // A concurrent copy of the same message committed first.
        InboundOutcome::Duplicate {
            digest: first,
            receipt,
        } if first == digest => {
            journey::duplicate();
            Ok(RelayAnswer { receipt: *receipt })
        }
        InboundOutcome::Duplicate { .. } => Err(Problem::new(
            Code::Conflict,
            "this message id was already received with different content",
        )
        .into()),
    }
}
