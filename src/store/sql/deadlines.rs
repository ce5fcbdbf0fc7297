//! The SQLite engine's legal clocks: starting and meeting them inside a message's
//! transaction, and marking those whose time came (with a history entry and a notice to
//! the court) in one transaction of their own.

use serde_json::json;
use sqlx::Row;
use sqlx::any::AnyRow;
use time::OffsetDateTime;

use super::SqlStore;
use super::exec::{Exec, args};
use super::tx::{apply, insert_notice};
use crate::clock::{from_unix_millis, rfc3339, unix_millis};
use crate::ids::{CourtId, MessageId};
use crate::store::{DeadlineRecord, Event, Passed, RequestRecord, StateChange, StoreError};
use crate::workflow::deadlines::{Clocks, MOVABLE, WARNING};

/// Starts and meets `request_id`'s clocks as `clocks` says.
pub(super) async fn apply_clocks<E: Exec + ?Sized>(
    tx: &mut E,
    request_id: MessageId,
    clocks: &Clocks,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    let id = request_id.to_string();
    for due in &clocks.start {
        let sql = if MOVABLE.contains(&due.name.as_str()) {
            "INSERT INTO deadlines (request_id, name, kind, due_at, met_at)
             VALUES ($1, $2, $3, $4, (SELECT met_at FROM deadline_meets WHERE request_id = $1 AND name = $2))
             ON CONFLICT (request_id, name)
             DO UPDATE SET due_at = excluded.due_at, passed_at = NULL WHERE met_at IS NULL"
        } else {
            "INSERT INTO deadlines (request_id, name, kind, due_at, met_at)
             VALUES ($1, $2, $3, $4, (SELECT met_at FROM deadline_meets WHERE request_id = $1 AND name = $2))
             ON CONFLICT (request_id, name) DO NOTHING"
        };
        tx.execute(
            sql,
            args![&id, &due.name, due.kind, unix_millis(due.due_at)],
        )
        .await?;
    }
    // A restarted clock counts again from its new start, pending, whatever it was.
    for due in &clocks.restart {
        tx.execute(
            "INSERT INTO deadlines (request_id, name, kind, due_at, met_at) VALUES ($1, $2, $3, $4, NULL)
             ON CONFLICT (request_id, name) DO UPDATE SET due_at = excluded.due_at, met_at = NULL, passed_at = NULL",
            args![&id, &due.name, due.kind, unix_millis(due.due_at)],
        )
        .await?;
    }
    for (other, name) in &clocks.close {
        tx.execute(
            "UPDATE deadlines SET met_at = $1 WHERE request_id = $2 AND name = $3 AND met_at IS NULL",
            args![unix_millis(now), &other.to_string(), name],
        )
        .await?;
    }
    for name in &clocks.meet {
        tx.execute(
            "INSERT INTO deadline_meets (request_id, name, met_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            args![&id, name, unix_millis(now)],
        )
        .await?;
        tx.execute(
            "UPDATE deadlines SET met_at = $1 WHERE request_id = $2 AND name = $3 AND met_at IS NULL AND kind = 'deadline'",
            args![unix_millis(now), &id, name],
        )
        .await?;
    }
    Ok(())
}

fn deadline(row: &AnyRow) -> Result<DeadlineRecord, StoreError> {
    let time = |col: &str| -> Result<Option<OffsetDateTime>, StoreError> {
        Ok(row.try_get::<Option<i64>, _>(col)?.map(from_unix_millis))
    };
    Ok(DeadlineRecord {
        name: row.try_get("name")?,
        kind: row.try_get("kind")?,
        due_at: from_unix_millis(row.try_get("due_at")?),
        met_at: time("met_at")?,
        notified_at: time("passed_at")?,
        status: String::new(),
    })
}

