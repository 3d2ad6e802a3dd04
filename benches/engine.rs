//! Engine figures for issue 2, printed as tables:
//!
//! 1. A new session: request → first byte and → first video keyframe at
//!    the client, side by side with a raw byte relay (a plain GET of the
//!    upstream URL), `ffmpeg -i URL -c copy -f mpegts pipe:1` and the same
//!    with `-probesize 32k -analyzeduration 0`, all four started in the
//!    same instant on the same loopback feed, so they meet the upstream at
//!    the same point of its GOP.
//! 2. A client joining a running session: first byte, first keyframe, and
//!    the seconds of media (video DTS span) it receives in its first second.
//! 3. CPU and RSS per session with 10 sessions (10 channels, 10 feeds) at
//!    1x for `SF_BENCH_LOAD_SECS` (20) seconds, against 10 `ffmpeg` children
//!    writing to /dev/null on the same feeds.
//!
//! Run: `cargo bench --bench engine` (needs Debian's `ffmpeg`; cargo builds
//! the release `streamforge` binary the bench starts as a child process).
//! Knobs: `SF_BENCH_RUNS` (5), `SF_BENCH_LOAD_SECS` (20), `SF_BIN`,
//! `SF_BENCH_RING_MB` (the load server's `stream.ring_mb`; default 32),
//! `SF_BENCH_PARTS` (any of `start,load,ffmpeg`; default all),
//! `SF_BENCH_LOAD_ROUNDS` (2: the two loads alternate, figures averaged).

mod common;

use std::time::{Duration, Instant};

use anyhow::Context;
use common::*;
use rand::Rng;

const SESSIONS: usize = 10;
const NEW_BASE: u32 = 100;
const JOIN_CHANNEL: u32 = 200;
const LOAD_BASE: u32 = 301;
/// The ffmpeg child with probing cut down, as peers tune it for zapping.
const FAST_PROBE: &[&str] = &["-probesize", "32k", "-analyzeduration", "0"];

fn main() -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(run())
}

