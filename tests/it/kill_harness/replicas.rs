//! Replicas of one region as real `kuayu serve` processes: each from a copy of the
//! region's configuration that differs only in its listen addresses and admin socket;
//! killed with SIGKILL and started again on the same ports and files.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

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

/// A loopback port nobody listens on right now.
fn free_port() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
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

    /// Whether a process that was started has died by itself.
    pub fn died(&mut self) -> Option<std::process::ExitStatus> {
        self.child.as_mut()?.try_wait().unwrap()
    }

    /// The last lines of its log, for a failure message.
    pub fn log_tail(&self) -> String {
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
