//! Group commit: the pipeline's commits (`commit_outbound`, `commit_inbound`, delivery
//! records, inbox retrievals, receipts carried back and their attempts) that arrive
//! together share one transaction and one fsync.
//!
//! A committer (started with the first commit; see [`start`]) takes every unit waiting on
//! its channel, up to [`MAX_GROUP`] (preservation work first, in a group of its own;
//! ordinary work in slices, looking for preservation work between them: see
//! [`super::slices`]),
//! opens one transaction (on SQLite on its own connection, [`Local`]; on PostgreSQL on the
//! pool), runs each unit under its own SAVEPOINT (a group of one needs none), and commits
//! once (the transaction: [`super::group_tx`]). A unit that fails is rolled back to its savepoint alone and gets its own error;
//! the others go on (a group of one is rolled back whole). On SQLite the group is first
//! tried without savepoints, and run again with them only if a unit failed (the first
//! try rolled back whole), so that the usual group pays for none. Every
//! caller is answered only after the shared COMMIT returned: with its own outcome if it
//! succeeded, or with the COMMIT's error (then nothing of the group is stored). If a
//! savepoint cannot be released or rolled back, the transaction is in doubt: nothing is
//! committed and every unit gets that error.
//!
//! On PostgreSQL the group takes the audit chain's advisory lock first (see
//! [`super::tx::serialise`]): every unit appends to the chain anyway, and taking it
//! before any other key keeps the lock order the same in every group, so replicas never
//! deadlock on it. The conditional updates that make replicas exactly-once
//! ([`StoreError::Raced`]) fail their own unit only.
//!
//! The committer does not wait for more units before committing a small group. Waiting
//! (as PostgreSQL's `commit_delay` does) was tried and not kept: in the federation
//! benchmark (16 clients, 3,000 requests, two alternating runs each), groups went from
//! about 1.5 to about 3 units, and end to end from 600 and 611 req/s without waiting to
//! 621 and 647 waiting 1 ms and 650 and 636 waiting 2 ms, while p99 at half load went
//! from 20.4 and 15.3 ms to 20.8 and 20.3 (1 ms) and 28.0 and 24.5 ms (2 ms): 5% more
//! throughput for latency a court sees at every load. Lingering 1 ms after each group
//! while nothing waited (tried at `740fb1e`) took 6% off the CPU a request at 16 clients
//! and added 2 ms to the p50 end to end at one client (README, "Benchmark").

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use tokio::sync::{mpsc, oneshot};

use super::checkpoint::Checkpointer;
use super::group_tx::Target;
use super::local::Local;
use super::messages::Packed;
use super::slices::Slices;
use super::{Dialect, SqlStore};
use crate::ids::MessageId;
use crate::store::{Inbound, InboundOutcome, Outbound, OutboundOutcome, StoreError};

/// Most units in one transaction.
pub(super) const MAX_GROUP: usize = 128;

/// One commit of the pipeline.
pub(super) enum Unit {
    Outbound(Box<Outbound>, Packed),
    Inbound(Box<Inbound>, Packed),
    Delivered(Box<Delivered>),
    Retrievals(Box<super::retrievals::Retrievals>),
    PeerReceipt(Box<super::retrievals::PeerReceipt>),
    ReceiptAttempts(Vec<super::receipts::ReceiptAttempt>),
    Lease(Box<super::work::Lease>),
}

/// A relay delivery the peer acknowledged (see `Store::outbox_delivered`).
pub(super) struct Delivered {
    pub item: crate::store::OutboxItem,
    pub receipt: crate::receipt::Receipt,
    pub change: Option<crate::store::StateChange>,
    pub event: crate::store::Event,
    pub clocks: crate::workflow::deadlines::Clocks,
    pub now: time::OffsetDateTime,
}

/// What a unit did.
#[derive(Debug)]
pub(super) enum Done {
    Outbound(OutboundOutcome),
    /// Anything else; `false`: nothing was written (the message id was stored before,
    /// the outbox item was no longer pending, the peer's receipt was kept before).
    Stored(bool),
    /// The cursors of the work-queue items leased.
    Leased(Vec<i64>),
    /// A delivery recorded: whether another item of its request is still pending.
    Followed(bool),
}

impl Done {
    /// The error for an answer of another kind than its unit's (a bug, not bad input).
    pub(super) fn wrong(self) -> StoreError {
        StoreError::Backend(format!("group commit: wrong answer {self:?}"))
    }
}