/// The deadlines of open work and the warnings that fell due by `$1` and were not yet
/// passed on, oldest first.
fn due_sql(columns: &str, limit: u32) -> String {
    format!(
        "SELECT {columns} FROM deadlines d JOIN requests r ON r.id = d.request_id
         WHERE d.met_at IS NULL AND d.passed_at IS NULL AND d.due_at <= $1
           AND (d.kind = 'warning' OR {})
         ORDER BY d.due_at LIMIT {limit}",
        super::dialect::not_terminal("r.state")
    )
}

/// A request's deadlines, by due time, read through `conn` (a connection of the read
/// pool, or a snapshot transaction on it).
pub(super) async fn deadlines_of(
    conn: &mut sqlx::AnyConnection,
    request_id: &MessageId,
) -> Result<Vec<DeadlineRecord>, StoreError> {
    sqlx::query("SELECT * FROM deadlines WHERE request_id = $1 ORDER BY due_at, name")
        .bind(request_id.to_string())
        .fetch_all(conn)
        .await?
        .iter()
        .map(deadline)
        .collect()
}

impl SqlStore {
    /// The freezes our courts sent under `ruling` (in [`crate::workflow::queue::case_number`]
    /// form) whose expiry warning is still open: the only ones a lift has anything to close
    /// on. Their envelopes are read and compared here, not in SQL, because they are stored
    /// compressed ([`super::packed`]).
    pub(super) async fn read_requests_by_ruling(
        &self,
        ruling: &str,
    ) -> Result<Vec<MessageId>, StoreError> {
        let rows = sqlx::query(
            "SELECT r.id, m.id AS envelope_id, m.envelope, m.envelope_z FROM deadlines d
               JOIN requests r ON r.id = d.request_id JOIN messages m ON m.id = r.id
             WHERE d.name = 'freeze.expiry_warning' AND d.kind = 'warning' AND d.met_at IS NULL
               AND r.role = 'requester' AND r.family = 'preservation'",
        )
        .fetch_all(&self.read)
        .await?;
        let mut ids = Vec::new();
        for r in &rows {
            let envelope: serde_json::Value = super::read::envelope_json(r)?;
            let payload = &envelope["payload"];
            let same = payload["rulingNumber"]
                .as_str()
                .is_some_and(|n| crate::workflow::queue::case_number(n) == ruling);
            let freeze = payload["mode"].as_str().is_some_and(|m| m != "lift");
            if same && freeze {
                let id: String = r.try_get("id")?;
                ids.push(MessageId::parse(&id).map_err(|e| StoreError::Backend(e.to_string()))?);
            }
        }
        Ok(ids)
    }

