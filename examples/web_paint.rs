//! Issue 13's figure: first paint of each dashboard page on loopback with
//! 2,000 channels, measured in headless chromium (the Paint Timing API's
//! `first-contentful-paint`, from navigation start) and the server's time
//! to the last HTML byte (Navigation Timing), median and worst of
//! `SF_PAINT_RUNS` (10) cold loads each. Not a test: a figure to read.
//!
//! Run: `cargo run --release --example web_paint` (needs chromium and
//! chromium-driver: `scripts/deps.sh --test`). `SF_PAINT_CHANNELS` (2000).

#[path = "../tests/util/browser.rs"]
#[allow(dead_code)]
mod browser;

use std::sync::Arc;

use streamforge::config::{ChannelConfig, Config};
use streamforge::lineup::Lineup;

fn knob(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let channels = knob("SF_PAINT_CHANNELS", 2000);
    let runs = knob("SF_PAINT_RUNS", 10).max(1);
    let data = tempfile::tempdir()?;
    let mut config = Config::default();
    config.server.listen = "127.0.0.1:0".into();
    config.server.data_dir = data.path().to_path_buf();
    config.discovery.udp = false;
    config.discovery.ssdp = false;
    config.channel = (0..channels)
        .map(|i| ChannelConfig {
            number: format!("{}", 1000 + i),
            name: format!("Channel {i} HD"),
            group: Some(format!("Group {}", i % 20)),
            // Never tuned: the pages only list them.
            streams: vec![
                format!("http://127.0.0.1:9/live/user/pass/{i}.ts"),
                format!("http://127.0.0.1:9/backup/{i}.ts"),
            ],
            ..Default::default()
        })
        .collect();
    config.validate()?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let lineup = Lineup::from_config(&config);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(streamforge::run_with_lineup(
        config,
        listener,
        async move {
            let _ = stopped.await;
        },
        Arc::clone(&lineup),
    ));
    let base = format!("http://{addr}");
    for _ in 0..200 {
        if reqwest::get(format!("{base}/healthz")).await.is_ok() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    println!("first paint, {channels} channels, {runs} loads per page (median / worst, ms)");
    println!(
        "{:<12} {:>16} {:>16} {:>10}",
        "page", "first paint", "HTML done", "HTML kB"
    );
    let b = browser::Browser::start(1280, 900).await;
    for path in ["/", "/events", "/channels", "/sources", "/plex", "/login"] {
        let (mut paint, mut html) = (Vec::new(), Vec::new());
        let mut size = 0.0;
        for _ in 0..runs {
            // A fresh document each time (no bfcache, no memory cache).
            b.goto("about:blank").await;
            b.goto(&format!("{base}{path}")).await;
            b.wait_for(
                "painted",
                "performance.getEntriesByName('first-contentful-paint').length > 0",
                std::time::Duration::from_secs(10),
            )
            .await;
            let v = b
                .js("const n = performance.getEntriesByType('navigation')[0];
                     return [performance.getEntriesByName('first-contentful-paint')[0].startTime,
                             n.responseEnd, n.transferSize || n.encodedBodySize];")
                .await;
            paint.push(v[0].as_f64().unwrap_or(f64::NAN));
            html.push(v[1].as_f64().unwrap_or(f64::NAN));
            size = v[2].as_f64().unwrap_or(0.0) / 1000.0;
            if std::env::var_os("SF_PAINT_VERBOSE").is_some() {
                eprintln!("{path}: {v}");
            }
        }
        let worst = |v: &[f64]| v.iter().copied().fold(0.0, f64::max);
        println!(
            "{:<12} {:>7.0} / {:<6.0} {:>7.0} / {:<6.0} {:>10.1}",
            path,
            median(&mut paint.clone()),
            worst(&paint),
            median(&mut html.clone()),
            worst(&html),
            size
        );
    }
    b.close().await;
    let _ = stop.send(());
    let _ = server.await;
    Ok(())
}
