//! Issue 12: connection limits. Slowloris and idle floods past
//! `server.max_connections` must leave `/healthz` and a new tune
//! answering; header and idle deadlines close what does not talk; a
//! stream whose bytes flow is never cut by them. (How fast `/healthz`
//! answers under attack is measured by `scripts/attack.sh`, not here.)

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::util::*;

fn limited(channels: Vec<streamforge::config::ChannelConfig>) -> streamforge::config::Config {
    let mut c = fast_config(channels);
    c.server.max_connections = 64;
    c.server.header_timeout_ms = 1500;
    c.server.idle_timeout_ms = 2000;
    c
}

/// Holds `n` connections that send one header byte every 200 ms.
async fn slowloris(addr: std::net::SocketAddr, n: usize) -> Vec<tokio::task::JoinHandle<()>> {
    let mut v = Vec::new();
    for _ in 0..n {
        v.push(tokio::spawn(async move {
            loop {
                let Ok(mut s) = TcpStream::connect(addr).await else {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                };
                for b in b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-a: ".iter().cycle() {
                    if s.write_all(&[*b]).await.is_err() {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                // Dropped: come back, as attack tools do, at their pace.
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }));
    }
    v
}

/// Opens `n` connections that send nothing, reconnecting when closed.
async fn idle(addr: std::net::SocketAddr, n: usize) -> Vec<tokio::task::JoinHandle<()>> {
    let mut v = Vec::new();
    for _ in 0..n {
        v.push(tokio::spawn(async move {
            loop {
                let Ok(mut s) = TcpStream::connect(addr).await else {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                };
                let mut b = [0u8; 1];
                let _ = s.read(&mut b).await;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }));
    }
    v
}

#[tokio::test]
async fn issue12_floods_past_the_cap_leave_healthz_and_tunes_answering() {
    let up = Upstream::start().await.unwrap();
    up.add("main", fixture_bytes("main.ts"));
    let s = TestServer::start(limited(vec![channel("101", vec![up.ts_url("main")])])).await;
    let mut attack = slowloris(s.addr, 150).await;
    attack.extend(idle(s.addr, 150).await);
    tokio::time::sleep(Duration::from_secs(2)).await;
    // Every fresh request is still served (each on a new connection).
    let c = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    for _ in 0..20 {
        let r = c
            .get(s.url("/healthz"))
            .send()
            .await
            .expect("healthz under attack");
        assert_eq!(r.status(), 200);
    }
    // And a tune starts and delivers media.
    let cap = Capture::start(&s.url("/auto/v101")).await;
    cap.wait_bytes(188 * 1000, Duration::from_secs(15)).await;
    assert!(
        cap.len() >= 188 * 1000,
        "tune under attack got {} bytes",
        cap.len()
    );
    // The stream is serving, so no newcomer may evict it: it keeps flowing
    // past the idle deadline while the flood goes on.
    let before = cap.len();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        cap.len() > before && !cap.ended(),
        "the stream kept flowing"
    );
    for t in attack {
        t.abort();
    }
    cap.finish();
    s.stop().await;
}

#[tokio::test]
async fn issue12_connections_that_do_not_talk_are_closed() {
    let s = TestServer::start(limited(vec![])).await;
    // Idle: never sends a request.
    let mut quiet = TcpStream::connect(s.addr).await.unwrap();
    // Slowloris: starts a request and never finishes its headers.
    let mut slow = TcpStream::connect(s.addr).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    // Keep-alive: one request, then nothing.
    let mut kept = TcpStream::connect(s.addr).await.unwrap();
    kept.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 4096];
    let n = kept.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    for (name, sock) in [
        ("idle", &mut quiet),
        ("slowloris", &mut slow),
        ("keep-alive", &mut kept),
    ] {
        // Closed by the 1.5 s header deadline; far sooner than this bound.
        let r = tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                match sock.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
            }
        })
        .await;
        assert!(r.is_ok(), "the {name} connection was left open");
    }
    s.stop().await;
}

#[tokio::test]
async fn issue12_when_every_connection_is_serving_a_newcomer_gets_503() {
    let up = Upstream::start().await.unwrap();
    up.add("main", fixture_bytes("main.ts"));
    let mut cfg = limited(vec![channel("101", vec![up.ts_url("main")])]);
    cfg.server.max_connections = 16;
    cfg.tuner.count = 1;
    let s = TestServer::start(cfg).await;
    let mut caps = Vec::new();
    for _ in 0..16 {
        caps.push(Capture::start(&s.url("/auto/v101")).await);
    }
    for c in &caps {
        c.wait_bytes(188 * 10, Duration::from_secs(15)).await;
    }
    let r = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap()
        .get(s.url("/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    assert!(r.text().await.unwrap().contains("max_connections"));
    for c in caps {
        c.finish();
    }
    // Once they leave, it answers again.
    let mut ok = false;
    for _ in 0..50 {
        if let Ok(r) = reqwest::get(s.url("/healthz")).await
            && r.status() == 200
        {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ok, "healthz answers once the streams end");
    s.stop().await;
}
