//! Envelopes handed to the relay in memory. A submission that commits a message also
//! leaves its envelope here, as the text the store keeps and as its parsed fields, so that
//! the delivery which usually follows within milliseconds takes them instead of reading
//! the row back, decompressing it and parsing it again (about 3% of the gateway's CPU in
//! the federation benchmark).
//!
//! Only a shortcut: a delivery that finds nothing here reads the store as before, and an
//! envelope never changes once committed, so what is here is what the store holds. At most
//! `KEPT` are held (the oldest goes first), so a long queue, a peer that is down, or
//! another replica delivering the message costs memory for `KEPT` envelopes at most.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use crate::envelope::Envelope;
use crate::ids::MessageId;

/// Most envelopes held (about 6 KB each with their parsed fields).
const KEPT: usize = 256;

/// A committed envelope: the JSON text the store keeps (exactly as signed) and its fields
/// (shared with the message the store is handed, not a copy).
pub struct Held {
    pub text: String,
    pub envelope: Arc<Envelope>,
}

/// The envelopes committed and not yet taken by a delivery, oldest first.
#[derive(Default)]
pub struct Fresh {
    held: Mutex<VecDeque<(MessageId, Held)>>,
}

impl Fresh {
    /// Holds message `id`'s envelope for its delivery, dropping the oldest beyond `KEPT`.
    pub fn put(&self, id: MessageId, envelope: Held) {
        let mut held = self.lock();
        if held.len() == KEPT {
            held.pop_front();
        }
        held.push_back((id, envelope));
    }

    /// Message `id`'s envelope, if it is still held; it is held no longer.
    pub fn take(&self, id: &MessageId) -> Option<Held> {
        let mut held = self.lock();
        // Deliveries mostly start in commit order: the one sought is near the front.
        let at = held.iter().position(|(m, _)| m == id)?;
        held.remove(at).map(|(_, handed)| handed)
    }

    /// How many are held.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether none is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<(MessageId, Held)>> {
        // A panic while it was held cannot leave it half-changed (one push or removal).
        self.held.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An envelope whose id is also its key, and its text.
    fn handed() -> (MessageId, Held) {
        let envelope = crate::envelope::tests::sample();
        let text = serde_json::to_string(&envelope).unwrap();
        (
            envelope.id,
            Held {
                text,
                envelope: envelope.into(),
            },
        )
    }

    #[test]
    fn an_envelope_is_taken_once() {
        let fresh = Fresh::default();
        let (id, h) = handed();
        let text = h.text.clone();
        fresh.put(id, h);
        assert_eq!(fresh.take(&id).map(|h| h.text), Some(text));
        assert!(fresh.take(&id).is_none(), "taken twice");
        assert!(fresh.is_empty());
    }

    #[test]
    fn beyond_its_bound_the_oldest_goes_first() {
        let fresh = Fresh::default();
        let ids: Vec<MessageId> = (0..KEPT + 2)
            .map(|_| {
                let (id, h) = handed();
                fresh.put(id, h);
                id
            })
            .collect();
        assert_eq!(fresh.len(), KEPT);
        assert!(fresh.take(&ids[0]).is_none() && fresh.take(&ids[1]).is_none());
        assert!(fresh.take(&ids[2]).is_some() && fresh.take(&ids[KEPT + 1]).is_some());
    }
}
