//! Group commit: the pipeline's commits (`commit_outbound`, `commit_inbound`) that arrive
//! together share one transaction and one fsync.
//!
//! A committer (started with the first commit; see [`start`]) takes every unit waiting on
//! its channel, up to [`MAX_GROUP`] (preservation work first, in a group of its own),
//! opens one transaction on the write pool, runs each unit under its own SAVEPOINT, and
//! commits once. A unit that fails is rolled back to its savepoint alone and gets its
//! own error; the others go on. Every
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

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use sqlx::{Acquire as _, AnyPool};
use tokio::sync::{mpsc, oneshot};

use super::deadlines::apply_clocks;
use super::tx::{Tx, insert_message, insert_receipt, record, serialise, store_outbound};
use super::{Dialect, SqlStore};
use crate::clock::unix_millis;
use crate::store::{Inbound, Outbound, OutboundOutcome, StoreError};

/// Most units in one transaction.
pub(super) const MAX_GROUP: usize = 128;

/// One commit of the pipeline.
pub(super) enum Unit {
    Outbound(Box<Outbound>),
    Inbound(Box<Inbound>),
    Delivered(Box<Delivered>),
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
    /// A peer's message or a delivery record; `false`: nothing was written (the message
    /// id was stored before, or the outbox item was no longer pending).
    Stored(bool),
}

type Reply = oneshot::Sender<Result<Done, StoreError>>;
type Sender = mpsc::UnboundedSender<(Unit, Reply)>;

/// The channel to the committer task (made at the first commit), and what it counted.
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
        let sender = self
            .committer
            .sender
            .get_or_init(|| start(&self.write, self.dialect, &self.committer.counts));
        let (reply, answer) = oneshot::channel();
        sender
            .send((unit, reply))
            .map_err(|_| StoreError::Backend("the store's committer has stopped".into()))?;
        answer.await.map_err(|_| {
            StoreError::Backend("the store's committer stopped before answering".into())
        })?
    }

    /// Commits `units` as one group, as the committer does with units that arrive
    /// together: each unit's own outcome, in order.
    pub async fn commit_outbound_together(
        &self,
        units: Vec<Outbound>,
    ) -> Vec<Result<OutboundOutcome, StoreError>> {
        let (group, answers): (Vec<_>, Vec<_>) = units
            .into_iter()
            .map(|m| {
                let (reply, answer) = oneshot::channel();
                ((Unit::Outbound(Box::new(m)), reply), answer)
            })
            .unzip();
        commit_group(&self.write, group, &self.committer.counts).await;
        let mut outcomes = Vec::with_capacity(answers.len());
        for answer in answers {
            outcomes.push(match answer.await {
                Ok(Ok(Done::Outbound(outcome))) => Ok(outcome),
                Ok(Err(e)) => Err(e),
                _ => Err(StoreError::Backend("the group gave no answer".into())),
            });
        }
        outcomes
    }

    /// Groups committed so far by this store (and its clones), and the units in them.
    pub fn group_commits(&self) -> (u64, u64) {
        let c = &self.committer.counts;
        (
            c.groups.load(Ordering::Relaxed),
            c.units.load(Ordering::Relaxed),
        )
    }
}

/// Starts the committer and gives its channel. On SQLite it gets a thread and runtime of
/// its own: each of a group's statements is a round trip to sqlx's SQLite worker
/// thread, and on the shared runtime every one of them waited behind the HTTP tasks for
/// a turn (groups held the write connection about 60% longer). On PostgreSQL, whose
/// connections belong to the runtime that opened them, and if the thread cannot be
/// made, it is a task on the caller's runtime.
fn start(write: &AnyPool, dialect: Dialect, counts: &Arc<Counts>) -> Sender {
    if dialect == Dialect::Sqlite {
        let (sender, units) = mpsc::unbounded_channel();
        let (w, c) = (write.clone(), Arc::clone(counts));
        let thread = std::thread::Builder::new()
            .name("kuayu-committer".into())
            .spawn(move || {
                match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime.block_on(run(w, units, c)),
                    // Dropping `units` answers every caller with an error.
                    Err(e) => tracing::error!(error = %e, "the committer has no runtime"),
                }
            });
        match thread {
            Ok(_) => return sender,
            Err(e) => tracing::warn!(error = %e, "no committer thread; committing on the runtime"),
        }
    }
    let (sender, units) = mpsc::unbounded_channel();
    tokio::spawn(run(write.clone(), units, Arc::clone(counts)));
    sender
}

/// Commits groups until every sender is gone.
async fn run(
    write: AnyPool,
    mut units: mpsc::UnboundedReceiver<(Unit, Reply)>,
    counts: Arc<Counts>,
) {
    let mut group = Vec::with_capacity(MAX_GROUP);
    while units.recv_many(&mut group, MAX_GROUP).await > 0 {
        // Preservation work first, in a group of its own: its answer waits for no
        // ordinary unit's statements (each class keeps its order of arrival).
        let (urgent, ordinary): (Vec<_>, Vec<_>) =
            group.drain(..).partition(|(unit, _)| unit.urgent());
        for g in [urgent, ordinary] {
            if !g.is_empty() {
                commit_group(&write, g, &counts).await;
            }
        }
    }
}

