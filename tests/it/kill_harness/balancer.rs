//! A small honest TCP load balancer, standing in for the one in front of a region's
//! replicas (it is outside kuayu): round robin over the backends, a backend that refuses
//! the connection is skipped for the next, bytes pass through untouched (TLS ends at the
//! replica). A replica killed mid-connection closes the client's connection with it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// A listening balancer; it stops when dropped.
pub struct Balancer {
    accept: JoinHandle<()>,
}

impl Balancer {
    /// Listens on `front` and spreads connections over `backends`.
    pub async fn start(front: SocketAddr, backends: Vec<SocketAddr>) -> Self {
        let listener = bind(front).await;
        let backends = Arc::new(backends);
        let next = Arc::new(AtomicUsize::new(0));
        let accept = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    continue;
                };
                let (backends, next) = (Arc::clone(&backends), Arc::clone(&next));
                tokio::spawn(async move {
                    let first = next.fetch_add(1, Ordering::Relaxed);
                    if let Some(server) = connect(&backends, first).await {
                        pipe(client, server).await;
                    }
                    // No backend answered: the client's connection closes, as with a
                    // real balancer whose pool is empty.
                });
            }
        });
        Balancer { accept }
    }
}

impl Drop for Balancer {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// Binds `front`, which the stopped in-process gateway has only just released.
async fn bind(front: SocketAddr) -> TcpListener {
    for _ in 0..100 {
        if let Ok(l) = TcpListener::bind(front).await {
            return l;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the balancer cannot bind {front}");
}

/// The first backend from `first` on (round robin) that takes the connection.
async fn connect(backends: &[SocketAddr], first: usize) -> Option<TcpStream> {
    for i in 0..backends.len() {
        let addr = backends[(first + i) % backends.len()];
        if let Ok(s) = TcpStream::connect(addr).await {
            return Some(s);
        }
    }
    None
}

async fn pipe(mut client: TcpStream, mut server: TcpStream) {
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
}
