//! The SQLite engine's reads: request views, inboxes, the outbox queue, the audit log.

use serde::de::DeserializeOwned;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::SqlStore;
use super::exec::{Arg, Exec as _, args};
use super::packed::envelope_of;
use crate::audit::AuditEntry;
use crate::clock::from_unix_millis;
use crate::ids::{CourtId, Family, MessageId, Sha256};
use crate::receipt::Receipt;
use crate::store::{
    HistoryEntry, InboxItem, InboxOrder, MessageRecord, RequestRecord, RequestView, Role,
    StoreError,
};

pub(super) fn bad(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(format!("stored {what} is unreadable: {e}"))
}

fn text(row: &AnyRow, col: &str) -> Result<String, StoreError> {
    Ok(row.try_get::<String, _>(col)?)
}

fn json<T: DeserializeOwned>(row: &AnyRow, col: &str) -> Result<T, StoreError> {
    serde_json::from_str(&text(row, col)?).map_err(|e| bad(col, e))
}

/// The envelope of a row with the columns `envelope` and `envelope_z`, as JSON.
pub(super) fn envelope_json<T: DeserializeOwned>(row: &AnyRow) -> Result<T, StoreError> {
    let text = envelope_of(row)?.unwrap_or_else(|| "null".to_owned());
    serde_json::from_str(&text).map_err(|e| bad("envelope", e))
}

fn parse<T, E: std::fmt::Display>(
    row: &AnyRow,
    col: &str,
    f: impl Fn(&str) -> Result<T, E>,
) -> Result<T, StoreError> {
    f(&text(row, col)?).map_err(|e| bad(col, e))
}

fn message_id(row: &AnyRow, col: &str) -> Result<MessageId, StoreError> {
    parse(row, col, MessageId::parse)
}

pub(super) fn request_record(row: &AnyRow) -> Result<RequestRecord, StoreError> {
    Ok(RequestRecord {
        id: message_id(row, "id")?,
        family: parse(row, "family", |s| Family::parse(s).ok_or("unknown family"))?,
        role: parse(row, "role", |s| match s {
            "requester" => Ok(Role::Requester),
            "executor" => Ok(Role::Executor),
            _ => Err("unknown role"),
        })?,
        requesting_court: parse(row, "requesting_court", CourtId::parse)?,
        requested_court: parse(row, "requested_court", CourtId::parse)?,
        state: text(row, "state")?,
        agreement_id: parse(row, "agreement_id", crate::ids::AgreementId::parse)?,
        agreement_sha256: Sha256::parse(&hex_text(row, "agreement_sha256")?)
            .map_err(|e| bad("agreement_sha256", e))?,
        priority: row.try_get("priority")?,
        created_at: from_unix_millis(row.try_get("created_at")?),
        updated_at: from_unix_millis(row.try_get("updated_at")?),
        trace_id: optional_hex(row, "trace_id")?,
    })
}

/// A request's row by its id.
const REQUEST: &str = "SELECT * FROM requests WHERE id = $1";

/// The columns of an inbox item, its message joined.
pub(super) const INBOX_COLUMNS: &str = "SELECT i.seq, i.message_id, i.request_id, i.kind, i.received_at, i.retrieved_at, i.notice, m.digest, m.id AS envelope_id, m.envelope, m.envelope_z, m.purged_at
             FROM inbox i LEFT JOIN messages m ON m.id = i.message_id";

/// An inbox item from a row of [`INBOX_COLUMNS`], read through [`super::exec::Exec`].
pub(super) fn inbox_item(r: &super::exec::Row) -> Result<InboxItem, StoreError> {
    let id = |i: usize, what: &str| MessageId::parse(r.text(i)?).map_err(|e| bad(what, e));
    let purged = r.optional_int(11)?.is_some();
    // The message's id (NULL if no message row joined, and then no envelope either).
    let envelope_id = r.optional_text(8)?.unwrap_or_default();
    Ok(InboxItem {
        cursor: r.int(0)?,
        message_id: id(1, "message_id")?,
        request_id: id(2, "request_id")?,
        kind: crate::ids::MessageKind::parse(r.text(3)?).map_err(|e| bad("kind", e))?,
        received_at: from_unix_millis(r.int(4)?),
        retrieved_at: r.optional_int(5)?.map(from_unix_millis),
        envelope_sha256: r
            .optional_hex(7)?
            .map(|d| Sha256::parse(&d))
            .transpose()
            .map_err(|e| bad("digest", e))?,
        envelope: super::packed::envelope_in(r, 9, 10, envelope_id)?
            .filter(|_| !purged)
            .map(serde_json::value::RawValue::from_string)
            .transpose()
            .map_err(|e| bad("envelope", e))?,
        purged,
        notice: r
            .optional_text(6)?
            .map(serde_json::from_str)
            .transpose()
            .map_err(|e| bad("notice", e))?,
    })
}

