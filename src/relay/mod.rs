//! The outbox relay: sends committed messages to peer gateways, highest priority first,
//! each peer through its own slots with the last kept for preservation orders and few
//! ordinary deliveries started beside one in flight ([`slots`]), backs off from an unreachable peer ([`breaker`]: one probe at a time, the
//! most urgent message first) while pinging it every few seconds ([`probe`]), and stops
//! for good (recording why) when the peer refuses a message or it expires (`deliver`).
//!
//! Messages started together go to their peer in trips ([`trips`]): one request to the
//! batch route each (`batch.rs`), their outcomes recorded together; under load, ordinary
//! messages wait for one of a peer's trips in flight to end, so trips grow.
//!
//! A delivery counts only when the peer answers with a relay receipt that verifies
//! with the peer's message key and names this message and digest.
//!
//! Retrieval receipts travel back to the sending gateway on a queue of their own
//! ([`receipts`]).
//!
//! The relay sleeps until something wakes it: a commit, a slot freed or a delivery ended
//! (`Gateway::relay_wake`, [`wake`]), the next retry or ping falling due, or at the
//! latest `MAX_IDLE` (a hand-driven clock, or rows another process wrote). It reads the
//! outbox only when it may hold a due message not yet started ([`wake`]); a new request's
//! message committed while every due item is started is handed over with its outbox item
//! and starts without a read (`handed.rs`), so a relay that keeps up reads its outbox
//! hardly at all.

use std::sync::Arc;
use std::time::Duration;

mod attachments;
mod batch;
pub mod breaker;
mod deliver;
pub mod fresh;
mod handed;
pub mod probe;
pub mod receipts;
mod send;
pub mod slots;
pub mod trips;
pub mod wake;

use breaker::{Admit, Breakers};
use slots::{Room, Slots};

use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::clock::unix_millis;
use crate::envelope::Priority;
use crate::gateway::Gateway;
use crate::ids::RegionId;
use crate::store::OutboxItem;

/// Due items read at a time (beyond those already in flight, which still show as pending
/// and come first). Each delivery that ends wakes the relay for one read, which mostly
/// fills the one slot it freed: every row read costs a join and a look for an earlier
/// pending item of its request, and 64 of them at each wake were a sixth of all CPU while
/// a long queue drained. More slots free than this at once take more reads.
const BATCH: i64 = 16;
/// Longest sleep (also how often a hand-driven clock is looked at).
const MAX_IDLE: Duration = Duration::from_millis(500);
/// How long in-flight deliveries get to finish at shutdown.
const DRAIN_DEADLINE: Duration = Duration::from_secs(10);

/// What the relay keeps between passes.
struct Relay {
    g: Arc<Gateway>,
    slots: Arc<Slots>,
    breakers: Arc<Breakers>,
    tasks: JoinSet<()>,
    /// Whether the last read of the outbox found every due item started (or in flight)
    /// and nothing has changed since that needs another: then a pass woken by a freed
    /// slot does not read.
    seen_all: bool,
    /// The next retry time the store last gave (`Store::next_due`) and the peers that read
    /// left out. It stays right until the outbox is read again: only a commit, a retry, a
    /// peer answering again or a delivery that leaves another item waiting can bring a
    /// retry time earlier, and each of those calls for a read. A delivery recorded can
    /// only make it later, and then the relay wakes early once and reads.
    next_due: Option<(Vec<RegionId>, Option<i64>)>,
    /// The items started lately (`handed.rs`).
    started: handed::Started,
    /// The items this pass started, sent when it ends (`trips.rs`).
    starting: Vec<OutboxItem>,
    /// Ordinary items started but held back until a trip to their peer ends (`trips.rs`).
    held: Vec<OutboxItem>,
    /// The ordinary trips in flight (`trips.rs`).
    in_flight: Arc<trips::InFlight>,
    /// The peers that take no batch (`batch.rs`).
    singles: Arc<batch::Singles>,
}

/// Runs the relay until `shutdown` turns true, then lets in-flight deliveries finish.
pub async fn run(g: Arc<Gateway>, mut shutdown: watch::Receiver<bool>) {
    let mut relay = Relay {
        slots: Arc::new(Slots::new(g.relay.peer_slots, g.relay.quiet_slots)),
        breakers: Arc::clone(&g.breakers),
        tasks: JoinSet::new(),
        seen_all: false,
        next_due: None,
        started: handed::Started::default(),
        starting: Vec::new(),
        held: Vec::new(),
        in_flight: Arc::default(),
        singles: Arc::default(),
        g,
    };
    loop {
        while relay.tasks.try_join_next().is_some() {}
        let now_ms = unix_millis(relay.g.clock.now());
        // Taken before the read, which finds them in the outbox (committed before they
        // were handed over); those handed over during it wait for the next pass.
        let handed = relay.g.relay_wake.take_handed();
        // Cleared before the read, so a change during it calls for another.
        if relay.g.relay_wake.take_changed() || !relay.seen_all {
            relay.seen_all = relay.start_due(now_ms).await;
            relay.next_due = None;
        } else if !handed.is_empty() {
            relay.seen_all = relay.start_handed(handed, now_ms);
        }
        relay.launch();
        relay.ping_due(now_ms);
        let wait = relay.next_wake(now_ms).await;
        tokio::select! {
            _ = relay.g.relay_wake.notified() => {}
            // A retry, a probe or another replica's lease may be due, or another
            // process wrote rows.
            _ = tokio::time::sleep(wait) => relay.seen_all = false,
            _ = shutdown.changed() => break,
        }
    }
    let drain = async { while relay.tasks.join_next().await.is_some() {} };
    if tokio::time::timeout(DRAIN_DEADLINE, drain).await.is_err() {
        tracing::warn!(
            "relay deliveries still running after the drain deadline; they will be retried at the next start"
        );
    }
}

