//! The supervision dashboard's reads ([`crate::store::Supervision`]), each on an index of
//! migration 0013 (SQLite) / 0003 (PostgreSQL), and the daily volume count kept when a
//! request is opened.

use async_trait::async_trait;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::SqlStore;
use super::dialect::not_terminal;
use super::exec::{Exec, args};
use crate::clock::{from_unix_millis, unix_millis};
use crate::ids::MessageId;
use crate::store::{
    Backlog, Buckets, CycleSample, DeadLetter, DueItem, OpenCount, PostalSummary, PrintJob,
    RequestRecord, Role, StoreError, Supervision, Volumes, local_day,
};

/// Counts a request just opened in `request_volume` (same transaction).
pub(super) async fn count_opened<E: Exec + ?Sized>(
    tx: &mut E,
    r: &RequestRecord,
) -> Result<(), StoreError> {
    let (court, partner) = match r.role {
        Role::Requester => (&r.requesting_court, &r.requested_court),
        Role::Executor => (&r.requested_court, &r.requesting_court),
    };
    tx.execute(
        "INSERT INTO request_volume (day, family, role, court, partner, requests)
         VALUES ($1, $2, $3, $4, $5, 1)
         ON CONFLICT (day, family, role, court, partner)
         DO UPDATE SET requests = request_volume.requests + 1",
        args![
            local_day(unix_millis(r.created_at)),
            r.family.as_str(),
            r.role.as_str(),
            court.as_str(),
            partner.region().as_str(),
        ],
    )
    .await?;
    Ok(())
}

fn due_item(row: &AnyRow) -> Result<DueItem, StoreError> {
    Ok(DueItem {
        request: super::read::request_record(row)?,
        deadline: row.try_get("deadline_name")?,
        due_at: from_unix_millis(row.try_get("deadline_due")?),
    })
}

/// The reason and problem code of a dead letter's recorded detail.
fn reason_of(detail: Option<&str>) -> (Option<String>, String) {
    let Some(v) = detail.and_then(|d| serde_json::from_str::<serde_json::Value>(d).ok()) else {
        return (None, detail.unwrap_or_default().to_owned());
    };
    let code = v["code"].as_str().map(str::to_owned);
    let reason = ["detail", "reason", "title"]
        .iter()
        .find_map(|k| v[*k].as_str())
        .map_or_else(|| v.to_string(), str::to_owned);
    (code, reason)
}

#[async_trait]
impl Supervision for SqlStore {
    fn group_commits(&self) -> (u64, u64) {
        self.committed_groups()
    }

    async fn volumes(&self, from_day: i64, today: i64) -> Result<Volumes, StoreError> {
        let days = sqlx::query(
            "SELECT day, family, role, CAST(SUM(requests) AS BIGINT) AS n FROM request_volume
             WHERE day >= $1 GROUP BY day, family, role",
        )
        .bind(from_day)
        .fetch_all(&self.read)
        .await?
        .iter()
        .map(|r| {
            Ok((
                r.try_get("day")?,
                r.try_get("family")?,
                r.try_get("role")?,
                r.try_get("n")?,
            ))
        })
        .collect::<Result<_, StoreError>>()?;
        let mut by = Vec::new();
        for column in ["court", "partner"] {
            let sql = format!(
                "SELECT {column} AS k,
                        CAST(SUM(CASE WHEN day = $2 THEN requests ELSE 0 END) AS BIGINT) AS today,
                        CAST(SUM(CASE WHEN day > $2 - 7 THEN requests ELSE 0 END) AS BIGINT) AS week,
                        CAST(SUM(requests) AS BIGINT) AS all_days
                 FROM request_volume WHERE day >= $1 GROUP BY {column} ORDER BY {column}"
            );
            by.push(
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(from_day)
                    .bind(today)
                    .fetch_all(&self.read)
                    .await?
                    .iter()
                    .map(|r| {
                        Ok((
                            r.try_get("k")?,
                            Buckets {
                                today: r.try_get("today")?,
                                week: r.try_get("week")?,
                                all: r.try_get("all_days")?,
                            },
                        ))
                    })
                    .collect::<Result<Vec<_>, StoreError>>()?,
            );
        }
        let partners = by.pop().unwrap_or_default();
        let courts = by.pop().unwrap_or_default();
        Ok(Volumes {
            days,
            courts,
            partners,
        })
    }

