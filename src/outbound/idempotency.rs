//! Court idempotency keys: a retried submission with the same key gets the first answer;
//! the same key for a different request is a conflict.

use serde_json::Value;

use crate::api::{Accepted, Submission};
use crate::crypto;
use crate::gateway::Gateway;
use crate::ids::{CourtId, Sha256};
use crate::problem::{Code, Problem};
use crate::store::Idempotency;

/// The longest idempotency key accepted.
pub const MAX_IDEMPOTENCY_KEY: usize = 128;

/// What a court's idempotency key says about a submission.
pub(super) enum Idempotent {
    /// No key given.
    Untracked,
    /// The key already has this answer for this very request.
    Replay(Accepted),
    /// A new key: store this record with the answer.
    New(Idempotency),
}

/// Looks the key up: a first answer to replay, or the record to store with this one.
pub(super) async fn idempotency(
    g: &Gateway,
    court: &CourtId,
    body: &Submission,
    key: Option<String>,
) -> Result<Idempotent, Problem> {
    let Some(key) = key else {
        return Ok(Idempotent::Untracked);
    };
    if key.is_empty()
        || key.len() > MAX_IDEMPOTENCY_KEY
        || !key.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(Problem::new(
            Code::BadRequest,
            format!("Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY} visible ASCII characters"),
        ));
    }
    let request_hash: Sha256 = crypto::canonical_digest(body).map_err(Problem::internal)?;
    match g
        .store
        .idempotent_answer(court, &key)
        .await
        .map_err(Problem::internal)?
    {
        Some(first) => replay(first, request_hash).map(Idempotent::Replay),
        None => Ok(Idempotent::New(Idempotency {
            court: court.clone(),
            key,
            request_hash,
            status: 202,
            body: Value::Null,
        })),
    }
}

/// The first answer to a key, if it was given to the same request; else a conflict.
pub(super) fn replay(first: Idempotency, request_hash: Sha256) -> Result<Accepted, Problem> {
    if first.request_hash != request_hash {
        return Err(Problem::new(
            Code::Conflict,
            format!(
                "Idempotency-Key {:?} was already used by court {} for a different request",
                first.key, first.court
            ),
        ));
    }
    serde_json::from_value(first.body).map_err(Problem::internal)
}
