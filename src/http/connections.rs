//! The connection table of one listener: caps on TLS handshakes in progress, on open
//! connections, and on connections per client identity. When a cap is reached the oldest
//! handshake, or the oldest connection with no request in flight, makes room: a flood of
//! slow or silent connections pushes itself out, and a good client gets in.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use crate::config::ConnectionsConfig;

/// The deadlines and caps of a listener, from [`ConnectionsConfig`].
#[derive(Debug, Clone)]
pub struct Limits {
    /// A TLS handshake must finish within this.
    pub handshake: Duration,
    /// The first request's headers (or the next, on HTTP/1.1) must arrive within this.
    pub header_read: Duration,
    /// A connection with no request for this long is closed.
    pub idle: Duration,
    /// Body in and answer out, for JSON routes.
    pub request: Duration,
    /// Body in and answer out, for attachment routes.
    pub transfer: Duration,
    /// A connection older than this is closed gracefully.
    pub max_age: Duration,
    /// How long requests get to finish at shutdown or at the maximum age.
    pub drain: Duration,
    /// Open connections, at most.
    pub max_connections: usize,
    /// Open connections per client identity, at most.
    pub max_per_client: usize,
    /// Handshakes in progress, at most.
    pub max_handshakes: usize,
    /// HTTP/2 streams per connection.
    pub http2_max_streams: u32,
    /// HTTP/2 ping interval and timeout.
    pub http2_keepalive: (Duration, Duration),
}

impl From<&ConnectionsConfig> for Limits {
    fn from(c: &ConnectionsConfig) -> Self {
        let ms = Duration::from_millis;
        Limits {
            handshake: ms(c.handshake_timeout_ms),
            header_read: ms(c.header_read_timeout_ms),
            idle: ms(c.idle_timeout_ms),
            request: ms(c.request_timeout_ms),
            transfer: ms(c.transfer_timeout_ms),
            max_age: ms(c.max_connection_age_ms),
            drain: ms(c.drain_deadline_ms),
            max_connections: c.max_connections.max(1),
            max_per_client: c.max_connections_per_client.max(1),
            max_handshakes: c.max_handshakes.max(1),
            http2_max_streams: c.http2_max_streams.max(1),
            http2_keepalive: (
                ms(c.http2_keepalive_interval_ms),
                ms(c.http2_keepalive_timeout_ms),
            ),
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits::from(&ConnectionsConfig::default())
    }
}

/// One open connection, as the table and its supervising task see it.
#[derive(Debug)]
pub struct Conn {
    id: u64,
    identity: String,
    opened: Instant,
    in_flight: AtomicUsize,
    requests: AtomicU64,
    /// Milliseconds after `opened` of the last request's start or end.
    last_ms: AtomicU64,
    evicted: Notify,
}

impl Conn {
    /// When the connection opened.
    pub fn opened(&self) -> Instant {
        self.opened
    }

    /// Requests in flight now.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Acquire)
    }

    /// A request begins; it counts as in flight until the guard drops (its answer sent).
    pub fn begin(self: &Arc<Self>) -> RequestGuard {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.touch();
        RequestGuard(Arc::clone(self))
    }

    fn touch(&self) {
        let ms = self.opened.elapsed().as_millis() as u64;
        self.last_ms.store(ms, Ordering::Release);
    }

    /// When the connection becomes idle enough to close, if nothing is in flight: the
    /// header deadline before its first request, the idle deadline after.
    pub fn idle_deadline(&self, limits: &Limits) -> Option<Instant> {
        if self.in_flight() > 0 {
            return None;
        }
        let last = self.opened + Duration::from_millis(self.last_ms.load(Ordering::Acquire));
        let wait = if self.requests.load(Ordering::Relaxed) == 0 {
            limits.header_read
        } else {
            limits.idle
        };
        Some(last + wait)
    }

    /// Resolves when the table asks this connection to make room.
    pub async fn evicted(&self) {
        self.evicted.notified().await;
    }
}

/// A request in flight on a connection.
#[derive(Debug)]
pub struct RequestGuard(Arc<Conn>);

