//! Cost at scale (issue 11), printed as markdown tables:
//!
//! 1. Cost per stream: N channels of a generated 4 Mbit/s feed (720p25
//!    H.264 CBR + AAC, looping at real time on a loopback upstream), one
//!    HTTP client each, for N in `SF_SCALE_CHANNELS` (1,10,50,100): the
//!    StreamForge process's CPU seconds per stream-minute and RSS per
//!    stream, against N `ffmpeg -i URL -c copy -f mpegts pipe:1` children
//!    (output to /dev/null) on the same feeds. Every client's received rate
//!    is checked against the feed's: the server must keep up, not only be
//!    cheap.
//! 2. Fan-out: one channel, K clients for K in `SF_SCALE_CLIENTS`
//!    (1,10,50,100): CPU, RSS and the slowest client, against the floor: a
//!    minimal relay (this bench re-run as a child process) that GETs the
//!    upstream once and writes the same bytes to the same number of
//!    sockets in the same 100 ms batches, through the same HTTP stack
//!    (axum/hyper), with no demuxing, muxing or ring.
//!
//! Rounds (`SF_SCALE_ROUNDS`, 2) alternate which side runs first, so a
//! slow drift of the shared machine does not favour either; every cell is
//! the median and min–max over rounds. The plot of CPU and RSS per stream
//! against concurrency goes to `SF_SCALE_SVG` (default
//! `docs/benchmark-scale.svg`), the README's headline to
//! `target/benchmark/headline-scale.md`.
//!
//! Run: `cargo bench --bench scale` (all of issue 11's figures:
//! `scripts/benchmark.sh`). Knobs: `SF_SCALE_SECS` (20 s measured after
//! `SF_SCALE_WARMUP`, 5 s), `SF_SCALE_PARTS` (`cost,fanout`),
//! `SF_SCALE_HOLD=N` (start N channels with clients, print the server's
//! pid and hold them for `SF_SCALE_HOLD_SECS`, 60, for `perf record -p`).

mod common;

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::Context;
use common::*;

const CH_BASE: u32 = 1000;
const FEED_SECS: u32 = 30;
/// Child-process mode of this bench: the minimal relay (`relay_main`).
const RELAY_ENV: &str = "SF_SCALE_RELAY_UPSTREAM";

