//! Issue 9's figures: the sync of an Xtream account with 10,000 live
//! streams plus a 2,000-channel XMLTV guide (7 days of hourly programmes),
//! from a loopback panel, into a fresh SQLite store: time of each part
//! and peak RSS growth. `cargo bench --bench sync` prints a table; run it
//! a few times, the machine is shared.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Query, State};
use axum::response::IntoResponse;
use axum::routing::get;
use futures_util::StreamExt;
use streamforge::config::SyncConfig;
use streamforge::events::EventBus;
use streamforge::providers::sync::Syncer;
use streamforge::store::Store;
use streamforge::store::sources::NewSource;

const STREAMS: usize = 10_000;
const CHANNELS: usize = 2_000;
const DAYS: i64 = 7;

fn vm_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

struct Bodies {
    auth: String,
    categories: String,
    streams: String,
    /// The guide's first programme; the guide itself is generated while it
    /// is sent, so the bench's own memory does not hide the sync's.
    start: chrono::DateTime<chrono::Utc>,
}

/// Piece `i` of the guide: the header and channels, then one channel's
/// programmes per piece, then the end.
fn guide_piece(i: usize, start: chrono::DateTime<chrono::Utc>) -> String {
    if i == 0 {
        let mut x = String::from("<?xml version=\"1.0\"?>\n<tv>\n");
        for c in 0..CHANNELS {
            x.push_str(&format!(
                "<channel id=\"c{c}.example\"><display-name>Channel {c}</display-name><display-name>{c}</display-name><icon src=\"http://logos.example/{c}.png\"/></channel>\n"
            ));
        }
        return x;
    }
    if i == CHANNELS + 1 {
        return "</tv>\n".into();
    }
    let c = i - 1;
    let mut x = String::new();
    for h in 0..24 * DAYS {
        let s = start + chrono::Duration::hours(h);
        let e = s + chrono::Duration::hours(1);
        x.push_str(&format!(
            "<programme start=\"{}\" stop=\"{}\" channel=\"c{c}.example\"><title>Show {h}</title><desc>Episode {h} of channel {c}.</desc><category>News</category></programme>\n",
            s.format("%Y%m%d%H%M%S +0000"),
            e.format("%Y%m%d%H%M%S +0000"),
        ));
    }
    x
}

fn guide_len(start: chrono::DateTime<chrono::Utc>) -> usize {
    (0..=CHANNELS + 1)
        .map(|i| guide_piece(i, start).len())
        .sum()
}

