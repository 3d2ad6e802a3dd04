//! Opening an upstream with libavformat: options, the interrupt deadline,
//! validation that what answered is a media stream, and typed errors.
//! Opening runs on a throwaway thread ([`open_in_background`]) because DNS
//! resolution cannot be interrupted: the caller can abandon a hung open.

use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ffmpeg::format::context::Input;
use ffmpeg::media::Type as MediaType;
use ffmpeg_next as ffmpeg;

use super::batch::Batching;
use super::budget::Permit;
use super::reach::{self, Reach};
use crate::redact::redact;

/// Milliseconds since the first call, on a monotonic clock. Atomics hold
/// instants as these.
pub fn now_ms() -> u64 {
    static BASE: OnceLock<Instant> = OnceLock::new();
    BASE.get_or_init(Instant::now).elapsed().as_millis() as u64
}

/// The deadline FFmpeg's interrupt callback compares against. Written by
/// the thread that owns the input (pushing it forward as data arrives) and
/// by whoever wants to cancel; read by FFmpeg's polling inside blocking I/O.
#[derive(Debug)]
pub struct Interrupt {
    deadline_ms: AtomicU64,
    /// Set once the deadline made FFmpeg abort: the abort stays sticky in
    /// the IO context, so later reads fail too, even after `extend`.
    deadline_hit: AtomicBool,
    cancelled: AtomicBool,
    /// A session-wide stop flag (shutdown) shared by all of its inputs.
    stop: Arc<AtomicBool>,
    /// Read batching, armed by the demux thread for a live input.
    pub batch: Batching,
}

impl Interrupt {
    pub fn new(stop: Arc<AtomicBool>, timeout: Duration) -> Arc<Self> {
        Arc::new(Self {
            deadline_ms: AtomicU64::new(now_ms() + timeout.as_millis() as u64),
            deadline_hit: AtomicBool::new(false),
            cancelled: AtomicBool::new(false),
            stop,
            batch: Batching::default(),
        })
    }

    /// A packet arrived: the deadline moves to `timeout` from now.
    pub fn extend(&self, timeout: Duration) {
        let now = now_ms();
        self.deadline_ms
            .store(now + timeout.as_millis() as u64, Ordering::Relaxed);
        self.batch.data(now);
    }

    /// libavformat's interrupt callback: abort, or (a live input, between
    /// reads) let a batch of data gather first ([`Batching::before_wait`]).
    pub fn callback(&self) -> bool {
        if self.should_abort() {
            return true;
        }
        self.batch.before_wait(now_ms());
        false
    }

    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::Relaxed);
    }

    pub fn should_abort(&self) -> bool {
        if self.cancelled.load(Ordering::Relaxed) || self.stop.load(Ordering::Relaxed) {
            return true;
        }
        let hit = self.expired_at(now_ms());
        if hit {
            self.deadline_hit.store(true, Ordering::Relaxed);
        }
        hit
    }

    /// Cancelled, or the whole session is stopping.
    pub fn is_stopping(&self) -> bool {
        self.cancelled.load(Ordering::Relaxed) || self.stop.load(Ordering::Relaxed)
    }

    /// Whether the deadline is over at `now` (a `now_ms()` value).
    pub fn expired_at(&self, now: u64) -> bool {
        now > self.deadline_ms.load(Ordering::Relaxed)
    }

    /// Whether the deadline has passed or has already aborted FFmpeg.
    pub fn timed_out(&self) -> bool {
        self.deadline_hit.load(Ordering::Relaxed)
            || now_ms() > self.deadline_ms.load(Ordering::Relaxed)
    }
}

