//! What an upstream may make the embedded FFmpeg open on its behalf. A
//! hostile HLS upstream names the URLs libavformat fetches next (variant
//! playlists, segments, key URIs), so every one of those opens passes
//! through [`Reach`], installed as the input's `io_open` callback:
//!
//! - the protocol whitelist (`protocol_whitelist`, set by `input`) keeps
//!   FFmpeg to the web (and files for config candidates);
//! - while the input is being opened, one URL may be fetched at most
//!   [`MAX_REPEATS_WHILE_OPENING`] times: a master playlist that names
//!   itself (or a loop of them) is an error, not a storm of requests;
//! - opens are rate-limited per input (a burst of [`BURST`], then
//!   [`PER_SECOND`] a second): enough for a live playlist's reloads and
//!   segments, nowhere near the thousands a second a loop produces;
//! - an upstream on the public internet may not send FFmpeg to this
//!   machine or its LAN (loopback, private, link-local addresses).
//!
//! The first refusal's reason is kept and becomes the open error.

use std::collections::HashMap;
use std::ffi::{CStr, CString, c_char, c_int};
use std::net::{IpAddr, ToSocketAddrs};
use std::sync::OnceLock;
use std::time::Instant;

use ffmpeg::ffi::{AVDictionary, AVFormatContext, AVIOContext};
use ffmpeg_next as ffmpeg;
use parking_lot::Mutex;

use crate::redact::redact;

/// Fetches of one URL allowed while the input opens.
pub const MAX_REPEATS_WHILE_OPENING: u32 = 3;
/// Opens allowed at once, and refilled per second, per input.
pub const BURST: f64 = 64.0;
pub const PER_SECOND: f64 = 10.0;

type IoOpen = unsafe extern "C" fn(
    *mut AVFormatContext,
    *mut *mut AVIOContext,
    *const c_char,
    c_int,
    *mut *mut AVDictionary,
) -> c_int;

/// The limits of one input; lives as long as its format context.
pub struct Reach {
    /// Whether the candidate itself is on this machine or the LAN (then
    /// so may its segments be).
    origin_local: bool,
    /// libavformat's own `io_open`, which does the opening once allowed
    /// (set once, before the context can call ours).
    default_open: OnceLock<IoOpen>,
    /// Set at the first refusal: the interrupt callback then aborts the
    /// input at once instead of letting FFmpeg retry around the refusal.
    refused: std::sync::atomic::AtomicBool,
    /// Counts and the token bucket. A `parking_lot::Mutex`: held for one
    /// check per open, from the demux thread only in practice.
    state: Mutex<State>,
}

struct State {
    opening: bool,
    seen: HashMap<String, u32>,
    tokens: f64,
    refilled: Instant,
    opens: u64,
    refusal: Option<String>,
}

/// Whether `ip` is this machine, the LAN or otherwise not the internet.
pub fn is_local(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                // 100.64.0.0/10, carrier-grade NAT.
                || (v4.octets()[0] == 100 && (v4.octets()[1] & 0xc0) == 64)
        }
        IpAddr::V6(v6) => {
            v6.is_loopback()
                || v6.is_unspecified()
                || (v6.segments()[0] & 0xfe00) == 0xfc00
                || (v6.segments()[0] & 0xffc0) == 0xfe80
                || v6
                    .to_ipv4_mapped()
                    .is_some_and(|v4| is_local(IpAddr::V4(v4)))
        }
    }
}

/// The host and port a URL (possibly `crypto+http://…`) reaches.
fn host_port(url: &str) -> Option<(String, u16)> {
    let url = url
        .strip_prefix("crypto+")
        .or_else(|| url.strip_prefix("crypto:"))
        .unwrap_or(url);
    let u = url::Url::parse(url).ok()?;
    let host = u.host_str()?.trim_start_matches('[').trim_end_matches(']');
    Some((host.to_string(), u.port_or_known_default()?))
}

/// Whether a URL's host is (or resolves to) a local address; `None` when
/// it names no host (a file, or not a URL).
fn reaches_local(url: &str) -> Option<bool> {
    let (host, port) = host_port(url)?;
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Some(is_local(ip));
    }
    match (host.as_str(), port).to_socket_addrs() {
        Ok(mut addrs) => Some(addrs.any(|a| is_local(a.ip()))),
        // Unresolvable: the open will fail on its own.
        Err(_) => Some(false),
    }
}