pub(super) type Reply = oneshot::Sender<Result<Done, StoreError>>;
/// Units that must share a group (one, unless [`SqlStore::commit_outbound_together`]).
pub(super) type Batch = Vec<(Unit, Reply)>;
type Sender = mpsc::UnboundedSender<Batch>;
/// Each unit's answer: its own outcome, or `None` if the group broke before or in it.
pub(super) type Answers = Vec<(Reply, Option<Result<Done, StoreError>>)>;

/// The channel to the committer (made at the first commit), and what it counted.
#[derive(Clone, Default)]
pub(crate) struct Committer {
    sender: Arc<OnceLock<Sender>>,
    counts: Arc<Counts>,
}

/// Groups committed (or failed) and the units in them.
#[derive(Default)]
struct Counts {
    groups: AtomicU64,
    units: AtomicU64,
}

impl SqlStore {
    /// Commits `unit` in the next group; answers once that group's COMMIT returned.
    pub(super) async fn commit_unit(&self, unit: Unit) -> Result<Done, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.to_committer(vec![(unit, reply)])?;
        answer.await.map_err(|_| {
            StoreError::Backend("the store's committer stopped before answering".into())
        })?
    }

    fn to_committer(&self, batch: Batch) -> Result<(), StoreError> {
        self.committer
            .sender
            .get_or_init(|| start(self))
            .send(batch)
            .map_err(|_| StoreError::Backend("the store's committer has stopped".into()))
    }

    /// Commits `units` as one group, as the committer does with units that arrive
    /// together: each unit's own outcome, in order.
    pub async fn commit_outbound_together(
        &self,
        units: Vec<Outbound>,
    ) -> Vec<Result<OutboundOutcome, StoreError>> {
        let units = units.into_iter().map(Unit::outbound).collect();
        let outcomes = self.commit_together(units).await;
        outcomes
            .into_iter()
            .map(|outcome| match outcome? {
                Done::Outbound(outcome) => Ok(outcome),
                other => Err(other.wrong()),
            })
            .collect()
    }

    /// What committing inbound message `id` came to: committed now, or stored before (a
    /// duplicate: the first receipt and digest, read back).
    pub(super) async fn inbound_outcome(
        &self,
        id: MessageId,
        done: Result<Done, StoreError>,
    ) -> Result<InboundOutcome, StoreError> {
        match done? {
            Done::Stored(true) => Ok(InboundOutcome::Committed),
            Done::Stored(false) => match self.read_inbound_receipt(&id).await? {
                Some((digest, receipt)) => Ok(InboundOutcome::Duplicate {
                    digest,
                    receipt: Box::new(receipt),
                }),
                None => Err(StoreError::Conflict(format!(
                    "message {id} is stored, but not as received"
                ))),
            },
            other => Err(other.wrong()),
        }
    }

    /// Commits `units` in one group (each under its own savepoint if there are several:
    /// one that fails is undone alone): each unit's own outcome, in order.
    pub(super) async fn commit_together(&self, units: Vec<Unit>) -> Vec<Result<Done, StoreError>> {
        let (batch, answers): (Vec<_>, Vec<_>) = units
            .into_iter()
            .map(|unit| {
                let (reply, answer) = oneshot::channel();
                ((unit, reply), answer)
            })
            .unzip();
        let sent = self.to_committer(batch);
        let mut outcomes = Vec::with_capacity(answers.len());
        for answer in answers {
            outcomes.push(match (&sent, answer.await) {
                (Err(e), _) => Err(copy(e)),
                (_, Ok(outcome)) => outcome,
                (_, Err(_)) => Err(StoreError::Backend("the group gave no answer".into())),
            });
        }
        outcomes
    }

    /// Groups committed so far by this store (and its clones), and the units in them
    /// (`Supervision::group_commits`).
    pub(super) fn committed_groups(&self) -> (u64, u64) {
        let c = &self.committer.counts;
        (
            c.groups.load(Ordering::Relaxed),
            c.units.load(Ordering::Relaxed),
        )
    }
}