#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum OpenError {
    #[error("connection refused or unreachable: {url}")]
    Unreachable { url: String },
    #[error("HTTP {} from {url}", http_label(*status))]
    Http { status: u16, url: String },
    #[error("not a media stream (no audio or video found): {url}")]
    NotMedia { url: String },
    #[error("no packet within {ms} ms: {url}")]
    Timeout { url: String, ms: u64 },
    #[error("cancelled")]
    Cancelled,
    /// A local path that is not a regular file (a FIFO, a device, a
    /// directory, a socket): opening it could block forever.
    #[error("not a regular file ({kind}): {url}")]
    NotRegularFile { url: String, kind: &'static str },
    /// Too many earlier opens are still blocked (in DNS or a socket)
    /// after their callers gave up on them.
    #[error("{pending} abandoned opens still pending: not opening {url}")]
    TooManyPending { url: String, pending: usize },
    #[error("cannot open {url}: {message}")]
    Other { url: String, message: String },
}

impl OpenError {
    /// A short machine-friendly reason for events.
    pub fn reason(&self) -> &'static str {
        match self {
            OpenError::Unreachable { .. } => "unreachable",
            OpenError::Http { .. } => "http_error",
            OpenError::NotMedia { .. } => "not_media",
            OpenError::Timeout { .. } => "timeout",
            OpenError::Cancelled => "cancelled",
            OpenError::NotRegularFile { .. } => "not_regular_file",
            OpenError::TooManyPending { .. } => "open_backlog",
            OpenError::Other { .. } => "error",
        }
    }

    pub fn from_ffmpeg(
        e: ffmpeg::Error,
        url: &str,
        interrupt: &Interrupt,
        timeout: Duration,
    ) -> Self {
        use ffmpeg::Error as E;
        let url = redact(url);
        let http = |status| OpenError::Http {
            status,
            url: url.clone(),
        };
        match e {
            E::Exit if interrupt.timed_out() => OpenError::Timeout {
                url,
                ms: timeout.as_millis() as u64,
            },
            E::Exit => OpenError::Cancelled,
            E::HttpBadRequest => http(400),
            E::HttpUnauthorized => http(401),
            E::HttpForbidden => http(403),
            E::HttpNotFound => http(404),
            E::HttpOther4xx => http(UNKNOWN_4XX),
            E::HttpServerError => http(UNKNOWN_5XX),
            E::InvalidData | E::StreamNotFound | E::DemuxerNotFound => OpenError::NotMedia { url },
            E::Other { errno }
                if errno == libc_errno::ECONNREFUSED
                    || errno == libc_errno::EHOSTUNREACH
                    || errno == libc_errno::ENETUNREACH
                    || errno == libc_errno::ENOENT =>
            {
                OpenError::Unreachable { url }
            }
            E::Other { errno } if errno == libc_errno::ETIMEDOUT => OpenError::Timeout {
                url,
                ms: timeout.as_millis() as u64,
            },
            other => OpenError::Other {
                url,
                message: other.to_string(),
            },
        }
    }
}

/// FFmpeg reports 400/401/403/404 exactly and only the class of the
/// others: these stand for "some 4xx" / "some 5xx", shown as such rather
/// than as a made-up code. Callers that know the real status use it.
pub const UNKNOWN_4XX: u16 = 499;
pub const UNKNOWN_5XX: u16 = 599;

fn http_label(status: u16) -> String {
    match status {
        UNKNOWN_4XX => "4xx".into(),
        UNKNOWN_5XX => "5xx".into(),
        s => s.to_string(),
    }
}

/// errno values as FFmpeg reports them on Linux.
mod libc_errno {
    pub const ENOENT: i32 = 2;
    pub const ETIMEDOUT: i32 = 110;
    pub const ECONNREFUSED: i32 = 111;
    pub const EHOSTUNREACH: i32 = 113;
    pub const ENETUNREACH: i32 = 101;
}

