//! Config: the example parses and matches the defaults; bad configs are
//! refused with the key named; env overrides apply.

use streamforge::config::{Config, StreamConfig};

fn no_env() -> Vec<(String, String)> {
    Vec::new()
}

#[test]
fn example_config_parses_and_matches_defaults() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("streamforge.example.toml");
    let c = Config::load(Some(&path), no_env()).expect("example config is valid");
    let d = Config::default();
    assert_eq!(c.server, d.server);
    assert_eq!(c.tuner, d.tuner);
    assert_eq!(c.stream, d.stream);
    assert_eq!(c.discovery, d.discovery);
    assert_eq!(c.events, d.events);
    assert_eq!(c.sync, d.sync);
    assert_eq!(c.lineup, d.lineup);
    assert_eq!(c.channel.len(), 2);
    assert_eq!(
        c.channel[1].effective_stream(&c.stream).failover_after_ms,
        3000
    );
}

#[test]
fn defaults_are_valid_and_sane() {
    let d = Config::default();
    d.validate().expect("defaults valid");
    let s = StreamConfig::default();
    assert_eq!(
        (s.connect_timeout_ms, s.stall_detect_ms, s.failover_after_ms),
        (5000, 3000, 5000)
    );
    assert!(s.warm_standby);
}

const CH: &str =
    "[[channel]]\nnumber = \"101\"\nname = \"A\"\nstreams = [\"http://h.example/a.ts\"]\n";

#[test]
fn bad_configs_are_refused_naming_the_key() {
    let cases: &[(&str, &str)] = &[
        ("[tuner]\ncount = 0\n", "tuner.count (0) must be at least 1"),
        (
            "[tuner]\nzap_grace_ms = 20000\n",
            "tuner.zap_grace_ms (20000) must be at most 10000",
        ),
        (
            "[stream]\nring_seconds = 2\n",
            "stream.ring_seconds (2) must be between 5 and 600",
        ),
        (
            "[stream]\nring_seconds = 5\njoin_behind_ms = 4000\n",
            "stream.join_behind_ms (4000) must be at least 2000 below stream.ring_seconds (5 s)",
        ),
        (
            "[stream]\nstall_detect_ms = 3000\nfailover_after_ms = 2000\n",
            "stream.failover_after_ms (2000) must be greater than stream.stall_detect_ms (3000)",
        ),
        (
            "[[channel]]\nnumber = \"101\"\nname = \"A\"\nstreams = [\"not a url\"]\n",
            "channel[0].streams[0] (not a url) is not an http(s) URL",
        ),
        (
            "[[channel]]\nnumber = \"101\"\nname = \"A\"\nstreams = [\"ftp://h.example/x\"]\n",
            "channel[0].streams[0] (ftp://h.example/***)",
        ),
        ("", ""),
        (
            "[server]\nlisten = \"nope\"\n",
            "server.listen (nope) is not an address",
        ),
        (
            "[server]\npublic_url = \"192.168.1.2:5004\"\n",
            "server.public_url (192.168.1.2:5004)",
        ),
        (
            "[stream]\nbogus_key = 1\n",
            "line 2, column 1: unknown field `…`, expected one of `connect_timeout_ms`",
        ),
        (
            "[strem]\n",
            "line 1, column 2: unknown field `…`, expected one of `server`",
        ),
        (
            "[[channel]]\nnumber = \"101\"\nname = \"A\"\nstreams = [\"http://h.example/a.ts\"]\nstall_detect_ms = 900\nfailover_after_ms = 800\n",
            "channel[0].failover_after_ms (800) must be greater than channel[0].stall_detect_ms (900)",
        ),
        (
            "[[channel]]\nnumber = \"101\"\nname = \"A\"\nstreams = []\n",
            "channel[0].streams ([]) must list at least one stream",
        ),
        // Issue 9: provider sections.
        (
            "[[source]]\nkind = \"xtream\"\nurl = \"http://p.example\"\nusername = \"u\"\n",
            "source[0].password ((missing)) is required for kind = \"xtream\"",
        ),
        (
            "[[source]]\nkind = \"xtream\"\nurl = \"ftp://u:s3cret@p.example\"\nusername = \"u\"\npassword = \"p\"\n",
            "source[0].url (ftp://***:***@p.example/) is not the http(s) address of an Xtream Codes panel",
        ),
        (
            "[[source]]\nkind = \"m3u\"\nurl = \"lists/uk.m3u\"\n",
            "source[0].url (lists/uk.m3u) is not an http(s) URL or an absolute path",
        ),
        (
            "[[source]]\nkind = \"m3u\"\nurl = \"/srv/uk.m3u\"\nsync_hours = 0\n",
            "source[0].sync_hours (0) must be between 1 and 720",
        ),
        ("[[source]]\nkind = \"m3u\"\nurl = \"/srv/uk.m3u\"\n", ""),
        (
            "[[epg]]\nurl = \"guide.xml\"\n",
            "epg[0].url (guide.xml) is not an http(s) URL or an absolute path",
        ),
        (
            "[sync]\nmax_drop_percent = 0\n",
            "sync.max_drop_percent (0) must be between 1 and 100",
        ),
        (
            "[[source]]\nkind = \"stalker\"\nurl = \"http://h\"\n",
            // Issue 12: where, not the file's word.
            "line 2, column 8: unknown variant `…`, expected `xtream` or `m3u`",
        ),
    ];
    for (toml, msg) in cases {
        let r = Config::from_toml_with_env(toml, "test.toml", no_env());
        if msg.is_empty() {
            assert!(r.is_ok(), "{toml:?} should be valid");
            continue;
        }
        let e = r.expect_err(toml).to_string();
        assert!(e.contains(msg), "{toml:?}: got {e:?}, want {msg:?}");
    }
    let dup = format!("{CH}{CH}");
    let e = Config::from_toml_with_env(&dup, "t", no_env())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("channel[1].number (101) is a duplicate channel number"),
        "{e}"
    );
}

