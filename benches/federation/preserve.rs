//! Preservation orders (freezes, `high` priority) past a queue of ordinary work: with
//! Chongqing's gateway stopped, `queued` ordinary requests are submitted and wait in
//! Sichuan's outbox; Chongqing returns, and from the first ordinary arrival on, while
//! the queue drains, a preservation order is submitted every 20 ms. Each is timed from
//! its submission until it is in the CQ court's inbox, and the requests still waiting
//! (submitted, not yet in that inbox) are noted at each submission.
//!
//! "In the inbox" is when the CQ court first saw the order: through its inbox reader
//! (the feed, long-polled in arrival order, which also counts the ordinary arrivals) or
//! through its preservation desk (the work queue long-polled for preservation work only,
//! `priority=high`, each item acknowledged), whichever saw it first. Beside it, each
//! order is also timed until Chongqing stamped it received (its first history entry,
//! written in the transaction that put it in the inbox, with the time Chongqing's check
//! of it began), and until Sichuan answered its submission (the 202): the first leg.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kuayu::api::Submission;
use kuayu::client::CourtClient;
use kuayu::devnet::DevFederation;
use kuayu::ids::MessageId;
use time::OffsetDateTime;

use crate::load::{Arrivals, submit_all};
use crate::stages;
use crate::stats::{median, ms, percentile};

/// What the preservation run measured.
pub struct Preservation {
    /// Preservation orders timed.
    pub orders: usize,
    /// End-to-end latency of the orders, 50th and 99th percentiles, in ms.
    pub p50: f64,
    pub p99: f64,
    /// Latency until Chongqing stamped the order received (before the court's poll
    /// saw it), 50th and 99th percentiles, in ms.
    pub stamped_p50: f64,
    pub stamped_p99: f64,
    /// Latency until Sichuan answered the order's submission (202), 50th and 99th
    /// percentiles, in ms.
    pub submitted_p50: f64,
    pub submitted_p99: f64,
    /// Sichuan's pipeline stages while the orders were submitted (theirs alone: the
    /// ordinary requests were all submitted before), and Chongqing's for everything it
    /// took in meanwhile (see `stages.rs`).
    pub sc_stages: String,
    pub cq_stages: String,
    /// Orders the preservation desk saw before the inbox reader.
    pub by_desk: usize,
    /// Ordinary requests still waiting when each order was submitted: the median and
    /// the most.
    pub waiting_median: f64,
    pub waiting_max: usize,
    /// Seconds from Chongqing's return until the queue had drained.
    pub drained_secs: f64,
}

/// Who sends the preservation orders and who receives them.
pub struct Courts<'a> {
    /// The Sichuan court that submits the orders.
    pub urgent: &'a CourtClient,
    /// The Chongqing court they are addressed to (its request views give the stamps).
    pub cq: &'a CourtClient,
}

