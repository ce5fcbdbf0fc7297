//! A floor under kuayu's cost: the least work that any gateway pair with kuayu's
//! durability and signatures must do for one request, on the same stack, with nothing
//! else. What it does not do is what kuayu does on top (JSON parsing, schemas, policy,
//! audit chains, indexes, compression, the relay's hop to Chongqing, the court's inbox
//! read), so kuayu cannot use less CPU a request than this on the same machine.
//!
//! A court client posts the body over mutual TLS to Sichuan's side (the echo's gateway
//! A certificates, [`crate::echo::serve`]); both regions' sides run in that process:
//! 1. Sichuan signs the body (the envelope's seal) and a submission receipt over its
//!    SHA-256, and commits both with the body to its store;
//! 2. Chongqing verifies the seal and commits the body with it to its store;
//! 3. the court is answered with the submission receipt's signature.
//!
//! Then, off the court's answer as kuayu does it, for the request's evidence:
//! 4. Chongqing signs a delivery receipt, Sichuan verifies and commits it;
//! 5. Chongqing signs a retrieval receipt and commits it, Sichuan verifies and commits it.
//!
//! The body is stored as it came, where kuayu compresses it: DEFLATE costs kuayu about
//! 75 µs an envelope on the benchmark's machine, more than writing the bytes it saves.
//! So four Ed25519 signatures and three verifications (`kuayu::crypto`, strict, as kuayu
//! checks), and five commits of one to three rows in two SQLite stores (WAL,
//! `synchronous = FULL`, as kuayu's), each store's commits grouped by one thread as
//! kuayu's committer groups them: what arrives while a transaction commits goes into the
//! next one, and each caller is answered after its own commit.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use kuayu::crypto::{PublicKey, Signature, SigningKey};
use kuayu::ids::RegionId;
use kuayu::pki::DevPki;
use kuayu::tls::Identity;
use sha2::{Digest, Sha256};
use tokio::sync::{Notify, oneshot};
use tokio::task::JoinHandle;

use crate::echo::post_round;
use crate::stats::Figures;

/// Rows to commit together and where to say that they were (or why not).
type Job = (Vec<Vec<u8>>, oneshot::Sender<Result<(), String>>);

/// One region's store: a SQLite database whose commits one thread groups.
struct Ledger(mpsc::Sender<Job>);

impl Ledger {
    /// Creates the store at `path` (a new file) and starts its committing thread.
    fn open(path: &Path) -> anyhow::Result<Self> {
        let mut conn = rusqlite::Connection::open(path)?;
        conn.execute_batch(
            "PRAGMA page_size = 4096; PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;
             CREATE TABLE rows (seq INTEGER PRIMARY KEY, bytes BLOB NOT NULL);",
        )?;
        let (send, jobs) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("floor-committer".into())
            .spawn(move || {
                while let Ok(first) = jobs.recv() {
                    let mut group = vec![first];
                    group.extend(jobs.try_iter());
                    let done = (|| {
                        let tx = conn.transaction()?;
                        {
                            let mut insert =
                                tx.prepare_cached("INSERT INTO rows (bytes) VALUES (?1)")?;
                            for row in group.iter().flat_map(|(rows, _)| rows) {
                                insert.execute([row])?;
                            }
                        }
                        tx.commit()
                    })()
                    .map_err(|e: rusqlite::Error| e.to_string());
                    for (_, answer) in group {
                        let _ = answer.send(done.clone());
                    }
                }
            })?;
        Ok(Ledger(send))
    }

    /// Commits `rows` (with whatever else arrives meanwhile): back once durable.
    async fn keep(&self, rows: Vec<Vec<u8>>) -> Result<(), StatusCode> {
        let (answer, done) = oneshot::channel();
        let gone = StatusCode::INTERNAL_SERVER_ERROR;
        self.0.send((rows, answer)).map_err(|_| gone)?;
        done.await.map_err(|_| gone)?.map_err(|e| {
            eprintln!("floor: {e}");
            StatusCode::INTERNAL_SERVER_ERROR
        })
    }
}

/// One region's side: its signing key, the other region's public key, its store.
struct Side {
    key: SigningKey,
    peer: PublicKey,
    ledger: Ledger,
}

/// Both sides, and the requests whose evidence (steps 4 and 5) is still being made.
struct Sides {
    sc: Side,
    cq: Side,
    pending: AtomicUsize,
    settled: Notify,
}

/// What a receipt signs: the request's digest and what happened to it.
fn receipt(digest: &[u8], what: &[u8]) -> Vec<u8> {
    [digest, what].concat()
}

/// Verifies `signature` over `message` with `key`: 403 if it does not hold.
fn verify(key: &PublicKey, message: &[u8], signature: &Signature) -> Result<(), StatusCode> {
    key.verify(message, signature)
        .map_err(|_| StatusCode::FORBIDDEN)
}

