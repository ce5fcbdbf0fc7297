//! A court system's client for the court-facing API: HTTPS with the court's client
//! certificate. The demo's court systems, the tests, the benchmark and the examples
//! all use it.

use std::time::Duration;

use reqwest::StatusCode;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::api::{Accepted, AckAnswer, InboxPage, Submission, UpdateSubmission};
use crate::ids::MessageId;
use crate::problem::Problem;
use crate::tls::{self, Identity, TlsError};

mod attachments;
pub use attachments::Uploaded;

/// What a call to the gateway can end in besides success.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The gateway refused with a problem document.
    #[error("{0}")]
    Problem(Problem),
    /// The connection or TLS failed.
    #[error("transport: {0}")]
    Transport(String),
    /// The gateway answered something unexpected.
    #[error("unexpected answer: HTTP {status}: {body}")]
    Unexpected {
        /// HTTP status.
        status: u16,
        /// Body text.
        body: String,
    },
    /// A local file or writer failed (an upload's source, a download's destination).
    #[error("local: {0}")]
    Local(String),
}

impl ClientError {
    /// The problem, if the gateway refused with one.
    pub fn problem(&self) -> Option<&Problem> {
        match self {
            ClientError::Problem(p) => Some(p),
            _ => None,
        }
    }
}

/// A court's connection to its gateway.
#[derive(Clone)]
pub struct CourtClient {
    http: reqwest::Client,
    base: String,
}

impl CourtClient {
    /// A client for the gateway at `base` (e.g. `https://127.0.0.1:8443`), trusting
    /// `ca_pem` for the gateway's certificate and presenting `identity`.
    pub fn new(base: &str, ca_pem: &str, identity: &Identity) -> Result<Self, TlsError> {
        let anchors = tls::parse_certs(ca_pem)?;
        let http = tls::http_client(&anchors, identity, Duration::from_secs(30))?;
        Ok(CourtClient {
            http,
            base: base.trim_end_matches('/').to_owned(),
        })
    }

    /// `POST /v1/requests` under `idempotency_key` (a fresh key if none: send the same
    /// key again to retry safely).
    pub async fn submit(
        &self,
        submission: &Submission,
        idempotency_key: Option<&str>,
    ) -> Result<Accepted, ClientError> {
        let req = self.new_request(idempotency_key).json(submission);
        answer(req.send().await, StatusCode::ACCEPTED).await
    }

