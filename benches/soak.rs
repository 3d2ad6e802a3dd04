//! Chaos soak (issue 12): 8 channels of 3 candidates each on the loopback
//! upstream, one or two clients per channel reading at real time, and a
//! fault injected at random on each channel every ~30 s (±50 %) on the
//! candidate in use: stall, close, HTTP 503, garbage, HTML 200, encoder
//! restart, black hole, slow trickle. Every fault is judged from the
//! clients' side and the server's events for it are recorded; RSS, open
//! fds and threads are read at start and end, and the log is searched for
//! panics.
//!
//! `cargo bench --bench soak` runs for an hour; `SF_SOAK_SECS=600` is the
//! quick run, `SF_SOAK_SEED` makes the fault schedule reproducible,
//! `SF_SOAK_INTERVAL_SECS` sets the mean fault interval per channel.
//! Writes `docs/soak.md` (`SF_SOAK_OUT` to write elsewhere).

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use parking_lot::Mutex;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use streamforge::demo::upstream::{Feed, Mode};

const CHANNELS: u32 = 8;
const CANDIDATES: usize = 3;
const STALL_DETECT_MS: u64 = 1000;
const FAILOVER_AFTER_MS: u64 = 2000;
const CONNECT_TIMEOUT_MS: u64 = 3000;
/// A client-side gap or rebuffer up to failover_after + this is "within
/// the failover threshold" (watchdog tick, switch, keyframe wait).
const MARGIN_MS: f64 = 1000.0;
/// How long a fault holds before its candidates are healed.
const HOLD_MS: u64 = 8000;
/// Judged until this long after the heal.
const SETTLE_MS: u64 = 6000;
const WARMUP_MS: u64 = 15_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Kind {
    Stall,
    Close,
    Http5xx,
    Garbage,
    Html,
    Restart,
    BlackHole,
    Trickle,
}

const KINDS: [Kind; 8] = [
    Kind::Stall,
    Kind::Close,
    Kind::Http5xx,
    Kind::Garbage,
    Kind::Html,
    Kind::Restart,
    Kind::BlackHole,
    Kind::Trickle,
];

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Stall => "stall",
            Kind::Close => "close",
            Kind::Http5xx => "HTTP 503",
            Kind::Garbage => "garbage",
            Kind::Html => "HTML 200",
            Kind::Restart => "encoder restart",
            Kind::BlackHole => "black hole",
            Kind::Trickle => "slow trickle",
        }
    }

    /// What the faulted candidate does: playing connections and
    /// reconnections alike.
    fn what(self) -> &'static str {
        match self {
            Kind::Stall => "socket open, no bytes",
            Kind::Close => "connection closed; reconnects get an empty 200",
            Kind::Http5xx => "connection dropped; reconnects get 503",
            Kind::Garbage => "random bytes at the stream's rate instead of packets",
            Kind::Html => "connection dropped; reconnects get a 200 HTML page",
            Kind::Restart => "the stream jumps back to the start of the file (PCR, PTS, CC)",
            Kind::BlackHole => "connection dropped; reconnects are never answered",
            Kind::Trickle => "25 % of the stream's byte rate (audio keeps arriving)",
        }
    }

    fn apply(self, feed: &Feed) {
        match self {
            Kind::Stall => feed.set_mode(Mode::Stall),
            Kind::Close => feed.set_mode(Mode::Close),
            Kind::Http5xx => {
                feed.set_mode(Mode::Status(503));
                feed.kick();
            }
            Kind::Garbage => feed.set_mode(Mode::Corrupt),
            Kind::Html => {
                feed.set_mode(Mode::Html);
                feed.kick();
            }
            Kind::Restart => feed.set_mode(Mode::Restart),
            Kind::BlackHole => {
                feed.set_mode(Mode::BlackHole);
                feed.kick();
            }
            Kind::Trickle => {
                let rate = feed.packets() as u64 * 188 * 1000 / feed.duration().as_millis() as u64;
                feed.set_mode(Mode::Trickle(rate / 4));
            }
        }
    }
}

// ---------------------------------------------------------------- client side

/// Strict checks of one client connection's TS bytes.
#[derive(Default)]
struct Checker {
    carry: Vec<u8>,
    cc: HashMap<u16, u8>,
    pids: BTreeSet<u16>,
    packets: u64,
    last_ts: HashMap<u16, i64>,
    /// Newest video DTS, ms.
    media_ms: Option<f64>,
}

#[derive(Default, Clone, Copy, Debug)]
struct Counters {
    cc_errors: u64,
    sync_losses: u64,
    ts_backsteps: u64,
    new_pids: u64,
    bytes: u64,
}

