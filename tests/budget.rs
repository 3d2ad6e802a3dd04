//! Provider connection limits as the tuner budget (issue 10): a session
//! uses one connection of its candidate's account; a full account's
//! candidate is skipped at connect time; the warm standby is not opened
//! past the limit (the switch closes the primary first, then opens the
//! backup cold); a client changing channel gets a short grace, and a
//! lingering session yields at once. The loopback upstream counts open
//! connections per feed; a sampler fails the test at two on a
//! one-connection account.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use streamforge::demo::upstream::Feed;
use streamforge::lineup::{Candidate, CandidateSource, Channel, Tier};

use crate::util::tscheck;
use crate::util::*;

const SECS: Duration = Duration::from_secs(1);

/// A candidate of provider account `account`.
fn provider(url: String, account: i64) -> Candidate {
    Candidate {
        url,
        source: CandidateSource::Provider {
            source_id: account,
            name: format!("account {account}"),
        },
        tier: Tier::Unknown,
        user_agent: None,
        referrer: None,
        stream_name: None,
        stream_key: None,
    }
}

fn chan(number: &str, candidates: Vec<Candidate>) -> Channel {
    let mut c = Channel::new(number, &format!("Channel {number}"), &[]);
    c.candidates = candidates;
    c
}

/// Samples the open connections of one account's feeds (summed) every
/// 2 ms on its own thread and keeps the peak.
struct Sampler {
    peak: Arc<AtomicU64>,
    /// ms from the start when the peak was first reached.
    at_ms: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Sampler {
    fn start(feeds: Vec<Arc<Feed>>) -> Self {
        let peak = Arc::new(AtomicU64::new(0));
        let at_ms = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (p, a, s) = (peak.clone(), at_ms.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let t0 = std::time::Instant::now();
            while !s.load(Ordering::SeqCst) {
                let n: u64 = feeds.iter().map(|f| f.active.load(Ordering::SeqCst)).sum();
                if n > p.fetch_max(n, Ordering::SeqCst) {
                    a.store(t0.elapsed().as_millis() as u64, Ordering::SeqCst);
                }
                std::thread::sleep(Duration::from_millis(2));
            }
        });
        Self {
            peak,
            at_ms,
            stop,
            thread: Some(thread),
        }
    }

    /// Fails at two connections (one-connection account).
    fn assert_never_two(&self, what: &str) {
        let peak = self.peak.load(Ordering::SeqCst);
        assert!(
            peak <= 1,
            "{what}: {peak} concurrent connections on a one-connection account \
             (first at {} ms)",
            self.at_ms.load(Ordering::SeqCst)
        );
    }
}

