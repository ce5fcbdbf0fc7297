//! The SQLite engine's agreement versions and revocation (with the return of open work).

use serde_json::json;
use sqlx::Row;
use time::OffsetDateTime;

use super::SqlStore;
use super::tx::{append_audit, insert_notice, json_text};
use crate::agreement::{Agreement, Revocation};
use crate::clock::{from_unix_millis, rfc3339, unix_millis};
use crate::ids::{CourtId, MessageId, Sha256};
use crate::store::{Returned, Revoke, StoreError, StoredAgreement};
use crate::workflow;

impl SqlStore {
    pub(super) async fn write_agreement(
        &self,
        document: &Agreement,
        digest: Sha256,
        actor: &str,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let mut tx = self.dialect.begin_write(&self.write).await?;
        let at = unix_millis(now);
        let signed_by: Vec<&str> = document
            .signatures
            .iter()
            .map(|s| s.region.as_str())
            .collect();
        sqlx::query(
            "INSERT INTO agreements (digest, id, version, document, loaded_by, loaded_at) VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (digest) DO UPDATE SET document = excluded.document",
        )
        .bind(digest.to_string())
        .bind(document.terms.id.as_str())
        .bind(i64::from(document.terms.version))
        .bind(json_text(document)?)
        .bind(actor)
        .bind(at)
        .execute(&mut *tx)
        .await?;
        let detail =
            json!({"version": document.terms.version, "sha256": digest, "signedBy": signed_by});
        append_audit(
            &mut tx,
            at,
            actor,
            "agreement.loaded",
            document.terms.id.as_str(),
            &detail,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub(super) async fn read_agreements(&self) -> Result<Vec<StoredAgreement>, StoreError> {
        let rows = sqlx::query("SELECT * FROM agreements ORDER BY id, version")
            .fetch_all(&self.read)
            .await?;
        rows.iter()
            .map(|r| {
                let bad =
                    |e: String| StoreError::Backend(format!("stored agreement is unreadable: {e}"));
                let document: Agreement =
                    serde_json::from_str(&r.try_get::<String, _>("document")?)
                        .map_err(|e| bad(e.to_string()))?;
                let revoked = match r.try_get::<Option<i64>, _>("revoked_at")? {
                    Some(at) => Some(Revocation {
                        at: from_unix_millis(at),
                        by: r
                            .try_get::<Option<String>, _>("revoked_by")?
                            .unwrap_or_default(),
                        reason: r
                            .try_get::<Option<String>, _>("revoke_reason")?
                            .unwrap_or_default(),
                    }),
                    None => None,
                };
                Ok(StoredAgreement {
                    document,
                    digest: Sha256::parse(&r.try_get::<String, _>("digest")?)
                        .map_err(|e| bad(e.to_string()))?,
                    loaded_by: r.try_get("loaded_by")?,
                    loaded_at: from_unix_millis(r.try_get("loaded_at")?),
                    revoked,
                })
            })
            .collect()
    }

    pub(super) async fn write_revocation(
        &self,
        revoke: Revoke,
        now: OffsetDateTime,
    ) -> Result<Vec<Returned>, StoreError> {
        let mut tx = self.dialect.begin_write(&self.write).await?;
        let at = unix_millis(now);
        let r = &revoke.revocation;
        let id = revoke.id.as_str();
        sqlx::query(
            "UPDATE agreements SET revoked_at = $1, revoked_by = $2, revoke_reason = $3 WHERE id = $4 AND revoked_at IS NULL",
        )
        .bind(unix_millis(r.at))
        .bind(&r.by)
        .bind(&r.reason)
        .bind(id)
        .execute(&mut *tx)
        .await?;

        // Open work under the agreement goes back to our court, with the reason.
        let sql = format!(
            "SELECT id, role, requesting_court, requested_court FROM requests WHERE agreement_id = $1 AND {}",
            super::dialect::not_terminal("state")
        );
        let query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id);
        let open = query.fetch_all(&mut *tx).await?;
        let text = format!("agreement {id} was revoked by {}: {}", r.by, r.reason);
        let notice = json!({
            "status": workflow::RETURNED,
            "at": rfc3339(now),
            "reason": {"code": "agreement_revoked", "text": text},
        });
        let mut returned = Vec::new();
        for row in &open {
            let request: String = row.try_get("id")?;
            let court: String = if row.try_get::<String, _>("role")? == "requester" {
                row.try_get("requesting_court")?
            } else {
                row.try_get("requested_court")?
            };
            sqlx::query("UPDATE requests SET state = $1, updated_at = $2 WHERE id = $3")
                .bind(workflow::RETURNED)
                .bind(at)
                .bind(&request)
                .execute(&mut *tx)
                .await?;
            // Numbered as `apply` in tx.rs numbers entries (SQLite: within the request).
            let insert = match self.dialect {
                super::Dialect::Sqlite => {
                    "INSERT INTO history (seq, request_id, at, state, event, actor, message_id, detail)
                     VALUES ((SELECT COALESCE(MAX(seq), 0) + 1 FROM history WHERE request_id = $1),
                             $1, $2, CASE WHEN $3 = 'returned' THEN '' ELSE $3 END, 'returned', $4, NULL, $5)"
                }
                super::Dialect::Postgres => {
                    "INSERT INTO history (request_id, at, state, event, actor, message_id, detail)
                     VALUES ($1, $2, CASE WHEN $3 = 'returned' THEN '' ELSE $3 END, 'returned', $4, NULL, $5)"
                }
            };
            sqlx::query(insert)
                .bind(&request)
                .bind(at)
                .bind(workflow::RETURNED)
                .bind(&r.by)
                .bind(json_text(&notice["reason"])?)
                .execute(&mut *tx)
                .await?;
            let kind: String = sqlx::query_scalar("SELECT family FROM requests WHERE id = $1")
                .bind(&request)
                .fetch_one(&mut *tx)
                .await?;
            insert_notice(
                &mut tx,
                &court,
                &request,
                &format!("{kind}.status"),
                1,
                at,
                &notice,
            )
            .await?;
            returned.push(Returned {
                request_id: MessageId::parse(&request)
                    .map_err(|e| StoreError::Backend(e.to_string()))?,
                court: CourtId::parse(&court).map_err(|e| StoreError::Backend(e.to_string()))?,
            });
        }
        // Nothing more leaves under it.
        sqlx::query(
            "UPDATE outbox SET state = 'dead', done_at = $1, last_error = $2
             WHERE state = 'pending' AND EXISTS
                 (SELECT 1 FROM messages m
                  WHERE m.id = outbox.message_id
                    AND (CASE WHEN m.agreement_id = '' THEN (SELECT q.agreement_id FROM requests q WHERE q.id = m.id)
                              ELSE m.agreement_id END) = $3)",
        )
        .bind(at)
        .bind(&text)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        let detail = json!({"reason": r.reason, "returned": returned.len()});
        append_audit(&mut tx, at, &r.by, "agreement.revoked", id, &detail).await?;
        tx.commit().await?;
        Ok(returned)
    }
}