    /// [`CourtClient::submit`] with the submission already serialised as JSON text (a
    /// court system that keeps its requests as text, or a load that sends one body many
    /// times). The gateway reads `body` exactly as it reads a [`Submission`].
    pub async fn submit_json(
        &self,
        body: bytes::Bytes,
        idempotency_key: Option<&str>,
    ) -> Result<Accepted, ClientError> {
        let req = self
            .new_request(idempotency_key)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body);
        answer(req.send().await, StatusCode::ACCEPTED).await
    }

    /// `POST /v1/requests` under `idempotency_key` (fresh if none), without its body.
    fn new_request(&self, idempotency_key: Option<&str>) -> reqwest::RequestBuilder {
        self.http
            .post(format!("{}/v1/requests", self.base))
            .header("Idempotency-Key", key_or_fresh(idempotency_key))
    }

    /// `POST /v1/requests/{id}/updates` under a fresh idempotency key.
    pub async fn update(
        &self,
        request: MessageId,
        update: &UpdateSubmission,
    ) -> Result<Accepted, ClientError> {
        self.update_with_key(request, update, None).await
    }

    /// `POST /v1/requests/{id}/updates` under `idempotency_key` (fresh if none).
    pub async fn update_with_key(
        &self,
        request: MessageId,
        update: &UpdateSubmission,
        idempotency_key: Option<&str>,
    ) -> Result<Accepted, ClientError> {
        let req = self
            .http
            .post(format!("{}/v1/requests/{request}/updates", self.base))
            .header("Idempotency-Key", key_or_fresh(idempotency_key))
            .json(update);
        answer(req.send().await, StatusCode::ACCEPTED).await
    }

    /// `GET /v1/requests/{id}`: the request with history, messages and receipts.
    pub async fn request(&self, request: MessageId) -> Result<Value, ClientError> {
        answer(
            self.http
                .get(format!("{}/v1/requests/{request}", self.base))
                .send()
                .await,
            StatusCode::OK,
        )
        .await
    }

    /// Takes up to `limit` items of the work queue: leases them
    /// ([`CourtClient::lease_work`]) and acknowledges them at once
    /// ([`CourtClient::acknowledge`]), with each entry's retrieval receipt filled in. A
    /// court system that must not lose an item acknowledges only once it has stored it.
    pub async fn work_queue(&self, limit: i64) -> Result<InboxPage, ClientError> {
        let mut page = self.lease_work(limit, None).await?;
        if page.items.is_empty() {
            return Ok(page);
        }
        let cursors: Vec<i64> = page.items.iter().map(|i| i.cursor).collect();
        let acked = self.acknowledge(&cursors).await?;
        for item in &mut page.items {
            item.receipt = acked
                .items
                .iter()
                .find(|a| a.cursor == item.cursor)
                .and_then(|a| a.receipt.clone());
        }
        Ok(page)
    }

    /// `GET /v1/inbox?order=urgent&limit=…[&lease=…]`: up to `limit` items of the work
    /// queue, most urgent first, held for this poller until the page's `leaseUntil`.
    pub async fn lease_work(
        &self,
        limit: i64,
        lease_seconds: Option<i64>,
    ) -> Result<InboxPage, ClientError> {
        let mut url = format!("{}/v1/inbox?order=urgent&limit={limit}", self.base);
        if let Some(s) = lease_seconds {
            url.push_str(&format!("&lease={s}"));
        }
        answer(self.http.get(url).send().await, StatusCode::OK).await
    }

    /// `GET /v1/inbox?order=urgent&priority=high&limit=…&wait=…`: a preservation desk's
    /// long poll: up to `limit` preservation items of the work queue (nothing else),
    /// waiting up to `wait_seconds` for one to arrive; leased like [`Self::lease_work`].
    pub async fn lease_preservation(
        &self,
        limit: i64,
        wait_seconds: i64,
    ) -> Result<InboxPage, ClientError> {
        let url = format!(
            "{}/v1/inbox?order=urgent&priority=high&limit={limit}&wait={wait_seconds}",
            self.base
        );
        answer(self.http.get(url).send().await, StatusCode::OK).await
    }

    /// `POST /v1/inbox/ack`: the court has taken these items in; their retrieval
    /// receipts.
    pub async fn acknowledge(&self, cursors: &[i64]) -> Result<AckAnswer, ClientError> {
        let req = self
            .http
            .post(format!("{}/v1/inbox/ack", self.base))
            .header("Idempotency-Key", key_or_fresh(None))
            .json(&serde_json::json!({ "cursors": cursors }));
        answer(req.send().await, StatusCode::OK).await
    }

    /// `POST /v1/print-jobs/{job}/events`: a print centre reports a `printing.event`
    /// under a fresh idempotency key.
    pub async fn print_event(&self, job: &str, event: &Value) -> Result<Value, ClientError> {
        self.print_event_with_key(job, event, None).await
    }

    /// `POST /v1/print-jobs/{job}/events` under `idempotency_key` (fresh if none).
    pub async fn print_event_with_key(
        &self,
        job: &str,
        event: &Value,
        idempotency_key: Option<&str>,
    ) -> Result<Value, ClientError> {
        let url = format!("{}/v1/print-jobs/{job}/events", self.base);
        let req = self
            .http
            .post(url)
            .header("Idempotency-Key", key_or_fresh(idempotency_key))
            .json(event);
        answer(req.send().await, StatusCode::ACCEPTED).await
    }

    /// `GET /v1/requests[?overdue=true]`: the court's requests, newest first.
    pub async fn requests(&self, overdue: bool) -> Result<Value, ClientError> {
        let url = format!("{}/v1/requests?overdue={overdue}", self.base);
        answer(self.http.get(url).send().await, StatusCode::OK).await
    }

    /// `GET /v1/requests/{id}/certificate`: the certificate of service, as HTML to print
    /// and file.
    pub async fn certificate(&self, request: MessageId) -> Result<String, ClientError> {
        let url = format!("{}/v1/requests/{request}/certificate", self.base);
        let response = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| ClientError::Transport(error_text(&e)))?;
        if response.status() == StatusCode::OK {
            return response
                .text()
                .await
                .map_err(|e| ClientError::Transport(error_text(&e)));
        }
        decode::<Value>(Ok(response), |_| false)
            .await
            .map(|v| v.to_string())
    }

    /// `GET /v1/inbox?after=…&limit=…`.
    pub async fn inbox(&self, after: i64, limit: i64) -> Result<InboxPage, ClientError> {
        self.inbox_waiting(after, limit, 0).await
    }

    /// `GET /v1/inbox?after=…&limit=…&wait=…`: a long poll; with nothing after `after`,
    /// the answer waits up to `wait_seconds` for something to arrive.
    pub async fn inbox_waiting(
        &self,
        after: i64,
        limit: i64,
        wait_seconds: i64,
    ) -> Result<InboxPage, ClientError> {
        let mut url = format!("{}/v1/inbox?after={after}&limit={limit}", self.base);
        if wait_seconds > 0 {
            url.push_str(&format!("&wait={wait_seconds}"));
        }
        answer(self.http.get(url).send().await, StatusCode::OK).await
    }

    /// `GET /v1/agreements`.
    pub async fn agreements(&self) -> Result<Value, ClientError> {
        answer(
            self.http
                .get(format!("{}/v1/agreements", self.base))
                .send()
                .await,
            StatusCode::OK,
        )
        .await
    }
}

