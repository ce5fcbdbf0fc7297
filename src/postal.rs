//! Electronic first, postal fallback. When the executing court reports that electronic
//! service failed, was refused or had no consent, its gateway opens a print job at the
//! print centre serving the addressee's postcode, in the same transaction, with no new
//! request from the requesting court. The centre reports printed, posted (tracking
//! number), delivery attempts, delivered or returned; each step reaches the requesting
//! court as a `service.attempt` of its service request, and delivery or return completes
//! it with a certificate of service (`service.result`, method postal, with the tracking
//! number and the failed electronic attempt), assembled by the gateway from the centre's
//! report and sent on behalf of the executing court.

use serde_json::{Value, json};

use crate::config::PrintCentreEntry;
use crate::gateway::Gateway;
use crate::ids::{MessageId, MessageKind, PrintCentreId};
use crate::outbound;
use crate::pipeline;
use crate::problem::{Code, Problem};
use crate::store::{Event, JobChange, PrintJob, RequestRecord, StateChange};
use crate::workflow::lifecycle;

/// The centre serving `postcode`: the longest matching prefix.
pub fn centre_for<'g>(g: &'g Gateway, postcode: &str) -> Option<&'g PrintCentreEntry> {
    g.print_centres
        .iter()
        .flat_map(|c| c.postcodes.iter().map(move |p| (p, c)))
        .filter(|(p, _)| postcode.starts_with(p.as_str()))
        .max_by_key(|(p, _)| p.len())
        .map(|(_, c)| c)
}

/// The print job a failed electronic `attempt` on service request `record` opens, if the
/// addressee has a postal address a centre of this region serves. Without one the court
/// serves by post itself, as before kuayu.
pub async fn fallback_job(
    g: &Gateway,
    record: &RequestRecord,
    attempt: &Value,
) -> Result<Option<JobChange>, Problem> {
    let request = outbound::request_payload(g, &record.id).await?;
    let name = attempt["addresseeName"].as_str().unwrap_or_default();
    let Some(addressee) = request["addressees"]
        .as_array()
        .and_then(|all| all.iter().find(|a| a["name"] == name))
    else {
        return Err(Problem::new(
            Code::BadRequest,
            format!(
                "request {} names no addressee {name:?}; use the name as in the request",
                record.id
            ),
        ));
    };
    let postal = &addressee["addresses"]["postal"];
    let Some(centre) = postal["postcode"].as_str().and_then(|p| centre_for(g, p)) else {
        return Ok(None);
    };
    let id = MessageId::new();
    let mut envelope = json!({
        "recipient": name,
        "address": postal,
        "returnAddress": {"courtCode": record.requesting_court, "courtName": record.requesting_court},
    });
    if let Some(phone) = addressee["addresses"].get("phone") {
        envelope["phone"] = phone.clone();
    }
    let job = json!({
        "jobId": id,
        "parentRequestId": record.id,
        "case": request["case"],
        "addresseeName": name,
        "documents": request["documents"],
        "copies": 1,
        "envelope": envelope,
        "mailClass": "court_express",
        "returnReceiptRequired": true,
        "printCentre": {"code": centre.id, "region": centre.id.region()},
        "electronicAttempt": {
            "at": attempt["at"],
            "method": attempt["channel"],
            "outcome": electronic_outcome(attempt["outcome"].as_str().unwrap_or_default()),
            "reason": attempt["reason"],
        },
    });
    Ok(Some(JobChange::Open(PrintJob {
        id,
        request_id: record.id,
        print_centre: centre.id.clone(),
        state: "received".to_owned(),
        job,
        created_at: g.clock.now(),
    })))
}

/// The certificate's word for an electronic attempt's outcome.
fn electronic_outcome(outcome: &str) -> &'static str {
    match outcome {
        "refused" => "refused",
        "failed" | "no_consent" => "failed",
        _ => "success",
    }
}

/// A centre reports `event` (a `printing.event` payload) on print job `job_id`, under
/// its idempotency key: a retry gets the first answer and records nothing.
pub async fn report(
    g: &Gateway,
    centre: &PrintCentreId,
    job_id: MessageId,
    event: Value,
    idempotency_key: String,
) -> Result<JobAnswer, Problem> {
    use crate::outbound::idempotency;
    let owner = format!("printcentre:{centre}");
    let asked = json!({"jobId": job_id, "event": &event});
    idempotency::once(g, &owner, idempotency_key, &asked, |key| {
        report_new(g, centre, job_id, event, key)
    })
    .await
}