    /// Marks every deadline (of work still open) and warning whose time came by `now`, with
    /// a history entry and a notice to our court, in one transaction.
    pub(super) async fn write_passed(
        &self,
        now: OffsetDateTime,
    ) -> Result<Vec<Passed>, StoreError> {
        let at = unix_millis(now);
        // Most passes find nothing: ask the read pool first, and take the write lock only
        // when something fell due.
        let probe = sqlx::query(sqlx::AssertSqlSafe(due_sql("1", 1))).bind(at);
        if probe.fetch_optional(&self.read).await?.is_none() {
            return Ok(Vec::new());
        }
        let mut tx = self.dialect.begin_write(&self.write).await?;
        let sql = due_sql(
            "d.request_id, d.name, d.kind, d.due_at, r.role, r.family, r.priority, r.requesting_court, r.requested_court",
            500,
        );
        let query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(at);
        let rows = query.fetch_all(&mut *tx).await?;
        let mut passed = Vec::with_capacity(rows.len());
        for row in &rows {
            let request: String = row.try_get("request_id")?;
            let name: String = row.try_get("name")?;
            let warning = row.try_get::<String, _>("kind")? == WARNING;
            let due_at = from_unix_millis(row.try_get("due_at")?);
            let court: String = if row.try_get::<String, _>("role")? == "requester" {
                row.try_get("requesting_court")?
            } else {
                row.try_get("requested_court")?
            };
            // Conditional: of two replicas passing the same deadline, the second finds it
            // passed (PostgreSQL re-reads the row once the first commits) and skips it.
            let first = sqlx::query(
                "UPDATE deadlines SET passed_at = $1 WHERE request_id = $2 AND name = $3
                 AND passed_at IS NULL AND met_at IS NULL",
            )
            .bind(at)
            .bind(&request)
            .bind(&name)
            .execute(&mut *tx)
            .await?;
            if first.rows_affected() != 1 {
                continue;
            }
            let request_id =
                MessageId::parse(&request).map_err(|e| StoreError::Backend(e.to_string()))?;
            let (status, text) = if warning {
                (
                    "warning",
                    format!("{name}: the time to act came at {}", rfc3339(due_at)),
                )
            } else {
                (
                    "overdue",
                    format!("deadline {name} passed unmet at {}", rfc3339(due_at)),
                )
            };
            let detail = json!({"deadline": name, "dueAt": rfc3339(due_at)});
            let event = Event {
                name: status.to_owned(),
                actor: "system".to_owned(),
                detail: detail.clone(),
            };
            apply(
                &mut tx,
                &StateChange::Note { request_id },
                &event,
                None,
                now,
            )
            .await?;
            let notice = json!({
                "status": status,
                "at": rfc3339(now),
                "deadline": detail,
                "reason": {"code": if warning { "deadline_warning" } else { "deadline_passed" }, "text": text},
            });
            let family: String = row.try_get("family")?;
            let priority: i64 = row.try_get("priority")?;
            insert_notice(
                &mut tx,
                &court,
                &request,
                &format!("{family}.status"),
                priority,
                at,
                &notice,
            )
            .await?;
            passed.push(Passed {
                request_id,
                name,
                court: CourtId::parse(&court).map_err(|e| StoreError::Backend(e.to_string()))?,
            });
        }
        tx.commit().await?;
        Ok(passed)
    }

    /// `court`'s requests, newest first; with `overdue_at`, only those with a deadline
    /// unmet at that time.
    pub(super) async fn read_requests(
        &self,
        court: &CourtId,
        overdue_at: Option<OffsetDateTime>,
        after: Option<crate::store::RequestCursor>,
        limit: i64,
    ) -> Result<Vec<RequestRecord>, StoreError> {
        // Each side of the work through its own index (read backwards, newest first), the
        // two merged: one query with OR between the sides would sort all of the court's
        // requests to return the first page.
        let mut only = String::new();
        let mut next = 2;
        if overdue_at.is_some() {
            only.push_str(&format!(
                " AND {} AND EXISTS (SELECT 1 FROM deadlines d WHERE d.request_id = r.id
                   AND d.kind = 'deadline' AND d.met_at IS NULL AND d.due_at <= ${next})",
                super::dialect::not_terminal("r.state")
            ));
            next += 1;
        }
        if after.is_some() {
            only.push_str(&format!(
                " AND (r.created_at < ${next} OR (r.created_at = ${next} AND r.id < ${}))",
                next + 1
            ));
            next += 2;
        }
        let newest = format!("ORDER BY created_at DESC, id DESC LIMIT ${next} + 0");
        let side = |role: &str, court: &str| {
            format!(
                "SELECT * FROM (SELECT * FROM requests r WHERE r.role = '{role}' AND r.{court} = $1{only} {newest}) AS {role}"
            )
        };
        let sql = format!(
            "SELECT * FROM ({} UNION ALL {}) AS mine {newest}",
            side("requester", "requesting_court"),
            side("executor", "requested_court"),
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(court.as_str());
        if let Some(t) = overdue_at {
            query = query.bind(unix_millis(t));
        }
        if let Some(c) = after {
            query = query.bind(c.created_at_ms).bind(c.id.to_string());
        }
        query
            .bind(limit)
            .fetch_all(&self.read)
            .await?
            .iter()
            .map(super::read::request_record)
            .collect()
    }
}
