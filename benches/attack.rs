//! Issue 12's connection attack, measured. The release server runs with an
//! open-files limit of 1024 (soft and hard, as on a machine that cannot
//! raise it) and one channel; the bench measures `/healthz` and a new tune
//! (first byte) quietly, then again while an attacker holds 2,000
//! slowloris connections (one header byte a second) and 1,100 idle ones,
//! each reconnecting when dropped. Before issue 12 the same attack left
//! every connection open and `/healthz` timing out with `accept error:
//! Too many open files` in the log.
//!
//! Run: `cargo bench --bench attack`. Knobs: `SF_ATTACK_SLOW` (2000),
//! `SF_ATTACK_IDLE` (1100), `SF_ATTACK_SECS` (30, attack time before and
//! while measuring), `SF_BIN`.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

struct Attack {
    tasks: Vec<tokio::task::JoinHandle<()>>,
    /// Connections made, and closed by the server, over the attack.
    opened: Arc<AtomicU64>,
    closed: Arc<AtomicU64>,
    open_now: Arc<AtomicU64>,
}

fn start_attack(addr: SocketAddr, slow: usize, idle: usize) -> Attack {
    let opened = Arc::new(AtomicU64::new(0));
    let closed = Arc::new(AtomicU64::new(0));
    let open_now = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for i in 0..slow + idle {
        let (o, c, n) = (
            Arc::clone(&opened),
            Arc::clone(&closed),
            Arc::clone(&open_now),
        );
        let trickle = i < slow;
        tasks.push(tokio::spawn(async move {
            // Spread the connects over the first seconds.
            tokio::time::sleep(Duration::from_millis((i % 1000) as u64 * 3)).await;
            loop {
                let Ok(mut s) = TcpStream::connect(addr).await else {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                };
                o.fetch_add(1, Ordering::Relaxed);
                n.fetch_add(1, Ordering::Relaxed);
                if trickle {
                    for b in b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-a: ".iter().cycle() {
                        if s.write_all(&[*b]).await.is_err() {
                            break;
                        }
                        // The server closing shows as a read of 0 or an error.
                        let mut buf = [0u8; 512];
                        match tokio::time::timeout(Duration::from_secs(1), s.read(&mut buf)).await {
                            Ok(Ok(0)) | Ok(Err(_)) => break,
                            _ => {}
                        }
                    }
                } else {
                    let mut b = [0u8; 512];
                    while let Ok(n) = s.read(&mut b).await {
                        if n == 0 {
                            break;
                        }
                    }
                }
                n.fetch_sub(1, Ordering::Relaxed);
                c.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }));
    }
    Attack {
        tasks,
        opened,
        closed,
        open_now,
    }
}

/// `/healthz` on a fresh connection each time: latencies in ms (a failure
/// or a 10 s wait counts as 10,000 ms).
async fn healthz(url: &str, n: usize) -> (Vec<f64>, usize) {
    let mut v = Vec::new();
    let mut failed = 0;
    for _ in 0..n {
        let c = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .timeout(Duration::from_secs(10))
            .build()
            .expect("client");
        let t = Instant::now();
        match c.get(url).send().await {
            Ok(r) if r.status() == 200 => v.push(t.elapsed().as_secs_f64() * 1000.0),
            _ => {
                failed += 1;
                v.push(10_000.0);
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    (v, failed)
}

/// First byte of a new tune, in ms, `n` times (each a new session).
async fn tunes(url: &str, n: usize) -> Vec<f64> {
    let mut v = Vec::new();
    for _ in 0..n {
        let c = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .timeout(Duration::from_secs(20))
            .build()
            .expect("client");
        let t = Instant::now();
        let got = async {
            let mut r = c.get(url).send().await.ok()?;
            r.chunk().await.ok().flatten()
        }
        .await;
        v.push(match got {
            Some(_) => t.elapsed().as_secs_f64() * 1000.0,
            None => 20_000.0,
        });
        // Let the session end (linger) before the next tune.
        tokio::time::sleep(Duration::from_millis(800)).await;
    }
    v
}

fn raise_own_files_limit() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain libc calls on a local struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    raise_own_files_limit();
    let slow = knob("SF_ATTACK_SLOW", 2000) as usize;
    let idle = knob("SF_ATTACK_IDLE", 1100) as usize;
    let secs = knob("SF_ATTACK_SECS", 30);
    let up = streamforge::demo::upstream::Upstream::start().await?;
    up.add("main", fixture("main.ts")?);
    let mut cfg = base_config(vec![channel(101, vec![up.ts_url("main")])], 2);
    cfg.stream.linger_ms = 300;
    let server = Server::start_with_files_limit(cfg, Some(1024)).await?;
    let health = server.url("/healthz");
    let tune = server.url("/auto/v101");

    let (quiet_h, quiet_fail) = healthz(&health, 30).await;
    let quiet_t = tunes(&tune, 5).await;

    let attack = start_attack(server.addr, slow, idle);
    tokio::time::sleep(Duration::from_secs(secs)).await;
    let during_open = attack.open_now.load(Ordering::Relaxed);
    let (att_h, att_fail) = healthz(&health, 50).await;
    let att_t = tunes(&tune, 5).await;
    let fds = std::fs::read_dir(format!("/proc/{}/fd", server.pid))
        .map(|d| d.count())
        .unwrap_or(0);
    let opened = attack.opened.load(Ordering::Relaxed);
    let closed = attack.closed.load(Ordering::Relaxed);
    for t in attack.tasks {
        t.abort();
    }
    let log = server.log();
    let emfile = log.matches("Too many open files").count();
    let lowered = log
        .lines()
        .find(|l| l.contains("max_connections lowered"))
        .map(|l| {
            l.split("lowered to ")
                .nth(1)
                .unwrap_or("")
                .split(':')
                .next()
                .unwrap_or("")
                .to_string()
        })
        .unwrap_or_else(|| "no".into());
    server.stop().await;

    let mut t = Table::new(
        &format!(
            "Connection attack: {slow} slowloris + {idle} idle connections, open-files limit 1024 (ms; median, min-max)"
        ),
        &["", "quiet", "under attack"],
    );
    let cell = |v: &[f64]| {
        summary(v)
            .map(|s| format!("{:.1} ({:.1}-{:.1})", s.median, s.min, s.max))
            .unwrap_or_else(|| "-".into())
    };
    t.row(vec![
        format!(
            "/healthz, new connection ({} + {} requests)",
            quiet_h.len(),
            att_h.len()
        ),
        cell(&quiet_h),
        cell(&att_h),
    ]);
    t.row(vec![
        "/healthz failed or over 10 s".into(),
        quiet_fail.to_string(),
        att_fail.to_string(),
    ]);
    t.row(vec![
        "new tune, first byte (5 each)".into(),
        cell(&quiet_t),
        cell(&att_t),
    ]);
    t.print();
    println!(
        "\nattacker: {opened} connections made, {closed} closed by the server over {secs} s + measuring; {during_open} open when measuring began; server fds at the end {fds}; `Too many open files` lines in the log: {emfile}; max_connections lowered to: {lowered}"
    );
    Ok(())
}