/// A SHA-256 digest as hex text from column `col`, kept as text or as its 32 bytes (see
/// `exec::digest_arg`).
pub(super) fn hex_text(row: &AnyRow, col: &str) -> Result<String, StoreError> {
    match row.try_get::<String, _>(col) {
        Ok(text) => Ok(text),
        Err(_) => Ok(hex::encode(row.try_get::<Vec<u8>, _>(col)?)),
    }
}

/// [`hex_text`] or NULL.
pub(super) fn optional_hex(row: &AnyRow, col: &str) -> Result<Option<String>, StoreError> {
    match row.try_get::<Option<String>, _>(col) {
        Ok(text) => Ok(text),
        Err(_) => Ok(row.try_get::<Option<Vec<u8>>, _>(col)?.map(hex::encode)),
    }
}

/// An audit entry from a row of the `audit` table.
pub(super) fn audit_entry(r: &AnyRow) -> Result<AuditEntry, StoreError> {
    Ok(AuditEntry {
        seq: r.try_get("seq")?,
        at: r.try_get("at")?,
        actor: text(r, "actor")?,
        action: text(r, "action")?,
        subject: text(r, "subject")?,
        detail: json(r, "detail")?,
        prev_hash: hex_text(r, "prev_hash")?,
        hash: hex_text(r, "hash")?,
    })
}

/// A request's history, each entry with its state (`''`: its event's name, as for
/// `submitted` after `submitted`), its message (`''`: the request's first, whose
/// id it shares) and its trace (kept in the row by entries written before, else `''`: its
/// message's or its request's); see `apply` in tx.rs.
const HISTORY: &str = "SELECT h.at, CASE WHEN h.state = '' THEN h.event ELSE h.state END AS state,
        h.event, h.actor, h.detail,
        CASE WHEN h.message_id = '' THEN h.request_id ELSE h.message_id END AS message_id,
        CASE WHEN h.trace_id = '' THEN
            COALESCE(CASE WHEN m.trace_id = '' THEN (SELECT t.trace_id FROM requests t WHERE t.id = m.id)
                          ELSE m.trace_id END,
                     q.trace_id)
        ELSE h.trace_id END AS trace_id
     FROM history h
     LEFT JOIN messages m ON m.id = (CASE WHEN h.message_id = '' THEN h.request_id ELSE h.message_id END)
     LEFT JOIN requests q ON q.id = h.request_id
     WHERE h.request_id = $1 ORDER BY h.seq";

impl SqlStore {
    pub(super) async fn read_inbound_receipt(
        &self,
        id: &MessageId,
    ) -> Result<Option<(Sha256, Receipt)>, StoreError> {
        let row = self
            .reader()
            .await?
            .optional(
                "SELECT m.digest, r.body, r.issuer, r.at, r.signature FROM messages m JOIN receipts r ON r.message_id = m.id AND r.hop = 'relay'
                 WHERE m.id = $1 AND m.direction = 'in'",
                args![&id.to_string()],
            )
            .await?;
        row.map(|r| {
            let digest = r.hex(0)?;
            Ok((
                Sha256::parse(&digest).map_err(|e| bad("digest", e))?,
                super::receipt_rows::ReceiptRow {
                    body: r.text(1)?,
                    message_id: &id.to_string(),
                    hop: "relay",
                    issuer: r.text(2)?,
                    at: r.optional_int(3)?,
                    signature: r.optional_blob(4)?,
                    digest: Some(&digest),
                }
                .receipt()?,
            ))
        })
        .transpose()
    }

    pub(super) async fn read_request(
        &self,
        id: &MessageId,
    ) -> Result<Option<RequestRecord>, StoreError> {
        let row = sqlx::query(REQUEST)
            .bind(id.to_string())
            .fetch_optional(&self.read)
            .await?;
        row.as_ref().map(request_record).transpose()
    }

