//! Shared test utilities: a real StreamForge server on 127.0.0.1:0, the
//! loopback upstream (from the library), fixtures, and a strict MPEG-TS
//! client check.

#![allow(dead_code)]

pub mod browser;
pub mod panel;
pub mod tscheck;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use std::sync::Arc;

use streamforge::config::{ChannelConfig, Config};
use streamforge::lineup::Lineup;
use streamforge::media::budget::ConnectionBudget;
use tokio::sync::oneshot;

pub use streamforge::demo::upstream::{Mode, Upstream};

pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

pub fn fixture_bytes(name: &str) -> bytes::Bytes {
    bytes::Bytes::from(
        std::fs::read(fixture(name)).unwrap_or_else(|e| panic!("fixture {name}: {e}")),
    )
}

/// Logs to the test's captured output (RUST_LOG, default warn).
pub fn init_logs() {
    let _ = tracing_subscriber::fmt()
        .with_test_writer()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .try_init();
}

/// A channel with the given candidates.
pub fn channel(number: &str, streams: Vec<String>) -> ChannelConfig {
    ChannelConfig {
        number: number.into(),
        name: format!("Channel {number}"),
        streams,
        ..Default::default()
    }
}

/// Defaults with short thresholds so failover tests stay fast.
pub fn fast_config(channels: Vec<ChannelConfig>) -> Config {
    let mut c = Config::default();
    c.server.listen = "127.0.0.1:0".into();
    c.discovery.udp = false;
    c.discovery.ssdp = false;
    // Above the fixtures' 2 s GOP: probing ends at the first keyframe.
    c.stream.connect_timeout_ms = 3000;
    c.stream.stall_detect_ms = 500;
    c.stream.failover_after_ms = 1000;
    c.stream.linger_ms = 300;
    c.stream.join_behind_ms = 3000;
    // A bounded send buffer, so a slow client's lag shows in the ring.
    c.server.send_buffer_bytes = streamforge::http::streams::STREAM_SEND_BUFFER as u32;
    c.channel = channels;
    c
}

/// A StreamForge server running in this process on 127.0.0.1:0.
pub struct TestServer {
    pub addr: SocketAddr,
    pub data_dir: PathBuf,
    /// The live lineup (starts as the config's channels; tests may swap it).
    pub lineup: Arc<Lineup>,
    /// The provider connection budget the server's sessions draw from
    /// (tests set accounts' limits on it).
    pub budget: Arc<ConnectionBudget>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    _tmp: Option<tempfile::TempDir>,
}

impl TestServer {
    /// Starts with a fresh temporary data directory.
    pub async fn start(config: Config) -> Self {
        let tmp = tempfile::tempdir().expect("tempdir");
        let mut s = Self::start_in(config, tmp.path().to_path_buf()).await;
        s._tmp = Some(tmp);
        s
    }

