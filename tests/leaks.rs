//! Issue 12: a planted provider user, password and token, in every URL
//! shape the old redaction missed, never reach a served body (API, 503s,
//! lineup, playlist, guide), the event store or a log line at debug, nor
//! `probe`'s output for an unparsable or unreachable URL.

use std::time::Duration;

use crate::util::*;

const USER: &str = "Uzq7user";
const PASS: &str = "Pzq7pass";
const TOKEN: &str = "Tzq7tok";

fn assert_clean(what: &str, text: &str) {
    for secret in [USER, PASS, TOKEN] {
        let lines: Vec<&str> = text.lines().filter(|l| l.contains(secret)).collect();
        assert!(
            lines.is_empty(),
            "{what} leaks {secret}:\n{}",
            lines.join("\n")
        );
    }
}

/// Every shape from the issue, on a live HTTP upstream (404s) and on a
/// closed port (refused).
fn candidates(up: &str) -> Vec<String> {
    vec![
        format!("http://127.0.0.1:9/iptv/live/{USER}/{PASS}/2.ts"),
        format!("http://{up}/LIVE/{USER}/{PASS}/3.ts"),
        format!("http://{up}/{USER}/{PASS}/abc.ts"),
        format!("http://{up}/s.ts?u={USER}&p={PASS}"),
        format!("http://{up}/x.ts?secret={PASS}&passcode={PASS}&access-token={TOKEN}"),
        format!("http://{up}/k.ts?X-Amz-Signature={TOKEN}"),
        format!("http://{up}/token/{TOKEN}/index.m3u8"),
        format!("http://{up}/a.ts#password={PASS}"),
        format!("http://{USER}:{PASS}@{up}/live/1.ts"),
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn planted_credentials_reach_no_body_event_or_log_issue_12() {
    let up = Upstream::start().await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let streams = candidates(&up.addr.to_string())
        .iter()
        .map(|s| format!("{s:?}"))
        .collect::<Vec<_>>()
        .join(", ");
    let toml = format!(
        "[server]\nlisten = \"127.0.0.1:{port}\"\ndata_dir = \"{}\"\n[discovery]\nudp = false\nssdp = false\n\
         [stream]\nconnect_timeout_ms = 1000\n\
         [[channel]]\nnumber = \"7\"\nname = \"Leaky\"\nstreams = [{streams}]\n",
        tmp.path().display(),
    );
    let (mut child, base, log) = spawn_serve(tmp.path(), &toml, port).await;
    let client = reqwest::Client::new();
    let mut served = String::new();
    // The tune fails on every candidate: a 503 with a tuner error code.
    let r = client.get(format!("{base}/auto/v7")).send().await.unwrap();
    let status = r.status();
    served += &format!("{:?}\n", r.headers());
    served += &r.text().await.unwrap_or_default();
    assert!(status.is_server_error(), "{status}: {served}");
    // Wait for the session's end to be stored, then read everything.
    let mut events = String::new();
    for _ in 0..200 {
        events = client
            .get(format!("{base}/api/events?limit=500"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if events.contains("exhausted") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(events.contains("candidate_failed"), "{events}");
    assert!(events.contains("/LIVE/***/***/3.ts"), "{events}");
    for path in [
        "/api/sessions",
        "/api/channels",
        "/api/channels/7",
        "/api/streams",
        "/api/sources",
        "/api/epg-sources",
        "/api/accounts",
        "/api/events/stats",
        "/api/urls",
        "/lineup.json",
        "/playlist.m3u",
        "/epg.xml",
        "/discover.json",
        "/device.xml",
    ] {
        let r = client.get(format!("{base}{path}")).send().await.unwrap();
        served += &format!("{path}: {}\n", r.status());
        served += &r.text().await.unwrap_or_default();
    }
    sigterm(&child);
    let t0 = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if t0.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            panic!("did not stop within 10 s of SIGTERM");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let logs = std::fs::read_to_string(&log).unwrap();
    assert!(
        logs.contains("candidate_failed"),
        "the log shows the failures"
    );
    assert_clean("served bodies", &served);
    assert_clean("/api/events", &events);
    assert_clean("the debug log", &logs);
}

#[tokio::test(flavor = "multi_thread")]
async fn probe_output_hides_credentials_of_bad_and_dead_urls_issue_12() {
    let inputs = [
        format!("http://{USER}:{PASS}@[bad/live/{USER}/{PASS}/1.ts"),
        format!("ht!tp://{USER}:{PASS}@h/x"),
        format!("http://127.0.0.1:9/iptv/live/{USER}/{PASS}/2.ts"),
        format!("http://127.0.0.1:9/x.ts?secret={PASS}&access-token={TOKEN}#password={PASS}"),
    ];
    for input in &inputs {
        for json in [false, true] {
            let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_streamforge"));
            cmd.args(["probe", input, "--duration", "1"]);
            if json {
                cmd.arg("--json");
            }
            let out = cmd
                .current_dir(std::env::temp_dir())
                .env("RUST_LOG", "debug")
                .output()
                .await
                .unwrap();
            assert!(
                !out.status.success(),
                "{input}: probe of a bad URL succeeded"
            );
            let text = format!(
                "{}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(!text.trim().is_empty());
            assert_clean(&format!("probe {input} (json {json})"), &text);
        }
    }
}