fn bodies() -> Bodies {
    let auth = r#"{"user_info":{"username":"u","password":"p","auth":1,"status":"Active","exp_date":"4102444800","is_trial":"0","active_cons":"0","max_connections":"2","allowed_output_formats":["ts"]},"server_info":{"url":"127.0.0.1","port":"80"}}"#.to_string();
    let categories = (1..=50)
        .map(|i| format!(r#"{{"category_id":"{i}","category_name":"Group {i}","parent_id":0}}"#))
        .collect::<Vec<_>>()
        .join(",");
    let streams = (1..=STREAMS)
        .map(|i| {
            format!(
                r#"{{"num":"{i}","name":"UK: Channel {i} FHD","stream_type":"live","stream_id":"{}","stream_icon":"http:\/\/logos.example\/{i}.png","epg_channel_id":"c{}.example","added":"1600000000","category_id":"{}","tv_archive":0}}"#,
                100_000 + i,
                i % CHANNELS,
                1 + i % 50
            )
        })
        .collect::<Vec<_>>()
        .join(",");
    Bodies {
        auth,
        categories: format!("[{categories}]"),
        streams: format!("[{streams}]"),
        start: chrono::Utc::now(),
    }
}

async fn api(
    State(b): State<Arc<Bodies>>,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> axum::response::Response {
    let body = match q.get("action").map(String::as_str) {
        None => b.auth.clone(),
        Some("get_live_categories") => b.categories.clone(),
        Some("get_live_streams") => b.streams.clone(),
        Some(_) => "[]".into(),
    };
    ([("content-type", "application/json")], body).into_response()
}

async fn guide(State(b): State<Arc<Bodies>>) -> axum::response::Response {
    let start = b.start;
    let pieces = futures_util::stream::iter(0..=CHANNELS + 1)
        .map(move |i| Ok::<_, std::io::Error>(bytes::Bytes::from(guide_piece(i, start))));
    axum::body::Body::from_stream(pieces).into_response()
}

#[tokio::main]
async fn main() {
    let b = Arc::new(bodies());
    let guide_mb = guide_len(b.start) as f64 / 1e6;
    let app = Router::new()
        .route("/player_api.php", get(api))
        .route("/guide.xml", get(guide))
        .with_state(Arc::clone(&b));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    println!(
        "Sync of {STREAMS} Xtream live streams and a {CHANNELS}-channel guide ({DAYS} days, {:.0} MB, {} programmes) from loopback into a fresh SQLite store",
        guide_mb,
        CHANNELS as i64 * 24 * DAYS
    );
    println!(
        "| run | streams sync | guide sync | lineup build (match) | total | peak RSS growth | epg.xml first (render) | epg.xml cached |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for run in 1..=3 {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::open(tmp.path()).await.unwrap();
        let bus = EventBus::new(1024);
        // The account's API calls are not spaced here: the figure is ours.
        let syncer = Syncer::new(store.clone(), bus, SyncConfig::default(), "bench")
            .with_api_spacing(Duration::ZERO);
        let xt = store
            .upsert_source(&NewSource {
                kind: "xtream".into(),
                name: "Panel".into(),
                url: format!("http://{addr}"),
                username: Some("u".into()),
                password: Some("p".into()),
                priority: 10,
                sync_hours: 12,
                ..Default::default()
            })
            .await
            .unwrap();
        let g = store
            .upsert_source(&NewSource {
                kind: "xmltv".into(),
                name: "Guide".into(),
                url: format!("http://{addr}/guide.xml"),
                priority: 10,
                sync_hours: 24,
                ..Default::default()
            })
            .await
            .unwrap();
        let rss0 = vm_kib("VmRSS:");
        let t0 = Instant::now();
        let s = syncer.sync(xt, true).await.expect("streams");
        let t1 = Instant::now();
        let gu = syncer.sync(g, true).await.expect("guide");
        let t2 = Instant::now();
        let mut config = streamforge::config::Config::default();
        config.server.data_dir = tmp.path().to_path_buf();
        config.server.listen = "127.0.0.1:0".into();
        config.discovery.udp = false;
        config.discovery.ssdp = false;
        let (channels, summary) = streamforge::lineup::build::build(&store, &config)
            .await
            .expect("lineup");
        let t3 = Instant::now();
        let hwm1 = vm_kib("VmHWM:");
        assert_eq!(s.items as usize, STREAMS);
        assert_eq!(gu.items as usize, CHANNELS);
        assert!(summary.matched > 0, "{summary:?}");
        store.close().await;
        // The guide Plex fetches, from a real server on the same data.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let srv = listener.local_addr().unwrap();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let lineup = streamforge::lineup::Lineup::new(channels);
        let server = tokio::spawn(streamforge::run_with_lineup(
            config,
            listener,
            async move {
                let _ = stop_rx.await;
            },
            lineup,
        ));
        let http = reqwest::Client::builder().gzip(false).build().unwrap();
        let mut epg = Vec::new();
        for _ in 0..2 {
            let t = Instant::now();
            let mut body = None;
            for _ in 0..100 {
                match http
                    .get(format!("http://{srv}/epg.xml"))
                    .header("accept-encoding", "gzip")
                    .send()
                    .await
                {
                    Ok(r) => {
                        body = Some(r.bytes().await.unwrap());
                        break;
                    }
                    Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
                }
            }
            let body = body.expect("epg.xml");
            epg.push((t.elapsed().as_secs_f64(), body.len()));
        }
        let _ = stop_tx.send(());
        let _ = server.await;
        // VmHWM is the peak since the process started: over the RSS before
        // the first run it is the sync's growth (later runs reuse memory).
        println!(
            "| {run} | {:.2} s | {:.2} s ({} programmes) | {:.2} s ({} matched of {}) | {:.2} s | {:.1} MiB | {:.2} s ({:.1} MB gzip) | {:.3} s |",
            (t1 - t0).as_secs_f64(),
            (t2 - t1).as_secs_f64(),
            gu.programmes.unwrap_or(0),
            (t3 - t2).as_secs_f64(),
            summary.matched,
            summary.streams,
            (t3 - t0).as_secs_f64(),
            hwm1.saturating_sub(rss0) as f64 / 1024.0,
            epg[0].0,
            epg[0].1 as f64 / 1e6,
            epg[1].0,
        );
    }
}
