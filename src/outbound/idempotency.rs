//! Idempotency keys on every court and print-centre POST: a retry with the same key and
//! the same body gets the first answer (nothing is done twice); the same key with another
//! body is a conflict; a POST without a key is refused.
//!
//! The check here is the fast path. The commit checks again inside its transaction,
//! under a lock on the key, so two retries that race both get the one first answer.

use axum::http::HeaderMap;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::crypto;
use crate::gateway::Gateway;
use crate::ids::Sha256;
use crate::problem::{Code, Problem};
use crate::store::Idempotency;

/// The longest idempotency key accepted.
pub const MAX_IDEMPOTENCY_KEY: usize = 128;

/// The `Idempotency-Key` of a POST: 1 to [`MAX_IDEMPOTENCY_KEY`] visible ASCII
/// characters, required.
pub fn key_of(headers: &HeaderMap) -> Result<String, Problem> {
    let bad = || {
        Problem::new(
            Code::BadRequest,
            format!("Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY} visible ASCII characters"),
        )
    };
    let value = headers.get("idempotency-key").ok_or_else(|| {
        Problem::new(
            Code::IdempotencyKeyMissing,
            "every POST needs an Idempotency-Key header (e.g. a fresh UUID per piece of work); send the same key again when you retry, and you get the first answer",
        )
    })?;
    let key = value.to_str().map_err(|_| bad())?;
    if key.is_empty()
        || key.len() > MAX_IDEMPOTENCY_KEY
        || !key.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(bad());
    }
    Ok(key.to_owned())
}

/// What a caller's idempotency key says about a POST.
pub enum Idempotent<T> {
    /// The key already has this answer for this very body.
    Replay(T),
    /// A new key: commit this record with the answer.
    New(Idempotency),
}

/// Looks `owner`'s key up: the first answer to replay, or the record to commit with this
/// one (`body`: what the POST asks, hashed to catch a key used for something else).
pub async fn check<T: DeserializeOwned>(
    g: &Gateway,
    owner: &str,
    key: String,
    body: &impl Serialize,
) -> Result<Idempotent<T>, Problem> {
    let request_hash: Sha256 = crypto::canonical_digest(body).map_err(Problem::internal)?;
    match g
        .store
        .idempotent_answer(owner, &key)
        .await
        .map_err(Problem::internal)?
    {
        Some(first) => replay(first, request_hash).map(Idempotent::Replay),
        None => Ok(Idempotent::New(Idempotency {
            owner: owner.to_owned(),
            key,
            request_hash,
            status: 202,
            body: Value::Null,
        })),
    }
}

/// A POST under `owner`'s `key` that records its answer: the first answer again for a
/// repeated key; else `new` runs with the record to commit, and its outcome goes through
/// [`or_first`].
pub async fn once<T, Fut>(
    g: &Gateway,
    owner: &str,
    key: String,
    body: &impl Serialize,
    new: impl FnOnce(Idempotency) -> Fut,
) -> Result<T, Problem>
where
    T: DeserializeOwned,
    Fut: std::future::Future<Output = Result<T, Problem>>,
{
    let key = match check(g, owner, key, body).await? {
        Idempotent::Replay(first) => return Ok(first),
        Idempotent::New(key) => key,
    };
    let outcome = new(key.clone()).await;
    or_first(g, &key, outcome).await
}

/// `outcome` of a POST under the new `key`, unless it was refused while a retry under the
/// same key got its answer: a retry that races the first can read the request after the
/// first moved it on and be refused for it (say, a step that is no longer allowed). Then
/// the first answer is the answer, when it was given to the same body.
pub async fn or_first<T: DeserializeOwned>(
    g: &Gateway,
    key: &Idempotency,
    outcome: Result<T, Problem>,
) -> Result<T, Problem> {
    let refused = match outcome {
        Ok(answer) => return Ok(answer),
        Err(p) => p,
    };
    match g.store.idempotent_answer(&key.owner, &key.key).await {
        Ok(Some(first)) if first.request_hash == key.request_hash => {
            replay(first, key.request_hash).or(Err(refused))
        }
        _ => Err(refused),
    }
}

/// The first answer to a key, if it was given to the same body; else a conflict.
pub fn replay<T: DeserializeOwned>(first: Idempotency, request_hash: Sha256) -> Result<T, Problem> {
    if first.request_hash != request_hash {
        return Err(Problem::new(
            Code::Conflict,
            format!(
                "Idempotency-Key {:?} was already used by {} for a different request",
                first.key, first.owner
            ),
        ));
    }
    serde_json::from_value(first.body).map_err(Problem::internal)
}

/// `record` with `answer` as the body to replay.
pub fn with_answer(record: Idempotency, answer: &impl Serialize) -> Idempotency {
    Idempotency {
        body: serde_json::to_value(answer).unwrap_or(Value::Null),
        ..record
    }
}
