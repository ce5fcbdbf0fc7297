//! The test federation and helpers shared by every test module.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kuayu::api::{Accepted, Submission};
use kuayu::client::CourtClient;
use kuayu::clock::ManualClock;
use kuayu::demo::court::fixture;
use kuayu::devnet::{DevFederation, DevOptions};
use kuayu::envelope::{Address, AgreementRef, Envelope, Priority, SchemaRef};
use kuayu::ids::{CourtId, MessageId, MessageKind, RegionId};
use kuayu::problem::Problem;
use kuayu::tls::{self, Identity};
use rustls_pki_types::ServerName;
use serde_json::Value;
use time::macros::datetime;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

/// A two-region federation in a temporary folder, on a hand-driven clock.
pub struct TestFed {
    pub fed: DevFederation,
    pub clock: Arc<ManualClock>,
    _dir: tempfile::TempDir,
}

/// Logs go to the test's captured output (shown for failing tests); `RUST_LOG` filters.
fn init_logs() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let filter = tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("kuayu=info"));
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_test_writer()
            .try_init();
    });
}

impl TestFed {
    pub async fn start() -> Self {
        Self::start_at(datetime!(2026-11-25 08:00 UTC)).await
    }

    /// A federation whose clock starts at `now`.
    pub async fn start_at(now: time::OffsetDateTime) -> Self {
        Self::start_with(now, |_| {}).await
    }

    /// A federation whose clock starts at `now`, with `options` changed.
    pub async fn start_with(
        now: time::OffsetDateTime,
        change: impl FnOnce(&mut DevOptions),
    ) -> Self {
        init_logs();
        let dir = tempfile::tempdir().expect("temp dir");
        let clock = ManualClock::new(now);
        let mut options = DevOptions::new(clock.clone());
        change(&mut options);
        let fed = DevFederation::start(dir.path(), options)
            .await
            .expect("federation starts");
        TestFed {
            fed,
            clock,
            _dir: dir,
        }
    }

    pub fn court(&self, court: &str) -> CourtClient {
        self.fed.court_client(court).expect("court client")
    }

    /// A raw HTTPS client to `to`'s federation API presenting `cert`/`key`.
    pub fn peer_client(
        &self,
        to: &str,
        cert: &std::path::Path,
        key: &std::path::Path,
    ) -> reqwest::Client {
        let to = RegionId::parse(to).unwrap();
        let anchors =
            tls::parse_certs(&self.fed.pki.pem(&to, "federation-ca.crt").unwrap()).unwrap();
        tls::http_client(
            &anchors,
            &Identity::load(cert, key).unwrap(),
            Duration::from_secs(10),
        )
        .unwrap()
    }

    /// `region`'s own gateway credentials, as a raw federation client to `to`.
    pub fn as_gateway(&self, region: &str, to: &str) -> reqwest::Client {
        let r = RegionId::parse(region).unwrap();
        self.peer_client(
            to,
            &self.fed.pki.file(&r, "gateway.crt"),
            &self.fed.pki.file(&r, "gateway.key"),
        )
    }

    /// A raw HTTPS client presenting `court`'s certificate, and the base URL of its
    /// region's court API: for requests the typed client would never send.
    pub fn court_raw(&self, court: &str) -> (reqwest::Client, String) {
        let court = CourtId::parse(court).unwrap();
        let region = court.region();
        let (cert, key) = self.fed.pki.court(&court);
        let anchors =
            tls::parse_certs(&self.fed.pki.pem(&region, "court-ca.crt").unwrap()).unwrap();
        let client = tls::http_client(
            &anchors,
            &Identity::load(&cert, &key).unwrap(),
            Duration::from_secs(10),
        )
        .unwrap();
        let base = format!("https://{}", self.fed.gateway(region.as_str()).court_addr);
        (client, base)
    }

    pub fn federation_url(&self, region: &str) -> String {
        format!(
            "https://{}/federation/v1/messages",
            self.fed.gateway(region).federation_addr
        )
    }