#[test]
fn credentials_in_a_bad_stream_url_are_redacted_in_the_error() {
    let t = "[[channel]]\nnumber = \"1\"\nname = \"A\"\nstreams = [\"rtmp://h.example/live/alice/s3cret/1.ts\"]\n";
    let e = Config::from_toml_with_env(t, "t", no_env())
        .unwrap_err()
        .to_string();
    assert!(!e.contains("s3cret") && !e.contains("alice"), "{e}");
}

#[test]
fn credentials_in_parse_errors_are_redacted() {
    for t in [
        "[[channel]]\nnumber = \"1\"\nname = \"A\"\nstreams = \"http://h.example/live/alice/s3cret/1.ts\"\n",
        "[[channel]]\nnumber = \"1\"\nname = \"A\"\nstreams = [\"http://bob:s3cret@h.example/get.php?username=alice&password=s3cret\" oops]\n",
    ] {
        let e = Config::from_toml_with_env(t, "t", no_env())
            .unwrap_err()
            .to_string();
        assert!(!e.contains("s3cret") && !e.contains("alice"), "{e}");
    }
}

#[test]
fn durations_are_bounded() {
    let e = Config::from_toml_with_env(
        "[stream]\nfailover_after_ms = 18446744073709551615\n",
        "t",
        no_env(),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("failover_after_ms"), "{e}");
    let e = Config::from_toml_with_env(
        "[stream]\nstall_detect_ms = 4000000\nfailover_after_ms = 5000000\n",
        "t",
        no_env(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("stream.stall_detect_ms (4000000) must be at most 3600000"),
        "{e}"
    );
}

#[test]
fn env_overrides_file_and_is_validated() {
    let env = vec![
        ("STREAMFORGE_TUNER_COUNT".to_string(), "4".to_string()),
        (
            "STREAMFORGE_STREAM_STALL_DETECT_MS".to_string(),
            "1000".to_string(),
        ),
        (
            "STREAMFORGE_SERVER_PUBLIC_URL".to_string(),
            "http://10.0.0.2:5004".to_string(),
        ),
        ("UNRELATED".to_string(), "x".to_string()),
    ];
    let c = Config::from_toml_with_env("[tuner]\ncount = 1\n", "t", env).unwrap();
    assert_eq!(c.tuner.count, 4);
    assert_eq!(c.stream.stall_detect_ms, 1000);
    assert_eq!(c.server.public_url.as_deref(), Some("http://10.0.0.2:5004"));
    let bad = vec![(
        "STREAMFORGE_STREAM_FAILOVER_AFTER_MS".to_string(),
        "10".to_string(),
    )];
    let e = Config::from_toml_with_env("", "t", bad)
        .unwrap_err()
        .to_string();
    assert!(e.contains("stream.failover_after_ms (10)"), "{e}");
    let unknown = vec![("STREAMFORGE_TUNER_COUNTT".to_string(), "2".to_string())];
    let e = Config::from_toml_with_env("", "t", unknown)
        .unwrap_err()
        .to_string();
    assert!(e.contains("countt"), "{e}");
}

/// Issue 14: an error caused by an environment variable names it, not the
/// file; a missing file is said once.
#[test]
fn issue14_env_errors_name_the_variable() {
    let env = |k: &str, v: &str| vec![(k.to_string(), v.to_string())];
    let e = Config::from_toml_with_env(
        "[tuner]\ncount = 1\n",
        "streamforge.toml",
        env("STREAMFORGE_TUNER_COUNT", "abc"),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("environment variable STREAMFORGE_TUNER_COUNT (for tuner.count)")
            && !e.contains("streamforge.toml"),
        "{e}"
    );
    let e = Config::from_toml_with_env("", "(defaults)", env("STREAMFORGE_DATA_DIR", "/srv"))
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("STREAMFORGE_DATA_DIR (/srv) names no config section (\"data\")"),
        "{e}"
    );
    assert!(e.contains("server"), "lists the sections: {e}");
    // A file error is still the file's.
    let e = Config::from_toml_with_env(
        "[tuner]\ncount = \"x\"\n",
        "f.toml",
        env("STREAMFORGE_TUNER_COUNT", "2"),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("f.toml"), "{e}");
    let missing = std::path::Path::new("/nonexistent/streamforge.toml");
    let e = Config::load(Some(missing), no_env()).unwrap_err();
    let text = format!("{:#}", anyhow::Error::from(e));
    assert_eq!(text.matches("No such file").count(), 1, "{text}");
}