impl Drop for RequestGuard {
    fn drop(&mut self) {
        self.0.touch();
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

#[derive(Default)]
struct Inner {
    next: u64,
    handshakes: VecDeque<(u64, Arc<Notify>)>,
    /// By id, so oldest first.
    conns: BTreeMap<u64, Arc<Conn>>,
    per_client: HashMap<String, usize>,
}

impl Inner {
    fn remove(&mut self, id: u64) {
        let Some(conn) = self.conns.remove(&id) else {
            return;
        };
        if let Some(n) = self.per_client.get_mut(&conn.identity) {
            *n -= 1;
            if *n == 0 {
                self.per_client.remove(&conn.identity);
            }
        }
    }

    /// Asks the oldest connection with nothing in flight (of `identity`, or of anyone) to
    /// go, and forgets it at once so a newcomer fits. False if there is none.
    fn evict_oldest_idle(&mut self, identity: Option<&str>) -> bool {
        let victim = self
            .conns
            .values()
            .filter(|c| identity.is_none_or(|i| c.identity == i))
            .find(|c| c.in_flight() == 0)
            .map(|c| (c.id, Arc::clone(c)));
        match victim {
            Some((id, conn)) => {
                self.remove(id);
                conn.evicted.notify_one();
                true
            }
            None => false,
        }
    }
}

/// The connection table of a listener.
pub struct Table {
    limits: Limits,
    inner: Mutex<Inner>,
}

/// A handshake in progress; dropping it frees its place.
pub struct HandshakeSlot {
    table: Arc<Table>,
    id: u64,
    evicted: Arc<Notify>,
}

impl HandshakeSlot {
    /// Resolves when the table needs this place for a newer handshake.
    pub async fn evicted(&self) {
        self.evicted.notified().await;
    }
}

impl Drop for HandshakeSlot {
    fn drop(&mut self) {
        self.table
            .lock()
            .handshakes
            .retain(|(id, _)| *id != self.id);
    }
}

/// An admitted connection; dropping it frees its place.
pub struct ConnSlot {
    table: Arc<Table>,
    /// The connection.
    pub conn: Arc<Conn>,
}

impl Drop for ConnSlot {
    fn drop(&mut self) {
        self.table.lock().remove(self.conn.id);
    }
}

impl Table {
    /// An empty table enforcing `limits`.
    pub fn new(limits: Limits) -> Arc<Self> {
        Arc::new(Table {
            limits,
            inner: Mutex::default(),
        })
    }

    /// Its limits.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A place for a new handshake; when all are taken, the oldest is told to give up.
    pub fn handshake(self: &Arc<Self>) -> HandshakeSlot {
        let mut inner = self.lock();
        while inner.handshakes.len() >= self.limits.max_handshakes {
            match inner.handshakes.pop_front() {
                Some((_, evicted)) => evicted.notify_one(),
                None => break,
            }
        }
        inner.next += 1;
        let id = inner.next;
        let evicted = Arc::new(Notify::new());
        inner.handshakes.push_back((id, Arc::clone(&evicted)));
        HandshakeSlot {
            table: Arc::clone(self),
            id,
            evicted,
        }
    }

    /// Admits a connection of `identity` (who its certificate names), making room by
    /// evicting an idle connection of the same identity, or any idle one, when a cap is
    /// reached; `None` when every connection in the way is busy.
    pub fn admit(self: &Arc<Self>, identity: String) -> Option<ConnSlot> {
        let mut inner = self.lock();
        let mine = inner.per_client.get(&identity).copied().unwrap_or(0);
        if mine >= self.limits.max_per_client && !inner.evict_oldest_idle(Some(&identity)) {
            return None;
        }
        if inner.conns.len() >= self.limits.max_connections && !inner.evict_oldest_idle(None) {
            return None;
        }
        inner.next += 1;
        let conn = Arc::new(Conn {
            id: inner.next,
            identity: identity.clone(),
            opened: Instant::now(),
            in_flight: AtomicUsize::new(0),
            requests: AtomicU64::new(0),
            last_ms: AtomicU64::new(0),
            evicted: Notify::new(),
        });
        inner.conns.insert(conn.id, Arc::clone(&conn));
        *inner.per_client.entry(identity).or_default() += 1;
        Some(ConnSlot {
            table: Arc::clone(self),
            conn,
        })
    }

    /// Open connections and handshakes in progress now.
    pub fn counts(&self) -> (usize, usize) {
        let inner = self.lock();
        (inner.conns.len(), inner.handshakes.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(max_connections: usize, max_per_client: usize, max_handshakes: usize) -> Arc<Table> {
        Table::new(Limits {
            max_connections,
            max_per_client,
            max_handshakes,
            ..Limits::default()
        })
    }

    #[tokio::test]
    async fn a_full_handshake_queue_evicts_its_oldest() {
        let t = table(10, 10, 2);
        let first = t.handshake();
        let _second = t.handshake();
        let _third = t.handshake();
        tokio::time::timeout(Duration::from_millis(100), first.evicted())
            .await
            .expect("the oldest handshake was told to go");
        assert_eq!(t.counts().1, 2);
    }

    #[tokio::test]
    async fn a_client_at_its_cap_pushes_out_its_own_oldest_idle_connection_not_anothers() {
        let t = table(10, 2, 10);
        let other = t.admit("court:SC01".into()).unwrap();
        let old = t.admit("court:SC0104".into()).unwrap();
        let busy = t.admit("court:SC0104".into()).unwrap();
        let _request = busy.conn.begin();
        let new = t.admit("court:SC0104".into()).expect("room was made");
        tokio::time::timeout(Duration::from_millis(100), old.conn.evicted())
            .await
            .expect("the idle one was told to go");
        assert_eq!(other.conn.in_flight(), 0);
        assert_eq!(t.counts().0, 3);
        // Both remaining connections of the client are busy now: no room.
        let _also = new.conn.begin();
        assert!(t.admit("court:SC0104".into()).is_none());
        // Another client still gets in.
        assert!(t.admit("court:CQ01".into()).is_some());
    }

    #[tokio::test]
    async fn a_full_listener_evicts_the_oldest_idle_connection_of_anyone() {
        let t = table(2, 10, 10);
        let a = t.admit("a".into()).unwrap();
        let _b = t.admit("b".into()).unwrap();
        let _c = t.admit("c".into()).expect("room was made");
        tokio::time::timeout(Duration::from_millis(100), a.conn.evicted())
            .await
            .expect("the oldest idle connection was told to go");
        drop(a);
        assert_eq!(t.counts().0, 2);
    }

    #[test]
    fn a_connection_is_idle_after_its_header_deadline_then_after_the_idle_deadline() {
        let limits = Limits {
            header_read: Duration::from_secs(5),
            idle: Duration::from_secs(60),
            ..Limits::default()
        };
        let t = Table::new(limits.clone());
        let slot = t.admit("x".into()).unwrap();
        let conn = &slot.conn;
        assert_eq!(
            conn.idle_deadline(&limits),
            Some(conn.opened() + Duration::from_secs(5))
        );
        let request = conn.begin();
        assert_eq!(
            conn.idle_deadline(&limits),
            None,
            "busy connections never idle"
        );
        drop(request);
        let deadline = conn.idle_deadline(&limits).unwrap();
        assert!(deadline >= conn.opened() + Duration::from_secs(60));
    }
}
