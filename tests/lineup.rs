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

mod from_providers {
    //! Issue 10: an Xtream account, an M3U playlist and a gzip guide give
    //! the expected lineup; quality tiers order the candidates; numbers
    //! survive reshuffles and a channel's disappearance; epg.xml carries
    //! the stored programmes and validates.

    use std::io::Write;
    use std::time::Duration;

    use crate::util::panel::{PASS, Panel, PanelMode, USER};
    use crate::util::*;

    fn guide_gz(channels: usize) -> Vec<u8> {
        let now = chrono::Utc::now();
        let mut x = String::from("<?xml version=\"1.0\"?>\n<tv>\n");
        for c in 1..=channels {
            x.push_str(&format!(
                "<channel id=\"chan{c}.uk\"><display-name>Channel {c}</display-name><icon src=\"http://logos.example/g{c}.png\"/></channel>\n"
            ));
        }
        for c in 1..=channels {
            for h in -1..12 {
                let s = now + chrono::Duration::hours(h);
                x.push_str(&format!(
                    "<programme start=\"{}\" stop=\"{}\" channel=\"chan{c}.uk\"><title>Real show {c}.{h}</title><desc>From the guide</desc></programme>\n",
                    s.format("%Y%m%d%H%M%S +0000"),
                    (s + chrono::Duration::hours(1)).format("%Y%m%d%H%M%S +0000"),
                ));
            }
        }
        x.push_str("</tv>\n");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(x.as_bytes()).unwrap();
        gz.finish().unwrap()
    }

