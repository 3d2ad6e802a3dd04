//! A real browser for the dashboard tests: Debian's `chromium`, headless,
//! driven over WebDriver (`fantoccini`) through `chromedriver`, which the
//! test starts on a free loopback port and kills (with the browser it
//! started) on drop. Nothing resolves beyond loopback
//! (`--host-resolver-rules`), so a page can make no request off the box.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder};
use serde_json::{Value, json};

const CHROMIUM: &str = "/usr/bin/chromium";

fn which(cmd: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| Path::new(d).join(cmd))
        .find(|p| p.is_file())
}

/// Where the screenshots go: `target/web-screenshots/`.
pub fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    let dir = target.join("web-screenshots");
    std::fs::create_dir_all(&dir).expect("create target/web-screenshots");
    dir
}

pub struct Browser {
    pub client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
}

/// `POST /session/{id}/se/log`: chromedriver's console log (every message
/// since the last call).
#[derive(Debug)]
struct BrowserLog;

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!("session/{}/se/log", session_id.unwrap_or("")))
    }

    fn method_and_body(&self, _url: &url::Url) -> (axum::http::Method, Option<String>) {
        (
            axum::http::Method::POST,
            Some(json!({ "type": "browser" }).to_string()),
        )
    }
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    l.local_addr().expect("addr").port()
}

impl Browser {
    /// Starts chromedriver and a headless chromium session (`width` ×
    /// `height`). Fails, never skips, when they are not installed.
    pub async fn start(width: u32, height: u32) -> Self {
        let driver_bin = which("chromedriver");
        assert!(
            Path::new(CHROMIUM).is_file() && driver_bin.is_some(),
            "the dashboard tests need Debian's chromium and chromium-driver: run scripts/deps.sh --test"
        );
        let port = free_port();
        let driver = Command::new(driver_bin.unwrap())
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let profile = tempfile::tempdir().expect("profile dir");
        let mut up = false;
        for _ in 0..200 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                up = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        assert!(up, "chromedriver did not listen on port {port}");
        let caps = json!({
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    format!("--window-size={width},{height}"),
                    format!("--user-data-dir={}", profile.path().display()),
                    "--no-first-run", "--disable-background-networking", "--disable-sync",
                    "--disable-component-update", "--disable-default-apps",
                    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
                ],
            },
            "goog:loggingPrefs": { "browser": "ALL" },
        });
        let caps = match caps {
            Value::Object(m) => m,
            _ => unreachable!(),
        };
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("a chromium session through chromedriver");
        Self {
            client,
            driver,
            _profile: profile,
        }
    }

    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.expect("navigate");
    }

    pub async fn js(&self, script: &str) -> Value {
        self.client
            .execute(script, vec![])
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// Waits until `script` (an expression) is true.
    pub async fn wait_for(&self, what: &str, script: &str, timeout: Duration) {
        let deadline = tokio::time::Instant::now() + timeout;
        let body = format!("return !!({script});");
        loop {
            if self.js(&body).await == Value::Bool(true) {
                return;
            }
            if tokio::time::Instant::now() > deadline {
                let text = self.js("return document.body.innerText").await;
                panic!(
                    "{what}: not within {timeout:?}\npage text:\n{}",
                    text.as_str().unwrap_or("")
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The console messages at `SEVERE` since the last call, leaving out
    /// failed loads of images from other hosts (provider logos, which
    /// cannot load with no network beyond the box).
    pub async fn console_errors(&self, origin: &str) -> Vec<String> {
        let v = self
            .client
            .issue_cmd(BrowserLog)
            .await
            .expect("chromedriver's browser log");
        v.as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|m| m["level"] == "SEVERE")
            .filter_map(|m| m["message"].as_str().map(str::to_string))
            .filter(|m| !m.contains("Failed to load resource") || m.starts_with(origin))
            .collect()
    }

    /// Saves a PNG of the viewport as `target/web-screenshots/<name>.png`.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.client.screenshot().await.expect("screenshot");
        let path = screenshot_dir().join(format!("{name}.png"));
        std::fs::write(&path, png).expect("write screenshot");
        path
    }

    /// Ends the session (closes chromium) and chromedriver.
    pub async fn close(mut self) {
        let c = self.client.clone();
        let _ = tokio::time::timeout(Duration::from_secs(10), c.close()).await;
        self.kill_driver();
    }

    fn kill_driver(&mut self) {
        // Chromium is chromedriver's child: end the browser processes it
        // started (by their pids, read from /proc), then the driver.
        for pid in descendants(self.driver.id()) {
            // SAFETY: kill(2) takes plain integers; these pids are the
            // driver's descendants, found just now.
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        self.kill_driver();
    }
}

/// Every process below `root`, from /proc's parent links.
fn descendants(root: u32) -> Vec<u32> {
    let mut parent = Vec::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for e in dir.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                continue;
            };
            // `pid (comm) state ppid …`: comm may hold spaces, so split
            // after its closing parenthesis.
            let ppid = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                .and_then(|p| p.parse::<u32>().ok());
            if let Some(pp) = ppid {
                parent.push((pid, pp));
            }
        }
    }
    let mut out = Vec::new();
    let mut frontier = vec![root];
    while let Some(p) = frontier.pop() {
        for (c, _) in parent.iter().filter(|(_, pp)| *pp == p) {
            out.push(*c);
            frontier.push(*c);
        }
    }
    out
}