impl Counters {
    fn since(self, o: Counters) -> Counters {
        Counters {
            cc_errors: self.cc_errors - o.cc_errors,
            sync_losses: self.sync_losses - o.sync_losses,
            ts_backsteps: self.ts_backsteps - o.ts_backsteps,
            new_pids: self.new_pids - o.new_pids,
            bytes: self.bytes - o.bytes,
        }
    }
}

fn ts33(b: &[u8]) -> i64 {
    (((i64::from(b[0]) >> 1) & 0x7) << 30)
        | (i64::from(b[1]) << 22)
        | ((i64::from(b[2]) >> 1) << 15)
        | (i64::from(b[3]) << 7)
        | (i64::from(b[4]) >> 1)
}

fn unwrap33(prev: Option<i64>, v: i64) -> i64 {
    const WRAP: i64 = 1 << 33;
    match prev {
        None => v,
        Some(p) => {
            let base = p - p.rem_euclid(WRAP);
            [base - WRAP + v, base + v, base + WRAP + v]
                .into_iter()
                .min_by_key(|c| (c - p).abs())
                .unwrap_or(v)
        }
    }
}

impl Checker {
    fn feed(&mut self, data: &[u8], c: &mut Counters) {
        c.bytes += data.len() as u64;
        let mut buf = std::mem::take(&mut self.carry);
        buf.extend_from_slice(data);
        let mut i = 0;
        while i + 188 <= buf.len() {
            if buf[i] != 0x47 {
                c.sync_losses += 1;
                i += 1;
                while i < buf.len() && buf[i] != 0x47 {
                    i += 1;
                }
                continue;
            }
            self.packet(&buf[i..i + 188], c);
            i += 188;
        }
        self.carry = buf[i..].to_vec();
    }

    fn packet(&mut self, p: &[u8], c: &mut Counters) {
        let pid = (u16::from(p[1] & 0x1f) << 8) | u16::from(p[2]);
        if pid == 0x1fff {
            return;
        }
        self.packets += 1;
        let pusi = p[1] & 0x40 != 0;
        let afc = (p[3] >> 4) & 3;
        let cc = p[3] & 0xf;
        let disc = afc & 2 != 0 && p[4] > 0 && p[5] & 0x80 != 0;
        if afc & 1 != 0 {
            if let Some(&prev) = self.cc.get(&pid)
                && !disc
                && cc != (prev + 1) & 0xf
            {
                c.cc_errors += 1;
            }
            self.cc.insert(pid, cc);
        }
        // The PIDs are known after the first second or so of the stream.
        if self.pids.insert(pid) && self.packets > 2000 {
            c.new_pids += 1;
        }
        if !pusi || afc & 1 == 0 {
            return;
        }
        let start = 4 + if afc & 2 != 0 {
            1 + usize::from(p[4])
        } else {
            0
        };
        let Some(pl) = p.get(start..) else { return };
        if pl.len() < 19 || pl[..3] != [0, 0, 1] {
            return;
        }
        let sid = pl[3];
        let video = (0xe0..=0xef).contains(&sid);
        let audio = (0xc0..=0xdf).contains(&sid);
        if !(video || audio) || pl[7] & 0x80 == 0 {
            return;
        }
        let pts = ts33(&pl[9..14]);
        let raw = if pl[7] & 0x40 != 0 {
            ts33(&pl[14..19])
        } else {
            pts
        };
        let prev = self.last_ts.get(&pid).copied();
        let ts = unwrap33(prev, raw);
        if prev.is_some_and(|p| ts <= p) {
            c.ts_backsteps += 1;
        }
        self.last_ts.insert(pid, ts);
        if video {
            self.media_ms = Some(ts as f64 / 90.0);
        }
    }
}

struct End {
    at_ms: f64,
    clean: bool,
    why: String,
}

#[derive(Default)]
struct ClientState {
    /// Connection serial; 0 before the first.
    conn: u64,
    connected: bool,
    checker: Checker,
    counters: Counters,
    /// (arrival ms, connection, newest video DTS ms) per chunk, last 2 min.
    recent: VecDeque<(f64, u64, Option<f64>)>,
    ends: Vec<End>,
    tunes: u64,
    tune_failures: BTreeMap<String, u64>,
}

type Client = Arc<Mutex<ClientState>>;

