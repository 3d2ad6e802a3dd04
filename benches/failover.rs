//! Failover figures for issue 3, printed as tables. For each threshold
//! pair (the defaults 3000/5000 ms, and 1000/1500 ms) and each run:
//!
//! - a first client opens a new session (primary: fixtures/main.ts, backup:
//!   fixtures/backup.ts, other PIDs and timeline), a second client joins
//!   6 s later (so it starts join_behind_ms behind live), and at 14 s the
//!   bench sets the primary feed to `Mode::Stall` (socket open, no bytes);
//! - from the clients' captures: stall → first backup byte at the client
//!   (end of the arrival gap), the largest arrival gap, the video DTS step
//!   at the splice, the audio gap and the A/V offset at the cut and after
//!   the splice; from the `failover` event: switch_ms, stall_ms, warm
//!   standby, held packets;
//! - a simulated player per client and N = 2, 5, 8 s: starts once N s of
//!   media (video DTS span) have arrived, then plays at 1x; rebuffering is
//!   the total time its buffer is empty.
//!
//! Run: `cargo bench --bench failover` (the release `streamforge` binary
//! runs as a child process; see `common/mod.rs` for why).
//! Knobs: `SF_BENCH_RUNS` (3 per configuration), `SF_BIN`.
//!
//! Memory (issue 15): `SF_BENCH_RSS=10,100 cargo bench --bench failover`
//! runs, instead, N channels of a generated 4 Mbit/s feed (720p H.264 CBR
//! and AAC, 10 s looping) with one client each, for the default ring (sized
//! from `max_lag_ms`) and for a 30 s ring (`max_lag_ms = 29000`, what every
//! channel kept before), and prints the server's RSS above idle per channel
//! after 25 s (`SF_BENCH_RSS_SECS`), and the ring bytes the API reports.

mod common;

use std::time::{Duration, Instant, SystemTime};

use anyhow::Context;
use common::*;
use streamforge::demo::upstream::Mode;

struct Thresholds {
    name: &'static str,
    stall: u64,
    after: u64,
    base: u32,
}

const CONFIGS: [Thresholds; 2] = [
    Thresholds {
        name: "defaults 3000/5000 ms",
        stall: 3000,
        after: 5000,
        base: 400,
    },
    Thresholds {
        name: "1000/1500 ms",
        stall: 1000,
        after: 1500,
        base: 500,
    },
];

const JOIN_AT_MS: u64 = 6000;
const STALL_AT_MS: u64 = 14_000;
const AFTER_EVENT_MS: u64 = 8000;
const BUFFERS_S: [f64; 3] = [2.0, 5.0, 8.0];

fn main() -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(run())
}

async fn run() -> anyhow::Result<()> {
    if let Ok(list) = std::env::var("SF_BENCH_RSS") {
        return rss_bench(&list).await;
    }
    let runs = knob("SF_BENCH_RUNS", 3).max(1) as u32;
    let main_ts = fixture("main.ts")?;
    let backup_ts = fixture("backup.ts")?;
    let origins = Origins {
        primary: Origin::of(&main_ts),
        backup: Origin::of(&backup_ts),
    };
    let up = Upstream::start().await?;
    let mut chans = Vec::new();
    for t in &CONFIGS {
        for k in 0..runs {
            let ch = t.base + k;
            up.add(&format!("p{ch}"), main_ts.clone());
            up.add(&format!("b{ch}"), backup_ts.clone());
            let mut c = channel(
                ch,
                vec![up.ts_url(&format!("p{ch}")), up.ts_url(&format!("b{ch}"))],
            );
            c.stall_detect_ms = Some(t.stall);
            c.failover_after_ms = Some(t.after);
            chans.push(c);
        }
    }
    eprintln!("failover bench: server {}", server_binary().display());
    let srv = Server::start(base_config(chans, 2 * runs + 2)).await?;
    let client = http_client();
    let mut results: Vec<Vec<RunResult>> = Vec::new();
    for t in &CONFIGS {
        let mut rs = Vec::new();
        for k in 0..runs {
            match one_run(&up, &srv, &client, t, t.base + k, &origins).await {
                Ok(r) => {
                    eprintln!("  {} run {}: {r:?}", t.name, k + 1);
                    rs.push(r);
                }
                Err(e) => eprintln!("  {} run {} failed: {e:#}", t.name, k + 1),
            }
            // Let the session end (linger) before the next one.
            tokio::time::sleep(Duration::from_millis(800)).await;
        }
        results.push(rs);
    }
    srv.stop().await;
    for (t, rs) in CONFIGS.iter().zip(&results) {
        print_config(t, rs);
    }
    print_rebuffering(&results);
    print_splicing(&results);
    print_targets(&results);
    Ok(())
}

