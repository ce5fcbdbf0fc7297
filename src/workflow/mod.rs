//! Request states and how updates move them ([`lifecycle`] has the tables per kind).
//!
//! The requesting side sees `submitted → relayed → …`; the executing side sees
//! `received → retrieved → …`. Updates from the executing court move both sides to the
//! same state: a status update to the status it names, a result to `completed`.
//! `rejected` means the peer gateway refused the message itself; `failed`, that it
//! could not be delivered before it expired.

pub mod addressees;
pub mod deadlines;
pub mod filing;
pub mod lifecycle;
pub mod queue;

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

/// States after which no update is accepted (but for a print job's scanned return
/// receipt, see [`lifecycle`]); a filing ends docketed, not accepted or transferred.
pub const TERMINAL: &[&str] = &[
    COMPLETED,
    "refused",
    RETURNED,
    REJECTED,
    FAILED,
    "mail_returned",
    "docketed",
    "not_accepted",
    "transferred",
];

/// Whether `state` is final.
pub fn is_terminal(state: &str) -> bool {
    TERMINAL.contains(&state)
}