#[derive(Debug, Clone)]
pub struct OpenOptions {
    pub connect_timeout: Duration,
    pub user_agent: String,
    /// Sent as `Referer` when set (a playlist's `#EXTVLCOPT:http-referrer`).
    pub referrer: Option<String>,
    /// The protocols libavformat may open for this input and everything
    /// it fetches on its behalf (HLS variants, segments, keys, redirects);
    /// `None` leaves FFmpeg's defaults (the `probe` command).
    pub protocols: Option<&'static str>,
    /// Skip FFmpeg's frame-rate estimation while probing. Without it
    /// `avformat_find_stream_info` reads 20 video frames (0.8 s at 25 fps)
    /// whenever the stream does not state its frame rate, even when the
    /// first keyframe is in hand; remuxing to MPEG-TS never needs the
    /// rate. `probe` keeps it off to report `r_frame_rate` like ffprobe.
    pub skip_fps_probe: bool,
}

/// An opened upstream with its interrupt handle.
pub struct Opened {
    pub input: Input,
    pub interrupt: Arc<Interrupt>,
    pub url: String,
    pub opened_at: Instant,
    pub open_ms: u64,
    /// The provider account's connection this input uses (none for config
    /// candidates and `probe`). Declared after `input`: fields drop in
    /// order, so the socket is closed before the connection is given back.
    pub permit: Option<Permit>,
}

// The demux thread receives `Opened` from the opening thread.
const _: fn() = || {
    fn assert_send<T: Send>() {}
    assert_send::<Opened>();
};

/// Initialises FFmpeg once (network, log level).
pub fn init_ffmpeg() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        let _ = ffmpeg::init();
        // FFmpeg's own chatter goes to stderr; keep it to real errors.
        ffmpeg::util::log::set_level(ffmpeg::util::log::Level::Fatal);
    });
}

/// What a provider's candidate may make FFmpeg open: the web, nothing
/// local (a hostile playlist or HLS manifest cannot read files or reach
/// other protocols).
pub const REMOTE_PROTOCOLS: &str = "http,https,tcp,tls,crypto";
/// A candidate typed into the config may also be a local file.
pub const CONFIG_PROTOCOLS: &str = "http,https,tcp,tls,crypto,file";

/// Turns a configured candidate into what libavformat opens.
pub fn ffmpeg_url(url: &str) -> String {
    url.strip_prefix("file://")
        .map(str::to_string)
        .unwrap_or_else(|| url.to_string())
}

/// The local path libavformat's `file` protocol would open for `url`
/// (after [`ffmpeg_url`]): a bare path or a `file:` URL; `None` for any
/// other scheme.
fn local_path(url: &str) -> Option<&str> {
    if let Some(p) = url.strip_prefix("file:") {
        return Some(p);
    }
    let Some(scheme_end) = url.find(':') else {
        return Some(url);
    };
    let scheme = &url[..scheme_end];
    let is_scheme = scheme.len() > 1
        && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    (!is_scheme).then_some(url)
}

/// Refuses a local candidate that is not a regular file. A FIFO with no
/// writer blocks `open(2)` in libavformat beyond any interrupt callback
/// (the thread would leak); a character device may block on every read.
/// `stat(2)` never blocks on either. A missing file is left to libavformat
/// (it reports `ENOENT`).
fn check_local(url: &str, opened_as: &str) -> Result<(), OpenError> {
    let Some(path) = local_path(opened_as) else {
        return Ok(());
    };
    let Ok(meta) = std::fs::metadata(path) else {
        return Ok(());
    };
    use std::os::unix::fs::FileTypeExt;
    let ft = meta.file_type();
    let kind = if ft.is_file() {
        return Ok(());
    } else if ft.is_fifo() {
        "FIFO"
    } else if ft.is_char_device() || ft.is_block_device() {
        "device"
    } else if ft.is_dir() {
        "directory"
    } else if ft.is_socket() {
        "socket"
    } else {
        "special file"
    };
    Err(OpenError::NotRegularFile {
        url: redact(url),
        kind,
    })
}

