//! Evidence that travels with the group commit ([`super::group`]): a court's first
//! retrievals from its inbox (with their receipts, queued back to the sender) and the
//! receipts a peer carried back to us. Each is one unit of a group: all of it or nothing.

use time::OffsetDateTime;

use super::exec::{Exec, args};
use super::group::{Done, Unit};
use super::receipts::queue_receipt;
use super::tx::{append_audit, apply, insert_receipt};
use crate::clock::unix_millis;
use crate::receipt::Receipt;
use crate::store::{Event, InboxItem, StateChange, StoreError};

/// First retrievals from an inbox by `actor` (see `Store::record_retrievals`).
pub(super) struct Retrievals {
    pub items: Vec<(InboxItem, Option<Receipt>)>,
    pub actor: String,
    pub now: OffsetDateTime,
}

/// A receipt a peer carried back (see `Store::record_peer_receipt`).
pub(super) struct PeerReceipt {
    pub receipt: Receipt,
    pub actor: String,
    pub now: OffsetDateTime,
}

impl super::SqlStore {
    /// Commits `retrievals` (with their receipts) as one unit of the group commit.
    pub(super) async fn commit_retrievals(
        &self,
        retrievals: Vec<(InboxItem, Option<Receipt>)>,
        actor: &str,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        if retrievals.is_empty() {
            return Ok(());
        }
        let unit = Unit::Retrievals(Box::new(Retrievals {
            items: retrievals,
            actor: actor.to_owned(),
            now,
        }));
        self.commit_unit(unit).await.map(|_| ())
    }

    /// Commits each of `receipts` (a peer's retrieval receipts) as a unit of its own, in
    /// one group: whether each was kept (`false`: kept before).
    pub(super) async fn commit_peer_receipts(
        &self,
        receipts: &[Receipt],
        actor: &str,
        now: OffsetDateTime,
    ) -> Vec<Result<bool, StoreError>> {
        let units = receipts
            .iter()
            .map(|receipt| {
                Unit::PeerReceipt(Box::new(PeerReceipt {
                    receipt: receipt.clone(),
                    actor: actor.to_owned(),
                    now,
                }))
            })
            .collect();
        let outcomes = self.commit_together(units).await;
        outcomes
            .into_iter()
            .map(|outcome| match outcome? {
                Done::Stored(kept) => Ok(kept),
                other => Err(other.wrong()),
            })
            .collect()
    }
}

/// Marks each item retrieved (once), keeps and queues back its receipt, and moves its
/// request on (a request `received` becomes `retrieved`).
pub(super) async fn retrieved<E: Exec + ?Sized>(
    tx: &mut E,
    r: &Retrievals,
) -> Result<bool, StoreError> {
    let now = r.now;
    for (item, receipt) in &r.items {
        let first = tx
            .execute(
                "UPDATE inbox SET retrieved_at = $1 WHERE seq = $2 AND retrieved_at IS NULL",
                args![unix_millis(now), item.cursor],
            )
            .await?;
        // A gateway notice is handed out once; only a message has a retrieval receipt.
        let Some(receipt) = receipt.as_ref().filter(|_| first == 1) else {
            continue;
        };
        insert_receipt(tx, receipt).await?;
        // The evidence goes back to the gateway that sent the message.
        let sender = item.envelope.as_deref().and_then(sender_region);
        if let Some(peer) = sender.filter(|p| *p != receipt.issuer.as_str()) {
            queue_receipt(tx, receipt, &peer, now).await?;
        }
        let exists = tx
            .optional(
                "SELECT id FROM requests WHERE id = $1",
                args![&item.request_id.to_string()],
            )
            .await?;
        if exists.is_none() {
            continue;
        }
        let change = if item.kind.is_request() {
            StateChange::AdvanceFrom {
                request_id: item.request_id,
                from: crate::workflow::RECEIVED.to_owned(),
                state: crate::workflow::RETRIEVED.to_owned(),
            }
        } else {
            StateChange::Note {
                request_id: item.request_id,
            }
        };
        let event = Event {
            name: "retrieved".into(),
            actor: r.actor.clone(),
            detail: serde_json::json!({"kind": item.kind}),
        };
        apply(tx, &change, &event, Some(item.message_id), now).await?;
    }
    Ok(true)
}

/// Keeps a peer's receipt once, with its audit entry; `false` if it was kept before.
pub(super) async fn peer_receipt<E: Exec + ?Sized>(
    tx: &mut E,
    p: &PeerReceipt,
) -> Result<bool, StoreError> {
    let receipt = &p.receipt;
    let held = tx
        .optional(
            "SELECT 1 FROM receipts WHERE message_id = $1 AND hop = $2 AND issuer = $3",
            args![
                &receipt.message_id.to_string(),
                receipt.hop.as_str(),
                receipt.issuer.as_str(),
            ],
        )
        .await?;
    if held.is_some() {
        return Ok(false);
    }
    insert_receipt(tx, receipt).await?;
    let detail = serde_json::json!({
        "hop": receipt.hop, "issuer": receipt.issuer, "court": receipt.court,
        "envelopeSha256": receipt.envelope_sha256,
    });
    let subject = receipt.message_id.to_string();
    append_audit(
        tx,
        unix_millis(p.now),
        &p.actor,
        "receipt.received",
        &subject,
        &detail,
    )
    .await?;
    Ok(true)
}

/// The region of the gateway that sent `envelope` (as stored), read without building the
/// rest of it (nor checking the sender's court); none if it has no `sender.region`.
fn sender_region(envelope: &serde_json::value::RawValue) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Sent {
        sender: Sender,
    }
    #[derive(serde::Deserialize)]
    struct Sender {
        region: String,
    }
    serde_json::from_str::<Sent>(envelope.get())
        .ok()
        .map(|s| s.sender.region)
}
