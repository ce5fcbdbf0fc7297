//! One group's transaction: where the committer writes it ([`Target`]: its own SQLite
//! connection or the write pool) and how its units run in it, each under its own
//! savepoint, so that one failing leaves the others (see [`super::group`]). On SQLite a
//! group first runs without savepoints ([`bare`]); only if a unit fails is it rolled back
//! and run again with them.

use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyPool};

use super::Dialect;
use super::checkpoint::Checkpointer;
use super::exec::Exec;
use super::group::{Answers, Batch, Done, Unit};
use super::local::Local;
use super::tx::serialise;
use super::units::{delivered, inbound, outbound};
use crate::store::StoreError;

/// Where a committer writes its groups.
pub(super) enum Target {
    /// A transaction on the write pool: PostgreSQL (and SQLite if the committer's own
    /// connection could not be opened).
    Pool(AnyPool, Dialect),
    /// SQLite: the committer's own connection, written while the committer holds the
    /// write pool's one connection (so nothing else writes meanwhile). `held` is that
    /// connection, kept across groups that follow one another (see [`Target::ease`]).
    Local {
        conn: Box<Local>,
        pool: AnyPool,
        held: Option<Held>,
        checkpoints: Option<Checkpointer>,
    },
}

/// No unit ran: the group could not begin.
fn unanswered(group: Batch) -> Answers {
    group.into_iter().map(|(_, reply)| (reply, None)).collect()
}

/// The group in a transaction of the write pool.
async fn in_pool(
    pool: &AnyPool,
    dialect: Dialect,
    group: Batch,
) -> (Answers, Result<(), StoreError>) {
    let begun = async {
        let mut tx = dialect.begin_write(pool).await?;
        serialise(&mut tx, "audit").await?;
        Ok::<_, StoreError>(tx)
    };
    let mut tx = match begun.await {
        Ok(tx) => tx,
        Err(e) => return (unanswered(group), Err(e)),
    };
    let (answers, end) = run_units(&mut tx, group).await;
    let committed = match end {
        End::Commit => tx.commit().await.map_err(StoreError::from),
        End::Undo => tx.rollback().await.map_err(StoreError::from),
        End::Broken(e) => Err(e),
    };
    (answers, committed)
}

/// The write pool's one connection while the committer holds it, and how many groups
/// it has been held for.
pub(super) struct Held {
    _conn: PoolConnection<Any>,
    groups: usize,
}

/// Most groups in a row for which the committer keeps the write pool's connection while
/// more work waits. Giving it back costs two wake-ups of its worker thread (sqlx pings a
/// connection given back), which per group was the committer's largest cost in system
/// calls; taking it back now and then lets the store's other writes (retries, agreements,
/// deadlines) in.
const HELD_GROUPS: usize = 8;

impl Target {
    /// Writing on the committer's own SQLite connection `conn`, holding `pool`'s one
    /// connection meanwhile; `checkpoints` is told of each group committed.
    pub(super) fn local(conn: Local, pool: AnyPool, checkpoints: Option<Checkpointer>) -> Self {
        Target::Local {
            conn: Box::new(conn),
            pool,
            held: None,
            checkpoints,
        }
    }

    /// Runs `group` in one transaction here: each unit's answer, and how the transaction
    /// ended.
    pub(super) async fn write(&mut self, group: Batch) -> (Answers, Result<(), StoreError>) {
        match self {
            Target::Pool(pool, dialect) => in_pool(pool, *dialect, group).await,
            Target::Local {
                conn,
                pool,
                held,
                checkpoints,
            } => {
                let done = in_local(conn, pool, held, group).await;
                if let Some(c) = checkpoints {
                    c.committed();
                }
                done
            }
        }
    }

    /// Called after each group, its answers gone: gives the write pool's connection back
    /// unless `more` work waits and it has not been held for [`HELD_GROUPS`] groups, and
    /// lets the log start over now and then ([`Checkpointer::catch_up`]).
    pub(super) fn ease(&mut self, more: bool) {
        if let Target::Local { held, .. } = self
            && (!more || held.as_ref().is_some_and(|h| h.groups >= HELD_GROUPS))
        {
            *held = None;
        }
        if let Target::Local {
            conn,
            checkpoints: Some(c),
            ..
        } = self
        {
            c.catch_up(conn.connection(), more);
        }
    }
}

