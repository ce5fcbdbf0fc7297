//! A client of the admin API, for `kuayu agreement load|list|show|revoke|simulate`,
//! `kuayu tls reload`, health and metrics, and tests: over the gateway's Unix domain socket (the operating
//! system tells the gateway who calls), or HTTPS with an administrator certificate.

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::Summary;
use super::revoke::Report as RevokeReport;
use super::simulate::Report as SimulateReport;
use crate::agreement::Agreement;
use crate::client::{ClientError, decode, error_text};
use crate::tls::{self, Identity};

/// A connection to a gateway's admin API.
#[derive(Clone)]
pub struct AdminClient {
    http: reqwest::Client,
    base: String,
}

impl AdminClient {
    /// Over the admin API's Unix domain socket at `path`.
    pub fn unix(path: &std::path::Path) -> Result<Self, ClientError> {
        tls::install_default_provider();
        let http = reqwest::Client::builder()
            .unix_socket(path)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| ClientError::Transport(error_text(&e)))?;
        Ok(AdminClient {
            http,
            base: "http://kuayu-admin".to_owned(),
        })
    }

    /// HTTPS with an administrator certificate (its name comes from the certificate).
    pub fn tls(base: &str, ca_pem: &str, identity: &Identity) -> Result<Self, ClientError> {
        let anchors =
            tls::parse_certs(ca_pem).map_err(|e| ClientError::Transport(e.to_string()))?;
        let http = tls::http_client(&anchors, identity, Duration::from_secs(60))
            .map_err(|e| ClientError::Transport(e.to_string()))?;
        Ok(AdminClient {
            http,
            base: base.trim_end_matches('/').to_owned(),
        })
    }

    async fn call<T: DeserializeOwned>(
        &self,
        req: reqwest::RequestBuilder,
    ) -> Result<T, ClientError> {
        decode(req.send().await, |status| status.is_success()).await
    }

    /// `PUT /admin/v1/agreements`.
    pub async fn load(&self, agreement: &Agreement) -> Result<Summary, ClientError> {
        self.call(
            self.http
                .put(format!("{}/admin/v1/agreements", self.base))
                .json(agreement),
        )
        .await
    }

    /// `GET /admin/v1/agreements`.
    pub async fn list(&self) -> Result<Vec<Summary>, ClientError> {
        self.call(self.http.get(format!("{}/admin/v1/agreements", self.base)))
            .await
    }

    /// `GET /admin/v1/agreements/{id}`.
    pub async fn show(&self, id: &str) -> Result<Value, ClientError> {
        self.call(
            self.http
                .get(format!("{}/admin/v1/agreements/{id}", self.base)),
        )
        .await
    }

    /// `POST /admin/v1/agreements/{id}/revoke`.
    pub async fn revoke(&self, id: &str, reason: &str) -> Result<RevokeReport, ClientError> {
        self.call(
            self.http
                .post(format!("{}/admin/v1/agreements/{id}/revoke", self.base))
                .json(&json!({"reason": reason})),
        )
        .await
    }

    /// `POST /admin/v1/tls/reload`: read every certificate, key, CA file and revocation
    /// list again.
    pub async fn reload_tls(&self) -> Result<Value, ClientError> {
        self.call(self.http.post(format!("{}/admin/v1/tls/reload", self.base)))
            .await
    }

    /// `POST /admin/v1/agreements/simulate`.
    pub async fn simulate(
        &self,
        agreement: &Agreement,
        days: u32,
    ) -> Result<SimulateReport, ClientError> {
        let body = json!({"agreement": agreement, "days": days});
        self.call(
            self.http
                .post(format!("{}/admin/v1/agreements/simulate", self.base))
                .json(&body),
        )
        .await
    }

    /// `GET` one of the health routes (`/healthz`, `/readyz`, `/metrics`): the status and
    /// the body as text (a `/readyz` that is not ready answers 503 with its checks).
    pub async fn health(&self, path: &str) -> Result<(u16, String), ClientError> {
        let answer = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .map_err(|e| ClientError::Transport(error_text(&e)))?;
        let status = answer.status().as_u16();
        let text = answer
            .text()
            .await
            .map_err(|e| ClientError::Transport(error_text(&e)))?;
        Ok((status, text))
    }
}
