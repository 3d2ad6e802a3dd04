//! Thin binary: parse flags, set up logging, dispatch to the library.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use streamforge::config::Config;

#[derive(Parser)]
#[command(
    name = "streamforge",
    version,
    about = "IPTV proxy for Plex with seamless failover"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the proxy (HDHomeRun emulation, streams, API).
    Serve {
        /// TOML config file (default: ./streamforge.toml when present).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Run with a built-in loopback upstream and demo channels.
        #[arg(long)]
        demo: bool,
    },
    /// Diagnose a stream: what it is (like ffprobe) and how healthy it is.
    Probe {
        /// A URL (HTTP TS, HLS, …), a local file, or a channel number from
        /// the config (then every candidate is probed, in failover order).
        input: String,
        /// Seconds to watch a live input (default 10; 5 per channel
        /// candidate), or of media to read from a file (default: all).
        #[arg(long)]
        duration: Option<f64>,
        /// ffprobe-style JSON (`format`, `streams`) plus a `health` object.
        #[arg(long)]
        json: bool,
        /// TOML config file (default: ./streamforge.toml when present).
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Sync provider sources now (all, or one by id), then exit. Works
    /// while a server runs on the same data directory.
    Sync {
        /// TOML config file (default: ./streamforge.toml when present).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Only this source (ids: `GET /api/sources`, `/api/epg-sources`).
        #[arg(long)]
        source: Option<i64>,
    },
    /// Exit 0 when the server answers `GET /healthz` with a 2xx (the
    /// container health check: bookworm-slim has no curl, and its dash
    /// has no /dev/tcp).
    Healthcheck {
        /// TOML config file (default: ./streamforge.toml when present);
        /// its `server.listen` (and STREAMFORGE_SERVER_LISTEN) say where.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Check this URL instead of the configured address.
        #[arg(long)]
        url: Option<String>,
        /// Seconds to wait for the answer.
        #[arg(long, default_value_t = 3.0)]
        timeout: f64,
    },
    /// Print what to enter in Plex (tuner address) and other clients (M3U, XMLTV).
    Urls {
        /// TOML config file (default: ./streamforge.toml when present).
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = rt.block_on(async {
        match cli.command {
            Command::Serve { config, demo } => serve(config, demo).await,
            Command::Probe {
                input,
                duration,
                json,
                config,
            } => {
                streamforge::probe::run_cli(streamforge::probe::Args {
                    input,
                    duration,
                    json,
                    config,
                })
                .await
            }
            Command::Urls { config } => urls(config),
            Command::Healthcheck {
                config,
                url,
                timeout,
            } => healthcheck(config, url, timeout).await,
            Command::Sync { config, source } => {
                streamforge::providers::cli::run(load_config(config)?, source).await
            }
        }
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn load_config(path: Option<PathBuf>) -> anyhow::Result<Config> {
    Ok(Config::load(path.as_deref(), std::env::vars())?)
}

/// `streamforge urls`: the addresses a LAN client would use, from the
/// config alone (no server needs to run).
fn urls(config: Option<PathBuf>) -> anyhow::Result<()> {
    let config = load_config(config)?;
    let listen: std::net::SocketAddr = config.server.listen.parse().context("server.listen")?;
    for line in
        streamforge::plex::urls::SetupUrls::new(config.server.public_url.as_deref(), listen).lines()
    {
        println!("{line}");
    }
    Ok(())
}

/// `streamforge healthcheck`: one GET of `/healthz` on the configured
/// listen address (loopback when it is the unspecified address).
async fn healthcheck(
    config: Option<PathBuf>,
    url: Option<String>,
    timeout: f64,
) -> anyhow::Result<()> {
    let url = match url {
        Some(u) => u,
        None => {
            let config = load_config(config)?;
            let mut addr: std::net::SocketAddr =
                config.server.listen.parse().context("server.listen")?;
            if addr.ip().is_unspecified() {
                addr.set_ip(match addr {
                    std::net::SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
                    std::net::SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
                });
            }
            format!("http://{addr}/healthz")
        }
    };
    let shown = streamforge::redact::redact(&url);
    let timeout = std::time::Duration::try_from_secs_f64(timeout)
        .ok()
        .filter(|t| !t.is_zero())
        .context("--timeout must be a positive number of seconds")?;
    let client = reqwest::Client::builder()
        .timeout(timeout)
        .no_proxy()
        .build()
        .context("building the HTTP client")?;
    let status = client
        .get(&url)
        .send()
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "GET {shown}: {}",
                streamforge::redact::redact_in_text(&e.to_string())
            )
        })?
        .status();
    if !status.is_success() {
        anyhow::bail!("GET {shown}: {status}");
    }
    println!("healthy: GET {shown}: {status}");
    Ok(())
}

async fn serve(config: Option<PathBuf>, demo: bool) -> anyhow::Result<()> {
    let config = load_config(config)?;
    let (upstream, config) = if demo {
        let (up, cfg) = streamforge::demo::setup(config)
            .await
            .context("starting the demo upstream")?;
        (Some(up), cfg)
    } else {
        (None, config)
    };
    let listener = tokio::net::TcpListener::bind(&config.server.listen)
        .await
        .with_context(|| format!("cannot listen on {} (server.listen)", config.server.listen))?;
    let addr = listener.local_addr()?;
    if demo {
        let host = if addr.ip().is_unspecified() {
            "127.0.0.1".to_string()
        } else {
            addr.ip().to_string()
        };
        let base = format!("http://{host}:{}", addr.port());
        println!(
            "\nStreamForge demo running. Open a channel in a player (ffplay, mpv, or VLC: Media → Open Network Stream):"
        );
        for ch in &config.channel {
            println!("  {base}/auto/v{}    # {}", ch.number, ch.name);
        }
        println!("  Sessions: {base}/api/sessions   Events: {base}/api/events");
        println!(
            "  Channel 102's primary stalls after 20 s of play, once per session: watch the failover event, the picture goes on."
        );
        // Plex on another machine needs the LAN address, not loopback.
        let lan = if addr.ip().is_unspecified() {
            streamforge::plex::urls::primary_lan_ipv4().map(|ip| ip.to_string())
        } else {
            None
        };
        match lan {
            Some(ip) => println!(
                "  Plex: add a DVR with the address {ip}:{} (this machine's LAN address)\n",
                addr.port()
            ),
            None => println!(
                "  Plex: add a DVR with the address {host}:{}\n",
                addr.port()
            ),
        }
    }
    let result = streamforge::run(config, listener, streamforge::shutdown_signal()).await;
    drop(upstream);
    result
}