impl Reach {
    /// The limits for an input opened from `url`.
    pub fn for_url(url: &str) -> Self {
        Self::new(reaches_local(url).unwrap_or(true))
    }

    fn new(origin_local: bool) -> Self {
        Self {
            origin_local,
            default_open: OnceLock::new(),
            refused: std::sync::atomic::AtomicBool::new(false),
            state: Mutex::new(State {
                opening: true,
                seen: HashMap::new(),
                tokens: BURST,
                refilled: Instant::now(),
                opens: 0,
                refusal: None,
            }),
        }
    }

    /// The input is open: from now on a live playlist is reloaded at will
    /// (within the rate).
    pub fn opened(&self) {
        let mut s = self.state.lock();
        s.opening = false;
        s.seen = HashMap::new();
    }

    /// Why the first refused open was refused.
    pub fn refusal(&self) -> Option<String> {
        self.state.lock().refusal.clone()
    }

    /// Opens asked for so far (refused ones included).
    pub fn opens(&self) -> u64 {
        self.state.lock().opens
    }

    /// Whether FFmpeg may open `url` now; the reason when not.
    pub fn check(&self, url: &str) -> Result<(), String> {
        let verdict = self.decide(url);
        if let Err(why) = &verdict {
            self.refused
                .store(true, std::sync::atomic::Ordering::Relaxed);
            let mut s = self.state.lock();
            if s.refusal.is_none() {
                tracing::warn!("upstream refused: {why}");
                s.refusal = Some(why.clone());
            }
        }
        verdict
    }

    fn decide(&self, url: &str) -> Result<(), String> {
        {
            let mut s = self.state.lock();
            s.opens += 1;
            let now = Instant::now();
            let add = now.duration_since(s.refilled).as_secs_f64() * PER_SECOND;
            s.tokens = (s.tokens + add).min(BURST);
            s.refilled = now;
            if s.opening {
                let n = s.seen.entry(url.to_string()).or_insert(0);
                *n += 1;
                if *n > MAX_REPEATS_WHILE_OPENING {
                    return Err(format!(
                        "{} was fetched {} times while opening: the playlist refers to itself",
                        redact(url),
                        *n
                    ));
                }
            }
            if s.tokens < 1.0 {
                return Err(format!(
                    "more than {BURST} fetches, then over {PER_SECOND} a second, on behalf of one upstream (last: {})",
                    redact(url)
                ));
            }
            s.tokens -= 1.0;
        }
        if !self.origin_local && reaches_local(url) == Some(true) {
            return Err(format!(
                "an internet upstream pointed to a local address: {}",
                redact(url)
            ));
        }
        Ok(())
    }
}

/// The `io_open` callback: checks with the input's [`Reach`], then hands
/// over to libavformat's own.
unsafe extern "C" fn io_open(
    s: *mut AVFormatContext,
    pb: *mut *mut AVIOContext,
    url: *const c_char,
    flags: c_int,
    options: *mut *mut AVDictionary,
) -> c_int {
    // SAFETY: `open_input` set `opaque` to a `Reach` that the context's
    // interrupt closure keeps alive until after the context is closed;
    // `url` is a NUL-terminated string from libavformat.
    let (reach, text) = unsafe {
        let reach = &*((*s).opaque as *const Reach);
        (reach, CStr::from_ptr(url).to_string_lossy().into_owned())
    };
    let allowed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| reach.check(&text)))
        .unwrap_or_else(|_| Err("internal error checking an open".into()));
    if allowed.is_err() {
        return -(libc_eacces());
    }
    match reach.default_open.get() {
        // SAFETY: libavformat's own callback, with its own arguments.
        Some(f) => unsafe { f(s, pb, url, flags, options) },
        None => -(libc_eacces()),
    }
}

const fn libc_eacces() -> c_int {
    13
}

