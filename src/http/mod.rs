//! What StreamForge serves over HTTP besides the Plex face: channel
//! streams (`streams`) and the JSON API (`api`). Each builds its router
//! from the sub-state it needs; `crate::router` merges them with the Plex
//! routes.

pub mod api;
pub mod streams;

pub use api::ApiState;
pub use streams::StreamState;
