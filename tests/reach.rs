//! Issue 12: what a hostile HLS upstream may make the embedded FFmpeg
//! fetch. A master playlist naming itself is an error after a handful of
//! requests (it was ~4,900 in 5 s), a playlist pointing at a local file
//! is refused by the protocol whitelist, and the channel carries on from
//! its backup either way.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::routing::get;

use crate::util::*;

/// Serves `/self.m3u8` (a master naming itself) and `/local.m3u8` (a
/// media playlist whose segments are a local file: a real TS, so that
/// were it opened the primary would play and no candidate would fail),
/// counting requests.
async fn hostile_hls() -> (String, Arc<AtomicUsize>) {
    let local = format!("file://{}", fixture("main.ts").display());
    let media = format!(
        "#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXT-X-MEDIA-SEQUENCE:0\n#EXTINF:10.0,\n{local}\n#EXTINF:10.0,\n{local}\n"
    );
    let hits = Arc::new(AtomicUsize::new(0));
    let (h1, h2) = (Arc::clone(&hits), Arc::clone(&hits));
    let app = Router::new()
        .route(
            "/self.m3u8",
            get(move || {
                h1.fetch_add(1, Ordering::SeqCst);
                async {
                    (
                        [
                            ("content-type", "application/vnd.apple.mpegurl"),
                            ("connection", "close"),
                        ],
                        "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=800000\nself.m3u8\n#EXT-X-STREAM-INF:BANDWIDTH=400000\nself.m3u8?b\n",
                    )
                }
            }),
        )
        .route(
            "/local.m3u8",
            get(move || {
                h2.fetch_add(1, Ordering::SeqCst);
                let body = media.clone();
                async move { ([("content-type", "application/vnd.apple.mpegurl")], body) }
            }),
        );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", l.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(l, app).await;
    });
    (base, hits)
}

#[tokio::test(flavor = "multi_thread")]
async fn issue12_hostile_hls_is_refused_and_the_backup_plays() {
    let (base, hits) = hostile_hls().await;
    let up = Upstream::start().await.unwrap();
    up.add("backup", fixture_bytes("backup.ts"));
    for (path, why) in [("/self.m3u8", "refers to itself"), ("/local.m3u8", "")] {
        hits.store(0, Ordering::SeqCst);
        let s = TestServer::start(fast_config(vec![channel(
            "101",
            vec![format!("{base}{path}"), up.ts_url("backup")],
        )]))
        .await;
        let cap = Capture::start(&s.url("/auto/v101")).await;
        cap.wait_bytes(188 * 500, Duration::from_secs(20)).await;
        assert!(
            cap.len() >= 188 * 500,
            "{path}: the backup plays ({} bytes)",
            cap.len()
        );
        let failed = s
            .wait_event("candidate_failed", Duration::from_secs(5))
            .await;
        let text = failed.to_string();
        assert!(text.contains(why), "{path}: {text}");
        let n = hits.load(Ordering::SeqCst);
        assert!(n <= 10, "{path}: {n} upstream requests");
        cap.finish();
        s.stop().await;
    }
}