impl Unit {
    /// Whether this is preservation work (high priority).
    fn urgent(&self) -> bool {
        let high = crate::envelope::Priority::High;
        match self {
            Unit::Outbound(m) => m.sealed.envelope.priority == high,
            Unit::Inbound(m) => m.sealed.envelope.priority == high,
            Unit::Delivered(d) => d.item.priority >= high.rank(),
        }
    }
}

/// A copy of `e` for each caller of a failed group.
fn copy(e: &StoreError) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// Runs `group` in one transaction and answers each unit.
async fn commit_group(write: &AnyPool, group: Vec<(Unit, Reply)>, counts: &Counts) {
    counts.groups.fetch_add(1, Ordering::Relaxed);
    counts
        .units
        .fetch_add(group.len() as u64, Ordering::Relaxed);
    let mut tx = match begin(write).await {
        Ok(tx) => tx,
        Err(e) => {
            for (_, reply) in group {
                let _ = reply.send(Err(copy(&e)));
            }
            return;
        }
    };
    let mut answers = Vec::with_capacity(group.len());
    let mut broken = None;
    for (unit, reply) in group {
        if broken.is_some() {
            answers.push((reply, None));
            continue;
        }
        match run_unit(&mut tx, &unit).await {
            Ok(outcome) => answers.push((reply, Some(outcome))),
            Err(e) => {
                broken = Some(e);
                answers.push((reply, None));
            }
        }
    }
    let committed = match broken {
        Some(e) => Err(e),
        None => tx.commit().await.map_err(StoreError::from),
    };
    for (reply, outcome) in answers {
        let answer = match (&committed, outcome) {
            (Ok(()), Some(outcome)) => outcome,
            (Err(e), _) => Err(copy(e)),
            (Ok(()), None) => Err(StoreError::Backend("group commit in doubt".into())),
        };
        let _ = reply.send(answer);
    }
}

async fn begin(write: &AnyPool) -> Result<Tx<'static>, StoreError> {
    let mut tx = write.begin().await?;
    serialise(&mut tx, "audit").await?;
    Ok(tx)
}

/// Runs one unit under its own savepoint: `Ok` with the unit's own outcome (an error
/// rolled back to the savepoint), or `Err` if the savepoint could not be ended (the
/// whole transaction is then in doubt).
async fn run_unit(tx: &mut Tx<'_>, unit: &Unit) -> Result<Result<Done, StoreError>, StoreError> {
    let mut savepoint = (&mut **tx).begin().await?;
    let outcome = match unit {
        Unit::Outbound(m) => outbound(&mut savepoint, m).await.map(Done::Outbound),
        Unit::Inbound(m) => inbound(&mut savepoint, m).await.map(Done::Stored),
        Unit::Delivered(d) => delivered(&mut savepoint, d).await.map(Done::Stored),
    };
    match outcome {
        Ok(done) => {
            savepoint.commit().await?;
            Ok(Ok(done))
        }
        Err(e) => {
            savepoint.rollback().await?;
            Ok(Err(e))
        }
    }
}

/// A message our court sends, with its idempotency answer (or the first answer again).
async fn outbound(tx: &mut Tx<'_>, m: &Outbound) -> Result<OutboundOutcome, StoreError> {
    if let Some(first) = SqlStore::first_answer(tx, m.idempotency.as_ref()).await? {
        return Ok(OutboundOutcome::Replay(first));
    }
    store_outbound(tx, m).await?;
    SqlStore::keep_answer(tx, m.idempotency.as_ref(), m.now).await?;
    Ok(OutboundOutcome::Committed)
}

/// A delivery the peer acknowledged; `false` if it was no longer pending.
async fn delivered(tx: &mut Tx<'_>, d: &Delivered) -> Result<bool, StoreError> {
    if !super::tx::finish_outbox(tx, &d.item, "delivered", d.now).await? {
        return Ok(false);
    }
    insert_receipt(tx, d.item.request_id, &d.receipt).await?;
    record(tx, d.change.as_ref(), &d.event, d.item.message_id, d.now).await?;
    apply_clocks(tx, d.item.request_id, &d.clocks, d.now).await?;
    Ok(true)
}

/// A message from a peer; `false` if its id was stored before (nothing written).
async fn inbound(tx: &mut Tx<'_>, m: &Inbound) -> Result<bool, StoreError> {
    let id = m.sealed.envelope.id;
    if !insert_message(tx, &m.sealed, "in", &m.trace_id, m.now).await? {
        return Ok(false);
    }
    let request_id = m.sealed.envelope.in_reply_to.unwrap_or(id);
    if let Some(change) = &m.change {
        super::tx::keep_trace(tx, change, &m.trace_id).await?;
    }
    record(tx, m.change.as_ref(), &m.event, id, m.now).await?;
    if m.change.is_some() {
        apply_clocks(tx, request_id, &m.clocks, m.now).await?;
    }
    insert_receipt(tx, request_id, &m.receipt).await?;
    if let Some(court) = &m.inbox {
        sqlx::query(
            "INSERT INTO inbox (court, message_id, request_id, kind, priority, received_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(court.as_str())
        .bind(id.to_string())
        .bind(request_id.to_string())
        .bind(m.sealed.envelope.kind.as_str())
        .bind(m.sealed.envelope.priority.rank())
        .bind(unix_millis(m.now))
        .execute(&mut **tx)
        .await?;
    }
    Ok(true)
}
