//! Several relayed messages in one request (`POST /federation/v1/messages/batch`): each
//! checked as the single route does it ([`super::receive`]), all at once; those that pass
//! are committed in one of the store's group commits ([`Gather`]), each under its own
//! savepoint; each is answered on its own, in the order sent.

use rustls_pki_types::CertificateDer;
use serde_json::Value;

use std::sync::Mutex;

use tokio::sync::{Notify, oneshot};

use crate::api::{MessageBatch, MessageResult, MessageResults};
use crate::gateway::Gateway;
use crate::observe::journey::{self, Direction};
use crate::problem::{Code, Problem};
use crate::store::{Inbound, InboundOutcome, Store, StoreError};

/// Most messages in one batch.
pub const BATCH_MAX: usize = 64;

/// Takes a peer gateway's batch of up to [`BATCH_MAX`] messages. Each is checked and
/// committed as [`super::receive`] does one, under the trace its `traceparent` names, and
/// gets its own result: the relay receipt, or the problem the single route would have
/// answered. A refused message leaves the others as they are. Only a caller that is not a
/// peer gateway, or a body that is not a batch (an item that is not an envelope
/// included), is refused whole.
pub async fn receive_batch(
    g: &Gateway,
    chain: &[CertificateDer<'static>],
    body: Value,
) -> Result<MessageResults, Problem> {
    crate::attachments::peers::authenticate(g, chain)?;
    let batch: MessageBatch = serde_json::from_value(body).map_err(|e| {
        Problem::new(
            Code::BadRequest,
            format!(
                "the body is not a batch of messages (`{{\"messages\": [{{\"envelope\": …}}]}}`): {e}"
            ),
        )
    })?;
    let count = batch.messages.len();
    Problem::batch_of(count, BATCH_MAX, "messages")?;
    // A batch whose items are not all envelopes is malformed: refused whole.
    let mut parsed = Vec::with_capacity(count);
    for (place, m) in batch.messages.into_iter().enumerate() {
        let unverified = crate::pipeline::parse(m.envelope).map_err(|p| {
            Problem::new(
                Code::BadRequest,
                format!(
                    "messages[{place}].envelope is not an envelope: {}",
                    p.detail
                ),
            )
        })?;
        parsed.push((unverified, m.traceparent));
    }
    // Checked together; those that pass are committed together, once every one is either
    // checked or refused.
    let gather = Gather::new(count);
    let work = parsed.into_iter().map(|(unverified, traceparent)| {
        let trace = crate::observe::trace::parse(traceparent.as_deref());
        let one = super::receive_parsed(g, chain, unverified, Some(gather.seat()));
        journey::follow(&g.observer.metrics, Direction::Inbound, trace, one)
    });
    let (results, ()) = tokio::join!(
        futures_util::future::join_all(work),
        gather.commit(&*g.store)
    );
    let results = results
        .into_iter()
        .map(|answer| match answer {
            Ok(answer) => MessageResult::Taken(answer),
            Err(problem) => MessageResult::Refused { problem },
        })
        .collect();
    Ok(MessageResults { results })
}

type Reply = oneshot::Sender<Result<InboundOutcome, StoreError>>;

/// The commits of a batch's messages, gathered so that they reach the store together:
/// each message holds a [`Seat`] until it hands its commit over or is refused, and
/// [`Gather::commit`] commits what was handed over once no seat is held.
struct Gather {
    state: Mutex<Gathered>,
    all_in: Notify,
}

struct Gathered {
    /// Seats still held.
    seats: usize,
    units: Vec<(Inbound, Reply)>,
}

/// One message's place in its batch's commit: it hands its commit over
/// ([`Seat::commit`]), or gives the place up when dropped (refused before its commit).
pub(super) struct Seat<'a> {
    gather: &'a Gather,
    handed: bool,
}

impl Gather {
    fn new(seats: usize) -> Self {
        Gather {
            state: Mutex::new(Gathered {
                seats,
                units: Vec::new(),
            }),
            all_in: Notify::new(),
        }
    }

    /// A seat (one for each message of the batch, as many as [`Gather::new`] was told).
    fn seat(&self) -> Seat<'_> {
        Seat {
            gather: self,
            handed: false,
        }
    }

    /// Counts a seat out (handing over `unit` first, if any); the last wakes the commit.
    fn leave(&self, unit: Option<(Inbound, Reply)>) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.units.extend(unit);
        state.seats = state.seats.saturating_sub(1);
        if state.seats == 0 {
            self.all_in.notify_one();
        }
    }

    /// Once every seat is given up or handed over, commits what was handed over in one
    /// group and answers each.
    async fn commit(&self, store: &dyn Store) {
        self.all_in.notified().await;
        let units = std::mem::take(&mut self.state.lock().unwrap_or_else(|p| p.into_inner()).units);
        if units.is_empty() {
            return;
        }
        let (messages, replies): (Vec<Inbound>, Vec<Reply>) = units.into_iter().unzip();
        let outcomes = store.commit_inbound_together(messages).await;
        for (reply, outcome) in replies.into_iter().zip(outcomes) {
            // A message whose future is gone no longer needs its answer.
            let _ = reply.send(outcome);
        }
    }
}

impl Seat<'_> {
    /// Hands `m` over to the batch's commit; its outcome once that committed.
    pub(super) async fn commit(mut self, m: Inbound) -> Result<InboundOutcome, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.handed = true;
        self.gather.leave(Some((m, reply)));
        answer.await.unwrap_or_else(|_| {
            Err(StoreError::Backend(
                "the batch's commit gave no answer".into(),
            ))
        })
    }
}

impl Drop for Seat<'_> {
    fn drop(&mut self) {
        if !self.handed {
            self.gather.leave(None);
        }
    }
}