impl Drop for Sampler {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

async fn wait_until<F: Fn() -> bool>(what: &str, timeout: Duration, f: F) {
    let deadline = tokio::time::Instant::now() + timeout;
    while !f() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what} not within {timeout:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn failures_of(srv: &TestServer, channel: &str) -> Vec<serde_json::Value> {
    srv.events_of("candidate_failed")
        .await
        .into_iter()
        .filter(|e| e["channel"] == channel)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn issue10_one_connection_account_fails_over_cold_never_two_connections() {
    let up = Upstream::start().await.unwrap();
    let primary = up.add("primary", fixture_bytes("main.ts"));
    let backup = up.add("backup", fixture_bytes("backup.ts"));
    primary.set_mode(Mode::StallAfter(2500));
    let srv = TestServer::start(fast_config(vec![])).await;
    srv.budget.set_limit(1, Some(1));
    srv.lineup.replace(vec![chan(
        "101",
        vec![
            provider(up.ts_url("primary"), 1),
            provider(up.ts_url("backup"), 1),
        ],
    )]);
    let sampler = Sampler::start(vec![primary.clone(), backup.clone()]);

    let cap = Capture::start(&srv.url("/auto/v101")).await;
    assert_eq!(cap.status, 200);
    assert_eq!(srv.budget.in_use(1), 1, "the session holds the connection");
    let ev = srv.wait_event("failover", 10 * SECS).await;
    let d = &ev["detail"];
    assert_eq!(
        (d["from_index"].as_u64(), d["to_index"].as_u64()),
        (Some(0), Some(1)),
        "{d}"
    );
    assert_eq!(d["reason"], "stall", "{d}");
    assert_eq!(d["warm_standby"], false, "no standby past the limit: {d}");
    assert!(
        d["note"].as_str().unwrap_or("").contains("no warm standby"),
        "{d}"
    );
    // The backup plays on.
    let before = cap.len();
    cap.wait_bytes(before + 100_000, 10 * SECS).await;
    let s = srv.session("101").await.unwrap();
    assert_eq!(s["source_index"], 1, "{s}");
    assert_eq!(s["state"], "healthy", "{s}");
    assert_eq!(
        backup.connections.load(Ordering::SeqCst),
        1,
        "the backup was opened once, cold (never as a standby)"
    );
    assert_eq!(srv.budget.in_use(1), 1);
    sampler.assert_never_two("during the failover");
    assert!(srv.events_of("exhausted").await.is_empty());
    // One muxer all along: the cold switch keeps the client's stream whole.
    let r = tscheck::check(&cap.finish());
    assert!(r.cc_errors.is_empty(), "{:?}", r.cc_errors);
    // The last client gone and the linger over, the connection is back.
    wait_until("connection released", 5 * SECS, || {
        srv.budget.in_use(1) == 0
    })
    .await;
    sampler.assert_never_two("after the session");
    drop(sampler);
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn issue10_candidate_on_a_full_account_is_skipped_at_connect() {
    let up = Upstream::start().await.unwrap();
    let a = up.add("a", fixture_bytes("main.ts"));
    let b1 = up.add("b1", fixture_bytes("main.ts"));
    let c1 = up.add("c1", fixture_bytes("main.ts"));
    up.add("b2", fixture_bytes("backup.ts"));
    up.add("c2", fixture_bytes("backup.ts"));
    let mut cfg = fast_config(vec![]);
    cfg.tuner.count = 3;
    cfg.tuner.zap_grace_ms = 300;
    let srv = TestServer::start(cfg).await;
    srv.budget.set_limit(1, Some(1));
    srv.budget.set_limit(2, Some(1));
    srv.lineup.replace(vec![
        chan("101", vec![provider(up.ts_url("a"), 1)]),
        // Next: another account.
        chan(
            "102",
            vec![provider(up.ts_url("b1"), 1), provider(up.ts_url("b2"), 2)],
        ),
        // Next: a config candidate (no account).
        chan(
            "103",
            vec![
                provider(up.ts_url("c1"), 1),
                Candidate::manual(up.ts_url("c2")),
            ],
        ),
    ]);
    let sampler = Sampler::start(vec![a.clone(), b1.clone(), c1.clone()]);
    let cap_a = Capture::start(&srv.url("/auto/v101")).await;
    assert_eq!(cap_a.status, 200);

    for (ch, next_account) in [("102", Some(2)), ("103", None)] {
        let cap = Capture::start(&srv.url(&format!("/auto/v{ch}"))).await;
        assert_eq!(cap.status, 200, "{ch} plays its next candidate");
        cap.wait_bytes(50_000, 5 * SECS).await;
        let failed = failures_of(&srv, ch).await;
        assert_eq!(failed.len(), 1, "{ch}: {failed:?}");
        let f = &failed[0]["detail"];
        assert_eq!(f["index"], 0, "{f}");
        assert_eq!(f["reason"], "account_full", "{f}");
        assert_eq!(f["phase"], "connect", "{f}");
        assert!(
            f["error"].as_str().unwrap().contains("1 of 1 in use"),
            "{f}"
        );
        let s = srv.session(ch).await.unwrap();
        assert_eq!(s["source_index"], 1, "{ch}: {s}");
        if let Some(acc) = next_account {
            assert_eq!(srv.budget.in_use(acc), 1);
        }
        drop(cap.finish());
    }
    assert_eq!(b1.connections.load(Ordering::SeqCst), 0, "never opened");
    assert_eq!(c1.connections.load(Ordering::SeqCst), 0, "never opened");
    // 101 kept its connection and plays on.
    let before = cap_a.len();
    cap_a.wait_bytes(before + 50_000, 5 * SECS).await;
    assert_eq!(srv.session("101").await.unwrap()["source_index"], 0);
    let view = srv.budget.view();
    assert_eq!(
        (view[0].account, view[0].in_use, view[0].max),
        (1, 1, Some(1))
    );
    assert_eq!(view[0].holders[0].channel, "101");
    sampler.assert_never_two("account 1");
    drop(cap_a.finish());
    drop(sampler);
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn issue10_zapping_on_a_one_connection_account_gets_a_grace() {
    let up = Upstream::start().await.unwrap();
    let a = up.add("a", fixture_bytes("main.ts"));
    let b = up.add("b", fixture_bytes("backup.ts"));
    let mut cfg = fast_config(vec![]);
    // A long linger: only the zap logic can free A's connection in time.
    cfg.stream.linger_ms = 10_000;
    assert_eq!(cfg.tuner.zap_grace_ms, 2000, "the default grace");
    let srv = TestServer::start(cfg).await;
    srv.budget.set_limit(1, Some(1));
    srv.lineup.replace(vec![
        chan("101", vec![provider(up.ts_url("a"), 1)]),
        chan("102", vec![provider(up.ts_url("b"), 1)]),
    ]);
    let sampler = Sampler::start(vec![a.clone(), b.clone()]);
    let cap_a = Capture::start(&srv.url("/auto/v101")).await;
    assert_eq!(cap_a.status, 200);
    cap_a.wait_bytes(50_000, 5 * SECS).await;

    // Plex opens the new channel while the old one's client is connected…
    let url_b = srv.url("/auto/v102");
    let t0 = tokio::time::Instant::now();
    let tune_b = tokio::spawn(async move { Capture::start(&url_b).await });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!tune_b.is_finished(), "B waits for A's connection");
    assert_eq!(b.connections.load(Ordering::SeqCst), 0);
    // …and closes the old one within the grace.
    drop(cap_a.finish());
    let cap_b = tune_b.await.unwrap();
    assert_eq!(cap_b.status, 200);
    cap_b.wait_bytes(50_000, 5 * SECS).await;
    let took = t0.elapsed();
    assert!(took < 6 * SECS, "B took {took:?}");
    assert!(failures_of(&srv, "102").await.is_empty());
    assert_eq!(srv.session("102").await.unwrap()["source_index"], 0);
    assert!(
        srv.session("101").await.is_none(),
        "A yielded at once instead of lingering 10 s"
    );
    assert_eq!(srv.budget.in_use(1), 1);
    sampler.assert_never_two("while zapping");
    drop(cap_b.finish());
    drop(sampler);
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn issue10_lingering_session_yields_its_connection_at_once() {
    let up = Upstream::start().await.unwrap();
    let a = up.add("a", fixture_bytes("main.ts"));
    let b = up.add("b", fixture_bytes("backup.ts"));
    let mut cfg = fast_config(vec![]);
    cfg.stream.linger_ms = 10_000;
    // Were the new tune to wait for the grace, it would take 8 s.
    cfg.tuner.zap_grace_ms = 8000;
    let srv = TestServer::start(cfg).await;
    srv.budget.set_limit(1, Some(1));
    srv.lineup.replace(vec![
        chan("101", vec![provider(up.ts_url("a"), 1)]),
        chan("102", vec![provider(up.ts_url("b"), 1)]),
    ]);
    let sampler = Sampler::start(vec![a.clone(), b.clone()]);
    let cap_a = Capture::start(&srv.url("/auto/v101")).await;
    cap_a.wait_bytes(50_000, 5 * SECS).await;
    drop(cap_a.finish());
    // A lingers with no clients, still holding the account's connection.
    wait_until("A's client gone", 5 * SECS, || {
        a.active.load(Ordering::SeqCst) == 1
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let s = srv.session("101").await.expect("A lingers");
    assert_eq!(s["clients"], 0, "{s}");
    assert_eq!(srv.budget.in_use(1), 1);

    let cap_b = Capture::start(&srv.url("/auto/v102")).await;
    assert_eq!(cap_b.status, 200);
    assert!(
        cap_b.first_byte_ms < 5000,
        "B started in {} ms: it did not wait out the 8 s grace",
        cap_b.first_byte_ms
    );
    assert!(srv.session("101").await.is_none(), "A was stopped");
    assert!(failures_of(&srv, "102").await.is_empty());
    sampler.assert_never_two("lingering hand-over");
    drop(cap_b.finish());
    drop(sampler);
    srv.stop().await;
}
