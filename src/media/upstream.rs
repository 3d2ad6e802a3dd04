//! One candidate upstream, opened and read: connect on an abandonable
//! thread with the candidate's own HTTP headers, map its streams onto the
//! output's, read one packet with its failure classified. Used by the
//! session, the warm standby and `probe`; it knows nothing of failover.

use std::sync::Arc;
use std::time::Duration;

use ffmpeg::Packet;
use ffmpeg_next as ffmpeg;

use super::budget::{AccountId, Permit};
use super::input::{self, Interrupt, OpenError, OpenOptions, Opened};
use super::remux::InputMap;
use crate::redact::redact;

/// A candidate as the engine opens it: where, and the HTTP headers this
/// candidate needs (a playlist's `#EXTVLCOPT:http-user-agent`, …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub url: String,
    /// Replaces `stream.user_agent` for this candidate.
    pub user_agent: Option<String>,
    pub referrer: Option<String>,
    /// Typed into the config: may be a local file (and then only files
    /// and the web may be opened for it). Provider candidates, and config
    /// candidates that are URLs, may open only remote protocols.
    pub local_files: bool,
    /// The provider account whose connection this candidate uses
    /// (`CandidateSource::Provider::source_id`); `None` for config
    /// candidates, which are not counted.
    pub account: Option<AccountId>,
}

impl Target {
    pub fn url(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            user_agent: None,
            referrer: None,
            local_files: false,
            account: None,
        }
    }

    /// The options to open this candidate with.
    pub fn options(&self, base: &OpenOptions) -> OpenOptions {
        let mut o = base.clone();
        if let Some(ua) = &self.user_agent {
            o.user_agent = ua.clone();
        }
        if self.referrer.is_some() {
            o.referrer = self.referrer.clone();
        }
        // A file only when the candidate itself is one: an HLS playlist
        // typed into the config as a URL may not send FFmpeg to local files.
        let is_file = self.url.starts_with('/') || self.url.starts_with("file:");
        o.protocols = Some(if self.local_files && is_file {
            input::CONFIG_PROTOCOLS
        } else {
            input::REMOTE_PROTOCOLS
        });
        o
    }
}

/// Why reading a live input stopped.
#[derive(Debug)]
pub enum ReadEnd {
    /// No data for the interrupt deadline (the failover threshold).
    Stalled,
    /// The upstream closed the stream.
    Closed,
    Error(String),
    /// The session is stopping.
    Stopped,
    /// Nothing right now; read again.
    Again,
}

impl ReadEnd {
    pub fn kind(&self) -> &'static str {
        match self {
            ReadEnd::Stalled => "stall",
            ReadEnd::Closed => "closed",
            ReadEnd::Error(_) => "read_error",
            ReadEnd::Stopped => "stopped",
            ReadEnd::Again => "again",
        }
    }
}

impl std::fmt::Display for ReadEnd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadEnd::Stalled => write!(f, "no data from upstream"),
            ReadEnd::Closed => write!(f, "upstream closed the stream"),
            ReadEnd::Error(e) => write!(f, "read error: {e}"),
            ReadEnd::Stopped => write!(f, "session stopping"),
            ReadEnd::Again => write!(f, "try again"),
        }
    }
}

/// Reads one packet, classifying the ways it can fail.
pub fn read_packet(opened: &mut Opened) -> Result<Packet, ReadEnd> {
    let mut pkt = Packet::empty();
    match pkt.read(&mut opened.input) {
        Ok(()) => Ok(pkt),
        Err(ffmpeg::Error::Eof) => Err(ReadEnd::Closed),
        Err(ffmpeg::Error::Exit) if opened.interrupt.is_stopping() => Err(ReadEnd::Stopped),
        Err(ffmpeg::Error::Exit) if opened.interrupt.timed_out() => Err(ReadEnd::Stalled),
        // An abort left sticky in the IO context by an earlier deadline.
        Err(ffmpeg::Error::Exit) => {
            tracing::debug!(state = ?opened.interrupt, now = input::now_ms(), "exit without deadline");
            Err(ReadEnd::Error("input interrupted earlier".into()))
        }
        // EAGAIN
        Err(ffmpeg::Error::Other { errno: 11 }) => Err(ReadEnd::Again),
        Err(e) => Err(ReadEnd::Error(e.to_string())),
    }
}

/// Opens a candidate (on an abandonable thread) and maps its streams.
/// `permit` is the account connection it uses (taken by the caller from
/// the budget): it ends up in the returned input, or is given back once a
/// failed open has let go of its socket.
pub fn connect(
    thread_name: &str,
    target: &Target,
    opts: &OpenOptions,
    interrupt: Arc<Interrupt>,
    permit: Option<Permit>,
) -> Result<(Opened, InputMap), OpenError> {
    let url = target.url.as_str();
    let opts = &target.options(opts);
    // The provider must see the account's previous connection go first.
    if let Some(d) = permit.as_ref().map(Permit::settle_delay)
        && !d.is_zero()
    {
        std::thread::sleep(d);
    }
    let rx = input::open_in_background_holding(
        format!("{thread_name}-open"),
        url.to_string(),
        opts.clone(),
        Arc::clone(&interrupt),
        permit,
    );
    // FFmpeg honours the deadline itself; the margin covers DNS, which it
    // cannot interrupt.
    let opened = match rx.recv_timeout(opts.connect_timeout + Duration::from_millis(500)) {
        Ok(r) => r?,
        Err(_) => {
            interrupt.cancel();
            return Err(OpenError::Timeout {
                url: redact(url),
                ms: opts.connect_timeout.as_millis() as u64,
            });
        }
    };
    let map = InputMap::new(&opened.input).map_err(|_| OpenError::NotMedia { url: redact(url) })?;
    Ok((opened, map))
}
