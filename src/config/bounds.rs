//! The tunable bounds of a gateway: deadlines and caps of its listeners, bounds on
//! attachments, and the relay's tuning. Every field has a default suited to a court data
//! centre.

use serde::{Deserialize, Serialize};

/// Deadlines and caps of every listener (court, federation, admin), against slow or
/// silent clients and connection floods. The defaults suit a court data centre.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConnectionsConfig {
    /// A TLS handshake must finish within this, in milliseconds.
    pub handshake_timeout_ms: u64,
    /// A request's headers must arrive within this of the connection opening, or of the
    /// previous request ending (HTTP/1.1), in milliseconds.
    pub header_read_timeout_ms: u64,
    /// A connection with no request for this long is closed, in milliseconds.
    pub idle_timeout_ms: u64,
    /// A request's body must arrive, and its answer leave, within this of its headers,
    /// in milliseconds (JSON routes).
    pub request_timeout_ms: u64,
    /// The same for attachment uploads and downloads, in milliseconds.
    pub transfer_timeout_ms: u64,
    /// A connection older than this is closed gracefully after its current requests, in
    /// milliseconds: a revoked certificate stops working within this bound.
    pub max_connection_age_ms: u64,
    /// Open connections per listener, at most. When full, the oldest connection with no
    /// request in flight makes room; if none, the new one is closed.
    pub max_connections: usize,
    /// Open connections per client identity (certificate), at most, likewise.
    pub max_connections_per_client: usize,
    /// TLS handshakes in progress per listener, at most; when full, the oldest makes room.
    pub max_handshakes: usize,
    /// Concurrent HTTP/2 streams per connection.
    pub http2_max_streams: u32,
    /// HTTP/2 keep-alive ping interval, in milliseconds; a peer that does not answer a
    /// ping within `http2_keepalive_timeout_ms` is disconnected.
    pub http2_keepalive_interval_ms: u64,
    /// See `http2_keepalive_interval_ms`.
    pub http2_keepalive_timeout_ms: u64,
    /// At shutdown, and when a connection reaches its maximum age, how long its requests
    /// get to finish, in milliseconds.
    pub drain_deadline_ms: u64,
}

impl Default for ConnectionsConfig {
    fn default() -> Self {
        ConnectionsConfig {
            handshake_timeout_ms: 10_000,
            header_read_timeout_ms: 10_000,
            idle_timeout_ms: 90_000,
            request_timeout_ms: 60_000,
            transfer_timeout_ms: 30 * 60_000,
            max_connection_age_ms: 60 * 60_000,
            max_connections: 4096,
            max_connections_per_client: 64,
            max_handshakes: 256,
            http2_max_streams: 64,
            http2_keepalive_interval_ms: 20_000,
            http2_keepalive_timeout_ms: 10_000,
            drain_deadline_ms: 10_000,
        }
    }
}

/// Bounds on attachments: what an uploader may keep that no message lists, how fast it
/// may upload, how long an unlisted upload is kept, and how much disk must stay free.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AttachmentsConfig {
    /// Bytes a court may have stored here that no message lists yet (its uploads in
    /// waiting); an upload beyond it is refused (413 `quota_exceeded`), nothing kept.
    /// Blobs listed in a message no longer count: they are bounded by the agreement's
    /// limits and rates on messages.
    pub pending_quota_bytes_per_court: u64,
    /// The same for a peer gateway's transfers.
    pub pending_quota_bytes_per_peer: u64,
    /// Uploads per minute, per court and per peer gateway (429 `rate_limited` beyond).
    pub uploads_per_minute: u32,
    /// An upload that no message lists is removed this many hours after it was stored.
    pub unreferenced_ttl_hours: u64,
    /// Below this many free bytes on the disk of the blob store (and database), uploads
    /// and ordinary submissions get 503 `insufficient_storage` with `Retry-After`; reads,
    /// and preservation orders and their answers, go on. The free space is read at most
    /// every 100 ms.
    pub min_free_bytes: u64,
}

impl Default for AttachmentsConfig {
    fn default() -> Self {
        AttachmentsConfig {
            pending_quota_bytes_per_court: 2 << 30,
            pending_quota_bytes_per_peer: 20 << 30,
            uploads_per_minute: 120,
            unreferenced_ttl_hours: 72,
            min_free_bytes: 1 << 30,
        }
    }
}

/// Outbox relay tuning.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RelayConfig {
    /// Deliveries in flight to one peer at once; the last one is kept for preservation
    /// orders (high priority), so ordinary work takes at most one fewer. Each peer has its
    /// own, so a hung peer holds back no other. 32 by default. Fewer leave more of the
    /// CPU to a preservation order sent while a queue drains (in the federation
    /// benchmark, 16 about halved the orders' p99), but cap the rate at which a busy peer
    /// takes deliveries: with a million requests stored, 16 doubled the end-to-end p50 of
    /// 16 saturating clients. A link with a long round trip may want more (a peer takes
    /// at most `peer_slots` deliveries per round trip).
    pub peer_slots: usize,
    /// While a preservation order to a peer is in flight, and for 250 ms after one
    /// started (`relay::slots::QUIET_FOR_MS`), ordinary deliveries to that peer start
    /// only while fewer than this many of them are in flight (4 by default; at least 1;
    /// from `peer_slots - 1` up it changes nothing). Preservation orders then share both
    /// gateways' CPU with few deliveries rather than with `peer_slots`. Those already in
    /// flight when the first order starts run on, so it waits for some of them; orders
    /// that follow while the link is quiet do not. Ordinary work drains more slowly while
    /// preservation orders keep coming.
    pub quiet_slots: usize,
    /// How often a peer that cannot be reached is probed (`GET /federation/v1/ping`), in
    /// milliseconds: a returning peer is noticed within this, whatever the backoff.
    pub probe_interval_ms: u64,
    /// First retry delay, in milliseconds; doubles per attempt.
    pub backoff_initial_ms: u64,
    /// Longest retry delay, in milliseconds.
    pub backoff_max_ms: u64,
    /// Timeout of one delivery attempt, in milliseconds.
    pub request_timeout_ms: u64,
}

impl Default for RelayConfig {
    fn default() -> Self {
        RelayConfig {
            peer_slots: 32,
            quiet_slots: 4,
            probe_interval_ms: 3_000,
            backoff_initial_ms: 500,
            backoff_max_ms: 300_000,
            request_timeout_ms: 30_000,
        }
    }
}