impl Relay {
    /// Starts every due message that has a slot, highest priority first. Reads again
    /// while a read was full and started something or ruled a peer out, so a peer with
    /// many messages waiting does not hide the others'. Whether every due item was
    /// started or is in flight (no peer skipped or ruled out, the last read not full, no
    /// error).
    async fn start_due(&mut self, now_ms: i64) -> bool {
        let mut skip = self.breakers.blocked(now_ms);
        skip.extend(self.slots.full());
        let mut seen_all = skip.is_empty();
        loop {
            self.slots.begin_read();
            let limit = BATCH + self.slots.in_flight() as i64;
            self.g.observer.metrics.outbox_read();
            let due = match self.g.store.due_outbox(now_ms, limit, &skip).await {
                Ok(due) => due,
                Err(e) => {
                    tracing::error!(error = %e, "relay cannot read the outbox");
                    return false;
                }
            };
            let complete = (due.len() as i64) < limit;
            let mut progressed = false;
            for item in due {
                if skip.contains(&item.peer) {
                    continue;
                }
                match self.slots.room(item.seq, &item.peer, urgent(&item), now_ms) {
                    Room::Busy => continue,
                    // Its peer's more urgent messages were earlier in this read.
                    Room::Full => {
                        seen_all = false;
                        rule_out(&mut skip, &item.peer, &mut progressed);
                    }
                    Room::Free => match self.breakers.admit(&item.peer, now_ms) {
                        Admit::Wait => {
                            seen_all = false;
                            rule_out(&mut skip, &item.peer, &mut progressed);
                        }
                        Admit::Open | Admit::Probe => {
                            self.start(item, now_ms);
                            progressed = true;
                        }
                    },
                }
            }
            if complete {
                return seen_all;
            }
            if !progressed {
                return false;
            }
        }
    }

    /// Takes a slot for `item`; it goes when the pass ends ([`Relay::launch`]).
    fn start(&mut self, item: OutboxItem, now_ms: i64) {
        self.started.add(item.seq);
        self.slots.take(item.seq, &item.peer, urgent(&item), now_ms);
        self.starting.push(item);
    }

    /// Sends what this pass started and what was held back, in trips (`trips.rs`), each
    /// on a task of its own (`batch.rs`).
    fn launch(&mut self) {
        let mut items = std::mem::take(&mut self.held);
        items.append(&mut self.starting);
        let (trips, held) = trips::board(items, &self.in_flight);
        self.held = held;
        for trip in trips {
            let (g, slots, breakers, singles, in_flight) = (
                Arc::clone(&self.g),
                Arc::clone(&self.slots),
                Arc::clone(&self.breakers),
                Arc::clone(&self.singles),
                Arc::clone(&self.in_flight),
            );
            let peer = trip[0].peer.clone();
            let ordinary = (!urgent(&trip[0])).then(|| in_flight.begin(&peer));
            self.tasks.spawn(async move {
                let ended = batch::deliver(&g, &breakers, &slots, &singles, trip).await;
                if let Some(id) = ordinary {
                    in_flight.end(&peer, id);
                }
                for (seq, read_again) in ended {
                    slots.release(seq);
                    if read_again {
                        g.relay_wake.outbox_changed();
                    } else {
                        g.relay_wake.slot_freed();
                    }
                }
            });
        }
    }

    /// Pings the down peers whose ping is due.
    fn ping_due(&mut self, now_ms: i64) {
        for peer in self.breakers.pings_due(now_ms) {
            let (g, breakers) = (Arc::clone(&self.g), Arc::clone(&self.breakers));
            self.tasks
                .spawn(async move { probe::ping(&g, &breakers, peer).await });
        }
    }

    /// How long to sleep: until the next retry, probe or ping falls due (what is due
    /// now and did not start waits for a slot, and a finished delivery wakes the relay).
    async fn next_wake(&mut self, now_ms: i64) -> Duration {
        let mut skip = self.breakers.blocked(now_ms);
        skip.extend(self.slots.full());
        let next = match &self.next_due {
            // Kept from the last read of it, for the same peers, and still ahead.
            Some((read_for, next)) if *read_for == skip && next.is_none_or(|at| at > now_ms) => {
                *next
            }
            _ => match self.g.store.next_due(now_ms, &skip).await {
                Ok(next) => {
                    self.next_due = Some((skip, next));
                    next
                }
                Err(e) => {
                    tracing::error!(error = %e, "relay cannot read the outbox");
                    None
                }
            },
        };
        let wait = next
            .into_iter()
            .chain(self.breakers.next_after(now_ms))
            .min()
            .map_or(MAX_IDLE, |due| {
                Duration::from_millis(u64::try_from(due - now_ms).unwrap_or(0)).min(MAX_IDLE)
            });
        // Items held back go at the latest when the trip ahead of them is out too long.
        if self.held.is_empty() {
            wait
        } else {
            wait.min(trips::TRIP_PATIENCE)
        }
    }
}

fn rule_out(skip: &mut Vec<RegionId>, peer: &RegionId, progressed: &mut bool) {
    if !skip.contains(peer) {
        skip.push(peer.clone());
        *progressed = true;
    }
}

/// Whether `item` is a preservation order (high priority), which may take a peer's last
/// slot. Read from the outbox row: the envelope is parsed only by the delivery.
fn urgent(item: &OutboxItem) -> bool {
    item.priority >= Priority::High.rank()
}