    /// An envelope from `from` court to `to` court as the sending gateway would build it,
    /// unsigned.
    pub fn envelope(&self, kind: &str, from: &str, to: &str, payload: Value) -> Envelope {
        let terms = &self.fed.agreement.terms;
        let kind = MessageKind::parse(kind).unwrap();
        let now = kuayu::clock::Clock::now(&*self.clock);
        // The version a sending gateway picks: the newest the agreement accepts now.
        let version = terms.current_version(&kind, now).unwrap_or(1);
        let schema = terms.schema_for(&kind, version, now).unwrap_or(SchemaRef {
            id: "service-request".into(),
            version: 1,
        });
        Envelope {
            id: MessageId::new(),
            kind,
            schema,
            agreement: AgreementRef {
                id: terms.id.clone(),
                version: terms.version,
                sha256: terms.digest().unwrap(),
            },
            sender: Address::of(&CourtId::parse(from).unwrap()),
            recipient: Address::of(&CourtId::parse(to).unwrap()),
            in_reply_to: None,
            created_at: now,
            expires_at: now + time::Duration::days(7),
            priority: Priority::Normal,
            test: false,
            payload,
            attachments: vec![],
            signature: None,
        }
    }

    /// Seals `e` with `region`'s real gateway message key.
    pub fn seal(&self, e: Envelope, region: &str) -> Value {
        let r = RegionId::parse(region).unwrap();
        e.seal(&r, &self.fed.pki.message_key(&r).unwrap())
            .unwrap()
            .json
    }

    /// Seals `e` with `region`'s gateway key and relays it to `to` with `region`'s
    /// certificate, as that gateway would; returns the status and the JSON answer.
    pub async fn relay_as(&self, region: &str, to: &str, e: Envelope) -> (u16, Value) {
        self.post_as(region, to, &self.seal(e, region)).await
    }

    /// Posts a raw envelope body to `to`'s federation API with `region`'s certificate.
    pub async fn post_as(&self, region: &str, to: &str, body: &Value) -> (u16, Value) {
        post_raw(&self.as_gateway(region, to), &self.federation_url(to), body).await
    }

    /// `region`'s gateway relays a fresh service request to `to` with its own credentials;
    /// the handshake must fail. Returns the transport error's text.
    pub async fn relay_handshake_fails(&self, region: &str, to: &str) -> String {
        let (from, court) = match region {
            "SC" => ("SC0104", "CQ0103"),
            _ => ("CQ0103", "SC0104"),
        };
        let body = self.seal(
            self.envelope("service.request", from, court, valid("service-request")),
            region,
        );
        let err = self
            .as_gateway(region, to)
            .post(self.federation_url(to))
            .json(&body)
            .send()
            .await
            .expect_err("the handshake fails");
        kuayu::client::error_text(&err)
    }

    /// `region`'s audit log, oldest first.
    pub async fn audit_log(&self, region: &str) -> Vec<kuayu::audit::AuditEntry> {
        self.fed
            .gateway(region)
            .gateway
            .store
            .audit_entries(0, 10_000)
            .await
            .unwrap()
    }

    pub async fn shutdown(self) {
        self.fed.shutdown().await;
    }
}

/// The first must-pass fixture of `schema`.
pub fn valid(schema: &str) -> Value {
    fixture(schema, |_| true).unwrap_or_else(|| panic!("no valid fixture for {schema}"))
}

/// A submission of `kind` to `to` with the first valid fixture of its schema.
pub fn submission(kind: &str, to: &str) -> Submission {
    let schema = format!("{}-request", kind.split('.').next().unwrap());
    Submission {
        kind: MessageKind::parse(kind).unwrap(),
        recipient_court: CourtId::parse(to).unwrap(),
        schema_version: None,
        payload: valid(&schema),
        attachments: vec![],
    }
}

/// Posts a raw envelope; returns the status and the JSON body.
pub async fn post_raw(client: &reqwest::Client, url: &str, body: &Value) -> (u16, Value) {
    post_text(client, url, body.to_string()).await
}