/// Queues `queued` ordinary requests from `clients` behind a stopped Chongqing, then
/// times preservation orders from `courts.urgent` while they drain.
pub async fn run(
    fed: &mut DevFederation,
    clients: &[CourtClient],
    courts: Courts<'_>,
    arrivals: &Arrivals,
    ordinary: &Submission,
    freeze: &Submission,
    queued: usize,
) -> anyhow::Result<Preservation> {
    let Courts { urgent, cq } = courts;
    fed.stop("CQ").await;
    let sent = submit_all(clients, ordinary, queued, Arc::default()).await;
    anyhow::ensure!(
        sent.len() == queued,
        "{} of {queued} ordinary requests accepted",
        sent.len()
    );
    let base = arrivals.count.load(Ordering::Relaxed);
    fed.restart("CQ").await?;
    let back = Instant::now();
    let desk = Desk::start(cq.clone());
    let sc_before = stages::read(&fed.gateway("SC").gateway);
    let cq_before = stages::read(&fed.gateway("CQ").gateway);
    while arrivals.count.load(Ordering::Relaxed) == base {
        anyhow::ensure!(
            back.elapsed() < Duration::from_secs(120),
            "Chongqing took no delivery"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let (mut orders, mut waiting, mut submitted) = (Vec::new(), Vec::new(), Vec::new());
    loop {
        // Arrivals so far include the orders that arrived; count them out.
        let arrived = arrivals.count.load(Ordering::Relaxed) - base;
        let left = (queued + orders.len()).saturating_sub(arrived);
        if left == 0 || back.elapsed() > Duration::from_secs(600) {
            break;
        }
        let (start, wall) = (Instant::now(), OffsetDateTime::now_utc());
        let id = urgent.submit(freeze, None).await?.request_id;
        submitted.push(start.elapsed());
        orders.push((id, start, wall));
        waiting.push(left);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let sc_stages = stages::read(&fed.gateway("SC").gateway).since(&sc_before, "outbound");
    let cq_stages = stages::read(&fed.gateway("CQ").gateway).since(&cq_before, "inbound");
    let ids: Vec<_> = sent.iter().map(|s| s.id).collect();
    let drained = *arrivals.wait_for(&ids).await?.iter().max().unwrap_or(&back);
    let ids: Vec<_> = orders.iter().map(|(id, _, _)| *id).collect();
    let arrived = arrivals.wait_for(&ids).await?;
    let at_desk = desk.stop();
    let mut by_desk = 0;
    let mut latencies: Vec<Duration> = orders
        .iter()
        .zip(&arrived)
        .map(|((id, s, _), a)| match at_desk.get(id) {
            Some(d) if d < a => {
                by_desk += 1;
                *d - *s
            }
            _ => *a - *s,
        })
        .collect();
    latencies.sort();
    let mut stamped = Vec::with_capacity(orders.len());
    for (id, _, wall) in &orders {
        let received = received_at(cq, *id).await?;
        stamped.push(Duration::try_from(received - *wall).unwrap_or_default());
    }
    stamped.sort();
    submitted.sort();
    Ok(Preservation {
        orders: latencies.len(),
        p50: ms(percentile(&latencies, 0.50)),
        p99: ms(percentile(&latencies, 0.99)),
        stamped_p50: ms(percentile(&stamped, 0.50)),
        stamped_p99: ms(percentile(&stamped, 0.99)),
        submitted_p50: ms(percentile(&submitted, 0.50)),
        submitted_p99: ms(percentile(&submitted, 0.99)),
        sc_stages,
        cq_stages,
        by_desk,
        waiting_median: median(waiting.iter().map(|w| *w as f64).collect()),
        waiting_max: waiting.iter().copied().max().unwrap_or(0),
        drained_secs: (drained - back).as_secs_f64(),
    })
}

/// The CQ court's preservation desk: long-polls the work queue for preservation work
/// only, acknowledges what it gets, and notes when it saw each request.
struct Desk {
    seen: Arc<Mutex<HashMap<MessageId, Instant>>>,
    stop: Arc<AtomicBool>,
}

impl Desk {
    fn start(cq: CourtClient) -> Self {
        let desk = Desk {
            seen: Arc::default(),
            stop: Arc::default(),
        };
        let (seen, stop) = (desk.seen.clone(), desk.stop.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let Ok(page) = cq.lease_preservation(50, 1).await else {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                };
                let now = Instant::now();
                let cursors: Vec<i64> = page.items.iter().map(|i| i.cursor).collect();
                seen.lock()
                    .unwrap()
                    .extend(page.items.iter().map(|i| (i.request_id, now)));
                if !cursors.is_empty() {
                    let _ = cq.acknowledge(&cursors).await;
                }
            }
        });
        desk
    }

    /// Stops the desk (at its next poll); when it saw each request.
    fn stop(self) -> HashMap<MessageId, Instant> {
        self.stop.store(true, Ordering::Relaxed);
        self.seen.lock().unwrap().clone()
    }
}

/// When Chongqing stamped request `id` received: its first history entry there (written
/// with millisecond precision by the gateway's clock, the same wall clock as ours).
async fn received_at(cq: &CourtClient, id: MessageId) -> anyhow::Result<OffsetDateTime> {
    let view = cq.request(id).await?;
    let at = view["history"][0]["at"]
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("request {id} has no history at Chongqing"))?;
    Ok(OffsetDateTime::parse(
        at,
        &time::format_description::well_known::Rfc3339,
    )?)
}
