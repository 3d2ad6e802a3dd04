//! Integration tests: one binary, a module per area, real sockets on
//! 127.0.0.1:0, real libavformat, real SQLite.

mod util;

mod auth;
mod budget;
mod config;
mod discovery_limits;
mod engine;
mod events;
mod failover;
mod fuzz_regressions;
mod healthcheck;
mod inputs;
mod layout;
mod leaks;
mod limits;
mod lineup;
mod matching;
mod plex;
mod probe;
mod providers;
mod reach;
mod web;