/// Opens `url` and checks it is a media stream with audio or video. Blocks;
/// aborted through `interrupt` (deadline or cancel).
pub fn open(url: &str, opts: &OpenOptions, interrupt: Arc<Interrupt>) -> Result<Opened, OpenError> {
    init_ffmpeg();
    let target = ffmpeg_url(url);
    // Only where the file protocol is allowed (`None`: FFmpeg's defaults).
    if opts
        .protocols
        .is_none_or(|p| p.split(',').any(|p| p == "file"))
    {
        check_local(url, &target)?;
    }
    let started = Instant::now();
    let mut dict = ffmpeg::Dictionary::new();
    dict.set("user_agent", &opts.user_agent);
    if let Some(r) = opts
        .referrer
        .as_deref()
        .filter(|r| !r.contains(['\r', '\n']))
    {
        dict.set("referer", r);
    }
    // Backstops only: stalls are detected by the session, not by FFmpeg.
    dict.set("rw_timeout", "30000000");
    dict.set("reconnect", "0");
    dict.set("multiple_requests", "0");
    // HLS: start near the live edge, reload promptly.
    dict.set("live_start_index", "-3");
    if opts.skip_fps_probe {
        dict.set("fpsprobesize", "0");
    }
    if let Some(p) = opts.protocols {
        // Inherited by everything the input opens on its behalf.
        dict.set("protocol_whitelist", p);
    }
    let cb = Arc::clone(&interrupt);
    let reach = Arc::new(Reach::for_url(url));
    let input = reach::open_input(&target, move || cb.callback(), dict, Arc::clone(&reach))
        .map_err(|e| match reach.refusal() {
            Some(why) => OpenError::Other {
                url: redact(url),
                message: why,
            },
            None => OpenError::from_ffmpeg(e, url, &interrupt, opts.connect_timeout),
        })?;
    finish_open(input, interrupt, url, started, opts.connect_timeout)
}

/// Checks a freshly opened input and wraps it: the one place that decides
/// whether an open succeeded (used for libavformat's own IO and for the
/// probe's custom IO alike).
pub fn finish_open(
    input: Input,
    interrupt: Arc<Interrupt>,
    url: &str,
    started: Instant,
    timeout: Duration,
) -> Result<Opened, OpenError> {
    // avformat_find_stream_info reports success when the deadline cut it
    // short, leaving the abort sticky in the IO context: that is a timeout.
    if interrupt.is_stopping() {
        return Err(OpenError::Cancelled);
    }
    if interrupt.timed_out() {
        return Err(OpenError::Timeout {
            url: redact(url),
            ms: timeout.as_millis() as u64,
        });
    }
    if !has_media(&input) {
        return Err(OpenError::NotMedia { url: redact(url) });
    }
    Ok(Opened {
        input,
        interrupt,
        url: url.to_string(),
        opened_at: Instant::now(),
        open_ms: started.elapsed().as_millis() as u64,
        permit: None,
    })
}

/// Whether an opened input holds a usable stream: video with a known size
/// or audio with a known sample rate.
pub fn has_media(input: &Input) -> bool {
    input.streams().any(|s| match s.parameters().medium() {
        MediaType::Video => {
            let (w, h) = video_size(&s.parameters());
            s.parameters().id() != ffmpeg::codec::Id::None && w > 0 && h > 0
        }
        MediaType::Audio => {
            s.parameters().id() != ffmpeg::codec::Id::None && audio_rate(&s.parameters()) > 0
        }
        _ => false,
    })
}

/// Runs [`open`] on its own thread. The receiver yields one result; a caller
/// that stops waiting drops it and cancels `interrupt`, and the thread ends
/// on its own (dropping the input) once FFmpeg or DNS returns.
pub fn open_in_background(
    name: String,
    url: String,
    opts: OpenOptions,
    interrupt: Arc<Interrupt>,
) -> crossbeam_channel::Receiver<Result<Opened, OpenError>> {
    open_in_background_holding(name, url, opts, interrupt, None)
}

