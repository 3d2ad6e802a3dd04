//! StreamForge: an IPTV proxy for Plex with FFmpeg embedded through
//! `ffmpeg-next`. `run` wires the store, the event bus, the session
//! registry and the HTTP server around a bound listener and a shutdown
//! future, so tests can start it on 127.0.0.1:0; [`router`] merges each
//! area's routes.
//!
//! Imports run one way: consumers (`http`, `plex`, `probe`, `app`) →
//! `lineup`, `media` → `store`, `events` → `config`, `redact`
//! (`tests/layout.rs` checks there are no circles).

pub mod app;
pub mod config;
pub mod demo;
pub mod events;
pub mod http;
pub mod lineup;
pub mod media;
pub mod plex;
pub mod probe;
pub mod providers;
pub mod redact;
pub mod store;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;

pub use crate::app::AppState;
use crate::config::Config;
use crate::lineup::Lineup;
use crate::media::budget::ConnectionBudget;
use crate::media::manager::Sessions;
use crate::store::Store;
use crate::store::events::EventLog;

/// Every area's routes over one state, behind the admin gate (which lets
/// the tuner face through and asks a login of everything else).
pub fn router(state: AppState) -> Router {
    let auth = Arc::clone(&state.auth);
    Router::new()
        .merge(http::streams::routes())
        .merge(http::api::routes())
        .merge(http::sources::routes())
        .merge(http::channels::routes())
        .merge(http::auth::routes().with_state(Arc::clone(&auth)))
        .merge(plex::routes())
        .layer(axum::middleware::from_fn_with_state(auth, http::auth::gate))
        .with_state(state)
}

/// Serves until `shutdown` resolves, then stops sessions, drains the event
/// writer and closes the database. The lineup is the config's channels.
pub async fn run(
    config: Config,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let lineup = Lineup::from_config(&config);
    run_with_lineup(config, listener, shutdown, lineup).await
}

/// [`run`] with a lineup the caller keeps a handle on: it is filled at
/// start from the config's channels and the stored provider channels,
/// rebuilt after syncs and edits, and the caller may replace it while
/// serving. After start-up nothing reads `config.channel`.
pub async fn run_with_lineup(
    config: Config,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
    lineup: Arc<Lineup>,
) -> anyhow::Result<()> {
    run_with_budget(config, listener, shutdown, lineup, ConnectionBudget::new()).await
}

/// [`run_with_lineup`] with the provider connection budget the caller
/// keeps a handle on (to set accounts' limits while serving).
pub async fn run_with_budget(
    config: Config,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
    lineup: Arc<Lineup>,
    budget: Arc<ConnectionBudget>,
) -> anyhow::Result<()> {
    media::input::init_ffmpeg();
    let nofile = http::server::raise_open_files_limit();
    let limits = http::server::Limits::from_config(&config.server).fit_to_files(nofile, 256);
    let store = Store::open(&config.server.data_dir)
        .await
        .with_context(|| {
            format!(
                "opening the database in {}",
                config.server.data_dir.display()
            )
        })?;
    let event_log = EventLog::start(&store, &config.events);
    let events = event_log.bus.clone();
    let addr = listener.local_addr()?;
    let device = Arc::new(
        plex::Device::load_or_create(&store, &config.server.friendly_name)
            .await?
            .serving_at(addr),
    );
    let sessions = Sessions::new(&config.tuner, config.stream.clone(), events.clone(), budget);
    providers::schedule::sync_config_sources(&store, &config)
        .await
        .context("storing the config's sources")?;
    let syncer = providers::sync::Syncer::new(
        store.clone(),
        events.clone(),
        config.sync.clone(),
        &config.stream.user_agent,
    );
    if let Err(e) =
        lineup::live::rebuild_now(&store, &config, &lineup, &events, sessions.budget()).await
    {
        tracing::error!(
            "cannot build the lineup from the database, serving the config's channels: {e:#}"
        );
    }
    let rebuild = lineup::live::Rebuild(Arc::clone(&syncer.changed));
    let rebuilder = lineup::live::spawn(
        store.clone(),
        Arc::new(config.clone()),
        Arc::clone(&lineup),
        events.clone(),
        Arc::clone(sessions.budget()),
        rebuild.clone(),
    );
    let scheduler = providers::schedule::spawn(Arc::clone(&syncer));
    let advert = Arc::new(plex::Advert::new(
        &config,
        Arc::clone(&device),
        addr,
        Arc::clone(&sessions),
    ));
    let advertisers = plex::Advertisers::start(&config, advert).await;
    let state = AppState {
        config: Arc::new(config.clone()),
        lineup: Arc::clone(&lineup),
        sessions: Arc::clone(&sessions),
        store: store.clone(),
        events: events.clone(),
        device,
        syncer,
        rebuild,
        guide_cache: Arc::new(plex::guide_cache::GuideCache::default()),
        auth: Arc::new(http::auth::Auth::new(
            store.clone(),
            &config.server,
            Arc::new(plex::hosts::HostPolicy::new(&config.server)),
        )),
    };
    log_admin_access(&store, &config).await;
    let enabled = lineup.enabled().len();
    if enabled == 0 {
        tracing::warn!(
            "no channels to serve yet: add a provider ([[source]] and [[epg]] in the config, or POST /api/sources) or [[channel]] entries; see streamforge.example.toml"
        );
    }
    tracing::info!(%addr, channels = enabled, tuners = config.tuner.count, "StreamForge listening");
    plex::log_setup_urls(&config, addr);
    let prerender = plex::epg_cache::spawn_prerender(axum::extract::FromRef::from_ref(&state));
    let app = router(state);
    let stopper = Arc::clone(&sessions);
    let graceful = async move {
        shutdown.await;
        match (&advertisers.ssdp, &advertisers.udp) {
            (Some(_), _) => tracing::info!("shutting down: stopping discovery (ssdp:byebye)"),
            (None, Some(_)) => tracing::info!("shutting down: stopping discovery"),
            (None, None) => {}
        }
        advertisers.stop().await;
        tracing::info!("shutting down: ending sessions");
        // Ending the sessions closes their rings, which ends every client
        // body, which lets the graceful shutdown finish.
        let _ = tokio::task::spawn_blocking(move || stopper.shutdown(Duration::from_secs(2))).await;
    };
    http::server::serve(listener, app, limits, graceful, Duration::from_secs(5))
        .await
        .context("HTTP server")?;
    scheduler.abort();
    let _ = scheduler.await;
    rebuilder.abort();
    let _ = rebuilder.await;
    prerender.abort();
    let _ = prerender.await;
    drop(events);
    drop(sessions);
    // The writer ends once every sink is gone; sessions' threads hold clones
    // until they end, so bound the wait.
    event_log
        .finish(Duration::from_secs(2), Duration::from_millis(500))
        .await;
    store.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// Says at start who may use management.
async fn log_admin_access(store: &Store, config: &Config) {
    let stored = store.admin_password_hash().await.ok().flatten();
    if config.server.admin_password_hash.is_some() || stored.is_some() {
        tracing::info!("management (/api, dashboard) needs the admin login");
    } else {
        tracing::warn!(
            "no admin password set: management (/api, dashboard) answers only to this machine; run `streamforge set-password` to manage it from elsewhere"
        );
    }
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    // A second Ctrl-C while shutting down exits at once.
    tokio::spawn(async {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("second interrupt: exiting now");
            std::process::exit(130);
        }
    });
}
