//! `streamforge probe INPUT`: ffprobe-style diagnostics for a URL (HTTP TS,
//! HLS, other protocols libavformat knows), a local file, or a channel
//! number from the config (then every candidate, in failover order). What
//! the stream is comes from the same libavformat open as the sessions use;
//! how healthy it is comes from watching it for `--duration`.
//!
//! Layout: `run` probes one input (and owns the demux loop), `source` reads
//! the bytes itself where it can (HTTP, files) so the wire can be timed and
//! TS continuity counted, `continuity` and `stats` are the pure counters,
//! `describe` reads format and streams with ffprobe's field names,
//! `report` holds the report types and their human form. FFmpeg runs on
//! the probe's own OS thread, never on a tokio worker.

pub mod continuity;
pub mod describe;
pub mod report;
pub mod run;
pub mod source;
pub mod stats;
pub mod types;

pub use types::{CHANNEL_DEFAULT, LIVE_DEFAULT, ProbeError};

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;

use crate::config::Config;
use crate::lineup::Lineup;
use crate::redact::redact;
use report::{Candidate, Report};
use run::Options;

impl ProbeError {
    /// Short machine-friendly reason ("unreachable", "http_error",
    /// "not_media", "timeout", …).
    pub fn reason(&self) -> &'static str {
        match self {
            ProbeError::Open { error, .. } => error.reason(),
            ProbeError::File { .. } => "unreadable",
        }
    }
}

/// The `probe` subcommand's arguments.
#[derive(Debug, Clone, Default)]
pub struct Args {
    /// URL, file path, or channel number.
    pub input: String,
    /// Seconds to observe (live), or of media to read (files).
    pub duration: Option<f64>,
    pub json: bool,
    pub config: Option<PathBuf>,
}

/// Runs the subcommand on its own OS thread (FFmpeg and the blocking
/// fetches stay off the caller's async runtime) and prints to stdout.
/// An `Err` is the one-line reason the input could not be read.
pub async fn run_cli(args: Args) -> anyhow::Result<()> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("probe".into())
        .spawn(move || {
            let stdout = std::io::stdout();
            let mut out = stdout.lock();
            let _ = tx.send(run_blocking(&args, &mut out));
        })
        .context("cannot start the probe thread")?;
    match rx
        .await
        .context("the probe thread ended without a result")?
    {
        // `probe … | head`: the reader has what it wanted (the error may
        // come from a write or from serde_json writing).
        Err(e)
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
                    || c.downcast_ref::<serde_json::Error>()
                        .is_some_and(|e| e.io_error_kind() == Some(std::io::ErrorKind::BrokenPipe))
            }) =>
        {
            Ok(())
        }
        r => r,
    }
}

/// The channels a server on this config would serve: the config's and
/// the provider channels stored in its database (read, never written).
/// Without a readable database, the config's alone.
fn current_lineup(config: &Config) -> Vec<crate::lineup::Channel> {
    let from_config = || {
        config
            .channel
            .iter()
            .map(crate::lineup::Channel::from_config)
            .collect()
    };
    if !config.server.data_dir.join("streamforge.db").exists() {
        return from_config();
    }
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(_) => return from_config(),
    };
    rt.block_on(async {
        let store = crate::store::Store::open(&config.server.data_dir)
            .await
            .ok()?;
        let lineup = crate::lineup::build::peek(&store, config).await.ok();
        store.close().await;
        lineup
    })
    .unwrap_or_else(from_config)
}

fn looks_like_channel(input: &str) -> bool {
    !input.is_empty()
        && input.chars().all(|c| c.is_ascii_digit() || c == '.')
        && input.chars().any(|c| c.is_ascii_digit())
        && !Path::new(input).exists()
}

/// The subcommand, blocking. Must not run on a tokio worker thread.
pub fn run_blocking(args: &Args, out: &mut dyn Write) -> anyhow::Result<()> {
    let duration = match args.duration {
        Some(d) if !(d.is_finite() && d > 0.0 && d <= 86_400.0) => {
            anyhow::bail!("--duration ({d}) must be a number of seconds above 0 and at most 86400")
        }
        Some(d) => Some(Duration::from_secs_f64(d)),
        None => None,
    };
    let config = Config::load(args.config.as_deref(), std::env::vars())?;
    let opts = Options {
        duration,
        connect_timeout: Duration::from_millis(config.stream.connect_timeout_ms),
        user_agent: config.stream.user_agent.clone(),
    };
    if looks_like_channel(&args.input) {
        let lineup = Lineup::new(current_lineup(&config));
        return probe_channel(&args.input, &lineup, opts, args.json, out);
    }
    let json = args.json;
    let result = run::probe(&args.input, &opts, &mut |d| {
        if !json {
            let _ = report::write_described(out, d);
            let _ = out.flush();
        }
    });
    match result {
        Ok(r) => {
            if json {
                serde_json::to_writer_pretty(&mut *out, &r)?;
                writeln!(out)?;
            } else {
                report::write_health(out, &r.health)?;
            }
            out.flush()?;
            Ok(())
        }
        Err(e) => {
            if json {
                let v = serde_json::json!({ "error": { "reason": e.reason(), "message": e.to_string() } });
                serde_json::to_writer_pretty(&mut *out, &v)?;
                writeln!(out)?;
                out.flush()?;
            }
            Err(e.into())
        }
    }
}