/// Issue 12: `serve --config /etc/shadow` printed the file's first line in
/// the parse error. Files that are not TOML, or TOML that is not ours,
/// get the file, line and column, and no word of their content.
#[test]
fn parse_errors_quote_no_content_of_the_file_issue_12() {
    let secret = "Zq9hunter2xK";
    let cases = [
        // /etc/shadow's shape.
        (
            format!("root:$y$j9T${secret}$abc:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n"),
            "line 1, column 5",
        ),
        (
            format!("# fine\n\n{secret} {secret}\n"),
            "line 3, column 14",
        ),
        (format!("{secret} = 1\n"), "line 1, column 1"),
        (
            format!("[server]\nlisten = \"{secret}\" x\n"),
            "line 2, column",
        ),
        (format!("[{secret}]\na = 1\n"), "line 1"),
        (format!("[server]\n{secret} = \"x\"\n"), "line 2, column 1"),
        (
            format!("[server]\nlisten = 5\npublic_url = [\"{secret}\"]\n"),
            "line 2",
        ),
        (
            format!("[tuner]\ncount = \"{secret}\"\n"),
            "line 2, column 9 (tuner.count)",
        ),
        (format!("a = \"{secret}\"\na = 2\n"), "line 2"),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (i, (text, want)) in cases.iter().enumerate() {
        let path = dir.path().join(format!("shadow{i}"));
        std::fs::write(&path, text).unwrap();
        let e = Config::load(Some(&path), no_env()).unwrap_err().to_string();
        assert!(!e.contains(secret), "{text:?}: {e}");
        assert!(
            !e.contains("root:") && !e.contains("19000"),
            "{text:?}: {e}"
        );
        assert!(e.contains(&path.display().to_string()), "{text:?}: {e}");
        assert!(e.contains(want), "{text:?}: want {want:?} in {e}");
        assert!(!e.contains('\n'), "one line, no snippet: {e}");
    }
}
