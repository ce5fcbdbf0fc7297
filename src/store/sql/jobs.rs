//! The SQLite engine's print jobs: opened and moved inside the transaction of the message
//! that causes them, and read back for the centre's reports.

use sqlx::Row;

use super::SqlStore;
use time::OffsetDateTime;

use super::exec::{Exec, args};
use super::tx::{apply, insert_notice, json_text};
use crate::clock::{from_unix_millis, unix_millis};
use crate::ids::{MessageId, PrintCentreId};
use crate::store::{Event, JobChange, PrintJob, StateChange, StoreError};
use crate::workflow::queue::Holds;

/// Applies one job change at `at` (Unix ms); `priority` ranks the job in the centre's inbox.
pub(super) async fn apply_job<E: Exec + ?Sized>(
    tx: &mut E,
    change: &JobChange,
    priority: i64,
    at: i64,
) -> Result<(), StoreError> {
    match change {
        JobChange::Open(job) => {
            tx.execute(
                "INSERT INTO print_jobs (id, request_id, print_centre, state, job, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
                args![
                    &job.id.to_string(),
                    &job.request_id.to_string(),
                    job.print_centre.as_str(),
                    &job.state,
                    &json_text(&job.job)?,
                    unix_millis(job.created_at),
                    at,
                ],
            )
            .await?;
            let request = job.request_id.to_string();
            let centre = job.print_centre.as_str();
            insert_notice(
                tx,
                centre,
                &request,
                "printing.request",
                priority,
                at,
                &job.job,
            )
            .await
        }
        JobChange::Advance {
            job_id,
            from,
            state,
            job,
        } => {
            let done = tx
                .execute(
                    "UPDATE print_jobs SET state = $1, job = $2, updated_at = $3 WHERE id = $4 AND state = $5",
                    args![state, &json_text(job)?, at, &job_id.to_string(), from],
                )
                .await?;
            if done == 1 {
                Ok(())
            } else {
                Err(StoreError::Raced(format!(
                    "print job {job_id} is no longer {from}: another report changed it first"
                )))
            }
        }
    }
}

/// Applies a result's holds: releases the rulings it lifts, then records what it freezes,
/// after checking that as many freezes hold each asset as when the result was checked.
pub(super) async fn apply_holds<E: Exec + ?Sized>(
    tx: &mut E,
    request_id: MessageId,
    holds: &Holds,
    at: i64,
) -> Result<(), StoreError> {
    for ruling in &holds.lift {
        tx.execute(
            "UPDATE frozen_assets SET lifted_at = $1 WHERE ruling = $2 AND lifted_at IS NULL",
            args![at, ruling],
        )
        .await?;
    }
    for h in &holds.freeze {
        // Freezes of one asset take turns, so the count below is the true queue.
        super::tx::serialise(tx, &format!("asset:{}", h.asset_key)).await?;
        let request = request_id.to_string();
        let ahead = tx
            .optional(
                "SELECT COUNT(*) FROM frozen_assets WHERE asset_key = $1 AND lifted_at IS NULL AND request_id <> $2",
                args![&h.asset_key, &request],
            )
            .await?
            .map(|row| row.int(0))
            .transpose()?
            .unwrap_or(0);
        if usize::try_from(ahead).ok() != Some(h.ahead) {
            return Err(StoreError::Raced(format!(
                "another freeze of asset {} was recorded meanwhile; check its queue position again",
                h.asset_index
            )));
        }
        tx.execute(
            "INSERT INTO frozen_assets (asset_key, request_id, asset_index, ruling, frozen_at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (request_id, asset_index) DO NOTHING",
            args![&h.asset_key, &request, h.asset_index, &h.ruling, at],
        )
        .await?;
    }
    Ok(())
}

impl SqlStore {
    pub(super) async fn read_holders(
        &self,
        asset_key: &str,
        request: &MessageId,
    ) -> Result<Vec<(MessageId, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT request_id, ruling FROM frozen_assets WHERE asset_key = $1 AND lifted_at IS NULL AND request_id <> $2 ORDER BY seq",
        )
        .bind(asset_key)
        .bind(request.to_string())
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                let id: String = r.try_get("request_id")?;
                let id = MessageId::parse(&id).map_err(|e| StoreError::Backend(e.to_string()))?;
                Ok((id, r.try_get("ruling")?))
            })
            .collect()
    }

    pub(super) async fn write_job_step(
        &self,
        job: JobChange,
        change: StateChange,
        event: Event,
        idempotency: Option<crate::store::Idempotency>,
        now: OffsetDateTime,
    ) -> Result<Option<crate::store::Idempotency>, StoreError> {
        let mut tx = self.dialect.begin_write(&self.write).await?;
        if let Some(first) = Self::first_answer(&mut tx, idempotency.as_ref()).await? {
            return Ok(Some(first));
        }
        apply_job(&mut tx, &job, 0, unix_millis(now)).await?;
        apply(&mut tx, &change, &event, None, now).await?;
        Self::keep_answer(&mut tx, idempotency.as_ref(), None, now).await?;
        tx.commit().await?;
        Ok(None)
    }

    pub(super) async fn read_print_job(
        &self,
        id: &MessageId,
    ) -> Result<Option<PrintJob>, StoreError> {
        let row = sqlx::query("SELECT * FROM print_jobs WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(&self.read)
            .await?;
        row.as_ref().map(print_job).transpose()
    }
}

/// A print job from a row of `print_jobs`.
pub(super) fn print_job(r: &sqlx::any::AnyRow) -> Result<PrintJob, StoreError> {
    let bad = |e: String| StoreError::Backend(e);
    Ok(PrintJob {
        id: MessageId::parse(&r.try_get::<String, _>("id")?).map_err(|e| bad(e.to_string()))?,
        request_id: MessageId::parse(&r.try_get::<String, _>("request_id")?)
            .map_err(|e| bad(e.to_string()))?,
        print_centre: PrintCentreId::parse(&r.try_get::<String, _>("print_centre")?)
            .map_err(|e| bad(e.to_string()))?,
        state: r.try_get("state")?,
        job: serde_json::from_str(&r.try_get::<String, _>("job")?)
            .map_err(|e| bad(e.to_string()))?,
        created_at: from_unix_millis(r.try_get("created_at")?),
    })
}
