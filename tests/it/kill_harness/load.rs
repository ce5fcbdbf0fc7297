//! The load and the killer: court clients sending a stream of service requests through
//! the balancer, each with its own Idempotency-Key, retrying with that key until they get
//! an answer; and a task that SIGKILLs one replica every interval and starts it again.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use kuayu::api::{Accepted, Submission};
use kuayu::client::{ClientError, CourtClient};
use kuayu::ids::{CourtId, MessageId};
use tokio::task::JoinHandle;

use super::replicas::Replica;
use crate::support::submission;

/// A request that got its 202.
#[derive(Debug, Clone)]
pub struct Sent {
    /// The key every attempt carried.
    pub key: String,
    /// The court that sent it.
    pub from: CourtId,
    /// The court it was sent to.
    pub to: CourtId,
    /// The gateway's answer.
    pub accepted: Accepted,
    /// Attempts it took (1 when nothing went wrong).
    pub attempts: usize,
}

/// The longest a request keeps being retried before the harness gives up on it.
const GIVE_UP: Duration = Duration::from_secs(120);

/// Sends `total` service requests from `clients` (court, client) pairs at once, spread
/// over `recipients` in turn; returns every answered request. Stops early, with what was
/// answered, once `halt` is set (the killer found a replica dead by itself).
pub async fn drive(
    clients: Vec<(CourtId, CourtClient)>,
    recipients: &[&str],
    total: usize,
    halt: Arc<AtomicBool>,
) -> Vec<Sent> {
    let next = Arc::new(AtomicUsize::new(0));
    let recipients: Arc<Vec<String>> =
        Arc::new(recipients.iter().map(|s| (*s).to_owned()).collect());
    let mut workers = Vec::new();
    for (from, client) in clients {
        let (next, recipients) = (Arc::clone(&next), Arc::clone(&recipients));
        let halt = Arc::clone(&halt);
        workers.push(tokio::spawn(async move {
            let mut sent = Vec::new();
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= total {
                    return sent;
                }
                let to = &recipients[n % recipients.len()];
                let s = submission("service.request", to);
                match send(&from, &client, &s, &halt).await {
                    Some(answered) => sent.push(answered),
                    None => return sent,
                }
            }
        }));
    }
    let mut all = Vec::with_capacity(total);
    for w in workers {
        all.extend(w.await.unwrap());
    }
    all
}

/// One request, retried under the same key until the gateway answers it (`None`: given
/// up because `halt` was set).
async fn send(
    from: &CourtId,
    client: &CourtClient,
    s: &Submission,
    halt: &AtomicBool,
) -> Option<Sent> {
    let key = MessageId::new().to_string();
    let began = Instant::now();
    let mut attempts = 0;
    loop {
        if halt.load(Ordering::Relaxed) {
            return None;
        }
        attempts += 1;
        let why = match client.submit(s, Some(&key)).await {
            Ok(accepted) => {
                return Some(Sent {
                    key,
                    from: from.clone(),
                    to: s.recipient_court.clone(),
                    accepted,
                    attempts,
                });
            }
            // The replica died under the connection, or none was up: try again.
            Err(e @ (ClientError::Transport(_) | ClientError::Unexpected { .. })) => e,
            Err(ClientError::Problem(p)) if p.retryable() => ClientError::Problem(p),
            Err(e) => panic!("request {key} refused for good after {attempts} attempts: {e}"),
        };
        assert!(
            began.elapsed() < GIVE_UP,
            "request {key} unanswered after {attempts} attempts: {why}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The task that kills replicas; [`Killer::stop`] ends it with every replica running.
pub struct Killer {
    stop: Arc<AtomicBool>,
    /// Set when a replica died by itself: the load stops, and the test fails with its log.
    pub halt: Arc<AtomicBool>,
    task: JoinHandle<Killed>,
}

/// What the killer gives back.
pub struct Killed {
    /// The replicas, all started (or the one that died, with its exit status).
    pub replicas: Vec<Replica>,
    /// How many kills it made.
    pub kills: usize,
    /// A replica that died by itself: its exit status and the end of its log.
    pub died: Option<String>,
}

impl Killer {
    /// Every `every`, SIGKILLs the next replica in turn and starts it again `down` later.
    /// A replica found dead by itself ends the killing and sets `halt`; the replicas are
    /// handed back, not dropped, so that the others keep serving until the test ends.
    pub fn start(mut replicas: Vec<Replica>, every: Duration, down: Duration) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let halt = Arc::new(AtomicBool::new(false));
        let (flag, halting) = (Arc::clone(&stop), Arc::clone(&halt));
        let task = tokio::spawn(async move {
            let mut kills = 0;
            let done = |replicas, kills, died| Killed {
                replicas,
                kills,
                died,
            };
            loop {
                // The first kill comes early, so a fast run still sees kills. While it
                // waits, it looks for a replica that died by itself.
                let wait = if kills == 0 { every / 4 } else { every };
                let mut waited = Duration::ZERO;
                while waited < wait && !flag.load(Ordering::Relaxed) {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    waited += Duration::from_millis(50);
                    let died = replicas.iter_mut().find_map(Replica::death);
                    if died.is_some() {
                        halting.store(true, Ordering::Relaxed);
                        return done(replicas, kills, died);
                    }
                }
                if flag.load(Ordering::Relaxed) {
                    return done(replicas, kills, None);
                }
                let n = replicas.len();
                let victim = &mut replicas[kills % n];
                victim.kill().await;
                kills += 1;
                tokio::time::sleep(down).await;
                victim.start();
            }
        });
        Killer { stop, halt, task }
    }

    /// Stops killing; returns the replicas and the number of kills, and fails the test if
    /// a replica died by itself.
    pub async fn stop(self) -> (Vec<Replica>, usize) {
        self.stop.store(true, Ordering::Relaxed);
        let killed = self.task.await.unwrap();
        if let Some(died) = killed.died {
            panic!(
                "a replica died by itself after {} kills: {died}",
                killed.kills
            );
        }
        (killed.replicas, killed.kills)
    }
}
