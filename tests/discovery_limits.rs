//! Discovery hardening (issue 12): UDP 65001 and SSDP answer only the
//! interface HTTP serves, within a reply budget per socket, per host and
//! in total, and a flood of M-SEARCH from one socket cannot starve
//! another's search. Everything here binds 127.0.0.1:0.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use streamforge::plex::discovery::{self, Reply, Request};
use streamforge::plex::limit::Limits;
use streamforge::plex::ssdp::{SsdpOptions, SsdpResponder};
use streamforge::plex::udp::UdpResponder;
use streamforge::plex::{Advert, Device};
use tokio::net::UdpSocket;

fn advert(http_addr: SocketAddr) -> Arc<Advert> {
    Arc::new(Advert {
        device: Arc::new(Device {
            device_id: 0x105404BE,
            friendly_name: "StreamForge".into(),
            device_auth: "x".into(),
            http_addr: Some(http_addr),
        }),
        http_addr,
        public_url: None,
        tuner_count: Box::new(|| 2),
    })
}

fn request() -> Vec<u8> {
    Request {
        device_type: Some(discovery::DEVICE_TYPE_TUNER),
        device_id: Some(discovery::WILDCARD),
        multi_types: vec![],
    }
    .encode()
}

fn msearch(mx: u32) -> Vec<u8> {
    format!(
        "M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: \"ssdp:discover\"\r\nMX: {mx}\r\nST: upnp:rootdevice\r\n\r\n"
    )
    .into_bytes()
}

/// Datagrams that reach `sock` until it has been quiet for `quiet`.
async fn drain(sock: &UdpSocket, quiet: Duration) -> Vec<Vec<u8>> {
    let mut got = Vec::new();
    let mut buf = [0u8; 2048];
    while let Ok(Ok((n, _))) = tokio::time::timeout(quiet, sock.recv_from(&mut buf)).await {
        got.push(buf[..n].to_vec());
    }
    got
}

/// An HTTP address to advertise: a port the kernel handed out on
/// 127.0.0.1 (nothing listens on it; the replies only name it).
fn http_addr() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind 127.0.0.1:0")
}

/// The most a single socket may be sent in `elapsed`: its burst plus its
/// rate over the time (rounded up), by the budget the responders use.
fn socket_budget(elapsed: Duration) -> usize {
    let r = Limits::DISCOVERY.per_socket;
    (r.burst + r.per_sec * elapsed.as_secs_f64()).ceil() as usize
}

#[tokio::test(flavor = "multi_thread")]
async fn udp_discovery_replies_are_rate_limited_per_source_issue_12() {
    let responder = UdpResponder::start("127.0.0.1:0".parse().unwrap(), advert(http_addr()))
        .await
        .unwrap();
    let to = responder.local_addr();
    let flood = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let t0 = Instant::now();
    for _ in 0..200 {
        flood.send_to(&request(), to).await.unwrap();
    }
    // The legitimate client on the same host, while the flood's replies
    // are still being refused.
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    client.send_to(&request(), to).await.unwrap();
    let answer = drain(&client, Duration::from_secs(3)).await;
    assert_eq!(answer.len(), 1, "the other socket is answered once");
    assert_eq!(Reply::decode(&answer[0]).unwrap().device_id, 0x105404BE);
    let replies = drain(&flood, Duration::from_millis(500)).await;
    let budget = socket_budget(t0.elapsed());
    assert!(
        !replies.is_empty() && replies.len() <= budget && replies.len() < 200,
        "{} replies to 200 requests, budget {budget}",
        replies.len()
    );
    responder.stop().await;
}

/// HTTP on one LAN address: a request whose route back does not leave
/// through it (here, loopback) is not answered.
#[tokio::test(flavor = "multi_thread")]
async fn udp_discovery_ignores_peers_outside_the_http_interface_issue_12() {
    // 192.0.2.1 (TEST-NET-1) stands for "a LAN address that is not the
    // way back to this peer".
    let responder = UdpResponder::start(
        "127.0.0.1:0".parse().unwrap(),
        advert("192.0.2.1:5004".parse().unwrap()),
    )
    .await
    .unwrap();
    let to = responder.local_addr();
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    client.send_to(&request(), to).await.unwrap();
    assert!(drain(&client, Duration::from_millis(700)).await.is_empty());
    responder.stop().await;
    // The same request to a loopback-scoped responder is answered: the
    // silence above is the scope, not a broken request.
    let responder = UdpResponder::start("127.0.0.1:0".parse().unwrap(), advert(http_addr()))
        .await
        .unwrap();
    client
        .send_to(&request(), responder.local_addr())
        .await
        .unwrap();
    assert_eq!(drain(&client, Duration::from_secs(3)).await.len(), 1);
    responder.stop().await;
}

/// 190 M-SEARCH/s from one socket used to fill the delay queue so that no
/// other search was answered.
#[tokio::test(flavor = "multi_thread")]
async fn ssdp_flood_from_one_socket_does_not_starve_another_issue_12() {
    let opts = SsdpOptions {
        bind: "127.0.0.1:0".parse().unwrap(),
        join_multicast: false,
        notify_to: None,
        notify_every: Duration::from_secs(3600),
    };
    let ssdp = SsdpResponder::start(opts, advert(http_addr()))
        .await
        .unwrap();
    let to = ssdp.local_addr();
    let flood = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let t0 = Instant::now();
    // MX 2: every answer the flood gets queued waits up to 2 s.
    for _ in 0..190 {
        flood.send_to(&msearch(2), to).await.unwrap();
    }
    client.send_to(&msearch(1), to).await.unwrap();
    for _ in 0..190 {
        flood.send_to(&msearch(2), to).await.unwrap();
    }
    let answer = drain(&client, Duration::from_secs(4)).await;
    assert_eq!(answer.len(), 1, "the legitimate search is answered");
    let text = String::from_utf8_lossy(&answer[0]);
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(text.contains("\r\nST: upnp:rootdevice\r\n"), "{text}");
    let flood_answers = drain(&flood, Duration::from_secs(3)).await;
    let budget = socket_budget(t0.elapsed());
    assert!(
        flood_answers.len() <= budget && flood_answers.len() < 380,
        "{} answers to 380 searches, budget {budget}",
        flood_answers.len()
    );
    ssdp.stop().await;
}
