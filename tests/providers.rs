//! Provider sync (issue 9) against a fake Xtream panel and file server on
//! 127.0.0.1:0 and the real SQLite store: what a good sync stores, that a
//! bad answer of any kind leaves the previous data with an event, gentle
//! handling of refused and expired accounts, identities that survive
//! reshuffles and credential changes, hostile playlist URLs refused, the
//! API's write-only passwords, and no password in any answer or event.

use std::time::Duration;

use streamforge::config::SyncConfig;
use streamforge::events::{EventBus, Subscriber};
use streamforge::providers::schedule::next_due;
use streamforge::providers::sync::{SyncError, Syncer};
use streamforge::store::Store;
use streamforge::store::sources::NewSource;

use crate::util::panel::{PASS, Panel, PanelMode, USER};
use crate::util::*;

struct Rig {
    _tmp: tempfile::TempDir,
    store: Store,
    bus: EventBus,
    syncer: std::sync::Arc<Syncer>,
}

async fn rig() -> Rig {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path()).await.unwrap();
    let bus = EventBus::new(1024);
    let syncer = Syncer::new(
        store.clone(),
        bus.clone(),
        SyncConfig::default(),
        "test-agent",
    )
    .with_api_spacing(Duration::from_millis(5));
    Rig {
        _tmp: tmp,
        store,
        bus,
        syncer,
    }
}

fn xtream(base: &str, password: &str) -> NewSource {
    NewSource {
        kind: "xtream".into(),
        name: "Panel".into(),
        url: base.into(),
        username: Some(USER.into()),
        password: Some(password.into()),
        priority: 10,
        sync_hours: 12,
        ..Default::default()
    }
}