/// The group on the committer's own SQLite connection. The write pool's one connection
/// is held (not used) for at least the group, so no other transaction writes meanwhile.
async fn in_local(
    conn: &mut Local,
    pool: &AnyPool,
    held: &mut Option<Held>,
    group: Batch,
) -> (Answers, Result<(), StoreError>) {
    if held.is_none() {
        match pool.acquire().await {
            Ok(conn) => {
                *held = Some(Held {
                    _conn: conn,
                    groups: 0,
                })
            }
            Err(e) => return (unanswered(group), Err(e.into())),
        }
    }
    if let Some(h) = held {
        h.groups += 1;
    }
    if let Err(e) = conn.batch("BEGIN IMMEDIATE") {
        return (unanswered(group), Err(e));
    }
    let (answers, end) = match bare(conn, group).await {
        Ok(done) => done,
        Err(group) => {
            // A unit failed with no savepoint to fall back to: nothing of the try stays,
            // and the group runs again, each unit under its own savepoint.
            if let Err(e) = conn
                .batch("ROLLBACK")
                .and_then(|()| conn.batch("BEGIN IMMEDIATE"))
            {
                let _ = conn.batch("ROLLBACK");
                return (unanswered(group), Err(e));
            }
            run_units(conn, group).await
        }
    };
    let committed = match end {
        End::Commit => conn.batch("COMMIT"),
        End::Undo => conn.batch("ROLLBACK"),
        End::Broken(e) => Err(e),
    };
    if committed.is_err() {
        // Nothing of the group stays; a transaction a failed COMMIT left open ends here.
        let _ = conn.batch("ROLLBACK");
    }
    (answers, committed)
}

/// SQLite: runs a group of several without savepoints, for a unit almost never fails
/// and a savepoint costs a copy of each page the unit touches (SQLite's sub-journal) and
/// two statements. If every unit succeeds, their answers and [`End::Commit`]; if one
/// fails, `Err` with the group given back (the transaction then holds the units before it
/// and part of it, and must be rolled back). A group of one is [`run_units`]'s as it is.
async fn bare(conn: &mut Local, group: Batch) -> Result<(Answers, End), Batch> {
    if group.len() < 2 {
        return Ok(run_units(conn, group).await);
    }
    let mut done = Vec::with_capacity(group.len());
    for (unit, _) in &group {
        match run_unit(conn, unit, false).await {
            Ok(Ok(outcome)) => done.push(outcome),
            Ok(Err(_)) | Err(_) => return Err(group),
        }
    }
    let answers = group
        .into_iter()
        .zip(done)
        .map(|((_, reply), outcome)| (reply, Some(Ok(outcome))))
        .collect();
    Ok((answers, End::Commit))
}

/// How a group's transaction ends once its units have run.
enum End {
    /// Commit what the units wrote.
    Commit,
    /// Roll back: the group's one unit failed (it is answered with its own error).
    Undo,
    /// The transaction is in doubt (a savepoint could not be ended): every unit gets
    /// this error.
    Broken(StoreError),
}

/// Runs each unit of `group` and says how the transaction ends. In a group of several,
/// each unit runs under its own savepoint, so that one failing leaves the others; the
/// units after an error that broke the transaction are not run. A group of one needs no
/// savepoint (SQLite copies each page the unit touches into the savepoint's journal):
/// if its unit fails, the whole transaction is rolled back.
async fn run_units<E: Exec + ?Sized>(tx: &mut E, group: Batch) -> (Answers, End) {
    let guarded = group.len() > 1;
    let mut answers = Vec::with_capacity(group.len());
    let mut end = End::Commit;
    for (unit, reply) in group {
        if matches!(end, End::Broken(_)) {
            answers.push((reply, None));
            continue;
        }
        match run_unit(tx, &unit, guarded).await {
            Ok(outcome) => {
                if outcome.is_err() && !guarded {
                    end = End::Undo;
                }
                answers.push((reply, Some(outcome)));
            }
            Err(e) => {
                end = End::Broken(e);
                answers.push((reply, None));
            }
        }
    }
    (answers, end)
}

/// Runs one unit, under its own savepoint if `guarded`: `Ok` with the unit's own outcome
/// (an error rolled back to the savepoint, if there is one), or `Err` if the savepoint
/// could not be ended (the whole transaction is then in doubt).
async fn run_unit<E: Exec + ?Sized>(
    tx: &mut E,
    unit: &Unit,
    guarded: bool,
) -> Result<Result<Done, StoreError>, StoreError> {
    if guarded {
        tx.execute("SAVEPOINT unit", &[]).await?;
    }
    let outcome = match unit {
        Unit::Outbound(m, packed) => outbound(tx, m, packed).await.map(Done::Outbound),
        Unit::Inbound(m, packed) => inbound(tx, m, packed).await.map(Done::Stored),
        Unit::Delivered(d) => delivered(tx, d).await.map(Done::Followed),
        Unit::Retrievals(r) => super::retrievals::retrieved(tx, r).await.map(Done::Stored),
        Unit::PeerReceipt(p) => super::retrievals::peer_receipt(tx, p)
            .await
            .map(Done::Stored),
        Unit::ReceiptAttempts(a) => super::receipts::receipt_attempts(tx, a)
            .await
            .map(Done::Stored),
        Unit::Lease(l) => super::work::lease(tx, l).await.map(Done::Leased),
    };
    if guarded {
        if outcome.is_err() {
            tx.execute("ROLLBACK TO SAVEPOINT unit", &[]).await?;
        }
        tx.execute("RELEASE SAVEPOINT unit", &[]).await?;
    }
    Ok(outcome)
}