/// A centre's report under a key not answered yet.
async fn report_new(
    g: &Gateway,
    centre: &PrintCentreId,
    job_id: MessageId,
    event: Value,
    key: crate::store::Idempotency,
) -> Result<JobAnswer, Problem> {
    use crate::outbound::idempotency;
    let request_hash = key.request_hash;
    let job = g
        .store
        .print_job(&job_id)
        .await
        .map_err(Problem::internal)?;
    let job = job.filter(|j| &j.print_centre == centre).ok_or_else(|| {
        Problem::new(
            Code::NotFound,
            format!("print centre {centre} has no print job {job_id}"),
        )
    })?;
    let record = g
        .store
        .request(&job.request_id)
        .await
        .map_err(Problem::internal)?;
    let record =
        record.ok_or_else(|| Problem::internal(format!("print job {job_id} has no request")))?;
    let agreement = pipeline::resolve_accepted(g, &record.agreement_sha256)?;
    let kind = MessageKind::parse("printing.event").map_err(Problem::internal)?;
    pipeline::validate_payload(&g.schemas, &agreement, &kind, &event, g.clock.now())?;
    if event["jobId"] != job.job["jobId"] {
        return Err(Problem::new(
            Code::BadRequest,
            format!(
                "the event names job {}, but it was posted to job {job_id}",
                event["jobId"]
            ),
        ));
    }
    let step = lifecycle::event_of(&kind, &event);
    let state = lifecycle::transition(kind.family(), &job.state, &step)
        .map_err(|e| Problem::illegal(kind.family(), &job_id, e))?;
    let next = state.clone();
    let mut facts = job.job.clone();
    if step == "posted" {
        facts["postal"] =
            json!({"trackingNumber": event["trackingNumber"], "postedAt": event["at"]});
    }
    let actor = format!("printcentre:{centre}");
    let advance = JobChange::Advance {
        job_id,
        from: job.state.clone(),
        state,
        job: facts.clone(),
    };
    // Steps inside the centre (enveloped, a scanned return receipt) stay with the job.
    let Some(outcome) = attempt_outcome(&step) else {
        let answer = JobAnswer {
            job_id,
            state: next,
            message_id: None,
        };
        let key = idempotency::with_answer(key, &answer);
        return match note_job(g, &record, advance, &actor, &event, key).await? {
            None => Ok(answer),
            Some(first) => idempotency::replay(first, request_hash),
        };
    };
    let attempt = attempt_payload(&facts, &event, outcome, centre);
    let attempt_kind = MessageKind::parse("service.attempt").map_err(Problem::internal)?;
    let addressees = outbound::addressees_of(g, &record).await?;
    let (mut out, accepted) =
        outbound::prepare_update(g, &record, &addressees, &attempt_kind, attempt, &actor)?;
    out.jobs.push(advance);
    if let Some(certificate) = certificate(&facts, &event, &step) {
        // The request moves on from the attempt's state to completed.
        let mut after = record.clone();
        after.state = match &out.change {
            crate::store::StateChange::Advance { state, .. } => state.clone(),
            _ => record.state.clone(),
        };
        let result_kind = MessageKind::parse("service.result").map_err(Problem::internal)?;
        // A postal step leaves the addressee where it was (postal), so the addressees as
        // they stood before it decide whether this certificate completes the request.
        let (result, _) =
            outbound::prepare_update(g, &after, &addressees, &result_kind, certificate, &actor)?;
        out.followups.push(result);
    }
    let answer = JobAnswer {
        job_id,
        state: next,
        message_id: Some(accepted.message_id),
    };
    out.idempotency = Some(idempotency::with_answer(key, &answer));
    match outbound::store(g, out).await? {
        crate::store::OutboundOutcome::Committed { .. } => Ok(answer),
        crate::store::OutboundOutcome::Replay(first) => idempotency::replay(first, request_hash),
    }
}

