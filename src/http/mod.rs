//! What StreamForge serves over HTTP besides the Plex face: channel
//! streams (`streams`), the JSON API (`api`) and its provider half
//! (`sources`). Each builds its router
//! from the sub-state it needs; `crate::router` merges them with the Plex
//! routes.

pub mod api;
pub mod channels;
pub mod sources;
pub mod streams;

pub use api::ApiState;
pub use channels::ChannelsState;
pub use sources::SourcesState;
pub use streams::StreamState;
