//! Figure for issue 5: time to a first report from `streamforge probe`
//! against `ffprobe -show_format -show_streams` (as installed, and with its
//! `scan_all_pmts` default turned off), on the same loopback upstream URL,
//! all started at the same instant in each round (so they join the live
//! stream at the same point and wait for the same keyframe).
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
    println!("each round starts all three at the same instant on the same URL;");
    println!("ffprobe sets scan_all_pmts=1 by default, the third column turns it off\n");
    println!(
        "{:<6} {:>18} {:>18} {:>26}",
        "round", "streamforge (ms)", "ffprobe (ms)", "ffprobe -scan_all_pmts 0"
    );
    let mut firsts: [Vec<u128>; 3] = Default::default();
    for round in 1..=rounds {
        let spawn = |mut c: Command, is_report: fn(&str) -> bool| {
            tokio::task::spawn_blocking(move || {
                c.stdin(Stdio::null());
                timed(c, is_report)
            })
        };
        let mut sf = Command::new(&bin);
        sf.args(["probe", &url, "--duration", "1"]);
        let mut ff = Command::new("ffprobe");
        ff.args(["-v", "error", "-show_format", "-show_streams", &url]);
        let mut ff0 = Command::new("ffprobe");
        ff0.args([
            "-v",
            "error",
            "-scan_all_pmts",
            "0",
            "-show_format",
            "-show_streams",
            &url,
        ]);
        let tasks = [
            spawn(sf, |l| l.starts_with("Stream ")),
            spawn(ff, |l| !l.is_empty()),
            spawn(ff0, |l| !l.is_empty()),
        ];
        let mut runs = Vec::new();
        for t in tasks {
            runs.push(t.await?);
        }
        for (run, acc) in runs.iter().zip(firsts.iter_mut()) {
            if run.ok
                && let Some(d) = run.first_report
            {
                acc.push(d.as_millis());
            }
        }
        println!(
            "{round:<6} {:>18} {:>18} {:>26}",
            ms(runs[0].first_report),
            ms(runs[1].first_report),
            ms(runs[2].first_report)
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let show = |v: &Vec<u128>| {
        let (lo, hi) = (v.iter().min(), v.iter().max());
        match (median(v.clone()), lo, hi) {
            (Some(m), Some(lo), Some(hi)) => format!("{m} (min {lo}, max {hi}, n={})", v.len()),
            _ => "-".into(),
        }
    };
    println!("\n{:<26} {:>40}", "tool", "time to first report, median ms");
    let names = ["streamforge probe", "ffprobe", "ffprobe -scan_all_pmts 0"];
    for (name, v) in names.iter().zip(&firsts) {
        println!("{name:<26} {:>40}", show(v));
    }
    Ok(())
}
