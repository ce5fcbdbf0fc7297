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
/// over `recipients` in turn; returns every answered request.
pub async fn drive(
    clients: Vec<(CourtId, CourtClient)>,
    recipients: &[&str],
    total: usize,
) -> Vec<Sent> {
    let next = Arc::new(AtomicUsize::new(0));
    let recipients: Arc<Vec<String>> =
        Arc::new(recipients.iter().map(|s| (*s).to_owned()).collect());
    let mut workers = Vec::new();
    for (from, client) in clients {
        let (next, recipients) = (Arc::clone(&next), Arc::clone(&recipients));
        workers.push(tokio::spawn(async move {
            let mut sent = Vec::new();
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= total {
                    return sent;
                }
                let to = &recipients[n % recipients.len()];
                sent.push(send(&from, &client, &submission("service.request", to)).await);
            }
        }));
    }
    let mut all = Vec::with_capacity(total);
    for w in workers {
        all.extend(w.await.unwrap());
    }
    all
}

/// One request, retried under the same key until the gateway answers it.
async fn send(from: &CourtId, client: &CourtClient, s: &Submission) -> Sent {
    let key = MessageId::new().to_string();
    let began = Instant::now();
    let mut attempts = 0;
    loop {
        attempts += 1;
        let why = match client.submit(s, Some(&key)).await {
            Ok(accepted) => {
                return Sent {
                    key,
                    from: from.clone(),
                    to: s.recipient_court.clone(),
                    accepted,
                    attempts,
                };
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
    task: JoinHandle<(Vec<Replica>, usize)>,
}

impl Killer {
    /// Every `every`, SIGKILLs the next replica in turn and starts it again `down` later.
    pub fn start(mut replicas: Vec<Replica>, every: Duration, down: Duration) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let task = tokio::spawn(async move {
            let mut kills = 0;
            loop {
                // The first kill comes early, so a fast run still sees kills.
                let wait = if kills == 0 { every / 4 } else { every };
                let mut waited = Duration::ZERO;
                while waited < wait && !flag.load(Ordering::Relaxed) {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    waited += Duration::from_millis(50);
                }
                if flag.load(Ordering::Relaxed) {
                    return (replicas, kills);
                }
                let n = replicas.len();
                let victim = &mut replicas[kills % n];
                victim.kill().await;
                kills += 1;
                tokio::time::sleep(down).await;
                victim.start();
                for r in replicas.iter_mut() {
                    if let Some(status) = r.died() {
                        panic!("a replica died by itself ({status}):\n{}", r.log_tail());
                    }
                }
            }
        });
        Killer { stop, task }
    }

    /// Stops killing; returns the replicas (all started) and the number of kills.
    pub async fn stop(self) -> (Vec<Replica>, usize) {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await.unwrap()
    }
}