async fn run() -> anyhow::Result<()> {
    require_ffmpeg()?;
    let runs = knob("SF_BENCH_RUNS", 5).max(1) as usize;
    let load_secs = knob("SF_BENCH_LOAD_SECS", 20).max(5);
    let main_ts = fixture("main.ts")?;
    let up = Upstream::start().await?;
    let client = http_client();

    let mut chans = Vec::new();
    for i in 0..runs {
        let name = format!("new{i}");
        up.add(&name, main_ts.clone());
        chans.push(channel(NEW_BASE + i as u32, vec![up.ts_url(&name)]));
    }
    up.add("join", main_ts.clone());
    chans.push(channel(JOIN_CHANNEL, vec![up.ts_url("join")]));
    for i in 0..SESSIONS {
        let name = format!("load{i}");
        up.add(&name, main_ts.clone());
    }

    let parts = std::env::var("SF_BENCH_PARTS").unwrap_or_else(|_| "start,load,ffmpeg".into());
    eprintln!("engine bench: server {}", server_binary().display());
    let (mut starts, mut joins) = (Vec::new(), Vec::new());
    if parts.contains("start") {
        let srv = Server::start(base_config(chans, SESSIONS as u32)).await?;
        for i in 0..runs {
            // Vary where in the 2 s GOP the run starts.
            let pause = rand::thread_rng().gen_range(300..2300);
            tokio::time::sleep(Duration::from_millis(pause)).await;
            let r = new_session(&up, &srv, &client, i).await?;
            eprintln!("  new session run {}: {r:?}", i + 1);
            starts.push(r);
        }
        joins = joining(&srv, &client, runs).await?;
        srv.stop().await;
    }
    // Alternate the two loads so slow drifts in the shared machine's
    // state hit both alike.
    let rounds = knob("SF_BENCH_LOAD_ROUNDS", 2).max(1);
    let (mut sfs, mut ffs) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        if parts.contains("load") {
            sfs.push(load_streamforge(&up, &client, load_secs).await?);
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        if parts.contains("ffmpeg") {
            ffs.push(load_ffmpeg(&up, load_secs).await?);
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
    let (sf, ff) = (Load::mean(&sfs), Load::mean(&ffs));

    if !starts.is_empty() {
        print_start(&starts);
        print_join(&joins);
    }
    if sfs.is_empty() && ffs.is_empty() {
        // Start-up and joining only (what scripts/benchmark.sh runs; the
        // scale bench measures the load).
        print_targets(&starts, &joins, &sf, &ff);
        return Ok(());
    }
    print_rounds(&sfs, &ffs);
    print_load(&sf, &ff, load_secs);
    print_targets(&starts, &joins, &sf, &ff);
    Ok(())
}

// ------------------------------------------------------------ new session

#[derive(Debug, Default)]
struct Start {
    relay_first: Option<f64>,
    relay_key: Option<f64>,
    /// The relay's first keyframe complete (the next video PES started):
    /// the earliest a demuxer can hand it out.
    relay_key_done: Option<f64>,
    /// The relay's first audio PES complete: a demuxer knows the audio
    /// parameters from then on.
    relay_audio_done: Option<f64>,
    sf_first: Option<f64>,
    sf_key: Option<f64>,
    ff_first: Option<f64>,
    ff_key: Option<f64>,
    /// `ffmpeg -probesize 32k -analyzeduration 0 -i URL -c copy`.
    ff_fast_first: Option<f64>,
    ff_fast_key: Option<f64>,
}

async fn new_session(
    up: &Upstream,
    srv: &Server,
    client: &reqwest::Client,
    i: usize,
) -> anyhow::Result<Start> {
    let feed_url = up.ts_url(&format!("new{i}"));
    let t0 = Instant::now();
    let relay = http_capture(client, feed_url.clone(), t0, true);
    let sf = http_capture(
        client,
        srv.url(&format!("/auto/v{}", NEW_BASE + i as u32)),
        t0,
        true,
    );
    let ff = ffmpeg_capture(&feed_url, t0, true)?;
    let ff_fast = ffmpeg_capture_with(&feed_url, FAST_PROBE, t0, true)?;
    let done = |r: &Running| {
        let c = r.cap.lock();
        c.scan.first_key_complete_ms.is_some() || c.ended
    };
    let all = [&relay, &sf, &ff, &ff_fast];
    while t0.elapsed() < Duration::from_secs(15) && !all.iter().all(|r| done(r)) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for r in all {
        r.stop();
    }
    let get = |r: &Running| {
        let c = r.cap.lock();
        (c.first_byte_ms, c.scan.first_key_ms)
    };
    let relay_key_done = relay.cap.lock().scan.first_key_complete_ms;
    let relay_audio_done = relay.cap.lock().scan.audio().find_map(|p| p.done_ms);
    let (relay_first, relay_key) = get(&relay);
    let (sf_first, sf_key) = get(&sf);
    let (ff_first, ff_key) = get(&ff);
    let (ff_fast_first, ff_fast_key) = get(&ff_fast);
    if sf_key.is_none() {
        let c = sf.cap.lock();
        eprintln!(
            "  streamforge gave no keyframe: status {} error {:?}",
            c.status, c.error
        );
    }
    Ok(Start {
        relay_first,
        relay_key,
        relay_key_done,
        relay_audio_done,
        sf_first,
        sf_key,
        ff_first,
        ff_key,
        ff_fast_first,
        ff_fast_key,
    })
}

// ------------------------------------------------------------ joining client

#[derive(Debug, Default)]
struct Join {
    first: Option<f64>,
    key: Option<f64>,
    /// Video DTS span (s) of what arrived within 1 s of the request.
    span_1s: f64,
    bytes_1s: u64,
}

async fn joining(srv: &Server, client: &reqwest::Client, runs: usize) -> anyhow::Result<Vec<Join>> {
    let url = srv.url(&format!("/auto/v{JOIN_CHANNEL}"));
    let starter = http_capture(client, url.clone(), Instant::now(), false);
    let t = Instant::now();
    while starter.cap.lock().first_byte_ms.is_none() {
        anyhow::ensure!(
            t.elapsed() < Duration::from_secs(15),
            "join channel did not start"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Let the ring fill past join_behind_ms (3 s) plus a GOP.
    tokio::time::sleep(Duration::from_secs(8)).await;
    let mut out = Vec::new();
    for i in 0..runs {
        let pause = rand::thread_rng().gen_range(300..2300);
        tokio::time::sleep(Duration::from_millis(pause)).await;
        let t0 = Instant::now();
        let j = http_capture(client, url.clone(), t0, true);
        tokio::time::sleep(Duration::from_millis(1500)).await;
        j.stop();
        let c = j.cap.lock();
        let dts: Vec<i64> = c
            .scan
            .video()
            .filter(|p| p.at_ms <= 1000.0)
            .map(|p| p.dts)
            .collect();
        let span = match (dts.iter().min(), dts.iter().max()) {
            (Some(a), Some(b)) => (b - a) as f64 / 90_000.0,
            _ => 0.0,
        };
        let bytes_1s = c
            .arrivals
            .iter()
            .filter(|a| a.0 <= 1000.0)
            .map(|a| a.2 as u64)
            .sum();
        let r = Join {
            first: c.first_byte_ms,
            key: c.scan.first_key_ms,
            span_1s: span,
            bytes_1s,
        };
        eprintln!("  join run {}: {r:?}", i + 1);
        out.push(r);
    }
    starter.stop();
    Ok(out)
}

// ------------------------------------------------------------ load

#[derive(Debug, Default)]
struct Load {
    /// % of one core, per session (or per child).
    cpu_pct: f64,
    /// MiB per session (server: above idle) or per child.
    rss: f64,
    rss_peak: f64,
    /// RSS growth over the window, KiB/s per session (or child).
    rss_growth_kib_s: f64,
    /// Chunks a client received per second (server only).
    chunks_s: f64,
    /// Write-like system calls per second, per session (or child).
    writes_s: f64,
    /// Server only: % of one core per session, by thread group (threads
    /// that ended during the window are missing).
    threads: Vec<(String, f64)>,
    pss: f64,
    /// Server only: RSS and PSS before any session.
    idle_rss: f64,
    idle_pss: f64,
    total_rss: f64,
    /// Output per session, kbit/s, over the window.
    kbps: f64,
    /// Request (or spawn) → first output byte, ms, per session.
    first_out: Vec<f64>,
}

impl Load {
    /// Field-wise mean over rounds.
    fn mean(v: &[Load]) -> Load {
        let n = v.len().max(1) as f64;
        let m = |f: fn(&Load) -> f64| v.iter().map(f).sum::<f64>() / n;
        Load {
            cpu_pct: m(|l| l.cpu_pct),
            rss: m(|l| l.rss),
            rss_peak: m(|l| l.rss_peak),
            rss_growth_kib_s: m(|l| l.rss_growth_kib_s),
            chunks_s: m(|l| l.chunks_s),
            writes_s: m(|l| l.writes_s),
            pss: m(|l| l.pss),
            idle_rss: m(|l| l.idle_rss),
            idle_pss: m(|l| l.idle_pss),
            total_rss: m(|l| l.total_rss),
            kbps: m(|l| l.kbps),
            first_out: v.iter().flat_map(|l| l.first_out.iter().copied()).collect(),
            threads: {
                let mut m = std::collections::BTreeMap::<String, f64>::new();
                for l in v {
                    for (k, c) in &l.threads {
                        *m.entry(k.clone()).or_default() += c / n;
                    }
                }
                m.into_iter().collect()
            },
        }
    }
}

async fn load_streamforge(
    up: &Upstream,
    client: &reqwest::Client,
    secs: u64,
) -> anyhow::Result<Load> {
    let chans = (0..SESSIONS)
        .map(|i| channel(LOAD_BASE + i as u32, vec![up.ts_url(&format!("load{i}"))]))
        .collect();
    let mut cfg = base_config(chans, SESSIONS as u32);
    if let Some(mb) = std::env::var("SF_BENCH_RING_MB")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        cfg.stream.ring_mb = mb;
    }
    let srv = Server::start(cfg).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let pid = srv.pid;
    let idle_rss = rss_mib(pid).context("server RSS")?;
    let idle_pss = pss_mib(pid).unwrap_or(f64::NAN);
    let t0 = Instant::now();
    let clients: Vec<Running> = (0..SESSIONS)
        .map(|i| {
            http_capture(
                client,
                srv.url(&format!("/auto/v{}", LOAD_BASE + i as u32)),
                t0,
                false,
            )
        })
        .collect();
    first_bytes(&clients, Duration::from_secs(20), "load sessions", || {
        srv.log()
    })
    .await?;
    let first_out = clients
        .iter()
        .filter_map(|c| c.cap.lock().first_byte_ms)
        .collect();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let bytes = |cs: &[Running]| cs.iter().map(|c| c.cap.lock().total).sum::<u64>();
    let chunks = |cs: &[Running]| {
        cs.iter()
            .map(|c| c.cap.lock().arrivals.len())
            .sum::<usize>()
    };
    let (k0, s0) = (chunks(&clients), syscw(pid).unwrap_or(0));
    let (b0, c0, w0) = (
        bytes(&clients),
        cpu_seconds(pid).context("cpu")?,
        Instant::now(),
    );
    let rss0 = rss_mib(pid).context("server RSS")?;
    let threads0 = thread_cpu(pid);
    let mut peak = 0.0f64;
    let mut last = idle_rss;
    let mut samples = Vec::new();
    while w0.elapsed() < Duration::from_secs(secs) {
        tokio::time::sleep(Duration::from_secs(1)).await;
        if let Some(r) = rss_mib(pid) {
            last = r;
            peak = peak.max(r);
            samples.push(format!("{:.1}", (r - idle_rss) / SESSIONS as f64));
        }
    }
    eprintln!(
        "  streamforge RSS per session above idle, MiB, each second: {}",
        samples.join(" ")
    );
    let (b1, c1, wall) = (
        bytes(&clients),
        cpu_seconds(pid).context("cpu")?,
        w0.elapsed().as_secs_f64(),
    );
    let s1 = syscw(pid).unwrap_or(0);
    let threads1 = thread_cpu(pid);
    let pss = pss_mib(pid).unwrap_or(f64::NAN);
    let sessions = srv.json("/api/sessions").await?;
    let healthy = sessions
        .as_array()
        .map(|a| a.iter().filter(|s| s["state"] == "healthy").count())
        .unwrap_or(0);
    if healthy != SESSIONS {
        eprintln!("  warning: {healthy}/{SESSIONS} sessions healthy: {sessions}");
    }
    for c in &clients {
        c.stop();
    }
    srv.stop().await;
    let n = SESSIONS as f64;
    let l = Load {
        cpu_pct: (c1 - c0) / wall * 100.0 / n,
        rss: (last - idle_rss) / n,
        rss_peak: (peak - idle_rss) / n,
        rss_growth_kib_s: (last - rss0) * 1024.0 / wall / n,
        chunks_s: (chunks(&clients) - k0) as f64 / wall / n,
        threads: threads1
            .iter()
            .map(|(k, v)| {
                let before = threads0.get(k).copied().unwrap_or(0.0);
                (k.clone(), (v - before) / wall * 100.0 / n)
            })
            .filter(|(_, v)| *v > 0.0)
            .collect(),
        writes_s: s1.saturating_sub(s0) as f64 / wall / n,
        pss: (pss - idle_pss) / n,
        idle_rss,
        idle_pss,
        total_rss: last,
        kbps: (b1 - b0) as f64 * 8.0 / wall / 1000.0 / n,
        first_out,
    };
    eprintln!("  streamforge load: {l:?}");
    Ok(l)
}

async fn load_ffmpeg(up: &Upstream, secs: u64) -> anyhow::Result<Load> {
    let t0 = Instant::now();
    let urls: Vec<String> = (0..SESSIONS)
        .map(|i| up.ts_url(&format!("load{i}")))
        .collect();
    let mut children = ffmpeg_children(&urls)?;
    let pids: Vec<u32> = children.iter().filter_map(|c| c.id()).collect();
    anyhow::ensure!(pids.len() == SESSIONS, "ffmpeg children exited at once");
    let mut first_out = vec![None; SESSIONS];
    while first_out.iter().any(Option::is_none) {
        anyhow::ensure!(
            t0.elapsed() < Duration::from_secs(30),
            "not every ffmpeg child produced output within 30 s"
        );
        for (k, pid) in pids.iter().enumerate() {
            // wchar also counts small writes ffmpeg makes while probing
            // (about 4 KiB in all); its output starts with a burst of the
            // probed data (hundreds of KiB).
            if first_out[k].is_none() && wchar(*pid).unwrap_or(0) > 64 * 1024 {
                first_out[k] = Some(t0.elapsed().as_secs_f64() * 1000.0);
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let cpu = |p: &[u32]| p.iter().filter_map(|p| cpu_seconds(*p)).sum::<f64>();
    let out = |p: &[u32]| p.iter().filter_map(|p| wchar(*p)).sum::<u64>();
    let writes = |p: &[u32]| p.iter().filter_map(|p| syscw(*p)).sum::<u64>();
    let s0 = writes(&pids);
    let (o0, c0, w0) = (out(&pids), cpu(&pids), Instant::now());
    let mean_rss = |p: &[u32]| p.iter().filter_map(|p| rss_mib(*p)).sum::<f64>() / SESSIONS as f64;
    let rss0 = mean_rss(&pids);
    let mut peak = 0.0f64;
    let mut last = 0.0;
    while w0.elapsed() < Duration::from_secs(secs) {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let rss: Vec<f64> = pids.iter().filter_map(|p| rss_mib(*p)).collect();
        if rss.len() == SESSIONS {
            last = rss.iter().sum::<f64>() / SESSIONS as f64;
            peak = peak.max(last);
        }
    }
    let (o1, c1, wall) = (out(&pids), cpu(&pids), w0.elapsed().as_secs_f64());
    let s1 = writes(&pids);
    let pss: Vec<f64> = pids.iter().filter_map(|p| pss_mib(*p)).collect();
    for c in &mut children {
        let _ = c.kill().await;
    }
    let n = SESSIONS as f64;
    let l = Load {
        cpu_pct: (c1 - c0) / wall * 100.0 / n,
        rss: last,
        rss_peak: peak,
        rss_growth_kib_s: (last - rss0) * 1024.0 / wall,
        writes_s: s1.saturating_sub(s0) as f64 / wall / n,
        pss: pss.iter().sum::<f64>() / pss.len().max(1) as f64,
        kbps: (o1 - o0) as f64 * 8.0 / wall / 1000.0 / n,
        first_out: first_out.into_iter().flatten().collect(),
        ..Default::default()
    };
    eprintln!("  ffmpeg load: {l:?}");
    Ok(l)
}

// ------------------------------------------------------------ tables

fn col(v: &[Start], f: impl Fn(&Start) -> Option<f64>) -> Vec<f64> {
    v.iter().filter_map(f).collect()
}

fn opt(v: Option<f64>) -> String {
    v.map(|x| format!("{x:.0}")).unwrap_or_else(|| "-".into())
}

fn sf_minus_relay(s: &Start) -> Option<f64> {
    Some(s.sf_key? - s.relay_key?)
}

fn sf_minus_relay_done(s: &Start) -> Option<f64> {
    Some(s.sf_key? - s.relay_key_done?)
}

fn ff_minus_relay(s: &Start) -> Option<f64> {
    Some(s.ff_key? - s.relay_key?)
}

fn print_start(starts: &[Start]) {
    let mut t = Table::new(
        "New session, loopback upstream: ms from the request (all four started in the same instant)",
        &["measure (ms)", "median", "min", "max", "runs"],
    );
    t.stat_row("raw relay: first byte", &col(starts, |s| s.relay_first), 0);
    t.stat_row(
        "raw relay: first video keyframe",
        &col(starts, |s| s.relay_key),
        0,
    );
    t.stat_row(
        "raw relay: first video keyframe complete",
        &col(starts, |s| s.relay_key_done),
        0,
    );
    t.stat_row("streamforge: first byte", &col(starts, |s| s.sf_first), 0);
    t.stat_row(
        "streamforge: first video keyframe",
        &col(starts, |s| s.sf_key),
        0,
    );
    t.stat_row(
        "streamforge keyframe − relay keyframe",
        &col(starts, sf_minus_relay),
        0,
    );
    t.stat_row(
        "streamforge keyframe − relay keyframe complete",
        &col(starts, sf_minus_relay_done),
        0,
    );
    t.stat_row("ffmpeg CLI: first byte", &col(starts, |s| s.ff_first), 0);
    t.stat_row(
        "ffmpeg CLI: first video keyframe",
        &col(starts, |s| s.ff_key),
        0,
    );
    t.stat_row(
        "ffmpeg keyframe − relay keyframe",
        &col(starts, ff_minus_relay),
        0,
    );
    t.stat_row(
        "ffmpeg -probesize 32k -analyzeduration 0: first byte",
        &col(starts, |s| s.ff_fast_first),
        0,
    );
    t.stat_row(
        "ffmpeg -probesize 32k -analyzeduration 0: first video keyframe",
        &col(starts, |s| s.ff_fast_key),
        0,
    );
    t.print();

    let mut t = Table::new(
        "New session, per run (ms)",
        &[
            "run",
            "relay key",
            "relay key complete",
            "relay first audio complete",
            "streamforge first byte",
            "streamforge key",
            "sf − relay",
            "ffmpeg first byte",
            "ffmpeg key",
        ],
    );
    for (i, s) in starts.iter().enumerate() {
        t.row(vec![
            (i + 1).to_string(),
            opt(s.relay_key),
            opt(s.relay_key_done),
            opt(s.relay_audio_done),
            opt(s.sf_first),
            opt(s.sf_key),
            opt(sf_minus_relay(s)),
            opt(s.ff_first),
            opt(s.ff_key),
        ]);
    }
    t.print();
}

fn print_join(joins: &[Join]) {
    let mut t = Table::new(
        "Client joining a running session (ms from the request; media in its first second)",
        &["measure", "median", "min", "max", "runs"],
    );
    let v = |f: fn(&Join) -> Option<f64>| joins.iter().filter_map(f).collect::<Vec<_>>();
    t.stat_row("first byte (ms)", &v(|j| j.first), 0);
    t.stat_row("first video keyframe (ms)", &v(|j| j.key), 0);
    t.stat_row(
        "video DTS span received in first 1 s (s)",
        &v(|j| Some(j.span_1s)),
        2,
    );
    t.stat_row(
        "bytes received in first 1 s (kB)",
        &v(|j| Some(j.bytes_1s as f64 / 1000.0)),
        0,
    );
    t.print();
}

fn print_rounds(sfs: &[Load], ffs: &[Load]) {
    let mut t = Table::new(
        "Load rounds (streamforge and ffmpeg alternate): per session / per child",
        &[
            "round",
            "streamforge CPU %",
            "ffmpeg CPU %",
            "CPU ratio",
            "streamforge RSS MiB",
            "ffmpeg RSS MiB",
            "RSS ratio",
        ],
    );
    for i in 0..sfs.len().max(ffs.len()) {
        let (a, b) = (sfs.get(i), ffs.get(i));
        let f = |l: Option<&Load>, g: fn(&Load) -> f64, d: usize| {
            l.map(|l| format!("{:.*}", d, g(l))).unwrap_or("-".into())
        };
        let r = |g: fn(&Load) -> f64| match (a, b) {
            (Some(a), Some(b)) if g(b) > 0.0 => format!("{:.2}x", g(a) / g(b)),
            _ => "-".into(),
        };
        t.row(vec![
            (i + 1).to_string(),
            f(a, |l| l.cpu_pct, 2),
            f(b, |l| l.cpu_pct, 2),
            r(|l| l.cpu_pct),
            f(a, |l| l.rss, 1),
            f(b, |l| l.rss, 1),
            r(|l| l.rss),
        ]);
    }
    t.print();
}

fn print_load(sf: &Load, ff: &Load, secs: u64) {
    let mut t = Table::new(
        &format!(
            "{SESSIONS} sessions at 1x for {secs} s (mean of the rounds): streamforge (one child process, per session = total / {SESSIONS}, RSS above idle) vs {SESSIONS} ffmpeg children (per child)"
        ),
        &[
            "measure",
            "streamforge / session",
            "ffmpeg / child",
            "ratio",
        ],
    );
    let ratio = |a: f64, b: f64| {
        if b > 0.0 && a.is_finite() {
            format!("{:.2}x", a / b)
        } else {
            "-".into()
        }
    };
    t.row(vec![
        "CPU, user+sys (% of one core)".into(),
        format!("{:.2}", sf.cpu_pct),
        format!("{:.2}", ff.cpu_pct),
        ratio(sf.cpu_pct, ff.cpu_pct),
    ]);
    t.row(vec![
        "RSS at end of window (MiB)".into(),
        format!("{:.1}", sf.rss),
        format!("{:.1}", ff.rss),
        ratio(sf.rss, ff.rss),
    ]);
    t.row(vec![
        "RSS peak (MiB)".into(),
        format!("{:.1}", sf.rss_peak),
        format!("{:.1}", ff.rss_peak),
        ratio(sf.rss_peak, ff.rss_peak),
    ]);
    t.row(vec![
        "PSS at end (MiB, shared pages split)".into(),
        format!("{:.1}", sf.pss),
        format!("{:.1}", ff.pss),
        ratio(sf.pss, ff.pss),
    ]);
    t.row(vec![
        "RSS growth over the window (KiB/s)".into(),
        format!("{:.1}", sf.rss_growth_kib_s),
        format!("{:.1}", ff.rss_growth_kib_s),
        "-".into(),
    ]);
    if !sf.threads.is_empty() {
        let parts: Vec<String> = sf
            .threads
            .iter()
            .map(|(k, v)| format!("{k} {v:.3}"))
            .collect();
        t.row(vec![
            "streamforge CPU by thread group (%)".into(),
            parts.join(", "),
            "-".into(),
            "-".into(),
        ]);
    }
    t.row(vec![
        "write system calls per second".into(),
        format!("{:.0}", sf.writes_s),
        format!("{:.0}", ff.writes_s),
        "-".into(),
    ]);
    t.row(vec![
        "chunks a client receives per second".into(),
        format!("{:.0}", sf.chunks_s),
        "-".into(),
        "-".into(),
    ]);
    t.row(vec![
        "output (kbit/s)".into(),
        format!("{:.0}", sf.kbps),
        format!("{:.0}", ff.kbps),
        "-".into(),
    ]);
    let med = |v: &[f64]| {
        summary(v)
            .map(|s| format!("{:.0}", s.median))
            .unwrap_or("-".into())
    };
    t.row(vec![
        "start → first output, median (ms; ffmpeg: > 64 KiB written)".into(),
        med(&sf.first_out),
        med(&ff.first_out),
        "-".into(),
    ]);
    t.row(vec![
        "server idle RSS / PSS (MiB), subtracted".into(),
        format!("{:.1} / {:.1}", sf.idle_rss, sf.idle_pss),
        "-".into(),
        "-".into(),
    ]);
    t.row(vec![
        "server total RSS with 10 sessions (MiB)".into(),
        format!("{:.1}", sf.total_rss),
        "-".into(),
        "-".into(),
    ]);
    t.print();
}

fn verdict(ok: bool) -> String {
    if ok { "met" } else { "MISSED" }.into()
}

fn print_targets(starts: &[Start], joins: &[Join], sf: &Load, ff: &Load) {
    let mut t = Table::new("Targets (issue 2)", &["target", "measured", "verdict"]);
    if let Some(s) = summary(&col(starts, sf_minus_relay)) {
        t.row(vec![
            "new session first keyframe ≤ 300 ms after the raw relay's".into(),
            format!("median {:.0} ms, worst {:.0} ms", s.median, s.max),
            verdict(s.max <= 300.0),
        ]);
    }
    let firsts: Vec<f64> = joins.iter().filter_map(|j| j.first).collect();
    if let Some(s) = summary(&firsts) {
        t.row(vec![
            "joining client first byte ≤ 50 ms".into(),
            format!("median {:.0} ms, worst {:.0} ms", s.median, s.max),
            verdict(s.max <= 50.0),
        ]);
    }
    let spans: Vec<f64> = joins.iter().map(|j| j.span_1s).collect();
    if let Some(s) = summary(&spans) {
        t.row(vec![
            "joining client ≥ 2 s of media in its first second".into(),
            format!("median {:.2} s, worst {:.2} s", s.median, s.min),
            verdict(s.min >= 2.0),
        ]);
    }
    if ff.rss <= 0.0 || sf.rss.is_nan() {
        t.print();
        return;
    }
    let r = sf.rss / ff.rss;
    t.row(vec![
        "RSS per session ≤ 0.25x the ffmpeg child's".into(),
        format!("{:.1} / {:.1} MiB = {r:.2}x", sf.rss, ff.rss),
        verdict(r <= 0.25),
    ]);
    let c = sf.cpu_pct / ff.cpu_pct;
    t.row(vec![
        "CPU per session ≤ 1.0x the ffmpeg child's (aim 0.7x)".into(),
        format!("{:.2} / {:.2} % = {c:.2}x", sf.cpu_pct, ff.cpu_pct),
        if c <= 0.7 {
            "met (aim too)".into()
        } else {
            verdict(c <= 1.0)
        },
    ]);
    t.print();
}
