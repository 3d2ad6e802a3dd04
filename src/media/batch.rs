//! Read batching for live inputs over plain HTTP (issue 11). A live
//! upstream sends a few kilobytes at a time, and libavformat's TCP reader
//! polls its socket and wakes for every arrival: about 60 times a second
//! per 4 Mbit/s channel (measured), and at 100 channels those wakeups were
//! the largest cost of the process.
//!
//! libavformat calls the input's interrupt callback on the reading thread
//! just before each wait on its socket. There ([`Batching::before_wait`]),
//! when the socket holds less than a quarter of a batch (a tenth of the
//! stall threshold, at most [`MAX_BATCH`], of the input's measured
//! bitrate; `FIONREAD`), the session first publishes what it has muxed to
//! its clients, then the thread sleeps for the time the rest of the batch
//! needs to arrive; the reads that follow take it without waiting. At the
//! defaults that is five wakeups a second instead of sixty, for the same
//! bytes, and the clients are woken once per batch. A kernel threshold on
//! the socket (`SO_RCVLOWAT`) would do the same for a plain response but
//! not for a chunked one, which libavformat reads one chunk per wait.
//!
//! The socket is libavformat's: the demux thread finds it once a second
//! ([`Batching::tune`]) through the input's protocol contexts
//! (`AVIOContext` → `URLContext` "http" → `URLContext` "tcp"), each checked
//! by its class name before its fields are read, so any other layout
//! (HTTPS, HLS, a file, another FFmpeg) is simply not batched. Nothing
//! sleeps longer than a batch, nor once the input has been without data
//! for two batches (a stall is seen as before), nor while the input is
//! still being opened.

use std::ffi::{CStr, c_int, c_void};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::time::Duration;

use ffmpeg::ffi::AVClass;
use ffmpeg::format::context::Input;
use ffmpeg_next as ffmpeg;

/// The most of the stream one wakeup of the demux thread takes (less when
/// the stall threshold is short: [`batch_for`]).
pub const MAX_BATCH: Duration = Duration::from_millis(200);
/// Below this a batch is not worth a wait (radio, a trickle).
const MIN_BATCH_BYTES: u64 = 4 * 1024;
/// Shortest wait worth a sleep.
const MIN_WAIT: Duration = Duration::from_millis(5);
/// How often the demux thread re-reads the socket and the bitrate.
pub const TUNE_EVERY_MS: u64 = 1000;

/// The batch for a session whose stall threshold is `stall_detect_ms`: a
/// tenth of it, at most [`MAX_BATCH`], so batching never looks like a
/// stall.
pub fn batch_for(stall_detect_ms: u64) -> Duration {
    Duration::from_millis(stall_detect_ms / 10).min(MAX_BATCH)
}

/// How long to wait with `available` bytes on the socket for a batch of
/// `target` bytes (`batch` long at `bitrate_bps`), or `None` to read now.
pub fn wait_for(
    target: u64,
    bitrate_bps: u64,
    available: u64,
    batch: Duration,
) -> Option<Duration> {
    if target < MIN_BATCH_BYTES || bitrate_bps == 0 || available >= target / 4 {
        return None;
    }
    let missing_ms = (target - available) * 8 * 1000 / bitrate_bps;
    let wait = Duration::from_millis(missing_ms).min(batch);
    (wait >= MIN_WAIT).then_some(wait)
}

/// The bytes in `batch` of an input at `bitrate_bps`.
pub fn target_for(bitrate_bps: u64, batch: Duration) -> u64 {
    bitrate_bps / 8 * batch.as_millis() as u64 / 1000
}

/// Called just before the demux thread sleeps for a batch (the session
/// publishes what it has muxed, so clients get each batch at once).
type BeforeSleep = Box<dyn Fn() + Send + Sync>;

/// One input's batching state, inside its interrupt (written by the demux
/// thread, read by libavformat's callback on the same thread).
pub struct Batching {
    /// The input's socket, or -1: not batched.
    fd: AtomicI32,
    bitrate_bps: AtomicU64,
    batch_ms: AtomicU64,
    /// `now_ms` of the newest packet.
    last_data_ms: AtomicU64,
    /// `now_ms` (+1) of the last check that found enough waiting: the
    /// callback runs several times per socket read, and in the same
    /// millisecond the answer is the same.
    plenty_at_ms: AtomicU64,
    before_sleep: OnceLock<BeforeSleep>,
}