async fn run_client(
    http: reqwest::Client,
    url: String,
    t0: Instant,
    st: Client,
    stop: Arc<std::sync::atomic::AtomicBool>,
) {
    use std::sync::atomic::Ordering;
    let now = || t0.elapsed().as_secs_f64() * 1000.0;
    while !stop.load(Ordering::Relaxed) {
        st.lock().tunes += 1;
        let resp = match http.get(&url).send().await {
            Ok(r) if r.status().is_success() => r,
            Ok(r) => {
                *st.lock()
                    .tune_failures
                    .entry(format!("HTTP {}", r.status().as_u16()))
                    .or_default() += 1;
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
            Err(e) => {
                let k = if e.is_timeout() { "timeout" } else { "error" };
                *st.lock().tune_failures.entry(k.into()).or_default() += 1;
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        {
            let mut s = st.lock();
            s.conn += 1;
            s.connected = true;
            s.checker = Checker::default();
        }
        let mut resp = resp;
        let why = loop {
            match resp.chunk().await {
                Ok(Some(b)) => {
                    let at = now();
                    let mut s = st.lock();
                    let s = &mut *s;
                    s.checker.feed(&b, &mut s.counters);
                    let (conn, media) = (s.conn, s.checker.media_ms);
                    s.recent.push_back((at, conn, media));
                    while s.recent.front().is_some_and(|f| at - f.0 > 120_000.0) {
                        s.recent.pop_front();
                    }
                }
                Ok(None) => break String::new(),
                Err(e) => break format!("read error: {e}"),
            }
        };
        {
            let mut s = st.lock();
            let leftover = s.checker.carry.len();
            let clean = why.is_empty() && leftover == 0;
            let why = if !why.is_empty() {
                why
            } else if leftover > 0 {
                format!("ended mid-packet ({leftover} bytes)")
            } else {
                String::new()
            };
            let at = now();
            s.ends.push(End {
                at_ms: at,
                clean,
                why,
            });
            s.connected = false;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

// ---------------------------------------------------------------- faults

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// A later candidate was live: the stream must carry on.
    Carry,
    /// Nothing was left in the server's order: the stream must end cleanly.
    End,
}

struct ClientVerdict {
    max_gap_ms: f64,
    rebuffer_ms: f64,
    ended: Option<(bool, String)>,
    counters: Counters,
}

struct Fault {
    at_ms: f64,
    channel: u32,
    kind: Kind,
    /// Candidate in use when it was injected.
    current: usize,
    targets: Vec<usize>,
    expect: Expect,
    clients: Vec<ClientVerdict>,
    recovered: bool,
    /// "carried on" or "ended cleanly".
    outcome: String,
    reasons: Vec<String>,
    events: String,
    /// Session's candidate after the fault.
    after: Option<usize>,
}

fn judge(cv: &ClientVerdict, expect: Expect, limit: f64) -> (bool, String, Vec<String>) {
    let mut r = Vec::new();
    let c = cv.counters;
    if c.sync_losses > 0 {
        r.push(format!("{} sync losses (non-TS bytes)", c.sync_losses));
    }
    if c.cc_errors > 0 {
        r.push(format!("{} CC errors", c.cc_errors));
    }
    if c.ts_backsteps > 0 {
        r.push(format!("{} DTS/PTS steps back", c.ts_backsteps));
    }
    if c.new_pids > 0 {
        r.push(format!("{} new PIDs", c.new_pids));
    }
    let clean_bytes = r.is_empty();
    match &cv.ended {
        None => {
            if cv.max_gap_ms > limit {
                r.push(format!("gap {:.0} ms", cv.max_gap_ms));
            }
            if cv.rebuffer_ms > limit {
                r.push(format!("media fell {:.0} ms behind", cv.rebuffer_ms));
            }
            (r.is_empty(), "carried on".into(), r)
        }
        Some((clean, why)) => {
            if expect == Expect::Carry {
                r.push(format!(
                    "stream ended although a backup was live{}",
                    if why.is_empty() {
                        String::new()
                    } else {
                        format!(" ({why})")
                    }
                ));
                (false, "ended".into(), r)
            } else {
                if !clean {
                    r.push(format!("unclean end: {why}"));
                }
                (
                    *clean && clean_bytes,
                    if *clean {
                        "ended cleanly".into()
                    } else {
                        "ended".into()
                    },
                    r,
                )
            }
        }
    }
}

fn verdict_for(st: &ClientState, conn: u64, from: f64, to: f64, base: Counters) -> ClientVerdict {
    let pts: Vec<(f64, Option<f64>)> = st
        .recent
        .iter()
        .filter(|(at, c, _)| *c == conn && *at <= to)
        .map(|(at, _, m)| (*at, *m))
        .collect();
    let ended = st
        .ends
        .iter()
        .find(|e| e.at_ms >= from && e.at_ms <= to)
        .map(|e| (e.clean, e.why.clone()));
    let end_at = st
        .ends
        .iter()
        .find(|e| e.at_ms >= from)
        .map(|e| e.at_ms)
        .unwrap_or(to)
        .min(to);
    // Longest silence inside the window: between chunks, and from the
    // last chunk to the window's end (or the stream's end).
    let mut max_gap: f64 = 0.0;
    let mut prev = pts.iter().rev().find(|p| p.0 <= from).map(|p| p.0);
    for &(at, _) in pts.iter().filter(|p| p.0 > from) {
        if let Some(p) = prev {
            max_gap = max_gap.max(at - p);
        }
        prev = Some(at);
    }
    if let Some(p) = prev {
        max_gap = max_gap.max(end_at - p.max(from));
    }
    // Rebuffer: how far the media delivered fell behind wall time, from
    // the best point reached so far (a real-time player's drained buffer).
    let mut rebuffer: f64 = 0.0;
    let mut origin: Option<(f64, f64)> = None;
    let mut best = f64::INFINITY;
    for &(at, m) in pts.iter().filter(|p| p.0 >= from - 1000.0) {
        let Some(m) = m else { continue };
        let (t0, m0) = *origin.get_or_insert((at, m));
        let deficit = (at - t0) - (m - m0);
        best = best.min(deficit);
        rebuffer = rebuffer.max(deficit - best);
    }
    if ended.is_none()
        && let (Some((t0, m0)), Some(&(_, Some(m)))) =
            (origin, pts.iter().rev().find(|p| p.1.is_some()))
    {
        // Nothing arrived until the window's end: that time is behind too.
        let deficit = (to - t0) - (m - m0);
        rebuffer = rebuffer.max(deficit - best);
    }
    ClientVerdict {
        max_gap_ms: max_gap,
        rebuffer_ms: rebuffer,
        ended,
        counters: st.counters.since(base),
    }
}

struct Ctx {
    srv_url: String,
    http: reqwest::Client,
    feeds: Vec<Vec<Arc<Feed>>>,
    clients: Vec<Vec<Client>>,
    t0: Instant,
    deadline: Instant,
    interval_ms: u64,
}

async fn current_candidate(ctx: &Ctx, ch: u32) -> Option<(usize, String)> {
    let v: serde_json::Value = ctx
        .http
        .get(format!("{}/api/sessions", ctx.srv_url))
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()?;
    v.as_array()?
        .iter()
        .find(|s| s["channel"].as_str() == Some(&ch.to_string()))
        .and_then(|s| {
            Some((
                s["source_index"].as_u64()? as usize,
                s["state"].as_str().unwrap_or("").to_string(),
            ))
        })
}

async fn channel_events(ctx: &Ctx, ch: u32) -> Vec<serde_json::Value> {
    let r = ctx
        .http
        .get(format!("{}/api/events?limit=300&channel={ch}", ctx.srv_url))
        .send()
        .await;
    match r {
        Ok(r) => r
            .json::<serde_json::Value>()
            .await
            .ok()
            .and_then(|v| v.as_array().cloned())
            .unwrap_or_default(),
        Err(_) => Vec::new(),
    }
}

fn max_id(ev: &[serde_json::Value]) -> i64 {
    ev.iter()
        .filter_map(|e| e["id"].as_i64())
        .max()
        .unwrap_or(0)
}

fn summarize_events(ev: &[serde_json::Value], after: i64) -> String {
    let mut ev: Vec<&serde_json::Value> = ev
        .iter()
        .filter(|e| e["id"].as_i64().unwrap_or(0) > after)
        .collect();
    ev.sort_by_key(|e| e["id"].as_i64());
    let mut parts: Vec<String> = Vec::new();
    for e in ev {
        let k = e["kind"].as_str().unwrap_or("?");
        let d = &e["detail"];
        let s = match k {
            "candidate_failed" => format!(
                "candidate_failed(#{} {} {})",
                d["index"],
                d["phase"].as_str().unwrap_or(""),
                d["reason"].as_str().unwrap_or("")
            ),
            "failover" => format!(
                "failover(#{}→#{} {}, {:.0} ms{})",
                d["from_index"],
                d["to_index"],
                d["reason"].as_str().unwrap_or(""),
                d["switch_ms"].as_f64().unwrap_or(0.0),
                if d["warm_standby"].as_bool() == Some(true) {
                    ", warm"
                } else {
                    ""
                }
            ),
            "stall" => format!("stall(#{})", d["source_index"]),
            other => other.to_string(),
        };
        if parts.last() != Some(&s) {
            parts.push(s);
        }
    }
    if parts.is_empty() {
        "none".into()
    } else {
        parts.join(", ")
    }
}

async fn fault_loop(ctx: Arc<Ctx>, ch: u32, seed: u64, out: Arc<Mutex<Vec<Fault>>>) {
    let mut rng = StdRng::seed_from_u64(seed ^ (u64::from(ch) * 0x9E37_79B9_7F4A_7C15));
    let span = HOLD_MS + SETTLE_MS;
    let mut deck: Vec<Kind> = Vec::new();
    let mut next =
        ctx.t0 + Duration::from_millis(WARMUP_MS + rng.gen_range(0..ctx.interval_ms.max(1)));
    let feeds = &ctx.feeds[ch as usize - 1];
    let clients = &ctx.clients[ch as usize - 1];
    let limit = FAILOVER_AFTER_MS as f64 + MARGIN_MS;
    loop {
        if next + Duration::from_millis(span) > ctx.deadline {
            break;
        }
        tokio::time::sleep_until(next.into()).await;
        let Some((cur, _state)) = current_candidate(&ctx, ch).await else {
            next = Instant::now() + Duration::from_secs(3);
            continue;
        };
        // Only clients that are playing are judged.
        let playing: Vec<(usize, u64, Counters)> = clients
            .iter()
            .enumerate()
            .filter_map(|(i, c)| {
                let s = c.lock();
                s.connected.then_some((i, s.conn, s.counters))
            })
            .collect();
        if playing.is_empty() {
            next = Instant::now() + Duration::from_secs(3);
            continue;
        }
        if deck.is_empty() {
            deck = KINDS.to_vec();
            deck.shuffle(&mut rng);
        }
        let kind = deck.pop().unwrap_or(Kind::Stall);
        let mut targets = vec![cur];
        if rng.gen_bool(0.1) {
            // Everything at once: nothing left to fail over to.
            targets = (0..CANDIDATES).collect();
        } else if matches!(kind, Kind::Http5xx | Kind::Html | Kind::BlackHole)
            && cur + 2 < CANDIDATES
            && rng.gen_bool(0.5)
        {
            // The first backup refuses as well: the switch must skip it.
            targets.push(cur + 1);
        }
        let live_backup = (cur + 1..CANDIDATES).any(|i| !targets.contains(&i));
        let expect = if live_backup || kind == Kind::Restart {
            Expect::Carry
        } else {
            Expect::End
        };
        let ev0 = max_id(&channel_events(&ctx, ch).await);
        let at_ms = ctx.t0.elapsed().as_secs_f64() * 1000.0;
        for &t in &targets {
            kind.apply(&feeds[t]);
        }
        tokio::time::sleep(Duration::from_millis(HOLD_MS)).await;
        for &t in &targets {
            feeds[t].set_mode(Mode::Play);
        }
        tokio::time::sleep(Duration::from_millis(SETTLE_MS)).await;
        let to_ms = ctx.t0.elapsed().as_secs_f64() * 1000.0;
        let mut verdicts = Vec::new();
        let (mut ok, mut reasons, mut outcome) = (true, Vec::new(), String::new());
        for (i, conn, base) in playing {
            let v = verdict_for(&clients[i].lock(), conn, at_ms, to_ms, base);
            let (pass, out, r) = judge(&v, expect, limit);
            ok &= pass;
            if outcome.is_empty() || !pass {
                outcome = out;
            }
            for x in r {
                reasons.push(format!("client {}: {x}", i + 1));
            }
            verdicts.push(v);
        }
        let ev = channel_events(&ctx, ch).await;
        let after = current_candidate(&ctx, ch).await.map(|c| c.0);
        let f = Fault {
            at_ms,
            channel: ch,
            kind,
            current: cur,
            targets,
            expect,
            clients: verdicts,
            recovered: ok,
            outcome,
            reasons,
            events: summarize_events(&ev, ev0),
            after,
        };
        eprintln!(
            "[{:>6.0} s] ch {ch} {:<15} on #{} {:?} → {} {}{}",
            f.at_ms / 1000.0,
            kind.name(),
            f.current,
            f.targets,
            if f.recovered { "ok" } else { "NOT RECOVERED" },
            f.outcome,
            if f.reasons.is_empty() {
                String::new()
            } else {
                format!(" ({})", f.reasons.join("; "))
            }
        );
        out.lock().push(f);
        let jitter = rng.gen_range(ctx.interval_ms / 2..=ctx.interval_ms * 3 / 2);
        next = (Instant::now() + Duration::from_millis(1000))
            .max(ctx.t0 + Duration::from_secs_f64(at_ms / 1000.0) + Duration::from_millis(jitter));
    }
}

// ---------------------------------------------------------------- resources

#[derive(Clone, Copy, Default)]
struct Res {
    rss_mib: f64,
    fds: usize,
    threads: u64,
}

fn resources(pid: u32) -> Res {
    let threads = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Threads:"))
                .and_then(|v| v.trim().parse().ok())
        })
        .unwrap_or(0);
    Res {
        rss_mib: rss_mib(pid).unwrap_or(0.0),
        fds: std::fs::read_dir(format!("/proc/{pid}/fd"))
            .map(|d| d.count())
            .unwrap_or(0),
        threads,
    }
}

// ---------------------------------------------------------------- report

fn md_table(title: &str, header: &[&str], rows: &[Vec<String>]) -> String {
    let mut s = format!("\n### {title}\n\n| {} |\n|", header.join(" | "));
    for i in 0..header.len() {
        s.push_str(if i == 0 { ":---|" } else { "---:|" });
    }
    s.push('\n');
    for r in rows {
        s.push_str(&format!("| {} |\n", r.join(" | ")));
    }
    s
}

fn pct(values: &mut [f64], p: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(|a, b| a.total_cmp(b));
    let i = ((values.len() - 1) as f64 * p).round() as usize;
    values[i]
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let kernel = std::process::Command::new("uname")
        .arg("-sr")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    format!("{cpu}, {cores} cores (shared with other work), {kernel}")
}

fn main() -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(run())
}

async fn run() -> anyhow::Result<()> {
    let secs = knob("SF_SOAK_SECS", 3600);
    let seed = std::env::var("SF_SOAK_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(1)
        });
    let interval_ms = knob("SF_SOAK_INTERVAL_SECS", 30) * 1000;
    let started_utc = std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    eprintln!("soak: {secs} s, seed {seed}, fault interval {interval_ms} ms ±50 % per channel");

    let main_ts = fixture("main.ts")?;
    let backup_ts = fixture("backup.ts")?;
    let up = Upstream::start().await?;
    let mut feeds = Vec::new();
    let mut chans = Vec::new();
    for ch in 1..=CHANNELS {
        let mut f = Vec::new();
        let mut urls = Vec::new();
        for (k, data) in [&main_ts, &backup_ts, &main_ts].into_iter().enumerate() {
            let name = format!("c{ch}-{k}");
            f.push(up.add(&name, data.clone()));
            urls.push(up.ts_url(&name));
        }
        feeds.push(f);
        let mut c = channel(ch, urls);
        c.stall_detect_ms = Some(STALL_DETECT_MS);
        c.failover_after_ms = Some(FAILOVER_AFTER_MS);
        chans.push(c);
    }
    let mut config = base_config(chans, CHANNELS + 4);
    config.stream.connect_timeout_ms = CONNECT_TIMEOUT_MS;
    let srv = Server::start(config).await?;
    let pid = srv.pid;
    let t0 = Instant::now();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let http = http_client();
    let mut clients = Vec::new();
    let mut tasks = Vec::new();
    for ch in 1..=CHANNELS {
        // Odd channels have two clients (one joins 3 s later).
        let n = if ch % 2 == 1 { 2 } else { 1 };
        let mut cs = Vec::new();
        for k in 0..n {
            let st: Client = Arc::default();
            cs.push(Arc::clone(&st));
            let (http, url, stop) = (http.clone(), srv.url(&format!("/auto/v{ch}")), stop.clone());
            tasks.push(tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(3000 * k)).await;
                run_client(http, url, t0, st, stop).await;
            }));
        }
        clients.push(cs);
    }
    tokio::time::sleep(Duration::from_millis(WARMUP_MS - 2000)).await;
    let res_start = resources(pid);
    let deadline = t0 + Duration::from_secs(secs);
    let ctx = Arc::new(Ctx {
        srv_url: srv.url(""),
        http: http.clone(),
        feeds,
        clients,
        t0,
        deadline,
        interval_ms,
    });
    let faults: Arc<Mutex<Vec<Fault>>> = Arc::default();
    let mut loops = Vec::new();
    for ch in 1..=CHANNELS {
        loops.push(tokio::spawn(fault_loop(
            Arc::clone(&ctx),
            ch,
            seed,
            Arc::clone(&faults),
        )));
    }
    // Resource samples every 30 s.
    let samples: Arc<Mutex<Vec<(f64, Res)>>> = Arc::default();
    let sampler = {
        let samples = Arc::clone(&samples);
        tokio::spawn(async move {
            loop {
                samples
                    .lock()
                    .push((t0.elapsed().as_secs_f64(), resources(pid)));
                tokio::time::sleep(Duration::from_secs(30)).await;
            }
        })
    };
    for l in loops {
        let _ = l.await;
    }
    tokio::time::sleep_until(deadline.into()).await;
    let res_end = resources(pid);
    sampler.abort();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let sessions = srv.json("/api/sessions").await.unwrap_or_default();
    let crashed = srv
        .json("/api/events?limit=10000&kind=session_crashed")
        .await
        .ok()
        .and_then(|v| v.as_array().map(|a| a.len()))
        .unwrap_or(0);
    for t in &tasks {
        t.abort();
    }
    let log = srv.log();
    let panics: Vec<&str> = log.lines().filter(|l| l.contains("panicked")).collect();
    let ran_s = t0.elapsed().as_secs();

    // ------------------------------------------------------------ tables
    let faults = std::mem::take(&mut *faults.lock());
    let mut md = String::new();
    md.push_str("# Chaos soak (issue 12)\n\n");
    md.push_str(&format!(
        "- Date: {started_utc}\n- Machine: {}\n- Duration: {ran_s} s ({secs} s asked), seed {seed}\n- Command: `SF_SOAK_SECS={secs} SF_SOAK_SEED={seed} cargo bench --bench soak`\n",
        machine()
    ));
    md.push_str(&format!(
        "- Setup: {CHANNELS} channels × {CANDIDATES} candidates (main.ts, backup.ts, main.ts: distinct loopback feeds; backup has other PIDs and a timeline offset), \
         {} clients (two on odd channels) reading at real time over HTTP; stall_detect {STALL_DETECT_MS} ms, failover_after {FAILOVER_AFTER_MS} ms, \
         connect_timeout {CONNECT_TIMEOUT_MS} ms, warm standby on (default).\n",
        ctx.clients.iter().map(Vec::len).sum::<usize>()
    ));
    md.push_str(&format!(
        "- Faults: one per channel every {} s ±50 % (random), on the candidate in use (from `/api/sessions`); held {} s, then healed (back to Play). \
         1 in 10 faults hits all three candidates; 5xx/HTML/black hole hit the first backup too half the time when there is a second one. \
         Judged over {} s from the injection, per client: recovered = no gap and no rebuffer over failover_after + {MARGIN_MS:.0} ms = {:.0} ms, CC continuous, \
         no new PIDs, video/audio DTS strictly increasing, no non-TS bytes; when no later candidate was live: the stream ended cleanly \
         (EOF on a packet boundary, no garbage) or carried on clean.\n",
        interval_ms / 1000,
        HOLD_MS / 1000,
        (HOLD_MS + SETTLE_MS) / 1000,
        FAILOVER_AFTER_MS as f64 + MARGIN_MS
    ));
    md.push_str("\nFault kinds:\n\n");
    for k in KINDS {
        md.push_str(&format!("- **{}**: {}\n", k.name(), k.what()));
    }

    let mut rows = Vec::new();
    let (mut tot, mut tot_ok, mut live_n, mut live_ok, mut end_n, mut end_ok) = (0, 0, 0, 0, 0, 0);
    for k in KINDS {
        let fs: Vec<&Fault> = faults.iter().filter(|f| f.kind == k).collect();
        let live: Vec<&&Fault> = fs.iter().filter(|f| f.expect == Expect::Carry).collect();
        let none: Vec<&&Fault> = fs.iter().filter(|f| f.expect == Expect::End).collect();
        let lok = live.iter().filter(|f| f.recovered).count();
        let nok = none.iter().filter(|f| f.recovered).count();
        let mut gaps: Vec<f64> = live
            .iter()
            .flat_map(|f| f.clients.iter().map(|c| c.max_gap_ms))
            .collect();
        let mut reb: Vec<f64> = live
            .iter()
            .flat_map(|f| f.clients.iter().map(|c| c.rebuffer_ms))
            .collect();
        let failovers = fs.iter().filter(|f| f.events.contains("failover(")).count();
        rows.push(vec![
            k.name().to_string(),
            fs.len().to_string(),
            format!("{lok}/{}", live.len()),
            format!("{nok}/{}", none.len()),
            (fs.len() - lok - nok).to_string(),
            failovers.to_string(),
            format!("{:.0}", pct(&mut gaps, 0.5)),
            format!("{:.0}", pct(&mut gaps, 1.0)),
            format!("{:.0}", pct(&mut reb, 0.5)),
            format!("{:.0}", pct(&mut reb, 1.0)),
        ]);
        tot += fs.len();
        tot_ok += lok + nok;
        live_n += live.len();
        live_ok += lok;
        end_n += none.len();
        end_ok += nok;
    }
    rows.push(vec![
        "**all**".into(),
        tot.to_string(),
        format!("{live_ok}/{live_n}"),
        format!("{end_ok}/{end_n}"),
        (tot - tot_ok).to_string(),
        faults
            .iter()
            .filter(|f| f.events.contains("failover("))
            .count()
            .to_string(),
        String::new(),
        String::new(),
        String::new(),
        String::new(),
    ]);
    md.push_str(&md_table(
        "Faults by kind",
        &[
            "fault",
            "injected",
            "recovered (live backup)",
            "ended cleanly (none left)",
            "not recovered",
            "with a failover",
            "gap median ms",
            "gap max ms",
            "rebuffer median ms",
            "rebuffer max ms",
        ],
        &rows,
    ));
    md.push_str(&format!(
        "\nRecovered: {tot_ok} of {tot} ({:.1} %); with a live backup {live_ok} of {live_n} ({:.1} %). \
         Gap = longest silence a client saw in the window; rebuffer = how far the media delivered fell behind wall time (a real-time player's drained buffer); both over the clients of faults with a live backup.\n",
        100.0 * tot_ok as f64 / tot.max(1) as f64,
        100.0 * live_ok as f64 / live_n.max(1) as f64,
    ));

    let bad: Vec<Vec<String>> = faults
        .iter()
        .filter(|f| !f.recovered)
        .map(|f| {
            vec![
                format!("{:.0}", f.at_ms / 1000.0),
                f.channel.to_string(),
                f.kind.name().into(),
                format!("#{}", f.current),
                format!("{:?}", f.targets),
                format!("{:?}", f.expect),
                f.reasons.join("; "),
                f.events.clone(),
            ]
        })
        .collect();
    if bad.is_empty() {
        md.push_str("\nEvery fault recovered.\n");
    } else {
        md.push_str(&md_table(
            "Not recovered",
            &[
                "t s",
                "ch",
                "fault",
                "in use",
                "faulted",
                "expected",
                "why (client side)",
                "server events",
            ],
            &bad,
        ));
    }

    let srow = |label: &str, a: f64, b: f64, lo: f64, hi: f64| {
        vec![
            label.to_string(),
            format!("{a:.1}"),
            format!("{b:.1}"),
            format!("{lo:.1}"),
            format!("{hi:.1}"),
        ]
    };
    let smp: Vec<(f64, Res)> = samples.lock().clone();
    let mm = |f: &dyn Fn(&Res) -> f64| {
        let v: Vec<f64> = smp.iter().map(|(_, r)| f(r)).collect();
        (
            v.iter().copied().fold(f64::INFINITY, f64::min),
            v.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        )
    };
    let (rl, rh) = mm(&|r: &Res| r.rss_mib);
    let (fl, fh) = mm(&|r: &Res| r.fds as f64);
    let (tl, th) = mm(&|r: &Res| r.threads as f64);
    md.push_str(&md_table(
        "Server resources (start = after warm-up, before the first fault)",
        &["", "start", "end", "min", "max"],
        &[
            srow("RSS MiB", res_start.rss_mib, res_end.rss_mib, rl, rh),
            srow("open fds", res_start.fds as f64, res_end.fds as f64, fl, fh),
            srow(
                "threads",
                res_start.threads as f64,
                res_end.threads as f64,
                tl,
                th,
            ),
        ],
    ));
    let tunes: u64 = ctx.clients.iter().flatten().map(|c| c.lock().tunes).sum();
    let mut tf: BTreeMap<String, u64> = BTreeMap::new();
    for c in ctx.clients.iter().flatten() {
        for (k, v) in &c.lock().tune_failures {
            *tf.entry(k.clone()).or_default() += v;
        }
    }
    md.push_str(&format!(
        "\nPanics in the server log: {}{}. session_crashed events: {crashed}. Client tunes: {tunes} (retunes after a clean end included); tunes refused: {}.\n",
        panics.len(),
        panics
            .first()
            .map(|p| format!(" (first: `{p}`)"))
            .unwrap_or_default(),
        if tf.is_empty() {
            "none".to_string()
        } else {
            tf.iter()
                .map(|(k, v)| format!("{v}× {k}"))
                .collect::<Vec<_>>()
                .join(", ")
        }
    ));
    let sess = sessions.as_array().map(|a| a.len()).unwrap_or(0);
    md.push_str(&format!("Sessions running at the end: {sess}.\n"));

    let mut all = Vec::new();
    for f in &faults {
        all.push(vec![
            format!("{:.0}", f.at_ms / 1000.0),
            f.channel.to_string(),
            f.kind.name().into(),
            format!("#{}", f.current),
            format!("{:?}", f.targets),
            f.after.map(|a| format!("#{a}")).unwrap_or("-".into()),
            if f.recovered {
                f.outcome.clone()
            } else {
                format!("**not recovered**: {}", f.reasons.join("; "))
            },
            f.clients
                .iter()
                .map(|c| format!("{:.0}/{:.0}", c.max_gap_ms, c.rebuffer_ms))
                .collect::<Vec<_>>()
                .join(", "),
            f.events.clone(),
        ]);
    }
    md.push_str("\n<details><summary>Every fault</summary>\n");
    md.push_str(&md_table(
        "Every fault",
        &[
            "t s",
            "ch",
            "fault",
            "in use",
            "faulted",
            "after",
            "outcome",
            "gap/rebuffer ms per client",
            "server events",
        ],
        &all,
    ));
    md.push_str("\n</details>\n");
    println!("{md}");
    let out = std::env::var("SF_SOAK_OUT")
        .unwrap_or_else(|_| format!("{}/docs/soak.md", env!("CARGO_MANIFEST_DIR")));
    write_text(std::path::Path::new(&out), &md)?;
    eprintln!("written to {out}");
    drop(up);
    srv.stop().await;
    Ok(())
}
