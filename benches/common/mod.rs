//! Shared bench plumbing: the StreamForge server as a child process, HTTP
//! and `ffmpeg` clients that timestamp every chunk they receive, `/proc`
//! CPU and memory readings, and table printing. The TS parser is in
//! `ts.rs`.
//!
//! Why a child process rather than `streamforge::run` in-process: the
//! benches also run the loopback upstream and the measuring clients, and
//! those must not share a tokio runtime, CPU accounting or heap with the
//! server being measured. A child gives clean `/proc/<pid>` CPU and RSS
//! figures and the same code path a user runs (`streamforge serve`).

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use parking_lot::Mutex;
use streamforge::config::{ChannelConfig, Config};

pub use streamforge::demo::upstream::Upstream;

mod ts;
pub use ts::*;

/// Milliseconds between two instants (`b` after `a`), possibly negative.
pub fn ms_between(a: Instant, b: Instant) -> f64 {
    if b >= a {
        b.duration_since(a).as_secs_f64() * 1000.0
    } else {
        -(a.duration_since(b).as_secs_f64() * 1000.0)
    }
}

pub fn fixture(name: &str) -> anyhow::Result<bytes::Bytes> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name);
    Ok(bytes::Bytes::from(
        std::fs::read(&p).with_context(|| format!("reading {}", p.display()))?,
    ))
}

/// An environment knob with a default (`SF_BENCH_RUNS=3 cargo bench ...`).
pub fn knob(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

pub fn require_ffmpeg() -> anyhow::Result<()> {
    let ok = std::process::Command::new("ffmpeg")
        .arg("-version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !ok {
        bail!("the benches compare against the ffmpeg CLI: apt-get install ffmpeg");
    }
    Ok(())
}

pub fn channel(number: u32, streams: Vec<String>) -> ChannelConfig {
    ChannelConfig {
        number: number.to_string(),
        name: format!("Bench {number}"),
        streams,
        ..Default::default()
    }
}

/// Defaults, loopback only, no discovery, short linger.
pub fn base_config(channels: Vec<ChannelConfig>, tuners: u32) -> Config {
    let mut c = Config::default();
    c.server.listen = "127.0.0.1:0".into();
    c.discovery.udp = false;
    c.discovery.ssdp = false;
    c.tuner.count = tuners;
    c.stream.linger_ms = 500;
    c.channel = channels;
    c
}

/// `streamforge serve --config <tmp>` as a child process.
pub struct Server {
    pub addr: std::net::SocketAddr,
    pub pid: u32,
    child: tokio::process::Child,
    pub dir: tempfile::TempDir,
}

/// The release binary cargo built for this bench (`CARGO_BIN_EXE_*` is set
/// for bench targets), or `SF_BIN` when given.
pub fn server_binary() -> PathBuf {
    std::env::var_os("SF_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_streamforge")))
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

impl Server {
    pub async fn start(config: Config) -> anyhow::Result<Self> {
        Self::start_with_files_limit(config, None).await
    }

