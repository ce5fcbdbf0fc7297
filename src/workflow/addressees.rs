//! Service on several addressees. A service request may name several addressees; each is
//! served, and certified, on its own: its attempts, its postal fallback and its
//! certificate of service (`service.result`) name it by `addresseeName`, exactly as the
//! request names it. Each addressee walks the service lifecycle of
//! [`super::lifecycle::SERVICE`] from `accepted`; the request as a whole is
//!
//! - `completed` once every addressee is served or finally not served (it has its
//!   certificate), and only then: the first certificates leave it open;
//! - `postal` while some addressee is being served by post;
//! - `serving` while some addressee has an attempt or a certificate but none is postal;
//! - `accepted` before any attempt.
//!
//! With one addressee this is the plain service lifecycle. Both gateways compute it from
//! the request and the updates they hold, so the requesting court's gateway refuses a
//! second certificate for the same addressee as the executing court's does.

use serde::Serialize;
use serde_json::Value;

use super::lifecycle::{self, Illegal};
use crate::ids::{Family, MessageId, MessageKind};
use crate::problem::{Code, Problem};

/// The events that concern one addressee (the others concern the request).
const ADDRESSEE_EVENTS: &[&str] = &["attempt", "postal_fallback", "postal_progress", "result"];

/// Where one addressee stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Addressee {
    /// As the request names it.
    pub name: String,
    /// `pending` (no attempt yet), `serving` (electronic attempts), `postal` (served by
    /// post after electronic service failed), or, once certified, the certificate's
    /// status: `served`, `partially_served`, `not_served`, `refused`.
    pub state: String,
    /// Attempts reported so far (electronic attempts and postal steps).
    pub attempts: u32,
    /// The certificate of service, once there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certificate: Option<Certificate>,
    #[serde(skip)]
    phase: String,
}

/// The certificate of service an addressee was certified with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Certificate {
    /// The `service.result` message.
    pub message_id: MessageId,
    /// `served`, `partially_served`, `not_served` or `refused`.
    pub status: String,
    /// How it was served, if it was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// When, if it was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub served_at: Option<String>,
}

impl Addressee {
    fn new(name: String) -> Self {
        Addressee {
            name,
            state: "pending".to_owned(),
            attempts: 0,
            certificate: None,
            phase: "accepted".to_owned(),
        }
    }

    /// Whether it is served or finally not served.
    pub fn certified(&self) -> bool {
        self.certificate.is_some()
    }
}

/// The addressees of service request `request`, after `updates` (the request's updates in
/// the order they were committed: message id, kind, payload). Empty for other requests.
pub fn progress<'a>(
    request: &Value,
    updates: impl IntoIterator<Item = (MessageId, &'a MessageKind, &'a Value)>,
) -> Vec<Addressee> {
    let mut all: Vec<Addressee> = request
        .get("addressees")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|a| a.get("name").and_then(Value::as_str))
        .map(|n| Addressee::new(n.to_owned()))
        .collect();
    for (id, kind, payload) in updates {
        let event = lifecycle::event_of(kind, payload);
        if kind.family() != Family::Service || !ADDRESSEE_EVENTS.contains(&event.as_str()) {
            continue;
        }
        let Some(a) = all
            .iter_mut()
            .find(|a| Some(a.name.as_str()) == name_of(payload))
        else {
            continue;
        };
        // What is stored was checked when it was committed; a step that no longer fits
        // (it cannot, but a store may hold what an older version let through) is skipped.
        if let Ok(next) = lifecycle::transition(Family::Service, &a.phase, &event) {
            record(a, &event, next, id, payload);
        }
    }
    all
}

fn name_of(payload: &Value) -> Option<&str> {
    payload.get("addresseeName").and_then(Value::as_str)
}

fn record(a: &mut Addressee, event: &str, next: String, id: MessageId, payload: &Value) {
    let text = |f: &str| payload.get(f).and_then(Value::as_str).map(str::to_owned);
    if event == "result" {
        let status = text("status").unwrap_or_else(|| "served".to_owned());
        a.state = status.clone();
        a.certificate = Some(Certificate {
            message_id: id,
            status,
            method: text("method"),
            served_at: text("servedAt"),
        });
    } else {
        a.attempts += 1;
        a.state = next.clone();
    }
    a.phase = next;
}