/// Abandoned open threads allowed at once, process-wide. A live open
/// normally ends within its connect timeout; only opens stuck where no
/// interrupt reaches (DNS) outlive their callers, and past this many new
/// opens are refused rather than piling up threads. Opens whose callers
/// still wait are not counted: 100 channels starting at once (a server
/// restart with every client reconnecting) are 100 live opens, bounded by
/// the tuner count.
pub const MAX_ABANDONED_OPENS: usize = 64;

/// Every open thread not yet joined, with its interrupt (cancelled or
/// stopped once its caller gave up). Pruned (joined) at each spawn and by
/// [`join_open_threads`] at shutdown. The lock is held only to push or
/// partition handles.
type OpenThread = (std::thread::JoinHandle<()>, Arc<Interrupt>);
static OPEN_THREADS: parking_lot::Mutex<Vec<OpenThread>> = parking_lot::Mutex::new(Vec::new());

/// Joins the open threads that have finished; answers how many still run
/// and how many of those were abandoned by their callers.
fn reap_open_threads() -> (usize, usize) {
    let done: Vec<_> = {
        let mut g = OPEN_THREADS.lock();
        let (done, running) = std::mem::take(&mut *g)
            .into_iter()
            .partition(|(h, _)| h.is_finished());
        *g = running;
        done
    };
    for (h, _) in done {
        let _ = h.join();
    }
    let g = OPEN_THREADS.lock();
    let abandoned = g.iter().filter(|(_, i)| i.is_stopping()).count();
    (g.len(), abandoned)
}

/// Open threads still running (abandoned opens included).
pub fn open_threads() -> usize {
    reap_open_threads().0
}