fn main() -> anyhow::Result<()> {
    if let Ok(up) = std::env::var(RELAY_ENV) {
        return relay_main(up);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(run())
}

fn list(name: &str, default: &str) -> Vec<u32> {
    std::env::var(name)
        .unwrap_or_else(|_| default.into())
        .split(',')
        .filter_map(|v| v.trim().parse().ok())
        .filter(|&n| n > 0)
        .collect()
}

struct Setup {
    feed: bytes::Bytes,
    /// The feed's bytes per second.
    feed_rate: f64,
    secs: u64,
    warmup: u64,
}

async fn run() -> anyhow::Result<()> {
    require_ffmpeg()?;
    // 30 s, looping: a loop is a timestamp jump the session absorbs (and
    // checks audio after), which real channels do not have 6 times a minute.
    let feed = feed_4mbit(FEED_SECS)?;
    let setup = Setup {
        feed_rate: feed.len() as f64 / f64::from(FEED_SECS),
        feed,
        secs: knob("SF_SCALE_SECS", 20).max(5),
        warmup: knob("SF_SCALE_WARMUP", 5),
    };
    eprintln!(
        "scale bench: server {}, feed {:.0} kbit/s",
        server_binary().display(),
        setup.feed_rate * 8.0 / 1000.0
    );
    if let Some(n) = std::env::var("SF_SCALE_HOLD")
        .ok()
        .and_then(|v| v.parse::<u32>().ok())
    {
        return hold(&setup, n).await;
    }
    let rounds = knob("SF_SCALE_ROUNDS", 2).max(1) as usize;
    let parts = std::env::var("SF_SCALE_PARTS").unwrap_or_else(|_| "cost,fanout".into());
    let mut headline = Vec::new();
    if parts.contains("cost") {
        let ns = list("SF_SCALE_CHANNELS", "1,10,50,100");
        let mut rows = Vec::new();
        for &n in &ns {
            let label = format!("{n} channels");
            let (sf, ff) = alternate(
                rounds,
                &label,
                ["streamforge", "ffmpeg"],
                || streamforge_load(&setup, n, n),
                || children_load(&setup, n),
            )
            .await?;
            rows.push((n, sf, ff));
        }
        print_cost(&setup, &rows);
        plot(&rows)?;
        if let Some((n, sf, ff)) = rows.last() {
            let r = ratio(sf, ff).map_or(f64::NAN, |r| r.median);
            headline.push(format!(
                "at {n} channels × 4 Mbit/s, StreamForge's one process (serving {n} clients) used \
                 **{:.2}x** the CPU of {n} `ffmpeg -c copy` children ({:.1} % vs {:.1} % of a core) \
                 and {:.1} MiB per stream against {:.1} MiB per child; its slowest client got \
                 {:.0} % of the stream rate",
                r,
                med(sf, |m| m.cpu_pct_total),
                med(ff, |m| m.cpu_pct_total),
                med(sf, |m| m.rss_per_stream),
                med(ff, |m| m.rss_per_stream),
                sf.iter()
                    .map(|m| m.slowest_pct)
                    .fold(f64::INFINITY, f64::min)
            ));
        }
    }
    if parts.contains("fanout") {
        let ks = list("SF_SCALE_CLIENTS", "1,10,50,100");
        let mut rows = Vec::new();
        for &k in &ks {
            let label = format!("fan-out {k} clients");
            let (sf, relay) = alternate(
                rounds,
                &label,
                ["streamforge", "relay"],
                || streamforge_load(&setup, 1, k),
                || relay_load(&setup, k),
            )
            .await?;
            rows.push((k, sf, relay));
        }
        print_fanout(&rows);
        if let Some((k, sf, relay)) = rows.last() {
            headline.push(format!(
                "one channel fanned out to {k} clients cost **{:.2}x** the CPU of a minimal relay \
                 writing the same bytes to the same sockets",
                ratio(sf, relay).map_or(f64::NAN, |r| r.median)
            ));
        }
    }
    if !headline.is_empty() {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/benchmark");
        std::fs::create_dir_all(&dir)?;
        write_text(&dir.join("headline-scale.md"), &(headline.join("; ") + "."))?;
    }
    Ok(())
}

/// `rounds` rounds of two loads, alternating which goes first so a slow
/// drift of the shared machine does not favour either.
async fn alternate<A, B>(
    rounds: usize,
    label: &str,
    names: [&str; 2],
    mut a: impl FnMut() -> A,
    mut b: impl FnMut() -> B,
) -> anyhow::Result<(Vec<Measure>, Vec<Measure>)>
where
    A: std::future::Future<Output = anyhow::Result<Measure>>,
    B: std::future::Future<Output = anyhow::Result<Measure>>,
{
    let (mut ma, mut mb) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        for side in [round % 2, 1 - round % 2] {
            let m = if side == 0 { a().await? } else { b().await? };
            eprintln!("  {label}, {}, round {}: {m:?}", names[side], round + 1);
            if side == 0 { &mut ma } else { &mut mb }.push(m);
        }
    }
    Ok((ma, mb))
}

/// The CPU ratio of two sides, round by round: (median, min, max).
fn ratio(a: &[Measure], b: &[Measure]) -> Option<Summary> {
    let r: Vec<f64> = a.iter().zip(b).map(|(x, y)| x.cpu_s / y.cpu_s).collect();
    summary(&r)
}

fn ratio_cell(a: &[Measure], b: &[Measure]) -> String {
    ratio(a, b).map_or("-".into(), |r| {
        format!("**{:.2}x** ({:.2}–{:.2})", r.median, r.min, r.max)
    })
}