    /// Starts with `data_dir` (to test persistence across restarts).
    pub async fn start_in(mut config: Config, data_dir: PathBuf) -> Self {
        init_logs();
        config.server.data_dir = data_dir.clone();
        config.validate().expect("test config must be valid");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (tx, rx) = oneshot::channel();
        let lineup = Lineup::from_config(&config);
        let budget = ConnectionBudget::new();
        let task = tokio::spawn(streamforge::run_with_budget(
            config,
            listener,
            async move {
                let _ = rx.await;
            },
            Arc::clone(&lineup),
            Arc::clone(&budget),
        ));
        let s = Self {
            addr,
            data_dir,
            lineup,
            budget,
            stop: Some(tx),
            task: Some(task),
            _tmp: None,
        };
        // Wait until it answers.
        for _ in 0..200 {
            if reqwest::get(s.url("/healthz")).await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        s
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub async fn json(&self, path: &str) -> serde_json::Value {
        reqwest::get(self.url(path))
            .await
            .expect("GET")
            .json()
            .await
            .expect("JSON")
    }

    pub async fn events(&self) -> Vec<serde_json::Value> {
        self.json("/api/events?limit=1000")
            .await
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    pub async fn events_of(&self, kind: &str) -> Vec<serde_json::Value> {
        self.events()
            .await
            .into_iter()
            .filter(|e| e["kind"] == kind)
            .collect()
    }

    /// Waits until an event of `kind` exists (newest first) or panics.
    pub async fn wait_event(&self, kind: &str, timeout: Duration) -> serde_json::Value {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(e) = self.events_of(kind).await.into_iter().next() {
                return e;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no {kind} event within {timeout:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn session(&self, channel: &str) -> Option<serde_json::Value> {
        self.json("/api/sessions")
            .await
            .as_array()?
            .iter()
            .find(|s| s["channel"] == channel)
            .cloned()
    }

    /// Stops the server and waits for it to finish.
    pub async fn stop(mut self) {
        self.shutdown().await;
    }

    async fn shutdown(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            let r = tokio::time::timeout(Duration::from_secs(10), t).await;
            let r = r.expect("server stops within 10 s").expect("server task");
            r.expect("server ran without error");
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

/// A client reading a stream into memory in the background.
pub struct Capture {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    data: std::sync::Arc<parking_lot::Mutex<Vec<u8>>>,
    /// (ms since the request, total bytes) at each chunk.
    pub arrivals: std::sync::Arc<parking_lot::Mutex<Vec<(u64, usize)>>>,
    pub first_byte_ms: u64,
    ended: std::sync::Arc<std::sync::atomic::AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Capture {
    /// GETs `url`; for a 200, keeps reading in the background.
    pub async fn start(url: &str) -> Self {
        let t0 = std::time::Instant::now();
        let resp = reqwest::Client::new()
            .get(url)
            .send()
            .await
            .expect("GET stream");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let data = std::sync::Arc::new(parking_lot::Mutex::new(Vec::new()));
        let arrivals = std::sync::Arc::new(parking_lot::Mutex::new(Vec::new()));
        let ended = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let first = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(u64::MAX));
        let (d, a, e, f) = (data.clone(), arrivals.clone(), ended.clone(), first.clone());
        let task = tokio::spawn(async move {
            let mut resp = resp;
            while let Ok(Some(chunk)) = resp.chunk().await {
                let ms = t0.elapsed().as_millis() as u64;
                let _ = f.compare_exchange(
                    u64::MAX,
                    ms,
                    std::sync::atomic::Ordering::SeqCst,
                    std::sync::atomic::Ordering::SeqCst,
                );
                let mut g = d.lock();
                g.extend_from_slice(&chunk);
                a.lock().push((ms, g.len()));
            }
            e.store(true, std::sync::atomic::Ordering::SeqCst);
        });
        // Wait for the first byte (or the end) so first_byte_ms is known.
        for _ in 0..1000 {
            if first.load(std::sync::atomic::Ordering::SeqCst) != u64::MAX
                || ended.load(std::sync::atomic::Ordering::SeqCst)
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let first_byte_ms = first.load(std::sync::atomic::Ordering::SeqCst);
        Self {
            status,
            headers,
            data,
            arrivals,
            first_byte_ms,
            ended,
            task,
        }
    }

    pub fn bytes(&self) -> Vec<u8> {
        self.data.lock().clone()
    }

    pub fn len(&self) -> usize {
        self.data.lock().len()
    }

    pub fn ended(&self) -> bool {
        self.ended.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Waits until at least `n` bytes arrived.
    pub async fn wait_bytes(&self, n: usize, timeout: Duration) {
        let deadline = tokio::time::Instant::now() + timeout;
        while self.len() < n {
            assert!(
                tokio::time::Instant::now() < deadline,
                "only {} of {n} bytes within {timeout:?}",
                self.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Stops reading (closes the connection) and returns the bytes.
    pub fn finish(self) -> Vec<u8> {
        self.task.abort();
        self.bytes()
    }
}

/// Runs `ffprobe` on bytes and returns its JSON (streams + format).
pub fn ffprobe_json(ts: &[u8]) -> serde_json::Value {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("capture.ts");
    std::fs::write(&path, ts).expect("write capture");
    ffprobe_file(&path)
}

/// `ffprobe -of json -show_streams -show_format` on a file.
pub fn ffprobe_file(path: &std::path::Path) -> serde_json::Value {
    let out = std::process::Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-of",
            "json",
            "-show_streams",
            "-show_format",
        ])
        .arg(path)
        .output()
        .expect("ffprobe is installed (apt-get install ffmpeg)");
    assert!(
        out.status.success(),
        "ffprobe failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("ffprobe JSON")
}

/// `ffmpeg -v debug -i capture -f null -` output lines about continuity or
/// timestamp problems.
pub fn ffmpeg_decode_problems(ts: &[u8]) -> Vec<String> {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("capture.ts");
    std::fs::write(&path, ts).expect("write capture");
    let out = std::process::Command::new("ffmpeg")
        .args(["-hide_banner", "-v", "debug", "-i"])
        .arg(&path)
        .args(["-f", "null", "-"])
        .output()
        .expect("ffmpeg is installed");
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| {
            let l = l.to_ascii_lowercase();
            l.contains("continuity check failed")
                || l.contains("non monotonically increasing dts")
                || l.contains("invalid dts")
                // A truncated frame spliced in at a cut.
                || l.contains("error while decoding")
        })
        .map(str::to_string)
        .collect()
}

/// Sends SIGTERM to a child process, as a service manager would, without
/// shelling out to `kill` (procps is not in a minimal Debian; issue 14).
pub fn sigterm(child: &std::process::Child) {
    let pid = libc::pid_t::try_from(child.id()).expect("pid fits pid_t");
    // SAFETY: kill(2) takes plain integers and touches no memory of ours;
    // `child` has not been waited for, so the pid still names it.
    let rc = unsafe { libc::kill(pid, libc::SIGTERM) };
    assert_eq!(
        rc,
        0,
        "kill({pid}, SIGTERM): {}",
        std::io::Error::last_os_error()
    );
}

/// One demuxed packet as `ffprobe -show_packets` reports it.
#[derive(Debug, Clone)]
pub struct ProbePacket {
    pub pts: f64,
    pub dur: f64,
    pub hash: String,
}

/// Packets of the first stream of `kind` ("a" or "v") in a TS file, in
/// demux order: PTS and duration (s) and an MD5 of the data.
pub fn probe_packets_file(path: &std::path::Path, kind: &str) -> Vec<ProbePacket> {
    let out = std::process::Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", &format!("{kind}:0")])
        .args(["-show_entries", "packet=pts_time,duration_time,data_hash"])
        .args(["-show_data_hash", "MD5", "-of", "json"])
        .arg(path)
        .output()
        .expect("ffprobe is installed");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("ffprobe JSON");
    let num = |p: &serde_json::Value, k: &str| p[k].as_str().and_then(|s| s.parse::<f64>().ok());
    v["packets"]
        .as_array()
        .map(|a| a.as_slice())
        .unwrap_or_default()
        .iter()
        .filter_map(|p| {
            Some(ProbePacket {
                pts: num(p, "pts_time")?,
                dur: num(p, "duration_time").unwrap_or(0.0),
                hash: p["data_hash"].as_str()?.to_string(),
            })
        })
        .collect()
}

pub fn probe_packets(ts: &[u8], kind: &str) -> Vec<ProbePacket> {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("capture.ts");
    std::fs::write(&path, ts).expect("write capture");
    probe_packets_file(&path, kind)
}

/// The splice in a capture, measured frame by frame against the fixtures
/// the packets came from (remuxing copies frames byte for byte).
#[derive(Debug, Clone, Copy)]
pub struct SpliceMeasure {
    /// First backup audio PTS minus the end (PTS + duration) of the audio
    /// frame before it, ms: 0 is seamless, negative an overlap.
    pub audio_hole_ms: f64,
    /// One AAC frame, ms (the duration of the frame before the splice).
    pub audio_frame_ms: f64,
    /// Smallest PTS of the first backup frames minus the largest PTS of
    /// the last primary frames (B-frames reorder: 8 each side), ms.
    pub video_pts_step_ms: f64,
}

pub fn measure_splice(ts: &[u8], primary: &str, backup: &str) -> SpliceMeasure {
    let hashes = |name: &str, kind: &str| -> std::collections::HashSet<String> {
        probe_packets_file(&fixture(name), kind)
            .into_iter()
            .map(|p| p.hash)
            .collect()
    };
    let first_backup = |pk: &[ProbePacket], kind: &str| -> usize {
        let (p, b) = (hashes(primary, kind), hashes(backup, kind));
        let k = pk
            .iter()
            .position(|x| b.contains(&x.hash) && !p.contains(&x.hash))
            .unwrap_or_else(|| panic!("no {kind} frame of {backup} in the capture"));
        assert!(k > 0, "no {kind} frame before the backup's");
        k
    };
    let a = probe_packets(ts, "a");
    let k = first_backup(&a, "a");
    let prev = &a[k - 1];
    let v = probe_packets(ts, "v");
    let kv = first_backup(&v, "v");
    let before = v[kv.saturating_sub(8)..kv]
        .iter()
        .map(|p| p.pts)
        .fold(f64::MIN, f64::max);
    let after = v[kv..(kv + 8).min(v.len())]
        .iter()
        .map(|p| p.pts)
        .fold(f64::MAX, f64::min);
    SpliceMeasure {
        audio_hole_ms: (a[k].pts - (prev.pts + prev.dur)) * 1000.0,
        audio_frame_ms: prev.dur * 1000.0,
        video_pts_step_ms: (after - before) * 1000.0,
    }
}

/// `ffmpeg -v error` decoding a capture: every line it prints.
pub fn ffmpeg_errors(ts: &[u8]) -> Vec<String> {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("capture.ts");
    std::fs::write(&path, ts).expect("write capture");
    let out = std::process::Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-v", "error", "-i"])
        .arg(&path)
        .args(["-f", "null", "-"])
        .output()
        .expect("ffmpeg is installed");
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .map(str::to_string)
        .collect()
}

/// mpv's complaints about a capture (`None` when mpv is not installed):
/// lines with "error" from decoding it with no output.
pub fn mpv_errors(ts: &[u8]) -> Option<Vec<String>> {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("capture.ts");
    std::fs::write(&path, ts).expect("write capture");
    let out = std::process::Command::new("mpv")
        .args(["--no-config", "--vo=null", "--ao=null", "--untimed"])
        .args(["--really-quiet=no", "--msg-level=all=warn"])
        .arg(&path)
        .output()
        .ok()?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Some(
        text.lines()
            .filter(|l| l.to_ascii_lowercase().contains("error"))
            .map(str::to_string)
            .collect(),
    )
}

/// A client on a weak link: a socket with a small receive buffer that
/// reads `rate` bytes a second (in 100 ms steps) from a raw HTTP/1.1 GET.
pub struct SlowClient {
    pub received: Arc<std::sync::atomic::AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl SlowClient {
    pub async fn start(addr: SocketAddr, path: &str, rate: usize) -> Self {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let sock = tokio::net::TcpSocket::new_v4().expect("socket");
        sock.set_recv_buffer_size(8 * 1024).expect("SO_RCVBUF");
        let mut conn = sock.connect(addr).await.expect("connect");
        conn.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
            .await
            .expect("request");
        let received = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let r = Arc::clone(&received);
        let task = tokio::spawn(async move {
            let step = (rate / 10).max(1);
            let mut buf = vec![0u8; step];
            let mut tick = tokio::time::interval(Duration::from_millis(100));
            loop {
                tick.tick().await;
                let mut got = 0;
                while got < step {
                    match conn.read(&mut buf[got..]).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => got += n,
                    }
                }
                r.fetch_add(got, std::sync::atomic::Ordering::Relaxed);
            }
        });
        Self { received, task }
    }

    pub fn received(&self) -> usize {
        self.received.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl Drop for SlowClient {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Names of this process's threads (`/proc/self/task/*/comm`; Linux
/// truncates them to 15 bytes).
pub fn thread_names() -> Vec<String> {
    std::fs::read_dir("/proc/self/task")
        .map(|d| {
            d.filter_map(Result::ok)
                .filter_map(|t| std::fs::read_to_string(t.path().join("comm")).ok())
                .map(|s| s.trim_end().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// `streamforge serve` as a child process on `toml` (written to
/// `dir/c.toml`) at debug log level, its log in `dir/log.txt`; returns
/// once `/healthz` on `127.0.0.1:port` answers (or after 10 s).
pub async fn spawn_serve(
    dir: &std::path::Path,
    toml: &str,
    port: u16,
) -> (std::process::Child, String, PathBuf) {
    let cfg = dir.join("c.toml");
    std::fs::write(&cfg, toml).unwrap();
    let log = dir.join("log.txt");
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_streamforge"))
        .args(["serve", "--config"])
        .arg(&cfg)
        .env("RUST_LOG", "debug")
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    for _ in 0..500 {
        if reqwest::get(format!("{base}/healthz")).await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    (child, base, log)
}