#[derive(Debug, Default)]
struct RunResult {
    /// Stall → arrival of the first backup PES at the first client (ms).
    stall_to_backup_ms: f64,
    /// Stall → arrival of the last primary PES (frames the server held).
    stall_to_last_primary_ms: f64,
    stall_to_event_ms: Option<f64>,
    switch_ms: Option<f64>,
    event_stall_ms: Option<f64>,
    event_dts_step_ms: Option<f64>,
    event_av_before_ms: Option<f64>,
    event_av_after_ms: Option<f64>,
    warm_standby: Option<bool>,
    held_packets: Option<f64>,
    /// Largest gap between chunks at either client after its first byte.
    max_gap_ms: f64,
    /// Largest gap between chunks that ends after the stall.
    gap_after_stall_ms: f64,
    video_step_ms: Option<f64>,
    /// First backup PTS − last primary PTS (presentation step).
    video_pts_step_ms: Option<f64>,
    frame_ms: Option<f64>,
    /// Video access units from the primary after the first from the backup.
    primary_after_splice: usize,
    /// Video access units matching neither file.
    unknown_video: usize,
    video_dts_increasing: bool,
    audio_gap_ms: Option<f64>,
    av_before_ms: Option<f64>,
    av_after_ms: Option<f64>,
    /// A/V sync error against the source file (audio offset − video
    /// offset, ms) over the frames before and after the splice.
    sync_before_ms: Option<f64>,
    sync_after_ms: Option<f64>,
    /// Audio end − video end of the complete frames a raw relay of the
    /// primary had received when it stalled.
    upstream_av_at_cut_ms: Option<f64>,
    /// Media (s) the joining client got in its first second.
    join_burst_s: f64,
    /// What StreamForge's first client got: PIDs with payload, and
    /// continuity-counter errors over the whole capture.
    sf_ts: Option<TsCheck>,
    /// What a byte-splicing relay delivered at the same stall.
    splice: Option<SpliceResult>,
    /// Rebuffering seconds per BUFFERS_S, first client and joining client.
    rebuf_first: Vec<Option<Sim>>,
    rebuf_join: Vec<Option<Sim>>,
}

