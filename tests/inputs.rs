//! Input hygiene and weak clients (issue 15): an upstream whose encoder
//! restarts mid-PES, local candidates that block (a FIFO), `HEAD` on a
//! stream URL, and a client reading at a tenth of the channel's rate.

use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::util::tscheck;
use crate::util::*;

const SECS: Duration = Duration::from_secs(1);

/// The byte stream jumps back to byte 0 of the file in the middle of an
/// audio PES: what reaches the client decodes without one error, and the
/// jump is recorded as a `discontinuity` event with its size.
#[tokio::test(flavor = "multi_thread")]
async fn encoder_restart_mid_pes_decodes_cleanly_and_is_recorded_issue15() {
    let up = Upstream::start().await.unwrap();
    let feed = up.add("restart", fixture_bytes("main.ts"));
    feed.set_mode(Mode::RestartAfter(2500));
    let srv = TestServer::start(fast_config(vec![channel(
        "101",
        vec![up.ts_url("restart")],
    )]))
    .await;
    let cap = Capture::start(&srv.url("/auto/v101")).await;
    assert_eq!(cap.status, 200);
    // The cut PES is flagged corrupt (one event), the jump back is another.
    let deadline = tokio::time::Instant::now() + 10 * SECS;
    let ev = loop {
        let found = srv
            .events_of("discontinuity")
            .await
            .into_iter()
            .find(|e| e["detail"]["cause"] == "timestamp_jump");
        if let Some(e) = found {
            break e;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no timestamp_jump discontinuity: {:?}",
            srv.events().await
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let d = &ev["detail"];
    assert_eq!(d["source_index"], 0, "{ev}");
    assert!(
        d["jump_ms"].as_f64().unwrap() < -1000.0,
        "back to the file's start: {ev}"
    );
    // Media from after the restart.
    let before = cap.len();
    cap.wait_bytes(before + 150_000, 10 * SECS).await;
    let s = srv.session("101").await.unwrap();
    assert_eq!(s["failovers"], 0, "absorbed inside the input: {s}");
    assert!(s["timestamp_jumps"].as_u64().unwrap() >= 1, "{s}");
    assert!(
        s["corrupt_dropped"].as_u64().unwrap() >= 1,
        "the cut PES: {s}"
    );
    let ts = cap.finish();
    let errors = ffmpeg_errors(&ts);
    assert!(errors.is_empty(), "ffmpeg -v error: {errors:?}");
    if let Some(errors) = mpv_errors(&ts) {
        assert!(errors.is_empty(), "mpv: {errors:?}");
    }
    tscheck::check(&ts).assert_clean(1000.0);
    srv.stop().await;
}

/// A FIFO as a configured candidate is refused before libavformat opens
/// it (an open with no writer blocks beyond any interrupt): tuning it again
/// and again answers at once and leaves no thread behind.
#[tokio::test(flavor = "multi_thread")]
async fn fifo_candidate_tuned_repeatedly_leaves_no_thread_issue15() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("feed.ts");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo(3) reads the NUL-terminated path and nothing else.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
    let mut cfg = fast_config(vec![channel("915", vec![fifo.display().to_string()])]);
    cfg.stream.linger_ms = 100;
    let srv = TestServer::start(cfg).await;
    for _ in 0..5 {
        let r = reqwest::get(srv.url("/auto/v915")).await.unwrap();
        assert_eq!(r.status(), 503);
    }
    // A tune may join the previous, still-ending session and share its
    // answer: every failure recorded is the refusal.
    let failed = srv.events_of("candidate_failed").await;
    assert!(!failed.is_empty());
    assert!(
        failed
            .iter()
            .all(|f| f["detail"]["reason"] == "not_regular_file"),
        "{failed:?}"
    );
    assert!(
        failed[0]["detail"]["error"]
            .as_str()
            .unwrap()
            .contains("FIFO"),
        "{failed:?}"
    );
    // Session threads end once their session has; no open thread stays.
    let deadline = tokio::time::Instant::now() + 5 * SECS;
    loop {
        let left: Vec<String> = thread_names()
            .into_iter()
            .filter(|n| n.starts_with("demux-915"))
            .collect();
        if left.is_empty() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "threads left behind: {left:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    srv.stop().await;
}

/// `HEAD` answers a stream's headers from the lineup: no session, no
/// upstream connection; an unknown channel is 404.
#[tokio::test(flavor = "multi_thread")]
async fn head_on_a_stream_url_does_not_tune_issue15() {
    let up = Upstream::start().await.unwrap();
    let feed = up.add("main", fixture_bytes("main.ts"));
    let srv = TestServer::start(fast_config(vec![channel("101", vec![up.ts_url("main")])])).await;
    let client = reqwest::Client::new();
    for path in ["/auto/v101", "/stream/101", "/tuner0/v101"] {
        let r = client.head(srv.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        assert_eq!(r.headers()["content-type"], "video/mp2t", "{path}");
    }
    for path in ["/auto/v999", "/stream/999", "/tuner0/v999", "/tuner99/v101"] {
        let r = client.head(srv.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 404, "{path}");
    }
    assert!(srv.session("101").await.is_none(), "no session started");
    assert_eq!(feed.connections.load(Ordering::SeqCst), 0, "no upstream");
    srv.stop().await;
}

/// A client reading a tenth of the channel's rate is seen lagging within
/// 20 s (moved to the newest join point, counted per client in
/// `/api/sessions`), while a normal client beside it is never moved.
#[tokio::test(flavor = "multi_thread")]
async fn slow_client_is_reported_within_20s_beside_a_normal_one_issue15() {
    let up = Upstream::start().await.unwrap();
    up.add("main", fixture_bytes("main.ts"));
    let srv = TestServer::start(fast_config(vec![channel("101", vec![up.ts_url("main")])])).await;
    let normal = Capture::start(&srv.url("/auto/v101")).await;
    assert_eq!(normal.status, 200);
    // main.ts is ~540 kbit/s (68 kB/s): a tenth of it.
    let slow = SlowClient::start(srv.addr, "/auto/v101", 6_800).await;
    let deadline = tokio::time::Instant::now() + 20 * SECS;
    let session = loop {
        let s = srv.session("101").await.expect("session");
        if s["readers_lagged"].as_u64().unwrap_or(0) >= 1 {
            break s;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "slow client not reported within 20 s: {s}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let readers = session["readers"].as_array().expect("readers");
    assert_eq!(readers.len(), 2, "{session}");
    // The normal client joined first.
    let (first, second) = (&readers[0], &readers[1]);
    assert!(first["id"].as_u64() < second["id"].as_u64());
    assert_eq!(
        first["lags"], 0,
        "the normal client is not moved: {session}"
    );
    assert!(second["lags"].as_u64().unwrap() >= 1, "{session}");
    assert!(slow.received() > 0, "the slow client is being served");
    let before = normal.len();
    normal.wait_bytes(before + 100_000, 10 * SECS).await;
    let s = srv.session("101").await.unwrap();
    assert_eq!(s["readers"][0]["lags"], 0, "{s}");
    let ts = normal.finish();
    tscheck::check(&ts).assert_clean(1000.0);
    // A client still reading holds a graceful shutdown: hang up first.
    drop(slow);
    srv.stop().await;
}

/// Issue 11's read batching finds the socket of a plain-HTTP TS input by
/// walking libavformat's contexts: it must be the very socket connected to
/// the upstream, and a file input must have none (it is left unbatched).
#[tokio::test(flavor = "multi_thread")]
async fn read_batching_finds_the_socket_of_an_http_input_and_none_for_a_file() {
    use std::os::fd::BorrowedFd;
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;

    use streamforge::media::batch::input_socket;
    use streamforge::media::input::{self, CONFIG_PROTOCOLS, Interrupt, OpenOptions};

    let up = Upstream::start().await.unwrap();
    up.add("a", fixture_bytes("main.ts"));
    let url = up.ts_url("a");
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/main.ts");
    let addr = up.addr;
    tokio::task::spawn_blocking(move || {
        let opts = OpenOptions {
            connect_timeout: 10 * SECS,
            user_agent: "test".into(),
            referrer: None,
            protocols: Some(CONFIG_PROTOCOLS),
            skip_fps_probe: true,
        };
        let irq = || Interrupt::new(Arc::new(AtomicBool::new(false)), opts.connect_timeout);
        let opened = input::open(&url, &opts, irq()).unwrap();
        let fd = input_socket(&opened.input).expect("the input's socket");
        // SAFETY: the input keeps the socket open while it is borrowed.
        let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
        let sock = socket2::SockRef::from(&borrowed);
        let peer = sock.peer_addr().unwrap().as_socket().unwrap();
        assert_eq!(peer, addr, "the socket connected to the upstream");
        let file = input::open(fixture, &opts, irq()).unwrap();
        assert_eq!(input_socket(&file.input), None, "a file has no socket");
    })
    .await
    .unwrap();
}
