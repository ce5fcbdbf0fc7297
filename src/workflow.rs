//! Request states and how updates move them.
//!
//! The requesting side sees `submitted → relayed → …`; the executing side sees
//! `received → retrieved → …`. Updates from the executing court move both sides to the
//! same state: a status update to the status it names, a result to `completed`.
//! `rejected` means the peer gateway refused the message itself; `failed`, that it
//! could not be delivered before it expired.

use serde_json::Value;

use crate::ids::MessageKind;

/// A new request at the sending gateway.
pub const SUBMITTED: &str = "submitted";
/// The peer gateway committed the request.
pub const RELAYED: &str = "relayed";
/// A new request at the receiving gateway.
pub const RECEIVED: &str = "received";
/// The executing court pulled it from its inbox.
pub const RETRIEVED: &str = "retrieved";
/// Work in progress.
pub const IN_PROGRESS: &str = "in_progress";
/// The result is in.
pub const COMPLETED: &str = "completed";
/// Given back to the requesting court without being done (e.g. its agreement was revoked).
pub const RETURNED: &str = "returned";
/// The peer gateway refused the message.
pub const REJECTED: &str = "rejected";
/// It could not be delivered before it expired.
pub const FAILED: &str = "failed";

/// States after which no update is accepted.
pub const TERMINAL: &[&str] = &[COMPLETED, "refused", RETURNED, REJECTED, FAILED];

/// Whether `state` is final.
pub fn is_terminal(state: &str) -> bool {
    TERMINAL.contains(&state)
}

/// The state an update of `kind` with `payload` moves its request to.
pub fn state_after(kind: &MessageKind, payload: &Value) -> String {
    let field = |name: &str| {
        payload
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or_default()
    };
    match kind.document() {
        "status" => match field("status") {
            "" => IN_PROGRESS.to_owned(),
            status => status.to_owned(),
        },
        "result" => match field("type") {
            "" | "completion" => COMPLETED.to_owned(),
            "acknowledgement" => "accepted".to_owned(),
            _ => IN_PROGRESS.to_owned(),
        },
        "event" => match field("event") {
            "delivered" | "returned" => COMPLETED.to_owned(),
            _ => IN_PROGRESS.to_owned(),
        },
        _ => IN_PROGRESS.to_owned(),
    }
}
