//! HTTPS clients to peer gateways: one per (agreement version, peer), trusting only that
//! peer's anchor in that agreement and presenting this gateway's federation certificate.
//! Connections are pooled and reused; handshakes are rare.

use std::collections::HashMap;
use std::sync::{Mutex, RwLock};
use std::time::Duration;

use crate::agreement::ActiveAgreement;
use crate::ids::{RegionId, Sha256};
use crate::tls::{self, Identity};

/// The clients, built on first use, presenting this gateway's federation certificate
/// (which a TLS reload replaces: the clients are then built again).
pub struct PeerClients {
    identity: RwLock<Identity>,
    clients: Mutex<HashMap<(Sha256, RegionId), reqwest::Client>>,
}

impl PeerClients {
    /// No clients yet; they will present `identity`.
    pub fn new(identity: Identity) -> Self {
        PeerClients {
            identity: RwLock::new(identity),
            clients: Mutex::default(),
        }
    }

    /// From now on present `identity`; clients built with the old one are dropped (their
    /// open connections close once in-flight requests finish).
    pub fn set_identity(&self, identity: Identity) {
        *self.identity.write().unwrap_or_else(|p| p.into_inner()) = identity;
        self.clients
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    /// The client for `peer` under `agreement`.
    pub fn get(
        &self,
        agreement: &ActiveAgreement,
        peer: &RegionId,
        timeout: Duration,
    ) -> Result<reqwest::Client, String> {
        let key = (agreement.digest, peer.clone());
        let mut map = self.clients.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = map.get(&key) {
            return Ok(c.clone());
        }
        let identity = self.identity.read().unwrap_or_else(|p| p.into_inner());
        let client = tls::http_client(agreement.anchors(peer), &identity, timeout)
            .map_err(|e| e.to_string())?;
        map.insert(key, client.clone());
        Ok(client)
    }

    /// The federation API URL of `peer` in `agreement`, with `path` appended.
    pub fn url(agreement: &ActiveAgreement, peer: &RegionId, path: &str) -> Option<String> {
        agreement
            .party(peer)
            .map(|p| format!("{}{path}", p.federation_endpoint.trim_end_matches('/')))
    }
}

/// The largest answer read from a peer (a relay receipt or a problem is a few KiB).
pub const MAX_ANSWER: usize = 64 * 1024;

/// Reads a peer's answer body, refusing one over `max` bytes ([`MAX_ANSWER`] for one
/// answer) without reading the rest: a peer cannot make this gateway buffer an unbounded
/// answer.
pub async fn read_answer(mut response: reqwest::Response, max: usize) -> Result<Vec<u8>, String> {
    if response.content_length().is_some_and(|n| n > max as u64) {
        return Err(format!(
            "the answer is {} bytes; at most {max} are read",
            response.content_length().unwrap_or_default()
        ));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| e.to_string())? {
        if body.len() + chunk.len() > max {
            return Err(format!("the answer is over {max} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
