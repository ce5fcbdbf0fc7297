//! Recent answers kept a while, for work that is asked again and again with the same
//! question: who a certificate names and which chains verified under a party's trust
//! anchor (a peer or court presents the same certificate on every request of its
//! connection; checking its chain is an ECDSA verification per certificate), and the
//! Cedar entities of a pair of courts.

use std::collections::VecDeque;
use std::sync::Mutex;

/// A few recent answers, each kept until a time (Unix seconds); the oldest is forgotten
/// first. Keys are compared in full, never by a hash of them.
pub struct Recent<K, V> {
    entries: Mutex<VecDeque<(K, V, u64)>>,
    capacity: usize,
}

impl<K: PartialEq, V: Clone> Recent<K, V> {
    /// Keeps at most `capacity` answers.
    pub fn new(capacity: usize) -> Self {
        Recent {
            entries: Mutex::new(VecDeque::with_capacity(capacity)),
            capacity,
        }
    }

    /// The answer kept for a key `is` matches, if it still stands at `now`.
    pub fn get(&self, is: impl Fn(&K) -> bool, now: u64) -> Option<V> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .iter()
            .find(|(k, _, until)| now < *until && is(k))
            .map(|(_, v, _)| v.clone())
    }

    /// Keeps `value` for `key` until `until`, forgetting what no longer stands at `now`
    /// and, if still full, the oldest answer.
    pub fn put(&self, key: K, value: V, now: u64, until: u64) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.retain(|(k, _, u)| now < *u && *k != key);
        while entries.len() >= self.capacity.max(1) {
            entries.pop_front();
        }
        entries.push_back((key, value, until));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_stands_until_its_time_and_the_oldest_goes_first() {
        let recent: Recent<&str, u32> = Recent::new(2);
        recent.put("a", 1, 100, 160);
        assert_eq!(recent.get(|k| *k == "a", 159), Some(1));
        assert_eq!(recent.get(|k| *k == "a", 160), None, "expired at its time");
        recent.put("b", 2, 100, 200);
        recent.put("c", 3, 100, 200);
        assert_eq!(
            recent.get(|k| *k == "a", 101),
            None,
            "the oldest was forgotten"
        );
        assert_eq!(recent.get(|k| *k == "b", 101), Some(2));
        assert_eq!(recent.get(|k| *k == "c", 101), Some(3));
        recent.put("b", 4, 101, 200);
        assert_eq!(
            recent.get(|k| *k == "b", 102),
            Some(4),
            "a key is kept once"
        );
    }
}