    /// [`Server::start`] with the child's open-files limit (soft and hard)
    /// set to `nofile`, as on a machine whose limit is that low.
    pub async fn start_with_files_limit(
        mut config: Config,
        nofile: Option<u64>,
    ) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        config.server.data_dir = dir.path().join("data");
        config.validate().context("bench config")?;
        let cfg_path = dir.path().join("streamforge.toml");
        std::fs::write(&cfg_path, toml::to_string(&config)?)?;
        let log_path = dir.path().join("server.log");
        let log = std::fs::File::create(&log_path)?;
        let mut cmd = tokio::process::Command::new(server_binary());
        if let Some(n) = nofile {
            let lim = libc::rlimit {
                rlim_cur: n as libc::rlim_t,
                rlim_max: n as libc::rlim_t,
            };
            // SAFETY: setrlimit is async-signal-safe; `lim` is a plain
            // value copied into the closure.
            unsafe {
                cmd.pre_exec(move || {
                    if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        let child = cmd
            .arg("serve")
            .arg("--config")
            .arg(&cfg_path)
            .env("RUST_LOG", "warn,streamforge=info")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", server_binary().display()))?;
        let pid = child.id().context("child pid")?;
        let deadline = Instant::now() + Duration::from_secs(15);
        let addr = loop {
            let text = strip_ansi(&std::fs::read_to_string(&log_path).unwrap_or_default());
            if let Some(line) = text.lines().find(|l| l.contains("StreamForge listening"))
                && let Some(a) = line
                    .split_whitespace()
                    .find_map(|w| w.strip_prefix("addr="))
                && let Ok(a) = a.parse()
            {
                break a;
            }
            if Instant::now() > deadline {
                bail!("server did not start; its log:\n{text}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let s = Self {
            addr,
            pid,
            child,
            dir,
        };
        for _ in 0..200 {
            if reqwest::get(s.url("/healthz")).await.is_ok() {
                return Ok(s);
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        bail!("server at {addr} does not answer /healthz")
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub async fn json(&self, path: &str) -> anyhow::Result<serde_json::Value> {
        Ok(reqwest::get(self.url(path)).await?.json().await?)
    }

    /// Events of `kind` for `channel`, newest first.
    pub async fn events(&self, kind: &str, channel: u32) -> anyhow::Result<Vec<serde_json::Value>> {
        let all = self
            .json(&format!("/api/events?limit=500&kind={kind}"))
            .await?;
        Ok(all
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|e| {
                e["kind"] == kind
                    && e["channel"].as_str().and_then(|c| c.parse::<u32>().ok()) == Some(channel)
            })
            .collect())
    }

    pub fn log(&self) -> String {
        strip_ansi(&std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default())
    }

    /// SIGTERM, then SIGKILL if it has not stopped within 5 s.
    pub async fn stop(mut self) {
        let _ = std::process::Command::new("kill")
            .arg("-TERM")
            .arg(self.pid.to_string())
            .status();
        if tokio::time::timeout(Duration::from_secs(5), self.child.wait())
            .await
            .is_err()
        {
            eprintln!("server {} ignored SIGTERM for 5 s; killing it", self.pid);
            let _ = self.child.kill().await;
        }
    }
}

// ---------------------------------------------------------------- /proc

/// utime + stime of a process, in seconds.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // Fields 14 and 15 of stat(5); `rest` starts at field 3.
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / clk_tck())
}

/// utime + stime per thread group of a process, in seconds: threads are
/// grouped by name with digits and a trailing dash removed
/// (`demux-301` → `demux`, `tokio-runtime-w` stays).
pub fn thread_cpu(pid: u32) -> std::collections::BTreeMap<String, f64> {
    let mut out = std::collections::BTreeMap::new();
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return out;
    };
    for e in dir.flatten() {
        let Ok(tid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let path = format!("/proc/{pid}/task/{tid}");
        let name = std::fs::read_to_string(format!("{path}/comm")).unwrap_or_default();
        let group: String = name
            .trim()
            .chars()
            .filter(|c| !c.is_ascii_digit())
            .collect();
        let group = group.trim_end_matches('-').to_string();
        let Some(stat) = std::fs::read_to_string(format!("{path}/stat")).ok() else {
            continue;
        };
        let Some(close) = stat.rfind(')') else {
            continue;
        };
        let f: Vec<&str> = stat[close + 2..].split_whitespace().collect();
        let ticks = f.get(11).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
            + f.get(12).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        *out.entry(group).or_insert(0.0) += ticks as f64 / clk_tck();
    }
    out
}

fn clk_tck() -> f64 {
    static TCK: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TCK.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
            .unwrap_or(100.0)
    })
}

fn kb_field(path: &str, key: &str) -> Option<f64> {
    let text = std::fs::read_to_string(path).ok()?;
    let line = text.lines().find(|l| l.starts_with(key))?;
    let kb: f64 = line[key.len()..].split_whitespace().next()?.parse().ok()?;
    Some(kb / 1024.0)
}

/// Resident set size in MiB.
pub fn rss_mib(pid: u32) -> Option<f64> {
    kb_field(&format!("/proc/{pid}/status"), "VmRSS:")
}

/// Proportional set size in MiB (shared library pages split between the
/// processes mapping them).
pub fn pss_mib(pid: u32) -> Option<f64> {
    kb_field(&format!("/proc/{pid}/smaps_rollup"), "Pss:")
}

fn io_field(pid: u32, key: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/io")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(key))?
        .trim()
        .parse()
        .ok()
}

/// Bytes a process has passed to write(2) (works for output to /dev/null).
pub fn wchar(pid: u32) -> Option<u64> {
    io_field(pid, "wchar:")
}

/// Write-like system calls a process has made.
pub fn syscw(pid: u32) -> Option<u64> {
    io_field(pid, "syscw:")
}

// ---------------------------------------------------------------- clients

/// What one client received, timed against a reference instant.
#[derive(Default)]
pub struct Capture {
    /// Every byte, when the capture was started with `keep`.
    pub data: Option<Vec<u8>>,
    pub status: u16,
    pub first_byte_ms: Option<f64>,
    /// (arrival ms, byte offset of the chunk's start, chunk length).
    pub arrivals: Vec<(f64, u64, usize)>,
    pub total: u64,
    pub scan: TsScan,
    pub ended: bool,
    pub error: Option<String>,
}

impl Capture {
    fn chunk(&mut self, at_ms: f64, data: &[u8], parse: bool) {
        if self.first_byte_ms.is_none() {
            self.first_byte_ms = Some(at_ms);
        }
        self.arrivals.push((at_ms, self.total, data.len()));
        self.total += data.len() as u64;
        if let Some(d) = self.data.as_mut() {
            d.extend_from_slice(data);
        }
        if parse {
            self.scan.feed(at_ms, data);
        }
    }
}

pub type Shared = Arc<Mutex<Capture>>;

/// A background capture; aborting (or dropping) it closes the connection.
pub struct Running {
    pub cap: Shared,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    pub fn stop(&self) {
        self.task.abort();
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_gzip()
        .no_proxy()
        .tcp_nodelay(true)
        .build()
        .expect("HTTP client")
}

/// GETs `url` and records every chunk, timed from `t0`. With `parse`, the
/// TS timestamps are extracted as they arrive.
pub fn http_capture(client: &reqwest::Client, url: String, t0: Instant, parse: bool) -> Running {
    let cap: Shared = Arc::default();
    let c = Arc::clone(&cap);
    let client = client.clone();
    let task = tokio::spawn(async move {
        let mut resp = match client.get(&url).send().await {
            Ok(r) => r,
            Err(e) => {
                c.lock().error = Some(e.to_string());
                return;
            }
        };
        c.lock().status = resp.status().as_u16();
        loop {
            match resp.chunk().await {
                Ok(Some(b)) => {
                    let at = t0.elapsed().as_secs_f64() * 1000.0;
                    c.lock().chunk(at, &b, parse);
                }
                Ok(None) => break,
                Err(e) => {
                    c.lock().error = Some(e.to_string());
                    break;
                }
            }
        }
        c.lock().ended = true;
    });
    Running { cap, task }
}

/// `ffmpeg -i URL -c copy -f mpegts pipe:1`, its stdout recorded like an
/// HTTP capture. The child is killed when the capture is stopped.
pub fn ffmpeg_capture(url: &str, t0: Instant, parse: bool) -> anyhow::Result<Running> {
    ffmpeg_capture_with(url, &[], t0, parse)
}

/// [`ffmpeg_capture`] with input options before `-i` (`-probesize 32k`).
pub fn ffmpeg_capture_with(
    url: &str,
    input_opts: &[&str],
    t0: Instant,
    parse: bool,
) -> anyhow::Result<Running> {
    use tokio::io::AsyncReadExt;
    let mut child = ffmpeg_command_with(url, input_opts)
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .context("spawning ffmpeg")?;
    let mut out = child.stdout.take().context("ffmpeg stdout")?;
    let cap: Shared = Arc::default();
    let c = Arc::clone(&cap);
    let task = tokio::spawn(async move {
        let _child = child; // killed when the task ends or is aborted
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match out.read(&mut buf).await {
                Ok(0) => break,
                Ok(n) => {
                    let at = t0.elapsed().as_secs_f64() * 1000.0;
                    c.lock().chunk(at, &buf[..n], parse);
                }
                Err(e) => {
                    c.lock().error = Some(e.to_string());
                    break;
                }
            }
        }
        c.lock().ended = true;
    });
    Ok(Running { cap, task })
}

/// Waits until every capture has its first byte; an error naming `what`
/// (and `log`, the server's log) after `within`.
pub async fn first_bytes(
    caps: &[Running],
    within: Duration,
    what: &str,
    log: impl Fn() -> String,
) -> anyhow::Result<()> {
    let t0 = Instant::now();
    while caps.iter().any(|c| c.cap.lock().first_byte_ms.is_none()) {
        if t0.elapsed() >= within {
            bail!(
                "{what}: {} of {} clients got no first byte within {within:?}\n{}",
                caps.iter()
                    .filter(|c| c.cap.lock().first_byte_ms.is_none())
                    .count(),
                caps.len(),
                log()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

/// One `ffmpeg -c copy` child per URL, output to /dev/null, killed when
/// dropped: what peers run per stream, as a load.
pub fn ffmpeg_children(urls: &[String]) -> anyhow::Result<Vec<tokio::process::Child>> {
    urls.iter()
        .map(|u| {
            ffmpeg_command(u)
                .stdout(Stdio::null())
                .kill_on_drop(true)
                .spawn()
                .context("spawning ffmpeg")
        })
        .collect()
}

/// What peer tools run per stream.
pub fn ffmpeg_command(url: &str) -> tokio::process::Command {
    ffmpeg_command_with(url, &[])
}

/// What peer tools run per stream, with input options before `-i`.
pub fn ffmpeg_command_with(url: &str, input_opts: &[&str]) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new("ffmpeg");
    cmd.args(["-nostdin", "-hide_banner", "-loglevel", "error"])
        .args(input_opts)
        .args(["-i", url])
        .args(["-c", "copy", "-f", "mpegts", "pipe:1"])
        .stdin(Stdio::null())
        .stderr(Stdio::null());
    cmd
}

// ---------------------------------------------------------------- stats

#[derive(Debug, Clone, Copy)]
pub struct Summary {
    pub median: f64,
    pub min: f64,
    pub max: f64,
    pub n: usize,
}

pub fn summary(values: &[f64]) -> Option<Summary> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    let median = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    };
    Some(Summary {
        median,
        min: v[0],
        max: v[n - 1],
        n,
    })
}

/// A text table with a header row, right-aligned numeric columns.
pub struct Table {
    title: String,
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(title: &str, header: &[&str]) -> Self {
        Self {
            title: title.to_string(),
            header: header.iter().map(|s| s.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// A row "label | median | min | max | n" (or "-" without values).
    pub fn stat_row(&mut self, label: &str, values: &[f64], digits: usize) {
        let mut r = vec![label.to_string()];
        match summary(values) {
            Some(s) => {
                r.push(format!("{:.*}", digits, s.median));
                r.push(format!("{:.*}", digits, s.min));
                r.push(format!("{:.*}", digits, s.max));
                r.push(s.n.to_string());
            }
            None => r.extend(["-", "-", "-", "0"].map(String::from)),
        }
        self.rows.push(r);
    }

    pub fn print(&self) {
        let cols = self.header.len();
        let mut w = vec![0usize; cols];
        for r in std::iter::once(&self.header).chain(&self.rows) {
            for (i, c) in r.iter().enumerate().take(cols) {
                w[i] = w[i].max(c.chars().count());
            }
        }
        println!("\n{}\n", self.title);
        let line = |r: &[String]| {
            let cells: Vec<String> = (0..cols)
                .map(|i| {
                    let c = r.get(i).map(String::as_str).unwrap_or("");
                    if i == 0 {
                        format!("{c:<width$}", width = w[i])
                    } else {
                        format!("{c:>width$}", width = w[i])
                    }
                })
                .collect();
            format!("| {} |", cells.join(" | "))
        };
        println!("{}", line(&self.header));
        let sep: Vec<String> = (0..cols)
            .map(|i| {
                if i == 0 {
                    format!(":{}", "-".repeat(w[i].max(1) - 1))
                } else {
                    format!("{}:", "-".repeat(w[i].max(1) - 1))
                }
            })
            .collect();
        println!("| {} |", sep.join(" | "));
        for r in &self.rows {
            println!("{}", line(r));
        }
    }
}

/// A 4 Mbit/s feed: 720p25 H.264 CBR (filler NALs), AAC 128k, `secs` long.
pub fn feed_4mbit(secs: u32) -> anyhow::Result<bytes::Bytes> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("4m.ts");
    let args = "-v error -y -f lavfi -i testsrc2=size=1280x720:rate=25 \
        -f lavfi -i sine=frequency=440:sample_rate=48000 -t SECS \
        -c:v libx264 -preset ultrafast -g 50 -b:v 3800k -minrate 3800k \
        -maxrate 3800k -bufsize 2000k -x264-params nal-hrd=cbr \
        -c:a aac -b:a 128k -f mpegts";
    let ok = std::process::Command::new("ffmpeg")
        .args(args.replace("SECS", &secs.to_string()).split_whitespace())
        .arg(&path)
        .status()?
        .success();
    anyhow::ensure!(ok, "ffmpeg could not generate the 4 Mbit/s feed");
    Ok(bytes::Bytes::from(std::fs::read(&path)?))
}

pub fn write_text(path: &Path, text: &str) -> anyhow::Result<()> {
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}
