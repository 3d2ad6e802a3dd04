//! `streamforge probe` (issue 5): the real binary against fixtures, the
//! loopback upstream and a temporary config; its JSON checked against
//! Debian's `ffprobe`, its continuity count against `ffmpeg -v debug`.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::util::*;

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Out {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("probe JSON: {e}\n{}\n{}", self.stdout, self.stderr))
    }
}

/// Runs `streamforge probe ARGS` (from an empty directory, so no stray
/// streamforge.toml is read).
async fn probe(args: &[&str]) -> Out {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_streamforge"))
        .arg("probe")
        .args(args)
        .current_dir(dir.path())
        .env("RUST_LOG", "warn")
        .output()
        .await
        .expect("run streamforge");
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn secs(v: &Value) -> f64 {
    v.as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not a seconds string: {v}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn json_agrees_with_ffprobe_on_fixtures() {
    for name in [
        "main.ts",
        "backup.ts",
        "backup_480p.ts",
        "other_codec.ts",
        "two_audio.ts",
    ] {
        let path = fixture(name);
        let ours = probe(&[path.to_str().unwrap(), "--json"]).await;
        assert_eq!(ours.code, 0, "{name}: {}", ours.stderr);
        let ours = ours.json();
        let theirs = ffprobe_file(&path);
        let (of, tf) = (&ours["format"], &theirs["format"]);
        assert_eq!(of["format_name"], tf["format_name"], "{name}");
        assert_eq!(of["nb_streams"], tf["nb_streams"], "{name}");
        assert!(
            (secs(&of["duration"]) - secs(&tf["duration"])).abs() < 0.05,
            "{name}: format duration {of} vs {tf}"
        );
        assert!(
            (secs(&of["start_time"]) - secs(&tf["start_time"])).abs() < 0.001,
            "{name}: start"
        );
        let (os, ts) = (
            ours["streams"].as_array().unwrap(),
            theirs["streams"].as_array().unwrap(),
        );
        assert_eq!(os.len(), ts.len(), "{name}");
        for (o, t) in os.iter().zip(ts) {
            for key in [
                "index",
                "codec_name",
                "codec_type",
                "profile",
                "width",
                "height",
                "pix_fmt",
                "r_frame_rate",
                "avg_frame_rate",
                "sample_rate",
                "channels",
                "channel_layout",
                "id",
                "time_base",
                "start_pts",
                "duration_ts",
            ] {
                assert_eq!(o[key], t[key], "{name} stream {}: {key}", t["index"]);
            }
            assert!(
                (secs(&o["duration"]) - secs(&t["duration"])).abs() < 0.05,
                "{name} stream {}: duration",
                t["index"]
            );
        }
        // The file was read to its end.
        let h = &ours["health"];
        assert_eq!(h["end"], "end of file", "{name}");
        assert_eq!(h["continuity"]["measured"], true, "{name}");
        assert_eq!(h["continuity"]["errors"], 0, "{name}");
        assert!(
            h["discontinuities"].as_array().unwrap().is_empty(),
            "{name}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn human_report_of_a_file() {
    let out = probe(&[fixture("main.ts").to_str().unwrap()]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let s = &out.stdout;
    for want in [
        "Format    mpegts (MPEG-TS (MPEG-2 Transport Stream)), start 1.459 s, duration 20.021 s",
        "Stream    #0 [0x100] video: h264 (Main), yuv420p, 320x180, 25 fps",
        "Stream    #1 [0x101] audio: aac (LC), 48000 Hz, stereo, fltp",
        "GOP       50 frames, 2.00 s",
        "CC        0 errors",
    ] {
        assert!(s.contains(want), "missing {want:?} in\n{s}");
    }
}

/// TS packets of `data` on `pid` without a payload unit start.
fn continuation_packets(data: &[u8], pid: u16) -> Vec<usize> {
    data.chunks(188)
        .enumerate()
        .filter(|(_, p)| {
            p.len() == 188
                && (u16::from(p[1] & 0x1f) << 8 | u16::from(p[2])) == pid
                && p[1] & 0x40 == 0
        })
        .map(|(i, _)| i)
        .collect()
}

/// `main.ts` with every `every`-th continuation packet of the video PID
/// removed: each removal is exactly one continuity error on 0x100.
fn with_lost_packets(every: usize) -> (Vec<u8>, usize) {
    let data = fixture_bytes("main.ts");
    let drop: std::collections::HashSet<usize> = continuation_packets(&data, 0x100)
        .into_iter()
        .skip(every / 2)
        .step_by(every)
        .collect();
    let out: Vec<u8> = data
        .chunks(188)
        .enumerate()
        .filter(|(i, _)| !drop.contains(i))
        .flat_map(|(_, p)| p.to_vec())
        .collect();
    (out, drop.len())
}

#[tokio::test(flavor = "multi_thread")]
async fn injected_continuity_errors_are_counted_like_ffmpeg() {
    let (bytes, lost) = with_lost_packets(400);
    assert!(lost >= 5, "{lost}");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("main_lost_packets.ts");
    std::fs::write(&path, &bytes).unwrap();
    let out = probe(&[path.to_str().unwrap(), "--json"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let cc = &out.json()["health"]["continuity"];
    assert_eq!(cc["errors"], lost as u64, "{cc}");
    let pids = cc["pids"].as_array().unwrap();
    let video = pids
        .iter()
        .find(|p| p["pid"] == "0x100")
        .expect("0x100 listed");
    assert_eq!(video["errors"], lost as u64);
    assert!(
        pids.iter()
            .filter(|p| p["pid"] != "0x100")
            .all(|p| p["errors"] == 0),
        "{cc}"
    );
    // FFmpeg's own demuxer sees the same number.
    assert_eq!(
        ffmpeg_continuity_errors(&path),
        lost,
        "ffmpeg -v debug counts"
    );
    let human = probe(&[path.to_str().unwrap()]).await;
    assert!(
        human.stdout.contains(&format!("CC        {lost} errors")),
        "{}",
        human.stdout
    );
    assert!(
        human.stdout.contains(&format!("0x100 x{lost}")),
        "{}",
        human.stdout
    );
}

/// "Continuity check failed" lines of `ffmpeg -v debug` while it reads
/// the file through once. (It reads the start twice: stream analysis, then
/// a seek back to 0; lines before the end of the analysis are repeats.)
fn ffmpeg_continuity_errors(path: &Path) -> usize {
    let out = std::process::Command::new("ffmpeg")
        .args(["-hide_banner", "-v", "debug", "-i"])
        .arg(path)
        .args(["-f", "null", "-"])
        .output()
        .expect("ffmpeg is installed");
    let log = String::from_utf8_lossy(&out.stderr);
    let after = log
        .find("After avformat_find_stream_info()")
        .expect("ffmpeg debug log");
    log[after..]
        .lines()
        .filter(|l| l.contains("Continuity check failed"))
        .count()
}

/// The loopback upstream loops its 20 s file (and behaves as if it had
/// been live for a while, so a loop can fall inside a short probe, on the
/// wire if not yet in the demuxed packets): a loop breaks each PID's
/// counter once. A probe shorter than the file sees at most one.
const MAX_LOOP_ERRORS: u64 = 1;

/// Backward jumps of the video clock by more than 10 s.
fn loops_seen(health: &Value) -> u64 {
    health["discontinuities"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["stream"] == 0 && d["jump_ms"].as_i64().unwrap() < -10_000)
        .count() as u64
}

#[tokio::test(flavor = "multi_thread")]
async fn timestamp_discontinuities_and_continuity_of_a_spliced_file() {
    // Two copies back to back: time jumps back 20 s, every counter breaks.
    let mut bytes = fixture_bytes("main.ts").to_vec();
    bytes.extend_from_slice(&fixture_bytes("main.ts"));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("main_twice.ts");
    std::fs::write(&path, &bytes).unwrap();
    let out = probe(&[path.to_str().unwrap(), "--json"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let h = &out.json()["health"];
    let jumps = h["discontinuities"].as_array().unwrap();
    assert_eq!(jumps.len(), 2, "one per stream: {jumps:?}");
    for d in jumps {
        let j = d["jump_ms"].as_i64().unwrap();
        assert!((-20_100..-19_900).contains(&j), "{d}");
    }
    assert_eq!(loops_seen(h), 1);
    let cc = &h["continuity"];
    assert_eq!(
        cc["errors"].as_u64().unwrap(),
        ffmpeg_continuity_errors(&path) as u64,
        "{cc}"
    );
    assert!(cc["errors"].as_u64().unwrap() >= 3, "{cc}");
    let human = probe(&[path.to_str().unwrap()]).await;
    assert!(
        human.stdout.contains("Time      2 discontinuities: #0 at "),
        "{}",
        human.stdout
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn continuity_errors_on_the_wire() {
    let up = Upstream::start().await.unwrap();
    let (bytes, _) = with_lost_packets(25); // about three a second
    up.add("lossy", bytes::Bytes::from(bytes));
    let out = probe(&[&up.ts_url("lossy"), "--json", "--duration", "2.5"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let h = &out.json()["health"];
    assert_eq!(h["io"], "direct");
    let cc = &h["continuity"];
    let pids = cc["pids"].as_array().unwrap();
    let video = pids.iter().find(|p| p["pid"] == "0x100").expect("0x100");
    assert!(video["errors"].as_u64().unwrap() >= 3, "{cc}");
    assert!(
        pids.iter()
            .filter(|p| p["pid"] != "0x100")
            .all(|p| p["errors"].as_u64().unwrap() <= MAX_LOOP_ERRORS),
        "{cc}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn live_probe_reports_timing_bitrate_and_no_stall() {
    let up = Upstream::start().await.unwrap();
    up.add("main", fixture_bytes("main.ts"));
    let out = probe(&[&up.ts_url("main"), "--json", "--duration", "3"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v = out.json();
    assert_eq!(v["streams"][0]["codec_name"], "h264");
    assert_eq!(v["streams"][0]["width"], 320);
    assert_eq!(v["streams"][1]["sample_rate"], "48000");
    let h = &v["health"];
    assert_eq!(h["live"], true);
    assert_eq!(h["end"], "duration reached");
    assert_eq!(h["http"]["status"], 200);
    assert_eq!(h["http"]["content_type"], "video/mp2t");
    let t = &h["timing_ms"];
    let (connect, first_byte, key) = (
        t["connect"].as_u64().unwrap(),
        t["first_byte"].as_u64().unwrap(),
        t["first_keyframe"].as_u64().unwrap(),
    );
    assert!(connect <= first_byte && first_byte <= key, "{t}");
    assert!(key < 2600, "a 2 s GOP gives a keyframe within ~2 s: {t}");
    let observed = h["observed_ms"].as_u64().unwrap();
    assert!((2900..4000).contains(&observed), "{observed}");
    // main.ts is about 550 kb/s of TS.
    let b = &h["bitrate"];
    assert_eq!(b["basis"], "wire");
    let mean = b["mean_bps"].as_u64().unwrap();
    assert!((400_000..700_000).contains(&mean), "{b}");
    assert!(
        b["min_bps"].as_u64().unwrap() <= mean && mean <= b["max_bps"].as_u64().unwrap(),
        "{b}"
    );
    assert_eq!(h["stalls"]["measured"], true);
    assert_eq!(h["stalls"]["count"], 0, "{}", h["stalls"]);
    for p in h["continuity"]["pids"].as_array().unwrap() {
        assert!(
            p["errors"].as_u64().unwrap() <= MAX_LOOP_ERRORS,
            "errors only where the upstream looped: {h}"
        );
    }
    let ratio = h["realtime_ratio"].as_f64().unwrap();
    assert!((0.8..1.25).contains(&ratio), "{ratio}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stall_in_the_middle_is_reported_with_time_and_length() {
    let up = Upstream::start().await.unwrap();
    let feed = up.add("main", fixture_bytes("main.ts"));
    let url = up.ts_url("main");
    let toggler = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(1200)).await;
        feed.set_mode(Mode::Stall);
        tokio::time::sleep(Duration::from_millis(1500)).await;
        feed.set_mode(Mode::Play);
    });
    let out = probe(&[&url, "--json", "--duration", "4"]).await;
    toggler.await.unwrap();
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v = out.json();
    let stalls = &v["health"]["stalls"];
    assert_eq!(stalls["count"], 1, "{stalls}");
    let s = &stalls["events"][0];
    let (at, len) = (
        s["at_ms"].as_u64().unwrap(),
        s["duration_ms"].as_u64().unwrap(),
    );
    assert!((900..1600).contains(&at), "stall at {at} ms: {s}");
    assert!((1200..1900).contains(&len), "stall of {len} ms: {s}");
    assert_eq!(s["ongoing"], false);
    // The upstream resumed at the live point: the skipped media shows as a
    // timestamp jump forward.
    let jumps = v["health"]["discontinuities"].as_array().unwrap();
    assert!(
        jumps.iter().any(|d| d["jump_ms"].as_i64().unwrap() > 1000),
        "{jumps:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stall_until_the_end_is_reported_as_ongoing() {
    let up = Upstream::start().await.unwrap();
    let feed = up.add("main", fixture_bytes("main.ts"));
    feed.set_mode(Mode::StallAfter(2500));
    let out = probe(&[&up.ts_url("main"), "--duration", "4"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let line = out
        .stdout
        .lines()
        .find(|l| l.starts_with("Stalls"))
        .unwrap_or_else(|| panic!("{}", out.stdout));
    assert!(
        line.starts_with("Stalls    1 (gaps > 1.00 s in bytes): at "),
        "{line}"
    );
    assert!(line.ends_with("still stalled at the end"), "{line}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_upstream_closing_early_is_reported() {
    let up = Upstream::start().await.unwrap();
    let feed = up.add("main", fixture_bytes("main.ts"));
    // Long enough for a keyframe (2 s GOP), so the open succeeds.
    feed.set_mode(Mode::CloseAfter(2500));
    let out = probe(&[&up.ts_url("main"), "--json", "--duration", "4"]).await;
    assert_eq!(out.code, 0, "the input was read: {}", out.stderr);
    let h = &out.json()["health"];
    assert_eq!(h["end"], "upstream closed the stream", "{h}");
    let observed = h["observed_ms"].as_u64().unwrap();
    assert!((2400..3500).contains(&observed), "{observed}");
}

fn one_line_error(out: &Out) -> String {
    assert_ne!(out.code, 0, "should fail: {}", out.stdout);
    let lines: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .collect();
    assert_eq!(lines.len(), 1, "one line on stderr: {:?}", out.stderr);
    lines[0].to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn unreachable_url_fails_with_a_clear_reason() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let out = probe(&[
        &format!("http://127.0.0.1:{port}/live/stream.ts"),
        "--duration",
        "1",
    ])
    .await;
    let line = one_line_error(&out);
    assert_eq!(
        line,
        // Redacted by allowlist (issue 9): only the first path segment shows.
        format!("error: connection refused or unreachable: http://127.0.0.1:{port}/live/***")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn http_404_fails_with_the_status_and_credentials_stay_redacted() {
    let up = Upstream::start().await.unwrap();
    let feed = up.add("main", fixture_bytes("main.ts"));
    feed.set_mode(Mode::Status(404));
    let url = up.ts_url("main").replace("http://", "http://joe:s3cret@") + "?password=hunter2";
    let out = probe(&[&url, "--duration", "1"]).await;
    let line = one_line_error(&out);
    assert!(
        line.starts_with("error: HTTP 404 from http://***:***@127.0.0.1:"),
        "{line}"
    );
    let json = probe(&[&url, "--json"]).await;
    assert_ne!(json.code, 0);
    assert_eq!(json.json()["error"]["reason"], "http_error");
    for o in [&out, &json] {
        assert!(
            !o.stdout.contains("s3cret")
                && !o.stderr.contains("s3cret")
                && !o.stderr.contains("hunter2"),
            "{}{}",
            o.stdout,
            o.stderr
        );
    }
    // A working URL with credentials: the whole report stays redacted.
    feed.set_mode(Mode::Play);
    let ok = probe(&[&url, "--duration", "1"]).await;
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    assert!(
        ok.stdout.contains("Input     http://***:***@127.0.0.1:"),
        "{}",
        ok.stdout
    );
    assert!(
        !ok.stdout.contains("s3cret") && !ok.stdout.contains("hunter2"),
        "{}",
        ok.stdout
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn non_media_fails_with_a_clear_reason() {
    let file = probe(&[fixture("suspended.html").to_str().unwrap()]).await;
    let line = one_line_error(&file);
    assert!(line.starts_with("error: not a media stream"), "{line}");
    let up = Upstream::start().await.unwrap();
    let feed = up.add("main", fixture_bytes("main.ts"));
    feed.set_mode(Mode::Html);
    let html = probe(&[&up.ts_url("main"), "--duration", "1"]).await;
    let line = one_line_error(&html);
    assert!(line.starts_with("error: not a media stream"), "{line}");
    assert!(line.ends_with("(HTTP 200, text/html)"), "{line}");
    feed.set_mode(Mode::Garbage);
    let garbage = probe(&[&up.ts_url("main"), "--duration", "1"]).await;
    let line = one_line_error(&garbage);
    assert!(line.starts_with("error: not a media stream"), "{line}");
    feed.set_mode(Mode::Close);
    let empty = probe(&[&up.ts_url("main"), "--duration", "1"]).await;
    let line = one_line_error(&empty);
    assert!(line.starts_with("error: not a media stream"), "{line}");
    let missing = probe(&["/nonexistent/dir/file.ts"]).await;
    assert!(one_line_error(&missing).starts_with("error: cannot read /nonexistent/dir/file.ts: "));
}

#[tokio::test(flavor = "multi_thread")]
async fn silent_upstream_times_out() {
    let up = Upstream::start().await.unwrap();
    let feed = up.add("main", fixture_bytes("main.ts"));
    feed.set_mode(Mode::BlackHole);
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("streamforge.toml");
    std::fs::write(
        &cfg,
        format!(
            "[server]\ndata_dir = {:?}\n[stream]\nconnect_timeout_ms = 800\n",
            dir.path()
        ),
    )
    .unwrap();
    let t0 = std::time::Instant::now();
    let out = probe(&[&up.ts_url("main"), "--config", cfg.to_str().unwrap()]).await;
    let line = one_line_error(&out);
    assert!(
        line.starts_with("error: no packet within 800 ms: http://127.0.0.1:"),
        "{line}"
    );
    assert!(t0.elapsed() < Duration::from_secs(4), "{:?}", t0.elapsed());
}

#[tokio::test(flavor = "multi_thread")]
async fn hls_is_read_by_libavformat_without_continuity() {
    let up = Upstream::start().await.unwrap();
    up.add("main", fixture_bytes("main.ts"));
    let out = probe(&[&up.hls_url("main"), "--json", "--duration", "2"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v = out.json();
    assert_eq!(v["format"]["format_name"], "hls");
    assert_eq!(v["streams"][0]["codec_name"], "h264");
    let h = &v["health"];
    assert_eq!(h["io"], "libavformat");
    assert_eq!(h["http"]["content_type"], "application/vnd.apple.mpegurl");
    assert_eq!(h["continuity"]["measured"], false);
    assert_eq!(h["bitrate"]["basis"], "media");
    assert_eq!(h["end"], "duration reached");
}

/// A web server on 127.0.0.1:0 with redirects and an MP4 file.
async fn web_server(ts_url: String, mp4: Vec<u8>) -> std::net::SocketAddr {
    use axum::http::{StatusCode, header};
    use axum::routing::get;
    let mp4 = bytes::Bytes::from(mp4);
    let app = axum::Router::new()
        .route(
            "/to-ts",
            get(move || async move { (StatusCode::FOUND, [(header::LOCATION, ts_url)]) }),
        )
        .route(
            "/to-mp4",
            get(|| async {
                (
                    StatusCode::MOVED_PERMANENTLY,
                    [(header::LOCATION, "/movie.mp4")],
                )
            }),
        )
        .route(
            "/movie.mp4",
            get(move || async move { ([(header::CONTENT_TYPE, "video/mp4")], mp4) }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

#[tokio::test(flavor = "multi_thread")]
async fn redirects_are_reported_and_mp4_over_http_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let mp4 = dir.path().join("movie.mp4");
    let status = std::process::Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y", "-i"])
        .arg(fixture("main.ts"))
        .args(["-c", "copy", "-t", "6", "-movflags", "+faststart"])
        .arg(&mp4)
        .status()
        .expect("ffmpeg is installed");
    assert!(status.success());
    let up = Upstream::start().await.unwrap();
    up.add("main", fixture_bytes("main.ts"));
    let addr = web_server(up.ts_url("main"), std::fs::read(&mp4).unwrap()).await;

    let ts = probe(&[
        &format!("http://{addr}/to-ts"),
        "--json",
        "--duration",
        "1.5",
    ])
    .await;
    assert_eq!(ts.code, 0, "{}", ts.stderr);
    let h = &ts.json()["health"];
    assert_eq!(h["io"], "direct");
    assert_eq!(h["http"]["redirects"][0]["status"], 302, "{h}");
    // Redacted by allowlist (issues 9, 12): `/ts/main` shows as `/***/***`.
    let main = up.ts_url("main").replace("/ts/main", "/***/***");
    assert_eq!(h["http"]["redirects"][0]["location"], main);
    assert_eq!(h["http"]["final_url"], main);
    let human = probe(&[&format!("http://{addr}/to-ts"), "--duration", "1"]).await;
    assert!(
        human
            .stdout
            .contains(&format!("HTTP      200 video/mp2t, 302 -> {main}")),
        "{}",
        human.stdout
    );

    let out = probe(&[
        &format!("http://{addr}/to-mp4"),
        "--json",
        "--duration",
        "2",
    ])
    .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v = out.json();
    assert!(
        v["format"]["format_name"].as_str().unwrap().contains("mp4"),
        "{}",
        v["format"]
    );
    assert_eq!(v["streams"][0]["codec_name"], "h264");
    assert_eq!(v["streams"][0]["width"], 320);
    let h = &v["health"];
    assert_eq!(h["io"], "libavformat");
    assert_eq!(h["http"]["redirects"][0]["status"], 301);
    assert_eq!(h["http"]["content_type"], "video/mp4");
    assert_eq!(h["continuity"]["measured"], false);
    assert_eq!(
        h["end"], "duration reached",
        "read 2 s of media, not the whole file"
    );
}

fn channel_config(dir: &Path, streams: &[String]) -> std::path::PathBuf {
    let path = dir.join("streamforge.toml");
    let list: Vec<String> = streams.iter().map(|s| format!("{s:?}")).collect();
    let text = format!(
        "[server]\ndata_dir = {:?}\n\n[[channel]]\nnumber = \"101\"\nname = \"News\"\nstreams = [{}]\n",
        dir.join("data"),
        list.join(", ")
    );
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread")]
async fn channel_lists_every_candidate_with_the_dead_one_marked() {
    let up = Upstream::start().await.unwrap();
    up.add("main", fixture_bytes("main.ts"));
    up.add("backup", fixture_bytes("backup_480p.ts"));
    let dead_port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let dead = format!("http://127.0.0.1:{dead_port}/live/u/p/1.ts");
    let dir = tempfile::tempdir().unwrap();
    let cfg = channel_config(
        dir.path(),
        &[dead.clone(), up.ts_url("main"), up.ts_url("backup")],
    );
    let out = probe(&[
        "101",
        "--config",
        cfg.to_str().unwrap(),
        "--duration",
        "1.5",
    ])
    .await;
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert!(
        lines[0].starts_with("Channel 101 \"News\": 3 candidates in failover order"),
        "{}",
        out.stdout
    );
    assert!(lines[1].starts_with("TIER  SOURCE"), "{}", out.stdout);
    let redacted_dead = format!("http://127.0.0.1:{dead_port}/live/***/***/1.ts");
    assert!(
        lines[2].starts_with("1 ")
            && lines[2].contains(&redacted_dead)
            && lines[2].contains("dead: unreachable"),
        "{}",
        out.stdout
    );
    assert!(
        lines[3].starts_with("2 ")
            && lines[3].contains("alive")
            && lines[3].contains("320x180 h264 + aac"),
        "{}",
        out.stdout
    );
    assert!(
        lines[4].starts_with("3 ")
            && lines[4].contains("alive")
            && lines[4].contains("480x270 h264 + aac"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("tier 1: connection refused or unreachable"),
        "{}",
        out.stdout
    );
    assert!(
        !out.stdout.contains("/live/u/p/"),
        "credentials in the path are redacted"
    );

    let json = probe(&[
        "101",
        "--config",
        cfg.to_str().unwrap(),
        "--duration",
        "1",
        "--json",
    ])
    .await;
    assert_eq!(json.code, 0, "{}", json.stderr);
    let v = json.json();
    let c = v["candidates"].as_array().unwrap();
    assert_eq!(c.len(), 3);
    assert_eq!(
        (
            c[0]["tier"].clone(),
            c[0]["alive"].clone(),
            c[0]["reason"].clone()
        ),
        (1.into(), false.into(), "unreachable".into())
    );
    assert_eq!(c[1]["alive"], true);
    assert_eq!(c[1]["report"]["streams"][0]["width"], 320);
    assert_eq!(c[2]["report"]["streams"][0]["width"], 480);
}

#[tokio::test(flavor = "multi_thread")]
async fn channel_with_no_live_candidate_fails() {
    let up = Upstream::start().await.unwrap();
    let feed = up.add("main", fixture_bytes("main.ts"));
    feed.set_mode(Mode::Status(503));
    let dir = tempfile::tempdir().unwrap();
    let cfg = channel_config(
        dir.path(),
        &[
            up.ts_url("main"),
            fixture("suspended.html").display().to_string(),
        ],
    );
    let out = probe(&["101", "--config", cfg.to_str().unwrap(), "--duration", "1"]).await;
    assert_eq!(
        one_line_error(&out),
        "error: channel 101: none of its 2 candidates could be read"
    );
    assert!(out.stdout.contains("dead: HTTP 503"), "{}", out.stdout);
    assert!(out.stdout.contains("dead: not media"), "{}", out.stdout);
    let unknown = probe(&["999", "--config", cfg.to_str().unwrap()]).await;
    assert!(
        one_line_error(&unknown)
            .starts_with("error: channel 999 is not in the config (channels: 101)")
    );
}

/// Issue 14: `probe … --json | head` must not end with `error: Broken pipe`.
#[test]
fn issue14_json_into_a_closed_pipe_exits_quietly() {
    for args in [vec!["--json"], vec![]] {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_streamforge"))
            .arg("probe")
            .arg(fixture("main.ts"))
            .args(&args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // The reader is gone before the report is written.
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{args:?}: {stderr}");
        assert!(
            !stderr.to_lowercase().contains("broken pipe"),
            "{args:?}: {stderr}"
        );
    }
}
