//! A message's row in `messages`: what each message stores once, and what the message
//! that opens a request leaves to the request's row.

use time::OffsetDateTime;

use super::exec::{Exec, args};
use crate::clock::unix_millis;
use crate::envelope::Sealed;
use crate::ids::MessageId;
use crate::store::{Inbound, Outbound, StoreError};

/// The stored form ([`super::packed::pack`]) of each envelope a unit of the group commit
/// will insert, made by the task that sends the unit, before it reaches the committer:
/// serialising and compressing an envelope is about a seventh of the committer's work,
/// and the committer's thread is the one each gateway's commits wait on in turn.
#[derive(Default)]
pub(super) struct Packed(Vec<(MessageId, Vec<u8>)>);

impl Packed {
    /// The envelopes of `m` and of its follow-ups.
    pub fn outbound(m: &Outbound) -> Self {
        let mut packed = Packed::default();
        let mut next = vec![m];
        while let Some(m) = next.pop() {
            packed.add(&m.sealed);
            next.extend(&m.followups);
        }
        packed
    }

    /// The envelope of `m`.
    pub fn inbound(m: &Inbound) -> Self {
        let mut packed = Packed::default();
        packed.add(&m.sealed);
        packed
    }

    /// Adds `sealed`'s stored form; one that cannot be made is left to
    /// [`insert_message`], which then fails its own unit with the reason.
    fn add(&mut self, sealed: &Sealed) {
        if let Ok(z) = stored_form(sealed) {
            self.0.push((sealed.envelope.id, z));
        }
    }

    /// The stored form of message `id`, if made.
    fn of(&self, id: MessageId) -> Option<&[u8]> {
        self.0
            .iter()
            .find(|(m, _)| *m == id)
            .map(|(_, z)| z.as_slice())
    }
}

/// What `messages.envelope_z` keeps of `sealed`.
fn stored_form(sealed: &Sealed) -> Result<Vec<u8>, StoreError> {
    let text = sealed
        .text()
        .map_err(|e| StoreError::Backend(e.to_string()))?;
    super::packed::pack(text, &sealed.envelope.id.to_string())
}

/// Stores a message (`direction` `out` or `in`) under W3C trace `trace_id`; `false`
/// (nothing stored) if its id is stored already. `opens` is the request this message
/// opens, stored in the same transaction; `packed` has its envelope's stored form
/// (made here if not).
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
    packed: &Packed,
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
    let made;
    let envelope_z = match packed.of(e.id) {
        Some(z) => z,
        None => {
            made = stored_form(sealed)?;
            made.as_slice()
        }
    };
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
                envelope_z,
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
