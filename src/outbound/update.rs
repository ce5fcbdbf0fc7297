//! Updates: a court (or its gateway, for a print centre's report) sends an update on a
//! request it holds: checked against the request's lifecycle and addressees, sealed and
//! committed through the same steps as a new request ([`super::prepare`], [`super::store`]).

use serde_json::Value;

use super::idempotency::{self, replay};
use super::{prepare, store};
use crate::api::{Accepted, UpdateSubmission};
use crate::gateway::Gateway;
use crate::ids::{CourtId, Family, MessageId, MessageKind};
use crate::observe::journey::stage;
use crate::pipeline;
use crate::problem::{Code, Problem};
use crate::store::{BlobSource, Idempotency, Outbound, OutboundOutcome, RequestRecord, Role};
use crate::workflow::addressees::Addressee;
use crate::workflow::lifecycle;
use crate::workflow::queue::{self, Holds};

/// What `POST /v1/requests/{id}/updates` answers: 202, and the first answer again for a
/// repeated key.
pub async fn update(
    g: &Gateway,
    court: &CourtId,
    request_id: MessageId,
    body: UpdateSubmission,
    idempotency_key: String,
) -> Result<Accepted, Problem> {
    stage("idempotency");
    let asked = serde_json::json!({"requestId": request_id, "update": &body});
    idempotency::once(g, court.as_str(), idempotency_key, &asked, |key| {
        update_new(g, court, request_id, body, key)
    })
    .await
}

/// An update under a key not answered yet.
async fn update_new(
    g: &Gateway,
    court: &CourtId,
    request_id: MessageId,
    body: UpdateSubmission,
    key: Idempotency,
) -> Result<Accepted, Problem> {
    stage("lookup");
    let record = g
        .store
        .request(&request_id)
        .await
        .map_err(Problem::internal)?;
    // The executing court sends updates; the requesting court only its own few kinds (a
    // filing's corrections).
    let from_requester = lifecycle::from_requester(&body.kind);
    let record = record
        .filter(|r| {
            if from_requester {
                r.role == Role::Requester && &r.requesting_court == court
            } else {
                r.role == Role::Executor && &r.requested_court == court
            }
        })
        .ok_or_else(|| {
            let whose = if from_requester {
                "sent"
            } else {
                "received"
            };
            Problem::new(
                Code::NotFound,
                format!(
                    "court {court} has no request {request_id} it {whose} to update with {}; the court that filed a request sends {}, the court that received it every other update",
                    body.kind,
                    lifecycle::FROM_REQUESTER.join(", ")
                ),
            )
        })?;
    if body.kind.is_request() || body.kind.family() != record.family {
        return Err(Problem::new(
            Code::BadRequest,
            format!(
                "{} cannot update a {} request; use an update kind of that family, e.g. {}.status",
                body.kind, record.family, record.family
            ),
        ));
    }
    stage("resolve");
    let agreement = pipeline::resolve_accepted(g, &record.agreement_sha256)?;
    stage("attachments");
    g.uploads.disk_room(record.family == Family::Preservation)?;
    let who = BlobSource::Court(court.clone());
    pipeline::attachments(g, &agreement, &body.attachments, &who).await?;
    stage("lifecycle");
    let actor = format!("court:{court}");
    let step = lifecycle::event_of(&body.kind, &body.payload);
    let addressees = addressees_of(g, &record).await?;
    let (mut out, accepted) = prepare(
        g,
        &record,
        &addressees,
        &body.kind,
        body.schema_version,
        body.payload,
        body.attachments,
        &actor,
    )?;
    // Electronic service failed: postal service at the addressee's print centre, now.
    if step == "postal_fallback" {
        stage("postal");
    }
    if step == "postal_fallback"
        && let Some(job) =
            crate::postal::fallback_job(g, &record, &out.sealed.envelope.payload).await?
    {
        out.event.detail["printJob"] = serde_json::json!(job.id());
        out.jobs.push(job);
    }
    // No double freeze: the result must say where each asset stands in the queue.
    if body.kind.as_str() == "preservation.result" {
        stage("queue");
        out.holds = queue_holds(g, &record, &out.sealed.envelope.payload).await?;
    }
    let request_hash = key.request_hash;
    out.idempotency = Some(idempotency::with_answer(key, &accepted));
    match store(g, out).await? {
        OutboundOutcome::Committed { .. } => Ok(accepted),
        // The same key committed first, meanwhile: its answer.
        OutboundOutcome::Replay(first) => replay(first, request_hash),
    }
}

/// The register changes a preservation result makes, once its queue positions are checked
/// against the freezes this gateway already holds (轮候).
async fn queue_holds(
    g: &Gateway,
    record: &RequestRecord,
    result: &Value,
) -> Result<Holds, Problem> {
    let request = request_payload(g, &record.id).await?;
    let mut holds = queue::holds_of(&request, result);
    let mut checked = Vec::new();
    for hold in &mut holds.freeze {
        let holders = g
            .store
            .holders(&hold.asset_key, &record.id)
            .await
            .map_err(Problem::internal)?;
        hold.ahead = holders.len();
        checked.push((hold.clone(), holders.into_iter().next()));
    }
    queue::check_positions(result, &checked)?;
    Ok(holds)
}

/// Where each addressee of service request `record` stands, from the request and the
/// updates this gateway holds (none for other kinds of work).
pub async fn addressees_of(g: &Gateway, record: &RequestRecord) -> Result<Vec<Addressee>, Problem> {
    if record.family != Family::Service {
        return Ok(Vec::new());
    }
    let view = g
        .store
        .request_view(&record.id)
        .await
        .map_err(Problem::internal)?;
    Ok(view.map(|v| v.addressees()).unwrap_or_default())
}

/// The payload of request `id`, as this gateway stored it.
pub async fn request_payload(g: &Gateway, id: &MessageId) -> Result<Value, Problem> {
    let view = g.store.request_view(id).await.map_err(Problem::internal)?;
    view.and_then(|v| v.messages.into_iter().find(|m| m.id == *id))
        .map(|m| m.envelope["payload"].clone())
        .ok_or_else(|| Problem::internal(format!("request {id} has no stored request message")))
}

/// An update the executing side sends on `record` (a court's own, or one its gateway
/// sends for it from a print centre's report), checked and sealed, ready to store.
pub fn prepare_update(
    g: &Gateway,
    record: &RequestRecord,
    addressees: &[Addressee],
    kind: &MessageKind,
    payload: Value,
    actor: &str,
) -> Result<(Outbound, Accepted), Problem> {
    prepare(
        g,
        record,
        addressees,
        kind,
        None,
        payload,
        Vec::new(),
        actor,
    )
}