/// Posts `text` as an `application/json` body; returns the status and the JSON answer
/// (refusals must be problem+json).
pub async fn post_text(client: &reqwest::Client, url: &str, text: String) -> (u16, Value) {
    let r = client
        .post(url)
        .header("content-type", "application/json")
        .header("idempotency-key", MessageId::new().to_string())
        .body(text)
        .send()
        .await
        .expect("request sent");
    let status = r.status().as_u16();
    let ct = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body: Value = r.json().await.unwrap_or(Value::Null);
    if status >= 400 {
        assert_eq!(
            ct, "application/problem+json",
            "refusals are problem+json: {body}"
        );
    }
    (status, body)
}

/// Polls `check` until it yields `Some`, or fails the test after 15 s. For waiting on
/// work other tasks do (relay, court systems), never for the passing of time.
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until the request reaches `want` at `client`'s gateway.
pub async fn reaches(client: &CourtClient, id: MessageId, want: &str) -> Value {
    eventually(&format!("request {id} to reach {want}"), || async {
        let view = client.request(id).await.ok()?;
        (view["state"] == want).then_some(view)
    })
    .await
}

/// The problem of a refused call.
pub fn problem<T: std::fmt::Debug>(r: Result<T, kuayu::client::ClientError>) -> Problem {
    match r {
        Err(kuayu::client::ClientError::Problem(p)) => p,
        other => panic!("expected a problem, got {other:?}"),
    }
}

/// Submits and returns the 202 answer.
pub async fn submit(client: &CourtClient, s: &Submission) -> Accepted {
    client.submit(s, None).await.expect("submission accepted")
}

/// `count` submissions of `kind` from `from` to `to`, by `submitters` court systems at
/// once; the request ids.
pub async fn submit_concurrently(
    t: &TestFed,
    count: usize,
    submitters: usize,
    (kind, from, to): (&str, &str, &str),
) -> Vec<MessageId> {
    let submitted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut workers = Vec::new();
    for _ in 0..submitters {
        let (client, submitted) = (t.court(from), Arc::clone(&submitted));
        let s = submission(kind, to);
        workers.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            while submitted.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < count {
                ids.push(submit(&client, &s).await.request_id);
            }
            ids
        }));
    }
    let mut ids = Vec::new();
    for w in workers {
        ids.extend(w.await.expect("a submitter"));
    }
    ids
}

/// An update of `kind` with `payload`.
pub fn update(kind: &str, payload: Value) -> kuayu::api::UpdateSubmission {
    kuayu::api::UpdateSubmission {
        kind: MessageKind::parse(kind).unwrap(),
        schema_version: None,
        payload,
        attachments: vec![],
    }
}

/// The executing court accepts the request (a status update), as a court clerk would first.
pub async fn accept(executor: &CourtClient, id: MessageId, family: &str) {
    let status = serde_json::json!({"status": "accepted", "at": "2026-11-25T08:00:00Z"});
    executor
        .update(id, &update(&format!("{family}.status"), status))
        .await
        .expect("accepted");
}

/// A print centre's `event` on print job `job`, with `extra` fields.
pub fn event(job: &str, event: &str, extra: Value) -> Value {
    let mut e =
        serde_json::json!({"jobId": job, "event": event, "at": "2026-11-26T10:00:00+08:00"});
    e.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    e
}

/// The next print job handed out from `centre`'s work queue (each is handed out once).
pub async fn next_job(centre: &CourtClient) -> Value {
    eventually("the print job in the centre's inbox", || async {
        centre
            .work_queue(10)
            .await
            .ok()?
            .items
            .into_iter()
            .find_map(|i| i.notice)
    })
    .await
}

/// The id of the print job waiting in `centre`'s work queue.
pub async fn job_of(centre: &CourtClient) -> String {
    next_job(centre).await["jobId"].as_str().unwrap().to_owned()
}

/// The centre reports each `(event, fields)` on `job`, in order.
pub async fn report_all(centre: &CourtClient, job: &str, events: &[(&str, Value)]) {
    for (name, extra) in events {
        let e = event(job, name, extra.clone());
        centre
            .print_event(job, &e)
            .await
            .unwrap_or_else(|err| panic!("{e}: {err}"));
    }
}