impl std::fmt::Debug for Batching {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batching")
            .field("fd", &self.fd.load(Ordering::Relaxed))
            .field("bitrate_bps", &self.bitrate_bps.load(Ordering::Relaxed))
            .field("batch_ms", &self.batch_ms.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl Default for Batching {
    fn default() -> Self {
        Self {
            fd: AtomicI32::new(-1),
            bitrate_bps: AtomicU64::new(0),
            batch_ms: AtomicU64::new(0),
            last_data_ms: AtomicU64::new(0),
            plenty_at_ms: AtomicU64::new(0),
            before_sleep: OnceLock::new(),
        }
    }
}

impl Batching {
    /// The demux thread, every [`TUNE_EVERY_MS`] while the input plays:
    /// batches it (`batch` long, at its measured bitrate) if it reads from
    /// a TCP socket.
    pub fn tune(&self, input: &Input, bitrate_bps: u64, batch: Duration) {
        let fd = input_socket(input).unwrap_or(-1);
        self.bitrate_bps.store(bitrate_bps, Ordering::Relaxed);
        self.batch_ms
            .store(batch.as_millis() as u64, Ordering::Relaxed);
        self.fd.store(fd, Ordering::Relaxed);
    }

    /// What to do just before each batch sleep (set once).
    pub fn before_sleep(&self, f: impl Fn() + Send + Sync + 'static) {
        self.before_sleep.get_or_init(|| Box::new(f));
    }

    /// Stops batching.
    pub fn off(&self) {
        self.fd.store(-1, Ordering::Relaxed);
    }

    /// A packet arrived at `now_ms`.
    pub fn data(&self, now_ms: u64) {
        self.last_data_ms.store(now_ms, Ordering::Relaxed);
    }

    /// libavformat is about to wait on the socket: first let a batch
    /// gather, when the input is flowing and little is waiting. Returns
    /// the time it slept.
    pub fn before_wait(&self, now_ms: u64) -> Option<Duration> {
        let fd = self.fd.load(Ordering::Relaxed);
        if fd < 0 || self.plenty_at_ms.load(Ordering::Relaxed) == now_ms + 1 {
            return None;
        }
        let batch = Duration::from_millis(self.batch_ms.load(Ordering::Relaxed));
        let since = now_ms.saturating_sub(self.last_data_ms.load(Ordering::Relaxed));
        if since > 2 * batch.as_millis() as u64 {
            return None;
        }
        let rate = self.bitrate_bps.load(Ordering::Relaxed);
        let Some(d) = wait_for(target_for(rate, batch), rate, available(fd)?, batch) else {
            self.plenty_at_ms.store(now_ms + 1, Ordering::Relaxed);
            return None;
        };
        if let Some(f) = self.before_sleep.get() {
            f();
        }
        std::thread::sleep(d);
        Some(d)
    }
}

/// The leading fields of libavformat's `URLContext` (url.h), stable since
/// FFmpeg 2.x: its class, protocol and private context.
#[repr(C)]
struct UrlContextHead {
    av_class: *const AVClass,
    prot: *const c_void,
    priv_data: *mut c_void,
}

/// The leading fields of the http protocol's private context (http.c).
#[repr(C)]
struct HttpContextHead {
    class: *const AVClass,
    hd: *mut UrlContextHead,
}

/// The leading fields of the tcp protocol's private context (tcp.c).
#[repr(C)]
struct TcpContextHead {
    class: *const AVClass,
    fd: c_int,
}

/// # Safety
/// `class` is null or points to a live `AVClass`.
unsafe fn class_is(class: *const AVClass, name: &str) -> bool {
    if class.is_null() {
        return false;
    }
    // SAFETY: per the contract; `class_name` is a static C string.
    let n = unsafe { (*class).class_name };
    !n.is_null() && unsafe { CStr::from_ptr(n) }.to_bytes() == name.as_bytes()
}

/// The TCP socket a plain-HTTP TS input reads from, if that is what it is.
/// On the thread that owns `input`.
pub fn input_socket(input: &Input) -> Option<c_int> {
    // SAFETY: every pointer is read from a context `input` owns and keeps
    // alive, only after its owner's class name says what it is; nothing is
    // written. libavformat's `ffio_fdopen` makes a protocol input's
    // `AVIOContext::opaque` its `URLContext`.
    unsafe {
        let ctx = input.as_ptr();
        let iformat = (*ctx).iformat;
        if iformat.is_null() || (*iformat).name.is_null() {
            return None;
        }
        if CStr::from_ptr((*iformat).name).to_bytes() != b"mpegts" {
            return None;
        }
        // A caller's own IO (the probe's): its opaque is not libavformat's.
        if (*ctx).flags & ffmpeg::ffi::AVFMT_FLAG_CUSTOM_IO != 0 {
            return None;
        }
        let pb = (*ctx).pb;
        if pb.is_null() || (*pb).opaque.is_null() {
            return None;
        }
        let url = (*pb).opaque as *const UrlContextHead;
        if !class_is((*url).av_class, "URLContext") || (*url).priv_data.is_null() {
            return None;
        }
        let http = (*url).priv_data as *const HttpContextHead;
        if !class_is((*http).class, "http") || (*http).hd.is_null() {
            return None;
        }
        let tcp_url = (*http).hd;
        if !class_is((*tcp_url).av_class, "URLContext") || (*tcp_url).priv_data.is_null() {
            return None;
        }
        let tcp = (*tcp_url).priv_data as *const TcpContextHead;
        if !class_is((*tcp).class, "tcp") || (*tcp).fd < 0 {
            return None;
        }
        Some((*tcp).fd)
    }
}

/// Bytes waiting on a socket.
fn available(fd: c_int) -> Option<u64> {
    let mut n: c_int = 0;
    // SAFETY: FIONREAD writes one int; a stale descriptor fails (EBADF).
    let r = unsafe { libc::ioctl(fd, libc::FIONREAD, &raw mut n) };
    (r == 0 && n >= 0).then_some(n as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_for_the_rest_of_a_batch() {
        const B: Duration = Duration::from_millis(100);
        // 4 Mbit/s: a 100 ms batch is 50 kB; with none waiting, 100 ms.
        let t = target_for(4_000_000, B);
        assert_eq!(t, 50_000);
        assert_eq!(wait_for(t, 4_000_000, 0, B), Some(B));
        // A fifth of it there: the other 80 ms.
        assert_eq!(
            wait_for(t, 4_000_000, 10_000, B),
            Some(Duration::from_millis(80))
        );
        // A quarter or more waiting: read it now.
        assert_eq!(wait_for(t, 4_000_000, 12_500, B), None);
        assert_eq!(wait_for(t, 4_000_000, 50_000, B), None);
        // Radio, a trickle, an unknown rate: never wait.
        assert_eq!(wait_for(target_for(128_000, B), 128_000, 0, B), None);
        assert_eq!(wait_for(0, 0, 0, B), None);
        // A stale rate cannot make a wait longer than a batch.
        assert_eq!(wait_for(1 << 40, 1, 0, B), Some(B));
    }

    #[test]
    fn batches_stay_far_below_the_stall_threshold() {
        // Defaults (3 s): the longest batch.
        assert_eq!(batch_for(3000), MAX_BATCH);
        // The tests' short thresholds: a tenth of them.
        assert_eq!(batch_for(300), Duration::from_millis(30));
        assert_eq!(batch_for(0), Duration::ZERO);
        assert_eq!(
            target_for(4_000_000, batch_for(0)),
            0,
            "nothing to wait for"
        );
    }

    #[test]
    fn counts_what_waits_on_a_real_socket() {
        use std::io::Write;
        use std::os::fd::AsRawFd;
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let s = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (mut peer, _) = l.accept().unwrap();
        assert_eq!(available(s.as_raw_fd()), Some(0));
        peer.write_all(&[0u8; 3000]).unwrap();
        let t = std::time::Instant::now();
        while available(s.as_raw_fd()) != Some(3000) {
            assert!(t.elapsed() < Duration::from_secs(5), "bytes never arrived");
            std::thread::yield_now();
        }
        assert_eq!(
            available(-1),
            None,
            "a bad descriptor is refused, not a crash"
        );
    }

    #[test]
    fn a_quiet_or_unbatched_input_never_sleeps() {
        use std::os::fd::AsRawFd;
        use std::sync::Arc;
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let s = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let b = Batching::default();
        assert_eq!(b.before_wait(10_000), None, "not armed");
        // Armed on an empty socket, but the last packet is 10 s old.
        b.fd.store(s.as_raw_fd(), Ordering::Relaxed);
        b.bitrate_bps.store(4_000_000, Ordering::Relaxed);
        b.batch_ms.store(100, Ordering::Relaxed);
        b.data(0);
        assert_eq!(b.before_wait(10_000), None, "no sleep for a stalled input");
        // Flowing: it publishes, then waits for the batch (the empty
        // socket: all of it).
        let published = Arc::new(AtomicU64::new(0));
        let p = Arc::clone(&published);
        b.before_sleep(move || {
            p.fetch_add(1, Ordering::Relaxed);
        });
        b.data(10_000);
        assert_eq!(b.before_wait(10_000), Some(Duration::from_millis(100)));
        assert_eq!(published.load(Ordering::Relaxed), 1);
        b.off();
        assert_eq!(b.before_wait(10_000), None, "switched off");
    }
}