    async fn open_work(&self) -> Result<Vec<OpenCount>, StoreError> {
        let sql = format!(
            "SELECT state, family, role, COUNT(*) AS n FROM requests WHERE {}
             GROUP BY state, family, role",
            not_terminal("state")
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(&self.read)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(OpenCount {
                    state: r.try_get("state")?,
                    family: r.try_get("family")?,
                    role: r.try_get("role")?,
                    requests: r.try_get("n")?,
                })
            })
            .collect()
    }

    async fn deadlines_due(
        &self,
        after_ms: Option<i64>,
        until_ms: i64,
        limit: i64,
    ) -> Result<(i64, Vec<DueItem>), StoreError> {
        // Driven by the open requests (few) through `requests_open`, probing each one's
        // owed deadlines (the primary key's request_id); CROSS JOIN keeps that order on SQLite, where
        // the planner would otherwise scan every unmet deadline ever stored.
        let owed = format!(
            "FROM requests r CROSS JOIN deadlines d
             WHERE d.request_id = r.id AND {} AND d.kind = 'deadline' AND d.met_at IS NULL
               AND d.due_at > $1 AND d.due_at <= $2",
            not_terminal("r.state")
        );
        let after = after_ms.unwrap_or(i64::MIN);
        let count: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) {owed}")))
            .bind(after)
            .bind(until_ms)
            .fetch_one(&self.read)
            .await?;
        // The first `limit` from the indexes alone, then their requests.
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT q.*, o.deadline_name, o.deadline_due FROM
               (SELECT r.id AS rid, d.name AS deadline_name, d.due_at AS deadline_due {owed}
                ORDER BY d.due_at, r.id LIMIT $3 + 0) o
             JOIN requests q ON q.id = o.rid
             ORDER BY o.deadline_due, o.rid"
        )))
        .bind(after)
        .bind(until_ms)
        .bind(limit)
        .fetch_all(&self.read)
        .await?;
        Ok((count, rows.iter().map(due_item).collect::<Result<_, _>>()?))
    }

    async fn overdue_by_kind(&self, now_ms: i64) -> Result<Vec<(String, i64)>, StoreError> {
        // The open requests through `requests_open` (grouped in its order, so no other index
        // is walked), each probing its deadlines through the primary key (request_id, name).
        let sql = format!(
            "SELECT r.family AS family, COUNT(*) AS n FROM requests r
             WHERE {} AND EXISTS (SELECT 1 FROM deadlines d
                                  WHERE d.request_id = r.id AND d.kind = 'deadline'
                                    AND d.met_at IS NULL AND d.due_at <= $1)
             GROUP BY r.state, r.family",
            not_terminal("r.state")
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(now_ms)
            .fetch_all(&self.read)
            .await?;
        let mut by_kind: std::collections::BTreeMap<String, i64> = Default::default();
        for r in &rows {
            *by_kind.entry(r.try_get("family")?).or_default() += r.try_get::<i64, _>("n")?;
        }
        Ok(by_kind.into_iter().collect())
    }

    async fn cycle_times(&self, name: &str, limit: i64) -> Result<Vec<CycleSample>, StoreError> {
        let rows = sqlx::query(
            "SELECT d.met_at - r.created_at AS took, d.due_at - r.created_at AS allowed
             FROM deadlines d JOIN requests r ON r.id = d.request_id
             WHERE d.name = $1 AND d.met_at IS NOT NULL
             ORDER BY d.met_at DESC LIMIT $2 + 0",
        )
        .bind(name)
        .bind(limit)
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(CycleSample {
                    took_ms: r.try_get("took")?,
                    allowed_ms: r.try_get("allowed")?,
                })
            })
            .collect()
    }

    async fn warnings_due(
        &self,
        name: &str,
        after_ms: i64,
        until_ms: i64,
        limit: i64,
    ) -> Result<Vec<DueItem>, StoreError> {
        let rows = sqlx::query(
            "SELECT r.*, d.name AS deadline_name, d.due_at AS deadline_due
             FROM deadlines d JOIN requests r ON r.id = d.request_id
             WHERE d.name = $1 AND d.kind = 'warning' AND d.met_at IS NULL
               AND d.due_at > $2 AND d.due_at <= $3
             ORDER BY d.due_at, r.id LIMIT $4 + 0",
        )
        .bind(name)
        .bind(after_ms)
        .bind(until_ms)
        .bind(limit)
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(due_item).collect()
    }

    async fn postal_summary(&self, since_ms: i64) -> Result<PostalSummary, StoreError> {
        let rows = sqlx::query(
            "SELECT state, COUNT(*) AS n FROM print_jobs WHERE created_at >= $1
             GROUP BY state ORDER BY state",
        )
        .bind(since_ms)
        .fetch_all(&self.read)
        .await?;
        let by_state = rows
            .iter()
            .map(|r| Ok((r.try_get("state")?, r.try_get("n")?)))
            .collect::<Result<_, StoreError>>()?;
        let requests: i64 = sqlx::query_scalar(
            "SELECT COUNT(DISTINCT request_id) FROM print_jobs WHERE created_at >= $1",
        )
        .bind(since_ms)
        .fetch_one(&self.read)
        .await?;
        Ok(PostalSummary { by_state, requests })
    }

    async fn backlog(&self) -> Result<Vec<Backlog>, StoreError> {
        let rows = sqlx::query(
            "SELECT peer, COUNT(*) AS n, MIN(created_at) AS oldest FROM outbox
             WHERE state = 'pending' GROUP BY peer ORDER BY peer",
        )
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Backlog {
                    peer: r.try_get("peer")?,
                    pending: r.try_get("n")?,
                    oldest_ms: r.try_get("oldest")?,
                })
            })
            .collect()
    }

    async fn last_delivery(&self, peer: &str) -> Result<Option<i64>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT MAX(last_at) FROM peer_deliveries WHERE peer = $1")
                .bind(peer)
                .fetch_one(&self.read)
                .await?,
        )
    }

    async fn dead_letters(&self, peer: &str, limit: i64) -> Result<Vec<DeadLetter>, StoreError> {
        let rows = sqlx::query(
            "SELECT message_id, request_id, done_at, last_error FROM outbox
             WHERE state = 'dead' AND peer = $1 ORDER BY done_at DESC LIMIT $2 + 0",
        )
        .bind(peer)
        .bind(limit)
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                let detail: Option<String> = r.try_get("last_error")?;
                let (code, reason) = reason_of(detail.as_deref());
                Ok(DeadLetter {
                    peer: peer.to_owned(),
                    message_id: r.try_get("message_id")?,
                    request_id: r.try_get("request_id")?,
                    at: from_unix_millis(r.try_get::<Option<i64>, _>("done_at")?.unwrap_or(0)),
                    code,
                    reason,
                })
            })
            .collect()
    }

    async fn refusals(&self, since_ms: i64) -> Result<Vec<(String, String, i64)>, StoreError> {
        let code = self.dialect.json_text("last_error", &["code"]);
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT peer, COALESCE({code}, '') AS code, COUNT(*) AS n FROM outbox
             WHERE state = 'dead' AND done_at >= $1 GROUP BY peer, COALESCE({code}, '')
             ORDER BY peer, n DESC"
        )))
        .bind(since_ms)
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("peer")?, r.try_get("code")?, r.try_get("n")?)))
            .collect()
    }

    async fn print_jobs_of(&self, request: &MessageId) -> Result<Vec<PrintJob>, StoreError> {
        sqlx::query("SELECT * FROM print_jobs WHERE request_id = $1 ORDER BY created_at, id")
            .bind(request.to_string())
            .fetch_all(&self.read)
            .await?
            .iter()
            .map(super::jobs::print_job)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dead_letter_names_the_peers_code_and_detail() {
        let (code, reason) = reason_of(Some(
            r#"{"code":"schema_violation","detail":"/payload: bad"}"#,
        ));
        assert_eq!(code.as_deref(), Some("schema_violation"));
        assert_eq!(reason, "/payload: bad");
        let (code, reason) = reason_of(Some(r#"{"reason":"not delivered before it expired"}"#));
        assert_eq!(code, None);
        assert_eq!(reason, "not delivered before it expired");
    }

    #[test]
    fn the_open_work_index_covers_the_terminal_states_the_queries_leave_out() {
        for m in [
            include_str!("../../../migrations/sqlite/0013_dashboard.sql"),
            include_str!("../../../migrations/postgres/0003_dashboard.sql"),
        ] {
            assert!(
                m.contains(&format!("WHERE {}", not_terminal("state"))),
                "migration and workflow::TERMINAL differ: the index would not be used"
            );
        }
    }
}
