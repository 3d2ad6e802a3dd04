//! Issue 13: the dashboard in a real browser (Debian's chromium, headless,
//! through chromedriver) against the real server on 127.0.0.1:0 with the
//! test upstream and the fake Xtream panel. Screenshots of every page go
//! to `target/web-screenshots/`. Run alone with
//! `cargo test --test integration web`.

use std::io::Write;
use std::time::Duration;

use serde_json::{Value, json};

use crate::util::browser::Browser;
use crate::util::panel::{PASS, Panel, USER};
use crate::util::*;

const SECS: Duration = Duration::from_secs(1);

/// Every dashboard page: path and screenshot name.
const PAGES: &[(&str, &str)] = &[
    ("/", "now-playing"),
    ("/events", "events"),
    ("/channels", "channels"),
    ("/sources", "sources"),
    ("/plex", "plex-setup"),
    ("/login", "login"),
];

fn guide_gz(channels: usize) -> Vec<u8> {
    let now = chrono::Utc::now();
    let mut x = String::from("<?xml version=\"1.0\"?>\n<tv>\n");
    for c in 1..=channels {
        x.push_str(&format!(
            "<channel id=\"chan{c}.uk\"><display-name>Channel {c}</display-name></channel>\n"
        ));
    }
    for c in 1..=channels {
        for h in -1..3 {
            let s = now + chrono::Duration::hours(h);
            x.push_str(&format!(
                "<programme start=\"{}\" stop=\"{}\" channel=\"chan{c}.uk\"><title>Show {c}.{h}</title></programme>\n",
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

async fn post(srv: &TestServer, path: &str, body: Value) -> Value {
    let r = reqwest::Client::new()
        .post(srv.url(path))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "POST {path}: {}", r.status());
    r.json().await.unwrap()
}

async fn lineup_numbers(srv: &TestServer) -> Vec<String> {
    srv.json("/lineup.json")
        .await
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["GuideNumber"].as_str().unwrap().to_string())
        .collect()
}

async fn wait_lineup(srv: &TestServer, what: &str, ok: impl Fn(&[String]) -> bool) {
    for _ in 0..400 {
        if ok(&lineup_numbers(srv).await) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{what}: {:?}", lineup_numbers(srv).await);
}

/// A guide and the panel's account, added over the API; five channels.
async fn provider_lineup(srv: &TestServer, panel: &Panel) {
    let before = lineup_numbers(srv).await.len();
    let guide = panel.serve_file("guide.xml.gz", guide_gz(5));
    post(srv, "/api/epg-sources", json!({ "url": guide })).await;
    post(
        srv,
        "/api/sources",
        json!({ "kind": "xtream", "url": panel.base(), "username": USER, "password": PASS }),
    )
    .await;
    wait_lineup(srv, "five provider channels", |l| l.len() == before + 5).await;
}

/// Every form control has a label a screen reader can read.
async fn unlabelled(b: &Browser) -> Value {
    b.js(r#"return Array.from(document.querySelectorAll('input:not([type=hidden]), select, button'))
        .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label') && !e.textContent.trim())
        .map(e => e.outerHTML);"#)
        .await
}

#[tokio::test(flavor = "multi_thread")]
async fn issue13_every_page_loads_with_no_console_errors() {
    let up = Upstream::start().await.unwrap();
    up.add("primary", fixture_bytes("main.ts"));
    up.add("backup", fixture_bytes("backup.ts"));
    let panel = Panel::start(6).await;
    let srv = TestServer::start(fast_config(vec![channel(
        "101",
        vec![up.ts_url("primary"), up.ts_url("backup")],
    )]))
    .await;
    provider_lineup(&srv, &panel).await;
    // Something playing, so "Now playing" has a row.
    let cap = Capture::start(&srv.url("/auto/v101")).await;
    assert_eq!(cap.status, 200);
    let origin = srv.url("");
    let b = Browser::start(1280, 900).await;
    for (path, name) in PAGES {
        b.goto(&srv.url(path)).await;
        b.wait_for(
            &format!("{path} rendered"),
            "document.readyState === 'complete' && document.querySelector('h1')",
            10 * SECS,
        )
        .await;
        if *path == "/" {
            // A second of bitrate samples for the chart, then the live fragment.
            b.wait_for(
                "a session row",
                "document.querySelector('tr[data-channel=\"101\"]')",
                10 * SECS,
            )
            .await;
            tokio::time::sleep(4 * SECS).await;
        }
        let missing = unlabelled(&b).await;
        assert_eq!(missing, json!([]), "{path}: controls without a label");
        let shot = b.screenshot(name).await;
        assert!(std::fs::metadata(&shot).unwrap().len() > 1000);
        let errors = b.console_errors(&origin).await;
        assert!(errors.is_empty(), "{path}: console errors: {errors:#?}");
    }
    // The phone layout of the two busiest pages.
    b.client.set_window_size(390, 844).await.unwrap();
    for (path, name) in [("/", "phone-now-playing"), ("/channels", "phone-channels")] {
        b.goto(&srv.url(path)).await;
        b.wait_for("rendered", "document.readyState === 'complete'", 10 * SECS)
            .await;
        b.screenshot(name).await;
        let wide = b
            .js("return document.documentElement.scrollWidth <= window.innerWidth + 1")
            .await;
        assert_eq!(
            wide,
            Value::Bool(true),
            "{path} scrolls sideways on a phone"
        );
        let errors = b.console_errors(&origin).await;
        assert!(errors.is_empty(), "{path}: console errors: {errors:#?}");
    }
    // The metrics answer in Prometheus' text format.
    let m = reqwest::get(srv.url("/metrics")).await.unwrap();
    assert!(
        m.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let text = m.text().await.unwrap();
    assert!(text.contains("\nstreamforge_sessions 1\n"), "{text}");
    assert!(text.contains("streamforge_syncs_total{"), "{text}");
    b.close().await;
    drop(cap);
}

#[tokio::test(flavor = "multi_thread")]
async fn issue13_a_failover_shows_on_now_playing_and_events_without_a_reload() {
    let up = Upstream::start().await.unwrap();
    up.add("primary", fixture_bytes("main.ts"));
    up.add("backup", fixture_bytes("backup.ts"));
    let srv = TestServer::start(fast_config(vec![channel(
        "101",
        vec![up.ts_url("primary"), up.ts_url("backup")],
    )]))
    .await;
    let b = Browser::start(1280, 900).await;
    b.goto(&srv.url("/events")).await;
    b.wait_for(
        "events page",
        "document.querySelector('#events')",
        10 * SECS,
    )
    .await;
    let events_window = b.client.window().await.unwrap();
    let w = b.client.new_window(false).await.unwrap();
    b.client.switch_to_window(w.handle).await.unwrap();
    b.goto(&srv.url("/")).await;
    b.wait_for(
        "now playing",
        "document.querySelector('#sessions')",
        10 * SECS,
    )
    .await;
    // Marks this document: a reload would lose them.
    b.js("window.__loaded = 1; return 0").await;
    let cap = Capture::start(&srv.url("/auto/v101")).await;
    assert_eq!(cap.status, 200);
    b.wait_for(
        "the session on Now playing",
        "document.querySelector('tr[data-channel=\"101\"][data-state=\"healthy\"]')",
        15 * SECS,
    )
    .await;
    up.feed("primary").unwrap().set_mode(Mode::Stall);
    srv.wait_event("failover", 15 * SECS).await;
    b.wait_for(
        "the failover on Now playing",
        "document.querySelector('tr[data-channel=\"101\"] [data-field=failovers]').textContent === '1'",
        10 * SECS,
    )
    .await;
    assert_eq!(b.js("return window.__loaded").await, json!(1), "reloaded");
    b.screenshot("now-playing-after-failover").await;
    b.client.switch_to_window(events_window).await.unwrap();
    b.wait_for(
        "the failover on Events",
        "document.querySelector('#events tbody tr[data-kind=failover][data-channel=\"101\"]')",
        10 * SECS,
    )
    .await;
    let text = b
        .js("return document.querySelector('#events tbody tr[data-kind=failover]').innerText")
        .await;
    let text = text.as_str().unwrap();
    assert!(text.contains("→ #2") && text.contains("switch"), "{text}");
    b.js("return 0").await;
    b.screenshot("events-after-failover").await;
    let errors = b.console_errors(&srv.url("")).await;
    assert!(errors.is_empty(), "console errors: {errors:#?}");
    b.close().await;
    drop(cap);
}

#[tokio::test(flavor = "multi_thread")]
async fn issue13_disabling_a_channel_in_the_ui_removes_it_from_the_lineup() {
    let panel = Panel::start(6).await;
    let srv = TestServer::start(fast_config(vec![])).await;
    provider_lineup(&srv, &panel).await;
    let victim = lineup_numbers(&srv).await[0].clone();
    let before = lineup_numbers(&srv).await.len();
    let b = Browser::start(1280, 900).await;
    b.goto(&srv.url("/channels")).await;
    let sel = format!("tr[data-number=\"{victim}\"] button[data-action=toggle]");
    b.wait_for(
        "the channel row",
        &format!("document.querySelector('{sel}')"),
        10 * SECS,
    )
    .await;
    b.client
        .find(fantoccini::Locator::Css(&sel))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    b.wait_for(
        "the button says disabled",
        &format!("document.querySelector('{sel}').getAttribute('aria-pressed') === 'false'"),
        10 * SECS,
    )
    .await;
    wait_lineup(&srv, "the channel gone from /lineup.json", |l| {
        l.len() == before - 1 && !l.contains(&victim)
    })
    .await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn issue13_adding_a_source_with_a_bad_password_shows_the_providers_error() {
    let panel = Panel::start(3).await;
    let srv = TestServer::start(fast_config(vec![])).await;
    let b = Browser::start(1280, 1000).await;
    b.goto(&srv.url("/sources")).await;
    b.wait_for(
        "sources page",
        "document.querySelector('form[data-action=add]')",
        10 * SECS,
    )
    .await;
    b.js("document.querySelector('details.add').open = true; return 0")
        .await;
    let form = "form[data-action=add][data-family=sources]";
    let fill = |name: &'static str, value: String| {
        let b = &b;
        async move {
            let el = b
                .client
                .find(fantoccini::Locator::Css(&format!("{form} [name={name}]")))
                .await
                .unwrap();
            el.send_keys(&value).await.unwrap();
        }
    };
    fill("url", panel.base()).await;
    fill("username", USER.to_string()).await;
    fill("password", "not-the-password".to_string()).await;
    b.client
        .find(fantoccini::Locator::Css(&format!(
            "{form} button[type=submit]"
        )))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    b.wait_for(
        "the sync result",
        &format!("document.querySelector('{form} .result').textContent.startsWith('Sync failed')"),
        30 * SECS,
    )
    .await;
    let shown = b
        .js(&format!(
            "return document.querySelector('{form} .result').textContent"
        ))
        .await;
    let sources = srv.json("/api/sources").await;
    let message = sources[0]["last_sync"]["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(!message.is_empty());
    assert_eq!(shown, json!(format!("Sync failed: {message}")));
    b.screenshot("sources-bad-password").await;
    b.close().await;
}

/// What a response body says, read for at most `read_for` (the live
/// stream never ends by itself).
async fn body_of(url: &str, read_for: Duration) -> String {
    let Ok(mut r) = reqwest::get(url).await else {
        return String::new();
    };
    let mut out = Vec::new();
    let deadline = tokio::time::Instant::now() + read_for;
    while let Ok(Ok(Some(chunk))) = tokio::time::timeout_at(deadline, r.chunk()).await {
        out.extend_from_slice(&chunk);
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn issue13_no_provider_password_reaches_a_page_or_a_response() {
    let panel = Panel::start(6).await;
    let guide = panel.serve_file("guide.xml.gz", guide_gz(5));
    let srv = TestServer::start(fast_config(vec![])).await;
    post(&srv, "/api/epg-sources", json!({ "url": guide })).await;
    let b = Browser::start(1280, 1000).await;
    // The password goes in through the dashboard's own form.
    b.goto(&srv.url("/sources")).await;
    b.wait_for(
        "sources page",
        "document.querySelector('form[data-action=add]')",
        10 * SECS,
    )
    .await;
    b.js("document.querySelector('details.add').open = true; return 0")
        .await;
    let form = "form[data-action=add][data-family=sources]";
    for (name, value) in [
        ("url", panel.base()),
        ("username", USER.into()),
        ("password", PASS.into()),
    ] {
        b.client
            .find(fantoccini::Locator::Css(&format!("{form} [name={name}]")))
            .await
            .unwrap()
            .send_keys(&value)
            .await
            .unwrap();
    }
    b.client
        .find(fantoccini::Locator::Css(&format!(
            "{form} button[type=submit]"
        )))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    b.wait_for(
        "the sync result",
        &format!("document.querySelector('{form} .result').textContent.startsWith('Synced')"),
        30 * SECS,
    )
    .await;
    wait_lineup(&srv, "five provider channels", |l| l.len() == 5).await;
    let number = lineup_numbers(&srv).await[0].clone();
    // Play a provider channel, so sessions and events carry its URL.
    let cap = Capture::start(&srv.url(&format!("/auto/v{number}"))).await;
    let mut fetched = std::collections::BTreeSet::new();
    for (path, _) in PAGES {
        b.goto(&srv.url(path)).await;
        b.wait_for("rendered", "document.readyState === 'complete'", 10 * SECS)
            .await;
        let html = b.client.source().await.unwrap();
        assert!(!html.contains(PASS), "{path} shows the password");
        let urls = b
            .js("return performance.getEntriesByType('resource').map(e => e.name).concat([location.href])")
            .await;
        for u in urls.as_array().unwrap() {
            let u = u.as_str().unwrap().to_string();
            if u.starts_with(&srv.url("")) {
                fetched.insert(u);
            }
        }
    }
    // Every response the pages loaded (and the API answers the script reads).
    // (The live stream never completes, so the browser's resource timing
    // does not list it.)
    for extra in [
        "/api/sources",
        "/api/channels",
        "/api/streams",
        "/api/sessions",
        "/api/events",
        "/static/favicon.svg",
        "/metrics",
    ] {
        fetched.insert(srv.url(extra));
    }
    // The live streams while a sync runs (its events go out on them).
    let id = srv.json("/api/sources").await[0]["id"].as_i64().unwrap();
    for live in ["/web/live", "/web/live?sessions=1"] {
        let url = srv.url(&format!("/api/sources/{id}/sync"));
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let _ = reqwest::Client::new().post(url).send().await;
        });
        let body = body_of(&srv.url(live), 5 * SECS).await;
        assert!(body.contains("event: "), "{live}: {body}");
        assert!(!body.contains(PASS), "{live} carries the password");
        tokio::time::sleep(SECS).await;
    }
    for u in &fetched {
        let body = body_of(u, SECS).await;
        assert!(!body.contains(PASS), "{u} carries the password");
    }
    b.close().await;
    drop(cap);
}

#[tokio::test(flavor = "multi_thread")]
async fn issue13_logging_out_locks_the_management_pages() {
    let srv = TestServer::start(fast_config(vec![channel(
        "101",
        vec!["http://127.0.0.1:9/x.ts".into()],
    )]))
    .await;
    // Allowed from loopback while no password is set.
    let r = reqwest::Client::new()
        .put(srv.url("/api/auth/password"))
        .json(&json!({ "password": "correct horse battery" }))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{:?}", r.text().await);
    let b = Browser::start(1280, 900).await;
    b.goto(&srv.url("/channels")).await;
    b.wait_for(
        "the login page",
        "location.pathname === '/login' && document.querySelector('#password')",
        10 * SECS,
    )
    .await;
    let login = |pw: &'static str| {
        let b = &b;
        async move {
            let f = b
                .client
                .find(fantoccini::Locator::Css("#password"))
                .await
                .unwrap();
            f.send_keys(pw).await.unwrap();
            b.client
                .find(fantoccini::Locator::Css("form.login button[type=submit]"))
                .await
                .unwrap()
                .click()
                .await
                .unwrap();
        }
    };
    login("wrong").await;
    b.wait_for(
        "the refusal",
        "document.querySelector('form.login .result').textContent === 'Wrong password.'",
        10 * SECS,
    )
    .await;
    b.screenshot("login-wrong-password").await;
    login("correct horse battery").await;
    b.wait_for(
        "back on the channels page",
        "location.pathname === '/channels' && document.querySelector('#channels')",
        10 * SECS,
    )
    .await;
    // A write through the page carries the session's CSRF token.
    b.client
        .find(fantoccini::Locator::Css("button[data-action=probe]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    b.wait_for(
        "the probe's answer",
        "document.querySelector('.probe output').textContent.startsWith('#1 dead')",
        30 * SECS,
    )
    .await;
    b.client
        .find(fantoccini::Locator::Css("button[data-action=logout]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    b.wait_for("logged out", "location.pathname === '/login'", 10 * SECS)
        .await;
    for (path, _) in PAGES.iter().filter(|(p, _)| *p != "/login") {
        b.goto(&srv.url(path)).await;
        b.wait_for(
            &format!("{path} locked"),
            "location.pathname === '/login'",
            10 * SECS,
        )
        .await;
    }
    let status = b
        .js("return fetch('/api/sessions').then(r => r.status)")
        .await;
    assert_eq!(status, json!(401));
    b.close().await;
}
