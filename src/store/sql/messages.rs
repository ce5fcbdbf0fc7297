//! A message's row in `messages`: what each message stores once, and what the message
//! that opens a request leaves to the request's row.

use time::OffsetDateTime;

use super::exec::{Exec, args};
use super::tx::json_text;
use crate::clock::unix_millis;
use crate::envelope::Sealed;
use crate::store::StoreError;

/// Stores a message (`direction` `out` or `in`) under W3C trace `trace_id`; `false`
/// (nothing stored) if its id is stored already. `opens` is the request this message
/// opens, stored in the same transaction.
///
/// The message that opens its request leaves to the request's row what that row says
/// (SQLite migration 0026, PostgreSQL 0015; every read puts it back):
/// - `request_id` is `''`, read back as the message's id (`CASE WHEN m.request_id = ''
///   THEN m.id ELSE m.request_id END`), and the row is not in `messages_by_request`;
/// - `agreement_id`, `agreement_sha256` and `trace_id` are `''` where they equal the
///   request's, read back from it (`CASE WHEN m.trace_id = '' THEN (SELECT q.trace_id
///   FROM requests q WHERE q.id = m.id) ELSE m.trace_id END`);
/// - `sender_court` and `recipient_court` are `''` where they equal the request's
///   requesting and requested court: nothing reads them (the envelope says them).
pub(super) async fn insert_message<E: Exec + ?Sized>(
    tx: &mut E,
    sealed: &Sealed,
    direction: &str,
    trace_id: &str,
    now: OffsetDateTime,
    opens: Option<&crate::store::RequestRecord>,
) -> Result<bool, StoreError> {
    let e = &sealed.envelope;
    let request_id = match e.in_reply_to {
        Some(request) if request != e.id => request.to_string(),
        _ => String::new(),
    };
    let opens = opens.filter(|r| r.id == e.id);
    let unless_opens =
        |same: fn(&crate::store::RequestRecord, &str) -> bool, value: String| match opens {
            Some(r) if same(r, &value) => String::new(),
            _ => value,
        };
    let sender = unless_opens(
        |r, v| r.requesting_court.as_str() == v,
        e.sender.court.to_string(),
    );
    let recipient = unless_opens(
        |r, v| r.requested_court.as_str() == v,
        e.recipient.court.to_string(),
    );
    let agreement_id = unless_opens(
        |r, v| r.agreement_id.as_str() == v,
        e.agreement.id.to_string(),
    );
    let agreement_sha256 = unless_opens(
        |r, v| r.agreement_sha256.to_string() == v,
        e.agreement.sha256.to_string(),
    );
    let trace = unless_opens(|r, v| r.trace_id.as_deref() == Some(v), trace_id.to_owned());
    let digest = sealed.digest.to_string();
    let postgres = tx.postgres();
    let done = tx
        .execute(
            "INSERT INTO messages (id, direction, kind, request_id, sender_court, recipient_court, agreement_id,
                                   agreement_sha256, digest, envelope, envelope_z, test, created_at, committed_at, trace_id)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, '', $10, $11, $12, $13, $14) ON CONFLICT (id) DO NOTHING",
            args![
                &e.id.to_string(),
                direction,
                e.kind.as_str(),
                &request_id,
                &sender,
                &recipient,
                &agreement_id,
                &agreement_sha256,
                super::exec::digest_arg(postgres, &sealed.digest, &digest),
                &super::packed::pack(&json_text(&sealed.json)?, &e.id.to_string())?,
                i64::from(e.test),
                unix_millis(e.created_at),
                unix_millis(now),
                &trace,
            ],
        )
        .await?;
    let inserted = done == 1;
    if inserted {
        super::attachments::insert_message_attachments(tx, e).await?;
    }
    Ok(inserted)
}