/// `avformat_open_input` + `avformat_find_stream_info` like ffmpeg-next's
/// `input_with_interrupt_and_dictionary`, with `reach` on every open.
pub fn open_input<F>(
    url: &str,
    interrupt: F,
    options: ffmpeg::Dictionary,
    reach: std::sync::Arc<Reach>,
) -> Result<ffmpeg::format::context::Input, ffmpeg::Error>
where
    F: FnMut() -> bool + Send + 'static,
{
    use ffmpeg::ffi::*;
    let path = CString::new(url).map_err(|_| ffmpeg::Error::InvalidData)?;
    // SAFETY: mirrors ffmpeg-next's own opener. The context is allocated
    // here and either handed to `Input` (which closes it) or closed here.
    // `Reach` must outlive every `io_open` call: the interrupt closure
    // owns an `Arc` of it, and ffmpeg-next drops that closure only after
    // closing the context.
    unsafe {
        let mut ps = avformat_alloc_context();
        if ps.is_null() {
            return Err(ffmpeg::Error::Other { errno: 12 });
        }
        if let Some(f) = (*ps).io_open {
            let _ = reach.default_open.set(f);
        }
        let raw = std::sync::Arc::as_ptr(&reach);
        let keep = std::sync::Arc::clone(&reach);
        let mut cb = interrupt;
        let interrupt = ffmpeg::util::interrupt::new(Box::new(move || {
            keep.refused.load(std::sync::atomic::Ordering::Relaxed) || cb()
        }));
        (*ps).interrupt_callback = interrupt.interrupt;
        (*ps).opaque = raw as *mut std::ffi::c_void;
        (*ps).io_open = Some(io_open);
        let mut opts = options.disown();
        let res = avformat_open_input(
            &raw mut ps,
            path.as_ptr(),
            std::ptr::null_mut(),
            &raw mut opts,
        );
        ffmpeg::Dictionary::own(opts);
        if res != 0 {
            // avformat_open_input freed the context on failure.
            return Err(ffmpeg::Error::from(res));
        }
        let r = avformat_find_stream_info(ps, std::ptr::null_mut());
        if r < 0 {
            avformat_close_input(&raw mut ps);
            return Err(ffmpeg::Error::from(r));
        }
        reach.opened();
        Ok(ffmpeg::format::context::Input::wrap_with_interrupt(
            ps,
            interrupt.guard,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_addresses() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "192.168.1.1",
            "172.16.0.1",
            "169.254.169.254",
            "100.64.0.1",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:192.168.1.1",
            "0.0.0.0",
        ] {
            assert!(is_local(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["8.8.8.8", "203.0.113.5", "2001:db8::1", "100.128.0.1"] {
            assert!(!is_local(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn a_playlist_fetched_over_and_over_while_opening_is_refused() {
        let r = Reach::new(true);
        for _ in 0..MAX_REPEATS_WHILE_OPENING {
            assert!(r.check("http://cdn.example/master.m3u8").is_ok());
        }
        let e = r.check("http://cdn.example/master.m3u8").unwrap_err();
        assert!(e.contains("refers to itself"), "{e}");
        assert!(r.refusal().unwrap().contains("refers to itself"));
        // Once open, a live playlist reloads as often as the rate allows.
        r.opened();
        for _ in 0..10 {
            assert!(r.check("http://cdn.example/master.m3u8").is_ok());
        }
    }

    #[test]
    fn opens_are_rate_limited() {
        let r = Reach::new(true);
        r.opened();
        let mut ok = 0;
        for i in 0..200 {
            if r.check(&format!("http://cdn.example/seg{i}.ts")).is_ok() {
                ok += 1;
            }
        }
        // The burst, plus what a few milliseconds refill.
        assert!((64..70).contains(&ok), "{ok}");
        assert_eq!(r.opens(), 200);
    }

    #[test]
    fn an_internet_upstream_cannot_point_at_the_lan() {
        let r = Reach::new(false);
        assert!(r.check("http://203.0.113.5/seg1.ts").is_ok());
        for bad in [
            "http://127.0.0.1:5004/api/sessions",
            "http://192.168.1.1/admin",
            "crypto+http://169.254.169.254/latest/meta-data",
            "http://[::1]:80/",
        ] {
            assert!(r.check(bad).is_err(), "{bad}");
        }
        // A LAN upstream may use the LAN.
        let lan = Reach::new(true);
        assert!(lan.check("http://192.168.1.1/seg.ts").is_ok());
    }

    #[test]
    fn origin_is_judged_by_its_host() {
        assert!(Reach::for_url("http://127.0.0.1:8000/live.m3u8").origin_local);
        assert!(!Reach::for_url("http://203.0.113.9/live.m3u8").origin_local);
        assert!(Reach::for_url("/srv/tv/file.ts").origin_local);
    }
}