/// Starts the committer and gives its channel. On SQLite it gets a thread and runtime of
/// its own and its own connection ([`Local`]): a group's statements run on that thread,
/// one after another, with no round trip to another thread between them. On
/// PostgreSQL, whose connections belong to the runtime that opened them, and if the
/// thread cannot be made, it is a task on the caller's runtime.
fn start(store: &SqlStore) -> Sender {
    let counts = Arc::clone(&store.committer.counts);
    if let (Dialect::Sqlite, Some(file)) = (store.dialect, store.file.clone()) {
        let (sender, batches) = mpsc::unbounded_channel();
        let (pool, c) = (store.write.clone(), Arc::clone(&counts));
        let thread = std::thread::Builder::new()
            .name("kuayu-committer".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime,
                    // Dropping `batches` answers every caller with an error.
                    Err(e) => return tracing::error!(error = %e, "the committer has no runtime"),
                };
                let target = match Local::open(&file) {
                    Ok(conn) => {
                        let checkpoints = Checkpointer::start(&file, super::checkpoint::IDLE)
                            .filter(|_| Checkpointer::take_over(&conn).is_ok());
                        Target::local(conn, pool, checkpoints)
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "the committer has no connection of its own; committing through the write pool");
                        Target::Pool(pool, Dialect::Sqlite)
                    }
                };
                runtime.block_on(run(target, batches, c));
            });
        match thread {
            Ok(_) => return sender,
            Err(e) => tracing::warn!(error = %e, "no committer thread; committing on the runtime"),
        }
    }
    let (sender, batches) = mpsc::unbounded_channel();
    tokio::spawn(run(
        Target::Pool(store.write.clone(), store.dialect),
        batches,
        counts,
    ));
    sender
}

/// Commits groups until every sender is gone.
async fn run(mut target: Target, mut batches: mpsc::UnboundedReceiver<Batch>, counts: Arc<Counts>) {
    let mut received = Vec::with_capacity(MAX_GROUP);
    let mut ordinary: Slices<(Unit, Reply)> = Slices::default();
    loop {
        if ordinary.is_empty() {
            if batches.recv_many(&mut received, MAX_GROUP).await == 0 {
                break;
            }
        } else {
            // What arrived while the last slice was committed, without waiting.
            while received.len() < MAX_GROUP {
                match batches.try_recv() {
                    Ok(batch) => received.push(batch),
                    Err(_) => break,
                }
            }
        }
        // Preservation work first, in a group of its own: its answer waits for no
        // ordinary unit's statements (each class keeps its order of arrival).
        let mut urgent = Vec::new();
        for batch in received.drain(..) {
            let (u, o): (Batch, Batch) = batch.into_iter().partition(|(unit, _)| unit.urgent());
            urgent.extend(u);
            ordinary.push(o);
        }
        if !urgent.is_empty() {
            commit_group(&mut target, urgent, &counts).await;
        }
        // The next slice of ordinary work.
        let group = ordinary.next();
        if !group.is_empty() {
            commit_group(&mut target, group, &counts).await;
        }
        target.ease(!ordinary.is_empty() || !batches.is_empty());
    }
}

impl Unit {
    /// `m` as a unit, its envelopes packed here (see [`Packed`]).
    pub(super) fn outbound(m: Outbound) -> Self {
        let packed = Packed::outbound(&m);
        Unit::Outbound(Box::new(m), packed)
    }

    /// `m` as a unit, its envelope packed here (see [`Packed`]).
    pub(super) fn inbound(m: Inbound) -> Self {
        let packed = Packed::inbound(&m);
        Unit::Inbound(Box::new(m), packed)
    }

    /// Whether this is preservation work (high priority).
    fn urgent(&self) -> bool {
        let high = crate::envelope::Priority::High;
        match self {
            Unit::Outbound(m, _) => m.sealed.envelope.priority == high,
            Unit::Inbound(m, _) => m.sealed.envelope.priority == high,
            Unit::Delivered(d) => d.item.priority >= high.rank(),
            Unit::Lease(l) => l.urgent_only,
            Unit::Retrievals(_) | Unit::PeerReceipt(_) | Unit::ReceiptAttempts(_) => false,
        }
    }
}

/// A copy of `e` for each caller of a failed group.
fn copy(e: &StoreError) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// Runs `group` in one transaction and answers each unit.
async fn commit_group(target: &mut Target, group: Batch, counts: &Counts) {
    counts.groups.fetch_add(1, Ordering::Relaxed);
    counts
        .units
        .fetch_add(group.len() as u64, Ordering::Relaxed);
    let (answers, committed) = target.write(group).await;
    for (reply, outcome) in answers {
        let answer = match (&committed, outcome) {
            (Ok(()), Some(outcome)) => outcome,
            (Err(e), _) => Err(copy(e)),
            (Ok(()), None) => Err(StoreError::Backend("group commit in doubt".into())),
        };
        let _ = reply.send(answer);
    }
}
