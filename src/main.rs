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
    /// Set the admin password management (`/api`, the dashboard) asks for.
    /// Reads it from the terminal (twice), or one line from stdin when
    /// piped; stores its argon2 hash in the data directory (a running
    /// server picks it up within seconds and ends every session).
    SetPassword {
        /// TOML config file (default: ./streamforge.toml when present).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Print the hash (for server.admin_password_hash or
        /// STREAMFORGE_SERVER_ADMIN_PASSWORD_HASH) instead of storing it.
        #[arg(long)]
        print: bool,
    },
    /// API tokens for scripts (`Authorization: Bearer <token>`).
    Token {
        #[command(subcommand)]
        action: TokenAction,
        /// TOML config file (default: ./streamforge.toml when present).
        #[arg(long, global = true)]
        config: Option<PathBuf>,
    },
    /// Print what to enter in Plex (tuner address) and other clients (M3U, XMLTV).
    Urls {
        /// TOML config file (default: ./streamforge.toml when present).
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum TokenAction {
    /// Make a token and print it (shown this once; only a hash is kept).
    Create {
        /// What the token is for, e.g. "backup script".
        name: String,
    },
    /// List tokens (ids, names, last use; never the tokens).
    List,
    /// Revoke a token by id.
    Revoke { id: i64 },
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
            Command::SetPassword { config, print } => set_password(config, print).await,
            Command::Token { action, config } => token(config, action).await,
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

/// Reads the new password: twice from a terminal, or one line from a pipe.
fn read_new_password() -> anyhow::Result<String> {
    use std::io::IsTerminal;
    let pw = if std::io::stdin().is_terminal() {
        let a = rpassword::prompt_password("New admin password: ")?;
        let b = rpassword::prompt_password("Again: ")?;
        anyhow::ensure!(a == b, "the two passwords differ; nothing changed");
        a
    } else {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        line.trim_end_matches(['\r', '\n']).to_string()
    };
    streamforge::http::auth::check_new_password(&pw).map_err(|why| anyhow::anyhow!(why))?;
    Ok(pw)
}

async fn open_store(config: &Config) -> anyhow::Result<streamforge::store::Store> {
    streamforge::store::Store::open(&config.server.data_dir)
        .await
        .with_context(|| {
            format!(
                "opening the database in {}",
                config.server.data_dir.display()
            )
        })
}

async fn set_password(config: Option<PathBuf>, print: bool) -> anyhow::Result<()> {
    let config = load_config(config)?;
    let pw = read_new_password()?;
    let hash = streamforge::http::auth::hash_password(&pw)?;
    if print {
        println!("{hash}");
        return Ok(());
    }
    let store = open_store(&config).await?;
    store.set_admin_password_hash(&hash).await?;
    store.close().await;
    eprintln!(
        "admin password stored in {}; management now needs it (log in on the dashboard, or POST /api/auth/login)",
        config.server.data_dir.display()
    );
    if config.server.admin_password_hash.is_some() {
        eprintln!(
            "note: server.admin_password_hash is set in the config and wins over the stored password"
        );
    }
    Ok(())
}

async fn token(config: Option<PathBuf>, action: TokenAction) -> anyhow::Result<()> {
    use streamforge::http::auth::{random_token, sha256_hex};
    let config = load_config(config)?;
    let store = open_store(&config).await?;
    let result = match action {
        TokenAction::Create { name } => {
            anyhow::ensure!(
                !name.trim().is_empty() && name.len() <= 100,
                "the name must be 1 to 100 characters"
            );
            let t = random_token();
            let row = store.add_api_token(name.trim(), &sha256_hex(&t)).await?;
            eprintln!(
                "API token {} ({}) made; it is shown only now:",
                row.id, row.name
            );
            println!("{t}");
            Ok(())
        }
        TokenAction::List => {
            for t in store.api_tokens().await? {
                let when = |s: Option<i64>| {
                    s.and_then(|s| chrono::DateTime::from_timestamp(s, 0))
                        .map(|d| d.format("%Y-%m-%d %H:%M UTC").to_string())
                        .unwrap_or_else(|| "never".into())
                };
                println!(
                    "{}\t{}\tcreated {}\tlast used {}",
                    t.id,
                    t.name,
                    when(Some(t.created_at)),
                    when(t.last_used_at)
                );
            }
            Ok(())
        }
        TokenAction::Revoke { id } => {
            anyhow::ensure!(store.delete_api_token(id).await?, "no API token {id}");
            eprintln!("API token {id} revoked");
            Ok(())
        }
    };
    store.close().await;
    result
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
    let listener = streamforge::http::server::listen(&config.server.listen)
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