/// Why an update about an addressee cannot be applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The update names no addressee of the request.
    Unknown {
        /// The name it gave.
        name: String,
        /// The request's addressees.
        known: Vec<String>,
    },
    /// Not a legal next step for that addressee (e.g. a second certificate).
    Illegal {
        /// The addressee.
        name: String,
        /// Why.
        illegal: Illegal,
    },
    /// Not a legal next step for the request as a whole (e.g. an attempt before it was
    /// accepted).
    Request(Illegal),
}

/// What an update about an addressee does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// The request's state after it.
    pub state: String,
    /// The event as deadlines see it: `result` only for the certificate that completes the
    /// request (it meets `service.serve`); an earlier addressee's certificate is
    /// `addressee_result`.
    pub event: String,
}

/// The step an update of `kind` with `payload` makes on a service request in `state` whose
/// addressees stand as `addressees`; `None` when it concerns the request, not an
/// addressee (then the plain lifecycle decides).
pub fn step(
    state: &str,
    addressees: &[Addressee],
    kind: &MessageKind,
    payload: &Value,
) -> Option<Result<Step, Refusal>> {
    let event = lifecycle::event_of(kind, payload);
    if kind.family() != Family::Service || !ADDRESSEE_EVENTS.contains(&event.as_str()) {
        return None;
    }
    // Until the request is accepted (and once it is finished) the request decides.
    let phase = if lifecycle::OPEN.contains(&state) {
        "open"
    } else {
        state
    };
    if !["accepted", "serving", "postal"].contains(&phase) {
        return Some(
            lifecycle::transition(Family::Service, state, &event)
                .map_err(Refusal::Request)
                .map(|state| Step {
                    state,
                    event: event.clone(),
                }),
        );
    }
    // A request whose payload names no addressees (it cannot pass its schema) is one
    // anonymous addressee.
    let mut all = addressees.to_vec();
    if all.is_empty() {
        all.push(Addressee::new(
            name_of(payload).unwrap_or_default().to_owned(),
        ));
    }
    let name = name_of(payload).unwrap_or_default();
    let Some(i) = all.iter().position(|a| a.name == name) else {
        return Some(Err(Refusal::Unknown {
            name: name.to_owned(),
            known: all.into_iter().map(|a| a.name).collect(),
        }));
    };
    let next = match lifecycle::transition(Family::Service, &all[i].phase, &event) {
        Ok(next) => next,
        Err(illegal) => {
            return Some(Err(Refusal::Illegal {
                name: name.to_owned(),
                illegal: Illegal {
                    state: all[i].state.clone(),
                    ..illegal
                },
            }));
        }
    };
    record(&mut all[i], &event, next, MessageId::new(), payload);
    let state = aggregate(&all).to_owned();
    let event = if event == "result" && state != "completed" {
        "addressee_result".to_owned()
    } else {
        event
    };
    Some(Ok(Step { state, event }))
}

/// The state an update of `kind` with `payload` moves a `family` request `id` in `state`
/// to, and the event its deadlines see: by the addressee's own lifecycle for an update
/// about one addressee of a service request, by the request's otherwise.
pub fn next(
    family: Family,
    id: &MessageId,
    state: &str,
    addressees: &[Addressee],
    kind: &MessageKind,
    payload: &Value,
) -> Result<Step, Problem> {
    match step(state, addressees, kind, payload) {
        Some(Ok(step)) => Ok(step),
        Some(Err(refusal)) => Err(refusal.problem(family, id)),
        None => {
            let event = lifecycle::event_of(kind, payload);
            let state = lifecycle::transition(family, state, &event)
                .map_err(|e| Problem::illegal(family, id, e))?;
            Ok(Step { state, event })
        }
    }
}

impl Refusal {
    /// The refusal as the court (or the peer) is told it.
    pub fn problem(self, family: Family, request: &MessageId) -> Problem {
        match self {
            Refusal::Request(illegal) => Problem::illegal(family, request, illegal),
            Refusal::Unknown { name, known } => Problem::new(
                Code::BadRequest,
                format!(
                    "service request {request} names no addressee {name:?}; name one exactly as the request does: {}",
                    known.join(", ")
                ),
            ),
            Refusal::Illegal { name, illegal } => Problem::illegal_for(
                &format!("addressee {name:?} of service request {request}"),
                illegal,
            ),
        }
    }
}

/// The request's state from its addressees'.
fn aggregate(all: &[Addressee]) -> &'static str {
    if all.iter().all(Addressee::certified) {
        "completed"
    } else if all.iter().any(|a| a.phase == "postal") {
        "postal"
    } else if all.iter().any(|a| a.phase != "accepted") {
        "serving"
    } else {
        "accepted"
    }
}

#[cfg(test)]
mod tests;