fn m3u(location: &str) -> NewSource {
    NewSource {
        kind: "m3u".into(),
        name: "List".into(),
        url: location.into(),
        priority: 10,
        sync_hours: 12,
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn xtream_sync_stores_streams_account_and_survives_reshuffles() {
    let panel = Panel::start(30).await;
    let r = rig().await;
    let mut events = r.bus.subscribe(Subscriber::Other);
    let id = r
        .store
        .upsert_source(&xtream(&panel.base(), PASS))
        .await
        .unwrap();
    let out = r.syncer.sync(id, false).await.expect("sync");
    assert_eq!((out.items, out.added, out.skipped), (30, 30, 0));
    let s = r.store.source(id).await.unwrap().unwrap();
    assert_eq!(s.account_status.as_deref(), Some("Active"));
    assert_eq!(s.account_max_connections, Some(2));
    assert_eq!(s.account_active_cons, Some(1));
    assert_eq!(s.account_expires, Some(4_102_444_800));
    let streams = r.store.provider_streams(id).await.unwrap();
    let one = streams
        .iter()
        .find(|(st, _)| st.key == "1001")
        .expect("stream_id as a string")
        .0
        .clone();
    assert_eq!(one.name, "UK: Channel 1 HD");
    assert_eq!(one.tvg_id.as_deref(), Some("chan1.uk"));
    assert_eq!(one.group.as_deref(), Some("UK | Sport"));
    assert_eq!(one.logo.as_deref(), Some("http://logos.example/1.png"));
    assert_eq!(
        one.url,
        format!("{}/live/{USER}/{PASS}/1001.ts", panel.base())
    );
    let e = events.recv().await.unwrap();
    assert_eq!(e.kind.name(), "sync_completed");

    // Reshuffled order, and the password changed on the panel's side and
    // ours: same identities, new URLs, nothing added or stale.
    panel.set(PanelMode::Reshuffled);
    let out = r.syncer.sync(id, false).await.expect("resync");
    assert_eq!(
        (out.items, out.added, out.stale, out.removed),
        (30, 0, 0, 0)
    );
    let again = r.store.provider_streams(id).await.unwrap();
    let keys = |v: &[(streamforge::store::sources::IngestedStream, bool)]| {
        let mut k: Vec<String> = v.iter().map(|(s, _)| s.key.clone()).collect();
        k.sort();
        k
    };
    assert_eq!(keys(&streams), keys(&again));

    // A stream missing from one sync is stale, not gone.
    *panel.state.streams.lock() = 29;
    panel.set(PanelMode::Ok);
    let out = r.syncer.sync(id, false).await.expect("one fewer");
    assert_eq!((out.items, out.stale, out.removed), (29, 1, 0));
    let (active, stale) = r.store.stream_counts(id).await.unwrap();
    assert_eq!((active, stale), (29, 1));
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_answers_leave_the_previous_streams_with_an_event() {
    let panel = Panel::start(20).await;
    let r = rig().await;
    let id = r
        .store
        .upsert_source(&xtream(&panel.base(), PASS))
        .await
        .unwrap();
    r.syncer.sync(id, false).await.expect("first sync");
    let mut events = r.bus.subscribe(Subscriber::Other);
    for (mode, reason) in [
        (PanelMode::MalformedStreams, "parse"),
        (PanelMode::EmptyStreams, "empty"),
        (PanelMode::Drop90, "drop"),
        (PanelMode::Expired, "account_inactive"),
        (PanelMode::Banned, "account_inactive"),
    ] {
        panel.set(mode);
        let err = r.syncer.sync(id, false).await.expect_err("refused");
        assert_eq!(err.reason(), reason, "{mode:?}: {err}");
        assert_eq!(
            r.store.active_stream_count(id).await.unwrap(),
            20,
            "{mode:?} kept the previous streams"
        );
        let e = events.recv().await.unwrap();
        assert_eq!(e.kind.name(), "sync_failed");
        let d = e.detail();
        assert_eq!(d["reason"], reason);
        assert_eq!(d["kept"], 20);
        assert_eq!(d["source"], "Panel");
        assert!(!d.to_string().contains(PASS), "{d}");
    }
    let s = r.store.source(id).await.unwrap().unwrap();
    assert_eq!(s.account_status.as_deref(), Some("Banned"));
    assert_eq!(s.last_sync_ok, Some(false));
    // A dead panel: connection refused is a fetch error, not a crash.
    let dead = xtream("http://127.0.0.1:9", PASS);
    let dead = r.store.upsert_source(&dead).await.unwrap();
    let err = r.syncer.sync(dead, false).await.expect_err("refused");
    assert_eq!(err.reason(), "fetch", "{err}");
    assert!(!err.to_string().contains(PASS), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn refused_logins_pause_the_schedule_without_a_retry_storm() {
    let panel = Panel::start(5).await;
    let r = rig().await;
    for mode in [
        PanelMode::Unauthorized,
        PanelMode::Auth0,
        PanelMode::Html404,
    ] {
        panel.set(mode);
        let id = r
            .store
            .upsert_source(&NewSource {
                name: format!("{mode:?}"),
                ..xtream(&panel.base(), PASS)
            })
            .await
            .unwrap();
        let before = panel.requests();
        for _ in 0..3 {
            let err = r.syncer.sync(id, false).await.expect_err("refused");
            assert!(matches!(err, SyncError::AuthFailed(_)), "{mode:?}: {err}");
        }
        assert_eq!(
            panel.requests() - before,
            3,
            "one call per attempt, no retries"
        );
        let s = r.store.source(id).await.unwrap().unwrap();
        assert_eq!(s.auth_failures, 3);
        assert!(next_due(&s).is_none(), "the schedule stops trying");
        let err = r.syncer.sync(id, false).await.expect_err("paused");
        assert_eq!(err.reason(), "paused");
        assert_eq!(
            panel.requests() - before,
            3,
            "a paused source makes no call"
        );
    }
    // A wrong password (the panel's 404 page) is an auth failure too, and
    // fixing it (a forced sync after an edit) resumes.
    panel.set(PanelMode::Ok);
    let id = r
        .store
        .upsert_source(&xtream(&panel.base(), "wrong"))
        .await
        .unwrap();
    let err = r.syncer.sync(id, false).await.expect_err("bad password");
    assert_eq!(err.reason(), "auth_failed");
    r.store
        .update_source(id, &xtream(&panel.base(), PASS))
        .await
        .unwrap();
    r.syncer.sync(id, true).await.expect("fixed");
    assert_eq!(r.store.source(id).await.unwrap().unwrap().auth_failures, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn m3u_quirks_and_hostile_urls() {
    let panel = Panel::start(0).await;
    let r = rig().await;
    let hostile = std::fs::read(fixture("providers/m3u_hostile_urls.m3u")).unwrap();
    let url = panel.serve_file("hostile.m3u", hostile);
    let id = r.store.upsert_source(&m3u(&url)).await.unwrap();
    let out = r.syncer.sync(id, false).await.expect("sync");
    let streams = r.store.provider_streams(id).await.unwrap();
    assert!(
        streams.iter().all(|(s, _)| s.url.starts_with("http")),
        "only http(s) candidates from a provider: {streams:?}"
    );
    assert!(
        out.skipped >= 6,
        "file://, concat:, udp://, data:, relative, rtmp: {out:?}"
    );
    assert_eq!(out.items, streams.len() as u64);

    // A gzip playlist read from a local path (config sources may).
    let gz = fixture("providers/m3u_gz.m3u.gz");
    let id = r
        .store
        .upsert_source(&m3u(gz.to_str().unwrap()))
        .await
        .unwrap();
    let out = r.syncer.sync(id, false).await.expect("gz sync");
    assert!(out.items > 0);
    // #EXTVLCOPT headers are carried to the candidate.
    let vlc = std::fs::read(fixture("providers/m3u_vlcopt.m3u")).unwrap();
    let id = r
        .store
        .upsert_source(&m3u(&panel.serve_file("vlc.m3u", vlc)))
        .await
        .unwrap();
    r.syncer.sync(id, false).await.expect("vlcopt sync");
    let streams = r.store.provider_streams(id).await.unwrap();
    assert!(
        streams.iter().any(|(s, _)| s.user_agent.is_some()),
        "{streams:?}"
    );
    // An HTML error page instead of a playlist changes nothing.
    let page = panel.serve_file("err.m3u", b"<html><title>Blocked</title></html>".to_vec());
    let id = r.store.upsert_source(&m3u(&page)).await.unwrap();
    let err = r.syncer.sync(id, false).await.expect_err("html");
    assert_eq!(err.reason(), "parse", "{err}");
}

fn guide(channels: usize, truncated: bool) -> Vec<u8> {
    let now = chrono::Utc::now();
    let mut x = String::from("<?xml version=\"1.0\"?>\n<tv>\n");
    for c in 0..channels {
        x.push_str(&format!(
            "<channel id=\"c{c}.example\"><display-name>Chan {c}</display-name><display-name>{c}</display-name></channel>\n"
        ));
    }
    for c in 0..channels {
        for h in 0..24 {
            let start = now + chrono::Duration::hours(h);
            let stop = start + chrono::Duration::hours(1);
            x.push_str(&format!(
                "<programme start=\"{}\" stop=\"{}\" channel=\"c{c}.example\"><title>Show {h} &amp; more</title><category>News</category></programme>\n",
                start.format("%Y%m%d%H%M%S +0000"),
                stop.format("%Y%m%d%H%M%S +0000"),
            ));
        }
    }
    if truncated {
        x.truncate(x.len() * 2 / 3);
    } else {
        x.push_str("</tv>\n");
    }
    x.into_bytes()
}

#[tokio::test(flavor = "multi_thread")]
async fn guides_are_stored_whole_or_not_at_all() {
    let panel = Panel::start(0).await;
    let r = rig().await;
    let url = panel.serve_file("guide.xml", guide(10, false));
    let id = r
        .store
        .upsert_source(&NewSource {
            kind: "xmltv".into(),
            name: "Guide".into(),
            url: url.clone(),
            priority: 10,
            sync_hours: 24,
            ..Default::default()
        })
        .await
        .unwrap();
    let out = r.syncer.sync(id, false).await.expect("guide");
    assert_eq!(out.items, 10);
    assert_eq!(out.programmes, Some(240));
    assert_eq!(r.store.programme_count(id).await.unwrap(), 240);
    // A guide that breaks off mid-file: the previous one stays.
    panel.serve_file("guide.xml", guide(12, true));
    let err = r.syncer.sync(id, false).await.expect_err("truncated");
    assert_eq!(err.reason(), "parse");
    assert!(
        err.to_string().contains("line"),
        "names the position: {err}"
    );
    assert_eq!(r.store.guide_channel_count(id).await.unwrap(), 10);
    assert_eq!(r.store.programme_count(id).await.unwrap(), 240);
}

#[tokio::test(flavor = "multi_thread")]
async fn api_manages_sources_with_write_only_passwords() {
    let panel = Panel::start(8).await;
    let srv = TestServer::start(fast_config(vec![])).await;
    let http = reqwest::Client::new();
    let post = |path: &str, body: serde_json::Value| http.post(srv.url(path)).json(&body).send();
    // A local path over HTTP is refused: only the config may name files.
    let r = post(
        "/api/sources",
        serde_json::json!({"kind": "m3u", "url": "/etc/passwd"}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("http(s)"));
    let r = post(
        "/api/sources",
        serde_json::json!({"kind": "xtream", "url": panel.base()}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 400, "xtream needs credentials");

    let r = post(
        "/api/sources",
        serde_json::json!({"kind": "xtream", "name": "Mine", "url": panel.base(), "username": USER, "password": PASS}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 201);
    let created: serde_json::Value = r.json().await.unwrap();
    let id = created["id"].as_i64().unwrap();
    assert_eq!(created["has_password"], true);
    // The sync starts by itself; wait for its result.
    let path = format!("/api/sources/{id}");
    let mut view = serde_json::Value::Null;
    for _ in 0..200 {
        view = srv.json(&path).await;
        if view["last_sync"]["ok"] == true {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(view["last_sync"]["ok"], true, "{view}");
    assert_eq!(view["streams"], 8);
    assert_eq!(view["account"]["status"], "Active");
    assert_eq!(view["account"]["max_connections"], 2);

    // Edit without a password: the stored one stays and still works.
    let r = http
        .put(srv.url(&path))
        .json(&serde_json::json!({"name": "Renamed"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = http
        .post(srv.url(&format!("{path}/sync")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    tokio::time::sleep(Duration::from_millis(300)).await;
    for _ in 0..200 {
        view = srv.json(&path).await;
        if view["state"] == "idle" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(view["name"], "Renamed");
    assert_eq!(view["last_sync"]["ok"], true, "{view}");

    // Nothing the API or the event log says holds the password or user.
    let everything = format!(
        "{}{}{}",
        srv.json("/api/sources").await,
        srv.json(&path).await,
        srv.json("/api/events?limit=1000").await
    );
    assert!(!everything.contains(PASS), "{everything}");
    assert!(!everything.contains(USER), "{everything}");
    let kinds = srv.events_of("sync_completed").await;
    assert!(kinds.len() >= 2, "{kinds:?}");
    assert!(
        srv.json("/api/epg-sources")
            .await
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        http.get(srv.url(&format!("/api/epg-sources/{id}")))
            .send()
            .await
            .unwrap()
            .status(),
        404,
        "a stream source is not a guide"
    );

    // With no guide, the account's channels are the lineup.
    let n = srv.json("/lineup.json").await.as_array().unwrap().len();
    assert_eq!(n, 8, "one channel per provider channel without a guide");
    let r = http.delete(srv.url(&path)).send().await.unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(http.get(srv.url(&path)).send().await.unwrap().status(), 404);
    // Its channels leave the lineup.
    let mut left = n;
    for _ in 0..100 {
        left = srv.json("/lineup.json").await.as_array().unwrap().len();
        if left == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(left, 0);
    srv.stop().await;
}

async fn sync_command(cfg: &std::path::Path) -> std::process::Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_streamforge"))
        .args(["sync", "--config"])
        .arg(cfg)
        .output()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn sync_command_syncs_config_sources_and_keeps_secrets() {
    let panel = Panel::start(12).await;
    let playlist = std::fs::read(fixture("providers/m3u_crlf_bom.m3u")).unwrap();
    let m3u_url = panel.serve_file("list.m3u", playlist);
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("streamforge.toml");
    std::fs::write(
        &cfg,
        format!(
            "[server]\ndata_dir = \"{}\"\n\n[[source]]\nkind = \"xtream\"\nname = \"Panel\"\nurl = \"{}\"\nusername = \"{USER}\"\npassword = \"{PASS}\"\n\n[[source]]\nkind = \"m3u\"\nurl = \"{m3u_url}\"\n",
            tmp.path().join("data").display(),
            panel.base()
        ),
    )
    .unwrap();
    let out = sync_command(&cfg).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("Panel: ok, 12 items"), "{stdout}");
    assert!(stdout.contains("m3u"), "{stdout}");
    assert!(
        !stdout.contains(PASS) && !stderr.contains(PASS),
        "{stdout}\n{stderr}"
    );
    // The database is its owner's alone (it holds the passwords).
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(tmp.path().join("data/streamforge.db"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o077, 0, "mode {mode:o}");
    // A second run: the same sources (no duplicates), synced again.
    let out = sync_command(&cfg).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(stdout.lines().count(), 2, "{stdout}");
    assert!(stdout.contains("ok, 12 items (0 new"), "{stdout}");
}