    async fn lineup_numbers(srv: &TestServer) -> Vec<(String, String)> {
        let v = srv.json("/lineup.json").await;
        v.as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["GuideName"].as_str().unwrap().to_string(),
                    e["GuideNumber"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }

    async fn wait_for(
        srv: &TestServer,
        what: &str,
        ok: impl Fn(&[(String, String)]) -> bool,
    ) -> Vec<(String, String)> {
        for _ in 0..300 {
            let l = lineup_numbers(srv).await;
            if ok(&l) {
                return l;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "{what}: {:?}\n{:?}",
            lineup_numbers(srv).await,
            srv.events().await
        );
    }

    async fn sync(srv: &TestServer, http: &reqwest::Client, id: i64) {
        let before = srv.events_of("lineup_built").await.len();
        let r = http
            .post(srv.url(&format!("/api/sources/{id}/sync")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202);
        for _ in 0..300 {
            if srv.events_of("lineup_built").await.len() > before {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no rebuild after the sync of {id}");
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn issue10_providers_and_guide_make_a_lineup_whose_numbers_never_move() {
        let panel = Panel::start(6).await;
        let guide = panel.serve_file("guide.xml.gz", guide_gz(5));
        let m3u = panel.serve_file(
            "extra.m3u",
            b"#EXTM3U\n#EXTINF:-1 tvg-id=\"chan1.uk\" group-title=\"UK | Extra\",Channel 1 FHD\nhttp://cdn.example/fhd/1.ts\n#EXTINF:-1 tvg-id=\"chan1.uk\",Channel 1 SD\nhttp://cdn.example/sd/1.ts\n".to_vec(),
        );
        let srv = TestServer::start(fast_config(vec![])).await;
        let http = reqwest::Client::new();
        let add = |path: &'static str, body: serde_json::Value| {
            let http = http.clone();
            let url = srv.url(path);
            async move {
                let r = http.post(url).json(&body).send().await.unwrap();
                assert_eq!(r.status(), 201);
                r.json::<serde_json::Value>().await.unwrap()["id"]
                    .as_i64()
                    .unwrap()
            }
        };
        add("/api/epg-sources", serde_json::json!({ "url": guide })).await;
        let xt = add(
            "/api/sources",
            serde_json::json!({ "kind": "xtream", "url": panel.base(), "username": USER, "password": PASS }),
        )
        .await;
        add(
            "/api/sources",
            serde_json::json!({ "kind": "m3u", "url": m3u, "priority": 20 }),
        )
        .await;
        let lineup = wait_for(&srv, "five guide channels", |l| l.len() == 5).await;
        let names: Vec<&str> = lineup.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "Channel 1",
                "Channel 2",
                "Channel 3",
                "Channel 4",
                "Channel 5"
            ]
        );
        // Channel 1: FHD (playlist) before HD (panel) before SD (playlist).
        let mut tiers = Vec::new();
        for _ in 0..100 {
            let chans = srv.json("/api/channels?q=channel 1").await;
            let c = chans["channels"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["name"] == "Channel 1")
                .cloned()
                .unwrap();
            tiers = c["candidates"]
                .as_array()
                .unwrap()
                .iter()
                .map(|k| k["tier"].as_str().unwrap().to_string())
                .collect::<Vec<_>>();
            if tiers.len() == 3 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(tiers, ["fhd", "hd", "sd"]);
        // The panel's max_connections is the account's budget in the engine.
        let accounts = srv.json("/api/accounts").await;
        let acct = accounts
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["account"] == xt)
            .cloned()
            .unwrap_or_default();
        assert_eq!(acct["max"], 2, "{accounts}");
        let all = srv.json("/api/channels").await.to_string();
        assert!(!all.contains(PASS) && !all.contains(USER), "{all}");
        // Stream 6 has no guide channel: its channel exists, disabled.
        let chans = srv.json("/api/channels?enabled=false").await;
        let six = chans["channels"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == "Channel 6")
            .cloned()
            .expect("unmatched channel listed");
        assert_eq!(six["match_status"], "unmatched");

        // Reshuffled provider order: the same numbers.
        panel.set(PanelMode::Reshuffled);
        sync(&srv, &http, xt).await;
        assert_eq!(lineup_numbers(&srv).await, lineup);
        // Channel 5 vanishes (stale), then returns with its number.
        *panel.state.streams.lock() = 4;
        panel.set(PanelMode::Ok);
        sync(&srv, &http, xt).await;
        let without = lineup_numbers(&srv).await;
        assert_eq!(without.len(), 4, "{without:?}");
        *panel.state.streams.lock() = 6;
        sync(&srv, &http, xt).await;
        assert_eq!(
            lineup_numbers(&srv).await,
            lineup,
            "channel 5 got its number back"
        );

        // Enabling the unmatched channel gives it a place; renumbering onto
        // a taken number is refused.
        let id = six["id"].as_str().unwrap();
        let r = http
            .patch(srv.url(&format!("/api/channels/{id}")))
            .json(&serde_json::json!({ "number": lineup[0].1 }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 409);
        let r = http
            .patch(srv.url(&format!("/api/channels/{id}")))
            .json(&serde_json::json!({ "enabled": true }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        wait_for(&srv, "channel 6 enabled", |l| l.len() == 6).await;
        // Many at once: channels 1 and 2 off.
        let chans = srv.json("/api/channels?enabled=true").await;
        let ids: Vec<serde_json::Value> = chans["channels"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["name"] == "Channel 1" || c["name"] == "Channel 2")
            .map(|c| c["id"].clone())
            .collect();
        let r = http
            .patch(srv.url("/api/channels"))
            .json(&serde_json::json!({ "ids": ids, "enabled": false }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.json::<serde_json::Value>().await.unwrap()["changed"], 2);
        wait_for(&srv, "two channels off", |l| l.len() == 4).await;

        // The guide carries the stored programmes and validates.
        let xml = reqwest::get(srv.url("/epg.xml"))
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        let text = String::from_utf8_lossy(&xml);
        assert!(text.contains("Real show 3.0"), "stored programmes served");
        assert!(
            !text.contains("Real show 1.0"),
            "disabled channels are not in the guide"
        );
        assert!(text.contains("chan3.uk"));
        crate::plex::validate_xmltv(&xml);

        // `probe <number>` knows provider channels too (read from the
        // database, which it does not change).
        let number = &lineup[2].1;
        let cfg = srv.data_dir.join("probe.toml");
        std::fs::write(
            &cfg,
            format!("[server]\ndata_dir = \"{}\"\n", srv.data_dir.display()),
        )
        .unwrap();
        let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_streamforge"))
            .args(["probe", number, "--json", "--duration", "1", "--config"])
            .arg(&cfg)
            .output()
            .await
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let v: serde_json::Value = serde_json::from_str(&stdout).unwrap_or_default();
        assert_eq!(
            v["channel"]["name"],
            "Channel 3",
            "{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            v["candidates"].as_array().map(Vec::len),
            Some(1),
            "{stdout}"
        );
        assert!(!stdout.contains(PASS), "{stdout}");
        srv.stop().await;
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn issue10_manual_matches_and_order_survive_resyncs() {
        let panel = Panel::start(6).await;
        let guide = panel.serve_file("guide.xml.gz", guide_gz(5));
        let srv = TestServer::start(fast_config(vec![])).await;
        let http = reqwest::Client::new();
        for (path, body) in [
            ("/api/epg-sources", serde_json::json!({ "url": guide })),
            (
                "/api/sources",
                serde_json::json!({ "kind": "xtream", "url": panel.base(), "username": USER, "password": PASS }),
            ),
        ] {
            let r = http.post(srv.url(path)).json(&body).send().await.unwrap();
            assert_eq!(r.status(), 201);
        }
        wait_for(&srv, "five guide channels", |l| l.len() == 5).await;
        let streams = srv.json("/api/streams?q=channel 6").await;
        let six = &streams["streams"][0];
        assert_eq!(six["guide_id"], serde_json::Value::Null, "{six}");
        let (source, key) = (
            six["source_id"].as_i64().unwrap(),
            six["stream_key"].as_str().unwrap().to_string(),
        );
        // Pin stream 6 to guide channel 5 by hand: channel 5 has two candidates.
        let r = http
            .put(srv.url(&format!("/api/streams/{source}/{key}/match")))
            .json(&serde_json::json!({ "guide_id": "chan5.uk" }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 204);
        let r = http
            .put(srv.url(&format!("/api/streams/{source}/{key}/match")))
            .json(&serde_json::json!({ "guide_id": "nope.example" }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "an unknown guide channel is refused");
        let five = |v: &serde_json::Value| {
            v["channels"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["name"] == "Channel 5")
                .cloned()
                .unwrap()
        };
        let mut c5 = serde_json::Value::Null;
        for _ in 0..100 {
            c5 = five(&srv.json("/api/channels").await);
            if c5["candidates"].as_array().unwrap().len() == 2 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let names = |c: &serde_json::Value| {
            c["candidates"]
                .as_array()
                .unwrap()
                .iter()
                .map(|k| k["provider_name"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(names(&c5).len(), 2, "{c5}");
        // Put stream 6 first by hand.
        let order: Vec<serde_json::Value> = c5["candidates"]
            .as_array()
            .unwrap()
            .iter()
            .rev()
            .map(|k| serde_json::json!({ "source_id": k["source"]["source_id"], "stream_key": k["stream_key"] }))
            .collect();
        let want: Vec<String> = names(&c5).into_iter().rev().collect();
        let r = http
            .put(srv.url(&format!(
                "/api/channels/{}/order",
                c5["id"].as_str().unwrap()
            )))
            .json(&order)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 204);
        for _ in 0..100 {
            if names(&five(&srv.json("/api/channels").await)) == want {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // A re-sync keeps the pin and the order.
        let id = srv.json("/api/sources").await[0]["id"].as_i64().unwrap();
        sync(&srv, &http, id).await;
        let after = five(&srv.json("/api/channels").await);
        assert_eq!(names(&after), want, "{after}");
        let s6 = &srv.json("/api/streams?q=channel 6").await["streams"][0];
        assert_eq!(s6["manual"], true);
        assert_eq!(s6["guide_id"], "chan5.uk");
        srv.stop().await;
    }
}
