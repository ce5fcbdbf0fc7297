//! What the kill harness checks once the load is through: every answered request is in
//! its court's inbox at the partner exactly once and nothing else is; the sender's
//! history of each has one `relayed` entry, and its audit log one `request.relayed`;
//! every receipt verifies with its issuer's key; the audit chain holds.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use futures_util::StreamExt as _;
use kuayu::agreement::Agreement;
use kuayu::api::InboxEntry;
use kuayu::client::CourtClient;
use kuayu::demo::report::{receipt_verifies, verify_receipts};
use kuayu::ids::{CourtId, MessageId};
use kuayu::store::Store as _;
use kuayu::store::sql::{Location, SqlStore};

use super::load::Sent;

/// What the checks counted.
#[derive(Debug, Default)]
pub struct Findings {
    /// Answered requests not in the partner's inbox.
    pub lost: usize,
    /// Answered requests in the partner's inbox more than once.
    pub duplicated: usize,
    /// Inbox items of no answered request (a retry that made a second request).
    pub unasked: usize,
    /// Answered requests whose sender shows no relay receipt.
    pub unrelayed: usize,
    /// Fewest and most `relayed` history entries of one request at the sender.
    pub relayed: (usize, usize),
    /// Fewest and most `request.relayed` audit entries of one request at the sender.
    pub audited: (usize, usize),
    /// Receipts that verify, of all receipts seen.
    pub receipts: (usize, usize),
    /// How long, after the last answer, until every request was in the partner's inbox
    /// and shown relayed by the sender.
    pub settle: Duration,
}

impl Findings {
    /// Whether nothing was lost, duplicated or misrecorded.
    pub fn clean(&self) -> bool {
        self.lost == 0
            && self.duplicated == 0
            && self.unasked == 0
            && self.unrelayed == 0
            && self.relayed == (1, 1)
            && self.audited == (1, 1)
            && self.receipts.0 == self.receipts.1
    }
}

/// Every item of the inboxes of `courts`, paging through each.
async fn inboxes(courts: &[(CourtId, CourtClient)]) -> Vec<(CourtId, InboxEntry)> {
    let mut all = Vec::new();
    for (court, client) in courts {
        let mut after = 0;
        loop {
            let page = client.inbox(after, 500).await.unwrap();
            if page.items.is_empty() {
                break;
            }
            after = page.next_cursor;
            all.extend(page.items.into_iter().map(|i| (court.clone(), i)));
        }
    }
    all
}

/// Waits (up to `limit`) until every request in `sent` is in the inbox of the court it
/// was sent to; then counts what is lost, duplicated or unasked, and checks the
/// retrieval receipts.
pub async fn partner_inboxes(
    sent: &[Sent],
    courts: &[(CourtId, CourtClient)],
    agreement: &Agreement,
    limit: Duration,
    f: &mut Findings,
) {
    let began = Instant::now();
    // A retrieval receipt comes with a message's first retrieval only: keep each.
    let mut receipts: BTreeMap<MessageId, Option<bool>> = BTreeMap::new();
    let items = loop {
        let items = inboxes(courts).await;
        for (_, i) in &items {
            receipts
                .entry(i.message_id)
                .or_insert_with(|| i.receipt.as_ref().map(|r| receipt_verifies(r, agreement)));
        }
        let got: std::collections::BTreeSet<MessageId> =
            items.iter().map(|(_, i)| i.request_id).collect();
        let all_in = sent.iter().all(|s| got.contains(&s.accepted.request_id));
        if all_in || began.elapsed() > limit {
            break items;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let mut seen: BTreeMap<(CourtId, MessageId), usize> = BTreeMap::new();
    for (court, item) in &items {
        *seen.entry((court.clone(), item.request_id)).or_default() += 1;
        count_receipt(receipts.get(&item.message_id).copied().flatten(), f);
    }
    let asked: std::collections::BTreeSet<(CourtId, MessageId)> = sent
        .iter()
        .map(|s| (s.to.clone(), s.accepted.request_id))
        .collect();
    for key in &asked {
        match seen.get(key).copied().unwrap_or(0) {
            0 => f.lost += 1,
            1 => {}
            _ => f.duplicated += 1,
        }
    }
    f.unasked = seen.keys().filter(|k| !asked.contains(k)).count();
}

fn count_receipt(verified: Option<bool>, f: &mut Findings) {
    f.receipts.1 += 1;
    if verified == Some(true) {
        f.receipts.0 += 1;
    }
}

fn widen(range: &mut (usize, usize), n: usize, first: bool) {
    *range = if first {
        (n, n)
    } else {
        (range.0.min(n), range.1.max(n))
    };
}

/// The sender's view of each request (through the balancer), once it shows the delivery
/// (or at `deadline`): one `relayed` history entry, and receipts (the 202's, the view's)
/// that verify.
pub async fn sender_histories(
    sent: &[Sent],
    courts: &BTreeMap<CourtId, CourtClient>,
    agreement: &Agreement,
    deadline: Instant,
    f: &mut Findings,
) {
    let views: Vec<serde_json::Value> = futures_util::stream::iter(sent)
        .map(|s| async move {
            let client = &courts[&s.from];
            let id = s.accepted.request_id;
            loop {
                let view = client.request(id).await.ok();
                let relayed = view.as_ref().is_some_and(|v| {
                    v["history"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .any(|h| h["event"] == "relayed")
                });
                match view {
                    Some(v) if relayed || Instant::now() > deadline => return v,
                    None if Instant::now() > deadline => {
                        panic!("the sender does not show request {id}")
                    }
                    _ => tokio::time::sleep(Duration::from_millis(100)).await,
                }
            }
        })
        .buffered(8)
        .collect()
        .await;
    for (i, (s, view)) in sent.iter().zip(&views).enumerate() {
        let relayed = view["history"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|h| h["event"] == "relayed")
            .count();
        widen(&mut f.relayed, relayed, i == 0);
        count_receipt(Some(receipt_verifies(&s.accepted.receipt, agreement)), f);
        let (good, total) = verify_receipts(&[view], agreement);
        f.receipts.0 += good;
        f.receipts.1 += total;
        if total < 2 {
            f.unrelayed += 1;
        }
    }
}

/// The sender's audit log, read from its database once its processes are stopped: the
/// chain verifies, and each request has one `request.relayed` entry.
pub async fn sender_audit(sent: &[Sent], database: &Location, f: &mut Findings) {
    let store = SqlStore::open_location(database).await.unwrap();
    let (mut log, mut after) = (Vec::new(), 0);
    loop {
        let page = store.audit_entries(after, 5_000).await.unwrap();
        let Some(last) = page.last() else { break };
        after = last.seq;
        log.extend(page);
    }
    store.close().await;
    assert_eq!(
        kuayu::audit::verify_chain(&log),
        Ok(()),
        "the audit chain holds"
    );
    let mut relayed: BTreeMap<String, usize> = BTreeMap::new();
    for e in log.iter().filter(|e| e.action == "request.relayed") {
        *relayed.entry(e.subject.clone()).or_default() += 1;
    }
    for (i, s) in sent.iter().enumerate() {
        let n = relayed
            .get(&s.accepted.request_id.to_string())
            .copied()
            .unwrap_or(0);
        widen(&mut f.audited, n, i == 0);
    }
}
