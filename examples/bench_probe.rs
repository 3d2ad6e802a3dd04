//! Figure for issue 5: time to a first report from `streamforge probe`
//! against `ffprobe -show_format -show_streams`, on the same loopback
//! upstream URL, both started at the same instant in each round (so they
//! join the live stream at the same point and wait for the same keyframe).
//!
//! Run through `scripts/bench-probe.sh`, or:
//! `STREAMFORGE_BIN=target/debug/streamforge cargo run --example bench_probe -- [rounds] [fixture]`
//! With `--serve`, only serves the fixture (for trying the probe by hand).

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use streamforge::demo::upstream::Upstream;

struct Run {
    /// First stream line printed (streamforge) / first byte of output (ffprobe).
    first_report: Option<Duration>,
    total: Duration,
    ok: bool,
}

/// Spawns `cmd`, timing the first stdout line that satisfies `is_report`.
fn timed(mut cmd: Command, is_report: fn(&str) -> bool) -> Run {
    let t0 = Instant::now();
    let mut child = match cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("cannot run {cmd:?}: {e}");
            return Run {
                first_report: None,
                total: Duration::ZERO,
                ok: false,
            };
        }
    };
    let mut first = None;
    if let Some(out) = child.stdout.take() {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if first.is_none() && is_report(&line) {
                first = Some(t0.elapsed());
            }
        }
    }
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut err);
    }
    let ok = child.wait().map(|s| s.success()).unwrap_or(false);
    if !ok {
        eprintln!("{:?} failed: {}", cmd.get_program(), err.trim());
    }
    Run {
        first_report: first,
        total: t0.elapsed(),
        ok,
    }
}

fn ms(d: Option<Duration>) -> String {
    d.map(|d| format!("{}", d.as_millis()))
        .unwrap_or_else(|| "-".into())
}

fn median(mut v: Vec<u128>) -> Option<u128> {
    v.sort_unstable();
    (!v.is_empty()).then(|| v[v.len() / 2])
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let serve_only = args.iter().any(|a| a == "--serve");
    let mut positional = args.iter().filter(|a| !a.starts_with("--"));
    let rounds: usize = positional
        .next()
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(8);
    let fixture = positional
        .next()
        .cloned()
        .unwrap_or_else(|| "main.ts".into());
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(&fixture);
    let up = Upstream::start().await?;
    up.add("live", bytes::Bytes::from(std::fs::read(&path)?));
    let url = up.ts_url("live");
    if serve_only {
        println!(
            "serving {fixture} at {url} and {} (Ctrl-C to stop)",
            up.hls_url("live")
        );
        tokio::signal::ctrl_c().await?;
        return Ok(());
    }
    let bin = std::env::var("STREAMFORGE_BIN").unwrap_or_else(|_| {
        concat!(env!("CARGO_MANIFEST_DIR"), "/target/debug/streamforge").to_string()
    });
    println!("loopback upstream: {fixture} (paced live, 2 s GOP) at {url}");
    println!("each round starts both tools at the same instant on the same URL\n");
    println!(
        "{:<6} {:>22} {:>22} {:>18}",
        "round", "streamforge first (ms)", "ffprobe first (ms)", "streamforge total"
    );
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for round in 1..=rounds {
        let (u1, u2, b) = (url.clone(), url.clone(), bin.clone());
        let sf = tokio::task::spawn_blocking(move || {
            let mut c = Command::new(b);
            c.args(["probe", &u1, "--duration", "1"]);
            timed(c, |l| l.starts_with("Stream "))
        });
        let ff = tokio::task::spawn_blocking(move || {
            let mut c = Command::new("ffprobe");
            c.args(["-v", "error", "-show_format", "-show_streams", &u2]);
            timed(c, |l| !l.is_empty())
        });
        let (sf, ff) = (sf.await?, ff.await?);
        if sf.ok
            && let Some(d) = sf.first_report
        {
            ours.push(d.as_millis());
        }
        if ff.ok
            && let Some(d) = ff.first_report
        {
            theirs.push(d.as_millis());
        }
        println!(
            "{round:<6} {:>22} {:>22} {:>18}",
            ms(sf.first_report),
            ms(ff.first_report),
            ms(Some(sf.total))
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let show = |v: &Vec<u128>| {
        let (lo, hi) = (v.iter().min(), v.iter().max());
        match (median(v.clone()), lo, hi) {
            (Some(m), Some(lo), Some(hi)) => format!("{m} (min {lo}, max {hi})"),
            _ => "-".into(),
        }
    };
    println!("\n{:<12} {:>36}", "tool", "time to first report, median ms");
    println!("{:<12} {:>36}", "streamforge", show(&ours));
    println!("{:<12} {:>36}", "ffprobe", show(&theirs));
    Ok(())
}