/// One measured load (one side, one round).
#[derive(Debug, Clone, Default)]
struct Measure {
    /// Streams (channels or children).
    streams: u32,
    /// CPU seconds of the whole side over the window.
    cpu_s: f64,
    wall_s: f64,
    cpu_pct_total: f64,
    /// RSS: the total, and per stream (StreamForge above its idle RSS with
    /// no channel running; a child's whole RSS).
    rss_total: f64,
    rss_per_stream: f64,
    /// Each client's (or child's output) rate over the window, as % of the
    /// feed's rate: the slowest and the median.
    slowest_pct: f64,
    median_pct: f64,
    /// How far the slowest client fell behind the fastest over the window,
    /// in ms of stream.
    behind_ms: f64,
    /// Readers the ring moved forward (StreamForge only).
    lagged: u64,
    threads: Vec<(String, f64)>,
}

impl Measure {
    fn cpu_s_per_stream_min(&self) -> f64 {
        self.cpu_s / f64::from(self.streams) / (self.wall_s / 60.0)
    }
}

/// Client rates over the window (bytes received in it) → the rate fields.
fn rates(m: &mut Measure, got: &[u64], feed_rate: f64) {
    let pct: Vec<f64> = got
        .iter()
        .map(|&b| b as f64 / m.wall_s / feed_rate * 100.0)
        .collect();
    let s = summary(&pct).unwrap_or(Summary {
        median: 0.0,
        min: 0.0,
        max: 0.0,
        n: 0,
    });
    m.slowest_pct = s.min;
    m.median_pct = s.median;
    m.behind_ms = (s.max - s.min) / 100.0 * m.wall_s * 1000.0;
}

fn feed_name(k: u32) -> String {
    format!("f{}", CH_BASE + k)
}

/// StreamForge with `channels` channels (one feed each) and `clients`
/// clients spread over them round-robin.
async fn streamforge_load(s: &Setup, channels: u32, clients: u32) -> anyhow::Result<Measure> {
    let up = Upstream::start().await?;
    let mut chans = Vec::new();
    for k in 0..channels {
        up.add(&feed_name(k), s.feed.clone());
        chans.push(channel(CH_BASE + k, vec![up.ts_url(&feed_name(k))]));
    }
    let srv = Server::start(base_config(chans, channels + 2)).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let pid = srv.pid;
    let idle = rss_mib(pid).context("server RSS")?;
    let client = http_client();
    let t0 = Instant::now();
    let caps: Vec<Running> = (0..clients)
        .map(|i| {
            let ch = CH_BASE + i % channels;
            http_capture(&client, srv.url(&format!("/auto/v{ch}")), t0, false)
        })
        .collect();
    first_bytes(&caps, Duration::from_secs(60), "streamforge", || srv.log()).await?;
    tokio::time::sleep(Duration::from_secs(s.warmup)).await;
    let totals = |cs: &[Running]| cs.iter().map(|c| c.cap.lock().total).collect::<Vec<_>>();
    let (b0, c0, th0, w0) = (
        totals(&caps),
        cpu_seconds(pid).context("cpu")?,
        thread_cpu(pid),
        Instant::now(),
    );
    let mut last = idle;
    while w0.elapsed() < Duration::from_secs(s.secs) {
        tokio::time::sleep(Duration::from_secs(1)).await;
        last = rss_mib(pid).unwrap_or(last);
    }
    let (b1, c1, th1, wall) = (
        totals(&caps),
        cpu_seconds(pid).context("cpu")?,
        thread_cpu(pid),
        w0.elapsed().as_secs_f64(),
    );
    let sessions = srv.json("/api/sessions").await?;
    let lagged = sessions
        .as_array()
        .map(|a| a.iter().filter_map(|x| x["readers_lagged"].as_u64()).sum())
        .unwrap_or(0);
    drop(caps);
    srv.stop().await;
    let got: Vec<u64> = b1.iter().zip(&b0).map(|(a, b)| a - b).collect();
    let mut m = Measure {
        streams: channels,
        cpu_s: c1 - c0,
        wall_s: wall,
        cpu_pct_total: (c1 - c0) / wall * 100.0,
        rss_total: last,
        rss_per_stream: (last - idle) / f64::from(channels),
        lagged,
        threads: th1
            .iter()
            .map(|(k, v)| (k.clone(), (v - th0.get(k).unwrap_or(&0.0)) / wall * 100.0))
            .filter(|(_, v)| *v >= 0.05)
            .collect(),
        ..Default::default()
    };
    rates(&mut m, &got, s.feed_rate);
    Ok(m)
}

