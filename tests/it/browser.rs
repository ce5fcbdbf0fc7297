//! A real browser for the dashboard tests: Debian's headless Chromium driven by its
//! chromedriver through the W3C WebDriver HTTP API (a handful of calls, made with reqwest,
//! which the gateway already uses: no WebDriver crate, no second TLS stack), and a loopback
//! forwarder to a gateway's admin Unix socket.
//!
//! Why the socket: the admin listener takes an administrator's certificate over TLS or
//! the kernel's word on its Unix socket. A headless Chromium cannot be made to present a
//! client certificate without a system-wide policy and an NSS database; a forwarder that
//! the test owns connects to the socket as the test's own user, so the gateway still
//! learns who calls from the kernel, and the browser speaks plain HTTP on loopback to it.
//! The gateway has no plain-HTTP admin listener, in tests or anywhere.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};
use tokio::net::{TcpListener, UnixStream};
use tokio::task::JoinHandle;

/// The W3C name of an element reference in answers.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// Chromium and chromedriver, if installed. Under CI (`CI` set) their absence fails the
/// test (`.ci/run` installs them); elsewhere the test says it skipped.
pub fn installed() -> Option<(PathBuf, PathBuf)> {
    let find = |names: &[&str]| {
        names.iter().find_map(|n| {
            std::env::var_os("PATH").and_then(|paths| {
                std::env::split_paths(&paths)
                    .map(|p| p.join(n))
                    .find(|p| p.is_file())
            })
        })
    };
    let found = find(&["chromium", "chromium-browser"]).zip(find(&["chromedriver"]));
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must have chromium and chromedriver: .ci/run installs Debian's chromium and chromium-driver"
        );
        eprintln!(
            "skipped: chromium or chromedriver not installed (apt-get install chromium chromium-driver)"
        );
    }
    found
}

/// Plain HTTP on a loopback port, forwarded to the Unix socket at `socket`.
pub struct Forwarder {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    task: JoinHandle<()>,
}

impl Forwarder {
    pub async fn to(socket: &Path) -> Forwarder {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let socket = socket.to_path_buf();
        let task = tokio::spawn(async move {
            while let Ok((mut tcp, _)) = listener.accept().await {
                let socket = socket.clone();
                tokio::spawn(async move {
                    if let Ok(mut unix) = UnixStream::connect(&socket).await {
                        let _ = tokio::io::copy_bidirectional(&mut tcp, &mut unix).await;
                    }
                });
            }
        });
        Forwarder { base, task }
    }
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A headless Chromium session.
pub struct Browser {
    http: reqwest::Client,
    session: String,
    port: u16,
    id: String,
    driver: Child,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts chromedriver on a free port and opens a session with a fresh profile.
    pub async fn start(chromium: &Path, chromedriver: &Path) -> Browser {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let driver = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let http = reqwest::Client::new();
        let base = format!("http://127.0.0.1:{port}");
        let until = Instant::now() + Duration::from_secs(20);
        loop {
            let ready = http.get(format!("{base}/status")).send().await;
            if let Ok(r) = ready {
                let v: Value = r.json().await.unwrap_or_default();
                if v["value"]["ready"] == true {
                    break;
                }
            }
            assert!(Instant::now() < until, "chromedriver did not become ready");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let profile = tempfile::tempdir().unwrap();
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
            "--window-size=1280,1000",
            &format!("--user-data-dir={}", profile.path().display()),
        ];
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": chromium, "args": args},
        }}});
        let answer: Value = http
            .post(format!("{base}/session"))
            .json(&caps)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let id = answer["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no WebDriver session: {answer}"));
        Browser {
            http,
            session: format!("{base}/session/{id}"),
            port,
            id: id.to_owned(),
            driver,
            _profile: profile,
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut req = self.http.request(method, format!("{}{path}", self.session));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let answer: Value = req.send().await.unwrap().json().await.unwrap();
        assert!(
            answer["value"].get("error").is_none(),
            "WebDriver {path}: {answer}"
        );
        answer["value"].clone()
    }

    /// Opens `url` and waits for it to load.
    pub async fn open(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", Some(json!({"url": url})))
            .await;
    }

    /// The page's address now.
    pub async fn url(&self) -> String {
        self.call(reqwest::Method::GET, "/url", None)
            .await
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// The first element matching the CSS `selector`, if any.
    pub async fn find(&self, selector: &str) -> Option<String> {
        let body = json!({"using": "css selector", "value": selector});
        let found = self
            .call(reqwest::Method::POST, "/elements", Some(body))
            .await;
        found.as_array()?.first()?[ELEMENT]
            .as_str()
            .map(str::to_owned)
    }

    /// Every element matching `selector`.
    pub async fn find_all(&self, selector: &str) -> Vec<String> {
        let body = json!({"using": "css selector", "value": selector});
        let found = self
            .call(reqwest::Method::POST, "/elements", Some(body))
            .await;
        found
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e[ELEMENT].as_str().map(str::to_owned))
            .collect()
    }

    /// The visible text of the element matching `selector` (which must exist).
    pub async fn text(&self, selector: &str) -> String {
        let Some(e) = self.find(selector).await else {
            let source = self.call(reqwest::Method::GET, "/source", None).await;
            panic!(
                "no element {selector} on the page at {}: {source}",
                self.url().await
            );
        };
        self.element_text(&e).await
    }

    /// The visible text of element `e`.
    pub async fn element_text(&self, e: &str) -> String {
        self.call(reqwest::Method::GET, &format!("/element/{e}/text"), None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Attribute `name` of element `e`.
    pub async fn attribute(&self, e: &str, name: &str) -> Option<String> {
        self.call(
            reqwest::Method::GET,
            &format!("/element/{e}/attribute/{name}"),
            None,
        )
        .await
        .as_str()
        .map(str::to_owned)
    }

    /// Clicks element `e` (a link: the next page has loaded when this returns).
    pub async fn click(&self, e: &str) {
        self.call(
            reqwest::Method::POST,
            &format!("/element/{e}/click"),
            Some(json!({})),
        )
        .await;
    }

    /// A PNG of the whole page (the window made as tall as the page first).
    pub async fn screenshot(&self) -> Vec<u8> {
        let height = self
            .call(
                reqwest::Method::POST,
                "/execute/sync",
                Some(json!({"script": "return document.documentElement.scrollHeight", "args": []})),
            )
            .await
            .as_i64()
            .unwrap_or(1000);
        self.call(
            reqwest::Method::POST,
            "/window/rect",
            Some(json!({"width": 1280, "height": height.clamp(600, 6000) + 100})),
        )
        .await;
        let png = self.call(reqwest::Method::GET, "/screenshot", None).await;
        base64::engine::general_purpose::STANDARD
            .decode(png.as_str().unwrap())
            .unwrap()
    }
}

impl Drop for Browser {
    /// Ends the session (Chromium quits), then stops chromedriver: also when a test fails,
    /// so no browser is left running. Blocking, with plain std I/O, as `drop` cannot wait.
    fn drop(&mut self) {
        use std::io::{Read as _, Write as _};
        if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", self.port)) {
            let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
            let request = format!(
                "DELETE /session/{} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
                self.id
            );
            if s.write_all(request.as_bytes()).is_ok() {
                let _ = s.read_to_end(&mut Vec::new());
            }
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
