//! Issue 12: who may use management. The tuner face stays open; `/api/*`
//! answers only to loopback until a password is set, then asks for a
//! session (with CSRF on writes) or an API token; foreign `Host` and
//! `Origin` values are refused; `set-password` and `token` work from the
//! command line against the same data directory.

use reqwest::StatusCode;
use reqwest::header::{COOKIE, HOST, ORIGIN, SET_COOKIE};
use serde_json::json;

use crate::util::{TestServer, channel, fast_config};

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn server() -> TestServer {
    let cfg = fast_config(vec![channel("101", vec!["http://127.0.0.1:9/x.ts".into()])]);
    TestServer::start(cfg).await
}

/// Sets the password over the API (allowed from loopback while none is
/// set) and returns the session cookie and CSRF token it answers with.
async fn set_password(s: &TestServer, pw: &str) -> (String, String) {
    let r = client()
        .put(s.url("/api/auth/password"))
        .json(&json!({ "password": pw }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{:?}", r.text().await);
    session_of(r).await
}

async fn session_of(r: reqwest::Response) -> (String, String) {
    let cookie = r
        .headers()
        .get(SET_COOKIE)
        .expect("a session cookie")
        .to_str()
        .unwrap()
        .to_string();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Strict"), "{cookie}");
    let pair = cookie.split(';').next().unwrap().to_string();
    let body: serde_json::Value = r.json().await.unwrap();
    (pair, body["csrf"].as_str().unwrap().to_string())
}

#[tokio::test]
async fn issue12_management_is_loopback_only_until_a_password_is_set() {
    let s = server().await;
    let c = client();
    let r = c.get(s.url("/api/sessions")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let st: serde_json::Value = c
        .get(s.url("/api/auth/status"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(st["password_set"], false);
    assert_eq!(st["open_without_login"], true);
    assert!(st["hint"].as_str().unwrap().contains("set-password"));
    // Through a proxy on this machine the peer is not really loopback.
    let r = c
        .get(s.url("/api/sessions"))
        .header("X-Forwarded-For", "203.0.113.7")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let msg = r.text().await.unwrap();
    assert!(msg.contains("set-password"), "{msg}");
    s.stop().await;
}

#[tokio::test]
async fn issue12_a_password_locks_management_and_leaves_the_tuner_open() {
    let s = server().await;
    let c = client();
    let (cookie, csrf) = set_password(&s, "correct horse battery").await;

    // Management without credentials: 401 for the API, login for pages.
    let r = c.get(s.url("/api/sessions")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = c
        .get(s.url("/"))
        .header("Accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(
        r.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/login?next=")
    );
    // The tuner face needs no login.
    for p in [
        "/discover.json",
        "/lineup.json",
        "/lineup_status.json",
        "/device.xml",
        "/playlist.m3u",
        "/healthz",
    ] {
        let r = c.get(s.url(p)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{p}");
    }

    // The session from setting the password works; a write needs CSRF.
    let r = c
        .get(s.url("/api/sessions"))
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = c
        .post(s.url("/api/lineup/rebuild"))
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "a write without CSRF");
    let r = c
        .post(s.url("/api/lineup/rebuild"))
        .header(COOKIE, &cookie)
        .header("X-CSRF-Token", &csrf)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());

    // Wrong password, then the right one.
    let r = c
        .post(s.url("/api/auth/login"))
        .json(&json!({ "password": "wrong" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = c
        .post(s.url("/api/auth/login"))
        .json(&json!({ "password": "correct horse battery" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let (cookie2, _) = session_of(r).await;
    let st: serde_json::Value = c
        .get(s.url("/api/auth/status"))
        .header(COOKIE, &cookie2)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(st["logged_in"], true);
    assert_eq!(st["password_set"], true);

    // Logging out ends that session.
    let r = c
        .post(s.url("/api/auth/logout"))
        .header(COOKIE, &cookie2)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = c
        .get(s.url("/api/sessions"))
        .header(COOKIE, &cookie2)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    s.stop().await;
}

#[tokio::test]
async fn issue12_api_tokens_work_until_revoked() {
    let s = server().await;
    let c = client();
    let (cookie, csrf) = set_password(&s, "correct horse battery").await;
    let r = c
        .post(s.url("/api/auth/tokens"))
        .header(COOKIE, &cookie)
        .header("X-CSRF-Token", &csrf)
        .json(&json!({ "name": "backup script" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let t: serde_json::Value = r.json().await.unwrap();
    let token = t["token"].as_str().unwrap().to_string();
    // A token needs no CSRF header: it is not sent by browsers on their own.
    let r = c
        .post(s.url("/api/lineup/rebuild"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    let list: serde_json::Value = c
        .get(s.url("/api/auth/tokens"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list[0]["name"], "backup script");
    assert!(
        !list.to_string().contains(&token),
        "a listing never shows the token"
    );
    let id = t["id"].as_i64().unwrap();
    let r = c
        .delete(s.url(&format!("/api/auth/tokens/{id}")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = c
        .get(s.url("/api/sessions"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    s.stop().await;
}

#[tokio::test]
async fn issue12_foreign_host_and_origin_are_refused() {
    let s = server().await;
    let c = client();
    // DNS rebinding: a page on rebind.example resolves to us and reads.
    let r = c
        .get(s.url("/api/sessions"))
        .header(HOST, "rebind.attacker.example:5004")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.text().await.unwrap().contains("allowed_hosts"));
    // A cross-site form post from the user's own browser on loopback.
    let r = c
        .post(s.url("/api/lineup/rebuild"))
        .header(ORIGIN, "http://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // Our own origin is fine.
    let r = c
        .post(s.url("/api/lineup/rebuild"))
        .header(ORIGIN, format!("http://{}", s.addr))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    // The Host never becomes the BaseURL or a lineup URL.
    for host in ["rebind.attacker.example:5004", "evil.example"] {
        let d: serde_json::Value = c
            .get(s.url("/discover.json"))
            .header(HOST, host)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let base = d["BaseURL"].as_str().unwrap();
        assert!(!base.contains("example"), "{base}");
        let lineup = c
            .get(s.url("/lineup.json"))
            .header(HOST, host)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(!lineup.contains("example"), "{lineup}");
    }
    // A Host we are (loopback) is used as given.
    let d: serde_json::Value = c
        .get(s.url("/discover.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(d["BaseURL"], format!("http://{}", s.addr));
    s.stop().await;
}

#[tokio::test]
async fn issue12_failed_logins_are_rate_limited() {
    let s = server().await;
    let c = client();
    set_password(&s, "correct horse battery").await;
    let mut statuses = Vec::new();
    for _ in 0..12 {
        let r = c
            .post(s.url("/api/auth/login"))
            .json(&json!({ "password": "guess" }))
            .send()
            .await
            .unwrap();
        statuses.push(r.status());
    }
    assert_eq!(statuses[0], StatusCode::UNAUTHORIZED);
    assert_eq!(*statuses.last().unwrap(), StatusCode::TOO_MANY_REQUESTS);
    // Even the right password waits out the window.
    let r = c
        .post(s.url("/api/auth/login"))
        .json(&json!({ "password": "correct horse battery" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    s.stop().await;
}

#[tokio::test]
async fn issue12_set_password_and_token_commands() {
    let dir = tempfile::tempdir().unwrap();
    let cfg_path = dir.path().join("streamforge.toml");
    std::fs::write(
        &cfg_path,
        format!("[server]\ndata_dir = {:?}\n", dir.path().join("data")),
    )
    .unwrap();
    let run = |args: &[&str], stdin: &str| {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_streamforge"))
            .args(args)
            .arg("--config")
            .arg(&cfg_path)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    let short = run(&["set-password"], "short\n");
    assert!(!short.status.success());
    assert!(String::from_utf8_lossy(&short.stderr).contains("at least 8"));
    let printed = run(&["set-password", "--print"], "correct horse battery\n");
    assert!(printed.status.success());
    assert!(String::from_utf8_lossy(&printed.stdout).starts_with("$argon2id$"));
    let out = run(&["set-password"], "correct horse battery\n");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(&["token", "create", "cron"], "");
    assert!(out.status.success());
    let token = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(token.starts_with("sf_"), "{token}");
    let listed = run(&["token", "list"], "");
    assert!(String::from_utf8_lossy(&listed.stdout).contains("cron"));
    assert!(!String::from_utf8_lossy(&listed.stdout).contains(&token));

    // A server on that data directory wants the password and takes the token.
    let mut cfg = fast_config(vec![]);
    cfg.server.data_dir = dir.path().join("data");
    let s = TestServer::start_in(cfg, dir.path().join("data")).await;
    let c = client();
    let r = c.get(s.url("/api/sessions")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = c
        .get(s.url("/api/sessions"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = c
        .post(s.url("/api/auth/login"))
        .json(&json!({ "password": "correct horse battery" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    s.stop().await;
}