/// A court API client that keeps the raw answers: status and JSON body as sent.
pub struct RawCourt {
    pub http: reqwest::Client,
    pub base: String,
}

impl TestFed {
    /// The raw client of court (or print centre) `who` at its own region's court API.
    pub fn raw(&self, who: &str) -> RawCourt {
        let (region, cert, key) = match kuayu::ids::PrintCentreId::parse(who) {
            Ok(centre) => {
                let (c, k) = self.fed.pki.print_centre(&centre);
                (centre.region(), c, k)
            }
            Err(_) => {
                let court = CourtId::parse(who).unwrap();
                let (c, k) = self.fed.pki.court(&court);
                (court.region(), c, k)
            }
        };
        let anchors =
            tls::parse_certs(&self.fed.pki.pem(&region, "court-ca.crt").unwrap()).unwrap();
        let http = tls::http_client(
            &anchors,
            &Identity::load(&cert, &key).unwrap(),
            Duration::from_secs(10),
        )
        .unwrap();
        RawCourt {
            http,
            base: format!("https://{}", self.fed.gateway(region.as_str()).court_addr),
        }
    }
}

impl RawCourt {
    async fn answer(r: reqwest::RequestBuilder) -> (u16, Value) {
        let r = r.send().await.expect("request sent");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        Self::answer(self.http.get(format!("{}{path}", self.base))).await
    }

    /// POSTs `body` with a fresh `Idempotency-Key`, as every court client should.
    pub async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        Self::answer(
            self.http
                .post(format!("{}{path}", self.base))
                .header("Idempotency-Key", MessageId::new().to_string())
                .json(body),
        )
        .await
    }

    pub async fn put(&self, path: &str, bytes: Vec<u8>) -> (u16, Value) {
        Self::answer(self.http.put(format!("{}{path}", self.base)).body(bytes)).await
    }
}

/// A TLS connection to Sichuan's court API as `court`, offering `alpn`.
pub async fn tls_as(t: &TestFed, court: &str, alpn: &[u8]) -> TlsStream<TcpStream> {
    let court = CourtId::parse(court).unwrap();
    let sc = court.region();
    let (cert, key) = t.fed.pki.court(&court);
    let anchors = kuayu::tls::parse_certs(&t.fed.pki.pem(&sc, "court-ca.crt").unwrap()).unwrap();
    let mut config =
        kuayu::tls::client_config(&anchors, &kuayu::tls::Identity::load(&cert, &key).unwrap())
            .unwrap();
    config.alpn_protocols = vec![alpn.to_vec()];
    let tcp = TcpStream::connect(t.fed.gateway("SC").court_addr)
        .await
        .unwrap();
    TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap()
}

/// A service request from SC0104 that CQ0103 accepts and tries once by `attempt`, which
/// fails; the courts, the print centre and the request id.
pub async fn failed_once(
    t: &TestFed,
    attempt: Value,
) -> (CourtClient, CourtClient, CourtClient, MessageId) {
    let (sc, cq) = (t.court("SC0104"), t.court("CQ0103"));
    let centre = t.fed.print_centre_client("CQ01-PC1").unwrap();
    let id = submit(&sc, &submission("service.request", "CQ0103"))
        .await
        .request_id;
    reaches(&sc, id, "relayed").await;
    accept(&cq, id, "service").await;
    cq.update(id, &update("service.attempt", attempt))
        .await
        .unwrap();
    (sc, cq, centre, id)
}

/// Chongqing's configuration written again to `name` with `change` applied to its text.
pub fn variant(
    t: &TestFed,
    name: &str,
    change: impl FnOnce(String) -> String,
) -> std::path::PathBuf {
    let cq = &t.fed.configs[&RegionId::parse("CQ").unwrap()];
    let text = std::fs::read_to_string(cq).unwrap();
    let path = t.fed.dir.join(name);
    std::fs::write(&path, change(text)).unwrap();
    path
}