async fn one_run(
    up: &Upstream,
    srv: &Server,
    client: &reqwest::Client,
    t: &Thresholds,
    ch: u32,
    origins: &Origins,
) -> anyhow::Result<RunResult> {
    let url = srv.url(&format!("/auto/v{ch}"));
    let primary = up.feed(&format!("p{ch}")).context("primary feed")?;
    let epoch = Instant::now();
    let first = http_capture(client, url.clone(), epoch, true);
    // A raw relay of the primary, connected in the same instant: what the
    // upstream had sent when it stalled.
    let relay = http_capture(client, up.ts_url(&format!("p{ch}")), epoch, true);
    let dump = std::env::var("SF_BENCH_DUMP").ok();
    first.cap.lock().data = Some(Vec::new());
    // What peers that splice bytes deliver: forward the primary, and after
    // the same failover threshold of silence forward the backup instead.
    let splicer = splicing_relay(
        client.clone(),
        up.ts_url(&format!("p{ch}")),
        up.ts_url(&format!("b{ch}")),
        Duration::from_millis(t.after),
        epoch,
    );
    sleep_until(epoch, JOIN_AT_MS).await;
    anyhow::ensure!(
        first.cap.lock().first_byte_ms.is_some(),
        "the first client got nothing in {JOIN_AT_MS} ms"
    );
    let join_req_ms = ms_between(epoch, Instant::now());
    let join = http_capture(client, url, epoch, true);
    sleep_until(epoch, STALL_AT_MS).await;
    let stall_wall = SystemTime::now();
    let stall_ms = ms_between(epoch, Instant::now());
    primary.set_mode(Mode::Stall);

    let deadline = Instant::now() + Duration::from_millis(t.after + 10_000);
    let event = loop {
        if let Some(e) = srv.events("failover", ch).await?.into_iter().next() {
            break Some(e);
        }
        if Instant::now() > deadline {
            break None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    tokio::time::sleep(Duration::from_millis(AFTER_EVENT_MS)).await;
    first.stop();
    join.stop();
    relay.stop();
    splicer.0.abort();

    let mut r = RunResult::default();
    if let Some(e) = &event {
        let d = &e["detail"];
        r.switch_ms = d["switch_ms"].as_f64();
        r.event_stall_ms = d["stall_ms"].as_f64();
        r.event_dts_step_ms = d["dts_step_ms"].as_f64();
        r.event_av_before_ms = d["av_offset_before_ms"].as_f64();
        r.event_av_after_ms = d["av_offset_after_ms"].as_f64();
        r.warm_standby = d["warm_standby"].as_bool();
        r.held_packets = d["held_packets"].as_f64();
        if let Some(ts) = e["ts"]
            .as_str()
            .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
        {
            let ev = SystemTime::from(ts);
            r.stall_to_event_ms = Some(match ev.duration_since(stall_wall) {
                Ok(d) => d.as_secs_f64() * 1000.0,
                Err(e) => -e.duration().as_secs_f64() * 1000.0,
            });
        }
    } else {
        eprintln!(
            "  no failover event for channel {ch}; server log:\n{}",
            srv.log()
        );
    }

    let f = first.cap.lock();
    if let Some(dir) = &dump {
        let p = std::path::Path::new(dir).join(format!("ch{ch}.ts"));
        std::fs::write(&p, f.data.as_deref().unwrap_or_default())?;
        eprintln!("  capture in {} (stall at {stall_ms:.0} ms)", p.display());
    }
    let j = join.cap.lock();
    r.max_gap_ms = max_gap(&f).max(max_gap(&j));
    r.gap_after_stall_ms = f
        .arrivals
        .windows(2)
        .filter(|w| w[1].0 >= stall_ms)
        .map(|w| w[1].0 - w[0].0.max(stall_ms))
        .fold(0.0, f64::max);
    analyse_splice(&f, origins, stall_ms, &mut r)?;
    r.sf_ts = f.data.as_deref().map(|d| ts_check(d, None));
    r.splice = splicer.1.lock().result();
    r.upstream_av_at_cut_ms = upstream_av_at_cut(&mut relay.cap.lock().scan, stall_ms);
    if std::env::var_os("SF_BENCH_DEBUG").is_some() {
        debug_arrivals(&f, origins, stall_ms, t.after as f64 + 3000.0);
    }
    r.join_burst_s = {
        let d: Vec<i64> = j
            .scan
            .video()
            .filter(|p| p.at_ms <= join_req_ms + 1000.0)
            .map(|p| p.dts)
            .collect();
        match (d.iter().min(), d.iter().max()) {
            (Some(a), Some(b)) => (b - a) as f64 / 90_000.0,
            _ => 0.0,
        }
    };
    let end_f = f.arrivals.last().map(|a| a.0).unwrap_or(0.0);
    let end_j = j.arrivals.last().map(|a| a.0).unwrap_or(0.0);
    for n in BUFFERS_S {
        r.rebuf_first
            .push(simulate(&f.scan, n * 1000.0, end_f, stall_ms));
        r.rebuf_join
            .push(simulate(&j.scan, n * 1000.0, end_j, stall_ms));
    }
    Ok(r)
}

async fn sleep_until(epoch: Instant, ms: u64) {
    tokio::time::sleep_until((epoch + Duration::from_millis(ms)).into()).await;
}

/// Hashes of the primary's and the backup's media, to tell which input a
/// PES of the capture came from (the output PIDs and timeline are shared).
struct Origins {
    primary: Origin,
    backup: Origin,
}

fn max_gap(c: &Capture) -> f64 {
    c.arrivals
        .windows(2)
        .map(|w| w[1].0 - w[0].0)
        .fold(0.0, f64::max)
}

fn median_i64(mut v: Vec<i64>) -> Option<i64> {
    v.sort_unstable();
    v.get(v.len() / 2).copied()
}

/// One AAC frame of the capture.
struct AudioFrame {
    at_ms: f64,
    pts: i64,
    dur: i64,
    backup: bool,
    primary: bool,
    hash: u64,
}

/// Locates the splice by content (the first video access unit and AAC
/// frame from the backup file) and measures timing, timestamps and A/V
/// alignment around it.
fn analyse_splice(
    c: &Capture,
    o: &Origins,
    stall_ms: f64,
    r: &mut RunResult,
) -> anyhow::Result<()> {
    let is_backup_v = |p: &Pes| p.hashes.iter().any(|h| o.backup.video.contains_key(h));
    let is_primary_v = |p: &Pes| p.hashes.iter().any(|h| o.primary.video.contains_key(h));
    let video: Vec<&Pes> = c.scan.video().collect();
    r.video_dts_increasing = video.windows(2).all(|w| w[1].dts > w[0].dts);
    let frame =
        median_i64(video.windows(2).map(|w| w[1].dts - w[0].dts).collect()).context("no video")?;
    r.frame_ms = Some(frame as f64 / 90.0);
    let k = video
        .iter()
        .position(|p| is_backup_v(p))
        .context("no video from the backup reached the client")?;
    anyhow::ensure!(k > 0, "no video from the primary before the backup's");
    r.primary_after_splice = video[k..].iter().filter(|p| is_primary_v(p)).count();
    r.unknown_video = video
        .iter()
        .filter(|p| !p.hashes.is_empty() && !is_backup_v(p) && !is_primary_v(p))
        .count();
    r.video_step_ms = Some((video[k].dts - video[k - 1].dts) as f64 / 90.0);
    // Presentation: B-frames reorder, so look at a few frames each side.
    let last_primary_pts = video[k.saturating_sub(8)..k]
        .iter()
        .map(|p| p.pts)
        .max()
        .unwrap_or(0);
    let video_end = last_primary_pts + frame;
    let video_start = video[k..(k + 8).min(video.len())]
        .iter()
        .map(|p| p.pts)
        .min()
        .unwrap_or(0);
    r.video_pts_step_ms = Some((video_start - last_primary_pts) as f64 / 90.0);

    let audio: Vec<AudioFrame> = c
        .scan
        .audio()
        .flat_map(|p| {
            let fd = p.frame_dur.unwrap_or(1920);
            p.hashes.iter().enumerate().map(move |(j, h)| AudioFrame {
                at_ms: p.at_ms,
                pts: p.pts + j as i64 * fd,
                dur: fd,
                backup: o.backup.audio.contains_key(h) && !o.primary.audio.contains_key(h),
                primary: o.primary.audio.contains_key(h),
                hash: *h,
            })
        })
        .collect();
    let first_backup_audio = audio.iter().find(|a| a.backup);
    let last_primary_audio = audio.iter().filter(|a| a.primary).max_by_key(|a| a.pts);
    let mut first_backup_ms = video[k].at_ms;
    if let Some(a) = first_backup_audio {
        first_backup_ms = first_backup_ms.min(a.at_ms);
    }
    r.stall_to_backup_ms = first_backup_ms - stall_ms;
    let last_primary_ms = video[..k]
        .iter()
        .map(|p| p.at_ms)
        .chain(audio.iter().filter(|a| a.primary).map(|a| a.at_ms))
        .fold(f64::MIN, f64::max);
    r.stall_to_last_primary_ms = last_primary_ms - stall_ms;
    // A/V sync against the source files: (audio out − source) − (video out
    // − source), from the 25 frames of each kind nearest the splice.
    let sync = |vid: Vec<(i64, u64)>, aud: Vec<(i64, u64)>, origin: &Origin| {
        let (v, vc, vn) = Origin::offset(&origin.video, vid.into_iter())?;
        let (a, ac, an) = Origin::offset(&origin.audio, aud.into_iter())?;
        // Require a clear majority on both sides.
        (vc * 2 > vn && ac * 2 > an).then(|| (a - v) as f64 / 90.0)
    };
    let v_after: Vec<(i64, u64)> = video[k..]
        .iter()
        .take(25)
        .map(|p| (p.pts, p.hashes[0]))
        .collect();
    let v_before: Vec<(i64, u64)> = video[..k]
        .iter()
        .rev()
        .filter(|p| !p.hashes.is_empty())
        .take(25)
        .map(|p| (p.pts, p.hashes[0]))
        .collect();
    let a_after: Vec<(i64, u64)> = audio
        .iter()
        .filter(|a| a.backup)
        .take(25)
        .map(|a| (a.pts, a.hash))
        .collect();
    let a_before: Vec<(i64, u64)> = audio
        .iter()
        .filter(|a| a.primary)
        .rev()
        .take(25)
        .map(|a| (a.pts, a.hash))
        .collect();
    r.sync_before_ms = sync(v_before, a_before, &o.primary);
    r.sync_after_ms = sync(v_after, a_after, &o.backup);
    if let (Some(b), Some(p)) = (first_backup_audio, last_primary_audio) {
        let audio_end = p.pts + p.dur;
        r.audio_gap_ms = Some((b.pts - audio_end) as f64 / 90.0);
        r.av_before_ms = Some((audio_end - video_end) as f64 / 90.0);
        r.av_after_ms = Some((b.pts - video_start) as f64 / 90.0);
    }
    Ok(())
}

/// Audio end − video end (ms) of what a raw relay of the primary had
/// received when it stalled, counted the way a demuxer flushes at a cut:
/// every video frame that had started, every complete AAC frame. Only its
/// last 1.5 s are used (the feed loops every 20 s).
fn upstream_av_at_cut(scan: &mut TsScan, stall_ms: f64) -> Option<f64> {
    scan.finish();
    let recent: Vec<&Pes> = scan
        .pes
        .iter()
        .filter(|p| p.at_ms >= stall_ms - 1500.0 && p.at_ms <= stall_ms)
        .collect();
    let video: Vec<&&Pes> = recent.iter().filter(|p| p.video).collect();
    if video.len() < 2 || !video.windows(2).all(|w| w[1].dts > w[0].dts) {
        return None;
    }
    let frame = median_i64(video.windows(2).map(|w| w[1].dts - w[0].dts).collect())?;
    let video_end = video.iter().map(|p| p.pts).max()? + frame;
    let audio_end = recent
        .iter()
        .filter(|p| p.audio && !p.hashes.is_empty())
        .filter_map(|p| Some(p.pts + p.dur()?))
        .max()?;
    Some((audio_end - video_end) as f64 / 90.0)
}

/// `SF_BENCH_DEBUG=1`: what arrived around the splice, chunk by chunk.
fn debug_arrivals(c: &Capture, o: &Origins, stall_ms: f64, window_ms: f64) {
    for &(at, pos, len) in c
        .arrivals
        .iter()
        .filter(|a| a.0 >= stall_ms - 200.0 && a.0 <= stall_ms + window_ms)
    {
        let end = pos + len as u64;
        let inside: Vec<String> =
            c.scan
                .pes
                .iter()
                .filter(|p| p.pos >= pos && p.pos < end)
                .map(|p| {
                    let from =
                        if p.hashes.iter().any(|h| {
                            o.backup.video.contains_key(h) || o.backup.audio.contains_key(h)
                        }) {
                            "B"
                        } else if p.hashes.iter().any(|h| {
                            o.primary.video.contains_key(h) || o.primary.audio.contains_key(h)
                        }) {
                            "P"
                        } else {
                            "?"
                        };
                    format!(
                        "{}{}{} pts {}",
                        if p.video { "V" } else { "A" },
                        if p.key { "*" } else { "" },
                        from,
                        p.pts
                    )
                })
                .collect();
        eprintln!(
            "    +{:>7.1} ms  {len:>6} B  {}",
            at - stall_ms,
            inside.join(", ")
        );
    }
}

#[derive(Debug, Clone, Copy)]
struct Sim {
    rebuffer_s: f64,
    underruns: u32,
    /// Seconds of media buffered when the primary stalled.
    buffer_at_stall_s: f64,
}

/// A player that starts once `n_ms` of media (video DTS span) has arrived,
/// then plays at 1x, stopping while its buffer is empty. `None` when the
/// capture never held `n_ms` of media.
fn simulate(scan: &TsScan, n_ms: f64, end_ms: f64, stall_ms: f64) -> Option<Sim> {
    let mut samples = scan.video().map(|p| (p.at_ms, p.dts));
    let (t_first, d0) = samples.next()?;
    // (arrival ms, media ms available then, relative to the first frame)
    let mut arrivals = vec![(t_first, 0.0)];
    arrivals.extend(samples.map(|(t, d)| (t, (d - d0) as f64 / 90.0)));
    let start = arrivals.iter().position(|&(_, m)| m >= n_ms)?;
    let mut avail = arrivals[..=start]
        .iter()
        .map(|a| a.1)
        .fold(0.0f64, f64::max);
    let mut t = arrivals[start].0;
    let (mut pos, mut rebuf, mut underruns, mut empty) = (0.0f64, 0.0f64, 0u32, false);
    let mut buffer_at_stall = (t >= stall_ms).then_some(0.0);
    let steps = arrivals[start + 1..]
        .iter()
        .copied()
        .chain(std::iter::once((end_ms, f64::MIN)));
    for (at, m) in steps {
        let dt = at - t;
        if dt > 0.0 {
            if buffer_at_stall.is_none() && at >= stall_ms {
                buffer_at_stall = Some((avail - pos - (stall_ms - t)).max(0.0) / 1000.0);
            }
            let can = avail - pos;
            if can >= dt {
                pos += dt;
                empty = false;
            } else {
                pos = avail;
                rebuf += dt - can.max(0.0);
                if !empty {
                    underruns += 1;
                    empty = true;
                }
            }
            t = at;
        }
        avail = avail.max(m);
    }
    Some(Sim {
        rebuffer_s: rebuf / 1000.0,
        underruns,
        buffer_at_stall_s: buffer_at_stall.unwrap_or(0.0),
    })
}

// ------------------------------------------------------------ tables

fn print_config(t: &Thresholds, rs: &[RunResult]) {
    let mut tab = Table::new(
        &format!(
            "Failover, {} (stall_detect/failover_after), loopback upstream, primary set to Stall",
            t.name
        ),
        &["measure", "median", "min", "max", "runs"],
    );
    let v = |f: &dyn Fn(&RunResult) -> Option<f64>| rs.iter().filter_map(f).collect::<Vec<_>>();
    tab.stat_row(
        "stall → first backup byte at the client (ms)",
        &v(&|r| Some(r.stall_to_backup_ms)),
        0,
    );
    tab.stat_row(
        "stall → last primary media at the client (ms; held frames go out at the switch)",
        &v(&|r| Some(r.stall_to_last_primary_ms)),
        0,
    );
    tab.stat_row(
        "stall → failover event ts (ms, event ts has ms resolution)",
        &v(&|r| r.stall_to_event_ms),
        0,
    );
    tab.stat_row("switch_ms (event)", &v(&|r| r.switch_ms), 1);
    tab.stat_row("stall_ms (event)", &v(&|r| r.event_stall_ms), 0);
    tab.stat_row(
        "max gap in data at a client (ms)",
        &v(&|r| Some(r.max_gap_ms)),
        0,
    );
    tab.stat_row(
        "largest gap after the stall, counted from the stall (ms)",
        &v(&|r| Some(r.gap_after_stall_ms)),
        0,
    );
    tab.stat_row(
        "video DTS step at the splice, capture (ms)",
        &v(&|r| r.video_step_ms),
        1,
    );
    tab.stat_row("video frame duration (ms)", &v(&|r| r.frame_ms), 1);
    tab.stat_row(
        "video PTS step at the splice: first backup − last primary (ms)",
        &v(&|r| r.video_pts_step_ms),
        1,
    );
    tab.stat_row(
        "video DTS step at the splice, event dts_step_ms",
        &v(&|r| r.event_dts_step_ms),
        1,
    );
    tab.stat_row("audio gap at the splice (ms)", &v(&|r| r.audio_gap_ms), 1);
    tab.stat_row(
        "A/V offset at the cut: audio end − video end (ms)",
        &v(&|r| r.av_before_ms),
        1,
    );
    tab.stat_row(
        "same, in the upstream bytes at the stall (raw relay of the primary)",
        &v(&|r| r.upstream_av_at_cut_ms),
        1,
    );
    tab.stat_row(
        "A/V offset after: first audio − first video PTS (ms)",
        &v(&|r| r.av_after_ms),
        1,
    );
    tab.stat_row(
        "A/V drift across the splice, after − before (ms)",
        &v(&|r| Some(r.av_after_ms? - r.av_before_ms?)),
        1,
    );
    tab.stat_row(
        "A/V sync error vs the source file, before the splice (ms)",
        &v(&|r| r.sync_before_ms),
        1,
    );
    tab.stat_row(
        "A/V sync error vs the source file, after the splice (ms)",
        &v(&|r| r.sync_after_ms),
        1,
    );
    tab.stat_row(
        "event av_offset_before_ms (last audio DTS − last video DTS)",
        &v(&|r| r.event_av_before_ms),
        1,
    );
    tab.stat_row(
        "event av_offset_after_ms (first audio DTS − first video DTS)",
        &v(&|r| r.event_av_after_ms),
        1,
    );
    tab.stat_row("held packets (event)", &v(&|r| r.held_packets), 0);
    tab.stat_row(
        "joining client: media in its first second (s)",
        &v(&|r| Some(r.join_burst_s)),
        2,
    );
    tab.stat_row(
        "primary / unmatched video frames after the splice",
        &v(&|r| Some((r.primary_after_splice + r.unknown_video) as f64)),
        0,
    );
    let warm = rs.iter().filter(|r| r.warm_standby == Some(true)).count();
    let mono = rs.iter().filter(|r| r.video_dts_increasing).count();
    tab.row(vec![
        "warm standby used / video DTS strictly increasing (runs)".into(),
        format!("{warm}/{} / {mono}/{}", rs.len(), rs.len()),
        String::new(),
        String::new(),
        rs.len().to_string(),
    ]);
    tab.print();
}

fn rebuf_cell(rs: &[RunResult], i: usize, join: bool) -> String {
    let sims: Vec<Option<Sim>> = rs
        .iter()
        .map(|r| {
            let v = if join { &r.rebuf_join } else { &r.rebuf_first };
            v.get(i).copied().flatten()
        })
        .collect();
    let vals: Vec<f64> = sims.iter().flatten().map(|s| s.rebuffer_s).collect();
    let unstarted = sims.iter().filter(|s| s.is_none()).count();
    match summary(&vals) {
        Some(s) => {
            let under: u32 = sims.iter().flatten().map(|s| s.underruns).sum();
            let buf: Vec<f64> = sims.iter().flatten().map(|s| s.buffer_at_stall_s).collect();
            let b = summary(&buf).map(|b| b.median).unwrap_or(0.0);
            let mut c = format!(
                "{:.2} ({:.2}–{:.2}); {under} underruns; buffer at stall {b:.1} s",
                s.median, s.min, s.max
            );
            if unstarted > 0 {
                c.push_str(&format!(", {unstarted} never started"));
            }
            c
        }
        None => "never started".into(),
    }
}

fn print_rebuffering(results: &[Vec<RunResult>]) {
    let mut header = vec!["player buffer N".to_string()];
    for t in &CONFIGS {
        header.push(format!("{}: new-session client", t.name));
        header.push(format!("{}: joining client", t.name));
    }
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    let mut tab = Table::new(
        "Rebuffering (s) of a player that starts after N s of media then plays at 1x: median (min–max) over runs; underruns in all runs; median media buffered when the primary stalled",
        &header,
    );
    for (i, n) in BUFFERS_S.iter().enumerate() {
        let mut row = vec![format!("N = {n:.0} s")];
        for rs in results {
            row.push(rebuf_cell(rs, i, false));
            row.push(rebuf_cell(rs, i, true));
        }
        tab.row(row);
    }
    tab.print();
}

/// Worst rebuffering over runs for buffer index `i`, for new-session
/// clients (`join` false) or joining clients.
fn worst_rebuffer(rs: &[RunResult], i: usize, join: bool) -> Option<f64> {
    let mut worst: Option<f64> = None;
    for r in rs {
        let s = if join { &r.rebuf_join } else { &r.rebuf_first };
        let v = s.get(i).copied().flatten()?.rebuffer_s;
        worst = Some(worst.map_or(v, |w| w.max(v)));
    }
    worst
}

fn print_targets(results: &[Vec<RunResult>]) {
    let mut tab = Table::new("Targets (issue 3)", &["target", "measured", "verdict"]);
    let verdict = |ok: bool| if ok { "met" } else { "MISSED" }.to_string();
    let n8 = BUFFERS_S.iter().position(|n| *n == 8.0).unwrap_or(2);
    let n2 = BUFFERS_S.iter().position(|n| *n == 2.0).unwrap_or(0);
    for (label, rs, i) in [
        (
            "zero rebuffering at N = 8 s with the defaults",
            &results[0],
            n8,
        ),
        (
            "zero rebuffering at N = 2 s with 1000/1500 ms",
            &results[1],
            n2,
        ),
    ] {
        for (who, join) in [("new-session client", false), ("joining client", true)] {
            let label = format!("{label}, {who}");
            match worst_rebuffer(rs, i, join) {
                Some(w) => tab.row(vec![
                    label,
                    format!("worst {w:.2} s over {} runs", rs.len()),
                    verdict(w == 0.0),
                ]),
                None => tab.row(vec![label, "no complete run".into(), "MISSED".into()]),
            }
        }
    }
    for (t, rs) in CONFIGS.iter().zip(results) {
        let sw: Vec<f64> = rs.iter().filter_map(|r| r.switch_ms).collect();
        if let Some(s) = summary(&sw) {
            tab.row(vec![
                format!("switch ≤ 300 ms on loopback ({})", t.name),
                format!("median {:.0} ms, worst {:.0} ms", s.median, s.max),
                verdict(s.max <= 300.0),
            ]);
        }
        let steps: Vec<f64> = rs.iter().filter_map(|r| r.video_step_ms).collect();
        let frames: Vec<f64> = rs.iter().filter_map(|r| r.frame_ms).collect();
        if let (Some(s), Some(f)) = (summary(&steps), summary(&frames)) {
            tab.row(vec![
                format!("DTS step at the splice ≈ one frame ({})", t.name),
                format!("worst {:.1} ms, frame {:.1} ms", s.max, f.median),
                verdict(s.max <= f.median * 1.5 && s.min > 0.0),
            ]);
        }
        let pts: Vec<f64> = rs.iter().filter_map(|r| r.video_pts_step_ms).collect();
        if let (Some(s), Some(f)) = (summary(&pts), summary(&frames)) {
            tab.row(vec![
                format!(
                    "presentation (PTS) step at the splice ≈ one frame, never back ({})",
                    t.name
                ),
                format!("{:.1}–{:.1} ms, frame {:.1} ms", s.min, s.max, f.median),
                verdict(s.max <= f.median * 1.5 && s.min > 0.0),
            ]);
        }
    }
    tab.print();
}

async fn rss_bench(list: &str) -> anyhow::Result<()> {
    require_ffmpeg()?;
    let feed = feed_4mbit(10)?;
    let secs = knob("SF_BENCH_RSS_SECS", 25);
    let mut table = Table::new(
        &format!(
            "RSS per channel at 4 Mbit/s ({} kbit/s feed), one client each, after {secs} s",
            feed.len() as u64 * 8 / 10 / 1000
        ),
        &[
            "channels",
            "ring",
            "idle RSS MiB",
            "total RSS MiB",
            "RSS per channel MiB",
            "peak per channel MiB",
            "ring bytes per channel MiB",
            "clients lagged",
        ],
    );
    for n in list.split(',').filter_map(|v| v.trim().parse::<u32>().ok()) {
        for (label, lag) in [("default (8 s)", None), ("30 s (before)", Some(29_000))] {
            let up = Upstream::start().await?;
            let mut chans = Vec::new();
            for k in 0..n {
                let ch = 700 + k;
                up.add(&format!("f{ch}"), feed.clone());
                chans.push(channel(ch, vec![up.ts_url(&format!("f{ch}"))]));
            }
            let mut cfg = base_config(chans, n + 2);
            cfg.stream.max_lag_ms = lag;
            let srv = Server::start(cfg).await?;
            tokio::time::sleep(Duration::from_secs(1)).await;
            let idle = rss_mib(srv.pid).context("RSS")?;
            let client = http_client();
            let t0 = Instant::now();
            let caps: Vec<_> = (0..n)
                .map(|k| http_capture(&client, srv.url(&format!("/auto/v{}", 700 + k)), t0, false))
                .collect();
            let mut peak = idle;
            for _ in 0..secs {
                tokio::time::sleep(Duration::from_secs(1)).await;
                peak = peak.max(rss_mib(srv.pid).unwrap_or(0.0));
            }
            let total = rss_mib(srv.pid).context("RSS")?;
            let sessions = srv.json("/api/sessions").await?;
            let list = sessions.as_array().cloned().unwrap_or_default();
            let ring: f64 = list
                .iter()
                .filter_map(|s| s["ring_bytes"].as_f64())
                .sum::<f64>()
                / f64::from(n.max(1))
                / 1048576.0;
            let lagged: u64 = list
                .iter()
                .filter_map(|s| s["readers_lagged"].as_u64())
                .sum();
            let served = caps.iter().filter(|c| c.cap.lock().total > 0).count();
            eprintln!(
                "  rss {n} channels, ring {label}: {served} clients served, {} sessions",
                list.len()
            );
            table.row(vec![
                n.to_string(),
                label.to_string(),
                format!("{idle:.1}"),
                format!("{total:.1}"),
                format!("{:.2}", (total - idle) / f64::from(n)),
                format!("{:.2}", (peak - idle) / f64::from(n)),
                format!("{ring:.2}"),
                lagged.to_string(),
            ]);
            drop(caps);
            srv.stop().await;
        }
    }
    table.print();
    Ok(())
}

// ------------------------------------------------------------ byte splicing

/// A peer's failover: bytes of the primary until `after` of silence, then
/// the backup's bytes on the same client stream.
#[derive(Default)]
struct Splicer {
    data: Vec<u8>,
    /// Offset and arrival (ms since the epoch) of the first backup byte,
    /// and the arrival of the last primary byte.
    splice_at: Option<(usize, f64)>,
    last_primary_ms: f64,
}

#[derive(Debug, Clone)]
struct SpliceResult {
    gap_ms: f64,
    check: TsCheck,
}

impl Splicer {
    fn result(&self) -> Option<SpliceResult> {
        let (at, first_backup_ms) = self.splice_at?;
        Some(SpliceResult {
            gap_ms: first_backup_ms - self.last_primary_ms,
            check: ts_check(&self.data, Some(at)),
        })
    }
}

fn splicing_relay(
    client: reqwest::Client,
    primary: String,
    backup: String,
    after: Duration,
    epoch: Instant,
) -> (
    tokio::task::JoinHandle<()>,
    std::sync::Arc<parking_lot::Mutex<Splicer>>,
) {
    let state = std::sync::Arc::new(parking_lot::Mutex::new(Splicer::default()));
    let s = std::sync::Arc::clone(&state);
    let task = tokio::spawn(async move {
        let at = || epoch.elapsed().as_secs_f64() * 1000.0;
        if let Ok(mut resp) = client.get(&primary).send().await {
            while let Ok(Ok(Some(b))) = tokio::time::timeout(after, resp.chunk()).await {
                let mut g = s.lock();
                g.data.extend_from_slice(&b);
                g.last_primary_ms = at();
            }
        }
        let Ok(mut resp) = client.get(&backup).send().await else {
            return;
        };
        while let Ok(Some(b)) = resp.chunk().await {
            let mut g = s.lock();
            if g.splice_at.is_none() {
                g.splice_at = Some((g.data.len(), at()));
            }
            g.data.extend_from_slice(&b);
        }
    });
    (task, state)
}

/// What a TS decoder sees across a splice at byte `at` (or in a whole
/// stream without one).
#[derive(Debug, Clone, Default)]
struct TsCheck {
    pids_before: std::collections::BTreeSet<u16>,
    pids_after: std::collections::BTreeSet<u16>,
    /// Continuity-counter breaks (a PID's counter not one more than its
    /// last, repeats allowed), over the whole stream.
    cc_errors: u32,
    /// First video (audio) PTS after the splice − last before it, ms.
    video_pts_step_ms: Option<f64>,
    audio_pts_step_ms: Option<f64>,
}

fn ts_check(data: &[u8], at: Option<usize>) -> TsCheck {
    let mut c = TsCheck::default();
    let mut last_cc: std::collections::HashMap<u16, u8> = Default::default();
    for (i, p) in data.chunks_exact(188).enumerate() {
        if p[0] != 0x47 {
            continue;
        }
        let pid = u16::from(p[1] & 0x1f) << 8 | u16::from(p[2]);
        let has_payload = p[3] & 0x10 != 0;
        if pid == 0x1fff || !has_payload {
            continue;
        }
        let cc = p[3] & 0x0f;
        if let Some(&l) = last_cc.get(&pid)
            && cc != l
            && cc != (l + 1) & 0x0f
        {
            c.cc_errors += 1;
        }
        last_cc.insert(pid, cc);
        if at.is_some_and(|a| i * 188 >= a) {
            c.pids_after.insert(pid);
        } else {
            c.pids_before.insert(pid);
        }
    }
    if let Some(a) = at {
        let mut scan = TsScan::default();
        scan.feed(0.0, data);
        scan.finish();
        let step = |video: bool| {
            let of = |p: &&Pes| if video { p.video } else { p.audio };
            let before = scan.pes.iter().filter(of).rfind(|p| (p.pos as usize) < a)?;
            let after = scan.pes.iter().filter(of).find(|p| p.pos as usize >= a)?;
            Some((after.pts - before.pts) as f64 / 90.0)
        };
        c.video_pts_step_ms = step(true);
        c.audio_pts_step_ms = step(false);
    }
    c
}

fn pids(set: &std::collections::BTreeSet<u16>) -> String {
    set.iter()
        .map(|p| format!("0x{p:x}"))
        .collect::<Vec<_>>()
        .join(",")
}

fn print_splicing(results: &[Vec<RunResult>]) {
    let mut tab = Table::new(
        "Failover seen by a TS decoder: StreamForge against a byte-splicing relay (what peers that splice upstream bytes deliver) at the same stall, same thresholds",
        &[
            "thresholds",
            "who",
            "PIDs before → after the splice",
            "continuity errors",
            "video PTS step (ms)",
            "audio step (ms; StreamForge: gap after the last primary frame)",
            "last primary byte → first backup byte (ms)",
        ],
    );
    let fmt = |v: &[f64], d: usize| {
        summary(v).map_or("-".into(), |s| {
            format!("{:.*} ({:.*}–{:.*})", d, s.median, d, s.min, d, s.max)
        })
    };
    for (t, rs) in CONFIGS.iter().zip(results) {
        let sf: Vec<&TsCheck> = rs.iter().filter_map(|r| r.sf_ts.as_ref()).collect();
        if let Some(first) = sf.first() {
            let mut all = first.pids_before.clone();
            for c in &sf {
                all.extend(c.pids_before.iter().copied());
            }
            tab.row(vec![
                t.name.to_string(),
                "StreamForge".into(),
                format!("{} (unchanged)", pids(&all)),
                fmt(
                    &sf.iter()
                        .map(|c| f64::from(c.cc_errors))
                        .collect::<Vec<_>>(),
                    0,
                ),
                fmt(
                    &rs.iter()
                        .filter_map(|r| r.video_pts_step_ms)
                        .collect::<Vec<_>>(),
                    0,
                ),
                fmt(
                    &rs.iter().filter_map(|r| r.audio_gap_ms).collect::<Vec<_>>(),
                    0,
                ),
                fmt(
                    &rs.iter().map(|r| r.gap_after_stall_ms).collect::<Vec<_>>(),
                    0,
                ),
            ]);
        }
        let sp: Vec<&SpliceResult> = rs.iter().filter_map(|r| r.splice.as_ref()).collect();
        if let Some(first) = sp.first() {
            tab.row(vec![
                t.name.to_string(),
                "byte-splicing relay".into(),
                format!(
                    "{} → {}",
                    pids(&first.check.pids_before),
                    pids(&first.check.pids_after)
                ),
                fmt(
                    &sp.iter()
                        .map(|s| f64::from(s.check.cc_errors))
                        .collect::<Vec<_>>(),
                    0,
                ),
                fmt(
                    &sp.iter()
                        .filter_map(|s| s.check.video_pts_step_ms)
                        .collect::<Vec<_>>(),
                    0,
                ),
                fmt(
                    &sp.iter()
                        .filter_map(|s| s.check.audio_pts_step_ms)
                        .collect::<Vec<_>>(),
                    0,
                ),
                fmt(&sp.iter().map(|s| s.gap_ms).collect::<Vec<_>>(), 0),
            ]);
        }
    }
    tab.print();
}
