//! Replicas of one region as real `kuayu serve` processes: each from a copy of the
//! region's configuration that differs only in its listen addresses and admin socket;
//! killed with SIGKILL and started again on the same ports and files.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

use kuayu::config::GatewayConfig;

/// One `kuayu serve` process of a region (running or not).
pub struct Replica {
    /// Its configuration file.
    pub config: PathBuf,
    /// Where its court API listens.
    pub court: SocketAddr,
    /// Where its federation API listens.
    pub federation: SocketAddr,
    log: PathBuf,
    child: Option<Child>,
}

/// A loopback port nobody listens on now, below the kernel's ephemeral range: a replica
/// is down for a moment after each kill, and a port from that range could meanwhile be
/// given to any socket the test process opens (a connection's local end, or a listener
/// of another test bound to port 0); the replica could not listen on it again.
fn free_port() -> SocketAddr {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|r| r.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32_768);
    // Each call takes the next port of the 10,000 below the range, from where the
    // process id puts the first, so that two test processes rarely start on one port.
    let span = 10_000.min(low.saturating_sub(1_024)).max(1);
    let first = std::process::id() % u32::from(span);
    for _ in 0..span {
        let offset = (first + NEXT.fetch_add(1, Ordering::Relaxed)) % u32::from(span);
        let port = low - span + u16::try_from(offset).unwrap();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        if std::net::TcpListener::bind(addr).is_ok() {
            return addr;
        }
    }
    panic!("no free loopback port below {low}");
}

impl Replica {
    /// Replica `n` of the region configured in `base`: a copy of `base` beside it
    /// (`replica-<n>.toml`) with fresh ports and its own admin socket.
    pub fn new(base: &Path, n: usize) -> Self {
        let mut config = GatewayConfig::load(base).unwrap();
        config.federation.listen = free_port();
        config.court_api.listen = free_port();
        if let Some(admin) = config.admin.as_mut() {
            admin.listen = admin.listen.map(|_| free_port());
            admin.socket = admin
                .socket
                .as_ref()
                .map(|s| s.with_file_name(format!("admin-{n}.sock")));
        }
        let path = base.with_file_name(format!("replica-{n}.toml"));
        std::fs::write(&path, config.to_toml()).unwrap();
        Replica {
            court: config.court_api.listen,
            federation: config.federation.listen,
            log: base.with_file_name(format!("replica-{n}.log")),
            config: path,
            child: None,
        }
    }

    /// Starts the process (its log is appended to `replica-<n>.log`).
    pub fn start(&mut self) {
        assert!(self.child.is_none(), "{} is running", self.config.display());
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_kuayu"))
            .arg("serve")
            .arg("--config")
            .arg(&self.config)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
    }

    /// SIGKILL, and waits for the process to be gone.
    pub async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            // SIGKILL cannot be caught: the wait is over at once.
            child.wait().unwrap();
        }
    }

    /// If a process that was started has died by itself: its configuration, exit status
    /// and the end of its log, for a failure message.
    pub fn death(&mut self) -> Option<String> {
        let status = self.child.as_mut()?.try_wait().unwrap()?;
        let config = self.config.display();
        Some(format!("{config} ({status}):\n{}", self.log_tail()))
    }

    /// The last lines of its log.
    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
