//! What StreamForge serves over HTTP besides the Plex face: channel
//! streams (`streams`), the JSON API (`api`) and its provider half
//! (`sources`, `channels`), who may use management (`auth`) and the accept
//! loop with its connection limits (`server`). Each builds its router
//! from the sub-state it needs; `crate::router` merges them with the Plex
//! routes and puts `auth::gate` in front of all of them.

pub mod api;
pub mod auth;
pub mod channels;
pub mod server;
pub mod sources;
pub mod streams;

pub use api::ApiState;
pub use channels::ChannelsState;
pub use sources::SourcesState;
pub use streams::StreamState;
