//! Warm standby: the next candidate opened in the background as soon as the
//! live input stalls, read continuously, holding its packets from its latest
//! keyframe. At the failover decision the demux thread takes it over and
//! splices from that keyframe, so the switch never waits for a GOP. Dropping
//! a [`Standby`] (the primary recovered) cancels it.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender, TryRecvError, bounded};
use ffmpeg_next::Packet;

use super::budget::Permit;
use super::input::{Interrupt, OpenError, OpenOptions, Opened};
use super::remux::{InputMap, Kind};
use super::upstream::{ReadEnd, Target, connect, read_packet};
use crate::redact::redact;

/// Longest run of held packets without a new keyframe (about 20 s at 25 fps
/// plus audio); past it the hold restarts at the next keyframe.
const MAX_HELD: usize = 2500;

/// Audio timed up to this long (90 kHz) before the held keyframe is kept
/// too: at the splice it fills the time between the old input's last audio
/// and the keyframe (docs/design/splice.md). About 47 AAC frames at 48 kHz.
pub const AUDIO_PREROLL: i64 = 90_000;

/// Keeps the audio of the last [`AUDIO_PREROLL`] before a keyframe: fed
/// every audio packet read before the keyframe it will precede.
#[derive(Default)]
pub struct AudioPreroll {
    packets: std::collections::VecDeque<Packet>,
}

impl AudioPreroll {
    pub fn push(&mut self, p: Packet) {
        let newest = p.dts().unwrap_or(0);
        self.packets.push_back(p);
        while self.packets.front().is_some_and(|f| {
            f.dts()
                .is_none_or(|d| newest - d > AUDIO_PREROLL || d > newest)
        }) {
            self.packets.pop_front();
        }
    }

    /// The audio before a keyframe at `key_dts`, oldest first (the window
    /// is emptied).
    pub fn take_before(&mut self, key_dts: Option<i64>) -> Vec<(Kind, Packet)> {
        let packets = std::mem::take(&mut self.packets);
        let Some(kd) = key_dts else {
            return Vec::new();
        };
        packets
            .into_iter()
            .filter(|p| p.dts().is_some_and(|d| d < kd && kd - d <= AUDIO_PREROLL))
            .map(|p| (Kind::Audio, p))
            .collect()
    }

    pub fn clear(&mut self) {
        self.packets.clear();
    }
}

/// A candidate taken over from the standby thread.
pub struct Handover {
    pub opened: Opened,
    pub map: InputMap,
    /// Packets from the latest keyframe on (prepared, 90 kHz), after the
    /// audio of up to [`AUDIO_PREROLL`] before it.
    pub held: Vec<(Kind, Packet)>,
    /// Whether `held` starts at a video keyframe (or the input has no video).
    pub starts_at_key: bool,
}

enum Msg {
    Ready(Box<Handover>),
    Failed(String, String),
}

pub struct Standby {
    pub index: usize,
    handover_tx: Sender<()>,
    msg_rx: Receiver<Msg>,
    /// Cancelled on drop unless the input was handed over.
    interrupt: Option<Arc<Interrupt>>,
}

impl Drop for Standby {
    fn drop(&mut self) {
        // Wakes the thread out of a blocked open or read.
        if let Some(i) = &self.interrupt {
            i.cancel();
        }
    }
}

impl Standby {
    /// Starts opening candidate `index` (`target`) on its own thread,
    /// with `permit` (its account's connection, taken by the caller) held
    /// by the input it opens: the standby counts against the account like
    /// any connection, until it is cancelled or taken over.
    pub fn start(
        channel: &str,
        index: usize,
        target: Target,
        opts: OpenOptions,
        stop: Arc<AtomicBool>,
        read_timeout: Duration,
        permit: Option<Permit>,
    ) -> std::io::Result<Self> {
        let (handover_tx, handover_rx) = bounded::<()>(1);
        let (msg_tx, msg_rx) = bounded::<Msg>(1);
        let interrupt = Interrupt::new(stop, opts.connect_timeout);
        let irq = Arc::clone(&interrupt);
        let name = format!("standby-{channel}-{index}");
        std::thread::Builder::new()
            .name(name.clone())
            .spawn(move || {
                let msg = match connect(&name, &target, &opts, irq, permit) {
                    Ok((opened, map)) => hold(opened, map, &handover_rx, read_timeout),
                    Err(e) => Some(Msg::Failed(e.reason().to_string(), e.to_string())),
                };
                if let Some(m) = msg {
                    let _ = msg_tx.send(m);
                }
            })?;
        Ok(Self {
            index,
            handover_tx,
            msg_rx,
            interrupt: Some(interrupt),
        })
    }

    /// Takes the candidate over. Waits at most `timeout` for the thread to
    /// notice (it checks between packets). On failure returns the reason
    /// kind and message.
    pub fn take(mut self, timeout: Duration) -> Result<Handover, (String, String)> {
        let _ = self.handover_tx.send(());
        match self.msg_rx.recv_timeout(timeout) {
            Ok(Msg::Ready(h)) => {
                // The input lives on in the session: do not cancel it.
                self.interrupt = None;
                Ok(*h)
            }
            Ok(Msg::Failed(kind, msg)) => Err((kind, msg)),
            Err(_) => Err((
                "timeout".into(),
                format!("standby gave nothing within {} ms", timeout.as_millis()),
            )),
        }
    }
}

/// Reads the standby input, keeping the packets from the latest keyframe,
/// until asked to hand over or cancelled.
fn hold(
    mut opened: Opened,
    map: InputMap,
    handover: &Receiver<()>,
    read_timeout: Duration,
) -> Option<Msg> {
    let mut held: Vec<(Kind, Packet)> = Vec::new();
    // Audio read before the held keyframe (the previous GOP's tail).
    let mut preroll = AudioPreroll::default();
    let mut pre_key: Vec<(Kind, Packet)> = Vec::new();
    let has_video = map.has(Kind::Video);
    let mut at_key = !has_video;
    loop {
        match handover.try_recv() {
            Ok(()) => {
                pre_key.append(&mut held);
                return Some(Msg::Ready(Box::new(Handover {
                    opened,
                    map,
                    held: pre_key,
                    starts_at_key: at_key,
                })));
            }
            Err(TryRecvError::Disconnected) => return None,
            Err(TryRecvError::Empty) => {}
        }
        match read_packet(&mut opened) {
            Ok(pkt) => {
                opened.interrupt.extend(read_timeout);
                let Some((kind, p)) = map.prepare(pkt) else {
                    continue;
                };
                // Flagged by the demuxer (continuity break, PES cut short).
                if p.is_corrupt() {
                    continue;
                }
                if kind == Kind::Video && p.is_key() {
                    // The previous GOP's audio becomes the new keyframe's
                    // preroll.
                    for (k, a) in held.drain(..) {
                        if k == Kind::Audio {
                            preroll.push(a);
                        }
                    }
                    pre_key = preroll.take_before(p.dts());
                    at_key = true;
                }
                if has_video && !at_key {
                    if kind == Kind::Audio {
                        preroll.push(p);
                    }
                    continue;
                }
                held.push((kind, p));
                if held.len() > MAX_HELD {
                    held.clear();
                    pre_key.clear();
                    preroll.clear();
                    at_key = !has_video;
                }
            }
            Err(ReadEnd::Again) => std::thread::sleep(Duration::from_millis(5)),
            Err(ReadEnd::Stopped) => return None,
            Err(e) => {
                let err = OpenError::Other {
                    url: redact(&opened.url),
                    message: e.to_string(),
                };
                return Some(Msg::Failed(e.kind().to_string(), err.to_string()));
            }
        }
    }
}