/// The problem (or the unexpected answer) of a refused call.
async fn refusal(response: reqwest::Response) -> ClientError {
    match decode::<Value>(Ok(response), |_| false).await {
        Err(e) => e,
        Ok(_) => ClientError::Unexpected {
            status: 0,
            body: "a refusal that parsed as an answer".into(),
        },
    }
}

async fn answer<T: DeserializeOwned>(
    sent: reqwest::Result<reqwest::Response>,
    expected: StatusCode,
) -> Result<T, ClientError> {
    decode(sent, |status| status == expected).await
}

/// `key`, or a fresh one (a UUID).
fn key_or_fresh(key: Option<&str>) -> String {
    key.map_or_else(|| uuid::Uuid::now_v7().to_string(), str::to_owned)
}

/// Reads a gateway's answer: the body as `T` when `ok(status)`, else its problem document.
pub async fn decode<T: DeserializeOwned>(
    sent: reqwest::Result<reqwest::Response>,
    ok: impl Fn(StatusCode) -> bool,
) -> Result<T, ClientError> {
    let response = sent.map_err(|e| ClientError::Transport(error_text(&e)))?;
    let status = response.status();
    let body = response
        .bytes()
        .await
        .map_err(|e| ClientError::Transport(error_text(&e)))?;
    if ok(status) {
        return serde_json::from_slice(&body).map_err(|e| ClientError::Unexpected {
            status: status.as_u16(),
            body: format!("{e}: {}", String::from_utf8_lossy(&body)),
        });
    }
    match serde_json::from_slice::<Problem>(&body) {
        Ok(p) => Err(ClientError::Problem(p)),
        Err(_) => Err(ClientError::Unexpected {
            status: status.as_u16(),
            body: String::from_utf8_lossy(&body).into_owned(),
        }),
    }
}

/// The error and its causes, on one line.
pub fn error_text(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
