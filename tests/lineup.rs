//! The live lineup (issue 8): swapped at run time as a whole, every
//! consumer (lineup.json, playlist.m3u, epg.xml, the stream endpoints)
//! follows it; nothing reads the config's channels after start-up.

use std::time::Duration;

use streamforge::lineup::Channel;

use crate::util::*;

async fn text(srv: &TestServer, path: &str) -> String {
    reqwest::get(srv.url(path))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

async fn status(srv: &TestServer, path: &str) -> u16 {
    let r = reqwest::Client::new()
        .get(srv.url(path))
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .unwrap();
    r.status().as_u16()
}

#[tokio::test(flavor = "multi_thread")]
async fn issue8_swapped_lineup_is_what_every_consumer_serves() {
    let up = Upstream::start().await.unwrap();
    up.add("main", fixture_bytes("main.ts"));
    up.add("backup", fixture_bytes("backup.ts"));
    let srv = TestServer::start(fast_config(vec![channel("101", vec![up.ts_url("main")])])).await;

    let lineup = srv.json("/lineup.json").await;
    assert_eq!(lineup[0]["GuideNumber"], "101", "{lineup}");
    assert!(text(&srv, "/playlist.m3u").await.contains("/auto/v101"));

    // The provider side changes: 101 goes, 201 and a disabled 202 arrive.
    let mut new = Channel::new("201", "Swapped In", &[&up.ts_url("backup")]);
    new.guide_id = Some("swapped.example".into());
    let mut hidden = Channel::new("202", "Hidden", &[&up.ts_url("main")]);
    hidden.enabled = false;
    srv.lineup.replace(vec![new, hidden]);

    let lineup = srv.json("/lineup.json").await;
    let numbers: Vec<&str> = lineup
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["GuideNumber"].as_str().unwrap())
        .collect();
    assert_eq!(numbers, ["201"], "{lineup}");
    assert!(lineup[0]["URL"].as_str().unwrap().ends_with("/auto/v201"));
    let m3u = text(&srv, "/playlist.m3u").await;
    assert!(
        m3u.contains("/auto/v201") && m3u.contains("Swapped In"),
        "{m3u}"
    );
    assert!(
        !m3u.contains("/auto/v101") && !m3u.contains("v202"),
        "{m3u}"
    );
    let epg = text(&srv, "/epg.xml").await;
    assert!(
        epg.contains("swapped.example") && epg.contains("Swapped In"),
        "{epg}"
    );
    assert!(!epg.contains("Channel 101"), "{epg}");

    assert_eq!(
        status(&srv, "/auto/v101").await,
        404,
        "gone with the old lineup"
    );
    assert_eq!(status(&srv, "/auto/v202").await, 404, "disabled");
    let cap = Capture::start(&srv.url("/auto/v201")).await;
    assert_eq!(cap.status, 200, "{:?}", srv.events().await);
    cap.wait_bytes(100_000, Duration::from_secs(10)).await;
    let s = srv.session("201").await.expect("a session for 201");
    assert_eq!(s["source_index"], 0, "{s}");
    let backup = up.feed("backup").unwrap();
    assert!(
        backup
            .connections
            .load(std::sync::atomic::Ordering::Relaxed)
            > 0,
        "201 plays its own candidate: {s}"
    );
    drop(cap);
    srv.stop().await;
}