/// `n` ffmpeg children, one per feed, writing to /dev/null.
async fn children_load(s: &Setup, n: u32) -> anyhow::Result<Measure> {
    let up = Upstream::start().await?;
    let urls: Vec<String> = (0..n)
        .map(|k| {
            up.add(&feed_name(k), s.feed.clone());
            up.ts_url(&feed_name(k))
        })
        .collect();
    let mut children = ffmpeg_children(&urls)?;
    let pids: Vec<u32> = children.iter().filter_map(|c| c.id()).collect();
    anyhow::ensure!(pids.len() == n as usize, "ffmpeg children exited at once");
    let t0 = Instant::now();
    // Output started: past the few KiB ffmpeg writes while probing.
    while pids.iter().any(|p| wchar(*p).unwrap_or(0) < 64 * 1024) {
        anyhow::ensure!(
            t0.elapsed() < Duration::from_secs(60),
            "not every ffmpeg child produced output within 60 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_secs(s.warmup)).await;
    let cpu = |p: &[u32]| p.iter().filter_map(|p| cpu_seconds(*p)).sum::<f64>();
    let out = |p: &[u32]| p.iter().map(|p| wchar(*p).unwrap_or(0)).collect::<Vec<_>>();
    let (o0, c0, w0) = (out(&pids), cpu(&pids), Instant::now());
    let mut last = 0.0;
    while w0.elapsed() < Duration::from_secs(s.secs) {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let rss: Vec<f64> = pids.iter().filter_map(|p| rss_mib(*p)).collect();
        if rss.len() == pids.len() {
            last = rss.iter().sum::<f64>();
        }
    }
    let (o1, c1, wall) = (out(&pids), cpu(&pids), w0.elapsed().as_secs_f64());
    for c in &mut children {
        let _ = c.kill().await;
    }
    let got: Vec<u64> = o1.iter().zip(&o0).map(|(a, b)| a - b).collect();
    let mut m = Measure {
        streams: n,
        cpu_s: c1 - c0,
        wall_s: wall,
        cpu_pct_total: (c1 - c0) / wall * 100.0,
        rss_total: last,
        rss_per_stream: last / f64::from(n),
        ..Default::default()
    };
    rates(&mut m, &got, s.feed_rate);
    Ok(m)
}

/// The minimal relay as a child process with `clients` clients.
async fn relay_load(s: &Setup, clients: u32) -> anyhow::Result<Measure> {
    use tokio::io::AsyncBufReadExt;
    let up = Upstream::start().await?;
    up.add(&feed_name(0), s.feed.clone());
    let mut child = tokio::process::Command::new(std::env::current_exe()?)
        .env(RELAY_ENV, up.ts_url(&feed_name(0)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .context("starting the relay")?;
    let pid = child.id().context("relay pid")?;
    let mut lines = tokio::io::BufReader::new(child.stdout.take().context("relay stdout")?).lines();
    let addr = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
        .await
        .context("relay did not start")??
        .context("relay exited")?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let client = http_client();
    let t0 = Instant::now();
    let caps: Vec<Running> = (0..clients)
        .map(|_| http_capture(&client, format!("http://{addr}/stream"), t0, false))
        .collect();
    first_bytes(&caps, Duration::from_secs(30), "relay", String::new).await?;
    tokio::time::sleep(Duration::from_secs(s.warmup)).await;
    let totals = |cs: &[Running]| cs.iter().map(|c| c.cap.lock().total).collect::<Vec<_>>();
    let (b0, c0, w0) = (
        totals(&caps),
        cpu_seconds(pid).context("cpu")?,
        Instant::now(),
    );
    let mut last = 0.0;
    while w0.elapsed() < Duration::from_secs(s.secs) {
        tokio::time::sleep(Duration::from_secs(1)).await;
        last = rss_mib(pid).unwrap_or(last);
    }
    let (b1, c1, wall) = (
        totals(&caps),
        cpu_seconds(pid).context("cpu")?,
        w0.elapsed().as_secs_f64(),
    );
    drop(caps);
    let _ = child.kill().await;
    let got: Vec<u64> = b1.iter().zip(&b0).map(|(a, b)| a - b).collect();
    let mut m = Measure {
        streams: 1,
        cpu_s: c1 - c0,
        wall_s: wall,
        cpu_pct_total: (c1 - c0) / wall * 100.0,
        rss_total: last,
        rss_per_stream: last,
        ..Default::default()
    };
    rates(&mut m, &got, s.feed_rate);
    Ok(m)
}

/// Holds `n` channels with a client each, for a profiler.
async fn hold(s: &Setup, n: u32) -> anyhow::Result<()> {
    let up = Upstream::start().await?;
    let mut chans = Vec::new();
    for k in 0..n {
        up.add(&feed_name(k), s.feed.clone());
        chans.push(channel(CH_BASE + k, vec![up.ts_url(&feed_name(k))]));
    }
    let secs = knob("SF_SCALE_HOLD_SECS", 60);
    if std::env::var("SF_SCALE_HOLD_SIDE").is_ok_and(|v| v == "ffmpeg") {
        let urls: Vec<String> = (0..n).map(|k| up.ts_url(&feed_name(k))).collect();
        let children = ffmpeg_children(&urls)?;
        let pids: Vec<String> = children
            .iter()
            .filter_map(|c| c.id().map(|p| p.to_string()))
            .collect();
        println!("ffmpeg pids {} holding for {secs} s", pids.join(","));
        tokio::time::sleep(Duration::from_secs(secs)).await;
        return Ok(());
    }
    let srv = Server::start(base_config(chans, n + 2)).await?;
    let client = http_client();
    let t0 = Instant::now();
    let caps: Vec<Running> = (0..n)
        .map(|k| {
            http_capture(
                &client,
                srv.url(&format!("/auto/v{}", CH_BASE + k)),
                t0,
                false,
            )
        })
        .collect();
    println!("server pid {} holding {n} channels for {secs} s", srv.pid);
    tokio::time::sleep(Duration::from_secs(secs)).await;
    let got: Vec<u64> = caps.iter().map(|c| c.cap.lock().total).collect();
    let cpu = cpu_seconds(srv.pid).unwrap_or(0.0);
    let sessions = srv.json("/api/sessions").await.unwrap_or_default();
    for (k, c) in caps.iter().enumerate() {
        let c = c.cap.lock();
        if (c.total as f64) < secs as f64 * s.feed_rate / 2.0 {
            let ch = (CH_BASE + k as u32).to_string();
            let sess = sessions.as_array().and_then(|a| {
                a.iter()
                    .find(|x| x["channel"].as_str() == Some(&ch))
                    .cloned()
            });
            println!(
                "client of channel {ch} behind: {} bytes, status {}, first byte {:?}, ended {}, error {:?}; session {sess:?}",
                c.total, c.status, c.first_byte_ms, c.ended, c.error
            );
        }
    }
    println!(
        "cpu {cpu:.1} s in all; clients received {:.0}–{:.0} % of the feed rate",
        got.iter().min().copied().unwrap_or(0) as f64 / secs as f64 / s.feed_rate * 100.0,
        got.iter().max().copied().unwrap_or(0) as f64 / secs as f64 / s.feed_rate * 100.0
    );
    for l in srv
        .log()
        .lines()
        .filter(|l| l.contains("WARN") || l.contains("ERROR"))
        .take(5)
    {
        println!("log: {l}");
    }
    drop(caps);
    srv.stop().await;
    Ok(())
}

// ------------------------------------------------------------ the relay

/// The fan-out floor: one upstream GET, its bytes batched like the ring
/// publishes them (≤ 100 ms or 64 KiB) and written to every client through
/// axum. Prints its address, serves `/stream` until killed.
fn relay_main(upstream: String) -> anyhow::Result<()> {
    use axum::body::Body;
    use futures_util::StreamExt;
    use tokio::sync::broadcast;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let (tx, _) = broadcast::channel::<bytes::Bytes>(64);
        let feed = tx.clone();
        tokio::spawn(async move {
            let client = http_client();
            let Ok(mut resp) = client.get(&upstream).send().await else {
                return;
            };
            let mut pending = bytes::BytesMut::new();
            let mut since = Instant::now();
            while let Ok(Some(chunk)) = resp.chunk().await {
                pending.extend_from_slice(&chunk);
                if pending.len() >= 64 * 1024 || since.elapsed() >= Duration::from_millis(100) {
                    let _ = feed.send(pending.split().freeze());
                    since = Instant::now();
                }
            }
        });
        let app = axum::Router::new().route(
            "/stream",
            axum::routing::get(move || {
                let rx = tx.subscribe();
                let s = futures_util::stream::unfold(rx, |mut rx| async move {
                    loop {
                        match rx.recv().await {
                            Ok(b) => return Some((Ok::<_, std::io::Error>(b), rx)),
                            Err(broadcast::error::RecvError::Lagged(_)) => continue,
                            Err(broadcast::error::RecvError::Closed) => return None,
                        }
                    }
                })
                .boxed();
                async move { Body::from_stream(s) }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        println!("{}", listener.local_addr()?);
        axum::serve(listener, app).await?;
        Ok(())
    })
}

// ------------------------------------------------------------ tables

fn med(ms: &[Measure], f: impl Fn(&Measure) -> f64) -> f64 {
    summary(&ms.iter().map(f).collect::<Vec<_>>()).map_or(f64::NAN, |s| s.median)
}

/// "median (min–max)" over rounds.
fn cell(ms: &[Measure], digits: usize, f: impl Fn(&Measure) -> f64) -> String {
    match summary(&ms.iter().map(f).collect::<Vec<_>>()) {
        Some(s) if s.n > 1 => format!(
            "{:.*} ({:.*}–{:.*})",
            digits, s.median, digits, s.min, digits, s.max
        ),
        Some(s) => format!("{:.*}", digits, s.median),
        None => "-".into(),
    }
}

type Rows = [(u32, Vec<Measure>, Vec<Measure>)];

fn print_cost(s: &Setup, rows: &Rows) {
    let mut t = Table::new(
        &format!(
            "Cost per stream, {:.0} kbit/s feed, one client per channel, {} s windows: median (min–max) over rounds",
            s.feed_rate * 8.0 / 1000.0,
            s.secs
        ),
        &[
            "channels",
            "StreamForge CPU s per stream-minute",
            "ffmpeg children CPU s per stream-minute",
            "ratio",
            "StreamForge % of a core (whole process)",
            "children % of a core (all)",
        ],
    );
    for (n, sf, ff) in rows {
        t.row(vec![
            n.to_string(),
            cell(sf, 2, Measure::cpu_s_per_stream_min),
            cell(ff, 2, Measure::cpu_s_per_stream_min),
            ratio_cell(sf, ff),
            cell(sf, 1, |m| m.cpu_pct_total),
            cell(ff, 1, |m| m.cpu_pct_total),
        ]);
    }
    t.print();
    let mut t = Table::new(
        "Memory and keeping up: RSS per stream (StreamForge: above its idle RSS; a child: all of it), slowest client's rate over the window",
        &[
            "channels",
            "StreamForge RSS per stream MiB",
            "child RSS MiB",
            "StreamForge total RSS MiB",
            "children total RSS MiB",
            "slowest StreamForge client, % of feed rate",
            "slowest ffmpeg child output, % of feed rate",
            "readers lagged",
        ],
    );
    for (n, sf, ff) in rows {
        t.row(vec![
            n.to_string(),
            cell(sf, 2, |m| m.rss_per_stream),
            cell(ff, 2, |m| m.rss_per_stream),
            cell(sf, 0, |m| m.rss_total),
            cell(ff, 0, |m| m.rss_total),
            cell(sf, 1, |m| m.slowest_pct),
            cell(ff, 1, |m| m.slowest_pct),
            sf.iter().map(|m| m.lagged).sum::<u64>().to_string(),
        ]);
    }
    t.print();
    let mut t = Table::new(
        "Where StreamForge's CPU goes: % of a core per thread group, last round",
        &["channels", "threads"],
    );
    for (n, sf, _) in rows {
        if let Some(m) = sf.last() {
            let mut th = m.threads.clone();
            th.sort_by(|a, b| b.1.total_cmp(&a.1));
            t.row(vec![
                n.to_string(),
                th.iter()
                    .map(|(k, v)| format!("{k} {v:.1}"))
                    .collect::<Vec<_>>()
                    .join(", "),
            ]);
        }
    }
    t.print();
}

fn print_fanout(rows: &Rows) {
    let mut t = Table::new(
        "Fan-out: one channel, K clients; the floor is a minimal relay writing the same bytes to the same sockets: median (min–max) over rounds",
        &[
            "clients",
            "StreamForge % of a core",
            "relay % of a core",
            "ratio",
            "StreamForge RSS MiB",
            "relay RSS MiB",
            "slowest StreamForge client, % of feed rate",
            "slowest relay client, %",
            "StreamForge slowest behind fastest, ms",
            "relay slowest behind fastest, ms",
        ],
    );
    for (k, sf, relay) in rows {
        t.row(vec![
            k.to_string(),
            cell(sf, 1, |m| m.cpu_pct_total),
            cell(relay, 1, |m| m.cpu_pct_total),
            ratio_cell(sf, relay),
            cell(sf, 1, |m| m.rss_total),
            cell(relay, 1, |m| m.rss_total),
            cell(sf, 1, |m| m.slowest_pct),
            cell(relay, 1, |m| m.slowest_pct),
            cell(sf, 0, |m| m.behind_ms),
            cell(relay, 0, |m| m.behind_ms),
        ]);
    }
    t.print();
}

/// CPU and RSS per stream against concurrency, both approaches.
fn plot(rows: &Rows) -> anyhow::Result<()> {
    use plotters::prelude::*;
    let path = std::env::var_os("SF_SCALE_SVG").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/benchmark-scale.svg"),
        PathBuf::from,
    );
    let series = |f: &dyn Fn(&Measure) -> f64| -> [Vec<(f64, f64)>; 2] {
        let pick = |side: usize| {
            rows.iter()
                .map(|(n, sf, ff)| (f64::from(*n), med(if side == 0 { sf } else { ff }, f)))
                .collect()
        };
        [pick(0), pick(1)]
    };
    let cpu = series(&|m| m.cpu_pct_total / f64::from(m.streams));
    let rss = series(&|m| m.rss_per_stream);
    let xmax = rows.iter().map(|r| r.0).max().unwrap_or(1) as f64 * 1.05;
    let root = SVGBackend::new(&path, (960, 400)).into_drawing_area();
    root.fill(&WHITE)?;
    let panels = root.split_evenly((1, 2));
    for (area, (data, ylabel)) in panels.iter().zip([
        (&cpu, "CPU per stream, % of one core"),
        (&rss, "RSS per stream, MiB"),
    ]) {
        let ymax = data
            .iter()
            .flatten()
            .map(|p| p.1)
            .filter(|v| v.is_finite())
            .fold(0.0f64, f64::max)
            * 1.15;
        let mut chart = ChartBuilder::on(area)
            .caption(ylabel, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(48)
            .build_cartesian_2d(0.0..xmax, 0.0..ymax.max(0.01))?;
        chart
            .configure_mesh()
            .x_desc("concurrent channels, 4 Mbit/s each")
            .draw()?;
        for (i, (pts, name)) in data
            .iter()
            .zip(["StreamForge (one process)", "ffmpeg -c copy children"])
            .enumerate()
        {
            let color = if i == 0 { BLUE } else { RED };
            chart
                .draw_series(LineSeries::new(pts.iter().copied(), color.stroke_width(2)))?
                .label(name)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color));
            chart.draw_series(pts.iter().map(|&p| Circle::new(p, 4, color.filled())))?;
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .position(SeriesLabelPosition::UpperRight)
            .draw()?;
    }
    root.present()?;
    eprintln!("  plot: {}", path.display());
    Ok(())
}
