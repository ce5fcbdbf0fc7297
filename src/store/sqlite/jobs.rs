//! The SQLite engine's print jobs: opened and moved inside the transaction of the message
//! that causes them, and read back for the centre's reports.

use sqlx::Row;

use super::SqliteStore;
use time::OffsetDateTime;

use super::tx::{Tx, apply, insert_notice, json_text};
use crate::clock::{from_unix_millis, unix_millis};
use crate::ids::{MessageId, PrintCentreId};
use crate::store::{Event, JobChange, PrintJob, StateChange, StoreError};

/// Applies one job change at `at` (Unix ms); `priority` ranks the job in the centre's inbox.
pub(super) async fn apply_job(
    tx: &mut Tx<'_>,
    change: &JobChange,
    priority: i64,
    at: i64,
) -> Result<(), StoreError> {
    match change {
        JobChange::Open(job) => {
            sqlx::query(
                "INSERT INTO print_jobs (id, request_id, print_centre, state, job, created_at, updated_at)
                 VALUES (?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(job.id.to_string())
            .bind(job.request_id.to_string())
            .bind(job.print_centre.as_str())
            .bind(&job.state)
            .bind(json_text(&job.job)?)
            .bind(unix_millis(job.created_at))
            .bind(at)
            .execute(&mut **tx)
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
        JobChange::Advance { job_id, state, job } => {
            let done = sqlx::query(
                "UPDATE print_jobs SET state = ?, job = ?, updated_at = ? WHERE id = ?",
            )
            .bind(state)
            .bind(json_text(job)?)
            .bind(at)
            .bind(job_id.to_string())
            .execute(&mut **tx)
            .await?;
            if done.rows_affected() == 1 {
                Ok(())
            } else {
                Err(StoreError::Conflict(format!("no print job {job_id}")))
            }
        }
    }
}

impl SqliteStore {
    pub(super) async fn write_job_step(
        &self,
        job: JobChange,
        change: StateChange,
        event: Event,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let mut tx = self.write.begin().await?;
        apply_job(&mut tx, &job, 0, unix_millis(now)).await?;
        apply(&mut tx, &change, &event, None, now).await?;
        tx.commit().await?;
        Ok(())
    }

    pub(super) async fn read_print_job(
        &self,
        id: &MessageId,
    ) -> Result<Option<PrintJob>, StoreError> {
        let row = sqlx::query("SELECT * FROM print_jobs WHERE id = ?")
            .bind(id.to_string())
            .fetch_optional(&self.read)
            .await?;
        let Some(r) = row else { return Ok(None) };
        let bad = |e: String| StoreError::Backend(e);
        Ok(Some(PrintJob {
            id: MessageId::parse(&r.try_get::<String, _>("id")?).map_err(|e| bad(e.to_string()))?,
            request_id: MessageId::parse(&r.try_get::<String, _>("request_id")?)
                .map_err(|e| bad(e.to_string()))?,
            print_centre: PrintCentreId::parse(&r.try_get::<String, _>("print_centre")?)
                .map_err(|e| bad(e.to_string()))?,
            state: r.try_get("state")?,
            job: serde_json::from_str(&r.try_get::<String, _>("job")?)
                .map_err(|e| bad(e.to_string()))?,
            created_at: from_unix_millis(r.try_get("created_at")?),
        }))
    }
}