/// At shutdown: waits up to `timeout` for every open thread to end (their
/// sessions have cancelled them) and joins them. Answers how many are left
/// running (stuck in DNS); those end with the process.
pub fn join_open_threads(timeout: Duration) -> usize {
    let deadline = Instant::now() + timeout;
    loop {
        let left = reap_open_threads().0;
        if left == 0 || Instant::now() >= deadline {
            return left;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// [`open_in_background`] for a connection counted against a provider
/// account: the thread owns `permit` until the input exists (then the
/// input holds it), so an open that fails or is abandoned gives the
/// connection back only once FFmpeg has let go of the socket.
pub fn open_in_background_holding(
    name: String,
    url: String,
    opts: OpenOptions,
    interrupt: Arc<Interrupt>,
    permit: Option<Permit>,
) -> crossbeam_channel::Receiver<Result<Opened, OpenError>> {
    let (tx, rx) = crossbeam_channel::bounded(1);
    let (_, pending) = reap_open_threads();
    if pending >= MAX_ABANDONED_OPENS {
        let _ = tx.send(Err(OpenError::TooManyPending {
            url: redact(&url),
            pending,
        }));
        return rx;
    }
    let watched = Arc::clone(&interrupt);
    let spawned = std::thread::Builder::new().name(name).spawn(move || {
        let opened = open(&url, &opts, interrupt).map(|mut o| {
            o.permit = permit;
            o
        });
        // A caller that gave up dropped the receiver: the input (then the
        // permit) is dropped here.
        let _ = tx.send(opened);
    });
    match spawned {
        Ok(h) => OPEN_THREADS.lock().push((h, watched)),
        Err(e) => {
            let (tx, rx) = crossbeam_channel::bounded(1);
            let _ = tx.send(Err(OpenError::Other {
                url: String::new(),
                message: format!("cannot spawn thread: {e}"),
            }));
            return rx;
        }
    }
    rx
}

pub fn video_size(p: &ffmpeg::codec::Parameters) -> (i32, i32) {
    // SAFETY: `p` wraps a valid AVCodecParameters for its whole lifetime;
    // we only read plain integer fields.
    unsafe {
        let raw = p.as_ptr();
        ((*raw).width, (*raw).height)
    }
}

pub fn audio_rate(p: &ffmpeg::codec::Parameters) -> i32 {
    // SAFETY: as in `video_size`.
    unsafe { (*p.as_ptr()).sample_rate }
}

pub fn audio_channels(p: &ffmpeg::codec::Parameters) -> i32 {
    // SAFETY: as in `video_size`; `ch_layout` exists since FFmpeg 5.1.
    unsafe { (*p.as_ptr()).ch_layout.nb_channels }
}

/// Bytes read so far by the input's top-level IO (0 when unknown, e.g.
/// inside HLS where segments have their own IO).
pub fn bytes_read(input: &Input) -> u64 {
    // SAFETY: `input` owns a valid AVFormatContext; `pb` is either null or
    // the context's live AVIOContext, and we only read a counter.
    unsafe {
        let ctx = input.as_ptr();
        let pb = (*ctx).pb;
        if pb.is_null() {
            0
        } else {
            (*pb).bytes_read.max(0) as u64
        }
    }
}

#[cfg(test)]
mod local_tests {
    use super::local_path;

    #[test]
    fn bare_paths_and_file_urls_are_local_other_schemes_not() {
        assert_eq!(local_path("/srv/a.ts"), Some("/srv/a.ts"));
        assert_eq!(local_path("rel/a:b.ts"), Some("rel/a:b.ts"));
        assert_eq!(local_path("file:/srv/a.ts"), Some("/srv/a.ts"));
        assert_eq!(local_path("http://h/a.ts"), None);
        assert_eq!(local_path("pipe:0"), None);
    }
}

#[cfg(test)]
mod open_backlog_tests {
    use std::net::TcpListener;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::{Duration, Instant};

    use super::*;

    /// Issue 11: 100 channels starting at once were refused past 64 opens
    /// in flight ("64 abandoned opens still pending") although none had
    /// been abandoned. Only opens whose callers gave up count.
    #[test]
    fn many_live_opens_at_once_are_not_refused() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        // An upstream that accepts and never answers.
        let held = Arc::new(parking_lot::Mutex::new(Vec::new()));
        let keep = Arc::clone(&held);
        std::thread::spawn(move || {
            for s in l.incoming().flatten() {
                keep.lock().push(s);
            }
        });
        let n = MAX_ABANDONED_OPENS + 8;
        let stop = Arc::new(AtomicBool::new(false));
        let opts = OpenOptions {
            connect_timeout: Duration::from_secs(30),
            user_agent: "test".into(),
            referrer: None,
            protocols: Some(REMOTE_PROTOCOLS),
            skip_fps_probe: true,
        };
        let opens: Vec<_> = (0..n)
            .map(|i| {
                let irq = Interrupt::new(Arc::clone(&stop), opts.connect_timeout);
                open_in_background(
                    format!("t-open-{i}"),
                    format!("http://{addr}/s{i}.ts"),
                    opts.clone(),
                    irq,
                )
            })
            .collect();
        let t = Instant::now();
        while held.lock().len() < n {
            let refused: Vec<String> = opens
                .iter()
                .filter_map(|rx| rx.try_recv().ok())
                .map(|r| r.err().map_or("opened".into(), |e| e.to_string()))
                .collect();
            assert!(refused.is_empty(), "opens refused: {refused:?}");
            assert!(
                t.elapsed() < Duration::from_secs(30),
                "only {} of {n} opens reached the upstream",
                held.lock().len()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        // Every one is still waiting for the upstream's answer.
        assert!(opens.iter().all(|rx| rx.try_recv().is_err()));
        // Their session stops: every open ends, none is left behind.
        stop.store(true, Ordering::Relaxed);
        for rx in opens {
            let r = rx.recv_timeout(Duration::from_secs(10));
            assert!(matches!(r, Ok(Err(_))), "{:?}", r.map(|o| o.err()));
        }
    }
}
