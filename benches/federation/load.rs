//! The kuayu load: court clients submit at Sichuan's gateway while a watcher reads the
//! Chongqing court's inbox and notes when each request arrived.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use kuayu::api::Submission;
use kuayu::client::CourtClient;
use kuayu::ids::MessageId;

use crate::stats::Figures;

/// When each request reached the CQ court's inbox, read by one task for the whole run.
#[derive(Clone, Default)]
pub struct Arrivals {
    seen: Arc<Mutex<HashMap<MessageId, Instant>>>,
    /// Requests arrived so far.
    pub count: Arc<AtomicUsize>,
    /// Size of one arrived envelope as JSON text (0 until the first arrives).
    pub envelope_bytes: Arc<AtomicUsize>,
    /// Set to stop the reading task.
    stop: Arc<std::sync::atomic::AtomicBool>,
}

impl Arrivals {
    /// Starts reading `inbox` (the CQ court's client) after position `cursor` until
    /// stopped.
    pub fn watch(inbox: CourtClient, mut cursor: i64) -> Self {
        let arrivals = Arrivals::default();
        let a = arrivals.clone();
        tokio::spawn(async move {
            while !a.stop.load(Ordering::Relaxed) {
                // A long poll: an idle reader waits on the gateway, not on a timer, and
                // sees what lands at once.
                match inbox.inbox_waiting(cursor, 500, 1).await {
                    Ok(page) => {
                        let now = Instant::now();
                        if a.envelope_bytes.load(Ordering::Relaxed) == 0
                            && let Some(e) = page.items.iter().find_map(|i| i.envelope.as_ref())
                        {
                            a.envelope_bytes
                                .store(e.to_string().len(), Ordering::Relaxed);
                        }
                        {
                            let mut seen = a.seen.lock().unwrap();
                            for item in &page.items {
                                seen.insert(item.request_id, now);
                            }
                        }
                        a.count.fetch_add(page.items.len(), Ordering::Relaxed);
                        cursor = page.next_cursor;
                    }
                    // Chongqing stopped (the preservation run): read again soon.
                    Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
                }
            }
        });
        arrivals
    }

    /// Stops the reading task at its next page.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    /// When each of `ids` arrived, waiting (up to 10 minutes) until all have.
    pub async fn wait_for(&self, ids: &[MessageId]) -> anyhow::Result<Vec<Instant>> {
        let deadline = Instant::now() + Duration::from_secs(600);
        loop {
            {
                let seen = self.seen.lock().unwrap();
                if let Some(all) = ids.iter().map(|id| seen.get(id).copied()).collect() {
                    return Ok(all);
                }
            }
            if Instant::now() > deadline {
                anyhow::bail!("requests still missing from the CQ inbox after 10 minutes");
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
}

/// One submitted request: its id, when it was sent and when the 202 came.
pub struct Sent {
    pub id: MessageId,
    pub start: Instant,
    pub answered: Instant,
}

/// `count` submissions of `submission` by `clients.len()` concurrent clients, each using
/// its own client; returns what was accepted (refusals are printed and left out), and
/// counts each acceptance in `accepted` as it comes.
pub async fn submit_all(
    clients: &[CourtClient],
    submission: &Submission,
    count: usize,
    accepted: Arc<AtomicUsize>,
) -> Vec<Sent> {
    let next = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    let body = body_of(submission);
    for client in clients {
        let (client, body, next, accepted) = (
            client.clone(),
            body.clone(),
            Arc::clone(&next),
            Arc::clone(&accepted),
        );
        workers.push(tokio::spawn(async move {
            let mut sent = Vec::new();
            while next.fetch_add(1, Ordering::Relaxed) < count {
                let start = Instant::now();
                match client.submit_json(body.clone(), None).await {
                    Ok(a) => {
                        accepted.fetch_add(1, Ordering::Relaxed);
                        sent.push(Sent {
                            id: a.request_id,
                            start,
                            answered: Instant::now(),
                        })
                    }
                    Err(e) => eprintln!("submit: {e}"),
                }
            }
            sent
        }));
    }
    let mut all = Vec::with_capacity(count);
    for w in workers {
        all.extend(w.await.unwrap_or_default());
    }
    all
}

/// `submission` as the JSON text each request sends, made once and shared: the load's
/// own work is counted in kuayu's CPU a request, and the echo's clients send fixed bytes
/// too.
fn body_of(submission: &Submission) -> Bytes {
    Bytes::from(serde_json::to_vec(submission).expect("a submission serialises"))
}

/// One timed kuayu run: `count` requests from `clients`, until all are in the CQ inbox.
pub async fn round(
    clients: &[CourtClient],
    arrivals: &Arrivals,
    submission: &Submission,
    count: usize,
) -> anyhow::Result<Figures> {
    let begin = Instant::now();
    let sent = submit_all(clients, submission, count, Arc::default()).await;
    arrived(arrivals, &sent, begin).await
}

/// An open-loop run at a fixed offered rate: `count` submissions started every
/// `1 / rate` seconds whatever the answers do (late ticks catch up), spread over
/// `clients` in turn, until all are in the CQ inbox. Unlike [`round`], a slow answer
/// does not slow the load down, so the latencies are those a court sees at that rate.
pub async fn paced(
    clients: &[CourtClient],
    arrivals: &Arrivals,
    submission: &Submission,
    rate: f64,
    count: usize,
) -> anyhow::Result<Figures> {
    let period = Duration::from_secs_f64(1.0 / rate.max(1.0));
    let mut ticks = tokio::time::interval(period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let begin = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    let body = body_of(submission);
    for i in 0..count {
        ticks.tick().await;
        let (client, body) = (clients[i % clients.len()].clone(), body.clone());
        tasks.spawn(async move {
            let start = Instant::now();
            let answer = client.submit_json(body, None).await;
            answer.map(|a| Sent {
                id: a.request_id,
                start,
                answered: Instant::now(),
            })
        });
    }
    let mut sent = Vec::with_capacity(count);
    while let Some(done) = tasks.join_next().await {
        match done? {
            Ok(s) => sent.push(s),
            Err(e) => eprintln!("submit: {e}"),
        }
    }
    arrived(arrivals, &sent, begin).await
}

/// The figures of `sent` (started from `begin`) once all are in the CQ inbox.
async fn arrived(arrivals: &Arrivals, sent: &[Sent], begin: Instant) -> anyhow::Result<Figures> {
    let ids: Vec<MessageId> = sent.iter().map(|s| s.id).collect();
    let arrived = arrivals.wait_for(&ids).await?;
    let submitted = sent.iter().map(|s| s.answered).max().unwrap_or(begin) - begin;
    let delivered = arrived.iter().max().copied().unwrap_or(begin) - begin;
    Ok(Figures::of(
        sent.iter().map(|s| s.answered - s.start).collect(),
        sent.iter()
            .zip(&arrived)
            .map(|(s, a)| *a - s.start)
            .collect(),
        submitted,
        delivered,
    ))
}
