//! The types every probe stage shares: why an input could not be read,
//! how an observation ended and what it saw. Kept apart so `run` (which
//! observes) and `report` (which describes) do not import each other.

use std::time::Duration;

use super::source::HttpInfo;
use super::stats::{Gaps, Interleave, Track, Windows};
use crate::media::input::OpenError;

/// How long a live input is watched when `--duration` is not given.
pub const LIVE_DEFAULT: Duration = Duration::from_secs(10);
/// Per candidate when probing a channel: the table needs liveness, the
/// first keyframe and a bitrate, not a long watch.
pub const CHANNEL_DEFAULT: Duration = Duration::from_secs(5);

/// Why an input could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("{}", open_message(error, http.as_deref()))]
    Open {
        error: OpenError,
        http: Option<Box<HttpInfo>>,
    },
    #[error("cannot read {path}: {error}")]
    File { path: String, error: std::io::Error },
}

fn open_message(e: &OpenError, http: Option<&HttpInfo>) -> String {
    match (e, http) {
        (OpenError::Http { .. } | OpenError::Unreachable { .. }, _) | (_, None) => e.to_string(),
        (_, Some(h)) => format!(
            "{e} (HTTP {}, {})",
            h.status,
            h.content_type.as_deref().unwrap_or("no content type")
        ),
    }
}

/// How the observation ended.
#[derive(Debug, Clone, PartialEq)]
pub enum End {
    /// The duration was reached.
    Duration,
    /// End of a file.
    Eof,
    /// A live upstream ended the stream.
    Closed,
    Error(String),
}

impl End {
    pub fn text(&self) -> String {
        match self {
            End::Duration => "duration reached".into(),
            End::Eof => "end of file".into(),
            End::Closed => "upstream closed the stream".into(),
            End::Error(e) => format!("read error: {e}"),
        }
    }
}

/// What the demux loop saw.
pub struct Observed {
    pub tracks: Vec<Track>,
    pub video: Option<usize>,
    pub audio: Option<usize>,
    pub interleave: Interleave,
    /// Payload bytes per second of media time.
    pub media: Windows,
    pub(super) media_last_ms: Option<f64>,
    /// Packet delivery times (stalls when the bytes are not ours to time).
    pub delivery: Gaps,
    pub first_packet_ms: Option<u64>,
    pub first_keyframe_ms: Option<u64>,
    pub end: End,
    pub end_ms: u64,
}

impl Observed {
    /// The media-time end of the observation, for bitrate windows.
    pub fn media_end_ms(&self) -> f64 {
        self.media_last_ms.unwrap_or(0.0)
    }
}