fn probe_channel(
    number: &str,
    lineup: &Lineup,
    mut opts: Options,
    json: bool,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let Some(ch) = lineup.find(number) else {
        let all = lineup.all();
        let known: Vec<&str> = all.iter().map(|c| c.number.as_str()).take(20).collect();
        anyhow::bail!(
            "channel {number} is not in the config (channels: {}); to probe a file of that name, use ./{number}",
            if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            }
        );
    };
    opts.duration = Some(opts.duration.unwrap_or(CHANNEL_DEFAULT));
    let each = opts
        .duration
        .map(|d| report::time(d.as_millis() as u64))
        .unwrap_or_default();
    if !json {
        let disabled = if ch.is_enabled() { "" } else { " (disabled)" };
        writeln!(
            out,
            "Channel {} \"{}\"{disabled}: {} candidates in failover order, {each} each",
            ch.number,
            ch.name,
            ch.candidates.len()
        )?;
        out.flush()?;
    }
    let progress = !json && std::io::stderr().is_terminal();
    let mut rows = Vec::new();
    for (i, candidate) in ch.candidates.iter().enumerate() {
        let url = &candidate.url;
        if progress {
            eprintln!("probing {}/{}: {}", i + 1, ch.candidates.len(), redact(url));
        }
        let row = match run::probe(url, &opts, &mut |_| {}) {
            Ok(r) => Candidate {
                tier: i + 1,
                source: redact(url),
                alive: true,
                reason: None,
                error: None,
                report: Some(r),
            },
            Err(e) => Candidate {
                tier: i + 1,
                source: redact(url),
                alive: false,
                reason: Some(e.reason()),
                error: Some(e.to_string()),
                report: None,
            },
        };
        rows.push(row);
    }
    if json {
        let v = serde_json::json!({
            "channel": { "number": ch.number, "name": ch.name, "enabled": ch.is_enabled() },
            "candidates": rows,
        });
        serde_json::to_writer_pretty(&mut *out, &v)?;
        writeln!(out)?;
    } else {
        report::write_channel_table(out, &rows)?;
    }
    out.flush()?;
    if rows.iter().any(|r| r.alive) {
        Ok(())
    } else {
        anyhow::bail!(
            "channel {number}: none of its {} candidates could be read",
            rows.len()
        )
    }
}

/// Probes one input with default options and no output: for library users
/// (and tests) that want the report itself.
pub fn probe(input: &str, duration: Option<Duration>) -> Result<Report, ProbeError> {
    let defaults = crate::config::StreamConfig::default();
    let opts = Options {
        duration,
        connect_timeout: Duration::from_millis(defaults.connect_timeout_ms),
        user_agent: defaults.user_agent,
    };
    run::probe(input, &opts, &mut |_| {})
}

#[cfg(test)]
mod tests {
    use super::source::HttpInfo;
    use super::*;
    use crate::media::input::OpenError;

    #[test]
    fn channel_numbers_are_recognised() {
        assert!(looks_like_channel("101"));
        assert!(looks_like_channel("5.1"));
        assert!(!looks_like_channel("http://h/101"));
        assert!(!looks_like_channel("."));
        assert!(!looks_like_channel("/tmp/x.ts"));
    }

    #[test]
    fn classify_inputs() {
        use run::{Source, classify};
        assert_eq!(
            classify("http://h/x.ts"),
            Source::Http("http://h/x.ts".into())
        );
        assert_eq!(
            classify("file:///tmp/a.ts"),
            Source::File("/tmp/a.ts".into())
        );
        assert_eq!(classify("/tmp/a.ts"), Source::File("/tmp/a.ts".into()));
        assert_eq!(
            classify("udp://239.0.0.1:1234"),
            Source::Other("udp://239.0.0.1:1234".into())
        );
    }

    #[test]
    fn hls_target_duration() {
        assert_eq!(
            run::target_duration("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\n0.ts\n"),
            Some(2.0)
        );
        assert_eq!(
            run::target_duration("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nv.m3u8\n"),
            None
        );
    }

    #[test]
    fn error_messages_carry_http_context_once() {
        let http = HttpInfo {
            status: 200,
            content_type: Some("text/html".into()),
            final_url: "http://h/x".into(),
            redirects: vec![],
        };
        let e = ProbeError::Open {
            error: OpenError::NotMedia {
                url: "http://h/x".into(),
            },
            http: Some(Box::new(http.clone())),
        };
        assert_eq!(
            e.to_string(),
            "not a media stream (no audio or video found): http://h/x (HTTP 200, text/html)"
        );
        let e = ProbeError::Open {
            error: OpenError::Http {
                status: 404,
                url: "http://h/x".into(),
            },
            http: Some(Box::new(http)),
        };
        assert_eq!(e.to_string(), "HTTP 404 from http://h/x");
        assert_eq!(e.reason(), "http_error");
    }
}