    /// A request's view, every part of it read in one snapshot
    /// ([`super::dialect::Dialect::begin_snapshot`]): a purge, which marks the request and
    /// its messages in one transaction, is in all of the view or in none of it, and so is
    /// any step of the request's work.
    pub(super) async fn read_request_view(
        &self,
        id: &MessageId,
    ) -> Result<Option<RequestView>, StoreError> {
        let mut tx = self.dialect.begin_snapshot(&self.read).await?;
        let key = id.to_string();
        let Some(row) = sqlx::query(REQUEST)
            .bind(&key)
            .fetch_optional(&mut *tx)
            .await?
        else {
            return Ok(None);
        };
        let record = request_record(&row)?;
        let purged_at: Option<i64> = row.try_get("purged_at")?;
        let history = sqlx::query(HISTORY)
            .bind(&key)
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|r| {
                Ok(HistoryEntry {
                    at: from_unix_millis(r.try_get("at")?),
                    state: text(r, "state")?,
                    event: text(r, "event")?,
                    actor: text(r, "actor")?,
                    message_id: r
                        .try_get::<Option<String>, _>("message_id")?
                        .and_then(|m: String| MessageId::parse(&m).ok()),
                    detail: json(r, "detail")?,
                    trace_id: optional_hex(r, "trace_id")?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let messages =
            // `messages.request_id` is '' for the message that starts its request (see
            // `insert_message` in messages.rs): that one is found by its id, the others through
            // `messages_by_request`, which leaves out '' (the term `m.request_id <> ''`
            // lets SQLite's planner use that partial index). So in every read of it
            // (`dialect::of_requests`).
            sqlx::query("SELECT m.*, m.id AS envelope_id FROM messages m WHERE m.id = $1 OR (m.request_id = $1 AND m.request_id <> '')
                         ORDER BY m.committed_at, m.id")
                .bind(&key)
                .fetch_all(&mut *tx)
                .await?
                .iter()
                .map(|r| {
                    Ok(MessageRecord {
                        id: message_id(r, "id")?,
                        direction: text(r, "direction")?,
                        kind: parse(r, "kind", crate::ids::MessageKind::parse)?,
                        envelope_sha256: Sha256::parse(&hex_text(r, "digest")?)
                            .map_err(|e| bad("digest", e))?,
                        envelope: envelope_json(r)?,
                        purged: r.try_get::<Option<i64>, _>("purged_at")?.is_some(),
                    })
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
        let mut receipts = sqlx::query(
            "SELECT r.body, r.message_id, r.hop, r.issuer, r.at AS receipt_at, r.signature AS receipt_signature, m.digest
             FROM messages m JOIN receipts r ON r.message_id = m.id
             WHERE m.id = $1 OR (m.request_id = $1 AND m.request_id <> '')",
        )
        .bind(&key)
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|r| {
            let t = |c: &str| text(r, c);
            let digest = hex_text(r, "digest")?;
            let (at, signature) = super::receipt_rows::at_and_signature(r)?;
            super::receipt_rows::ReceiptRow {
                body: &t("body")?,
                message_id: &t("message_id")?,
                hop: &t("hop")?,
                issuer: &t("issuer")?,
                at,
                signature: signature.as_deref(),
                digest: Some(&digest),
            }
            .receipt()
        })
        .collect::<Result<Vec<Receipt>, StoreError>>()?;
        // In the order of their messages, each message's in the order of its hops.
        let place = |r: &Receipt| messages.iter().position(|m| m.id == r.message_id);
        receipts.sort_by_key(|r| (place(r), r.hop, r.at));
        let deadlines = super::deadlines::deadlines_of(&mut tx, id).await?;
        // Only read: ending it either way is the same.
        tx.rollback().await?;
        Ok(Some(RequestView {
            record,
            history,
            messages,
            receipts,
            deadlines,
            overdue: false,
            purged_at: purged_at.map(from_unix_millis),
        }))
    }

    /// A page of `court`'s inbox, through a [`super::readers::Reader`]: a page is at most
    /// 500 rows (`GET /v1/inbox`'s largest `limit`).
    pub(super) async fn read_inbox(
        &self,
        court: &str,
        order: InboxOrder,
        limit: i64,
    ) -> Result<Vec<InboxItem>, StoreError> {
        const COLUMNS: &str = INBOX_COLUMNS;
        let (sql, bound) = match order {
            InboxOrder::Arrival { after } => (
                format!("{COLUMNS} WHERE i.court = $1 AND i.seq > $2 ORDER BY i.seq LIMIT $3 + 0"),
                vec![Arg::from(court), Arg::from(after), Arg::from(limit)],
            ),
            InboxOrder::Urgent => (
                format!(
                    "{COLUMNS} WHERE i.court = $1 AND i.retrieved_at IS NULL ORDER BY i.priority DESC, i.seq LIMIT $2 + 0"
                ),
                vec![Arg::from(court), Arg::from(limit)],
            ),
        };
        self.reader()
            .await?
            .rows(&sql, &bound)
            .await?
            .iter()
            .map(inbox_item)
            .collect()
    }

    pub(super) async fn read_audit(
        &self,
        after: i64,
        limit: i64,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "{} WHERE a.seq > $1 ORDER BY a.seq LIMIT $2 + 0",
            super::audit::ENTRIES
        )))
        .bind(after)
        .bind(limit)
        .fetch_all(&self.read)
        .await?
        .iter()
        .map(audit_entry)
        .collect()
    }

    pub(super) async fn read_messages_since(
        &self,
        from_ms: i64,
    ) -> Result<Vec<serde_json::Value>, StoreError> {
        sqlx::query("SELECT id AS envelope_id, envelope, envelope_z FROM messages WHERE committed_at >= $1 AND test = 0 AND purged_at IS NULL ORDER BY committed_at, id")
            .bind(from_ms)
            .fetch_all(&self.read)
            .await?
            .iter()
            .map(envelope_json)
            .collect()
    }
}