/// What a centre's report answers.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobAnswer {
    /// The job.
    pub job_id: MessageId,
    /// Its state now.
    pub state: String,
    /// The `service.attempt` sent to the requesting court, if the step is one it sees.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<MessageId>,
}

/// The `service.attempt` outcome a centre's step is reported as (none: the step stays
/// inside the centre).
fn attempt_outcome(step: &str) -> Option<&'static str> {
    Some(match step {
        "printed" => "printed",
        "posted" => "posted",
        "delivery_attempt" => "delivery_attempt",
        "delivered" => "delivered",
        "mail_returned" => "returned",
        _ => return None,
    })
}

fn attempt_payload(job: &Value, event: &Value, outcome: &str, centre: &PrintCentreId) -> Value {
    let mut a = json!({
        "addresseeName": job["addresseeName"],
        "channel": "postal",
        "outcome": outcome,
        "at": event["at"],
        "printCentre": centre,
    });
    if let Some(t) = job["postal"]["trackingNumber"].as_str() {
        a["trackingNumber"] = json!(t);
    }
    for field in ["attempt", "signedBy", "relation"] {
        if let Some(v) = event.get(field) {
            a[field] = v.clone();
        }
    }
    if let Some(reason) = event["returnReason"].as_str() {
        a["reason"] = json!({"code": reason, "text": format!("returned by the post: {}", reason.replace('_', " "))});
    }
    a
}

/// The certificate of service a delivery or a return completes the request with.
fn certificate(job: &Value, event: &Value, step: &str) -> Option<Value> {
    let postal = &job["postal"];
    let electronic = &job["electronicAttempt"];
    let docs: Vec<Value> = job["documents"]
        .as_array()
        .map(|d| d.iter().map(|x| x["docId"].clone()).collect())
        .unwrap_or_default();
    let mut c = json!({
        "addresseeName": job["addresseeName"],
        "method": "postal",
        "fallbackToPostal": true,
        "postal": {"carrier": "court_express", "trackingNumber": postal["trackingNumber"], "postedAt": postal["postedAt"]},
        "attempts": [
            {"at": electronic["at"], "method": electronic["method"], "outcome": electronic["outcome"]},
        ],
    });
    match step {
        "delivered" => {
            let relation = match event["relation"].as_str() {
                Some("mailroom") | None => "other",
                Some(r) => r,
            };
            c["status"] = json!("served");
            c["servedAt"] = event["at"].clone();
            c["documentsServed"] = json!(docs);
            c["receivedBy"] = json!({"name": event["signedBy"], "relation": relation});
            c["attempts"]
                .as_array_mut()?
                .push(json!({"at": event["at"], "method": "postal", "outcome": "success"}));
        }
        "mail_returned" => {
            let why = event["returnReason"]
                .as_str()
                .unwrap_or("no reason given")
                .replace('_', " ");
            c["postal"]["returnedAt"] = event["at"].clone();
            c["attempts"]
                .as_array_mut()?
                .push(json!({"at": event["at"], "method": "postal", "outcome": "returned"}));
            if event["addressConfirmedByParty"] == true {
                // The party confirmed this address: the return date counts as the date of
                // service (法院专递规定; DOMAIN.md, remote printing).
                c["status"] = json!("served");
                c["effect"] = json!("deemed_served");
                c["servedAt"] = event["at"].clone();
                c["documentsServed"] = json!(docs);
                c["note"] = json!(format!(
                    "returned by the post ({why}) from the address the party confirmed: served on the return date"
                ));
            } else {
                c["status"] = json!("not_served");
                c["reason"] = json!({"code": "mail_returned", "text": format!("the post returned the item: {why}")});
            }
        }
        _ => return None,
    }
    Some(c)
}

/// Records a print centre's step that stays inside the centre (no message leaves).
async fn note_job(
    g: &Gateway,
    record: &RequestRecord,
    job: JobChange,
    actor: &str,
    report: &Value,
    key: crate::store::Idempotency,
) -> Result<Option<crate::store::Idempotency>, Problem> {
    let mut event = Event::new("print job", actor);
    event.detail = serde_json::json!({"event": report});
    let change = StateChange::Note {
        request_id: record.id,
    };
    g.store
        .record_job(job, change, event, Some(key), g.clock.now())
        .await
        .map_err(crate::store::StoreError::into_problem)
}