/// Steps 1 to 3 (see the module's doc), then 4 and 5 in a task of their own.
async fn request(State(s): State<Arc<Sides>>, body: Bytes) -> Result<Bytes, StatusCode> {
    let digest = Sha256::digest(&body);
    let seal = s.sc.key.sign(&body);
    let submitted = s.sc.key.sign(&receipt(&digest, b"submitted"));
    let seal_bytes = seal.to_bytes().to_vec();
    s.sc.ledger
        .keep(vec![
            body.to_vec(),
            seal_bytes.clone(),
            submitted.to_bytes().to_vec(),
        ])
        .await?;
    verify(&s.cq.peer, &body, &seal)?;
    s.cq.ledger.keep(vec![body.to_vec(), seal_bytes]).await?;
    s.pending.fetch_add(1, Ordering::SeqCst);
    let sides = Arc::clone(&s);
    tokio::spawn(async move {
        let evidence = async {
            let s = &sides;
            let delivered = receipt(&digest, b"delivered");
            let signature = s.cq.key.sign(&delivered);
            verify(&s.sc.peer, &delivered, &signature)?;
            s.sc.ledger
                .keep(vec![signature.to_bytes().to_vec()])
                .await?;
            let retrieved = receipt(&digest, b"retrieved");
            let signature = s.cq.key.sign(&retrieved);
            s.cq.ledger
                .keep(vec![signature.to_bytes().to_vec()])
                .await?;
            verify(&s.sc.peer, &retrieved, &signature)?;
            s.sc.ledger.keep(vec![signature.to_bytes().to_vec()]).await
        };
        if let Err(status) = evidence.await {
            eprintln!("floor: evidence failed ({status})");
        }
        if sides.pending.fetch_sub(1, Ordering::SeqCst) == 1 {
            sides.settled.notify_waiters();
        }
    });
    Ok(Bytes::from(submitted.to_bytes().to_vec()))
}

/// The floor's server (Sichuan's side, Chongqing's in the same process).
pub struct Floor {
    url: String,
    sides: Arc<Sides>,
    server: JoinHandle<()>,
}

impl Floor {
    /// Starts it with gateway A's certificates of `pki` and its stores in `dir`.
    pub async fn start(pki: &DevPki, dir: &Path) -> anyhow::Result<Self> {
        let (sc_key, cq_key) = (SigningKey::generate(), SigningKey::generate());
        let (sc_public, cq_public) = (sc_key.public(), cq_key.public());
        let sides = Arc::new(Sides {
            sc: Side {
                key: sc_key,
                peer: cq_public,
                ledger: Ledger::open(&dir.join("floor-sc.db"))?,
            },
            cq: Side {
                key: cq_key,
                peer: sc_public,
                ledger: Ledger::open(&dir.join("floor-cq.db"))?,
            },
            pending: AtomicUsize::new(0),
            settled: Notify::new(),
        });
        let sc = RegionId::parse("SC")?;
        let identity = Identity::load(
            &pki.file(&sc, "court-api.crt"),
            &pki.file(&sc, "court-api.key"),
        )?;
        let (addr, server) = crate::echo::serve(
            &identity,
            &pki.pem(&sc, "court-ca.crt")?,
            Router::new()
                .route("/floor", post(request))
                .with_state(Arc::clone(&sides)),
        )
        .await?;
        Ok(Floor {
            url: format!("https://{addr}/floor"),
            sides,
            server,
        })
    }

    /// One timed run: `count` posts of `body` from the echo's `clients`; CPU is to be
    /// read after [`Floor::settled`].
    pub async fn round(
        &self,
        clients: &[reqwest::Client],
        body: &Bytes,
        count: usize,
    ) -> anyhow::Result<Figures> {
        // The answer is the submission receipt's signature.
        post_round(clients, &self.url, body, count, 64).await
    }

    /// Stops the server, closes its connections and the stores (their threads end), so
    /// that what the floor held is free for kuayu's runs after it (the peak RSS the
    /// benchmark prints is kuayu's, the echo's and the clients').
    pub async fn stop(self) {
        self.settled().await;
        self.server.abort();
        let _ = self.server.await;
    }

    /// Waits until every request's evidence (steps 4 and 5) is committed.
    pub async fn settled(&self) {
        loop {
            let settled = self.sides.settled.notified();
            if self.sides.pending.load(Ordering::SeqCst) == 0 {
                return;
            }
            let _ = tokio::time::timeout(Duration::from_millis(100), settled).await;
        }
    }
}

/// This machine's cost, in µs, of one Ed25519 signature over `len` bytes and of one
/// strict check of it, with `kuayu::crypto` on one core: the median of five batches of
/// 200 each. Four of the first and three of the second are in every request's evidence.
pub fn ed25519_costs(len: usize) -> (f64, f64) {
    let key = SigningKey::generate();
    let public = key.public();
    let message = vec![b'x'; len];
    let batch = |f: &dyn Fn()| {
        let mut runs: Vec<f64> = (0..5)
            .map(|_| {
                let t = std::time::Instant::now();
                for _ in 0..200 {
                    f();
                }
                t.elapsed().as_secs_f64() * 1e6 / 200.0
            })
            .collect();
        runs.sort_by(f64::total_cmp);
        runs[2]
    };
    let signature = key.sign(&message);
    let sign = batch(&|| {
        std::hint::black_box(key.sign(std::hint::black_box(&message)));
    });
    let verify = batch(&|| {
        let checked = public.verify(std::hint::black_box(&message), &signature);
        assert!(checked.is_ok(), "a signature just made does not verify");
    });
    (sign, verify)
}
